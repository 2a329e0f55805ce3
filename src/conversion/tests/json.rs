//! The JSON entry point of the conversion webhook.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{has_reserved, strategies};
use crate::conversion::{ConversionError, V2_SPEC_ANNOTATION, convert_object};

fn v1_json() -> Value {
    json!({
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": "demo", "namespace": "load", "creationTimestamp": "2025-01-02T03:04:05Z"},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/demo.py",
            "workerCommandSeed": "--locustfile /lotest/src/demo.py",
            "workerReplicas": 3,
            "image": "locustio/locust:2.43.1",
            "tolerations": [{"key": "a", "operator": "Equal", "value": "b", "effect": "NoSchedule"}]
        },
        "status": {"phase": "Running", "connectedWorkers": 3}
    })
}

fn decode_error(obj: Value) -> (String, String) {
    match convert_object(obj, "locust.io/v2") {
        Err(ConversionError::Decode { path, message, .. }) => (path, message),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn v1_converts_to_v2_and_back() {
    let v2 = convert_object(v1_json(), "locust.io/v2").expect("converts");
    assert_eq!(v2["apiVersion"], "locust.io/v2");
    assert_eq!(v2["kind"], "LocustTest");
    assert_eq!(v2["metadata"], v1_json()["metadata"]);
    assert_eq!(v2["status"], v1_json()["status"]);
    assert_eq!(
        v2["spec"]["master"]["command"],
        "--locustfile /lotest/src/demo.py"
    );
    assert_eq!(v2["spec"]["worker"]["replicas"], 3);
    assert_eq!(v2["spec"]["master"]["autostart"], true);
    assert_eq!(
        v2["spec"]["scheduling"]["tolerations"][0]["effect"],
        "NoSchedule"
    );

    let v1 = convert_object(v2, "locust.io/v1").expect("converts");
    assert_eq!(v1, v1_json());
}

#[test]
fn v2_only_fields_travel_in_the_annotation_as_json() {
    let mut v2 = convert_object(v1_json(), "locust.io/v2").expect("converts");
    v2["spec"]["worker"]["processesPerPod"] = json!(4);
    let v1 = convert_object(v2.clone(), "locust.io/v1").expect("converts");
    assert!(v1["metadata"]["annotations"][V2_SPEC_ANNOTATION].is_string());
    assert_eq!(v1["spec"].get("processesPerPod"), None);
    let back = convert_object(v1, "locust.io/v2").expect("converts");
    assert_eq!(back, v2);
}

#[test]
fn the_same_version_is_returned_unchanged() {
    let mut odd = v1_json();
    odd["spec"]["unknownField"] = json!([1, 2]);
    odd["spec"]["workerReplicas"] = json!("not even a number");
    assert_eq!(convert_object(odd.clone(), "locust.io/v1"), Ok(odd));
}

#[test]
fn an_unknown_desired_version_is_rejected() {
    for desired in ["locust.io/v3", "v2", "", "apps/v1"] {
        assert_eq!(
            convert_object(v1_json(), desired),
            Err(ConversionError::UnknownDesiredVersion {
                desired: desired.to_owned()
            })
        );
    }
    let message = convert_object(v1_json(), "locust.io/v3")
        .expect_err("rejected")
        .to_string();
    assert_eq!(
        message,
        "cannot convert to \"locust.io/v3\": the desired version must be locust.io/v1 or locust.io/v2"
    );
}

#[test]
fn non_objects_are_rejected() {
    for (input, found) in [
        (json!(null), "null"),
        (json!([1]), "an array"),
        (json!("x"), "a string"),
        (json!(1), "a number"),
        (json!(true), "a boolean"),
    ] {
        assert_eq!(
            convert_object(input, "locust.io/v2"),
            Err(ConversionError::NotAnObject { found })
        );
    }
}

#[test]
fn a_wrong_kind_is_rejected() {
    let mut pod = v1_json();
    pod["kind"] = json!("Pod");
    let err = convert_object(pod, "locust.io/v2").expect_err("rejected");
    assert_eq!(err.to_string(), "kind must be LocustTest, got \"Pod\"");

    let mut missing = v1_json();
    missing.as_object_mut().map(|o| o.remove("kind"));
    let err = convert_object(missing, "locust.io/v2").expect_err("rejected");
    assert_eq!(err.to_string(), "kind must be LocustTest, got nothing");

    let mut number = v1_json();
    number["kind"] = json!(5);
    assert_eq!(
        convert_object(number, "locust.io/v2"),
        Err(ConversionError::WrongKind { found: "5".into() })
    );
}

#[test]
fn an_unknown_api_version_is_rejected() {
    for (api_version, found) in [
        (json!("locust.io/v3"), "\"locust.io/v3\""),
        (json!("apps/v1"), "\"apps/v1\""),
        (json!(2), "2"),
    ] {
        let mut obj = v1_json();
        obj["apiVersion"] = api_version;
        let err = convert_object(obj, "locust.io/v2").expect_err("rejected");
        assert_eq!(
            err.to_string(),
            format!("apiVersion must be locust.io/v1 or locust.io/v2, got {found}")
        );
    }
    let mut missing = v1_json();
    missing.as_object_mut().map(|o| o.remove("apiVersion"));
    assert_eq!(
        convert_object(missing, "locust.io/v2"),
        Err(ConversionError::UnknownApiVersion {
            found: "nothing".into()
        })
    );
}

#[test]
fn a_wrong_type_names_the_field() {
    let mut obj = v1_json();
    obj["spec"]["workerReplicas"] = json!("three");
    let (path, message) = decode_error(obj);
    assert_eq!(path, "spec.workerReplicas");
    assert_eq!(message, "invalid type: string \"three\", expected i32");
}

#[test]
fn a_missing_field_names_its_object() {
    let mut obj = v1_json();
    obj["spec"].as_object_mut().map(|o| o.remove("image"));
    let (path, message) = decode_error(obj.clone());
    assert_eq!(path, "spec");
    assert_eq!(message, "missing field `image`");
    let err = convert_object(obj, "locust.io/v2").expect_err("rejected");
    assert_eq!(
        err.to_string(),
        "invalid locust.io/v1 LocustTest at spec: missing field `image`"
    );
}

#[test]
fn an_invalid_enum_value_in_a_list_names_the_element() {
    let mut obj = v1_json();
    obj["spec"]["tolerations"][0]["effect"] = json!("Sometimes");
    let (path, message) = decode_error(obj);
    assert_eq!(path, "spec.tolerations[0].effect");
    assert!(
        message.starts_with("unknown variant `Sometimes`"),
        "{message}"
    );
}

#[test]
fn a_missing_spec_or_metadata_is_reported_at_the_root() {
    let mut obj = v1_json();
    obj.as_object_mut().map(|o| o.remove("spec"));
    let (path, message) = decode_error(obj);
    assert_eq!(path, "(root)");
    assert_eq!(message, "missing field `spec`");
}

#[test]
fn v2_decode_errors_name_the_field() {
    let v2 = convert_object(v1_json(), "locust.io/v2").expect("converts");
    let mut bad = v2.clone();
    bad["spec"]["master"]["autoquit"]["timeout"] = json!(1.5);
    match convert_object(bad, "locust.io/v1") {
        Err(ConversionError::Decode {
            api_version, path, ..
        }) => {
            assert_eq!(api_version, "locust.io/v2");
            assert_eq!(path, "spec.master.autoquit.timeout");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z/.0-9]{0,12}".prop_map(Value::from),
        Just(json!("LocustTest")),
        Just(json!("locust.io/v1")),
        Just(json!("locust.io/v2")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("kind".to_owned()),
                    Just("apiVersion".to_owned()),
                    Just("metadata".to_owned()),
                    Just("spec".to_owned()),
                    "[a-zA-Z]{1,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics_on_any_input(obj in any_json(), to_v1 in any::<bool>()) {
        let desired = if to_v1 { "locust.io/v1" } else { "locust.io/v2" };
        let _ = convert_object(obj, desired);
    }

    #[test]
    fn typed_objects_round_trip_through_json(v2 in strategies::v2_test()) {
        let json = serde_json::to_value(&v2).expect("encodes");
        let v1 = convert_object(json.clone(), "locust.io/v1").expect("to v1");
        prop_assert_eq!(&v1["apiVersion"], "locust.io/v1");
        let back = convert_object(v1, "locust.io/v2").expect("to v2");
        prop_assert!(!has_reserved(&serde_json::from_value(back["metadata"].clone()).expect("metadata")));
        prop_assert_eq!(back, json);
    }
}
