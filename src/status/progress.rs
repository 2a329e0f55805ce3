//! The `Reconciling` and `Stalled` conditions, which tools built on kstatus
//! (sigs.k8s.io/cli-utils: Flux's health checks, kpt, the cli-utils applier) read to tell
//! whether an object is still being worked on (`Reconciling=True`: InProgress), stuck
//! (`Stalled=True`: Failed) or done (neither: Current). They follow kstatus's
//! "abnormal-true" convention: each is present only while it is `True`.
//!
//! For a LocustTest: Pending and Running tests are Reconciling; a Failed test, and a test
//! that cannot start until someone acts (invalid spec, missing ConfigMap, a create the API
//! server refuses: a non-terminal Ready=False with a reason other than ResourcesPending),
//! is Stalled with the Ready condition's reason and message; a Succeeded test has neither.
//! Pure: derived from the phase and the Ready condition alone, so it can be applied to
//! any status the controller is about to write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self, FALSE, READY, RECONCILING, STALLED, TRUE, condition};
use super::reason::{self, TEST_PENDING, TEST_RUNNING};
use super::set_condition;
use crate::api::status::{LocustTestStatus, Phase};

/// What the status says to kstatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// In progress: `Reconciling=True` with this reason and message.
    Reconciling {
        /// The condition's reason.
        reason: &'static str,
        /// The condition's message.
        message: String,
    },
    /// Failed or stuck: `Stalled=True` with the Ready condition's reason and message.
    Stalled {
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// Finished successfully: neither condition.
    Done,
}

/// What `status` says to kstatus (see the module documentation).
pub fn progress(status: &LocustTestStatus) -> Progress {
    let ready = conditions::find(&status.conditions, READY);
    let stalled = |fallback_reason: &str, fallback_message: &str| Progress::Stalled {
        reason: ready
            .map(|c| c.reason.clone())
            .unwrap_or_else(|| fallback_reason.to_string()),
        message: ready
            .map(|c| c.message.clone())
            .unwrap_or_else(|| fallback_message.to_string()),
    };
    match status.phase.unwrap_or(Phase::Pending) {
        Phase::Succeeded => Progress::Done,
        Phase::Failed => stalled(reason::TEST_FAILED, "the test failed"),
        phase => match ready {
            Some(c) if c.status == FALSE && c.reason != reason::RESOURCES_PENDING => {
                stalled(&c.reason, &c.message)
            }
            _ if phase == Phase::Running => Progress::Reconciling {
                reason: TEST_RUNNING,
                message: "the test is running".into(),
            },
            _ => Progress::Reconciling {
                reason: TEST_PENDING,
                message: "waiting for the test's pods to start".into(),
            },
        },
    }
}

/// Puts [`progress`] of `status` into its conditions: sets `Reconciling` or `Stalled` (the
/// other one removed), or removes both once the test succeeded. Their observedGeneration
/// is the Ready condition's, else the status's.
pub fn set_progress(status: &mut LocustTestStatus, now: &Time) {
    let generation = conditions::find(&status.conditions, READY)
        .and_then(|c| c.observed_generation)
        .or(status.observed_generation)
        .unwrap_or_default();
    let (keep, new) = match progress(status) {
        Progress::Reconciling { reason, message } => (
            Some(RECONCILING),
            Some(condition(RECONCILING, TRUE, reason, message, generation)),
        ),
        Progress::Stalled { reason, message } => (
            Some(STALLED),
            Some(condition(STALLED, TRUE, &reason, message, generation)),
        ),
        Progress::Done => (None, None),
    };
    status.conditions.retain(|c| {
        !matches!(c.type_.as_str(), RECONCILING | STALLED) || Some(c.type_.as_str()) == keep
    });
    if let Some(c) = new {
        set_condition(&mut status.conditions, c, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::at;

    fn status(phase: Phase, ready: Option<(&str, &str)>) -> LocustTestStatus {
        LocustTestStatus {
            phase: Some(phase),
            observed_generation: Some(3),
            conditions: ready
                .map(|(s, r)| {
                    let mut c = condition(READY, s, r, format!("{r}: what happened"), 2);
                    c.last_transition_time = at(1);
                    c
                })
                .into_iter()
                .collect(),
            ..LocustTestStatus::default()
        }
    }

    fn types(s: &LocustTestStatus) -> Vec<(&str, &str, &str)> {
        s.conditions
            .iter()
            .filter(|c| c.type_ != READY)
            .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str()))
            .collect()
    }

    #[test]
    fn each_phase_reads_as_kstatus_expects() {
        let cases = [
            (
                Phase::Pending,
                None,
                vec![(RECONCILING, TRUE, TEST_PENDING)],
            ),
            (
                Phase::Pending,
                Some((FALSE, reason::RESOURCES_PENDING)),
                vec![(RECONCILING, TRUE, TEST_PENDING)],
            ),
            (
                Phase::Running,
                Some((TRUE, reason::RESOURCES_CREATED)),
                vec![(RECONCILING, TRUE, TEST_RUNNING)],
            ),
            (
                Phase::Succeeded,
                Some((TRUE, reason::TEST_SUCCEEDED)),
                vec![],
            ),
            (
                Phase::Failed,
                Some((FALSE, "ThresholdsBreached")),
                vec![(STALLED, TRUE, "ThresholdsBreached")],
            ),
            (
                Phase::Failed,
                None,
                vec![(STALLED, TRUE, reason::TEST_FAILED)],
            ),
            // The controller's blocking reasons: the test waits for someone to act.
            (
                Phase::Pending,
                Some((FALSE, "ConfigMapMissing")),
                vec![(STALLED, TRUE, "ConfigMapMissing")],
            ),
        ];
        for (phase, ready, want) in cases {
            let mut s = status(phase, ready);
            set_progress(&mut s, &at(10));
            assert_eq!(types(&s), want, "{phase:?} {ready:?}");
        }
    }

    #[test]
    fn stalled_carries_the_ready_message_and_generation() {
        let mut s = status(Phase::Failed, Some((FALSE, "MasterFailed")));
        set_progress(&mut s, &at(10));
        let c = conditions::find(&s.conditions, STALLED).expect("Stalled");
        assert_eq!(c.message, "MasterFailed: what happened");
        assert_eq!(c.observed_generation, Some(2), "the Ready condition's");
        assert_eq!(c.last_transition_time, at(10));
    }

    #[test]
    fn moving_on_replaces_the_other_condition_and_keeps_transition_times() {
        let mut s = status(Phase::Pending, None);
        set_progress(&mut s, &at(10));
        s.phase = Some(Phase::Running);
        set_progress(&mut s, &at(20));
        let c = conditions::find(&s.conditions, RECONCILING).expect("Reconciling");
        assert_eq!(
            (c.reason.as_str(), c.last_transition_time.clone()),
            (TEST_RUNNING, at(10)),
            "still True: the transition time stays"
        );
        s.phase = Some(Phase::Failed);
        set_progress(&mut s, &at(30));
        assert_eq!(types(&s), vec![(STALLED, TRUE, reason::TEST_FAILED)]);
        // Applying it again changes nothing (a terminal status is written once).
        let before = s.clone();
        set_progress(&mut s, &at(40));
        assert_eq!(s, before);
        let mut done = status(Phase::Running, None);
        set_progress(&mut done, &at(10));
        done.phase = Some(Phase::Succeeded);
        set_progress(&mut done, &at(20));
        assert_eq!(types(&done), vec![]);
    }
}
