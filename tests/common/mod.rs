//! Shared helpers of the controller integration tests: the test binary's cluster with the
//! CRD and the operator's RBAC installed, LocustTest fixtures, child and status look-ups,
//! and polling with clear failure messages. Each test binary includes this with
//! `mod common;` and uses a part of it.
#![allow(dead_code)]

pub mod go_operator;
pub mod local_locust;
pub mod operator;
pub mod otelcol;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::{
    LocustTest, LocustTestSpec, MasterSpec, TestFilesSpec, WorkerSpec,
};
use locust_k8s_operator::crd::{CRD_NAME, crd};
use locust_k8s_operator::naming;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;

#[allow(unused_imports)]
pub use operator::{Operator, OperatorOptions};

/// The user the operator runs as in these tests, and its group (the ClusterRole from
/// `config/rbac/role.yaml` is bound to the group, nothing else is).
pub const OPERATOR_USER: &str = "locust-operator";
/// See [`OPERATOR_USER`].
pub const OPERATOR_GROUP: &str = "locust-operators";
/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "locust-k8s-operator";
/// The ConfigMap every fixture test refers to (created by [`namespace`]).
pub const LOCUSTFILE: &str = "locustfile";
/// The RBAC rules the chart ships.
pub const ROLE_YAML: &str = include_str!("../../config/rbac/role.yaml");
/// The leader-election Role (namespaced: the Lease lives in the operator's namespace).
pub const LEADER_ELECTION_ROLE_YAML: &str =
    include_str!("../../config/rbac/leader_election_role.yaml");
/// The self-signed webhook mode's namespaced Role (its certificate Secret).
pub const WEBHOOK_ROLE_YAML: &str = include_str!("../../config/rbac/webhook_role.yaml");
/// The self-signed webhook mode's ClusterRole (CA bundle in the CRD and the webhook
/// configuration, by name).
pub const WEBHOOK_CLUSTER_ROLE_YAML: &str =
    include_str!("../../config/rbac/webhook_cluster_role.yaml");

/// Kwok pod-fate annotations (see `tests/cluster/kwok/stages.yaml`).
#[allow(unused_imports)]
pub use test_cluster::annotations;

/// The shared cluster of this test binary, with the v2 CRD (conversion `None`) and the
/// operator's ClusterRole bound to [`OPERATOR_GROUP`].
pub async fn cluster() -> &'static test_cluster::Cluster {
    static READY: OnceCell<()> = OnceCell::const_new();
    let cluster = test_cluster::shared()
        .await
        .expect("the test cluster starts");
    READY
        .get_or_init(|| async {
            let client = cluster.client().await.expect("admin client");
            install_crd(&client).await;
            install_rbac(&client).await;
        })
        .await;
    cluster
}

/// A fresh admin client on the caller's runtime (the cluster prepared).
pub async fn admin() -> Client {
    cluster().await.client().await.expect("admin client")
}

/// A kubeconfig for the RBAC-limited operator user.
pub async fn operator_kubeconfig() -> PathBuf {
    cluster()
        .await
        .kubeconfig_for(OPERATOR_USER, &[OPERATOR_GROUP])
        .expect("operator kubeconfig")
}

/// Installs the generated CRD with conversion strategy `None` (no webhook needed: the
/// controller tests only use v2) and waits until it is Established.
pub async fn install_crd(client: &Client) {
    let mut crd = crd().expect("crd generates");
    crd.spec.conversion = None;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("controller-test").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("the API server accepts the generated CRD");
    eventually(
        "the CRD to become Established",
        Duration::from_secs(30),
        || {
            let crds = crds.clone();
            async move {
                let c = crds.get(CRD_NAME).await.map_err(|e| e.to_string())?;
                let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
                established.then_some(()).ok_or("not Established".into())
            }
        },
    )
    .await;
}

/// The ClusterRole from `config/rbac/role.yaml`.
pub fn cluster_role() -> ClusterRole {
    locust_k8s_operator::yaml::from_yaml(ROLE_YAML).expect("config/rbac/role.yaml parses")
}

/// The leader-election Role from `config/rbac/leader_election_role.yaml`.
pub fn leader_election_role() -> Role {
    locust_k8s_operator::yaml::from_yaml(LEADER_ELECTION_ROLE_YAML)
        .expect("config/rbac/leader_election_role.yaml parses")
}

/// Creates the leader-election Role in `ns` and binds it to [`OPERATOR_GROUP`] there, as
/// the chart does in the operator's namespace (leases are never granted cluster-wide).
pub async fn bind_leader_election(client: &Client, ns: &str) {
    bind_role(client, ns, leader_election_role()).await;
}

/// The opt-in rules reading the Secrets of `spec.webUI.auth`.
pub const WEB_AUTH_ROLE_YAML: &str = include_str!("../../config/rbac/web_auth_role.yaml");

/// Grants the opt-in rules of `config/rbac/web_auth_role.yaml` to [`OPERATOR_GROUP`] in
/// `ns` only (a Role and a RoleBinding, as the chart does for watched namespaces).
pub async fn bind_web_auth(client: &Client, ns: &str) {
    let cluster: ClusterRole = locust_k8s_operator::yaml::from_yaml(WEB_AUTH_ROLE_YAML)
        .expect("web_auth_role.yaml parses");
    let role = Role {
        metadata: ObjectMeta {
            name: cluster.metadata.name,
            ..ObjectMeta::default()
        },
        rules: cluster.rules,
    };
    bind_role(client, ns, role).await;
}

/// Creates `role` in `ns` and binds it to [`OPERATOR_GROUP`] there, under the same name.
async fn bind_role(client: &Client, ns: &str, role: Role) {
    let name = role.name_any();
    Api::<Role>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &role)
        .await
        .unwrap_or_else(|e| panic!("the Role {name}: {e}"));
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: OPERATOR_GROUP.into(),
            namespace: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap_or_else(|e| panic!("the RoleBinding {name}: {e}"));
}

/// Applies the ClusterRole and binds it to [`OPERATOR_GROUP`] cluster-wide.
pub async fn install_rbac(client: &Client) {
    let role = cluster_role();
    let role_name = role.name_any();
    let params = PatchParams::apply("controller-test").force();
    Api::<ClusterRole>::all(client.clone())
        .patch(&role_name, &params, &Patch::Apply(&role))
        .await
        .expect("the ClusterRole applies");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{role_name}-test")),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role_name.clone(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: OPERATOR_GROUP.into(),
            namespace: None,
        }]),
    };
    let mut value = serde_json::to_value(&binding).expect("binding json");
    value["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
    value["kind"] = "ClusterRoleBinding".into();
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch(&format!("{role_name}-test"), &params, &Patch::Apply(&value))
        .await
        .expect("the ClusterRoleBinding applies");
}

/// An admin client, a fresh namespace (see [`namespace`]) and an operator watching it
/// with the default options.
pub async fn operator_in_namespace(prefix: &str) -> (Client, String, Operator) {
    let client = admin().await;
    let ns = namespace(prefix).await;
    let kubeconfig = operator_kubeconfig().await;
    let operator = Operator::start(prefix, OperatorOptions::new(&kubeconfig, &ns));
    (client, ns, operator)
}

/// A new namespace for one test, holding the [`LOCUSTFILE`] ConfigMap.
pub async fn namespace(prefix: &str) -> String {
    let cluster = cluster().await;
    let ns = cluster.namespace(prefix).await.expect("namespace");
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(LOCUSTFILE.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "locustfile.py".into(),
            "from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n    def t(self):\n        self.client.get('/')\n".into(),
        )])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(admin().await, &ns)
        .create(&PostParams::default(), &cm)
        .await
        .expect("locustfile ConfigMap");
    ns
}

/// A small valid LocustTest: `workers` worker pods, test files from [`LOCUSTFILE`].
pub fn locust_test(name: &str, workers: i32) -> LocustTest {
    LocustTest::new(
        name,
        LocustTestSpec {
            image: "locustio/locust:2.43.1".into(),
            master: MasterSpec {
                command: "locust -f /lotest/src/locustfile.py --host http://target:8080 --users 10 --spawn-rate 5 --run-time 1m".into(),
                ..MasterSpec::default()
            },
            worker: WorkerSpec {
                command: "locust -f /lotest/src/locustfile.py".into(),
                replicas: workers,
                ..WorkerSpec::default()
            },
            test_files: Some(TestFilesSpec {
                config_map_ref: Some(LOCUSTFILE.into()),
                ..TestFilesSpec::default()
            }),
            ..LocustTestSpec::default()
        },
    )
}

/// Adds kwok pod-fate annotations to the master pod.
pub fn master_annotations(mut test: LocustTest, pairs: &[(&str, &str)]) -> LocustTest {
    let map = test
        .spec
        .master
        .annotations
        .get_or_insert_with(BTreeMap::new);
    for (k, v) in pairs {
        map.insert((*k).into(), (*v).into());
    }
    test
}

/// Adds kwok pod-fate annotations to the worker pods.
pub fn worker_annotations(mut test: LocustTest, pairs: &[(&str, &str)]) -> LocustTest {
    let map = test
        .spec
        .worker
        .annotations
        .get_or_insert_with(BTreeMap::new);
    for (k, v) in pairs {
        map.insert((*k).into(), (*v).into());
    }
    test
}

/// Creates `test` in `ns` as the admin.
pub async fn create(client: &Client, ns: &str, test: &LocustTest) -> LocustTest {
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), test)
        .await
        .unwrap_or_else(|e| panic!("creating LocustTest {ns}/{}: {e}", test.name_any()))
}

/// Reads a LocustTest.
pub async fn get(client: &Client, ns: &str, name: &str) -> LocustTest {
    Api::<LocustTest>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("reading LocustTest {ns}/{name}: {e}"))
}

/// Polls `check` every 250 ms until it returns `Ok`, or panics after `timeout` with `what`
/// and the last `Err` (a description of what was seen instead).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) if start.elapsed() >= timeout => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Polls `check` for `period` and panics as soon as it returns `Err` (something that must
/// not happen did). For negative assertions only: "nothing happens for a while".
pub async fn never<F, Fut>(what: &str, period: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    while start.elapsed() < period {
        if let Err(seen) = check().await {
            panic!(
                "{what} must not happen, but after {:?}: {seen}",
                start.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts for 3 s that test `name` in `ns` gets no status and no children (no operator
/// watches its namespace).
pub async fn assert_left_alone(client: &Client, ns: &str, name: &str) {
    never(
        "the operator touching a namespace it does not watch",
        Duration::from_secs(3),
        || async {
            let t = get(client, ns, name).await;
            let c = children(client, ns, name).await;
            if t.status.is_none() && c.master.is_none() && c.service.is_none() {
                Ok(())
            } else {
                Err(format!("{} / {}", describe(&t), c.summary()))
            }
        },
    )
    .await;
}

/// A short description of a test's status for failure messages.
pub fn describe(test: &LocustTest) -> String {
    match &test.status {
        None => "no status".into(),
        Some(s) => {
            let conditions: Vec<String> = s
                .conditions
                .iter()
                .map(|c| format!("{}={}({}: {})", c.type_, c.status, c.reason, c.message))
                .collect();
            format!(
                "phase={:?} expected={:?} connected={:?} start={:?} completion={:?} \
                 observedGeneration={:?} (generation {:?}) conditions=[{}]",
                s.phase,
                s.expected_workers,
                s.connected_workers,
                s.start_time.as_ref().map(|t| t.0.to_string()),
                s.completion_time.as_ref().map(|t| t.0.to_string()),
                s.observed_generation,
                test.metadata.generation,
                conditions.join(", ")
            )
        }
    }
}

/// The phase, if any.
pub fn phase(test: &LocustTest) -> Option<Phase> {
    test.status.as_ref().and_then(|s| s.phase)
}

/// A condition by type.
pub fn condition<'a>(test: &'a LocustTest, type_: &str) -> Option<&'a Condition> {
    test.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
}

/// Waits until the test's status satisfies `pred` and returns the test.
pub async fn wait_status<P>(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    pred: P,
) -> LocustTest
where
    P: Fn(&LocustTest) -> bool,
{
    let api: Api<LocustTest> = Api::namespaced(client.clone(), ns);
    let pred = &pred;
    eventually(&format!("{ns}/{name}: {what}"), timeout, || {
        let api = api.clone();
        async move {
            let test = api.get(name).await.map_err(|e| e.to_string())?;
            if pred(&test) {
                Ok(test)
            } else {
                Err(describe(&test))
            }
        }
    })
    .await
}

/// Waits until the test reaches `phase`.
pub async fn wait_phase(
    client: &Client,
    ns: &str,
    name: &str,
    want: Phase,
    timeout: Duration,
) -> LocustTest {
    wait_status(client, ns, name, &format!("phase {want:?}"), timeout, |t| {
        phase(t) == Some(want)
    })
    .await
}

/// The three children of a test, as far as they exist.
#[derive(Debug, Default)]
pub struct Children {
    /// `<name>-master` Service.
    pub service: Option<Service>,
    /// `<name>-master` Job.
    pub master: Option<Job>,
    /// `<name>-worker` Job.
    pub worker: Option<Job>,
}

impl Children {
    /// Whether all three exist.
    pub fn complete(&self) -> bool {
        self.service.is_some() && self.master.is_some() && self.worker.is_some()
    }

    /// Which exist, for messages.
    pub fn summary(&self) -> String {
        format!(
            "service={} master-job={} worker-job={}",
            self.service.is_some(),
            self.master.is_some(),
            self.worker.is_some()
        )
    }
}

/// Names of the children of test `name`.
pub fn child_names(name: &str) -> (String, String, String) {
    let base = naming::base_name(name);
    (
        format!("{base}{}", naming::MASTER_SUFFIX),
        format!("{base}{}", naming::MASTER_SUFFIX),
        format!("{base}{}", naming::WORKER_SUFFIX),
    )
}

/// Reads the children of test `name` by their generated names.
pub async fn children(client: &Client, ns: &str, name: &str) -> Children {
    let (svc, master, worker) = child_names(name);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    Children {
        service: services.get_opt(&svc).await.expect("read service"),
        master: jobs.get_opt(&master).await.expect("read master job"),
        worker: jobs.get_opt(&worker).await.expect("read worker job"),
    }
}

/// Waits until all three children exist.
pub async fn wait_children(client: &Client, ns: &str, name: &str, timeout: Duration) -> Children {
    eventually(
        &format!("{ns}/{name}: master Service, master Job and worker Job"),
        timeout,
        || async {
            let c = children(client, ns, name).await;
            if c.complete() {
                Ok(c)
            } else {
                Err(c.summary())
            }
        },
    )
    .await
}

/// Asserts that the object (`what`, for messages) has exactly one controller owner
/// reference, to `owner`.
pub fn assert_owned_by(what: &str, meta: &ObjectMeta, owner: &LocustTest) {
    let refs = meta.owner_references.clone().unwrap_or_default();
    let controllers: Vec<_> = refs.iter().filter(|r| r.controller == Some(true)).collect();
    assert_eq!(
        controllers.len(),
        1,
        "{what}: exactly one controller owner reference, got {refs:?}"
    );
    let r = controllers[0];
    assert_eq!(r.kind, "LocustTest", "{what}: owner kind");
    assert_eq!(r.api_version, "locust.io/v2", "{what}: owner apiVersion");
    assert_eq!(
        Some(&r.name),
        owner.metadata.name.as_ref(),
        "{what}: owner name"
    );
    assert_eq!(
        Some(&r.uid),
        owner.metadata.uid.as_ref(),
        "{what}: owner uid"
    );
}

/// All Jobs and Services in `ns` whose controller owner is the test with `uid`:
/// `(jobs, services)`.
pub async fn owned_counts(client: &Client, ns: &str, uid: &str) -> (usize, usize) {
    let owned = |meta: &ObjectMeta| {
        meta.owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == uid && r.controller == Some(true))
    };
    let jobs = Api::<Job>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list jobs");
    let services = Api::<Service>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list services");
    (
        jobs.items.iter().filter(|j| owned(&j.metadata)).count(),
        services.items.iter().filter(|s| owned(&s.metadata)).count(),
    )
}

/// The events (events.k8s.io/v1) about the LocustTest `name` in `ns`.
pub async fn events_for(client: &Client, ns: &str, name: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| {
                r.kind.as_deref() == Some("LocustTest") && r.name.as_deref() == Some(name)
            })
        })
        .collect()
}

/// How often an event with `reason` was reported for test `name` (a series counts its
/// repeats).
pub fn event_count(events: &[Event], reason: &str) -> i32 {
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.series.as_ref().map_or(1, |s| s.count.max(1)))
        .sum()
}

/// Event reasons with their types, for messages.
pub fn event_summary(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{}/{}: {}",
                e.type_.as_deref().unwrap_or("?"),
                e.reason.as_deref().unwrap_or("?"),
                e.note.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until an event with `reason` (and `type_`, if given) exists for test `name`.
pub async fn wait_event(
    client: &Client,
    ns: &str,
    name: &str,
    reason: &str,
    type_: Option<&str>,
    timeout: Duration,
) -> Event {
    eventually(&format!("{ns}/{name}: event {reason}"), timeout, || async {
        let events = events_for(client, ns, name).await;
        events
            .iter()
            .find(|e| {
                e.reason.as_deref() == Some(reason)
                    && type_.is_none_or(|t| e.type_.as_deref() == Some(t))
            })
            .cloned()
            .ok_or_else(|| format!("events: [{}]", event_summary(&events)))
    })
    .await
}

/// The field managers that wrote the status subresource of `test`.
pub fn status_managers(test: &LocustTest) -> Vec<String> {
    test.metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.subresource.as_deref() == Some("status"))
        .filter_map(|m| m.manager.clone())
        .collect()
}

/// A plain HTTP GET on loopback: (status code, body). An HTTP/1.0 request, so the answer
/// is never chunked (Go servers such as Prometheus chunk big HTTP/1.1 answers).
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {response:.80}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// The value of an unlabelled-or-labelled sample line `name{labels} value` in `/metrics`.
pub fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}
