//! A cluster prepared for the operator as the chart prepares one: the committed CRD
//! (conversion `None`), the shipped ClusterRole bound to the operator's group, the
//! leader-election Role where a lease lives, and namespaces holding the locustfile
//! ConfigMap that test fixtures refer to.
//!
//! The CRD is read from `crd/locusttests.locust.io.yaml`, which a test keeps equal to the
//! generated one; the RBAC from `config/rbac/`, the one source the chart and the bundle
//! copy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// The user the operator runs as, and its group (the shipped ClusterRole is bound to the
/// group, nothing else is).
pub const OPERATOR_USER: &str = "locust-operator";
/// See [`OPERATOR_USER`].
pub const OPERATOR_GROUP: &str = "locust-operators";
/// The ConfigMap every fixture mounts (created in each namespace by [`namespace`]).
pub const LOCUSTFILE: &str = "locustfile";
/// The name of the operator's CRD.
pub const CRD_NAME: &str = "locusttests.locust.io";
/// The committed CRD.
pub const CRD_YAML: &str = include_str!("../../../../crd/locusttests.locust.io.yaml");
/// The shipped RBAC rules.
pub const ROLE_YAML: &str = include_str!("../../../../config/rbac/role.yaml");
/// The leader-election Role (namespaced: the Lease lives in the operator's namespace).
pub const LEADER_ELECTION_ROLE_YAML: &str =
    include_str!("../../../../config/rbac/leader_election_role.yaml");
/// The locustfile of [`namespace`]: one user that GETs `/`.
const LOCUSTFILE_PY: &str = "from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self):\n        self.client.get('/')\n";

fn parse<T: serde::de::DeserializeOwned>(what: &str, yaml: &str) -> Result<T> {
    serde_saphyr::from_str(yaml).map_err(|e| Error::Prepare(format!("parsing {what}: {e}")))
}

/// The shipped ClusterRole (`config/rbac/role.yaml`).
pub fn cluster_role() -> Result<ClusterRole> {
    parse("config/rbac/role.yaml", ROLE_YAML)
}

/// The shipped leader-election Role (`config/rbac/leader_election_role.yaml`).
pub fn leader_election_role() -> Result<Role> {
    parse(
        "config/rbac/leader_election_role.yaml",
        LEADER_ELECTION_ROLE_YAML,
    )
}

/// Applies the committed CRD with conversion `None` (v2 only: an operator in
/// `WEBHOOK_MODE=local` registers its conversion webhook itself) as `manager`, and waits
/// until it is Established and LocustTests are served.
pub async fn install_crd(client: &Client, manager: &str) -> Result<()> {
    let mut crd: CustomResourceDefinition = parse("crd/locusttests.locust.io.yaml", CRD_YAML)?;
    crd.spec.conversion = None;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(Error::kube("applying the CRD"))?;
    let served = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("locust.io", "v2", "LocustTest"),
        "locusttests",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = crds
            .get(CRD_NAME)
            .await
            .map_err(Error::kube("reading the CRD"))?;
        let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
        // Established is not yet served: until the API server routes the new group, a
        // list is answered 404, which an operator started now would retry.
        if established
            && Api::<DynamicObject>::all_with(client.clone(), &served)
                .list(&ListParams::default().limit(1))
                .await
                .is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Prepare(
                "the CRD was not Established and served within 30 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn group_subject() -> Vec<Subject> {
    vec![Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "Group".into(),
        name: OPERATOR_GROUP.into(),
        namespace: None,
    }]
}

/// Applies the shipped ClusterRole and binds it cluster-wide to [`OPERATOR_GROUP`]
/// (binding `<role>-<manager>`), as `manager`.
pub async fn install_rbac(client: &Client, manager: &str) -> Result<()> {
    let role = cluster_role()?;
    let role_name = role.name_any();
    let params = PatchParams::apply(manager).force();
    Api::<ClusterRole>::all(client.clone())
        .patch(&role_name, &params, &Patch::Apply(&role))
        .await
        .map_err(Error::kube("applying the ClusterRole"))?;
    let binding_name = format!("{role_name}-{manager}");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(binding_name.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role_name,
        },
        subjects: Some(group_subject()),
    };
    let mut value = serde_json::to_value(&binding)
        .map_err(|e| Error::Prepare(format!("the ClusterRoleBinding as JSON: {e}")))?;
    value["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
    value["kind"] = "ClusterRoleBinding".into();
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch(&binding_name, &params, &Patch::Apply(&value))
        .await
        .map_err(Error::kube("applying the ClusterRoleBinding"))?;
    Ok(())
}

/// Creates the shipped leader-election Role in `ns` and binds it to [`OPERATOR_GROUP`]
/// there, as the chart does in the operator's namespace (leases are never granted
/// cluster-wide).
pub async fn bind_leader_election(client: &Client, ns: &str) -> Result<()> {
    bind_role(client, ns, &leader_election_role()?).await
}

/// Creates `role` in `ns` and binds it to [`OPERATOR_GROUP`] there, under the same name.
pub async fn bind_role(client: &Client, ns: &str, role: &Role) -> Result<()> {
    let name = role.name_any();
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), role)
        .await
        .map_err(Error::kube(format!("creating the Role {ns}/{name}")))?;
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(group_subject()),
    };
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .map_err(Error::kube(format!("creating the RoleBinding {ns}/{name}")))?;
    Ok(())
}

/// A new namespace of `cluster` (`prefix-xxxxx`) holding the [`LOCUSTFILE`] ConfigMap.
pub async fn namespace(cluster: &Cluster, prefix: &str) -> Result<String> {
    let ns = cluster.namespace(prefix).await?;
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(LOCUSTFILE.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "locustfile.py".into(),
            LOCUSTFILE_PY.into(),
        )])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(cluster.client().await?, &ns)
        .create(&PostParams::default(), &cm)
        .await
        .map_err(Error::kube(format!(
            "creating the ConfigMap {ns}/{LOCUSTFILE}"
        )))?;
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_files_parse() {
        let crd: CustomResourceDefinition =
            parse("crd", CRD_YAML).expect("the committed CRD parses");
        assert_eq!(crd.name_any(), CRD_NAME);
        assert!(
            !cluster_role()
                .expect("role")
                .rules
                .unwrap_or_default()
                .is_empty()
        );
        assert!(leader_election_role().expect("role").rules.is_some());
    }
}
