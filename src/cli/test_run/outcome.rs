//! What a LocustTest's status means for the command: finished (and how), blocked, or
//! still going; and the exit code. Pure.

use std::process::ExitCode;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::api::status::{LocustTestStatus, Phase};
use crate::status::conditions::{self, READY};
use crate::status::reason;

/// The command's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the test Succeeded (without `--wait`: it was created).
    Succeeded,
    /// 1: the run happened and failed: a verdict on the system under test.
    TestFailed,
    /// 2: no verdict: the infrastructure failed, the API server could not be reached,
    /// the timeout passed, the command was interrupted, the test was deleted.
    NoVerdict,
    /// 3: nothing was created: the file, the command line or the name is wrong.
    InvalidInput,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Succeeded => 0,
            Exit::TestFailed => 1,
            Exit::NoVerdict => 2,
            Exit::InvalidInput => 3,
        }
    }

    /// For `main`.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}

/// The Ready reasons of a failed test that are a verdict on the run (exit 1); every other
/// reason of a failed test is infrastructure (exit 2).
pub const VERDICT_REASONS: [&str; 4] = [
    reason::TEST_FAILED,
    reason::THRESHOLDS_BREACHED,
    reason::WORKERS_NOT_CONNECTED,
    reason::RESULT_UNAVAILABLE,
];

/// Ready reasons of a test that cannot start until someone acts.
pub const BLOCKED_REASONS: [&str; 3] = [
    reason::INVALID_SPEC,
    reason::CONFIG_MAP_MISSING,
    reason::CREATE_FAILED,
];

/// Where a test stands, for the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Pending or running.
    Going,
    /// Not started and waiting for someone to act (the Ready reason).
    Blocked(String),
    /// Succeeded or Failed: the exit code.
    Finished(Exit),
}

/// The test's standing from its status.
pub fn standing(status: Option<&LocustTestStatus>) -> Standing {
    let Some(status) = status else {
        return Standing::Going;
    };
    let reason = ready(status).map(|c| c.reason.as_str()).unwrap_or_default();
    match status.phase {
        Some(Phase::Succeeded) => Standing::Finished(Exit::Succeeded),
        Some(Phase::Failed) if VERDICT_REASONS.contains(&reason) => {
            Standing::Finished(Exit::TestFailed)
        }
        Some(Phase::Failed) => Standing::Finished(Exit::NoVerdict),
        Some(Phase::Running) => Standing::Going,
        Some(Phase::Pending) | None if BLOCKED_REASONS.contains(&reason) => {
            Standing::Blocked(reason.to_string())
        }
        Some(Phase::Pending) | None => Standing::Going,
    }
}

/// The exit code of a blocked test that the command stops waiting for: an invalid spec
/// is invalid input (the cluster's rules refused what the local check let through);
/// a missing ConfigMap or a refused child is infrastructure.
pub fn blocked_exit(reason: &str) -> Exit {
    if reason == reason::INVALID_SPEC {
        Exit::InvalidInput
    } else {
        Exit::NoVerdict
    }
}

/// The Ready condition.
pub fn ready(status: &LocustTestStatus) -> Option<&Condition> {
    conditions::find(&status.conditions, READY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::conditions::condition;

    fn status(phase: Option<Phase>, reason: &str) -> LocustTestStatus {
        LocustTestStatus {
            phase,
            conditions: vec![condition(READY, "False", reason, "", 1)],
            ..LocustTestStatus::default()
        }
    }

    #[test]
    fn verdicts_exit_1_and_infrastructure_exits_2() {
        let failed = |r| standing(Some(&status(Some(Phase::Failed), r)));
        for r in VERDICT_REASONS {
            assert_eq!(failed(r), Standing::Finished(Exit::TestFailed), "{r}");
        }
        for r in [
            reason::MASTER_FAILED,
            reason::WORKERS_FAILED,
            reason::IMAGE_PULL_ERROR,
            reason::CONFIGURATION_ERROR,
            reason::CRASH_LOOP_BACK_OFF,
            reason::OOM_KILLED,
            reason::SCHEDULING_ERROR,
            reason::POD_CREATE_FAILED,
            "SomethingNew",
        ] {
            assert_eq!(failed(r), Standing::Finished(Exit::NoVerdict), "{r}");
        }
        assert_eq!(
            standing(Some(&status(
                Some(Phase::Succeeded),
                reason::TEST_SUCCEEDED
            ))),
            Standing::Finished(Exit::Succeeded)
        );
        assert_eq!(
            [
                Exit::Succeeded,
                Exit::TestFailed,
                Exit::NoVerdict,
                Exit::InvalidInput
            ]
            .map(Exit::code),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn a_test_that_cannot_start_is_blocked_and_one_that_runs_is_going() {
        assert_eq!(standing(None), Standing::Going);
        let pending = |r| standing(Some(&status(Some(Phase::Pending), r)));
        assert_eq!(pending(reason::RESOURCES_PENDING), Standing::Going);
        for r in BLOCKED_REASONS {
            assert_eq!(pending(r), Standing::Blocked(r.into()));
        }
        assert_eq!(
            standing(Some(&status(None, reason::INVALID_SPEC))),
            Standing::Blocked(reason::INVALID_SPEC.into())
        );
        assert_eq!(
            standing(Some(&status(Some(Phase::Running), reason::CREATE_FAILED))),
            Standing::Going,
            "a running test is never blocked"
        );
        assert_eq!(blocked_exit(reason::INVALID_SPEC), Exit::InvalidInput);
        assert_eq!(blocked_exit(reason::CONFIG_MAP_MISSING), Exit::NoVerdict);
    }
}
