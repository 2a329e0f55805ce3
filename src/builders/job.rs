//! The master and worker Jobs.
//!
//! Master Job: one pod (`parallelism: 1`, `completions: 1`) and `backoffLimit: 0`: a master
//! that fails is the test's verdict, it is not rerun.
//!
//! Worker Job: `parallelism = completions = replicas` with `completionMode: Indexed` and
//! `backoffLimitPerIndex: 2` ([`WORKER_BACKOFF_LIMIT_PER_INDEX`]). Each worker is an index
//! with its own retry budget, so one worker pod that fails once is replaced and rejoins the
//! master instead of failing the whole Job (a plain Job with `backoffLimit: 0` — the Go
//! operator's choice — loses every worker on the first crash). `backoffLimit` is left unset:
//! with per-index limits Kubernetes defaults it to "unlimited", and the per-index budget
//! bounds the retries.
//!
//! Both: `restartPolicy: Never` on the pods, `ttlSecondsAfterFinished` from the operator
//! configuration when set.

use k8s_openapi::api::batch::v1::{Job, JobSpec};

use super::{BuildError, Ctx, Role, WORKER_BACKOFF_LIMIT_PER_INDEX, labels, pod};

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
            backoff_limit_per_index: Some(WORKER_BACKOFF_LIMIT_PER_INDEX),
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
    fn worker_job_is_indexed_with_per_index_retries() {
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
        assert_eq!(s.backoff_limit_per_index, Some(2));
        assert_eq!(s.backoff_limit, None);
        assert_eq!(s.ttl_seconds_after_finished, Some(300));
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
