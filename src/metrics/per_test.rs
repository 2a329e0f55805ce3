//! Per-test series: what each running test's Locust master reports, exported on the
//! operator's own `/metrics`, so a Prometheus user needs no exporter sidecar. Every series
//! has the labels `namespace` and `test`; the per-endpoint ones also `method` and `name`.
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `locust_operator_test_users` | gauge | users running |
//! | `locust_operator_test_requests_per_second` | gauge | current requests per second |
//! | `locust_operator_test_failure_ratio` | gauge | failed over all requests of the run (0 to 1) |
//! | `locust_operator_test_connected_workers` | gauge | workers connected to the master |
//! | `locust_operator_test_requests_total` | counter | requests |
//! | `locust_operator_test_failures_total` | counter | failed requests |
//! | `locust_operator_test_response_time_seconds` | summary | `quantile` 0.5, 0.95, 0.99 of the run; `_sum`, `_count` |
//! | `locust_operator_test_endpoint_requests_total` | counter | requests of one endpoint (`method`, `name`) |
//! | `locust_operator_test_endpoint_failures_total` | counter | failed requests of one endpoint |
//! | `locust_operator_test_endpoint_response_time_seconds` | summary | as above, of one endpoint |
//! | `locust_operator_test_endpoints_dropped` | gauge | endpoints left out by the cap |
//!
//! The response times are a Prometheus *summary* because that is what Locust measures:
//! its own percentiles over the current run (the ones `spec.thresholds` judges), with the
//! count and the sum of all response times, so `rate(_sum) / rate(_count)` is the average
//! over any window. A gauge with a `quantile` label would break the naming rules
//! (`promtool check metrics`). The counters never go down, even when Locust's own totals
//! start again (see [`super::test_series`]). The per-endpoint series exist only with
//! `ENDPOINT_METRICS=true`, at most `ENDPOINT_METRICS_MAX` endpoints per test.
//!
//! A test's series exist while its master answers; they are removed when the master stops
//! answering, when the test ends and when it is deleted, so no stale number lingers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

use super::PREFIX;
use super::test_series::{QUANTILES, Series, TestSample};

/// The labels of a test's series.
const TEST_LABELS: [&str; 2] = ["namespace", "test"];
/// The labels of an endpoint's series.
const ENDPOINT_LABELS: [&str; 4] = ["namespace", "test", "method", "name"];

/// One exported metric family.
#[derive(Clone, Copy)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    endpoint: bool,
}

const fn family(name: &'static str, kind: MetricType, help: &'static str) -> Family {
    Family {
        name,
        help,
        kind,
        endpoint: false,
    }
}

const fn endpoint(name: &'static str, kind: MetricType, help: &'static str) -> Family {
    Family {
        name,
        help,
        kind,
        endpoint: true,
    }
}

use MetricType::{COUNTER, GAUGE, SUMMARY};

/// Every family, in the order [`TestMetrics::families`] fills them.
const FAMILIES: [Family; 11] = [
    family(
        "test_users",
        GAUGE,
        "Users running in a LocustTest, as its master reports.",
    ),
    family(
        "test_requests_per_second",
        GAUGE,
        "Current requests per second of a LocustTest, as its master reports.",
    ),
    family(
        "test_failure_ratio",
        GAUGE,
        "Failed over all requests of a LocustTest's run so far (0 to 1), as its master reports.",
    ),
    family(
        "test_connected_workers",
        GAUGE,
        "Workers connected to a LocustTest's master, as the master reports.",
    ),
    family(
        "test_requests_total",
        COUNTER,
        "Requests made by a LocustTest (kept counting when Locust's totals start again).",
    ),
    family(
        "test_failures_total",
        COUNTER,
        "Failed requests of a LocustTest (kept counting when Locust's totals start again).",
    ),
    family(
        "test_response_time_seconds",
        SUMMARY,
        "Response times of a LocustTest: Locust's percentiles of the current run, and the \
         sum and count of all responses.",
    ),
    endpoint(
        "test_endpoint_requests_total",
        COUNTER,
        "Requests of one endpoint (Locust's request method and name) of a LocustTest.",
    ),
    endpoint(
        "test_endpoint_failures_total",
        COUNTER,
        "Failed requests of one endpoint (Locust's request method and name) of a LocustTest.",
    ),
    endpoint(
        "test_endpoint_response_time_seconds",
        SUMMARY,
        "Response times of one endpoint of a LocustTest: Locust's percentiles of the \
         current run, and the sum and count of all responses.",
    ),
    family(
        "test_endpoints_dropped",
        GAUGE,
        "Endpoints of a LocustTest without series of their own (over ENDPOINT_METRICS_MAX).",
    ),
];

type Samples = BTreeMap<(String, String), TestSample>;

/// The per-test series, cheap to clone (clones share the samples). Registered once in the
/// operator's registry by [`super::Metrics::new`].
#[derive(Clone)]
pub struct TestMetrics {
    descs: Arc<Vec<Desc>>,
    samples: Arc<Mutex<Samples>>,
}

impl std::fmt::Debug for TestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestMetrics").finish_non_exhaustive()
    }
}

fn fq_name(f: &Family) -> String {
    format!("{PREFIX}_{}", f.name)
}

/// The label pairs, sorted by name as the crate's own metrics are.
fn label_pairs(names: &[&str], values: &[&str]) -> Vec<proto::LabelPair> {
    let mut pairs: Vec<(&str, &str)> = names.iter().copied().zip(values.iter().copied()).collect();
    pairs.sort_unstable();
    pairs
        .into_iter()
        .map(|(n, v)| {
            let mut l = proto::LabelPair::default();
            l.set_name(n.to_owned());
            l.set_value(v.to_owned());
            l
        })
        .collect()
}

fn gauge(labels: Vec<proto::LabelPair>, value: f64) -> proto::Metric {
    let mut g = proto::Gauge::default();
    g.set_value(if value.is_finite() { value } else { 0.0 });
    let mut m = proto::Metric::from_label(labels);
    m.set_gauge(g);
    m
}

fn counter(labels: Vec<proto::LabelPair>, value: u64) -> proto::Metric {
    let mut c = proto::Counter::default();
    c.set_value(value as f64);
    let mut m = proto::Metric::from_label(labels);
    m.set_counter(c);
    m
}

/// A summary; a quantile Locust has no value for is NaN, as Prometheus clients write it.
fn summary(labels: Vec<proto::LabelPair>, s: &Series) -> proto::Metric {
    let mut summary = proto::Summary::default();
    summary.set_sample_count(s.requests);
    summary.set_sample_sum(s.response_time_sum_seconds);
    summary.set_quantile(
        QUANTILES
            .iter()
            .zip(s.quantiles_seconds)
            .map(|(q, v)| {
                let mut quantile = proto::Quantile::default();
                quantile.set_quantile(*q);
                quantile.set_value(v.unwrap_or(f64::NAN));
                quantile
            })
            .collect(),
    );
    let mut m = proto::Metric::from_label(labels);
    m.set_summary(summary);
    m
}

impl TestMetrics {
    /// Creates the per-test series and registers them in `registry`.
    pub(super) fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let descs = FAMILIES
            .iter()
            .map(|f| {
                let labels = if f.endpoint {
                    &ENDPOINT_LABELS[..]
                } else {
                    &TEST_LABELS[..]
                };
                Desc::new(
                    fq_name(f),
                    f.help.to_owned(),
                    labels.iter().map(|l| (*l).to_owned()).collect(),
                    Default::default(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = TestMetrics {
            descs: Arc::new(descs),
            samples: Arc::default(),
        };
        registry.register(Box::new(metrics.clone()))?;
        Ok(metrics)
    }

    fn samples(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the test's series from its master's latest answer.
    pub fn set(&self, namespace: &str, test: &str, sample: TestSample) {
        self.samples()
            .insert((namespace.to_owned(), test.to_owned()), sample);
    }

    /// Removes the test's series (no error when it has none).
    pub fn remove(&self, namespace: &str, test: &str) {
        self.samples()
            .remove(&(namespace.to_owned(), test.to_owned()));
    }

    /// Removes every test's series.
    pub fn reset(&self) {
        self.samples().clear();
    }

    /// The families with every test's series, in the order of [`FAMILIES`].
    fn families(&self) -> Vec<MetricFamily> {
        let samples = self.samples();
        let mut metrics: Vec<Vec<proto::Metric>> = vec![Vec::new(); FAMILIES.len()];
        for ((ns, test), s) in samples.iter() {
            let labels = || label_pairs(&TEST_LABELS, &[ns, test]);
            metrics[0].push(gauge(labels(), s.live.users as f64));
            metrics[1].push(gauge(labels(), s.live.rps));
            metrics[2].push(gauge(labels(), s.live.failure_ratio));
            metrics[3].push(gauge(labels(), s.live.connected_workers as f64));
            metrics[4].push(counter(labels(), s.total.requests));
            metrics[5].push(counter(labels(), s.total.failures));
            metrics[6].push(summary(labels(), &s.total));
            for e in &s.endpoints {
                let labels = || label_pairs(&ENDPOINT_LABELS, &[ns, test, &e.method, &e.name]);
                metrics[7].push(counter(labels(), e.series.requests));
                metrics[8].push(counter(labels(), e.series.failures));
                metrics[9].push(summary(labels(), &e.series));
            }
            if let Some(dropped) = s.endpoints_dropped {
                metrics[10].push(gauge(labels(), dropped as f64));
            }
        }
        FAMILIES
            .iter()
            .zip(metrics)
            .map(|(f, metrics)| {
                let mut mf = MetricFamily::default();
                mf.set_name(fq_name(f));
                mf.set_help(f.help.to_owned());
                mf.set_field_type(f.kind);
                mf.set_metric(metrics);
                mf
            })
            .collect()
    }
}

impl Collector for TestMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.families()
    }
}
