//! Malformed and hostile bodies thrown at `POST /validate` (no TLS needed): no panic, no
//! 500, and every answer is a well-formed AdmissionReview for the request's uid, a 400 or
//! a 413.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionReview;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::admission::{admission_body, v2_object};
use super::{test_router, v1_object};
use crate::server::MAX_BODY_BYTES;

/// What the router answered.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

fn post(body: Vec<u8>) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let request = Request::post("/validate")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let response = test_router().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Answer { status, body }
    })
}

/// The invariant: 200 with a review answering `uid` (when known), or 400/413 with a short
/// text. Returns whether the request was allowed (`None` for a 400/413).
fn check(answer: &Answer, uid: Option<&str>) -> Result<Option<bool>, TestCaseError> {
    match answer.status {
        StatusCode::OK => {
            let review: AdmissionReview<DynamicObject> = serde_json::from_slice(&answer.body)
                .map_err(|e| TestCaseError::fail(format!("200 without a review: {e}")))?;
            prop_assert_eq!(review.types.kind, "AdmissionReview");
            prop_assert_eq!(review.types.api_version, "admission.k8s.io/v1");
            prop_assert!(review.request.is_none());
            let response = review
                .response
                .ok_or_else(|| TestCaseError::fail("a review without a response"))?;
            prop_assert!(!response.uid.is_empty());
            if let Some(uid) = uid {
                prop_assert_eq!(&response.uid, uid);
            }
            if !response.allowed {
                prop_assert_eq!(response.result.code, 422);
                prop_assert!(!response.result.message.is_empty());
                // 50 problems of at most 513 characters each, and the separators.
                prop_assert!(response.result.message.chars().count() <= 27_000);
            }
            Ok(Some(response.allowed))
        }
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
            prop_assert!(!answer.body.is_empty());
            prop_assert!(answer.body.len() <= 2200, "{} bytes", answer.body.len());
            Ok(None)
        }
        other => {
            prop_assert!(false, "unexpected status {}", other);
            Ok(None)
        }
    }
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

/// A v1 or v2 LocustTest with one field (spec, metadata, kind or apiVersion) damaged.
fn damaged_object() -> impl Strategy<Value = Value> {
    let pointer = prop_oneof![
        Just("/spec/image"),
        Just("/spec/worker"),
        Just("/spec/worker/replicas"),
        Just("/spec/master/command"),
        Just("/spec/workerReplicas"),
        Just("/spec/masterCommandSeed"),
        Just("/spec/env"),
        Just("/spec/volumes"),
        Just("/spec/volumeMounts"),
        Just("/spec/scheduling"),
        Just("/spec"),
        Just("/metadata"),
        Just("/metadata/labels"),
        Just("/metadata/name"),
        Just("/metadata/annotations"),
        Just("/status"),
        Just("/kind"),
        Just("/apiVersion"),
    ];
    (pointer, any_json(), any::<bool>(), any::<bool>()).prop_map(|(pointer, value, v1, keep)| {
        let mut object = if v1 {
            v1_object("hostile")
        } else {
            v2_object("hostile")
        };
        if !keep {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(Value::Object(fields)) = object.pointer_mut(parent) {
                fields.insert(key.to_owned(), value);
            }
        }
        object
    })
}

fn operation() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("CREATE".to_owned()),
        3 => Just("UPDATE".to_owned()),
        1 => Just("DELETE".to_owned()),
        1 => Just("CONNECT".to_owned()),
        1 => "[A-Z]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes(body in vec(any::<u8>(), 0..4096)) {
        check(&post(body), None)?;
    }

    #[test]
    fn truncated_reviews(uid in "[a-z0-9-]{1,36}", cut in any::<prop::sample::Index>()) {
        let body = serde_json::to_vec(&admission_body(&uid, "CREATE", Some(v2_object("t")), None))
            .expect("encode");
        let cut = cut.index(body.len());
        let answer = post(body[..cut].to_vec());
        prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        check(&answer, None)?;
    }

    #[test]
    fn damaged_objects(
        uid in "[a-z0-9-]{1,36}",
        operation in operation(),
        object in prop::option::of(damaged_object()),
        old in prop::option::of(damaged_object()),
    ) {
        let body = admission_body(&uid, &operation, object, old);
        let answer = post(serde_json::to_vec(&body).expect("encode"));
        let known = matches!(operation.as_str(), "CREATE" | "UPDATE" | "DELETE" | "CONNECT");
        if known {
            prop_assert_eq!(answer.status, StatusCode::OK);
            check(&answer, Some(&uid))?;
        } else {
            prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn arbitrary_objects(
        uid in "[a-z0-9-]{1,36}",
        operation in operation(),
        object in any_json(),
        old in any_json(),
    ) {
        let mut body = admission_body(&uid, &operation, None, None);
        body["request"]["object"] = object;
        body["request"]["oldObject"] = old;
        let answer = post(serde_json::to_vec(&body).expect("encode"));
        check(&answer, Some(&uid))?;
    }

    #[test]
    fn damaged_envelopes(
        key in prop_oneof![
            Just("apiVersion"), Just("kind"), Just("request"), Just("uid"),
            Just("operation"), Just("userInfo"), Just("name"), Just("namespace"),
            Just("subResource"), Just("dryRun"), Just("options"), Just("requestKind"),
        ],
        value in prop::option::of(any_json()),
        resource_key in prop_oneof![Just("kind"), Just("resource")],
        resource in prop::option::of(any_json()),
    ) {
        let mut body = admission_body("envelope", "CREATE", Some(v2_object("t")), None);
        if let Some(resource) = resource
            && let Some(fields) = body["request"].as_object_mut()
        {
            fields.insert(resource_key.to_owned(), resource);
        }
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
        check(&post(serde_json::to_vec(&body).expect("encode")), None)?;
    }

    #[test]
    fn huge_strings(len in 0usize..400_000, pointer in prop_oneof![
        Just("/spec/image"), Just("/spec/master/command"), Just("/spec/imagePullPolicy"),
        Just("/metadata/name"), Just("/apiVersion"),
    ]) {
        let mut object = v2_object("huge");
        if let Some(field) = object.pointer_mut(pointer) {
            *field = json!("x".repeat(len));
        }
        let body = admission_body("huge", "CREATE", Some(object), None);
        let answer = post(serde_json::to_vec(&body).expect("encode"));
        prop_assert_eq!(answer.status, StatusCode::OK);
        check(&answer, Some("huge"))?;
    }
}

#[test]
fn deep_nesting_is_a_bad_request_not_a_stack_overflow() {
    let depth = 100_000;
    let mut body = String::from(
        r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"d","operation":"CREATE","object":{"spec":"#,
    );
    body.push_str(&"[".repeat(depth));
    body.push_str(&"]".repeat(depth));
    body.push_str("}}}");
    let answer = post(body.into_bytes());
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[test]
fn bodies_over_the_limit_get_413() {
    let mut object = v2_object("big");
    object["spec"]["image"] = json!("x".repeat(MAX_BODY_BYTES));
    let body = admission_body("big", "CREATE", Some(object), None);
    let answer = post(serde_json::to_vec(&body).expect("encode"));
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&answer.body).contains("larger than"));
}

#[test]
fn many_problems_are_capped() {
    let mut object = v2_object("many");
    let variables: Vec<Value> = (0..400)
        .map(|_| json!({"name": " ", "value": "secret-value"}))
        .collect();
    object["spec"]["env"] = json!({ "variables": variables });
    let body = admission_body("many", "CREATE", Some(object), None);
    let answer = post(serde_json::to_vec(&body).expect("encode"));
    assert_eq!(answer.status, StatusCode::OK);
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(&answer.body).expect("a review");
    let response = review.response.expect("a response");
    assert!(!response.allowed);
    let message = &response.result.message;
    assert!(!message.contains("secret-value"), "{message}");
    assert!(message.ends_with("(and 350 more)"), "{message}");
    let causes = response.result.details.expect("details").causes;
    assert_eq!(causes.len(), 50);
}

#[test]
fn get_on_validate_is_not_a_500() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let status = runtime.block_on(async {
        let request = Request::get("/validate")
            .body(Body::empty())
            .expect("request");
        test_router()
            .oneshot(request)
            .await
            .expect("infallible")
            .status()
    });
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
