//! The one request wrapper both webhooks go through.
//!
//! A webhook is a [`Reviewer`]: a pure function from a request body, read in full, to an
//! [`Outcome`]. [`route`] serves it: it enforces [`MAX_BODY_BYTES`], answers a body that
//! cannot be read (413 when too large, else 400), runs the reviewer on tokio's blocking pool
//! (a review near the limit takes a while to decode, and the async workers are shared with
//! the controller), answers a body that is not a review with 400 (never a 500), and records
//! `locust_operator_webhook_requests_total{webhook,result}` and
//! `locust_operator_webhook_duration_seconds{webhook}` from the typed outcome.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};

use super::ServerState;
use super::reply::{json_ok, truncate};
use crate::metrics::{Metrics, Webhook, WebhookResult};

/// The largest request body accepted, in bytes: 3 MiB, the API server's own request limit.
/// Larger bodies get HTTP 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A webhook: how a request body becomes an answer. Implemented by a unit type per webhook.
pub(super) trait Reviewer: 'static {
    /// The `webhook` label of its metrics.
    const WEBHOOK: Webhook;
    /// What its requests are called in logs: `conversion`, `admission`.
    const NOUN: &'static str;
    /// The 400 answer when the reviewer failed internally (a bug: it panicked).
    const INTERNAL_ERROR: &'static str;

    /// Answers a body read in full (at most [`MAX_BODY_BYTES`]); runs on the blocking pool.
    fn answer(body: Bytes) -> Outcome;
}

/// Why a request body cannot be answered with a review (HTTP 400), for both webhooks;
/// `review` is the review's kind (`ConversionReview`, `AdmissionReview`).
#[derive(Debug, thiserror::Error)]
pub enum BadReview {
    /// The body is not JSON, or not shaped like the review.
    #[error("the body is not a {review}: {detail}")]
    Decode {
        /// The review's kind.
        review: &'static str,
        /// What the decoder said, cut short.
        detail: String,
    },
    /// The body is a JSON object of another kind.
    #[error("kind must be {expected}, got {got:?}")]
    WrongKind {
        /// The review's kind.
        expected: &'static str,
        /// The body's kind, cut short.
        got: String,
    },
    /// The review is not of the one version served.
    #[error("apiVersion must be {expected}, got {got:?}")]
    WrongApiVersion {
        /// The version served.
        expected: &'static str,
        /// The body's version, cut short.
        got: String,
    },
    /// The review has no `request`.
    #[error("the {review} has no request")]
    MissingRequest {
        /// The review's kind.
        review: &'static str,
    },
    /// The request's uid is empty.
    #[error("the {review} request has an empty uid")]
    EmptyUid {
        /// The review's kind.
        review: &'static str,
    },
}

impl BadReview {
    /// A stable label for logs: what is wrong, without the body's contents.
    pub fn label(&self) -> &'static str {
        match self {
            BadReview::Decode { .. } => "decode",
            BadReview::WrongKind { .. } => "wrong_kind",
            BadReview::WrongApiVersion { .. } => "wrong_api_version",
            BadReview::MissingRequest { .. } => "missing_request",
            BadReview::EmptyUid { .. } => "empty_uid",
        }
    }

    /// Checks a review's `kind` and `apiVersion` against the served `(kind, apiVersion)`.
    pub(super) fn check_type(
        (kind, api_version): (&'static str, &'static str),
        got_kind: &str,
        got_api_version: &str,
    ) -> Result<(), BadReview> {
        if got_kind != kind {
            return Err(BadReview::WrongKind {
                expected: kind,
                got: truncate(got_kind.to_owned()),
            });
        }
        if got_api_version != api_version {
            return Err(BadReview::WrongApiVersion {
                expected: api_version,
                got: truncate(got_api_version.to_owned()),
            });
        }
        Ok(())
    }
}

impl From<BadReview> for Outcome {
    fn from(bad: BadReview) -> Self {
        Outcome::BadReview {
            reason: bad.label(),
            message: bad.to_string(),
        }
    }
}

/// What a [`Reviewer`] made of a body: the answer, typed for the `result` label.
#[derive(Debug)]
pub(super) enum Outcome {
    /// A review for the request's uid, answered with HTTP 200 and JSON (the API server reads
    /// failures from the review, never from the status code).
    Reviewed {
        /// What the review says.
        verdict: Verdict,
        /// The encoded review.
        json: Vec<u8>,
    },
    /// The body is not a review this webhook serves: HTTP 400 with the reason.
    BadReview {
        /// A stable label for logs (`decode`, `wrong_kind`, …), never the body's contents.
        reason: &'static str,
        /// What is wrong, cut short.
        message: String,
    },
}

/// What a review answered, the `result` label of a request that got one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A conversion review answered `Success`.
    Success,
    /// A conversion review answered `Failure`.
    Failure,
    /// An admission request was allowed.
    Allowed,
    /// An admission request was denied.
    Denied,
}

impl From<Verdict> for WebhookResult {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Success => WebhookResult::Success,
            Verdict::Failure => WebhookResult::Failure,
            Verdict::Allowed => WebhookResult::Allowed,
            Verdict::Denied => WebhookResult::Denied,
        }
    }
}

/// `POST` of the webhook `R`, with the body limit, through [`handle`].
pub(super) fn route<R: Reviewer>() -> MethodRouter<ServerState> {
    post(handle::<R>).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The axum handler: the body → [`Reviewer::answer`] → the response, timed and counted.
async fn handle<R: Reviewer>(
    State(metrics): State<Arc<Metrics>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let (result, response) = match body {
        Ok(body) => answer::<R>(body).await,
        Err(rejection) => unreadable::<R>(&rejection),
    };
    metrics.observe_webhook(R::WEBHOOK, result, started.elapsed());
    response
}

/// Runs the reviewer on the blocking pool and turns its outcome into a response.
async fn answer<R: Reviewer>(body: Bytes) -> (WebhookResult, Response) {
    match tokio::task::spawn_blocking(move || R::answer(body)).await {
        Ok(Outcome::Reviewed { verdict, json }) => (verdict.into(), json_ok(json)),
        Ok(Outcome::BadReview { reason, message }) => {
            tracing::warn!(reason, "malformed {} request", R::NOUN);
            (
                WebhookResult::BadRequest,
                (StatusCode::BAD_REQUEST, message).into_response(),
            )
        }
        Err(error) => {
            // Only reachable if the reviewer panicked (a bug; release builds abort). The uid
            // is lost with the task, so the API server gets a 400 it reports, not a 500.
            tracing::error!(%error, "{} task failed", R::NOUN);
            (
                WebhookResult::Error,
                (StatusCode::BAD_REQUEST, R::INTERNAL_ERROR).into_response(),
            )
        }
    }
}

/// The answer to a body that could not be read: 413 over the limit, else 400.
fn unreadable<R: Reviewer>(rejection: &BytesRejection) -> (WebhookResult, Response) {
    let status = rejection.status();
    tracing::warn!(%status, "{} request body rejected", R::NOUN);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let message = format!("the request body is larger than {MAX_BODY_BYTES} bytes");
        (WebhookResult::TooLarge, (status, message).into_response())
    } else {
        let message = truncate(rejection.body_text());
        (
            WebhookResult::BadRequest,
            (StatusCode::BAD_REQUEST, message).into_response(),
        )
    }
}
