//! `locust-k8s-operator test`, the CI command, run as a pipeline runs it: the real binary
//! against the real control plane. Through the operator (kwok pods that finish as their
//! annotations say): a passing test exits 0, re-runs with `--generate-name` get their own
//! names, a failed master exits 2, a verdict on the run exits 1, and a real Locust run
//! breaking a threshold exits 1 with its numbers and its report. With a status written
//! through the status subresource while the command waits: the progress line, the JSON
//! document and the report saved from the report ConfigMap. And the ways it stops
//! early: the timeout (exit 2, the test kept or deleted), an invalid file or command line
//! (exit 3, before any request), a name that exists (exit 3).

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Operator, OperatorOptions, annotations, locust_test, master_annotations};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use locust_k8s_operator::api::v2::{LocustTest, ThresholdsSpec};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_locust-k8s-operator");

/// What one run of the command gave.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `locust-k8s-operator test` with `args`, the manifest on stdin (`-f -`), and a
/// clean environment; waits for it on a blocking thread.
async fn run_test(manifest: String, args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .arg("test")
            .args(["-f", "-"])
            .args(&args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(manifest.as_bytes())
            .expect("write stdin");
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("the binary finishes");
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    })
    .await
    .expect("the command's thread")
}

/// `--kubeconfig <admin> -n <ns>` and `extra`.
async fn args(ns: &str, extra: &[&str]) -> Vec<String> {
    let kubeconfig = common::cluster().await.kubeconfig().display().to_string();
    let mut args = vec!["--kubeconfig".into(), kubeconfig, "-n".into(), ns.into()];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn yaml(test: &LocustTest) -> String {
    locust_k8s_operator::yaml::to_yaml(test).expect("the test serialises")
}

/// A one-worker test whose simulated pods end after `seconds` (the master with `exit`).
fn ending(name: &str, seconds: &str, exit: &str) -> LocustTest {
    let t = master_annotations(
        locust_test(name, 1),
        &[
            (annotations::RUN_SECONDS, seconds),
            (annotations::EXIT_CODE, exit),
        ],
    );
    common::worker_annotations(t, &[(annotations::RUN_SECONDS, "600")])
}

async fn tests_in(client: &Client, ns: &str) -> Vec<String> {
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list tests")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect()
}

/// Waits until the tests in `ns` are exactly `names`.
async fn wait_for_tests(client: &Client, ns: &str, names: &[&str], timeout: Duration) {
    let what = format!("the tests {names:?} in {ns}");
    common::eventually(&what, timeout, || async {
        let listed = tests_in(client, ns).await;
        (listed == names).then_some(()).ok_or(format!("{listed:?}"))
    })
    .await;
}

/// A fresh namespace with an operator watching it, whose Locust poller fails at once.
async fn with_operator(prefix: &str) -> (Client, String, Operator) {
    let client = common::admin().await;
    let ns = common::namespace(prefix).await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    options.env = vec![
        ("MASTER_URL_TEMPLATE".into(), "http://127.0.0.1:1".into()),
        ("LOCUST_POLL_SECONDS".into(), "1".into()),
    ];
    (client, ns, Operator::start(prefix, options))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_test_exits_0_and_generate_name_reruns_get_their_own_names() {
    let (client, ns, mut operator) = with_operator("ci-pass").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.html");
    let manifest = yaml(&ending("smoke", "3", "0"));

    // Created without waiting; the same name again is refused, saying what to do.
    let created = run_test(manifest.clone(), args(&ns, &[]).await).await;
    assert_eq!(created.code, Some(0), "{created}");
    assert!(
        created
            .stderr
            .contains(&format!("locusttest {ns}/smoke created")),
        "{created}"
    );
    let again = run_test(manifest.clone(), args(&ns, &[]).await).await;
    assert_eq!(again.code, Some(3), "{again}");
    assert!(
        again.stderr.contains("already exists") && again.stderr.contains("--generate-name"),
        "{again}"
    );

    // Two re-runs at once: two tests, each followed to its own verdict.
    let rerun = args(
        &ns,
        &[
            "--generate-name",
            "--wait",
            "--timeout",
            "2m",
            "--json",
            "--report",
            &report.display().to_string(),
        ],
    )
    .await;
    let (a, b) = tokio::join!(
        run_test(manifest.clone(), rerun.clone()),
        run_test(manifest, rerun)
    );
    eprintln!("one re-run:\n{a}");
    let mut names = Vec::new();
    for run in [&a, &b] {
        assert_eq!(run.code, Some(0), "{run}");
        let doc = run.json();
        assert_eq!(doc["phase"], "Succeeded", "{run}");
        assert_eq!(doc["reason"], "TestSucceeded", "{run}");
        assert_eq!(doc["exitCode"], 0, "{run}");
        assert_eq!(doc["namespace"], ns.as_str(), "{run}");
        // No master answered, so there is no report; that alone does not fail the run.
        let why = doc["report"]["error"].as_str().unwrap_or_default();
        assert!(why.contains("status.reportConfigMap is not set"), "{run}");
        for line in ["phase Running", "phase Succeeded", "TestCompleted=True"] {
            assert!(run.stderr.contains(line), "{line}: {run}");
        }
        names.push(doc["name"].as_str().expect("name").to_string());
    }
    assert!(!report.exists(), "no report file without a report");
    assert_ne!(names[0], names[1], "each re-run has its own test");
    for name in &names {
        assert!(
            name.starts_with("smoke-") && name.len() == "smoke-".len() + 5,
            "{name}"
        );
    }
    let mut listed = tests_in(&client, &ns).await;
    listed.sort();
    let mut expected = vec!["smoke".to_string(), names[0].clone(), names[1].clone()];
    expected.sort();
    assert_eq!(listed, expected);
    operator.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_master_exits_2_and_a_verdict_on_the_run_exits_1() {
    let (_client, ns, mut operator) = with_operator("ci-fail").await;
    // Exit code 2 is an unhandled exception in Locust: an infrastructure failure.
    let crashed = yaml(&ending("crashed", "2", "2"));
    // Thresholds set, the master ends well, but nobody could read its numbers: a pipeline
    // must not pass on numbers nobody measured.
    let mut unmeasured = ending("unmeasured", "2", "0");
    unmeasured.spec.thresholds = Some(ThresholdsSpec {
        max_failure_ratio: Some(0.01),
        ..ThresholdsSpec::default()
    });
    let wait = args(&ns, &["--wait", "--timeout", "2m"]).await;
    let (crashed, unmeasured) = tokio::join!(
        run_test(crashed, wait.clone()),
        run_test(yaml(&unmeasured), wait)
    );
    eprintln!("{crashed}\n{unmeasured}");
    assert_eq!(crashed.code, Some(2), "{crashed}");
    assert!(
        crashed
            .stdout
            .starts_with(&format!("locusttest {ns}/crashed: Failed (MasterFailed)\n")),
        "{crashed}"
    );
    assert!(
        crashed.stdout.contains("exited with code 2")
            && crashed.stdout.ends_with("exit code 2: no verdict\n"),
        "{crashed}"
    );
    assert_eq!(unmeasured.code, Some(1), "{unmeasured}");
    assert!(
        unmeasured.stdout.starts_with(&format!(
            "locusttest {ns}/unmeasured: Failed (ResultUnavailable)\n"
        )) && unmeasured
            .stdout
            .ends_with("exit code 1: the test failed\n"),
        "{unmeasured}"
    );
    operator.assert_running();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

async fn patch_status(client: &Client, ns: &str, name: &str, status: Value) {
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("the status subresource takes the patch");
}

/// Waits for the command spawned in `command` to end within `limit` with exit `code`;
/// its run and JSON document.
async fn verdict(
    command: tokio::task::JoinHandle<Run>,
    limit: Duration,
    code: i32,
) -> (Run, Value) {
    let run = tokio::time::timeout(limit, command)
        .await
        .expect("the command ends at the verdict")
        .expect("the command's task");
    eprintln!("{run}");
    assert_eq!(run.code, Some(code), "{run}");
    let doc = run.json();
    (run, doc)
}

/// No operator here: the test writes the status the operator would, while the command
/// waits, so the command's reading of it is checked exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_written_to_the_status_exits_1_with_the_numbers_and_the_report() {
    let client = common::admin().await;
    let ns = common::namespace("ci-judged").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.html");
    let html = "<html><title>Locust</title>report of judged</html>".repeat(100);
    let command = tokio::spawn(run_test(
        yaml(&locust_test("judged", 2)),
        args(
            &ns,
            &[
                "--wait",
                "--json",
                "--report",
                &report.display().to_string(),
            ],
        )
        .await,
    ));
    wait_for_tests(&client, &ns, &["judged"], Duration::from_secs(30)).await;
    let ready = |status: &str, reason: &str, message: &str| {
        json!([{
            "type": "Ready", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z"
        }])
    };
    patch_status(
        &client,
        &ns,
        "judged",
        json!({
            "phase": "Running", "expectedWorkers": 2, "connectedWorkers": 2,
            "live": {"users": 4, "requestsPerSecond": 12.5, "failureRatio": 0.1},
            "conditions": ready("True", "ResourcesCreated", "the Service and both Jobs exist"),
        }),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("judged-report".into()),
            ..ObjectMeta::default()
        },
        binary_data: Some(
            [(
                "report.html.gz".to_string(),
                ByteString(gzip(html.as_bytes())),
            )]
            .into(),
        ),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &cm)
        .await
        .expect("the report ConfigMap");
    let message = "thresholds breached: failure ratio 10.00 % > 1.00 %";
    patch_status(
        &client,
        &ns,
        "judged",
        json!({
            "phase": "Failed", "live": null, "connectedWorkers": 0,
            "reportConfigMap": "judged-report",
            "result": {
                "totalRequests": 200, "failedRequests": 20, "failurePercentage": 10.0,
                "averageResponseTime": 12.5, "p95ResponseTime": 40.0,
                "p99ResponseTime": 80.0, "requestsPerSecond": 6.5
            },
            "conditions": ready("False", "ThresholdsBreached", message),
        }),
    )
    .await;
    let (run, doc) = verdict(command, Duration::from_secs(30), 1).await;
    assert_eq!(
        (&doc["name"], &doc["phase"], &doc["reason"], &doc["message"]),
        (
            &json!("judged"),
            &json!("Failed"),
            &json!("ThresholdsBreached"),
            &json!(message)
        ),
        "{run}"
    );
    assert_eq!(doc["result"]["totalRequests"], 200, "{run}");
    assert_eq!(doc["result"]["p95ResponseTime"], 40.0, "{run}");
    assert_eq!(doc["reportConfigMap"], "judged-report", "{run}");
    assert_eq!(doc["report"]["bytes"], html.len(), "{run}");
    assert_eq!(doc["exitCode"], 1, "{run}");
    let saved = std::fs::read_to_string(&report).expect("the report file");
    assert_eq!(saved, html);
    for line in [
        "phase Running",
        "running: 4 users, 12.50 req/s, 10.00 % failed, 2/2 workers connected",
        "phase Failed",
        &format!("Ready=False ThresholdsBreached: {message}"),
    ] {
        assert!(run.stderr.contains(line), "{line}: {run}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_exits_2_and_keeps_or_deletes_the_test() {
    // No operator: nothing ever finishes.
    let client = common::admin().await;
    let ns = common::namespace("ci-timeout").await;
    let (kept, deleted) = tokio::join!(
        run_test(
            yaml(&locust_test("kept", 1)),
            args(&ns, &["--wait", "--timeout", "3s"]).await
        ),
        run_test(
            yaml(&locust_test("deleted", 1)),
            args(
                &ns,
                &["--wait", "--timeout=3s", "--delete-unfinished", "--json"]
            )
            .await
        ),
    );
    assert_eq!(kept.code, Some(2), "{kept}");
    assert!(
        kept.stdout
            .contains("stopped waiting: timed out after 3s; the test keeps running")
            && kept.stdout.contains("kubectl delete locusttest kept"),
        "{kept}"
    );
    assert_eq!(deleted.code, Some(2), "{deleted}");
    let doc = deleted.json();
    assert_eq!(
        doc["stopped"], "timed out after 3s; the test was deleted (--delete-unfinished)",
        "{deleted}"
    );
    assert_eq!(doc["exitCode"], 2);
    wait_for_tests(&client, &ns, &["kept"], Duration::from_secs(10)).await;
}

/// A kubeconfig whose API server does not exist: any request would fail to connect.
fn unreachable_kubeconfig(dir: &Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster:\n    server: \
         https://127.0.0.1:1\ncontexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    \
         user: nobody\ncurrent-context: nowhere\nusers:\n- name: nobody\n  user:\n    token: x\n",
    )
    .expect("kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_exits_3_before_any_request() {
    let client = common::admin().await;
    let ns = common::namespace("ci-invalid").await;
    let mut bad = locust_test("bad", 0);
    bad.spec.image = String::new();
    let bad = yaml(&bad);

    // Against the real cluster: refused, every problem named, nothing created.
    let run = run_test(bad.clone(), args(&ns, &["--wait"]).await).await;
    assert_eq!(run.code, Some(3), "{run}");
    assert!(
        run.stderr
            .starts_with("error: standard input is invalid; nothing was created:\n")
            && run.stderr.contains("spec.image")
            && run.stderr.contains("spec.worker.replicas"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(tests_in(&client, &ns).await, Vec::<String>::new());

    // With an API server that does not exist the answer is the same: no request was made.
    let dir = tempfile::tempdir().expect("temp dir");
    let nowhere = unreachable_kubeconfig(dir.path()).display().to_string();
    let run = run_test(bad, vec!["--kubeconfig".into(), nowhere.clone()]).await;
    assert_eq!(run.code, Some(3), "{run}");
    assert!(run.stderr.contains("spec.image"), "{run}");
    // ... while a valid file does try to connect, and fails with exit 2.
    let good = yaml(&locust_test("good", 1));
    let run = run_test(good.clone(), vec!["--kubeconfig".into(), nowhere]).await;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains("creating locusttest default/good"),
        "{run}"
    );

    // A file in another namespace than the flag's, and a bad command line.
    let mut elsewhere = locust_test("elsewhere", 1);
    elsewhere.metadata.namespace = Some("team-a".into());
    let run = run_test(yaml(&elsewhere), args(&ns, &[]).await).await;
    assert_eq!(run.code, Some(3), "{run}");
    assert!(
        run.stderr.contains("metadata.namespace is \"team-a\""),
        "{run}"
    );
    let run = run_test(good, args(&ns, &["--report", "r.html"]).await).await;
    assert_eq!(run.code, Some(3), "{run}");
    assert!(run.stderr.contains("--wait"), "{run}");
    assert_eq!(tests_in(&client, &ns).await, Vec::<String>::new());
}

/// End to end with real Locust: the operator reads a real master (run locally with the
/// exact invocation the builders make, `MASTER_URL_TEMPLATE` pointing at it) whose run
/// fails one request in ten; a 1 % failure-ratio threshold fails the test, the command
/// exits 1 with Locust's numbers, and saves the report the operator kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_locust_run_breaching_a_threshold_exits_1_and_saves_its_report() {
    use common::local_locust::{LOCUST_VERSION, Run as LocalRun, start_target};
    use locust_k8s_operator::builders::Role;

    let target = start_target().await;
    let client = common::admin().await;
    let ns = common::namespace("ci-real").await;
    // The simulated master pod ends with the exit code a real master has after failed
    // requests, 60 s after it starts: long after the real run (8 s, then 15 s autoquit).
    let test: LocustTest = serde_json::from_value(json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "real", "namespace": ns},
        "spec": {
            "image": format!("locustio/locust:{LOCUST_VERSION}"),
            "master": {
                "command": "locust -f /lotest/src/locustfile.py",
                "autostart": true,
                "autoquit": {"enabled": true, "timeout": 15},
                "extraArgs": ["--only-summary", "--users", "4", "--spawn-rate", "4",
                              "--run-time", "8s"],
                "annotations": {
                    annotations::RUN_SECONDS: "60",
                    annotations::EXIT_CODE: "1",
                },
            },
            "worker": {
                "command": "locust -f /lotest/src/locustfile.py",
                "replicas": 1,
                "annotations": {annotations::RUN_SECONDS: "600"},
            },
            "testFiles": {"configMapRef": common::LOCUSTFILE},
            "env": {"variables": [
                {"name": "CUSTOM_VAR", "value": "static-value"},
                {"name": "TARGET_HOST", "value": format!("http://127.0.0.1:{target}")},
            ]},
            "thresholds": {"maxFailureRatio": 0.01},
        },
    }))
    .expect("a valid LocustTest");
    let mut local = LocalRun::new(&test).await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    options.env = vec![
        (
            "MASTER_URL_TEMPLATE".into(),
            format!("http://127.0.0.1:{}", local.mapping.web_port),
        ),
        ("LOCUST_POLL_SECONDS".into(), "1".into()),
    ];
    let mut operator = Operator::start("ci-real", options);
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.html");
    let command = tokio::spawn(run_test(
        yaml(&test),
        args(
            &ns,
            &[
                "--wait",
                "--timeout",
                "3m",
                "--json",
                "--report",
                &report.display().to_string(),
            ],
        )
        .await,
    ));
    common::wait_phase(
        &client,
        &ns,
        "real",
        locust_k8s_operator::api::status::Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    local.start(Role::Master, "master");
    local.start(Role::Worker, "worker");

    let (run, doc) = verdict(command, Duration::from_secs(150), 1).await;
    assert_eq!(doc["phase"], "Failed", "{run}");
    assert_eq!(doc["reason"], "ThresholdsBreached", "{run}");
    let message = doc["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("thresholds breached: failure ratio "),
        "{run}"
    );
    let total = doc["result"]["totalRequests"].as_i64().unwrap_or(0);
    let failed = doc["result"]["failedRequests"].as_i64().unwrap_or(0);
    assert!(total > 0 && failed > 0, "{run}");
    assert_eq!(doc["reportConfigMap"], "real-report", "{run}");
    // The progress line showed the real master's live numbers.
    assert!(
        run.stderr.contains("running: 4 users, "),
        "a progress line with the live numbers: {run}"
    );
    let html = std::fs::read_to_string(&report).expect("the report file");
    assert_eq!(doc["report"]["bytes"], html.len(), "{run}");
    assert!(
        html.contains("<html") && html.contains("Locust"),
        "{html:.200}"
    );
    operator.assert_running();
}
