//! The fake nodes every cluster gets, played by kwok.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use crate::error::{Error, Result};

/// The nodes' names: `kwok-node-0`, `kwok-node-1` and `kwok-node-2`.
pub const NODE_NAMES: [&str; 3] = ["kwok-node-0", "kwok-node-1", "kwok-node-2"];

/// The node reserved for load tests: labelled [`PERFORMANCE_LABEL`] and tainted
/// [`PERFORMANCE_TAINT`].
pub const PERFORMANCE_NODE: &str = "kwok-node-2";

/// The label (key, value) of [`PERFORMANCE_NODE`].
pub const PERFORMANCE_LABEL: (&str, &str) = ("workload-type", "performance-testing");

/// The taint (key, value, effect) of [`PERFORMANCE_NODE`]: pods need a toleration.
pub const PERFORMANCE_TAINT: (&str, &str, &str) = ("dedicated", "locust", "NoSchedule");

/// The label every kwok node carries, (key, value).
pub const KWOK_LABEL: (&str, &str) = ("type", "kwok");

/// Each node's allocatable (and capacity) cpu, memory, ephemeral storage (the operator's
/// default requests ask for some) and pods: room for over 3000 pods
/// in all, 1100 of them on the performance node.
const RESOURCES: [(&str, &str); 4] = [
    ("cpu", "1000"),
    ("memory", "4Ti"),
    ("ephemeral-storage", "100Ti"),
    ("pods", "1100"),
];

/// The node objects the harness creates.
pub fn definitions() -> Vec<Node> {
    NODE_NAMES
        .iter()
        .map(|&name| {
            let mut labels = BTreeMap::from([
                ("kubernetes.io/arch".to_owned(), "amd64".to_owned()),
                ("kubernetes.io/os".to_owned(), "linux".to_owned()),
                ("kubernetes.io/hostname".to_owned(), name.to_owned()),
                (KWOK_LABEL.0.to_owned(), KWOK_LABEL.1.to_owned()),
            ]);
            let mut taints = Vec::new();
            if name == PERFORMANCE_NODE {
                labels.insert(
                    PERFORMANCE_LABEL.0.to_owned(),
                    PERFORMANCE_LABEL.1.to_owned(),
                );
                taints.push(Taint {
                    key: PERFORMANCE_TAINT.0.to_owned(),
                    value: Some(PERFORMANCE_TAINT.1.to_owned()),
                    effect: PERFORMANCE_TAINT.2.to_owned(),
                    time_added: None,
                });
            }
            let resources: BTreeMap<String, Quantity> = RESOURCES
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
                .collect();
            Node {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    labels: Some(labels),
                    annotations: Some(BTreeMap::from([
                        ("kwok.x-k8s.io/node".to_owned(), "fake".to_owned()),
                        ("node.alpha.kubernetes.io/ttl".to_owned(), "0".to_owned()),
                    ])),
                    ..ObjectMeta::default()
                },
                spec: Some(NodeSpec {
                    taints: (!taints.is_empty()).then_some(taints),
                    ..NodeSpec::default()
                }),
                status: Some(NodeStatus {
                    allocatable: Some(resources.clone()),
                    capacity: Some(resources),
                    ..NodeStatus::default()
                }),
            }
        })
        .collect()
}

/// Creates the nodes (those that exist already are left as they are).
pub async fn create(client: &kube::Client) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    for node in definitions() {
        let name = node.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => return Err(Error::kube(format!("creating node {name}"))(e)),
        }
    }
    Ok(())
}

/// Whether `node` is Ready and free of the `node.kubernetes.io/*` taints the node
/// lifecycle controller puts on nodes that are not (yet) ready.
pub fn is_ready(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key.starts_with("node.kubernetes.io/")));
    ready && !tainted
}
