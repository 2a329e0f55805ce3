//! The status the controller derives from Jobs and pods (kwok plays the pods' fate through
//! their annotations): success with timestamps, a master exiting 1, an image pull error
//! failing the test after the grace period, and workers that never become Ready not
//! counted as connected.

use crate::common;

use std::time::Duration;

use common::{
    Operator, OperatorOptions, annotations, condition, create, event_count, event_summary,
    events_for, locust_test, master_annotations, wait_event, wait_phase, wait_status,
    worker_annotations,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use locust_k8s_operator::api::status::Phase;

const PHASE: Duration = Duration::from_secs(90);

async fn setup(prefix: &str, grace: u32) -> (Client, String, Operator) {
    let client = common::admin().await;
    let ns = common::namespace(prefix).await;
    let kubeconfig = common::operator_kubeconfig().await;
    let options = OperatorOptions::new(&kubeconfig, &ns).grace(grace);
    (client, ns, Operator::start(prefix, options))
}

/// Waits until both Jobs of `name` are suspended and no pod of the test is still active
/// (Pending or Running).
async fn wait_stopped(client: &Client, ns: &str, name: &str) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    common::eventually(
        &format!("{ns}/{name}: Jobs suspended and no test pod left running"),
        PHASE,
        || async {
            let mut seen = Vec::new();
            for job in [format!("{name}-master"), format!("{name}-worker")] {
                let j = jobs.get_opt(&job).await.map_err(|e| e.to_string())?;
                let finished = j
                    .as_ref()
                    .and_then(|j| j.status.as_ref())
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter().any(|c| {
                            (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                        })
                    });
                let suspended = j
                    .as_ref()
                    .and_then(|j| j.spec.as_ref())
                    .and_then(|s| s.suspend)
                    == Some(true);
                if !(suspended || finished || j.is_none()) {
                    seen.push(format!("{job} neither suspended nor finished"));
                }
            }
            let active: Vec<String> = pods
                .list(&ListParams::default().labels(&format!("performance-test-name={name}")))
                .await
                .map_err(|e| e.to_string())?
                .items
                .into_iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && p.status
                            .as_ref()
                            .and_then(|s| s.phase.as_deref())
                            .is_some_and(|ph| ph == "Pending" || ph == "Running")
                })
                .map(|p| p.metadata.name.unwrap_or_default())
                .collect();
            if !active.is_empty() {
                seen.push(format!("active pods {active:?}"));
            }
            if seen.is_empty() {
                Ok(())
            } else {
                Err(seen.join("; "))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_successful_test_succeeds_with_timestamps() {
    let (client, ns, mut operator) = setup("success", 120).await;
    create(&client, &ns, &locust_test("ok", 2)).await;

    // Follow the phase: it only moves forward.
    let api: Api<locust_k8s_operator::api::v2::LocustTest> = Api::namespaced(client.clone(), &ns);
    let phases: std::sync::Mutex<Vec<Phase>> = std::sync::Mutex::default();
    let done = common::eventually("phase Succeeded", PHASE, || {
        let api = api.clone();
        let phases = &phases;
        async move {
            let t = api.get("ok").await.map_err(|e| e.to_string())?;
            let mut seen = phases.lock().expect("phases");
            if let Some(p) = common::phase(&t)
                && seen.last() != Some(&p)
            {
                seen.push(p);
            }
            drop(seen);
            if common::phase(&t) == Some(Phase::Succeeded) {
                Ok(t)
            } else {
                Err(common::describe(&t))
            }
        }
    })
    .await;
    let rank = |p: &Phase| match p {
        Phase::Pending => 0,
        Phase::Running => 1,
        Phase::Succeeded | Phase::Failed => 2,
    };
    let phases = phases.into_inner().expect("phases");
    assert!(
        phases.windows(2).all(|w| rank(&w[0]) < rank(&w[1])),
        "the phase only moves forward: {phases:?}"
    );
    let status = done.status.as_ref().expect("status");
    let start = status.start_time.as_ref().expect("startTime set");
    let end = status.completion_time.as_ref().expect("completionTime set");
    assert!(
        start.0 <= end.0,
        "startTime {start:?} <= completionTime {end:?}"
    );
    assert_eq!(status.expected_workers, Some(2));
    assert_eq!(status.observed_generation, Some(1));
    let completed = condition(&done, "TestCompleted").expect("TestCompleted condition");
    assert_eq!(completed.status, "True", "{completed:?}");

    wait_event(&client, &ns, "ok", "TestCompleted", Some("Normal"), PHASE).await;
    let events = events_for(&client, &ns, "ok").await;
    assert_eq!(
        event_count(&events, "TestStarted"),
        1,
        "{}",
        event_summary(&events)
    );
    assert_eq!(
        event_count(&events, "TestCompleted"),
        1,
        "{}",
        event_summary(&events)
    );
    assert_eq!(
        event_count(&events, "TestFailed"),
        0,
        "{}",
        event_summary(&events)
    );
    operator.assert_running();
}

#[tokio::test]
async fn a_master_exiting_1_fails_the_test() {
    let (client, ns, mut operator) = setup("master-exit", 120).await;
    let test = master_annotations(locust_test("bad", 2), &[(annotations::EXIT_CODE, "1")]);
    let test = worker_annotations(test, &[(annotations::RUN_SECONDS, "300")]);
    create(&client, &ns, &test).await;
    let failed = wait_phase(&client, &ns, "bad", Phase::Failed, PHASE).await;
    let status = failed.status.as_ref().expect("status");
    assert!(
        status.completion_time.is_some(),
        "completionTime set: {}",
        common::describe(&failed)
    );
    wait_event(&client, &ns, "bad", "TestFailed", Some("Warning"), PHASE).await;
    // The workers were asked to run 300 s: the failed test must not leave them running.
    wait_stopped(&client, &ns, "bad").await;
    let events = events_for(&client, &ns, "bad").await;
    assert_eq!(
        event_count(&events, "TestFailed"),
        1,
        "{}",
        event_summary(&events)
    );
    assert_eq!(
        event_count(&events, "TestCompleted"),
        0,
        "{}",
        event_summary(&events)
    );
    operator.assert_running();
}

#[tokio::test]
async fn an_image_pull_error_fails_the_test_after_the_grace_period() {
    const GRACE: u32 = 5;
    let (client, ns, mut operator) = setup("image-pull", GRACE).await;
    let test = master_annotations(locust_test("pull", 2), &[(annotations::RUN_SECONDS, "300")]);
    let test = worker_annotations(test, &[(annotations::WAITING_REASON, "ImagePullBackOff")]);
    create(&client, &ns, &test).await;

    let unhealthy = wait_status(
        &client,
        &ns,
        "pull",
        "PodsHealthy False (ImagePullError)",
        PHASE,
        |t| {
            condition(t, "PodsHealthy")
                .is_some_and(|c| c.status == "False" && c.reason == "ImagePullError")
        },
    )
    .await;
    let c = condition(&unhealthy, "PodsHealthy").expect("PodsHealthy");
    assert!(!c.message.is_empty(), "the message says which pods: {c:?}");

    let failed = wait_phase(&client, &ns, "pull", Phase::Failed, PHASE).await;
    // Failed only after the grace period: compare with the first worker pod's creation.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let first_worker = pods
        .list(
            &ListParams::default()
                .labels("performance-test-name=pull,app.kubernetes.io/component=worker"),
        )
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.creation_timestamp)
        .map(|t| t.0)
        .min();
    let completion = failed
        .status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
        .map(|t| t.0);
    if let (Some(created), Some(done)) = (first_worker, completion) {
        // Timestamps have whole seconds: allow one second of rounding.
        let waited = done.as_second() - created.as_second();
        assert!(
            waited >= i64::from(GRACE) - 1,
            "failed {waited} s after the worker pods were created; the grace period is {GRACE} s"
        );
    }
    wait_event(&client, &ns, "pull", "TestFailed", Some("Warning"), PHASE).await;
    wait_stopped(&client, &ns, "pull").await;
    operator.assert_running();
}

#[tokio::test]
async fn workers_that_never_become_ready_are_not_connected() {
    let (client, ns, mut operator) = setup("never-ready", 600).await;
    let test = master_annotations(
        locust_test("lonely", 2),
        &[(annotations::RUN_SECONDS, "300")],
    );
    let test = worker_annotations(test, &[(annotations::START_SECONDS, "3600")]);
    create(&client, &ns, &test).await;
    let seen = wait_status(
        &client,
        &ns,
        "lonely",
        "WorkersConnected False",
        PHASE,
        |t| condition(t, "WorkersConnected").is_some_and(|c| c.status == "False"),
    )
    .await;
    let status = seen.status.as_ref().expect("status");
    assert_eq!(status.expected_workers, Some(2));
    assert_eq!(
        status.connected_workers.unwrap_or(0),
        0,
        "{}",
        common::describe(&seen)
    );
    // While the worker pods exist but stay Pending, nothing counts them as connected.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    common::eventually("2 Pending worker pods", PHASE, || async {
        let n = pods
            .list(
                &ListParams::default()
                    .labels("performance-test-name=lonely,app.kubernetes.io/component=worker"),
            )
            .await
            .map_err(|e| e.to_string())?
            .items
            .len();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} worker pods"))
        }
    })
    .await;
    common::never(
        "a Pending worker counted as connected",
        Duration::from_secs(5),
        || async {
            let t = common::get(&client, &ns, "lonely").await;
            let connected = t
                .status
                .as_ref()
                .and_then(|s| s.connected_workers)
                .unwrap_or(0);
            let wc = condition(&t, "WorkersConnected").map(|c| c.status.clone());
            if connected == 0 && wc.as_deref() != Some("True") {
                Ok(())
            } else {
                Err(common::describe(&t))
            }
        },
    )
    .await;
    operator.assert_running();
}

#[tokio::test]
async fn crash_looping_workers_are_named_and_not_connected() {
    let (client, ns, mut operator) = setup("crashloop", 600).await;
    let test = master_annotations(locust_test("loop", 1), &[(annotations::RUN_SECONDS, "300")]);
    let test = worker_annotations(test, &[(annotations::WAITING_REASON, "CrashLoopBackOff")]);
    create(&client, &ns, &test).await;
    let seen = wait_status(
        &client,
        &ns,
        "loop",
        "PodsHealthy False (CrashLoopBackOff)",
        PHASE,
        |t| {
            condition(t, "PodsHealthy")
                .is_some_and(|c| c.status == "False" && c.reason == "CrashLoopBackOff")
        },
    )
    .await;
    assert_eq!(
        seen.status
            .as_ref()
            .and_then(|s| s.connected_workers)
            .unwrap_or(0),
        0,
        "a crash-looping worker is not connected: {}",
        common::describe(&seen)
    );
    assert!(
        condition(&seen, "WorkersConnected").is_none_or(|c| c.status != "True"),
        "{}",
        common::describe(&seen)
    );
    operator.assert_running();
}
