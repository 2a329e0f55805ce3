//! Kubernetes-style conditions of a LocustTest: the type and reason names, and
//! [`set_condition`], which keeps `lastTransitionTime` while the status stays the same.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition type: the test's objects exist; once the test has ended, its verdict: True with
/// reason TestSucceeded, or False with the reason it failed.
pub const READY: &str = "Ready";
/// Condition type: every expected worker is connected to the master.
pub const WORKERS_CONNECTED: &str = "WorkersConnected";
/// Condition type: the test has finished (reason says how).
pub const TEST_COMPLETED: &str = "TestCompleted";
/// Condition type: no pod of the test is stuck or crashing.
pub const PODS_HEALTHY: &str = "PodsHealthy";
/// Condition type owned by the controller: the spec was edited after the test started.
pub const SPEC_DRIFTED: &str = "SpecDrifted";

/// Condition type (kstatus): the test is still in progress (present only while True).
pub const RECONCILING: &str = "Reconciling";
/// Condition type (kstatus): the test failed or cannot go on without someone acting
/// (present only while True).
pub const STALLED: &str = "Stalled";

/// Condition status `True`.
pub const TRUE: &str = "True";
/// Condition status `False`.
pub const FALSE: &str = "False";
/// Condition status `Unknown`.
pub const UNKNOWN: &str = "Unknown";

/// The condition of type `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of type `type_` is present with status `status`.
pub fn has_status(conditions: &[Condition], type_: &str, status: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == status)
}

/// Puts `new` into `conditions`, replacing the condition of the same type.
///
/// `new.lastTransitionTime` is ignored: it becomes `now` when the type is new or its
/// status changed, and keeps the previous value when only the reason, message or
/// observedGeneration changed (Kubernetes conventions). Returns whether the status changed
/// (or the condition is new), i.e. whether this is a transition.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition, now: &Time) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            let transition = existing.status != new.status;
            let last_transition_time = if transition {
                now.clone()
            } else {
                existing.last_transition_time.clone()
            };
            *existing = Condition {
                last_transition_time,
                ..new
            };
            transition
        }
        None => {
            conditions.push(Condition {
                last_transition_time: now.clone(),
                ..new
            });
            true
        }
    }
}

/// A condition with `lastTransitionTime` left for [`set_condition`] to fill in.
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    generation: i64,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.into(),
        observed_generation: Some(generation),
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::at;

    #[test]
    fn last_transition_time_changes_only_with_status() {
        let mut cs = Vec::new();
        let cases = [
            // (status, reason, now, expected transition, expected lastTransitionTime)
            (FALSE, "A", 10, true, 10),
            (FALSE, "B", 20, false, 10),
            (FALSE, "B", 30, false, 10),
            (TRUE, "C", 40, true, 40),
            (TRUE, "C", 50, false, 40),
            (UNKNOWN, "D", 60, true, 60),
        ];
        for (status, reason, now, transition, ltt) in cases {
            let changed = set_condition(
                &mut cs,
                condition(PODS_HEALTHY, status, reason, "m", 1),
                &at(now),
            );
            assert_eq!(changed, transition, "at {now}");
            assert_eq!(cs.len(), 1);
            assert_eq!(cs[0].last_transition_time, at(ltt), "at {now}");
            assert_eq!(cs[0].reason, reason);
        }
    }

    #[test]
    fn other_types_are_left_alone() {
        let mut cs = Vec::new();
        set_condition(&mut cs, condition(SPEC_DRIFTED, TRUE, "X", "m", 1), &at(1));
        set_condition(&mut cs, condition(READY, TRUE, "Y", "m", 2), &at(2));
        assert_eq!(cs.len(), 2);
        assert_eq!(
            find(&cs, SPEC_DRIFTED).map(|c| c.reason.as_str()),
            Some("X")
        );
        assert!(has_status(&cs, READY, TRUE));
    }
}
