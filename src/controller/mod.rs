//! The controller: LocustTests become a master Service, a master Job and a worker Job,
//! with a truthful status.
//!
//! [`run`] watches LocustTests and, filtered by the operator's labels, their Jobs,
//! Services and pods (never a cluster-wide cache of every pod), in every namespace or in a
//! configured list. Jobs and Services are selected by `app.kubernetes.io/managed-by`, pods
//! by the legacy `managed-by` label, which the Go operator's pods carry too (its Jobs and
//! Service lack the former: they are relabelled when adopted, see `adopt.rs`). Those
//! watches also keep the caches reconciles read children from. Reconciles run only while
//! this replica leads and no Go operator runs (see [`crate::leader`] and
//! [`crate::go_operator::check`]).

mod adopt;
mod applied_spec;
mod caches;
mod children;
mod context;
mod error;
mod locust_poll;
mod pod_owner;
mod reconcile;
mod references;
mod refused;
mod relist;
mod web_auth;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::utils::{Backoff, ResetTimerBackoff};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

pub use applied_spec::APPLIED_SPEC_ANNOTATION;
pub use context::{Context, FIELD_MANAGER};
pub use error::Error;

use crate::api::v2::LocustTest;
use crate::builders::labels::{K8S_MANAGED_BY, MANAGED_BY, MANAGER};

/// How long a failed reconcile waits before the next try.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Each watch's back-off after an error: 0.1 s doubling up to 5 s, reset after 30 s
/// without errors. kube's default (up to 30 s, reset after 2 min, shared by every watch
/// of the controller) made the operator take 1.5 minutes to catch up after a 5-second
/// API server restart, as each watch's "resource version too old" answer waited out a
/// back-off grown during the outage (measured by `make chaos`, scenario `apiserver`).
fn watch_backoff() -> ResetTimerBackoff<Doubling> {
    ResetTimerBackoff::new(Doubling::default(), Duration::from_secs(30))
}

/// The controller's shared back-off over all its watches: none, as each watch backs off
/// by itself. A shared one made every watch wait for any watch's error, so after an API
/// server restart the watches' "resource version too old" answers queued up 5 s each.
struct NoDelay;

impl Iterator for NoDelay {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl Backoff for NoDelay {
    fn reset(&mut self) {}
}

/// 0.1 s, 0.2 s, 0.4 s, … 3.2 s, then 5 s for ever (until reset). The first retry is
/// quick because the first error is often brief: a CRD installed a moment before the
/// operator is answered 404 until the API server routes its group (half a second of the
/// start-up when the first retry waited 0.5 s).
#[derive(Default)]
struct Doubling {
    next: Option<Duration>,
}

impl Iterator for Doubling {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next.unwrap_or(FIRST_RETRY);
        self.next = Some((now * 2).min(Duration::from_secs(5)));
        Some(now)
    }
}

impl Backoff for Doubling {
    fn reset(&mut self) {
        self.next = None;
    }
}

/// A watch's first retry after an error (see [`Doubling`]).
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));
    let namespaces = ctx.settings.watch_namespaces.clone();
    let controllers: Vec<_> = if namespaces.is_empty() {
        vec![controller_for(ctx.clone(), None, shutdown.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| controller_for(ctx.clone(), Some(ns.as_str()), shutdown.clone()))
            .collect()
    };
    futures::future::join_all(controllers).await;
    ctx.pollers.stop_all();
    ctx.readiness.set_controller_not_synced();
    ctx.metrics.forget_all();
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A watch of `api` with its own back-off, its objects trimmed by `trim` before they are
/// cached by `writer` (see [`relist::reflect`], which also tells `first_sync`); yields the
/// objects to reconcile for.
fn watch<K>(
    writer: reflector::store::Writer<K>,
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
    first_sync: Option<tokio::sync::oneshot::Sender<()>>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    relist::reflect(
        writer,
        watcher(api, config).backoff(watch_backoff()).modify(trim),
        first_sync,
    )
}

async fn controller_for(
    ctx: Arc<Context>,
    ns: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = &ctx.client;
    let ours = watcher::Config::default().labels(&format!("{K8S_MANAGED_BY}={MANAGER}"));
    // Pods: the legacy label, on the operator's pods and on the Go operator's.
    let our_pods = watcher::Config::default().labels(&format!("{MANAGED_BY}={MANAGER}"));
    let config = controller::Config::default().concurrency(ctx.settings.reconcile_concurrency);
    info!(
        namespace = ns.unwrap_or("(all)"),
        "starting the LocustTest controller"
    );
    // Every watch has its own back-off (see `watch_backoff`) and keeps its cache through
    // `relist::reflect`, so a re-list after an API server restart neither drops a test
    // created meanwhile nor misses a child deleted meanwhile.
    let (tests, tests_writer) = reflector::store::<LocustTest>();
    let (tests_synced, tests_sync) = tokio::sync::oneshot::channel();
    let tests_stream = watch(
        tests_writer,
        api(client, ns),
        watcher::Config::default(),
        caches::trim_test,
        Some(tests_synced),
    );
    let controller = Controller::for_stream(tests_stream, tests);
    // The children's caches (see `caches`): the watches that trigger reconciles keep them.
    let (jobs, jobs_writer) = reflector::store::<Job>();
    let (services, services_writer) = reflector::store::<Service>();
    let (pods, pods_writer) = reflector::store::<Pod>();
    let stores = caches::Stores::new(jobs, services, pods);
    ctx.caches.register(ns, stores.clone());
    let jobs = watch(
        jobs_writer,
        api(client, ns),
        ours.clone(),
        caches::trim_job,
        None,
    );
    let services = watch(
        services_writer,
        api(client, ns),
        ours.clone(),
        caches::trim_service,
        None,
    );
    let pods = watch(
        pods_writer,
        api(client, ns),
        our_pods,
        caches::trim_pod,
        None,
    );
    // Ready once the LocustTest cache has its first full list (every namespace's, when
    // several controllers run), and the children's caches theirs. The LocustTest store's
    // own readiness future wakes only its latest poller, which is the controller's runner,
    // so its watch says when it synced instead.
    let synced = ctx.clone();
    tokio::spawn(async move {
        stores.wait_until_ready().await;
        if tests_sync.await.is_ok() {
            synced.mark_synced();
        }
    });
    let forget = ctx.clone();
    // Reconciles asked for by the Locust pollers (of this controller's namespace).
    let only_ns = ns.map(str::to_owned);
    let polled = futures::stream::unfold(ctx.pollers.subscribe(), move |mut rx| {
        let only_ns = only_ns.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(obj)
                        if only_ns
                            .as_deref()
                            .is_none_or(|n| obj.namespace.as_deref() == Some(n)) =>
                    {
                        return Some((obj, rx));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    controller
        .with_config(config)
        .trigger_backoff(NoDelay)
        .reconcile_on(polled)
        .owns_stream(jobs)
        .owns_stream(services)
        .watches_stream(pods, |pod: Pod| {
            let test = pod_owner::pod_test_name(&pod).map(str::to_owned);
            let ns = pod.namespace();
            test.zip(ns)
                .map(|(name, ns)| ObjectRef::<LocustTest>::new(&name).within(&ns))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile_in_span, error_policy, ctx.clone())
        .for_each(|result| {
            let ctx = forget.clone();
            async move {
                match result {
                    // The test is gone: drop what was kept about it.
                    Err(controller::Error::ObjectNotFound(obj)) => {
                        let ns = obj.namespace.as_deref().unwrap_or_default();
                        ctx.metrics.forget(ns, &obj.name);
                        ctx.forget_status(ns, &obj.name);
                        ctx.pollers.stop(ns, &obj.name);
                    }
                    Err(other) => warn!(error = %other, "controller error"),
                    Ok(_) => {}
                }
            }
        })
        .await;
}

/// Every log line of a reconcile carries the test's namespace and name.
/// Reconciles are timed and counted in the metrics.
async fn reconcile_in_span(test: Arc<LocustTest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile",
        namespace = test.namespace().unwrap_or_default(),
        name = test.name_any()
    );
    let start = Instant::now();
    let result = reconcile::reconcile(test, ctx.clone())
        .instrument(span)
        .await;
    match &result {
        Ok(_) => ctx.metrics.reconcile_succeeded(start.elapsed()),
        Err(e) => ctx.metrics.reconcile_failed(e.label(), start.elapsed()),
    }
    result
}

fn error_policy(test: Arc<LocustTest>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(
        namespace = test.namespace().unwrap_or_default(),
        name = test.name_any(),
        reason = error.label(),
        error = %error,
        "reconcile failed; retrying"
    );
    Action::requeue(ERROR_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Option<Duration>) -> u128 {
        d.map_or(0, |d| d.as_millis())
    }

    #[test]
    fn a_watch_retries_quickly_first_then_doubles_up_to_five_seconds() {
        let mut b = Doubling::default();
        let steps: Vec<u128> = (0..9).map(|_| ms(b.next())).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(ms(b.next()), 100, "a reset starts over");
    }

    #[test]
    fn the_controller_wide_backoff_never_waits() {
        let mut b = NoDelay;
        assert!((0..3).all(|_| b.next() == Some(Duration::ZERO)));
    }
}
