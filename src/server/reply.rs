//! What both webhooks share in their answers: a JSON body with HTTP 200 (the API server
//! reads failures from the review, never from the status code) and messages cut short.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Longest message (in bytes) a webhook copies from its input into an answer or a log.
pub(super) const MAX_MESSAGE_CHARS: usize = 512;

/// An encoded review, answered with 200 and `application/json`.
pub(super) fn json_ok(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Cuts a message to [`MAX_MESSAGE_CHARS`] bytes.
pub(super) fn truncate(message: String) -> String {
    crate::text::truncate(message, MAX_MESSAGE_CHARS)
}
