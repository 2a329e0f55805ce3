//! The routes of the HTTPS server.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::convert;

/// The largest request body accepted, in bytes: 3 MiB, the API server's own request limit.
/// Larger bodies get HTTP 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The routes: `POST /convert` (conversion webhook), `GET /healthz` and `GET /readyz`.
///
/// Usable without TLS, which is how the tests drive it (`tower::ServiceExt::oneshot`).
pub fn router() -> Router {
    Router::new()
        .route("/convert", post(convert::handle))
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Liveness, and for now readiness too: the process serves HTTP.
async fn ok() -> &'static str {
    "ok"
}
