//! `locust-k8s-operator run`: the operator, in a pod or from a terminal with `$KUBECONFIG`.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use kube::Client;
use tracing::{error, info};

use super::CliError;
use crate::config::{ControllerConfig, OperatorConfig};
use crate::controller::{self, Context};
use crate::leader;

/// Runs the operator until SIGTERM or Ctrl-C.
pub async fn run(leader_elect: bool) -> Result<(), CliError> {
    let settings = ControllerConfig::from_env().map_err(|e| CliError::Input(e.to_string()))?;
    let config = OperatorConfig::from_env().map_err(|e| CliError::Input(e.to_string()))?;
    crate::telemetry::init(settings.log_format);
    crate::server::tls::install_default_crypto_provider();
    let client = client(&settings).await?;
    let leadership = if leader_elect {
        leader::elect(client.clone(), &settings)
            .await
            .map_err(|e| CliError::Input(e.to_string()))?
    } else {
        leader::always()
    };
    info!(
        identity = %settings.identity,
        leader_election = leader_elect,
        namespaces = ?settings.watch_namespaces,
        version = env!("CARGO_PKG_VERSION"),
        "locust-k8s-operator starting"
    );
    let stop = shutdown_signal().shared();
    loop {
        let mut is_leader = leadership.is_leader.clone();
        tokio::select! {
            () = stop.clone() => break,
            () = leader::wait_for(&mut is_leader, true) => {}
        }
        info!("leading: starting the controller");
        let ctx = Arc::new(Context::new(
            client.clone(),
            config.clone(),
            settings.clone(),
            leadership.is_leader.clone(),
        ));
        let mut lost = leadership.is_leader.clone();
        let stop_or_lost = {
            let stop = stop.clone();
            async move {
                tokio::select! {
                    () = stop => {}
                    () = leader::wait_for(&mut lost, false) => {}
                }
            }
        };
        controller::run(ctx, stop_or_lost).await;
        if stop.clone().now_or_never().is_some() {
            break;
        }
        error!("lost the lease: stopped writing; waiting to lead again");
    }
    info!("shut down");
    Ok(())
}

/// A client for the in-cluster config or `$KUBECONFIG`, limited to `KUBE_API_QPS` requests
/// per second so a storm of tests never floods the API server.
async fn client(settings: &ControllerConfig) -> Result<Client, CliError> {
    let config = kube::Config::infer().await.map_err(|e| {
        CliError::Input(format!(
            "no Kubernetes connection (in-cluster config or $KUBECONFIG): {e}"
        ))
    })?;
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| CliError::Input(format!("building the Kubernetes client: {e}")))?;
    let limit = tower::limit::RateLimitLayer::new(settings.kube_api_qps, Duration::from_secs(1));
    Ok(builder.with_layer(&limit).build())
}

/// SIGTERM (Kubernetes) or Ctrl-C (a terminal).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
