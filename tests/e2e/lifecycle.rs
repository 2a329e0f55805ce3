//! The end of things on the real node: deleting a namespace that holds a running test and
//! one whose workers cannot be scheduled finishes, and `helm uninstall` keeps the CRD and
//! the tests (run last, by `make e2e`, on its own: it removes the operator).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;

use crate::common;
use crate::harness::{self, kubectl};

/// How long a namespace of two tests may take to go (it took 11 s without the worker
/// Job's per-index back-off, forever with it).
const NAMESPACE_GONE: Duration = Duration::from_secs(120);

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn deleting_a_namespace_with_running_and_unschedulable_tests_finishes() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "teardown").await;
    harness::prepare(&ns);

    let running = harness::small_test("running", "ok.py", "5m");
    let mut stuck = harness::small_test("stuck", "ok.py", "5m");
    // Workers that cannot be scheduled, and a master that waits for them for ever.
    stuck["spec"]["worker"]["resources"] = serde_json::json!({"requests": {"cpu": "500"}});
    stuck["spec"]["master"]["expectWorkersMaxWait"] = serde_json::json!(0);
    harness::apply_json(&ns, &running).expect("applies");
    harness::apply_json(&ns, &stuck).expect("applies");
    harness::wait_phase(&client, &ns, "running", Phase::Running).await;
    common::eventually(
        "the stuck test's worker pod Pending",
        harness::RUN_TIMEOUT,
        || async {
            let pods = kubectl(&[
                "get",
                "pods",
                "-n",
                &ns,
                "-l",
                "job-name=stuck-worker",
                "-o",
                "jsonpath={.items[*].status.phase}",
            ]);
            if pods.contains("Pending") {
                Ok(())
            } else {
                Err(format!("worker pods: {pods:?}"))
            }
        },
    )
    .await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let started = Instant::now();
    namespaces
        .delete(&ns, &DeleteParams::default())
        .await
        .expect("delete namespace");
    common::eventually("the namespace gone", NAMESPACE_GONE, || async {
        match namespaces.get_opt(&ns).await {
            Ok(None) => Ok(()),
            Ok(Some(n)) => Err(format!(
                "{:?}",
                n.status.and_then(|s| s.conditions).unwrap_or_default()
            )),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    eprintln!("namespace {ns} gone in {:?}", started.elapsed());
}

/// An Indexed Job of two pods that run until killed, with or without per-index back-off.
fn bare_job(per_index: bool) -> serde_json::Value {
    let mut job = serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "workers"},
        "spec": {
            "completionMode": "Indexed",
            "completions": 2,
            "parallelism": 2,
            "template": {"spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "w",
                    "image": "locustio/locust:2.43.1",
                    "command": ["python3", "-c", "import time; time.sleep(3600)"]
                }]
            }}
        }
    });
    if per_index {
        job["spec"]["backoffLimitPerIndex"] = serde_json::json!(2);
    }
    job
}

/// Why the worker Job has no `backoffLimitPerIndex` any more, on the real node: a
/// namespace holding such a Job with running pods stays Terminating (its killed pods held
/// by the Job controller's finalizer) until the Job is deleted; the same Job without it
/// goes at once.
#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn per_index_backoff_is_what_held_namespaces() {
    let client = harness::client().await;
    let held = harness::namespace(&client, "per-index").await;
    let free = harness::namespace(&client, "shared-limit").await;
    for (ns, per_index) in [(&held, true), (&free, false)] {
        harness::apply_json(ns, &bare_job(per_index)).expect("the Job applies");
        common::eventually("both pods Running", harness::RUN_TIMEOUT, || async {
            let phases = kubectl(&[
                "get",
                "pods",
                "-n",
                ns,
                "-l",
                "job-name=workers",
                "-o",
                "jsonpath={.items[*].status.phase}",
            ]);
            if phases == "Running Running" {
                Ok(())
            } else {
                Err(phases)
            }
        })
        .await;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in [&held, &free] {
        namespaces
            .delete(ns, &DeleteParams::default())
            .await
            .expect("delete namespace");
    }
    let gone = |ns: String| {
        let namespaces = namespaces.clone();
        async move {
            match namespaces.get_opt(&ns).await {
                Ok(None) => Ok(()),
                Ok(Some(_)) => Err(format!("{ns} still there")),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    common::eventually(
        "the namespace without per-index back-off gone",
        NAMESPACE_GONE,
        || gone(free.clone()),
    )
    .await;
    common::never(
        "the per-index namespace going",
        Duration::from_secs(30),
        || async {
            match gone(held.clone()).await {
                Ok(()) => Err(format!(
                    "{held} is gone: the Job controller no longer holds its pods"
                )),
                Err(_) => Ok(()),
            }
        },
    )
    .await;
    let finalizers = kubectl(&[
        "get",
        "pods",
        "-n",
        &held,
        "-o",
        "jsonpath={.items[*].metadata.finalizers[*]}",
    ]);
    assert!(
        finalizers.contains("batch.kubernetes.io/job-tracking"),
        "the deleted pods are held by the Job controller: {finalizers:?}"
    );
    // The way out for a namespace already stuck: delete the Job.
    kubectl(&["delete", "job", "workers", "-n", &held, "--wait=false"]);
    common::eventually(
        "the per-index namespace gone once its Job is deleted",
        NAMESPACE_GONE,
        || gone(held.clone()),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the real node: make e2e (runs last: it uninstalls the operator)"]
async fn helm_uninstall_keeps_the_crd_and_the_tests() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "kept").await;
    harness::prepare(&ns);
    harness::apply_json(&ns, &harness::small_test("kept", "ok.py", "5s")).expect("applies");
    harness::wait_phase(&client, &ns, "kept", Phase::Succeeded).await;

    let operator_ns = harness::operator_namespace();
    let helm = std::env::var("E2E_HELM").expect("E2E_HELM");
    let out = std::process::Command::new(helm)
        .args([
            "uninstall",
            "locust-k8s-operator",
            "-n",
            &operator_ns,
            "--wait",
        ])
        .arg("--kubeconfig")
        .arg(harness::kubeconfig())
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm uninstall: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    kubectl(&["get", "crd", "locusttests.locust.io"]);
    let kept = Api::<LocustTest>::namespaced(client.clone(), &ns)
        .get("kept")
        .await
        .expect("the test is kept");
    assert_eq!(common::phase(&kept), Some(Phase::Succeeded));
    // The Deployments go at once; their pods within their grace period.
    common::eventually(
        "nothing of the operator left",
        Duration::from_secs(90),
        || async {
            let left = kubectl(&["get", "deployments,pods", "-n", &operator_ns, "-o", "name"]);
            if left.trim().is_empty() {
                Ok(())
            } else {
                Err(left)
            }
        },
    )
    .await;
}
