//! Leader failover on the real node: the operator pod holding the Lease is deleted while a
//! test runs. The other replica takes the Lease, no child is created twice, and the test
//! still ends with its true result.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams};
use locust_k8s_operator::api::status::Phase;

use crate::common;
use crate::harness;

/// The chart's Lease (`leaderElection.leaseName`).
const LEASE: &str = "locust-k8s-operator";

async fn holder(api: &Api<Lease>) -> Option<String> {
    api.get(LEASE)
        .await
        .ok()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn deleting_the_leader_mid_run_changes_nothing_for_the_test() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "failover").await;
    harness::prepare(&ns);
    let operator_ns = harness::operator_namespace();

    let mut test = harness::small_test("steady", "ok.py", "45s");
    test["spec"]["worker"]["replicas"] = serde_json::json!(2);
    harness::apply_json(&ns, &test).expect("applies");
    let running = common::wait_status(
        &client,
        &ns,
        "steady",
        "Running with both workers connected",
        harness::RUN_TIMEOUT,
        |t| {
            common::phase(t) == Some(Phase::Running)
                && t.status.as_ref().and_then(|s| s.connected_workers) == Some(2)
        },
    )
    .await;
    let uid = running.metadata.uid.clone().expect("uid");

    let leases: Api<Lease> = Api::namespaced(client.clone(), &operator_ns);
    let leader = holder(&leases).await.expect("a replica holds the Lease");
    Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &operator_ns)
        .delete(&leader, &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("deleting the leader pod {leader}: {e}"));
    let successor = common::eventually(
        "another replica holding the Lease",
        Duration::from_secs(90),
        || async {
            match holder(&leases).await {
                Some(h) if h != leader => Ok(h),
                other => Err(format!("holder {other:?}")),
            }
        },
    )
    .await;
    eprintln!("leader {leader} deleted; {successor} took over");

    harness::wait_succeeded_with_requests(&client, &ns, "steady").await;
    assert_eq!(
        common::owned_counts(&client, &ns, &uid).await,
        (2, 1),
        "one master Job, one worker Job, one Service: nothing created twice"
    );
    let events = common::events_for(&client, &ns, "steady").await;
    assert_eq!(
        common::event_count(&events, "ChildRecreated"),
        0,
        "{}",
        common::event_summary(&events)
    );
}
