//! Pod health: classifies one pod of a test as healthy (including "still starting
//! normally") or as having a named [`PodProblem`].

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{elapsed_at_least, reason};
use crate::builders::Role;
use crate::naming;

/// Waiting reasons of a container whose image cannot be pulled.
const IMAGE_PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "SignatureValidationFailed",
];

/// Waiting reasons of a container that cannot be created from its configuration
/// (a missing ConfigMap/Secret or key in `env`/`envFrom`, a bad mount, a bad command).
const CONFIG_REASONS: &[&str] = &[
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What is wrong with a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    /// The pod cannot be scheduled (`PodScheduled=False`, reason `Unschedulable`).
    Scheduling,
    /// An image cannot be pulled.
    ImagePull,
    /// A referenced ConfigMap/Secret, key or volume is missing, or the container cannot be
    /// created from its configuration; includes pods stuck in ContainerCreating.
    Configuration,
    /// A container was killed for exceeding its memory limit.
    OomKilled,
    /// A container keeps crashing and restarting.
    CrashLoop,
    /// The Job controller cannot create the pods: the API server refuses them.
    Creation,
    /// The `lotest-git` init container could not fetch `testFiles.git`.
    TestFilesFetch,
    /// The `lotest-pip` init container could not install `testFiles.requirements`.
    DependencyInstall,
}

/// The operator's init containers, what their failure is, and what failed.
const OPERATOR_INIT: [(&str, ProblemKind, &str); 2] = [
    (
        naming::GIT_CONTAINER,
        ProblemKind::TestFilesFetch,
        "git could not fetch spec.testFiles.git",
    ),
    (
        naming::PIP_CONTAINER,
        ProblemKind::DependencyInstall,
        "pip could not install spec.testFiles.requirements",
    ),
];

impl ProblemKind {
    /// The `PodsHealthy` condition reason for this problem.
    pub fn reason(self) -> &'static str {
        match self {
            ProblemKind::Scheduling => reason::SCHEDULING_ERROR,
            ProblemKind::ImagePull => reason::IMAGE_PULL_ERROR,
            ProblemKind::Configuration => reason::CONFIGURATION_ERROR,
            ProblemKind::OomKilled => reason::OOM_KILLED,
            ProblemKind::CrashLoop => reason::CRASH_LOOP_BACK_OFF,
            ProblemKind::Creation => reason::POD_CREATE_FAILED,
            ProblemKind::TestFilesFetch => reason::TEST_FILES_FETCH_FAILED,
            ProblemKind::DependencyInstall => reason::DEPENDENCY_INSTALL_FAILED,
        }
    }

    /// What the user can do about it.
    fn hint(self) -> &'static str {
        match self {
            ProblemKind::Scheduling => {
                "check resource requests, nodeSelector, affinity and tolerations, or wait for the cluster to scale up"
            }
            ProblemKind::ImagePull => "check the image name and tag and the imagePullSecrets",
            ProblemKind::Configuration => {
                "check that the referenced ConfigMaps and Secrets (and their keys) exist; `kubectl describe pod` shows the details"
            }
            ProblemKind::OomKilled => "raise the memory limit of this role",
            ProblemKind::CrashLoop => "check the container logs (`kubectl logs --previous`)",
            ProblemKind::Creation => {
                "fix what the message names (the namespace's Pod Security level, a quota, a missing ServiceAccount or PriorityClass); the Job retries on its own"
            }
            ProblemKind::TestFilesFetch => {
                "check spec.testFiles.git (repository, ref, secretRef) and that the pods reach the repository, then recreate the test"
            }
            ProblemKind::DependencyInstall => {
                "fix the requirements file (spec.testFiles.requirements) or the package index settings (PIP_* variables in spec.env), then recreate the test"
            }
        }
    }
}

/// A problem found on one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProblem {
    /// The pod's name.
    pub pod: String,
    /// Master or worker.
    pub role: Role,
    /// What is wrong.
    pub kind: ProblemKind,
    /// Details from the pod status (container, Kubernetes reason and message).
    pub detail: String,
    /// Whether the problem keeps the test from progressing, so that it fails the test once
    /// it lasts longer than the grace period. A container that was OOM-killed in a pod that
    /// has already failed is reported but not blocking: the Job's verdict decides.
    pub blocking: bool,
}

impl PodProblem {
    /// A message naming the pod, the problem and what to do.
    pub fn message(&self) -> String {
        if self.kind == ProblemKind::Creation {
            let component = self.role.component();
            return format!(
                "{component} pods of Job {}: {}; {}",
                self.pod,
                self.detail,
                self.kind.hint()
            );
        }
        format!(
            "{} pod {}: {}; {}",
            self.role.component(),
            self.pod,
            self.detail,
            self.kind.hint()
        )
    }
}

/// Whether the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// The pod's phase (`Pending`, `Running`, `Succeeded`, `Failed`), if reported.
pub fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

fn pod_condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let status = pod.status.as_ref();
    let init = status.and_then(|s| s.init_container_statuses.as_deref());
    let main = status.and_then(|s| s.container_statuses.as_deref());
    init.unwrap_or_default()
        .iter()
        .chain(main.unwrap_or_default())
}

fn waiting(cs: &ContainerStatus) -> Option<(&str, &str)> {
    let w = cs.state.as_ref()?.waiting.as_ref()?;
    Some((
        w.reason.as_deref().unwrap_or_default(),
        w.message.as_deref().unwrap_or_default(),
    ))
}

fn oom_killed(cs: &ContainerStatus) -> bool {
    let is_oom = |s: Option<&k8s_openapi::api::core::v1::ContainerState>| {
        s.and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.reason.as_deref())
            == Some("OOMKilled")
    };
    is_oom(cs.state.as_ref()) || is_oom(cs.last_state.as_ref())
}

/// The failure of one of the operator's init containers in `pod` (named `pod_name`): its
/// kind and what happened. `None` while they run or when they succeeded.
fn failed_init(pod: &Pod, pod_name: &str) -> Option<(ProblemKind, String)> {
    let statuses = pod.status.as_ref()?.init_container_statuses.as_deref()?;
    statuses.iter().find_map(|cs| {
        let (_, kind, what) = OPERATOR_INIT.iter().find(|(n, _, _)| *n == cs.name)?;
        let state = cs.state.as_ref()?;
        // Terminated: its exit is final (restartPolicy Never); waiting: after a failure.
        let exit = match (&state.terminated, &state.waiting) {
            (Some(t), _) => Some(t),
            (None, Some(_)) => cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()),
            (None, None) => None,
        }
        .filter(|t| t.exit_code != 0)?;
        let why = exit
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let detail = format!(
            "init container {} exited with code {}{why}: {what}; `kubectl logs {pod_name} -c {}` \
             shows why",
            cs.name, exit.exit_code, cs.name
        );
        Some((*kind, detail))
    })
}

/// The first pod of `pods` whose operator init container failed, as a problem of `role`
/// (not blocking: the pod has failed or will be retried, and the Job decides).
pub(crate) fn failed_init_problem(pods: &[Pod], role: Role) -> Option<PodProblem> {
    pods.iter().find_map(|pod| {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (kind, detail) = failed_init(pod, &name)?;
        Some(PodProblem {
            pod: name,
            role,
            kind,
            detail,
            blocking: false,
        })
    })
}

fn with_message(what: String, message: &str) -> String {
    if message.is_empty() {
        what
    } else {
        format!("{what}: {message}")
    }
}

/// Classifies `pod`. `None` means healthy: running, finished, failed without a named
/// cause (the Jobs judge those), being deleted, or still starting normally.
///
/// A pod in ContainerCreating/PodInitializing counts as stuck (a [`ProblemKind::Configuration`]
/// problem) when it was scheduled at least `grace` ago and its sandbox is not ready (`PodReadyToStartContainers` not `True`, which
/// is what a missing ConfigMap or Secret volume looks like; a slow image pull has a ready
/// sandbox and is not flagged).
pub fn classify(pod: &Pod, role: Role, now: &Time, grace: Duration) -> Option<PodProblem> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    let problem = |kind, detail: String, blocking| PodProblem {
        pod: name.clone(),
        role,
        kind,
        detail,
        blocking,
    };
    let pod_phase = phase(pod);
    if pod_phase == Some("Succeeded") {
        return None;
    }
    let failed = pod_phase == Some("Failed");

    for cs in container_statuses(pod) {
        if oom_killed(cs) {
            let detail = format!(
                "container {} was OOMKilled (restarted {} times)",
                cs.name, cs.restart_count
            );
            return Some(problem(ProblemKind::OomKilled, detail, !failed));
        }
    }
    if let Some((kind, detail)) = failed_init(pod, &name) {
        // A failed pod is the Job's to judge (the verdict names this problem too).
        return Some(problem(kind, detail, !failed));
    }
    if failed {
        return None;
    }

    if let Some(c) = pod_condition(pod, "PodScheduled")
        && c.status == "False"
        && c.reason.as_deref() == Some("Unschedulable")
    {
        let detail = with_message(
            "cannot be scheduled".to_string(),
            c.message.as_deref().unwrap_or_default(),
        );
        return Some(problem(ProblemKind::Scheduling, detail, true));
    }

    let mut creating = false;
    for cs in container_statuses(pod) {
        let Some((why, message)) = waiting(cs) else {
            continue;
        };
        let kind = if IMAGE_PULL_REASONS.contains(&why) {
            ProblemKind::ImagePull
        } else if CONFIG_REASONS.contains(&why) {
            ProblemKind::Configuration
        } else if why == "CrashLoopBackOff" {
            ProblemKind::CrashLoop
        } else {
            creating |= why == "ContainerCreating" || why == "PodInitializing";
            continue;
        };
        let detail = with_message(format!("container {} is {why}", cs.name), message);
        return Some(problem(kind, detail, true));
    }

    if pod_phase != Some("Pending") && !creating {
        return None;
    }
    let scheduled_since = pod_condition(pod, "PodScheduled")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref());
    let sandbox_ready =
        pod_condition(pod, "PodReadyToStartContainers").is_some_and(|c| c.status == "True");
    if let Some(since) = scheduled_since
        && !sandbox_ready
        && elapsed_at_least(since, now, grace)
    {
        let detail = format!(
            "stuck in ContainerCreating for more than {}s (a ConfigMap or Secret volume is probably missing)",
            grace.as_secs()
        );
        return Some(problem(ProblemKind::Configuration, detail, true));
    }
    None
}
