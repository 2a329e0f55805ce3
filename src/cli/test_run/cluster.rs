//! The cluster side of `test`: the client, creating the test, deleting an unfinished one.

use std::path::Path;

use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use super::outcome::Exit;
use crate::api::v2::LocustTest;

/// The field manager of the tests this command creates.
pub const FIELD_MANAGER: &str = "locust-k8s-operator-test";

/// A failure talking to the cluster, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClusterError {
    /// 2, or 3 when the API server refused the file or the name.
    pub exit: Exit,
    /// What went wrong and what to do.
    pub message: String,
}

impl ClusterError {
    fn no_verdict(message: String) -> Self {
        Self {
            exit: Exit::NoVerdict,
            message,
        }
    }
}

/// A client from `--kubeconfig`/`--context`, else `$KUBECONFIG`/`~/.kube/config`, else
/// in-cluster; and the context's namespace.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, String), ClusterError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let failed = |e: &dyn std::fmt::Display| {
        ClusterError::no_verdict(format!("no Kubernetes connection: {e}"))
    };
    let mut config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).map_err(|e| {
                ClusterError::no_verdict(format!("reading --kubeconfig {}: {e}", path.display()))
            })?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| failed(&e))?
        }
        (None, Some(_)) => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| failed(&e))?,
        (None, None) => Config::infer().await.map_err(|e| {
            failed(&format!(
                "no $KUBECONFIG, ~/.kube/config or in-cluster service account: {e}"
            ))
        })?,
    };
    super::super::run::add_user_agent(&mut config);
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config)
        .map_err(|e| ClusterError::no_verdict(format!("building the Kubernetes client: {e}")))?;
    Ok((client, namespace))
}

/// Creates the test (POST: an existing name is an error, never overwritten).
pub async fn create(
    client: &Client,
    ns: &str,
    test: &LocustTest,
) -> Result<LocustTest, ClusterError> {
    let params = PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.into()),
    };
    let what = match (&test.metadata.name, &test.metadata.generate_name) {
        (Some(name), _) => format!("locusttest {ns}/{name}"),
        (None, Some(prefix)) => format!("a locusttest named {prefix}… in {ns}"),
        (None, None) => format!("a locusttest in {ns}"),
    };
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .create(&params, test)
        .await
        .map_err(|e| create_error(&what, test, ns, &e))
}

/// Why a create failed and the exit code: the file or the name (3), or the cluster (2).
fn create_error(what: &str, test: &LocustTest, ns: &str, e: &kube::Error) -> ClusterError {
    let kube::Error::Api(status) = e else {
        return ClusterError::no_verdict(format!("creating {what}: {e}"));
    };
    let (exit, advice) = match status.code {
        409 => (
            Exit::InvalidInput,
            format!(
                ": delete it (kubectl delete locusttest {} -n {ns}), change metadata.name, or \
                 pass --generate-name for a fresh name on every run",
                test.metadata.name.as_deref().unwrap_or_default()
            ),
        ),
        400 | 422 => (Exit::InvalidInput, String::new()),
        404 => (
            Exit::NoVerdict,
            ": is the LocustTest CRD (locusttests.locust.io) installed, and does the \
             namespace exist?"
                .into(),
        ),
        401 | 403 => (
            Exit::NoVerdict,
            ": the user needs create, get, list and watch on locusttests (and get on \
             configmaps for --report, delete on locusttests for --delete-unfinished)"
                .into(),
        ),
        _ => (Exit::NoVerdict, String::new()),
    };
    ClusterError {
        exit,
        message: format!("creating {what}: {}{advice}", status.message),
    }
}

/// Deletes the test (its children go with it).
pub async fn delete(client: &Client, ns: &str, name: &str) -> Result<(), String> {
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .delete(name, &DeleteParams::background())
        .await
        .map(|_| ())
        .map_err(|e| format!("deleting locusttest {ns}/{name}: {e}"))
}
