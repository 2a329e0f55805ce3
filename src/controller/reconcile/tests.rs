//! The reconcile against a scripted API server (tower-test), for the answers a real one
//! rarely gives: 409 on a create, 403/422 refusals, 429/500, a deleted child, an edited
//! spec, leadership lost. The common paths are proven against a real control plane in
//! `tests/integration/controller.rs`.
//!
//! The fake answers like an API server where nothing exists: GETs are 404, lists empty,
//! creates and patches echo their object; a test's [`Script`] overrides single answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use kube::Client;
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::reconcile;
use crate::api::status::{LocustTestStatus, Phase};
use crate::api::v2::LocustTest;
use crate::builders::test_support::minimal;
use crate::config::{ControllerConfig, OperatorConfig};
use crate::controller::APPLIED_SPEC_ANNOTATION;
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::metrics::{Metrics, Readiness};
use crate::status::conditions::{self, FALSE, TEST_COMPLETED, TRUE};

/// One request the fake received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path without the query.
    path: String,
    body: Value,
}

/// An answer: status code and JSON body.
type Answer = (u16, Value);

/// Overrides: given the method, the path and how many requests with that method and path
/// came before, an answer, or `None` for the fake's default.
type Script = Box<dyn Fn(&str, &str, usize) -> Option<Answer> + Send + Sync>;

fn no_script() -> Script {
    Box::new(|_, _, _| None)
}

/// A `Status` failure as the API server sends it.
fn status(code: u16, reason: &str, message: &str) -> Answer {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    (code, body)
}

/// The fake's answer when the script has none.
fn default_answer(method: &str, path: &str, body: &Value, test: &Value) -> Answer {
    let last = path.rsplit('/').next().unwrap_or_default();
    match method {
        "GET" if last == "pods" => (
            200,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}),
        ),
        "GET" if path.contains("/configmaps/") => (
            200,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": last}}),
        ),
        "GET" => status(404, "NotFound", &format!("{last} not found")),
        "POST" => {
            let mut created = body.clone();
            created["metadata"]["uid"] = json!(format!("uid-{}", created["metadata"]["name"]));
            (201, created)
        }
        "PATCH" if last == "status" => {
            let mut written = test.clone();
            written["status"] = body["status"].clone();
            (200, written)
        }
        "PATCH" if path.contains("/locusttests/") => {
            let mut written = test.clone();
            if let Some(annotations) = body["metadata"]["annotations"].as_object() {
                for (k, v) in annotations {
                    written["metadata"]["annotations"][k] = v.clone();
                }
            }
            (200, written)
        }
        _ => (200, body.clone()),
    }
}

/// A client whose requests the fake answers; what it saw.
fn fake_api(test: &LocustTest, script: Script) -> (Client, Arc<Mutex<Vec<Seen>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    let test = serde_json::to_value(test).expect("a test serialises");
    tokio::spawn(async move {
        while let Some((request, reply)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.expect("a body").to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (method, path) = (parts.method.to_string(), parts.uri.path().to_string());
            let before = log
                .lock()
                .expect("the log")
                .iter()
                .filter(|s: &&Seen| s.method == method && s.path == path)
                .count();
            let (code, answer) = script(&method, &path, before)
                .unwrap_or_else(|| default_answer(&method, &path, &body, &test));
            log.lock()
                .expect("the log")
                .push(Seen { method, path, body });
            let response = Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                .expect("a response");
            reply.send_response(response);
        }
    });
    (Client::new(service, "default"), seen)
}

/// The operator's defaults, as `run` would read them with only POD_NAME set.
fn settings() -> ControllerConfig {
    ControllerConfig::from_vars(crate::config::test_vars(&[("POD_NAME", "unit")]))
        .expect("the defaults are valid")
}

/// Reconciles `test` once against the fake; the action (or error) and what it saw.
async fn reconcile_once(
    test: LocustTest,
    script: Script,
    leader: bool,
) -> (Result<Action, Error>, Vec<Seen>) {
    let (_keep, leader) = watch::channel(leader);
    reconcile_with(test, script, leader).await
}

/// [`reconcile_once`] with a leadership flag the script may change.
async fn reconcile_with(
    test: LocustTest,
    script: Script,
    leader: watch::Receiver<bool>,
) -> (Result<Action, Error>, Vec<Seen>) {
    let (client, seen) = fake_api(&test, script);
    let ctx = Context::new(
        client,
        OperatorConfig::default(),
        settings(),
        leader,
        Arc::new(Metrics::new().expect("metrics")),
        Readiness::new(),
    );
    let result = reconcile(Arc::new(test), Arc::new(ctx)).await;
    let seen = seen.lock().expect("the log").clone();
    (result, seen)
}

/// A new test, as the API server stores it.
fn new_test() -> LocustTest {
    let mut t = minimal();
    t.metadata.uid = Some("uid-demo".into());
    t.metadata.generation = Some(1);
    t
}

/// A test that started (spec recorded, children once created) and is running.
fn running_test() -> LocustTest {
    let mut t = new_test();
    let spec = serde_json::to_string(&t.spec).expect("a spec");
    t.metadata.annotations = Some(BTreeMap::from([(APPLIED_SPEC_ANNOTATION.into(), spec)]));
    let mut status = LocustTestStatus {
        phase: Some(Phase::Running),
        observed_generation: Some(1),
        ..LocustTestStatus::default()
    };
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    crate::status::set_condition(
        &mut status.conditions,
        conditions::condition(TEST_COMPLETED, FALSE, "TestInProgress", "running", 1),
        &now,
    );
    t.status = Some(status);
    t
}

/// An existing child of `running_test`, answering a GET.
fn child(kind: &str, name: &str) -> Answer {
    let api_version = if kind == "Job" { "batch/v1" } else { "v1" };
    let body = json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {
            "name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "labels": {"app.kubernetes.io/managed-by": "locust-k8s-operator"},
            "ownerReferences": [{"apiVersion": "locust.io/v2", "kind": "LocustTest",
                "name": "demo", "uid": "uid-demo", "controller": true}],
        },
        "spec": {},
    });
    (200, body)
}

fn posts<'a>(seen: &'a [Seen], resource: &str) -> Vec<&'a Seen> {
    let suffix = format!("/{resource}");
    seen.iter()
        .filter(|s| s.method == "POST" && s.path.ends_with(&suffix))
        .collect()
}

/// The status written through the status subresource, if any.
fn written_status(seen: &[Seen]) -> Option<LocustTestStatus> {
    let patch = seen
        .iter()
        .rfind(|s| s.method == "PATCH" && s.path.ends_with("/status"))?;
    Some(serde_json::from_value(patch.body["status"].clone()).expect("a status"))
}

/// `(type, reason, note)` of every event published.
fn events(seen: &[Seen]) -> Vec<(String, String, String)> {
    posts(seen, "events")
        .into_iter()
        .map(|s| {
            let field = |k: &str| s.body[k].as_str().unwrap_or_default().to_string();
            (field("type"), field("reason"), field("note"))
        })
        .collect()
}

fn ready(status: &LocustTestStatus) -> (String, String, String) {
    let c = conditions::find(&status.conditions, conditions::READY).expect("a Ready condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// The master Job's create answered `code`.
fn refuse_master_job(code: u16, reason: &'static str, message: &'static str) -> Script {
    Box::new(move |method, path, _| {
        (method == "POST" && path.ends_with("/jobs")).then(|| status(code, reason, message))
    })
}

#[tokio::test]
async fn a_new_test_gets_its_children_and_a_pending_status() {
    let (result, seen) = reconcile_once(new_test(), no_script(), true).await;
    // No pod yet: looked at again in 6 s, when a Job still without pods has its
    // FailedCreate events read.
    assert_eq!(
        result.expect("reconciled"),
        Action::requeue(Duration::from_secs(6))
    );
    assert_eq!(posts(&seen, "services").len(), 1);
    assert_eq!(posts(&seen, "jobs").len(), 2);
    let record = seen
        .iter()
        .position(|s| s.method == "PATCH" && s.path.ends_with("/locusttests/demo"))
        .expect("the spec is recorded");
    let first_create = seen
        .iter()
        .position(|s| s.method == "POST")
        .expect("a create");
    assert!(
        record < first_create,
        "the spec is recorded before any child"
    );
    let status = written_status(&seen).expect("a status");
    assert_eq!(status.phase, Some(Phase::Pending));
    assert_eq!(ready(&status).1, "ResourcesCreated");
    let events = events(&seen);
    assert!(
        events.iter().any(|(t, r, n)| t == "Normal"
            && r == "ResourcesCreated"
            && n.contains("Job demo-master")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_create_refused_with_403_or_422_blocks_the_test_with_create_failed() {
    for (code, reason, message) in [
        (
            403,
            "Forbidden",
            "jobs \"demo-master\" is forbidden: exceeded quota: compute",
        ),
        (
            422,
            "Invalid",
            "Job.batch \"demo-master\" is invalid: spec.template: Invalid value",
        ),
    ] {
        let (result, seen) =
            reconcile_once(new_test(), refuse_master_job(code, reason, message), true).await;
        assert_eq!(
            result.expect("a refusal is no reconcile error"),
            Action::requeue(Duration::from_secs(30)),
            "{code}: looked at again later"
        );
        let status = written_status(&seen).expect("a status");
        let (ready_status, ready_reason, ready_message) = ready(&status);
        assert_eq!(
            (ready_status.as_str(), ready_reason.as_str()),
            (FALSE, "CreateFailed")
        );
        assert!(
            ready_message.contains("the API server refused to create Job demo-master")
                && ready_message.contains(message),
            "{code}: {ready_message}"
        );
        assert_eq!(status.phase, Some(Phase::Pending));
        let events = events(&seen);
        assert!(
            events
                .iter()
                .any(|(t, r, n)| t == "Warning" && r == "CreateFailed" && n.contains(message)),
            "{code}: {events:?}"
        );
    }
}

#[tokio::test]
async fn throttling_and_server_errors_on_create_are_retried_not_shown_as_refusals() {
    for (code, reason) in [(429, "TooManyRequests"), (500, "InternalError")] {
        let (result, seen) = reconcile_once(
            new_test(),
            refuse_master_job(code, reason, "try again"),
            true,
        )
        .await;
        let error = result.expect_err("a transient error fails the reconcile");
        assert_eq!(error.label(), "KubeError", "{code}: {error}");
        assert!(error.to_string().contains("creating a child"), "{error}");
        assert!(
            written_status(&seen).is_none(),
            "{code}: no status is written, the error policy retries"
        );
        assert!(events(&seen).iter().all(|(_, r, _)| r != "CreateFailed"));
    }
}

#[tokio::test]
async fn a_409_on_create_takes_the_existing_child_and_creates_nothing_twice() {
    // The Service was created by another reconcile between the read and the create.
    let script: Script = Box::new(|method, path, before| {
        let service = path.ends_with("/services/demo-master");
        match method {
            "POST" if path.ends_with("/services") => Some(status(
                409,
                "AlreadyExists",
                "services \"demo-master\" already exists",
            )),
            "GET" if service && before > 0 => Some(child("Service", "demo-master")),
            _ => None,
        }
    });
    let (result, seen) = reconcile_once(new_test(), script, true).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        posts(&seen, "services").len(),
        1,
        "one create, never repeated"
    );
    let status = written_status(&seen).expect("a status");
    assert_eq!(
        ready(&status).1,
        "ResourcesCreated",
        "the three children exist"
    );
    let created: Vec<_> = events(&seen)
        .into_iter()
        .filter(|(_, r, _)| r == "ResourcesCreated")
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(
        !created[0].2.contains("Service"),
        "only what this reconcile created is named: {created:?}"
    );
}

#[tokio::test]
async fn a_child_deleted_while_running_is_recreated_with_a_warning() {
    let script: Script = Box::new(|method, path, _| match method {
        "GET" if path.ends_with("/services/demo-master") => Some(child("Service", "demo-master")),
        "GET" if path.ends_with("/jobs/demo-master") => Some(child("Job", "demo-master")),
        _ => None,
    });
    let (result, seen) = reconcile_once(running_test(), script, true).await;
    assert!(result.is_ok(), "{result:?}");
    let jobs = posts(&seen, "jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].body["metadata"]["name"], "demo-worker");
    assert!(posts(&seen, "services").is_empty());
    assert!(
        !seen.iter().any(|s| s.path.ends_with("/locusttests/demo")),
        "the recorded spec is not written again"
    );
    let events = events(&seen);
    assert!(
        events.iter().any(|(t, r, n)| t == "Warning"
            && r == "ChildRecreated"
            && n.contains("Job demo-worker")),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_edited_spec_is_not_applied_and_raises_spec_drifted() {
    let mut test = running_test();
    test.spec.worker.replicas = 5;
    test.metadata.generation = Some(2);
    let script: Script = Box::new(|method, path, _| match method {
        "GET" if path.ends_with("/services/demo-master") => Some(child("Service", "demo-master")),
        "GET" if path.contains("/jobs/") => Some(child("Job", path.rsplit('/').next()?)),
        _ => None,
    });
    let (result, seen) = reconcile_once(test, script, true).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        seen.iter()
            .all(|s| s.method != "POST" || s.path.ends_with("/events"))
    );
    let status = written_status(&seen).expect("a status");
    let drifted =
        conditions::find(&status.conditions, conditions::SPEC_DRIFTED).expect("SpecDrifted");
    assert_eq!(
        (drifted.status.as_str(), drifted.reason.as_str()),
        (TRUE, "SpecChangeIgnored")
    );
    assert_eq!(
        drifted.observed_generation,
        Some(1),
        "describes the started generation"
    );
    assert_eq!(
        status.expected_workers,
        Some(2),
        "the started spec's workers"
    );
    assert!(
        events(&seen)
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "SpecDrifted")
    );
}

#[tokio::test]
async fn a_replica_that_does_not_lead_sends_nothing() {
    let (result, seen) = reconcile_once(new_test(), no_script(), false).await;
    assert_eq!(
        result.expect("not leading is no error"),
        Action::await_change()
    );
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn an_invalid_test_waits_for_a_fix_and_creates_nothing() {
    let mut test = new_test();
    test.spec.master.command = "locust --headless -f /lotest/src/locustfile.py".into();
    let (result, seen) = reconcile_once(test, no_script(), true).await;
    assert_eq!(result.expect("blocked"), Action::await_change());
    assert!(posts(&seen, "jobs").is_empty() && posts(&seen, "services").is_empty());
    let (status, reason, message) = ready(&written_status(&seen).expect("a status"));
    assert_eq!((status.as_str(), reason.as_str()), (FALSE, "InvalidSpec"));
    assert!(message.contains("spec.master.command"), "{message}");
}

#[tokio::test]
async fn leadership_lost_mid_reconcile_stops_before_the_next_write() {
    let (lose, leader) = watch::channel(true);
    // Leadership ends while the spec is being recorded: no child may be created after.
    let script: Script = Box::new(move |method, path, _| {
        if method == "PATCH" && path.ends_with("/locusttests/demo") {
            lose.send_replace(false);
        }
        None
    });
    let (result, seen) = reconcile_with(new_test(), script, leader).await;
    assert_eq!(
        result.expect("not leading is no error"),
        Action::await_change()
    );
    assert!(
        seen.iter().any(|s| s.method == "PATCH"),
        "the spec record was sent while leading"
    );
    assert!(posts(&seen, "jobs").is_empty() && posts(&seen, "services").is_empty());
    assert!(written_status(&seen).is_none(), "{seen:?}");
}

#[tokio::test]
async fn a_missing_config_map_blocks_the_test_and_looks_again_later() {
    let script: Script = Box::new(|method, path, _| {
        (method == "GET" && path.ends_with("/configmaps/demo-locustfile"))
            .then(|| status(404, "NotFound", "configmaps \"demo-locustfile\" not found"))
    });
    let (result, seen) = reconcile_once(new_test(), script, true).await;
    assert_eq!(
        result.expect("blocked"),
        Action::requeue(Duration::from_secs(30))
    );
    assert!(posts(&seen, "jobs").is_empty());
    let (_, reason, message) = ready(&written_status(&seen).expect("a status"));
    assert_eq!(reason, "ConfigMapMissing");
    assert!(
        message.contains("demo-locustfile") && message.contains("spec.testFiles"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_claim_blocks_the_test_and_looks_again_later() {
    let mut test = new_test();
    let files = test.spec.test_files.get_or_insert_default();
    files.config_map_ref = None;
    files.persistent_volume_claim = Some(crate::api::v2::PvcTestFiles {
        claim_name: "big-tests".into(),
        ..Default::default()
    });
    let script: Script = Box::new(|method, path, _| {
        (method == "GET" && path.ends_with("/persistentvolumeclaims/big-tests")).then(|| {
            status(
                404,
                "NotFound",
                "persistentvolumeclaims \"big-tests\" not found",
            )
        })
    });
    let (result, seen) = reconcile_once(test, script, true).await;
    assert_eq!(
        result.expect("blocked"),
        Action::requeue(Duration::from_secs(30))
    );
    assert!(posts(&seen, "jobs").is_empty());
    let (_, reason, message) = ready(&written_status(&seen).expect("a status"));
    assert_eq!(reason, "PersistentVolumeClaimMissing");
    assert!(
        message.contains("\"big-tests\"")
            && message.contains("spec.testFiles.persistentVolumeClaim.claimName"),
        "{message}"
    );
}
