//! Users of a cluster: kubeconfigs and clients for any user, group or service account,
//! and a namespace per test.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::config::Kubeconfig;

use super::Cluster;
use crate::error::{Error, Result};
use crate::kubeconfig::{self, Credentials};

impl Cluster {
    /// Writes a kubeconfig for `user` in `groups` (at most two) with a client certificate
    /// from the cluster's client CA, and returns its path. The user can do exactly what
    /// RBAC grants it (and `system:authenticated`).
    pub fn kubeconfig_for(&self, user: &str, groups: &[&str]) -> Result<PathBuf> {
        let cert = self.pki.issue_client(user, groups)?;
        let config = kubeconfig::build(
            &self.server,
            &self.pki.serving_ca_pem,
            user,
            &Credentials::ClientCert(cert),
        );
        self.write_user_kubeconfig(user, &config)
    }

    /// A client for `user` in `groups` (see [`Cluster::kubeconfig_for`]).
    pub async fn client_for(&self, user: &str, groups: &[&str]) -> Result<kube::Client> {
        let cert = self.pki.issue_client(user, groups)?;
        kubeconfig::client(&kubeconfig::build(
            &self.server,
            &self.pki.serving_ca_pem,
            user,
            &Credentials::ClientCert(cert),
        ))
        .await
    }

    /// Writes a kubeconfig that authenticates as service account `namespace/name` with a
    /// token from the TokenRequest API (valid 24 h), exactly as an operator in a pod would;
    /// the service account must exist.
    pub async fn kubeconfig_for_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client().await?, namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(86_400),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let response = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(Error::kube(format!(
                "requesting a token for service account {namespace}/{name}"
            )))?;
        let token = response.status.map(|s| s.token).unwrap_or_default();
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let config = kubeconfig::build(
            &self.server,
            &self.pki.serving_ca_pem,
            &user,
            &Credentials::Token(token),
        );
        self.write_user_kubeconfig(&user, &config)
    }

    fn write_user_kubeconfig(&self, user: &str, config: &Kubeconfig) -> Result<PathBuf> {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let safe: String = user
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.layout.users.join(format!("{safe}-{n}.kubeconfig"));
        kubeconfig::write(&path, config)?;
        Ok(path)
    }

    /// Creates a namespace with a unique name starting with `prefix` and waits until its
    /// `default` service account exists (pods cannot be created before). Returns its name.
    pub async fn namespace(&self, prefix: &str) -> Result<String> {
        let client = self.client().await?;
        let mut base: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        base.truncate(40);
        let base = base.trim_matches('-');
        let base = if base.is_empty() { "test" } else { base };
        let namespace = Namespace {
            metadata: ObjectMeta {
                generate_name: Some(format!("{base}-")),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let created = Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(Error::kube(format!("creating a namespace named {base}-*")))?;
        let name = created.metadata.name.unwrap_or_default();
        self.wait_for_default_service_account(
            &client,
            &name,
            Instant::now() + Duration::from_secs(30),
        )
        .await?;
        Ok(name)
    }
}
