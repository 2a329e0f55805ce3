//! The scorecard configuration (`bundle/tests/scorecard/config.yaml`): the `basic` and
//! `olm` suites of `operator-sdk scorecard`, their test image pinned to the operator-sdk
//! version the project builds (`tests/olm/go.mod`).

use serde_json::{Value, json};

use crate::source::Sources;

/// The configuration's path inside the bundle (also the bundle's
/// `operators.operatorframework.io.test.config.v1` annotation).
pub const CONFIG_DIR: &str = "tests/scorecard/";

/// The scorecard tests: suite and the test's name in the `scorecard-test` image.
pub const TESTS: [(&str, &str); 6] = [
    ("basic", "basic-check-spec"),
    ("olm", "olm-bundle-validation"),
    ("olm", "olm-crds-have-validation"),
    ("olm", "olm-crds-have-resources"),
    ("olm", "olm-spec-descriptors"),
    ("olm", "olm-status-descriptors"),
];

/// The image that runs the tests: `quay.io/operator-framework/scorecard-test:<sdk version>`.
pub fn test_image(src: &Sources) -> String {
    format!(
        "quay.io/operator-framework/scorecard-test:{}",
        src.operator_sdk_version
    )
}

/// The configuration (`scorecard.operatorframework.io/v1alpha3` `Configuration`).
pub fn config(src: &Sources) -> Value {
    let image = test_image(src);
    let tests: Vec<Value> = TESTS
        .iter()
        .map(|(suite, test)| {
            json!({
                "entrypoint": ["scorecard-test", test],
                "image": image,
                "labels": { "suite": suite, "test": format!("{test}-test") },
            })
        })
        .collect();
    json!({
        "apiVersion": "scorecard.operatorframework.io/v1alpha3",
        "kind": "Configuration",
        "metadata": { "name": "config" },
        "stages": [{ "parallel": true, "tests": tests }],
    })
}
