//! The wrapper both webhooks share: body limit, unreadable and bad reviews, internal
//! failures, and the metrics it records from the typed outcome.

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::state;
use crate::metrics::{Webhook, WebhookResult};
use crate::server::ServerState;
use crate::server::webhook::{MAX_BODY_BYTES, Outcome, Reviewer, Verdict, route};

/// Answers `denied` to a body `deny`, a bad review to `bad`, panics on `panic`, else allows.
struct Scripted;

impl Reviewer for Scripted {
    const WEBHOOK: Webhook = Webhook::Validate;
    const NOUN: &'static str = "scripted";
    const INTERNAL_ERROR: &'static str = "internal error while scripting";

    fn answer(body: Bytes) -> Outcome {
        match &body[..] {
            b"deny" => Outcome::Reviewed {
                verdict: Verdict::Denied,
                json: b"{\"denied\":true}".to_vec(),
            },
            b"bad" => Outcome::BadReview {
                reason: "decode",
                message: "not a review".into(),
            },
            b"panic" => panic!("a scripted bug"),
            _ => Outcome::Reviewed {
                verdict: Verdict::Allowed,
                json: b"{}".to_vec(),
            },
        }
    }
}

async fn post(state: &ServerState, body: impl Into<Body>) -> (StatusCode, String) {
    let router = Router::new()
        .route("/scripted", route::<Scripted>())
        .with_state(state.clone());
    let request = Request::post("/scripted")
        .body(body.into())
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn every_outcome_has_its_status_and_its_result_label() {
    let state = state();
    assert_eq!(
        post(&state, "allow").await,
        (StatusCode::OK, "{}".to_owned())
    );
    assert_eq!(
        post(&state, "deny").await,
        (StatusCode::OK, "{\"denied\":true}".to_owned())
    );
    assert_eq!(
        post(&state, "bad").await,
        (StatusCode::BAD_REQUEST, "not a review".to_owned())
    );
    let (status, text) = post(&state, "panic").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a bug is not a 500");
    assert_eq!(text, Scripted::INTERNAL_ERROR);
    let (status, text) = post(&state, vec![b'x'; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text.contains("larger than"), "{text}");
    let (status, _) = post(&state, vec![b'x'; MAX_BODY_BYTES]).await;
    assert_eq!(status, StatusCode::OK, "the limit itself is accepted");

    let text = state.metrics.render().expect("render");
    for (result, count) in [
        ("allowed", 2),
        ("denied", 1),
        ("bad_request", 1),
        ("error", 1),
        ("too_large", 1),
    ] {
        let line = format!(
            "locust_operator_webhook_requests_total{{result=\"{result}\",webhook=\"validate\"}} {count}"
        );
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    assert!(
        text.contains("locust_operator_webhook_duration_seconds_count{webhook=\"validate\"} 6"),
        "{text}"
    );
}

#[tokio::test]
async fn a_body_that_cannot_be_read_is_a_bad_request() {
    let state = state();
    let stream = futures::stream::iter([
        Ok(Bytes::from_static(b"{\"apiVersion\":")),
        Err(std::io::Error::other("connection reset")),
    ]);
    let (status, text) = post(&state, Body::from_stream(stream)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!text.is_empty());
    let text = state.metrics.render().expect("render");
    let line =
        r#"locust_operator_webhook_requests_total{result="bad_request",webhook="validate"} 1"#;
    assert!(text.contains(line), "{line} in\n{text}");
}

#[test]
fn verdicts_are_the_review_results_of_the_metrics() {
    for (verdict, result) in [
        (Verdict::Success, WebhookResult::Success),
        (Verdict::Failure, WebhookResult::Failure),
        (Verdict::Allowed, WebhookResult::Allowed),
        (Verdict::Denied, WebhookResult::Denied),
    ] {
        assert_eq!(WebhookResult::from(verdict), result);
    }
}
