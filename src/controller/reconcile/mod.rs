//! One reconcile: a short pipeline with the I/O at its edges.
//!
//! 1. [`start`](mod@start): the spec the test runs with: the one recorded at its start,
//!    else the live one, validated (an invalid test is [`Blocked`]).
//! 2. [`children`](mod@children): observe the children (from the caches), adopt those the
//!    Go operator created and drop its finalizer; for an unfinished test with missing
//!    children, dereference its ConfigMaps and the web UI's Secret (a missing one is
//!    [`Blocked`]), build the desired objects (pure) and create what is missing (a
//!    refusal, or an HTTPRoute without the Gateway API, is [`Blocked`]).
//! 3. [`finish`](mod@finish): derive the status (pure), keep the report, stop the pods of
//!    a failed test, write the status through the status subresource, publish events.
//!
//! Every write asks [`Context::writer`] first, so a replica that stops leading in the
//! middle of a reconcile stops there ([`Error::NotLeader`]).

mod children;
mod finish;
mod start;
#[cfg(test)]
mod tests;
mod ttl;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use tracing::{info, warn};

use super::adopt;
use super::context::Context;
use super::error::Error;
use crate::api::status::{LocustTestStatus, Phase};
use crate::api::v2::LocustTest;
use crate::status::conditions::{self, FALSE, READY};
use crate::status::set_condition;

/// How long to wait before looking again at a test that waits for something outside the
/// operator's watches (a ConfigMap, a rejected create).
const RETRY_LATER: Duration = Duration::from_secs(30);

/// Reconciles one LocustTest.
pub async fn reconcile(test: Arc<LocustTest>, ctx: Arc<Context>) -> Result<Action, Error> {
    if test.metadata.deletion_timestamp.is_some() {
        return deleted(&test, &ctx).await;
    }
    let run = Run::new(&test, &ctx)?;
    let outcome = match pipeline(&run).await {
        Err(Stop::Blocked(blocked)) => run.block(blocked).await,
        Err(Stop::Failed(e)) => Err(e),
        Ok(action) => Ok(action),
    };
    match outcome {
        // Not leading: never write (nor poll Locust for a status that cannot be written).
        Err(Error::NotLeader) => {
            ctx.pollers.stop(&run.ns, &run.name);
            Ok(Action::await_change())
        }
        other => other,
    }
}

/// The stages, in order.
async fn pipeline(run: &Run<'_>) -> Result<Action, Stop> {
    run.ctx.writer()?;
    let mut started = run.started()?;
    let mut existing = run.observe(&started).await?;
    run.adopt(&mut started, &mut existing).await?;
    let missing = existing.missing(&run.name, &started.test.spec);
    if !run.phase.is_terminal() && !missing.is_empty() {
        run.dereference(&started).await?;
        let desired = run.build(&started)?;
        run.create_missing(&mut started, desired, &mut existing)
            .await?;
    }
    Ok(run.finish(&started, existing).await?)
}

/// A deleted test: forget it; drop the Go operator's finalizer, which would keep it.
async fn deleted(test: &LocustTest, ctx: &Context) -> Result<Action, Error> {
    let (ns, name) = (test.namespace().unwrap_or_default(), test.name_any());
    ctx.forget_status(&ns, &name);
    ctx.pollers.stop(&ns, &name);
    ctx.metrics.forget(&ns, &name);
    if let Ok(client) = ctx.writer()
        && adopt::remove_go_finalizer(client, test).await?
    {
        info!("removed the Go operator's finalizer from a deleted test");
    }
    Ok(Action::await_change())
}

/// Why the pipeline stopped early.
#[derive(Debug)]
enum Stop {
    /// The test cannot go on until something changes; written as a `Ready` condition.
    Blocked(Blocked),
    /// A request failed (retried by the error policy), or this replica stopped leading.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<Blocked> for Stop {
    fn from(b: Blocked) -> Self {
        Stop::Blocked(b)
    }
}

/// A test that cannot start (invalid spec, missing ConfigMap, refused create): the
/// `Ready=False` reason and message, and when to look again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Blocked {
    /// The `Ready` reason (see [`crate::status::reason`]).
    pub reason: &'static str,
    /// What is wrong and what to do.
    pub message: String,
    /// `None`: wait for a change of the test; else look again after this long.
    pub retry: Option<Duration>,
}

/// One reconcile of one test: what every stage reads.
struct Run<'a> {
    test: &'a LocustTest,
    ctx: &'a Context,
    name: String,
    ns: String,
    uid: String,
    /// The status before this reconcile.
    previous: LocustTestStatus,
    /// The previous phase (Pending when none).
    phase: Phase,
    now: Time,
}

impl<'a> Run<'a> {
    fn new(test: &'a LocustTest, ctx: &'a Context) -> Result<Self, Error> {
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
        let previous = ctx.previous_status(test);
        Ok(Run {
            test,
            ctx,
            name,
            ns,
            uid: test.metadata.uid.clone().unwrap_or_default(),
            phase: previous.phase.unwrap_or(Phase::Pending),
            previous,
            now: Time(Timestamp::now()),
        })
    }

    /// Writes the blocking condition and waits: for a change of the object, or for
    /// `blocked.retry`.
    async fn block(&self, blocked: Blocked) -> Result<Action, Error> {
        let message = crate::text::truncate(blocked.message, 2048);
        let why = blocked.reason;
        let new = blocked_status(&self.previous, self.generation(), why, &message, &self.now);
        let unchanged = conditions::find(&self.previous.conditions, READY)
            .is_some_and(|c| c.reason == why && c.message == message);
        self.write_status(&new).await?;
        if !unchanged {
            warn!(reason = why, %message, "the test cannot start");
            self.ctx.event(self.test, true, why, message).await;
        }
        Ok(blocked
            .retry
            .map_or_else(Action::await_change, Action::requeue))
    }

    fn generation(&self) -> i64 {
        self.test.metadata.generation.unwrap_or_default()
    }
}

/// The status of a blocked test: the previous one (Pending if none) with `Ready=False`.
fn blocked_status(
    previous: &LocustTestStatus,
    generation: i64,
    why: &'static str,
    message: &str,
    now: &Time,
) -> LocustTestStatus {
    let mut new = previous.clone();
    new.phase.get_or_insert(Phase::Pending);
    new.observed_generation.get_or_insert(generation);
    set_condition(
        &mut new.conditions,
        conditions::condition(READY, FALSE, why, message, generation),
        now,
    );
    crate::status::progress::set_progress(&mut new, now);
    new
}
