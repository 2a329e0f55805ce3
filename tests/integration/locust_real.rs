//! Real Locust (installed from PyPI by `tests/locust/install.sh`) running the exact
//! invocation the builders produce, with the operator's Locust client pointed at the live
//! master. The run helpers ([`Run`], its mapping and process groups) are in
//! `tests/integration/common/local_locust.rs`.
//!
//! The LocustTest is modelled on `examples/full-v2.yaml`. From the built master and worker
//! containers the test takes `command`, `args` and `env` and maps only what a pod has and a
//! local process has not (every mapping is in `Mapping::map`):
//! - the program `locust` → the pinned Locust of the cached venv (`LOCUST_BIN`);
//! - the test-files ConfigMap mount `/lotest/src` → a temporary folder holding
//!   `tests/locust/locustfile.py`; the volume mount `/results` → a temporary folder;
//! - worker `--master-host=<master Service>` → `--master-host=127.0.0.1`, and
//!   `--master-port=5557` → a free port on both roles;
//! - the master gets `--master-bind-host=127.0.0.1 --master-bind-port=<that port>` (in a
//!   pod it binds every interface on 5557; note its `--master-port` is a worker flag that
//!   the master ignores) and `--web-host=127.0.0.1 --web-port=<free port>` (8089 in a pod);
//! - `env` entries with a literal `value` are passed as they are; `valueFrom`/`envFrom`
//!   (Secrets, ConfigMaps) are not used by this spec;
//! - OpenTelemetry is off here (`tests/integration/locust_otel.rs` proves `--otel` with a real
//!   OpenTelemetry Collector).
//!
//! Every process runs in its own process group, killed at the end (also on panic).

use crate::common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use locust_k8s_operator::api::status::TestResult;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::builders::Role;
use locust_k8s_operator::locust::{LocustClient, MasterStats, RunnerState, Settler, live};
use serde_json::json;

use common::local_locust::{LOCUST_VERSION, Run, start_target};

/// The real runs share two cores and check timings: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test, modelled on `examples/full-v2.yaml` (without the fields a local run cannot
/// have: image pull secrets, scheduling, Secret/ConfigMap env, PVCs, OpenTelemetry).
fn locust_test(
    replicas: i32,
    processes: Option<i32>,
    run_time: &str,
    autoquit: i32,
    base_path: Option<&str>,
    target: &str,
) -> LocustTest {
    let mut spec = json!({
        "image": format!("locustio/locust:{LOCUST_VERSION}"),
        "master": {
            "command": "locust -f /lotest/src/locustfile.py",
            "autostart": true,
            "autoquit": {"enabled": true, "timeout": autoquit},
            "extraArgs": ["--only-summary", "--enable-rebalancing",
                          "--users", "10", "--spawn-rate", "10", "--run-time", run_time],
        },
        "worker": {
            "command": "locust -f /lotest/src/locustfile.py",
            "replicas": replicas,
        },
        "testFiles": {"configMapRef": "my-locust-tests", "srcMountPath": "/lotest/src"},
        "env": {"variables": [
            {"name": "CUSTOM_VAR", "value": "static-value"},
            {"name": "TARGET_HOST", "value": target},
        ]},
        "volumes": [{"name": "test-results", "emptyDir": {}}],
        "volumeMounts": [{"name": "test-results", "mountPath": "/results"}],
        "output": {
            "jsonFile": {"enabled": true, "path": "/results/stats"},
            "htmlReport": {"enabled": true, "path": "/results/report.html"},
        },
    });
    if let Some(p) = processes {
        spec["worker"]["processesPerPod"] = json!(p);
    }
    if let Some(b) = base_path {
        spec["webUI"] = json!({"basePath": b});
    }
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "example-test", "namespace": "default"},
        "spec": spec,
    }))
    .expect("a valid LocustTest")
}

/// Polls `client` every 250 ms until `pred` holds on an answer, or panics after `limit`.
async fn poll_until(
    client: &LocustClient,
    limit: Duration,
    what: &str,
    mut pred: impl FnMut(&MasterStats) -> bool,
) -> MasterStats {
    let until = Instant::now() + limit;
    let mut last: Option<String>;
    loop {
        match client.stats().await {
            Ok(s) if pred(&s) => return s,
            Ok(s) => last = Some(format!("{:?} workers={}", s.state, s.worker_count)),
            Err(e) => last = Some(e.to_string()),
        }
        assert!(
            Instant::now() < until,
            "{what}: not within {limit:?}; last answer: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Locust's own final numbers from the master's `--json-file` output.
fn json_file_result(path: &Path) -> (i64, i64, f64) {
    let text = fs::read_to_string(path).expect("json file");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    // Response times are float milliseconds; counts are integers.
    let sum = |k: &str| {
        entries
            .iter()
            .map(|e| e[k].as_f64().unwrap_or(0.0))
            .sum::<f64>()
    };
    let requests = sum("num_requests");
    let timed = requests - sum("num_none_requests");
    let avg = sum("total_response_time") / timed.max(1.0);
    (requests as i64, sum("num_failures") as i64, avg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builders_invocation_runs_real_locust_and_the_client_reads_it() {
    let _serial = SERIAL.lock().await;
    let target = start_target().await;
    let (run_time, autoquit) = (15u64, 8u64);
    let test = locust_test(
        2,
        None,
        &format!("{run_time}s"),
        autoquit as i32,
        Some("/locust"),
        &format!("http://127.0.0.1:{target}"),
    );
    let mut run = Run::new(&test).await;
    let t0 = Instant::now();
    let master = run.start(Role::Master, "master");
    let w1 = run.start(Role::Worker, "worker-1");
    let w2 = run.start(Role::Worker, "worker-2");
    let client = run.client(Some("/locust"));

    // Both workers connect; the run starts by itself (`--autostart`, `--expect-workers=2`).
    let s = poll_until(
        &client,
        Duration::from_secs(40),
        "2 workers connected",
        |s| s.worker_count == 2,
    )
    .await;
    eprintln!("2 workers after {:?}", t0.elapsed());
    assert_eq!(s.workers.len(), 2);
    poll_until(&client, Duration::from_secs(15), "autostart", |s| {
        matches!(s.state, RunnerState::Spawning | RunnerState::Running)
    })
    .await;
    let started = Instant::now();

    // A worker dies (SIGKILL, no goodbye): after three missed heartbeats the master marks it
    // `missing` and its count drops, while the run goes on with the other worker.
    run.procs.kill(w2);
    let s = poll_until(
        &client,
        Duration::from_secs(12),
        "worker count drops to 1",
        |s| s.worker_count == 1,
    )
    .await;
    eprintln!("1 worker {:?} into the run", started.elapsed());
    assert_eq!(
        s.state,
        RunnerState::Running,
        "the drop is seen during the run"
    );

    // Live numbers (Locust's current RPS needs a few seconds of traffic).
    let s = poll_until(&client, Duration::from_secs(10), "live numbers", |s| {
        s.state == RunnerState::Running && s.user_count == 10 && s.total_rps > 0.0
    })
    .await;
    let l = live(&s);
    eprintln!("running: {l:?}");
    assert_eq!((l.users, l.connected_workers), (10, 1));
    assert!(l.rps > 0.0 && l.failure_ratio > 0.0 && l.failure_ratio < 1.0);

    // The base path is honoured: without it there is no stats API.
    assert!(run.client(None).stats().await.is_err());

    // The run stops at its run time.
    let s = poll_until(
        &client,
        Duration::from_secs(run_time + 10),
        "stopped at the run time",
        |s| s.state == RunnerState::Stopped,
    )
    .await;
    let stopped = Instant::now();
    let ran = stopped - started;
    eprintln!("stopped after {ran:?} (run time {run_time} s)");
    assert!(
        ran >= Duration::from_secs(run_time - 3) && ran <= Duration::from_secs(run_time + 5),
        "ran {ran:?}"
    );

    // Final totals settle inside the autoquit window; the report is served there too.
    let mut settler = Settler::new();
    settler.observe(&s, stopped);
    let mut result: Option<TestResult> = None;
    let until = stopped + Duration::from_secs(autoquit);
    while result.is_none() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(700)).await;
        if let Ok(s) = client.stats().await {
            result = settler.observe(&s, Instant::now());
        }
    }
    let result = result.expect("final totals settled inside the autoquit window");
    eprintln!("settled {:?} after the stop: {result:?}", stopped.elapsed());
    let report = client.report().await.expect("report from /stats/report");
    let report = String::from_utf8_lossy(&report);
    assert!(
        report.contains("<html") && report.contains("Locust"),
        "report"
    );

    // The master quits after the autoquit window, with exit code 1 (requests failed).
    let status = run
        .procs
        .wait(master, Duration::from_secs(autoquit + 15))
        .await
        .expect("master quits after autoquit");
    let lived = stopped.elapsed();
    eprintln!("master exited {status:?} {lived:?} after the stop");
    assert!(
        lived >= Duration::from_secs(autoquit - 3) && lived <= Duration::from_secs(autoquit + 8),
        "autoquit {lived:?}"
    );
    assert_eq!(status.code(), Some(1), "failed requests give exit code 1");
    assert!(client.stats().await.is_err(), "the master is gone");
    let w1_status = run
        .procs
        .wait(w1, Duration::from_secs(20))
        .await
        .expect("the worker quits with the master");
    eprintln!("worker-1 exited {w1_status:?}");

    // The client's result is Locust's own final numbers.
    let (requests, failures, avg) = json_file_result(&run.dir.path().join("results/stats.json"));
    assert!(requests > 0 && failures > 0);
    assert_eq!(result.total_requests, requests);
    assert_eq!(result.failed_requests, failures);
    assert!(
        (result.average_response_time - avg).abs() <= 1e-6 * avg.max(1.0),
        "avg {} vs {avg}",
        result.average_response_time
    );
    assert!(result.p95_response_time.is_some() && result.p99_response_time.is_some());
    assert!(result.requests_per_second.is_some_and(|r| r > 0.0));

    // `--html` wrote the report as well.
    let html = fs::read_to_string(run.dir.path().join("results/report.html")).expect("html");
    assert!(html.contains("<html"));
    eprintln!("whole run {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_per_pod_counts_every_forked_worker() {
    let _serial = SERIAL.lock().await;
    let target = start_target().await;
    let test = locust_test(
        1,
        Some(2),
        "3s",
        3,
        None,
        &format!("http://127.0.0.1:{target}"),
    );
    let mut run = Run::new(&test).await;
    let t0 = Instant::now();
    let master = run.start(Role::Master, "master");
    let worker = run.start(Role::Worker, "worker");
    let client = run.client(None);

    let s = poll_until(&client, Duration::from_secs(40), "2 forked workers", |s| {
        s.worker_count == 2
    })
    .await;
    assert_eq!(
        s.workers.len(),
        2,
        "one pod with --processes 2 is two workers"
    );
    poll_until(&client, Duration::from_secs(15), "autostart", |s| {
        s.state == RunnerState::Running
    })
    .await;
    let status = run
        .procs
        .wait(master, Duration::from_secs(30))
        .await
        .expect("master quits");
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
    run.procs
        .wait(worker, Duration::from_secs(20))
        .await
        .expect("the forking worker quits with the master");
    eprintln!("whole run {:?}", t0.elapsed());
}
