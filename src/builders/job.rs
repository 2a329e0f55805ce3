//! The master and worker Jobs.
//!
//! Master Job: one pod (`parallelism: 1`, `completions: 1`) and `backoffLimit: 0`: a master
//! that fails is the test's verdict, it is not rerun.
//!
//! Worker Job: `parallelism = completions = replicas` with `completionMode: Indexed` and
//! `backoffLimit: replicas × 2` ([`WORKER_FAILURES_PER_REPLICA`]). A worker pod that fails
//! is replaced in its own index and rejoins the master while the others keep running (a
//! plain Job with `backoffLimit: 0` — the Go operator's choice — loses every worker on the
//! first crash). The budget is shared: after more than `replicas × 2` worker pod failures
//! in total the Job fails and Kubernetes stops the remaining workers.
//!
//! Never `backoffLimitPerIndex`: it makes deleting the test's namespace hang for good
//! while a worker pod has not succeeded (issue 14). The namespace controller deletes the
//! pods first and deletes nothing else (the LocustTest, the Jobs) until every pod is gone
//! (ordered namespace deletion, KEP-5080). With per-index limits, the Job controller keeps
//! its `batch.kubernetes.io/job-tracking` finalizer on a deleted pod whose index still has
//! retries left, until a replacement pod inherits the index's failure count
//! (`getPodsWithDelayedDeletionPerIndex` and `canRemoveFinalizer` in
//! `pkg/controller/job`); the replacement can never be created in a terminating
//! namespace, so the pod, the Job and the namespace stay. Without per-index limits the
//! finalizer of a deleted pod is removed at once. `tests/integration/namespace_delete.rs` proves both.
//!
//! Both: `restartPolicy: Never` on the pods, `ttlSecondsAfterFinished` from the operator
//! configuration when set.

use k8s_openapi::api::batch::v1::{Job, JobSpec};

use super::{BuildError, Ctx, Role, WORKER_FAILURES_PER_REPLICA, labels, pod};

/// The Job of `role`.
pub(crate) fn build(ctx: &Ctx<'_>, role: Role) -> Result<Job, BuildError> {
    let template = pod::template(ctx, role)?;
    let ttl = ctx.config.job_ttl_seconds_after_finished;
    let spec = match role {
        Role::Master => JobSpec {
            parallelism: Some(1),
            completions: Some(1),
            backoff_limit: Some(0),
            ttl_seconds_after_finished: ttl,
            template,
            ..JobSpec::default()
        },
        Role::Worker => JobSpec {
            parallelism: Some(ctx.worker().replicas),
            completions: Some(ctx.worker().replicas),
            completion_mode: Some("Indexed".into()),
            backoff_limit: Some(worker_backoff_limit(ctx.worker().replicas)),
            ttl_seconds_after_finished: ttl,
            template,
            ..JobSpec::default()
        },
    };
    Ok(Job {
        metadata: ctx.object_meta(ctx.job_name(role), labels::pod_labels(ctx, role)),
        spec: Some(spec),
        status: None,
    })
}

/// The worker Job's `backoffLimit`: [`WORKER_FAILURES_PER_REPLICA`] failures per worker,
/// shared by all workers.
fn worker_backoff_limit(replicas: i32) -> i32 {
    replicas.max(1).saturating_mul(WORKER_FAILURES_PER_REPLICA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::{minimal, with_ctx, with_ctx_config};
    use crate::config::OperatorConfig;

    #[test]
    fn master_job_runs_once() {
        let t = minimal();
        let j = with_ctx(&t, |c| build(c, Role::Master)).expect("valid");
        assert_eq!(j.metadata.name.as_deref(), Some("demo-master"));
        assert_eq!(j.metadata.namespace.as_deref(), Some("default"));
        let s = j.spec.expect("spec");
        assert_eq!(
            (s.parallelism, s.completions, s.backoff_limit),
            (Some(1), Some(1), Some(0))
        );
        assert_eq!(s.ttl_seconds_after_finished, None);
        assert_eq!(s.completion_mode, None);
    }

    #[test]
    fn worker_job_is_indexed_with_a_shared_retry_budget() {
        let mut t = minimal();
        t.spec.worker.replicas = 7;
        let config = OperatorConfig {
            job_ttl_seconds_after_finished: Some(300),
            ..OperatorConfig::default()
        };
        let j = with_ctx_config(&t, &config, |c| build(c, Role::Worker)).expect("valid");
        assert_eq!(j.metadata.name.as_deref(), Some("demo-worker"));
        let s = j.spec.expect("spec");
        assert_eq!((s.parallelism, s.completions), (Some(7), Some(7)));
        assert_eq!(s.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!(s.backoff_limit, Some(14), "2 failures per worker, shared");
        assert_eq!(
            s.backoff_limit_per_index, None,
            "per-index limits make namespace deletion hang (issue 14)"
        );
        assert_eq!(s.max_failed_indexes, None);
        assert_eq!(s.pod_failure_policy, None);
        assert_eq!(s.ttl_seconds_after_finished, Some(300));
    }

    #[test]
    fn worker_backoff_limit_scales_with_replicas() {
        assert_eq!(worker_backoff_limit(1), 2);
        assert_eq!(worker_backoff_limit(500), 1000);
        assert_eq!(
            worker_backoff_limit(0),
            2,
            "never 0: one failure must not fail all"
        );
        assert_eq!(worker_backoff_limit(i32::MAX), i32::MAX);
    }

    #[test]
    fn job_labels_match_pod_labels() {
        let mut t = minimal();
        t.spec.worker.labels = Some([("team".to_string(), "perf".to_string())].into());
        let j = with_ctx(&t, |c| build(c, Role::Worker)).expect("valid");
        let pod_labels = j
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone());
        assert_eq!(j.metadata.labels, pod_labels);
    }
}
