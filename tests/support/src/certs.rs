//! The cluster's certificates and keys, generated in memory with rcgen.
//!
//! - a serving CA and the API server's serving certificate (CN `localhost`, SANs
//!   `localhost` and `127.0.0.1`: rustls checks IP SANs);
//! - a client CA that issues client certificates (CN = user name, O = groups);
//! - the service-account key pair that signs and verifies service-account tokens.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// The OID of the X.520 organization name (`O`), which Kubernetes reads as a group.
const ORGANIZATION_OID: [u64; 4] = [2, 5, 4, 10];

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
}

/// Files the control-plane processes read, as written by [`Pki::write_to`].
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// The serving CA certificate (kube-controller-manager's `--root-ca-file`).
    pub serving_ca: PathBuf,
    /// The API server's serving certificate.
    pub serving_cert: PathBuf,
    /// The API server's serving key.
    pub serving_key: PathBuf,
    /// The client CA certificate (`--client-ca-file`).
    pub client_ca: PathBuf,
    /// The service-account public key (`--service-account-key-file`).
    pub sa_public: PathBuf,
    /// The service-account private key (`--service-account-signing-key-file`,
    /// `--service-account-private-key-file`).
    pub sa_private: PathBuf,
}

/// All certificates and keys of one cluster.
pub struct Pki {
    /// The serving CA certificate, PEM: clients trust it.
    pub serving_ca_pem: String,
    /// The API server's serving certificate and key.
    pub serving: CertPair,
    /// The client CA certificate, PEM.
    pub client_ca_pem: String,
    /// The service-account public key, PEM.
    pub sa_public_pem: String,
    /// The service-account private key, PEM.
    pub sa_private_pem: String,
    client_ca: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

fn cert_error(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> Error {
    let what = what.into();
    move |source| Error::Certificate { what, source }
}

/// Parameters of a CA certificate with common name `cn`.
fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl Pki {
    /// Generates a fresh set of CAs, serving certificate and service-account keys.
    pub fn generate() -> Result<Self> {
        Self::generate_with_sans(&[])
    }

    /// Like [`Pki::generate`], with `extra_sans` (DNS names or IP addresses) in the API
    /// server's serving certificate besides `localhost` and `127.0.0.1`: a real node's pods
    /// reach it as `kubernetes.default.svc` and through the bridge address.
    pub fn generate_with_sans(extra_sans: &[String]) -> Result<Self> {
        let serving_ca_key = KeyPair::generate().map_err(cert_error("serving CA key"))?;
        let serving_ca_params = ca_params("test-cluster-serving-ca");
        let serving_ca_pem = serving_ca_params
            .self_signed(&serving_ca_key)
            .map_err(cert_error("serving CA"))?
            .pem();
        let serving_ca = Issuer::new(serving_ca_params, serving_ca_key);

        let serving_key = KeyPair::generate().map_err(cert_error("serving key"))?;
        let mut sans = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        sans.extend(extra_sans.iter().cloned());
        let mut params = CertificateParams::new(sans).map_err(cert_error("serving certificate"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let serving_cert = params
            .signed_by(&serving_key, &serving_ca)
            .map_err(cert_error("serving certificate"))?;

        let client_ca_key = KeyPair::generate().map_err(cert_error("client CA key"))?;
        let client_ca_params = ca_params("test-cluster-client-ca");
        let client_ca_pem = client_ca_params
            .self_signed(&client_ca_key)
            .map_err(cert_error("client CA"))?
            .pem();

        let sa_key = KeyPair::generate().map_err(cert_error("service-account key"))?;

        Ok(Self {
            serving_ca_pem,
            serving: CertPair {
                cert_pem: serving_cert.pem(),
                key_pem: serving_key.serialize_pem(),
            },
            client_ca_pem,
            sa_public_pem: sa_key.public_key_pem(),
            sa_private_pem: sa_key.serialize_pem(),
            client_ca: Issuer::new(client_ca_params, client_ca_key),
        })
    }

    /// Issues a client certificate for `user` (CN) in `groups` (O), signed by the client CA.
    ///
    /// A certificate carries at most two groups (rcgen writes one attribute per type;
    /// the second group goes in under the raw organization OID). More groups are refused
    /// rather than silently dropped.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertPair> {
        let what = format!("client certificate for {user}");
        if groups.len() > 2 {
            return Err(Error::Kubeconfig {
                user: user.to_owned(),
                message: format!(
                    "a client certificate carries at most 2 groups, {} asked: {groups:?}",
                    groups.len()
                ),
            });
        }
        let key = KeyPair::generate().map_err(cert_error(what.clone()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(first) = groups.first() {
            params
                .distinguished_name
                .push(DnType::OrganizationName, *first);
        }
        if let Some(second) = groups.get(1) {
            params
                .distinguished_name
                .push(DnType::CustomDnType(ORGANIZATION_OID.to_vec()), *second);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.client_ca)
            .map_err(cert_error(what))?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes the files the control-plane processes read into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<PkiFiles> {
        std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
        let files = PkiFiles {
            serving_ca: dir.join("serving-ca.crt"),
            serving_cert: dir.join("serving.crt"),
            serving_key: dir.join("serving.key"),
            client_ca: dir.join("client-ca.crt"),
            sa_public: dir.join("sa.pub"),
            sa_private: dir.join("sa.key"),
        };
        for (path, contents) in [
            (&files.serving_ca, &self.serving_ca_pem),
            (&files.serving_cert, &self.serving.cert_pem),
            (&files.serving_key, &self.serving.key_pem),
            (&files.client_ca, &self.client_ca_pem),
            (&files.sa_public, &self.sa_public_pem),
            (&files.sa_private, &self.sa_private_pem),
        ] {
            std::fs::write(path, contents).map_err(Error::io("writing", path))?;
        }
        Ok(files)
    }
}
