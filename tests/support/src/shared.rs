//! Clusters shared by the tests of a test binary: one default cluster, and named ones for
//! tests that change cluster-wide state.
//!
//! Most tests only need a namespace of their own, and share the [`shared`] cluster. A test
//! that changes something every other test would see (the CRD's conversion block, a
//! webhook configuration, a cluster-wide operator, the API server's flags, other CRDs)
//! asks for a cluster by name with [`shared_named`]: the tests that give the same name
//! share that cluster, and no other test sees it.
//!
//! `#[tokio::test]` gives every test its own runtime, so a shared value holds no
//! runtime-bound resource: processes and files only. Clients come fresh from
//! [`Cluster::client`] on the caller's runtime. The clusters live in statics, which are
//! never dropped: their processes stop when the test binary exits, through the watch
//! pipes of [`crate::process`], and a janitor removes their folders.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::cluster::{Cluster, Options};
use crate::error::{Error, Result};

/// A cluster started once, or the message of its failed start.
type Slot = OnceCell<std::result::Result<Cluster, String>>;

/// The name of the default cluster.
pub const DEFAULT: &str = "default";

/// The slot of the cluster named `name`, created (empty) on first use and never freed.
fn slot(name: &str) -> &'static Slot {
    static SLOTS: Mutex<Option<HashMap<String, &'static Slot>>> = Mutex::new(None);
    let mut slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
    slots
        .get_or_insert_with(HashMap::new)
        .entry(name.to_owned())
        .or_insert_with(|| Box::leak(Box::new(OnceCell::new())))
}

/// The test binary's default cluster, started by the first caller.
///
/// Give every test its own namespace ([`Cluster::namespace`]) and never rely on another
/// test's objects. If start-up failed, every caller gets that failure.
pub async fn shared() -> Result<&'static Cluster> {
    shared_named(DEFAULT, Options::default).await
}

/// The cluster named `name`, started by the first caller with `options` (for example an
/// audit log through [`Options::apiserver_extra_args`]). Every test that gives this name
/// must give the same options; a test that changes cluster-wide state takes a name of its
/// own (by convention its module's), so the other tests never see that change.
pub async fn shared_named(
    name: &str,
    options: impl FnOnce() -> Options,
) -> Result<&'static Cluster> {
    let cell = slot(name)
        .get_or_init(|| async {
            Cluster::start_with(options())
                .await
                .map_err(|e| format!("cluster {name:?}: {e}"))
        })
        .await;
    cell.as_ref().map_err(|e| Error::Shared(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_always_gives_the_same_slot_and_names_differ() {
        assert!(std::ptr::eq(slot("a"), slot("a")));
        assert!(!std::ptr::eq(slot("a"), slot("b")));
        assert!(std::ptr::eq(slot(DEFAULT), slot("default")));
    }
}
