//! Moving from the Go `locust-k8s-operator` v2.3: tests and children the Go operator
//! created (written by the stand-in in `common/go_operator.rs`, its pods played by kwok)
//! are adopted by this operator, which follows them to the end without creating a second
//! copy of anything, and the Go operator's `locust.io/cleanup` finalizer is removed (and
//! only it) so deleting a test no longer hangs. The operator runs as a subprocess with the
//! rules of `config/rbac/role.yaml`, watching the test's namespace.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::go_operator::{self as go, FINALIZER};
use common::{
    Operator, OperatorOptions, annotations, condition, event_count, event_summary, events_for,
    eventually, get, locust_test, master_annotations, never, wait_phase, wait_status,
    worker_annotations,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::controller::APPLIED_SPEC_ANNOTATION;

const ADOPTED: Duration = Duration::from_secs(30);
/// How long the status may lag behind the Go master Job's completion: watch-driven, not the
/// 60 s re-sync a test nobody watches would wait for.
const FOLLOWS: Duration = Duration::from_secs(15);

/// A test whose Go pods run `seconds`, then succeed.
fn go_test(name: &str, workers: i32, seconds: &str) -> LocustTest {
    let t = locust_test(name, workers);
    let t = master_annotations(t, &[(annotations::RUN_SECONDS, seconds)]);
    worker_annotations(t, &[(annotations::RUN_SECONDS, seconds)])
}

fn labels(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// Sorted names of the Jobs and Services in `ns`.
async fn job_and_service_names(client: &Client, ns: &str) -> (Vec<String>, Vec<String>) {
    let mut jobs: Vec<String> = Api::<Job>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list jobs")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let mut services: Vec<String> = Api::<Service>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list services")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    jobs.sort();
    services.sort();
    (jobs, services)
}

/// Waits until the Go operator's Job `name` has completed.
async fn wait_job_complete(client: &Client, ns: &str, name: &str) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    eventually(
        &format!("Job {name} complete"),
        Duration::from_secs(90),
        || async {
            let job = jobs.get(name).await.map_err(|e| e.to_string())?;
            let conditions = job.status.and_then(|s| s.conditions).unwrap_or_default();
            conditions
                .iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
                .then_some(())
                .ok_or_else(|| format!("{conditions:?}"))
        },
    )
    .await;
}

/// Two tests the Go operator started and left running (a plain name, where its child
/// names equal this operator's, and a dotted one, where they differ), with its pods
/// running. This operator takes them over: the Go Jobs and Service get its labels and
/// nothing is created beside them, the workers are counted from the Go operator's pods,
/// the status turns Succeeded as soon as the Go master Job completes, and the Go
/// operator's finalizer is removed while another finalizer stays.
#[tokio::test]
async fn go_started_tests_are_adopted_without_duplicates_and_followed_to_the_end() {
    let client = common::admin().await;
    let ns = common::namespace("go-adopt").await;
    let plain = go::start(
        &client,
        &ns,
        go_test("legacy", 2, "25"),
        &["example.com/keep"],
        "Running",
    )
    .await;
    let dotted = go::start(
        &client,
        &ns,
        go_test("team.legacy", 1, "25"),
        &[],
        "Running",
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    eventually(
        "the Go operator's 5 pods Running",
        Duration::from_secs(60),
        || async {
            let running = pods
                .list(&ListParams::default().labels("managed-by=locust-k8s-operator"))
                .await
                .map_err(|e| e.to_string())?
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            (running == 5)
                .then_some(())
                .ok_or(format!("{running} Running"))
        },
    )
    .await;

    let kubeconfig = common::operator_kubeconfig().await;
    let mut operator = Operator::start("go-adopt", OperatorOptions::new(&kubeconfig, &ns));

    // Adopted: the operator's labels on the Go operator's Jobs and Service, in place.
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    for (test, master, worker) in [
        (&plain, "legacy-master", "legacy-worker"),
        (&dotted, "team-legacy-master", "team-legacy-worker"),
    ] {
        eventually(&format!("{} adopted", test.name_any()), ADOPTED, || async {
            let mut seen = Vec::new();
            for (meta, component) in [
                (
                    jobs.get(master).await.map_err(|e| e.to_string())?.metadata,
                    "master",
                ),
                (
                    jobs.get(worker).await.map_err(|e| e.to_string())?.metadata,
                    "worker",
                ),
                (
                    services
                        .get(master)
                        .await
                        .map_err(|e| e.to_string())?
                        .metadata,
                    "master",
                ),
            ] {
                let l = labels(&meta);
                let ok = l.get("app.kubernetes.io/managed-by").map(String::as_str)
                    == Some("locust-k8s-operator")
                    && l.get("app.kubernetes.io/component").map(String::as_str) == Some(component);
                if !ok {
                    seen.push(format!("{}: {l:?}", meta.name.unwrap_or_default()));
                }
            }
            seen.is_empty().then_some(()).ok_or(seen.join("; "))
        })
        .await;
        common::assert_owned_by(
            &format!("Job {master}"),
            &jobs.get(master).await.expect("job").metadata,
            test,
        );
    }

    // The status follows the Go operator's pods: its two worker pods count as connected
    // (its Service does not expose Locust's API, so they are counted from the pods).
    let running = wait_status(
        &client,
        &ns,
        "legacy",
        "2 workers counted from the Go pods",
        ADOPTED,
        |t| {
            t.status.as_ref().and_then(|s| s.connected_workers) == Some(2)
                && condition(t, "WorkersConnected")
                    .is_some_and(|c| c.status == "True" && c.reason == "WorkersConnectedFromPods")
        },
    )
    .await;
    assert_eq!(common::phase(&running), Some(Phase::Running));
    assert!(
        running.annotations().contains_key(APPLIED_SPEC_ANNOTATION),
        "the adopted test's spec is recorded: {:?}",
        running.annotations()
    );

    // ... and to the end, as soon as the Go master Job completes.
    for (name, master) in [
        ("legacy", "legacy-master"),
        ("team.legacy", "team-legacy-master"),
    ] {
        wait_job_complete(&client, &ns, master).await;
        let done = wait_phase(&client, &ns, name, Phase::Succeeded, FOLLOWS).await;
        assert!(
            done.status
                .as_ref()
                .and_then(|s| s.completion_time.as_ref())
                .is_some(),
            "{name}: {}",
            common::describe(&done)
        );
    }

    // Nothing was created beside the Go operator's children.
    assert_eq!(
        job_and_service_names(&client, &ns).await,
        (
            vec![
                "legacy-master".to_string(),
                "legacy-worker".into(),
                "team-legacy-master".into(),
                "team-legacy-worker".into()
            ],
            vec!["legacy-master".to_string(), "team-legacy-master".into()]
        ),
        "exactly the Go operator's Jobs and Services"
    );
    for test in [&plain, &dotted] {
        let uid = test.uid().expect("uid");
        assert_eq!(common::owned_counts(&client, &ns, &uid).await, (2, 1));
        let events = events_for(&client, &ns, &test.name_any()).await;
        assert_eq!(
            event_count(&events, "Adopted"),
            1,
            "{}",
            event_summary(&events)
        );
        for reason in ["ResourcesCreated", "ChildRecreated"] {
            assert_eq!(
                event_count(&events, reason),
                0,
                "{}",
                event_summary(&events)
            );
        }
    }

    // The Go operator's finalizer is gone, the other one stays.
    assert_eq!(
        get(&client, &ns, "legacy").await.finalizers(),
        ["example.com/keep".to_string()]
    );
    assert!(
        get(&client, &ns, "team.legacy")
            .await
            .finalizers()
            .is_empty()
    );
    operator.assert_running();
}

/// A test the Go operator finished, deleted while no operator runs: the Go finalizer keeps
/// it (`kubectl delete` hangs). Once this operator runs, the deletion completes; a finished
/// test that was not deleted loses the finalizer too, so its deletion completes at once.
#[tokio::test]
async fn the_go_finalizer_is_removed_so_deletion_completes() {
    let client = common::admin().await;
    let ns = common::namespace("go-finalizer").await;
    let tests: Api<LocustTest> = Api::namespaced(client.clone(), &ns);
    go::start(&client, &ns, locust_test("deleted", 1), &[], "Succeeded").await;
    go::start(&client, &ns, locust_test("kept", 1), &[], "Succeeded").await;
    tests
        .delete("deleted", &DeleteParams::default())
        .await
        .expect("delete");
    never(
        "the deleted test going away without an operator",
        Duration::from_secs(3),
        || async {
            match tests.get_opt("deleted").await.map_err(|e| e.to_string())? {
                Some(t) if t.metadata.deletion_timestamp.is_some() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    let kubeconfig = common::operator_kubeconfig().await;
    let mut operator = Operator::start("go-finalizer", OperatorOptions::new(&kubeconfig, &ns));
    eventually("the deleted test gone", ADOPTED, || async {
        match tests.get_opt("deleted").await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(t) => Err(format!("finalizers {:?}", t.finalizers())),
        }
    })
    .await;
    eventually(
        "the Go finalizer removed from the kept test",
        ADOPTED,
        || async {
            let t = tests.get("kept").await.map_err(|e| e.to_string())?;
            (!t.finalizers().iter().any(|f| f == FINALIZER))
                .then_some(())
                .ok_or(format!("finalizers {:?}", t.finalizers()))
        },
    )
    .await;
    let kept = get(&client, &ns, "kept").await;
    assert_eq!(
        common::phase(&kept),
        Some(Phase::Succeeded),
        "{}",
        common::describe(&kept)
    );
    tests
        .delete("kept", &DeleteParams::default())
        .await
        .expect("delete");
    eventually(
        "the kept test deleted at once",
        Duration::from_secs(10),
        || async {
            match tests.get_opt("kept").await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(t) => Err(format!("finalizers {:?}", t.finalizers())),
            }
        },
    )
    .await;
    operator.assert_running();
}
