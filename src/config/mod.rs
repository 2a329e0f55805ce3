//! Operator configuration from environment variables (the chart sets them).
//!
//! Read once at start-up with [`OperatorConfig::from_env`] and validated there, so a typo in
//! a quantity stops the operator with a message naming the variable instead of producing
//! broken Jobs later. Builders take the validated [`OperatorConfig`]; they never read the
//! environment themselves.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::Deserialize;

mod controller;

pub use controller::{ControllerConfig, LogFormat};

/// A configuration error, naming the environment variable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A variable could not be parsed (wrong type).
    #[error("invalid operator configuration: {0}")]
    Parse(String),
    /// A variable holds an invalid value.
    #[error("invalid operator configuration: {var}={value:?}: {reason}")]
    Invalid {
        /// The environment variable.
        var: String,
        /// Its value.
        value: String,
        /// What is wrong and what is expected.
        reason: String,
    },
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
}

/// The validated operator configuration.
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
}

impl Default for OperatorConfig {
    fn default() -> Self {
        // An empty environment gives the documented defaults.
        Self::from_vars(std::iter::empty()).unwrap_or_else(|_| unreachable_default())
    }
}

/// Defaults are constants that always validate; this keeps `Default` panic-free in form.
fn unreachable_default() -> OperatorConfig {
    OperatorConfig {
        master_resources: ResourceDefaults::default(),
        worker_resources: ResourceDefaults::default(),
        job_ttl_seconds_after_finished: None,
        default_runtime_class_name: None,
        enable_affinity_cr_injection: true,
        enable_taint_tolerations_cr_injection: true,
        expect_workers_max_wait: DEFAULT_EXPECT_WORKERS_MAX_WAIT,
    }
}

/// Default of `EXPECT_WORKERS_MAX_WAIT_SECONDS`: five minutes for every worker pod to be
/// scheduled, pull the image and connect.
pub const DEFAULT_EXPECT_WORKERS_MAX_WAIT: u32 = 300;

/// The raw variables. Unified `POD_*` values apply to both roles; `MASTER_POD_*` and
/// `WORKER_POD_*` override them per role. An empty value means "no such request/limit".
#[derive(Debug, Deserialize)]
struct Env {
    #[serde(default = "d_cpu_req")]
    pod_cpu_request: String,
    #[serde(default = "d_mem_req")]
    pod_mem_request: String,
    #[serde(default = "d_eph_req")]
    pod_ephemeral_request: String,
    #[serde(default = "d_cpu_lim")]
    pod_cpu_limit: String,
    #[serde(default = "d_mem_lim")]
    pod_mem_limit: String,
    #[serde(default = "d_eph_lim")]
    pod_ephemeral_limit: String,
    master_pod_cpu_request: Option<String>,
    master_pod_mem_request: Option<String>,
    master_pod_ephemeral_request: Option<String>,
    master_pod_cpu_limit: Option<String>,
    master_pod_mem_limit: Option<String>,
    master_pod_ephemeral_limit: Option<String>,
    worker_pod_cpu_request: Option<String>,
    worker_pod_mem_request: Option<String>,
    worker_pod_ephemeral_request: Option<String>,
    worker_pod_cpu_limit: Option<String>,
    worker_pod_mem_limit: Option<String>,
    worker_pod_ephemeral_limit: Option<String>,
    job_ttl_seconds_after_finished: Option<String>,
    default_runtime_class_name: Option<String>,
    #[serde(default = "yes")]
    enable_affinity_cr_injection: String,
    #[serde(default = "yes")]
    enable_taint_tolerations_cr_injection: String,
    expect_workers_max_wait_seconds: Option<String>,
}

fn d_cpu_req() -> String {
    "250m".into()
}
fn d_mem_req() -> String {
    "128Mi".into()
}
fn d_eph_req() -> String {
    "30M".into()
}
fn d_cpu_lim() -> String {
    "1000m".into()
}
fn d_mem_lim() -> String {
    "1024Mi".into()
}
fn d_eph_lim() -> String {
    "50M".into()
}
fn yes() -> String {
    "true".into()
}

impl OperatorConfig {
    /// Reads and validates the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads and validates the configuration from the given variables.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Env = envy::from_iter(vars).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let role = |prefix: &str,
                    role_vals: [&Option<String>; 6]|
         -> Result<ResourceDefaults, ConfigError> {
            let unified = [
                &env.pod_cpu_request,
                &env.pod_mem_request,
                &env.pod_ephemeral_request,
                &env.pod_cpu_limit,
                &env.pod_mem_limit,
                &env.pod_ephemeral_limit,
            ];
            let keys = ["cpu", "memory", "ephemeral-storage"];
            let var_names = [
                "CPU_REQUEST",
                "MEM_REQUEST",
                "EPHEMERAL_REQUEST",
                "CPU_LIMIT",
                "MEM_LIMIT",
                "EPHEMERAL_LIMIT",
            ];
            let mut out = ResourceDefaults::default();
            for i in 0..6 {
                let (value, var) = match role_vals[i] {
                    Some(v) => (v.clone(), format!("{prefix}POD_{}", var_names[i])),
                    None => (unified[i].clone(), format!("POD_{}", var_names[i])),
                };
                let value = value.trim().to_string();
                if value.is_empty() {
                    continue;
                }
                if !is_quantity(&value) {
                    return Err(ConfigError::Invalid {
                        var,
                        value,
                        reason: "not a Kubernetes quantity (examples: 250m, 1, 512Mi, 2Gi)".into(),
                    });
                }
                let target = if i < 3 {
                    &mut out.requests
                } else {
                    &mut out.limits
                };
                target.insert(keys[i % 3].to_string(), value);
            }
            Ok(out)
        };
        let master_resources = role(
            "MASTER_",
            [
                &env.master_pod_cpu_request,
                &env.master_pod_mem_request,
                &env.master_pod_ephemeral_request,
                &env.master_pod_cpu_limit,
                &env.master_pod_mem_limit,
                &env.master_pod_ephemeral_limit,
            ],
        )?;
        let worker_resources = role(
            "WORKER_",
            [
                &env.worker_pod_cpu_request,
                &env.worker_pod_mem_request,
                &env.worker_pod_ephemeral_request,
                &env.worker_pod_cpu_limit,
                &env.worker_pod_mem_limit,
                &env.worker_pod_ephemeral_limit,
            ],
        )?;
        let job_ttl_seconds_after_finished =
            match env.job_ttl_seconds_after_finished.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(v) => Some(v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    ConfigError::Invalid {
                        var: "JOB_TTL_SECONDS_AFTER_FINISHED".into(),
                        value: v.into(),
                        reason: "expected a whole number of seconds, 0 or more".into(),
                    }
                })?),
            };
        let default_runtime_class_name = env
            .default_runtime_class_name
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let expect_workers_max_wait = match non_empty(env.expect_workers_max_wait_seconds) {
            None => DEFAULT_EXPECT_WORKERS_MAX_WAIT,
            Some(v) => {
                let n = parse_number("EXPECT_WORKERS_MAX_WAIT_SECONDS", &v, 0, 86_400)?;
                u32::try_from(n).unwrap_or(DEFAULT_EXPECT_WORKERS_MAX_WAIT)
            }
        };
        Ok(OperatorConfig {
            expect_workers_max_wait,
            master_resources,
            worker_resources,
            job_ttl_seconds_after_finished,
            default_runtime_class_name,
            enable_affinity_cr_injection: parse_bool(
                "ENABLE_AFFINITY_CR_INJECTION",
                &env.enable_affinity_cr_injection,
            )?,
            enable_taint_tolerations_cr_injection: parse_bool(
                "ENABLE_TAINT_TOLERATIONS_CR_INJECTION",
                &env.enable_taint_tolerations_cr_injection,
            )?,
        })
    }
}

/// A whole number from `min` to `max`, or an error naming `var`.
pub(crate) fn parse_number(var: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ConfigError::Invalid {
            var: var.into(),
            value: value.into(),
            reason: format!("expected a whole number from {min} to {max}"),
        })
}

/// The trimmed value, `None` when unset or blank.
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`), or an error naming `var`.
pub(crate) fn parse_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Invalid {
            var: var.into(),
            value: value.into(),
            reason: "expected true or false".into(),
        }),
    }
}

/// Whether `s` is a Kubernetes resource quantity: a non-negative decimal number followed by
/// an optional binary-SI (Ki…Ei), decimal-SI (n, u, m, k, M, G, T, P, E) or exponent suffix.
pub fn is_quantity(s: &str) -> bool {
    let s = s.strip_prefix('+').unwrap_or(s);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let valid_number = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let valid_suffix = match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        exp => {
            let rest = exp.strip_prefix(['e', 'E']);
            rest.is_some_and(|r| {
                let r = r.strip_prefix(['+', '-']).unwrap_or(r);
                !r.is_empty() && r.chars().all(|c| c.is_ascii_digit())
            })
        }
    };
    valid_number && valid_suffix
}

/// `(name, value)` pairs as owned variables, for the configuration tests.
#[cfg(test)]
pub(crate) fn test_vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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
    fn expect_workers_max_wait_defaults_to_five_minutes() {
        let c = OperatorConfig::default();
        assert_eq!(c.expect_workers_max_wait, 300);
        let c = OperatorConfig::from_vars(vars(&[("EXPECT_WORKERS_MAX_WAIT_SECONDS", "0")]))
            .expect("0 waits forever");
        assert_eq!(c.expect_workers_max_wait, 0);
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
    fn quantities() {
        for ok in [
            "1", "250m", "0.5", "1Gi", "512Mi", "1e3", "30M", "+1", "1.5G", "2E-3",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "lots", "1GB", "-1", ".", "1..2", "Mi", "1 Gi", "1e"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
