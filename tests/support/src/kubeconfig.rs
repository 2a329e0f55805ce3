//! Kubeconfig files for the cluster's users, and `kube::Client`s built from them.

use std::path::Path;
use std::sync::Once;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::certs::CertPair;
use crate::error::{Error, Result};

/// The name of the cluster and context in every kubeconfig the harness writes.
pub const CONTEXT: &str = "test-cluster";

/// How a kubeconfig's user proves who it is.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A client certificate from the cluster's client CA.
    ClientCert(CertPair),
    /// A bearer token, such as a service-account token.
    Token(String),
}

/// A kubeconfig for `user` talking to `server`, trusting `ca_pem`, with data embedded.
pub fn build(server: &str, ca_pem: &str, user: &str, credentials: &Credentials) -> Kubeconfig {
    let mut auth = AuthInfo::default();
    match credentials {
        Credentials::ClientCert(pair) => {
            auth.client_certificate_data = Some(STANDARD.encode(&pair.cert_pem));
            auth.client_key_data = Some(STANDARD.encode(&pair.key_pem).into());
        }
        Credentials::Token(token) => auth.token = Some(token.clone().into()),
    }
    Kubeconfig {
        api_version: Some("v1".to_owned()),
        kind: Some("Config".to_owned()),
        clusters: vec![NamedCluster {
            name: CONTEXT.to_owned(),
            cluster: Some(Cluster {
                server: Some(server.to_owned()),
                certificate_authority_data: Some(STANDARD.encode(ca_pem)),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user.to_owned(),
            auth_info: Some(auth),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: CONTEXT.to_owned(),
            context: Some(Context {
                cluster: CONTEXT.to_owned(),
                user: Some(user.to_owned()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(CONTEXT.to_owned()),
        ..Kubeconfig::default()
    }
}

/// Writes `kubeconfig` as YAML to `path`, readable only by its owner.
pub fn write(path: &Path, kubeconfig: &Kubeconfig) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let yaml = serde_saphyr::to_string(kubeconfig).map_err(|e| Error::Kubeconfig {
        user: user_of(kubeconfig),
        message: format!("serializing to YAML: {e}"),
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("writing", path))?;
    file.write_all(yaml.as_bytes())
        .map_err(Error::io("writing", path))
}

fn user_of(kubeconfig: &Kubeconfig) -> String {
    kubeconfig
        .auth_infos
        .first()
        .map_or_else(String::new, |a| a.name.clone())
}

/// Makes ring the process-wide rustls provider, in case another one got linked too.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A fresh `kube::Client` for `kubeconfig`, bound to the calling tokio runtime.
pub async fn client(kubeconfig: &Kubeconfig) -> Result<kube::Client> {
    install_crypto_provider();
    let error = |message: String| Error::Kubeconfig {
        user: user_of(kubeconfig),
        message,
    };
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
            .await
            .map_err(|e| error(format!("loading: {e}")))?;
    kube::Client::try_from(config).map_err(|e| error(format!("building a client: {e}")))
}
