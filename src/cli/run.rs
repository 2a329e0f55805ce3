//! `locust-k8s-operator run`: the operator, in a pod or from a terminal with `$KUBECONFIG`.
//!
//! Wiring only: configuration (parsed and validated before, see [`super::RunArgs`]) →
//! client → metrics and probes (plain HTTP; with `METRICS_SECURE`, `/metrics` on its own
//! HTTPS port behind token review) → webhook certificates and the HTTPS server
//! (every replica serves it) → the look for a running Go operator → leader election → the
//! controller while leading and no Go operator runs.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::Shared;
use kube::Client;
use tracing::{error, info};

use super::{CliError, RunConfig};
use crate::certs::{self, CertsConfig, Reloader, WebhookMode};
use crate::config::{ControllerConfig, SecureMetrics};
use crate::controller::{self, Context};
use crate::go_operator::check as go_check;
use crate::leader;
use crate::metrics::{Metrics, Readiness};
use crate::server::{self, MetricsAuth, ServerConfig, ServerState};

type Stop = Shared<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>;

/// Runs the operator with the validated configuration until SIGTERM or Ctrl-C.
pub async fn run(run_config: RunConfig) -> Result<(), CliError> {
    let input = |e: &dyn std::fmt::Display| CliError::Input(e.to_string());
    let RunConfig {
        leader_elect,
        controller: settings,
        pods: config,
        certs: certs_config,
    } = run_config;
    crate::telemetry::init(settings.log_format, &settings.log_filter);
    server::tls::install_default_crypto_provider();
    let client = client(&settings).await?;
    let stop: Stop = (Box::pin(shutdown_signal())
        as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>)
        .shared();

    let metrics = Arc::new(Metrics::new().map_err(|e| CliError::Internal(e.to_string()))?);
    let readiness = Readiness::new();
    let mut state = ServerState::new(metrics.clone(), readiness.clone());
    if let Some(secure) = &settings.secure_metrics {
        state = state.without_plain_metrics();
        start_secure_metrics(&client, secure, state.clone(), stop.clone()).await?;
    }
    let probes = server::serve_probes(settings.health_addr, state.clone(), stop.clone());
    let probes = tokio::spawn(probes);

    start_webhooks(&client, &certs_config, state, &readiness, stop.clone()).await?;

    // Looked for once before anything is reconciled, then periodically.
    let go_operator = go_check::start(
        client.clone(),
        go_check::Settings::from_config(&settings),
        metrics.clone(),
        readiness.clone(),
    )
    .await;
    let leadership = if leader_elect {
        leader::elect(client.clone(), &settings)
            .await
            .map_err(|e| input(&e))?
    } else {
        leader::always()
    };
    spawn_standby_readiness(leadership.is_leader.clone(), readiness.clone());
    // Reconciles and writes only while leading and no Go operator holds its Lease.
    let active = go_check::gate(leadership.is_leader.clone(), go_operator.clear.clone());
    info!(
        identity = %settings.identity,
        leader_election = leader_elect,
        namespaces = ?settings.watch_namespaces,
        webhooks = ?certs_config.mode,
        version = env!("CARGO_PKG_VERSION"),
        "locust-k8s-operator starting"
    );
    loop {
        let mut is_active = active.clone();
        tokio::select! {
            () = stop.clone() => break,
            () = leader::wait_for(&mut is_active, true) => {}
        }
        info!("leading: starting the controller");
        let ctx = Arc::new(Context::new(
            client.clone(),
            config.clone(),
            settings.clone(),
            active.clone(),
            metrics.clone(),
            readiness.clone(),
        ));
        let mut lost = active.clone();
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
        error!(
            "lost the lease or a Go operator holds its Lease: stopped writing; waiting to lead \
             again"
        );
    }
    drop(go_operator);
    if let Ok(Err(e)) = probes.await {
        error!(error = %e, "the probes server failed");
    }
    info!("shut down");
    Ok(())
}

/// Keeps [`Readiness::set_standby`] equal to "not leading", so a replica waiting for the
/// Lease is ready once its webhook serves.
fn spawn_standby_readiness(
    mut is_leader: tokio::sync::watch::Receiver<bool>,
    readiness: Readiness,
) {
    tokio::spawn(async move {
        loop {
            readiness.set_standby(!*is_leader.borrow_and_update());
            if is_leader.changed().await.is_err() {
                break;
            }
        }
    });
}

/// `METRICS_SECURE`: the certificate and the HTTPS `/metrics`, whose scrapers' tokens are
/// reviewed by the API server.
async fn start_secure_metrics(
    client: &Client,
    secure: &SecureMetrics,
    state: ServerState,
    stop: Stop,
) -> Result<(), CliError> {
    let failed = |e: &dyn std::fmt::Display| CliError::Input(format!("secure metrics: {e}"));
    let reloader = Reloader::new();
    let certs = certs::metrics::start(secure.cert_dir.as_deref(), reloader.callback())
        .map_err(|e| failed(&e))?;
    let bound = server::bind_secure_metrics(
        ServerConfig {
            addr: secure.addr,
            cert_file: certs.cert_file.clone(),
            key_file: certs.key_file.clone(),
        },
        state,
        MetricsAuth::new(client.clone()),
    )
    .await
    .map_err(|e| failed(&e))?;
    reloader.attach(bound.certificates());
    tokio::spawn(async move {
        if let Err(e) = bound.run(stop).await {
            error!(error = %e, "the metrics server failed");
        }
        drop(certs);
    });
    Ok(())
}

/// Certificates and the HTTPS webhook server; with webhooks disabled nothing is built and
/// readiness does not wait for them.
async fn start_webhooks(
    client: &Client,
    certs_config: &CertsConfig,
    state: ServerState,
    readiness: &Readiness,
    stop: Stop,
) -> Result<(), CliError> {
    let reloader = Reloader::new();
    let Some(webhook) = certs::start(client.clone(), certs_config, reloader.callback())
        .await
        .map_err(|e| CliError::Input(format!("webhook certificates: {e}")))?
    else {
        readiness.set_webhook_serving();
        return Ok(());
    };
    let ip = if certs_config.mode == WebhookMode::Local {
        [127, 0, 0, 1]
    } else {
        [0, 0, 0, 0]
    };
    let bound = server::bind(
        ServerConfig {
            addr: (ip, certs_config.port).into(),
            cert_file: webhook.cert_file.clone(),
            key_file: webhook.key_file.clone(),
        },
        state,
    )
    .await
    .map_err(|e| CliError::Input(format!("webhook server: {e}")))?;
    reloader.attach(bound.certificates());
    tokio::spawn(async move {
        if let Err(e) = bound.run(stop).await {
            error!(error = %e, "the webhook server failed");
        }
        drop(webhook);
    });
    Ok(())
}

/// The `User-Agent` of every request to the API server (shown in its audit log):
/// `locust-k8s-operator/<version>`.
pub const USER_AGENT: &str = concat!("locust-k8s-operator/", env!("CARGO_PKG_VERSION"));

/// Sends [`USER_AGENT`] on every request (kube sends no User-Agent of its own).
pub(crate) fn add_user_agent(config: &mut kube::Config) {
    config.headers.push((
        hyper::header::USER_AGENT,
        hyper::header::HeaderValue::from_static(USER_AGENT),
    ));
}

/// A client for the in-cluster config or `$KUBECONFIG`, sending [`USER_AGENT`], limited to
/// `KUBE_API_QPS` requests per second (bursts of `KUBE_API_BURST`) when set (see
/// [`crate::rate_limit`]).
async fn client(settings: &ControllerConfig) -> Result<Client, CliError> {
    let mut config = kube::Config::infer().await.map_err(|e| {
        CliError::Input(format!(
            "no Kubernetes connection (in-cluster config or $KUBECONFIG): {e}"
        ))
    })?;
    add_user_agent(&mut config);
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| CliError::Input(format!("building the Kubernetes client: {e}")))?;
    let limit = settings
        .kube_api_qps
        .map(|qps| crate::rate_limit::RateLimitLayer::new(qps, settings.kube_api_burst));
    Ok(builder
        .with_layer(&tower::util::option_layer(limit))
        .build())
}

/// SIGTERM (Kubernetes, a cancelled CI job) or Ctrl-C (a terminal).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
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
