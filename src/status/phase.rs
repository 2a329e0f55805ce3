//! The verdict of a test from its Jobs and pods: still pending, running, succeeded or failed.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerState, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How a Job ended, from its conditions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JobOutcome {
    /// `Complete` (or `SuccessCriteriaMet`) is `True`.
    Succeeded {
        /// The Job's completion time, when reported.
        at: Option<Time>,
    },
    /// `Failed` (or `FailureTarget`) is `True`.
    Failed {
        /// `reason: message` of the Job condition.
        why: String,
        /// When the condition became true.
        at: Option<Time>,
    },
}

/// The Job's outcome, or `None` while it is still running.
pub(crate) fn job_outcome(job: &Job) -> Option<JobOutcome> {
    let status = job.status.as_ref()?;
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let true_condition = |types: &[&str]| {
        conditions
            .iter()
            .find(|c| types.contains(&c.type_.as_str()) && c.status == "True")
    };
    if let Some(c) = true_condition(&["Failed", "FailureTarget"]) {
        let reason = c.reason.as_deref().unwrap_or("Failed");
        let why = match c.message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => format!("{reason}: {m}"),
            None => reason.to_string(),
        };
        return Some(JobOutcome::Failed {
            why,
            at: c.last_transition_time.clone(),
        });
    }
    if true_condition(&["Complete", "SuccessCriteriaMet"]).is_some() {
        return Some(JobOutcome::Succeeded {
            at: status.completion_time.clone(),
        });
    }
    None
}

/// Whether every index of an Indexed Job is listed in `status.failedIndexes` (each worker
/// used up its retries), even if the Job itself is not marked failed yet. Only Jobs with
/// `backoffLimitPerIndex` list failed indexes: worker Jobs of tests started by earlier
/// versions of the operator (the current worker Job has a shared `backoffLimit`).
pub(crate) fn all_indexes_failed(job: &Job) -> bool {
    let completions = job.spec.as_ref().and_then(|s| s.completions).unwrap_or(0);
    let Some(failed) = job
        .status
        .as_ref()
        .and_then(|s| s.failed_indexes.as_deref())
    else {
        return false;
    };
    completions > 0 && count_indexes(failed, completions) >= completions
}

/// Counts the distinct indexes below `limit` in a Job index list such as `1,3-5`.
fn count_indexes(list: &str, limit: i32) -> i32 {
    let mut seen = vec![false; usize::try_from(limit).unwrap_or(0)];
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.parse::<usize>(), part.parse::<usize>()),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else { continue };
        for slot in seen.iter_mut().take(hi.saturating_add(1)).skip(lo) {
            *slot = true;
        }
    }
    let n = seen.iter().filter(|s| **s).count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn states(pod: &Pod) -> impl Iterator<Item = &ContainerState> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|cs| cs.state.as_ref())
}

/// How the Locust container `container` ended in a pod that another container keeps
/// Running: a non-native sidecar such as Istio's proxy never exits, so neither the pod nor
/// its Job ever finishes although Locust has. The container's exit decides, as the Job
/// would have (`restartPolicy: Never`, so the exit is final). `None` when no such pod.
pub(crate) fn held_open_outcome(pods: &[Pod], container: &str) -> Option<JobOutcome> {
    pods.iter().find_map(|pod| {
        let terminated = held_open(pod, container)?;
        let at = terminated.finished_at.clone();
        Some(match terminated.exit_code {
            0 => JobOutcome::Succeeded { at },
            code => JobOutcome::Failed {
                why: format!(
                    "the {container} container exited with code {code} while another \
                     container kept its pod running"
                ),
                at,
            },
        })
    })
}

/// The terminated state of `container` in `pod` when the pod is still Running because
/// another of its containers still runs (a sidecar holds it open), else `None`.
pub fn held_open<'a>(
    pod: &'a Pod,
    container: &str,
) -> Option<&'a k8s_openapi::api::core::v1::ContainerStateTerminated> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let containers = status.container_statuses.as_deref()?;
    // Another container still running is what holds the pod open. Without one, this is
    // only the moment between the container's exit and the kubelet's pod phase update
    // (seen on a real node): the Job decides then, once the pod has ended.
    let held = containers
        .iter()
        .any(|cs| cs.name != container && cs.state.as_ref().is_some_and(|s| s.running.is_some()));
    if !held {
        return None;
    }
    containers
        .iter()
        .find(|cs| cs.name == container)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
}

/// The first non-zero exit code of a terminated container among `pods`, with its reason.
pub(crate) fn failed_exit(pods: &[Pod]) -> Option<(i32, String)> {
    pods.iter()
        .flat_map(states)
        .filter_map(|s| s.terminated.as_ref())
        .find(|t| t.exit_code != 0)
        .map(|t| (t.exit_code, t.reason.clone().unwrap_or_default()))
}

/// When a container of `pods` started (running or terminated), if known.
pub(crate) fn started_at(pods: &[Pod]) -> Option<Time> {
    pods.iter().flat_map(states).find_map(|s| {
        s.running
            .as_ref()
            .and_then(|r| r.started_at.clone())
            .or_else(|| s.terminated.as_ref().and_then(|t| t.started_at.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_are_counted() {
        let cases = [
            ("", 3, 0),
            ("0", 3, 1),
            ("0,2", 3, 2),
            ("0-2", 3, 3),
            ("0-1,1-2", 3, 3),
            ("1,3-5", 4, 2),
            ("x,1", 2, 1),
        ];
        for (list, limit, want) in cases {
            assert_eq!(count_indexes(list, limit), want, "{list:?} < {limit}");
        }
    }
}
