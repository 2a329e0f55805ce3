//! Settings of the running controller (`locust-k8s-operator run`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ArgAction;
use clap::builder::EnumValueParser;

use super::parse::{
    Optional, boolean, dns1123_label, dns1123_subdomain, log_filter, master_url_template, number,
    or_default, or_none, path, seconds, socket_addr,
};
use super::pod::PodArgs;
use super::{ConfigError, parse_vars};

const CONTROLLER: &str = "Controller";
const API: &str = "Kubernetes API client";
const LEADER: &str = "Leader election";
const LOCUST: &str = "Locust master API";
const HEALTH: &str = "Probes and metrics";
const LOGGING: &str = "Logging";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (in a cluster).
    Json,
    /// Human-readable lines (in a terminal).
    Text,
}

/// The controller's settings, as clap parses them from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = CONTROLLER)]
pub struct ControllerArgs {
    /// Namespaces to watch, comma-separated (namespace names); unset or empty: every
    /// namespace.
    #[arg(
        long,
        env = "WATCH_NAMESPACES",
        value_name = "NAMESPACE,...",
        value_delimiter = ',',
        value_parser = or_none(dns1123_label),
    )]
    pub watch_namespaces: Vec<Optional<String>>,
    /// Most reconciles running at once (1 to 1024).
    #[arg(
        long,
        env = "RECONCILE_CONCURRENCY",
        value_name = "COUNT",
        default_value_t = 16,
        value_parser = or_default(number::<u16>(1, 1024)),
    )]
    pub reconcile_concurrency: u16,
    /// Seconds (0 to 86400) pods may be unhealthy (pending, image pull errors,
    /// unschedulable) before the test fails; tolerates slow node scale-ups.
    #[arg(
        long,
        env = "POD_HEALTH_GRACE_SECONDS",
        value_name = "SECONDS",
        default_value = "120",
        value_parser = or_default(seconds(0, 86_400)),
    )]
    pub pod_health_grace_seconds: Duration,
    /// Seconds (0 to 3600) between looks for a running Go operator (its held Lease; while
    /// it holds it, nothing is reconciled); 0: never look.
    #[arg(
        long,
        env = "GO_OPERATOR_CHECK_SECONDS",
        value_name = "SECONDS",
        default_value = "10",
        value_parser = or_default(seconds(0, 3600)),
    )]
    pub go_operator_check_seconds: Duration,

    /// Client-side limit on requests per second to the API server (1 to 10000, a token
    /// bucket). Unset or empty: no client-side limit (the API server's Priority and
    /// Fairness applies; RECONCILE_CONCURRENCY bounds what is in flight).
    #[arg(
        long,
        env = "KUBE_API_QPS",
        value_name = "PER_SECOND",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(number::<u64>(1, 10_000)),
        help_heading = API,
    )]
    pub kube_api_qps: Optional<u64>,
    /// Requests allowed at once above KUBE_API_QPS (1 to 20000; needs KUBE_API_QPS).
    /// Unset or empty: twice KUBE_API_QPS.
    #[arg(
        long,
        env = "KUBE_API_BURST",
        value_name = "COUNT",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(number::<u64>(1, 20_000)),
        help_heading = API,
    )]
    pub kube_api_burst: Optional<u64>,

    /// Namespace of the leader-election Lease (a namespace name). Unset or empty:
    /// POD_NAMESPACE, else default.
    #[arg(
        long,
        env = "LEADER_ELECTION_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(dns1123_label),
        help_heading = LEADER,
    )]
    pub leader_election_namespace: Optional<String>,
    /// Name of the leader-election Lease (an object name).
    #[arg(
        long,
        env = "LEADER_ELECTION_LEASE_NAME",
        value_name = "NAME",
        default_value = "locust-k8s-operator",
        value_parser = or_default(dns1123_subdomain),
        help_heading = LEADER,
    )]
    pub leader_election_lease_name: String,
    /// Seconds (2 to 600) the Lease is held without renewal before another replica takes
    /// over.
    #[arg(
        long,
        env = "LEADER_ELECTION_LEASE_SECONDS",
        value_name = "SECONDS",
        default_value = "15",
        value_parser = or_default(seconds(2, 600)),
        help_heading = LEADER,
    )]
    pub leader_election_lease_seconds: Duration,

    /// Base URL of a test's Locust master: http://host:port with the placeholders
    /// {service} and {namespace} (a fixed URL is allowed; webUI.basePath is appended).
    #[arg(
        long,
        env = "MASTER_URL_TEMPLATE",
        value_name = "URL",
        default_value = crate::locust::DEFAULT_MASTER_URL_TEMPLATE,
        value_parser = or_default(master_url_template),
        help_heading = LOCUST,
    )]
    pub master_url_template: String,
    /// Seconds (1 to 300) between polls of a running test's master.
    #[arg(
        long,
        env = "LOCUST_POLL_SECONDS",
        value_name = "SECONDS",
        default_value = "5",
        value_parser = or_default(seconds(1, 300)),
        help_heading = LOCUST,
    )]
    pub locust_poll_seconds: Duration,

    /// Address and port of /healthz, /readyz and /metrics (plain HTTP); 0.0.0.0:8081 in a
    /// pod.
    #[arg(
        long,
        env = "HEALTH_ADDR",
        value_name = "ADDRESS:PORT",
        default_value = "127.0.0.1:8081",
        value_parser = or_default(socket_addr),
        help_heading = HEALTH,
    )]
    pub health_addr: SocketAddr,
    /// Serve /metrics over HTTPS on METRICS_SECURE_ADDR only, to bearer tokens the API
    /// server authenticates (TokenReview) and allows to get the non-resource URL /metrics
    /// (SubjectAccessReview); true or false. Off: /metrics is plain HTTP on HEALTH_ADDR.
    #[arg(
        long,
        env = "METRICS_SECURE",
        value_name = "BOOL",
        default_value = "false",
        action = ArgAction::Set,
        value_parser = or_default(boolean),
        help_heading = HEALTH,
    )]
    pub metrics_secure: bool,
    /// Address and port of the HTTPS /metrics when METRICS_SECURE is true; 0.0.0.0:8444 in
    /// a pod.
    #[arg(
        long,
        env = "METRICS_SECURE_ADDR",
        value_name = "ADDRESS:PORT",
        default_value = "127.0.0.1:8444",
        value_parser = or_default(socket_addr),
        help_heading = HEALTH,
    )]
    pub metrics_secure_addr: SocketAddr,
    /// Folder with tls.crt and tls.key for the HTTPS /metrics (cert-manager), reloaded
    /// when they change. Unset or empty: a self-signed certificate made at start-up.
    #[arg(
        long,
        env = "METRICS_CERT_DIR",
        value_name = "DIR",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(path),
        help_heading = HEALTH,
    )]
    pub metrics_cert_dir: Optional<PathBuf>,
    /// Also export series per endpoint (Locust's request method and name) of each running
    /// test on /metrics (true or false; also 1/0, yes/no).
    #[arg(
        long,
        env = "ENDPOINT_METRICS",
        value_name = "BOOL",
        default_value = "false",
        action = clap::ArgAction::Set,
        value_parser = or_default(boolean),
        help_heading = HEALTH,
    )]
    pub endpoint_metrics: bool,
    /// With ENDPOINT_METRICS: most endpoints (1 to 500) with series of their own per test,
    /// those with the most requests when they first appear; the others are counted in
    /// locust_operator_test_endpoints_dropped (and still in the test's totals).
    #[arg(
        long,
        env = "ENDPOINT_METRICS_MAX",
        value_name = "COUNT",
        default_value_t = 20,
        value_parser = or_default(number::<u16>(1, 500)),
        help_heading = HEALTH,
    )]
    pub endpoint_metrics_max: u16,

    /// Log format. Unset or empty: json, or text when standard error is a terminal.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(EnumValueParser::<LogFormat>::new()),
        help_heading = LOGGING,
    )]
    pub log_format: Optional<LogFormat>,
    /// Which logs are written: a tracing filter such as info or
    /// warn,locust_k8s_operator=debug.
    #[arg(
        long,
        env = "RUST_LOG",
        value_name = "FILTER",
        default_value = "info",
        value_parser = or_default(log_filter),
        help_heading = LOGGING,
    )]
    pub log_filter: String,
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
    /// `RUST_LOG`: which logs are written (a validated `tracing` filter).
    pub log_filter: String,
    /// `KUBE_API_QPS`: the client-side limit on requests per second to the API server
    /// (average), or `None`: no client-side limit (the default; the API server's Priority
    /// and Fairness applies).
    pub kube_api_qps: Option<u64>,
    /// `KUBE_API_BURST`: requests allowed at once above that average (default twice the
    /// limit).
    pub kube_api_burst: u64,
    /// Where `/healthz`, `/readyz` and (unless [`Self::secure_metrics`]) `/metrics` are
    /// served over plain HTTP.
    pub health_addr: SocketAddr,
    /// `METRICS_SECURE`: `/metrics` over HTTPS with authentication and authorization, or
    /// `None`: plain HTTP on [`Self::health_addr`] (the default).
    pub secure_metrics: Option<SecureMetrics>,
    /// `MASTER_URL_TEMPLATE`: the Locust master's base URL, `http://host:port` with the
    /// placeholders `{service}` and `{namespace}` (validated at start-up).
    pub master_url_template: String,
    /// `LOCUST_POLL_SECONDS`: how often a running test's master is polled.
    pub locust_poll_interval: Duration,
    /// `GO_OPERATOR_CHECK_SECONDS`: how often to look for a running Go operator (its held
    /// Lease, see [`crate::go_operator::check`]); `None` (`0`): never.
    pub go_operator_check_interval: Option<Duration>,
    /// `ENDPOINT_METRICS` and `ENDPOINT_METRICS_MAX`: most endpoints per test with series
    /// of their own on `/metrics`; `None`: no per-endpoint series.
    pub endpoint_metrics: Option<usize>,
}

/// Where and with which certificate the HTTPS `/metrics` is served (`METRICS_SECURE=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureMetrics {
    /// `METRICS_SECURE_ADDR`: the HTTPS port of `/metrics`.
    pub addr: SocketAddr,
    /// `METRICS_CERT_DIR`: `tls.crt` and `tls.key` to serve, or `None`: a self-signed
    /// certificate made at start-up.
    pub cert_dir: Option<PathBuf>,
}

impl ControllerConfig {
    /// The validated settings: fills the defaults that depend on other settings and checks
    /// what clap cannot (a burst needs a rate).
    pub fn new(args: ControllerArgs, pod: &PodArgs) -> Result<Self, ConfigError> {
        let kube_api_qps = args.kube_api_qps.0;
        let kube_api_burst = match (kube_api_qps, args.kube_api_burst.0) {
            (Some(_), Some(burst)) => burst,
            (Some(qps), None) => qps * 2,
            (None, None) => 0,
            (None, Some(burst)) => {
                return Err(ConfigError::Invalid {
                    var: "KUBE_API_BURST (--kube-api-burst)".into(),
                    value: burst.to_string(),
                    reason: "a burst needs a limit: set KUBE_API_QPS (--kube-api-qps) too, or \
                             unset KUBE_API_BURST for no client-side limit"
                        .into(),
                });
            }
        };
        let leader_election_namespace = args
            .leader_election_namespace
            .0
            .or_else(|| pod.pod_namespace.0.clone())
            .unwrap_or_else(|| "default".into());
        let go_check = args.go_operator_check_seconds;
        Ok(ControllerConfig {
            watch_namespaces: args
                .watch_namespaces
                .into_iter()
                .filter_map(Optional::into_option)
                .collect(),
            reconcile_concurrency: args.reconcile_concurrency,
            pod_health_grace: args.pod_health_grace_seconds,
            leader_election_namespace,
            lease_name: args.leader_election_lease_name,
            lease_duration: args.leader_election_lease_seconds,
            identity: pod.identity(),
            log_format: args.log_format.0,
            log_filter: args.log_filter,
            kube_api_qps,
            kube_api_burst,
            health_addr: args.health_addr,
            secure_metrics: args.metrics_secure.then_some(SecureMetrics {
                addr: args.metrics_secure_addr,
                cert_dir: args.metrics_cert_dir.0,
            }),
            master_url_template: args.master_url_template,
            locust_poll_interval: args.locust_poll_seconds,
            go_operator_check_interval: (!go_check.is_zero()).then_some(go_check),
            endpoint_metrics: args
                .endpoint_metrics
                .then_some(usize::from(args.endpoint_metrics_max)),
        })
    }

    /// Parses and validates the settings from the given environment variables only, as
    /// `run` reads them (the process environment is not looked at); other variables are
    /// ignored.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<_> = vars.into_iter().collect();
        Self::new(parse_vars(&vars)?, &parse_vars(&vars)?)
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
        let c = ControllerConfig::from_vars(vars(&[("KUBE_API_QPS", ""), ("KUBE_API_BURST", "")]))
            .expect("empty is unset");
        assert_eq!((c.kube_api_qps, c.kube_api_burst), (None, 0));
    }

    #[test]
    fn defaults() {
        let c = ControllerConfig::from_vars(vars(&[("POD_NAME", "op-1")])).expect("valid");
        assert!(c.watch_namespaces.is_empty());
        assert_eq!(c.reconcile_concurrency, 16);
        assert_eq!(c.pod_health_grace, Duration::from_secs(120));
        assert_eq!(c.leader_election_namespace, "default");
        assert_eq!(c.lease_name, "locust-k8s-operator");
        assert_eq!(c.lease_duration, Duration::from_secs(15));
        assert_eq!(c.identity, "op-1");
        assert_eq!(c.log_format, None);
        assert_eq!(c.log_filter, "info");
        assert_eq!(c.kube_api_qps, None);
        assert_eq!(c.health_addr.to_string(), "127.0.0.1:8081");
        assert_eq!(c.secure_metrics, None);
        assert_eq!(
            c.master_url_template,
            crate::locust::DEFAULT_MASTER_URL_TEMPLATE
        );
        assert_eq!(c.locust_poll_interval, Duration::from_secs(5));
        assert_eq!(c.go_operator_check_interval, Some(Duration::from_secs(10)));
        assert_eq!(c.endpoint_metrics, None);
    }

    #[test]
    fn per_endpoint_series_are_opt_in_and_capped() {
        let c = ControllerConfig::from_vars(vars(&[("ENDPOINT_METRICS", "true")])).expect("valid");
        assert_eq!(c.endpoint_metrics, Some(20));
        let c = ControllerConfig::from_vars(vars(&[
            ("ENDPOINT_METRICS", "yes"),
            ("ENDPOINT_METRICS_MAX", "3"),
        ]))
        .expect("valid");
        assert_eq!(c.endpoint_metrics, Some(3));
        let c = ControllerConfig::from_vars(vars(&[("ENDPOINT_METRICS_MAX", "3")])).expect("valid");
        assert_eq!(c.endpoint_metrics, None, "the cap alone turns nothing on");
        for (var, bad) in [
            ("ENDPOINT_METRICS", "maybe"),
            ("ENDPOINT_METRICS_MAX", "0"),
            ("ENDPOINT_METRICS_MAX", "501"),
        ] {
            let e = ControllerConfig::from_vars(vars(&[(var, bad)])).expect_err(bad);
            assert!(e.to_string().contains(var), "{e}");
        }
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
    fn secure_metrics_is_opt_in() {
        let c = ControllerConfig::from_vars(vars(&[("METRICS_SECURE_ADDR", "0.0.0.0:9443")]))
            .expect("valid");
        assert_eq!(c.secure_metrics, None, "the address alone turns nothing on");
        let c = ControllerConfig::from_vars(vars(&[("METRICS_SECURE", "true")])).expect("valid");
        assert_eq!(
            c.secure_metrics,
            Some(SecureMetrics {
                addr: ([127, 0, 0, 1], 8444).into(),
                cert_dir: None,
            })
        );
        let c = ControllerConfig::from_vars(vars(&[
            ("METRICS_SECURE", "yes"),
            ("METRICS_SECURE_ADDR", "0.0.0.0:8444"),
            ("METRICS_CERT_DIR", "/certs"),
        ]))
        .expect("valid");
        let secure = c.secure_metrics.expect("on");
        assert_eq!(secure.addr.to_string(), "0.0.0.0:8444");
        assert_eq!(secure.cert_dir, Some(PathBuf::from("/certs")));
        for (var, bad) in [("METRICS_SECURE", "maybe"), ("METRICS_SECURE_ADDR", "8444")] {
            let e = ControllerConfig::from_vars(vars(&[(var, bad)])).expect_err(bad);
            assert!(e.to_string().contains(var), "{e}");
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
            ("RUST_LOG", "warn,locust_k8s_operator=debug"),
        ]))
        .expect("valid");
        assert_eq!(c.watch_namespaces, ["team-a", "team-b"]);
        assert_eq!(c.leader_election_namespace, "ops");
        assert_eq!(c.pod_health_grace, Duration::from_secs(5));
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.log_filter, "warn,locust_k8s_operator=debug");
        let e =
            ControllerConfig::from_vars(vars(&[("RECONCILE_CONCURRENCY", "0")])).expect_err("zero");
        assert!(e.to_string().contains("RECONCILE_CONCURRENCY"), "{e}");
        let e = ControllerConfig::from_vars(vars(&[("LOG_FORMAT", "xml")])).expect_err("xml");
        assert!(e.to_string().contains("LOG_FORMAT"), "{e}");
    }

    #[test]
    fn names_and_filters_are_checked() {
        for (var, bad) in [
            ("WATCH_NAMESPACES", "team-a,Team_B"),
            ("LEADER_ELECTION_NAMESPACE", "-ops"),
            ("LEADER_ELECTION_LEASE_NAME", "My_Lease"),
            ("LEADER_ELECTION_LEASE_SECONDS", "1"),
            ("HEALTH_ADDR", "localhost"),
            ("RUST_LOG", "info,kube=loud"),
        ] {
            let e = ControllerConfig::from_vars(vars(&[(var, bad)])).expect_err(bad);
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn empty_values_are_the_defaults() {
        let c = ControllerConfig::from_vars(vars(&[
            ("WATCH_NAMESPACES", ""),
            ("LOG_FORMAT", ""),
            ("LEADER_ELECTION_NAMESPACE", ""),
            ("POD_NAMESPACE", "ops"),
            ("MASTER_URL_TEMPLATE", " "),
            ("RECONCILE_CONCURRENCY", ""),
        ]))
        .expect("valid");
        assert!(c.watch_namespaces.is_empty());
        assert_eq!(c.log_format, None);
        assert_eq!(c.leader_election_namespace, "ops");
        assert_eq!(
            c.master_url_template,
            crate::locust::DEFAULT_MASTER_URL_TEMPLATE
        );
        assert_eq!(c.reconcile_concurrency, 16);
    }
}
