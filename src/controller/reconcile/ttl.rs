//! `spec.ttlSecondsAfterFinished`: a finished test deletes itself (its children and its
//! report go with it through their owner references).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use tracing::info;

use super::Run;
use crate::api::status::{LocustTestStatus, Phase};
use crate::api::v2::LocustTestSpec;
use crate::controller::error::Error;
use crate::status::reason;

/// When a finished test is due for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// Never: no TTL, not finished, or a failed test kept by `keepFailed`.
    Never,
    /// Now.
    Due,
    /// After this long.
    In(Duration),
}

/// When the test with `spec` and `status` is due, at `now`.
pub(super) fn expiry(spec: &LocustTestSpec, status: &LocustTestStatus, now: &Time) -> Expiry {
    let Some(ttl) = spec.ttl_seconds_after_finished else {
        return Expiry::Never;
    };
    let kept = status.phase == Some(Phase::Failed) && spec.keep_failed == Some(true);
    let finished = status.phase.is_some_and(Phase::is_terminal);
    let (Some(done), true, false) = (&status.completion_time, finished, kept) else {
        return Expiry::Never;
    };
    let due_ms = done
        .0
        .as_millisecond()
        .saturating_add(i64::from(ttl.max(0)).saturating_mul(1000));
    let left_ms = due_ms.saturating_sub(now.0.as_millisecond());
    match u64::try_from(left_ms) {
        Ok(ms) if ms > 0 => Expiry::In(Duration::from_millis(ms)),
        _ => Expiry::Due,
    }
}

impl Run<'_> {
    /// Deletes the test (this very object: its uid is a precondition) in the background;
    /// an event and a log line say why.
    pub(super) async fn delete_expired(&self, ttl: i32) -> Result<(), Error> {
        let api: Api<crate::api::v2::LocustTest> =
            Api::namespaced(self.ctx.writer()?.clone(), &self.ns);
        let note = format!("Deleting the test {ttl}s after it finished (ttlSecondsAfterFinished)");
        info!(ttl, "deleting a finished test (ttlSecondsAfterFinished)");
        self.ctx
            .event(self.test, false, reason::TTL_EXPIRED, note)
            .await;
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&self.name, &params).await {
            Ok(_) => Ok(()),
            // Gone already, or a new test of the same name: nothing to do.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(Error::kube(
                "deleting a finished test (ttlSecondsAfterFinished)",
            )(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("a time"))
    }

    fn spec(ttl: Option<i32>, keep_failed: Option<bool>) -> LocustTestSpec {
        LocustTestSpec {
            ttl_seconds_after_finished: ttl,
            keep_failed,
            ..LocustTestSpec::default()
        }
    }

    fn status(phase: Phase, done: Option<i64>) -> LocustTestStatus {
        LocustTestStatus {
            phase: Some(phase),
            completion_time: done.map(at),
            ..LocustTestStatus::default()
        }
    }

    #[test]
    fn a_finished_test_is_due_ttl_seconds_after_its_completion() {
        let s = spec(Some(60), None);
        let done = status(Phase::Succeeded, Some(1000));
        assert_eq!(
            expiry(&s, &done, &at(1000)),
            Expiry::In(Duration::from_secs(60))
        );
        assert_eq!(
            expiry(&s, &done, &at(1059)),
            Expiry::In(Duration::from_secs(1))
        );
        assert_eq!(expiry(&s, &done, &at(1060)), Expiry::Due);
        assert_eq!(expiry(&s, &done, &at(5000)), Expiry::Due);
        let failed = status(Phase::Failed, Some(1000));
        assert_eq!(expiry(&s, &failed, &at(1060)), Expiry::Due);
        assert_eq!(expiry(&spec(Some(0), None), &done, &at(1000)), Expiry::Due);
    }

    #[test]
    fn never_without_a_ttl_before_the_end_or_for_a_kept_failure() {
        let done = status(Phase::Succeeded, Some(1000));
        assert_eq!(expiry(&spec(None, None), &done, &at(9999)), Expiry::Never);
        for phase in [Phase::Pending, Phase::Running] {
            let s = status(phase, None);
            assert_eq!(expiry(&spec(Some(0), None), &s, &at(9999)), Expiry::Never);
        }
        let keep = spec(Some(0), Some(true));
        assert_eq!(
            expiry(&keep, &status(Phase::Failed, Some(1000)), &at(9999)),
            Expiry::Never
        );
        assert_eq!(
            expiry(&keep, &done, &at(9999)),
            Expiry::Due,
            "only failures are kept"
        );
        // A terminal status without a completion time (never written so) is left alone.
        assert_eq!(
            expiry(
                &spec(Some(0), None),
                &status(Phase::Succeeded, None),
                &at(9)
            ),
            Expiry::Never
        );
    }
}
