//! Test certificates: a CA and a serving certificate for 127.0.0.1, made with rcgen.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateDer;

/// A CA and a serving certificate it signed.
pub(super) struct TestPki {
    /// The CA certificate, to trust in clients.
    pub ca: CertificateDer<'static>,
    /// The serving certificate, to compare with what a handshake presents.
    pub serving: CertificateDer<'static>,
    /// The serving certificate as PEM.
    pub cert_pem: String,
    /// The serving key as PEM.
    pub key_pem: String,
}

impl TestPki {
    /// A new CA named `ca_name` and a serving certificate for 127.0.0.1 and `localhost`.
    pub fn new(ca_name: &str) -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().expect("serving key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("serving params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, "locust-k8s-operator test");
        let cert = params
            .signed_by(&key, &issuer)
            .expect("serving certificate");

        Self {
            ca: ca_cert.der().clone(),
            serving: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `tls.crt` and `tls.key` into `dir` and returns their paths.
    pub fn write_to(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let cert = dir.join("tls.crt");
        let key = dir.join("tls.key");
        std::fs::write(&cert, &self.cert_pem).expect("write tls.crt");
        std::fs::write(&key, &self.key_pem).expect("write tls.key");
        (cert, key)
    }
}
