//! The committed bundle passes the Operator Framework's own validation: `operator-sdk
//! bundle validate` (built from its Go module by `make olm-bins`) with the
//! `operatorframework` optional suite (OperatorHub v2 metadata, capabilities, categories,
//! deprecated APIs, good practices) and the community validator, and the same validator
//! rejects a broken copy.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::root;
use serde_json::Value;

fn operator_sdk() -> PathBuf {
    common::olm_bin("operator-sdk")
}

/// Runs `operator-sdk bundle validate DIR --select-optional SELECTOR -o json-alpha1`;
/// returns whether it passed and its results (`outputs`: type and message).
fn validate(dir: &Path, selector: &str) -> (bool, Vec<(String, String)>, String) {
    let out = Command::new(operator_sdk())
        .args(["bundle", "validate"])
        .arg(dir)
        .args(["--select-optional", selector, "--output", "json-alpha1"])
        .output()
        .expect("operator-sdk runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let raw = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("operator-sdk's JSON report ({e}):\n{raw}"));
    let outputs = report["outputs"]
        .as_array()
        .map(|o| {
            o.iter()
                .map(|r| {
                    (
                        r["type"].as_str().unwrap_or_default().to_string(),
                        r["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let passed = out.status.success() && report["passed"] == true;
    (passed, outputs, raw)
}

#[test]
fn the_bundle_passes_operator_sdk_validate_with_the_operatorframework_suite() {
    let (passed, outputs, raw) = validate(&root().join("bundle"), "suite=operatorframework");
    assert!(passed, "operator-sdk bundle validate failed:\n{raw}");
    let csv = common::committed_csv();
    let problems: Vec<&(String, String)> = outputs
        .iter()
        .filter(|(t, _)| t != "info")
        .filter(|(t, m)| !(t == "warning" && is_events_rbac_false_positive(&csv, m)))
        .collect();
    assert!(
        problems.is_empty(),
        "operator-sdk reports errors or warnings: {problems:#?}"
    );
}

#[test]
fn the_bundle_passes_the_community_operator_validator() {
    // Deprecated upstream (it points to an external validator), still part of operator-sdk.
    let (passed, outputs, raw) = validate(&root().join("bundle"), "name=community");
    assert!(
        passed,
        "operator-sdk bundle validate (community) failed:\n{raw}"
    );
    let errors: Vec<&(String, String)> = outputs.iter().filter(|(t, _)| t == "error").collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The deprecated-APIs validator warns about every RBAC rule on `events.k8s.io` `events`,
/// because `events.k8s.io/v1beta1` was removed in Kubernetes 1.25; RBAC rules carry no
/// version, and the operator uses `events.k8s.io/v1`. Only that exact warning, pointing at
/// that exact rule, is tolerated.
fn is_events_rbac_false_positive(csv: &Value, message: &str) -> bool {
    let Some(rest) = message.split("Migrate the API(s) for events: ").nth(1) else {
        return false;
    };
    let Ok(paths) =
        serde_json::from_str::<Vec<String>>(rest.trim_start_matches('(').trim_end_matches(')'))
    else {
        return false;
    };
    !paths.is_empty()
        && paths.iter().all(|p| {
            let Some(index) = p
                .strip_prefix("ClusterServiceVersion.Spec.InstallStrategy.StrategySpec.ClusterPermissions[0].Rules[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok())
            else {
                return false;
            };
            let rule = &csv["spec"]["install"]["spec"]["clusterPermissions"][0]["rules"][index];
            rule["apiGroups"] == serde_json::json!(["events.k8s.io"])
                && rule["resources"] == serde_json::json!(["events"])
        })
}

#[test]
fn operator_sdk_rejects_a_broken_copy_of_the_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::copy_dir(&root().join("bundle"), dir.path());
    let csv_path = dir
        .path()
        .join("manifests/locust-k8s-operator.clusterserviceversion.yaml");
    let text = std::fs::read_to_string(&csv_path).expect("read");
    // OLM refuses conversion webhooks outside AllNamespaces mode, and the OperatorHub
    // rules want a valid capability level.
    let broken = text
        .replacen(
            "- supported: false\n    type: OwnNamespace",
            "- supported: true\n    type: OwnNamespace",
            1,
        )
        .replacen(
            "capabilities: Basic Install",
            "capabilities: Mostly Harmless",
            1,
        );
    assert_ne!(text, broken, "the CSV was edited");
    std::fs::write(&csv_path, broken).expect("write");
    let (passed, outputs, raw) = validate(dir.path(), "suite=operatorframework");
    assert!(!passed, "a broken bundle must fail:\n{raw}");
    let errors: Vec<&String> = outputs
        .iter()
        .filter(|(t, _)| t == "error")
        .map(|(_, m)| m)
        .collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("only AllNamespaces InstallModeType is supported")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|m| m.contains("Mostly Harmless")),
        "{errors:#?}"
    );
}
