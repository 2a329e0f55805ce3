//! Settings of the webhook certificates, from the environment (the chart sets them).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, non_empty, parse_bool, parse_number as number};
use crate::crd::DEFAULT_WEBHOOK_SERVICE;

/// Where the webhook's serving certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookMode {
    /// The operator runs its own CA, keeps the pair in a Secret shared by all replicas,
    /// writes the CA bundle into the CRD and the ValidatingWebhookConfiguration, and renews.
    SelfSigned,
    /// Certificates are mounted from files (cert-manager): only watched and reloaded.
    Files,
    /// The operator runs outside the cluster: an in-memory CA, webhooks registered by URL on
    /// `https://127.0.0.1:<port>`.
    Local,
    /// Webhooks are disabled: nothing is built, nothing waits for certificates.
    Disabled,
}

/// The validated certificate settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CertsConfig {
    /// `WEBHOOK_MODE`: `self-signed` (default), `files`, `local` or `disabled`.
    pub mode: WebhookMode,
    /// `WEBHOOK_SECRET_NAME`: the Secret holding CA, certificate and key (self-signed mode).
    pub secret_name: String,
    /// `WEBHOOK_SERVICE_NAME`: the webhook Service; its DNS names go into the certificate.
    pub service_name: String,
    /// `WEBHOOK_NAMESPACE` (default `$POD_NAMESPACE`, then `locust-k8s-operator-system`):
    /// the namespace of the Secret and the Service.
    pub namespace: String,
    /// `WEBHOOK_CERT_DIR`: where `tls.crt` and `tls.key` are written (or, in files mode,
    /// read from).
    pub cert_dir: PathBuf,
    /// `WEBHOOK_CONFIG_NAME`: the ValidatingWebhookConfiguration whose `caBundle` is kept
    /// current (self-signed mode; skipped while absent) or which is registered (local mode).
    pub webhook_config_name: String,
    /// `WEBHOOK_CERT_VALIDITY_SECONDS` (default one year): lifetime of the serving
    /// certificate. The CA lives ten times as long. Renewed when a third is left.
    pub validity: Duration,
    /// `WEBHOOK_PORT` (default 8443): the HTTPS server's port; in local mode part of the
    /// registered URLs.
    pub port: u16,
    /// `WEBHOOK_VALIDATION_ENABLED` (default `true`): in local mode, also register the
    /// ValidatingWebhookConfiguration (`/validate`, `failurePolicy: Fail`).
    pub register_validation: bool,
    /// `WEBHOOK_CHECK_INTERVAL_SECONDS` (default: a tenth of the validity, from 1 to 30
    /// seconds): how often the Secret, the registrations and (files mode) the files are
    /// checked.
    pub check_interval: Duration,
}

/// Default Secret name.
pub const DEFAULT_SECRET_NAME: &str = "locust-k8s-operator-webhook-tls";
/// Default ValidatingWebhookConfiguration name.
pub const DEFAULT_WEBHOOK_CONFIG_NAME: &str = "locust-k8s-operator";
/// Default certificate directory.
pub const DEFAULT_CERT_DIR: &str = "/tmp/locust-k8s-operator/certs";
/// Default serving-certificate validity: 365 days.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Default HTTPS port.
pub const DEFAULT_PORT: u16 = 8443;

#[derive(Debug, Deserialize)]
struct Env {
    webhook_mode: Option<String>,
    webhook_secret_name: Option<String>,
    webhook_service_name: Option<String>,
    webhook_namespace: Option<String>,
    pod_namespace: Option<String>,
    webhook_cert_dir: Option<String>,
    webhook_config_name: Option<String>,
    webhook_cert_validity_seconds: Option<String>,
    webhook_port: Option<String>,
    webhook_validation_enabled: Option<String>,
    webhook_check_interval_seconds: Option<String>,
}

fn invalid(var: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// A DNS-1123 label (Service, Secret and namespace names are checked against it).
fn check_name(var: &str, value: &str, max: usize) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            var,
            value,
            format!(
                "expected a Kubernetes name: lower-case letters, digits, '-' or '.', \
                 at most {max} characters, starting and ending alphanumeric"
            ),
        ))
    }
}

impl CertsConfig {
    /// Reads and validates the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads and validates the settings from the given variables.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Env = envy::from_iter(vars).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let mode = match non_empty(env.webhook_mode).as_deref() {
            None | Some("self-signed") => WebhookMode::SelfSigned,
            Some("files") => WebhookMode::Files,
            Some("local") => WebhookMode::Local,
            Some("disabled") => WebhookMode::Disabled,
            Some(other) => {
                return Err(invalid(
                    "WEBHOOK_MODE",
                    other,
                    "expected self-signed, files, local or disabled",
                ));
            }
        };
        let secret_name =
            non_empty(env.webhook_secret_name).unwrap_or_else(|| DEFAULT_SECRET_NAME.into());
        check_name("WEBHOOK_SECRET_NAME", &secret_name, 253)?;
        let service_name =
            non_empty(env.webhook_service_name).unwrap_or_else(|| DEFAULT_WEBHOOK_SERVICE.into());
        check_name("WEBHOOK_SERVICE_NAME", &service_name, 63)?;
        let (namespace_var, namespace) = match non_empty(env.webhook_namespace) {
            Some(ns) => ("WEBHOOK_NAMESPACE", ns),
            None => match non_empty(env.pod_namespace) {
                Some(ns) => ("POD_NAMESPACE", ns),
                None => (
                    "WEBHOOK_NAMESPACE",
                    crate::crd::DEFAULT_WEBHOOK_NAMESPACE.to_string(),
                ),
            },
        };
        check_name(namespace_var, &namespace, 63)?;
        let cert_dir = PathBuf::from(
            non_empty(env.webhook_cert_dir).unwrap_or_else(|| DEFAULT_CERT_DIR.into()),
        );
        let webhook_config_name = non_empty(env.webhook_config_name)
            .unwrap_or_else(|| DEFAULT_WEBHOOK_CONFIG_NAME.into());
        check_name("WEBHOOK_CONFIG_NAME", &webhook_config_name, 253)?;
        let validity = match non_empty(env.webhook_cert_validity_seconds) {
            None => DEFAULT_VALIDITY,
            Some(v) => Duration::from_secs(number(
                "WEBHOOK_CERT_VALIDITY_SECONDS",
                &v,
                3,
                10 * 365 * 24 * 3600,
            )?),
        };
        let port = match non_empty(env.webhook_port) {
            None => DEFAULT_PORT,
            Some(v) => number("WEBHOOK_PORT", &v, 1, 65_535)? as u16,
        };
        let register_validation = match non_empty(env.webhook_validation_enabled) {
            None => true,
            Some(v) => parse_bool("WEBHOOK_VALIDATION_ENABLED", &v)?,
        };
        let check_interval = match non_empty(env.webhook_check_interval_seconds) {
            None => default_check_interval(validity),
            Some(v) => Duration::from_secs(number("WEBHOOK_CHECK_INTERVAL_SECONDS", &v, 1, 3600)?),
        };
        Ok(Self {
            mode,
            secret_name,
            service_name,
            namespace,
            cert_dir,
            webhook_config_name,
            validity,
            port,
            register_validation,
            check_interval,
        })
    }

    /// The certificate file (`<cert_dir>/tls.crt`).
    pub fn cert_file(&self) -> PathBuf {
        self.cert_dir.join("tls.crt")
    }

    /// The private key file (`<cert_dir>/tls.key`).
    pub fn key_file(&self) -> PathBuf {
        self.cert_dir.join("tls.key")
    }
}

/// A tenth of the validity, at least 1 and at most 30 seconds.
pub fn default_check_interval(validity: Duration) -> Duration {
    (validity / 10).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_vars as vars;

    #[test]
    fn defaults() {
        let c = CertsConfig::from_vars(vars(&[("POD_NAMESPACE", "ops")])).expect("valid");
        assert_eq!(c.mode, WebhookMode::SelfSigned);
        assert_eq!(c.namespace, "ops");
        assert_eq!(c.secret_name, DEFAULT_SECRET_NAME);
        assert_eq!(c.service_name, DEFAULT_WEBHOOK_SERVICE);
        assert_eq!(c.webhook_config_name, DEFAULT_WEBHOOK_CONFIG_NAME);
        assert_eq!(c.validity, DEFAULT_VALIDITY);
        assert_eq!(c.port, 8443);
        assert!(c.register_validation);
        assert_eq!(c.check_interval, Duration::from_secs(30));
        assert_eq!(
            c.cert_file(),
            PathBuf::from(DEFAULT_CERT_DIR).join("tls.crt")
        );
    }

    #[test]
    fn explicit_values() {
        let c = CertsConfig::from_vars(vars(&[
            ("WEBHOOK_MODE", "local"),
            ("WEBHOOK_NAMESPACE", "a"),
            ("POD_NAMESPACE", "b"),
            ("WEBHOOK_CERT_VALIDITY_SECONDS", "6"),
            ("WEBHOOK_PORT", "9443"),
            ("WEBHOOK_VALIDATION_ENABLED", "false"),
            ("WEBHOOK_CERT_DIR", "/x"),
        ]))
        .expect("valid");
        assert_eq!(c.mode, WebhookMode::Local);
        assert_eq!(c.namespace, "a");
        assert_eq!(c.validity, Duration::from_secs(6));
        assert_eq!(c.check_interval, Duration::from_secs(1));
        assert_eq!(c.port, 9443);
        assert!(!c.register_validation);
        assert_eq!(c.key_file(), PathBuf::from("/x/tls.key"));
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value) in [
            ("WEBHOOK_MODE", "cert-manager"),
            ("WEBHOOK_PORT", "0"),
            ("WEBHOOK_CERT_VALIDITY_SECONDS", "soon"),
            ("WEBHOOK_SECRET_NAME", "Bad_Name"),
            ("WEBHOOK_NAMESPACE", "-x"),
            ("WEBHOOK_VALIDATION_ENABLED", "maybe"),
            ("WEBHOOK_CHECK_INTERVAL_SECONDS", "0"),
        ] {
            let err = CertsConfig::from_vars(vars(&[(var, value)])).expect_err(var);
            assert!(err.to_string().contains(var), "{err}");
        }
        let err = CertsConfig::from_vars(vars(&[("POD_NAMESPACE", "A")])).expect_err("ns");
        assert!(err.to_string().contains("POD_NAMESPACE"), "{err}");
    }
}
