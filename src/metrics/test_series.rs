//! What one answer of a test's Locust master becomes on `/metrics`. Pure: the poller owns
//! one [`TestCounters`] per test and hands each answer to [`TestCounters::observe`]; the
//! [`TestSample`] it returns is what [`super::TestMetrics`] renders.
//!
//! **Counters never go down.** Locust's totals start again from zero when a new run
//! starts (the runner clears its statistics when it starts from `ready` or `stopped`),
//! when someone resets the statistics in the web UI, and when the master restarts. The
//! exported `_total` counters and the summaries' `_sum` and `_count` therefore add what
//! the master reports to everything counted before the last such reset, seen either as
//! a total going down or as the runner starting a new run. A reset is invisible only if
//! the new run overtook the old totals between two polls without a new-run state being
//! seen; the counters of a test start from zero again when its poller starts (a new
//! object, or an operator restart), which Prometheus's `rate()` reads as a counter reset.
//!
//! **Per-endpoint series** are optional and capped: with a cap of N the first N
//! endpoints, taken by request count (most first) as they appear, are exported and then
//! kept for the life of the poller, so each endpoint's counters stay monotonic (an
//! endpoint moving in and out of a "top N" would make its counters jump). The endpoints
//! left out are counted in `endpoints_dropped`; their requests are still in the test's
//! totals.

use std::collections::BTreeMap;

use crate::locust::{EndpointStats, LiveStats, MasterStats, RunnerState, live};

/// The quantiles of the response-time summaries, in the order of
/// [`Series::quantiles_seconds`]: Locust's median, 95th and 99th percentiles.
pub const QUANTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// Counters and response-time quantiles of the test's total or of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Series {
    /// Requests, monotonic (see the module documentation).
    pub requests: u64,
    /// Failed requests, monotonic.
    pub failures: u64,
    /// Sum of all response times in seconds, monotonic (Locust's average × requests).
    pub response_time_sum_seconds: f64,
    /// Locust's median, p95 and p99 response times of the current run in seconds, as in
    /// [`QUANTILES`]; `None` when Locust has none (no request yet).
    pub quantiles_seconds: [Option<f64>; 3],
}

/// One exported endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Endpoint {
    /// Locust's request type, usually the HTTP method.
    pub method: String,
    /// Locust's request name (the URL path unless the locustfile names it).
    pub name: String,
    /// Its numbers.
    pub series: Series,
}

/// Everything exported for one running test after one answer of its master.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestSample {
    /// Users, requests per second, failure ratio and connected workers (the gauges).
    pub live: LiveStats,
    /// The test's totals (Locust's `Aggregated` row).
    pub total: Series,
    /// The exported endpoints, ordered by method and name (empty when per-endpoint
    /// series are off).
    pub endpoints: Vec<Endpoint>,
    /// Endpoints of the latest answer left out by the cap; `None` when per-endpoint
    /// series are off.
    pub endpoints_dropped: Option<u64>,
}

/// What the master last reported for one row.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Reading {
    requests: u64,
    failures: u64,
    /// Sum of response times in milliseconds.
    sum_ms: f64,
}

impl Reading {
    fn of(row: &EndpointStats) -> Self {
        let average = if row.avg_response_time.is_finite() {
            row.avg_response_time.max(0.0)
        } else {
            0.0
        };
        Reading {
            requests: row.num_requests,
            failures: row.num_failures,
            sum_ms: average * row.num_requests as f64,
        }
    }

    fn went_down_from(&self, before: &Reading) -> bool {
        self.requests < before.requests || self.failures < before.failures
    }
}

/// Monotonic counters over the master's resettable totals.
#[derive(Debug, Clone, Copy, Default)]
struct Monotonic {
    /// Everything counted before the last reset.
    base: Reading,
    /// The master's latest totals since the last reset.
    last: Reading,
}

impl Monotonic {
    /// Folds in a new reading (`None`: the row is absent, as after a reset); `reset`: the
    /// master started counting again.
    fn update(&mut self, reading: Option<Reading>, reset: bool) {
        let reading = reading.unwrap_or_default();
        if reset || reading.went_down_from(&self.last) {
            self.base.requests += self.last.requests;
            self.base.failures += self.last.failures;
            self.base.sum_ms += self.last.sum_ms;
            self.last = reading;
        } else {
            // Locust's average × count may come out a hair lower than before (float
            // rounding, or requests of 0 ms): a sum never goes down.
            self.last = Reading {
                sum_ms: reading.sum_ms.max(self.last.sum_ms),
                ..reading
            };
        }
    }

    fn series(&self, quantiles_seconds: [Option<f64>; 3]) -> Series {
        Series {
            requests: self.base.requests + self.last.requests,
            failures: self.base.failures + self.last.failures,
            response_time_sum_seconds: (self.base.sum_ms + self.last.sum_ms) / 1000.0,
            quantiles_seconds,
        }
    }
}

/// The quantiles of a row, in seconds (none without requests).
fn quantiles(row: Option<&EndpointStats>) -> [Option<f64>; 3] {
    let Some(row) = row.filter(|r| r.num_requests > 0) else {
        return [None; 3];
    };
    let seconds = |ms: Option<f64>| ms.filter(|v| v.is_finite()).map(|v| v / 1000.0);
    [
        seconds(row.median_response_time),
        seconds(row.p95),
        seconds(row.p99),
    ]
}

/// The key of an endpoint: (method, name).
type Key = (String, String);

fn key(row: &EndpointStats) -> Key {
    (row.method.clone().unwrap_or_default(), row.name.clone())
}

/// The counters of one test, fed with each answer of its master.
#[derive(Debug, Clone, Default)]
pub struct TestCounters {
    /// Most endpoints exported; `None`: no per-endpoint series.
    max_endpoints: Option<usize>,
    /// The runner state of the previous answer.
    state: Option<RunnerState>,
    total: Monotonic,
    /// The exported endpoints (kept once chosen).
    endpoints: BTreeMap<Key, Monotonic>,
}

impl TestCounters {
    /// Counters of a test seen for the first time; `max_endpoints`: how many endpoints get
    /// series of their own (`None`: none).
    pub fn new(max_endpoints: Option<usize>) -> Self {
        TestCounters {
            max_endpoints,
            ..Self::default()
        }
    }

    /// Folds in one answer of the master; returns what to export.
    pub fn observe(&mut self, stats: &MasterStats) -> TestSample {
        let (rows, total_row) = match stats.stats.split_last() {
            Some((total, rows)) => (rows, Some(total)),
            None => (&[][..], None),
        };
        let new_run = matches!(self.state, Some(RunnerState::Ready | RunnerState::Stopped))
            && matches!(stats.state, RunnerState::Spawning | RunnerState::Running);
        self.state = Some(stats.state);
        let reading = total_row.map(Reading::of);
        let reset = new_run || reading.unwrap_or_default().went_down_from(&self.total.last);
        self.total.update(reading, reset);

        let mut sample = TestSample {
            live: live(stats),
            total: self.total.series(quantiles(total_row)),
            ..TestSample::default()
        };
        let Some(max) = self.max_endpoints else {
            return sample;
        };
        let by_key: BTreeMap<Key, &EndpointStats> = rows.iter().map(|r| (key(r), r)).collect();
        let mut candidates: Vec<(&Key, &EndpointStats)> = by_key
            .iter()
            .filter(|(k, _)| !self.endpoints.contains_key(*k))
            .map(|(k, r)| (k, *r))
            .collect();
        candidates.sort_by(|(ka, a), (kb, b)| b.num_requests.cmp(&a.num_requests).then(ka.cmp(kb)));
        let room = max.saturating_sub(self.endpoints.len());
        for (k, _) in candidates.iter().take(room) {
            self.endpoints.insert((*k).clone(), Monotonic::default());
        }
        sample.endpoints_dropped = Some(candidates.len().saturating_sub(room) as u64);
        for (k, counters) in &mut self.endpoints {
            let row = by_key.get(k).copied();
            counters.update(row.map(Reading::of), reset);
            sample.endpoints.push(Endpoint {
                method: k.0.clone(),
                name: k.1.clone(),
                series: counters.series(quantiles(row)),
            });
        }
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, name: &str, requests: u64, failures: u64, avg: f64) -> EndpointStats {
        EndpointStats {
            method: Some(method.into()),
            name: name.into(),
            num_requests: requests,
            num_failures: failures,
            avg_response_time: avg,
            median_response_time: Some(avg),
            p95: Some(avg * 2.0),
            p99: Some(avg * 4.0),
            ..EndpointStats::default()
        }
    }

    /// An answer in `state` with these endpoint rows and their sum as the total row.
    fn answer(state: RunnerState, rows: &[EndpointStats]) -> MasterStats {
        let requests: u64 = rows.iter().map(|r| r.num_requests).sum();
        let failures: u64 = rows.iter().map(|r| r.num_failures).sum();
        let sum: f64 = rows
            .iter()
            .map(|r| r.avg_response_time * r.num_requests as f64)
            .sum();
        let avg = if requests > 0 {
            sum / requests as f64
        } else {
            0.0
        };
        let mut stats = rows.to_vec();
        let mut total = row("", "Aggregated", requests, failures, avg);
        total.method = None;
        stats.push(total);
        MasterStats {
            state,
            user_count: 3,
            worker_count: 2,
            total_rps: 7.5,
            fail_ratio: 0.25,
            stats,
            ..MasterStats::default()
        }
    }

    #[test]
    fn totals_and_quantiles_in_seconds() {
        let mut c = TestCounters::new(None);
        let s = c.observe(&answer(
            RunnerState::Running,
            &[row("GET", "/a", 10, 1, 20.0), row("GET", "/b", 10, 3, 40.0)],
        ));
        assert_eq!((s.live.users, s.live.connected_workers), (3, 2));
        assert_eq!((s.total.requests, s.total.failures), (20, 4));
        assert!((s.total.response_time_sum_seconds - 0.6).abs() < 1e-9);
        assert_eq!(
            s.total.quantiles_seconds,
            [Some(0.03), Some(0.06), Some(0.12)]
        );
        assert!(s.endpoints.is_empty());
        assert_eq!(s.endpoints_dropped, None, "per-endpoint series are off");
    }

    #[test]
    fn no_request_yet_means_no_quantiles() {
        let mut c = TestCounters::new(Some(5));
        let s = c.observe(&answer(RunnerState::Ready, &[]));
        assert_eq!(s.total.quantiles_seconds, [None; 3]);
        assert_eq!(s.total.requests, 0);
        assert_eq!(s.endpoints_dropped, Some(0));
        let s = c.observe(&MasterStats::default());
        assert_eq!(s.total, Series::default(), "an answer without rows");
    }

    #[test]
    fn counters_survive_a_new_run_a_stats_reset_and_a_master_restart() {
        let mut c = TestCounters::new(Some(5));
        let a = |n, f| row("GET", "/a", n, f, 10.0);
        c.observe(&answer(RunnerState::Running, &[a(50, 5)]));
        let s = c.observe(&answer(RunnerState::Stopped, &[a(60, 6)]));
        assert_eq!((s.total.requests, s.total.failures), (60, 6));
        // A new run from `stopped` starts from zero in Locust; it overtook the old
        // totals before this poll, so only the state change tells.
        let s = c.observe(&answer(RunnerState::Running, &[a(70, 1)]));
        assert_eq!((s.total.requests, s.total.failures), (130, 7));
        assert_eq!(s.endpoints[0].series.requests, 130);
        // "Reset stats" in the web UI while running: the totals go down.
        let s = c.observe(&answer(RunnerState::Running, &[a(3, 0)]));
        assert_eq!((s.total.requests, s.total.failures), (133, 7));
        assert!((s.total.response_time_sum_seconds - 1.33).abs() < 1e-9);
        // A restarted master has no rows yet: the counters stay, the quantiles go.
        let s = c.observe(&answer(RunnerState::Ready, &[]));
        assert_eq!((s.total.requests, s.total.failures), (133, 7));
        assert_eq!(s.endpoints[0].series.requests, 133);
        assert_eq!(s.endpoints[0].series.quantiles_seconds, [None; 3]);
        let s = c.observe(&answer(RunnerState::Running, &[a(2, 2)]));
        assert_eq!((s.total.requests, s.total.failures), (135, 9));
    }

    #[test]
    fn a_sum_never_goes_down_between_resets() {
        let mut c = TestCounters::new(None);
        let s1 = c.observe(&answer(
            RunnerState::Running,
            &[row("GET", "/a", 3, 0, 0.1)],
        ));
        // Requests of 0 ms: the average drops and average × count rounds lower.
        let s2 = c.observe(&answer(
            RunnerState::Running,
            &[row("GET", "/a", 4, 0, 0.1 * 3.0 / 4.0 - 1e-12)],
        ));
        assert!(s2.total.response_time_sum_seconds >= s1.total.response_time_sum_seconds);
        assert_eq!(s2.total.requests, 4);
    }

    #[test]
    fn endpoints_are_capped_by_request_count_and_stay_once_chosen() {
        let mut c = TestCounters::new(Some(2));
        let s = c.observe(&answer(
            RunnerState::Running,
            &[
                row("GET", "/few", 1, 0, 1.0),
                row("GET", "/many", 9, 0, 1.0),
                row("POST", "/some", 5, 1, 1.0),
            ],
        ));
        let names: Vec<(&str, &str)> = s
            .endpoints
            .iter()
            .map(|e| (e.method.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(names, [("GET", "/many"), ("POST", "/some")]);
        assert_eq!(s.endpoints_dropped, Some(1));
        assert_eq!(s.endpoints[1].series.failures, 1);
        // /few overtakes /some: the chosen endpoints stay, so their counters stay
        // monotonic; /few is still counted in the totals.
        let s = c.observe(&answer(
            RunnerState::Running,
            &[
                row("GET", "/few", 100, 0, 1.0),
                row("GET", "/many", 10, 0, 1.0),
                row("POST", "/some", 6, 1, 1.0),
                row("GET", "/new", 1, 0, 1.0),
            ],
        ));
        let names: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["/many", "/some"]);
        assert_eq!(s.endpoints_dropped, Some(2));
        assert_eq!(s.total.requests, 117);
    }

    #[test]
    fn free_room_is_filled_as_endpoints_appear() {
        let mut c = TestCounters::new(Some(3));
        let s = c.observe(&answer(
            RunnerState::Running,
            &[row("GET", "/a", 1, 0, 1.0)],
        ));
        assert_eq!((s.endpoints.len(), s.endpoints_dropped), (1, Some(0)));
        let s = c.observe(&answer(
            RunnerState::Running,
            &[
                row("GET", "/a", 2, 0, 1.0),
                row("GET", "/b", 5, 0, 1.0),
                row("GET", "/c", 3, 0, 1.0),
                row("GET", "/d", 4, 0, 1.0),
            ],
        ));
        let names: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["/a", "/b", "/d"]);
        assert_eq!(s.endpoints_dropped, Some(1));
    }
}
