//! Deleting a namespace that holds LocustTests (issue 14), against a real control plane.
//!
//! The namespace controller deletes every pod first and nothing else (LocustTests, Jobs)
//! until all pods are gone (ordered namespace deletion). The Job controller removes its
//! `batch.kubernetes.io/job-tracking` finalizer from a deleted pod at once, except in a
//! Job with `backoffLimitPerIndex` where the pod's index has retries left: there it waits
//! for a replacement pod to carry the index's failure count, and a terminating namespace
//! refuses every new pod. So such a Job holds its pods, its pods hold the namespace, and
//! the namespace never gets to deleting the Job. The worker Job therefore uses a shared
//! `backoffLimit` (see `src/builders/job.rs`).
//!
//! - `a_namespace_with_a_pending_and_a_running_test_is_deleted`: the operator's tests
//!   (one whose pods can never be scheduled, one running) do not hold their namespace.
//! - `per_index_backoff_holds_a_terminating_namespace_until_the_job_is_deleted`: the
//!   cause on bare Jobs, two identical Indexed Jobs but for `backoffLimitPerIndex`, and
//!   the way out for a namespace already stuck (delete the Job). If this test fails after
//!   a Kubernetes upgrade, the Job controller no longer has this problem.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{
    Operator, OperatorOptions, annotations, create, eventually, locust_test, master_annotations,
    wait_children, wait_phase, worker_annotations,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::{LocustTest, SchedulingSpec};
use serde_json::json;

/// How long a namespace may take to go: ~11 s are usual (the namespace controller looks
/// again 5 s after deleting the pods, and again after the other objects).
const NAMESPACE_GONE: Duration = Duration::from_secs(60);
const CHILDREN: Duration = Duration::from_secs(60);
const PHASE: Duration = Duration::from_secs(90);
/// The Job controller's first pod back-off (`DefaultJobPodFailureBackOff`, 10 s) has run
/// out well within this, so a replacement pod has been tried and refused by then.
const STUCK_WINDOW: Duration = Duration::from_secs(30);
const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// A node selector no kwok node matches: the pods stay Pending, unscheduled.
const NOWHERE: (&str, &str) = ("test.locust.io/no-such-node", "nowhere");

/// Pods, Jobs, LocustTests and the namespace's deletion conditions, for failure messages.
async fn namespace_state(client: &Client, ns: &str) -> String {
    let mut out = Vec::new();
    match Api::<Namespace>::all(client.clone()).get_opt(ns).await {
        Ok(Some(n)) => {
            let status = n.status.unwrap_or_default();
            let conditions: Vec<String> = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.status == "True")
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.type_,
                        c.message.unwrap_or_default().replace('\n', " ")
                    )
                })
                .collect();
            out.push(format!(
                "namespace {ns} {} (true conditions: [{}])",
                status.phase.unwrap_or_default(),
                conditions.join("; ")
            ));
        }
        Ok(None) => return format!("namespace {ns} is gone"),
        Err(e) => return format!("reading namespace {ns}: {e}"),
    }
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    for p in &pods {
        out.push(format!(
            "pod {} phase={} node={} deleting={} finalizers={:?}",
            p.name_any(),
            p.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default(),
            p.metadata.deletion_timestamp.is_some(),
            p.finalizers()
        ));
    }
    let jobs = Api::<Job>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    for j in &jobs {
        out.push(format!(
            "job {} backoffLimitPerIndex={:?}",
            j.name_any(),
            j.spec.as_ref().and_then(|s| s.backoff_limit_per_index)
        ));
    }
    let tests = Api::<LocustTest>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    for t in &tests {
        out.push(format!("locusttest {}", t.name_any()));
    }
    out.join("\n  ")
}

/// Deletes namespace `ns` (as the namespace controller would see a `kubectl delete ns`).
async fn delete_namespace(client: &Client, ns: &str) -> Instant {
    Api::<Namespace>::all(client.clone())
        .delete(ns, &DeleteParams::background())
        .await
        .unwrap_or_else(|e| panic!("deleting namespace {ns}: {e}"));
    Instant::now()
}

/// Waits until namespace `ns` no longer exists; returns how long after `since` it went.
async fn wait_namespace_gone(client: &Client, ns: &str, since: Instant) -> Duration {
    eventually(
        &format!("namespace {ns} to be deleted"),
        NAMESPACE_GONE,
        || async {
            match Api::<Namespace>::all(client.clone()).get_opt(ns).await {
                Ok(None) => Ok(since.elapsed()),
                Ok(Some(_)) => Err(namespace_state(client, ns).await),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

/// Waits until `count` pods match `selector` in `ns` and every one satisfies `ok`.
async fn wait_pods(
    client: &Client,
    ns: &str,
    selector: &str,
    count: usize,
    what: &str,
    ok: impl Fn(&Pod) -> bool,
) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    eventually(
        &format!("{count} pods {selector} in {ns}, {what}"),
        CHILDREN,
        || async {
            let list = pods
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| e.to_string())?;
            if list.items.len() == count && list.items.iter().all(&ok) {
                Ok(())
            } else {
                Err(namespace_state(client, ns).await)
            }
        },
    )
    .await;
}

fn unschedulable(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
        })
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

#[tokio::test]
async fn a_namespace_with_a_pending_and_a_running_test_is_deleted() {
    let client = common::admin().await;
    let ns = common::namespace("ns-delete").await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut operator = Operator::start("ns-delete", OperatorOptions::new(&kubeconfig, &ns));

    // Pods that no node takes: the master and both workers stay Pending.
    let mut stuck = locust_test("stuck", 2);
    stuck.spec.scheduling = Some(SchedulingSpec {
        node_selector: Some(BTreeMap::from([(NOWHERE.0.into(), NOWHERE.1.into())])),
        ..SchedulingSpec::default()
    });
    create(&client, &ns, &stuck).await;
    // And a test that runs meanwhile.
    let busy = master_annotations(locust_test("busy", 2), &[(annotations::RUN_SECONDS, "600")]);
    let busy = worker_annotations(busy, &[(annotations::RUN_SECONDS, "600")]);
    create(&client, &ns, &busy).await;

    wait_children(&client, &ns, "stuck", CHILDREN).await;
    wait_pods(
        &client,
        &ns,
        "performance-test-name=stuck,app.kubernetes.io/component=worker",
        2,
        "unschedulable",
        unschedulable,
    )
    .await;
    wait_phase(&client, &ns, "busy", Phase::Running, PHASE).await;
    wait_pods(
        &client,
        &ns,
        "performance-test-name=busy,app.kubernetes.io/component=worker",
        2,
        "Running",
        running,
    )
    .await;

    let deleted = delete_namespace(&client, &ns).await;
    let took = wait_namespace_gone(&client, &ns, deleted).await;
    eprintln!("namespace {ns} with a Pending and a Running LocustTest deleted in {took:.1?}");
    operator.assert_running();
}

/// An Indexed Job of two pods that no node takes, like the worker Job of a test whose
/// workers cannot be scheduled; `per_index` adds `backoffLimitPerIndex: 2`.
fn bare_worker_job(per_index: bool) -> Job {
    let mut spec = json!({
        "completionMode": "Indexed",
        "completions": 2,
        "parallelism": 2,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "nodeSelector": {NOWHERE.0: NOWHERE.1},
                "containers": [{"name": "worker", "image": "locustio/locust:2.43.1"}],
            },
        },
    });
    if per_index {
        spec["backoffLimitPerIndex"] = json!(2);
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "workers"},
        "spec": spec,
    }))
    .expect("a valid Job")
}

#[tokio::test]
async fn per_index_backoff_holds_a_terminating_namespace_until_the_job_is_deleted() {
    let client = common::admin().await;
    let per_index = common::namespace("per-index").await;
    let shared = common::namespace("shared-limit").await;
    for (ns, with) in [(&per_index, true), (&shared, false)] {
        Api::<Job>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &bare_worker_job(with))
            .await
            .unwrap_or_else(|e| panic!("creating the Job in {ns}: {e}"));
        wait_pods(
            &client,
            ns,
            "job-name=workers",
            2,
            "unschedulable",
            unschedulable,
        )
        .await;
    }

    let deleted_per_index = delete_namespace(&client, &per_index).await;
    let deleted_shared = delete_namespace(&client, &shared).await;

    // Without per-index limits the namespace goes.
    let took = wait_namespace_gone(&client, &shared, deleted_shared).await;
    eprintln!("namespace {shared} (Job without backoffLimitPerIndex) deleted in {took:.1?}");

    // With them it stays, its pods deleted but held by the Job controller's finalizer.
    let remaining = STUCK_WINDOW.saturating_sub(deleted_per_index.elapsed());
    common::never(
        "the namespace of a Job with backoffLimitPerIndex going away",
        remaining,
        || async {
            match Api::<Namespace>::all(client.clone())
                .get_opt(&per_index)
                .await
            {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(format!(
                    "namespace {per_index} is gone: the Job controller no longer holds the \
                     pods of a backoffLimitPerIndex Job in a terminating namespace"
                )),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await;
    let state = namespace_state(&client, &per_index).await;
    let pods = Api::<Pod>::namespaced(client.clone(), &per_index)
        .list(&ListParams::default().labels("job-name=workers"))
        .await
        .expect("list pods")
        .items;
    assert_eq!(pods.len(), 2, "both pods remain:\n  {state}");
    for p in &pods {
        assert!(
            p.metadata.deletion_timestamp.is_some()
                && p.finalizers().iter().any(|f| f == JOB_TRACKING_FINALIZER),
            "every remaining pod is deleted and held by {JOB_TRACKING_FINALIZER}:\n  {state}"
        );
    }
    assert!(
        Api::<Job>::namespaced(client.clone(), &per_index)
            .get_opt("workers")
            .await
            .expect("read the Job")
            .is_some(),
        "the namespace controller has not deleted the Job yet (pods first):\n  {state}"
    );
    eprintln!(
        "namespace {per_index} (Job with backoffLimitPerIndex) still there {:.1?} after its \
         deletion:\n  {state}",
        deleted_per_index.elapsed()
    );

    // The way out for a namespace already stuck: delete the Job; its pods become orphans
    // and the Job controller releases them.
    Api::<Job>::namespaced(client.clone(), &per_index)
        .delete("workers", &DeleteParams::background())
        .await
        .expect("delete the Job");
    let released = Instant::now();
    let took = wait_namespace_gone(&client, &per_index, released).await;
    eprintln!("namespace {per_index} deleted {took:.1?} after its Job was deleted");
}
