//! Real Locust run as local processes (from the venv `tests/locust/install.sh` makes), a
//! tiny HTTP target for it, and free loopback ports: shared by `tests/locust_real.rs`
//! and `tests/controller_locust.rs`.

use std::path::PathBuf;
use std::process::{Child, Command};

/// The pinned Locust version (keep in step with `tests/locust/requirements.txt`).
pub const LOCUST_VERSION: &str = "2.43.1";
/// The locustfile the local runs use.
pub const LOCUSTFILE: &str = include_str!("../locust/locustfile.py");

/// The `locust` executable: `LOCUST_BIN`, or the venv `tests/locust/install.sh` creates.
/// Fails (never skips) with how to install it.
pub fn locust_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("LOCUST_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "LOCUST_BIN={} does not exist; run tests/locust/install.sh",
            bin.display()
        );
        return bin;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    let venv = cache
        .join("locust-k8s-operator")
        .join(format!("venv-locust-{LOCUST_VERSION}"));
    let bin = venv.join("bin").join("locust");
    assert!(
        bin.is_file() && venv.join(".installed").is_file(),
        "Locust {LOCUST_VERSION} is not installed (looked for {}): run `tests/locust/install.sh` \
         (needs python3 and PyPI; `make locust` and `.ci/run` do it) or set LOCUST_BIN to a \
         locust executable",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The load target on 127.0.0.1: `/ok` answers 200, everything else 500.
pub async fn start_target() -> u16 {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind target");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: hyper::Request<_>| async move {
                    let status = if req.uri().path() == "/ok" { 200 } else { 500 };
                    hyper::Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from_static(b"hi")))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// Kills the process group of a child started with `process_group(0)` (which includes the
/// processes a worker forks for `--processes`) and reaps it.
pub fn kill_group(child: &mut Child) {
    if child.try_wait().ok().flatten().is_none() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
    }
    let _ = child.wait();
}
