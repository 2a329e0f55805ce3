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
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::{
    LocustTest, LocustTestSpec, MasterSpec, TestFilesSpec, WorkerSpec,
};
use locust_k8s_operator::naming;
use tokio::sync::OnceCell;

#[allow(unused_imports)]
pub use operator::{Operator, OperatorOptions};

#[allow(unused_imports)]
pub use test_cluster::operator::probe::http_get;
#[allow(unused_imports)]
pub use test_cluster::operator::setup::{
    LEADER_ELECTION_ROLE_YAML, LOCUSTFILE, OPERATOR_GROUP, OPERATOR_USER, ROLE_YAML,
};
/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "locust-k8s-operator";
/// The self-signed webhook mode's namespaced Role (its certificate Secret).
pub const WEBHOOK_ROLE_YAML: &str = include_str!("../../../config/rbac/webhook_role.yaml");
/// The self-signed webhook mode's ClusterRole (CA bundle in the CRD and the webhook
/// configuration, by name).
pub const WEBHOOK_CLUSTER_ROLE_YAML: &str =
    include_str!("../../../config/rbac/webhook_cluster_role.yaml");

/// Kwok pod-fate annotations (see `tests/cluster/kwok/stages.yaml`).
#[allow(unused_imports)]
pub use test_cluster::annotations;

/// A cluster prepared for the controller tests: the v2 CRD (conversion `None`) and the
/// operator's ClusterRole bound to [`OPERATOR_GROUP`]. The free functions [`cluster`],
/// [`admin`], [`operator_kubeconfig`] and [`namespace`] use the default one; a module that
/// changes cluster-wide state takes its own with [`prepared`] and calls the same methods.
#[derive(Clone, Copy)]
pub struct Prepared(&'static test_cluster::Cluster);

impl Prepared {
    /// The cluster.
    pub fn cluster(self) -> &'static test_cluster::Cluster {
        self.0
    }

    /// A fresh admin client on the caller's runtime.
    pub async fn admin(self) -> Client {
        self.0.client().await.expect("admin client")
    }

    /// A kubeconfig for the RBAC-limited operator user.
    pub fn operator_kubeconfig(self) -> PathBuf {
        self.0
            .kubeconfig_for(OPERATOR_USER, &[OPERATOR_GROUP])
            .expect("operator kubeconfig")
    }

    /// A new namespace for one test, holding the [`LOCUSTFILE`] ConfigMap.
    pub async fn namespace(self, prefix: &str) -> String {
        test_cluster::operator::setup::namespace(self.0, prefix)
            .await
            .expect("a namespace with the locustfile")
    }
}

/// The cluster named `name` ([`test_cluster::shared_named`]), started with `options` by
/// its first caller and prepared once.
pub async fn prepared_with(
    name: &str,
    options: impl FnOnce() -> test_cluster::Options,
) -> Prepared {
    let cluster = test_cluster::shared_named(name, options)
        .await
        .unwrap_or_else(|e| panic!("the test cluster {name:?} starts: {e}"));
    // One preparation per cluster; the cells live as long as the clusters.
    static READY: std::sync::Mutex<Vec<(String, &'static OnceCell<()>)>> =
        std::sync::Mutex::new(Vec::new());
    let ready: &'static OnceCell<()> = {
        let mut all = READY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match all.iter().find(|(n, _)| n == name) {
            Some((_, cell)) => cell,
            None => {
                let cell: &'static OnceCell<()> = Box::leak(Box::new(OnceCell::new()));
                all.push((name.to_owned(), cell));
                cell
            }
        }
    };
    ready
        .get_or_init(|| async {
            let client = cluster.client().await.expect("admin client");
            install_crd(&client).await;
            install_rbac(&client).await;
        })
        .await;
    Prepared(cluster)
}

/// The cluster named `name`, with default options, prepared.
pub async fn prepared(name: &str) -> Prepared {
    prepared_with(name, test_cluster::Options::default).await
}

/// The default cluster of the test binary, prepared (see [`Prepared`]).
pub async fn cluster() -> &'static test_cluster::Cluster {
    prepared(test_cluster::DEFAULT).await.cluster()
}

/// A fresh admin client of the default cluster.
pub async fn admin() -> Client {
    prepared(test_cluster::DEFAULT).await.admin().await
}

/// A kubeconfig for the RBAC-limited operator user of the default cluster.
pub async fn operator_kubeconfig() -> PathBuf {
    prepared(test_cluster::DEFAULT).await.operator_kubeconfig()
}

/// Installs the committed CRD with conversion strategy `None` (no webhook needed: the
/// controller tests only use v2) and waits until it is Established and served.
pub async fn install_crd(client: &Client) {
    test_cluster::operator::setup::install_crd(client, "controller-test")
        .await
        .expect("the API server accepts the CRD");
}

/// The ClusterRole from `config/rbac/role.yaml`.
pub fn cluster_role() -> ClusterRole {
    test_cluster::operator::setup::cluster_role().expect("config/rbac/role.yaml parses")
}

/// The leader-election Role from `config/rbac/leader_election_role.yaml`.
pub fn leader_election_role() -> Role {
    test_cluster::operator::setup::leader_election_role()
        .expect("config/rbac/leader_election_role.yaml parses")
}

/// Creates the leader-election Role in `ns` and binds it to [`OPERATOR_GROUP`] there, as
/// the chart does in the operator's namespace (leases are never granted cluster-wide).
pub async fn bind_leader_election(client: &Client, ns: &str) {
    bind_role(client, ns, leader_election_role()).await;
}

/// The opt-in rules reading the Secrets of `spec.webUI.auth`.
pub const WEB_AUTH_ROLE_YAML: &str = include_str!("../../../config/rbac/web_auth_role.yaml");

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
    test_cluster::operator::setup::bind_role(client, ns, &role)
        .await
        .unwrap_or_else(|e| panic!("binding {}: {e}", role.name_any()));
}

/// Applies the ClusterRole and binds it to [`OPERATOR_GROUP`] cluster-wide.
pub async fn install_rbac(client: &Client) {
    test_cluster::operator::setup::install_rbac(client, "controller-test")
        .await
        .expect("the operator's RBAC applies");
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

/// A new namespace of the default cluster, holding the [`LOCUSTFILE`] ConfigMap.
pub async fn namespace(prefix: &str) -> String {
    prepared(test_cluster::DEFAULT)
        .await
        .namespace(prefix)
        .await
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

/// Waits (up to a minute) until the operator whose probes listen on `health` is ready.
pub async fn wait_ready(health: SocketAddr) {
    eventually(
        "the operator to be ready",
        Duration::from_secs(60),
        || async {
            match http_get(health, "/readyz").await? {
                (200, _) => Ok(()),
                (code, body) => Err(format!("{code} {body}")),
            }
        },
    )
    .await;
}

/// The value of an unlabelled-or-labelled sample line `name{labels} value` in `/metrics`,
/// if there is one.
pub fn sample_of(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

/// As [`sample_of`], 0 when there is none.
pub fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    sample_of(metrics, name_and_labels).unwrap_or(0.0)
}
