//! `worker.processesPerPod` on the real node: Locust forks that many worker processes per
//! pod, and the master counts every one of them.

use locust_k8s_operator::api::status::Phase;

use crate::common;
use crate::harness;

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn processes_per_pod_multiply_the_workers() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "processes").await;
    harness::prepare(&ns);

    let mut test = harness::small_test("forked", "ok.py", "20s");
    test["spec"]["worker"]["replicas"] = serde_json::json!(2);
    test["spec"]["worker"]["processesPerPod"] = serde_json::json!(2);
    harness::apply_json(&ns, &test).expect("applies");

    let running = common::wait_status(
        &client,
        &ns,
        "forked",
        "Running with 4 of 4 workers connected",
        harness::RUN_TIMEOUT,
        |t| {
            let s = t.status.as_ref();
            common::phase(t) == Some(Phase::Running)
                && s.and_then(|s| s.connected_workers) == Some(4)
        },
    )
    .await;
    assert_eq!(
        running.status.as_ref().and_then(|s| s.expected_workers),
        Some(4),
        "expectedWorkers = replicas × processesPerPod: {}",
        common::describe(&running)
    );
    harness::wait_succeeded_with_requests(&client, &ns, "forked").await;
}
