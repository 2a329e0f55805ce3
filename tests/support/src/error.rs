//! Errors of the test cluster, each with the context needed to act on it.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while starting, using or stopping a test cluster.
///
/// `Debug` shows the message and its causes, so that a test returning `Result` fails
/// with text a person can act on (such as "run `make cluster-bins`").
#[derive(thiserror::Error)]
pub enum Error {
    /// A control-plane binary is not where the harness looks for it.
    #[error(
        "control-plane binary `{name}` not found at {path}: run `make cluster-bins` \
         (or set K8S_BIN_DIR to a folder that holds etcd, kube-apiserver, \
         kube-controller-manager, kube-scheduler and kwok)"
    )]
    MissingBinary {
        /// The binary's name, such as `kube-apiserver`.
        name: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, such as "writing".
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A process could not be started.
    #[error("starting {name} ({program}): {source}")]
    Spawn {
        /// The component, such as `etcd`.
        name: String,
        /// The program that was run.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A control-plane process exited while it should be running.
    #[error("{name} exited unexpectedly ({status}); last lines of {log}:\n{tail}")]
    ProcessExited {
        /// The component, such as `kube-apiserver`.
        name: String,
        /// Its exit status, as text.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },

    /// Something did not become ready in time.
    #[error("timed out after {waited:?} waiting for {what}{details}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it was awaited.
        waited: Duration,
        /// The last error seen and the tails of the relevant logs, if any.
        details: String,
    },

    /// Generating a certificate or key failed.
    #[error("generating {what}: {source}")]
    Certificate {
        /// Which certificate or key.
        what: String,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },

    /// Building a kubeconfig or a client from it failed.
    #[error("kubeconfig for {user}: {message}")]
    Kubeconfig {
        /// The user the kubeconfig is for.
        user: String,
        /// What failed.
        message: String,
    },

    /// A call to the API server failed.
    #[error("{action}: {source}")]
    Kube {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },

    /// The shared cluster of this test binary failed to start earlier.
    #[error("the shared test cluster failed to start: {0}")]
    Shared(String),

    /// Preparing a cluster for the operator (CRD, RBAC, namespaces) failed.
    #[error("preparing the cluster for the operator: {0}")]
    Prepare(String),

    /// A `test-cluster up`/`down` step failed.
    #[error("{0}")]
    Daemon(String),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\ncaused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Result with the test cluster's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `action` on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// An [`Error::Kube`] for `action`.
    pub(crate) fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }

    /// Whether this start-up failure looks like a port taken between choosing and binding it.
    pub(crate) fn is_port_clash(&self) -> bool {
        match self {
            Error::ProcessExited { tail, .. } => tail.contains("address already in use"),
            Error::Timeout { details, .. } => details.contains("address already in use"),
            _ => false,
        }
    }
}
