//! What the status is derived from: the children the controller observed and what the
//! Locust master last reported.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::phase;
use crate::api::status::{LiveStatus, TestResult};
use crate::api::v2::ThresholdsSpec;

/// What the controller observed about one LocustTest's children.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The generation the status describes (`metadata.generation` of the spec the
    /// children were built from; the controller keeps the started generation when the
    /// spec drifted). Written to `observedGeneration` and to every condition.
    pub generation: i64,
    /// Whether the master Service exists.
    pub service_exists: bool,
    /// The master Job, if it exists.
    pub master_job: Option<Job>,
    /// The worker Job, if it exists.
    pub worker_job: Option<Job>,
    /// The master's pods (selected by label).
    pub master_pods: Vec<Pod>,
    /// The workers' pods (selected by label).
    pub worker_pods: Vec<Pod>,
    /// Locust worker processes per worker pod (values below 1 count as 1).
    pub processes_per_pod: i32,
    /// What the Locust master's API last said; `None` when it could not be reached (or
    /// was not asked yet): workers are then counted from Ready worker pods.
    pub master: Option<MasterView>,
    /// The final result once the master's totals settled after the run stopped.
    pub final_result: Option<TestResult>,
    /// The totals of the master's last answer in state `stopped`, not (yet) settled: used
    /// only when the master Job has finished and no settled result exists.
    pub stopped_result: Option<TestResult>,
    /// Why the master's API could not be read, when it could not (for messages).
    pub master_error: Option<String>,
    /// What the master last reported, kept after it stopped answering; `None` when it
    /// never answered.
    pub master_last_seen: Option<MasterView>,
    /// Whether the master was ever seen running the test (meaningful only with
    /// `master_last_seen`).
    pub run_started: bool,
    /// The test's `spec.thresholds`.
    pub thresholds: Option<ThresholdsSpec>,
    /// Jobs whose pods the API server refuses to create (their FailedCreate events), if
    /// the controller looked: a Job without pods for a while.
    pub refused_pods: Vec<RefusedPods>,
    /// The master's `--expect-workers-max-wait` in seconds, if bounded.
    pub expect_workers_max_wait: Option<u32>,
}

impl Observed {
    /// The result to judge and keep: the settled one, else (once the master Job has
    /// finished, so nothing more will come) the last `stopped` totals.
    pub(crate) fn result(&self) -> Option<&TestResult> {
        // The master has finished: its Job says so, or its Locust container ended in a pod
        // a sidecar holds open.
        let finished = self
            .master_job
            .as_ref()
            .is_some_and(|j| phase::job_outcome(j).is_some())
            || phase::held_open_outcome(&self.master_pods, crate::builders::MASTER_CONTAINER)
                .is_some();
        self.final_result
            .as_ref()
            .or(self.stopped_result.as_ref().filter(|_| finished))
    }
}

/// A Job whose pods the API server refuses to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedPods {
    /// The Job's role.
    pub role: crate::builders::Role,
    /// The Job's name.
    pub job: String,
    /// The latest FailedCreate event's message (the API server's refusal).
    pub message: String,
}

/// What the Locust master reports about a running test.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MasterView {
    /// Workers the master reports connected (`worker_count`).
    pub connected_workers: i32,
    /// Users running.
    pub users: i64,
    /// Current requests per second.
    pub requests_per_second: f64,
    /// Failed over all requests so far (0..1).
    pub failure_ratio: f64,
}

impl MasterView {
    /// The view of a `/stats/requests` answer's live numbers.
    pub fn from_live(live: &crate::locust::LiveStats) -> Self {
        MasterView {
            connected_workers: i32::try_from(live.connected_workers).unwrap_or(i32::MAX),
            users: i64::try_from(live.users).unwrap_or(i64::MAX),
            requests_per_second: live.rps,
            failure_ratio: live.failure_ratio,
        }
    }

    /// The live numbers for the status (rounded, so noise does not show).
    pub fn live_status(&self) -> LiveStatus {
        let round = |v: f64, scale: f64| {
            if v.is_finite() {
                (v * scale).round() / scale
            } else {
                0.0
            }
        };
        LiveStatus {
            users: self.users,
            requests_per_second: round(self.requests_per_second, 100.0),
            failure_ratio: round(self.failure_ratio, 10_000.0),
        }
    }
}

/// Whether `new` differs enough from `old` to be written: users changed, the requests
/// per second moved by more than 10 % (of at least 1 request per second), or the failure
/// ratio by more than 0.01.
pub fn live_changed(old: Option<&LiveStatus>, new: &LiveStatus) -> bool {
    let Some(old) = old else {
        return true;
    };
    old.users != new.users
        || (new.requests_per_second - old.requests_per_second).abs()
            > 0.1 * old.requests_per_second.max(1.0)
        || (new.failure_ratio - old.failure_ratio).abs() > 0.01
}
