//! Watches that time, per LocustTest of one namespace, when each child (master Service,
//! master Job, worker Job) first appears and when the test is first Running. A watch
//! sees an object a few milliseconds after the API server stored it, so the times are
//! upper bounds of the operator's latency, never flattering.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::naming;

#[derive(Default)]
struct State {
    services: HashMap<String, Instant>,
    jobs: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
}

/// The watches of one namespace; they stop when the tracker is dropped.
pub struct Tracker {
    state: Arc<Mutex<State>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Tracker {
    /// Starts watching Services, Jobs and LocustTests in `ns`.
    pub async fn start(client: &Client, ns: &str) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let mut tasks = Vec::new();
        let s = state.clone();
        let services: Api<Service> = Api::namespaced(client.clone(), ns);
        tasks.push(tokio::spawn(async move {
            let mut stream = watcher(services, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(Ok(svc)) = stream.next().await {
                lock(&s)
                    .services
                    .entry(svc.name_any())
                    .or_insert_with(Instant::now);
            }
        }));
        let s = state.clone();
        let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
        tasks.push(tokio::spawn(async move {
            let mut stream = watcher(jobs, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(Ok(job)) = stream.next().await {
                lock(&s)
                    .jobs
                    .entry(job.name_any())
                    .or_insert_with(Instant::now);
            }
        }));
        let s = state.clone();
        let tests: Api<LocustTest> = Api::namespaced(client.clone(), ns);
        tasks.push(tokio::spawn(async move {
            let mut stream = watcher(tests, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(Ok(test)) = stream.next().await {
                if test.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running) {
                    lock(&s)
                        .running
                        .entry(test.name_any())
                        .or_insert_with(Instant::now);
                }
            }
        }));
        Self { state, tasks }
    }

    /// When the last of `test`'s three children appeared, once all three have.
    pub fn children_at(&self, test: &str) -> Option<Instant> {
        let s = lock(&self.state);
        let master = naming::master_name(test);
        let worker = naming::worker_name(test);
        let times = [
            s.services.get(&master)?,
            s.jobs.get(&master)?,
            s.jobs.get(&worker)?,
        ];
        times.into_iter().max().copied()
    }

    /// When the first child of any test appeared.
    pub fn first_child(&self) -> Option<Instant> {
        let s = lock(&self.state);
        s.services.values().chain(s.jobs.values()).min().copied()
    }

    /// When `test` was first seen Running.
    pub fn running_at(&self, test: &str) -> Option<Instant> {
        lock(&self.state).running.get(test).copied()
    }

    /// How many Services and Jobs were seen.
    pub fn child_count(&self) -> usize {
        let s = lock(&self.state);
        s.services.len() + s.jobs.len()
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.tasks.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Creates `count` tests (`<prefix>-NNN`, see [`crate::fixtures::locust_test`]) one at
/// a time, each once the previous one has its children; returns each one's latency from
/// the create's acknowledgement to its third child, in milliseconds.
pub async fn sequential_latencies(
    client: &Client,
    ns: &str,
    tracker: &Tracker,
    prefix: &str,
    count: usize,
    run_seconds: u32,
) -> crate::Result<Vec<f64>> {
    let mut latencies = Vec::new();
    for i in 0..count {
        let name = format!("{prefix}-{i:03}");
        let test = crate::fixtures::locust_test(&name, 1, run_seconds);
        let acked = crate::fixtures::create_all(client, ns, vec![test], 1).await?;
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        let done = loop {
            if let Some(t) = tracker.children_at(&name) {
                break t;
            }
            if Instant::now() > deadline {
                return Err(format!("{name} has no children after 30 s"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        };
        latencies.push(done.saturating_duration_since(acked[&name]).as_secs_f64() * 1000.0);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(latencies)
}
