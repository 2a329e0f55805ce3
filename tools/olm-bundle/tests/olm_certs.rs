//! The bundle's certificate setting works with the way OLM delivers certificates: the
//! operator, configured with the CSV's own environment (`WEBHOOK_MODE=files`,
//! `WEBHOOK_CERT_DIR`), serves the pair from a Secret volume laid out like the kubelet
//! writes one (`tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>`), and picks up a
//! rotation, which the kubelet makes by swapping the `..data` link.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::committed_csv;
use locust_k8s_operator::certs::{self, CertsConfig, Reloader, WebhookMode};
use locust_k8s_operator::metrics::{Metrics, Readiness};
use locust_k8s_operator::server::{self, CertStore, ServerConfig, ServerState};
use test_cluster::certs::Pki;

/// Writes one generation of the Secret volume and points `..data` at it, atomically.
fn publish(dir: &Path, generation: &str, pki: &Pki) {
    let data = dir.join(generation);
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("tls.crt"), &pki.serving.cert_pem).expect("cert");
    std::fs::write(data.join("tls.key"), &pki.serving.key_pem).expect("key");
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(generation, &tmp).expect("symlink");
    std::fs::rename(&tmp, dir.join("..data")).expect("swap ..data");
    for file in ["tls.crt", "tls.key"] {
        if std::fs::symlink_metadata(dir.join(file)).is_err() {
            std::os::unix::fs::symlink(format!("..data/{file}"), dir.join(file)).expect("link");
        }
    }
}

fn served_cert(store: &CertStore) -> Vec<u8> {
    store.current().cert[0].as_ref().to_vec()
}

#[tokio::test]
async fn files_mode_serves_and_reloads_an_olm_style_secret_volume() {
    // The CSV's environment, with its certificate folder moved into a temporary one.
    let csv = committed_csv();
    let env =
        csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"]
            [0]["env"]
            .as_array()
            .expect("env")
            .clone();
    let olm_dir = env
        .iter()
        .find(|e| e["name"] == "WEBHOOK_CERT_DIR")
        .and_then(|e| e["value"].as_str())
        .expect("WEBHOOK_CERT_DIR")
        .to_string();
    assert_eq!(olm_dir, "/tmp/k8s-webhook-server/serving-certs");
    let root = tempfile::tempdir().expect("tempdir");
    let mount = root.path().join(olm_dir.trim_start_matches('/'));
    std::fs::create_dir_all(&mount).expect("mount point");
    let mut vars: Vec<(String, String)> = env
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .map(|(k, v)| {
            if k == "WEBHOOK_CERT_DIR" {
                (k, mount.to_string_lossy().into_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    vars.push(("WEBHOOK_CHECK_INTERVAL_SECONDS".into(), "1".into()));
    let config = CertsConfig::from_vars(vars).expect("the CSV's certificate settings");
    assert_eq!(config.mode, WebhookMode::Files);

    let first = Pki::generate().expect("first pair");
    publish(&mount, "..2026_11_24_00_00_00.1", &first);

    // No API server is contacted in files mode; the client only satisfies the signature.
    let client = kube::Client::try_from(kube::Config::new(
        "https://127.0.0.1:9".parse().expect("url"),
    ))
    .expect("client");
    let reloader = Reloader::new();
    let webhook = certs::start(client, &config, reloader.callback())
        .await
        .expect("files mode starts on the mounted pair")
        .expect("webhooks enabled");
    let bound = server::bind(
        ServerConfig {
            addr: "127.0.0.1:0".parse().expect("addr"),
            cert_file: webhook.cert_file.clone(),
            key_file: webhook.key_file.clone(),
        },
        ServerState::new(Arc::new(Metrics::new().expect("metrics")), Readiness::new()),
    )
    .await
    .expect("the HTTPS server loads the mounted pair");
    let store = bound.certificates();
    reloader.attach(store.clone());
    let expected = |dir: &str| {
        let data = mount.join(dir);
        served_cert(&CertStore::load(data.join("tls.crt"), data.join("tls.key")).expect("load"))
    };
    assert_eq!(served_cert(&store), expected("..2026_11_24_00_00_00.1"));

    // OLM rotates: the kubelet writes a new generation and swaps `..data`.
    let second = Pki::generate().expect("second pair");
    publish(&mount, "..2026_11_25_00_00_00.2", &second);
    let want = expected("..2026_11_25_00_00_00.2");
    let deadline = Instant::now() + Duration::from_secs(15);
    while served_cert(&store) != want {
        assert!(
            Instant::now() < deadline,
            "the rotated certificate is served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    webhook.stop();
}
