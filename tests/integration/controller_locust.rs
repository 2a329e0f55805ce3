//! The operator reads a REAL Locust master: `status.connectedWorkers` comes from the
//! master's `worker_count` (a killed worker drops it), and `status.result` is Locust's own
//! final total. The LocustTest lives on the kwok cluster (its simulated pods keep
//! "Running"); `MASTER_URL_TEMPLATE` points the operator at a local master started by the
//! test (a fixed URL), with two local workers and a tiny local HTTP target, as in
//! `tests/integration/locust_real.rs`. With an unreachable master the status falls back to Ready
//! worker pods and says so in the `WorkersConnected` reason.

use crate::common;

use common::local_locust::{LOCUSTFILE, free_port, kill_group, locust_bin, start_target};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Operator, OperatorOptions, annotations, condition, create, get, http_get, locust_test,
    master_annotations, sample, wait_phase, wait_status, worker_annotations,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
use locust_k8s_operator::api::status::{Phase, TestResult};
use locust_k8s_operator::api::v2::{LocustTest, ThresholdsSpec};

const STATUS: Duration = Duration::from_secs(60);

/// Local Locust processes, each in its own process group, killed when dropped (their
/// logs printed when the test panics).
struct Locust {
    dir: tempfile::TempDir,
    procs: Vec<(String, Child)>,
    env: Vec<(String, String)>,
}

impl Locust {
    fn new(target: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("locustfile.py"), LOCUSTFILE).expect("locustfile");
        Locust {
            dir,
            procs: Vec::new(),
            env: vec![
                ("CUSTOM_VAR".into(), "static-value".into()),
                ("TARGET_HOST".into(), format!("http://127.0.0.1:{target}")),
            ],
        }
    }

    fn spawn(&mut self, name: &str, args: &[String]) -> usize {
        use std::os::unix::process::CommandExt;
        let log = fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("log");
        let locustfile = self.dir.path().join("locustfile.py");
        let child = Command::new(locust_bin())
            .arg("-f")
            .arg(&locustfile)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .envs(self.env.clone())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start locust");
        self.procs.push((name.to_string(), child));
        self.procs.len() - 1
    }

    fn kill(&mut self, i: usize) {
        kill_group(&mut self.procs[i].1);
    }

    async fn wait(&mut self, i: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.procs[i].1.try_wait().expect("try_wait").is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

impl Drop for Locust {
    fn drop(&mut self) {
        for (name, child) in &mut self.procs {
            kill_group(child);
            if std::thread::panicking() {
                let text = fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!("---- {name} (last lines) ----");
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// Locust's own final total from the master's `--json-file` output.
fn json_file_total(path: &Path) -> i64 {
    let text = fs::read_to_string(path).expect("json file");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    entries
        .iter()
        .map(|e| e["num_requests"].as_i64().unwrap_or(0))
        .sum()
}

/// `kubectl get locusttest <name> -o yaml`, as the cluster's admin.
async fn kubectl_yaml(ns: &str, name: &str) -> String {
    let cluster = common::cluster().await;
    let out = Command::new(test_cluster::binaries::bin_dir().join("kubectl"))
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(["get", "locusttest", name, "-n", ns, "-o", "yaml"])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test with two worker pods whose simulated pods keep running for ten minutes.
fn long_test(name: &str) -> LocustTest {
    let run = [(annotations::RUN_SECONDS, "600")];
    worker_annotations(master_annotations(locust_test(name, 2), &run), &run)
}

async fn setup(prefix: &str, master_url: &str) -> (Client, String, Operator) {
    setup_with(prefix, master_url, &[]).await
}

async fn setup_with(
    prefix: &str,
    master_url: &str,
    env: &[(&str, String)],
) -> (Client, String, Operator) {
    let client = common::admin().await;
    let ns = common::namespace(prefix).await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    options.env = vec![
        ("MASTER_URL_TEMPLATE".into(), master_url.into()),
        ("LOCUST_POLL_SECONDS".into(), "1".into()),
    ];
    options
        .env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    (client, ns, Operator::start(prefix, options))
}

fn workers(t: &LocustTest) -> (Option<i32>, String) {
    (
        t.status.as_ref().and_then(|s| s.connected_workers),
        condition(t, "WorkersConnected")
            .map(|c| c.reason.clone())
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_workers_and_the_result_come_from_the_real_master() {
    let t0 = Instant::now();
    let target = start_target().await;
    let web_port = free_port();
    let (client, ns, mut operator) =
        setup("locust-live", &format!("http://127.0.0.1:{web_port}")).await;
    create(&client, &ns, &long_test("live")).await;
    // Before the master exists, workers are counted from the Ready (simulated) pods.
    wait_status(&client, &ns, "live", "workers from pods", STATUS, |t| {
        workers(t) == (Some(2), "WorkersConnectedFromPods".into())
    })
    .await;

    let mut locust = Locust::new(target);
    let master_port = free_port();
    let s = |v: &str| v.to_string();
    let master = locust.spawn(
        "master",
        &[
            s("--master"),
            s("--master-bind-host=127.0.0.1"),
            format!("--master-bind-port={master_port}"),
            s("--web-host=127.0.0.1"),
            format!("--web-port={web_port}"),
            s("--expect-workers=2"),
            s("--autostart"),
            s("--autoquit"),
            s("20"),
            s("--users=4"),
            s("--spawn-rate=4"),
            s("--run-time=25s"),
            s("--only-summary"),
            s("--json-file"),
            locust.path("stats").display().to_string(),
        ],
    );
    let worker_args = [
        s("--worker"),
        s("--master-host=127.0.0.1"),
        format!("--master-port={master_port}"),
    ];
    locust.spawn("worker-1", &worker_args);
    let w2 = locust.spawn("worker-2", &worker_args);

    let t = wait_status(
        &client,
        &ns,
        "live",
        "2 workers from the master",
        STATUS,
        |t| workers(t) == (Some(2), "AllWorkersConnected".into()),
    )
    .await;
    eprintln!("2 workers from the master after {:?}", t0.elapsed());
    assert_eq!(common::phase(&t), Some(Phase::Running));

    // Live numbers appear while the run goes on.
    let t = wait_status(&client, &ns, "live", "live numbers", STATUS, |t| {
        t.status
            .as_ref()
            .and_then(|s| s.live.as_ref())
            .is_some_and(|l| l.users == 4 && l.requests_per_second > 0.0)
    })
    .await;
    eprintln!("live: {:?}", t.status.as_ref().and_then(|s| s.live.clone()));

    // What a user sees with kubectl while the run goes on.
    let yaml = kubectl_yaml(&ns, "live").await;
    for key in [
        "connectedWorkers: 2",
        "live:",
        "requestsPerSecond:",
        "users: 4",
    ] {
        assert!(yaml.contains(key), "{key} in kubectl's YAML:\n{yaml}");
    }

    // A worker dies: the master's count drops while both simulated pods stay Ready.
    locust.kill(w2);
    wait_status(
        &client,
        &ns,
        "live",
        "1 worker from the master",
        STATUS,
        |t| workers(t) == (Some(1), "WorkersMissing".into()),
    )
    .await;
    eprintln!("1 worker after {:?}", t0.elapsed());

    // The run stops, the totals settle, the master quits after the autoquit window.
    assert!(
        locust.wait(master, Duration::from_secs(70)).await,
        "the master quits after its run time and the autoquit window"
    );
    let total = json_file_total(&locust.path("stats.json"));
    assert!(total > 0, "the run made requests");
    let t = wait_status(&client, &ns, "live", "the final result", STATUS, |t| {
        t.status.as_ref().and_then(|s| s.result.as_ref()).is_some()
    })
    .await;
    let result = t.status.and_then(|s| s.result).expect("result");
    eprintln!("result {result:?}, Locust's json file: {total} requests");
    assert_eq!(result.total_requests, total);
    assert!(result.failed_requests > 0, "one request in ten fails");
    let yaml = kubectl_yaml(&ns, "live").await;
    for key in [
        "result:".to_string(),
        format!("totalRequests: {total}"),
        "averageResponseTime:".into(),
        "reportConfigMap: live-report".into(),
    ] {
        assert!(yaml.contains(&key), "{key} in kubectl's YAML:\n{yaml}");
    }
    // The master is gone: back to the pods, and the live numbers are cleared.
    let t = wait_status(&client, &ns, "live", "back to pods", STATUS, |t| {
        workers(t) == (Some(2), "WorkersConnectedFromPods".into())
    })
    .await;
    assert_eq!(t.status.as_ref().and_then(|s| s.live.clone()), None);
    operator.assert_running();
    eprintln!("whole test {:?}", t0.elapsed());
}

#[tokio::test]
async fn an_unreachable_master_falls_back_to_ready_worker_pods() {
    let (client, ns, mut operator) = setup("locust-down", "http://127.0.0.1:1").await;
    create(&client, &ns, &long_test("down")).await;
    wait_phase(&client, &ns, "down", Phase::Running, STATUS).await;
    let t = wait_status(&client, &ns, "down", "workers from pods", STATUS, |t| {
        workers(t) == (Some(2), "WorkersConnectedFromPods".into())
    })
    .await;
    let c = condition(&t, "WorkersConnected").expect("condition");
    assert_eq!(c.status, "True");
    assert!(
        c.message.contains("master's API was unreachable"),
        "{}",
        c.message
    );
    let status = t.status.expect("status");
    assert_eq!(status.live, None);
    assert_eq!(status.result, None);
    // The poller keeps failing; the status is not rewritten for it.
    let rv = t.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let again = common::get(&client, &ns, "down").await;
    assert_eq!(again.metadata.resource_version, rv, "no rewrite per poll");
    operator.assert_running();
}

/// The master's arguments for a run of `run_time` with `users` users, waiting for
/// `workers` workers (as the builders pass them, on local ports).
fn master_args(
    locust: &Locust,
    master_port: u16,
    web_port: u16,
    workers: u32,
    extra: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "--master".to_string(),
        "--master-bind-host=127.0.0.1".into(),
        format!("--master-bind-port={master_port}"),
        "--web-host=127.0.0.1".into(),
        format!("--web-port={web_port}"),
        format!("--expect-workers={workers}"),
        "--autostart".into(),
        "--only-summary".into(),
        "--json-file".into(),
        locust.path("stats").display().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// A test whose simulated master pod ends after `seconds` with `exit_code`.
fn ending_test(name: &str, seconds: &str, exit_code: &str) -> LocustTest {
    master_annotations(
        long_test(name),
        &[
            (annotations::RUN_SECONDS, seconds),
            (annotations::EXIT_CODE, exit_code),
        ],
    )
}

fn ready_reason(t: &LocustTest) -> (Option<Phase>, String, String) {
    let c = condition(t, "Ready");
    (
        common::phase(t),
        c.map(|c| c.reason.clone()).unwrap_or_default(),
        c.map(|c| c.message.clone()).unwrap_or_default(),
    )
}

/// Three tests read the same real master (a fixed `MASTER_URL_TEMPLATE`), whose run has
/// one failed request in ten: Locust's exit code 1 gives `TestFailed` with the numbers, a
/// failure-ratio threshold of 1 % gives `ThresholdsBreached`, loose thresholds pass. The
/// per-test gauges show on `/metrics` while the run goes on and go away after; the final
/// statistics and the HTML report are kept in each test's report ConfigMap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_judged_from_locusts_numbers_and_their_report_is_kept() {
    let t0 = Instant::now();
    let target = start_target().await;
    let web_port = free_port();
    let health: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let (client, ns, mut operator) = setup_with(
        "locust-verdict",
        &format!("http://127.0.0.1:{web_port}"),
        &[("HEALTH_ADDR", health.to_string())],
    )
    .await;
    // The simulated master pods end 60 s after they start: long after the real run
    // (15 s) has settled, and before its pods would be gone.
    create(&client, &ns, &ending_test("failed", "60", "1")).await;
    let mut strict = ending_test("strict", "60", "0");
    strict.spec.thresholds = Some(ThresholdsSpec {
        max_failure_ratio: Some(0.01),
        ..ThresholdsSpec::default()
    });
    create(&client, &ns, &strict).await;
    let mut lenient = ending_test("lenient", "60", "0");
    lenient.spec.thresholds = Some(ThresholdsSpec {
        max_failure_ratio: Some(0.5),
        max_p95_response_time: Some(10_000.0),
        ..ThresholdsSpec::default()
    });
    create(&client, &ns, &lenient).await;
    for name in ["failed", "strict", "lenient"] {
        wait_phase(&client, &ns, name, Phase::Running, STATUS).await;
    }

    let mut locust = Locust::new(target);
    let master_port = free_port();
    let args = master_args(
        &locust,
        master_port,
        web_port,
        2,
        &[
            "--autoquit",
            "20",
            "--users=4",
            "--spawn-rate=4",
            "--run-time=15s",
        ],
    );
    let master = locust.spawn("master", &args);
    let worker_args = [
        "--worker".to_string(),
        "--master-host=127.0.0.1".into(),
        format!("--master-port={master_port}"),
    ];
    locust.spawn("worker-1", &worker_args);
    locust.spawn("worker-2", &worker_args);

    // The gauges of a running test, labelled by namespace and test.
    let label = format!("{{namespace=\"{ns}\",test=\"failed\"}}");
    common::eventually("per-test gauges on /metrics", STATUS, || async {
        let (_, body) = http_get(health, "/metrics").await?;
        let users = sample(&body, &format!("locust_operator_test_users{label}"));
        let workers = sample(
            &body,
            &format!("locust_operator_test_connected_workers{label}"),
        );
        let rps = sample(
            &body,
            &format!("locust_operator_test_requests_per_second{label}"),
        );
        if users == 4.0 && workers == 2.0 && rps > 0.0 {
            Ok(())
        } else {
            Err(format!("users {users}, workers {workers}, rps {rps}"))
        }
    })
    .await;

    assert!(
        locust.wait(master, Duration::from_secs(70)).await,
        "the master quits after its run time and the autoquit window"
    );
    let total = json_file_total(&locust.path("stats.json"));
    assert!(total > 0, "the run made requests");
    for name in ["failed", "strict", "lenient"] {
        let t = wait_status(
            &client,
            &ns,
            name,
            "the result and the report",
            STATUS,
            |t| {
                t.status
                    .as_ref()
                    .is_some_and(|s| s.result.is_some() && s.report_config_map.is_some())
            },
        )
        .await;
        assert_eq!(
            common::phase(&t),
            Some(Phase::Running),
            "{name}: the numbers settled before the simulated master pod ended; the \
             timing of this test needs more room"
        );
        let status = t.status.expect("status");
        assert_eq!(
            status.result.as_ref().map(|r| r.total_requests),
            Some(total)
        );
        assert_eq!(
            status.report_config_map.as_deref(),
            Some(&*format!("{name}-report"))
        );
    }

    // The kept report: the final stats as Locust sent them, and the HTML report.
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("failed-report")
        .await
        .expect("the report ConfigMap");
    assert_eq!(
        cm.metadata
            .owner_references
            .as_ref()
            .map(|o| o[0].name.as_str()),
        Some("failed")
    );
    let labels = cm.metadata.labels.clone().unwrap_or_default();
    for (key, value) in [
        ("app.kubernetes.io/name", "locust"),
        ("app.kubernetes.io/instance", "failed"),
        ("app.kubernetes.io/part-of", "locust-k8s-operator"),
        ("app.kubernetes.io/component", "report"),
    ] {
        assert_eq!(
            labels.get(key).map(String::as_str),
            Some(value),
            "report labels: {labels:?}"
        );
    }
    // Locust's numbers, also shown by `kubectl get locusttests`.
    let result = get(&client, &ns, "failed")
        .await
        .status
        .and_then(|s| s.result)
        .expect("result");
    assert_eq!(
        result.failure_percentage,
        TestResult::failure_percentage_of(result.total_requests, result.failed_requests)
    );
    assert!(
        result.failure_percentage.is_some_and(|p| p > 0.0),
        "{result:?}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&cm.data.as_ref().expect("data")["stats.json"]).expect("json");
    let rows = stats["stats"].as_array().expect("stats rows");
    let aggregated = rows.last().expect("the total row");
    assert_eq!(aggregated["name"], "Aggregated");
    assert_eq!(aggregated["num_requests"].as_i64(), Some(total));
    let gz = &cm.binary_data.as_ref().expect("binaryData")["report.html.gz"].0;
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut html)
        .expect("the report gunzips");
    assert!(
        html.contains("<html") && html.contains("Locust"),
        "{:.200}",
        html
    );
    eprintln!("report: {} bytes gzip, {} bytes html", gz.len(), html.len());

    // The verdicts, once the simulated master pods end.
    let judged = |name: &'static str| {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            wait_status(
                &client,
                &ns,
                name,
                "a verdict",
                Duration::from_secs(120),
                |t| common::phase(t).is_some_and(Phase::is_terminal),
            )
            .await
        }
    };
    let (phase, reason, message) = ready_reason(&judged("failed").await);
    assert_eq!(
        (phase, reason.as_str()),
        (Some(Phase::Failed), "TestFailed"),
        "{message}"
    );
    assert!(
        message.contains("the master exited with code 1") && message.contains(" requests failed ("),
        "{message}"
    );
    let (phase, reason, message) = ready_reason(&judged("strict").await);
    assert_eq!(
        (phase, reason.as_str()),
        (Some(Phase::Failed), "ThresholdsBreached"),
        "{message}"
    );
    assert!(
        message.starts_with("thresholds breached: failure ratio "),
        "{message}"
    );
    let t = judged("lenient").await;
    assert_eq!(
        common::phase(&t),
        Some(Phase::Succeeded),
        "{}",
        common::describe(&t)
    );
    let done = condition(&t, "TestCompleted").expect("TestCompleted");
    assert!(
        done.message.contains("thresholds met: failure ratio")
            && done.message.contains("p95 response time"),
        "{}",
        done.message
    );

    // Finished tests have no live series left, only their result (until deleted).
    let (_, body) = http_get(health, "/metrics").await.expect("metrics");
    let ours = format!("namespace=\"{ns}\"");
    assert!(
        !body
            .lines()
            .any(|l| l.contains(&ours) && !l.starts_with("locust_operator_test_result{")),
        "no live per-test series after the tests ended:\n{body}"
    );
    for (test, reason) in [
        ("failed", "TestFailed"),
        ("strict", "ThresholdsBreached"),
        ("lenient", "TestSucceeded"),
    ] {
        let phase = if test == "lenient" {
            "Succeeded"
        } else {
            "Failed"
        };
        let series = format!(
            "locust_operator_test_result{{{ours},phase=\"{phase}\",reason=\"{reason}\",test=\"{test}\"}}"
        );
        assert_eq!(common::sample(&body, &series), 1.0, "{series} in\n{body}");
    }
    operator.assert_running();
    eprintln!("whole test {:?}", t0.elapsed());
}

/// A real master that never gets its workers gives up after `--expect-workers-max-wait`
/// and exits 1 (Locust's own behaviour); the operator, which saw it waiting with 0 of 2
/// workers, fails the test with `WorkersNotConnected`, although the simulated worker pods
/// are Ready (they just never reached the master).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_that_never_connect_fail_the_test_with_that_reason() {
    let target = start_target().await;
    let web_port = free_port();
    let (client, ns, mut operator) =
        setup("locust-lonely", &format!("http://127.0.0.1:{web_port}")).await;
    // The simulated master pod fails 45 s after it starts, long after the real master
    // below gave up (15 s after its start).
    let mut lonely = ending_test("lonely", "45", "1");
    lonely.spec.master.expect_workers_max_wait = Some(15);
    create(&client, &ns, &lonely).await;
    wait_phase(&client, &ns, "lonely", Phase::Running, STATUS).await;
    let mut locust = Locust::new(target);
    let master = locust.spawn(
        "master",
        &master_args(
            &locust,
            free_port(),
            web_port,
            2,
            &[
                "--expect-workers-max-wait=15",
                "--autoquit",
                "5",
                "--run-time=10s",
            ],
        ),
    );
    wait_status(
        &client,
        &ns,
        "lonely",
        "0 workers from the master",
        STATUS,
        |t| workers(t) == (Some(0), "WorkersMissing".into()),
    )
    .await;
    assert!(
        locust.wait(master, Duration::from_secs(40)).await,
        "the master gives up by itself"
    );
    let code = locust.procs[master]
        .1
        .try_wait()
        .expect("status")
        .and_then(|s| s.code());
    assert_eq!(
        code,
        Some(1),
        "Locust exits 1 when it gives up on its workers"
    );
    let log = fs::read_to_string(locust.path("master.log")).expect("master log");
    assert!(
        log.contains("Gave up waiting for workers to connect"),
        "{log}"
    );

    let t = wait_status(
        &client,
        &ns,
        "lonely",
        "a verdict",
        Duration::from_secs(90),
        |t| common::phase(t).is_some_and(Phase::is_terminal),
    )
    .await;
    let (phase, reason, message) = ready_reason(&t);
    assert_eq!(
        (phase, reason.as_str()),
        (Some(Phase::Failed), "WorkersNotConnected"),
        "{message}"
    );
    assert!(
        message.contains("only 0/2 workers connected") && message.contains("after 15s"),
        "{message}"
    );
    operator.assert_running();
}
