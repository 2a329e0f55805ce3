//! The controller's reconcile paths against a real control plane: children created with
//! owner references and the recommended `app.kubernetes.io/*` labels, an idempotent re-run
//! after a restart, spec edits ignored and reported (and cleared when reverted), a child
//! deleted mid-run recreated from the
//! original spec, a finished test left alone, garbage collection with the CR, a
//! missing ConfigMap reported as a condition, and a failed worker pod replaced while the
//! other workers run on. The operator runs as a subprocess with only
//! the RBAC rules of `config/rbac/role.yaml`, watching the test's namespace.

use crate::common;

use std::time::Duration;

use common::{
    Operator, annotations, children, condition, create, event_count, event_summary, events_for,
    eventually, get, locust_test, master_annotations, wait_children, wait_event, wait_phase,
    wait_status, worker_annotations,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use serde_json::json;

const CHILDREN: Duration = Duration::from_secs(60);
const PHASE: Duration = Duration::from_secs(90);

/// An admin client, a fresh namespace and an operator watching it.
async fn setup(prefix: &str) -> (Client, String, Operator) {
    common::operator_in_namespace(prefix).await
}

/// A test whose pods run `seconds` before succeeding.
fn long_running(name: &str, workers: i32, seconds: &str) -> LocustTest {
    let t = locust_test(name, workers);
    let t = master_annotations(t, &[(annotations::RUN_SECONDS, seconds)]);
    worker_annotations(t, &[(annotations::RUN_SECONDS, seconds)])
}

fn label<'a>(labels: Option<&'a std::collections::BTreeMap<String, String>>, key: &str) -> &'a str {
    labels.and_then(|l| l.get(key)).map_or("", String::as_str)
}

#[tokio::test]
async fn creates_service_and_jobs_owned_by_the_test() {
    let (client, ns, mut operator) = setup("create").await;
    let created = create(&client, &ns, &locust_test("demo", 2)).await;

    let kids = wait_children(&client, &ns, "demo", CHILDREN).await;
    let (service, master, worker) = (
        kids.service.expect("service"),
        kids.master.expect("master job"),
        kids.worker.expect("worker job"),
    );
    assert_eq!(service.name_any(), "demo-master");
    assert_eq!(master.name_any(), "demo-master");
    assert_eq!(worker.name_any(), "demo-worker");
    common::assert_owned_by("Service demo-master", &service.metadata, &created);
    common::assert_owned_by("Job demo-master", &master.metadata, &created);
    common::assert_owned_by("Job demo-worker", &worker.metadata, &created);

    for (job, component) in [(&master, "master"), (&worker, "worker")] {
        let labels = job
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref());
        assert_eq!(
            label(labels, "performance-test-name"),
            "demo",
            "{component} pod labels"
        );
        assert_eq!(
            label(labels, "app.kubernetes.io/managed-by"),
            "locust-k8s-operator",
            "{component} pod labels"
        );
        assert_eq!(
            label(labels, "app.kubernetes.io/component"),
            component,
            "{component} pod labels"
        );
    }
    assert_eq!(worker.spec.as_ref().and_then(|s| s.parallelism), Some(2));
    // The recommended labels, on every child and pod template.
    let recommended = [
        ("app.kubernetes.io/name", "locust"),
        ("app.kubernetes.io/instance", "demo"),
        ("app.kubernetes.io/part-of", "locust-k8s-operator"),
    ];
    let templates = [&master, &worker].map(|j| {
        j.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
    });
    for (what, labels) in [
        ("Service", service.metadata.labels.as_ref()),
        ("master Job", master.metadata.labels.as_ref()),
        ("worker Job", worker.metadata.labels.as_ref()),
        ("master pod template", templates[0]),
        ("worker pod template", templates[1]),
    ] {
        for (key, value) in recommended {
            assert_eq!(label(labels, key), value, "{what} labels: {labels:?}");
        }
    }
    assert!(
        !service
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .is_some_and(|s| s.keys().any(|k| k.starts_with("app.kubernetes.io/"))),
        "the Service selector is unchanged"
    );

    // The pods really run with those labels, and the test goes on.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    common::eventually("2 worker pods and 1 master pod", CHILDREN, || async {
        let list = pods
            .list(&ListParams::default().labels(
                "performance-test-name=demo,app.kubernetes.io/instance=demo,\
                 app.kubernetes.io/name=locust,app.kubernetes.io/part-of=locust-k8s-operator",
            ))
            .await
            .map_err(|e| e.to_string())?;
        let count = |c: &str| {
            list.items
                .iter()
                .filter(|p| label(p.metadata.labels.as_ref(), "app.kubernetes.io/component") == c)
                .count()
        };
        let (m, w) = (count("master"), count("worker"));
        if m >= 1 && w >= 2 {
            Ok(())
        } else {
            Err(format!("{m} master pods, {w} worker pods"))
        }
    })
    .await;
    let test = wait_status(&client, &ns, "demo", "a phase", PHASE, |t| {
        common::phase(t).is_some()
    })
    .await;
    assert_eq!(
        test.status.as_ref().and_then(|s| s.expected_workers),
        Some(2)
    );
    operator.assert_running();
}

#[tokio::test]
async fn a_restarted_operator_creates_nothing_twice() {
    let (client, ns, mut operator) = setup("idempotent").await;
    let test = master_annotations(locust_test("again", 1), &[(annotations::RUN_SECONDS, "15")]);
    let created = create(&client, &ns, &test).await;
    wait_phase(&client, &ns, "again", Phase::Running, PHASE).await;

    operator.restart();
    wait_phase(&client, &ns, "again", Phase::Succeeded, PHASE).await;
    operator.assert_running();

    let uid = created.uid().expect("uid");
    assert_eq!(
        common::owned_counts(&client, &ns, &uid).await,
        (2, 1),
        "exactly one master Job, one worker Job and one Service after a restart"
    );
    let events = events_for(&client, &ns, "again").await;
    assert_eq!(
        event_count(&events, "TestStarted"),
        1,
        "TestStarted once, not again after the restart: {}",
        event_summary(&events)
    );
    assert_eq!(
        event_count(&events, "TestCompleted"),
        1,
        "TestCompleted once: {}",
        event_summary(&events)
    );
    let log = operator.log();
    for bad in ["already exists", "AlreadyExists", "Forbidden", "forbidden"] {
        assert!(
            !log.contains(bad),
            "the restarted operator logged {bad:?}:\n{}",
            operator.log_tails()
        );
    }
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "the restarted operator logged errors:\n{}",
        operator.log_tails()
    );
}

#[tokio::test]
async fn spec_edits_are_ignored_reported_and_cleared_when_reverted() {
    let (client, ns, mut operator) = setup("drift").await;
    create(&client, &ns, &long_running("drift", 2, "120")).await;
    let running = wait_phase(&client, &ns, "drift", Phase::Running, PHASE).await;
    let observed = running.status.as_ref().and_then(|s| s.observed_generation);
    assert_eq!(observed, Some(1), "observedGeneration of the started spec");
    let before = children(&client, &ns, "drift").await;
    let worker_before = before.worker.expect("worker job");

    let api: Api<LocustTest> = Api::namespaced(client.clone(), &ns);
    let edit = |replicas: i32| {
        let api = api.clone();
        async move {
            api.patch(
                "drift",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"worker": {"replicas": replicas}}})),
            )
            .await
            .expect("edit the spec")
        }
    };
    let edited = edit(5).await;
    assert_eq!(edited.metadata.generation, Some(2));

    let drifted = wait_status(&client, &ns, "drift", "SpecDrifted True", PHASE, |t| {
        condition(t, "SpecDrifted").is_some_and(|c| c.status == "True")
    })
    .await;
    let c = condition(&drifted, "SpecDrifted").expect("SpecDrifted");
    assert!(
        !c.message.is_empty(),
        "SpecDrifted says what is going on: {c:?}"
    );
    assert_eq!(
        drifted.status.as_ref().and_then(|s| s.observed_generation),
        Some(1),
        "observedGeneration stays at the started spec: nothing of generation 2 was applied"
    );
    assert_eq!(common::phase(&drifted), Some(Phase::Running));
    let event = wait_event(&client, &ns, "drift", "SpecDrifted", Some("Warning"), PHASE).await;
    assert!(
        event.note.as_deref().is_some_and(|n| !n.is_empty()),
        "event note: {event:?}"
    );

    let after = children(&client, &ns, "drift").await;
    let worker_after = after.worker.expect("worker job still there");
    assert_eq!(
        worker_after.uid(),
        worker_before.uid(),
        "the worker Job is not rebuilt"
    );
    assert_eq!(
        worker_after.spec.as_ref().and_then(|s| s.parallelism),
        Some(2),
        "the edited replicas are not applied"
    );

    // Put the spec back: the drift clears.
    let reverted = edit(2).await;
    assert_eq!(reverted.metadata.generation, Some(3));
    let cleared = wait_status(&client, &ns, "drift", "SpecDrifted cleared", PHASE, |t| {
        condition(t, "SpecDrifted").is_none_or(|c| c.status == "False")
    })
    .await;
    assert_eq!(
        common::phase(&cleared),
        Some(Phase::Running),
        "still running"
    );
    let events = events_for(&client, &ns, "drift").await;
    assert_eq!(
        event_count(&events, "SpecDrifted"),
        1,
        "one SpecDrifted event for one drift, not one per reconcile: {}",
        event_summary(&events)
    );
    operator.assert_running();
}

#[tokio::test]
async fn a_child_deleted_mid_run_is_recreated_from_the_original_spec() {
    let (client, ns, mut operator) = setup("recreate").await;
    create(&client, &ns, &long_running("phoenix", 2, "120")).await;
    wait_phase(&client, &ns, "phoenix", Phase::Running, PHASE).await;
    let before = wait_children(&client, &ns, "phoenix", CHILDREN).await;
    let old_worker = before.worker.expect("worker").uid().expect("uid");
    let old_service = before.service.expect("service").uid().expect("uid");

    // An edit first: the recreated Job must still come from the original spec.
    Api::<LocustTest>::namespaced(client.clone(), &ns)
        .patch(
            "phoenix",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"worker": {"replicas": 4}}})),
        )
        .await
        .expect("edit");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    jobs.delete("phoenix-worker", &DeleteParams::background())
        .await
        .expect("delete worker job");
    services
        .delete("phoenix-master", &DeleteParams::default())
        .await
        .expect("delete service");

    let again = common::eventually(
        "phoenix-worker and phoenix-master recreated (new uids)",
        CHILDREN,
        || async {
            let c = children(&client, &ns, "phoenix").await;
            let fresh_worker = c
                .worker
                .as_ref()
                .and_then(|j| j.uid())
                .is_some_and(|u| u != old_worker);
            let fresh_service = c
                .service
                .as_ref()
                .and_then(|s| s.uid())
                .is_some_and(|u| u != old_service);
            if fresh_worker && fresh_service {
                Ok(c)
            } else {
                Err(c.summary())
            }
        },
    )
    .await;
    assert_eq!(
        again
            .worker
            .as_ref()
            .and_then(|j| j.spec.as_ref())
            .and_then(|s| s.parallelism),
        Some(2),
        "recreated from the original spec (2 workers), not the edited one (4)"
    );
    let test = get(&client, &ns, "phoenix").await;
    common::assert_owned_by(
        "recreated Job phoenix-worker",
        &again.worker.expect("w").metadata,
        &test,
    );
    wait_event(&client, &ns, "phoenix", "ChildRecreated", None, PHASE).await;
    assert_eq!(
        common::phase(&test).map(|p| p != Phase::Pending),
        Some(true),
        "never back to Pending"
    );
    operator.assert_running();
}

#[tokio::test]
async fn children_of_a_finished_test_are_left_alone() {
    let (client, ns, mut operator) = setup("finished").await;
    create(&client, &ns, &locust_test("done", 1)).await;
    wait_phase(&client, &ns, "done", Phase::Succeeded, PHASE).await;

    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    jobs.delete("done-master", &DeleteParams::background())
        .await
        .expect("delete master job");
    jobs.delete("done-worker", &DeleteParams::background())
        .await
        .expect("delete worker job (as a TTL would)");
    common::eventually("the Jobs to be gone", CHILDREN, || async {
        let c = children(&client, &ns, "done").await;
        if c.master.is_none() && c.worker.is_none() {
            Ok(())
        } else {
            Err(c.summary())
        }
    })
    .await;
    // A negative assertion needs a window: 10 s is several reconciles after the watch
    // events of the deletions.
    common::never(
        "recreating a finished test's Jobs",
        Duration::from_secs(10),
        || async {
            let c = children(&client, &ns, "done").await;
            let t = get(&client, &ns, "done").await;
            if c.master.is_some() || c.worker.is_some() {
                Err(c.summary())
            } else if common::phase(&t) != Some(Phase::Succeeded) {
                Err(common::describe(&t))
            } else {
                Ok(())
            }
        },
    )
    .await;
    let events = events_for(&client, &ns, "done").await;
    assert_eq!(
        event_count(&events, "ChildRecreated"),
        0,
        "no recreation: {}",
        event_summary(&events)
    );
    operator.assert_running();
}

#[tokio::test]
async fn deleting_the_test_garbage_collects_its_children() {
    let (client, ns, mut operator) = setup("gc").await;
    create(&client, &ns, &long_running("gone", 1, "120")).await;
    wait_children(&client, &ns, "gone", CHILDREN).await;
    Api::<LocustTest>::namespaced(client.clone(), &ns)
        .delete("gone", &DeleteParams::background())
        .await
        .expect("delete the test");
    common::eventually(
        "the LocustTest and its children to be gone",
        PHASE,
        || async {
            let c = children(&client, &ns, "gone").await;
            let t = Api::<LocustTest>::namespaced(client.clone(), &ns)
                .get_opt("gone")
                .await
                .map_err(|e| e.to_string())?;
            if t.is_none() && c.service.is_none() && c.master.is_none() && c.worker.is_none() {
                Ok(())
            } else {
                Err(format!("test exists: {} ({})", t.is_some(), c.summary()))
            }
        },
    )
    .await;
    operator.assert_running();
}

#[tokio::test]
async fn a_missing_configmap_is_a_clear_condition() {
    let (client, ns, mut operator) = setup("missing-cm").await;
    let mut test = locust_test("lost", 1);
    if let Some(files) = test.spec.test_files.as_mut() {
        files.config_map_ref = Some("no-such-locustfile".into());
    }
    create(&client, &ns, &test).await;
    let seen = wait_status(
        &client,
        &ns,
        "lost",
        "Ready False (ConfigMapMissing)",
        PHASE,
        |t| {
            condition(t, "Ready")
                .is_some_and(|c| c.status == "False" && c.reason == "ConfigMapMissing")
        },
    )
    .await;
    let ready = condition(&seen, "Ready").expect("Ready");
    assert!(
        ready.message.contains("no-such-locustfile"),
        "the message names the ConfigMap: {ready:?}"
    );
    assert_ne!(common::phase(&seen), Some(Phase::Running));
    common::eventually("an event naming the missing ConfigMap", PHASE, || async {
        let events = events_for(&client, &ns, "lost").await;
        events
            .iter()
            .any(|e| {
                e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("no-such-locustfile"))
            })
            .then_some(())
            .ok_or_else(|| event_summary(&events))
    })
    .await;
    let c = children(&client, &ns, "lost").await;
    assert!(
        c.master.is_none() && c.worker.is_none(),
        "no Jobs for a test whose files are missing: {}",
        c.summary()
    );
    operator.assert_running();
}

#[tokio::test]
async fn sigterm_shuts_the_operator_down_gracefully() {
    let (client, ns, mut operator) = setup("sigterm").await;
    create(&client, &ns, &locust_test("before-term", 1)).await;
    wait_children(&client, &ns, "before-term", CHILDREN).await;
    let pid = operator.pid().expect("the operator's pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "SIGTERM sent");
    eventually(
        "the operator to exit after SIGTERM",
        Duration::from_secs(15),
        || {
            let running = operator.is_running();
            async move { (!running).then_some(()).ok_or("still running".to_string()) }
        },
    )
    .await;
    let log = operator.log();
    assert!(
        log.contains("shut down"),
        "a clean shutdown is logged:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// The worker Job's retries (`backoffLimit`, shared by the workers; never
/// `backoffLimitPerIndex`, see `tests/integration/namespace_delete.rs`): one worker pod that fails is
/// replaced in its own index, the other worker and the test run on.
#[tokio::test]
async fn a_failed_worker_pod_is_replaced_and_the_others_keep_running() {
    let (client, ns, mut operator) = setup("worker-fails").await;
    create(&client, &ns, &long_running("steady", 2, "300")).await;
    wait_phase(&client, &ns, "steady", Phase::Running, PHASE).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let workers = ListParams::default()
        .labels("performance-test-name=steady,app.kubernetes.io/component=worker");
    let index = |p: &Pod| {
        label(
            p.metadata.labels.as_ref(),
            "batch.kubernetes.io/job-completion-index",
        )
        .to_owned()
    };
    let phase = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default()
    };
    let running = eventually("2 Running worker pods", CHILDREN, || async {
        let list = pods.list(&workers).await.map_err(|e| e.to_string())?;
        let up: Vec<Pod> = list
            .items
            .into_iter()
            .filter(|p| phase(p) == "Running")
            .collect();
        if up.len() == 2 {
            Ok(up)
        } else {
            Err(format!("{} Running", up.len()))
        }
    })
    .await;
    let (crashing, other) = if index(&running[0]) == "0" {
        (&running[0], &running[1])
    } else {
        (&running[1], &running[0])
    };

    // Worker 0 crashes (what its kubelet would report).
    pods.patch_status(
        &crashing.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "phase": "Failed",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "locust-worker",
                "image": "locustio/locust:2.43.1",
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }],
        }})),
    )
    .await
    .expect("mark worker 0 Failed");

    let replacement = eventually("a new Running pod for worker index 0", PHASE, || async {
        let list = pods.list(&workers).await.map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .find(|p| index(p) == "0" && p.uid() != crashing.uid() && phase(p) == "Running")
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    let same = pods.get(&other.name_any()).await.expect("worker 1");
    assert_eq!(same.uid(), other.uid(), "worker 1 is not replaced");
    assert_eq!(phase(&same), "Running", "worker 1 runs on");
    let job = children(&client, &ns, "steady")
        .await
        .worker
        .expect("worker Job");
    let status = job.status.clone().unwrap_or_default();
    assert_eq!(status.failed, Some(1), "one failure counted: {status:?}");
    assert!(
        !status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Failed" && c.status == "True"),
        "the worker Job has not failed"
    );
    let test = get(&client, &ns, "steady").await;
    assert_eq!(
        common::phase(&test),
        Some(Phase::Running),
        "the test runs on with the replacement {}: {}",
        replacement.name_any(),
        common::describe(&test)
    );
    operator.assert_running();
}

/// A non-native sidecar (Istio's proxy) keeps the master pod Running after Locust exited,
/// so the master Job never finishes: the test still ends with Locust's exit, and the
/// held Job is suspended so its pod goes.
#[tokio::test]
async fn a_sidecar_holding_the_master_pod_open_does_not_hold_the_test() {
    let (client, ns, mut operator) = setup("sidecar").await;
    create(&client, &ns, &long_running("held", 1, "3600")).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let master = eventually("a Running master pod", CHILDREN, || async {
        let list = pods
            .list(&ListParams::default().labels("performance-test-pod-name=held-master"))
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    wait_phase(&client, &ns, "held", Phase::Running, PHASE).await;

    // What the kubelet reports once Locust exited 0 while the proxy runs on.
    let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
    let exited = json!({"terminated": {"exitCode": 0, "reason": "Completed",
        "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:05:00Z"}});
    let status = |name: &str, state: &serde_json::Value, ready: bool| {
        json!({"name": name, "image": "img", "imageID": "", "ready": ready,
            "restartCount": 0, "state": state})
    };
    pods.patch_status(
        &master.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "phase": "Running",
            "containerStatuses": [
                status("locust-master", &exited, false),
                status("istio-proxy", &running, true),
            ],
        }})),
    )
    .await
    .expect("report Locust exited");

    let test = wait_phase(&client, &ns, "held", Phase::Succeeded, PHASE).await;
    let completion = test.status.as_ref().and_then(|s| s.completion_time.clone());
    assert_eq!(
        completion.map(|t| t.0.to_string()),
        Some("2026-01-01T00:05:00Z".to_string()),
        "ended when Locust exited"
    );
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    eventually("the held master Job suspended", CHILDREN, || async {
        let job = jobs.get("held-master").await.map_err(|e| e.to_string())?;
        match job.spec.as_ref().and_then(|s| s.suspend) {
            Some(true) => Ok(()),
            other => Err(format!("suspend {other:?}")),
        }
    })
    .await;
    operator.assert_running();
}

/// `ttlSecondsAfterFinished`: a finished test deletes itself and its children go with it;
/// `keepFailed` keeps a failed one for inspection.
#[tokio::test]
async fn finished_tests_are_deleted_after_their_ttl_and_failures_kept_when_asked() {
    let (client, ns, mut operator) = setup("ttl").await;
    let with_ttl = |name: &str, exit: &str, keep_failed: Option<bool>| {
        let mut t = master_annotations(locust_test(name, 1), &[(annotations::EXIT_CODE, exit)]);
        t.spec.ttl_seconds_after_finished = Some(3);
        t.spec.keep_failed = keep_failed;
        t
    };
    create(&client, &ns, &with_ttl("brief", "0", Some(true))).await;
    create(&client, &ns, &with_ttl("kept", "1", Some(true))).await;
    create(&client, &ns, &with_ttl("dropped", "1", None)).await;
    let done = wait_phase(&client, &ns, "brief", Phase::Succeeded, PHASE).await;
    let finished = done.status.as_ref().and_then(|s| s.completion_time.clone());
    let tests: Api<LocustTest> = Api::namespaced(client.clone(), &ns);
    for name in ["brief", "dropped"] {
        eventually(&format!("{name} deleted"), PHASE, || async {
            match tests.get_opt(name).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(t) => Err(format!("still there: {}", common::describe(&t))),
            }
        })
        .await;
    }
    let gone = k8s_openapi::jiff::Timestamp::now();
    if let Some(finished) = finished {
        let waited = gone.as_second() - finished.0.as_second();
        assert!(
            waited >= 3,
            "deleted {waited}s after it finished, before its TTL"
        );
    }
    eventually("the deleted tests' children gone", CHILDREN, || async {
        let (b, d) = (
            children(&client, &ns, "brief").await,
            children(&client, &ns, "dropped").await,
        );
        match (
            b.master.is_none() && b.worker.is_none(),
            d.master.is_none() && d.worker.is_none(),
        ) {
            (true, true) => Ok(()),
            _ => Err(format!("brief: {}; dropped: {}", b.summary(), d.summary())),
        }
    })
    .await;
    let kept = wait_phase(&client, &ns, "kept", Phase::Failed, PHASE).await;
    common::never(
        "the kept failure deleted",
        Duration::from_secs(6),
        || async {
            match tests.get_opt("kept").await {
                Ok(Some(_)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(kept.status.is_some());
    let events = events_for(&client, &ns, "brief").await;
    assert_eq!(
        event_count(&events, "TTLExpired"),
        1,
        "{}",
        event_summary(&events)
    );
    operator.assert_running();
}

/// The default pod security passes the `restricted` Pod Security Standard: in a namespace
/// that enforces it, the API server admits the Locust pods and the test runs.
#[tokio::test]
async fn default_pods_pass_the_restricted_pod_security_standard() {
    let (client, ns, mut operator) = setup("restricted").await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let label = json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    namespaces
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect("enforce restricted");
    create(&client, &ns, &long_running("strict", 2, "3600")).await;
    wait_phase(&client, &ns, "strict", Phase::Running, PHASE).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let list = pods
        .list(&ListParams::default().labels("performance-test-name=strict"))
        .await
        .expect("pods");
    assert_eq!(list.items.len(), 3, "master and 2 workers admitted");
    let psc = list.items[0]
        .spec
        .as_ref()
        .and_then(|s| s.security_context.clone())
        .expect("a pod security context");
    assert_eq!(
        (psc.run_as_non_root, psc.run_as_user),
        (Some(true), Some(1000))
    );
    operator.assert_running();
}

/// Pods the API server refuses (here: Pod Security admission) show in PodsHealthy with the
/// API server's own words, instead of "no pod of the test exists yet" for ever.
#[tokio::test]
async fn pods_the_api_server_refuses_show_why() {
    let (client, ns, mut operator) = setup("refused").await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let label =
        json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    namespaces
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&label))
        .await
        .expect("enforce restricted");
    let mut test = long_running("rooted", 1, "3600");
    test.spec.security = Some(locust_k8s_operator::api::v2::SecuritySpec {
        pod_security_context: Some(k8s_openapi::api::core::v1::PodSecurityContext {
            run_as_non_root: Some(false),
            run_as_user: Some(0),
            ..Default::default()
        }),
        container_security_context: None,
    });
    create(&client, &ns, &test).await;
    let seen = wait_status(
        &client,
        &ns,
        "rooted",
        "PodsHealthy=False/PodCreateFailed",
        PHASE,
        |t| condition(t, "PodsHealthy").is_some_and(|c| c.reason == "PodCreateFailed"),
    )
    .await;
    let c = condition(&seen, "PodsHealthy").expect("PodsHealthy");
    assert_eq!(c.status, "False");
    assert!(
        c.message.contains("violates PodSecurity") && c.message.contains("rooted-"),
        "{}",
        c.message
    );
    operator.assert_running();
}
