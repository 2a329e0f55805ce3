//! The README's example (examples/checkout.yaml) on the real node: ConfigMap locustfile and
//! library, environment from a ConfigMap and a Secret, a mounted Secret, an emptyDir for
//! the workers. It must reach Succeeded with the real master's worker count, Locust's own
//! numbers in `status.result`, the report kept, and `kubectl wait` seeing the end.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use locust_k8s_operator::api::status::Phase;

use crate::common;
use crate::harness::{self, kubectl};

/// The example's documents other than the LocustTest, as they are, and the LocustTest as
/// JSON.
fn split_example() -> (String, serde_json::Value) {
    let text = std::fs::read_to_string(harness::example("checkout.yaml")).expect("example");
    let mut others = Vec::new();
    let mut test = None;
    for doc in text.split("\n---\n") {
        if doc.contains("kind: LocustTest") {
            test = Some(serde_saphyr::from_str::<serde_json::Value>(doc).expect("LocustTest"));
        } else {
            others.push(doc);
        }
    }
    (
        others.join("\n---\n"),
        test.expect("the example has a LocustTest"),
    )
}

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn checkout_runs_to_succeeded() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "checkout").await;
    let (others, mut test) = split_example();
    harness::apply_yaml(&ns, &others).expect("the example's ConfigMaps, Secret and target");

    // The one change: a host folder on the master for Locust's own --json-file, so the
    // test can compare status.result with what Locust itself wrote.
    let results = harness::results_dir(&ns);
    let spec = &mut test["spec"];
    spec["volumes"]
        .as_array_mut()
        .expect("volumes")
        .push(serde_json::json!({
            "name": "results",
            "hostPath": {"path": results.display().to_string(), "type": "Directory"}
        }));
    spec["volumeMounts"]
        .as_array_mut()
        .expect("volumeMounts")
        .push(serde_json::json!({"name": "results", "mountPath": "/results", "target": "master"}));
    spec["output"] = serde_json::json!({"jsonFile": {"enabled": true, "path": "/results/stats"}});
    harness::apply_json(&ns, &test).expect("the LocustTest applies");

    // What a user's pipeline does: block until the phase says Succeeded.
    let wait_ns = ns.clone();
    let waiter = tokio::task::spawn_blocking(move || {
        harness::kubectl_result(&[
            "wait",
            "-n",
            &wait_ns,
            "lotest/checkout",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=300s",
        ])
    });

    // While it runs, the worker count comes from the real master.
    common::wait_status(
        &client,
        &ns,
        "checkout",
        "Running with 2 workers connected, as the master says",
        harness::RUN_TIMEOUT,
        |t| {
            let s = t.status.as_ref();
            common::phase(t) == Some(Phase::Running)
                && s.and_then(|s| s.connected_workers) == Some(2)
                && common::condition(t, "WorkersConnected")
                    .is_some_and(|c| c.status == "True" && c.reason == "AllWorkersConnected")
        },
    )
    .await;

    let done = harness::wait_phase(&client, &ns, "checkout", Phase::Succeeded).await;
    let waited = waiter.await.expect("kubectl wait thread");
    assert!(
        waited
            .as_ref()
            .is_ok_and(|out| out.contains("condition met")),
        "kubectl wait: {waited:?}"
    );

    let status = done.status.clone().expect("status");
    assert_eq!(
        status.expected_workers,
        Some(2),
        "{}",
        common::describe(&done)
    );
    assert_eq!(
        status.connected_workers,
        Some(0),
        "a finished test has no connected workers: {}",
        common::describe(&done)
    );
    assert!(
        common::condition(&done, "WorkersConnected")
            .is_some_and(|c| c.status == "False" && c.reason == "TestFinished"),
        "{}",
        common::describe(&done)
    );
    let result = status
        .result
        .clone()
        .unwrap_or_else(|| panic!("status.result: {}", common::describe(&done)));
    let (requests, failures) = harness::json_file_totals(&results.join("stats.json"));
    assert!(requests > 0, "Locust made requests");
    assert_eq!(
        (result.total_requests, result.failed_requests),
        (requests, failures),
        "status.result against Locust's own --json-file"
    );
    assert_eq!(failures, 0, "the target answers 200");

    // The report is kept, owned by the test.
    assert_eq!(status.report_config_map.as_deref(), Some("checkout-report"));
    let report = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("checkout-report")
        .await
        .expect("report ConfigMap");
    let stats: serde_json::Value = serde_json::from_str(
        report
            .data
            .as_ref()
            .and_then(|d| d.get("stats.json"))
            .expect("stats.json"),
    )
    .expect("stats.json is JSON");
    assert!(
        stats["stats"].as_array().is_some_and(|s| !s.is_empty()),
        "stats.json is the master's /stats/requests answer: {stats}"
    );
    assert!(
        report
            .binary_data
            .as_ref()
            .is_some_and(|b| b.contains_key("report.html.gz")),
        "report.html.gz kept"
    );

    // What the user sees.
    let table = kubectl(&["get", "locusttests", "-n", &ns]);
    assert!(table.contains("Succeeded"), "{table}");
}
