//! The typed `/stats/requests` answer and the pure derivations the operator needs.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::api::status::TestResult;

/// How long the master caches its `/stats/requests` answer (Locust's `DEFAULT_CACHE_TIME`):
/// two polls closer than this may see the same cached answer.
pub const STATS_CACHE_TIME: Duration = Duration::from_secs(2);

/// How often a worker sends its numbers to the master (Locust's `WORKER_REPORT_INTERVAL`):
/// requests a worker made just before the run stopped reach the master up to this late.
pub const WORKER_REPORT_INTERVAL: Duration = Duration::from_secs(3);

/// How long the totals must stay the same, in state `stopped`, to be final: a worker's
/// last report plus the master's cache, and a second for scheduling delays.
pub const SETTLE_TIME: Duration =
    Duration::from_secs(WORKER_REPORT_INTERVAL.as_secs() + STATS_CACHE_TIME.as_secs() + 1);

/// State of the Locust runner (`state` in `/stats/requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunnerState {
    /// Waiting to start (or for workers).
    Ready,
    /// Starting users.
    Spawning,
    /// All users started.
    Running,
    /// Cleaning up.
    Cleanup,
    /// Stopping users.
    Stopping,
    /// The run has ended.
    Stopped,
    /// A worker has stopped sending heartbeats (or the runner is absent).
    Missing,
    /// A state this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// One worker as the master sees it.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct WorkerInfo {
    /// Worker id (host name and a random suffix).
    pub id: String,
    /// Worker state (`ready`, `spawning`, `running`, `stopped`, `missing`).
    pub state: String,
    /// Users running on this worker.
    pub user_count: u64,
    /// CPU usage in percent.
    pub cpu_usage: f64,
    /// Memory usage in bytes.
    pub memory_usage: f64,
}

/// One row of `stats`: an endpoint, or (the last row) the aggregated total.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct EndpointStats {
    /// HTTP method (empty for the total row).
    pub method: Option<String>,
    /// Request name (`Aggregated` for the total row).
    pub name: String,
    /// Requests made.
    pub num_requests: u64,
    /// Requests that failed.
    pub num_failures: u64,
    /// Average response time in ms.
    pub avg_response_time: f64,
    /// Median response time in ms.
    pub median_response_time: Option<f64>,
    /// Fastest response in ms.
    pub min_response_time: Option<f64>,
    /// Slowest response in ms.
    pub max_response_time: Option<f64>,
    /// Requests per second over the last seconds of traffic.
    pub current_rps: f64,
    /// Requests per second over the whole run.
    pub total_rps: f64,
    /// 95th percentile response time in ms.
    #[serde(rename = "response_time_percentile_0.95")]
    pub p95: Option<f64>,
    /// 99th percentile response time in ms.
    #[serde(rename = "response_time_percentile_0.99")]
    pub p99: Option<f64>,
}

/// The master's `/stats/requests` answer (the fields the operator uses).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct MasterStats {
    /// Runner state.
    pub state: RunnerState,
    /// Users running, over all workers.
    pub user_count: u64,
    /// Workers connected (ready, spawning or running; `missing` ones excluded).
    pub worker_count: u64,
    /// The workers the master knows, including missing ones.
    pub workers: Vec<WorkerInfo>,
    /// Current requests per second.
    pub total_rps: f64,
    /// Failed requests over all requests so far (0..1).
    pub fail_ratio: f64,
    /// Per-endpoint rows; the last one is the aggregated total.
    pub stats: Vec<EndpointStats>,
}

impl MasterStats {
    /// The aggregated total (the last row), when the answer has rows.
    pub fn total(&self) -> Option<&EndpointStats> {
        self.stats.last()
    }

    /// The totals that must stop changing before the result is final.
    pub fn totals(&self) -> Totals {
        let t = self.total();
        Totals {
            requests: t.map_or(0, |t| t.num_requests),
            failures: t.map_or(0, |t| t.num_failures),
            avg_response_time_bits: t.map_or(0, |t| t.avg_response_time.to_bits()),
        }
    }
}

/// Parses a `/stats/requests` body.
pub fn parse_stats(body: &[u8]) -> Result<MasterStats, serde_json::Error> {
    serde_json::from_slice(body)
}

/// Live numbers for the status while a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LiveStats {
    /// Users running.
    pub users: u64,
    /// Current requests per second.
    pub rps: f64,
    /// Failed over all requests so far (0..1).
    pub failure_ratio: f64,
    /// Workers the master reports connected.
    pub connected_workers: u64,
}

/// The live numbers of `stats`.
pub fn live(stats: &MasterStats) -> LiveStats {
    LiveStats {
        users: stats.user_count,
        rps: stats.total_rps,
        failure_ratio: stats.fail_ratio,
        connected_workers: stats.worker_count,
    }
}

/// The test result from the aggregated row of `stats` (`None` when the answer has no
/// rows, which a Locust master never sends). `requestsPerSecond` is the run's average
/// (`total_rps` of the total row); p95/p99 are absent when Locust has no value.
pub fn result(stats: &MasterStats) -> Option<TestResult> {
    let t = stats.total()?;
    let finite = |v: f64| v.is_finite().then_some(v);
    let total_requests = i64::try_from(t.num_requests).unwrap_or(i64::MAX);
    let failed_requests = i64::try_from(t.num_failures).unwrap_or(i64::MAX);
    Some(TestResult {
        total_requests,
        failed_requests,
        failure_percentage: TestResult::failure_percentage_of(total_requests, failed_requests),
        average_response_time: finite(t.avg_response_time).unwrap_or(0.0),
        p95_response_time: t.p95.and_then(finite),
        p99_response_time: t.p99.and_then(finite),
        requests_per_second: finite(t.total_rps),
    })
}

/// Totals compared between polls to decide that the final numbers have settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Total requests.
    pub requests: u64,
    /// Total failures.
    pub failures: u64,
    /// Bits of the average response time (exact comparison).
    pub avg_response_time_bits: u64,
}

/// Decides when the final totals have settled: workers send their last numbers after the
/// run stops (every [`WORKER_REPORT_INTERVAL`]) and the master caches its answer for
/// [`STATS_CACHE_TIME`], so the first answer saying `stopped` may still grow. The totals
/// are settled when every poll in state `stopped` over at least [`SETTLE_TIME`] reported
/// the same [`Totals`]. Pure: the caller passes the time of each poll.
#[derive(Debug, Clone, Default)]
pub struct Settler {
    last: Option<(Totals, Instant)>,
}

impl Settler {
    /// A settler that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a poll made at `at`; returns the final result once the totals have settled.
    /// A poll in another state than `stopped` starts over (a new run may have begun).
    pub fn observe(&mut self, stats: &MasterStats, at: Instant) -> Option<TestResult> {
        if stats.state != RunnerState::Stopped {
            self.last = None;
            return None;
        }
        let totals = stats.totals();
        match self.last {
            Some((prev, when)) if prev == totals => {
                if at.saturating_duration_since(when) >= SETTLE_TIME {
                    result(stats)
                } else {
                    None
                }
            }
            _ => {
                self.last = Some((totals, at));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer of Locust 2.43.1 (master, two workers, one endpoint), trimmed.
    const SAMPLE: &str = r#"{
      "current_response_time_percentiles": {"response_time_percentile_0.5": 2, "response_time_percentile_0.95": 5},
      "errors": [{"error": "500 Server Error", "method": "GET", "name": "/fail", "occurrences": 3}],
      "fail_ratio": 0.1,
      "state": "running",
      "stats": [
        {"avg_content_length": 2.0, "avg_response_time": 1.5, "current_fail_per_sec": 0.0, "current_rps": 18.0,
         "max_response_time": 9, "median_response_time": 1, "method": "GET", "min_response_time": 0, "name": "/ok",
         "num_failures": 0, "num_requests": 27, "response_time_percentile_0.95": 3, "response_time_percentile_0.99": 8,
         "total_fail_per_sec": 0.0, "total_rps": 17.5},
        {"avg_content_length": 2.0, "avg_response_time": 1.75, "current_fail_per_sec": 2.0, "current_rps": 20.0,
         "max_response_time": 9, "median_response_time": 1, "method": "", "min_response_time": 0, "name": "Aggregated",
         "num_failures": 3, "num_requests": 30, "response_time_percentile_0.95": 4, "response_time_percentile_0.99": 9,
         "total_fail_per_sec": 1.5, "total_rps": 19.5}
      ],
      "total_fail_per_sec": 2.0,
      "total_rps": 20.0,
      "user_count": 10,
      "worker_count": 2,
      "workers": [
        {"cpu_usage": 3.1, "id": "host_a1", "memory_usage": 41000000, "state": "running", "user_count": 5},
        {"cpu_usage": 2.9, "id": "host_b2", "memory_usage": 40000000, "state": "running", "user_count": 5}
      ]
    }"#;

    fn sample() -> MasterStats {
        parse_stats(SAMPLE.as_bytes()).expect("sample parses")
    }

    #[test]
    fn parses_the_master_answer() {
        let s = sample();
        assert_eq!(s.state, RunnerState::Running);
        assert_eq!((s.user_count, s.worker_count), (10, 2));
        assert_eq!(s.workers.len(), 2);
        assert_eq!(s.workers[0].state, "running");
        let t = s.total().expect("total row");
        assert_eq!(t.name, "Aggregated");
        assert_eq!((t.num_requests, t.num_failures), (30, 3));
        assert_eq!((t.p95, t.p99), (Some(4.0), Some(9.0)));
    }

    #[test]
    fn tolerates_the_answer_without_runner_and_unknown_states() {
        let s = parse_stats(
            br#"{"stats": [], "errors": [], "total_rps": 0.0, "fail_ratio": 0.0,
                 "current_response_time_percentile_1": null, "state": "missing", "user_count": 0}"#,
        )
        .expect("parses");
        assert_eq!(s.state, RunnerState::Missing);
        assert_eq!(result(&s), None);
        let s = parse_stats(br#"{"state": "something-new"}"#).expect("parses");
        assert_eq!(s.state, RunnerState::Unknown);
        let s = parse_stats(
            br#"{"stats": [{"name": "Aggregated", "num_requests": 0,
                 "response_time_percentile_0.95": null}]}"#,
        )
        .expect("parses");
        assert_eq!(
            result(&s),
            Some(TestResult {
                requests_per_second: Some(0.0),
                ..TestResult::default()
            }),
            "no requests: zeros and no percentiles"
        );
        assert!(parse_stats(b"<html>").is_err());
    }

    #[test]
    fn live_numbers() {
        assert_eq!(
            live(&sample()),
            LiveStats {
                users: 10,
                rps: 20.0,
                failure_ratio: 0.1,
                connected_workers: 2
            }
        );
    }

    #[test]
    fn result_comes_from_the_total_row() {
        assert_eq!(
            result(&sample()),
            Some(TestResult {
                total_requests: 30,
                failed_requests: 3,
                failure_percentage: Some(10.0),
                average_response_time: 1.75,
                p95_response_time: Some(4.0),
                p99_response_time: Some(9.0),
                requests_per_second: Some(19.5),
            })
        );
    }

    fn with(state: RunnerState, requests: u64) -> MasterStats {
        let mut s = sample();
        s.state = state;
        if let Some(t) = s.stats.last_mut() {
            t.num_requests = requests;
        }
        s
    }

    #[test]
    fn settles_on_equal_stopped_polls_over_the_settle_time() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_millis(s);
        let mut st = Settler::new();
        assert_eq!(st.observe(&with(RunnerState::Running, 10), at(0)), None);
        // First stopped poll: workers may still send their last numbers.
        assert_eq!(st.observe(&with(RunnerState::Stopped, 20), at(1000)), None);
        // Totals grew (a worker's last report): start over from this poll.
        assert_eq!(st.observe(&with(RunnerState::Stopped, 25), at(3500)), None);
        // Same totals, but not for long enough: a report may still be on its way.
        assert_eq!(st.observe(&with(RunnerState::Stopped, 25), at(5500)), None);
        assert_eq!(st.observe(&with(RunnerState::Stopped, 25), at(9000)), None);
        let r = st
            .observe(&with(RunnerState::Stopped, 25), at(9500))
            .expect("settled");
        assert_eq!(r.total_requests, 25);
    }

    #[test]
    fn a_new_run_starts_over() {
        let t0 = Instant::now();
        let mut st = Settler::new();
        assert_eq!(st.observe(&with(RunnerState::Stopped, 5), t0), None);
        assert_eq!(
            st.observe(&with(RunnerState::Running, 5), t0 + Duration::from_secs(3)),
            None
        );
        assert_eq!(
            st.observe(&with(RunnerState::Stopped, 5), t0 + Duration::from_secs(6)),
            None,
            "needs a second stopped poll again"
        );
        assert!(
            st.observe(&with(RunnerState::Stopped, 5), t0 + Duration::from_secs(12))
                .is_some()
        );
    }
}
