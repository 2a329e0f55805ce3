//! The transitions that deserve a Kubernetes Event, found by comparing the status before
//! and after [`crate::status::derive`]: each is reported once, when it happens, not on
//! every reconcile.

use crate::api::status::{LocustTestStatus, Phase};

use super::conditions::{self, FALSE, PODS_HEALTHY, TEST_COMPLETED};
use super::reason::{self, PODS_UNHEALTHY, TEST_FAILED, TEST_STARTED};

/// Kubernetes event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Normal progress.
    Normal,
    /// Something a user should look at.
    Warning,
}

impl EventKind {
    /// `Normal` or `Warning`, as in the Event API.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Normal => "Normal",
            EventKind::Warning => "Warning",
        }
    }
}

/// One event to publish on the LocustTest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    /// Normal or Warning.
    pub kind: EventKind,
    /// CamelCase reason, one of [`reason`]'s constants.
    pub reason: &'static str,
    /// A message for humans.
    pub message: String,
}

fn phase(s: &LocustTestStatus) -> Phase {
    s.phase.unwrap_or(Phase::Pending)
}

fn message(s: &LocustTestStatus, type_: &str) -> String {
    conditions::find(&s.conditions, type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The events for the change from `previous` to `new`. Calling it again with the same
/// `previous` and `new` gives the same list, and comparing a status with itself gives
/// none, so a controller that calls it on every reconcile emits each event once.
pub fn events(previous: &LocustTestStatus, new: &LocustTestStatus) -> Vec<StatusEvent> {
    let (before, after) = (phase(previous), phase(new));
    let mut out = Vec::new();
    if before.is_terminal() {
        return out;
    }
    if after == Phase::Running && before != Phase::Running {
        out.push(StatusEvent {
            kind: EventKind::Normal,
            reason: TEST_STARTED,
            message: "the master is ready; the test is running".to_string(),
        });
    } else if before == Phase::Pending && after.is_terminal() && new.start_time.is_some() {
        // The test ran and ended between two looks (a short run, or an operator restart):
        // it still started, once.
        out.push(StatusEvent {
            kind: EventKind::Normal,
            reason: TEST_STARTED,
            message: "the test started (it ran while the operator was not looking)".to_string(),
        });
    }
    let old = conditions::find(&previous.conditions, PODS_HEALTHY);
    if let Some(c) = conditions::find(&new.conditions, PODS_HEALTHY)
        && c.status == FALSE
        && old.is_none_or(|o| o.status != FALSE || o.reason != c.reason)
    {
        out.push(StatusEvent {
            kind: EventKind::Warning,
            reason: PODS_UNHEALTHY,
            message: format!("{}: {}", c.reason, c.message),
        });
    }
    match after {
        Phase::Succeeded => out.push(StatusEvent {
            kind: EventKind::Normal,
            reason: reason::TEST_COMPLETED,
            message: message(new, TEST_COMPLETED),
        }),
        Phase::Failed => out.push(StatusEvent {
            kind: EventKind::Warning,
            reason: TEST_FAILED,
            message: message(new, TEST_COMPLETED),
        }),
        Phase::Pending | Phase::Running => {}
    }
    out
}
