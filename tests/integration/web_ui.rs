//! The web UI during a run (`spec.webUI`) against a real control plane, with the operator
//! running as its RBAC-limited user (`config/rbac/role.yaml`):
//! - a LoadBalancer web UI gets its own Service `<test>-webui` with only port 8089, the
//!   annotations and the node port asked for, while the master Service stays ClusterIP;
//!   a ClusterIP web UI is the master Service with the annotations;
//! - the Ingress routes host and base path, with TLS, to the web UI's Service;
//! - `webUI.auth` whose Secret is missing blocks the test (`AuthSecretMissing`) before any
//!   pod exists; once the Secret exists the master gets the credentials from it;
//! - `webUI.httpRoute` on a cluster without the Gateway API blocks the test
//!   (`GatewayAPIMissing`); once the HTTPRoute CRD is installed (from the Go module
//!   sigs.k8s.io/gateway-api, `tests/gateway/httproute-crd.sh`) the route is created.
//!
//! Every object is owned by its test, so it goes with it.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    Operator, OperatorOptions, assert_owned_by, condition, create, eventually, wait_children,
    wait_status,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::v2::{LocustTest, WebUiSpec};
use locust_k8s_operator::builders::web_ui::http_route_resource;
use serde_json::json;

/// This module's own cluster: it installs the Gateway API's HTTPRoute CRD, which no other test may see.
async fn own() -> common::Prepared {
    common::prepared("web_ui").await
}

const CHILDREN: Duration = Duration::from_secs(60);

fn with_web(name: &str, web: serde_json::Value) -> LocustTest {
    let mut test = common::locust_test(name, 1);
    test.spec.web_ui = Some(serde_json::from_value::<WebUiSpec>(web).expect("webUI"));
    test
}

/// Touches the test (an annotation), so the operator looks at it again at once.
async fn touch(client: &Client, ns: &str, name: &str) {
    let patch = json!({ "metadata": { "annotations": { "example.com/touched": "1" } } });
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate the test");
}

async fn wait_blocked(client: &Client, ns: &str, name: &str, reason: &str) -> LocustTest {
    wait_status(
        client,
        ns,
        name,
        &format!("Ready=False {reason}"),
        CHILDREN,
        |t| condition(t, "Ready").is_some_and(|c| c.status == "False" && c.reason == reason),
    )
    .await
}

async fn get_eventually<K>(api: &Api<K>, name: &str) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} to exist"), CHILDREN, || async {
        api.get_opt(name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "not yet".to_string())
    })
    .await
}

#[tokio::test]
async fn service_ingress_and_auth_of_the_web_ui() {
    let client = own().await.admin().await;
    let ns = own().await.namespace("webui").await;
    let kubeconfig = own().await.operator_kubeconfig();
    let mut operator = Operator::start("webui", OperatorOptions::new(&kubeconfig, &ns));

    // LoadBalancer + Ingress + auth, with the Secret missing at first.
    let exposed = with_web(
        "exposed",
        json!({
            "basePath": "/locust",
            "service": {"type": "LoadBalancer", "nodePort": 30189,
                        "annotations": {"example.com/lb-scheme": "internal"}},
            "ingress": {"className": "nginx", "host": "locust.example.com",
                        "tlsSecretName": "locust-tls",
                        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
            "auth": {"secretRef": {"name": "locust-login"}},
        }),
    );
    create(&client, &ns, &exposed).await;
    // Reading the Secret is opt-in: without the rule the message says how to allow it.
    let refused = wait_status(
        &client,
        &ns,
        "exposed",
        "AuthSecretMissing (RBAC)",
        CHILDREN,
        |t| condition(t, "Ready").is_some_and(|c| c.message.contains("webUIAuth.readSecrets")),
    )
    .await;
    assert_eq!(
        condition(&refused, "Ready").map(|c| c.reason.as_str()),
        Some("AuthSecretMissing")
    );
    common::bind_web_auth(&client, &ns).await;
    touch(&client, &ns, "exposed").await;
    let blocked = wait_status(
        &client,
        &ns,
        "exposed",
        "AuthSecretMissing (no Secret)",
        CHILDREN,
        |t| condition(t, "Ready").is_some_and(|c| c.message.contains("does not exist")),
    )
    .await;
    let message = condition(&blocked, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("locust-login") && message.contains("password"),
        "{message}"
    );
    let jobs = common::children(&client, &ns, "exposed").await;
    assert!(
        jobs.master.is_none() && jobs.worker.is_none(),
        "no pods before the Secret"
    );

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("locust-login".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            ("username".to_string(), ByteString(b"perf".to_vec())),
            ("password".to_string(), ByteString(b"s3cret".to_vec())),
        ])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("the Secret");
    touch(&client, &ns, "exposed").await;
    let children = wait_children(&client, &ns, "exposed", CHILDREN).await;
    let test = common::get(&client, &ns, "exposed").await;

    // The master Service: unchanged (ClusterIP, the workers' ports, no annotations).
    let master = children.service.expect("master Service");
    let spec = master.spec.clone().expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.ports.as_ref().map(Vec::len), Some(3));
    assert!(master.annotations().is_empty());

    // The web UI's own Service: LoadBalancer, port 8089 only, annotated, owned.
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let web = get_eventually(&services, "exposed-webui").await;
    assert_owned_by("web UI Service", &web.metadata, &test);
    assert_eq!(
        web.annotations()
            .get("example.com/lb-scheme")
            .map(String::as_str),
        Some("internal")
    );
    let web_spec = web.spec.expect("spec");
    assert_eq!(web_spec.type_.as_deref(), Some("LoadBalancer"));
    let ports: Vec<_> = (web_spec.ports.iter().flatten())
        .map(|p| (p.port, p.node_port))
        .collect();
    assert_eq!(ports, [(8089, Some(30189))]);
    assert_eq!(web_spec.selector, spec.selector, "selects the master pod");

    // The Ingress: host, base path and TLS to the web UI's Service, owned.
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &ns);
    let ingress = get_eventually(&ingresses, "exposed-webui").await;
    assert_owned_by("Ingress", &ingress.metadata, &test);
    assert!(
        ingress
            .annotations()
            .contains_key("cert-manager.io/cluster-issuer")
    );
    let ispec = ingress.spec.expect("spec");
    assert_eq!(ispec.ingress_class_name.as_deref(), Some("nginx"));
    let rule = &ispec.rules.expect("rules")[0];
    assert_eq!(rule.host.as_deref(), Some("locust.example.com"));
    let path = &rule.http.as_ref().expect("http").paths[0];
    assert_eq!(path.path.as_deref(), Some("/locust"));
    let backend = path.backend.service.clone().expect("service backend");
    assert_eq!(backend.name, "exposed-webui");
    assert_eq!(backend.port.and_then(|p| p.number), Some(8089));
    let tls = ispec.tls.expect("tls");
    assert_eq!(tls[0].secret_name.as_deref(), Some("locust-tls"));

    // The master gets its credentials from the Secret, never in clear text.
    let job = children.master.expect("master Job");
    let env = (job.spec.and_then(|s| s.template.spec))
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default();
    let password = env
        .iter()
        .find(|e| e.name == "LOTEST_WEB_PASSWORD")
        .expect("password env");
    assert_eq!(password.value, None);
    let key = (password.value_from.as_ref()).and_then(|f| f.secret_key_ref.as_ref());
    assert_eq!(
        key.map(|k| (k.name.as_str(), k.key.as_str())),
        Some(("locust-login", "password"))
    );

    // A ClusterIP web UI is the master Service, annotated; nothing else is created.
    let internal = with_web(
        "internal",
        json!({"service": {"annotations": {"example.com/team": "perf"}}}),
    );
    create(&client, &ns, &internal).await;
    let children = wait_children(&client, &ns, "internal", CHILDREN).await;
    let master = children.service.expect("master Service");
    assert_eq!(
        master
            .annotations()
            .get("example.com/team")
            .map(String::as_str),
        Some("perf")
    );
    assert_eq!(
        services.get_opt("internal-webui").await.expect("read"),
        None
    );
    assert_eq!(
        ingresses.get_opt("internal-webui").await.expect("read"),
        None
    );
    operator.assert_running();
}

/// The Gateway API's HTTPRoute CRD, from the cached Go module.
fn http_route_crd() -> CustomResourceDefinition {
    let out = std::process::Command::new("tests/gateway/httproute-crd.sh")
        .output()
        .expect("run tests/gateway/httproute-crd.sh");
    assert!(
        out.status.success(),
        "tests/gateway/httproute-crd.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let text = std::fs::read_to_string(&path).expect("the HTTPRoute CRD");
    locust_k8s_operator::yaml::from_yaml(&text).expect("a CRD")
}

#[tokio::test]
async fn the_http_route_waits_for_the_gateway_api() {
    let client = own().await.admin().await;
    let ns = own().await.namespace("route").await;
    let kubeconfig = own().await.operator_kubeconfig();
    let mut operator = Operator::start("route", OperatorOptions::new(&kubeconfig, &ns));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = http_route_crd();
    let crd_name = crd.name_any();
    assert_eq!(
        crds.get_opt(&crd_name)
            .await
            .expect("read CRDs")
            .map(|c| c.name_any()),
        None,
        "this cluster starts without the Gateway API"
    );

    let test = with_web(
        "routed",
        json!({
            "basePath": "/locust",
            "httpRoute": {"parentRefs": [{"name": "shared", "namespace": "gateways"}],
                          "hostnames": ["locust.example.com"]},
        }),
    );
    create(&client, &ns, &test).await;
    let blocked = wait_blocked(&client, &ns, "routed", "GatewayAPIMissing").await;
    let message = condition(&blocked, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("gateway.networking.k8s.io/v1"),
        "{message}"
    );
    let jobs = common::children(&client, &ns, "routed").await;
    assert!(
        jobs.master.is_none(),
        "no pods before the route can be made"
    );

    crds.create(&PostParams::default(), &crd)
        .await
        .expect("install the HTTPRoute CRD");
    eventually("the HTTPRoute CRD to be served", CHILDREN, || async {
        let ar: ApiResource = http_route_resource();
        Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &ar)
            .list(&Default::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
    touch(&client, &ns, "routed").await;
    wait_children(&client, &ns, "routed", CHILDREN).await;
    let test = common::get(&client, &ns, "routed").await;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &http_route_resource());
    let route = get_eventually(&routes, "routed-webui").await;
    assert_owned_by("HTTPRoute", &route.metadata, &test);
    let spec = &route.data["spec"];
    assert_eq!(spec["parentRefs"][0]["name"], "shared");
    assert_eq!(spec["parentRefs"][0]["namespace"], "gateways");
    assert_eq!(spec["hostnames"], json!(["locust.example.com"]));
    let rule = &spec["rules"][0];
    assert_eq!(rule["matches"][0]["path"]["value"], "/locust");
    assert_eq!(rule["backendRefs"][0]["name"], "routed-master");
    assert_eq!(rule["backendRefs"][0]["port"], 8089);
    operator.assert_running();
}
