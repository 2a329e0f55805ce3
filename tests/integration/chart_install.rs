//! `helm install`, `helm upgrade` and `helm uninstall` of `charts/locust-k8s-operator`
//! against the test cluster: a wrong value never reaches the cluster, the default install
//! registers its webhooks, an upgrade updates the CRD in place, the uninstall keeps the
//! CRD and users' tests, and another operator's CRD of the same name is never taken over. (No operator pod runs on kwok nodes; `tests/integration/chart_rbac.rs` runs
//! the operator under the chart's RBAC.)

use crate::chart_common;

use std::time::Duration;

use chart_common::{CHART, helm, kubectl, wait_established};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::crd::CRD_NAME;
use serde_json::json;

/// `helm --kubeconfig <kubeconfig> --namespace <ns> <args>`.
fn helm_at(kubeconfig: &str, ns: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--kubeconfig", kubeconfig, "--namespace", ns];
    all.extend_from_slice(args);
    helm(&all)
}

#[tokio::test]
async fn helm_install_upgrade_and_uninstall_keep_the_crd_and_the_tests() {
    let cluster = test_cluster::shared_named("chart_install", test_cluster::Options::default)
        .await
        .expect("cluster");
    let kubeconfig = cluster.kubeconfig().to_string_lossy().into_owned();
    let client = cluster.client().await.expect("client");
    let ns = cluster.namespace("helm").await.expect("namespace");
    let tests_ns = cluster.namespace("helm-tests").await.expect("namespace");
    let helm_in = |args: &[&str]| helm_at(&kubeconfig, &ns, args);

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

/// A `locusttests.locust.io` CRD as the Locust project's Python operator ships it (its
/// chart's `crds/` folder: no Helm ownership, `v1` only, short names `locust` and `lt`).
const PYTHON_OPERATOR_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: locusttests.locust.io
spec:
  group: locust.io
  scope: Namespaced
  names: {plural: locusttests, singular: locusttest, kind: LocustTest, shortNames: [locust, lt]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, required: [workers], properties: {workers: {type: integer}}}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

#[tokio::test]
async fn helm_refuses_to_take_over_another_operators_crd() {
    // An own control plane: the foreign CRD must not meet the other tests' CRD.
    let cluster = test_cluster::Cluster::start().await.expect("cluster");
    let kubeconfig = cluster.kubeconfig().to_string_lossy().into_owned();
    let client = cluster.client().await.expect("client");
    let ns = cluster.namespace("helm-foreign").await.expect("namespace");
    let helm_in = |args: &[&str]| helm_at(&kubeconfig, &ns, args);
    let (ok, _, err) = kubectl(
        cluster.kubeconfig(),
        &["create", "-f", "-"],
        Some(PYTHON_OPERATOR_CRD),
    );
    assert!(ok, "{err}");
    wait_established(&client, CRD_NAME).await;

    let (ok, out, err) = helm_in(&["install", "lko", CHART]);
    assert!(
        !ok,
        "helm install over the Python operator's CRD must fail:\n{out}"
    );
    for text in [
        "The CustomResourceDefinition locusttests.locust.io already exists and belongs to the \
         Locust project's Python operator",
        "last written by kubectl",
        "this chart refuses to replace it",
        "kubectl delete crd locusttests.locust.io",
        "Upgrading from the Go operator",
    ] {
        assert!(err.contains(text), "the refusal says {text:?}:\n{err}");
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let kept = crds
        .get(CRD_NAME)
        .await
        .expect("the foreign CRD is still there");
    assert!(
        kept.spec.versions.iter().all(|v| v.name == "v1"),
        "the foreign CRD is untouched"
    );

    // As the Go operator's chart installs it (controller-gen's annotation, its release's
    // Helm annotations): the refusal names both.
    let (ok, _, err) = kubectl(
        cluster.kubeconfig(),
        &[
            "annotate",
            "crd",
            CRD_NAME,
            "controller-gen.kubebuilder.io/version=v0.18.0",
            "meta.helm.sh/release-name=locust-operator",
            "meta.helm.sh/release-namespace=locust-system",
        ],
        None,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = helm_in(&["install", "lko", CHART]);
    assert!(!ok);
    assert!(
        err.contains(
            "belongs to the Go locust-k8s-operator (installed by Helm release locust-operator \
             in namespace locust-system"
        ),
        "{err}"
    );

    // The documented hand-over (the chart's README, "Upgrading from the Go operator"):
    // annotated for this release, the CRD is taken over; upgrades go on working.
    let (ok, _, err) = kubectl(
        cluster.kubeconfig(),
        &[
            "annotate",
            "crd",
            CRD_NAME,
            "--overwrite",
            "meta.helm.sh/release-name=lko",
            &format!("meta.helm.sh/release-namespace={ns}"),
        ],
        None,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = kubectl(
        cluster.kubeconfig(),
        &[
            "label",
            "crd",
            CRD_NAME,
            "--overwrite",
            "app.kubernetes.io/managed-by=Helm",
        ],
        None,
    );
    assert!(ok, "{err}");
    let (ok, out, err) = helm_in(&["install", "lko", CHART]);
    assert!(
        ok,
        "helm install of a handed-over CRD failed:\n{err}\n{out}"
    );
    wait_established(&client, CRD_NAME).await;
    let (ok, out, err) = helm_in(&["upgrade", "lko", CHART, "--set", "webhooks.enabled=false"]);
    assert!(
        ok,
        "helm upgrade of the release's own CRD failed:\n{err}\n{out}"
    );
    let crd = crds.get(CRD_NAME).await.expect("crd");
    assert!(crd.spec.versions.iter().any(|v| v.name == "v2"));
    assert_eq!(
        crd.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(locust_k8s_operator::crd::OWNER_LABEL))
            .map(String::as_str),
        Some(locust_k8s_operator::crd::OWNER),
        "this operator's CRD carries its marker"
    );
    cluster.stop();
}
