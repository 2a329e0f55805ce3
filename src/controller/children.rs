//! The test's children as they are in the cluster: reading them, creating the missing ones
//! (create-if-absent: a second run or a crash never makes a second copy) and stopping the
//! pods of a failed test.
//!
//! Children of tests the Go operator started are read too: its Jobs and Service once
//! adopted (relabelled, see `adopt.rs`), under the Go operator's name when it differs
//! (names with dots) and the test controls them; its pods by the legacy `managed-by`
//! label both operators put on pods, the test named by their `performance-test-name`
//! label and the role by their `performance-test-pod-name` label (they have neither the
//! operator's annotation nor its component label).
//!
//! The web UI's objects exist only for tests that ask for them (`spec.webUI`): its own
//! Service comes from the Service cache like the master's; its Ingress and HTTPRoute,
//! which the operator does not watch (no cluster-wide cache of Ingresses, and the Gateway
//! API may not be installed), are read by name while such a test runs, and recreated by
//! the next reconcile when deleted.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::context::FIELD_MANAGER;
use super::error::Error;
use super::pod_owner::{pod_role, pod_test_name};
use crate::api::status::Phase;
use crate::api::v2::{LocustTestSpec, WebUiSpec};
use crate::builders::labels::{K8S_MANAGED_BY, MANAGED_BY, MANAGER, TEST_NAME};
use crate::builders::{Children, Role, web_ui};
use crate::naming;
use crate::status::Observed;

/// What exists of one test's children.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// The master Service.
    pub service: Option<Service>,
    /// The master Job.
    pub master_job: Option<Job>,
    /// The worker Job.
    pub worker_job: Option<Job>,
    /// Pods of the master Job.
    pub master_pods: Vec<Pod>,
    /// Pods of the worker Job.
    pub worker_pods: Vec<Pod>,
    /// The web UI's own Service (NodePort or LoadBalancer).
    pub web_ui_service: Option<Service>,
    /// The web UI's Ingress.
    pub ingress: Option<Ingress>,
    /// The web UI's HTTPRoute.
    pub http_route: Option<DynamicObject>,
}

/// Which of the web UI's objects `spec` asks for: its own Service, the Ingress, the
/// HTTPRoute.
fn web_wanted(spec: &LocustTestSpec) -> (bool, bool, bool) {
    let web = spec.web_ui.as_ref();
    (
        web.is_some_and(WebUiSpec::separate_service),
        web.is_some_and(|w| w.ingress.is_some()),
        web.is_some_and(|w| w.http_route.is_some()),
    )
}

impl Existing {
    /// Kinds and names of the children of a test with `spec` that do not exist.
    pub fn missing(&self, cr_name: &str, spec: &LocustTestSpec) -> Vec<String> {
        let mut missing = Vec::new();
        let (service, ingress, route) = web_wanted(spec);
        let web = naming::web_ui_name(cr_name);
        if service && self.web_ui_service.is_none() {
            missing.push(format!("Service {web}"));
        }
        if ingress && self.ingress.is_none() {
            missing.push(format!("Ingress {web}"));
        }
        if route && self.http_route.is_none() {
            missing.push(format!("{} {web}", web_ui::HTTP_ROUTE_KIND));
        }
        if self.service.is_none() {
            missing.push(format!("Service {}", naming::master_name(cr_name)));
        }
        if self.master_job.is_none() {
            missing.push(format!("Job {}", naming::master_name(cr_name)));
        }
        if self.worker_job.is_none() {
            missing.push(format!("Job {}", naming::worker_name(cr_name)));
        }
        missing
    }
}

/// Reads the children of the LocustTest `cr_name` (uid `uid`) in `ns`: three GETs (more
/// for a name the Go operator would have spelt differently) and one pod LIST selected by
/// label.
pub async fn observe(
    client: &Client,
    ns: &str,
    cr_name: &str,
    uid: &str,
) -> Result<Existing, Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let master = naming::master_name(cr_name);
    let worker = naming::worker_name(cr_name);
    // The legacy label: on the operator's pods and on the Go operator's.
    let selector = format!(
        "{TEST_NAME}={},{MANAGED_BY}={MANAGER}",
        naming::test_label_value(cr_name)
    );
    let (service, master_job, worker_job, pod_list) = futures::try_join!(
        async {
            services
                .get_opt(&master)
                .await
                .map_err(Error::kube("reading the master Service"))
        },
        async {
            jobs.get_opt(&master)
                .await
                .map_err(Error::kube("reading the master Job"))
        },
        async {
            jobs.get_opt(&worker)
                .await
                .map_err(Error::kube("reading the worker Job"))
        },
        async {
            pods.list(&ListParams::default().labels(&selector))
                .await
                .map_err(Error::kube("listing the test's pods"))
        },
    )?;
    let go_master = naming::go_master_name(cr_name);
    let go_worker = naming::go_worker_name(cr_name);
    let service = match service {
        None if go_master != master => go_named(services.get_opt(&go_master).await, uid)?,
        found => found,
    };
    let master_job = match master_job {
        None if go_master != master => go_named(jobs.get_opt(&go_master).await, uid)?,
        found => found,
    };
    let worker_job = match worker_job {
        None if go_worker != worker => go_named(jobs.get_opt(&go_worker).await, uid)?,
        found => found,
    };
    Ok(sort_pods(
        Existing {
            service,
            master_job,
            worker_job,
            ..Existing::default()
        },
        cr_name,
        pod_list.items,
    ))
}

/// A child read under the Go operator's name, kept only if the test with `uid` controls it.
fn go_named<K: kube::Resource>(
    read: Result<Option<K>, kube::Error>,
    uid: &str,
) -> Result<Option<K>, Error> {
    Ok(read
        .map_err(Error::kube("reading a child by the Go operator's name"))?
        .filter(|k| super::adopt::controlled_by(k.meta(), uid)))
}

/// Reads the children of the LocustTest `cr_name` (uid `uid`) in `ns` from the
/// controller's caches (no request to the API server). A child missing under the
/// operator's name is looked for under the Go operator's, if that differs.
pub fn observe_cached(
    stores: &super::caches::Stores,
    ns: &str,
    cr_name: &str,
    uid: &str,
) -> Existing {
    let master = naming::master_name(cr_name);
    let worker = naming::worker_name(cr_name);
    let go_master = naming::go_master_name(cr_name);
    let go_worker = naming::go_worker_name(cr_name);
    let label = naming::test_label_value(cr_name);
    let pods = stores.pods(ns, |p| {
        p.labels().get(TEST_NAME).map(String::as_str) == Some(label.as_str())
    });
    sort_pods(
        Existing {
            service: either(&master, &go_master, uid, |n| stores.service(ns, n)),
            master_job: either(&master, &go_master, uid, |n| stores.job(ns, n)),
            worker_job: either(&worker, &go_worker, uid, |n| stores.job(ns, n)),
            ..Existing::default()
        },
        cr_name,
        pods,
    )
}

/// The child named `mine`, else the one named `go` (when different) if the test with
/// `uid` controls it.
fn either<K: kube::Resource>(
    mine: &str,
    go: &str,
    uid: &str,
    get: impl Fn(&str) -> Option<K>,
) -> Option<K> {
    get(mine).or_else(|| {
        (go != mine)
            .then(|| get(go))
            .flatten()
            .filter(|k| super::adopt::controlled_by(k.meta(), uid))
    })
}

/// Reads the web UI's objects `spec` asks for into `existing`: its own Service from
/// `stores` (the API server when `None`), the Ingress and the HTTPRoute by name. An
/// HTTPRoute of a cluster without the Gateway API reads as missing (the create says why).
pub async fn observe_web(
    client: &Client,
    stores: Option<&super::caches::Stores>,
    ns: &str,
    cr_name: &str,
    spec: &LocustTestSpec,
    existing: &mut Existing,
) -> Result<(), Error> {
    let (service, ingress, route) = web_wanted(spec);
    let name = naming::web_ui_name(cr_name);
    if service {
        existing.web_ui_service = match stores {
            Some(stores) => stores.service(ns, &name),
            None => Api::<Service>::namespaced(client.clone(), ns)
                .get_opt(&name)
                .await
                .map_err(Error::kube("reading the web UI's Service"))?,
        };
    }
    if ingress {
        existing.ingress = Api::<Ingress>::namespaced(client.clone(), ns)
            .get_opt(&name)
            .await
            .map_err(Error::kube("reading the web UI's Ingress"))?;
    }
    if route {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &web_ui::http_route_resource());
        // Without the Gateway API the API server answers a plain 404 page, which `get_opt`
        // does not take for "not found".
        existing.http_route = match api.get(&name).await {
            Ok(route) => Some(route),
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(e) => return Err(Error::kube("reading the web UI's HTTPRoute")(e)),
        };
    }
    Ok(())
}

/// Adds `pods` of test `cr_name` to `existing` as master or worker pods.
fn sort_pods(mut existing: Existing, cr_name: &str, pods: Vec<Pod>) -> Existing {
    for pod in pods {
        if pod_test_name(&pod) != Some(cr_name) {
            continue;
        }
        match pod_role(&pod, cr_name) {
            Some(Role::Master) => existing.master_pods.push(pod),
            Some(Role::Worker) => existing.worker_pods.push(pod),
            None => {}
        }
    }
    existing
}

/// Why a child could not be created.
#[derive(Debug)]
pub enum CreateOutcome {
    /// Every missing child was created; their names.
    Created(Vec<String>),
    /// The API server refused a create (quota, admission, invalid): the user must act.
    Rejected {
        /// Kind and name of the child.
        child: String,
        /// The API server's message.
        message: String,
    },
    /// The API server does not serve the child's kind (an HTTPRoute without the Gateway
    /// API installed).
    NotServed {
        /// Kind and name of the child.
        child: String,
    },
}

/// Creates every child in `desired` that `existing` lacks, filling `existing` with what
/// was created or found. Only what this call created is named in the outcome: "already
/// exists" (another run got there first, or the cache was a moment behind) is no creation.
pub async fn create_missing(
    client: &Client,
    ns: &str,
    desired: Children,
    existing: &mut Existing,
) -> Result<CreateOutcome, Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let mut created = Vec::new();
    // The web UI's objects first: a refusal, or a cluster without the Gateway API, stops
    // the test before its pods put load on anything.
    if let Some(outcome) = create_web(client, ns, &desired, existing, &params, &mut created).await?
    {
        return Ok(outcome);
    }
    // The three creates go out together: one round trip for a new test, not three.
    let service_label = format!("Service {}", desired.service.name_any());
    let master_label = format!("Job {}", desired.master_job.name_any());
    let worker_label = format!("Job {}", desired.worker_job.name_any());
    let (service, master, worker) = futures::join!(
        create_if(
            existing.service.is_none(),
            &services,
            &params,
            (&desired.service, Role::Master)
        ),
        create_if(
            existing.master_job.is_none(),
            &jobs,
            &params,
            (&desired.master_job, Role::Master)
        ),
        create_if(
            existing.worker_job.is_none(),
            &jobs,
            &params,
            (&desired.worker_job, Role::Worker)
        ),
    );
    // In order, so the first refusal reported is the Service's, then the master's.
    if let Some(outcome) = settle(service, &mut existing.service, service_label, &mut created)? {
        return Ok(outcome);
    }
    if let Some(outcome) = settle(master, &mut existing.master_job, master_label, &mut created)? {
        return Ok(outcome);
    }
    if let Some(outcome) = settle(worker, &mut existing.worker_job, worker_label, &mut created)? {
        return Ok(outcome);
    }
    Ok(CreateOutcome::Created(created))
}

/// Creates the web UI's objects `desired` has and `existing` lacks, one after the other;
/// the first refusal is handed back.
async fn create_web(
    client: &Client,
    ns: &str,
    desired: &Children,
    existing: &mut Existing,
    params: &PostParams,
    created: &mut Vec<String>,
) -> Result<Option<CreateOutcome>, Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), ns);
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &web_ui::http_route_resource());
    if let Some(service) = &desired.web_ui_service
        && let Some(outcome) = create_into(
            (&services, params, created),
            ("Service", service),
            &mut existing.web_ui_service,
        )
        .await?
    {
        return Ok(Some(outcome));
    }
    if let Some(ingress) = &desired.ingress
        && let Some(outcome) = create_into(
            (&ingresses, params, created),
            ("Ingress", ingress),
            &mut existing.ingress,
        )
        .await?
    {
        return Ok(Some(outcome));
    }
    if let Some(route) = &desired.http_route
        && let Some(outcome) = create_into(
            (&routes, params, created),
            (web_ui::HTTP_ROUTE_KIND, route),
            &mut existing.http_route,
        )
        .await?
    {
        return Ok(Some(outcome));
    }
    Ok(None)
}

/// Creates `obj` (of `kind`) unless `slot` holds it already, filing the outcome (see
/// [`settle`]).
async fn create_into<K>(
    (api, params, created): (&Api<K>, &PostParams, &mut Vec<String>),
    (kind, obj): (&str, &K),
    slot: &mut Option<K>,
) -> Result<Option<CreateOutcome>, Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let label = format!("{kind} {}", obj.name_any());
    let attempt = create_if(slot.is_none(), api, params, (obj, Role::Master)).await;
    settle(attempt, slot, label, created)
}

/// What one child's create came to.
enum Attempt<K> {
    /// The child existed: nothing was sent.
    Skipped,
    /// This call created it.
    Created(K),
    /// It existed already (409: another reconcile, or a cache a moment behind): the
    /// object as it is.
    Found(K),
    /// The API server refused it (quota, admission, invalid): the user must act.
    Refused {
        /// The API server's message.
        message: String,
    },
    /// The API server does not serve its kind (404 on the create: the namespace exists,
    /// as the test is in it).
    NotServed,
}

/// [`create`] when `missing`.
async fn create_if<K>(
    missing: bool,
    api: &Api<K>,
    params: &PostParams,
    obj: (&K, Role),
) -> Result<Attempt<K>, Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if missing {
        create(api, params, obj).await
    } else {
        Ok(Attempt::Skipped)
    }
}

/// Files one child's attempt: the object into `slot`, its label into `created` when this
/// call made it; a refusal is handed back.
fn settle<K>(
    attempt: Result<Attempt<K>, Error>,
    slot: &mut Option<K>,
    label: String,
    created: &mut Vec<String>,
) -> Result<Option<CreateOutcome>, Error> {
    match attempt? {
        Attempt::Skipped => {}
        Attempt::Created(obj) => {
            *slot = Some(obj);
            created.push(label);
        }
        Attempt::Found(obj) => *slot = Some(obj),
        Attempt::Refused { message } => {
            return Ok(Some(CreateOutcome::Rejected {
                child: label,
                message,
            }));
        }
        Attempt::NotServed => return Ok(Some(CreateOutcome::NotServed { child: label })),
    }
    Ok(None)
}

/// POSTs `obj` (the child of `role`); on 409 reads the existing one (`false`: not created
/// by this call, which a cache a moment behind can cause), adopting it if the Go operator
/// created it for this test (see `adopt.rs`). A 4xx other than 409 is a rejection the user
/// must see; anything else is a transient error.
async fn create<K>(
    api: &Api<K>,
    params: &PostParams,
    (obj, role): (&K, Role),
) -> Result<Attempt<K>, Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.create(params, obj).await {
        Ok(created) => Ok(Attempt::Created(created)),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = api
                .get(&obj.name_any())
                .await
                .map_err(Error::kube("reading a child that already exists"))?;
            let owner = obj
                .meta()
                .owner_references
                .iter()
                .flatten()
                .find(|r| r.controller == Some(true))
                .map(|r| r.uid.as_str())
                .unwrap_or_default();
            let unlabelled =
                existing.labels().get(K8S_MANAGED_BY).map(String::as_str) != Some(MANAGER);
            if unlabelled && super::adopt::controlled_by(existing.meta(), owner) {
                let adopted = super::adopt::relabel(api, &existing, role).await?;
                return Ok(Attempt::Found(adopted));
            }
            Ok(Attempt::Found(existing))
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Attempt::NotServed),
        Err(kube::Error::Api(status))
            if (400..500).contains(&status.code) && status.code != 429 =>
        {
            Ok(Attempt::Refused {
                message: status.message,
            })
        }
        Err(e) => Err(Error::kube("creating a child")(e)),
    }
}

/// The Jobs to stop when a test ends with `phase`: every Job of a failed test; of a test
/// that succeeded, those with a pod a sidecar holds open after Locust exited (the Job
/// would never finish), read from what the status was derived from. Returns an
/// [`Existing`] holding only those Jobs.
pub fn jobs_to_stop(phase: Phase, observed: &Observed) -> Existing {
    let held = |pods: &[Pod], role: Role| {
        pods.iter()
            .any(|p| crate::status::held_open(p, role.container_name()).is_some())
    };
    let keep = |job: &Option<Job>, pods: &[Pod], role: Role| match phase {
        Phase::Failed => job.clone(),
        Phase::Succeeded => job.clone().filter(|_| held(pods, role)),
        Phase::Pending | Phase::Running => None,
    };
    Existing {
        master_job: keep(&observed.master_job, &observed.master_pods, Role::Master),
        worker_job: keep(&observed.worker_job, &observed.worker_pods, Role::Worker),
        ..Existing::default()
    }
}

/// Suspends the Jobs in `existing` that are still running, which stops their pods (the
/// Jobs stay for inspection). Used once the test ended (see [`jobs_to_stop`]).
pub async fn stop_pods(client: &Client, ns: &str, existing: &Existing) -> Result<(), Error> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    for job in [&existing.master_job, &existing.worker_job]
        .into_iter()
        .flatten()
    {
        let active = job.status.as_ref().and_then(|s| s.active).unwrap_or(0);
        if active == 0 {
            continue;
        }
        let patch = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": { "name": job.name_any() },
            "spec": { "suspend": true },
        });
        jobs.patch(
            &job.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::kube("suspending a Job of a failed test"))?;
    }
    Ok(())
}
