//! The controller: LocustTests become a master Service, a master Job and a worker Job,
//! with a truthful status.
//!
//! [`run`] watches LocustTests and, filtered by the operator's labels, their Jobs,
//! Services and pods (never a cluster-wide cache of every pod), in every namespace or in a
//! configured list. Reconciles run only while this replica leads (see [`crate::leader`]).

mod applied_spec;
mod children;
mod context;
mod error;
mod reconcile;
mod references;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

pub use applied_spec::APPLIED_SPEC_ANNOTATION;
pub use context::{Context, FIELD_MANAGER};
pub use error::Error;
pub use reconcile::reason;

use crate::api::v2::LocustTest;
use crate::builders::labels::{K8S_MANAGED_BY, MANAGER, TEST_NAME_ANNOTATION};

/// How long a failed reconcile waits before the next try.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

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

async fn controller_for(
    ctx: Arc<Context>,
    ns: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = &ctx.client;
    let ours = watcher::Config::default().labels(&format!("{K8S_MANAGED_BY}={MANAGER}"));
    let config = controller::Config::default().concurrency(ctx.settings.reconcile_concurrency);
    info!(
        namespace = ns.unwrap_or("(all)"),
        "starting the LocustTest controller"
    );
    Controller::new(api::<LocustTest>(client, ns), watcher::Config::default())
        .with_config(config)
        .owns(api::<Job>(client, ns), ours.clone())
        .owns(api::<Service>(client, ns), ours.clone())
        .watches(api::<Pod>(client, ns), ours, |pod: Pod| {
            let test = pod.annotations().get(TEST_NAME_ANNOTATION).cloned();
            let ns = pod.namespace();
            test.zip(ns)
                .map(|(name, ns)| ObjectRef::<LocustTest>::new(&name).within(&ns))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile_in_span, error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                match e {
                    controller::Error::ObjectNotFound(_) => {}
                    other => warn!(error = %other, "controller error"),
                }
            }
        })
        .await;
}

/// Every log line of a reconcile carries the test's namespace and name.
async fn reconcile_in_span(test: Arc<LocustTest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!(
        "reconcile",
        namespace = test.namespace().unwrap_or_default(),
        name = test.name_any()
    );
    reconcile::reconcile(test, ctx).instrument(span).await
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
