//! The webhooks as a cluster calls them: the API server reaches the operator's pods through
//! the webhook Service (self-signed certificates the operator made and published itself).
//! A v1 test is converted by the in-cluster conversion webhook, stored as v2 and runs; an
//! invalid test is refused by `kubectl apply` with the field named.

use crate::harness::{self, kubectl};

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn v1_is_converted_in_cluster_and_runs() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "v1").await;
    harness::prepare(&ns);

    let v1 = r#"apiVersion: locust.io/v1
kind: LocustTest
metadata:
  name: legacy
spec:
  image: locustio/locust:2.43.1
  masterCommandSeed: "--locustfile /lotest/src/ok.py --host http://target:8080 --users 5 --spawn-rate 5 --run-time 10s"
  workerCommandSeed: "--locustfile /lotest/src/ok.py"
  workerReplicas: 1
  configMap: locustfiles
"#;
    let applied = harness::apply_yaml(&ns, v1).expect("a v1 test applies");
    assert!(applied.contains("legacy"), "{applied}");

    // Stored as v2 (the API server asked the webhook), read back as v1 too.
    let as_v2 = kubectl(&[
        "get",
        "locusttests.v2.locust.io",
        "legacy",
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.worker.replicas} {.spec.testFiles.configMapRef}",
    ]);
    assert_eq!(as_v2, "1 locustfiles");
    let as_v1 = kubectl(&[
        "get",
        "locusttests.v1.locust.io",
        "legacy",
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.workerReplicas}",
    ]);
    assert_eq!(as_v1, "1");

    harness::wait_succeeded_with_requests(&client, &ns, "legacy").await;
}

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn kubectl_apply_of_an_invalid_test_names_the_field() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "invalid").await;

    // A command that cannot be split into arguments: only the operator's validation (the
    // admission webhook, served in-cluster) checks commands.
    let mut test = harness::small_test("bad-quote", "ok.py", "10s");
    test["spec"]["master"]["command"] = serde_json::json!("locust -f '/lotest/src/ok.py");
    let err = harness::apply_json(&ns, &test).expect_err("an invalid test is refused");
    assert!(
        err.contains("spec.master.command") && err.contains("cannot be split into arguments"),
        "the message names the field and says what is wrong: {err}"
    );

    // Replicas out of range: refused by the schema before any webhook.
    let mut test = harness::small_test("no-workers", "ok.py", "10s");
    test["spec"]["worker"]["replicas"] = serde_json::json!(0);
    let err = harness::apply_json(&ns, &test).expect_err("replicas 0 is refused");
    assert!(err.contains("spec.worker.replicas"), "{err}");

    assert!(
        kubectl(&["get", "locusttests", "-n", &ns, "-o", "name"])
            .trim()
            .is_empty(),
        "nothing was stored"
    );
}
