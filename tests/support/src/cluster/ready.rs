//! Waiting until a starting cluster is usable.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::api::{Api, ListParams};

use super::Cluster;
use crate::error::{Error, Result};
use crate::nodes;

/// How long start-up may take before it is reported as failed (2 cores, cold caches).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);

/// The deadline of a start-up beginning now.
pub(super) fn deadline() -> Instant {
    Instant::now() + START_TIMEOUT
}

impl Cluster {
    /// Waits until the API server answers `/readyz` with `ok`.
    pub(super) async fn wait_for_api_server(&self, deadline: Instant) -> Result<()> {
        let client = self.client().await?;
        self.wait_for(
            "the API server's /readyz",
            deadline,
            &["kube-apiserver", "etcd"],
            || async {
                let request = http::Request::get("/readyz")
                    .body(Vec::new())
                    .map_err(|e| e.to_string())?;
                match client.request_text(request).await {
                    Ok(body) if body.trim() == "ok" => Ok(Some(())),
                    Ok(body) => Err(body),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await
    }

    /// Creates the nodes and waits until they are Ready, then for the `default` service
    /// account (the API server is ready already).
    pub(super) async fn wait_until_ready(&self, deadline: Instant) -> Result<()> {
        let client = self.client().await?;
        nodes::create(&client).await?;
        let node_api: Api<Node> = Api::all(client.clone());
        self.wait_for(
            "the kwok nodes to be Ready",
            deadline,
            &["kwok", "kube-controller-manager"],
            || async {
                let list = node_api
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let ready = list.items.iter().filter(|n| nodes::is_ready(n)).count();
                if ready >= nodes::NODE_NAMES.len() {
                    Ok(Some(()))
                } else {
                    Err(format!(
                        "{ready} of {} nodes ready",
                        nodes::NODE_NAMES.len()
                    ))
                }
            },
        )
        .await?;

        self.wait_for_default_service_account(&client, "default", deadline)
            .await
    }

    /// Polls `probe` until it yields a value, a process dies, or `deadline` passes; a
    /// timeout quotes the last probe error and the tails of the `blame`d processes' logs.
    async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        deadline: Instant,
        blame: &[&str],
        mut probe: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<Option<T>, String>>,
    {
        let started = Instant::now();
        let mut last_error = String::new();
        loop {
            self.check()?;
            match probe().await {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(e) => last_error = e,
            }
            if Instant::now() >= deadline {
                let mut details = String::new();
                if !last_error.is_empty() {
                    details.push_str(&format!("; last error: {last_error}"));
                }
                for process in self
                    .lock_processes()
                    .iter()
                    .filter(|p| blame.contains(&p.name()))
                {
                    details.push_str(&format!(
                        "\nlast lines of {}:\n{}",
                        process.log().display(),
                        process.log_tail()
                    ));
                }
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    waited: started.elapsed(),
                    details,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(super) async fn wait_for_default_service_account(
        &self,
        client: &kube::Client,
        namespace: &str,
        deadline: Instant,
    ) -> Result<()> {
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        let what = format!("the default service account in namespace {namespace}");
        self.wait_for(&what, deadline, &["kube-controller-manager"], || async {
            api.get_opt("default")
                .await
                .map(|sa| sa.map(|_| ()))
                .map_err(|e| e.to_string())
        })
        .await
    }
}
