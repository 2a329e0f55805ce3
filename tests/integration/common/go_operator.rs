//! A stand-in for the Go `locust-k8s-operator` v2.3: it writes a LocustTest and its
//! children the way that operator does (facts from its source, tag 2.3.0), so tests can
//! start this operator on what the Go operator left behind.
//!
//! - the test gets the finalizer `locust.io/cleanup` (`internal/controller/
//!   locusttest_controller.go`) and the status the Go operator writes once its children
//!   exist: phase `Running`, `startTime`, `Ready=True/ResourcesCreated` and its initial
//!   `WorkersConnected`, `TestCompleted`, `PodsHealthy` conditions (`status.go`);
//! - children are named `<name with dots replaced by dashes>-master|-worker`
//!   (`api/v2/naming.go`); the Service and the Jobs are written with **no labels** (the
//!   API server then copies the pod template's labels onto the Jobs) and a controller
//!   owner reference to the test (`SetControllerReference`: `locust.io/v2`, `controller`
//!   and `blockOwnerDeletion` true); the pods get `app`, `performance-test-name` (the CR
//!   name), `performance-test-pod-name` (the Job's name) and `managed-by:
//!   locust-k8s-operator` (`internal/resources/labels.go`) and the user's annotations
//!   (which carry the kwok fates here); no `app.kubernetes.io/*` label, no
//!   `locust.io/test-name` annotation;
//! - the Jobs have `backoffLimit: 0` and `parallelism` 1 (master) or `replicas` (workers),
//!   no `completions` (`job.go`); the Service selects `performance-test-pod-name` and
//!   exposes 5557, 5558 and the metrics exporter's 9646, not 8089 (`service.go`). The
//!   master's metrics-exporter sidecar is left out: kwok does not play native sidecars.
//! - its leader-election Lease is `locust-k8s-operator.locust.io` in its own namespace
//!   (`cmd/main.go`, controller-runtime: renewed every 2 s, 15 s duration).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::v2::LocustTest;
use serde_json::json;

/// The Go operator's finalizer.
pub const FINALIZER: &str = "locust.io/cleanup";
/// The Go operator's leader-election Lease.
pub const LEASE_NAME: &str = "locust-k8s-operator.locust.io";
/// The field manager of the Go operator's writes (controller-runtime's default: the
/// binary's name).
pub const GO_MANAGER: &str = "manager";

/// The name the Go operator gives a child: `<name, dots replaced>-<mode>`.
pub fn child_name(cr_name: &str, mode: &str) -> String {
    format!("{cr_name}-{mode}").replace('.', "-")
}

/// The Go operator's pod labels for `mode` (`master` or `worker`).
pub fn pod_labels(test: &LocustTest, mode: &str) -> BTreeMap<String, String> {
    let name = test.name_any();
    [
        ("app", name.clone()),
        ("performance-test-pod-name", child_name(&name, mode)),
        ("managed-by", "locust-k8s-operator".to_string()),
        ("performance-test-name", name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `SetControllerReference` to the (created) test.
pub fn owner_reference(test: &LocustTest) -> OwnerReference {
    OwnerReference {
        api_version: "locust.io/v2".into(),
        kind: "LocustTest".into(),
        name: test.name_any(),
        uid: test.uid().expect("the test was created"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn meta(test: &LocustTest, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: test.namespace(),
        owner_references: Some(vec![owner_reference(test)]),
        ..ObjectMeta::default()
    }
}

/// The master Service: no labels, selecting the master pod by `performance-test-pod-name`.
pub fn service(test: &LocustTest) -> Service {
    let name = child_name(&test.name_any(), "master");
    let port = |p: i32, n: &str| ServicePort {
        name: Some(n.into()),
        protocol: Some("TCP".into()),
        port: p,
        ..ServicePort::default()
    };
    Service {
        metadata: meta(test, name.clone()),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([(
                "performance-test-pod-name".to_string(),
                name,
            )])),
            ports: Some(vec![
                port(5557, "port5557"),
                port(5558, "port5558"),
                port(9646, "prometheus-metrics"),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The master or worker Job (`mode`): no labels set on the Job, the Go pod labels and the
/// user's annotations on its pods.
pub fn job(test: &LocustTest, mode: &str) -> Job {
    let name = child_name(&test.name_any(), mode);
    let (command, annotations, parallelism, ports) = if mode == "master" {
        (
            &test.spec.master.command,
            test.spec.master.annotations.clone(),
            1,
            vec![5557, 5558, 8089],
        )
    } else {
        (
            &test.spec.worker.command,
            test.spec.worker.annotations.clone(),
            test.spec.worker.replicas,
            vec![8080],
        )
    };
    Job {
        metadata: meta(test, name.clone()),
        spec: Some(JobSpec {
            parallelism: Some(parallelism),
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels(test, mode)),
                    annotations,
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name,
                        image: Some(test.spec.image.clone()),
                        image_pull_policy: Some("IfNotPresent".into()),
                        args: Some(command.split_whitespace().map(str::to_string).collect()),
                        ports: Some(
                            ports
                                .into_iter()
                                .map(|p| ContainerPort {
                                    container_port: p,
                                    ..ContainerPort::default()
                                })
                                .collect(),
                        ),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The status the Go operator writes: its initial conditions, then `Running` with
/// `Ready=True` once the children exist (or `phase` if given: a test it finished).
pub fn status(test: &LocustTest, phase: &str) -> serde_json::Value {
    let now = Timestamp::now().to_string();
    let generation = test.metadata.generation.unwrap_or(1);
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now, "observedGeneration": generation,
        })
    };
    let finished = phase == "Succeeded" || phase == "Failed";
    let mut status = json!({
        "phase": phase,
        "expectedWorkers": test.spec.worker.replicas,
        "connectedWorkers": 0,
        "observedGeneration": generation,
        "startTime": now,
        "conditions": [
            condition("Ready", "True", "ResourcesCreated", "All resources created"),
            condition("WorkersConnected", "False", "WaitingForWorkers", "Waiting for workers to connect"),
            if finished {
                condition("TestCompleted", "True", "TestSucceeded", "Test completed successfully")
            } else {
                condition("TestCompleted", "False", "TestInProgress", "Test has not started")
            },
            condition("PodsHealthy", "True", "PodsStarting", "Waiting for pods to start"),
        ],
    });
    if finished {
        status["completionTime"] = json!(now);
    }
    status
}

/// Starts `test` in `ns` as the Go operator does: the test with its finalizer (after
/// `other_finalizers`, which someone else put there), its children, then the status with
/// `phase` (`Running`; `Succeeded` for a test it finished, whose children it never
/// created here). Returns the test as created.
pub async fn start(
    client: &Client,
    ns: &str,
    mut test: LocustTest,
    other_finalizers: &[&str],
    phase: &str,
) -> LocustTest {
    let mut finalizers: Vec<String> = other_finalizers.iter().map(|f| f.to_string()).collect();
    finalizers.push(FINALIZER.into());
    test.metadata.finalizers = Some(finalizers);
    let tests: Api<LocustTest> = Api::namespaced(client.clone(), ns);
    let params = PostParams {
        field_manager: Some(GO_MANAGER.into()),
        ..PostParams::default()
    };
    let created = tests
        .create(&params, &test)
        .await
        .unwrap_or_else(|e| panic!("the Go stand-in creates {ns}/{}: {e}", test.name_any()));
    if phase == "Running" {
        Api::<Service>::namespaced(client.clone(), ns)
            .create(&params, &service(&created))
            .await
            .expect("the Go stand-in creates the Service");
        let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
        for mode in ["master", "worker"] {
            jobs.create(&params, &job(&created, mode))
                .await
                .unwrap_or_else(|e| panic!("the Go stand-in creates the {mode} Job: {e}"));
        }
    }
    tests
        .patch_status(
            &created.name_any(),
            &PatchParams {
                field_manager: Some(GO_MANAGER.into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({ "status": status(&created, phase) })),
        )
        .await
        .expect("the Go stand-in writes the status")
}

/// The Go operator's Lease in `ns`, held by `holder`, renewed now, for `seconds`.
pub fn lease(holder: &str, seconds: i32) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE_NAME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(seconds),
            acquire_time: Some(MicroTime(Timestamp::now())),
            renew_time: Some(MicroTime(Timestamp::now())),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

/// A running Go operator as far as its Lease shows: renews it in `ns` every second until
/// [`GoElector::stop`] (then it expires after its duration, as when the Go operator is
/// scaled to 0: controller-runtime does not release it).
pub struct GoElector {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl GoElector {
    /// Takes the Lease in `ns` (creating or replacing it) and keeps renewing it.
    pub async fn start(client: &Client, ns: &str, holder: &str, seconds: i32) -> Self {
        let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
        let apply = |l: &Lease| {
            let mut value = serde_json::to_value(l).expect("lease json");
            value["apiVersion"] = "coordination.k8s.io/v1".into();
            value["kind"] = "Lease".into();
            value
        };
        let params = PatchParams::apply(GO_MANAGER).force();
        leases
            .patch(
                LEASE_NAME,
                &params,
                &Patch::Apply(apply(&lease(holder, seconds))),
            )
            .await
            .expect("the Go stand-in takes its Lease");
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
                let renewed = json!({ "spec": { "renewTime": MicroTime(Timestamp::now()) } });
                // A failed renewal is a missed beat, as for the real operator.
                let _ = leases
                    .patch(LEASE_NAME, &PatchParams::default(), &Patch::Merge(&renewed))
                    .await;
            }
        });
        GoElector {
            stop: Some(tx),
            task,
        }
    }

    /// Stops renewing (the Go operator scaled to 0).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for GoElector {
    fn drop(&mut self) {
        self.task.abort();
    }
}
