//! How tests end on the real node, each for its true reason: a failing run, broken
//! thresholds, workers that never arrive, a missing ConfigMap and an image that cannot be
//! pulled. They run side by side in one namespace.

use locust_k8s_operator::api::status::Phase;

use crate::common;
use crate::harness;

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn each_failure_ends_with_its_reason() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "verdicts").await;
    harness::prepare(&ns);

    // Every request answered 404: Locust exits 1 with requests made.
    let failing = harness::small_test("failing", "fail.py", "10s");
    // A clean run, but a rate nobody reaches here.
    let mut breached = harness::small_test("breached", "ok.py", "10s");
    breached["spec"]["thresholds"] = serde_json::json!({"minRequestsPerSecond": 100000});
    // Workers ask for more CPU than the node has, so they never run; the master gives up
    // waiting for them after 15 s.
    let mut lonely = harness::small_test("lonely", "ok.py", "10s");
    lonely["spec"]["master"]["expectWorkersMaxWait"] = serde_json::json!(15);
    lonely["spec"]["worker"]["resources"] = serde_json::json!({"requests": {"cpu": "500"}});
    // Test files from a ConfigMap that does not exist.
    let mut no_files = harness::small_test("no-files", "ok.py", "10s");
    no_files["spec"]["testFiles"]["configMapRef"] = serde_json::json!("does-not-exist");
    // An image no registry here has (the machine reaches none).
    let mut bad_image = harness::small_test("bad-image", "ok.py", "10s");
    bad_image["spec"]["image"] = serde_json::json!("locustio/locust:0.0.0-no-such-tag");

    for test in [&failing, &breached, &lonely, &no_files, &bad_image] {
        harness::apply_json(&ns, test).expect("applies");
    }

    let (f, b, l, n, i) = tokio::join!(
        harness::wait_phase(&client, &ns, "failing", Phase::Failed),
        harness::wait_phase(&client, &ns, "breached", Phase::Failed),
        harness::wait_phase(&client, &ns, "lonely", Phase::Failed),
        harness::wait_reason(&client, &ns, "no-files", "Ready", "ConfigMapMissing"),
        harness::wait_reason(&client, &ns, "bad-image", "PodsHealthy", "ImagePullError"),
    );

    let reason = |t: &locust_k8s_operator::api::v2::LocustTest| {
        common::condition(t, "Ready")
            .map(|c| c.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(reason(&f), "TestFailed", "{}", common::describe(&f));
    let result = f.status.as_ref().and_then(|s| s.result.clone());
    assert!(
        result
            .as_ref()
            .is_some_and(|r| r.total_requests > 0 && r.failed_requests == r.total_requests),
        "every request failed, in Locust's numbers: {result:?}"
    );
    assert_eq!(reason(&b), "ThresholdsBreached", "{}", common::describe(&b));
    assert!(
        common::condition(&b, "Ready").is_some_and(|c| c.message.contains("requests per second")),
        "the message names the broken limit: {}",
        common::describe(&b)
    );
    assert_eq!(
        reason(&l),
        "WorkersNotConnected",
        "{}",
        common::describe(&l)
    );
    assert_eq!(
        l.status.as_ref().and_then(|s| s.connected_workers),
        Some(0),
        "{}",
        common::describe(&l)
    );
    assert!(
        common::condition(&n, "Ready").is_some_and(|c| c.message.contains("does-not-exist")),
        "the message names the ConfigMap: {}",
        common::describe(&n)
    );
    assert_ne!(common::phase(&n), Some(Phase::Running));
    assert!(
        common::condition(&i, "PodsHealthy").is_some_and(|c| c.status == "False"),
        "{}",
        common::describe(&i)
    );
}
