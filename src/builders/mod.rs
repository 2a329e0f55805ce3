//! Pure builders: a `locust.io/v2` [`LocustTest`] and the [`OperatorConfig`] in, the objects
//! the operator creates out — the master [`Service`], the master [`Job`] and the worker
//! [`Job`]. No I/O: the CLI's `render`, the controller and the tests all call [`build`].
//!
//! Every generated name comes from [`crate::naming`]. The pieces live in small modules:
//! [`command`] (the Locust invocation), [`labels`] (labels and annotations), `env`
//! (environment and OpenTelemetry), `volumes` (test files, secret mounts, user volumes),
//! `test_files` (the test-file sources and the git and pip init containers),
//! `resources`, `pod` (pod template and container), `extensions` (the user's pod
//! extensions merged into it), `job`, `service` and `web_ui` (the web UI's own Service,
//! Ingress and HTTPRoute, and its basic authentication).

pub mod command;
mod env;
mod extensions;
mod job;
pub mod labels;
mod pod;
pub mod report;
mod resources;
mod service;
mod test_files;
mod volumes;
pub mod web_ui;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::DynamicObject;
use serde::Serialize;

use crate::api::v2::{LocustTest, LocustTestSpec, MasterSpec, WorkerSpec};
use crate::config::OperatorConfig;
use crate::naming;
use crate::validation::{Commands, Validated};

pub use command::{expect_workers_max_wait, expected_workers};
pub use test_files::PYDEPS_PATH;

/// Port the workers connect to on the master (`--master-port`).
pub const MASTER_PORT: i32 = 5557;
/// Second master port (Locust binds `--master-port` + 1 as well).
pub const MASTER_PORT_2: i32 = 5558;
/// Port of the master's web UI and stats API.
pub const WEB_UI_PORT: i32 = 8089;
/// Name of the master container.
pub const MASTER_CONTAINER: &str = "locust-master";
/// Name of the worker container.
pub const WORKER_CONTAINER: &str = "locust-worker";
/// Worker pod failures the worker Job tolerates per replica: its `backoffLimit` is this
/// times `worker.replicas`, a budget all workers share (see `job.rs` for why it is not
/// `backoffLimitPerIndex`).
pub const WORKER_FAILURES_PER_REPLICA: i32 = 2;

/// The two kinds of Locust pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The master: one pod, coordinates the run, serves the web UI.
    Master,
    /// The workers: `replicas` pods generating the load.
    Worker,
}

impl Role {
    /// Value of the `app.kubernetes.io/component` label and of the `locust.role`
    /// OpenTelemetry resource attribute.
    pub fn component(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Worker => "worker",
        }
    }

    /// Name of the Locust container in this role's pods.
    pub fn container_name(self) -> &'static str {
        match self {
            Role::Master => MASTER_CONTAINER,
            Role::Worker => WORKER_CONTAINER,
        }
    }

    /// Name of this role's Job for the LocustTest called `cr_name`.
    pub fn job_name(self, cr_name: &str) -> String {
        match self {
            Role::Master => naming::master_name(cr_name),
            Role::Worker => naming::worker_name(cr_name),
        }
    }
}

/// Why the objects of a LocustTest could not be built. Every message starts with the spec
/// field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The test has no `metadata.name`.
    #[error("metadata.name: a LocustTest needs a name")]
    MissingName,
    /// A command has no words at all.
    #[error(
        "{field}: the command is empty; give at least the locustfile, for example `locust -f /lotest/src/locustfile.py`"
    )]
    EmptyCommand {
        /// The spec field, for example `spec.worker.command`.
        field: &'static str,
    },
    /// Any other field value the builders cannot turn into valid objects.
    #[error("{field}: {reason}")]
    Invalid {
        /// The spec field, for example `spec.worker.replicas` or `spec.volumeMounts[2].name`.
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },
}

impl BuildError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BuildError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The objects of one LocustTest, in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Children {
    /// The master Service (`<master name>`): workers connect through it.
    pub service: Service,
    /// The master Job (`<master name>`).
    pub master_job: Job,
    /// The worker Job (`<worker name>`).
    pub worker_job: Job,
    /// The web UI's own Service (`<test>-webui`), for `webUI.service.type` NodePort or
    /// LoadBalancer.
    pub web_ui_service: Option<Service>,
    /// The web UI's Ingress (`<test>-webui`), for `webUI.ingress`.
    pub ingress: Option<Ingress>,
    /// The web UI's Gateway API HTTPRoute (`<test>-webui`), for `webUI.httpRoute`.
    pub http_route: Option<DynamicObject>,
}

/// One object of [`Children`]; serialises exactly like the object itself (with its
/// `apiVersion` and `kind`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Child {
    /// The master Service.
    Service(Box<Service>),
    /// The master or the worker Job.
    Job(Box<Job>),
    /// The web UI's Ingress.
    Ingress(Box<Ingress>),
    /// The web UI's HTTPRoute.
    HttpRoute(Box<DynamicObject>),
}

impl Child {
    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Child::Service(s) => &s.metadata,
            Child::Job(j) => &j.metadata,
            Child::Ingress(i) => &i.metadata,
            Child::HttpRoute(r) => &r.metadata,
        }
    }

    /// The object's kind: `Service`, `Job`, `Ingress` or `HTTPRoute`.
    pub fn kind(&self) -> &'static str {
        match self {
            Child::Service(_) => "Service",
            Child::Job(_) => "Job",
            Child::Ingress(_) => "Ingress",
            Child::HttpRoute(_) => web_ui::HTTP_ROUTE_KIND,
        }
    }
}

impl Children {
    /// The objects in creation order: the Service, the web UI's objects (when wanted),
    /// the master Job, the worker Job.
    pub fn into_objects(self) -> Vec<Child> {
        let mut objects = vec![Child::Service(Box::new(self.service))];
        objects.extend((self.web_ui_service.into_iter()).map(|s| Child::Service(Box::new(s))));
        objects.extend(
            self.ingress
                .into_iter()
                .map(|i| Child::Ingress(Box::new(i))),
        );
        objects.extend((self.http_route.into_iter()).map(|r| Child::HttpRoute(Box::new(r))));
        objects.push(Child::Job(Box::new(self.master_job)));
        objects.push(Child::Job(Box::new(self.worker_job)));
        objects
    }

    /// Copies of the objects in creation order (see [`Children::into_objects`]).
    pub fn objects(&self) -> Vec<Child> {
        self.clone().into_objects()
    }

    /// The Job of `role`.
    pub fn job(&self, role: Role) -> &Job {
        match role {
            Role::Master => &self.master_job,
            Role::Worker => &self.worker_job,
        }
    }
}

/// Builds the Service, master Job and worker Job of `test`, and the web UI's Service,
/// Ingress and HTTPRoute when its `webUI` asks for them.
///
/// The namespace of every object is the test's `metadata.namespace` (left unset when the
/// test has none). When the test has a `metadata.uid` every object gets a controller owner
/// reference to it, so deleting the test deletes its children; without a uid (a test read
/// from a file) there is none.
///
/// The test has passed validation ([`Validated`] carries its commands split into words: the
/// builders never parse a command); the few values that cannot become valid objects
/// still give a [`BuildError`] naming the field instead of broken objects.
pub fn build(valid: &Validated<'_>, config: &OperatorConfig) -> Result<Children, BuildError> {
    let ctx = Ctx::new(valid.test(), valid.commands(), config)?;
    Ok(Children {
        service: service::build(&ctx),
        master_job: job::build(&ctx, Role::Master)?,
        worker_job: job::build(&ctx, Role::Worker)?,
        web_ui_service: web_ui::service(&ctx),
        ingress: web_ui::ingress(&ctx),
        http_route: web_ui::http_route(&ctx),
    })
}

/// Everything the builders share: the test, the configuration and the generated names.
pub(crate) struct Ctx<'a> {
    test: &'a LocustTest,
    spec: &'a LocustTestSpec,
    /// The commands as words (split once, by validation).
    commands: &'a Commands,
    config: &'a OperatorConfig,
    cr_name: &'a str,
    namespace: Option<&'a str>,
    /// Value of the `app`, `performance-test-name` and `app.kubernetes.io/instance` labels.
    test_label: String,
    master_name: String,
    worker_name: String,
}

impl<'a> Ctx<'a> {
    fn new(
        test: &'a LocustTest,
        commands: &'a Commands,
        config: &'a OperatorConfig,
    ) -> Result<Self, BuildError> {
        let cr_name = test
            .metadata
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or(BuildError::MissingName)?;
        Ok(Ctx {
            test,
            spec: &test.spec,
            commands,
            config,
            cr_name,
            namespace: test.metadata.namespace.as_deref(),
            test_label: naming::test_label_value(cr_name),
            master_name: naming::master_name(cr_name),
            worker_name: naming::worker_name(cr_name),
        })
    }

    fn master(&self) -> &'a MasterSpec {
        &self.spec.master
    }

    fn worker(&self) -> &'a WorkerSpec {
        &self.spec.worker
    }

    fn job_name(&self, role: Role) -> &str {
        match role {
            Role::Master => &self.master_name,
            Role::Worker => &self.worker_name,
        }
    }

    /// Metadata of a child object: name, namespace, labels and the owner reference.
    fn object_meta(
        &self,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
    ) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: self.namespace.map(str::to_string),
            labels: Some(labels),
            owner_references: self.owner_reference().map(|r| vec![r]),
            ..ObjectMeta::default()
        }
    }

    /// The controller owner reference to the test, when the test has a uid.
    fn owner_reference(&self) -> Option<OwnerReference> {
        let uid = self
            .test
            .metadata
            .uid
            .as_deref()
            .filter(|u| !u.is_empty())?;
        Some(OwnerReference {
            api_version: LocustTest::api_version(&()).into_owned(),
            kind: LocustTest::kind(&()).into_owned(),
            name: self.cr_name.to_string(),
            uid: uid.to_string(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        })
    }
}
