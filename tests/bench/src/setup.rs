//! A cluster prepared like the integration tests prepare theirs (one implementation:
//! [`test_cluster::operator::setup`]): the committed CRD, the operator's ClusterRole from
//! `config/rbac/role.yaml` bound to the operator's group, and namespaces holding the
//! locustfile ConfigMap the fixtures refer to.

use std::path::PathBuf;
use std::time::Instant;

use kube::Client;
use test_cluster::operator::setup;
use test_cluster::{Cluster, Options};

pub use test_cluster::operator::setup::{LOCUSTFILE, OPERATOR_GROUP, OPERATOR_USER};

use crate::{Result, ctx};

/// The field manager of the bench's setup writes.
const MANAGER: &str = "locust-bench";

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
        setup::install_crd(&admin, MANAGER)
            .await
            .map_err(ctx("installing the CRD"))?;
        setup::install_rbac(&admin, MANAGER)
            .await
            .map_err(ctx("installing the RBAC"))?;
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
        setup::bind_leader_election(&self.admin, ns)
            .await
            .map_err(ctx("binding the leader-election Role"))
    }

    /// A new namespace (`prefix-xxxxx`) holding the [`LOCUSTFILE`] ConfigMap.
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        setup::namespace(&self.cluster, prefix)
            .await
            .map_err(ctx("creating a namespace"))
    }
}
