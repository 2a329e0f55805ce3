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
//! `phase` (Job outcomes), [`events`](mod@events) (transitions worth an Event) and
//! [`progress`] (the kstatus conditions `Reconciling` and `Stalled`).

pub mod conditions;
pub mod events;
mod phase;
pub mod pods;
pub mod progress;
pub mod verdict;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::status::{LiveStatus, LocustTestStatus, Phase, TestResult};
use crate::api::v2::ThresholdsSpec;
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
    /// The master's `--expect-workers-max-wait` in seconds, if bounded.
    pub expect_workers_max_wait: Option<u32>,
}

impl Observed {
    /// The result to judge and keep: the settled one, else (once the master Job has
    /// finished, so nothing more will come) the last `stopped` totals.
    fn result(&self) -> Option<&TestResult> {
        let finished = self
            .master_job
            .as_ref()
            .is_some_and(|j| phase::job_outcome(j).is_some());
        self.final_result
            .as_ref()
            .or(self.stopped_result.as_ref().filter(|_| finished))
    }
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
    /// The master Job ended (so the test started, whatever the pods still show).
    master_ended: bool,
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
    expected: i32,
    now: &Time,
    grace: Duration,
) -> Result<Option<Option<Time>>, Failure> {
    if let Some(job) = &observed.master_job {
        match phase::job_outcome(job) {
            Some(phase::JobOutcome::Succeeded { at }) => {
                return match (&observed.thresholds, observed.result()) {
                    (None, _) => Ok(Some(at)),
                    (Some(t), Some(result)) => {
                        let j = verdict::judge(t, result);
                        if j.breached.is_empty() {
                            Ok(Some(at))
                        } else {
                            Err(Failure {
                                reason: verdict::THRESHOLDS_BREACHED,
                                message: format!("thresholds breached: {}", j.breached.join(", ")),
                                at,
                                master_ended: true,
                            })
                        }
                    }
                    (Some(_), None) => Err(Failure {
                        reason: verdict::RESULT_UNAVAILABLE,
                        message: format!(
                            "the run ended but its final statistics could not be read from \
                             the master{}, so spec.thresholds cannot be judged; check that \
                             the operator reaches the master (MASTER_URL_TEMPLATE) and that \
                             master.autoquit.timeout leaves it a few poll intervals",
                            observed
                                .master_error
                                .as_ref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        ),
                        at,
                        master_ended: true,
                    }),
                };
            }
            Some(phase::JobOutcome::Failed { why, at }) => {
                let exit = phase::failed_exit(&observed.master_pods);
                let explained = verdict::failed_master(&verdict::FailedMaster {
                    exit_code: exit.as_ref().map(|(code, _)| *code),
                    result: observed.result(),
                    thresholds: observed.thresholds.as_ref(),
                    connected: observed
                        .master_last_seen
                        .map(|m| m.connected_workers)
                        .or(previous.connected_workers)
                        .unwrap_or(0),
                    run_started: observed.master_last_seen.map(|_| observed.run_started),
                    expected,
                    max_wait: observed.expect_workers_max_wait,
                });
                if let Some(v) = explained {
                    return Err(Failure {
                        reason: v.reason,
                        message: v.message,
                        at,
                        master_ended: true,
                    });
                }
                let mut message = format!("the master Job failed ({why})");
                if let Some((code, why)) = exit {
                    let why = if why.is_empty() {
                        String::new()
                    } else {
                        format!(", {why}")
                    };
                    message.push_str(&format!(
                        "; the master container exited with code {code}{why}; see the master \
                         logs"
                    ));
                }
                return Err(Failure {
                    reason: MASTER_FAILED,
                    message,
                    at,
                    master_ended: true,
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
                master_ended: false,
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
                master_ended: false,
            });
        }
    }
    Ok(None)
}

/// TestCompleted's message for a run that succeeded: the numbers, and the thresholds met.
fn success_message(observed: &Observed) -> String {
    let mut message = "the master Job completed successfully".to_string();
    if let Some(r) = observed.result() {
        message.push_str(&format!(
            ": {} requests, {} failed",
            r.total_requests, r.failed_requests
        ));
        if let Some(t) = &observed.thresholds {
            let j = verdict::judge(t, r);
            message.push_str(&format!("; thresholds met: {}", j.met.join(", ")));
        }
    }
    message
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
    let verdict = failure_or_success(
        previous,
        observed,
        &problems,
        expected_workers.max(0),
        now,
        grace,
    );

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
            master_ended: true, ..
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
    // A finished test has no connected workers, whatever its winding-down pods still say:
    // `connectedWorkers` agrees with `WorkersConnected=False/TestFinished`.
    let connected = if phase.is_terminal() {
        0
    } else {
        observed
            .master
            .map_or(from_pods, |m| m.connected_workers.max(0))
    };

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
        Ok(Some(_)) => condition(
            conditions::READY,
            TRUE,
            reason::TEST_SUCCEEDED,
            success_message(observed),
            generation,
        ),
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
            success_message(observed),
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
            .or_else(|| observed.result().cloned()),
        report_config_map: previous.report_config_map.clone(),
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
