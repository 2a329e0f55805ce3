//! The Kubernetes side: the shared Secret and the CA bundle in the CRD and the
//! ValidatingWebhookConfiguration.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ValidatingWebhook, ValidatingWebhookConfiguration,
    WebhookClientConfig as AdmissionClientConfig,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, ServiceReference,
};
use kube::Client;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use tracing::{debug, info, warn};

use super::CertsError;
use super::generate::{Material, Plan, Subject, new_material, plan, renew_serving};
use crate::crd::{CONVERT_PATH, CRD_NAME};

/// Field manager of every write.
pub const FIELD_MANAGER: &str = "locust-k8s-operator";
/// Path of the validating admission webhook on the HTTPS server.
pub const VALIDATE_PATH: &str = "/validate";
/// Name of the validating webhook registered in local mode.
pub const VALIDATING_WEBHOOK_NAME: &str = "vlocusttest.locust.io";

const CA_CRT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const TLS_CRT: &str = "tls.crt";
const TLS_KEY: &str = "tls.key";
const TLS_TYPE: &str = "kubernetes.io/tls";

fn kube_error(action: String) -> impl FnOnce(kube::Error) -> CertsError {
    move |source| CertsError::Kube { action, source }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// How the API server reaches the webhooks.
#[derive(Debug, Clone)]
pub enum Registration {
    /// Through the Service set by the chart: only the `caBundle` fields are written, and in
    /// the CRD only while its conversion webhook is this Service (another release's CA is
    /// left alone).
    Service {
        /// The webhook Service's namespace (`WEBHOOK_NAMESPACE`).
        namespace: String,
        /// The webhook Service's name (`WEBHOOK_SERVICE_NAME`).
        name: String,
    },
    /// By URL (operator outside the cluster): the CRD's conversion `clientConfig` is set to
    /// `<base>/convert`, and, when `register_validation`, a ValidatingWebhookConfiguration
    /// for `<base>/validate` is applied.
    Url {
        /// `https://127.0.0.1:<port>`.
        base: String,
        /// Whether to apply the ValidatingWebhookConfiguration.
        register_validation: bool,
    },
}

/// Writes the CA bundle where the API server reads it.
#[derive(Clone)]
pub struct Registrar {
    pub(crate) client: Client,
    pub(crate) registration: Registration,
    pub(crate) webhook_config_name: String,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("registration", &self.registration)
            .field("webhook_config_name", &self.webhook_config_name)
            .finish_non_exhaustive()
    }
}

/// Whether a CRD conversion webhook at `service` is the webhook Service `namespace/name`:
/// only then is its CA bundle this operator's to write. A second release (another
/// namespace, or another Service name) must not replace the CA the CRD's own release
/// serves with.
pub fn converts_through(service: Option<&ServiceReference>, namespace: &str, name: &str) -> bool {
    service.is_some_and(|s| s.namespace == namespace && s.name == name)
}

impl Registrar {
    /// Makes the CRD conversion webhook and the ValidatingWebhookConfiguration trust
    /// `ca_bundle` (and, by URL, point at this process). Writes only what differs.
    pub async fn publish(&self, ca_bundle: &str) -> Result<(), CertsError> {
        self.publish_crd(ca_bundle).await?;
        self.publish_validating(ca_bundle).await
    }

    async fn publish_crd(&self, ca_bundle: &str) -> Result<(), CertsError> {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let Some(crd) = crds
            .get_opt(CRD_NAME)
            .await
            .map_err(kube_error(format!("read CRD {CRD_NAME}")))?
        else {
            warn!(
                crd = CRD_NAME,
                "the CRD is not installed: no CA bundle written"
            );
            return Ok(());
        };
        let conversion = crd.spec.conversion.as_ref();
        let client_config = conversion
            .and_then(|c| c.webhook.as_ref())
            .and_then(|w| w.client_config.as_ref());
        let bundle_now = client_config.and_then(|c| c.ca_bundle.as_ref());
        let bundle_ok = bundle_now.is_some_and(|b| b.0 == ca_bundle.as_bytes());
        let bundle = ByteString(ca_bundle.as_bytes().to_vec());
        let patch = match &self.registration {
            Registration::Service { namespace, name } => {
                if client_config.is_none() || conversion.is_some_and(|c| c.strategy != "Webhook") {
                    warn!(
                        crd = CRD_NAME,
                        "the CRD has no webhook conversion: no CA bundle written"
                    );
                    return Ok(());
                }
                let service = client_config.and_then(|c| c.service.as_ref());
                if !converts_through(service, namespace, name) {
                    debug!(
                        crd = CRD_NAME,
                        service = %service.map_or_else(String::new, |s| format!("{}/{}", s.namespace, s.name)),
                        "the CRD converts through another webhook Service (another release): its CA bundle is left alone"
                    );
                    return Ok(());
                }
                if bundle_ok {
                    return Ok(());
                }
                json!({"spec": {"conversion": {"webhook": {"clientConfig": {"caBundle": bundle}}}}})
            }
            Registration::Url { base, .. } => {
                let url = format!("{base}{CONVERT_PATH}");
                let url_ok = conversion.is_some_and(|c| c.strategy == "Webhook")
                    && client_config.is_some_and(|c| {
                        c.url.as_deref() == Some(url.as_str()) && c.service.is_none()
                    });
                if url_ok && bundle_ok {
                    return Ok(());
                }
                json!({"spec": {"conversion": {
                    "strategy": "Webhook",
                    "webhook": {
                        "conversionReviewVersions": ["v1"],
                        "clientConfig": {"url": url, "service": null, "caBundle": bundle},
                    },
                }}})
            }
        };
        crds.patch(
            CRD_NAME,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            },
            &Patch::Merge(&patch),
        )
        .await
        .map_err(kube_error(format!(
            "patch the CA bundle into CRD {CRD_NAME}"
        )))?;
        info!(crd = CRD_NAME, "wrote the webhook CA bundle into the CRD");
        Ok(())
    }

    async fn publish_validating(&self, ca_bundle: &str) -> Result<(), CertsError> {
        let api: Api<ValidatingWebhookConfiguration> = Api::all(self.client.clone());
        let name = &self.webhook_config_name;
        let bundle = ByteString(ca_bundle.as_bytes().to_vec());
        match &self.registration {
            Registration::Url {
                register_validation: false,
                ..
            } => Ok(()),
            Registration::Url { base, .. } => {
                let desired = local_validating_webhook(name, base, bundle);
                let current = api.get_opt(name).await.map_err(kube_error(format!(
                    "read ValidatingWebhookConfiguration {name}"
                )))?;
                if current.is_some_and(|c| registered(&c, &desired)) {
                    return Ok(());
                }
                api.patch(
                    name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&desired),
                )
                .await
                .map_err(kube_error(format!(
                    "apply ValidatingWebhookConfiguration {name}"
                )))?;
                info!(name = %name, "registered the validating webhook by URL");
                Ok(())
            }
            Registration::Service { .. } => {
                let Some(current) = api.get_opt(name).await.map_err(kube_error(format!(
                    "read ValidatingWebhookConfiguration {name}"
                )))?
                else {
                    debug!(name = %name, "no ValidatingWebhookConfiguration: no CA bundle written");
                    return Ok(());
                };
                let stale: Vec<_> = current
                    .webhooks
                    .iter()
                    .flatten()
                    .filter(|w| w.client_config.ca_bundle.as_ref() != Some(&bundle))
                    .map(|w| json!({"name": w.name, "clientConfig": {"caBundle": bundle}}))
                    .collect();
                if stale.is_empty() {
                    return Ok(());
                }
                // Strategic merge: `webhooks` merges by name, only `caBundle` changes.
                api.patch(
                    name,
                    &PatchParams {
                        field_manager: Some(FIELD_MANAGER.into()),
                        ..PatchParams::default()
                    },
                    &Patch::Strategic(json!({"webhooks": stale})),
                )
                .await
                .map_err(kube_error(format!(
                    "patch the CA bundle into ValidatingWebhookConfiguration {name}"
                )))?;
                info!(name = %name, "wrote the webhook CA bundle into the ValidatingWebhookConfiguration");
                Ok(())
            }
        }
    }
}

/// Whether `current` holds exactly the webhooks of `desired` with the fields this operator
/// sets (the API server adds defaults, so whole objects never compare equal).
fn registered(
    current: &ValidatingWebhookConfiguration,
    desired: &ValidatingWebhookConfiguration,
) -> bool {
    let (Some(have), Some(want)) = (&current.webhooks, &desired.webhooks) else {
        return false;
    };
    have.len() == want.len()
        && have.iter().zip(want).all(|(h, w)| {
            h.name == w.name
                && h.client_config == w.client_config
                && h.rules == w.rules
                && h.failure_policy == w.failure_policy
                && h.match_policy == w.match_policy
                && h.side_effects == w.side_effects
                && h.admission_review_versions == w.admission_review_versions
                && h.timeout_seconds == w.timeout_seconds
        })
}

/// The ValidatingWebhookConfiguration registered in local mode.
pub fn local_validating_webhook(
    name: &str,
    base: &str,
    ca_bundle: ByteString,
) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        webhooks: Some(vec![ValidatingWebhook {
            name: VALIDATING_WEBHOOK_NAME.into(),
            admission_review_versions: vec!["v1".into()],
            client_config: AdmissionClientConfig {
                url: Some(format!("{base}{VALIDATE_PATH}")),
                ca_bundle: Some(ca_bundle),
                service: None,
            },
            failure_policy: Some("Fail".into()),
            match_policy: Some("Equivalent".into()),
            rules: Some(vec![RuleWithOperations {
                api_groups: Some(vec!["locust.io".into()]),
                api_versions: Some(vec!["v1".into(), "v2".into()]),
                operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
                resources: Some(vec!["locusttests".into()]),
                scope: Some("Namespaced".into()),
            }]),
            side_effects: "None".into(),
            timeout_seconds: Some(10),
            ..ValidatingWebhook::default()
        }]),
    }
}

/// The Secret shared by all replicas.
#[derive(Debug, Clone)]
pub struct SecretStore {
    pub(crate) api: Api<Secret>,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

fn text(data: &BTreeMap<String, ByteString>, key: &str) -> Option<String> {
    data.get(key)
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
}

/// The material in a Secret; `None` when a key is missing or not UTF-8.
pub fn material_from_secret(secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    Some(Material {
        ca_bundle: text(data, CA_CRT)?,
        ca_key: text(data, CA_KEY)?,
        cert: text(data, TLS_CRT)?,
        key: text(data, TLS_KEY)?,
    })
}

fn secret_data(m: &Material) -> BTreeMap<String, ByteString> {
    [
        (CA_CRT, &m.ca_bundle),
        (CA_KEY, &m.ca_key),
        (TLS_CRT, &m.cert),
        (TLS_KEY, &m.key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
    .collect()
}

impl SecretStore {
    /// The Secret's material, created when absent and renewed when [`plan`] says so.
    ///
    /// Concurrent replicas converge on one pair: creation is create-if-absent (on 409 the
    /// winner's Secret is read) and renewal replaces with the read `resourceVersion` (on 409
    /// the winner's renewal is read). Before a new CA is stored, `registrar` publishes the
    /// bundle holding it, so replicas that pick up the new pair are trusted at once.
    pub async fn sync(
        &self,
        registrar: &Registrar,
        subject: &Subject,
        validity: Duration,
    ) -> Result<Material, CertsError> {
        let (name, ns) = (&self.name, &self.namespace);
        for _ in 0..8 {
            let now = SystemTime::now();
            let existing = self
                .api
                .get_opt(name)
                .await
                .map_err(kube_error(format!("read Secret {ns}/{name}")))?;
            let Some(mut secret) = existing else {
                let m = new_material(subject, validity, now, None)?;
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels: Some(labels()),
                        ..ObjectMeta::default()
                    },
                    type_: Some(TLS_TYPE.into()),
                    data: Some(secret_data(&m)),
                    ..Secret::default()
                };
                match self.api.create(&PostParams::default(), &secret).await {
                    Ok(_) => {
                        info!(secret = %format!("{ns}/{name}"), "created the webhook certificate Secret");
                        return Ok(m);
                    }
                    Err(e) if is_status(&e, 409) => continue,
                    Err(e) => return Err(kube_error(format!("create Secret {ns}/{name}"))(e)),
                }
            };
            let current = material_from_secret(&secret);
            let next = match &current {
                Some(m) => match plan(m, subject, now) {
                    Plan::Keep => return Ok(m.clone()),
                    Plan::RenewServing => renew_serving(m, subject, validity, now)?,
                    Plan::RenewAll => new_material(subject, validity, now, Some(&m.ca_bundle))?,
                },
                None => new_material(subject, validity, now, None)?,
            };
            if current.as_ref().map(|m| &m.ca_bundle) != Some(&next.ca_bundle)
                && let Err(e) = registrar.publish(&next.ca_bundle).await
            {
                warn!(error = %e, "could not publish the new CA bundle before storing it");
            }
            // The type is immutable: keep whatever the Secret has.
            secret.data = Some(secret_data(&next));
            secret.string_data = None;
            match self
                .api
                .replace(name, &PostParams::default(), &secret)
                .await
            {
                Ok(_) => {
                    info!(
                        secret = %format!("{ns}/{name}"),
                        new_ca = current.as_ref().map(|m| &m.ca_bundle) != Some(&next.ca_bundle),
                        "renewed the webhook certificate"
                    );
                    return Ok(next);
                }
                Err(e) if is_status(&e, 409) => continue,
                Err(e) if is_status(&e, 404) => continue,
                Err(e) => return Err(kube_error(format!("update Secret {ns}/{name}"))(e)),
            }
        }
        Err(CertsError::Contended(format!("Secret {ns}/{name}")))
    }

    /// Name of the Secret's resource, for logs.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

fn labels() -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/name", "locust-k8s-operator"),
        ("app.kubernetes.io/component", "webhook-certificates"),
        ("app.kubernetes.io/managed-by", "locust-k8s-operator"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(namespace: &str, name: &str) -> ServiceReference {
        ServiceReference {
            namespace: namespace.into(),
            name: name.into(),
            ..ServiceReference::default()
        }
    }

    #[test]
    fn only_the_crds_own_webhook_service_writes_its_ca_bundle() {
        let ours = service("team-a", "lko-webhook-service");
        assert!(converts_through(
            Some(&ours),
            "team-a",
            "lko-webhook-service"
        ));
        // A second release: another namespace, or another Service in the same namespace.
        assert!(!converts_through(
            Some(&ours),
            "team-b",
            "lko-webhook-service"
        ));
        assert!(!converts_through(
            Some(&ours),
            "team-a",
            "other-webhook-service"
        ));
        // Conversion by URL (a local operator): not a Service to trust.
        assert!(!converts_through(None, "team-a", "lko-webhook-service"));
    }
}
