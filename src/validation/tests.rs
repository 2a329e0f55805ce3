//! The table of invalid inputs (`tests/fixtures/invalid-cases.yaml`) and valid examples.

use serde::Deserialize;
use serde_json::Value;

use super::validate;
use crate::manifest::{AnyLocustTest, ManifestError, from_value};

#[derive(Deserialize)]
struct Table {
    base: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    stage: String,
    patch: Value,
    field: String,
    message: String,
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn table() -> Table {
    crate::yaml::from_yaml(include_str!("../../tests/fixtures/invalid-cases.yaml"))
        .expect("the table parses")
}

#[test]
fn every_invalid_case_is_rejected_naming_the_field() {
    let table = table();
    assert!(table.cases.len() >= 25);
    for case in table.cases {
        let mut doc = table.base.clone();
        merge(&mut doc, &case.patch);
        let outcome = from_value(doc, 1);
        match (case.stage.as_str(), outcome) {
            ("parse", Err(ManifestError::Field { field, message, .. })) => {
                assert_eq!(field, case.field, "{}: field", case.name);
                assert!(message.contains(&case.message), "{}: {message}", case.name);
            }
            ("validate", Ok(AnyLocustTest::V2(test))) => {
                let errors = validate(&test).expect_err(&case.name).0;
                assert!(
                    errors
                        .iter()
                        .any(|e| e.field == case.field && e.message.contains(&case.message)),
                    "{}: expected {}: {}, got {errors:?}",
                    case.name,
                    case.field,
                    case.message
                );
                assert_eq!(
                    errors.len(),
                    1,
                    "{}: only the broken field: {errors:?}",
                    case.name
                );
            }
            (stage, outcome) => panic!("{}: stage {stage} but got {outcome:?}", case.name),
        }
    }
}

#[test]
fn the_base_and_the_examples_are_valid() {
    let table = table();
    let AnyLocustTest::V2(base) = from_value(table.base, 1).expect("base parses") else {
        panic!("base is v2")
    };
    validate(&base).expect("base is valid");
    for text in [
        include_str!("../../examples/minimal-v2.yaml"),
        include_str!("../../examples/full-v2.yaml"),
    ] {
        for doc in crate::manifest::parse_documents(text).expect("example parses") {
            if let AnyLocustTest::V2(t) = doc {
                validate(&t).expect("example is valid");
            }
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut doc = table().base;
    merge(
        &mut doc,
        &serde_json::json!({"spec": {"image": "", "worker": {"replicas": 0}}}),
    );
    let Ok(AnyLocustTest::V2(test)) = from_value(doc, 1) else {
        panic!("parses")
    };
    let errors = validate(&test).expect_err("two problems").0;
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn mounts_on_test_paths_are_fine_without_the_config_map() {
    let mut doc = table().base;
    merge(
        &mut doc,
        &serde_json::json!({"spec": {"testFiles": null,
            "volumes": [{"name": "tests", "persistentVolumeClaim": {"claimName": "t"}}],
            "volumeMounts": [{"name": "tests", "mountPath": "/lotest/src"}]}}),
    );
    let Ok(AnyLocustTest::V2(test)) = from_value(doc, 1) else {
        panic!("parses")
    };
    validate(&test).expect("tests from a PVC at the default path are allowed");
}
