//! The operator pod's own name and namespace (the chart sets them from the downward API):
//! the replica's identity in leader election, and the namespace other settings default to.

use clap::builder::StringValueParser;

use super::parse::{Optional, dns1123_label, or_none};

const POD: &str = "Operator pod";

/// The pod's identity, as clap parses it from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = POD)]
pub struct PodArgs {
    /// This replica's identity in leader election (the pod's name). Unset or empty:
    /// $HOSTNAME, else locust-k8s-operator-PID (the process id).
    #[arg(
        long,
        env = "POD_NAME",
        value_name = "NAME",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(StringValueParser::new()),
    )]
    pub pod_name: Optional<String>,
    /// The host name, the identity when POD_NAME is unset (set by the container runtime).
    #[arg(
        long,
        env = "HOSTNAME",
        value_name = "NAME",
        default_value = "",
        hide_default_value = true,
        hide = true,
        value_parser = or_none(StringValueParser::new()),
    )]
    pub hostname: Optional<String>,
    /// The pod's namespace (DNS-1123 label), where the leader-election Lease and the
    /// webhook's Secret and Service live unless LEADER_ELECTION_NAMESPACE or
    /// WEBHOOK_NAMESPACE say otherwise.
    #[arg(
        long,
        env = "POD_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(dns1123_label),
    )]
    pub pod_namespace: Optional<String>,
}

impl PodArgs {
    /// This replica's identity: POD_NAME, else HOSTNAME, else one made of the process id.
    pub fn identity(&self) -> String {
        self.pod_name
            .0
            .clone()
            .or_else(|| self.hostname.0.clone())
            .unwrap_or_else(|| format!("locust-k8s-operator-{}", std::process::id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_vars, test_vars as vars};

    #[test]
    fn identity_is_the_pod_name_then_the_host_name() {
        let pod = |pairs: &[(&str, &str)]| parse_vars::<PodArgs>(&vars(pairs)).expect("valid");
        let both = pod(&[("POD_NAME", "op-1"), ("HOSTNAME", "host")]);
        assert_eq!(both.identity(), "op-1");
        assert_eq!(
            pod(&[("POD_NAME", " "), ("HOSTNAME", "host")]).identity(),
            "host"
        );
        assert!(pod(&[]).identity().starts_with("locust-k8s-operator-"));
    }

    #[test]
    fn the_namespace_must_be_a_namespace_name() {
        let e = parse_vars::<PodArgs>(&vars(&[("POD_NAMESPACE", "Ops")])).expect_err("upper");
        assert!(e.to_string().contains("POD_NAMESPACE"), "{e}");
        let ok = parse_vars::<PodArgs>(&vars(&[("POD_NAMESPACE", "ops")])).expect("valid");
        assert_eq!(ok.pod_namespace.0.as_deref(), Some("ops"));
    }
}
