//! Pure status derivation: what the controller observed (Jobs, pods, the previous status)
//! in, the new [`LocustTestStatus`](crate::api::status::LocustTestStatus) and the events
//! to publish out. No I/O and no clock: the caller passes `now`.
//!
//! The phase only moves forward (Pending → Running → Succeeded | Failed): a test that was
//! Running stays Running when its pods disappear, and a terminal status is returned
//! unchanged. Missing children are not a failure by themselves (the controller recreates
//! them). Pods that are stuck (image pull errors, missing ConfigMaps/Secrets, crash loops,
//! unschedulable) show in the `PodsHealthy` condition at once and fail the test only after
//! they stayed unhealthy for the grace period, so a slow node scale-up is tolerated.
//!
//! Modules: `derive` ([`derive()`]: the status, one function per condition), `outcome`
//! (the `Verdict`: has the test ended, and how), [`verdict`] (thresholds and
//! Locust's exit codes), [`observed`] (the input), [`conditions`] (types and
//! [`set_condition`]), [`reason`] (every condition and event reason), [`pods`] (pod
//! health), `phase` (Job outcomes), [`events`](mod@events) (transitions worth an Event) and
//! [`progress`] (the kstatus conditions `Reconciling` and `Stalled`).

pub mod conditions;
mod derive;
pub mod events;
pub mod observed;
mod outcome;
mod phase;
pub mod pods;
pub mod progress;
pub mod reason;
pub mod verdict;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub use conditions::set_condition;
pub use derive::derive;
pub use events::{EventKind, StatusEvent, events};
pub use observed::{MasterView, Observed, RefusedPods, live_changed};
pub use phase::held_open;
pub use pods::{PodProblem, ProblemKind};

/// Whether `grace` has passed between `since` and `now`.
pub(crate) fn elapsed_at_least(since: &Time, now: &Time, grace: Duration) -> bool {
    let elapsed = now
        .0
        .as_millisecond()
        .saturating_sub(since.0.as_millisecond());
    elapsed >= i64::try_from(grace.as_millis()).unwrap_or(i64::MAX)
}
