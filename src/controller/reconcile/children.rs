//! Stage 2: the children. Observe them, adopt what the Go operator created, and for an
//! unfinished test create what is missing: dereference (ConfigMaps and a test-files
//! PersistentVolumeClaim exist) → build (pure)
//! → create.

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::Api;
use tracing::{info, warn};

use super::start::Started;
use super::{Blocked, RETRY_LATER, Run};
use crate::builders::{self, Children};
use crate::controller::adopt;
use crate::controller::children::{self, CreateOutcome, Existing};
use crate::controller::error::Error;
use crate::controller::references;
use crate::controller::web_auth::{self, Credentials};
use crate::status::{conditions, reason};
use crate::validation::Validated;

impl Run<'_> {
    /// The children as they are; nothing for a finished test, whose children are never
    /// looked at again (nor recreated): its status is final but for SpecDrifted.
    pub(super) async fn observe(&self, started: &Started) -> Result<Existing, Error> {
        if self.phase.is_terminal() {
            return Ok(Existing::default());
        }
        let (ns, name, uid) = (&self.ns, &self.name, &self.uid);
        let client = &self.ctx.client;
        let stores = self.ctx.caches.for_namespace(ns).filter(|c| c.is_ready());
        let mut existing = match &stores {
            Some(stores) => children::observe_cached(stores, ns, name, uid),
            None => children::observe(client, ns, name, uid).await?,
        };
        let spec = &started.test.spec;
        children::observe_web(client, stores.as_ref(), ns, name, spec, &mut existing).await?;
        Ok(existing)
    }

    /// Adopts the Go operator's children of an unfinished test, records the spec of a test
    /// it started (it is this operator's from now on) and drops its finalizer.
    pub(super) async fn adopt(
        &self,
        started: &mut Started,
        existing: &mut Existing,
    ) -> Result<(), Error> {
        if !self.phase.is_terminal() {
            let client = self.ctx.writer()?;
            let adopted =
                adopt::adopt_children(client, &self.ns, self.test, started.go_started, existing)
                    .await?;
            if !adopted.is_empty() {
                info!(children = ?adopted, "adopted children the Go operator created");
                let note = format!(
                    "Adopted {} (created by the Go operator)",
                    adopted.join(", ")
                );
                self.ctx
                    .event(self.test, false, reason::ADOPTED, note)
                    .await;
            }
        }
        // The finalizer goes from the object the spec write returns, when there is one.
        let written = if started.go_started && !started.recorded {
            Some(self.record_spec(started).await?)
        } else {
            None
        };
        let test = written.as_ref().unwrap_or(self.test);
        if adopt::remove_go_finalizer(self.ctx.writer()?, test).await? {
            info!("removed the Go operator's finalizer");
        }
        Ok(())
    }

    /// Every ConfigMap the test references exists, and so do the PersistentVolumeClaim
    /// holding its test files and the web UI's Secret with its keys.
    pub(super) async fn dereference(&self, started: &Started) -> Result<(), super::Stop> {
        let spec = &started.test.spec;
        let credentials = web_auth::read(&self.ctx.client, &self.ns, spec).await?;
        if let Credentials::Unusable(problem) = credentials {
            return Err(Blocked {
                reason: reason::AUTH_SECRET_MISSING,
                message: problem,
                retry: Some(RETRY_LATER),
            }
            .into());
        }
        let api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        if let Some((field, cm)) =
            references::first_missing_config_map(&api, &self.ctx.config_maps, spec).await?
        {
            return Err(self.missing(reason::CONFIG_MAP_MISSING, "ConfigMap", &cm, &field));
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        if let Some((field, claim)) = references::missing_claim(&api, spec).await? {
            return Err(self.missing(
                reason::PERSISTENT_VOLUME_CLAIM_MISSING,
                "PersistentVolumeClaim",
                &claim,
                field,
            ));
        }
        Ok(())
    }

    /// The test waits for the `kind` called `name` (named by `field`) to exist.
    fn missing(&self, reason: &'static str, kind: &str, name: &str, field: &str) -> super::Stop {
        Blocked {
            reason,
            message: format!(
                "{kind} {name:?} ({field}) does not exist in namespace {}: create it; the test \
                 starts once it exists",
                self.ns
            ),
            retry: Some(RETRY_LATER),
        }
        .into()
    }

    /// The desired children (pure).
    pub(super) fn build(&self, started: &Started) -> Result<Children, Blocked> {
        let valid = Validated::new(&started.test, started.commands.clone());
        builders::build(&valid, &self.ctx.config).map_err(|e| Blocked {
            reason: reason::INVALID_SPEC,
            message: format!("the test cannot be built: {e}"),
            retry: None,
        })
    }

    /// Records the spec (first start), then creates the missing children and says so in
    /// an event: created on the first start, recreated after someone deleted them.
    pub(super) async fn create_missing(
        &self,
        started: &mut Started,
        desired: Children,
        existing: &mut Existing,
    ) -> Result<(), super::Stop> {
        if !started.recorded {
            self.record_spec(started).await?;
        }
        // The status carries TestCompleted once the children existed together; before
        // that (first start, or a crash between creates) nothing is a recreation.
        let created_before =
            conditions::find(&self.previous.conditions, conditions::TEST_COMPLETED).is_some();
        let client = self.ctx.writer()?;
        match children::create_missing(client, &self.ns, desired, existing).await? {
            CreateOutcome::Created(created) if created.is_empty() => {}
            CreateOutcome::Created(created) if !created_before => {
                info!(children = ?created, "created the test's children");
                let note = format!("Created {}", created.join(", "));
                (self.ctx)
                    .event(self.test, false, reason::RESOURCES_CREATED, note)
                    .await;
            }
            CreateOutcome::Created(created) => {
                warn!(children = ?created, "recreated children deleted by someone else");
                let note = format!(
                    "Recreated {} (deleted while the test was running)",
                    created.join(", ")
                );
                (self.ctx)
                    .event(self.test, true, reason::CHILD_RECREATED, note)
                    .await;
            }
            CreateOutcome::NotServed { child } => {
                return Err(Blocked {
                    reason: reason::GATEWAY_API_MISSING,
                    message: format!(
                        "spec.webUI.httpRoute: the cluster does not serve HTTPRoute ({}/{}), \
                         so {child} cannot be created: install the Gateway API CRDs, or \
                         remove webUI.httpRoute; the test starts once it can be created",
                        builders::web_ui::HTTP_ROUTE_GROUP,
                        builders::web_ui::HTTP_ROUTE_VERSION
                    ),
                    retry: Some(RETRY_LATER),
                }
                .into());
            }
            CreateOutcome::Rejected { child, message } => {
                return Err(Blocked {
                    reason: reason::CREATE_FAILED,
                    message: format!("the API server refused to create {child}: {message}"),
                    retry: Some(RETRY_LATER),
                }
                .into());
            }
        }
        Ok(())
    }
}
