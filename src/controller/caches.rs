//! The controller's caches of its children: Jobs and Services carrying the operator's
//! label (`app.kubernetes.io/managed-by`, also given to the Go operator's children when
//! they are adopted) and pods carrying the legacy `managed-by` label (the operator's pods
//! and the Go operator's), kept by the same watches that trigger reconciles. A reconcile reads
//! a test's children from here instead of asking the API server (three GETs and a pod
//! LIST per reconcile before), so a storm of tests spends the client's request budget on
//! creates and status writes.
//!
//! What is kept is trimmed to what the controller reads: no `managedFields` anywhere, no
//! pod spec, no Job pod template.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::v2::LocustTest;
use crate::builders::labels::{
    COMPONENT, K8S_MANAGED_BY, POD_NAME, TEST_NAME, TEST_NAME_ANNOTATION,
};

/// The caches of one controller (one watched namespace, or all).
#[derive(Clone)]
pub struct Stores {
    /// Jobs with the operator's label.
    pub jobs: Store<Job>,
    /// Services with the operator's label.
    pub services: Store<Service>,
    /// Pods with the legacy `managed-by` label (the operator's and the Go operator's).
    pub pods: Store<Pod>,
    /// Set once every cache has had its first full list.
    ready: Arc<AtomicBool>,
}

impl Stores {
    /// Caches over these stores, not ready yet.
    pub fn new(jobs: Store<Job>, services: Store<Service>, pods: Store<Pod>) -> Self {
        Self {
            jobs,
            services,
            pods,
            ready: Arc::default(),
        }
    }

    /// Resolves once every cache has its first full list, and marks them ready. Only one
    /// task should call it (a store's readiness future wakes only its latest poller, so
    /// it is polled again every half second).
    pub async fn wait_until_ready(&self) {
        ready(&self.jobs).await;
        ready(&self.services).await;
        ready(&self.pods).await;
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Whether every cache has had its first full list.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The Job `name` in `ns`.
    pub fn job(&self, ns: &str, name: &str) -> Option<Job> {
        self.jobs
            .get(&ObjectRef::new(name).within(ns))
            .map(|j| j.as_ref().clone())
    }

    /// The Service `name` in `ns`.
    pub fn service(&self, ns: &str, name: &str) -> Option<Service> {
        self.services
            .get(&ObjectRef::new(name).within(ns))
            .map(|s| s.as_ref().clone())
    }

    /// Pods in `ns` that `keep` accepts.
    pub fn pods(&self, ns: &str, keep: impl Fn(&Pod) -> bool) -> Vec<Pod> {
        self.pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns) && keep(p))
            .map(|p| p.as_ref().clone())
            .collect()
    }
}

/// Every controller's caches, by the namespace it watches (`None`: all).
#[derive(Default)]
pub struct Caches {
    stores: Mutex<Vec<(Option<String>, Stores)>>,
}

impl Caches {
    /// Registers the caches of the controller watching `ns`.
    pub fn register(&self, ns: Option<&str>, stores: Stores) {
        if let Ok(mut s) = self.stores.lock() {
            s.retain(|(n, _)| n.as_deref() != ns);
            s.push((ns.map(str::to_owned), stores));
        }
    }

    /// The caches that hold namespace `ns`.
    pub fn for_namespace(&self, ns: &str) -> Option<Stores> {
        let stores = self.stores.lock().ok()?;
        stores
            .iter()
            .find(|(n, _)| n.as_deref() == Some(ns))
            .or_else(|| stores.iter().find(|(n, _)| n.is_none()))
            .map(|(_, s)| s.clone())
    }
}

/// Drops what the controller never reads from a LocustTest before it is cached:
/// `managedFields` and kubectl's copy of the last applied object (each as large as the
/// spec itself).
pub fn trim_test(test: &mut LocustTest) {
    test.managed_fields_mut().clear();
    test.annotations_mut().remove(LAST_APPLIED);
}

/// kubectl's annotation holding the last object it applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the controller never reads before an object is cached: managed fields,
/// labels and annotations other than the operator's own, the Job's pod template and
/// selector.
pub fn trim_job(job: &mut Job) {
    trim_meta(job);
    if let Some(spec) = job.spec.as_mut() {
        spec.template = Default::default();
        spec.selector = None;
    }
}

/// See [`trim_job`]: of a pod only its identity, its operator labels and the status the
/// controller judges it by (phase, conditions, container states) are kept.
pub fn trim_pod(pod: &mut Pod) {
    trim_meta(pod);
    pod.metadata.owner_references = None;
    pod.spec = None;
    if let Some(status) = pod.status.as_mut() {
        status.host_ip = None;
        status.host_ips = None;
        status.pod_ip = None;
        status.pod_ips = None;
        status.qos_class = None;
        status.nominated_node_name = None;
        status.resource_claim_statuses = None;
        status.ephemeral_container_statuses = None;
        for c in status
            .container_statuses
            .iter_mut()
            .chain(status.init_container_statuses.iter_mut())
            .flatten()
        {
            c.image = String::new();
            c.image_id = String::new();
            c.container_id = None;
            c.allocated_resources = None;
            c.allocated_resources_status = None;
            c.resources = None;
            c.volume_mounts = None;
            c.user = None;
        }
    }
}

/// See [`trim_job`]: only whether the Service exists matters.
pub fn trim_service(service: &mut Service) {
    trim_meta(service);
    service.spec = None;
    service.status = None;
}

/// The labels and annotations the controller reads on its children (`POD_NAME` tells the
/// role of a Go operator's pod).
const KEPT_LABELS: [&str; 4] = [TEST_NAME, COMPONENT, K8S_MANAGED_BY, POD_NAME];
const KEPT_ANNOTATIONS: [&str; 1] = [TEST_NAME_ANNOTATION];

fn trim_meta(obj: &mut impl ResourceExt) {
    obj.managed_fields_mut().clear();
    obj.labels_mut()
        .retain(|k, _| KEPT_LABELS.contains(&k.as_str()));
    obj.annotations_mut()
        .retain(|k, _| KEPT_ANNOTATIONS.contains(&k.as_str()));
}

/// Waits for one store's first full list, looking again every half second.
async fn ready<K>(store: &Store<K>)
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        match tokio::time::timeout(
            std::time::Duration::from_millis(500),
            store.wait_until_ready(),
        )
        .await
        {
            // Err inside: the writer is gone (shutting down); nothing to wait for.
            Ok(_) => return,
            Err(_) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use kube::ResourceExt;

    use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};

    use super::{LAST_APPLIED, trim_job, trim_pod, trim_service, trim_test};
    use crate::builders::Role;
    use crate::builders::labels::{COMPONENT, TEST_NAME, TEST_NAME_ANNOTATION};
    use crate::builders::test_support::build;
    use crate::builders::test_support::minimal;
    use crate::config::OperatorConfig;

    #[test]
    fn a_cached_test_keeps_its_spec_and_our_annotations_only() {
        let mut t = minimal();
        t.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        t.annotations_mut()
            .insert(LAST_APPLIED.into(), "{…}".into());
        t.annotations_mut().insert("team".into(), "perf".into());
        let spec = serde_json::to_value(&t.spec).ok();
        trim_test(&mut t);
        assert!(t.managed_fields().is_empty());
        assert!(!t.annotations().contains_key(LAST_APPLIED));
        assert_eq!(
            t.annotations().get("team").map(String::as_str),
            Some("perf")
        );
        assert_eq!(serde_json::to_value(&t.spec).ok(), spec);
    }

    #[test]
    fn cached_children_keep_what_the_controller_reads() {
        let children = build(&minimal(), &OperatorConfig::default()).expect("built");
        let mut job = children.master_job.clone();
        job.labels_mut().insert("job-name".into(), "x".into());
        trim_job(&mut job);
        assert_eq!(
            job.metadata.owner_references,
            children.master_job.metadata.owner_references
        );
        assert!(job.labels().contains_key(TEST_NAME) && job.labels().contains_key(COMPONENT));
        assert!(!job.labels().contains_key("job-name"));
        let spec = job.spec.as_ref().expect("spec");
        assert_eq!(spec.backoff_limit, Some(0), "the Job's own settings stay");
        assert!(spec.template.spec.is_none() && spec.selector.is_none());

        let mut service = children.service.clone();
        trim_service(&mut service);
        assert!(service.spec.is_none());
        assert_eq!(
            service.metadata.owner_references,
            children.service.metadata.owner_references
        );

        let template = children
            .worker_job
            .spec
            .as_ref()
            .map(|s| s.template.clone());
        let mut pod = Pod {
            metadata: template.and_then(|t| t.metadata).unwrap_or_default(),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some("10.0.0.1".into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "worker".into(),
                    image: "locustio/locust".into(),
                    ready: true,
                    restart_count: 2,
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        trim_pod(&mut pod);
        assert!(pod.annotations().contains_key(TEST_NAME_ANNOTATION));
        assert_eq!(
            pod.labels().get(COMPONENT).map(String::as_str),
            Some(Role::Worker.component())
        );
        let status = pod.status.expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip, None);
        let c = &status.container_statuses.expect("containers")[0];
        assert_eq!(
            (c.name.as_str(), c.ready, c.restart_count),
            ("worker", true, 2)
        );
        assert!(c.image.is_empty());
    }
}
