//! What every reconcile shares: the client, the configuration, the event recorder and
//! whether this replica may write.

use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::watch;
use tracing::warn;

use std::sync::Arc;

use super::error::Error;
use crate::api::status::LocustTestStatus;
use crate::api::v2::LocustTest;
use crate::config::{ControllerConfig, OperatorConfig};
use crate::metrics::{Metrics, Readiness};

/// The one field manager for everything the operator writes (server-side apply).
pub const FIELD_MANAGER: &str = "locust-k8s-operator";

/// Shared state of the controller.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Builder knobs (default resources, TTL, …).
    pub config: OperatorConfig,
    /// Controller settings (grace period, namespaces, …).
    pub settings: ControllerConfig,
    /// The operator's metrics (served on `/metrics`).
    pub metrics: Arc<Metrics>,
    /// Readiness flags (served on `/readyz`).
    pub readiness: Readiness,
    /// Pollers of the running tests' Locust masters (stopped with the context).
    pub pollers: super::locust_poll::Pollers,
    /// The children's caches, per watched namespace.
    pub caches: super::caches::Caches,
    /// Referenced ConfigMaps recently seen to exist.
    pub config_maps: super::references::SeenConfigMaps,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    synced: std::sync::atomic::AtomicUsize,
    /// The last status this process wrote per test uid. While it leads it is the only
    /// writer, so this is the truth even when the watch cache still shows an older status
    /// (which would otherwise replay a transition and its event).
    /// Keyed by `namespace/name`, holding the uid it was written for.
    written: std::sync::Mutex<std::collections::HashMap<String, (String, LocustTestStatus)>>,
}

impl Context {
    /// A context; `leader` says whether this replica may write: it holds the lease (always,
    /// without leader election) and no Go operator holds its own (see
    /// [`crate::go_operator::check::gate`]).
    pub fn new(
        client: Client,
        config: OperatorConfig,
        settings: ControllerConfig,
        leader: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
        readiness: Readiness,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(settings.identity.clone()),
        };
        let pollers = super::locust_poll::Pollers::new()
            .with_metrics(metrics.test_metrics(), settings.endpoint_metrics);
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            settings,
            metrics,
            readiness,
            pollers,
            caches: super::caches::Caches::default(),
            config_maps: super::references::SeenConfigMaps::default(),
            leader,
            synced: std::sync::atomic::AtomicUsize::new(0),
            written: std::sync::Mutex::default(),
        }
    }

    /// Records that one controller's cache synced; the operator is ready when every
    /// watched namespace's controller has.
    pub fn mark_synced(&self) {
        let expected = self.settings.watch_namespaces.len().max(1);
        let done = self
            .synced
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if done >= expected {
            self.readiness.set_controller_synced();
        }
    }

    /// The test's current status: the last one this process wrote for this very object
    /// (same uid), else the cached one.
    pub fn previous_status(&self, test: &LocustTest) -> LocustTestStatus {
        let uid = test.metadata.uid.as_deref().unwrap_or_default();
        self.written
            .lock()
            .ok()
            .and_then(|w| {
                w.get(&key(test))
                    .filter(|(u, _)| u == uid)
                    .map(|(_, s)| s.clone())
            })
            .or_else(|| test.status.clone())
            .unwrap_or_default()
    }

    /// Remembers the status just written for `test`.
    pub fn remember_status(&self, test: &LocustTest, status: &LocustTestStatus) {
        let uid = test.metadata.uid.clone().unwrap_or_default();
        if let Ok(mut w) = self.written.lock() {
            w.insert(key(test), (uid, status.clone()));
        }
    }

    /// Forgets the test `namespace/name` (deleted).
    pub fn forget_status(&self, namespace: &str, name: &str) {
        if let Ok(mut w) = self.written.lock() {
            w.remove(&format!("{namespace}/{name}"));
        }
    }

    /// Whether this replica may write right now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// The client, for a write: only while this replica leads (checked at every write, as
    /// leadership can end in the middle of a reconcile), else [`Error::NotLeader`].
    pub fn writer(&self) -> Result<&Client, Error> {
        if self.is_leader() {
            Ok(&self.client)
        } else {
            Err(Error::NotLeader)
        }
    }

    /// Publishes an event about `test`. A failed publish is logged, never fatal.
    pub async fn event(&self, test: &LocustTest, warning: bool, reason: &str, note: String) {
        if !self.is_leader() {
            return;
        }
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(crate::text::truncate(note, 1024)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &test.object_ref(&())).await {
            warn!(reason, error = %e, "publishing an event failed");
        }
    }
}

fn key(test: &LocustTest) -> String {
    format!(
        "{}/{}",
        test.metadata.namespace.as_deref().unwrap_or_default(),
        test.metadata.name.as_deref().unwrap_or_default()
    )
}
