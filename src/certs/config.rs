//! Settings of the webhook certificates (`run`; the chart sets them through the
//! environment).

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::EnumValueParser;

use crate::config::parse::{
    Optional, boolean, dns1123_label, dns1123_subdomain, number, or_default, or_none, path, seconds,
};
use crate::config::{ConfigError, PodArgs, parse_vars};
use crate::crd::{DEFAULT_WEBHOOK_NAMESPACE, DEFAULT_WEBHOOK_SERVICE};

/// Where the webhook's serving certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

const WEBHOOKS: &str = "Webhooks and TLS";

/// The webhook settings, as clap parses them from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = WEBHOOKS)]
pub struct WebhookArgs {
    /// Where the webhooks' serving certificate comes from.
    #[arg(
        long,
        env = "WEBHOOK_MODE",
        value_name = "MODE",
        default_value = "self-signed",
        value_parser = or_default(EnumValueParser::<WebhookMode>::new()),
    )]
    pub webhook_mode: WebhookMode,
    /// HTTPS port of the webhook server (1 to 65535); in local mode part of the registered
    /// URLs.
    #[arg(
        long,
        env = "WEBHOOK_PORT",
        value_name = "PORT",
        default_value_t = DEFAULT_PORT,
        value_parser = or_default(number::<u16>(1, 65_535)),
    )]
    pub webhook_port: u16,
    /// Namespace of the webhook's Secret and Service (a namespace name). Unset or empty:
    /// POD_NAMESPACE, else locust-k8s-operator-system.
    #[arg(
        long,
        env = "WEBHOOK_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(dns1123_label),
    )]
    pub webhook_namespace: Optional<String>,
    /// The webhook Service (a Service name); its DNS names go into the certificate.
    #[arg(
        long,
        env = "WEBHOOK_SERVICE_NAME",
        value_name = "NAME",
        default_value = DEFAULT_WEBHOOK_SERVICE,
        value_parser = or_default(dns1123_label),
    )]
    pub webhook_service_name: String,
    /// The Secret holding the CA, certificate and key (self-signed mode; an object name).
    #[arg(
        long,
        env = "WEBHOOK_SECRET_NAME",
        value_name = "NAME",
        default_value = DEFAULT_SECRET_NAME,
        value_parser = or_default(dns1123_subdomain),
    )]
    pub webhook_secret_name: String,
    /// The ValidatingWebhookConfiguration whose caBundle is kept current (self-signed mode)
    /// or which is registered (local mode); an object name.
    #[arg(
        long,
        env = "WEBHOOK_CONFIG_NAME",
        value_name = "NAME",
        default_value = DEFAULT_WEBHOOK_CONFIG_NAME,
        value_parser = or_default(dns1123_subdomain),
    )]
    pub webhook_config_name: String,
    /// Directory of tls.crt and tls.key: written there (self-signed, local) or read from
    /// there (files).
    #[arg(
        long,
        env = "WEBHOOK_CERT_DIR",
        value_name = "DIR",
        default_value = DEFAULT_CERT_DIR,
        value_parser = or_default(path),
    )]
    pub webhook_cert_dir: PathBuf,
    /// Lifetime of the serving certificate in seconds (3 to 315360000, ten years; default
    /// one year); the CA lives ten times as long. Renewed when a third is left.
    #[arg(
        long,
        env = "WEBHOOK_CERT_VALIDITY_SECONDS",
        value_name = "SECONDS",
        default_value = "31536000",
        value_parser = or_default(seconds(3, MAX_VALIDITY_SECONDS)),
    )]
    pub webhook_cert_validity_seconds: Duration,
    /// In local mode, also register the ValidatingWebhookConfiguration (true or false).
    #[arg(
        long,
        env = "WEBHOOK_VALIDATION_ENABLED",
        value_name = "BOOL",
        default_value = "true",
        action = clap::ArgAction::Set,
        value_parser = or_default(boolean),
    )]
    pub webhook_validation_enabled: bool,
    /// Seconds (1 to 3600) between checks of the Secret, the registrations and (files mode)
    /// the files. Unset or empty: a tenth of the validity, from 1 to 30 seconds.
    #[arg(
        long,
        env = "WEBHOOK_CHECK_INTERVAL_SECONDS",
        value_name = "SECONDS",
        default_value = "",
        hide_default_value = true,
        value_parser = or_none(seconds(1, 3600)),
    )]
    pub webhook_check_interval_seconds: Optional<Duration>,
}

/// Longest serving-certificate validity: ten years.
const MAX_VALIDITY_SECONDS: u64 = 10 * 365 * 24 * 3600;

impl CertsConfig {
    /// The validated settings, with the defaults that depend on other settings filled in.
    pub fn new(args: WebhookArgs, pod: &PodArgs) -> Self {
        let namespace = args
            .webhook_namespace
            .0
            .or_else(|| pod.pod_namespace.0.clone())
            .unwrap_or_else(|| DEFAULT_WEBHOOK_NAMESPACE.to_string());
        let validity = args.webhook_cert_validity_seconds;
        Self {
            mode: args.webhook_mode,
            secret_name: args.webhook_secret_name,
            service_name: args.webhook_service_name,
            namespace,
            cert_dir: args.webhook_cert_dir,
            webhook_config_name: args.webhook_config_name,
            validity,
            port: args.webhook_port,
            register_validation: args.webhook_validation_enabled,
            check_interval: args
                .webhook_check_interval_seconds
                .0
                .unwrap_or_else(|| default_check_interval(validity)),
        }
    }

    /// Parses and validates the settings from the given environment variables only, as
    /// `run` reads them (the process environment is not looked at); other variables are
    /// ignored.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<_> = vars.into_iter().collect();
        Ok(Self::new(parse_vars(&vars)?, &parse_vars(&vars)?))
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

    #[test]
    fn empty_values_are_the_defaults() {
        let c = CertsConfig::from_vars(vars(&[
            ("WEBHOOK_MODE", ""),
            ("WEBHOOK_PORT", " "),
            ("WEBHOOK_NAMESPACE", ""),
            ("POD_NAMESPACE", "ops"),
            ("WEBHOOK_CERT_DIR", ""),
            ("WEBHOOK_CHECK_INTERVAL_SECONDS", ""),
        ]))
        .expect("valid");
        assert_eq!(c.mode, WebhookMode::SelfSigned);
        assert_eq!(c.port, DEFAULT_PORT);
        assert_eq!(c.namespace, "ops");
        assert_eq!(c.cert_dir, PathBuf::from(DEFAULT_CERT_DIR));
        assert_eq!(c.check_interval, Duration::from_secs(30));
    }
}
