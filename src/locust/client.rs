//! The HTTP client: plain HTTP/1.1 over one short-lived connection per request.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{LocustError, MasterStats, MasterUrl, parse_stats};

/// Default time-out of a stats request (connect, send, read the whole answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time-out of a report download (the master renders the HTML on demand).
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer the client reads (an HTML report of a big test is a few MiB).
pub const MAX_REPORT_BYTES: usize = 32 * 1024 * 1024;
/// Largest `/stats/requests` answer the client reads.
const MAX_STATS_BYTES: usize = 8 * 1024 * 1024;

/// HTTP basic-authentication credentials of a master's web UI (`spec.webUI.auth`). They
/// never show in logs: the `Debug` output hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    header: HeaderValue,
}

impl BasicAuth {
    /// Credentials of `username` with `password` (raw bytes, as stored in the Secret).
    pub fn new(username: &[u8], password: &[u8]) -> Self {
        let mut pair = Vec::with_capacity(username.len() + password.len() + 1);
        pair.extend_from_slice(username);
        pair.push(b':');
        pair.extend_from_slice(password);
        let encoded = format!("Basic {}", STANDARD.encode(pair));
        // Base64 is always a valid header value.
        let mut header = HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static(""));
        header.set_sensitive(true);
        BasicAuth { header }
    }
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(<hidden>)")
    }
}

/// A client of one Locust master's HTTP API. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct LocustClient {
    base: MasterUrl,
    timeout: Duration,
    report_timeout: Duration,
    auth: Option<BasicAuth>,
}

impl LocustClient {
    /// A client of the master at `base`, with the default time-outs.
    pub fn new(base: MasterUrl) -> Self {
        LocustClient {
            base,
            timeout: DEFAULT_TIMEOUT,
            report_timeout: DEFAULT_REPORT_TIMEOUT,
            auth: None,
        }
    }

    /// Sends these credentials with every request (a master with `spec.webUI.auth`).
    pub fn with_basic_auth(mut self, auth: BasicAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Sets the time-out of stats requests.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the time-out of report downloads.
    pub fn with_report_timeout(mut self, timeout: Duration) -> Self {
        self.report_timeout = timeout;
        self
    }

    /// The master's base URL.
    pub fn base(&self) -> &MasterUrl {
        &self.base
    }

    /// `GET {base}/stats/requests`, parsed.
    pub async fn stats(&self) -> Result<MasterStats, LocustError> {
        Ok(self.stats_with_body().await?.0)
    }

    /// `GET {base}/stats/requests`: parsed, and the answer as the master sent it (JSON).
    pub async fn stats_with_body(&self) -> Result<(MasterStats, Bytes), LocustError> {
        let endpoint = "/stats/requests";
        let url = self.base.endpoint(endpoint);
        let body = self.get(endpoint, self.timeout, MAX_STATS_BYTES).await?;
        let stats = parse_stats(&body).map_err(|source| LocustError::Decode { url, source })?;
        Ok((stats, body))
    }

    /// `GET {base}/stats/report?download=1`: the HTML report.
    pub async fn report(&self) -> Result<Vec<u8>, LocustError> {
        Ok(self
            .get(
                "/stats/report?download=1",
                self.report_timeout,
                MAX_REPORT_BYTES,
            )
            .await?
            .to_vec())
    }

    /// `GET` of `endpoint` under the base URL, the whole exchange bounded by `timeout`.
    async fn get(
        &self,
        endpoint: &str,
        timeout: Duration,
        limit: usize,
    ) -> Result<Bytes, LocustError> {
        let url = self.base.endpoint(endpoint);
        let path = format!("{}{}", self.base.path(), endpoint);
        match tokio::time::timeout(timeout, self.get_inner(&url, &path, limit)).await {
            Ok(r) => r,
            Err(_) => Err(LocustError::Timeout {
                url,
                after: timeout,
            }),
        }
    }

    async fn get_inner(&self, url: &str, path: &str, limit: usize) -> Result<Bytes, LocustError> {
        let http = |source| LocustError::Http {
            url: url.to_string(),
            source,
        };
        let stream = TcpStream::connect((self.base.host(), self.base.port()))
            .await
            .map_err(|source| LocustError::Connect {
                url: url.to_string(),
                source,
            })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // The connection task ends when the answer is read and the sender dropped (or when
        // the time-out drops this future, which drops the sender and the socket).
        let conn = tokio::spawn(conn);
        let mut request = hyper::Request::get(path)
            .header(hyper::header::HOST, self.base.authority())
            .header(hyper::header::CONNECTION, "close");
        if let Some(auth) = &self.auth {
            request = request.header(hyper::header::AUTHORIZATION, auth.header.clone());
        }
        let request =
            request
                .body(Empty::<Bytes>::new())
                .map_err(|e| LocustError::InvalidTemplate {
                    template: url.to_string(),
                    reason: e.to_string(),
                })?;
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            conn.abort();
            return Err(LocustError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(source) => http(*source),
                Err(_) => LocustError::TooLarge {
                    url: url.to_string(),
                    limit,
                },
            })?
            .to_bytes();
        drop(sender);
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::locust::master_url;

    /// A server answering requests under `/lb/` with `answer` (404 elsewhere; nothing at
    /// all when `None`), and a client of it with base path `/lb`.
    async fn server(answer: Option<&'static str>) -> LocustClient {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("");
                    match answer {
                        Some(_) if !path.starts_with("/lb/") => {
                            let _ = s
                                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                                .await;
                        }
                        Some(a) => {
                            let _ = s.write_all(a.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        let url =
            master_url(&format!("http://127.0.0.1:{port}"), "s", "n", Some("/lb")).expect("url");
        LocustClient::new(url).with_timeout(Duration::from_millis(300))
    }

    #[test]
    fn credentials_never_print() {
        let auth = BasicAuth::new(b"perf", b"s3cret");
        assert_eq!(auth.header, "Basic cGVyZjpzM2NyZXQ=");
        assert_eq!(format!("{auth:?}"), "BasicAuth(<hidden>)");
        let url = master_url("http://127.0.0.1:1", "s", "n", None).expect("url");
        let client = LocustClient::new(url).with_basic_auth(auth);
        let printed = format!("{client:?}");
        assert!(
            !printed.contains("cGVy") && !printed.contains("s3cret"),
            "{printed}"
        );
    }

    #[tokio::test]
    async fn reads_stats_under_the_base_path() {
        let body = r#"{"state":"running","worker_count":3,"stats":[{"name":"Aggregated","num_requests":7}]}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let c = server(Some(answer)).await;
        let s = c.stats().await.expect("stats");
        assert_eq!(s.worker_count, 3);
        assert_eq!(s.totals().requests, 7);
        assert_eq!(c.report().await.expect("report"), body.as_bytes());
    }

    #[tokio::test]
    async fn errors_are_typed() {
        let c = server(Some("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")).await;
        let e = c.stats().await.expect_err("404");
        assert!(matches!(e, LocustError::Status { status: 404, .. }), "{e}");
        assert!(e.to_string().contains("/lb/stats/requests"), "{e}");

        let c = server(Some("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n<html>")).await;
        let e = c.stats().await.expect_err("not json");
        assert!(matches!(e, LocustError::Decode { .. }), "{e}");

        let c = server(None).await;
        let e = c.stats().await.expect_err("silent");
        assert!(matches!(e, LocustError::Timeout { .. }), "{e}");

        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let url = master_url(&format!("http://127.0.0.1:{port}"), "s", "n", None).expect("url");
        let e = LocustClient::new(url)
            .stats()
            .await
            .expect_err("closed port");
        assert!(matches!(e, LocustError::Connect { .. }), "{e}");
    }
}
