//! What every end-to-end test needs: a client of the real node's cluster, kubectl, fresh
//! namespaces, the checkout example, status polling and Locust's own output files.
//!
//! `tests/e2e/run.sh` (`make e2e`) sets the environment read here after it brought the
//! node up and installed the chart: `E2E_KUBECONFIG` (admin kubeconfig), `E2E_KUBECTL`,
//! `E2E_RESULTS_DIR` (a host folder the tests mount into master pods with `hostPath`, to
//! read Locust's own `--json-file`) and `E2E_OPERATOR_NAMESPACE` (the Helm release's).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;

use crate::common;

/// How long a small test may take from apply to its final phase on the real node
/// (image already present; Locust's run, autoquit and the settle time included).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the end-to-end tests run on the real node, through `make e2e`")
    })
}

/// The admin kubeconfig's path.
pub fn kubeconfig() -> PathBuf {
    PathBuf::from(env("E2E_KUBECONFIG"))
}

/// The Helm release's namespace.
pub fn operator_namespace() -> String {
    env("E2E_OPERATOR_NAMESPACE")
}

/// An admin client of the real node's cluster.
pub async fn client() -> Client {
    let path = kubeconfig();
    let config =
        Kubeconfig::read_from(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    Client::try_from(config).expect("client")
}

/// Runs kubectl as the admin; `Ok(stdout)` or `Err(stderr)`.
pub fn kubectl_result(args: &[&str]) -> Result<String, String> {
    let out = Command::new(env("E2E_KUBECTL"))
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .output()
        .expect("kubectl runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs kubectl as the admin and returns its output; panics with its error otherwise.
pub fn kubectl(args: &[&str]) -> String {
    kubectl_result(args).unwrap_or_else(|e| panic!("kubectl {}: {e}", args.join(" ")))
}

/// A fresh namespace named `<prefix>-<n>`.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let api: Api<Namespace> = Api::all(client.clone());
    for n in 0.. {
        let name = format!("{prefix}-{}-{n}", std::process::id());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => return name,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => panic!("creating namespace {name}: {e}"),
        }
    }
    unreachable!("an unbounded range ends only by returning")
}

/// The repository's `examples/<file>`.
pub fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(file)
}

/// A folder on the host, shared with pods as a `hostPath` volume, for one test.
pub fn results_dir(ns: &str) -> PathBuf {
    let dir = PathBuf::from(env("E2E_RESULTS_DIR")).join(ns);
    std::fs::create_dir_all(&dir).expect("results folder");
    // Locust runs as uid 1000 in its image.
    let status = Command::new("chmod")
        .arg("0777")
        .arg(&dir)
        .status()
        .expect("chmod");
    assert!(status.success(), "chmod {}", dir.display());
    dir
}

/// Locust's own totals from a `--json-file` it wrote: (requests, failures).
pub fn json_file_totals(path: &Path) -> (i64, i64) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("Locust's json file {}: {e}", path.display()));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    let sum = |key: &str| entries.iter().map(|e| e[key].as_i64().unwrap_or(0)).sum();
    (sum("num_requests"), sum("num_failures"))
}

/// Waits for `phase` and returns the test.
pub async fn wait_phase(client: &Client, ns: &str, name: &str, phase: Phase) -> LocustTest {
    common::wait_phase(client, ns, name, phase, RUN_TIMEOUT).await
}

/// Waits until `name` Succeeded with requests in its `status.result`, and returns it.
pub async fn wait_succeeded_with_requests(client: &Client, ns: &str, name: &str) -> LocustTest {
    let done = wait_phase(client, ns, name, Phase::Succeeded).await;
    assert!(
        done.status
            .as_ref()
            .and_then(|s| s.result.as_ref())
            .is_some_and(|r| r.total_requests > 0),
        "Locust's result with requests: {}",
        common::describe(&done)
    );
    done
}

/// Waits until condition `type_` has `reason` and returns the test.
pub async fn wait_reason(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
    reason: &str,
) -> LocustTest {
    common::wait_status(
        client,
        ns,
        name,
        &format!("{type_} reason {reason}"),
        RUN_TIMEOUT,
        |t| common::condition(t, type_).is_some_and(|c| c.reason == reason),
    )
    .await
}

/// Applies a LocustTest given as YAML with kubectl (what a user does).
pub fn apply_yaml(ns: &str, yaml: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.yaml");
    std::fs::write(&path, yaml).expect("write yaml");
    let path = path.display().to_string();
    kubectl_result(&["apply", "-n", ns, "-f", &path])
}

/// Applies the shared target and locustfiles (tests/e2e/manifests/target.yaml) to `ns`.
pub fn prepare(ns: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/manifests/target.yaml");
    kubectl(&["apply", "-n", ns, "-f", &path.display().to_string()]);
    // Tests start load at once: the target must answer first.
    kubectl(&[
        "rollout",
        "status",
        "-n",
        ns,
        "deployment/target",
        "--timeout=180s",
    ]);
}

/// A small LocustTest against the shared target: `locustfile` (`ok.py` or `fail.py`),
/// 5 users for `run_time`, one worker, autoquit after 10 s. Tests adjust the JSON.
pub fn small_test(name: &str, locustfile: &str, run_time: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name},
        "spec": {
            "image": "locustio/locust:2.43.1",
            "master": {
                "command": format!(
                    "locust -f /lotest/src/{locustfile} --host http://target:8080 \
                     --users 5 --spawn-rate 5 --run-time {run_time}"
                ),
                "autoquit": {"enabled": true, "timeout": 10}
            },
            "worker": {"command": format!("locust -f /lotest/src/{locustfile}"), "replicas": 1},
            "testFiles": {"configMapRef": "locustfiles"}
        }
    })
}

/// Applies an object given as JSON with kubectl.
pub fn apply_json(ns: &str, object: &serde_json::Value) -> Result<String, String> {
    apply_yaml(ns, &object.to_string())
}
