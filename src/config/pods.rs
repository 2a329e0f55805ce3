//! Defaults of the Locust pods the builders create: resources, Job TTL, RuntimeClass and
//! which scheduling fields of a test are honoured (`run` and `render`).

use std::collections::BTreeMap;

use clap::ArgAction;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::parse::{Optional, boolean, dns1123_subdomain, number, or_default, or_none, quantity};
use super::{ConfigError, parse_vars};

/// Default of `EXPECT_WORKERS_MAX_WAIT_SECONDS`: five minutes for every worker pod to be
/// scheduled, pull the image and connect.
pub const DEFAULT_EXPECT_WORKERS_MAX_WAIT: u32 = 300;

/// Largest `ttlSecondsAfterFinished` Kubernetes accepts (an `int32`).
const MAX_TTL_SECONDS: u64 = 2_147_483_647;

const RESOURCES: &str = "Locust pods: default resources";
const SCHEDULING: &str = "Locust pods: Jobs and scheduling";

/// The settings of the Locust pods, as clap parses them from flags or the environment.
///
/// `POD_*` apply to both roles; `MASTER_POD_*` and `WORKER_POD_*` replace them per role.
/// An empty quantity means "no such request or limit".
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = RESOURCES)]
pub struct OperatorArgs {
    /// CPU request of the master and worker containers (a Kubernetes quantity: 250m, 1);
    /// empty: no request.
    #[arg(
        long,
        env = "POD_CPU_REQUEST",
        value_name = "QUANTITY",
        default_value = "250m",
        value_parser = or_none(quantity),
    )]
    pub pod_cpu_request: Optional<String>,
    /// Memory request of the master and worker containers (128Mi, 1Gi); empty: no request.
    #[arg(
        long,
        env = "POD_MEM_REQUEST",
        value_name = "QUANTITY",
        default_value = "128Mi",
        value_parser = or_none(quantity),
    )]
    pub pod_mem_request: Optional<String>,
    /// Ephemeral-storage request of the master and worker containers; empty: no request.
    #[arg(
        long,
        env = "POD_EPHEMERAL_REQUEST",
        value_name = "QUANTITY",
        default_value = "30M",
        value_parser = or_none(quantity),
    )]
    pub pod_ephemeral_request: Optional<String>,
    /// CPU limit of the master and worker containers; empty: no limit.
    #[arg(
        long,
        env = "POD_CPU_LIMIT",
        value_name = "QUANTITY",
        default_value = "1000m",
        value_parser = or_none(quantity),
    )]
    pub pod_cpu_limit: Optional<String>,
    /// Memory limit of the master and worker containers; empty: no limit.
    #[arg(
        long,
        env = "POD_MEM_LIMIT",
        value_name = "QUANTITY",
        default_value = "1024Mi",
        value_parser = or_none(quantity),
    )]
    pub pod_mem_limit: Optional<String>,
    /// Ephemeral-storage limit of the master and worker containers; empty: no limit.
    #[arg(
        long,
        env = "POD_EPHEMERAL_LIMIT",
        value_name = "QUANTITY",
        default_value = "50M",
        value_parser = or_none(quantity),
    )]
    pub pod_ephemeral_limit: Optional<String>,

    /// CPU request of the master container, in place of POD_CPU_REQUEST; empty: none.
    #[arg(
        long,
        env = "MASTER_POD_CPU_REQUEST",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub master_pod_cpu_request: Option<Optional<String>>,
    /// Memory request of the master container, in place of POD_MEM_REQUEST; empty: none.
    #[arg(
        long,
        env = "MASTER_POD_MEM_REQUEST",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub master_pod_mem_request: Option<Optional<String>>,
    /// Ephemeral-storage request of the master container, in place of
    /// POD_EPHEMERAL_REQUEST; empty: none.
    #[arg(
        long,
        env = "MASTER_POD_EPHEMERAL_REQUEST",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub master_pod_ephemeral_request: Option<Optional<String>>,
    /// CPU limit of the master container, in place of POD_CPU_LIMIT; empty: none.
    #[arg(
        long,
        env = "MASTER_POD_CPU_LIMIT",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub master_pod_cpu_limit: Option<Optional<String>>,
    /// Memory limit of the master container, in place of POD_MEM_LIMIT; empty: none.
    #[arg(
        long,
        env = "MASTER_POD_MEM_LIMIT",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub master_pod_mem_limit: Option<Optional<String>>,
    /// Ephemeral-storage limit of the master container, in place of POD_EPHEMERAL_LIMIT;
    /// empty: none.
    #[arg(
        long,
        env = "MASTER_POD_EPHEMERAL_LIMIT",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub master_pod_ephemeral_limit: Option<Optional<String>>,

    /// CPU request of each worker container, in place of POD_CPU_REQUEST; empty: none.
    #[arg(
        long,
        env = "WORKER_POD_CPU_REQUEST",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub worker_pod_cpu_request: Option<Optional<String>>,
    /// Memory request of each worker container, in place of POD_MEM_REQUEST; empty: none.
    #[arg(
        long,
        env = "WORKER_POD_MEM_REQUEST",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub worker_pod_mem_request: Option<Optional<String>>,
    /// Ephemeral-storage request of each worker container, in place of
    /// POD_EPHEMERAL_REQUEST; empty: none.
    #[arg(
        long,
        env = "WORKER_POD_EPHEMERAL_REQUEST",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub worker_pod_ephemeral_request: Option<Optional<String>>,
    /// CPU limit of each worker container, in place of POD_CPU_LIMIT; empty: none.
    #[arg(
        long,
        env = "WORKER_POD_CPU_LIMIT",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub worker_pod_cpu_limit: Option<Optional<String>>,
    /// Memory limit of each worker container, in place of POD_MEM_LIMIT; empty: none.
    #[arg(
        long,
        env = "WORKER_POD_MEM_LIMIT",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub worker_pod_mem_limit: Option<Optional<String>>,
    /// Ephemeral-storage limit of each worker container, in place of POD_EPHEMERAL_LIMIT;
    /// empty: none.
    #[arg(
        long,
        env = "WORKER_POD_EPHEMERAL_LIMIT",
        value_name = "QUANTITY",
        value_parser = or_none(quantity),
    )]
    pub worker_pod_ephemeral_limit: Option<Optional<String>>,

    /// `ttlSecondsAfterFinished` of the master and worker Jobs: seconds (0 to 2147483647)
    /// after a test finishes before Kubernetes deletes its Jobs and pods. Unset or empty:
    /// kept until the test is deleted.
    #[arg(
        long,
        env = "JOB_TTL_SECONDS_AFTER_FINISHED",
        value_name = "SECONDS",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(number::<i32>(0, MAX_TTL_SECONDS)),
        help_heading = SCHEDULING,
    )]
    pub job_ttl_seconds_after_finished: Optional<i32>,
    /// RuntimeClass of the Locust pods of tests that set no `scheduling.runtimeClassName`
    /// (a RuntimeClass name: DNS-1123 subdomain such as gvisor). Unset or empty: none.
    #[arg(
        long,
        env = "DEFAULT_RUNTIME_CLASS_NAME",
        value_name = "NAME",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(dns1123_subdomain),
        help_heading = SCHEDULING,
    )]
    pub default_runtime_class_name: Optional<String>,
    /// Honour a test's `scheduling.affinity` (true or false; also 1/0, yes/no).
    #[arg(
        long,
        env = "ENABLE_AFFINITY_CR_INJECTION",
        value_name = "BOOL",
        default_value = "true",
        action = ArgAction::Set,
        value_parser = or_default(boolean),
        help_heading = SCHEDULING,
    )]
    pub enable_affinity_cr_injection: bool,
    /// Honour a test's `scheduling.tolerations` (true or false; also 1/0, yes/no).
    #[arg(
        long,
        env = "ENABLE_TAINT_TOLERATIONS_CR_INJECTION",
        value_name = "BOOL",
        default_value = "true",
        action = ArgAction::Set,
        value_parser = or_default(boolean),
        help_heading = SCHEDULING,
    )]
    pub enable_taint_tolerations_cr_injection: bool,
    /// Locust's `--expect-workers-max-wait` for tests without `master.expectWorkersMaxWait`:
    /// seconds (0 to 86400) the master waits for every worker; 0 waits forever.
    #[arg(
        long,
        env = "EXPECT_WORKERS_MAX_WAIT_SECONDS",
        value_name = "SECONDS",
        default_value_t = DEFAULT_EXPECT_WORKERS_MAX_WAIT,
        value_parser = or_default(number::<u32>(0, 86_400)),
        help_heading = SCHEDULING,
    )]
    pub expect_workers_max_wait_seconds: u32,
    /// `runAsUser` of the Locust pods of tests whose `security.podSecurityContext` sets
    /// none: a user id (1 to 2147483647; 1000 is the official image's `locust` user, which
    /// Kubernetes cannot check against `runAsNonRoot` by name). Empty: unset, for platforms
    /// that assign ids themselves (OpenShift's restricted SCC).
    #[arg(
        long,
        env = "LOCUST_RUN_AS_USER",
        value_name = "UID",
        default_value = "1000",
        value_parser = or_none(number::<i64>(1, MAX_TTL_SECONDS)),
        help_heading = SCHEDULING,
    )]
    pub locust_run_as_user: Optional<i64>,
}

/// Requests and limits for cpu, memory and ephemeral storage; `None` leaves that entry out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceDefaults {
    /// `(resource name, quantity)` requests.
    pub requests: BTreeMap<String, String>,
    /// `(resource name, quantity)` limits.
    pub limits: BTreeMap<String, String>,
}

impl ResourceDefaults {
    /// As Kubernetes resource requirements; `None` when nothing is set.
    pub fn to_requirements(&self) -> Option<ResourceRequirements> {
        let conv = |m: &BTreeMap<String, String>| {
            (!m.is_empty()).then(|| {
                m.iter()
                    .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        let (requests, limits) = (conv(&self.requests), conv(&self.limits));
        (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
            requests,
            limits,
            ..ResourceRequirements::default()
        })
    }

    /// The role's values where set (`Some`), else the unified ones; in the order cpu,
    /// memory, ephemeral storage requests, then the same limits.
    fn of(unified: [&Optional<String>; 6], role: [&Option<Optional<String>>; 6]) -> Self {
        const KEYS: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];
        let mut out = Self::default();
        for (i, (unified, role)) in unified.into_iter().zip(role).enumerate() {
            let Some(value) = &role.as_ref().unwrap_or(unified).0 else {
                continue;
            };
            let target = if i < 3 {
                &mut out.requests
            } else {
                &mut out.limits
            };
            target.insert(KEYS[i % 3].to_string(), value.clone());
        }
        out
    }
}

/// The validated settings of the Locust pods.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorConfig {
    /// Default resources of the master container (role defaults over unified defaults).
    pub master_resources: ResourceDefaults,
    /// Default resources of each worker container.
    pub worker_resources: ResourceDefaults,
    /// `ttlSecondsAfterFinished` of the Jobs, when set.
    pub job_ttl_seconds_after_finished: Option<i32>,
    /// RuntimeClass used when a test does not set `scheduling.runtimeClassName`.
    pub default_runtime_class_name: Option<String>,
    /// Honour `scheduling.affinity` from the CR.
    pub enable_affinity_cr_injection: bool,
    /// Honour `scheduling.tolerations` from the CR.
    pub enable_taint_tolerations_cr_injection: bool,
    /// Default `--expect-workers-max-wait` in seconds for tests that do not set
    /// `master.expectWorkersMaxWait`; 0 waits forever.
    pub expect_workers_max_wait: u32,
    /// Default `runAsUser` of the Locust pods; `None`: left to the platform.
    pub run_as_user: Option<i64>,
}

impl From<OperatorArgs> for OperatorConfig {
    fn from(a: OperatorArgs) -> Self {
        let unified = [
            &a.pod_cpu_request,
            &a.pod_mem_request,
            &a.pod_ephemeral_request,
            &a.pod_cpu_limit,
            &a.pod_mem_limit,
            &a.pod_ephemeral_limit,
        ];
        let master = [
            &a.master_pod_cpu_request,
            &a.master_pod_mem_request,
            &a.master_pod_ephemeral_request,
            &a.master_pod_cpu_limit,
            &a.master_pod_mem_limit,
            &a.master_pod_ephemeral_limit,
        ];
        let worker = [
            &a.worker_pod_cpu_request,
            &a.worker_pod_mem_request,
            &a.worker_pod_ephemeral_request,
            &a.worker_pod_cpu_limit,
            &a.worker_pod_mem_limit,
            &a.worker_pod_ephemeral_limit,
        ];
        OperatorConfig {
            master_resources: ResourceDefaults::of(unified, master),
            worker_resources: ResourceDefaults::of(unified, worker),
            job_ttl_seconds_after_finished: a.job_ttl_seconds_after_finished.0,
            default_runtime_class_name: a.default_runtime_class_name.0,
            enable_affinity_cr_injection: a.enable_affinity_cr_injection,
            enable_taint_tolerations_cr_injection: a.enable_taint_tolerations_cr_injection,
            expect_workers_max_wait: a.expect_workers_max_wait_seconds,
            run_as_user: a.locust_run_as_user.0,
        }
    }
}

impl Default for OperatorConfig {
    /// The documented defaults (no flag, no variable set).
    fn default() -> Self {
        Self::from_vars(std::iter::empty()).expect("the defaults of every setting are valid")
    }
}

impl OperatorConfig {
    /// Parses and validates the settings from the given environment variables only, as
    /// `run` reads them (the process environment is not looked at); other variables are
    /// ignored.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<_> = vars.into_iter().collect();
        parse_vars::<OperatorArgs>(&vars).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_vars as vars;

    #[test]
    fn defaults_match_the_go_operator() {
        let c = OperatorConfig::from_vars(vars(&[])).expect("defaults are valid");
        assert_eq!(c.master_resources.requests["cpu"], "250m");
        assert_eq!(c.worker_resources.limits["memory"], "1024Mi");
        assert!(c.enable_affinity_cr_injection);
        assert_eq!(c.job_ttl_seconds_after_finished, None);
        assert_eq!(c, OperatorConfig::default());
    }

    #[test]
    fn role_values_override_unified_and_empty_removes() {
        let c = OperatorConfig::from_vars(vars(&[
            ("POD_CPU_LIMIT", ""),
            ("MASTER_POD_MEM_REQUEST", "2Gi"),
            ("WORKER_POD_CPU_LIMIT", "500m"),
            ("JOB_TTL_SECONDS_AFTER_FINISHED", "300"),
            ("DEFAULT_RUNTIME_CLASS_NAME", "gvisor"),
            ("ENABLE_AFFINITY_CR_INJECTION", "false"),
        ]))
        .expect("valid");
        assert_eq!(c.master_resources.requests["memory"], "2Gi");
        assert!(!c.master_resources.limits.contains_key("cpu"));
        assert_eq!(c.worker_resources.limits["cpu"], "500m");
        assert_eq!(c.worker_resources.requests["memory"], "128Mi");
        assert_eq!(c.job_ttl_seconds_after_finished, Some(300));
        assert_eq!(c.default_runtime_class_name.as_deref(), Some("gvisor"));
        assert!(!c.enable_affinity_cr_injection);
    }

    #[test]
    fn an_empty_role_value_removes_only_that_role_entry() {
        let c = OperatorConfig::from_vars(vars(&[("WORKER_POD_MEM_REQUEST", "")])).expect("valid");
        assert!(!c.worker_resources.requests.contains_key("memory"));
        assert_eq!(c.master_resources.requests["memory"], "128Mi");
        let none = OperatorConfig::from_vars(vars(&[
            ("POD_CPU_REQUEST", ""),
            ("POD_MEM_REQUEST", " "),
            ("POD_EPHEMERAL_REQUEST", ""),
            ("POD_CPU_LIMIT", ""),
            ("POD_MEM_LIMIT", ""),
            ("POD_EPHEMERAL_LIMIT", ""),
        ]))
        .expect("valid");
        assert_eq!(none.master_resources.to_requirements(), None);
    }

    #[test]
    fn expect_workers_max_wait_defaults_to_five_minutes() {
        let c = OperatorConfig::default();
        assert_eq!(c.expect_workers_max_wait, 300);
        let c = OperatorConfig::from_vars(vars(&[("EXPECT_WORKERS_MAX_WAIT_SECONDS", "0")]))
            .expect("0 waits forever");
        assert_eq!(c.expect_workers_max_wait, 0);
        let c = OperatorConfig::from_vars(vars(&[("EXPECT_WORKERS_MAX_WAIT_SECONDS", "")]))
            .expect("empty is the default");
        assert_eq!(c.expect_workers_max_wait, 300);
        let e = OperatorConfig::from_vars(vars(&[("EXPECT_WORKERS_MAX_WAIT_SECONDS", "soon")]))
            .expect_err("not a number");
        assert!(
            e.to_string().contains("EXPECT_WORKERS_MAX_WAIT_SECONDS"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = OperatorConfig::from_vars(vars(&[("WORKER_POD_MEM_LIMIT", "lots")]))
            .expect_err("invalid quantity");
        assert!(e.to_string().contains("WORKER_POD_MEM_LIMIT"), "{e}");
        let e = OperatorConfig::from_vars(vars(&[("JOB_TTL_SECONDS_AFTER_FINISHED", "-1")]))
            .expect_err("negative ttl");
        assert!(
            e.to_string().contains("JOB_TTL_SECONDS_AFTER_FINISHED"),
            "{e}"
        );
        let e = OperatorConfig::from_vars(vars(&[("ENABLE_AFFINITY_CR_INJECTION", "maybe")]))
            .expect_err("bad bool");
        assert!(
            e.to_string().contains("ENABLE_AFFINITY_CR_INJECTION"),
            "{e}"
        );
    }

    #[test]
    fn the_default_runtime_class_must_be_a_runtime_class_name() {
        for bad in ["gVisor", "kata_qemu", "-runc", "a..b"] {
            let e = OperatorConfig::from_vars(vars(&[("DEFAULT_RUNTIME_CLASS_NAME", bad)]))
                .expect_err(bad);
            let e = e.to_string();
            assert!(e.contains("DEFAULT_RUNTIME_CLASS_NAME"), "{e}");
            assert!(e.contains("DNS-1123 subdomain"), "{e}");
        }
        let c = OperatorConfig::from_vars(vars(&[("DEFAULT_RUNTIME_CLASS_NAME", " kata.v2 ")]))
            .expect("valid");
        assert_eq!(c.default_runtime_class_name.as_deref(), Some("kata.v2"));
        let c = OperatorConfig::from_vars(vars(&[("DEFAULT_RUNTIME_CLASS_NAME", "")]))
            .expect("empty: none");
        assert_eq!(c.default_runtime_class_name, None);
    }
}
