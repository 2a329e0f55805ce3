//! Resources of the Locust containers.
//!
//! Precedence: the CR's `master.resources` / `worker.resources` replace the defaults as a
//! whole (no per-entry merge, so a user can drop a limit); otherwise the operator's defaults
//! for that role, which [`crate::config`] already merged over the unified defaults.

use k8s_openapi::api::core::v1::ResourceRequirements;

use super::{Ctx, Role};

/// The resources of `role`'s container; `None` when neither the CR nor the operator sets any.
pub(crate) fn resources(ctx: &Ctx<'_>, role: Role) -> Option<ResourceRequirements> {
    let (from_cr, defaults) = match role {
        Role::Master => (&ctx.master().resources, &ctx.config.master_resources),
        Role::Worker => (&ctx.worker().resources, &ctx.config.worker_resources),
    };
    from_cr.clone().or_else(|| defaults.to_requirements())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::{minimal, with_ctx, with_ctx_config};
    use crate::config::OperatorConfig;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn q(s: &str) -> Quantity {
        Quantity(s.into())
    }

    #[test]
    fn operator_defaults_per_role() {
        let config = OperatorConfig::from_vars([
            ("MASTER_POD_CPU_REQUEST".to_string(), "2".to_string()),
            ("POD_MEM_LIMIT".to_string(), "3Gi".to_string()),
        ])
        .expect("valid");
        let t = minimal();
        let (m, w) = with_ctx_config(&t, &config, |c| {
            (resources(c, Role::Master), resources(c, Role::Worker))
        });
        let (m, w) = (m.expect("defaults"), w.expect("defaults"));
        assert_eq!(m.requests.as_ref().map(|r| &r["cpu"]), Some(&q("2")));
        assert_eq!(w.requests.as_ref().map(|r| &r["cpu"]), Some(&q("250m")));
        assert_eq!(m.limits.as_ref().map(|r| &r["memory"]), Some(&q("3Gi")));
        assert_eq!(w.limits.as_ref().map(|r| &r["memory"]), Some(&q("3Gi")));
    }

    #[test]
    fn cr_resources_override_as_a_whole() {
        let mut t = minimal();
        let only_memory = ResourceRequirements {
            requests: Some([("memory".to_string(), q("1Gi"))].into()),
            ..Default::default()
        };
        t.spec.worker.resources = Some(only_memory.clone());
        let (m, w) = with_ctx(&t, |c| {
            (resources(c, Role::Master), resources(c, Role::Worker))
        });
        assert_eq!(w, Some(only_memory));
        let m = m.expect("defaults");
        assert_eq!(m.requests.as_ref().map(|r| &r["cpu"]), Some(&q("250m")));
    }

    #[test]
    fn nothing_when_no_defaults() {
        let config = OperatorConfig {
            master_resources: Default::default(),
            worker_resources: Default::default(),
            ..OperatorConfig::default()
        };
        let t = minimal();
        let r = with_ctx_config(&t, &config, |c| resources(c, Role::Master));
        assert_eq!(r, None);
    }
}
