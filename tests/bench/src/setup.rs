//! A cluster prepared like the integration tests prepare theirs: the generated CRD, the
//! operator's ClusterRole from `config/rbac/role.yaml` bound to the operator's group, and
//! namespaces holding the locustfile ConfigMap the fixtures refer to.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::crd::{CRD_NAME, crd};
use test_cluster::{Cluster, Options};

use crate::{Result, ctx};

/// The user the operator runs as, and its group (bound to the shipped ClusterRole).
pub const OPERATOR_USER: &str = "locust-operator";
/// See [`OPERATOR_USER`].
pub const OPERATOR_GROUP: &str = "locust-operators";
/// The ConfigMap every fixture mounts (created in each namespace by [`Env::namespace`]).
pub const LOCUSTFILE: &str = "locustfile";
/// The shipped RBAC rules.
const ROLE_YAML: &str = include_str!("../../../config/rbac/role.yaml");
/// The shipped leader-election Role (bound in the lease's namespace only).
const LEADER_ELECTION_ROLE_YAML: &str =
    include_str!("../../../config/rbac/leader_election_role.yaml");

/// A started, prepared cluster and an admin client.
pub struct Env {
    /// The control plane (stopped on drop).
    pub cluster: Cluster,
    /// An admin client without a client-side rate limit.
    pub admin: Client,
}

impl Env {
    /// Starts a fresh cluster (with `apiserver_extra_args`), installs the CRD and RBAC.
    pub async fn start(apiserver_extra_args: Vec<String>) -> Result<Self> {
        let started = Instant::now();
        let cluster = Cluster::start_with(Options {
            apiserver_extra_args,
            ..Options::default()
        })
        .await
        .map_err(ctx("starting the test cluster"))?;
        let admin = cluster.client().await.map_err(ctx("admin client"))?;
        install_crd(&admin).await?;
        install_rbac(&admin).await?;
        eprintln!(
            "cluster ready in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            cluster.dir().display()
        );
        Ok(Self { cluster, admin })
    }

    /// A kubeconfig for the operator's user `user` (in [`OPERATOR_GROUP`]): two replicas
    /// can be told apart in the audit log by their users.
    pub fn operator_kubeconfig(&self, user: &str) -> Result<PathBuf> {
        self.cluster
            .kubeconfig_for(user, &[OPERATOR_GROUP])
            .map_err(ctx("operator kubeconfig"))
    }

    /// Creates the shipped leader-election Role in `ns` and binds it to
    /// [`OPERATOR_GROUP`] there, as the chart does in the operator's namespace.
    pub async fn bind_leader_election(&self, ns: &str) -> Result<()> {
        let role: Role = locust_k8s_operator::yaml::from_yaml(LEADER_ELECTION_ROLE_YAML)
            .map_err(ctx("parsing config/rbac/leader_election_role.yaml"))?;
        let name = role.name_any();
        Api::<Role>::namespaced(self.admin.clone(), ns)
            .create(&PostParams::default(), &role)
            .await
            .map_err(ctx("creating the leader-election Role"))?;
        let binding = RoleBinding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name,
            },
            subjects: Some(vec![Subject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Group".into(),
                name: OPERATOR_GROUP.into(),
                namespace: None,
            }]),
        };
        Api::<RoleBinding>::namespaced(self.admin.clone(), ns)
            .create(&PostParams::default(), &binding)
            .await
            .map_err(ctx("creating the leader-election RoleBinding"))?;
        Ok(())
    }

    /// A new namespace (`prefix-xxxxx`) holding the [`LOCUSTFILE`] ConfigMap.
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        let ns = self
            .cluster
            .namespace(prefix)
            .await
            .map_err(ctx("creating a namespace"))?;
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(LOCUSTFILE.into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                "locustfile.py".into(),
                "from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self):\n        self.client.get('/')\n".into(),
            )])),
            ..ConfigMap::default()
        };
        Api::<ConfigMap>::namespaced(self.admin.clone(), &ns)
            .create(&PostParams::default(), &cm)
            .await
            .map_err(ctx("creating the locustfile ConfigMap"))?;
        Ok(ns)
    }
}

/// Applies the generated CRD (conversion `None`: the suites use v2 only, and the operator
/// in `WEBHOOK_MODE=local` registers its conversion webhook itself) and waits until it is
/// Established.
async fn install_crd(client: &Client) -> Result<()> {
    let mut crd = crd().map_err(ctx("generating the CRD"))?;
    crd.spec.conversion = None;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("locust-bench").force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(ctx("applying the CRD"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = crds.get(CRD_NAME).await.map_err(ctx("reading the CRD"))?;
        let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
        // Established is not yet served: until the API server routes the new group, a
        // list is answered 404, which an operator started now would retry.
        if established
            && Api::<LocustTest>::all(client.clone())
                .list(&ListParams::default().limit(1))
                .await
                .is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the CRD was not Established and served within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shipped ClusterRole, bound cluster-wide to [`OPERATOR_GROUP`].
async fn install_rbac(client: &Client) -> Result<()> {
    let role: ClusterRole = locust_k8s_operator::yaml::from_yaml(ROLE_YAML)
        .map_err(ctx("parsing config/rbac/role.yaml"))?;
    let role_name = role.name_any();
    let params = PatchParams::apply("locust-bench").force();
    Api::<ClusterRole>::all(client.clone())
        .patch(&role_name, &params, &Patch::Apply(&role))
        .await
        .map_err(ctx("applying the ClusterRole"))?;
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{role_name}-bench")),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role_name.clone(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: OPERATOR_GROUP.into(),
            namespace: None,
        }]),
    };
    let mut value = serde_json::to_value(&binding).map_err(ctx("binding"))?;
    value["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
    value["kind"] = "ClusterRoleBinding".into();
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch(
            &format!("{role_name}-bench"),
            &params,
            &Patch::Apply(&value),
        )
        .await
        .map_err(ctx("applying the ClusterRoleBinding"))?;
    Ok(())
}
