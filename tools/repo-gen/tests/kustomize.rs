//! deploy/kustomize: current with the chart, built by the real `kubectl kustomize`, and
//! installed with `kubectl apply --server-side -k` on a real API server (this test
//! binary's own cluster: the CRD it installs stays).

use std::path::{Path, PathBuf};
use std::process::Command;

use repo_gen::{check_dir, kustomize};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(name: &str) -> PathBuf {
    let path = test_cluster::binaries::bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make cluster-bins`",
        path.display()
    );
    path
}

fn run(program: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .expect("the tool runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_committed_kustomize_install_is_current() {
    let files = kustomize::generate(&root(), &tool("helm")).expect("generates");
    let problems = check_dir(&root(), kustomize::DIR, &files);
    assert!(
        problems.is_empty(),
        "run `make kustomize` and commit the result:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn kubectl_apply_k_installs_every_object() {
    let cluster = test_cluster::shared().await.expect("cluster");
    let kubeconfig = cluster.kubeconfig().to_string_lossy().into_owned();
    let kubectl = tool("kubectl");
    let (ok, built, err) = run(&kubectl, &["kustomize", kustomize::DIR]);
    assert!(ok, "kubectl kustomize: {err}");
    let kinds = built.lines().filter(|l| l.starts_with("kind: ")).count();
    let (_, rendered, _) = run(
        &tool("helm"),
        &[
            "template",
            kustomize::RELEASE,
            "charts/locust-k8s-operator",
            "-n",
            kustomize::NAMESPACE,
        ],
    );
    let from_chart = rendered.lines().filter(|l| l.starts_with("kind: ")).count();
    assert_eq!(
        kinds,
        from_chart + 1,
        "the chart's objects and the Namespace"
    );

    // One apply: kustomize orders the Namespace and the CRD before what needs them.
    let (ok, out, err) = run(
        &kubectl,
        &[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "--server-side",
            "--field-manager=kustomize-test",
            "-k",
            kustomize::DIR,
        ],
    );
    assert!(ok, "kubectl apply -k failed:\n{err}\n{out}");
    let applied = out
        .lines()
        .filter(|l| l.contains("serverside-applied"))
        .count();
    assert_eq!(applied, kinds, "every object applied:\n{out}");
    let (ok, out, err) = run(
        &kubectl,
        &[
            "--kubeconfig",
            &kubeconfig,
            "get",
            "-k",
            kustomize::DIR,
            "-o",
            "name",
        ],
    );
    assert!(ok, "{err}");
    for object in [
        "namespace/locust-k8s-operator-system",
        "customresourcedefinition.apiextensions.k8s.io/locusttests.locust.io",
        "deployment.apps/locust-k8s-operator",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/locust-k8s-operator",
        "clusterrole.rbac.authorization.k8s.io/locust-k8s-operator-webhook",
    ] {
        assert!(
            out.lines().any(|l| l == object),
            "{object} installed:\n{out}"
        );
    }
}
