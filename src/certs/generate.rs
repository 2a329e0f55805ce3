//! Pure certificate generation and renewal decisions (no I/O, the clock passed in).
//!
//! The CA and the serving certificate are ECDSA P-256 (rcgen with ring). The CA lives ten
//! times as long as the serving certificate, so renewing the serving certificate keeps the
//! CA bundle the API server trusts. When the CA itself is renewed, the bundle carries the
//! new CA first and the previous one (while still valid) after it, so certificates signed by
//! either are trusted during the switch.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

use super::CertsError;

/// Common name of the operator's CA. Fixed: renewing the serving certificate rebuilds the
/// issuer from it and the CA key.
pub const CA_COMMON_NAME: &str = "locust-k8s-operator-webhook-ca";
/// The CA lives this many times as long as the serving certificate.
pub const CA_LIFETIME_FACTOR: u32 = 10;
/// Most CA certificates kept in the bundle (the current one and the previous one).
const MAX_BUNDLE: usize = 2;

/// A CA, a serving certificate signed by it, and both keys, PEM-encoded.
///
/// `Debug` never prints the keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    /// The CA bundle: the current CA first, then the previous one while it is still valid.
    pub ca_bundle: String,
    /// The current CA's private key (PKCS#8).
    pub ca_key: String,
    /// The serving certificate.
    pub cert: String,
    /// The serving certificate's private key (PKCS#8).
    pub key: String,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("ca_bundle", &self.ca_bundle)
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

/// Whom the serving certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// DNS names; the first is also the common name.
    pub dns_names: Vec<String>,
    /// IP addresses.
    pub ips: Vec<IpAddr>,
}

impl Subject {
    /// The Service's DNS names: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`,
    /// `<svc>.<ns>.svc.cluster.local`.
    pub fn service(service: &str, namespace: &str) -> Self {
        Self {
            dns_names: vec![
                format!("{service}.{namespace}.svc"),
                service.to_string(),
                format!("{service}.{namespace}"),
                format!("{service}.{namespace}.svc.cluster.local"),
            ],
            ips: Vec::new(),
        }
    }

    /// `localhost` and `127.0.0.1`, for an operator outside the cluster.
    pub fn local() -> Self {
        Self {
            dns_names: vec!["localhost".to_string()],
            ips: vec![IpAddr::from([127, 0, 0, 1])],
        }
    }
}

/// What to do with existing material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Valid for long enough: keep it.
    Keep,
    /// Issue a new serving certificate from the same CA.
    RenewServing,
    /// Create a new CA (the old one stays in the bundle while valid) and a new serving
    /// certificate.
    RenewAll,
}

fn generation_error(what: &str, e: rcgen::Error) -> CertsError {
    CertsError::Generate(format!("{what}: {e}"))
}

fn to_offset(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

/// Backdating of `notBefore` against clock skew: a tenth of the lifetime, at most 5 minutes.
fn skew(validity: Duration) -> Duration {
    (validity / 10).min(Duration::from_secs(300))
}

fn ca_params(not_before: SystemTime, not_after: SystemTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = to_offset(not_before);
    params.not_after = to_offset(not_after);
    params
}

fn new_key() -> Result<KeyPair, CertsError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| generation_error("key", e))
}

/// A new CA valid for `CA_LIFETIME_FACTOR × validity` from `now`: (certificate, key) PEM.
fn generate_ca(validity: Duration, now: SystemTime) -> Result<(String, String), CertsError> {
    let lifetime = validity * CA_LIFETIME_FACTOR;
    let key = new_key()?;
    let params = ca_params(now - skew(lifetime), now + lifetime);
    let cert = params
        .self_signed(&key)
        .map_err(|e| generation_error("CA certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A serving certificate for `subject` signed by the CA whose key is `ca_key` (PEM), valid
/// for `validity` from `now` but never past `ca_not_after`: (certificate, key) PEM.
fn issue_serving(
    ca_key: &str,
    ca_not_after: SystemTime,
    subject: &Subject,
    validity: Duration,
    now: SystemTime,
) -> Result<(String, String), CertsError> {
    let ca_key = KeyPair::from_pem(ca_key).map_err(|e| generation_error("CA key", e))?;
    // The issuer needs the CA's name, key-identifier method and key usages: all fixed.
    let issuer = Issuer::new(ca_params(now, ca_not_after), ca_key);
    let mut params = CertificateParams::new(subject.dns_names.clone())
        .map_err(|e| generation_error("DNS name", e))?;
    params
        .subject_alt_names
        .extend(subject.ips.iter().copied().map(SanType::IpAddress));
    let mut dn = DistinguishedName::new();
    if let Some(first) = subject.dns_names.first() {
        dn.push(DnType::CommonName, first.as_str());
    }
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = to_offset(now - skew(validity));
    params.not_after = to_offset((now + validity).min(ca_not_after));
    let key = new_key()?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| generation_error("serving certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A new CA and serving certificate. The bundle carries the new CA, then the first still
/// valid CA of `previous_bundle` (so certificates of the old CA stay trusted meanwhile).
pub fn new_material(
    subject: &Subject,
    validity: Duration,
    now: SystemTime,
    previous_bundle: Option<&str>,
) -> Result<Material, CertsError> {
    let (ca_cert, ca_key) = generate_ca(validity, now)?;
    let ca_not_after = now + validity * CA_LIFETIME_FACTOR;
    let (cert, key) = issue_serving(&ca_key, ca_not_after, subject, validity, now)?;
    let mut bundle = vec![ca_cert];
    if let Some(previous) = previous_bundle {
        for pem in split_pem(previous) {
            if bundle.len() >= MAX_BUNDLE {
                break;
            }
            if validity_of(&pem).is_ok_and(|(_, not_after)| not_after > now) {
                bundle.push(pem);
            }
        }
    }
    Ok(Material {
        ca_bundle: bundle.concat(),
        ca_key,
        cert,
        key,
    })
}

/// A new serving certificate from the CA of `material` (bundle and CA key kept).
pub fn renew_serving(
    material: &Material,
    subject: &Subject,
    validity: Duration,
    now: SystemTime,
) -> Result<Material, CertsError> {
    let ca = first_cert(&material.ca_bundle)?;
    let (_, ca_not_after) = validity_of(&ca)?;
    let (cert, key) = issue_serving(&material.ca_key, ca_not_after, subject, validity, now)?;
    Ok(Material {
        cert,
        key,
        ..material.clone()
    })
}

/// True when less than a third of the lifetime `[not_before, not_after]` is left at `now`.
pub fn needs_renewal(not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> bool {
    let lifetime = not_after
        .duration_since(not_before)
        .unwrap_or(Duration::ZERO);
    match not_after.duration_since(now) {
        Ok(left) => lifetime.is_zero() || left < lifetime / 3,
        Err(_) => true,
    }
}

/// `(notBefore, notAfter)` of the first certificate of a PEM text.
pub fn validity_of(pem: &str) -> Result<(SystemTime, SystemTime), CertsError> {
    let der = first_der(pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| CertsError::Invalid(format!("certificate does not parse: {e}")))?;
    let validity = cert.validity();
    Ok((
        unix_to_system(validity.not_before.timestamp()),
        unix_to_system(validity.not_after.timestamp()),
    ))
}

fn unix_to_system(secs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn first_der(pem: &str) -> Result<CertificateDer<'static>, CertsError> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or_else(|| CertsError::Invalid("no CERTIFICATE block".into()))?
        .map_err(|e| CertsError::Invalid(format!("not valid PEM: {e}")))
}

fn first_cert(pem: &str) -> Result<String, CertsError> {
    split_pem(pem)
        .into_iter()
        .next()
        .ok_or_else(|| CertsError::Invalid("no CERTIFICATE block".into()))
}

/// The `CERTIFICATE` blocks of a PEM text, each as its own PEM text.
pub fn split_pem(pem: &str) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let Some(end) = rest[start..].find(END) else {
            break;
        };
        let stop = start + end + END.len();
        out.push(format!("{}\n", &rest[start..stop]));
        rest = &rest[stop..];
    }
    out
}

/// What to do with `material` at `now` for `subject`: renew everything when the CA or its
/// key is unusable or the CA has less than a third of its life left; renew the serving
/// certificate when it is unusable, not for `subject`, not from the current CA, does not
/// match its key, or has less than a third of its life left.
pub fn plan(material: &Material, subject: &Subject, now: SystemTime) -> Plan {
    let Ok(ca_pem) = first_cert(&material.ca_bundle) else {
        return Plan::RenewAll;
    };
    let Ok(ca_der) = first_der(&ca_pem) else {
        return Plan::RenewAll;
    };
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(ca_der.as_ref()) else {
        return Plan::RenewAll;
    };
    let ca_key_matches = KeyPair::from_pem(&material.ca_key)
        .is_ok_and(|k| k.subject_public_key_info() == ca.tbs_certificate.subject_pki.raw);
    let (ca_nb, ca_na) = (
        unix_to_system(ca.validity().not_before.timestamp()),
        unix_to_system(ca.validity().not_after.timestamp()),
    );
    if !ca_key_matches || needs_renewal(ca_nb, ca_na, now) {
        return Plan::RenewAll;
    }
    if serving_ok(material, &ca, subject, now) {
        Plan::Keep
    } else {
        Plan::RenewServing
    }
}

fn serving_ok(
    material: &Material,
    ca: &x509_parser::certificate::X509Certificate<'_>,
    subject: &Subject,
    now: SystemTime,
) -> bool {
    let Ok(der) = first_der(&material.cert) else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return false;
    };
    let key_matches = KeyPair::from_pem(&material.key)
        .is_ok_and(|k| k.subject_public_key_info() == cert.tbs_certificate.subject_pki.raw);
    let from_ca = cert.issuer() == ca.subject() && authority_matches(&cert, ca);
    let (nb, na) = (
        unix_to_system(cert.validity().not_before.timestamp()),
        unix_to_system(cert.validity().not_after.timestamp()),
    );
    key_matches && from_ca && covers(&cert, subject) && !needs_renewal(nb, na, now)
}

/// The serving certificate's authority key identifier is the CA's subject key identifier.
fn authority_matches(
    cert: &x509_parser::certificate::X509Certificate<'_>,
    ca: &x509_parser::certificate::X509Certificate<'_>,
) -> bool {
    use x509_parser::extensions::ParsedExtension;
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        });
    let ski = ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0),
            _ => None,
        });
    match (aki, ski) {
        (Some(a), Some(s)) => a == s,
        _ => false,
    }
}

fn covers(cert: &x509_parser::certificate::X509Certificate<'_>, subject: &Subject) -> bool {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    let names = &san.value.general_names;
    let dns_ok = subject.dns_names.iter().all(|want| {
        names
            .iter()
            .any(|n| matches!(n, GeneralName::DNSName(d) if d.eq_ignore_ascii_case(want)))
    });
    let ip_ok = subject.ips.iter().all(|want| {
        let octets = match want {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        names
            .iter()
            .any(|n| matches!(n, GeneralName::IPAddress(ip) if *ip == octets.as_slice()))
    });
    dns_ok && ip_ok
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};

    use super::*;

    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

    fn verify(material: &Material, name: &str, at: SystemTime) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        for pem in split_pem(&material.ca_bundle) {
            roots.add(first_der(&pem).expect("der")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("verifier");
        let leaf = first_der(&material.cert).expect("leaf");
        let secs = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch")
            .as_secs();
        verifier
            .verify_server_cert(
                &leaf,
                &[],
                &ServerName::try_from(name.to_string()).expect("name"),
                &[],
                UnixTime::since_unix_epoch(Duration::from_secs(secs)),
            )
            .map(|_| ())
    }

    #[test]
    fn service_names() {
        let s = Subject::service("hook", "ops");
        assert_eq!(
            s.dns_names,
            [
                "hook.ops.svc",
                "hook",
                "hook.ops",
                "hook.ops.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn serving_certificate_chains_to_the_ca_for_every_service_name() {
        let now = SystemTime::now();
        let subject = Subject::service("hook", "ops");
        let m = new_material(&subject, YEAR, now, None).expect("material");
        for name in &subject.dns_names {
            verify(&m, name, now).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(verify(&m, "other.ops.svc", now).is_err());
        assert_eq!(plan(&m, &subject, now), Plan::Keep);
        let (nb, na) = validity_of(&m.cert).expect("validity");
        assert!(na.duration_since(nb).expect("ordered") >= YEAR);
        assert!(!format!("{m:?}").contains("PRIVATE"), "Debug hides keys");
    }

    #[test]
    fn local_certificate_covers_loopback() {
        let now = SystemTime::now();
        let m = new_material(&Subject::local(), YEAR, now, None).expect("material");
        verify(&m, "127.0.0.1", now).expect("IP SAN");
        verify(&m, "localhost", now).expect("DNS SAN");
        assert_eq!(plan(&m, &Subject::local(), now), Plan::Keep);
        assert_eq!(
            plan(&m, &Subject::service("hook", "ops"), now),
            Plan::RenewServing,
            "a certificate for other names is reissued"
        );
    }

    #[test]
    fn renewal_thresholds() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t1 = t0 + Duration::from_secs(300);
        assert!(!needs_renewal(t0, t1, t0));
        assert!(!needs_renewal(t0, t1, t0 + Duration::from_secs(199)));
        assert!(needs_renewal(t0, t1, t0 + Duration::from_secs(201)));
        assert!(needs_renewal(t0, t1, t1 + Duration::from_secs(1)));
        assert!(needs_renewal(t1, t0, t0), "inverted validity renews");
    }

    #[test]
    fn serving_renewal_keeps_the_ca_and_ca_renewal_keeps_the_old_ca_trusted() {
        let now = SystemTime::now();
        let subject = Subject::service("hook", "ops");
        let m = new_material(&subject, YEAR, now, None).expect("material");
        let later = now + YEAR - YEAR / 4;
        assert_eq!(plan(&m, &subject, later), Plan::RenewServing);
        let renewed = renew_serving(&m, &subject, YEAR, later).expect("renewed");
        assert_eq!(renewed.ca_bundle, m.ca_bundle);
        assert_eq!(renewed.ca_key, m.ca_key);
        assert_ne!(renewed.cert, m.cert);
        verify(&renewed, "hook.ops.svc", later).expect("renewed chains to the same CA");
        assert_eq!(plan(&renewed, &subject, later), Plan::Keep);

        let much_later = now + YEAR * 7;
        assert_eq!(plan(&renewed, &subject, much_later), Plan::RenewAll);
        let fresh =
            new_material(&subject, YEAR, much_later, Some(&renewed.ca_bundle)).expect("new CA");
        let cas = split_pem(&fresh.ca_bundle);
        assert_eq!(cas.len(), 2, "new CA plus the still valid old one");
        assert_eq!(cas[1], m.ca_bundle);
        verify(&fresh, "hook.ops.svc", much_later).expect("new pair chains");
        // A certificate of the old CA is still trusted by the new bundle.
        let old_under_new = Material {
            cert: renewed.cert.clone(),
            ..fresh.clone()
        };
        verify(&old_under_new, "hook.ops.svc", later).expect("old CA still in the bundle");
        // An expired old CA is dropped.
        let after_old_ca = now + YEAR * 11;
        let next =
            new_material(&subject, YEAR, after_old_ca, Some(&fresh.ca_bundle)).expect("new CA");
        assert_eq!(split_pem(&next.ca_bundle).len(), 2);
        assert!(!next.ca_bundle.contains(m.ca_bundle.trim()));
    }

    #[test]
    fn broken_material_is_replaced() {
        let now = SystemTime::now();
        let subject = Subject::service("hook", "ops");
        let m = new_material(&subject, YEAR, now, None).expect("material");
        let other = new_material(&subject, YEAR, now, None).expect("material");
        let cases = [
            (
                Material {
                    ca_bundle: "junk".into(),
                    ..m.clone()
                },
                Plan::RenewAll,
            ),
            (
                Material {
                    ca_key: other.ca_key.clone(),
                    ..m.clone()
                },
                Plan::RenewAll,
            ),
            (
                Material {
                    key: other.key.clone(),
                    ..m.clone()
                },
                Plan::RenewServing,
            ),
            (
                Material {
                    cert: other.cert.clone(),
                    key: other.key.clone(),
                    ..m.clone()
                },
                Plan::RenewServing,
            ),
            (
                Material {
                    cert: "junk".into(),
                    ..m.clone()
                },
                Plan::RenewServing,
            ),
        ];
        for (i, (material, want)) in cases.into_iter().enumerate() {
            assert_eq!(plan(&material, &subject, now), want, "case {i}");
        }
    }

    #[test]
    fn short_lived_certificates() {
        let now = SystemTime::now();
        let subject = Subject::local();
        let v = Duration::from_secs(6);
        let m = new_material(&subject, v, now, None).expect("material");
        let (nb, na) = validity_of(&m.cert).expect("validity");
        assert!(na.duration_since(nb).expect("ordered") <= Duration::from_secs(8));
        assert_eq!(plan(&m, &subject, now), Plan::Keep);
        assert_eq!(
            plan(&m, &subject, now + Duration::from_secs(5)),
            Plan::RenewServing
        );
    }
}
