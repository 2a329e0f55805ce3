//! The scorecard configuration (bundle/tests/scorecard/config.yaml) is one operator-sdk
//! reads, and its tests pass on the bundle. No cluster runs the scorecard's pods here (no
//! container images), so each test's own program, `scorecard-test` (the image's
//! entrypoint, built from the operator-sdk module by `make olm-bins`), runs on the bundle
//! at `/bundle` in a private root (`unshare --map-root-user --root`), as in its pod.

mod common;

use std::path::Path;
use std::process::Command;

use common::{copy_dir, olm_bin as bin, root, yaml_file};
use serde_json::Value;

/// (suite, test name in the scorecard-test program) of every test in the config.
fn configured_tests() -> Vec<(String, String)> {
    let config = yaml_file(&root().join("bundle/tests/scorecard/config.yaml"));
    config["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .flat_map(|stage| stage["tests"].as_array().cloned().unwrap_or_default())
        .map(|t| {
            assert_eq!(t["entrypoint"][0], "scorecard-test", "{t}");
            (
                t["labels"]["suite"].as_str().expect("suite").to_owned(),
                t["entrypoint"][1].as_str().expect("test name").to_owned(),
            )
        })
        .collect()
}

#[test]
fn operator_sdk_reads_the_config_and_lists_the_basic_and_olm_suites() {
    let out = Command::new(bin("operator-sdk"))
        .args(["scorecard", "--list", "--output", "json"])
        .arg(root().join("bundle"))
        .output()
        .expect("operator-sdk runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_str(&stdout).expect("a JSON TestList");
    let listed: Vec<(String, String)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| {
            (
                t["spec"]["labels"]["suite"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                t["spec"]["entrypoint"][1]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, configured_tests());
    // Every test of both suites that the scorecard-test program knows is configured.
    for (suite, test) in olm_bundle::scorecard::TESTS {
        assert!(
            listed.iter().any(|(s, t)| s == suite && t == test),
            "{suite}/{test} is listed"
        );
    }
}

/// Runs one scorecard test on `bundle` as its pod would; its result (name, state,
/// errors).
fn run_test(bundle: &Path, test: &str) -> (String, String, Vec<String>) {
    let rootfs = tempfile::tempdir().expect("tempdir");
    copy_dir(bundle, &rootfs.path().join("bundle"));
    std::fs::copy(bin("scorecard-test"), rootfs.path().join("scorecard-test")).expect("copy");
    let out = Command::new("unshare")
        .args(["--map-root-user", "--root"])
        .arg(rootfs.path())
        .args(["/scorecard-test", test])
        .output()
        .expect("unshare runs (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let status: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{test}: {e}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let result = &status["results"][0];
    let errors = result["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (
        result["name"].as_str().unwrap_or_default().to_owned(),
        result["state"].as_str().unwrap_or_default().to_owned(),
        errors,
    )
}

#[test]
fn every_configured_scorecard_test_passes_on_the_bundle() {
    for (suite, test) in configured_tests() {
        let (name, state, errors) = run_test(&root().join("bundle"), &test);
        assert_eq!(name, test, "scorecard-test knows {suite}/{test}");
        assert_eq!(state, "pass", "{suite}/{test}: {errors:#?}");
    }
}

#[test]
fn the_spec_descriptors_test_fails_without_a_descriptor_for_an_example_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("bundle"), dir.path());
    let path = dir
        .path()
        .join("manifests/locust-k8s-operator.clusterserviceversion.yaml");
    let mut csv = yaml_file(&path);
    let descriptors = csv["spec"]["customresourcedefinitions"]["owned"][0]["specDescriptors"]
        .as_array_mut()
        .expect("specDescriptors");
    let before = descriptors.len();
    descriptors.retain(|d| d["path"] != "master");
    assert_eq!(
        descriptors.len(),
        before - 1,
        "a `master` descriptor existed"
    );
    std::fs::write(&path, serde_json::to_string(&csv).expect("json")).expect("write");
    let (_, state, errors) = run_test(dir.path(), "olm-spec-descriptors");
    assert_eq!(state, "fail");
    assert!(
        errors
            .iter()
            .any(|e| e == "master does not have a spec descriptor"),
        "{errors:#?}"
    );
}
