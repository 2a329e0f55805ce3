//! The routes of the HTTPS server and the state they share.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::admission::Admission;
use super::convert::Conversion;
use super::metrics_auth::{self, MetricsAuth};
use super::webhook;
use crate::metrics::{Metrics, Readiness};

/// What the routes share with the rest of the operator: the metrics they record into and
/// render, and the readiness flags `/readyz` reports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// The operator's metrics, shared with the controller.
    pub metrics: Arc<Metrics>,
    /// The readiness flags, shared with the controller.
    pub readiness: Readiness,
    /// Whether [`router`] and [`probes_router`] serve `GET /metrics` (plain, no
    /// authentication); off when only [`secure_metrics_router`] serves it.
    pub plain_metrics: bool,
}

impl ServerState {
    /// State from the shared metrics and readiness flags, `/metrics` served plainly.
    pub fn new(metrics: Arc<Metrics>, readiness: Readiness) -> Self {
        Self {
            metrics,
            readiness,
            plain_metrics: true,
        }
    }

    /// The same state, with `/metrics` left out of [`router`] and [`probes_router`]
    /// (`METRICS_SECURE`: only [`secure_metrics_router`] serves it).
    pub fn without_plain_metrics(self) -> Self {
        Self {
            plain_metrics: false,
            ..self
        }
    }
}

impl FromRef<ServerState> for Arc<Metrics> {
    fn from_ref(state: &ServerState) -> Self {
        state.metrics.clone()
    }
}

impl FromRef<ServerState> for Readiness {
    fn from_ref(state: &ServerState) -> Self {
        state.readiness.clone()
    }
}

/// The routes:
///
/// - `POST /convert`: the CRD conversion webhook ([`super::convert`]);
/// - `POST /validate`: the validating admission webhook ([`super::admission`]);
/// - `GET /metrics`: Prometheus text ([`crate::metrics`]), unless
///   [`ServerState::without_plain_metrics`];
/// - `GET /healthz`: `200 ok` while the process serves HTTP;
/// - `GET /readyz`: `200 ok` once [`Readiness::is_ready`], else 503 saying what is missing.
///
/// Both webhooks go through one wrapper: bodies over [`super::MAX_BODY_BYTES`] get 413, a
/// body that is not a review gets 400 (never a 500), and every request is recorded in
/// `locust_operator_webhook_requests_total` and `locust_operator_webhook_duration_seconds`.
/// Usable without TLS, which is how the tests drive it (`tower::ServiceExt::oneshot`).
pub fn router(state: ServerState) -> Router {
    probes(&state)
        .route("/convert", webhook::route::<Conversion>())
        .route("/validate", webhook::route::<Admission>())
        .with_state(state)
}

/// Only `GET /healthz`, `GET /readyz` and (unless [`ServerState::without_plain_metrics`])
/// `GET /metrics`, for the plain-HTTP port of the probes and scraping (the webhooks stay on
/// HTTPS, [`router`]).
pub fn probes_router(state: ServerState) -> Router {
    probes(&state).with_state(state)
}

fn probes(state: &ServerState) -> Router<ServerState> {
    let routes = Router::new()
        .route("/healthz", get(ok))
        .route("/readyz", get(ready));
    if state.plain_metrics {
        routes.route("/metrics", get(metrics))
    } else {
        routes
    }
}

/// Only `GET /metrics`, behind [`metrics_auth::require_access`] (bearer token, TokenReview,
/// SubjectAccessReview): the HTTPS metrics port of `METRICS_SECURE`.
pub fn secure_metrics_router(state: ServerState, auth: MetricsAuth) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            auth,
            metrics_auth::require_access,
        ))
        .with_state(state)
}

/// Liveness: the process serves HTTP.
async fn ok() -> &'static str {
    "ok"
}

/// Readiness: the webhook serves, and the controller's caches have synced (or this replica
/// is a standby waiting for the Lease).
async fn ready(State(readiness): State<Readiness>) -> Response {
    if readiness.is_ready() {
        return "ok".into_response();
    }
    let blocked = readiness.blocked();
    let mut missing: Vec<&str> = blocked.iter().map(String::as_str).collect();
    // A blocked operator stops its controller: its caches are a consequence, not news.
    if blocked.is_none() && !readiness.controller_synced() && !readiness.standby() {
        missing.push("the controller's caches have not synced");
    }
    if !readiness.webhook_serving() {
        missing.push("the webhook server is not serving");
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: {}", missing.join("; ")),
    )
        .into_response()
}

/// `GET /metrics`: every metric in the Prometheus text format.
async fn metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics.content_type())], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot render the metrics; see the operator's logs",
            )
                .into_response()
        }
    }
}
