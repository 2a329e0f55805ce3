//! Errors of the HTTPS server.

use std::net::SocketAddr;

use super::tls::TlsError;

/// Why the HTTPS server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key could not be loaded, or TLS could not be configured.
    #[error(transparent)]
    Tls(#[from] TlsError),

    /// The listening socket could not be opened (address in use, no permission, …).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The address the socket was bound to could not be read back.
    #[error("cannot read the address the server listens on: {0}")]
    LocalAddr(#[source] std::io::Error),
}
