//! Helpers of the Helm chart tests: the chart's folder, `helm template` with values, the
//! rendered objects as JSON, and `kubectl` against the test cluster. helm and kubectl are
//! the ones `make cluster-bins` (`tests/cluster/build.sh`) builds.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The chart, relative to the workspace root (the tests' working directory).
pub const CHART: &str = "charts/locust-k8s-operator";

/// A built control-plane tool (`helm`, `kubectl`), with a hint when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let path = test_cluster::binaries::bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make cluster-bins` (tests/cluster/build.sh)",
        path.display()
    );
    path
}

/// Runs `program args`, feeding `stdin`; returns (success, stdout, stderr).
pub fn run(program: &Path, args: &[String], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("writing stdin");
    }
    let out = child.wait_with_output().expect("waiting for the tool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `helm <args>`; returns (success, stdout, stderr).
pub fn helm(args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run(&tool("helm"), &args, None)
}

/// `helm template <release> <chart> -n <namespace> <values...>`; `values` are helm flags
/// such as `--set`, `a=b` or `--set-json`, `a=[..]`. Panics with helm's message on failure.
pub fn render(release: &str, namespace: &str, values: &[&str]) -> String {
    let mut args = vec!["template", release, CHART, "--namespace", namespace];
    args.extend_from_slice(values);
    let (ok, out, err) = helm(&args);
    assert!(ok, "helm template {values:?} failed:\n{err}");
    out
}

/// The rendered objects (helm's `# Source:` comments and empty documents dropped).
pub fn objects(rendered: &str) -> Vec<Value> {
    locust_k8s_operator::yaml::from_yaml_documents::<Value>(rendered)
        .expect("the rendered chart is YAML")
        .into_iter()
        .filter(|v| v.is_object())
        .collect()
}

/// The objects of `kind`.
pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The single object of `kind`, panicking when there is not exactly one.
pub fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "exactly one {kind}, got {}", found.len());
    found[0]
}

/// The operator's Deployment (the one whose container is `operator`).
pub fn operator_deployment(objects: &[Value]) -> &Value {
    let found: Vec<_> = of_kind(objects, "Deployment")
        .into_iter()
        .filter(|d| d["spec"]["template"]["spec"]["containers"][0]["name"] == "operator")
        .collect();
    assert_eq!(found.len(), 1, "one operator Deployment");
    found[0]
}

/// The operator container's environment as (name, value); downward-API variables are
/// resolved as the kubelet would for a pod `pod_name` in `namespace`.
pub fn operator_env(objects: &[Value], namespace: &str, pod_name: &str) -> Vec<(String, String)> {
    let container = &operator_deployment(objects)["spec"]["template"]["spec"]["containers"][0];
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().expect("env name").to_owned();
            let value = match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
                (Value::String(v), _) => v.clone(),
                (_, Value::String(path)) if path == "metadata.name" => pod_name.to_owned(),
                (_, Value::String(path)) if path == "metadata.namespace" => namespace.to_owned(),
                (Value::Null, Value::Null) => String::new(),
                other => panic!("unexpected env entry {name}: {other:?}"),
            };
            (name, value)
        })
        .collect()
}

/// The value of one variable in [`operator_env`]'s output.
pub fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The RBAC objects (and the ServiceAccount) of a render, as one YAML stream.
pub fn rbac_yaml(objects: &[Value]) -> String {
    let kinds = [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
    ];
    let picked: Vec<&Value> = objects
        .iter()
        .filter(|o| kinds.iter().any(|k| o["kind"] == *k))
        .collect();
    locust_k8s_operator::yaml::to_yaml_documents(&picked).expect("yaml")
}

/// `kubectl --kubeconfig <kubeconfig> <args>` with `stdin`; (success, stdout, stderr).
pub fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut all = vec![
        "--kubeconfig".to_owned(),
        kubeconfig.to_string_lossy().into_owned(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run(&tool("kubectl"), &all, stdin)
}

/// Applies `yaml` with kubectl (server-side), panicking with kubectl's message on failure.
pub fn apply(kubeconfig: &Path, yaml: &str) {
    let (ok, out, err) = kubectl(
        kubeconfig,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=chart-test",
            "-f",
            "-",
        ],
        Some(yaml),
    );
    assert!(ok, "kubectl apply failed:\n{err}\n{out}");
}

/// Waits until the CRD `name` is Established.
pub async fn wait_established(client: &kube::Client, name: &str) {
    let crds: kube::api::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = kube::api::Api::all(client.clone());
    for _ in 0..150 {
        if let Some(c) = crds.get_opt(name).await.expect("read crd")
            && c.status.and_then(|s| s.conditions).is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("CRD {name} never became Established");
}

/// The Prometheus Operator's CRD of `plural` (`servicemonitors`, ...) as published in its Go
/// module (`tests/monitoring/prometheus-operator-crds.sh` downloads and caches it).
pub fn prometheus_operator_crd(plural: &str) -> String {
    let out = Command::new("tests/monitoring/prometheus-operator-crds.sh")
        .output()
        .expect("run tests/monitoring/prometheus-operator-crds.sh");
    assert!(
        out.status.success(),
        "tests/monitoring/prometheus-operator-crds.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let file = dir.join(format!("monitoring.coreos.com_{plural}.yaml"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Installs the real ServiceMonitor CRD ([`prometheus_operator_crd`]) and waits until it is
/// Established.
pub async fn install_servicemonitor_crd(cluster: &test_cluster::Cluster) {
    apply(
        cluster.kubeconfig(),
        &prometheus_operator_crd("servicemonitors"),
    );
    let client = cluster.client().await.expect("client");
    wait_established(&client, "servicemonitors.monitoring.coreos.com").await;
}
