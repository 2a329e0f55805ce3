//! Settings of the running controller (`locust-k8s-operator run`), from the environment.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, parse_number};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (in a cluster).
    Json,
    /// Human-readable lines (in a terminal).
    Text,
}

/// The validated settings of `locust-k8s-operator run`.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerConfig {
    /// Namespaces to watch; empty means every namespace.
    pub watch_namespaces: Vec<String>,
    /// Most reconciles running at once.
    pub reconcile_concurrency: u16,
    /// How long pods may be unhealthy (pending, image pull errors, unschedulable) before
    /// the test fails; tolerates slow node scale-ups.
    pub pod_health_grace: Duration,
    /// Namespace of the leader-election Lease.
    pub leader_election_namespace: String,
    /// Name of the leader-election Lease.
    pub lease_name: String,
    /// How long a lease is held without renewal.
    pub lease_duration: Duration,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// Log format; `None` picks JSON unless stderr is a terminal.
    pub log_format: Option<LogFormat>,
    /// `KUBE_API_QPS`: the client-side limit on requests per second to the API server
    /// (average), or `None`: no client-side limit (the default; the API server's Priority
    /// and Fairness applies).
    pub kube_api_qps: Option<u64>,
    /// `KUBE_API_BURST`: requests allowed at once above that average (default twice the
    /// limit).
    pub kube_api_burst: u64,
    /// Where `/healthz`, `/readyz` and `/metrics` are served over plain HTTP.
    pub health_addr: std::net::SocketAddr,
    /// `MASTER_URL_TEMPLATE`: the Locust master's base URL, `http://host:port` with the
    /// placeholders `{service}` and `{namespace}` (validated at start-up).
    pub master_url_template: String,
    /// `LOCUST_POLL_SECONDS`: how often a running test's master is polled.
    pub locust_poll_interval: Duration,
    /// `GO_OPERATOR_CHECK_SECONDS`: how often to look for a running Go operator (its held
    /// Lease, see [`crate::go_operator::check`]); `None` (`0`): never.
    pub go_operator_check_interval: Option<Duration>,
}

#[derive(Debug, Deserialize)]
struct Env {
    #[serde(default)]
    watch_namespaces: String,
    #[serde(default = "d_concurrency")]
    reconcile_concurrency: String,
    #[serde(default = "d_grace")]
    pod_health_grace_seconds: String,
    leader_election_namespace: Option<String>,
    pod_namespace: Option<String>,
    #[serde(default = "d_lease")]
    leader_election_lease_name: String,
    #[serde(default = "d_lease_seconds")]
    leader_election_lease_seconds: String,
    pod_name: Option<String>,
    hostname: Option<String>,
    log_format: Option<String>,
    kube_api_qps: Option<String>,
    kube_api_burst: Option<String>,
    #[serde(default = "d_health")]
    health_addr: String,
    master_url_template: Option<String>,
    #[serde(default = "d_poll")]
    locust_poll_seconds: String,
    #[serde(default = "d_go_check")]
    go_operator_check_seconds: String,
}

fn d_go_check() -> String {
    "10".into()
}

fn d_poll() -> String {
    "5".into()
}

fn d_health() -> String {
    "127.0.0.1:8081".into()
}

fn d_concurrency() -> String {
    "16".into()
}
fn d_grace() -> String {
    "120".into()
}
fn d_lease() -> String {
    "locust-k8s-operator".into()
}
fn d_lease_seconds() -> String {
    "15".into()
}

impl ControllerConfig {
    /// Reads and validates the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads and validates the settings from the given variables.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Env = envy::from_iter(vars).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let number = parse_number;
        let reconcile_concurrency =
            number("RECONCILE_CONCURRENCY", &env.reconcile_concurrency, 1, 1024)? as u16;
        let grace = number(
            "POD_HEALTH_GRACE_SECONDS",
            &env.pod_health_grace_seconds,
            0,
            86_400,
        )?;
        let lease = number(
            "LEADER_ELECTION_LEASE_SECONDS",
            &env.leader_election_lease_seconds,
            2,
            600,
        )?;
        let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let kube_api_qps = set(&env.kube_api_qps)
            .map(|v| number("KUBE_API_QPS", &v, 1, 10_000))
            .transpose()?;
        let kube_api_burst = match (kube_api_qps, set(&env.kube_api_burst)) {
            (Some(qps), None) => qps * 2,
            (Some(_), Some(v)) => number("KUBE_API_BURST", &v, 1, 20_000)?,
            (None, None) => 0,
            (None, Some(v)) => {
                return Err(ConfigError::Invalid {
                    var: "KUBE_API_BURST".into(),
                    value: v,
                    reason: "a burst needs a limit: set KUBE_API_QPS too, or unset \
                             KUBE_API_BURST for no client-side limit"
                        .into(),
                });
            }
        };
        let health_addr = env
            .health_addr
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid {
                var: "HEALTH_ADDR".into(),
                value: env.health_addr.clone(),
                reason: "expected an address and port, for example 0.0.0.0:8081".into(),
            })?;
        let master_url_template = env
            .master_url_template
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| crate::locust::DEFAULT_MASTER_URL_TEMPLATE.to_string());
        crate::locust::master_url(&master_url_template, "sample-master", "sample-ns", None)
            .map_err(|e| ConfigError::Invalid {
                var: crate::locust::MASTER_URL_TEMPLATE_ENV.into(),
                value: master_url_template.clone(),
                reason: e.to_string(),
            })?;
        let poll = number("LOCUST_POLL_SECONDS", &env.locust_poll_seconds, 1, 300)?;
        let go_check = number(
            "GO_OPERATOR_CHECK_SECONDS",
            &env.go_operator_check_seconds,
            0,
            3600,
        )?;
        let log_format = match env.log_format.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("json") => Some(LogFormat::Json),
            Some("text") => Some(LogFormat::Text),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "LOG_FORMAT".into(),
                    value: other.into(),
                    reason: "expected json or text".into(),
                });
            }
        };
        let watch_namespaces: Vec<String> = env
            .watch_namespaces
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let leader_election_namespace = env
            .leader_election_namespace
            .or(env.pod_namespace)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        let identity = env
            .pod_name
            .or(env.hostname)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("locust-k8s-operator-{}", std::process::id()));
        Ok(ControllerConfig {
            watch_namespaces,
            reconcile_concurrency,
            pod_health_grace: Duration::from_secs(grace),
            leader_election_namespace,
            lease_name: env.leader_election_lease_name.trim().to_string(),
            lease_duration: Duration::from_secs(lease),
            identity,
            log_format,
            kube_api_qps,
            kube_api_burst,
            health_addr,
            master_url_template,
            locust_poll_interval: Duration::from_secs(poll),
            go_operator_check_interval: (go_check > 0).then(|| Duration::from_secs(go_check)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_vars as vars;

    #[test]
    fn the_client_side_limit_is_a_rate_and_a_burst() {
        let c = ControllerConfig::from_vars(vars(&[("KUBE_API_QPS", "20")])).expect("valid");
        assert_eq!((c.kube_api_qps, c.kube_api_burst), (Some(20), 40));
        let c =
            ControllerConfig::from_vars(vars(&[("KUBE_API_QPS", "20"), ("KUBE_API_BURST", "25")]))
                .expect("valid");
        assert_eq!((c.kube_api_qps, c.kube_api_burst), (Some(20), 25));
        let e = ControllerConfig::from_vars(vars(&[("KUBE_API_BURST", "25")]))
            .expect_err("a burst alone");
        assert!(e.to_string().contains("KUBE_API_QPS"), "{e}");
        let e = ControllerConfig::from_vars(vars(&[("KUBE_API_QPS", "0")])).expect_err("zero");
        assert!(e.to_string().contains("KUBE_API_QPS"), "{e}");
    }

    #[test]
    fn defaults() {
        let c = ControllerConfig::from_vars(vars(&[("POD_NAME", "op-1")])).expect("valid");
        assert!(c.watch_namespaces.is_empty());
        assert_eq!(c.reconcile_concurrency, 16);
        assert_eq!(c.pod_health_grace, Duration::from_secs(120));
        assert_eq!(c.leader_election_namespace, "default");
        assert_eq!(c.identity, "op-1");
        assert_eq!(c.log_format, None);
        assert_eq!(c.kube_api_qps, None);
        assert_eq!(
            c.master_url_template,
            crate::locust::DEFAULT_MASTER_URL_TEMPLATE
        );
        assert_eq!(c.locust_poll_interval, Duration::from_secs(5));
        assert_eq!(c.go_operator_check_interval, Some(Duration::from_secs(10)));
    }

    #[test]
    fn the_go_operator_check_can_be_slowed_or_turned_off() {
        let c = ControllerConfig::from_vars(vars(&[("GO_OPERATOR_CHECK_SECONDS", "60")]))
            .expect("valid");
        assert_eq!(c.go_operator_check_interval, Some(Duration::from_secs(60)));
        let c = ControllerConfig::from_vars(vars(&[("GO_OPERATOR_CHECK_SECONDS", "0")]))
            .expect("valid");
        assert_eq!(c.go_operator_check_interval, None);
        for bad in ["-1", "3601", "x"] {
            let e = ControllerConfig::from_vars(vars(&[("GO_OPERATOR_CHECK_SECONDS", bad)]))
                .expect_err(bad);
            assert!(e.to_string().contains("GO_OPERATOR_CHECK_SECONDS"), "{e}");
        }
    }

    #[test]
    fn master_url_template_and_poll_interval() {
        let c = ControllerConfig::from_vars(vars(&[
            ("MASTER_URL_TEMPLATE", "http://127.0.0.1:18089"),
            ("LOCUST_POLL_SECONDS", "2"),
        ]))
        .expect("valid");
        assert_eq!(c.master_url_template, "http://127.0.0.1:18089");
        assert_eq!(c.locust_poll_interval, Duration::from_secs(2));
        for bad in ["https://{service}:8089", "{service}:8089", "http://{svc}:1"] {
            let e =
                ControllerConfig::from_vars(vars(&[("MASTER_URL_TEMPLATE", bad)])).expect_err(bad);
            assert!(e.to_string().contains("MASTER_URL_TEMPLATE"), "{e}");
        }
        for bad in ["0", "301", "x"] {
            let e =
                ControllerConfig::from_vars(vars(&[("LOCUST_POLL_SECONDS", bad)])).expect_err(bad);
            assert!(e.to_string().contains("LOCUST_POLL_SECONDS"), "{e}");
        }
    }

    #[test]
    fn values_and_errors() {
        let c = ControllerConfig::from_vars(vars(&[
            ("WATCH_NAMESPACES", " team-a, team-b ,"),
            ("POD_NAMESPACE", "ops"),
            ("POD_HEALTH_GRACE_SECONDS", "5"),
            ("LOG_FORMAT", "json"),
        ]))
        .expect("valid");
        assert_eq!(c.watch_namespaces, ["team-a", "team-b"]);
        assert_eq!(c.leader_election_namespace, "ops");
        assert_eq!(c.pod_health_grace, Duration::from_secs(5));
        assert_eq!(c.log_format, Some(LogFormat::Json));
        let e =
            ControllerConfig::from_vars(vars(&[("RECONCILE_CONCURRENCY", "0")])).expect_err("zero");
        assert!(e.to_string().contains("RECONCILE_CONCURRENCY"), "{e}");
        let e = ControllerConfig::from_vars(vars(&[("LOG_FORMAT", "xml")])).expect_err("xml");
        assert!(e.to_string().contains("LOG_FORMAT"), "{e}");
    }
}
