//! Pod extensions against a real control plane: `examples/pod-extensions.yaml` (a
//! ServiceAccount and a native sidecar for the workers, spread across zones, a priority
//! class and a host alias for both roles) is stored by the API server with every field,
//! the operator puts the extensions into the Jobs' pod templates beside its own fields,
//! and the pods the Job controller creates carry them (the API server's Priority admission
//! resolves the priority class). Invalid extensions are refused by the CRD or by the
//! admission webhook: the cases of `tests/fixtures/invalid-cases.yaml`, which
//! `tests/integration/api_server.rs` and `tests/integration/webhooks.rs` run.

use crate::common;

use std::time::Duration;

use common::{Operator, OperatorOptions, create, eventually, wait_children, wait_phase};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ServiceAccount};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::manifest::{AnyLocustTest, parse_documents};

const CHILDREN: Duration = Duration::from_secs(60);
const PHASE: Duration = Duration::from_secs(90);
/// The priority of the example's PriorityClass in this cluster.
const PRIORITY: i32 = 1000;

/// The example, in namespace `ns`, reading the test files every test namespace has.
fn example(ns: &str) -> LocustTest {
    let text = std::fs::read_to_string("examples/pod-extensions.yaml").expect("example");
    let Some(AnyLocustTest::V2(mut test)) = parse_documents(&text).expect("parses").pop() else {
        panic!("a v2 example")
    };
    test.metadata.namespace = Some(ns.into());
    if let Some(files) = test.spec.test_files.as_mut() {
        files.config_map_ref = Some(common::LOCUSTFILE.into());
    }
    *test
}

/// The ServiceAccount and PriorityClass the example names.
async fn prerequisites(client: &Client, ns: &str, test: &LocustTest) {
    let account = test
        .spec
        .worker
        .pod
        .as_ref()
        .and_then(|p| p.service_account_name.clone())
        .expect("the example names a worker ServiceAccount");
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(account),
                    ..ObjectMeta::default()
                },
                ..ServiceAccount::default()
            },
        )
        .await
        .expect("ServiceAccount");
    let class = test
        .spec
        .pod
        .as_ref()
        .and_then(|p| p.priority_class_name.clone())
        .expect("the example names a PriorityClass");
    let created = Api::<PriorityClass>::all(client.clone())
        .create(
            &PostParams::default(),
            &PriorityClass {
                metadata: ObjectMeta {
                    name: Some(class),
                    ..ObjectMeta::default()
                },
                value: PRIORITY,
                ..PriorityClass::default()
            },
        )
        .await;
    if let Err(e) = created
        && !e.to_string().contains("already exists")
    {
        panic!("PriorityClass: {e}");
    }
}

fn pod_spec(job: &Job) -> &PodSpec {
    job.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod template")
}

fn names(containers: Option<&Vec<Container>>) -> Vec<&str> {
    containers
        .into_iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect()
}

fn volume_names(spec: &PodSpec) -> Vec<&str> {
    spec.volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect()
}

/// What both roles' pods carry, from the operator and from `spec.pod`.
fn assert_shared(role: &str, spec: &PodSpec) {
    assert_eq!(
        spec.priority_class_name.as_deref(),
        Some("load-testing"),
        "{role}"
    );
    let aliases = spec.host_aliases.as_ref().expect("host aliases");
    assert_eq!(aliases.len(), 1, "{role}");
    assert_eq!(aliases[0].ip, "10.20.0.15", "{role}");
    assert_eq!(
        aliases[0].hostnames.as_deref(),
        Some(&["shop.internal".to_string()][..])
    );
    // The operator's own fields stay: its Locust container first, its test-files volume,
    // its restart policy and security defaults.
    let locust = &spec.containers[0];
    assert_eq!(locust.name, format!("locust-{role}"));
    assert_eq!(locust.image.as_deref(), Some("locustio/locust:2.43.1"));
    assert!(
        locust
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "lotest-src" && m.mount_path == "/lotest/src"),
        "{role}: the test files are still mounted"
    );
    assert!(volume_names(spec).contains(&"lotest-src"), "{role}");
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"), "{role}");
    assert_eq!(
        locust
            .security_context
            .as_ref()
            .and_then(|s| s.allow_privilege_escalation),
        Some(false),
        "{role}"
    );
}

#[tokio::test]
async fn extensions_reach_jobs_and_pods_beside_the_operators_fields() {
    let client = common::admin().await;
    let ns = common::namespace("podext").await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut operator = Operator::start("podext", OperatorOptions::new(&kubeconfig, &ns));
    let test = example(&ns);
    prerequisites(&client, &ns, &test).await;

    // The API server keeps every field of the extensions (the CRD's compact container
    // schema prunes nothing the example uses).
    let stored = create(&client, &ns, &test).await;
    assert_eq!(stored.spec, test.spec);

    let kids = wait_children(&client, &ns, "checkout-load", CHILDREN).await;
    let (master_job, worker_job) = (
        kids.master.expect("master job"),
        kids.worker.expect("worker job"),
    );
    let (master, worker) = (pod_spec(&master_job), pod_spec(&worker_job));
    assert_shared("master", master);
    assert_shared("worker", worker);

    // The worker's own extensions; the master has none of them.
    assert_eq!(
        worker.service_account_name.as_deref(),
        Some("load-test-workers")
    );
    assert_eq!(master.service_account_name, None);
    assert_eq!(names(worker.init_containers.as_ref()), ["token-proxy"]);
    let sidecar = &worker.init_containers.as_ref().expect("init containers")[0];
    assert_eq!(sidecar.restart_policy.as_deref(), Some("Always"));
    assert_eq!(
        sidecar.args.as_deref(),
        Some(&["--listen=127.0.0.1:15001".to_string()][..])
    );
    assert_eq!(names(master.init_containers.as_ref()), Vec::<&str>::new());
    assert_eq!(names(Some(&worker.containers)), ["locust-worker"]);
    let spread = worker
        .topology_spread_constraints
        .as_ref()
        .expect("worker spread");
    assert_eq!(spread[0].topology_key, "topology.kubernetes.io/zone");
    assert_eq!(spread[0].when_unsatisfiable, "ScheduleAnyway");
    assert_eq!(master.topology_spread_constraints, None);

    // The Job controller's pods carry them; the Priority admission plugin resolved the
    // class, and the spread constraint's label selector matches the worker pods.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let worker_pod = eventually("a worker pod", CHILDREN, || async {
        let list = pods
            .list(&ListParams::default().labels("performance-test-pod-name=checkout-load-worker"))
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| "no worker pod yet".to_string())
    })
    .await;
    let spec = worker_pod.spec.as_ref().expect("pod spec");
    assert_eq!(spec.priority, Some(PRIORITY));
    assert_eq!(
        spec.service_account_name.as_deref(),
        Some("load-test-workers")
    );
    assert_eq!(names(spec.init_containers.as_ref()), ["token-proxy"]);
    assert_eq!(names(Some(&spec.containers)), ["locust-worker"]);
    assert_eq!(spec.host_aliases.as_ref().map(Vec::len), Some(1));
    assert!(volume_names(spec).contains(&"lotest-src"));

    // The run goes on with the extra init container's status in the pods (kwok reports
    // the sidecar running, as a kubelet would).
    wait_phase(&client, &ns, &stored.name_any(), Phase::Succeeded, PHASE).await;
    operator.assert_running();
}
