//! [`derive`]: the new status from the previous one and what was observed, one function
//! per field group and per condition.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::conditions::{self, FALSE, TRUE, UNKNOWN, condition, set_condition};
use super::observed::{Observed, live_changed};
use super::outcome::{self, Failure, Verdict};
use super::pods::{self, PodProblem};
use super::{phase, reason};
use crate::api::status::{LiveStatus, LocustTestStatus, Phase};

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
    let expected = expected_workers.max(0);
    let problems = outcome::pod_problems(observed, now, grace);
    let verdict = outcome::decide(previous, observed, &problems, expected, now, grace);
    let phase = phase_of(&verdict, prev_phase, observed);
    let connected = connected_workers(observed, phase, expected);

    let generation = observed.generation;
    let mut conds = previous.conditions.clone();
    for c in [
        ready(&verdict, observed, generation),
        workers_connected(observed, phase, connected, expected, generation),
        test_completed(&verdict, phase, observed, generation),
        pods_healthy(&problems, observed, generation),
    ] {
        set_condition(&mut conds, c, now);
    }

    LocustTestStatus {
        phase: Some(phase),
        expected_workers: Some(expected),
        connected_workers: Some(connected),
        start_time: start_time(previous, &verdict, phase, observed, now),
        completion_time: previous
            .completion_time
            .clone()
            .or_else(|| completion_time(&verdict, now)),
        observed_generation: Some(generation),
        result: previous
            .result
            .clone()
            .or_else(|| observed.result().cloned()),
        report_config_map: previous.report_config_map.clone(),
        live: live(previous, observed, phase),
        conditions: conds,
    }
}

/// The phase: the verdict's, else Running once the master is ready (and for good).
fn phase_of(verdict: &Verdict, previous: Phase, observed: &Observed) -> Phase {
    match verdict {
        Verdict::Succeeded { .. } => Phase::Succeeded,
        Verdict::Failed(_) => Phase::Failed,
        Verdict::Undecided if previous == Phase::Running || master_ready(observed) => {
            Phase::Running
        }
        Verdict::Undecided => Phase::Pending,
    }
}

/// Whether a master pod (or the master Job's count) is Ready.
fn master_ready(observed: &Observed) -> bool {
    observed.master_pods.iter().any(pods::is_ready)
        || observed
            .master_job
            .as_ref()
            .and_then(|j| j.status.as_ref())
            .and_then(|s| s.ready)
            .is_some_and(|r| r > 0)
}

/// When the test ended: the Job's time, else now; `None` while undecided.
fn completion_time(verdict: &Verdict, now: &Time) -> Option<Time> {
    match verdict {
        Verdict::Undecided => None,
        Verdict::Succeeded { at } | Verdict::Failed(Failure { at, .. }) => {
            Some(at.clone().unwrap_or_else(|| now.clone()))
        }
    }
}

/// When the test started: kept once set; now when it starts running; the master pod's
/// start when it ended between two looks; `None` for a test that never started.
fn start_time(
    previous: &LocustTestStatus,
    verdict: &Verdict,
    phase: Phase,
    observed: &Observed,
    now: &Time,
) -> Option<Time> {
    if previous.start_time.is_some() {
        return previous.start_time.clone();
    }
    let master_ended = match verdict {
        Verdict::Succeeded { .. } => true,
        Verdict::Failed(f) => f.master_ended,
        Verdict::Undecided => false,
    };
    if phase == Phase::Running {
        Some(now.clone())
    } else if master_ended {
        Some(phase::started_at(&observed.master_pods).unwrap_or_else(|| now.clone()))
    } else {
        None
    }
}

/// Workers connected: the master's count, else Ready worker pods times processes (at
/// most `expected`). A finished test has none, whatever its winding-down pods still say,
/// so `connectedWorkers` agrees with `WorkersConnected=False/TestFinished`.
fn connected_workers(observed: &Observed, phase: Phase, expected: i32) -> i32 {
    if phase.is_terminal() {
        return 0;
    }
    let ready_pods = observed
        .worker_pods
        .iter()
        .filter(|p| pods::is_ready(p))
        .count();
    let from_pods = i32::try_from(ready_pods)
        .unwrap_or(i32::MAX)
        .saturating_mul(observed.processes_per_pod.max(1))
        .min(expected);
    observed
        .master
        .map_or(from_pods, |m| m.connected_workers.max(0))
}

/// The live numbers: the master's while the test runs, unless they barely moved.
fn live(previous: &LocustTestStatus, observed: &Observed, phase: Phase) -> Option<LiveStatus> {
    let master = observed.master.filter(|_| !phase.is_terminal())?;
    let new = master.live_status();
    if live_changed(previous.live.as_ref(), &new) {
        Some(new)
    } else {
        previous.live.clone()
    }
}

/// Ready: the verdict of a finished test (True/TestSucceeded or False with why it
/// failed), else whether every child exists.
fn ready(verdict: &Verdict, observed: &Observed, generation: i64) -> Condition {
    match verdict {
        Verdict::Failed(f) => {
            return condition(conditions::READY, FALSE, f.reason, &f.message, generation);
        }
        Verdict::Succeeded { .. } => {
            let message = outcome::success_message(observed);
            return condition(
                conditions::READY,
                TRUE,
                reason::TEST_SUCCEEDED,
                message,
                generation,
            );
        }
        Verdict::Undecided => {}
    }
    let missing: Vec<&str> = [
        (observed.service_exists, "master Service"),
        (observed.master_job.is_some(), "master Job"),
        (observed.worker_job.is_some(), "worker Job"),
    ]
    .into_iter()
    .filter_map(|(present, what)| (!present).then_some(what))
    .collect();
    if missing.is_empty() {
        condition(
            conditions::READY,
            TRUE,
            reason::RESOURCES_CREATED,
            "the master Service, master Job and worker Job exist",
            generation,
        )
    } else {
        condition(
            conditions::READY,
            FALSE,
            reason::RESOURCES_PENDING,
            format!("waiting for the operator to create: {}", missing.join(", ")),
            generation,
        )
    }
}

/// WorkersConnected: counted by the master, else from Ready worker pods; False with
/// TestFinished once the test ended.
fn workers_connected(
    observed: &Observed,
    phase: Phase,
    connected: i32,
    expected: i32,
    generation: i64,
) -> Condition {
    let type_ = conditions::WORKERS_CONNECTED;
    if phase.is_terminal() {
        return condition(
            type_,
            FALSE,
            reason::TEST_FINISHED,
            "the test has finished; its workers have disconnected",
            generation,
        );
    }
    let (message, all, missing) = if observed.master.is_some() {
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
    if connected >= expected {
        condition(type_, TRUE, all, message, generation)
    } else {
        condition(type_, FALSE, missing, message, generation)
    }
}

/// TestCompleted: True once the test ended (TestSucceeded or TestFailed), else False.
fn test_completed(
    verdict: &Verdict,
    phase: Phase,
    observed: &Observed,
    generation: i64,
) -> Condition {
    let type_ = conditions::TEST_COMPLETED;
    match verdict {
        Verdict::Failed(f) => condition(type_, TRUE, reason::TEST_FAILED, &f.message, generation),
        Verdict::Succeeded { .. } => condition(
            type_,
            TRUE,
            reason::TEST_SUCCEEDED,
            outcome::success_message(observed),
            generation,
        ),
        Verdict::Undecided => condition(
            type_,
            FALSE,
            reason::TEST_IN_PROGRESS,
            if phase == Phase::Running {
                "the test is running"
            } else {
                "waiting for the master pod to become ready"
            },
            generation,
        ),
    }
}

/// PodsHealthy: the most important problem (and how many more), else healthy, else
/// Unknown while no pod exists.
fn pods_healthy(problems: &[PodProblem], observed: &Observed, generation: i64) -> Condition {
    let type_ = conditions::PODS_HEALTHY;
    let pod_count = observed.master_pods.len() + observed.worker_pods.len();
    match problems.split_first() {
        Some((first, rest)) => {
            let mut message = first.message();
            if !rest.is_empty() {
                message.push_str(&format!(" (and {} more unhealthy pods)", rest.len()));
            }
            condition(type_, FALSE, first.kind.reason(), message, generation)
        }
        None if pod_count == 0 => condition(
            type_,
            UNKNOWN,
            reason::WAITING_FOR_PODS,
            "no pod of the test exists yet",
            generation,
        ),
        None => condition(
            type_,
            TRUE,
            reason::PODS_HEALTHY,
            format!("all {pod_count} pods are healthy"),
            generation,
        ),
    }
}
