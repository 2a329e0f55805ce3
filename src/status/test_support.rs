//! Small builders of fake Jobs, pods and observations for the status tests.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::Observed;

/// The test grace period: 120 s.
pub const GRACE: Duration = Duration::from_secs(120);

/// A time `secs` seconds after the epoch.
pub fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).expect("a time in range"))
}

/// A Job with the given `completions` and no status yet.
pub fn job(completions: i32) -> Job {
    Job {
        metadata: ObjectMeta::default(),
        spec: Some(JobSpec {
            completions: Some(completions),
            ..JobSpec::default()
        }),
        status: Some(JobStatus::default()),
    }
}

/// Adds a `True` condition `type_` with `reason` to `job`.
pub fn with_condition(mut job: Job, type_: &str, reason: &str, time: i64) -> Job {
    let status = job.status.get_or_insert_with(JobStatus::default);
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(JobCondition {
            type_: type_.into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(format!("{reason} happened")),
            last_transition_time: Some(at(time)),
            ..JobCondition::default()
        });
    if type_ == "Complete" {
        status.completion_time = Some(at(time));
    }
    job
}

/// Sets `status.failedIndexes`.
pub fn with_failed_indexes(mut job: Job, list: &str) -> Job {
    job.status
        .get_or_insert_with(JobStatus::default)
        .failed_indexes = Some(list.into());
    job
}

/// Builder of a fake pod.
pub struct FakePod(Pod);

/// A pod called `name` in phase `Pending`, scheduled at t=0, with one container `c`.
pub fn pod(name: &str) -> FakePod {
    FakePod(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some("Pending".into()),
            conditions: Some(vec![cond("PodScheduled", "True", None, None, 0)]),
            container_statuses: Some(vec![ContainerStatus {
                name: "c".into(),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    })
}

fn cond(
    type_: &str,
    status: &str,
    reason: Option<&str>,
    msg: Option<&str>,
    t: i64,
) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.map(Into::into),
        message: msg.map(Into::into),
        last_transition_time: Some(at(t)),
        ..PodCondition::default()
    }
}

impl FakePod {
    fn status(&mut self) -> &mut PodStatus {
        self.0.status.get_or_insert_with(PodStatus::default)
    }

    fn container(&mut self) -> &mut ContainerStatus {
        let cs = self
            .status()
            .container_statuses
            .get_or_insert_with(Vec::new);
        if cs.is_empty() {
            cs.push(ContainerStatus::default());
        }
        &mut cs[0]
    }

    fn set_condition(&mut self, c: PodCondition) {
        let cs = self.status().conditions.get_or_insert_with(Vec::new);
        cs.retain(|x| x.type_ != c.type_);
        cs.push(c);
    }

    /// Running and Ready, container started at t=`started`.
    pub fn ready(mut self, started: i64) -> Self {
        self.status().phase = Some("Running".into());
        self.set_condition(cond("Ready", "True", None, None, started));
        self.set_condition(cond("PodReadyToStartContainers", "True", None, None, 0));
        let c = self.container();
        c.ready = true;
        c.state = Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(at(started)),
            }),
            ..ContainerState::default()
        });
        self
    }

    /// The container waits with `reason`.
    pub fn waiting(mut self, reason: &str) -> Self {
        self.container().state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: Some(format!("{reason} details")),
            }),
            ..ContainerState::default()
        });
        self
    }

    /// The pod's sandbox is ready (volumes mounted).
    pub fn sandbox_ready(mut self) -> Self {
        self.set_condition(cond("PodReadyToStartContainers", "True", None, None, 0));
        self
    }

    /// The pod failed: its container terminated with `code` and `reason`.
    pub fn terminated(mut self, code: i32, reason: &str) -> Self {
        self.status().phase = Some(if code == 0 { "Succeeded" } else { "Failed" }.into());
        self.container().state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(reason.into()),
                started_at: Some(at(5)),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        });
        self
    }

    /// The pod runs on (a sidecar `istio-proxy` keeps it) while its first container,
    /// renamed `name`, terminated with `code` at t=`finished`.
    pub fn held_open(mut self, name: &str, code: i32, finished: i64) -> Self {
        self.status().phase = Some("Running".into());
        let c = self.container();
        c.name = name.into();
        c.ready = false;
        c.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(if code == 0 { "Completed" } else { "Error" }.into()),
                started_at: Some(at(5)),
                finished_at: Some(at(finished)),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        });
        let sidecar = ContainerStatus {
            name: "istio-proxy".into(),
            ready: true,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(at(1)),
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        };
        self.status()
            .container_statuses
            .get_or_insert_with(Vec::new)
            .push(sidecar);
        self
    }

    /// The container's last run was OOM-killed.
    pub fn last_oom_killed(mut self) -> Self {
        let c = self.container();
        c.restart_count = 3;
        c.last_state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 137,
                reason: Some("OOMKilled".into()),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        });
        self
    }

    /// The pod cannot be scheduled.
    pub fn unschedulable(mut self) -> Self {
        self.status().container_statuses = None;
        self.set_condition(cond(
            "PodScheduled",
            "False",
            Some("Unschedulable"),
            Some("0/3 nodes are available: 3 Insufficient cpu."),
            0,
        ));
        self
    }

    /// The pod failed before Locust started: its init container `name` exited with
    /// `code` (`restartPolicy: Never`), the Locust container never left PodInitializing.
    pub fn init_failed(mut self, name: &str, code: i32) -> Self {
        self = self.waiting("PodInitializing");
        self.status().phase = Some("Failed".into());
        self.status().init_container_statuses = Some(vec![ContainerStatus {
            name: name.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    reason: Some("Error".into()),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]);
        self
    }

    /// The finished pod.
    pub fn build(self) -> Pod {
        self.0
    }
}

/// All children exist and nothing has happened yet.
pub fn created() -> Observed {
    Observed {
        generation: 1,
        service_exists: true,
        master_job: Some(job(1)),
        worker_job: Some(job(2)),
        processes_per_pod: 1,
        ..Observed::default()
    }
}
