//! Per-test Locust gauges: what each running test's master reports, exported on the
//! operator's own `/metrics`, so a Prometheus user needs no exporter sidecar.
//!
//! | metric | labels |
//! | --- | --- |
//! | `locust_operator_test_users` | `namespace`, `test` |
//! | `locust_operator_test_requests_per_second` | `namespace`, `test` |
//! | `locust_operator_test_failure_ratio` | `namespace`, `test` |
//! | `locust_operator_test_connected_workers` | `namespace`, `test` |
//!
//! A test's series exist while its master answers; they are removed when the master stops
//! answering, when the test ends and when it is deleted, so no stale number lingers.

use prometheus::{GaugeVec, Opts, Registry};

use super::PREFIX;
use crate::locust::LiveStats;

/// The four gauges, cheap to clone (they share their values).
#[derive(Clone)]
pub struct TestGauges {
    users: GaugeVec,
    requests_per_second: GaugeVec,
    failure_ratio: GaugeVec,
    connected_workers: GaugeVec,
}

impl std::fmt::Debug for TestGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestGauges").finish_non_exhaustive()
    }
}

const LABELS: [&str; 2] = ["namespace", "test"];

impl TestGauges {
    /// Creates the gauges and registers them in `registry`.
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<GaugeVec, prometheus::Error> {
            let g = GaugeVec::new(Opts::new(name, help).namespace(PREFIX), &LABELS)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(TestGauges {
            users: gauge(
                "test_users",
                "Users running in a LocustTest, as its master reports.",
            )?,
            requests_per_second: gauge(
                "test_requests_per_second",
                "Current requests per second of a LocustTest, as its master reports.",
            )?,
            failure_ratio: gauge(
                "test_failure_ratio",
                "Failed over all requests of a LocustTest so far (0 to 1), as its master \
                 reports.",
            )?,
            connected_workers: gauge(
                "test_connected_workers",
                "Workers connected to a LocustTest's master, as the master reports.",
            )?,
        })
    }

    fn all(&self) -> [&GaugeVec; 4] {
        [
            &self.users,
            &self.requests_per_second,
            &self.failure_ratio,
            &self.connected_workers,
        ]
    }

    /// Sets the test's gauges from its master's latest answer.
    pub fn set(&self, namespace: &str, test: &str, live: &LiveStats) {
        let labels = [namespace, test];
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        self.users.with_label_values(&labels).set(live.users as f64);
        self.requests_per_second
            .with_label_values(&labels)
            .set(finite(live.rps));
        self.failure_ratio
            .with_label_values(&labels)
            .set(finite(live.failure_ratio));
        self.connected_workers
            .with_label_values(&labels)
            .set(live.connected_workers as f64);
    }

    /// Removes the test's series (no error when it has none).
    pub fn remove(&self, namespace: &str, test: &str) {
        for g in self.all() {
            // An absent series is not an error worth reporting.
            let _ = g.remove_label_values(&[namespace, test]);
        }
    }

    /// Removes every test's series.
    pub fn reset(&self) {
        for g in self.all() {
            g.reset();
        }
    }
}
