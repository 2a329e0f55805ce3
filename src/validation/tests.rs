//! The table of invalid inputs (`tests/fixtures/invalid-cases.yaml`) and valid examples.

use serde_json::Value;
use test_cluster::fixtures::{invalid_cases, merge_patch, valid_base};

use super::validate;
use crate::manifest::{AnyLocustTest, ManifestError, from_value};

#[test]
fn every_invalid_case_is_rejected_naming_the_field() {
    let cases = invalid_cases();
    assert!(cases.len() >= 25);
    for case in cases {
        let outcome = from_value(case.document.clone(), 1);
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
    let AnyLocustTest::V2(base) = from_value(valid_base(), 1).expect("base parses") else {
        panic!("base is v2")
    };
    validate(&base).expect("base is valid");
    for text in [
        include_str!("../../examples/minimal-v2.yaml"),
        include_str!("../../examples/full-v2.yaml"),
        include_str!("../../examples/pod-extensions.yaml"),
        include_str!("../../examples/test-files-git.yaml"),
        include_str!("../../examples/web-ui.yaml"),
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
    let mut doc: Value = valid_base();
    merge_patch(
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
    let mut doc: Value = valid_base();
    merge_patch(
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
