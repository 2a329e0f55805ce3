//! The look for a running Go operator: at start-up and then every
//! `GO_OPERATOR_CHECK_SECONDS` (default 10), the operator reads the Go operator's
//! leader-election Lease ([`super::LEASE_NAME`]). While it is held, [`GoOperatorCheck::clear`]
//! is `false`: the controller does not run and writes nothing (see [`gate`]), the error is
//! logged once, `/readyz` answers 503 ([`Readiness::set_blocked`]) and
//! `locust_operator_go_operator_lease_held` is 1.
//!
//! Where it looks: one LIST of Leases across the cluster selected by that name (the
//! ClusterRole allows `list` of Leases with that `resourceNames` entry only, which the API
//! server honours for a `metadata.name` field selector). When that is forbidden (a
//! namespace-scoped install binds the rules in Roles), it reads the Lease by name in this
//! operator's namespace, the watched namespaces and the Go operator's usual ones
//! ([`super::DEFAULT_NAMESPACES`]), skipping those it may not read. One or a few small
//! requests per period.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::lease::{self, HeldLease};
use super::{DEFAULT_NAMESPACES, LEASE_NAME};
use crate::config::ControllerConfig;
use crate::metrics::{Metrics, Readiness};

/// What the check needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How often to look; `None`: never (`GO_OPERATOR_CHECK_SECONDS=0`).
    pub interval: Option<Duration>,
    /// This operator's own Lease (namespace, name): never taken for the Go operator's.
    pub own_lease: (String, String),
    /// Where to read the Lease when it cannot be listed across the cluster.
    pub namespaces: Vec<String>,
}

impl Settings {
    /// The settings of `run`: this operator's namespace (its Lease's), the watched
    /// namespaces, then the Go operator's usual ones, each once.
    pub fn from_config(config: &ControllerConfig) -> Self {
        let mut namespaces: Vec<String> = Vec::new();
        let candidates = std::iter::once(config.leader_election_namespace.as_str())
            .chain(config.watch_namespaces.iter().map(String::as_str))
            .chain(DEFAULT_NAMESPACES);
        for ns in candidates {
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_string());
            }
        }
        Settings {
            interval: config.go_operator_check_interval,
            own_lease: (
                config.leader_election_namespace.clone(),
                config.lease_name.clone(),
            ),
            namespaces,
        }
    }
}

/// The running check. Dropping it stops looking (and leaves [`GoOperatorCheck::clear`] as
/// it was).
pub struct GoOperatorCheck {
    /// `true` while no Go operator holds its Lease (always, with the check off).
    pub clear: watch::Receiver<bool>,
    _keep: Keep,
}

enum Keep {
    Sender(#[allow(dead_code)] watch::Sender<bool>),
    Task(tokio::task::JoinHandle<()>),
}

impl Drop for GoOperatorCheck {
    fn drop(&mut self) {
        if let Keep::Task(task) = &self._keep {
            task.abort();
        }
    }
}

/// Looks once (so nothing is reconciled before the first answer), then keeps looking in
/// the background. A look that fails (the API server unreachable) changes nothing; at
/// start-up it counts as "no Go operator".
pub async fn start(
    client: Client,
    settings: Settings,
    metrics: Arc<Metrics>,
    readiness: Readiness,
) -> GoOperatorCheck {
    let Some(interval) = settings.interval else {
        let (tx, rx) = watch::channel(true);
        return GoOperatorCheck {
            clear: rx,
            _keep: Keep::Sender(tx),
        };
    };
    let mut looker = Looker {
        client,
        settings,
        scope: Scope::Cluster,
        failing: false,
    };
    let mut state = Reporter {
        metrics,
        readiness,
        held: None,
    };
    if let Some(found) = looker.look().await {
        state.report(found);
    }
    let (tx, rx) = watch::channel(state.held.is_none());
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if let Some(found) = looker.look().await {
                state.report(found);
                let clear = state.held.is_none();
                tx.send_if_modified(|v| std::mem::replace(v, clear) != clear);
            }
        }
    });
    GoOperatorCheck {
        clear: rx,
        _keep: Keep::Task(task),
    }
}

/// `true` while `leader` and `clear` both are: when this replica may reconcile and write.
/// The result turns `false` for good when `leader`'s sender is gone; a `clear` whose
/// sender is gone keeps its last value.
pub fn gate(
    mut leader: watch::Receiver<bool>,
    mut clear: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(*leader.borrow_and_update() && *clear.borrow_and_update());
    tokio::spawn(async move {
        let mut clear_open = true;
        loop {
            tokio::select! {
                changed = leader.changed() => {
                    if changed.is_err() {
                        let _ = tx.send(false);
                        return;
                    }
                }
                changed = clear.changed(), if clear_open => clear_open = changed.is_ok(),
                () = tx.closed() => return,
            }
            let now = *leader.borrow_and_update() && *clear.borrow_and_update();
            tx.send_if_modified(|v| std::mem::replace(v, now) != now);
        }
    });
    rx
}

/// Where the Lease is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// One LIST across the cluster.
    Cluster,
    /// A GET in each of [`Settings::namespaces`] (listing across the cluster is forbidden).
    Namespaces,
}

struct Looker {
    client: Client,
    settings: Settings,
    scope: Scope,
    /// The last look failed (warned about once per run of failures).
    failing: bool,
}

impl Looker {
    /// The Go operator's Lease if held, `Some(None)` if not, `None` if the look failed.
    async fn look(&mut self) -> Option<Option<HeldLease>> {
        match self.try_look().await {
            Ok(found) => {
                self.failing = false;
                Some(found)
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    warn!(error = %e, lease = LEASE_NAME, "cannot look for the Go operator's Lease; trying again");
                }
                None
            }
        }
    }

    async fn try_look(&mut self) -> Result<Option<HeldLease>, kube::Error> {
        let now = Timestamp::now();
        if self.scope == Scope::Cluster {
            let params = ListParams::default().fields(&format!("metadata.name={LEASE_NAME}"));
            match Api::<Lease>::all(self.client.clone()).list(&params).await {
                Ok(list) => return Ok(list.items.iter().find_map(|l| self.held(l, now))),
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    info!(
                        lease = LEASE_NAME,
                        namespaces = ?self.settings.namespaces,
                        "Leases cannot be listed across the cluster; looking for the Go \
                         operator's Lease in these namespaces only"
                    );
                    self.scope = Scope::Namespaces;
                }
                Err(e) => return Err(e),
            }
        }
        for ns in &self.settings.namespaces {
            match Api::<Lease>::namespaced(self.client.clone(), ns)
                .get_opt(LEASE_NAME)
                .await
            {
                Ok(Some(l)) => {
                    if let Some(found) = self.held(&l, now) {
                        return Ok(Some(found));
                    }
                }
                Ok(None) => {}
                // Not ours to read (a namespace-scoped install): nothing to see there.
                Err(kube::Error::Api(status)) if status.code == 403 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// `l` as a held Go-operator Lease, unless it is this operator's own.
    fn held(&self, l: &Lease, now: Timestamp) -> Option<HeldLease> {
        lease::held(l, now).filter(|h| {
            (h.namespace.as_str(), h.name.as_str())
                != (
                    self.settings.own_lease.0.as_str(),
                    self.settings.own_lease.1.as_str(),
                )
        })
    }
}

/// Reports what was found: logs, the metric and readiness change only when a Go operator
/// appears or goes.
struct Reporter {
    metrics: Arc<Metrics>,
    readiness: Readiness,
    held: Option<HeldLease>,
}

impl Reporter {
    fn report(&mut self, found: Option<HeldLease>) {
        match (&self.held, &found) {
            (None, Some(h)) => error!(
                namespace = %h.namespace,
                lease = %h.name,
                holder = %h.holder,
                "{h}"
            ),
            (Some(_), None) => info!(
                lease = LEASE_NAME,
                "the Go operator's Lease is no longer held: reconciling"
            ),
            _ => {}
        }
        self.metrics.set_go_operator_lease_held(found.is_some());
        self.readiness
            .set_blocked(found.as_ref().map(ToString::to_string));
        self.held = found;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_vars as vars;

    #[test]
    fn looks_in_our_namespace_the_watched_ones_and_the_go_defaults_once_each() {
        let c = ControllerConfig::from_vars(vars(&[
            ("POD_NAMESPACE", "ops"),
            ("WATCH_NAMESPACES", "team-a,locust-system"),
        ]))
        .expect("valid");
        let s = Settings::from_config(&c);
        assert_eq!(
            s.namespaces,
            [
                "ops",
                "team-a",
                "locust-system",
                "locust-k8s-operator-system"
            ]
        );
        assert_eq!(s.own_lease, ("ops".into(), "locust-k8s-operator".into()));
        assert_eq!(s.interval, Some(Duration::from_secs(10)));
        let off = ControllerConfig::from_vars(vars(&[("GO_OPERATOR_CHECK_SECONDS", "0")]))
            .expect("valid");
        assert_eq!(Settings::from_config(&off).interval, None);
    }

    #[tokio::test]
    async fn the_gate_is_open_only_while_leading_and_clear() {
        let (leader_tx, leader) = watch::channel(false);
        let (clear_tx, clear) = watch::channel(true);
        let mut gated = gate(leader, clear);
        assert!(!*gated.borrow_and_update());
        let _ = leader_tx.send(true);
        gated.changed().await.expect("open");
        assert!(*gated.borrow_and_update());
        let _ = clear_tx.send(false);
        gated.changed().await.expect("closed by the Go operator");
        assert!(!*gated.borrow_and_update());
        let _ = clear_tx.send(true);
        gated.changed().await.expect("open again");
        assert!(*gated.borrow_and_update());
        drop(clear_tx);
        drop(leader_tx);
        gated.changed().await.expect("closed when leadership ends");
        assert!(!*gated.borrow_and_update());
    }

    #[test]
    fn the_metric_and_readiness_follow_what_was_found() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let readiness = Readiness::new();
        readiness.set_webhook_serving();
        readiness.set_standby(true);
        let mut r = Reporter {
            metrics: metrics.clone(),
            readiness: readiness.clone(),
            held: None,
        };
        let h = HeldLease {
            namespace: "locust-system".into(),
            name: LEASE_NAME.into(),
            holder: "go-1".into(),
            renewed: Timestamp::UNIX_EPOCH,
        };
        r.report(Some(h.clone()));
        assert!(!readiness.is_ready());
        assert_eq!(readiness.blocked(), Some(h.to_string()));
        let text = metrics.render().expect("renders");
        assert!(
            text.contains("locust_operator_go_operator_lease_held 1"),
            "{text}"
        );
        r.report(None);
        assert!(readiness.is_ready());
        let text = metrics.render().expect("renders");
        assert!(
            text.contains("locust_operator_go_operator_lease_held 0"),
            "{text}"
        );
    }
}
