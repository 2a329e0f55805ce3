//! The embedded HTTPS server: the CRD conversion webhook, the validating admission webhook,
//! metrics and the health probes.
//!
//! - `POST /convert`: `ConversionReview` (apiextensions.k8s.io/v1) for `locust.io` v1 ↔ v2,
//!   through [`crate::conversion::convert_object`] (see [`convert`]).
//! - `POST /validate`: `AdmissionReview` (admission.k8s.io/v1) for LocustTests, through
//!   [`crate::validation::validate`] (see [`admission`]).
//! - `GET /metrics`: Prometheus text ([`crate::metrics::Metrics`]); with `METRICS_SECURE`
//!   only on its own HTTPS port, to bearer tokens allowed by the API server
//!   ([`metrics_auth`], [`bind_secure_metrics`]).
//! - `GET /healthz`: `200 ok`; `GET /readyz`: `200 ok` once
//!   [`crate::metrics::Readiness::is_ready`], else 503.
//!
//! Both webhooks go through one wrapper that enforces [`MAX_BODY_BYTES`] (413), answers a
//! body that is not a review with 400 (never a 500), runs the review on tokio's blocking
//! pool and records the webhook metrics from the review's typed outcome.
//!
//! TLS is rustls with the ring provider (installed as the process default by [`bind`]),
//! TLS 1.2 and 1.3 only, HTTP/2 and HTTP/1.1. The certificate comes from PEM files through a
//! [`CertStore`], which [`CertStore::reload`] refreshes without a restart.
//!
//! ```no_run
//! # async fn example() -> Result<(), locust_k8s_operator::server::ServerError> {
//! use std::sync::Arc;
//!
//! use locust_k8s_operator::metrics::{Metrics, Readiness};
//! use locust_k8s_operator::server::{ServerConfig, ServerState, bind};
//!
//! let metrics = Arc::new(Metrics::new().expect("metrics register"));
//! let readiness = Readiness::new(); // the controller calls `set_controller_synced()`
//! let server = bind(
//!     ServerConfig {
//!         addr: "0.0.0.0:8443".parse().expect("a valid address"),
//!         cert_file: "/tmp/certs/tls.crt".into(),
//!         key_file: "/tmp/certs/tls.key".into(),
//!     },
//!     ServerState::new(metrics, readiness),
//! )
//! .await?;
//! let certificates = server.certificates(); // call `reload()` when the files change
//! server.run(std::future::pending()).await
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub mod admission;
mod conn;
pub mod convert;
mod deprecation;
mod error;
pub mod metrics_auth;
mod reply;
mod router;
pub mod tls;
mod webhook;
pub use webhook::BadReview;

#[cfg(test)]
mod tests;

pub use error::ServerError;
pub use metrics_auth::MetricsAuth;
pub use router::{ServerState, probes_router, router, secure_metrics_router};
pub use tls::{CertStore, TlsError};
pub use webhook::MAX_BODY_BYTES;

/// Where the HTTPS server listens and which certificate it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address to listen on (`0.0.0.0:8443`; port 0 picks a free port).
    pub addr: SocketAddr,
    /// PEM certificate chain, the serving certificate first.
    pub cert_file: PathBuf,
    /// PEM private key of the serving certificate (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// A server whose socket is bound and whose certificate is loaded, not yet accepting.
pub struct BoundServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    certificates: Arc<CertStore>,
    acceptor: TlsAcceptor,
    router: Router,
    /// What is served, for the logs.
    what: &'static str,
    /// The webhook server marks itself serving here; `None` for the metrics server.
    readiness: Option<crate::metrics::Readiness>,
}

impl std::fmt::Debug for BoundServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundServer")
            .field("local_addr", &self.local_addr)
            .field("certificates", &self.certificates)
            .finish_non_exhaustive()
    }
}

impl BoundServer {
    /// The address actually bound (the chosen port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The certificate store the server takes its certificate from, for [`CertStore::reload`].
    pub fn certificates(&self) -> Arc<CertStore> {
        self.certificates.clone()
    }

    /// Serves until `shutdown` completes, then lets open connections finish (for a few
    /// seconds at most) and returns. The webhook server ([`bind`]) marks the webhook as
    /// serving in the state's [`crate::metrics::Readiness`] as it starts accepting.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        tracing::info!(addr = %self.local_addr, serves = self.what, "HTTPS server listening");
        if let Some(readiness) = &self.readiness {
            readiness.set_webhook_serving();
        }
        conn::accept_loop(self.listener, Some(self.acceptor), self.router, shutdown).await;
        Ok(())
    }
}

/// Installs ring as the process's default rustls provider, loads the certificate and binds
/// the socket; the routes share `state` (metrics and readiness) with the controller.
///
/// Fails with the file and the reason when the certificate or key cannot be loaded, and
/// with the address when it cannot be bound (in use, no permission).
pub async fn bind(config: ServerConfig, state: ServerState) -> Result<BoundServer, ServerError> {
    let readiness = Some(state.readiness.clone());
    bind_router(config, router(state), "webhooks", readiness).await
}

/// Like [`bind`], for the HTTPS `/metrics` of `METRICS_SECURE` ([`secure_metrics_router`]):
/// only `GET /metrics`, to bearer tokens `auth` finds allowed.
pub async fn bind_secure_metrics(
    config: ServerConfig,
    state: ServerState,
    auth: MetricsAuth,
) -> Result<BoundServer, ServerError> {
    bind_router(config, secure_metrics_router(state, auth), "metrics", None).await
}

async fn bind_router(
    config: ServerConfig,
    router: Router,
    what: &'static str,
    readiness: Option<crate::metrics::Readiness>,
) -> Result<BoundServer, ServerError> {
    tls::install_default_crypto_provider();
    let certificates = Arc::new(CertStore::load(&config.cert_file, &config.key_file)?);
    let tls_config = certificates.server_config()?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(ServerError::LocalAddr)?;
    Ok(BoundServer {
        listener,
        local_addr,
        certificates,
        acceptor: TlsAcceptor::from(Arc::new(tls_config)),
        router,
        what,
        readiness,
    })
}

/// Serves `/healthz`, `/readyz` and (unless [`ServerState::without_plain_metrics`])
/// `/metrics` over plain HTTP on `addr` (the probes and scrape port, which needs no
/// certificate) until `shutdown` completes.
pub async fn serve_probes(
    addr: SocketAddr,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local_addr = listener.local_addr().map_err(ServerError::LocalAddr)?;
    tracing::info!(addr = %local_addr, metrics = state.plain_metrics, "probes listening (HTTP)");
    conn::accept_loop(listener, None, probes_router(state), shutdown).await;
    Ok(())
}

/// [`bind`], then [`BoundServer::run`] until `shutdown` completes.
pub async fn serve(
    config: ServerConfig,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    bind(config, state).await?.run(shutdown).await
}
