//! The certificate of the HTTPS `/metrics` (`METRICS_SECURE`): mounted files
//! (`METRICS_CERT_DIR`, cert-manager), watched and reloaded like the webhook's files mode,
//! or else a self-signed one made at start-up, as controller-runtime does.
//!
//! The self-signed certificate is for `localhost`/`127.0.0.1` and lives in memory and in
//! a folder of this process under the temporary directory (removed on drop); it is renewed
//! when a third of its year is left. Prometheus then scrapes with
//! `tlsConfig.insecureSkipVerify` (the token still travels encrypted); to verify the
//! server, mount a certificate for the metrics Service's name at `METRICS_CERT_DIR`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::config::DEFAULT_VALIDITY;
use super::generate::{self, Material, Plan, Subject};
use super::{CertsError, files};

/// How often the mounted files are compared, and the self-signed certificate's age checked.
const CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// The files the metrics server serves, and the task keeping them current.
#[derive(Debug)]
pub struct MetricsCerts {
    /// The PEM certificate file.
    pub cert_file: PathBuf,
    /// The PEM key file.
    pub key_file: PathBuf,
    /// The folder of a self-signed certificate, removed on drop.
    scratch: Option<PathBuf>,
    task: JoinHandle<()>,
}

impl Drop for MetricsCerts {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// `tls.crt` and `tls.key` in `cert_dir` (watched, `on_change` called when they change),
/// or, without a folder, a self-signed certificate (renewed, `on_change` called then).
///
/// Fails when the mounted files are missing, or the self-signed files cannot be written.
pub fn start(
    cert_dir: Option<&Path>,
    on_change: impl Fn() + Send + Sync + 'static,
) -> Result<MetricsCerts, CertsError> {
    if let Some(dir) = cert_dir {
        let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
        let Some(seen) = files::fingerprint(&cert_file, &key_file) else {
            return Err(CertsError::MissingMetricsFiles {
                cert_file,
                key_file,
            });
        };
        info!(cert_file = %cert_file.display(), "serving /metrics with the mounted certificate; watching for changes");
        let task = files::watch(
            cert_file.clone(),
            key_file.clone(),
            seen,
            CHECK_INTERVAL,
            "metrics",
            on_change,
        );
        return Ok(MetricsCerts {
            cert_file,
            key_file,
            scratch: None,
            task,
        });
    }
    let dir = std::env::temp_dir().join(format!(
        "locust-k8s-operator-metrics-{}",
        std::process::id()
    ));
    let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
    let subject = Subject::local();
    let mut material = generate::new_material(&subject, DEFAULT_VALIDITY, SystemTime::now(), None)?;
    files::write_pair(&cert_file, &key_file, &material.cert, &material.key)?;
    info!("serving /metrics with a self-signed certificate (set METRICS_CERT_DIR for your own)");
    let (c, k) = (cert_file.clone(), key_file.clone());
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(CHECK_INTERVAL).await;
            match renew(&material, &subject, SystemTime::now()) {
                Ok(None) => {}
                Ok(Some(next)) => match files::write_pair(&c, &k, &next.cert, &next.key) {
                    Ok(_) => {
                        material = next;
                        info!("renewed the self-signed /metrics certificate");
                        on_change();
                    }
                    Err(e) => warn!(error = %e, "cannot write the renewed /metrics certificate"),
                },
                Err(e) => warn!(error = %e, "cannot renew the self-signed /metrics certificate"),
            }
        }
    });
    Ok(MetricsCerts {
        cert_file,
        key_file,
        scratch: Some(dir),
        task,
    })
}

/// The renewed material when `material` needs it, else `None`.
fn renew(
    material: &Material,
    subject: &Subject,
    now: SystemTime,
) -> Result<Option<Material>, CertsError> {
    Ok(match generate::plan(material, subject, now) {
        Plan::Keep => None,
        Plan::RenewServing => Some(generate::renew_serving(
            material,
            subject,
            DEFAULT_VALIDITY,
            now,
        )?),
        Plan::RenewAll => Some(generate::new_material(
            subject,
            DEFAULT_VALIDITY,
            now,
            Some(&material.ca_bundle),
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_certificate_is_kept_and_an_old_one_renewed() {
        let now = SystemTime::now();
        let subject = Subject::local();
        let material =
            generate::new_material(&subject, DEFAULT_VALIDITY, now, None).expect("material");
        assert_eq!(renew(&material, &subject, now).expect("plan"), None);
        let late = now + DEFAULT_VALIDITY - Duration::from_secs(24 * 3600);
        let next = renew(&material, &subject, late)
            .expect("plan")
            .expect("renewed near the end");
        assert_ne!(next.cert, material.cert);
    }

    #[tokio::test]
    async fn mounted_files_must_exist_and_self_signed_ones_are_removed_on_drop() {
        let empty = tempfile::tempdir().expect("tempdir");
        let e = start(Some(empty.path()), || {}).expect_err("nothing mounted");
        assert!(e.to_string().contains("METRICS_CERT_DIR"), "{e}");

        let certs = start(None, || {}).expect("self-signed");
        let pem = std::fs::read_to_string(&certs.cert_file).expect("cert written");
        assert!(pem.contains("BEGIN CERTIFICATE"));
        crate::server::CertStore::load(&certs.cert_file, &certs.key_file).expect("a valid pair");
        let dir = certs.cert_file.parent().expect("folder").to_owned();
        drop(certs);
        assert!(!dir.exists(), "{} removed", dir.display());
    }
}
