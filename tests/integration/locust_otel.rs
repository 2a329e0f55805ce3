//! OpenTelemetry with real components: real Locust (the pinned venv of
//! `tests/locust/install.sh`) runs the exact invocation and environment the builders produce
//! for a LocustTest with `observability.openTelemetry` on (mapped to a local run by
//! `tests/integration/common/local_locust.rs`, as in `tests/integration/locust_real.rs`), and exports to a real
//! OpenTelemetry Collector (`tests/cluster/otelcol`, built from its Go modules) that the test
//! starts on 127.0.0.1 and reads back from its file exporter.
//!
//! What Locust 2.43.1 sends with `--otel`: spans of the `requests` instrumentation named
//! `GET <path>` and the histogram `http.client.duration` (milliseconds), both only from
//! processes that run users, i.e. the workers. It has no `locust.client.duration` metric and
//! no logs, and the master (which runs no users) sends nothing, so the master's side is
//! shown by its own log line `OpenTelemetry enabled` and its variables by the unit tests.
//!
//! Every process runs in its own process group, killed at the end (also on panic).

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Container;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::builders::Role;
use serde_json::{Value, json};

use common::local_locust::{LOCUST_VERSION, Run, container, start_target};
use common::otelcol::{Collector, Kind, Signal};

/// The real runs share two cores: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The metric the `requests` instrumentation records for every request Locust makes.
const DURATION: &str = "http.client.duration";

/// A LocustTest `name` with `replicas` workers against `target`, OpenTelemetry set to
/// `otel`, and `env` appended to the locustfile's variables. The run is long; the tests stop
/// it once the collector has what they look for.
fn otel_test(name: &str, replicas: i32, target: u16, otel: Value, env: &[Value]) -> LocustTest {
    let mut variables = vec![
        json!({"name": "CUSTOM_VAR", "value": "static-value"}),
        json!({"name": "TARGET_HOST", "value": format!("http://127.0.0.1:{target}")}),
    ];
    variables.extend(env.iter().cloned());
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "image": format!("locustio/locust:{LOCUST_VERSION}"),
            "master": {
                "command": "locust -f /lotest/src/locustfile.py",
                "extraArgs": ["--only-summary", "--users", "4", "--spawn-rate", "4",
                              "--run-time", "120s"],
            },
            "worker": {"command": "locust -f /lotest/src/locustfile.py", "replicas": replicas},
            "testFiles": {"configMapRef": "my-locust-tests", "srcMountPath": "/lotest/src"},
            "env": {"variables": variables},
            "observability": {"openTelemetry": otel},
        },
    }))
    .expect("a valid LocustTest")
}

/// The literal values of `name` in `c`'s env, in order.
fn env_values(c: &Container, name: &str) -> Vec<String> {
    c.env
        .iter()
        .flatten()
        .filter(|e| e.name == name)
        .filter_map(|e| e.value.clone())
        .collect()
}

/// Polls the collector every 250 ms until `pred` holds on everything received so far, or
/// panics after `limit` with what did arrive.
async fn wait_for(
    collector: &Collector,
    limit: Duration,
    what: &str,
    pred: impl Fn(&[Signal]) -> bool,
) -> Vec<Signal> {
    let until = Instant::now() + limit;
    loop {
        let signals = collector.signals();
        if pred(&signals) {
            return signals;
        }
        if Instant::now() >= until {
            let seen: BTreeSet<String> = signals
                .iter()
                .map(|s| format!("{:?} {} {:?}", s.kind, s.name, s.resource))
                .collect();
            panic!("{what}: not within {limit:?}; received: {seen:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The distinct processes (`service.instance.id`) of `role` that sent a signal matching
/// `pred`.
fn instances(signals: &[Signal], role: &str, pred: impl Fn(&Signal) -> bool) -> BTreeSet<String> {
    signals
        .iter()
        .filter(|s| s.attr("locust.role") == Some(role) && pred(s))
        .filter_map(|s| s.attr("service.instance.id").map(str::to_string))
        .collect()
}

/// The names of the spans among `signals`.
fn span_names(signals: &[Signal]) -> BTreeSet<&str> {
    signals
        .iter()
        .filter(|s| s.kind == Kind::Span)
        .map(|s| s.name.as_str())
        .collect()
}

fn is_request_span(s: &Signal) -> bool {
    s.kind == Kind::Span && (s.name == "GET /ok" || s.name == "GET /fail")
}

fn is_duration_with_points(s: &Signal) -> bool {
    s.name == DURATION && matches!(s.kind, Kind::Histogram(n) if n > 0)
}

/// Request spans and duration histograms from `workers` distinct worker processes.
fn from_every_worker(workers: usize) -> impl Fn(&[Signal]) -> bool {
    move |s: &[Signal]| {
        instances(s, "worker", is_request_span).len() >= workers
            && instances(s, "worker", is_duration_with_points).len() >= workers
    }
}

/// Waits up to 20 s for `line` in the log of `run`'s process `name`.
async fn wait_for_log(run: &Run, name: &str, line: &str) {
    let path = run.dir.path().join(format!("{name}.log"));
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if log.contains(line) {
            return;
        }
        assert!(
            Instant::now() < until,
            "{name} never logged {line:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An `openTelemetry` block: enabled, `endpoint`, the other `fields`, and `extraEnvVars`
/// holding `extra` plus a 1 s metric interval and a short span delay, so that the data
/// arrives during the run (Locust's defaults are 60 s and 5 s).
fn otel(endpoint: String, fields: Value, extra: Value) -> Value {
    let mut vars = json!({"OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_BSP_SCHEDULE_DELAY": "500"});
    for (k, v) in extra.as_object().into_iter().flatten() {
        vars[k] = v.clone();
    }
    let mut block = json!({"enabled": true, "endpoint": endpoint, "extraEnvVars": vars});
    for (k, v) in fields.as_object().into_iter().flatten() {
        block[k] = v.clone();
    }
    block
}

/// Starts `test`'s master and `workers` workers (`worker-1`, ...) from the builders'
/// invocation.
async fn start(test: &LocustTest, workers: usize) -> Run {
    let mut run = Run::new(test).await;
    run.start(Role::Master, "master");
    for i in 1..=workers {
        run.start(Role::Worker, &format!("worker-{i}"));
    }
    run
}

/// The signals of the LocustTest `name`.
fn of_test(signals: &[Signal], name: &str) -> Vec<Signal> {
    signals
        .iter()
        .filter(|s| s.attr("locust.test.name") == Some(name))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_locust_exports_spans_and_metrics_with_our_resource_attributes() {
    let _serial = SERIAL.lock().await;
    let collector = Collector::start().await;
    let target = start_target().await;
    // gRPC (the default protocol) to a `host:port` endpoint without a scheme, as the docs
    // show, in plaintext.
    let endpoint = format!("localhost:{}", collector.grpc_port);
    let otel = otel(endpoint, json!({"insecure": true}), json!({}));
    let test = otel_test("otel-demo", 2, target, otel, &[]);
    let t0 = Instant::now();
    let run = start(&test, 2).await;
    for role in [Role::Master, Role::Worker] {
        let c = container(&run.children, role);
        assert!(c.args.iter().flatten().any(|a| a == "--otel"), "{role:?}");
        assert_eq!(env_values(&c, "OTEL_SERVICE_NAME"), ["otel-demo"]);
        assert_eq!(env_values(&c, "OTEL_EXPORTER_OTLP_PROTOCOL"), ["grpc"]);
    }

    // One request in ten fails (`/fail` answers 500): wait for its spans too.
    let both = BTreeSet::from(["GET /ok", "GET /fail"]);
    let signals = wait_for(
        &collector,
        Duration::from_secs(60),
        "request spans (GET /ok and GET /fail) and http.client.duration from both workers",
        |s| from_every_worker(2)(s) && span_names(s).is_superset(&both),
    )
    .await;
    eprintln!(
        "{} signals from both workers {:?} after the start",
        signals.len(),
        t0.elapsed()
    );
    let kinds: BTreeSet<String> = signals
        .iter()
        .map(|s| format!("{} {:?}", s.name, s.kind).replace(|c: char| c.is_ascii_digit(), ""))
        .collect();
    eprintln!("received: {kinds:?}");

    // Every signal carries the builders' service name and the attributes naming the test;
    // the role is the worker's (the master runs no users and sends nothing).
    for s in &signals {
        assert_eq!(s.attr("service.name"), Some("otel-demo"), "{s:?}");
        assert_eq!(s.attr("locust.test.name"), Some("otel-demo"), "{s:?}");
        assert_eq!(s.attr("locust.test.namespace"), Some("default"), "{s:?}");
        assert_eq!(s.attr("locust.role"), Some("worker"), "{s:?}");
        assert_eq!(s.attr("service.version"), Some(LOCUST_VERSION), "{s:?}");
    }
    let workers = instances(&signals, "worker", |_| true);
    assert_eq!(workers.len(), 2, "two worker processes: {workers:?}");

    // The master ran with `--otel` and the SDK set up from the same variables.
    wait_for_log(&run, "master", "OpenTelemetry enabled").await;
    assert!(
        instances(&collector.signals(), "master", |_| true).is_empty(),
        "the master runs no users; if it sends telemetry now, assert its attributes too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_name_the_user_sets_wins_over_the_operators() {
    let _serial = SERIAL.lock().await;
    let collector = Collector::start().await;
    let target = start_target().await;

    // OTEL_SERVICE_NAME in env.variables, over OTLP/HTTP (a URL endpoint).
    let endpoint = format!("http://127.0.0.1:{}", collector.http_port);
    let otel_http = otel(endpoint, json!({"protocol": "http/protobuf"}), json!({}));
    let name = json!({"name": "OTEL_SERVICE_NAME", "value": "checkout-load"});
    let test = otel_test("otel-env-name", 1, target, otel_http, &[name]);
    let run = start(&test, 1).await;
    let c = container(&run.children, Role::Worker);
    assert_eq!(env_values(&c, "OTEL_SERVICE_NAME"), ["checkout-load"]);
    let signals = wait_for(
        &collector,
        Duration::from_secs(60),
        "spans and metrics over OTLP/HTTP",
        from_every_worker(1),
    )
    .await;
    for s in &signals {
        assert_eq!(s.attr("service.name"), Some("checkout-load"), "{s:?}");
        assert_eq!(s.attr("locust.test.name"), Some("otel-env-name"), "{s:?}");
        assert_eq!(s.attr("locust.role"), Some("worker"), "{s:?}");
    }
    drop(run);

    // `service.name` in extraEnvVars' OTEL_RESOURCE_ATTRIBUTES, with an attribute of the
    // user's own (Locust sets `service.name` from OTEL_SERVICE_NAME, default `locust`, over
    // the resource attributes: the builders pass the user's name on in OTEL_SERVICE_NAME).
    let endpoint = format!("127.0.0.1:{}", collector.grpc_port);
    let attributes = json!({"OTEL_RESOURCE_ATTRIBUTES": "service.name=checkout-attr,team=perf"});
    let otel_grpc = otel(endpoint, json!({"insecure": true}), attributes);
    let test = otel_test("otel-attr-name", 1, target, otel_grpc, &[]);
    let _run = start(&test, 1).await;
    let signals = wait_for(
        &collector,
        Duration::from_secs(60),
        "spans and metrics of the second test",
        |s| from_every_worker(1)(&of_test(s, "otel-attr-name")),
    )
    .await;
    for s in of_test(&signals, "otel-attr-name") {
        assert_eq!(s.attr("service.name"), Some("checkout-attr"), "{s:?}");
        assert_eq!(s.attr("team"), Some("perf"), "{s:?}");
        assert_eq!(s.attr("locust.role"), Some("worker"), "{s:?}");
    }
}
