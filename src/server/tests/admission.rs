//! The validating admission webhook as functions: what is allowed, denied and warned about.

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse};
use serde_json::{Value, json};

use super::v1_object;
use crate::controller::APPLIED_SPEC_ANNOTATION;
use crate::server::BadReview;
use crate::server::admission::{Parsed, SPEC_CHANGE_WARNING, parse, review};

/// A minimal valid v2 LocustTest.
pub(super) fn v2_object(name: &str) -> Value {
    json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name, "namespace": "load"},
        "spec": {
            "image": "locustio/locust:2.43.1",
            "master": {"command": "locust -f /lotest/src/locustfile.py"},
            "worker": {"command": "locust -f /lotest/src/locustfile.py", "replicas": 2},
            "testFiles": {"configMapRef": "tests"}
        }
    })
}

/// An AdmissionReview request body for `object` (and `old`) in the object's version.
pub(super) fn admission_body(
    uid: &str,
    operation: &str,
    object: Option<Value>,
    old: Option<Value>,
) -> Value {
    let version = object
        .as_ref()
        .or(old.as_ref())
        .and_then(|o| o["apiVersion"].as_str())
        .and_then(|v| v.strip_prefix("locust.io/"))
        .unwrap_or("v2")
        .to_owned();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "locust.io", "version": version, "kind": "LocustTest"},
            "resource": {"group": "locust.io", "version": version, "resource": "locusttests"},
            "name": "demo",
            "namespace": "load",
            "operation": operation,
            "userInfo": {"username": "tester"},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    })
}

/// The request a body parses into.
pub(super) fn request_of(body: &Value) -> AdmissionRequest<DynamicObject> {
    match parse(&serde_json::to_vec(body).expect("encode")).expect("a review") {
        Parsed::Request(request) => *request,
        Parsed::Undecodable(response) => panic!("undecodable: {}", response.result.message),
    }
}

/// The answer to a body, through parse and review as the handler does.
pub(super) fn answer(body: &Value) -> AdmissionResponse {
    match parse(&serde_json::to_vec(body).expect("encode")).expect("a review") {
        Parsed::Request(request) => review(*request),
        Parsed::Undecodable(response) => *response,
    }
}

fn with(mut object: Value, pointer: &str, value: Value) -> Value {
    *object.pointer_mut(pointer).expect("field exists") = value;
    object
}

fn started(mut object: Value) -> Value {
    object["metadata"]["annotations"] = json!({APPLIED_SPEC_ANNOTATION: "{}"});
    object
}

#[test]
fn a_valid_v2_test_is_allowed() {
    let response = answer(&admission_body("u1", "CREATE", Some(v2_object("ok")), None));
    assert!(response.allowed, "{}", response.result.message);
    assert_eq!(response.uid, "u1");
    assert!(response.warnings.is_none());
}

#[test]
fn a_valid_v1_test_is_allowed() {
    let response = answer(&admission_body("u1", "CREATE", Some(v1_object("ok")), None));
    assert!(response.allowed, "{}", response.result.message);
}

#[test]
fn denials_list_every_problem_with_its_field() {
    let object = with(v2_object("bad"), "/spec/worker/replicas", json!(0));
    let object = with(object, "/spec/image", json!(""));
    let response = answer(&admission_body("u2", "CREATE", Some(object), None));
    assert!(!response.allowed);
    assert_eq!(response.uid, "u2");
    let status = &response.result;
    assert_eq!(status.reason, "Invalid");
    assert_eq!(status.code, 422);
    assert!(status.is_failure());
    let message = &status.message;
    assert!(
        message.starts_with("LocustTest load/bad is invalid: "),
        "{message}"
    );
    assert!(
        message.contains("spec.worker.replicas: must be between 1 and 500 (got 0)"),
        "{message}"
    );
    assert!(message.contains("spec.image: "), "{message}");
    let details = status.details.as_ref().expect("details");
    assert_eq!(details.name, "bad");
    assert_eq!(details.group, "locust.io");
    assert_eq!(details.kind, "LocustTest");
    let fields: Vec<&str> = details.causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert!(fields.contains(&"spec.worker.replicas"), "{fields:?}");
    assert!(fields.contains(&"spec.image"), "{fields:?}");
}

#[test]
fn a_field_that_does_not_decode_is_named() {
    let object = with(v2_object("bad"), "/spec/worker/replicas", json!("many"));
    let response = answer(&admission_body("u3", "CREATE", Some(object), None));
    assert!(!response.allowed);
    assert_eq!(response.result.code, 422);
    assert!(
        response
            .result
            .message
            .contains("spec.worker.replicas: invalid type"),
        "{}",
        response.result.message
    );
}

#[test]
fn v1_problems_name_the_v1_field_and_its_v2_counterpart() {
    let object = with(v1_object("old"), "/spec/workerReplicas", json!(0));
    let response = answer(&admission_body("u4", "CREATE", Some(object), None));
    assert!(!response.allowed);
    let message = &response.result.message;
    assert!(
        message.contains("a locust.io/v1 object, checked as its locust.io/v2 conversion"),
        "{message}"
    );
    assert!(
        message.contains(
            "spec.workerReplicas (locust.io/v2: spec.worker.replicas): must be between 1 and 500"
        ),
        "{message}"
    );

    let object = with(v1_object("old"), "/spec/masterCommandSeed", json!("   "));
    let message = answer(&admission_body("u4", "CREATE", Some(object), None))
        .result
        .message;
    assert!(
        message.contains("spec.masterCommandSeed (locust.io/v2: spec.master.command): "),
        "{message}"
    );
}

#[test]
fn v1_objects_are_decoded_as_v1() {
    let object = with(v1_object("old"), "/spec/workerReplicas", json!("three"));
    let response = answer(&admission_body("u5", "CREATE", Some(object), None));
    assert!(!response.allowed);
    assert!(
        response
            .result
            .message
            .contains("spec.workerReplicas: invalid type"),
        "{}",
        response.result.message
    );
    // A v2-shaped spec sent as v1 is a v1 decode error, not a v2 success.
    let object = with(v2_object("mixed"), "/apiVersion", json!("locust.io/v1"));
    let response = answer(&admission_body("u5", "CREATE", Some(object), None));
    assert!(!response.allowed);
    assert!(
        response.result.message.contains("missing field"),
        "{}",
        response.result.message
    );
}

#[test]
fn metadata_only_updates_are_allowed_even_for_an_invalid_stored_test() {
    let stored = with(v2_object("legacy"), "/spec/worker/replicas", json!(0));
    let mut edited = stored.clone();
    edited["metadata"]["labels"] = json!({"team": "perf"});
    edited["metadata"]["finalizers"] = json!([]);
    let response = answer(&admission_body(
        "u6",
        "UPDATE",
        Some(edited),
        Some(stored.clone()),
    ));
    assert!(response.allowed, "{}", response.result.message);
    assert!(response.warnings.is_none());

    // Same spec, written differently (a default spelled out is still a change of JSON, so
    // the typed comparison decides).
    let response = answer(&admission_body(
        "u6",
        "UPDATE",
        Some(started(v2_object("same"))),
        Some(started(v2_object("same"))),
    ));
    assert!(response.allowed);
    assert!(response.warnings.is_none());
}

#[test]
fn a_valid_spec_change_of_a_started_test_is_allowed_with_a_warning() {
    let old = started(v2_object("running"));
    let new = with(old.clone(), "/spec/worker/replicas", json!(5));
    let response = answer(&admission_body("u7", "UPDATE", Some(new), Some(old)));
    assert!(response.allowed, "{}", response.result.message);
    let warnings = response.warnings.expect("a warning");
    assert_eq!(warnings, vec![SPEC_CHANGE_WARNING.to_owned()]);
    assert!(SPEC_CHANGE_WARNING.contains("delete"));
    assert!(SPEC_CHANGE_WARNING.len() <= 256);

    // Started according to its status alone.
    let mut old = v2_object("running");
    old["status"] = json!({"phase": "Running", "startTime": "2026-01-01T00:00:00Z"});
    let new = with(old.clone(), "/spec/image", json!("locustio/locust:2.44.0"));
    let response = answer(&admission_body("u7", "UPDATE", Some(new), Some(old)));
    assert!(response.allowed);
    assert!(response.warnings.is_some());
}

#[test]
fn a_spec_change_of_a_test_not_started_is_allowed_without_a_warning() {
    let old = v2_object("pending");
    let new = with(old.clone(), "/spec/worker/replicas", json!(5));
    let response = answer(&admission_body("u8", "UPDATE", Some(new), Some(old)));
    assert!(response.allowed);
    assert!(response.warnings.is_none());
}

#[test]
fn an_invalid_spec_change_is_denied_even_when_started() {
    let old = started(v2_object("running"));
    let new = with(old.clone(), "/spec/worker/replicas", json!(501));
    let response = answer(&admission_body("u9", "UPDATE", Some(new), Some(old)));
    assert!(!response.allowed);
    assert!(response.warnings.is_none());
    assert!(
        response
            .result
            .message
            .contains("spec.worker.replicas: must be between 1 and 500"),
        "{}",
        response.result.message
    );
}

#[test]
fn deletes_other_kinds_and_subresources_are_allowed() {
    let broken = with(v2_object("x"), "/spec/worker/replicas", json!(0));
    let response = answer(&admission_body("d", "DELETE", None, Some(broken.clone())));
    assert!(response.allowed);
    assert_eq!(response.uid, "d");

    let mut body = admission_body("k", "CREATE", Some(broken.clone()), None);
    body["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    assert!(answer(&body).allowed);

    let mut body = admission_body("s", "UPDATE", Some(broken.clone()), Some(broken));
    body["request"]["subResource"] = json!("status");
    assert!(answer(&body).allowed);

    // Even when the object is not a Kubernetes object at all.
    let mut body = admission_body("k2", "CREATE", Some(json!([1])), None);
    body["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    assert!(answer(&body).allowed);
    let mut body = admission_body("s2", "UPDATE", Some(json!("x")), None);
    body["request"]["subResource"] = json!("status");
    assert!(answer(&body).allowed);
}

#[test]
fn a_create_without_an_object_is_denied() {
    let response = answer(&admission_body("n", "CREATE", None, None));
    assert!(!response.allowed);
    assert!(response.result.message.contains("no object"));
}

#[test]
fn an_object_that_is_not_a_kubernetes_object_is_denied_naming_the_field() {
    let mut object = v2_object("x");
    object["metadata"]["labels"] = json!(["a", "b"]);
    let response = answer(&admission_body("m", "CREATE", Some(object), None));
    assert!(!response.allowed);
    assert_eq!(response.uid, "m");
    assert!(
        response.result.message.contains("metadata.labels: "),
        "{}",
        response.result.message
    );

    let response = answer(&admission_body("m", "CREATE", Some(json!([1, 2])), None));
    assert!(!response.allowed);
    assert!(
        response
            .result
            .message
            .contains("(root): expected a Kubernetes object"),
        "{}",
        response.result.message
    );

    let object = with(v2_object("x"), "/apiVersion", json!("locust.io/v9"));
    let response = answer(&admission_body("m", "CREATE", Some(object), None));
    assert!(!response.allowed);
    assert!(
        response.result.message.contains("apiVersion: must be"),
        "{}",
        response.result.message
    );
}

#[test]
fn malformed_reviews_are_bad_requests() {
    let parse_err = |body: &[u8]| parse(body).expect_err("malformed");
    assert!(matches!(parse_err(b"{"), BadReview::Decode { .. }));
    assert!(matches!(parse_err(b"[]"), BadReview::Decode { .. }));
    let mut body = admission_body("u", "CREATE", Some(v2_object("x")), None);
    body["kind"] = json!("ConversionReview");
    let bytes = serde_json::to_vec(&body).expect("encode");
    assert!(matches!(parse_err(&bytes), BadReview::WrongKind { .. }));
    body["kind"] = json!("AdmissionReview");
    body["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let bytes = serde_json::to_vec(&body).expect("encode");
    assert!(matches!(
        parse_err(&bytes),
        BadReview::WrongApiVersion { .. }
    ));
    body["apiVersion"] = json!("admission.k8s.io/v1");
    body["request"]["uid"] = json!("");
    let bytes = serde_json::to_vec(&body).expect("encode");
    assert!(matches!(parse_err(&bytes), BadReview::EmptyUid { .. }));
    let bytes = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
    assert!(matches!(parse_err(bytes), BadReview::MissingRequest { .. }));
    body["request"]["operation"] = json!("EXPLODE");
    body["request"]["uid"] = json!("x");
    let bytes = serde_json::to_vec(&body).expect("encode");
    let message = parse_err(&bytes).to_string();
    assert!(message.contains("operation"), "{message}");
}

#[test]
fn the_request_keeps_its_objects() {
    let old = v2_object("a");
    let request = request_of(&admission_body(
        "keep",
        "UPDATE",
        Some(v2_object("a")),
        Some(old),
    ));
    assert!(request.object.is_some());
    assert!(request.old_object.is_some());
    assert_eq!(request.uid, "keep");
}

#[test]
fn the_answer_is_an_admission_review_with_the_request_types() {
    let response = answer(&admission_body("t", "CREATE", Some(v2_object("x")), None));
    let review = serde_json::to_value(response.into_review()).expect("encode");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    assert_eq!(review["response"]["uid"], "t");
    assert_eq!(review["response"]["allowed"], true);
}
