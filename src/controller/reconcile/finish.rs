//! Stage 3: the status. Derive it (pure), keep the report, follow the master, stop the
//! pods of a failed test, write the status through the status subresource, publish the
//! transitions as events, and say when to look again.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::Run;
use super::start::Started;
use crate::api::status::{LocustTestStatus, Phase};
use crate::api::v2::LocustTest;
use crate::builders;
use crate::controller::children::{self, Existing};
use crate::controller::context::FIELD_MANAGER;
use crate::controller::error::Error;
use crate::controller::locust_poll::Snapshot;
use crate::controller::web_auth::{self, Credentials};
use crate::locust::FinalReport;
use crate::status::conditions::{self, FALSE, SPEC_DRIFTED, TRUE, UNKNOWN};
use crate::status::{self, EventKind, Observed, reason, set_condition};

/// Safety net for running tests; watches on Jobs and pods drive the real updates.
const RUNNING_RESYNC: Duration = Duration::from_secs(60);

impl Run<'_> {
    /// Derives, writes and announces the new status; the next look.
    pub(super) async fn finish(
        &self,
        started: &Started,
        existing: Existing,
    ) -> Result<Action, Error> {
        let ctx = self.ctx;
        // A drifted test keeps describing the generation it started with.
        let generation = if started.drift {
            (self.previous.observed_generation).unwrap_or_else(|| self.generation())
        } else {
            self.generation()
        };
        let snapshot = (ctx.pollers)
            .snapshot(&self.ns, &self.name, &self.uid)
            .unwrap_or_default();
        let report = snapshot.report.clone();
        // A finished test's children are not observed, so this asks nothing then.
        let refused =
            crate::controller::refused::refused_pods(&ctx.client, &self.ns, &existing, &self.now)
                .await;
        let observed = self.observed(existing, generation, &started.test, snapshot, refused);
        let mut new = status::derive(
            &self.previous,
            &observed,
            builders::expected_workers(&started.test.spec),
            &self.now,
            ctx.settings.pod_health_grace,
        );
        if new.report_config_map.is_none()
            && let Some(report) = &report
        {
            new.report_config_map = self.keep_report(&started.test, report).await?;
        }
        let drift_changed = set_spec_drifted(&mut new, started.drift, generation, &self.now);
        status::progress::set_progress(&mut new, &self.now);
        match new.phase {
            Some(Phase::Running) => self.follow_master(&started.test).await?,
            Some(p) if p.is_terminal() => ctx.pollers.stop(&self.ns, &self.name),
            _ => {}
        }
        // A test that ends now: stop its pods (all of a failed test; those a sidecar holds).
        if let Some(phase) = (new.phase).filter(|p| p.is_terminal() && !self.phase.is_terminal()) {
            let jobs = children::jobs_to_stop(phase, &observed);
            children::stop_pods(ctx.writer()?, &self.ns, &jobs).await?;
        }
        self.write_status(&new).await?;
        for e in status::events(&self.previous, &new) {
            let warning = e.kind == EventKind::Warning;
            ctx.event(self.test, warning, e.reason, e.message).await;
        }
        if drift_changed && started.drift {
            let note = "The spec was edited after the test started; the change is not applied. \
                        Delete and recreate the test to run it with the new spec.";
            (ctx.event(self.test, true, reason::SPEC_DRIFTED, note.into())).await;
        }
        match super::ttl::expiry(&started.test.spec, &new, &self.now) {
            super::ttl::Expiry::Never => Ok(next_action(&new, ctx.settings.pod_health_grace)),
            super::ttl::Expiry::In(left) => Ok(Action::requeue(left)),
            super::ttl::Expiry::Due => {
                let ttl = started.test.spec.ttl_seconds_after_finished.unwrap_or(0);
                self.delete_expired(ttl).await?;
                Ok(Action::await_change())
            }
        }
    }

    /// What the status is derived from: the children, what the test's Locust poller last
    /// learned (a default snapshot when no poller runs) and the Jobs whose pods are refused.
    fn observed(
        &self,
        existing: Existing,
        generation: i64,
        started: &LocustTest,
        snapshot: Snapshot,
        refused_pods: Vec<crate::status::RefusedPods>,
    ) -> Observed {
        let spec = &started.spec;
        Observed {
            generation,
            service_exists: existing.service.is_some(),
            master_job: existing.master_job,
            worker_job: existing.worker_job,
            master_pods: existing.master_pods,
            worker_pods: existing.worker_pods,
            processes_per_pod: spec.worker.processes_per_pod.unwrap_or(1),
            master: snapshot.master,
            final_result: snapshot.result,
            stopped_result: snapshot.stopped,
            master_error: snapshot.error,
            master_last_seen: snapshot.last_seen,
            run_started: snapshot.run_started,
            thresholds: spec.thresholds.clone(),
            refused_pods,
            expect_workers_max_wait: builders::expect_workers_max_wait(
                spec,
                self.ctx.config.expect_workers_max_wait,
            ),
        }
    }

    /// Starts the poller of the test's Locust master (once per object), with the web
    /// UI's credentials when it has some (read from the Secret once per poller).
    async fn follow_master(&self, started: &LocustTest) -> Result<(), Error> {
        if (self.ctx.pollers).is_polling(&self.ns, &self.name, &self.uid) {
            return Ok(());
        }
        let base_path = (started.spec.web_ui.as_ref()).and_then(|w| w.base_path.as_deref());
        let service = crate::naming::master_name(&self.name);
        let settings = &self.ctx.settings;
        let url = match crate::locust::master_url(
            &settings.master_url_template,
            &service,
            &self.ns,
            base_path,
        ) {
            Ok(url) => url,
            // The template was validated at start-up; only the base path can be wrong here.
            Err(e) => {
                warn!(error = %e, "cannot poll the Locust master");
                return Ok(());
            }
        };
        let mut client = crate::locust::LocustClient::new(url);
        match web_auth::read(&self.ctx.client, &self.ns, &started.spec).await? {
            Credentials::NotAsked => {}
            Credentials::Found(auth) => client = client.with_basic_auth(auth),
            // The Secret went away after the pods started: no poller (it would only get
            // 401); the next reconcile reads the Secret again.
            Credentials::Unusable(problem) => {
                warn!(%problem, "cannot poll the Locust master without the web UI's credentials");
                return Ok(());
            }
        }
        (self.ctx.pollers).ensure(
            &self.ns,
            &self.name,
            &self.uid,
            client,
            settings.locust_poll_interval,
        );
        Ok(())
    }

    /// Keeps the final statistics and HTML report in the test's report ConfigMap
    /// (server-side apply); its name, or `None` (with a Warning event) when it could not
    /// be written.
    async fn keep_report(
        &self,
        started: &LocustTest,
        report: &FinalReport,
    ) -> Result<Option<String>, Error> {
        let client = self.ctx.writer()?;
        let outcome = match builders::report::config_map(started, &self.ctx.config, report) {
            Ok(cm) => {
                let name = cm.metadata.name.clone().unwrap_or_default();
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &self.ns);
                let params = PatchParams::apply(FIELD_MANAGER).force();
                (api.patch(&name, &params, &Patch::Apply(&cm)).await)
                    .map(|_| (name, cm))
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        let (name, cm) = match outcome {
            Ok(kept) => kept,
            Err(e) => {
                warn!(error = %e, "could not keep the final statistics and report");
                let note = crate::text::truncate(
                    format!("Could not keep the final statistics and report: {e}"),
                    1024,
                );
                (self.ctx)
                    .event(started, true, reason::REPORT_NOT_KEPT, note)
                    .await;
                return Ok(None);
            }
        };
        let kept: Vec<&str> = (cm.data.iter().flat_map(|d| d.keys()))
            .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
            .map(String::as_str)
            .filter(|k| *k != builders::report::NOTE_KEY)
            .collect();
        info!(config_map = %name, keys = ?kept, "kept the final statistics and report");
        let note = format!("Kept {} in ConfigMap {name}", kept.join(" and "));
        (self.ctx)
            .event(started, false, reason::REPORT_KEPT, note)
            .await;
        Ok(Some(name))
    }

    /// Writes the status through the status subresource by server-side apply, only when
    /// it changed; the phase gauge and a finished test's result series follow.
    pub(super) async fn write_status(&self, new: &LocustTestStatus) -> Result<(), Error> {
        if &self.previous != new {
            let api: Api<LocustTest> = Api::namespaced(self.ctx.writer()?.clone(), &self.ns);
            let patch = json!({
                "apiVersion": "locust.io/v2",
                "kind": "LocustTest",
                "status": new,
            });
            let params = PatchParams::apply(FIELD_MANAGER).force();
            api.patch_status(&self.test.name_any(), &params, &Patch::Apply(&patch))
                .await
                .map_err(Error::kube("writing the status"))?;
            self.ctx.remember_status(self.test, new);
        }
        let ready = conditions::find(&new.conditions, conditions::READY);
        let reason = ready.map_or("", |c| c.reason.as_str());
        (self.ctx.metrics).set_phase(&self.ns, &self.name, new.phase, reason);
        Ok(())
    }
}

/// Sets SpecDrifted True while the live spec differs from the started one, False once it
/// is put back; returns whether its status changed.
fn set_spec_drifted(
    status: &mut LocustTestStatus,
    drift: bool,
    generation: i64,
    now: &Time,
) -> bool {
    let had = conditions::find(&status.conditions, SPEC_DRIFTED).is_some();
    if !drift && !had {
        return false;
    }
    let condition = if drift {
        conditions::condition(
            SPEC_DRIFTED,
            TRUE,
            reason::SPEC_CHANGE_IGNORED,
            "the spec was edited after the test started; tests are immutable, so the change is \
             not applied (delete and recreate the test to change it)",
            generation,
        )
    } else {
        conditions::condition(
            SPEC_DRIFTED,
            FALSE,
            reason::SPEC_RESTORED,
            "the spec matches the one the test started with",
            generation,
        )
    };
    set_condition(&mut status.conditions, condition, now)
}

/// When to look again: never for a finished test; when the grace period of an unhealthy
/// pod ends; else after the safety-net resync.
fn next_action(status: &LocustTestStatus, grace: Duration) -> Action {
    match status.phase {
        Some(p) if p.is_terminal() => Action::await_change(),
        _ if conditions::has_status(&status.conditions, conditions::PODS_HEALTHY, FALSE) => {
            Action::requeue(grace.min(RUNNING_RESYNC) + Duration::from_secs(1))
        }
        // No pod yet: look again soon, when a Job without pods has its events read.
        _ if conditions::has_status(&status.conditions, conditions::PODS_HEALTHY, UNKNOWN) => {
            Action::requeue(crate::controller::refused::QUIET_FOR + Duration::from_secs(1))
        }
        _ => Action::requeue(RUNNING_RESYNC),
    }
}
