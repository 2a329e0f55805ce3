//! `helm install`, `helm upgrade` and `helm uninstall` of `charts/locust-k8s-operator`
//! against the test cluster: a wrong value never reaches the cluster, the default install
//! registers its webhooks, an upgrade updates the CRD in place, and the uninstall keeps the
//! CRD and users' tests. (No operator pod runs on kwok nodes; `tests/chart_rbac.rs` runs
//! the operator under the chart's RBAC.)

mod chart_common;

use std::time::Duration;

use chart_common::{CHART, helm, kubectl, wait_established};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::crd::CRD_NAME;
use serde_json::json;

#[tokio::test]
async fn helm_install_upgrade_and_uninstall_keep_the_crd_and_the_tests() {
    let cluster = test_cluster::shared().await.expect("cluster");
    let kubeconfig = cluster.kubeconfig().to_string_lossy().into_owned();
    let client = cluster.client().await.expect("client");
    let ns = cluster.namespace("helm").await.expect("namespace");
    let tests_ns = cluster.namespace("helm-tests").await.expect("namespace");
    let helm_in = |args: &[&str]| {
        let mut all = vec![
            "--kubeconfig",
            kubeconfig.as_str(),
            "--namespace",
            ns.as_str(),
        ];
        all.extend_from_slice(args);
        helm(&all)
    };

    // A wrong value never reaches the cluster.
    let (ok, _, err) = helm_in(&["install", "lko", CHART, "--set", "replicaCount=abc"]);
    assert!(!ok);
    assert!(
        err.contains("at '/replicaCount': got string, want integer"),
        "{err}"
    );

    // The default install.
    let (ok, out, err) = helm_in(&["install", "lko", CHART]);
    assert!(ok, "helm install failed:\n{err}\n{out}");
    assert!(
        out.contains("observability:"),
        "NOTES give the OpenTelemetry endpoint:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "lko-locust-k8s-operator-otel-collector.{ns}.svc:4317"
        )),
        "NOTES name the collector's endpoint:\n{out}"
    );
    wait_established(&client, CRD_NAME).await;
    let (ok, out, err) = kubectl(
        cluster.kubeconfig(),
        &[
            "-n",
            &ns,
            "get",
            "deployment,service,serviceaccount,pdb,role,rolebinding",
            "-o",
            "name",
        ],
        None,
    );
    assert!(ok, "{err}");
    for object in [
        "deployment.apps/lko-locust-k8s-operator",
        "deployment.apps/lko-locust-k8s-operator-otel-collector",
        "service/lko-locust-k8s-operator-webhook",
        "serviceaccount/lko-locust-k8s-operator",
        "poddisruptionbudget.policy/lko-locust-k8s-operator",
        "role.rbac.authorization.k8s.io/lko-locust-k8s-operator-leader-election",
        "role.rbac.authorization.k8s.io/lko-locust-k8s-operator-webhook",
    ] {
        assert!(
            out.lines().any(|l| l == object),
            "{object} installed:\n{out}"
        );
    }
    // The validating webhook is registered and points at the release's Service (no pod
    // serves it on kwok nodes, so a create is refused by failurePolicy Fail, naming it).
    let tests: Api<LocustTest> = Api::namespaced(client.clone(), &tests_ns);
    let test = |name: &str| -> LocustTest {
        serde_json::from_value(json!({
            "apiVersion": "locust.io/v2", "kind": "LocustTest",
            "metadata": {"name": name},
            "spec": {"image": "locustio/locust:2.43.1",
                     "master": {"command": "locust -f /lotest/src/t.py"},
                     "worker": {"command": "locust -f /lotest/src/t.py", "replicas": 1}}
        }))
        .expect("test")
    };
    let refused = tests
        .create(&PostParams::default(), &test("refused"))
        .await
        .expect_err("the webhook is called and cannot be reached");
    assert!(
        refused.to_string().contains("vlocusttest.locust.io"),
        "the refusal names the validating webhook: {refused}"
    );

    // Upgrade to webhooks off: the VWC goes, the CRD is updated in place (conversion None,
    // v1 not served), and tests can be created.
    let (ok, out, err) = helm_in(&["upgrade", "lko", CHART, "--set", "webhooks.enabled=false"]);
    assert!(ok, "helm upgrade failed:\n{err}\n{out}");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get(CRD_NAME).await.expect("crd");
    assert_eq!(
        crd.spec.conversion.as_ref().map(|c| c.strategy.as_str()),
        Some("None"),
        "helm upgrade updates the CRD"
    );
    assert!(
        crd.spec
            .versions
            .iter()
            .any(|v| v.name == "v1" && !v.served)
    );
    let (_, vwc, _) = kubectl(
        cluster.kubeconfig(),
        &["get", "validatingwebhookconfigurations", "-o", "name"],
        None,
    );
    assert!(
        !vwc.contains("locust-k8s-operator"),
        "the VWC is gone: {vwc}"
    );
    let mut created = None;
    for _ in 0..50 {
        match tests.create(&PostParams::default(), &test("kept")).await {
            Ok(t) => {
                created = Some(t);
                break;
            }
            Err(e) => {
                created = None;
                eprintln!("create after upgrade: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let created = created.expect("a LocustTest is created once webhooks are off");

    // Uninstall: the operator goes, the CRD and the test stay.
    let (ok, out, err) = helm_in(&["uninstall", "lko"]);
    assert!(ok, "helm uninstall failed:\n{err}\n{out}");
    let crd = crds
        .get(CRD_NAME)
        .await
        .expect("the CRD is kept after uninstall");
    assert!(crd.metadata.deletion_timestamp.is_none());
    let kept = tests.get("kept").await.expect("the LocustTest survives");
    assert_eq!(kept.metadata.uid, created.metadata.uid);
    let (_, out, _) = kubectl(
        cluster.kubeconfig(),
        &[
            "-n",
            &ns,
            "get",
            "deployment,serviceaccount,role",
            "-o",
            "name",
        ],
        None,
    );
    assert!(
        !out.contains("lko-locust-k8s-operator"),
        "the release's objects are gone: {out}"
    );
    let (_, out, _) = kubectl(
        cluster.kubeconfig(),
        &["get", "clusterrole", "-o", "name"],
        None,
    );
    assert!(
        !out.contains("lko-locust-k8s-operator"),
        "cluster roles removed: {out}"
    );
}
