//! Pure status derivation: what the controller observed (Jobs, pods, the previous status)
//! in, the new [`LocustTestStatus`] and the events to publish out. No I/O and no clock:
//! the caller passes `now`.
//!
//! The phase only moves forward (Pending → Running → Succeeded | Failed): a test that was
//! Running stays Running when its pods disappear, and a terminal status is returned
//! unchanged. Missing children are not a failure by themselves (the controller recreates
//! them). Pods that are stuck (image pull errors, missing ConfigMaps/Secrets, crash loops,
//! unschedulable) show in the `PodsHealthy` condition at once and fail the test only after
//! they stayed unhealthy for the grace period, so a slow node scale-up is tolerated.
//!
//! Modules: [`conditions`] (types, reasons, [`set_condition`]), [`pods`] (pod health),
//! `phase` (Job outcomes) and [`events`](mod@events) (transitions worth an Event).

pub mod conditions;
pub mod events;
mod phase;
pub mod pods;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::status::{LiveStatus, LocustTestStatus, Phase, TestResult};
use crate::builders::Role;
pub use conditions::set_condition;
use conditions::{FALSE, TRUE, UNKNOWN, condition, reason};
pub use events::{EventKind, StatusEvent, events};
pub use phase::{MASTER_FAILED, WORKERS_FAILED};
pub use pods::{PodProblem, ProblemKind};

/// A Warning event about one of the test's pods, as the controller may have seen it
/// (for example `FailedMount` for a missing ConfigMap or Secret volume). Optional input:
/// without it a pod stuck on a missing volume is still found, after the grace period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodWarning {
    /// Name of the pod the event is about.
    pub pod: String,
    /// The event's reason, for example `FailedMount`.
    pub reason: String,
    /// The event's message.
    pub message: String,
}

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
    /// Warning events about the test's pods, if the controller collects them.
    pub pod_warnings: Vec<PodWarning>,
    /// What the Locust master's API last said; `None` when it could not be reached (or
    /// was not asked yet): workers are then counted from Ready worker pods.
    pub master: Option<MasterView>,
    /// The final result once the master's totals settled after the run stopped.
    pub final_result: Option<TestResult>,
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

/// Whether `grace` has passed between `since` and `now`.
pub(crate) fn elapsed_at_least(since: &Time, now: &Time, grace: Duration) -> bool {
    let elapsed = now
        .0
        .as_millisecond()
        .saturating_sub(since.0.as_millisecond());
    elapsed >= i64::try_from(grace.as_millis()).unwrap_or(i64::MAX)
}

/// Why a test failed.
struct Failure {
    /// CamelCase reason for the `Ready` condition.
    reason: &'static str,
    message: String,
    at: Option<Time>,
}

/// All pod problems, the most important first: blocking before informational, master
/// before workers, then by kind and pod name.
fn pod_problems(observed: &Observed, now: &Time, grace: Duration) -> Vec<PodProblem> {
    let roles = [
        (Role::Master, &observed.master_pods),
        (Role::Worker, &observed.worker_pods),
    ];
    let mut problems: Vec<PodProblem> = roles
        .into_iter()
        .flat_map(|(role, pods)| {
            pods.iter()
                .filter_map(move |p| pods::classify(p, role, &observed.pod_warnings, now, grace))
        })
        .collect();
    problems.sort_by(|a, b| {
        (!a.blocking, a.role != Role::Master, a.kind, &a.pod).cmp(&(
            !b.blocking,
            b.role != Role::Master,
            b.kind,
            &b.pod,
        ))
    });
    problems
}

/// The verdict from the Jobs, or from pods unhealthy for longer than `grace`.
fn failure_or_success(
    previous: &LocustTestStatus,
    observed: &Observed,
    problems: &[PodProblem],
    now: &Time,
    grace: Duration,
) -> Result<Option<Option<Time>>, Failure> {
    if let Some(job) = &observed.master_job {
        match phase::job_outcome(job) {
            Some(phase::JobOutcome::Succeeded { at }) => return Ok(Some(at)),
            Some(phase::JobOutcome::Failed { why, at }) => {
                let mut message = format!("the master Job failed ({why})");
                if let Some((code, why)) = phase::failed_exit(&observed.master_pods) {
                    let why = if why.is_empty() {
                        String::new()
                    } else {
                        format!(", {why}")
                    };
                    message.push_str(&format!(
                        "; the master container exited with code {code}{why} \
                         (Locust exits 1 when any request failed); see the master logs"
                    ));
                }
                return Err(Failure {
                    reason: MASTER_FAILED,
                    message,
                    at,
                });
            }
            None => {}
        }
    }
    if let Some(job) = &observed.worker_job {
        let outcome = phase::job_outcome(job);
        let why = match outcome {
            Some(phase::JobOutcome::Failed { why, at }) => Some((why, at)),
            _ if phase::all_indexes_failed(job) => Some(("every worker index failed".into(), None)),
            _ => None,
        };
        if let Some((why, at)) = why {
            return Err(Failure {
                reason: WORKERS_FAILED,
                message: format!(
                    "the workers failed before the master finished ({why}); see the worker logs"
                ),
                at,
            });
        }
    }
    if let Some(first) = problems.first().filter(|p| p.blocking) {
        let since = conditions::find(&previous.conditions, conditions::PODS_HEALTHY)
            .filter(|c| c.status == FALSE)
            .map(|c| &c.last_transition_time)
            .unwrap_or(now);
        if elapsed_at_least(since, now, grace) {
            return Err(Failure {
                reason: first.kind.reason(),
                message: format!(
                    "pods stayed unhealthy for more than {}s: {}",
                    grace.as_secs(),
                    first.message()
                ),
                at: None,
            });
        }
    }
    Ok(None)
}

/// Derives the new status of a test from the `previous` status and what was `observed`.
///
/// `expected_workers` is [`crate::builders::expected_workers`] of the spec the test was
/// started from; `grace` is how long pods may stay unhealthy (pending, unschedulable, image
/// pull errors, …) before the test fails. A terminal `previous` is returned unchanged.
/// Conditions this function does not own (such as `SpecDrifted`) are kept as they are.
///
/// Workers: when `observed.master` is known, `connectedWorkers` is the master's count
/// (reasons `AllWorkersConnected` / `WorkersMissing`); otherwise Ready worker pods are
/// counted (reasons `WorkersConnectedFromPods` / `WorkersMissingFromPods`). `live` follows
/// the master (cleared when it cannot be reached, kept when the change is small, see
/// [`live_changed`]); `result` is the previous one or else `observed.final_result`, also
/// when the test is already terminal.
pub fn derive(
    previous: &LocustTestStatus,
    observed: &Observed,
    expected_workers: i32,
    now: &Time,
    grace: Duration,
) -> LocustTestStatus {
    let prev_phase = previous.phase.unwrap_or(Phase::Pending);
    if prev_phase.is_terminal() {
        let mut same = previous.clone();
        if same.result.is_none() {
            same.result = observed.final_result.clone();
        }
        return same;
    }
    let generation = observed.generation;
    let problems = pod_problems(observed, now, grace);
    let verdict = failure_or_success(previous, observed, &problems, now, grace);

    let master_ready = observed.master_pods.iter().any(pods::is_ready)
        || observed
            .master_job
            .as_ref()
            .and_then(|j| j.status.as_ref())
            .and_then(|s| s.ready)
            .is_some_and(|r| r > 0);
    let (phase, completion_time) = match &verdict {
        Ok(Some(at)) => (
            Phase::Succeeded,
            Some(at.clone().unwrap_or_else(|| now.clone())),
        ),
        Err(f) => (
            Phase::Failed,
            Some(f.at.clone().unwrap_or_else(|| now.clone())),
        ),
        Ok(None) if master_ready || prev_phase == Phase::Running => (Phase::Running, None),
        Ok(None) => (Phase::Pending, None),
    };
    let start_time = previous.start_time.clone().or_else(|| match &verdict {
        _ if phase == Phase::Running => Some(now.clone()),
        Ok(Some(_))
        | Err(Failure {
            reason: MASTER_FAILED,
            ..
        }) => Some(phase::started_at(&observed.master_pods).unwrap_or_else(|| now.clone())),
        _ => None,
    });

    let ready_pods = observed
        .worker_pods
        .iter()
        .filter(|p| pods::is_ready(p))
        .count();
    let ready_pods = i32::try_from(ready_pods).unwrap_or(i32::MAX);
    let expected = expected_workers.max(0);
    let from_pods = ready_pods
        .saturating_mul(observed.processes_per_pod.max(1))
        .min(expected);
    let connected = observed
        .master
        .map_or(from_pods, |m| m.connected_workers.max(0));

    let mut conds = previous.conditions.clone();
    let mut set = |c| {
        set_condition(&mut conds, c, now);
    };

    // Ready
    let missing: Vec<&str> = [
        (observed.service_exists, "master Service"),
        (observed.master_job.is_some(), "master Job"),
        (observed.worker_job.is_some(), "worker Job"),
    ]
    .into_iter()
    .filter_map(|(present, what)| (!present).then_some(what))
    .collect();
    set(match &verdict {
        Err(f) => condition(conditions::READY, FALSE, f.reason, &f.message, generation),
        _ if missing.is_empty() => condition(
            conditions::READY,
            TRUE,
            reason::RESOURCES_CREATED,
            "the master Service, master Job and worker Job exist",
            generation,
        ),
        _ => condition(
            conditions::READY,
            FALSE,
            reason::RESOURCES_PENDING,
            format!("waiting for the operator to create: {}", missing.join(", ")),
            generation,
        ),
    });

    // WorkersConnected
    let (workers_msg, all_reason, missing_reason) = if observed.master.is_some() {
        (
            format!("{connected}/{expected} workers connected"),
            reason::ALL_WORKERS_CONNECTED,
            reason::WORKERS_MISSING,
        )
    } else {
        (
            format!(
                "{connected}/{expected} workers connected, counted from Ready worker pods: \
                 the master's API was unreachable"
            ),
            reason::WORKERS_CONNECTED_FROM_PODS,
            reason::WORKERS_MISSING_FROM_PODS,
        )
    };
    set(if phase.is_terminal() {
        condition(
            conditions::WORKERS_CONNECTED,
            FALSE,
            reason::TEST_FINISHED,
            "the test has finished; its workers have disconnected",
            generation,
        )
    } else if connected >= expected {
        condition(
            conditions::WORKERS_CONNECTED,
            TRUE,
            all_reason,
            workers_msg,
            generation,
        )
    } else {
        condition(
            conditions::WORKERS_CONNECTED,
            FALSE,
            missing_reason,
            workers_msg,
            generation,
        )
    });

    // TestCompleted
    set(match (&verdict, phase) {
        (Err(f), _) => condition(
            conditions::TEST_COMPLETED,
            TRUE,
            reason::TEST_FAILED,
            &f.message,
            generation,
        ),
        (Ok(Some(_)), _) => condition(
            conditions::TEST_COMPLETED,
            TRUE,
            reason::TEST_SUCCEEDED,
            "the master Job completed successfully",
            generation,
        ),
        (Ok(None), Phase::Running) => condition(
            conditions::TEST_COMPLETED,
            FALSE,
            reason::TEST_IN_PROGRESS,
            "the test is running",
            generation,
        ),
        (Ok(None), _) => condition(
            conditions::TEST_COMPLETED,
            FALSE,
            reason::TEST_IN_PROGRESS,
            "waiting for the master pod to become ready",
            generation,
        ),
    });

    // PodsHealthy
    let pod_count = observed.master_pods.len() + observed.worker_pods.len();
    set(match problems.split_first() {
        Some((first, rest)) => {
            let mut message = first.message();
            if !rest.is_empty() {
                message.push_str(&format!(" (and {} more unhealthy pods)", rest.len()));
            }
            condition(
                conditions::PODS_HEALTHY,
                FALSE,
                first.kind.reason(),
                message,
                generation,
            )
        }
        None if pod_count == 0 => condition(
            conditions::PODS_HEALTHY,
            UNKNOWN,
            reason::WAITING_FOR_PODS,
            "no pod of the test exists yet",
            generation,
        ),
        None => condition(
            conditions::PODS_HEALTHY,
            TRUE,
            reason::PODS_HEALTHY,
            format!("all {pod_count} pods are healthy"),
            generation,
        ),
    });

    LocustTestStatus {
        phase: Some(phase),
        expected_workers: Some(expected),
        connected_workers: Some(connected),
        start_time,
        completion_time: previous.completion_time.clone().or(completion_time),
        observed_generation: Some(generation),
        result: previous
            .result
            .clone()
            .or_else(|| observed.final_result.clone()),
        live: match observed.master {
            Some(m) if !phase.is_terminal() => {
                let new = m.live_status();
                if live_changed(previous.live.as_ref(), &new) {
                    Some(new)
                } else {
                    previous.live.clone()
                }
            }
            _ => None,
        },
        conditions: conds,
    }
}
