//! The operator's Prometheus metrics and its readiness flag, shared by the controller and
//! the HTTPS server.
//!
//! One [`Metrics`] is created at start-up and shared as an `Arc`; the server renders it on
//! `GET /metrics`. Every metric of the operator has the prefix `locust_operator_`:
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `locust_operator_reconcile_total` | counter | `result` (`success`, `error`) |
//! | `locust_operator_reconcile_errors_total` | counter | `reason` (the error's label; each known one exported from 0) |
//! | `locust_operator_reconcile_duration_seconds` | histogram | |
//! | `locust_operator_tests` | gauge | `phase` (`Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`) |
//! | `locust_operator_test_result` | gauge, 1 per finished test until it is deleted | `namespace`, `test`, `phase` (`Succeeded`, `Failed`), `reason` (the `Ready` reason: `TestFailed`, `ThresholdsBreached`, …) |
//! | `locust_operator_webhook_requests_total` | counter | `webhook` (`convert`, `validate`), `result` |
//! | `locust_operator_webhook_duration_seconds` | histogram | `webhook` |
//! | `locust_operator_build_info` | gauge, always 1 | `version` |
//! | `locust_operator_go_operator_lease_held` | gauge: 1 while a Go operator holds its Lease (nothing is reconciled) | |
//! | `locust_operator_test_*` | gauges, counters and summaries of each running test | see [`per_test`] |
//!
//! plus the standard `process_*` metrics (CPU, memory, open files, start time) on Linux.
//!
//! [`Readiness`] says whether the controller's caches have synced and the webhook serves;
//! `GET /readyz` answers 200 only when both are true and nothing blocks the operator (a
//! running Go operator, see [`crate::go_operator::check`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::api::Phase;
use crate::controller::Error as ReconcileError;

/// The `reason` values of `locust_operator_reconcile_errors_total` exported from 0.
const RECONCILE_ERROR_REASONS: [&str; 4] = ReconcileError::LABELS;

pub mod per_test;
pub mod test_series;
pub use per_test::TestMetrics;
pub use test_series::{TestCounters, TestSample};

/// The prefix (namespace) of every metric of the operator.
pub const PREFIX: &str = "locust_operator";

/// The `phase` label of a LocustTest that has no phase yet.
pub const UNKNOWN_PHASE: &str = "Unknown";

/// Every value of the `phase` label, each always exported (0 when no test is in it).
const PHASE_LABELS: [&str; 5] = ["Pending", "Running", "Succeeded", "Failed", UNKNOWN_PHASE];

/// Reconcile durations: 5 ms to 30 s.
const RECONCILE_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Webhook durations: 0.5 ms to 5 s (the API server's default webhook timeout is 10 s).
const WEBHOOK_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The webhooks the server instruments (the `webhook` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    /// `POST /convert`, the CRD conversion webhook.
    Convert,
    /// `POST /validate`, the validating admission webhook.
    Validate,
}

impl Webhook {
    /// The label value: `convert` or `validate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Convert => "convert",
            Webhook::Validate => "validate",
        }
    }
}

/// The `result` label of a webhook request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// Conversion review answered with `Success`.
    Success,
    /// Conversion review answered with `Failure` (an object could not be converted).
    Failure,
    /// Admission request allowed.
    Allowed,
    /// Admission request denied.
    Denied,
    /// The body could not be read or was not a review (HTTP 400).
    BadRequest,
    /// The body was over the size limit (HTTP 413).
    TooLarge,
    /// The handler failed internally (its task panicked: a bug) and answered HTTP 400.
    Error,
}

impl WebhookResult {
    /// The label value, in snake case.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookResult::Success => "success",
            WebhookResult::Failure => "failure",
            WebhookResult::Allowed => "allowed",
            WebhookResult::Denied => "denied",
            WebhookResult::BadRequest => "bad_request",
            WebhookResult::TooLarge => "too_large",
            WebhookResult::Error => "error",
        }
    }
}

/// The operator's metrics, in a registry of their own. Create one with [`Metrics::new`] and
/// share it (`Arc<Metrics>`) between the controller and the server.
pub struct Metrics {
    registry: Registry,
    reconcile_total: IntCounterVec,
    reconcile_errors_total: IntCounterVec,
    reconcile_duration_seconds: Histogram,
    tests: IntGaugeVec,
    test_result: IntGaugeVec,
    phases: Mutex<HashMap<(String, String), Recorded>>,
    webhook_requests_total: IntCounterVec,
    webhook_duration_seconds: HistogramVec,
    test_metrics: TestMetrics,
    go_operator_lease_held: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates and registers every metric (and, on Linux, the process collector).
    ///
    /// Fails only if a metric definition is invalid or registered twice, which would be a
    /// bug; the error is Prometheus's.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(PREFIX);

        let reconcile_total = IntCounterVec::new(
            opts("reconcile_total", "Reconciles of LocustTests, by result."),
            &["result"],
        )?;
        let reconcile_errors_total = IntCounterVec::new(
            opts(
                "reconcile_errors_total",
                "Reconciles of LocustTests that failed, by reason.",
            ),
            &["reason"],
        )?;
        let reconcile_duration_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "reconcile_duration_seconds",
                "How long one reconcile of a LocustTest took.",
            )
            .namespace(PREFIX)
            .buckets(RECONCILE_BUCKETS.to_vec()),
        )?;
        let tests = IntGaugeVec::new(
            opts(
                "tests",
                "LocustTests known to the controller, by phase (Unknown: no phase yet).",
            ),
            &["phase"],
        )?;
        let webhook_requests_total = IntCounterVec::new(
            opts(
                "webhook_requests_total",
                "Requests to the conversion and admission webhooks, by webhook and result.",
            ),
            &["webhook", "result"],
        )?;
        let webhook_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "webhook_duration_seconds",
                "How long the webhooks took to answer, by webhook.",
            )
            .namespace(PREFIX)
            .buckets(WEBHOOK_BUCKETS.to_vec()),
            &["webhook"],
        )?;
        let build_info = IntGaugeVec::new(
            opts(
                "build_info",
                "Always 1; the operator's version is in the version label.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let go_operator_lease_held = IntGauge::with_opts(opts(
            "go_operator_lease_held",
            "1 while the Go locust-k8s-operator holds its leader-election Lease: this operator \
             then reconciles nothing (scale the Go operator to 0).",
        ))?;
        let test_result = IntGaugeVec::new(
            opts(
                "test_result",
                "1 for each finished LocustTest until it is deleted; its phase and the reason \
                 of its Ready condition (TestFailed, ThresholdsBreached, ...) are labels.",
            ),
            &["namespace", "test", "phase", "reason"],
        )?;
        for phase in PHASE_LABELS {
            tests.with_label_values(&[phase]).set(0);
        }
        // Known label values from 0, so rate() and dashboards see the first one.
        for result in ["success", "error"] {
            reconcile_total.with_label_values(&[result]);
        }
        for reason in RECONCILE_ERROR_REASONS {
            reconcile_errors_total.with_label_values(&[reason]);
        }

        registry.register(Box::new(reconcile_total.clone()))?;
        registry.register(Box::new(reconcile_errors_total.clone()))?;
        registry.register(Box::new(reconcile_duration_seconds.clone()))?;
        registry.register(Box::new(tests.clone()))?;
        registry.register(Box::new(test_result.clone()))?;
        registry.register(Box::new(webhook_requests_total.clone()))?;
        registry.register(Box::new(webhook_duration_seconds.clone()))?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(go_operator_lease_held.clone()))?;
        let test_metrics = TestMetrics::register(&registry)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        Ok(Self {
            registry,
            reconcile_total,
            reconcile_errors_total,
            reconcile_duration_seconds,
            tests,
            test_result,
            phases: Mutex::new(HashMap::new()),
            webhook_requests_total,
            webhook_duration_seconds,
            test_metrics,
            go_operator_lease_held,
        })
    }

    /// Whether a Go operator holds its Lease (`locust_operator_go_operator_lease_held`).
    pub fn set_go_operator_lease_held(&self, held: bool) {
        self.go_operator_lease_held.set(i64::from(held));
    }

    /// The per-test Locust series (a clone sharing the registered values).
    pub fn test_metrics(&self) -> TestMetrics {
        self.test_metrics.clone()
    }

    /// Records a reconcile that returned `Ok`, and how long it took.
    pub fn reconcile_succeeded(&self, elapsed: Duration) {
        self.reconcile_total.with_label_values(&["success"]).inc();
        self.reconcile_duration_seconds
            .observe(elapsed.as_secs_f64());
    }

    /// Records a reconcile that returned `Err`: `reason` is a short, fixed label such as
    /// the controller error's `label()` (never a message: label values must stay few).
    pub fn reconcile_failed(&self, reason: &str, elapsed: Duration) {
        self.reconcile_total.with_label_values(&["error"]).inc();
        self.reconcile_errors_total
            .with_label_values(&[reason])
            .inc();
        self.reconcile_duration_seconds
            .observe(elapsed.as_secs_f64());
    }

    /// Records the phase of one LocustTest (`None`: it has no phase yet) and the reason
    /// of its `Ready` condition, replacing what was recorded for it; the `tests{phase}`
    /// gauge and, for a finished test, its `test_result` series follow. Cheap: a map
    /// lookup and a few gauge updates, so the controller can call it on every reconcile.
    pub fn set_phase(&self, namespace: &str, name: &str, phase: Option<Phase>, reason: &str) {
        let now = Recorded {
            phase: phase.map_or(UNKNOWN_PHASE, Phase::as_str),
            result: phase.filter(|p| p.is_terminal()).map(|_| reason.to_owned()),
        };
        let mut phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = phases.insert((namespace.to_owned(), name.to_owned()), now.clone());
        if previous.as_ref() == Some(&now) {
            return;
        }
        if let Some(previous) = &previous {
            self.unrecord(namespace, name, previous);
        }
        self.tests.with_label_values(&[now.phase]).inc();
        if let Some(reason) = &now.result {
            self.test_result
                .with_label_values(&[namespace, name, now.phase, reason])
                .set(1);
        }
    }

    /// Takes back what `recorded` added to the gauges.
    fn unrecord(&self, namespace: &str, name: &str, recorded: &Recorded) {
        self.tests.with_label_values(&[recorded.phase]).dec();
        if let Some(reason) = &recorded.result {
            // An absent series is not an error worth reporting.
            let _ =
                self.test_result
                    .remove_label_values(&[namespace, name, recorded.phase, reason]);
        }
    }

    /// Forgets a LocustTest that was deleted; does nothing for a test never recorded.
    pub fn forget(&self, namespace: &str, name: &str) {
        let mut phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(previous) = phases.remove(&(namespace.to_owned(), name.to_owned())) {
            self.unrecord(namespace, name, &previous);
        }
    }

    /// Forgets every LocustTest (for example when this replica stops leading and another
    /// one takes over the counting).
    pub fn forget_all(&self) {
        let mut phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
        phases.clear();
        for phase in PHASE_LABELS {
            self.tests.with_label_values(&[phase]).set(0);
        }
        self.test_result.reset();
    }

    /// How many LocustTests are recorded in `phase` (`None`: without a phase).
    pub fn tests_in_phase(&self, phase: Option<Phase>) -> i64 {
        let label = phase.map_or(UNKNOWN_PHASE, Phase::as_str);
        self.tests.with_label_values(&[label]).get()
    }

    /// Records one webhook request, its result and how long it took.
    pub fn observe_webhook(&self, webhook: Webhook, result: WebhookResult, elapsed: Duration) {
        self.webhook_requests_total
            .with_label_values(&[webhook.as_str(), result.as_str()])
            .inc();
        self.webhook_duration_seconds
            .with_label_values(&[webhook.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }

    /// The `Content-Type` of [`Metrics::render`]'s output.
    pub fn content_type(&self) -> &'static str {
        prometheus::TEXT_FORMAT
    }
}

/// What [`Metrics::set_phase`] recorded for one test.
#[derive(Debug, Clone, PartialEq)]
struct Recorded {
    /// The `phase` label.
    phase: &'static str,
    /// The `Ready` reason of a finished test (its `test_result` series).
    result: Option<String>,
}

/// Whether the operator is ready: the controller's caches have synced and the webhook
/// server is serving. Cheap to clone; every clone shares the same flags.
///
/// The server sets [`Readiness::set_webhook_serving`] itself when it starts accepting; the
/// controller sets [`Readiness::set_controller_synced`] once its caches have synced.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<Flags>);

#[derive(Debug, Default)]
struct Flags {
    controller_synced: AtomicBool,
    webhook_serving: AtomicBool,
    standby: AtomicBool,
    blocked: Mutex<Option<String>>,
}

impl Readiness {
    /// Not ready: nothing has synced and nothing serves yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The controller's caches have synced.
    pub fn set_controller_synced(&self) {
        self.0.controller_synced.store(true, Ordering::Release);
    }

    /// The controller stopped (lost the lease, or its watches restart); not ready until
    /// [`Readiness::set_controller_synced`] again.
    pub fn set_controller_not_synced(&self) {
        self.0.controller_synced.store(false, Ordering::Release);
    }

    /// The webhook server accepts connections (or webhooks are disabled, so nothing waits
    /// for it).
    pub fn set_webhook_serving(&self) {
        self.0.webhook_serving.store(true, Ordering::Release);
    }

    /// Whether the controller's caches have synced.
    pub fn controller_synced(&self) -> bool {
        self.0.controller_synced.load(Ordering::Acquire)
    }

    /// Whether the webhook server serves.
    pub fn webhook_serving(&self) -> bool {
        self.0.webhook_serving.load(Ordering::Acquire)
    }

    /// This replica waits for the leader-election Lease (`true`) or leads (`false`). A
    /// standby runs no controller, so it is ready once its webhook serves: otherwise a
    /// Deployment's second replica would never be Ready, and rollouts and
    /// PodDisruptionBudgets would wait for it forever.
    pub fn set_standby(&self, standby: bool) {
        self.0.standby.store(standby, Ordering::Release);
    }

    /// Whether this replica waits for the Lease.
    pub fn standby(&self) -> bool {
        self.0.standby.load(Ordering::Acquire)
    }

    /// Something outside the operator keeps it from working (`Some(why)`), or nothing does
    /// any more (`None`): a running Go operator holding its Lease. Not ready meanwhile.
    pub fn set_blocked(&self, why: Option<String>) {
        *self
            .0
            .blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = why;
    }

    /// Why the operator is blocked, if it is (for `/readyz`'s message).
    pub fn blocked(&self) -> Option<String> {
        self.0
            .blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The webhook serves, the controller has synced or this replica is a standby, and
    /// nothing blocks the operator.
    pub fn is_ready(&self) -> bool {
        self.webhook_serving()
            && (self.controller_synced() || self.standby())
            && self.blocked().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_is_ready_once_its_webhook_serves() {
        let r = Readiness::new();
        r.set_standby(true);
        assert!(!r.is_ready(), "the webhook does not serve yet");
        r.set_webhook_serving();
        assert!(r.is_ready(), "a standby needs no synced controller");
        r.set_standby(false);
        assert!(
            !r.is_ready(),
            "the leader is ready only once its controller synced"
        );
        r.set_controller_synced();
        assert!(r.is_ready());
    }

    fn metrics() -> Metrics {
        Metrics::new().expect("metrics register")
    }

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn phases_are_counted_per_test() {
        let m = metrics();
        m.set_phase("a", "t1", None, "");
        m.set_phase("a", "t2", Some(Phase::Pending), "ResourcesPending");
        assert_eq!(m.tests_in_phase(None), 1);
        assert_eq!(m.tests_in_phase(Some(Phase::Pending)), 1);
        m.set_phase("a", "t1", Some(Phase::Running), "ResourcesCreated");
        m.set_phase("a", "t1", Some(Phase::Running), "ResourcesCreated");
        m.set_phase("b", "t1", Some(Phase::Running), "ResourcesCreated");
        assert_eq!(m.tests_in_phase(None), 0);
        assert_eq!(m.tests_in_phase(Some(Phase::Running)), 2);
        m.forget("a", "t1");
        m.forget("a", "never-seen");
        assert_eq!(m.tests_in_phase(Some(Phase::Running)), 1);
        m.set_phase("b", "t1", Some(Phase::Succeeded), "TestSucceeded");
        assert_eq!(m.tests_in_phase(Some(Phase::Running)), 0);
        assert_eq!(m.tests_in_phase(Some(Phase::Succeeded)), 1);
        m.forget_all();
        assert_eq!(m.tests_in_phase(Some(Phase::Succeeded)), 0);
        assert_eq!(m.tests_in_phase(Some(Phase::Pending)), 0);
    }

    #[test]
    fn a_finished_test_has_one_result_series_until_it_is_deleted() {
        let m = metrics();
        let series = |m: &Metrics| -> Vec<String> {
            let text = m.render().expect("renders");
            text.lines()
                .filter(|l| l.starts_with("locust_operator_test_result{"))
                .map(str::to_owned)
                .collect()
        };
        m.set_phase("load", "t", Some(Phase::Running), "ResourcesCreated");
        assert!(series(&m).is_empty(), "a running test has no result");
        m.set_phase("load", "t", Some(Phase::Failed), "ThresholdsBreached");
        m.set_phase("load", "ok", Some(Phase::Succeeded), "TestSucceeded");
        assert_eq!(
            series(&m),
            [
                "locust_operator_test_result{namespace=\"load\",phase=\"Failed\",reason=\"ThresholdsBreached\",test=\"t\"} 1",
                "locust_operator_test_result{namespace=\"load\",phase=\"Succeeded\",reason=\"TestSucceeded\",test=\"ok\"} 1",
            ]
        );
        // A changed reason replaces the series; deleting the test removes it.
        m.set_phase("load", "t", Some(Phase::Failed), "TestFailed");
        assert_eq!(series(&m).len(), 2);
        assert!(
            series(&m)[0].contains("reason=\"TestFailed\""),
            "{:?}",
            series(&m)
        );
        m.forget("load", "t");
        assert_eq!(series(&m).len(), 1);
        m.forget_all();
        assert!(series(&m).is_empty());
    }

    #[test]
    fn renders_every_metric_with_the_prefix() {
        let m = metrics();
        m.reconcile_succeeded(Duration::from_millis(3));
        m.reconcile_failed("kube", Duration::from_millis(40));
        m.set_phase("load", "t", Some(Phase::Running), "ResourcesCreated");
        m.observe_webhook(
            Webhook::Validate,
            WebhookResult::Denied,
            Duration::from_micros(700),
        );
        let text = m.render().expect("renders");
        for expected in [
            "locust_operator_reconcile_total{result=\"success\"} 1",
            "locust_operator_reconcile_total{result=\"error\"} 1",
            "locust_operator_reconcile_errors_total{reason=\"kube\"} 1",
            "locust_operator_reconcile_errors_total{reason=\"NotLeader\"} 0",
            "locust_operator_reconcile_duration_seconds_count 2",
            "locust_operator_tests{phase=\"Running\"} 1",
            "locust_operator_tests{phase=\"Pending\"} 0",
            "locust_operator_tests{phase=\"Unknown\"} 0",
            "locust_operator_webhook_requests_total{result=\"denied\",webhook=\"validate\"} 1",
            "locust_operator_webhook_duration_seconds_count{webhook=\"validate\"} 1",
            "locust_operator_go_operator_lease_held 0",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        let build = line(&text, "locust_operator_build_info{").expect("build_info");
        assert_eq!(
            build,
            format!(
                "locust_operator_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )
        );
        #[cfg(target_os = "linux")]
        assert!(
            line(&text, "process_resident_memory_bytes ").is_some(),
            "{text}"
        );
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                l.starts_with("locust_operator_") || l.starts_with("process_"),
                "{l}"
            );
        }
        assert!(m.content_type().starts_with("text/plain"));
    }

    /// An answer of a running master with two endpoints (times in ms).
    fn answer() -> crate::locust::MasterStats {
        crate::locust::parse_stats(
            br#"{"state": "running", "user_count": 40, "worker_count": 3, "total_rps": 12.5,
                 "fail_ratio": 0.1, "stats": [
                {"method": "GET", "name": "/a \"quoted\"", "num_requests": 6, "num_failures": 0,
                 "avg_response_time": 10.0, "median_response_time": 10,
                 "response_time_percentile_0.95": 20, "response_time_percentile_0.99": 30},
                {"method": "POST", "name": "/b", "num_requests": 4, "num_failures": 1,
                 "avg_response_time": 35.0, "median_response_time": 30,
                 "response_time_percentile_0.95": 50, "response_time_percentile_0.99": 60},
                {"method": null, "name": "Aggregated", "num_requests": 10, "num_failures": 1,
                 "avg_response_time": 20.0, "median_response_time": 10,
                 "response_time_percentile_0.95": 50, "response_time_percentile_0.99": 60}]}"#,
        )
        .expect("parses")
    }

    #[test]
    fn per_test_series_follow_the_master_and_go_away() {
        let m = metrics();
        let t = m.test_metrics();
        t.set(
            "load",
            "checkout",
            TestCounters::new(None).observe(&answer()),
        );
        let text = m.render().expect("renders");
        let l = "namespace=\"load\",test=\"checkout\"";
        for expected in [
            format!("locust_operator_test_users{{{l}}} 40"),
            format!("locust_operator_test_requests_per_second{{{l}}} 12.5"),
            format!("locust_operator_test_failure_ratio{{{l}}} 0.1"),
            format!("locust_operator_test_connected_workers{{{l}}} 3"),
            format!("locust_operator_test_requests_total{{{l}}} 10"),
            format!("locust_operator_test_failures_total{{{l}}} 1"),
            "# TYPE locust_operator_test_requests_total counter".into(),
            "# TYPE locust_operator_test_response_time_seconds summary".into(),
            format!("locust_operator_test_response_time_seconds{{{l},quantile=\"0.5\"}} 0.01"),
            format!("locust_operator_test_response_time_seconds{{{l},quantile=\"0.95\"}} 0.05"),
            format!("locust_operator_test_response_time_seconds{{{l},quantile=\"0.99\"}} 0.06"),
            format!("locust_operator_test_response_time_seconds_sum{{{l}}} 0.2"),
            format!("locust_operator_test_response_time_seconds_count{{{l}}} 10"),
        ] {
            assert!(text.contains(&expected), "{expected} in\n{text}");
        }
        assert!(
            !text.contains("endpoint"),
            "per-endpoint series are off:\n{text}"
        );
        t.remove("load", "checkout");
        t.remove("load", "never-seen");
        let text = m.render().expect("renders");
        assert!(!text.contains("checkout"), "{text}");
    }

    #[test]
    fn per_endpoint_series_are_capped() {
        let m = metrics();
        let t = m.test_metrics();
        t.set(
            "load",
            "shop",
            TestCounters::new(Some(1)).observe(&answer()),
        );
        let text = m.render().expect("renders");
        let l = "namespace=\"load\",test=\"shop\"";
        let e = format!("method=\"GET\",name=\"/a \\\"quoted\\\"\",{l}");
        for expected in [
            format!("locust_operator_test_endpoint_requests_total{{{e}}} 6"),
            format!("locust_operator_test_endpoint_failures_total{{{e}}} 0"),
            format!(
                "locust_operator_test_endpoint_response_time_seconds{{{e},quantile=\"0.95\"}} 0.02"
            ),
            format!("locust_operator_test_endpoint_response_time_seconds_count{{{e}}} 6"),
            format!("locust_operator_test_endpoints_dropped{{{l}}} 1"),
        ] {
            assert!(text.contains(&expected), "{expected} in\n{text}");
        }
        assert!(!text.contains("/b"), "over the cap:\n{text}");
        t.reset();
        assert!(!m.render().expect("renders").contains("shop"));
    }

    #[test]
    fn readiness_needs_both_flags_and_is_shared_by_clones() {
        let ready = Readiness::new();
        let clone = ready.clone();
        assert!(!ready.is_ready());
        clone.set_webhook_serving();
        assert!(!ready.is_ready());
        clone.set_controller_synced();
        assert!(ready.is_ready());
        ready.set_controller_not_synced();
        assert!(!clone.is_ready());
        assert!(clone.webhook_serving());
    }

    #[test]
    fn a_blocked_operator_is_not_ready_and_says_why() {
        let r = Readiness::new();
        r.set_webhook_serving();
        r.set_controller_synced();
        r.set_blocked(Some("a Go operator runs".into()));
        assert!(!r.clone().is_ready());
        assert_eq!(r.blocked().as_deref(), Some("a Go operator runs"));
        r.set_blocked(None);
        assert!(r.is_ready());
    }
}
