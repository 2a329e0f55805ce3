//! kwok: the fake kubelet of every node, driven by the Stages in
//! `tests/cluster/kwok/stages.yaml`, and the pod annotations those stages read.

/// The Stage definitions kwok loads (`tests/cluster/kwok/stages.yaml`, compiled in).
pub const STAGES_YAML: &str = include_str!("../../cluster/kwok/stages.yaml");

/// Pod annotations that steer a pod's fate on a kwok node.
pub mod annotations {
    /// Containers run this many seconds, then terminate (default 3). Without it or
    /// [`EXIT_CODE`], only pods with `restartPolicy` `Never` or `OnFailure` (every Job's
    /// pods) terminate; pods with `Always` run until deleted.
    pub const RUN_SECONDS: &str = "test.locust.io/run-seconds";
    /// Containers terminate with this exit code (default 0): phase `Failed` when not 0.
    pub const EXIT_CODE: &str = "test.locust.io/exit-code";
    /// Containers stay waiting with this reason (`ImagePullBackOff`, `ErrImagePull`,
    /// `CreateContainerConfigError`, `CrashLoopBackOff`): never Ready, never complete.
    pub const WAITING_REASON: &str = "test.locust.io/waiting-reason";
    /// The pod becomes Running and Ready after this many seconds (default 0).
    pub const START_SECONDS: &str = "test.locust.io/start-seconds";
}

/// The IP every kwok node reports: loopback, so that nothing can reach out of the
/// machine through a node address (the API server dials a node for logs and exec).
pub const NODE_IP: &str = "127.0.0.1";

/// The range kwok hands pod IPs out of. They are data only: nothing listens on them.
pub const POD_CIDR: &str = "10.244.0.0/16";

/// Arguments for `kwok`.
pub fn args(kubeconfig: &str, stages: &str) -> Vec<String> {
    vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--config={stages}"),
        "--manage-all-nodes=true".to_owned(),
        format!("--node-ip={NODE_IP}"),
        format!("--cidr={POD_CIDR}"),
        "--node-lease-duration-seconds=40".to_owned(),
    ]
}
