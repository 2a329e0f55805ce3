//! Loading and reloading certificates, and what the errors say.

use std::fs;

use super::certs::TestPki;
use crate::server::tls::{CertStore, TlsError};

#[test]
fn loads_a_pair_and_reloads_a_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = TestPki::new("first CA");
    let (cert, key) = first.write_to(dir.path());
    let store = CertStore::load(&cert, &key).expect("loads");
    assert_eq!(store.current().cert[0], first.serving);

    let second = TestPki::new("second CA");
    second.write_to(dir.path());
    store.reload().expect("reloads");
    assert_eq!(store.current().cert[0], second.serving);
}

#[test]
fn a_failed_reload_keeps_the_current_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new("CA");
    let (cert, key) = pki.write_to(dir.path());
    let store = CertStore::load(&cert, &key).expect("loads");

    // A rotation caught half-way: the new certificate, the old key.
    fs::write(&cert, TestPki::new("other CA").cert_pem).expect("write");
    let error = store.reload().expect_err("mismatched pair");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    assert_eq!(store.current().cert[0], pki.serving);

    fs::write(&cert, "").expect("write");
    assert!(store.reload().is_err());
    assert_eq!(store.current().cert[0], pki.serving);
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new("CA");
    let (cert, key) = pki.write_to(dir.path());
    let missing = dir.path().join("missing.crt");

    let error = CertStore::load(&missing, &key).expect_err("missing file");
    assert!(matches!(error, TlsError::ReadFile { .. }));
    let message = error.to_string();
    assert!(
        message.starts_with("cannot read certificate file"),
        "{message}"
    );
    assert!(message.contains("missing.crt"), "{message}");

    let empty = dir.path().join("empty.pem");
    fs::write(&empty, "").expect("write");
    let error = CertStore::load(&empty, &key).expect_err("no certificate");
    assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
    assert!(error.to_string().contains("empty.pem"), "{error}");

    // A certificate where the key should be.
    let error = CertStore::load(&cert, &cert).expect_err("no key");
    assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error}");
    assert!(error.to_string().contains("tls.crt"), "{error}");

    let garbled = dir.path().join("garbled.crt");
    fs::write(
        &garbled,
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let error = CertStore::load(&garbled, &key).expect_err("bad PEM");
    assert!(matches!(error, TlsError::Pem { .. }), "{error}");
    assert!(error.to_string().contains("garbled.crt"), "{error}");

    let other_key = dir.path().join("other.key");
    fs::write(&other_key, TestPki::new("other").key_pem).expect("write");
    let error = CertStore::load(&cert, &other_key).expect_err("mismatch");
    let message = error.to_string();
    assert!(
        message.contains("other.key") && message.contains("tls.crt"),
        "{message}"
    );
}

#[test]
fn debug_output_never_shows_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new("CA");
    let (cert, key) = pki.write_to(dir.path());
    let store = CertStore::load(&cert, &key).expect("loads");
    let debug = format!("{store:?}");
    assert!(debug.contains("tls.crt"), "{debug}");
    assert!(!debug.contains("PRIVATE"), "{debug}");
}
