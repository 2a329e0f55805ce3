//! Jobs whose pods the API server refuses to create: Pod Security admission, a quota, a
//! missing ServiceAccount or PriorityClass. The Job controller retries and says why only in
//! `FailedCreate` events on the Job, so without this a test would wait in Pending with
//! "no pod of the test exists yet" for ever. The events are read only for a Job that has
//! had no pod for [`QUIET_FOR`], so a normal start costs no request.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use tracing::debug;

use super::children::Existing;
use crate::builders::Role;
use crate::status::RefusedPods;

/// How long a Job may be without pods before its events are read.
pub const QUIET_FOR: Duration = Duration::from_secs(5);

/// The Jobs of `existing` that have had no pod for [`QUIET_FOR`] and whose latest
/// FailedCreate event says why. Best effort: a failed read (for example an older RBAC
/// without `list events`) finds nothing.
pub async fn refused_pods(
    client: &Client,
    ns: &str,
    existing: &Existing,
    now: &Time,
) -> Vec<RefusedPods> {
    let mut out = Vec::new();
    for (job, pods, role) in [
        (&existing.master_job, &existing.master_pods, Role::Master),
        (&existing.worker_job, &existing.worker_pods, Role::Worker),
    ] {
        let Some(job) = job.as_ref().filter(|j| quiet(j, pods, now)) else {
            continue;
        };
        match latest_failed_create(client, ns, job).await {
            Ok(Some(message)) => out.push(RefusedPods {
                role,
                job: job.name_any(),
                message: crate::text::truncate(message, 1024),
            }),
            Ok(None) => {}
            Err(e) => debug!(job = %job.name_any(), error = %e, "cannot read the Job's events"),
        }
    }
    out
}

/// Whether `job` is unfinished, has no pod and was created at least [`QUIET_FOR`] ago.
fn quiet(job: &Job, pods: &[Pod], now: &Time) -> bool {
    let active = job.status.as_ref().and_then(|s| s.active).unwrap_or(0);
    let finished = (job.status.as_ref())
        .and_then(|s| s.completion_time.as_ref())
        .is_some();
    let old_enough = job.metadata.creation_timestamp.as_ref().is_some_and(|t| {
        now.0.as_millisecond() - t.0.as_millisecond()
            >= i64::try_from(QUIET_FOR.as_millis()).unwrap_or(i64::MAX)
    });
    pods.is_empty() && active == 0 && !finished && old_enough
}

/// The message of the newest FailedCreate event about `job` (this very Job: same uid).
async fn latest_failed_create(
    client: &Client,
    ns: &str,
    job: &Job,
) -> Result<Option<String>, kube::Error> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let selector = format!(
        "involvedObject.kind=Job,involvedObject.name={},reason=FailedCreate",
        job.name_any()
    );
    let list = events
        .list(&ListParams::default().fields(&selector))
        .await?;
    let uid = job.metadata.uid.as_deref();
    let when = |e: &Event| {
        (e.last_timestamp.as_ref().map(|t| t.0))
            .or(e.event_time.as_ref().map(|t| t.0))
            .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    Ok(list
        .items
        .into_iter()
        .filter(|e| e.involved_object.uid.as_deref() == uid)
        .max_by_key(when)
        .and_then(|e| e.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobStatus;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("a time"))
    }

    fn job(created: i64, active: i32) -> Job {
        let mut j = Job::default();
        j.metadata.creation_timestamp = Some(at(created));
        j.status = Some(JobStatus {
            active: Some(active),
            ..JobStatus::default()
        });
        j
    }

    #[test]
    fn only_a_job_without_pods_for_a_while_is_looked_at() {
        assert!(quiet(&job(100, 0), &[], &at(105)));
        assert!(!quiet(&job(100, 0), &[], &at(104)), "too young");
        assert!(!quiet(&job(100, 1), &[], &at(200)), "a pod is active");
        assert!(
            !quiet(&job(100, 0), &[Pod::default()], &at(200)),
            "it has pods"
        );
        let mut done = job(100, 0);
        if let Some(s) = done.status.as_mut() {
            s.completion_time = Some(at(150));
        }
        assert!(!quiet(&done, &[], &at(200)), "finished");
    }
}
