//! Whether a test has ended, and how: from its Jobs, Locust's numbers and its pods. Pure.
//!
//! The master Job decides first (its success is judged against `spec.thresholds`, its
//! failure explained by Locust's numbers when they tell); then a failed worker Job; then
//! pods that stayed unhealthy for longer than the grace period.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self, FALSE};
use super::observed::Observed;
use super::pods::{self, PodProblem};
use super::{elapsed_at_least, phase, reason, verdict};
use crate::api::status::LocustTestStatus;
use crate::builders::Role;

/// How a test stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Not decided yet: pending or running.
    Undecided,
    /// The master Job completed and the thresholds, if any, held.
    Succeeded {
        /// When the master Job completed, if it says.
        at: Option<Time>,
    },
    /// The test failed.
    Failed(Failure),
}

/// Why a test failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// The `Ready` reason (one of [`reason`]'s verdicts or pod reasons).
    pub reason: &'static str,
    /// What happened, for the `Ready` and `TestCompleted` messages.
    pub message: String,
    /// When it failed, if a Job says.
    pub at: Option<Time>,
    /// The master Job ended (so the test started, whatever the pods still show).
    pub master_ended: bool,
}

impl Failure {
    fn of_master(reason: &'static str, message: String, at: Option<Time>) -> Verdict {
        Verdict::Failed(Failure {
            reason,
            message,
            at,
            master_ended: true,
        })
    }
}

/// All pod problems, the most important first: blocking before informational, master
/// before workers, then by kind and pod name.
pub(crate) fn pod_problems(observed: &Observed, now: &Time, grace: Duration) -> Vec<PodProblem> {
    let roles = [
        (Role::Master, &observed.master_pods),
        (Role::Worker, &observed.worker_pods),
    ];
    let mut problems: Vec<PodProblem> = roles
        .into_iter()
        .flat_map(|(role, pods)| {
            pods.iter()
                .filter_map(move |p| pods::classify(p, role, now, grace))
        })
        .chain(observed.refused_pods.iter().map(|r| PodProblem {
            pod: r.job.clone(),
            role: r.role,
            kind: pods::ProblemKind::Creation,
            detail: format!("the API server refuses to create them: {}", r.message),
            blocking: true,
        }))
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
pub(crate) fn decide(
    previous: &LocustTestStatus,
    observed: &Observed,
    problems: &[PodProblem],
    expected: i32,
    now: &Time,
    grace: Duration,
) -> Verdict {
    if let Some(v) = master_job(previous, observed, expected) {
        return v;
    }
    if let Some(v) = worker_job(observed) {
        return v;
    }
    unhealthy_pods(previous, problems, now, grace).unwrap_or(Verdict::Undecided)
}

/// The verdict of a finished master Job; `None` while it runs (or does not exist). A
/// master whose Locust container ended in a pod a sidecar keeps running has finished too.
fn master_job(previous: &LocustTestStatus, observed: &Observed, expected: i32) -> Option<Verdict> {
    let outcome = phase::job_outcome(observed.master_job.as_ref()?).or_else(|| {
        phase::held_open_outcome(&observed.master_pods, crate::builders::MASTER_CONTAINER)
    })?;
    match outcome {
        phase::JobOutcome::Succeeded { at } => Some(succeeded_master(observed, at)),
        phase::JobOutcome::Failed { why, at } => {
            Some(failed_master(previous, observed, expected, &why, at))
        }
    }
}

/// A completed master Job, judged against `spec.thresholds`.
fn succeeded_master(observed: &Observed, at: Option<Time>) -> Verdict {
    let Some(thresholds) = &observed.thresholds else {
        return Verdict::Succeeded { at };
    };
    let Some(result) = observed.result() else {
        let why = observed
            .master_error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Failure::of_master(
            reason::RESULT_UNAVAILABLE,
            format!(
                "the run ended but its final statistics could not be read from the \
                 master{why}, so spec.thresholds cannot be judged; check that the operator \
                 reaches the master (MASTER_URL_TEMPLATE) and that master.autoquit.timeout \
                 leaves it a few poll intervals"
            ),
            at,
        );
    };
    let judgement = verdict::judge(thresholds, result);
    if judgement.breached.is_empty() {
        Verdict::Succeeded { at }
    } else {
        Failure::of_master(
            reason::THRESHOLDS_BREACHED,
            format!("thresholds breached: {}", judgement.breached.join(", ")),
            at,
        )
    }
}

/// A failed master Job: Locust's verdict when its numbers tell, else an infrastructure
/// failure with the container's exit code.
fn failed_master(
    previous: &LocustTestStatus,
    observed: &Observed,
    expected: i32,
    why: &str,
    at: Option<Time>,
) -> Verdict {
    if let Some(p) = pods::failed_init_problem(&observed.master_pods, Role::Master) {
        let message = format!("the master Job failed ({why}): {}", p.message());
        return Failure::of_master(p.kind.reason(), message, at);
    }
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
        return Failure::of_master(v.reason, v.message, at);
    }
    let mut message = format!("the master Job failed ({why})");
    if let Some((code, detail)) = exit {
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(", {detail}")
        };
        message.push_str(&format!(
            "; the master container exited with code {code}{detail}; see the master logs"
        ));
    }
    Failure::of_master(reason::MASTER_FAILED, message, at)
}

/// A worker Job that failed (or whose every index failed) before the master finished.
fn worker_job(observed: &Observed) -> Option<Verdict> {
    let job = observed.worker_job.as_ref()?;
    let (why, at) = match phase::job_outcome(job) {
        Some(phase::JobOutcome::Failed { why, at }) => (why, at),
        _ if phase::all_indexes_failed(job) => ("every worker index failed".to_string(), None),
        _ => return None,
    };
    let (reason, message) = match pods::failed_init_problem(&observed.worker_pods, Role::Worker) {
        Some(p) => (
            p.kind.reason(),
            format!(
                "the workers failed before the master finished ({why}): {}",
                p.message()
            ),
        ),
        None => (
            reason::WORKERS_FAILED,
            format!("the workers failed before the master finished ({why}); see the worker logs"),
        ),
    };
    Some(Verdict::Failed(Failure {
        reason,
        message,
        at,
        master_ended: false,
    }))
}

/// The most important blocking pod problem, once `PodsHealthy` has been False for
/// `grace`.
fn unhealthy_pods(
    previous: &LocustTestStatus,
    problems: &[PodProblem],
    now: &Time,
    grace: Duration,
) -> Option<Verdict> {
    let first = problems.first().filter(|p| p.blocking)?;
    let since = conditions::find(&previous.conditions, conditions::PODS_HEALTHY)
        .filter(|c| c.status == FALSE)
        .map(|c| &c.last_transition_time)
        .unwrap_or(now);
    elapsed_at_least(since, now, grace).then(|| {
        Verdict::Failed(Failure {
            reason: first.kind.reason(),
            message: format!(
                "pods stayed unhealthy for more than {}s: {}",
                grace.as_secs(),
                first.message()
            ),
            at: None,
            master_ended: false,
        })
    })
}

/// TestCompleted's message for a run that succeeded: the numbers, and the thresholds met.
pub(crate) fn success_message(observed: &Observed) -> String {
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
