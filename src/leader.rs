//! Leader election on a Lease (kube-lease-manager, server-side apply on the Lease), so two
//! replicas can run and only the leader writes.
//!
//! The result is a watch channel: `true` while this replica holds the lease. The
//! controller checks it before every write and stops when it turns `false`.

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tracing::info;

use crate::config::ControllerConfig;

/// Leader election could not start.
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {namespace}/{name} could not start: {message}")]
pub struct LeaderError {
    namespace: String,
    name: String,
    message: String,
}

/// Keeps leader election running; dropping it stops renewing the lease.
pub struct Leadership {
    /// `true` while this replica leads.
    pub is_leader: watch::Receiver<bool>,
    _keep: Keep,
}

enum Keep {
    Sender(#[allow(dead_code)] watch::Sender<bool>),
    Task(tokio::task::JoinHandle<()>),
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Keep::Task(task) = &self._keep {
            task.abort();
        }
    }
}

/// Always the leader: leader election turned off (`--leader-elect=false`, local runs).
pub fn always() -> Leadership {
    let (tx, rx) = watch::channel(true);
    Leadership {
        is_leader: rx,
        _keep: Keep::Sender(tx),
    }
}

/// Starts competing for the lease named in `settings`.
pub async fn elect(client: Client, settings: &ControllerConfig) -> Result<Leadership, LeaderError> {
    let secs = settings.lease_duration.as_secs().max(2);
    let grace = (secs / 3).max(1);
    let err = |message: String| LeaderError {
        namespace: settings.leader_election_namespace.clone(),
        name: settings.lease_name.clone(),
        message,
    };
    let manager = LeaseManagerBuilder::new(client, settings.lease_name.clone())
        .with_namespace(settings.leader_election_namespace.clone())
        .with_identity(settings.identity.clone())
        .with_duration(secs)
        .with_grace(grace)
        .with_field_manager(crate::controller::FIELD_MANAGER)
        .build()
        .await
        .map_err(|e| err(e.to_string()))?;
    let (lease_rx, lease_task) = manager.watch().await;
    // Re-publish on our own channel so the lease task is owned (and aborted) here.
    let (tx, rx) = watch::channel(*lease_rx.borrow());
    let identity = settings.identity.clone();
    let task = tokio::spawn(async move {
        let mut lease_rx = lease_rx;
        loop {
            let leading = *lease_rx.borrow_and_update();
            info!(identity = %identity, leading, "leadership changed");
            if tx.send(leading).is_err() || lease_rx.changed().await.is_err() {
                break;
            }
        }
        // The lease task ended (channel closed): we no longer lead.
        let _ = tx.send(false);
        lease_task.abort();
    });
    Ok(Leadership {
        is_leader: rx,
        _keep: Keep::Task(task),
    })
}

/// Resolves once `rx` says `want`.
pub async fn wait_for(rx: &mut watch::Receiver<bool>, want: bool) {
    // An error means the sender is gone: treat as "not leading".
    if rx.wait_for(|v| *v == want).await.is_err() && want {
        std::future::pending::<()>().await;
    }
}
