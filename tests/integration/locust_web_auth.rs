//! `spec.webUI.auth` against real Locust 2.43 (the venv of `tests/locust/install.sh`): the
//! master started with the exact container the builders produce (its credentials from the
//! Secret's keys, its plugin file projected from the pod annotation, as the kubelet would;
//! see `tests/integration/common/local_locust.rs`) refuses the web UI and its API without the
//! credentials, and the operator's Locust client reads the statistics with them.
//!
//! The image's own `locust_plugins`, if it has one, still loads: a stand-in package later
//! on `PYTHONPATH` (where site-packages would be) proves the hand-over.

use crate::common;

use std::fs;
use std::time::{Duration, Instant};

use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::builders::Role;
use locust_k8s_operator::locust::{BasicAuth, LocustError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::local_locust::{LOCUST_VERSION, Run, container, start_target};

const USER: &str = "perf";
/// A password with a colon: only the first colon of `user:password` separates them.
const PASSWORD: &str = "s3cret:with-colon";

fn locust_test(target: &str) -> LocustTest {
    serde_json::from_value(json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": {"name": "auth-test", "namespace": "default"},
        "spec": {
            "image": format!("locustio/locust:{LOCUST_VERSION}"),
            "master": {
                "command": "locust -f /lotest/src/locustfile.py",
                "autoquit": {"enabled": true, "timeout": 30},
                "extraArgs": ["--users", "4", "--spawn-rate", "4", "--run-time", "60s"],
            },
            "worker": {"command": "locust -f /lotest/src/locustfile.py", "replicas": 1},
            "testFiles": {"configMapRef": "tests"},
            "env": {"variables": [
                {"name": "CUSTOM_VAR", "value": "static-value"},
                {"name": "TARGET_HOST", "value": target},
            ]},
            "webUI": {
                "basePath": "/locust",
                "auth": {"secretRef": {"name": "login", "passwordKey": "pw"}},
            },
        },
    }))
    .expect("a valid LocustTest")
}

/// A raw GET with an optional Authorization header: status code and header block.
async fn get(port: u16, path: &str, authorization: Option<&str>) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {text:.80}"))?;
    let head = text
        .split_once("\r\n\r\n")
        .map_or(text.clone(), |(h, _)| h.to_string());
    Ok((code, head))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_refuses_without_credentials_and_the_poller_reads_stats_with_them() {
    let target = start_target().await;
    let test = locust_test(&format!("http://127.0.0.1:{target}"));
    let mut run = Run::new(&test).await;
    run.mapping.secrets = vec![
        ("login".into(), "username".into(), USER.into()),
        ("login".into(), "pw".into(), PASSWORD.into()),
    ];
    // A stand-in for a `locust_plugins` installed in the image: it must still load.
    let site = run.dir.path().join("site");
    fs::create_dir_all(site.join("locust_plugins")).expect("site dir");
    let marker = run.dir.path().join("installed-plugins-loaded");
    fs::write(
        site.join("locust_plugins/__init__.py"),
        format!(
            "open({:?}, 'w').write('yes')\n",
            marker.display().to_string()
        ),
    )
    .expect("stand-in plugin");
    let master = container(&run.children, Role::Master);
    let (bin, args, mut env) = run.mapping.map(&master, Role::Master);
    for (name, value) in &mut env {
        if name == "PYTHONPATH" {
            value.push_str(&format!(":{}", site.display()));
        }
    }
    let dir = run.dir.path().to_path_buf();
    run.procs.spawn("master", &dir, (bin, args, env));
    run.start(Role::Worker, "worker");

    let port = run.mapping.web_port;
    let basic = |user: &str, password: &str| {
        use base64::Engine;
        let pair = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    // Without credentials the UI and the API answer 401 with a challenge.
    let until = Instant::now() + Duration::from_secs(60);
    let (code, head) = loop {
        match get(port, "/locust/", None).await {
            Ok(answer) => break answer,
            Err(e) => {
                assert!(Instant::now() < until, "the master never answered: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    assert_eq!(code, 401, "{head}");
    assert!(head.contains("WWW-Authenticate: Basic"), "{head}");
    for path in ["/locust/stats/requests", "/locust/stats/report"] {
        assert_eq!(get(port, path, None).await.map(|a| a.0), Ok(401), "{path}");
        let wrong = basic(USER, "s3cret");
        assert_eq!(
            get(port, path, Some(&wrong)).await.map(|a| a.0),
            Ok(401),
            "{path}"
        );
    }
    let right = basic(USER, PASSWORD);
    assert_eq!(
        get(port, "/locust/", Some(&right)).await.map(|a| a.0),
        Ok(200)
    );

    // The operator's client: refused without the credentials, reads the run with them.
    let anonymous = run.client(Some("/locust"));
    let refused = anonymous
        .stats()
        .await
        .expect_err("401 without credentials");
    assert!(
        matches!(refused, LocustError::Status { status: 401, .. }),
        "{refused}"
    );
    let client = run
        .client(Some("/locust"))
        .with_basic_auth(BasicAuth::new(USER.as_bytes(), PASSWORD.as_bytes()));
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        match client.stats().await {
            Ok(s) if s.worker_count == 1 && s.totals().requests > 0 => break,
            other => {
                assert!(Instant::now() < until, "no requests counted: {other:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let report = client
        .report()
        .await
        .expect("the HTML report with credentials");
    assert!(
        String::from_utf8_lossy(&report).contains("<html"),
        "an HTML report"
    );
    assert_eq!(
        fs::read_to_string(&marker).ok().as_deref(),
        Some("yes"),
        "the image's own locust_plugins is still imported"
    );
}
