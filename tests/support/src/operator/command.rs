//! The operator's command line: `env` with a controlled environment, then `<binary> run`.

use std::path::PathBuf;

/// Variables the harness decides about: removed from the inherited environment first, so
/// a developer's shell cannot leak into a run.
const CONTROLLED: [&str; 14] = [
    "KUBECONFIG",
    "WATCH_NAMESPACES",
    "POD_HEALTH_GRACE_SECONDS",
    "LEADER_ELECTION_NAMESPACE",
    "POD_NAME",
    "POD_NAMESPACE",
    "LOG_FORMAT",
    "RUST_LOG",
    "HEALTH_ADDR",
    "WEBHOOK_MODE",
    "MASTER_URL_TEMPLATE",
    "LOCUST_POLL_SECONDS",
    "KUBE_API_QPS",
    "KUBE_API_BURST",
];

/// How to run one operator process.
#[derive(Debug, Clone)]
pub struct Command {
    /// The operator binary.
    pub binary: PathBuf,
    /// Its kubeconfig.
    pub kubeconfig: PathBuf,
    /// `WATCH_NAMESPACES`; `None` watches every namespace.
    pub watch_namespaces: Option<Vec<String>>,
    /// `Some((lease namespace, identity))` runs with leader election, else
    /// `--leader-elect=false`.
    pub leader_election: Option<(String, String)>,
    /// `HEALTH_ADDR`: where the probes and `/metrics` are served.
    pub health_addr: String,
    /// Further variables, set last (so they win over the defaults above).
    pub env: Vec<(String, String)>,
}

impl Command {
    /// The operator at `binary` with `kubeconfig`, watching every namespace, no leader
    /// election, probes on a free loopback port chosen by the operator.
    pub fn new(binary: PathBuf, kubeconfig: PathBuf) -> Self {
        Self {
            binary,
            kubeconfig,
            watch_namespaces: None,
            leader_election: None,
            health_addr: "127.0.0.1:0".to_owned(),
            env: Vec::new(),
        }
    }

    /// The arguments of `env`: unset the controlled variables, set `KUBECONFIG`,
    /// `WATCH_NAMESPACES`, text logs, `HEALTH_ADDR`, `WEBHOOK_MODE=disabled` (a run that
    /// wants webhooks sets it in [`Command::env`]), the leader-election identity, then
    /// [`Command::env`], then the binary and `run`.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = CONTROLLED
            .iter()
            .flat_map(|v| ["-u".to_owned(), (*v).to_owned()])
            .collect();
        let mut set = |k: &str, v: &str| args.push(format!("{k}={v}"));
        set("KUBECONFIG", &self.kubeconfig.to_string_lossy());
        if let Some(namespaces) = &self.watch_namespaces {
            set("WATCH_NAMESPACES", &namespaces.join(","));
        }
        set("LOG_FORMAT", "text");
        set("HEALTH_ADDR", &self.health_addr);
        set("WEBHOOK_MODE", "disabled");
        if let Some((namespace, identity)) = &self.leader_election {
            set("LEADER_ELECTION_NAMESPACE", namespace);
            set("POD_NAME", identity);
        }
        for (k, v) in &self.env {
            set(k, v);
        }
        args.push(self.binary.display().to_string());
        args.push("run".to_owned());
        if self.leader_election.is_none() {
            args.push("--leader-elect=false".to_owned());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_controlled_variable_is_unset_and_later_settings_win() {
        let mut c = Command::new("/bin/op".into(), "/k".into());
        c.watch_namespaces = Some(vec!["a".into(), "b".into()]);
        c.env = vec![("WEBHOOK_MODE".into(), "local".into())];
        let args = c.args();
        for v in CONTROLLED {
            assert!(args.windows(2).any(|w| w[0] == "-u" && w[1] == v), "{v}");
        }
        let sets: Vec<&str> = args.iter().map(String::as_str).collect();
        let webhook = |v: &str| sets.iter().position(|a| *a == format!("WEBHOOK_MODE={v}"));
        assert!(webhook("disabled") < webhook("local"), "{sets:?}");
        assert!(sets.contains(&"WATCH_NAMESPACES=a,b"));
        assert_eq!(
            &sets[sets.len() - 3..],
            ["/bin/op", "run", "--leader-elect=false"]
        );
    }

    #[test]
    fn leader_election_sets_the_lease_namespace_and_identity() {
        let mut c = Command::new("/bin/op".into(), "/k".into());
        c.leader_election = Some(("ns".into(), "pod-0".into()));
        let args = c.args();
        assert!(args.contains(&"LEADER_ELECTION_NAMESPACE=ns".to_owned()));
        assert!(args.contains(&"POD_NAME=pod-0".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some("run"));
        assert!(!args.iter().any(|a| a.starts_with("WATCH_NAMESPACES=")));
    }
}
