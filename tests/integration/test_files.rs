//! Test files beyond a ConfigMap and Python dependencies, against a real control plane:
//! a test whose files come from a PersistentVolumeClaim, an OCI image volume or git (with
//! `testFiles.requirements`) gets pods with the right volumes and init containers (the API
//! server accepts them and the Job controller creates the pods); a missing requirements
//! ConfigMap or claim blocks the test with a condition naming it (the operator reads the
//! claim with only the RBAC of `config/rbac/role.yaml`); and a pip init container that
//! fails (what the kubelet reports, patched onto the kwok pod) fails the test with reason
//! DependencyInstallFailed and a message pointing to its logs. Real pip, real git and real
//! Locust run the built init containers in `tests/integration/test_files_real.rs`.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    Operator, children, condition, create, eventually, locust_test, master_annotations, wait_phase,
    wait_status, worker_annotations,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, PodSpec, Secret,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::{
    GitTestFiles, ImagePullPolicy, ImageTestFiles, LocustTest, PvcTestFiles, RequirementsSpec,
    TestFilesSpec,
};
use serde_json::json;

const CHILDREN: Duration = Duration::from_secs(60);
const PHASE: Duration = Duration::from_secs(90);

/// An admin client, a fresh namespace and an operator watching it.
async fn setup(prefix: &str) -> (Client, String, Operator) {
    common::operator_in_namespace(prefix).await
}

/// `locust_test(name, 1)` with `files` as its test files.
fn with_files(name: &str, files: TestFilesSpec) -> LocustTest {
    let mut t = locust_test(name, 1);
    t.spec.test_files = Some(files);
    t
}

fn requirements(config_map: &str) -> RequirementsSpec {
    RequirementsSpec {
        config_map_ref: config_map.into(),
        key: None,
    }
}

fn git() -> GitTestFiles {
    GitTestFiles {
        repository: "https://git.example.com/load/tests.git".into(),
        ref_: "v1.4.2".into(),
        path: Some("checkout".into()),
        secret_ref: Some("git-credentials".into()),
        image: None,
    }
}

async fn create_config_map(client: &Client, ns: &str, name: &str) {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "requirements.txt".into(),
            "tabulate==0.9.0\n".into(),
        )])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cm)
        .await
        .expect("requirements ConfigMap");
}

async fn create_claim(client: &Client, ns: &str, name: &str) {
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadOnlyMany".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Quantity("1Gi".into()))])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    };
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &claim)
        .await
        .expect("PersistentVolumeClaim");
}

async fn create_git_secret(client: &Client, ns: &str) {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("git-credentials".into()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/basic-auth".into()),
        string_data: Some(BTreeMap::from([
            ("username".into(), "load-tests".into()),
            ("password".into(), "not-a-real-token".into()),
        ])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("git Secret");
}

/// The spec of a pod of `role` (`master` or `worker`) of test `name`, once one exists.
async fn pod_of(client: &Client, ns: &str, name: &str, role: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let selector = format!("performance-test-pod-name={name}-{role}");
    eventually(&format!("a {role} pod of {name}"), CHILDREN, || async {
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| "none yet".to_string())
    })
    .await
}

fn spec(pod: &Pod) -> &PodSpec {
    pod.spec.as_ref().expect("pod spec")
}

fn init_names(spec: &PodSpec) -> Vec<&str> {
    spec.init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect()
}

/// The test-files mount of the Locust container: (path, subPath, readOnly).
fn src_mount(spec: &PodSpec) -> (String, Option<String>, Option<bool>) {
    let m = spec.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "lotest-src")
        .expect("the Locust container mounts the test files");
    (m.mount_path.clone(), m.sub_path.clone(), m.read_only)
}

fn python_path(spec: &PodSpec) -> Option<String> {
    spec.containers[0]
        .env
        .iter()
        .flatten()
        .find(|v| v.name == "PYTHONPATH")
        .and_then(|v| v.value.clone())
}

#[tokio::test]
async fn every_source_of_test_files_reaches_the_pods() {
    let (client, ns, mut operator) = setup("testfiles").await;
    create_claim(&client, &ns, "big-tests").await;
    create_config_map(&client, &ns, "deps").await;
    create_git_secret(&client, &ns).await;

    let from_claim = with_files(
        "from-claim",
        TestFilesSpec {
            persistent_volume_claim: Some(PvcTestFiles {
                claim_name: "big-tests".into(),
                sub_path: Some("checkout".into()),
                read_only: None,
            }),
            ..TestFilesSpec::default()
        },
    );
    let from_image = with_files(
        "from-image",
        TestFilesSpec {
            image: Some(ImageTestFiles {
                reference: "registry.example.com/load-tests/checkout:1.4.2".into(),
                pull_policy: Some(ImagePullPolicy::IfNotPresent),
            }),
            ..TestFilesSpec::default()
        },
    );
    let from_git = with_files(
        "from-git",
        TestFilesSpec {
            git: Some(git()),
            requirements: Some(requirements("deps")),
            ..TestFilesSpec::default()
        },
    );
    for t in [&from_claim, &from_image, &from_git] {
        let stored = create(&client, &ns, t).await;
        assert_eq!(stored.spec, t.spec, "the API server keeps every field");
    }

    for role in ["master", "worker"] {
        let claim = pod_of(&client, &ns, "from-claim", role).await;
        let claim = spec(&claim);
        let volume = claim
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "lotest-src")
            .and_then(|v| v.persistent_volume_claim.clone())
            .expect("the claim is a volume");
        assert_eq!(
            (volume.claim_name.as_str(), volume.read_only),
            ("big-tests", Some(true))
        );
        assert_eq!(
            src_mount(claim),
            ("/lotest/src".into(), Some("checkout".into()), Some(true)),
            "{role}"
        );
        assert!(init_names(claim).is_empty(), "{role}");

        let image = pod_of(&client, &ns, "from-image", role).await;
        let image = spec(&image);
        let volume = image
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "lotest-src")
            .and_then(|v| v.image.clone())
            .expect("an image volume");
        assert_eq!(
            volume.reference.as_deref(),
            Some("registry.example.com/load-tests/checkout:1.4.2")
        );
        assert_eq!(volume.pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(src_mount(image).2, Some(true), "{role}");

        let git = pod_of(&client, &ns, "from-git", role).await;
        let git = spec(&git);
        assert_eq!(init_names(git), ["lotest-git", "lotest-pip"], "{role}");
        let init = git.init_containers.as_deref().unwrap_or_default();
        assert_eq!(init[0].image.as_deref(), Some("alpine/git:v2.49.1"));
        assert_eq!(init[1].image.as_deref(), Some("locustio/locust:2.43.1"));
        assert_eq!(
            src_mount(git),
            (
                "/lotest/src".into(),
                Some("repo/checkout".into()),
                Some(true)
            ),
            "{role}"
        );
        assert_eq!(
            python_path(git).as_deref(),
            Some("/lotest/pydeps"),
            "{role}"
        );
        let requirements = git
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "lotest-requirements")
            .and_then(|v| v.config_map.clone())
            .expect("the requirements ConfigMap is a volume");
        assert_eq!(requirements.name, "deps");
    }

    // With its init containers the run goes on as any other (kwok reports them done).
    wait_phase(&client, &ns, "from-git", Phase::Running, PHASE).await;
    operator.assert_running();
}

#[tokio::test]
async fn a_missing_requirements_config_map_or_claim_blocks_the_test() {
    let (client, ns, mut operator) = setup("testfiles-missing").await;
    let no_deps = with_files(
        "no-deps",
        TestFilesSpec {
            config_map_ref: Some(common::LOCUSTFILE.into()),
            requirements: Some(requirements("no-such-requirements")),
            ..TestFilesSpec::default()
        },
    );
    let no_claim = with_files(
        "no-claim",
        TestFilesSpec {
            persistent_volume_claim: Some(PvcTestFiles {
                claim_name: "no-such-claim".into(),
                ..PvcTestFiles::default()
            }),
            ..TestFilesSpec::default()
        },
    );
    create(&client, &ns, &no_deps).await;
    create(&client, &ns, &no_claim).await;
    for (name, reason, names) in [
        (
            "no-deps",
            "ConfigMapMissing",
            [
                "no-such-requirements",
                "spec.testFiles.requirements.configMapRef",
            ],
        ),
        (
            "no-claim",
            "PersistentVolumeClaimMissing",
            [
                "no-such-claim",
                "spec.testFiles.persistentVolumeClaim.claimName",
            ],
        ),
    ] {
        let seen = wait_status(
            &client,
            &ns,
            name,
            &format!("Ready False ({reason})"),
            PHASE,
            |t| condition(t, "Ready").is_some_and(|c| c.status == "False" && c.reason == reason),
        )
        .await;
        let message = &condition(&seen, "Ready").expect("Ready").message;
        for n in names {
            assert!(
                message.contains(n),
                "{name}: the message names {n}: {message}"
            );
        }
        let c = children(&client, &ns, name).await;
        assert!(
            c.master.is_none() && c.worker.is_none(),
            "{name}: no Jobs while it is missing: {}",
            c.summary()
        );
    }
    operator.assert_running();
}

#[tokio::test]
async fn a_failed_dependency_install_fails_the_test_with_a_clear_reason() {
    let (client, ns, mut operator) = setup("testfiles-pipfail").await;
    create_config_map(&client, &ns, "deps").await;
    let t = with_files(
        "pipfail",
        TestFilesSpec {
            config_map_ref: Some(common::LOCUSTFILE.into()),
            requirements: Some(requirements("deps")),
            ..TestFilesSpec::default()
        },
    );
    // Pods that would run for long: only the failed install ends the test.
    let t = master_annotations(t, &[(common::annotations::RUN_SECONDS, "3600")]);
    let t = worker_annotations(t, &[(common::annotations::RUN_SECONDS, "3600")]);
    create(&client, &ns, &t).await;
    let master = pod_of(&client, &ns, "pipfail", "master").await;
    assert_eq!(init_names(spec(&master)), ["lotest-pip"]);

    // What the kubelet reports when pip exits 1 (restartPolicy Never: the pod fails).
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.patch_status(
        &master.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "phase": "Failed",
            "conditions": [{"type": "Ready", "status": "False"}],
            "initContainerStatuses": [{
                "name": "lotest-pip",
                "image": "locustio/locust:2.43.1",
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }],
            "containerStatuses": [{
                "name": "locust-master",
                "image": "locustio/locust:2.43.1",
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": "PodInitializing"}},
            }],
        }})),
    )
    .await
    .expect("report the failed install");

    let failed = wait_phase(&client, &ns, "pipfail", Phase::Failed, PHASE).await;
    let ready = condition(&failed, "Ready").expect("Ready");
    assert_eq!(ready.reason, "DependencyInstallFailed", "{ready:?}");
    let logs = format!("kubectl logs {} -c lotest-pip", master.name_any());
    assert!(
        ready.message.contains(&logs) && ready.message.contains("exited with code 1"),
        "the message names the container and its logs: {}",
        ready.message
    );
    let healthy = wait_status(
        &client,
        &ns,
        "pipfail",
        "PodsHealthy False (DependencyInstallFailed)",
        PHASE,
        |t| condition(t, "PodsHealthy").is_some_and(|c| c.reason == "DependencyInstallFailed"),
    )
    .await;
    let healthy = condition(&healthy, "PodsHealthy").expect("PodsHealthy");
    assert!(healthy.message.contains(&logs), "{}", healthy.message);
    operator.assert_running();
}
