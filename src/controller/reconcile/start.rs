//! Stage 1: the spec the test runs with, and recording it.
//!
//! A test is immutable once started: the spec it started with is recorded in an
//! annotation before any child exists (so a crash in between still finds it) and every
//! later reconcile runs that one; an edit after the start only raises `SpecDrifted`. The
//! live spec of a test not started yet is validated first.

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::{Blocked, Run};
use crate::api::v2::LocustTest;
use crate::controller::adopt;
use crate::controller::applied_spec::{self, APPLIED_SPEC_ANNOTATION};
use crate::controller::context::FIELD_MANAGER;
use crate::controller::error::Error;
use crate::status::reason;
use crate::validation::{Commands, Validated, ValidationErrors};

/// The spec a test runs with.
pub(super) struct Started {
    /// The test as it started: the live object with the recorded spec.
    pub test: LocustTest,
    /// Whether the spec is recorded already (else it is recorded before the first create).
    pub recorded: bool,
    /// Whether the live spec differs from the recorded one.
    pub drift: bool,
    /// Whether the Go operator started the test (see [`adopt::go_started`]).
    pub go_started: bool,
    /// Its commands, split into words (by validation, or from the recorded spec).
    pub commands: Commands,
}

impl Run<'_> {
    /// The recorded spec, else the live one once it passes validation.
    pub(super) fn started(&self) -> Result<Started, Blocked> {
        let recorded = applied_spec::recorded(self.test);
        let go_started = adopt::go_started(self.test, recorded.is_some(), &self.previous);
        let invalid = |errors: ValidationErrors| Blocked {
            reason: reason::INVALID_SPEC,
            message: format!("the test is invalid and waits for a fix: {errors}"),
            retry: None,
        };
        let Some(spec) = recorded else {
            let commands = match crate::validation::validate(self.test) {
                Ok(valid) => valid.commands().clone(),
                Err(errors) => return Err(invalid(errors)),
            };
            if adopt::has_go_finalizer(self.test) {
                info!("taking over a test the Go operator started; recording its live spec");
            } else if self.previous.start_time.is_some() {
                warn!("the recorded spec is missing or damaged; recording the live spec");
            }
            return Ok(Started {
                test: self.test.clone(),
                recorded: false,
                drift: false,
                go_started,
                commands,
            });
        };
        let test = applied_spec::as_started(self.test, &spec);
        // Validated when it started: its commands are split again, no rule re-checked.
        let commands = Validated::started(&test)
            .map_err(invalid)?
            .commands()
            .clone();
        Ok(Started {
            drift: applied_spec::drifted(self.test, &spec),
            test,
            recorded: true,
            go_started,
            commands,
        })
    }

    /// Records the live spec as the one the test runs with (server-side apply of the
    /// annotation); returns the test as written.
    pub(super) async fn record_spec(&self, started: &mut Started) -> Result<LocustTest, Error> {
        let spec = serde_json::to_string(&self.test.spec).map_err(|source| Error::Serialize {
            what: "the applied spec",
            source,
        })?;
        let api: Api<LocustTest> = Api::namespaced(self.ctx.writer()?.clone(), &self.ns);
        let patch = json!({
            "apiVersion": "locust.io/v2",
            "kind": "LocustTest",
            "metadata": { "name": self.test.name_any(), "annotations": { APPLIED_SPEC_ANNOTATION: spec } },
        });
        let written = api
            .patch(
                &self.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(Error::kube("recording the applied spec"))?;
        started.recorded = true;
        Ok(written)
    }
}
