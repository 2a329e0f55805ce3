//! The whole table of invalid LocustTests (`tests/fixtures/invalid-cases.yaml`) through
//! `POST /validate`: every case is denied, naming its field.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionReview;
use test_cluster::fixtures::{invalid_cases, valid_base};
use tower::ServiceExt;

use super::admission::admission_body;
use super::state;
use crate::server::router;

#[tokio::test]
async fn every_invalid_case_is_denied_through_the_webhook_naming_its_field() {
    let cases = invalid_cases();
    assert!(cases.len() >= 25);
    let base = valid_base();
    let state = state();
    let app = router(state.clone());
    let mut denied = 0;
    for (index, case) in cases.iter().enumerate() {
        let object = case.document.clone();
        let uid = format!("case-{index}");
        for operation in ["CREATE", "UPDATE"] {
            // As an UPDATE, the base is the stored object: the edit is a spec change.
            let old = (operation == "UPDATE").then(|| base.clone());
            let body = admission_body(&uid, operation, Some(object.clone()), old);
            let request = Request::post("/validate")
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).expect("encode")))
                .expect("request");
            let response = app.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::OK, "{}", case.name);
            let bytes = to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            let review: AdmissionReview<DynamicObject> =
                serde_json::from_slice(&bytes).expect("a review");
            let answer = review.response.expect("a response");
            assert_eq!(answer.uid, uid, "{}", case.name);
            assert!(!answer.allowed, "{} ({operation}) was allowed", case.name);
            assert_eq!(answer.result.code, 422, "{}", case.name);
            assert_eq!(answer.result.reason, "Invalid", "{}", case.name);
            let message = &answer.result.message;
            let expected = format!("{}: ", case.field);
            assert!(
                message.contains(&expected) && message.contains(&case.message),
                "{} (stage {}): expected {expected}{}, got {message}",
                case.name,
                case.stage,
                case.message
            );
            let causes = &answer.result.details.as_ref().expect("details").causes;
            assert!(
                causes.iter().any(|c| c.field == case.field),
                "{}: causes {causes:?}",
                case.name
            );
            denied += 1;
        }
    }
    let text = state.metrics.render().expect("renders");
    let line = format!(
        "locust_operator_webhook_requests_total{{result=\"denied\",webhook=\"validate\"}} {denied}"
    );
    assert!(text.contains(&line), "{line} in {text}");
}
