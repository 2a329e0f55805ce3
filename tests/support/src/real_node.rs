//! The control plane's side of a real node (`make e2e-cluster-up`, tests/e2e/node.sh).
//!
//! With [`crate::Options::real_node`] set, the API server listens on the node's bridge
//! address instead of 127.0.0.1, so that pods reach it through the `kubernetes` Service
//! (the default endpoint reconciler publishes that address), its serving certificate also
//! names the bridge address, the Service's first address and `kubernetes.default.svc…`,
//! it can reach the kubelet for logs and exec, and no kwok runs. The node itself
//! (containerd, kubelet, kube-proxy, CoreDNS, host networking) is started by
//! `tests/e2e/node.sh`, with the kubeconfigs [`write_kubeconfigs`] leaves in the folder.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::certs::Pki;
use crate::error::{Error, Result};
use crate::kubeconfig::{self, Credentials};

/// The node's name (the kubelet's `--hostname-override`).
pub const NODE_NAME: &str = "e2e-node";

/// The first address of [`crate::components::SERVICE_CIDR`]: the `kubernetes` Service.
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";

/// Where the real node is: its bridge address, which the API server binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealNode {
    /// The bridge address (`cni0`), e.g. 10.244.0.1; it must exist before the start.
    pub ip: Ipv4Addr,
}

impl RealNode {
    /// Names the API server's serving certificate needs besides localhost/127.0.0.1.
    pub fn serving_sans(&self) -> Vec<String> {
        let mut sans = vec![self.ip.to_string(), KUBERNETES_SERVICE_IP.to_owned()];
        let mut name = "kubernetes".to_owned();
        sans.push(name.clone());
        for part in ["default", "svc", "cluster", "local"] {
            name = format!("{name}.{part}");
            sans.push(name.clone());
        }
        sans
    }

    /// `kube-apiserver` flags that replace the 127.0.0.1 defaults (later flags win).
    pub fn apiserver_args(&self, kubelet_client: &Path) -> Vec<String> {
        let client = |ext: &str| kubelet_client.with_extension(ext).display().to_string();
        vec![
            format!("--bind-address={}", self.ip),
            format!("--advertise-address={}", self.ip),
            // Publish the bridge address as the `kubernetes` Service's endpoint.
            "--endpoint-reconciler-type=lease".to_owned(),
            format!("--kubelet-client-certificate={}", client("crt")),
            format!("--kubelet-client-key={}", client("key")),
            "--kubelet-preferred-address-types=InternalIP,Hostname".to_owned(),
        ]
    }
}

/// The users the node's components run as (name, groups), and the kubeconfig file each
/// gets. kube-proxy's user is bound to `system:node-proxier` by a default binding;
/// CoreDNS's to the read-only rules it needs by `tests/e2e/manifests/coredns.yaml`.
fn node_users() -> [(&'static str, String, &'static [&'static str]); 3] {
    [
        (
            "kubelet.kubeconfig",
            format!("system:node:{NODE_NAME}"),
            &["system:nodes"],
        ),
        ("kube-proxy.kubeconfig", "system:kube-proxy".to_owned(), &[]),
        ("coredns.kubeconfig", "system:coredns".to_owned(), &[]),
    ]
}

/// Writes the kubelet client certificate the API server presents to the kubelet
/// (`<dir>/kubelet-client.{crt,key}`, in `system:masters`) and a kubeconfig per node
/// component (kubelet, kube-proxy, CoreDNS) into `dir`.
pub fn write_kubeconfigs(pki: &Pki, server: &str, dir: &Path) -> Result<std::path::PathBuf> {
    let client = pki.issue_client("kube-apiserver-kubelet-client", &["system:masters"])?;
    let base = dir.join("kubelet-client");
    for (ext, contents) in [("crt", &client.cert_pem), ("key", &client.key_pem)] {
        let path = base.with_extension(ext);
        std::fs::write(&path, contents).map_err(Error::io("writing", &path))?;
    }
    for (file, user, groups) in node_users() {
        let cert = pki.issue_client(&user, groups)?;
        let config = kubeconfig::build(
            server,
            &pki.serving_ca_pem,
            &user,
            &Credentials::ClientCert(cert),
        );
        kubeconfig::write(&dir.join(file), &config)?;
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_names_cover_every_way_pods_reach_the_api_server() {
        let node = RealNode {
            ip: Ipv4Addr::new(10, 244, 0, 1),
        };
        assert_eq!(
            node.serving_sans(),
            [
                "10.244.0.1",
                "10.96.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster",
                "kubernetes.default.svc.cluster.local",
            ]
        );
    }

    #[test]
    fn the_api_server_binds_and_advertises_the_bridge_address() {
        let node = RealNode {
            ip: Ipv4Addr::new(10, 244, 0, 1),
        };
        let args = node.apiserver_args(Path::new("/pki/kubelet-client"));
        assert!(args.contains(&"--bind-address=10.244.0.1".to_owned()));
        assert!(args.contains(&"--advertise-address=10.244.0.1".to_owned()));
        assert!(args.contains(&"--kubelet-client-key=/pki/kubelet-client.key".to_owned()));
        assert!(args.contains(&"--endpoint-reconciler-type=lease".to_owned()));
    }
}
