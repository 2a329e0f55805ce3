//! The test's children as they are in the cluster: reading them, creating the missing ones
//! (create-if-absent: a second run or a crash never makes a second copy) and stopping the
//! pods of a failed test.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::context::FIELD_MANAGER;
use super::error::Error;
use crate::builders::labels::{
    COMPONENT, K8S_MANAGED_BY, MANAGER, TEST_NAME, TEST_NAME_ANNOTATION,
};
use crate::builders::{Children, Role};
use crate::naming;

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
}

impl Existing {
    /// Kinds and names of the children that do not exist.
    pub fn missing(&self, cr_name: &str) -> Vec<String> {
        let mut missing = Vec::new();
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

/// Reads the children of the LocustTest `cr_name` in `ns`: three GETs and one pod LIST
/// selected by label.
pub async fn observe(client: &Client, ns: &str, cr_name: &str) -> Result<Existing, Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let master = naming::master_name(cr_name);
    let worker = naming::worker_name(cr_name);
    let selector = format!(
        "{TEST_NAME}={},{K8S_MANAGED_BY}={MANAGER}",
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

/// Reads the children of the LocustTest `cr_name` in `ns` from the controller's caches
/// (no request to the API server).
pub fn observe_cached(stores: &super::caches::Stores, ns: &str, cr_name: &str) -> Existing {
    let master = naming::master_name(cr_name);
    let worker = naming::worker_name(cr_name);
    let label = naming::test_label_value(cr_name);
    let pods = stores.pods(ns, |p| {
        p.labels().get(TEST_NAME).map(String::as_str) == Some(label.as_str())
    });
    sort_pods(
        Existing {
            service: stores.service(ns, &master),
            master_job: stores.job(ns, &master),
            worker_job: stores.job(ns, &worker),
            ..Existing::default()
        },
        cr_name,
        pods,
    )
}

/// Adds `pods` of test `cr_name` to `existing` as master or worker pods.
fn sort_pods(mut existing: Existing, cr_name: &str, pods: Vec<Pod>) -> Existing {
    for pod in pods {
        // The label may be a shortened name; the annotation is exact.
        if pod
            .annotations()
            .get(TEST_NAME_ANNOTATION)
            .map(String::as_str)
            != Some(cr_name)
        {
            continue;
        }
        match pod.labels().get(COMPONENT).map(String::as_str) {
            Some(c) if c == Role::Master.component() => existing.master_pods.push(pod),
            Some(c) if c == Role::Worker.component() => existing.worker_pods.push(pod),
            _ => {}
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
    // The three creates go out together: one round trip for a new test, not three.
    let service_label = format!("Service {}", desired.service.name_any());
    let master_label = format!("Job {}", desired.master_job.name_any());
    let worker_label = format!("Job {}", desired.worker_job.name_any());
    let (service, master, worker) = futures::join!(
        create_if(
            existing.service.is_none(),
            &services,
            &params,
            &desired.service,
            &service_label
        ),
        create_if(
            existing.master_job.is_none(),
            &jobs,
            &params,
            &desired.master_job,
            &master_label
        ),
        create_if(
            existing.worker_job.is_none(),
            &jobs,
            &params,
            &desired.worker_job,
            &worker_label
        ),
    );
    let mut created = Vec::new();
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

/// What [`create`] answered for one child, if it was missing.
type Attempt<K> = Option<Result<Result<(K, bool), CreateOutcome>, Error>>;

/// [`create`] when `missing`.
async fn create_if<K>(
    missing: bool,
    api: &Api<K>,
    params: &PostParams,
    obj: &K,
    label: &str,
) -> Attempt<K>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if missing {
        Some(create(api, params, obj, label).await)
    } else {
        None
    }
}

/// Files one child's attempt: the object into `slot`, its label into `created` when this
/// call made it; a refusal is handed back.
fn settle<K>(
    attempt: Attempt<K>,
    slot: &mut Option<K>,
    label: String,
    created: &mut Vec<String>,
) -> Result<Option<CreateOutcome>, Error> {
    match attempt {
        None => Ok(None),
        Some(result) => match result? {
            Ok((obj, made)) => {
                *slot = Some(obj);
                if made {
                    created.push(label);
                }
                Ok(None)
            }
            Err(rejected) => Ok(Some(rejected)),
        },
    }
}

/// POSTs `obj`; on 409 reads the existing one (`false`: not created by this call, which
/// a cache a moment behind can cause). A 4xx other than 409 is a rejection the user must
/// see; anything else is a transient error.
async fn create<K>(
    api: &Api<K>,
    params: &PostParams,
    obj: &K,
    label: &str,
) -> Result<Result<(K, bool), CreateOutcome>, Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.create(params, obj).await {
        Ok(created) => Ok(Ok((created, true))),
        Err(kube::Error::Api(status)) if status.code == 409 => api
            .get(&obj.name_any())
            .await
            .map(|existing| Ok((existing, false)))
            .map_err(Error::kube("reading a child that already exists")),
        Err(kube::Error::Api(status))
            if (400..500).contains(&status.code) && status.code != 429 =>
        {
            Ok(Err(CreateOutcome::Rejected {
                child: label.to_string(),
                message: status.message,
            }))
        }
        Err(e) => Err(Error::kube("creating a child")(e)),
    }
}

/// Suspends the test's Jobs that are still running, which stops their pods (the Jobs stay
/// for inspection). Used once the verdict is Failed.
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
