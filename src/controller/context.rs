//! What every reconcile shares: the client, the configuration, the event recorder and
//! whether this replica may write.

use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::watch;
use tracing::warn;

use crate::api::v2::LocustTest;
use crate::config::{ControllerConfig, OperatorConfig};

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
    recorder: Recorder,
    leader: watch::Receiver<bool>,
}

impl Context {
    /// A context; `leader` says whether this replica holds the lease (always true without
    /// leader election).
    pub fn new(
        client: Client,
        config: OperatorConfig,
        settings: ControllerConfig,
        leader: watch::Receiver<bool>,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(settings.identity.clone()),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            settings,
            leader,
        }
    }

    /// Whether this replica may write right now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
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
            note: Some(truncate(note, 1024)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &test.object_ref(&())).await {
            warn!(reason, error = %e, "publishing an event failed");
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
