//! The generated CRD in a real API server (test-cluster): the spec's full v2 example and a
//! v1 example stored and read back through both versions, conversion served by the
//! operator's own HTTPS `/convert` endpoint, and invalid tests rejected by the API server.

use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, WebhookClientConfig,
};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::{v1, v2};
use locust_k8s_operator::conversion::{V2_SPEC_ANNOTATION, v1_to_v2};
use locust_k8s_operator::crd::{CONVERT_PATH, CRD_NAME, crd};
use locust_k8s_operator::manifest::{AnyLocustTest, parse_documents};
use locust_k8s_operator::server::{self, ServerConfig};
use test_cluster::certs::Pki;
use test_cluster::fixtures::{invalid_cases, valid_base};
use tokio::sync::OnceCell;

/// The conversion webhook, served for the whole test binary from its own thread.
struct Webhook {
    url: String,
    ca_pem: String,
}

fn webhook() -> &'static Webhook {
    static WEBHOOK: OnceLock<Webhook> = OnceLock::new();
    WEBHOOK.get_or_init(|| {
        let pki = Pki::generate().expect("certificates");
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert_file, &pki.serving.cert_pem).expect("write cert");
        std::fs::write(&key_file, &pki.serving.key_pem).expect("write key");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let config = ServerConfig {
                    addr: "127.0.0.1:0".parse().expect("addr"),
                    cert_file,
                    key_file,
                };
                let state = server::ServerState::new(
                    std::sync::Arc::new(
                        locust_k8s_operator::metrics::Metrics::new().expect("metrics"),
                    ),
                    locust_k8s_operator::metrics::Readiness::new(),
                );
                let bound = server::bind(config, state).await.expect("webhook binds");
                tx.send(bound.local_addr()).expect("report address");
                bound
                    .run(std::future::pending())
                    .await
                    .expect("webhook serves");
            });
        });
        let addr = rx.recv().expect("webhook address");
        Webhook {
            url: format!("https://{addr}{CONVERT_PATH}"),
            ca_pem: pki.serving_ca_pem,
        }
    })
}

/// The shared cluster with the generated CRD installed (conversion by URL to our webhook).
async fn client() -> Client {
    static CRD: OnceCell<()> = OnceCell::const_new();
    let cluster = test_cluster::shared_named("api_server", test_cluster::Options::default)
        .await
        .expect("cluster starts");
    let client = cluster.client().await.expect("client");
    CRD.get_or_init(|| async {
        let hook = webhook();
        let mut crd = crd().expect("crd generates");
        let conversion = crd.spec.conversion.as_mut().expect("conversion block");
        let webhook = conversion.webhook.as_mut().expect("webhook conversion");
        webhook.client_config = Some(WebhookClientConfig {
            url: Some(hook.url.clone()),
            ca_bundle: Some(ByteString(hook.ca_pem.clone().into_bytes())),
            service: None,
        });
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        crds.patch(
            CRD_NAME,
            &PatchParams::apply("api-server-test").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("the API server accepts the generated CRD");
        for _ in 0..100 {
            let c = crds.get(CRD_NAME).await.expect("crd");
            let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            if established {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the CRD never became Established");
    })
    .await;
    client
}

async fn namespace(prefix: &str) -> String {
    let cluster = test_cluster::shared_named("api_server", test_cluster::Options::default)
        .await
        .expect("cluster");
    cluster.namespace(prefix).await.expect("namespace")
}

fn example(path: &str) -> AnyLocustTest {
    let text = std::fs::read_to_string(path).expect("example");
    parse_documents(&text).expect("example parses").remove(0)
}

#[tokio::test]
async fn full_v2_example_is_stored_and_read_back() {
    let client = client().await;
    let ns = namespace("full-v2").await;
    let AnyLocustTest::V2(test) = example("examples/full-v2.yaml") else {
        panic!("v2 example")
    };
    let api: Api<v2::LocustTest> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &test)
        .await
        .expect("the API server accepts the spec's full example");
    let back = api.get("example-test").await.expect("read back");
    assert_eq!(back.spec, test.spec, "every field survives the API server");

    // The same object through the deprecated v1: listed, and a v1 read-modify-write keeps
    // every v2-only setting.
    let v1_api: Api<v1::LocustTest> = Api::namespaced(client.clone(), &ns);
    let listed = v1_api.list(&ListParams::default()).await.expect("v1 list");
    assert_eq!(
        listed.items.len(),
        1,
        "v2-created tests are listed through v1"
    );
    let mut as_v1 = v1_api.get("example-test").await.expect("read as v1");
    assert_eq!(as_v1.spec.worker_replicas, 10);
    assert!(
        as_v1.annotations().contains_key(V2_SPEC_ANNOTATION),
        "v2-only fields travel in {V2_SPEC_ANNOTATION}"
    );
    as_v1
        .labels_mut()
        .insert("edited-by".into(), "a-v1-client".into());
    v1_api
        .replace("example-test", &PostParams::default(), &as_v1)
        .await
        .expect("write back through v1");
    let after = api.get("example-test").await.expect("read as v2 again");
    assert_eq!(after.spec, test.spec, "no v2 field lost by a v1 client");
    assert_eq!(after.labels()["edited-by"], "a-v1-client");
    assert!(!after.annotations().contains_key(V2_SPEC_ANNOTATION));
}

#[tokio::test]
async fn v1_example_is_stored_as_v2_and_reads_back_unchanged() {
    let client = client().await;
    let ns = namespace("v1").await;
    let AnyLocustTest::V1(test) = example("examples/v1.yaml") else {
        panic!("v1 example")
    };
    let v1_api: Api<v1::LocustTest> = Api::namespaced(client.clone(), &ns);
    v1_api
        .create(&PostParams::default(), &test)
        .await
        .expect("the API server accepts a v1 test");

    let as_v1 = v1_api.get("legacy-test").await.expect("read as v1");
    assert_eq!(as_v1.spec, test.spec, "v1 reads back unchanged");
    assert!(!as_v1.annotations().contains_key(V2_SPEC_ANNOTATION));

    let v2_api: Api<v2::LocustTest> = Api::namespaced(client.clone(), &ns);
    let as_v2 = v2_api.get("legacy-test").await.expect("read as v2");
    let s = &as_v2.spec;
    assert_eq!(s.master.command, test.spec.master_command_seed);
    assert_eq!(s.worker.command, test.spec.worker_command_seed);
    assert_eq!(s.worker.replicas, 3);
    assert_eq!(s.image, test.spec.image);
    let tf = s.test_files.as_ref().expect("test files");
    assert_eq!(tf.config_map_ref.as_deref(), Some("demo-test-map"));
    assert_eq!(tf.lib_config_map_ref.as_deref(), Some("demo-lib-map"));
    assert_eq!(s.master.labels.as_ref().expect("labels")["team"], "perf");
    assert_eq!(
        s.worker.annotations.as_ref().expect("annotations")["example.com/owner"],
        "perf-team"
    );
    assert_eq!(
        s.image_pull_secrets.as_ref().expect("pull secrets")[0].name,
        "my-registry-secret"
    );
    let terms = &s
        .scheduling
        .as_ref()
        .and_then(|x| x.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .expect("required node affinity")
        .node_selector_terms;
    assert_eq!(terms.len(), 1, "one term: every v1 label must match");
    assert_eq!(terms[0].match_expressions.as_ref().map(Vec::len), Some(2));
    assert_eq!(s.master.autostart, Some(true), "v2 defaults filled");
    assert_eq!(as_v2.spec, v1_to_v2(&test).expect("converts").spec);

    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let stored = crds
        .get(CRD_NAME)
        .await
        .expect("crd")
        .status
        .expect("status")
        .stored_versions;
    assert_eq!(
        stored,
        Some(vec!["v2".to_string()]),
        "only v2 is ever stored"
    );
}

#[tokio::test]
async fn the_api_server_itself_rejects_invalid_tests() {
    let client = client().await;
    let ns = namespace("invalid").await;
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client,
        &ns,
        &kube::api::ApiResource::erase::<v2::LocustTest>(&()),
    );
    let mut checked = 0;
    for case in invalid_cases().iter().filter(|c| c.crd) {
        let obj: kube::api::DynamicObject =
            serde_json::from_value(case.document.clone()).expect("dynamic object");
        let err = api
            .create(&PostParams::default(), &obj)
            .await
            .expect_err(&format!("{}: the API server must reject it", case.name));
        let message = err.to_string();
        let field = case.crd_field.as_deref().unwrap_or(&case.field);
        assert!(
            message.contains(field),
            "{}: {field} not named in {message}",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 20, "the CRD alone rejects {checked} cases");

    // The base of the table is valid: the API server accepts it.
    let obj: kube::api::DynamicObject = serde_json::from_value(valid_base()).expect("base");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("the valid base is accepted");
}
