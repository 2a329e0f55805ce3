//! Malformed and hostile bodies thrown at the router (no TLS needed): no panic, and every
//! answer is a well-formed ConversionReview, a 400 or a 413.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use kube::core::conversion::ConversionReview;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::test_router as router;
use super::{review_body, v1_object};
use crate::server::MAX_BODY_BYTES;

/// What the router answered.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

fn post(runtime: &tokio::runtime::Runtime, path: &str, body: Vec<u8>) -> Answer {
    runtime.block_on(async {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let response = router().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Answer { status, body }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// The invariant: 200 with a review answering `uid` (when known), or 400/413 with a short
/// text.
fn check(answer: &Answer, uid: Option<&str>, objects: Option<usize>) -> Result<(), TestCaseError> {
    match answer.status {
        StatusCode::OK => {
            let review: ConversionReview = serde_json::from_slice(&answer.body)
                .map_err(|e| TestCaseError::fail(format!("200 without a review: {e}")))?;
            prop_assert_eq!(review.types.kind, "ConversionReview");
            prop_assert!(review.request.is_none());
            let response = review
                .response
                .ok_or_else(|| TestCaseError::fail("a review without a response"))?;
            prop_assert!(response.result.is_success() || response.result.is_failure());
            if let Some(uid) = uid {
                prop_assert_eq!(response.uid, uid);
            }
            if response.result.is_success() {
                if let Some(count) = objects {
                    prop_assert_eq!(response.converted_objects.len(), count);
                }
            } else {
                prop_assert!(response.converted_objects.is_empty());
                prop_assert!(!response.result.message.is_empty());
                prop_assert!(response.result.message.chars().count() <= 513);
            }
        }
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
            prop_assert!(!answer.body.is_empty());
            // Messages are cut to 512 characters (of up to 4 bytes each).
            prop_assert!(answer.body.len() <= 2200, "{} bytes", answer.body.len());
        }
        other => prop_assert!(false, "unexpected status {}", other),
    }
    Ok(())
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map("[a-zA-Z]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A LocustTest-like object with one spec field, the kind or the apiVersion damaged.
fn damaged_object() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("masterCommandSeed".to_owned()),
        Just("workerCommandSeed".to_owned()),
        Just("workerReplicas".to_owned()),
        Just("image".to_owned()),
        Just("labels".to_owned()),
        Just("affinity".to_owned()),
        Just("tolerations".to_owned()),
        "[a-zA-Z]{1,10}",
    ];
    let kind = prop_oneof![
        3 => Just(json!("LocustTest")),
        1 => Just(json!("Pod")),
        1 => any_json(),
    ];
    let api_version = prop_oneof![
        3 => Just(json!("locust.io/v1")),
        1 => Just(json!("locust.io/v2")),
        1 => any_json(),
    ];
    (field, any_json(), kind, api_version, any::<bool>()).prop_map(
        |(field, value, kind, api_version, keep)| {
            let mut object = v1_object("hostile");
            if !keep {
                object["spec"][field] = value;
            }
            object["kind"] = kind;
            object["apiVersion"] = api_version;
            object
        },
    )
}

fn desired() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("locust.io/v1".to_owned()),
        Just("locust.io/v2".to_owned()),
        ".{0,16}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes(body in vec(any::<u8>(), 0..4096)) {
        let answer = post(&runtime(), "/convert", body);
        check(&answer, None, None)?;
    }

    #[test]
    fn truncated_reviews(uid in "[a-z0-9-]{1,36}", cut in any::<prop::sample::Index>()) {
        let body = serde_json::to_vec(&review_body(&uid, "locust.io/v2", vec![v1_object("t")]))
            .expect("encode");
        let cut = cut.index(body.len());
        let answer = post(&runtime(), "/convert", body[..cut].to_vec());
        prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        check(&answer, None, None)?;
    }

    #[test]
    fn damaged_objects(
        uid in "[a-z0-9-]{1,36}",
        desired in desired(),
        objects in vec(damaged_object(), 0..4),
    ) {
        let count = objects.len();
        let body = serde_json::to_vec(&review_body(&uid, &desired, objects)).expect("encode");
        let answer = post(&runtime(), "/convert", body);
        prop_assert_eq!(answer.status, StatusCode::OK);
        check(&answer, Some(&uid), Some(count))?;
    }

    #[test]
    fn arbitrary_objects(uid in "[a-z0-9-]{1,36}", objects in vec(any_json(), 0..4)) {
        let count = objects.len();
        let body = serde_json::to_vec(&review_body(&uid, "locust.io/v2", objects))
            .expect("encode");
        let answer = post(&runtime(), "/convert", body);
        check(&answer, Some(&uid), Some(count))?;
    }

    #[test]
    fn damaged_envelopes(
        key in prop_oneof![
            Just("apiVersion"), Just("kind"), Just("request"),
            Just("uid"), Just("desiredAPIVersion"), Just("objects"),
        ],
        value in prop::option::of(any_json()),
    ) {
        let mut body = review_body("envelope", "locust.io/v2", vec![v1_object("t")]);
        let target = match key {
            "apiVersion" | "kind" | "request" => &mut body,
            _ => &mut body["request"],
        };
        if let Some(fields) = target.as_object_mut() {
            match value {
                Some(value) => { fields.insert(key.to_owned(), value); }
                None => { fields.remove(key); }
            }
        }
        let answer = post(&runtime(), "/convert", serde_json::to_vec(&body).expect("encode"));
        check(&answer, None, None)?;
    }

    #[test]
    fn huge_strings(len in 0usize..400_000, field in "[a-zA-Z]{1,12}") {
        let mut object = v1_object("huge");
        object["spec"][field] = json!("x".repeat(len));
        let body = serde_json::to_vec(&review_body("huge", "locust.io/v2", vec![object]))
            .expect("encode");
        let answer = post(&runtime(), "/convert", body);
        prop_assert_eq!(answer.status, StatusCode::OK);
        check(&answer, Some("huge"), Some(1))?;
    }
}

#[test]
fn deep_nesting_is_a_bad_request_not_a_stack_overflow() {
    let depth = 100_000;
    let mut body = String::from(
        r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","request":{"uid":"d","desiredAPIVersion":"locust.io/v2","objects":["#,
    );
    body.push_str(&"[".repeat(depth));
    body.push_str(&"]".repeat(depth));
    body.push_str("]}}");
    let answer = post(&runtime(), "/convert", body.into_bytes());
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[test]
fn bodies_over_the_limit_get_413() {
    let mut object = v1_object("big");
    object["spec"]["image"] = json!("x".repeat(MAX_BODY_BYTES));
    let body =
        serde_json::to_vec(&review_body("big", "locust.io/v2", vec![object])).expect("encode");
    let answer = post(&runtime(), "/convert", body);
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&answer.body).contains("larger than"));
}

#[test]
fn a_body_just_under_the_limit_is_converted() {
    let mut object = v1_object("big");
    let envelope = serde_json::to_vec(&review_body("big", "locust.io/v2", vec![object.clone()]))
        .expect("encode")
        .len();
    object["metadata"]["annotations"] = json!({"note": "x".repeat(MAX_BODY_BYTES - envelope - 64)});
    let body =
        serde_json::to_vec(&review_body("big", "locust.io/v2", vec![object])).expect("encode");
    assert!(body.len() <= MAX_BODY_BYTES);
    let answer = post(&runtime(), "/convert", body);
    assert_eq!(answer.status, StatusCode::OK);
}

#[test]
fn get_on_convert_is_not_a_500() {
    let answer = runtime().block_on(async {
        let request = Request::get("/convert")
            .body(Body::empty())
            .expect("request");
        router()
            .oneshot(request)
            .await
            .expect("infallible")
            .status()
    });
    assert_eq!(answer, StatusCode::METHOD_NOT_ALLOWED);
}
