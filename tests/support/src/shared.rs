//! One cluster shared by all tests of a test binary.
//!
//! `#[tokio::test]` gives every test its own runtime, so the shared value holds no
//! runtime-bound resource: processes and files only. Clients come fresh from
//! [`Cluster::client`] on the caller's runtime. The cluster lives in a static, which is
//! never dropped: its processes stop when the test binary exits, through the watch pipes
//! of [`crate::process`], and a janitor removes its folder.

use tokio::sync::OnceCell;

use crate::cluster::{Cluster, Options};
use crate::error::{Error, Result};

static SHARED: OnceCell<std::result::Result<Cluster, String>> = OnceCell::const_new();

/// The test binary's shared cluster, started by the first caller.
///
/// Give every test its own namespace ([`Cluster::namespace`]) and never rely on another
/// test's objects. If start-up failed, every caller gets that failure.
pub async fn shared() -> Result<&'static Cluster> {
    shared_with(Options::default).await
}

/// As [`shared`], but the first caller starts it with `options` (for example an audit log
/// through [`Options::apiserver_extra_args`]). In a test binary that needs them, every test
/// must call this (with the same options) before anything calls [`shared`].
pub async fn shared_with(options: impl FnOnce() -> Options) -> Result<&'static Cluster> {
    let cell = SHARED
        .get_or_init(|| async {
            Cluster::start_with(options())
                .await
                .map_err(|e| e.to_string())
        })
        .await;
    cell.as_ref().map_err(|e| Error::Shared(e.clone()))
}
