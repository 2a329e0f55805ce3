//! Command lines of the control-plane components, as envtest and kwokctl run them, all
//! bound to 127.0.0.1.

use std::path::Path;

use crate::certs::PkiFiles;

/// The Service IP range; the addresses are data only, nothing routes them.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";

/// The controllers kube-controller-manager runs: what Jobs, Deployments, namespaces,
/// service accounts, garbage collection, Services and the node lifecycle need.
pub const CONTROLLERS: &[&str] = &[
    "clusterrole-aggregation-controller",
    "cronjob-controller",
    "daemonset-controller",
    "deployment-controller",
    "disruption-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
    "garbage-collector-controller",
    "job-controller",
    "namespace-controller",
    "node-lifecycle-controller",
    "pod-garbage-collector-controller",
    "replicaset-controller",
    "resourcequota-controller",
    "root-ca-certificate-publisher-controller",
    "service-cidr-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "statefulset-controller",
    "taint-eviction-controller",
    "ttl-after-finished-controller",
];

/// Arguments for `etcd`: a single member on 127.0.0.1, data in `data_dir`, no fsync.
pub fn etcd_args(data_dir: &Path, port: u16, peer_port: u16) -> Vec<String> {
    let client_url = format!("http://127.0.0.1:{port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    vec![
        "--name=test-cluster".to_owned(),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={client_url}"),
        format!("--advertise-client-urls={client_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=test-cluster={peer_url}"),
        "--unsafe-no-fsync=true".to_owned(),
        "--log-level=warn".to_owned(),
    ]
}

/// Arguments for `kube-apiserver`: our serving certificate and client CA, service-account
/// keys, RBAC (with the Node authorizer), on 127.0.0.1:`port`.
pub fn apiserver_args(cert_dir: &Path, files: &PkiFiles, etcd_port: u16, port: u16) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    vec![
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        "--bind-address=127.0.0.1".to_owned(),
        "--advertise-address=127.0.0.1".to_owned(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", cert_dir.display()),
        format!("--tls-cert-file={}", path(&files.serving_cert)),
        format!("--tls-private-key-file={}", path(&files.serving_key)),
        format!("--client-ca-file={}", path(&files.client_ca)),
        format!("--service-account-issuer=https://127.0.0.1:{port}"),
        format!("--service-account-key-file={}", path(&files.sa_public)),
        format!(
            "--service-account-signing-key-file={}",
            path(&files.sa_private)
        ),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--authorization-mode=Node,RBAC".to_owned(),
        "--allow-privileged=true".to_owned(),
        // The `kubernetes` Service would point at 127.0.0.1, which Endpoints reject.
        "--endpoint-reconciler-type=none".to_owned(),
        "--profiling=false".to_owned(),
    ]
}

/// Arguments for `kube-controller-manager`: the controllers in [`CONTROLLERS`], no
/// leader election, no serving port, no client-side rate limit to speak of.
pub fn controller_manager_args(files: &PkiFiles, kubeconfig: &str) -> Vec<String> {
    vec![
        format!("--kubeconfig={kubeconfig}"),
        "--leader-elect=false".to_owned(),
        "--bind-address=127.0.0.1".to_owned(),
        "--secure-port=0".to_owned(),
        format!(
            "--service-account-private-key-file={}",
            files.sa_private.display()
        ),
        format!("--root-ca-file={}", files.serving_ca.display()),
        format!("--controllers={}", CONTROLLERS.join(",")),
        "--kube-api-qps=1000".to_owned(),
        "--kube-api-burst=2000".to_owned(),
        "--concurrent-job-syncs=10".to_owned(),
        "--profiling=false".to_owned(),
    ]
}

/// Arguments for `kube-scheduler`: no leader election, no serving port.
pub fn scheduler_args(kubeconfig: &str) -> Vec<String> {
    vec![
        format!("--kubeconfig={kubeconfig}"),
        "--leader-elect=false".to_owned(),
        "--bind-address=127.0.0.1".to_owned(),
        "--secure-port=0".to_owned(),
        "--kube-api-qps=1000".to_owned(),
        "--kube-api-burst=2000".to_owned(),
        "--profiling=false".to_owned(),
    ]
}

/// `kube-apiserver` flags that write every request `policy` selects to `log`, as JSON lines,
/// before the request is answered (for tests and benchmarks that read who did what).
pub fn audit_log_args(policy: &Path, log: &Path) -> Vec<String> {
    vec![
        format!("--audit-policy-file={}", policy.display()),
        format!("--audit-log-path={}", log.display()),
        "--audit-log-format=json".to_owned(),
        "--audit-log-mode=blocking".to_owned(),
        "--audit-log-maxsize=0".to_owned(),
    ]
}
