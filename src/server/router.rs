//! The routes of the HTTPS server and the state they share.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{admission, convert};
use crate::metrics::{Metrics, Readiness, Webhook, WebhookResult};

/// The largest request body accepted, in bytes: 3 MiB, the API server's own request limit.
/// Larger bodies get HTTP 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What the routes share with the rest of the operator: the metrics they record into and
/// render, and the readiness flags `/readyz` reports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// The operator's metrics, shared with the controller.
    pub metrics: Arc<Metrics>,
    /// The readiness flags, shared with the controller.
    pub readiness: Readiness,
}

impl ServerState {
    /// State from the shared metrics and readiness flags.
    pub fn new(metrics: Arc<Metrics>, readiness: Readiness) -> Self {
        Self { metrics, readiness }
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
/// - `POST /convert`: the CRD conversion webhook ([`convert`]);
/// - `POST /validate`: the validating admission webhook ([`admission`]);
/// - `GET /metrics`: Prometheus text ([`crate::metrics`]);
/// - `GET /healthz`: `200 ok` while the process serves HTTP;
/// - `GET /readyz`: `200 ok` once [`Readiness::is_ready`], else 503 saying what is missing.
///
/// Both webhooks are recorded in `locust_operator_webhook_requests_total` and
/// `locust_operator_webhook_duration_seconds`. Usable without TLS, which is how the tests
/// drive it (`tower::ServiceExt::oneshot`).
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/convert", post(convert_and_record))
        .route("/validate", post(admission::handle))
        .route("/metrics", get(metrics))
        .route("/healthz", get(ok))
        .route("/readyz", get(ready))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Only `GET /metrics`, `GET /healthz` and `GET /readyz`, for a plain-HTTP port when the
/// chart prefers one for probes and scraping (the webhooks stay on HTTPS, [`router`]).
pub fn probes_router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(ok))
        .route("/readyz", get(ready))
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
    let mut missing = Vec::new();
    if !readiness.controller_synced() && !readiness.standby() {
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

/// [`convert::handle`], timed and counted by result.
async fn convert_and_record(
    State(metrics): State<Arc<Metrics>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let response = convert::handle(body).await;
    let (result, response) = match response.status() {
        StatusCode::OK => conversion_result(response).await,
        StatusCode::PAYLOAD_TOO_LARGE => (WebhookResult::TooLarge, response),
        _ => (WebhookResult::BadRequest, response),
    };
    metrics.observe_webhook(Webhook::Convert, result, started.elapsed());
    response
}

/// Whether a conversion review answered `Success` or `Failure`, read back from the
/// response body (in memory already; skimmed without building the converted objects).
async fn conversion_result(response: Response) -> (WebhookResult, Response) {
    #[derive(Deserialize)]
    struct Review {
        response: Option<ReviewResponse>,
    }
    #[derive(Deserialize)]
    struct ReviewResponse {
        result: Option<ReviewResult>,
    }
    #[derive(Deserialize)]
    struct ReviewResult {
        status: Option<String>,
    }

    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "cannot read back a conversion response");
            return (
                WebhookResult::Error,
                (
                    StatusCode::BAD_REQUEST,
                    "internal error while converting; see the operator's logs",
                )
                    .into_response(),
            );
        }
    };
    let status = serde_json::from_slice::<Review>(&bytes)
        .ok()
        .and_then(|r| r.response)
        .and_then(|r| r.result)
        .and_then(|r| r.status);
    let result = match status.as_deref() {
        Some("Success") => WebhookResult::Success,
        _ => WebhookResult::Failure,
    };
    (result, Response::from_parts(parts, Body::from(bytes)))
}
