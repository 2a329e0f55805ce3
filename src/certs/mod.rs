//! Webhook certificates without cert-manager.
//!
//! One entry point, [`start`], per [`WebhookMode`]:
//!
//! - **self-signed** (default, in a cluster): a CA and a serving certificate for the webhook
//!   Service's DNS names, kept in a Secret (`type: kubernetes.io/tls` plus `ca.crt` and
//!   `ca.key`) in the operator's namespace so every replica serves the same pair. Created if
//!   absent (two replicas starting together end with one Secret), renewed when a third of a
//!   lifetime is left, recreated when deleted, picked up when replaced. The CA bundle is
//!   written into the CRD's conversion `clientConfig.caBundle` and into every webhook of the
//!   ValidatingWebhookConfiguration (only `caBundle`: the chart's other fields stay).
//! - **files** (cert-manager): `tls.crt`/`tls.key` mounted in the certificate folder, only
//!   watched; a change calls the reload callback.
//! - **local** (operator outside the cluster): an in-memory CA (no Secret: one process,
//!   nothing to share, nothing left behind), a certificate for `127.0.0.1`/`localhost`, and
//!   the webhooks registered by URL `https://127.0.0.1:<port>/convert` (and `/validate` when
//!   enabled).
//! - **disabled**: nothing is built, nothing waits, [`start`] returns `None`.
//!
//! Pure generation and renewal decisions are in [`generate`]; the Kubernetes and file I/O
//! at the edges. Key material is never logged.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use kube::Client;
use kube::api::Api;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub mod config;
pub mod files;
pub mod generate;
pub mod k8s;
pub mod metrics;

pub use config::{CertsConfig, WebhookArgs, WebhookMode};
use generate::{Material, Plan, Subject};
use k8s::{Registrar, Registration, SecretStore};

use crate::server::CertStore;

/// Why the webhook certificates could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// rcgen failed to generate a key or certificate.
    #[error("cannot generate the webhook certificate: {0}")]
    Generate(String),
    /// A certificate does not parse.
    #[error("invalid certificate: {0}")]
    Invalid(String),
    /// A Kubernetes API call failed.
    #[error("cannot {action}: {source}")]
    Kube {
        /// What was attempted.
        action: String,
        /// The client's error.
        source: kube::Error,
    },
    /// A certificate file could not be read or written.
    #[error("certificate file {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// In files mode, the mounted files are missing.
    #[error(
        "WEBHOOK_MODE=files but {cert_file} or {key_file} is missing or unreadable \
         (is the cert-manager Secret mounted at WEBHOOK_CERT_DIR?)"
    )]
    MissingFiles {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
    },
    /// `METRICS_CERT_DIR` is set, and its files are missing.
    #[error(
        "METRICS_CERT_DIR is set but {cert_file} or {key_file} is missing or unreadable \
         (is the certificate Secret mounted there? unset METRICS_CERT_DIR for a self-signed \
         certificate)"
    )]
    MissingMetricsFiles {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
    },
    /// Other writers kept changing the object.
    #[error("{0} kept changing under concurrent updates; giving up for now")]
    Contended(String),
}

/// The running certificate management: the files to serve and the background task.
#[derive(Debug)]
pub struct WebhookCerts {
    /// The PEM certificate file for [`crate::server::ServerConfig::cert_file`].
    pub cert_file: PathBuf,
    /// The PEM key file for [`crate::server::ServerConfig::key_file`].
    pub key_file: PathBuf,
    task: JoinHandle<()>,
}

impl WebhookCerts {
    /// Stops the renewal/watch task (it otherwise runs until the runtime stops).
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// A reload callback for [`start`] that reaches the server's [`CertStore`] once it exists.
///
/// [`start`] must write the files before the server can load them, and the server's store
/// exists only after that: create a `Reloader`, pass [`Reloader::callback`] to [`start`],
/// bind the server, then [`Reloader::attach`] its store.
#[derive(Debug, Clone, Default)]
pub struct Reloader(Arc<OnceLock<Arc<CertStore>>>);

impl Reloader {
    /// A reloader with no store yet (changes before [`Reloader::attach`] are caught by it).
    pub fn new() -> Self {
        Self::default()
    }

    /// The callback: reloads the attached store, logging a failure (the old pair stays).
    pub fn callback(&self) -> impl Fn() + Send + Sync + 'static {
        let cell = self.0.clone();
        move || {
            if let Some(store) = cell.get() {
                reload(store);
            }
        }
    }

    /// Attaches the server's store and reloads it once, so a change written between the
    /// server loading the files and this call is not missed.
    pub fn attach(&self, store: Arc<CertStore>) {
        let store = self.0.get_or_init(|| store);
        reload(store);
    }
}

fn reload(store: &CertStore) {
    if let Err(e) = store.reload() {
        warn!(error = %e, "reloading a certificate failed; serving the previous one");
    }
}

/// Sets up the webhook certificates for `config.mode` and returns once the certificate
/// files exist (`None` when webhooks are disabled: nothing is built, nothing is spawned).
///
/// Spawns the task that keeps them current (on the caller's Tokio runtime); it calls
/// `on_change` after the files were rewritten (renewal, a replaced or deleted Secret, a
/// changed mounted file). Fails when the first certificate cannot be obtained (no RBAC for
/// the Secret, unwritable folder, files mode with nothing mounted); later failures are
/// logged and retried every `config.check_interval`.
pub async fn start(
    client: Client,
    config: &CertsConfig,
    on_change: impl Fn() + Send + Sync + 'static,
) -> Result<Option<WebhookCerts>, CertsError> {
    let (cert_file, key_file) = (config.cert_file(), config.key_file());
    let task = match config.mode {
        WebhookMode::Disabled => {
            info!("webhooks disabled: no certificates");
            return Ok(None);
        }
        WebhookMode::Files => {
            let Some(seen) = files::fingerprint(&cert_file, &key_file) else {
                return Err(CertsError::MissingFiles {
                    cert_file,
                    key_file,
                });
            };
            info!(cert_file = %cert_file.display(), "serving the mounted webhook certificate; watching for changes");
            files::watch(
                cert_file.clone(),
                key_file.clone(),
                seen,
                config.check_interval,
                "webhook",
                on_change,
            )
        }
        WebhookMode::SelfSigned => {
            let manager = Manager {
                registrar: Registrar {
                    client: client.clone(),
                    registration: Registration::Service {
                        namespace: config.namespace.clone(),
                        name: config.service_name.clone(),
                    },
                    webhook_config_name: config.webhook_config_name.clone(),
                },
                secrets: Some(SecretStore {
                    api: Api::namespaced(client, &config.namespace),
                    name: config.secret_name.clone(),
                    namespace: config.namespace.clone(),
                }),
                subject: Subject::service(&config.service_name, &config.namespace),
                config: config.clone(),
                local: None,
            };
            spawn_manager(manager, on_change).await?
        }
        WebhookMode::Local => {
            let manager = Manager {
                registrar: Registrar {
                    client,
                    registration: Registration::Url {
                        base: format!("https://127.0.0.1:{}", config.port),
                        register_validation: config.register_validation,
                    },
                    webhook_config_name: config.webhook_config_name.clone(),
                },
                secrets: None,
                subject: Subject::local(),
                config: config.clone(),
                local: None,
            };
            spawn_manager(manager, on_change).await?
        }
    };
    Ok(Some(WebhookCerts {
        cert_file,
        key_file,
        task,
    }))
}

/// Self-signed and local modes: the material's source, its registration, the files.
struct Manager {
    registrar: Registrar,
    /// The shared Secret (self-signed); `None` in local mode.
    secrets: Option<SecretStore>,
    subject: Subject,
    config: CertsConfig,
    /// Local mode's in-memory material.
    local: Option<Material>,
}

impl Manager {
    /// One round: current material (created/renewed as needed), bundle published, files
    /// written. Returns whether the files changed.
    async fn sync(&mut self) -> Result<bool, CertsError> {
        let material = match &self.secrets {
            Some(secrets) => {
                secrets
                    .sync(&self.registrar, &self.subject, self.config.validity)
                    .await?
            }
            None => {
                let now = SystemTime::now();
                let next = match &self.local {
                    None => generate::new_material(&self.subject, self.config.validity, now, None)?,
                    Some(m) => match generate::plan(m, &self.subject, now) {
                        Plan::Keep => m.clone(),
                        Plan::RenewServing => {
                            generate::renew_serving(m, &self.subject, self.config.validity, now)?
                        }
                        Plan::RenewAll => generate::new_material(
                            &self.subject,
                            self.config.validity,
                            now,
                            Some(&m.ca_bundle),
                        )?,
                    },
                };
                self.local = Some(next.clone());
                next
            }
        };
        self.registrar.publish(&material.ca_bundle).await?;
        files::write_pair(
            &self.config.cert_file(),
            &self.config.key_file(),
            &material.cert,
            &material.key,
        )
    }
}

async fn spawn_manager(
    mut manager: Manager,
    on_change: impl Fn() + Send + Sync + 'static,
) -> Result<JoinHandle<()>, CertsError> {
    manager.sync().await?;
    info!(
        mode = ?manager.config.mode,
        cert_file = %manager.config.cert_file().display(),
        secret = manager.secrets.as_ref().map(SecretStore::describe),
        "webhook certificate ready"
    );
    let interval = manager.config.check_interval;
    Ok(tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            match manager.sync().await {
                Ok(true) => {
                    info!("the webhook certificate changed: reloading");
                    on_change();
                }
                Ok(false) => {}
                Err(e) => {
                    warn!(error = %e, "keeping the webhook certificate current failed; retrying")
                }
            }
        }
    }))
}
