//! The bundle's objects in a real API server (test-cluster): every manifest accepted by
//! `kubectl apply --dry-run=server` — the CSV against OLM's own ClusterServiceVersion CRD
//! (from the operator-framework/api Go module, `make olm-bins`) — and the alm-examples
//! accepted by the bundle's CRD.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{committed_csv, root};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;

const NAMESPACE: &str = "operators";

fn kubectl(cluster: &test_cluster::Cluster, args: &[&str]) -> (bool, String) {
    let bin = test_cluster::binaries::bin_dir().join("kubectl");
    let out = Command::new(&bin)
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (make cluster-bins)", bin.display()));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// OLM's ClusterServiceVersion CRD, linked by tests/olm/build.sh.
fn olm_csv_crd() -> PathBuf {
    let path = test_cluster::binaries::bin_dir()
        .join("olm")
        .join("operators.coreos.com_clusterserviceversions.yaml");
    assert!(
        path.is_file(),
        "{} is missing: run `make olm-bins`",
        path.display()
    );
    path
}

async fn install_crd(client: &Client, path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read CRD");
    let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("CRD parses");
    let name = crd.metadata.name.clone().expect("CRD name");
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.create(&PostParams::default(), &crd)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let crd = api.get(&name).await.expect("get CRD");
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return name;
        }
        assert!(Instant::now() < deadline, "{name} is not Established");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_api_server_accepts_every_bundle_object_and_example() {
    let cluster = test_cluster::shared().await.expect("cluster starts");
    let client = cluster.client().await.expect("client");
    install_crd(&client, &olm_csv_crd()).await;
    let (ok, out) = kubectl(cluster, &["create", "namespace", NAMESPACE]);
    assert!(ok, "{out}");

    // Every manifest of the bundle, as `kubectl apply --dry-run=server` sends it.
    let manifests = root().join("bundle/manifests");
    let manifests = manifests.to_str().expect("utf-8 path");
    let (ok, out) = kubectl(
        cluster,
        &[
            "apply",
            "--dry-run=server",
            "-n",
            NAMESPACE,
            "-f",
            manifests,
        ],
    );
    assert!(
        ok,
        "kubectl apply --dry-run=server -f bundle/manifests:\n{out}"
    );
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/locusttests.locust.io",
        "clusterserviceversion.operators.coreos.com/locust-k8s-operator.v",
        "poddisruptionbudget.policy/locust-k8s-operator",
        "service/locust-k8s-operator-metrics",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(object) && l.ends_with("(server dry run)")),
            "{object} accepted:\n{out}"
        );
    }

    // The alm-examples against the bundle's CRD (installed for real, schema and CEL).
    install_crd(
        &client,
        &root().join("bundle/manifests/locust.io_locusttests.yaml"),
    )
    .await;
    let csv = committed_csv();
    let examples: Vec<DynamicObject> = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .expect("alm-examples"),
    )
    .expect("alm-examples parse");
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("locust.io", "v2", "LocustTest"),
        "locusttests",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    for example in &examples {
        api.create(&dry_run, example)
            .await
            .unwrap_or_else(|e| panic!("alm-example {:?}: {e}", example.metadata.name));
    }
    assert!(examples.len() >= 2);

    // The dry run means something: OLM's CRD checks the embedded Deployment.
    let mut csv: Value = committed_csv();
    csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["replicas"] = "two".into();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("csv.json");
    std::fs::write(&file, serde_json::to_vec(&csv).expect("json")).expect("write");
    let (ok, out) = kubectl(
        cluster,
        &[
            "apply",
            "--dry-run=server",
            "-n",
            "default",
            "-f",
            file.to_str().expect("utf-8"),
        ],
    );
    eprintln!("{out}");
    assert!(!ok, "a CSV with replicas: \"two\" is rejected:\n{out}");
    assert!(
        out.contains("spec.install.spec.deployments[0].spec.replicas"),
        "{out}"
    );
}
