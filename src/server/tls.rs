//! TLS for the HTTPS server: rustls with the ring provider, TLS 1.2 and 1.3, and a
//! certificate store that can be reloaded while the server runs.
//!
//! The server's [`rustls::ServerConfig`] does not hold a certificate itself: it asks a
//! [`CertStore`] for one at every handshake. [`CertStore::reload`] reads the PEM files again
//! and swaps the new pair in atomically, so connections opened afterwards present the new
//! certificate, connections already open keep theirs, and nothing restarts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};

/// The ALPN protocols offered, preferred first: HTTP/2 (what the API server's webhook client
/// uses) and HTTP/1.1.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a certificate/key pair could not be loaded, or TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    ReadFile {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A PEM file is not valid PEM.
    #[error("{what} file {path} is not valid PEM: {message}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM parser reported.
        message: String,
    },

    /// The certificate file holds no `CERTIFICATE` block.
    #[error("certificate file {path} holds no CERTIFICATE block")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },

    /// The key file holds no private key block.
    #[error(
        "private key file {path} holds no private key \
         (expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)"
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },

    /// The private key is of a type or format the ring provider cannot use.
    #[error("private key in {path} is not usable: {source}")]
    UnusableKey {
        /// The file.
        path: PathBuf,
        /// The error from rustls.
        source: rustls::Error,
    },

    /// The private key does not belong to the first certificate, or that certificate cannot
    /// be parsed.
    #[error("private key in {key_path} does not match the certificate in {cert_path}: {source}")]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
        /// The error from rustls.
        source: rustls::Error,
    },

    /// rustls refused the server configuration.
    #[error("cannot configure TLS: {0}")]
    Config(#[source] rustls::Error),
}

/// The crypto provider of this crate: ring (never aws-lc, never OpenSSL).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide default rustls provider, unless one is installed already.
///
/// Idempotent. Every rustls user in the process without an explicit provider (the kube
/// client, for example) then uses ring too.
pub fn install_default_crypto_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race against another thread installing one is fine: a default exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The serving certificate and key, loaded from PEM files and reloadable.
///
/// Implements [`ResolvesServerCert`]: every TLS handshake takes the pair current at that
/// moment.
pub struct CertStore {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
}

impl CertStore {
    /// Loads the certificate chain (`cert_file`, PEM, the serving certificate first) and its
    /// private key (`key_file`, PEM: PKCS#8, PKCS#1 or SEC1).
    ///
    /// Fails with the file and the reason when a file is missing or unreadable, holds no
    /// certificate or key, or the key does not belong to the certificate.
    pub fn load(
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Result<Self, TlsError> {
        let cert_file = cert_file.into();
        let key_file = key_file.into();
        let provider = crypto_provider();
        let pair = load_pair(&cert_file, &key_file, &provider)?;
        Ok(Self {
            cert_file,
            key_file,
            provider,
            current: ArcSwap::from_pointee(pair),
        })
    }

    /// Reads both files again and, when they hold a valid pair, serves it from the next
    /// handshake on.
    ///
    /// On error the pair served so far stays in place (a half-written file during a
    /// rotation does not take the server down) and the error says what is wrong.
    pub fn reload(&self) -> Result<(), TlsError> {
        let pair = load_pair(&self.cert_file, &self.key_file, &self.provider)?;
        self.current.store(Arc::new(pair));
        tracing::info!(
            cert_file = %self.cert_file.display(),
            key_file = %self.key_file.display(),
            "reloaded the TLS certificate"
        );
        Ok(())
    }

    /// The pair served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }

    /// The certificate file.
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The private key file.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// A rustls server configuration that takes its certificate from this store: ring
    /// provider, TLS 1.3 and 1.2 only, no client authentication, ALPN `h2` and `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&TLS13, &TLS12])
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("CertStore")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_certificates(cert_path)?;
    let key = read_private_key(key_path)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| TlsError::UnusableKey {
            path: key_path.to_owned(),
            source,
        })?;
    let pair = CertifiedKey::new(chain, signing_key);
    match pair.keys_match() {
        // ring can always tell; `Unknown` would only mean "cannot check".
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(pair)
        }
        Err(source) => Err(TlsError::KeyMismatch {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            source,
        }),
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "certificate";
    let pem = read(path, WHAT)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, WHAT, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const WHAT: &str = "private key";
    let pem = read(path, WHAT)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        other => pem_error(path, WHAT, other),
    })
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::ReadFile {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(path: &Path, what: &'static str, error: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_owned(),
        message: error.to_string(),
    }
}
