//! The conversion handler as a function: review in, review out.

use kube::core::conversion::{ConversionRequest, ConversionReview};
use serde_json::{Value, json};

use super::{review_body, v1_object};
use crate::server::BadReview;
use crate::server::convert::{parse, review};

fn run(body: &Value) -> ConversionReview {
    let bytes = serde_json::to_vec(body).expect("encode");
    review(parse(&bytes).expect("a valid review"))
}

fn converted(review: &ConversionReview) -> &[Value] {
    let response = review.response.as_ref().expect("a response");
    assert!(
        response.result.is_success(),
        "failed: {}",
        response.result.message
    );
    &response.converted_objects
}

fn failure_message(review: &ConversionReview) -> String {
    let response = review.response.as_ref().expect("a response");
    assert!(response.result.is_failure(), "succeeded: {response:?}");
    assert!(response.converted_objects.is_empty());
    response.result.message.clone()
}

#[test]
fn v1_to_v2_keeps_uid_order_and_metadata() {
    let out = run(&review_body(
        "uid-1",
        "locust.io/v2",
        vec![v1_object("first"), v1_object("second")],
    ));
    assert_eq!(out.types.kind, "ConversionReview");
    assert_eq!(out.types.api_version, "apiextensions.k8s.io/v1");
    assert!(out.request.is_none());
    assert_eq!(out.response.as_ref().expect("response").uid, "uid-1");
    let objects = converted(&out);
    assert_eq!(objects.len(), 2);
    for (object, name) in objects.iter().zip(["first", "second"]) {
        assert_eq!(object["apiVersion"], "locust.io/v2");
        assert_eq!(object["kind"], "LocustTest");
        assert_eq!(object["metadata"]["name"], name);
        assert_eq!(object["metadata"]["namespace"], "load");
        assert_eq!(object["metadata"]["uid"], "0f5e-1");
        assert_eq!(object["metadata"]["resourceVersion"], "7");
        assert_eq!(object["spec"]["worker"]["replicas"], 3);
        assert_eq!(
            object["spec"]["master"]["command"],
            "--locustfile /lotest/src/demo.py --host https://example.com"
        );
    }
}

#[test]
fn v2_to_v1_round_trips_through_the_handler() {
    let v2 = converted(&run(&review_body(
        "a",
        "locust.io/v2",
        vec![v1_object("t")],
    )))[0]
        .clone();
    let back = run(&review_body("b", "locust.io/v1", vec![v2]));
    assert_eq!(back.response.as_ref().expect("response").uid, "b");
    assert_eq!(converted(&back), [v1_object("t")]);
}

#[test]
fn same_version_is_returned_unchanged() {
    let out = run(&review_body("same", "locust.io/v1", vec![v1_object("t")]));
    assert_eq!(converted(&out), [v1_object("t")]);
}

#[test]
fn no_objects_is_a_success_with_no_objects() {
    let out = run(&review_body("empty", "locust.io/v2", vec![]));
    assert!(converted(&out).is_empty());
}

#[test]
fn wrong_kind_fails_naming_the_object() {
    let mut pod = v1_object("not-a-test");
    pod["kind"] = json!("Pod");
    let out = run(&review_body(
        "k",
        "locust.io/v2",
        vec![v1_object("fine"), pod],
    ));
    assert_eq!(out.response.as_ref().expect("response").uid, "k");
    let message = failure_message(&out);
    assert!(message.contains("object 2 of 2"), "{message}");
    assert!(message.contains("load/not-a-test"), "{message}");
    assert!(message.contains("kind must be LocustTest"), "{message}");
}

#[test]
fn invalid_object_fails_with_the_field_path() {
    let mut bad = v1_object("bad");
    bad["spec"]["workerReplicas"] = json!("three");
    let message = failure_message(&run(&review_body("d", "locust.io/v2", vec![bad])));
    assert!(message.contains("object 1 of 1 (load/bad)"), "{message}");
    assert!(message.contains("spec.workerReplicas"), "{message}");
}

#[test]
fn unknown_desired_version_fails_without_an_object_prefix() {
    let message = failure_message(&run(&review_body(
        "v",
        "locust.io/v3",
        vec![v1_object("t")],
    )));
    assert!(
        message.starts_with("cannot convert to \"locust.io/v3\""),
        "{message}"
    );
}

#[test]
fn hostile_field_values_are_cut_short_in_messages() {
    let mut bad = v1_object("bad");
    bad["spec"]["workerReplicas"] = json!("x".repeat(100_000));
    let message = failure_message(&run(&review_body("h", "locust.io/v2", vec![bad])));
    assert!(message.chars().count() <= 513, "{} chars", message.len());
}

fn parse_error(body: &[u8]) -> BadReview {
    match parse(body) {
        Ok(request) => panic!("parsed: {request:?}"),
        Err(bad) => bad,
    }
}

#[test]
fn missing_uid_is_a_bad_request() {
    let body = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"desiredAPIVersion": "locust.io/v2", "objects": []}
    });
    let bad = parse_error(body.to_string().as_bytes());
    assert!(bad.to_string().contains("uid"), "{bad}");
}

#[test]
fn empty_uid_is_a_bad_request() {
    let body = review_body("", "locust.io/v2", vec![]);
    assert!(matches!(
        parse_error(body.to_string().as_bytes()),
        BadReview::EmptyUid { .. }
    ));
}

#[test]
fn missing_request_is_a_bad_request() {
    let body = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview"});
    assert!(matches!(
        parse_error(body.to_string().as_bytes()),
        BadReview::MissingRequest { .. }
    ));
}

#[test]
fn other_kinds_and_versions_are_bad_requests() {
    let mut body = review_body("u", "locust.io/v2", vec![]);
    body["kind"] = json!("AdmissionReview");
    assert!(matches!(
        parse_error(body.to_string().as_bytes()),
        BadReview::WrongKind { .. }
    ));
    let mut body = review_body("u", "locust.io/v2", vec![]);
    body["apiVersion"] = json!("apiextensions.k8s.io/v1beta1");
    assert!(matches!(
        parse_error(body.to_string().as_bytes()),
        BadReview::WrongApiVersion { .. }
    ));
}

#[test]
fn non_json_is_a_bad_request() {
    for body in [&b"not json"[..], b"", b"{\"apiVersion\":", b"[]", b"null"] {
        assert!(matches!(parse_error(body), BadReview::Decode { .. }));
    }
}

#[test]
fn request_round_trips_through_kube_types() {
    // The response keeps the request's TypeMeta (what kube's for_request does).
    let request: ConversionRequest = parse(
        review_body("t", "locust.io/v2", vec![])
            .to_string()
            .as_bytes(),
    )
    .expect("valid");
    assert_eq!(request.uid, "t");
    assert_eq!(request.desired_api_version, "locust.io/v2");
}
