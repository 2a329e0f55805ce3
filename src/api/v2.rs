//! `locust.io/v2` LocustTest: the current, stored version.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements,
    SecurityContext, Toleration, Volume,
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::pod::PodExtensions;
use super::schema::compact;
use super::status::LocustTestStatus;
pub use super::test_files::{GitTestFiles, ImageTestFiles, PvcTestFiles, RequirementsSpec};
pub use super::web_ui::{
    GatewayRef, WebUiAuthSecretRef, WebUiAuthSpec, WebUiHttpRouteSpec, WebUiIngressSpec,
    WebUiServiceSpec, WebUiServiceType, WebUiSpec,
};

/// Default mount path of the test-files ConfigMap.
pub const DEFAULT_SRC_MOUNT_PATH: &str = "/lotest/src";
/// Default mount path of the library ConfigMap.
pub const DEFAULT_LIB_MOUNT_PATH: &str = "/opt/locust/lib";
/// Default `--autoquit` timeout in seconds.
pub const DEFAULT_AUTOQUIT_TIMEOUT: i32 = 60;
/// Most worker pods a test may ask for.
pub const MAX_WORKER_REPLICAS: i32 = 500;
/// Most Locust processes per worker pod.
pub const MAX_PROCESSES_PER_POD: i32 = 64;

/// What the test runs: the Locust image, the master and its workers, where the locustfile
/// comes from, and optionally scheduling, environment, volumes, observability, output
/// files, web UI, security contexts and pass/fail thresholds.
///
/// A test runs once and its spec is immutable: edits after the test has started are not
/// applied (the SpecDrifted condition says so); delete and recreate the test to change it.
// Several printer columns share a type, which clippy takes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "locust.io",
    version = "v2",
    kind = "LocustTest",
    doc = "A distributed Locust load test that runs once. The operator starts a Locust master Job, a worker Job and a Service for the master from the spec, follows the run, and reports its phase (Pending, Running, Succeeded or Failed), its verdict (the Ready condition's reason) and the final numbers (status.result) in the status. Delete and recreate the test to run it again.",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    shortname = "lotest",
    category = "locust",
    status = "LocustTestStatus",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase of the test"
    ),
    printcolumn(
        name = "Result",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        description = "Reason of the Ready condition: the verdict once the test has ended (TestSucceeded, TestFailed, ThresholdsBreached, ...)"
    ),
    printcolumn(
        name = "Workers",
        type_ = "integer",
        json_path = ".spec.worker.replicas",
        description = "Worker pods requested"
    ),
    printcolumn(
        name = "Connected",
        type_ = "integer",
        json_path = ".status.connectedWorkers",
        description = "Workers connected to the master"
    ),
    printcolumn(
        name = "RPS",
        type_ = "number",
        json_path = ".status.result.requestsPerSecond",
        description = "Average requests per second of the finished run"
    ),
    printcolumn(
        name = "Fail %",
        type_ = "number",
        json_path = ".status.result.failurePercentage",
        description = "Failed requests, in percent of all requests of the finished run"
    ),
    printcolumn(
        name = "P95 ms",
        type_ = "number",
        json_path = ".status.result.p95ResponseTime",
        priority = 1,
        description = "95th percentile response time of the finished run, in milliseconds"
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
#[x_kube(validation = Rule::new(MOUNTS_REFERENCE_VOLUMES).message("volumeMounts: every mount must name a volume defined in spec.volumes").reason(Reason::FieldValueInvalid).field_path(".volumeMounts"))]
#[x_kube(validation = Rule::new(MOUNTS_OUTSIDE_SRC).message("volumeMounts and env.secretMounts must not be mounted on or under testFiles.srcMountPath while testFiles has a source (configMapRef, persistentVolumeClaim, image or git)").reason(Reason::FieldValueInvalid).field_path(".volumeMounts"))]
#[x_kube(validation = Rule::new(MOUNTS_OUTSIDE_LIB).message("volumeMounts and env.secretMounts must not be mounted on or under testFiles.libMountPath while testFiles.libConfigMapRef is set").reason(Reason::FieldValueInvalid).field_path(".volumeMounts"))]
pub struct LocustTestSpec {
    /// Container image for the master and the workers, for example `locustio/locust:2.43.1`.
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,

    /// Image pull policy for the Locust containers. Defaults to the Kubernetes default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Secrets used to pull the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,

    /// The master: coordinates the run and serves the web UI and stats API.
    pub master: MasterSpec,

    /// The workers: generate the load.
    pub worker: WorkerSpec,

    /// Where the locustfile and its libraries come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_files: Option<TestFilesSpec>,

    /// Where the master and worker pods may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingSpec>,

    /// Environment injected into master and worker containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvSpec>,

    /// Additional volumes for the Locust pods. A volume is added only to the pods that mount
    /// it (see volumeMounts[].target). Names starting with `lotest-` are reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), schema_with = "compact::<Vec<Volume>>")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[x_kube(validation = Rule::new("self.all(v, !v.name.startsWith('lotest-'))").message("volumes: names starting with 'lotest-' are reserved for the operator's own volumes; rename the volume"))]
    pub volumes: Option<Vec<Volume>>,

    /// Where to mount the volumes, and on which pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub volume_mounts: Option<Vec<TargetedVolumeMount>>,

    /// Metrics and traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<ObservabilitySpec>,

    /// Files Locust writes at the end of the run (on the master).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,

    /// Web UI of the master during the run: base path, Service type, Ingress, Gateway API
    /// HTTPRoute and basic authentication.
    #[serde(default, rename = "webUI", skip_serializing_if = "Option::is_none")]
    pub web_ui: Option<WebUiSpec>,

    /// Pod and container security contexts for the Locust pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySpec>,

    /// Additions to the master and worker pods: ServiceAccount, PriorityClass, topology
    /// spread, host aliases, init containers (native sidecars) and extra containers.
    /// `master.pod` and `worker.pod` add to these for one role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodExtensions>,

    /// Pass/fail limits the operator checks against Locust's final statistics. A run that
    /// breaks one ends `Failed` with reason `ThresholdsBreached`, so `kubectl wait` gives a
    /// CI pipeline a real verdict. Unset: Locust's own exit code decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<ThresholdsSpec>,

    /// Seconds after the test has finished (Succeeded or Failed) before the operator
    /// deletes it, with its Jobs, pods, Service and report ConfigMap. Unset: the test stays
    /// until someone deletes it. 0 deletes it as soon as it has finished (read the result
    /// from the events or a CI tool first). Counted from status.completionTime, so an
    /// operator restart does not reset it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 31_536_000))]
    pub ttl_seconds_after_finished: Option<i32>,

    /// With ttlSecondsAfterFinished: keep failed tests (and their reports) for
    /// inspection; only tests that succeeded are deleted. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_failed: Option<bool>,
}

/// Every volumeMounts[].name must be the name of an entry of volumes.
const MOUNTS_REFERENCE_VOLUMES: &str = "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))";
/// No mount on or under the test-files path while a source of the test files is mounted there.
const MOUNTS_OUTSIDE_SRC: &str = "!has(self.testFiles) || !(has(self.testFiles.configMapRef) || has(self.testFiles.persistentVolumeClaim) || has(self.testFiles.image) || has(self.testFiles.git)) || ((!has(self.volumeMounts) || self.volumeMounts.all(m, !(m.mountPath == (has(self.testFiles.srcMountPath) ? self.testFiles.srcMountPath : '/lotest/src') || m.mountPath.startsWith((has(self.testFiles.srcMountPath) ? self.testFiles.srcMountPath : '/lotest/src') + '/')))) && (!has(self.env) || !has(self.env.secretMounts) || self.env.secretMounts.all(m, !(m.mountPath == (has(self.testFiles.srcMountPath) ? self.testFiles.srcMountPath : '/lotest/src') || m.mountPath.startsWith((has(self.testFiles.srcMountPath) ? self.testFiles.srcMountPath : '/lotest/src') + '/')))))";
/// No mount on or under the library path while the library ConfigMap is mounted there.
const MOUNTS_OUTSIDE_LIB: &str = "!has(self.testFiles) || !has(self.testFiles.libConfigMapRef) || ((!has(self.volumeMounts) || self.volumeMounts.all(m, !(m.mountPath == (has(self.testFiles.libMountPath) ? self.testFiles.libMountPath : '/opt/locust/lib') || m.mountPath.startsWith((has(self.testFiles.libMountPath) ? self.testFiles.libMountPath : '/opt/locust/lib') + '/')))) && (!has(self.env) || !has(self.env.secretMounts) || self.env.secretMounts.all(m, !(m.mountPath == (has(self.testFiles.libMountPath) ? self.testFiles.libMountPath : '/opt/locust/lib') || m.mountPath.startsWith((has(self.testFiles.libMountPath) ? self.testFiles.libMountPath : '/opt/locust/lib') + '/')))))";

/// An image pull policy. Unset: the Kubernetes default (Always for `:latest` or no tag,
/// else IfNotPresent).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImagePullPolicy {
    /// Always pull the image.
    Always,
    /// Pull only when the image is not on the node.
    IfNotPresent,
    /// Never pull; the image must be on the node.
    Never,
}

impl ImagePullPolicy {
    /// The value Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }
}

/// The Locust master.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MasterSpec {
    /// Base command of the master, for example `locust -f /lotest/src/locustfile.py`, or only
    /// flags (`--locustfile /lotest/src/locustfile.py --host https://example.com`) for the
    /// image's `locust` entrypoint. Split like a shell does: quoted arguments stay whole.
    /// The operator appends `--master --master-port=5557 --expect-workers=N`, `--autostart`,
    /// `--autoquit T`, `--otel` when enabled, output and web UI flags, then extraArgs.
    #[schemars(length(min = 1, max = 4096))]
    pub command: String,

    /// Resources of the master container. When unset, the operator's defaults apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Labels added to the master pod. They cannot override the operator's own labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Annotations added to the master pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Start the test as soon as the expected workers are connected (`--autostart`).
    /// Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,

    /// Quit the master a while after the test ends (`--autoquit`), so its Job completes.
    /// Default: enabled, 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoquit: Option<AutoquitSpec>,

    /// Seconds the master waits for all its workers before it gives up and the test fails
    /// with reason `WorkersNotConnected` (`--expect-workers-max-wait`). 0 waits forever.
    /// Default: the operator's `EXPECT_WORKERS_MAX_WAIT_SECONDS` (300 unless configured).
    /// Ignored when extraArgs already pass `--expect-workers-max-wait`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub expect_workers_max_wait: Option<i32>,

    /// Extra arguments appended last to the master's command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub extra_args: Option<Vec<String>>,

    /// Additions to the master pod, on top of `spec.pod`: its name fields win, its lists
    /// come after those of `spec.pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodExtensions>,
}

/// The master's `--autoquit` behaviour.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoquitSpec {
    /// Pass `--autoquit`. Default: true. Without it the master never exits by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// Seconds the master stays up after the test ends (so final stats can be read).
    /// Default: 60. Must be 0 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub timeout: Option<i32>,
}

/// The Locust workers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSpec {
    /// Base command of each worker, for example `locust -f /lotest/src/locustfile.py`.
    /// The operator appends `--worker --master-host=<master service> --master-port=5557`,
    /// `--processes N` when processesPerPod is set, then extraArgs.
    #[schemars(length(min = 1, max = 4096))]
    pub command: String,

    /// Number of worker pods, 1 to 500.
    #[schemars(range(min = 1, max = 500))]
    pub replicas: i32,

    /// Locust worker processes per pod (`--processes`). The master then expects
    /// replicas × processesPerPod workers. Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub processes_per_pod: Option<i32>,

    /// Resources of each worker container. When unset, the operator's defaults apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Labels added to the worker pods. They cannot override the operator's own labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Annotations added to the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Extra arguments appended last to each worker's command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub extra_args: Option<Vec<String>>,

    /// Additions to the worker pods, on top of `spec.pod`: its name fields win, its lists
    /// come after those of `spec.pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodExtensions>,
}

/// Where the test files come from, and the Python packages they need. At most one source
/// of the locustfile: configMapRef, persistentVolumeClaim, image or git (none: the
/// locustfile is in the Locust image). Every source is mounted at srcMountPath.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ONE_SOURCE).message("testFiles: set at most one source of the test files: configMapRef, persistentVolumeClaim, image or git").reason(Reason::FieldValueForbidden))]
pub struct TestFilesSpec {
    /// ConfigMap holding the locustfile(s), mounted at srcMountPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub config_map_ref: Option<String>,

    /// ConfigMap holding library/helper modules, mounted at libMountPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub lib_config_map_ref: Option<String>,

    /// Where the test files appear in the Locust containers (from configMapRef,
    /// persistentVolumeClaim, image or git). Default: /lotest/src.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^/"))]
    pub src_mount_path: Option<String>,

    /// Mount path of libConfigMapRef. Default: /opt/locust/lib.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^/"))]
    pub lib_mount_path: Option<String>,

    /// Test files on a PersistentVolumeClaim (for tests too big for a ConfigMap), mounted
    /// read-only at srcMountPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PvcTestFiles>,

    /// Test files in an OCI image, mounted read-only at srcMountPath (an image volume: needs
    /// Kubernetes 1.35+, where the ImageVolume feature is on by default, or 1.33/1.34 with
    /// it turned on, and a runtime that supports it, such as containerd 2.1+ or CRI-O 1.31+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageTestFiles>,

    /// Test files cloned from a git repository by an init container (lotest-git) as each
    /// pod starts, mounted read-only at srcMountPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitTestFiles>,

    /// Python packages pip-installs before Locust starts, from a requirements file in a
    /// ConfigMap, on the master and every worker (init container lotest-pip). A failed
    /// install fails the test with reason DependencyInstallFailed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<RequirementsSpec>,
}

/// At most one source of the locustfile in testFiles.
const ONE_SOURCE: &str = "(has(self.configMapRef) ? 1 : 0) + (has(self.persistentVolumeClaim) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.git) ? 1 : 0) <= 1";

impl TestFilesSpec {
    /// Whether a source of the test files is set (and mounted at srcMountPath).
    pub fn has_source(&self) -> bool {
        self.config_map_ref.is_some()
            || self.persistent_volume_claim.is_some()
            || self.image.is_some()
            || self.git.is_some()
    }
}

/// Scheduling of the master and worker pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingSpec {
    /// Affinity rules for both roles (honoured unless the operator disables CR affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Tolerations for both roles (honoured unless the operator disables CR tolerations).
    /// Fields: `kubectl explain pod.spec.tolerations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "compact::<Vec<Toleration>>")]
    pub tolerations: Option<Vec<Toleration>>,

    /// Node selector for both roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// RuntimeClass of the Locust pods. Unset: the operator's default (if any);
    /// empty string: no runtime class even if the operator has a default; a name: that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub runtime_class_name: Option<String>,
}

/// Environment injected into the master and worker containers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvSpec {
    /// ConfigMaps whose keys all become environment variables (applied first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub config_map_refs: Option<Vec<EnvSourceRef>>,

    /// Secrets whose keys all become environment variables (applied after the ConfigMaps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub secret_refs: Option<Vec<EnvSourceRef>>,

    /// Individual variables, with a value or a valueFrom reference. Fields: `kubectl
    /// explain pod.spec.containers.env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), schema_with = "compact::<Vec<EnvVar>>")]
    pub variables: Option<Vec<EnvVar>>,

    /// Secrets mounted as files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub secret_mounts: Option<Vec<SecretMount>>,
}

/// A ConfigMap or Secret whose keys become environment variables.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvSourceRef {
    /// Name of the ConfigMap or Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// Prefix added to every variable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub prefix: Option<String>,
}

/// A Secret mounted as files in the master and worker containers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMount {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// Absolute path where the Secret's keys appear as files.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^/"))]
    pub mount_path: String,

    /// Mount read-only. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A volume mount with the pods it applies to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetedVolumeMount {
    /// Name of a volume in spec.volumes.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,

    /// Absolute path inside the container.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^/"))]
    pub mount_path: String,

    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,

    /// Path within the volume to mount instead of its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,

    /// Like subPath, with $(VAR) references expanded from the container's environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path_expr: Option<String>,

    /// Mount propagation: None, HostToContainer or Bidirectional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,

    /// Which pods get the mount: master, worker or both. Default: both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<MountTarget>,
}

/// The pods a volume mount applies to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountTarget {
    /// Only the master pod.
    Master,
    /// Only the worker pods.
    Worker,
    /// Master and worker pods.
    Both,
}

/// Metrics and traces of the Locust pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilitySpec {
    /// Native OpenTelemetry export from master and workers (`--otel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_telemetry: Option<OpenTelemetrySpec>,
}

/// OpenTelemetry settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.enabled || (has(self.endpoint) && self.endpoint != '')").message("observability.openTelemetry.endpoint is required when openTelemetry is enabled: set it to your collector, for example otel-collector.monitoring:4317").reason(Reason::FieldValueRequired).field_path(".endpoint"))]
pub struct OpenTelemetrySpec {
    /// Run Locust with `--otel` and inject the OTEL_* environment.
    pub enabled: bool,

    /// OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`), for example
    /// `otel-collector.monitoring:4317`; with http/protobuf a URL with its scheme, for
    /// example `http://otel-collector.monitoring:4318`. Required when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub endpoint: Option<String>,

    /// OTLP protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`): grpc or http/protobuf. Default: grpc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<OtelProtocol>,

    /// Use an insecure connection to the endpoint (`OTEL_EXPORTER_OTLP_INSECURE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,

    /// Additional OpenTelemetry SDK environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_env_vars: Option<BTreeMap<String, String>>,
}

/// The OTLP transport protocol.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OtelProtocol {
    /// OTLP over gRPC.
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP over HTTP with protobuf payloads.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

impl OtelProtocol {
    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            OtelProtocol::Grpc => "grpc",
            OtelProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Result files written by the master.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputSpec {
    /// Statistics as JSON (`--json-file`; Locust appends `.json` to the path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_file: Option<OutputFile>,

    /// The HTML report (`--html`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_report: Option<OutputFile>,
}

/// One output file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.enabled || self.path != ''").message("output path is required when the output is enabled").reason(Reason::FieldValueRequired).field_path(".path"))]
pub struct OutputFile {
    /// Write this file.
    pub enabled: bool,

    /// Absolute path in the master container, usually on a mounted volume.
    #[serde(default)]
    #[schemars(length(max = 1024))]
    pub path: String,
}

/// Security contexts of the Locust pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySpec {
    /// Pod security context, merged field by field over the defaults `runAsNonRoot: true`,
    /// `runAsUser: 1000` (the operator's LOCUST_RUN_AS_USER) and `seccompProfile:
    /// RuntimeDefault`, which pass the restricted Pod Security Standard.
    /// Fields: `kubectl explain pod.spec.securityContext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "compact::<PodSecurityContext>")]
    pub pod_security_context: Option<PodSecurityContext>,

    /// Security context of the Locust containers, merged field by field over the defaults
    /// `allowPrivilegeEscalation: false` and `capabilities.drop: [ALL]`. Fields: `kubectl explain
    /// pod.spec.containers.securityContext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "compact::<SecurityContext>")]
    pub container_security_context: Option<SecurityContext>,
}

/// Limits on the final statistics of a run; every limit is optional and checked only
/// when set. Response times are in milliseconds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.maxFailureRatio) || has(self.maxAverageResponseTime) || has(self.maxP95ResponseTime) || has(self.maxP99ResponseTime) || has(self.minRequestsPerSecond)").message("thresholds: set at least one limit (maxFailureRatio, maxAverageResponseTime, maxP95ResponseTime, maxP99ResponseTime or minRequestsPerSecond), or remove thresholds").reason(Reason::FieldValueRequired))]
pub struct ThresholdsSpec {
    /// Highest share of failed requests, from 0 to 1 (0.01 = 1 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub max_failure_ratio: Option<f64>,

    /// Highest average response time over all requests, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_average_response_time: Option<f64>,

    /// Highest 95th percentile response time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_p95_response_time: Option<f64>,

    /// Highest 99th percentile response time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_p99_response_time: Option<f64>,

    /// Lowest average requests per second over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_requests_per_second: Option<f64>,
}
