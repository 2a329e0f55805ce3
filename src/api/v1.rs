//! `locust.io/v1` LocustTest: the deprecated flat API, served through conversion to v2.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::LocustTestStatus;

/// What the test runs, in the flat v1 layout of the Go operator: the master and worker
/// command seeds, the worker count, the image and the test-file ConfigMaps. Deprecated:
/// write locust.io/v2 (the operator converts v1 objects to v2 and back).
// Several printer columns share a type, which clippy takes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "locust.io",
    version = "v1",
    kind = "LocustTest",
    doc = "A distributed Locust load test, in the deprecated locust.io/v1 layout: migrate to locust.io/v2, which describes the same test with more fields. The operator starts a Locust master Job, a worker Job and a Service for the master, follows the run and reports it in the status.",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    shortname = "lotest",
    category = "locust",
    status = "LocustTestStatus",
    deprecated = "locust.io/v1 LocustTest is deprecated, migrate to locust.io/v2",
    printcolumn(
        name = "Master cmd",
        type_ = "string",
        json_path = ".spec.masterCommandSeed",
        description = "Master command seed"
    ),
    printcolumn(
        name = "Worker replicas",
        type_ = "integer",
        json_path = ".spec.workerReplicas",
        description = "Worker pods"
    ),
    printcolumn(
        name = "Image",
        type_ = "string",
        json_path = ".spec.image",
        priority = 1,
        description = "Locust image"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestSpec {
    /// Master command: locust flags such as `--locustfile /lotest/src/demo.py --host https://x`.
    #[schemars(length(min = 1, max = 4096))]
    pub master_command_seed: String,

    /// Worker command: locust flags, usually the same locustfile as the master.
    #[schemars(length(min = 1, max = 4096))]
    pub worker_command_seed: String,

    /// Number of worker pods, 1 to 500.
    #[schemars(range(min = 1, max = 500))]
    pub worker_replicas: i32,

    /// Container image for the master and the workers.
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,

    /// Image pull policy: Always, IfNotPresent or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<super::v2::ImagePullPolicy>,

    /// Names of Secrets used to pull the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<String>>,

    /// ConfigMap holding the locustfile(s), mounted at /lotest/src.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,

    /// ConfigMap holding library files, mounted at /opt/locust/lib.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lib_config_map: Option<String>,

    /// Labels for the master and worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<PodMetadata>,

    /// Annotations for the master and worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<PodMetadata>,

    /// Node affinity for the Locust pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<LocustAffinity>,

    /// Tolerations for the Locust pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<LocustToleration>>,
}

/// Labels or annotations per role.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodMetadata {
    /// For the master pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<BTreeMap<String, String>>,
    /// For the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<BTreeMap<String, String>>,
}

/// v1 affinity: only required node affinity, as label → value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocustAffinity {
    /// Node affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<LocustNodeAffinity>,
}

/// v1 node affinity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocustNodeAffinity {
    /// Node labels the pods require, as label → value (all must match).
    pub required_during_scheduling_ignored_during_execution: BTreeMap<String, String>,
}

/// v1 toleration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocustToleration {
    /// Taint key.
    pub key: String,
    /// Equal or Exists.
    pub operator: TolerationOperator,
    /// Taint value (with Equal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// NoSchedule, PreferNoSchedule or NoExecute.
    pub effect: TaintEffect,
}

/// v1 toleration operator.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TolerationOperator {
    /// Key and value must match.
    #[default]
    Equal,
    /// Key must exist.
    Exists,
}

/// v1 taint effect.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TaintEffect {
    /// Do not schedule.
    #[default]
    NoSchedule,
    /// Prefer not to schedule.
    PreferNoSchedule,
    /// Evict running pods.
    NoExecute,
}
