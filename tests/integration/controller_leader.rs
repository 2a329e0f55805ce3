//! Leader election: a replica that does not hold the Lease writes nothing; with two
//! replicas, killing the leader lets the other take over and finish the tests; the status
//! is written by the one field manager `locust-k8s-operator` only.

use crate::common;

use std::time::Duration;

use common::{
    FIELD_MANAGER, Operator, OperatorOptions, annotations, children, create, locust_test,
    master_annotations, wait_phase, worker_annotations,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use serde_json::json;

const ELECTION: Duration = Duration::from_secs(120);
const PHASE: Duration = Duration::from_secs(180);

/// Waits until some Lease in `ns` is held by one of `identities`; returns (lease, holder).
async fn wait_holder(client: &Client, ns: &str, identities: &[&str]) -> (String, String) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    common::eventually(
        &format!("a Lease in {ns} held by one of {identities:?}"),
        ELECTION,
        || async {
            let list = leases
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let mut seen = Vec::new();
            for lease in list.items {
                let name = lease.metadata.name.unwrap_or_default();
                let holder = lease
                    .spec
                    .and_then(|s| s.holder_identity)
                    .unwrap_or_default();
                if identities.contains(&holder.as_str()) {
                    return Ok((name, holder));
                }
                seen.push(format!("{name} held by {holder:?}"));
            }
            Err(format!("leases: {seen:?}"))
        },
    )
    .await
}

fn long_test(name: &str, seconds: &str) -> LocustTest {
    let t = master_annotations(locust_test(name, 1), &[(annotations::RUN_SECONDS, seconds)]);
    worker_annotations(t, &[(annotations::RUN_SECONDS, seconds)])
}

/// Every field manager that wrote `name`'s status; must be only the operator's.
async fn assert_single_status_manager(client: &Client, ns: &str, name: &str) {
    let test = common::get(client, ns, name).await;
    let managers = common::status_managers(&test);
    assert!(
        !managers.is_empty() && managers.iter().all(|m| m == FIELD_MANAGER),
        "{name}: the status is written by {FIELD_MANAGER} only, managedFields say {managers:?}"
    );
}

#[tokio::test]
async fn only_the_leader_writes_and_the_other_replica_takes_over() {
    let client = common::admin().await;
    let ns = common::namespace("leader").await;
    // The Lease lives in the test's namespace: the leader-election Role is bound there only.
    common::bind_leader_election(&client, &ns).await;
    let kubeconfig = common::operator_kubeconfig().await;
    let options = |identity: &str| {
        OperatorOptions::new(&kubeconfig, &ns)
            .grace(120)
            .leader_election(&ns, identity)
    };

    // 1. Find the operator's Lease: the first replica takes it.
    let mut a = Operator::start("op-a", options("op-a"));
    let (lease, _) = wait_holder(&client, &ns, &["op-a"]).await;

    // 2. Someone else holds the Lease for a while: a replica started now is not the leader
    //    and must write nothing. (kube-lease-manager candidates sleep until the expiry they
    //    saw, renewTime + leaseDurationSeconds, so the hold must be short.)
    a.kill();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let hold = Duration::from_secs(20);
    leases
        .patch(
            &lease,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "holderIdentity": "someone-else",
                "renewTime": MicroTime(Timestamp::now()),
                "leaseDurationSeconds": hold.as_secs()
            }})),
        )
        .await
        .expect("hand the lease to someone else");
    let held_since = std::time::Instant::now();
    let mut b = Operator::start("op-b", options("op-b"));
    create(&client, &ns, &long_test("first", "20")).await;
    common::never(
        "a non-leader writing status or children",
        Duration::from_secs(8),
        || async {
            let t = common::get(&client, &ns, "first").await;
            let c = children(&client, &ns, "first").await;
            if t.status.is_some() || c.service.is_some() || c.master.is_some() || c.worker.is_some()
            {
                Err(format!("{} / {}", common::describe(&t), c.summary()))
            } else {
                Ok(())
            }
        },
    )
    .await;
    b.assert_running();
    assert!(
        held_since.elapsed() < hold,
        "the negative window must end while someone else still holds the lease"
    );

    // 3. Two replicas; when the foreign hold expires, one of them leads and runs the test.
    a.restart();
    let (_, leader) = wait_holder(&client, &ns, &["op-a", "op-b"]).await;
    wait_phase(&client, &ns, "first", Phase::Running, PHASE).await;
    create(&client, &ns, &long_test("second", "20")).await;

    // 4. Kill the leader: the other takes over and finishes both tests.
    let (dead, survivor) = if leader == "op-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    dead.kill();
    let other = if leader == "op-a" { "op-b" } else { "op-a" };
    wait_holder(&client, &ns, &[other]).await;
    wait_phase(&client, &ns, "first", Phase::Succeeded, PHASE).await;
    wait_phase(&client, &ns, "second", Phase::Succeeded, PHASE).await;
    survivor.assert_running();

    for name in ["first", "second"] {
        assert_single_status_manager(&client, &ns, name).await;
        let t = common::get(&client, &ns, name).await;
        let uid = t.metadata.uid.clone().expect("uid");
        assert_eq!(
            common::owned_counts(&client, &ns, &uid).await,
            (2, 1),
            "{name}: one master Job, one worker Job, one Service across the hand-over"
        );
    }
}
