//! What GitOps tools read from a LocustTest's status, on tests the operator runs against a
//! real control plane: kstatus (sigs.k8s.io/cli-utils, the library behind Flux's health
//! checks, kpt and the cli-utils applier; run as the real library by `kstatus` from
//! `tests/cluster/kstatus`) and the Argo CD health check shipped in
//! `docs/argocd/health.lua` (run in Lua 5.1, Argo CD's dialect). A running test is in
//! progress, a succeeded one is done and healthy, a failed one, or one that cannot start
//! until someone acts, is failed/degraded: never "done" while it still runs.

use crate::chart_common;
use crate::common;

use std::time::Duration;

use common::{Operator, OperatorOptions, annotations, locust_test, wait_phase, wait_status};
use locust_k8s_operator::api::status::Phase;
use serde_json::Value;

const PHASE: Duration = Duration::from_secs(90);
/// The Argo CD health check users install.
const HEALTH_LUA: &str = include_str!("../../docs/argocd/health.lua");

/// The test as the API server returns it (`kubectl get -o json`), as GitOps tools see it.
fn live(kubeconfig: &std::path::Path, ns: &str, name: &str) -> String {
    let (ok, out, err) = chart_common::kubectl(
        kubeconfig,
        &["-n", ns, "get", "locusttest.locust.io", name, "-o", "json"],
        None,
    );
    assert!(ok, "kubectl get {ns}/{name}: {err}");
    out
}

/// kstatus's verdict on `object` (JSON): (status, message).
fn kstatus(object: &str) -> (String, String) {
    let (ok, out, err) = chart_common::run(&chart_common::tool("kstatus"), &[], Some(object));
    assert!(ok, "kstatus failed: {err}");
    let line = out.lines().next().unwrap_or_default();
    let (status, message) = line.split_once('\t').unwrap_or((line, ""));
    (status.to_string(), message.to_string())
}

/// The Argo CD health check's verdict on `object` (JSON): (hs.status, hs.message).
fn argocd(object: &str) -> (String, String) {
    use mlua::LuaSerdeExt as _;
    let value: Value = serde_json::from_str(object).expect("JSON");
    let lua = mlua::Lua::new();
    let obj = lua.to_value(&value).expect("obj as a Lua table");
    lua.globals().set("obj", obj).expect("set obj");
    let hs: mlua::Table = lua
        .load(HEALTH_LUA)
        .set_name("health.lua")
        .eval()
        .expect("health.lua runs");
    (
        hs.get("status").expect("hs.status"),
        hs.get("message").expect("hs.message"),
    )
}

/// Both verdicts on the live object, with the object in failure messages.
fn verdicts(
    kubeconfig: &std::path::Path,
    ns: &str,
    name: &str,
) -> ((String, String), (String, String), String) {
    let object = live(kubeconfig, ns, name);
    (kstatus(&object), argocd(&object), object)
}

#[tokio::test]
async fn kstatus_and_argo_cd_read_a_test_as_running_then_finished() {
    let cluster = common::cluster().await;
    let client = common::admin().await;
    let ns = common::namespace("gitops").await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut operator = Operator::start("gitops", OperatorOptions::new(&kubeconfig, &ns));
    let admin = cluster.kubeconfig();

    let slow = common::master_annotations(
        locust_test("passes", 1),
        &[(annotations::RUN_SECONDS, "15")],
    );
    let slow = common::worker_annotations(slow, &[(annotations::RUN_SECONDS, "15")]);
    common::create(&client, &ns, &slow).await;
    let failing =
        common::master_annotations(locust_test("fails", 1), &[(annotations::EXIT_CODE, "1")]);
    common::create(&client, &ns, &failing).await;
    let mut lost = locust_test("lost", 1);
    if let Some(files) = lost.spec.test_files.as_mut() {
        files.config_map_ref = Some("no-such-locustfile".into());
    }
    common::create(&client, &ns, &lost).await;

    // Running: in progress for both.
    wait_phase(&client, &ns, "passes", Phase::Running, PHASE).await;
    let ((ks, ks_message), (health, message), object) = verdicts(admin, &ns, "passes");
    let seen: Value = serde_json::from_str(&object).expect("JSON");
    assert_eq!(
        seen["status"]["phase"], "Running",
        "still running (15 s):\n{object}"
    );
    assert_eq!(ks, "InProgress", "{ks_message}\n{object}");
    assert_eq!(ks_message, "the test is running");
    assert_eq!(health, "Progressing", "{message}\n{object}");
    assert_eq!(message, "Running: the test is running");

    // Succeeded: current and healthy, with the verdict.
    wait_phase(&client, &ns, "passes", Phase::Succeeded, PHASE).await;
    let ((ks, ks_message), (health, message), object) = verdicts(admin, &ns, "passes");
    assert_eq!(ks, "Current", "{ks_message}\n{object}");
    assert_eq!(health, "Healthy", "{message}\n{object}");
    assert!(message.starts_with("TestSucceeded: "), "{message}");

    // Failed: failed and degraded, with the verdict the Ready condition gives.
    let failed = wait_phase(&client, &ns, "fails", Phase::Failed, PHASE).await;
    let ready = common::condition(&failed, "Ready").expect("Ready").clone();
    let ((ks, ks_message), (health, message), object) = verdicts(admin, &ns, "fails");
    assert_eq!(ks, "Failed", "{ks_message}\n{object}");
    assert_eq!(ks_message, ready.message, "kstatus shows why");
    assert_eq!(health, "Degraded", "{message}\n{object}");
    assert_eq!(message, format!("{}: {}", ready.reason, ready.message));

    // Cannot start until someone creates the ConfigMap: stalled, not in progress forever.
    wait_status(
        &client,
        &ns,
        "lost",
        "Ready False (ConfigMapMissing)",
        PHASE,
        |t| common::condition(t, "Ready").is_some_and(|c| c.reason == "ConfigMapMissing"),
    )
    .await;
    let ((ks, ks_message), (health, message), object) = verdicts(admin, &ns, "lost");
    assert_eq!(ks, "Failed", "{ks_message}\n{object}");
    assert!(ks_message.contains("no-such-locustfile"), "{ks_message}");
    assert_eq!(health, "Degraded", "{message}\n{object}");
    assert!(message.starts_with("ConfigMapMissing: "), "{message}");
    operator.assert_running();
}

#[test]
fn the_argo_cd_check_handles_objects_without_a_status() {
    let (health, message) = argocd(
        r#"{"apiVersion": "locust.io/v2", "kind": "LocustTest",
        "metadata": {"name": "new", "generation": 1}, "spec": {}}"#,
    );
    assert_eq!(health, "Progressing");
    assert_eq!(message, "waiting for the operator to start the test");
    let (health, message) = argocd(
        r#"{"status": {"phase": "Failed", "conditions": [{"type": "PodsHealthy", "status": "False"}]}}"#,
    );
    assert_eq!(
        (health.as_str(), message.as_str()),
        ("Degraded", "the test failed")
    );
}
