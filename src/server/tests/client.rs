//! A minimal HTTPS client for the tests: tokio-rustls trusting one CA, then hyper's
//! HTTP/1.1 or HTTP/2 client connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::server::tls::crypto_provider;

/// Which HTTP version to speak (offered through ALPN).
#[derive(Clone, Copy, Debug)]
pub(super) enum Http {
    One,
    Two,
}

/// What a request brought back.
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// The certificate the server presented.
    pub server_cert: CertificateDer<'static>,
}

/// Opens a TLS connection to `addr` trusting only `ca`, verifying the name 127.0.0.1.
pub(super) async fn connect(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    http: Http,
) -> Result<TlsStream<TcpStream>, std::io::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).expect("CA certificate");
    let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![match http {
        Http::One => b"http/1.1".to_vec(),
        Http::Two => b"h2".to_vec(),
    }];
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()), tcp)
        .await
}

/// One request over a new connection.
pub(super) async fn request(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    http: Http,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> Reply {
    let tls = connect(addr, ca, http).await.expect("TLS handshake");
    let (_, session) = tls.get_ref();
    let server_cert = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("a server certificate")
        .clone();
    let uri = match http {
        Http::One => path.to_owned(),
        Http::Two => format!("https://{addr}{path}"),
    };
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let io = TokioIo::new(tls);
    let response = match http {
        Http::One => {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("HTTP/1.1 handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("response")
        }
        Http::Two => {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .expect("HTTP/2 handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("response")
        }
    };
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    Reply {
        status,
        body,
        server_cert,
    }
}
