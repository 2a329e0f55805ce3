//! One reconcile: a short pipeline with the I/O at its edges.
//!
//! read the recorded spec → validate (first start only) → observe children → adopt what
//! the Go operator created and drop its finalizer → dereference ConfigMaps and create what
//! is missing (unfinished tests only) → derive the status (pure) → stop pods of a failed
//! test → write the status and events.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::adopt;
use super::applied_spec::{self, APPLIED_SPEC_ANNOTATION};
use super::children::{self, CreateOutcome, Existing};
use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use crate::api::status::{LocustTestStatus, Phase};
use crate::api::v2::LocustTest;
use crate::builders;
use crate::status::conditions::{self, FALSE, READY, SPEC_DRIFTED, TRUE};
use crate::status::{self, EventKind, Observed, set_condition};

/// Reasons of conditions and events the controller itself sets.
pub mod reason {
    /// The spec failed validation; the test waits for a fix.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A referenced ConfigMap does not exist.
    pub const CONFIG_MAP_MISSING: &str = "ConfigMapMissing";
    /// The API server refused to create a child.
    pub const CREATE_FAILED: &str = "CreateFailed";
    /// The children were created for the first time.
    pub const RESOURCES_CREATED: &str = "ResourcesCreated";
    /// A child deleted by someone else was recreated.
    pub const CHILD_RECREATED: &str = "ChildRecreated";
    /// The spec was edited after the test started.
    pub const SPEC_CHANGE_IGNORED: &str = "SpecChangeIgnored";
    /// The spec is back to what the test started with.
    pub const SPEC_RESTORED: &str = "SpecRestored";
    /// The SpecDrifted event.
    pub const SPEC_DRIFTED_EVENT: &str = "SpecDrifted";
    /// The final statistics and HTML report were kept in the report ConfigMap.
    pub const REPORT_KEPT: &str = "ReportKept";
    /// The report ConfigMap could not be written.
    pub const REPORT_NOT_KEPT: &str = "ReportNotKept";
    /// Children the Go operator created were adopted.
    pub const ADOPTED: &str = "Adopted";
}

/// How long to wait before looking again at a test that waits for something outside the
/// operator's watches (a ConfigMap, a rejected create).
const RETRY_LATER: Duration = Duration::from_secs(30);
/// Safety net for running tests; watches on Jobs and pods drive the real updates.
const RUNNING_RESYNC: Duration = Duration::from_secs(60);

/// Reconciles one LocustTest.
pub async fn reconcile(test: Arc<LocustTest>, ctx: Arc<Context>) -> Result<Action, Error> {
    if test.metadata.deletion_timestamp.is_some() {
        // Children go with the CR through owner references.
        ctx.forget_status(&test.namespace().unwrap_or_default(), &test.name_any());
        ctx.pollers
            .stop(&test.namespace().unwrap_or_default(), &test.name_any());
        ctx.metrics
            .forget(&test.namespace().unwrap_or_default(), &test.name_any());
        // The Go operator's finalizer would keep the deleted test for good.
        if ctx.is_leader() && adopt::remove_go_finalizer(&ctx.client, &test).await? {
            info!("removed the Go operator's finalizer from a deleted test");
        }
        return Ok(Action::await_change());
    }
    if !ctx.is_leader() {
        // A non-leader never writes (nor polls Locust for a status it cannot write).
        ctx.pollers
            .stop(&test.namespace().unwrap_or_default(), &test.name_any());
        return Ok(Action::await_change());
    }
    let name = test
        .metadata
        .name
        .clone()
        .ok_or(Error::MissingMetadata("name"))?;
    let ns = test
        .metadata
        .namespace
        .clone()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let previous = ctx.previous_status(&test);
    let now = Time(Timestamp::now());

    // The spec the test runs with: recorded at start, else the live one (validated).
    let recorded = applied_spec::recorded(&test);
    let first_start = recorded.is_none();
    let started = match &recorded {
        Some(spec) => applied_spec::as_started(&test, spec),
        None => {
            if let Err(errors) = crate::validation::validate(&test) {
                let message = format!("the test is invalid and waits for a fix: {errors}");
                return blocked(
                    &test,
                    &ctx,
                    &previous,
                    &now,
                    reason::INVALID_SPEC,
                    message,
                    None,
                )
                .await;
            }
            if adopt::has_go_finalizer(&test) {
                info!("taking over a test the Go operator started; recording its live spec");
            } else if previous.start_time.is_some() {
                warn!("the recorded spec is missing or damaged; recording the live spec");
            }
            test.as_ref().clone()
        }
    };
    let drift = recorded
        .as_ref()
        .is_some_and(|spec| applied_spec::drifted(&test, spec));
    let phase = previous.phase.unwrap_or(Phase::Pending);
    let go_started = adopt::go_started(&test, recorded.is_some(), &previous);
    let uid = test.metadata.uid.clone().unwrap_or_default();

    // A finished test's children are never looked at again (nor recreated): its status is
    // final but for SpecDrifted.
    let mut existing = if phase.is_terminal() {
        Existing::default()
    } else {
        match ctx.caches.for_namespace(&ns).filter(|c| c.is_ready()) {
            Some(stores) => children::observe_cached(&stores, &ns, &name, &uid),
            None => children::observe(&ctx.client, &ns, &name, &uid).await?,
        }
    };
    let mut record = first_start;
    if !phase.is_terminal() {
        let adopted =
            adopt::adopt_children(&ctx.client, &ns, &test, go_started, &mut existing).await?;
        if !adopted.is_empty() {
            info!(children = ?adopted, "adopted children the Go operator created");
            ctx.event(
                &test,
                false,
                reason::ADOPTED,
                format!(
                    "Adopted {} (created by the Go operator)",
                    adopted.join(", ")
                ),
            )
            .await;
        }
    }
    // From now on a test the Go operator started is this operator's: immutable with the
    // spec it runs (the finalizer goes below, from the object this write returns).
    let mut latest = None;
    if record && go_started {
        latest = Some(record_spec(&ctx, &test, &ns, &name).await?);
        record = false;
    }
    if adopt::remove_go_finalizer(&ctx.client, latest.as_ref().unwrap_or(&test)).await? {
        info!("removed the Go operator's finalizer");
    }
    let missing = existing.missing(&name);
    if !phase.is_terminal() && !missing.is_empty() {
        let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
        if let Some((field, cm)) = super::references::first_missing_config_map(
            &config_maps,
            &ctx.config_maps,
            &started.spec,
        )
        .await?
        {
            let message = format!(
                "ConfigMap {cm:?} ({field}) does not exist in namespace {ns}: create it; the \
                 test starts once it exists"
            );
            return blocked(
                &test,
                &ctx,
                &previous,
                &now,
                reason::CONFIG_MAP_MISSING,
                message,
                Some(RETRY_LATER),
            )
            .await;
        }
        if record {
            record_spec(&ctx, &test, &ns, &name).await?;
        }
        let desired = match builders::build(&started, &ctx.config) {
            Ok(d) => d,
            Err(e) => {
                let message = format!("the test cannot be built: {e}");
                return blocked(
                    &test,
                    &ctx,
                    &previous,
                    &now,
                    reason::INVALID_SPEC,
                    message,
                    None,
                )
                .await;
            }
        };
        // The status carries TestCompleted once the children existed together; before that
        // (first start, or a crash between creates) nothing is a recreation.
        let created_before =
            conditions::find(&previous.conditions, conditions::TEST_COMPLETED).is_some();
        match children::create_missing(&ctx.client, &ns, desired, &mut existing).await? {
            CreateOutcome::Created(created) if created.is_empty() => {}
            CreateOutcome::Created(created) if !created_before => {
                info!(children = ?created, "created the test's children");
                ctx.event(
                    &test,
                    false,
                    reason::RESOURCES_CREATED,
                    format!("Created {}", created.join(", ")),
                )
                .await;
            }
            CreateOutcome::Created(created) => {
                warn!(children = ?created, "recreated children deleted by someone else");
                ctx.event(
                    &test,
                    true,
                    reason::CHILD_RECREATED,
                    format!(
                        "Recreated {} (deleted while the test was running)",
                        created.join(", ")
                    ),
                )
                .await;
            }
            CreateOutcome::Rejected { child, message } => {
                let message = format!("the API server refused to create {child}: {message}");
                return blocked(
                    &test,
                    &ctx,
                    &previous,
                    &now,
                    reason::CREATE_FAILED,
                    message,
                    Some(RETRY_LATER),
                )
                .await;
            }
        }
    }

    // Derive the status (pure).
    let generation = if drift {
        previous
            .observed_generation
            .unwrap_or_else(|| test.metadata.generation.unwrap_or_default())
    } else {
        test.metadata.generation.unwrap_or_default()
    };
    let snapshot = ctx.pollers.snapshot(&ns, &name, &uid).unwrap_or_default();
    let report = snapshot.report.clone();
    let observed = to_observed(existing.clone(), generation, &started, &ctx, snapshot);
    let mut new = status::derive(
        &previous,
        &observed,
        builders::expected_workers(&started.spec),
        &now,
        ctx.settings.pod_health_grace,
    );
    if new.report_config_map.is_none()
        && let Some(report) = &report
    {
        new.report_config_map = keep_report(&ctx, &started, &ns, report).await;
    }
    let drift_changed = set_spec_drifted(&mut new, drift, generation, &now);
    status::progress::set_progress(&mut new, &now);
    match new.phase {
        Some(Phase::Running) => start_polling(&ctx, &started, &ns, &name, &uid),
        Some(p) if p.is_terminal() => ctx.pollers.stop(&ns, &name),
        _ => {}
    }

    if new.phase == Some(Phase::Failed) && phase != Phase::Failed {
        children::stop_pods(&ctx.client, &ns, &existing).await?;
    }
    write_status(&ctx, &test, &previous, &new).await?;
    ctx.metrics.set_phase(&ns, &name, new.phase);
    for e in status::events(&previous, &new) {
        ctx.event(&test, e.kind == EventKind::Warning, e.reason, e.message)
            .await;
    }
    if drift_changed && drift {
        ctx.event(
            &test,
            true,
            reason::SPEC_DRIFTED_EVENT,
            "The spec was edited after the test started; the change is not applied. Delete and \
             recreate the test to run it with the new spec."
                .into(),
        )
        .await;
    }
    Ok(next_action(&new, ctx.settings.pod_health_grace))
}

/// Starts the poller of the test's Locust master (once per object).
fn start_polling(ctx: &Context, started: &LocustTest, ns: &str, name: &str, uid: &str) {
    let base_path = started
        .spec
        .web_ui
        .as_ref()
        .and_then(|w| w.base_path.as_deref());
    let service = crate::naming::master_name(name);
    match crate::locust::master_url(&ctx.settings.master_url_template, &service, ns, base_path) {
        Ok(url) => ctx.pollers.ensure(
            ns,
            name,
            uid,
            crate::locust::LocustClient::new(url),
            ctx.settings.locust_poll_interval,
        ),
        // The template was validated at start-up; only the base path can be wrong here.
        Err(e) => warn!(error = %e, "cannot poll the Locust master"),
    }
}

/// Writes a blocking condition (invalid spec, missing ConfigMap, refused create) and waits:
/// for a change of the object (`retry: None`) or for `retry`.
async fn blocked(
    test: &LocustTest,
    ctx: &Context,
    previous: &LocustTestStatus,
    now: &Time,
    why: &'static str,
    message: String,
    retry: Option<Duration>,
) -> Result<Action, Error> {
    let (name, ns) = (test.name_any(), test.namespace().unwrap_or_default());
    let message = crate::text::truncate(message, 2048);
    let mut new = previous.clone();
    new.phase.get_or_insert(Phase::Pending);
    let generation = test.metadata.generation.unwrap_or_default();
    if new.observed_generation.is_none() {
        new.observed_generation = Some(generation);
    }
    let changed = set_condition(
        &mut new.conditions,
        conditions::condition(READY, FALSE, why, &message, generation),
        now,
    );
    status::progress::set_progress(&mut new, now);
    let same_message = conditions::find(&previous.conditions, READY)
        .is_some_and(|c| c.reason == why && c.message == message);
    write_status(ctx, test, previous, &new).await?;
    ctx.metrics.set_phase(&ns, &name, new.phase);
    if changed || !same_message {
        warn!(reason = why, %message, "the test cannot start");
        ctx.event(test, true, why, message).await;
    }
    Ok(retry.map_or_else(Action::await_change, Action::requeue))
}

/// Records the spec the test starts with (before any child exists, so a crash in between
/// still finds it); returns the test as written.
async fn record_spec(
    ctx: &Context,
    test: &LocustTest,
    ns: &str,
    name: &str,
) -> Result<LocustTest, Error> {
    let spec = serde_json::to_string(&test.spec).map_err(|source| Error::Serialize {
        what: "the applied spec",
        source,
    })?;
    let api: Api<LocustTest> = Api::namespaced(ctx.client.clone(), ns);
    let patch = json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "metadata": { "name": name, "annotations": { APPLIED_SPEC_ANNOTATION: spec } },
    });
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::kube("recording the applied spec"))
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

/// Keeps the final statistics and HTML report in the test's report ConfigMap (server-side
/// apply); returns its name, or `None` (with a Warning event) when it could not be written.
async fn keep_report(
    ctx: &Context,
    started: &LocustTest,
    ns: &str,
    report: &crate::locust::FinalReport,
) -> Option<String> {
    let outcome = match builders::report::config_map(started, &ctx.config, report) {
        Ok(cm) => {
            let name = cm.metadata.name.clone().unwrap_or_default();
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&cm),
            )
            .await
            .map(|_| (name, cm))
            .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match outcome {
        Ok((name, cm)) => {
            let kept: Vec<&str> = cm
                .data
                .iter()
                .flat_map(|d| d.keys())
                .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
                .map(String::as_str)
                .filter(|k| *k != builders::report::NOTE_KEY)
                .collect();
            info!(config_map = %name, keys = ?kept, "kept the final statistics and report");
            ctx.event(
                started,
                false,
                reason::REPORT_KEPT,
                format!("Kept {} in ConfigMap {name}", kept.join(" and ")),
            )
            .await;
            Some(name)
        }
        Err(e) => {
            warn!(error = %e, "could not keep the final statistics and report");
            ctx.event(
                started,
                true,
                reason::REPORT_NOT_KEPT,
                crate::text::truncate(
                    format!("Could not keep the final statistics and report: {e}"),
                    1024,
                ),
            )
            .await;
            None
        }
    }
}

/// What the status is derived from: the children, and what the test's Locust poller last
/// learned (a default snapshot when no poller runs).
fn to_observed(
    existing: Existing,
    generation: i64,
    started: &LocustTest,
    ctx: &Context,
    snapshot: super::locust_poll::Snapshot,
) -> Observed {
    Observed {
        generation,
        service_exists: existing.service.is_some(),
        master_job: existing.master_job,
        worker_job: existing.worker_job,
        master_pods: existing.master_pods,
        worker_pods: existing.worker_pods,
        processes_per_pod: started.spec.worker.processes_per_pod.unwrap_or(1),
        pod_warnings: Vec::new(),
        master: snapshot.master,
        final_result: snapshot.result,
        stopped_result: snapshot.stopped,
        master_error: snapshot.error,
        master_last_seen: snapshot.last_seen,
        run_started: snapshot.run_started,
        thresholds: started.spec.thresholds.clone(),
        expect_workers_max_wait: builders::expect_workers_max_wait(
            &started.spec,
            ctx.config.expect_workers_max_wait,
        ),
    }
}

/// Writes the status through the status subresource by server-side apply, only when it
/// changed.
async fn write_status(
    ctx: &Context,
    test: &LocustTest,
    previous: &LocustTestStatus,
    new: &LocustTestStatus,
) -> Result<(), Error> {
    if previous == new || !ctx.is_leader() {
        return Ok(());
    }
    let (name, ns) = (test.name_any(), test.namespace().unwrap_or_default());
    let api: Api<LocustTest> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({
        "apiVersion": "locust.io/v2",
        "kind": "LocustTest",
        "status": new,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::kube("writing the status"))?;
    ctx.remember_status(test, new);
    Ok(())
}

fn next_action(status: &LocustTestStatus, grace: Duration) -> Action {
    match status.phase {
        Some(p) if p.is_terminal() => Action::await_change(),
        // An unhealthy pod fails the test when the grace period ends: look again then.
        _ if conditions::has_status(&status.conditions, conditions::PODS_HEALTHY, FALSE) => {
            Action::requeue(grace.min(RUNNING_RESYNC) + Duration::from_secs(1))
        }
        _ => Action::requeue(RUNNING_RESYNC),
    }
}
