//! Webhook certificates against a real API server (test-cluster): the shared Secret under
//! concurrent start-up, the CA bundle written into the CRD, a deleted Secret recreated, a
//! short-lived certificate renewed with a reload, and local mode registering the conversion
//! webhook by URL so the API server converts through this process.
//!
//! The tests share one CRD, so they run one at a time (a lock); each stops its task.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::{v1, v2};
use locust_k8s_operator::certs::{self, CertsConfig, Reloader, WebhookCerts};
use locust_k8s_operator::crd::{CRD_NAME, DEFAULT_WEBHOOK_SERVICE, crd};
use locust_k8s_operator::manifest::{AnyLocustTest, parse_documents};
use locust_k8s_operator::metrics::{Metrics, Readiness};
use locust_k8s_operator::server::{self, ServerConfig, ServerState};
use serde_json::json;
use tokio::sync::{Mutex, MutexGuard, OnceCell};

const SECRET: &str = "webhook-tls";

/// One test at a time: they all write the CRD's conversion block.
async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

/// The shared cluster with the generated CRD installed, its conversion block reset to the
/// committed Service reference without a CA bundle.
async fn client() -> Client {
    static CRD: OnceCell<()> = OnceCell::const_new();
    let cluster = test_cluster::shared_named("certs", test_cluster::Options::default)
        .await
        .expect("cluster starts");
    let client = cluster.client().await.expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    CRD.get_or_init(|| async {
        crds.patch(
            CRD_NAME,
            &PatchParams::apply("certs-test").force(),
            &Patch::Apply(&crd().expect("crd generates")),
        )
        .await
        .expect("the API server accepts the CRD");
        for _ in 0..100 {
            let c = crds.get(CRD_NAME).await.expect("crd");
            if c.status.and_then(|s| s.conditions).is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the CRD never became Established");
    })
    .await;
    let conversion = crd().expect("crd").spec.conversion.expect("conversion");
    crds.patch(
        CRD_NAME,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"conversion": {"strategy": "Webhook", "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "url": null,
                "caBundle": null,
                "service": conversion.webhook.and_then(|w| w.client_config).and_then(|c| c.service),
            },
        }}}})),
    )
    .await
    .expect("reset the conversion block");
    client
}

async fn namespace(prefix: &str) -> String {
    let cluster = test_cluster::shared_named("certs", test_cluster::Options::default)
        .await
        .expect("cluster");
    cluster.namespace(prefix).await.expect("namespace")
}

fn config(ns: &str, dir: &std::path::Path, extra: &[(&str, &str)]) -> CertsConfig {
    let mut vars = vec![
        ("WEBHOOK_NAMESPACE".to_string(), ns.to_string()),
        ("WEBHOOK_SECRET_NAME".to_string(), SECRET.to_string()),
        (
            "WEBHOOK_CERT_DIR".to_string(),
            dir.to_string_lossy().into_owned(),
        ),
        (
            "WEBHOOK_CHECK_INTERVAL_SECONDS".to_string(),
            "1".to_string(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    CertsConfig::from_vars(vars).expect("valid config")
}

fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    (n, move || {
        m.fetch_add(1, Ordering::SeqCst);
    })
}

fn secret_text(secret: &Secret, key: &str) -> String {
    let data = secret.data.as_ref().expect("secret data");
    String::from_utf8(data[key].0.clone()).expect("utf-8")
}

async fn crd_bundle(client: &Client) -> Option<String> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let c = crds.get(CRD_NAME).await.expect("crd");
    let cc = c.spec.conversion?.webhook?.client_config?;
    cc.ca_bundle
        .map(|b| String::from_utf8(b.0).expect("utf-8 bundle"))
}

/// Points the CRD's conversion webhook at the default webhook Service in `ns`, as the
/// chart of a release in `ns` does: only that release's operator writes the CRD's CA.
async fn convert_through(client: &Client, ns: &str) {
    Api::<CustomResourceDefinition>::all(client.clone())
        .patch(
            CRD_NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"conversion": {"webhook": {"clientConfig": {
                "service": {"namespace": ns, "name": DEFAULT_WEBHOOK_SERVICE},
            }}}}})),
        )
        .await
        .expect("point the CRD's conversion at this namespace");
}

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn concurrent_replicas_share_one_secret_and_the_crd_trusts_its_ca() {
    let _serial = serial().await;
    let client = client().await;
    let ns = namespace("certs-race").await;
    convert_through(&client, &ns).await;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (ca, cb) = (
        config(&ns, dir_a.path(), &[]),
        config(&ns, dir_b.path(), &[]),
    );
    let (a, b) = tokio::join!(
        certs::start(client.clone(), &ca, || {}),
        certs::start(client.clone(), &cb, || {}),
    );
    let (a, b): (WebhookCerts, WebhookCerts) = (
        a.expect("replica a starts").expect("enabled"),
        b.expect("replica b starts").expect("enabled"),
    );

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let list = secrets.list(&ListParams::default()).await.expect("list");
    let ours: Vec<_> = list
        .items
        .iter()
        .filter(|s| s.name_any() == SECRET)
        .collect();
    assert_eq!(ours.len(), 1);
    let secret = ours[0];
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let served = secret_text(secret, "tls.crt");
    assert_eq!(std::fs::read_to_string(&a.cert_file).expect("a"), served);
    assert_eq!(std::fs::read_to_string(&b.cert_file).expect("b"), served);
    assert_eq!(
        std::fs::read_to_string(&b.key_file).expect("key"),
        secret_text(secret, "tls.key")
    );
    // Both replicas' files load as a matching pair.
    server::CertStore::load(&a.cert_file, &a.key_file).expect("a usable pair");

    // The CRD trusts the Secret's CA.
    assert_eq!(
        crd_bundle(&client).await.as_deref(),
        Some(secret_text(secret, "ca.crt").as_str())
    );
    a.stop();
    b.stop();
}

#[tokio::test]
async fn a_deleted_secret_is_recreated_and_the_crd_follows() {
    let _serial = serial().await;
    let client = client().await;
    let ns = namespace("certs-delete").await;
    convert_through(&client, &ns).await;
    let dir = tempfile::tempdir().expect("dir");
    let (changes, on_change) = counter();
    let certs = certs::start(client.clone(), &config(&ns, dir.path(), &[]), on_change)
        .await
        .expect("starts")
        .expect("enabled");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let first = secrets.get(SECRET).await.expect("secret");
    let first_ca = secret_text(&first, "ca.crt");
    assert_eq!(
        crd_bundle(&client).await.as_deref(),
        Some(first_ca.as_str())
    );
    let first_cert = std::fs::read_to_string(&certs.cert_file).expect("cert");

    secrets
        .delete(SECRET, &DeleteParams::default())
        .await
        .expect("delete");
    let started = std::time::Instant::now();
    eventually(
        "a new Secret with a new CA",
        Duration::from_secs(30),
        || {
            let secrets = secrets.clone();
            let first_ca = first_ca.clone();
            async move {
                secrets
                    .get_opt(SECRET)
                    .await
                    .expect("get")
                    .is_some_and(|s| secret_text(&s, "ca.crt") != first_ca)
            }
        },
    )
    .await;
    let second = secrets.get(SECRET).await.expect("secret");
    let second_ca = secret_text(&second, "ca.crt");
    eventually("the CRD trusts the new CA", Duration::from_secs(10), || {
        let client = client.clone();
        let second_ca = second_ca.clone();
        async move { crd_bundle(&client).await.as_deref() == Some(second_ca.as_str()) }
    })
    .await;
    eventually(
        "files rewritten and reload called",
        Duration::from_secs(10),
        || {
            let cert_file = certs.cert_file.clone();
            let changes = changes.clone();
            let want = secret_text(&second, "tls.crt");
            async move {
                changes.load(Ordering::SeqCst) >= 1
                    && std::fs::read_to_string(&cert_file).is_ok_and(|c| c == want)
            }
        },
    )
    .await;
    assert_ne!(
        std::fs::read_to_string(&certs.cert_file).expect("cert"),
        first_cert
    );
    eprintln!("recreated after {:?}", started.elapsed());
    certs.stop();
}

#[tokio::test]
async fn a_short_lived_certificate_is_renewed_and_reloaded() {
    let _serial = serial().await;
    let client = client().await;
    let ns = namespace("certs-renew").await;
    let dir = tempfile::tempdir().expect("dir");
    let (changes, on_change) = counter();
    let cfg = config(&ns, dir.path(), &[("WEBHOOK_CERT_VALIDITY_SECONDS", "6")]);
    let certs = certs::start(client.clone(), &cfg, on_change)
        .await
        .expect("starts")
        .expect("enabled");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let first = secrets.get(SECRET).await.expect("secret");
    let first_cert = secret_text(&first, "tls.crt");
    let started = std::time::Instant::now();
    eventually("two renewals with reloads", Duration::from_secs(30), || {
        let changes = changes.clone();
        async move { changes.load(Ordering::SeqCst) >= 2 }
    })
    .await;
    eprintln!("two renewals after {:?}", started.elapsed());
    let now = secrets.get(SECRET).await.expect("secret");
    assert_ne!(
        secret_text(&now, "tls.crt"),
        first_cert,
        "the Secret was renewed"
    );
    assert_eq!(
        secret_text(&now, "ca.crt"),
        secret_text(&first, "ca.crt"),
        "serving renewals keep the CA (and the bundle the API server trusts)"
    );
    server::CertStore::load(&certs.cert_file, &certs.key_file).expect("a usable pair");
    certs.stop();
}

fn example(path: &str) -> AnyLocustTest {
    let text = std::fs::read_to_string(path).expect("example");
    parse_documents(&text).expect("example parses").remove(0)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Two self-signed releases in two namespaces: the CRD converts through the first
/// release's Service, so the second writes its own Secret but leaves the CRD's CA bundle
/// alone (it used to replace it, and conversion through the first release broke).
#[tokio::test]
async fn a_second_release_leaves_the_crds_ca_bundle_alone() {
    let _serial = serial().await;
    let client = client().await;
    let (first_ns, second_ns) = (
        namespace("certs-first").await,
        namespace("certs-second").await,
    );
    convert_through(&client, &first_ns).await;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let first = certs::start(client.clone(), &config(&first_ns, dir_a.path(), &[]), || {})
        .await
        .expect("the first release starts")
        .expect("enabled");
    let first_ca = secret_text(
        &Api::<Secret>::namespaced(client.clone(), &first_ns)
            .get(SECRET)
            .await
            .expect("the first release's Secret"),
        "ca.crt",
    );
    assert_eq!(
        crd_bundle(&client).await.as_deref(),
        Some(first_ca.as_str())
    );

    let second = certs::start(
        client.clone(),
        &config(&second_ns, dir_b.path(), &[]),
        || {},
    )
    .await
    .expect("the second release starts")
    .expect("enabled");
    let second_ca = secret_text(
        &Api::<Secret>::namespaced(client.clone(), &second_ns)
            .get(SECRET)
            .await
            .expect("the second release's Secret"),
        "ca.crt",
    );
    assert_ne!(first_ca, second_ca, "each release has its own CA");
    // The second release checks every second (WEBHOOK_CHECK_INTERVAL_SECONDS=1): give it
    // several rounds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        crd_bundle(&client).await.as_deref(),
        Some(first_ca.as_str()),
        "the CRD still trusts the release it converts through"
    );
    second.stop();
    first.stop();
}

#[tokio::test]
async fn local_mode_registers_the_conversion_webhook_by_url_and_survives_renewals() {
    let _serial = serial().await;
    let client = client().await;
    let ns = namespace("certs-local").await;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let cfg = config(
        &ns,
        dir.path(),
        &[
            ("WEBHOOK_MODE", "local"),
            ("WEBHOOK_PORT", &port.to_string()),
            ("WEBHOOK_CERT_VALIDITY_SECONDS", "6"),
        ],
    );
    let reloader = Reloader::new();
    let (changes, counted) = counter();
    let callback = reloader.callback();
    let certs = certs::start(client.clone(), &cfg, move || {
        counted();
        callback();
    })
    .await
    .expect("starts")
    .expect("enabled");
    let bound = server::bind(
        ServerConfig {
            addr: format!("127.0.0.1:{port}").parse().expect("addr"),
            cert_file: certs.cert_file.clone(),
            key_file: certs.key_file.clone(),
        },
        ServerState::new(Arc::new(Metrics::new().expect("metrics")), Readiness::new()),
    )
    .await
    .expect("server binds");
    reloader.attach(bound.certificates());
    let server = tokio::spawn(bound.run(std::future::pending()));

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let cc = crds
        .get(CRD_NAME)
        .await
        .expect("crd")
        .spec
        .conversion
        .and_then(|c| c.webhook)
        .and_then(|w| w.client_config)
        .expect("client config");
    assert_eq!(
        cc.url.as_deref(),
        Some(format!("https://127.0.0.1:{port}/convert").as_str())
    );
    assert!(cc.service.is_none());
    assert!(cc.ca_bundle.is_some());

    let vwc =
        Api::<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration>::all(
            client.clone(),
        )
        .get(&cfg.webhook_config_name)
        .await
        .expect("the validating webhook is registered");
    let hooks = vwc.webhooks.expect("webhooks");
    assert_eq!(
        hooks[0].client_config.url.as_deref(),
        Some(format!("https://127.0.0.1:{port}/validate").as_str())
    );
    assert_eq!(hooks[0].client_config.ca_bundle, cc.ca_bundle);

    let AnyLocustTest::V1(test) = example("examples/v1.yaml") else {
        panic!("v1 example")
    };
    let v1_api: Api<v1::LocustTest> = Api::namespaced(client.clone(), &ns);
    let v2_api: Api<v2::LocustTest> = Api::namespaced(client.clone(), &ns);
    v1_api
        .create(&PostParams::default(), &test)
        .await
        .expect("the API server converts a v1 test through the local webhook");
    let as_v2 = v2_api.get("legacy-test").await.expect("read as v2");
    assert_eq!(as_v2.spec.worker.replicas, 3);
    assert_eq!(as_v2.spec.image, test.spec.image);

    // Renewals (6-second certificates) keep the webhook reachable.
    eventually("two renewals", Duration::from_secs(30), || {
        let changes = changes.clone();
        async move { changes.load(Ordering::SeqCst) >= 2 }
    })
    .await;
    let as_v1 = v1_api
        .get("legacy-test")
        .await
        .expect("read as v1 after renewals");
    assert_eq!(as_v1.spec, test.spec);
    assert_eq!(
        v1_api
            .list(&ListParams::default())
            .await
            .expect("v1 list")
            .items
            .len(),
        1
    );
    certs.stop();
    server.abort();
}

#[tokio::test]
async fn disabled_builds_nothing_and_files_mode_only_watches() {
    let _serial = serial().await;
    let client = client().await;
    let dir = tempfile::tempdir().expect("dir");
    let certs_dir = dir.path().join("certs");
    let disabled = config("unused", &certs_dir, &[("WEBHOOK_MODE", "disabled")]);
    let none = certs::start(client.clone(), &disabled, || panic!("no callback"))
        .await
        .expect("disabled starts");
    assert!(none.is_none());
    assert!(!certs_dir.exists(), "disabled writes nothing");

    let files = config("unused", &certs_dir, &[("WEBHOOK_MODE", "files")]);
    let err = certs::start(client.clone(), &files, || {})
        .await
        .expect_err("nothing mounted");
    assert!(err.to_string().contains("WEBHOOK_CERT_DIR"), "{err}");

    std::fs::create_dir_all(&certs_dir).expect("mkdir");
    std::fs::write(files.cert_file(), "cert v1").expect("write");
    std::fs::write(files.key_file(), "key v1").expect("write");
    let (changes, on_change) = counter();
    let watching = certs::start(client.clone(), &files, on_change)
        .await
        .expect("files mode starts")
        .expect("enabled");
    assert_eq!(watching.cert_file, files.cert_file());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        changes.load(Ordering::SeqCst),
        0,
        "unchanged files: no reload"
    );
    std::fs::write(files.cert_file(), "cert v2").expect("rotate");
    eventually("reload after a rotation", Duration::from_secs(10), || {
        let changes = changes.clone();
        async move { changes.load(Ordering::SeqCst) == 1 }
    })
    .await;
    watching.stop();
}

#[tokio::test]
async fn the_charts_validating_webhook_gets_the_ca_bundle_and_keeps_its_other_fields() {
    use k8s_openapi::api::admissionregistration::v1::{
        RuleWithOperations, ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration,
        WebhookClientConfig,
    };
    let _serial = serial().await;
    let client = client().await;
    let ns = namespace("certs-vwc").await;
    let name = format!("{ns}-hooks");
    // As a chart would install it; rules that match nothing, so no other test is affected.
    let hook = |n: &str| ValidatingWebhook {
        name: format!("{n}.locust.io"),
        admission_review_versions: vec!["v1".into()],
        client_config: WebhookClientConfig {
            service: Some(ServiceReference {
                name: "locust-k8s-operator-webhook".into(),
                namespace: ns.clone(),
                path: Some("/validate".into()),
                port: Some(443),
            }),
            ..WebhookClientConfig::default()
        },
        failure_policy: Some("Ignore".into()),
        rules: Some(vec![RuleWithOperations {
            api_groups: Some(vec!["example.invalid".into()]),
            api_versions: Some(vec!["v1".into()]),
            operations: Some(vec!["CREATE".into()]),
            resources: Some(vec!["nothings".into()]),
            scope: Some("*".into()),
        }]),
        side_effects: "None".into(),
        timeout_seconds: Some(7),
        ..ValidatingWebhook::default()
    };
    let vwc = ValidatingWebhookConfiguration {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        webhooks: Some(vec![hook("a"), hook("b")]),
    };
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    api.create(&PostParams::default(), &vwc)
        .await
        .expect("create the chart's configuration");

    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&ns, dir.path(), &[("WEBHOOK_CONFIG_NAME", &name)]);
    let certs = certs::start(client.clone(), &cfg, || {})
        .await
        .expect("starts")
        .expect("enabled");
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get(SECRET)
        .await
        .expect("secret");
    let ca = secret_text(&secret, "ca.crt");
    let after = api.get(&name).await.expect("read back");
    let hooks = after.webhooks.clone().expect("webhooks");
    assert_eq!(hooks.len(), 2);
    for (got, want) in hooks.iter().zip([hook("a"), hook("b")]) {
        assert_eq!(
            got.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()),
            Some(ca.as_bytes())
        );
        assert_eq!(got.client_config.service, want.client_config.service);
        assert_eq!(got.rules, want.rules);
        assert_eq!(got.timeout_seconds, Some(7));
        assert_eq!(got.failure_policy.as_deref(), Some("Ignore"));
    }
    // Steady state writes nothing: neither object changes over a few check intervals.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd_version = crds.get(CRD_NAME).await.expect("crd").resource_version();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        api.get(&name).await.expect("vwc").resource_version(),
        after.metadata.resource_version
    );
    assert_eq!(
        crds.get(CRD_NAME).await.expect("crd").resource_version(),
        crd_version
    );
    certs.stop();
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("clean up");
}
