//! The server over real TLS on 127.0.0.1: conversion, health, reload, TLS versions,
//! start-up errors and shutdown.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::core::conversion::ConversionReview;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::certs::TestPki;
use super::client::{Http, connect, request};
use super::{review_body, state, v1_object};
use crate::metrics::Readiness;
use crate::server::{ServerConfig, ServerError, bind};

/// A running server and how to stop it.
struct Running {
    addr: SocketAddr,
    certificates: Arc<crate::server::CertStore>,
    readiness: Readiness,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(pki: &TestPki) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert_file, key_file) = pki.write_to(dir.path());
        let state = state();
        let readiness = state.readiness.clone();
        let server = bind(
            ServerConfig {
                addr: (Ipv4Addr::LOCALHOST, 0).into(),
                cert_file,
                key_file,
            },
            state,
        )
        .await
        .expect("binds");
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        let certificates = server.certificates();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            certificates,
            readiness,
            stop,
            task,
            _dir: dir,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stops in time")
            .expect("task")
            .expect("runs without error");
    }
}

fn review_bytes(uid: &str, desired: &str) -> Vec<u8> {
    serde_json::to_vec(&review_body(uid, desired, vec![v1_object("over-tls")])).expect("encode")
}

#[tokio::test]
async fn converts_over_https_with_http1_and_http2() {
    let pki = TestPki::new("CA");
    let server = Running::start(&pki).await;
    for http in [Http::One, Http::Two] {
        let reply = request(
            server.addr,
            &pki.ca,
            http,
            "POST",
            "/convert",
            review_bytes("tls-uid", "locust.io/v2"),
        )
        .await;
        assert_eq!(reply.status, 200, "{http:?}");
        assert_eq!(reply.server_cert, pki.serving);
        let review: ConversionReview = serde_json::from_slice(&reply.body).expect("a review");
        let response = review.response.expect("a response");
        assert_eq!(response.uid, "tls-uid");
        assert!(response.result.is_success(), "{}", response.result.message);
        let object = &response.converted_objects[0];
        assert_eq!(object["apiVersion"], "locust.io/v2");
        assert_eq!(object["metadata"]["name"], "over-tls");
        assert_eq!(object["spec"]["worker"]["replicas"], 3);
    }
    server.stop().await;
}

#[tokio::test]
async fn health_probes_answer_ok() {
    let pki = TestPki::new("CA");
    let server = Running::start(&pki).await;
    let get =
        |path: &'static str| request(server.addr, &pki.ca, Http::One, "GET", path, Vec::new());
    let reply = get("/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"ok");
    // Serving, but the controller has not synced yet.
    assert!(server.readiness.webhook_serving());
    let reply = get("/readyz").await;
    assert_eq!(reply.status, 503);
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(text.contains("caches"), "{text}");
    assert!(!text.contains("webhook"), "{text}");
    server.readiness.set_controller_synced();
    let reply = get("/readyz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"ok");
    let reply = get("/metrics").await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(text.contains("locust_operator_build_info"), "{text}");
    let reply = request(server.addr, &pki.ca, Http::One, "GET", "/nope", Vec::new()).await;
    assert_eq!(reply.status, 404);
    server.stop().await;
}

/// Measures a new connection (TCP + TLS handshake) plus one conversion, in a debug build.
#[tokio::test]
async fn handshake_and_conversion_latency() {
    const ROUNDS: u32 = 20;
    let pki = TestPki::new("CA");
    let server = Running::start(&pki).await;
    let body = review_bytes("latency", "locust.io/v2");
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let reply = request(
            server.addr,
            &pki.ca,
            Http::Two,
            "POST",
            "/convert",
            body.clone(),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    let each = started.elapsed() / ROUNDS;
    eprintln!("new TLS connection + one conversion over HTTP/2: {each:?} on average");
    assert!(each < Duration::from_secs(2), "{each:?}");
    server.stop().await;
}

#[tokio::test]
async fn reload_serves_the_new_certificate_to_new_handshakes() {
    let first = TestPki::new("first CA");
    let server = Running::start(&first).await;
    let reply = request(
        server.addr,
        &first.ca,
        Http::One,
        "GET",
        "/healthz",
        Vec::new(),
    )
    .await;
    assert_eq!(reply.server_cert, first.serving);

    let second = TestPki::new("second CA");
    second.write_to(server._dir.path());
    server.certificates.reload().expect("reloads");

    let reply = request(
        server.addr,
        &second.ca,
        Http::One,
        "GET",
        "/healthz",
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.server_cert, second.serving);
    // A client that trusts only the old CA no longer gets through.
    assert!(connect(server.addr, &first.ca, Http::One).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn tls12_clients_are_served() {
    let pki = TestPki::new("CA");
    let server = Running::start(&pki).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).expect("CA");
    let config = rustls::ClientConfig::builder_with_provider(crate::server::tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(Ipv4Addr::LOCALHOST.into(), tcp)
        .await
        .expect("TLS 1.2 handshake");
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    server.stop().await;
}

#[tokio::test]
async fn start_up_errors_name_the_address_or_file() {
    let pki = TestPki::new("CA");
    let server = Running::start(&pki).await;
    let (cert_file, key_file) = pki.write_to(server._dir.path());

    let error = bind(
        ServerConfig {
            addr: server.addr,
            cert_file: cert_file.clone(),
            key_file: key_file.clone(),
        },
        state(),
    )
    .await
    .expect_err("the port is taken");
    assert!(matches!(error, ServerError::Bind { .. }), "{error}");
    assert!(
        error.to_string().contains(&server.addr.to_string()),
        "{error}"
    );

    let error = bind(
        ServerConfig {
            addr: (Ipv4Addr::LOCALHOST, 0).into(),
            cert_file: server._dir.path().join("absent.crt"),
            key_file,
        },
        state(),
    )
    .await
    .expect_err("no certificate file");
    assert!(error.to_string().contains("absent.crt"), "{error}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let pki = TestPki::new("CA");
    let server = Running::start(&pki).await;
    let addr = server.addr;
    // An idle open connection must not hold shutdown up.
    let _idle = connect(addr, &pki.ca, Http::One).await.expect("connects");
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
