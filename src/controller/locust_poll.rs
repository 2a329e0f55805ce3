//! Per-test pollers of the Locust master's API.
//!
//! While a test runs, one background task per test (keyed by namespace, name and uid)
//! asks the master for `/stats/requests` every poll interval, with the client's short
//! time-out. It keeps the latest answer (or the last error) and feeds a [`Settler`], so a
//! reconcile only reads a snapshot and never waits for Locust. When what the status
//! shows would change (workers, reachability, noticeably different live numbers, the
//! settled result), the poller asks for a reconcile of its test through a trigger channel.
//! Once the totals settle it also fetches the final answer and the HTML report once, for
//! the reconcile to keep in a ConfigMap. Each answer also sets the test's Locust series on
//! `/metrics` (removed when the master stops answering or the poller stops); the poller
//! keeps their counters (see [`TestCounters`]), so they do not restart when the master
//! answers again. Reconciles
//! stop a test's poller when it is terminal or deleted; all of them stop with the context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::api::status::TestResult;
use crate::api::v2::LocustTest;
use crate::locust::{FinalReport, LocustClient, RunnerState, Settler, gzip, live, result};
use crate::metrics::{TestCounters, TestMetrics};
use crate::status::{MasterView, live_changed};

/// What a poller last learned about its test's master.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The master's view from the latest answer; `None` when the latest poll failed (or
    /// none finished yet).
    pub master: Option<MasterView>,
    /// The latest error, when the latest poll failed.
    pub error: Option<String>,
    /// The final result, once the totals settled after the run stopped (kept).
    pub result: Option<TestResult>,
    /// The totals of the latest answer in state `stopped`, settled or not (kept).
    pub stopped: Option<TestResult>,
    /// The final answer and HTML report, fetched once after the totals settled (kept).
    pub report: Option<Arc<FinalReport>>,
    /// The last answer's view, kept when the master stops answering.
    pub last_seen: Option<MasterView>,
    /// Whether the master was ever seen running the test (any state but `ready`, or
    /// requests counted); meaningful once `last_seen` is set.
    pub run_started: bool,
}

struct Poller {
    uid: String,
    state: Arc<Mutex<Snapshot>>,
    task: JoinHandle<()>,
}

/// The pollers of the running tests, owned by the controller context.
pub struct Pollers {
    pollers: Mutex<HashMap<String, Poller>>,
    trigger: broadcast::Sender<ObjectRef<LocustTest>>,
    metrics: Option<Exported>,
}

/// Where the pollers export each test's series, and how many endpoints per test.
#[derive(Debug, Clone)]
struct Exported {
    series: TestMetrics,
    max_endpoints: Option<usize>,
}

impl Default for Pollers {
    fn default() -> Self {
        Self::new()
    }
}

impl Pollers {
    /// No pollers.
    pub fn new() -> Self {
        Pollers {
            pollers: Mutex::default(),
            trigger: broadcast::channel(256).0,
            metrics: None,
        }
    }

    /// Pollers that also export each test's numbers as these series, with per-endpoint
    /// series for at most `max_endpoints` endpoints per test (`None`: none).
    pub fn with_metrics(mut self, series: TestMetrics, max_endpoints: Option<usize>) -> Self {
        self.metrics = Some(Exported {
            series,
            max_endpoints,
        });
        self
    }

    /// Requests for a reconcile, sent by the pollers.
    pub fn subscribe(&self) -> broadcast::Receiver<ObjectRef<LocustTest>> {
        self.trigger.subscribe()
    }

    /// Starts polling `client` for the test `ns/name` (object `uid`) every `interval`,
    /// unless a poller of this very object runs already. A poller of an older object of
    /// the same name is replaced.
    pub fn ensure(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        client: LocustClient,
        interval: Duration,
    ) {
        let Ok(mut pollers) = self.pollers.lock() else {
            return;
        };
        let key = format!("{ns}/{name}");
        if let Some(p) = pollers.get(&key) {
            if p.uid == uid && !p.task.is_finished() {
                return;
            }
            p.task.abort();
        }
        info!(url = %client.base(), "polling the Locust master");
        let state = Arc::new(Mutex::new(Snapshot::default()));
        let object = ObjectRef::<LocustTest>::new(name).within(ns);
        let task = tokio::spawn(poll(
            client,
            interval,
            state.clone(),
            object,
            self.trigger.clone(),
            self.metrics.clone(),
        ));
        pollers.insert(
            key,
            Poller {
                uid: uid.to_string(),
                state,
                task,
            },
        );
    }

    /// Whether a poller of object `uid` named `ns/name` runs.
    pub fn is_polling(&self, ns: &str, name: &str, uid: &str) -> bool {
        self.pollers.lock().is_ok_and(|pollers| {
            pollers
                .get(&format!("{ns}/{name}"))
                .is_some_and(|p| p.uid == uid && !p.task.is_finished())
        })
    }

    /// The latest snapshot of the poller of object `uid` named `ns/name`, if one runs.
    pub fn snapshot(&self, ns: &str, name: &str, uid: &str) -> Option<Snapshot> {
        let pollers = self.pollers.lock().ok()?;
        let p = pollers.get(&format!("{ns}/{name}"))?;
        (p.uid == uid).then(|| p.state.lock().ok().map(|s| s.clone()))?
    }

    /// Stops the poller of `ns/name`, if any.
    pub fn stop(&self, ns: &str, name: &str) {
        if let Ok(mut pollers) = self.pollers.lock()
            && let Some(p) = pollers.remove(&format!("{ns}/{name}"))
        {
            debug!(namespace = ns, name, "stopped polling the Locust master");
            p.task.abort();
        }
        if let Some(m) = &self.metrics {
            m.series.remove(ns, name);
        }
    }

    /// Stops every poller.
    pub fn stop_all(&self) {
        if let Ok(mut pollers) = self.pollers.lock() {
            for (_, p) in pollers.drain() {
                p.task.abort();
            }
        }
        if let Some(m) = &self.metrics {
            m.series.reset();
        }
    }

    /// How many pollers run.
    pub fn len(&self) -> usize {
        self.pollers.lock().map_or(0, |p| p.len())
    }

    /// Whether no poller runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Pollers {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Whether the status would show something else with `new` than with `old`.
fn worth_a_reconcile(old: &Snapshot, new: &Snapshot) -> bool {
    if (old.result.is_none() && new.result.is_some())
        || (old.report.is_none() && new.report.is_some())
    {
        return true;
    }
    match (&old.master, &new.master) {
        (None, None) => false,
        (Some(a), Some(b)) => {
            a.connected_workers != b.connected_workers
                || live_changed(Some(&a.live_status()), &b.live_status())
        }
        _ => true,
    }
}

async fn poll(
    client: LocustClient,
    interval: Duration,
    state: Arc<Mutex<Snapshot>>,
    object: ObjectRef<LocustTest>,
    trigger: broadcast::Sender<ObjectRef<LocustTest>>,
    metrics: Option<Exported>,
) {
    let ns = object.namespace.clone().unwrap_or_default();
    let mut settler = Settler::new();
    let mut counters = TestCounters::new(metrics.as_ref().and_then(|m| m.max_endpoints));
    // What the last reconcile request was made for.
    let mut notified = Snapshot::default();
    loop {
        let at = Instant::now();
        // Boxed: a poller sleeps most of the time, and its task should not carry the
        // request's state (kilobytes, once per running test) while it does.
        let answer = Box::pin(client.stats_with_body()).await;
        let mut settled_answer = None;
        let mut snapshot = {
            let Ok(mut s) = state.lock() else { return };
            match answer {
                Ok((stats, body)) => {
                    let now_live = live(&stats);
                    if let Some(m) = &metrics {
                        m.series.set(&ns, &object.name, counters.observe(&stats));
                    }
                    s.master = Some(MasterView::from_live(&now_live));
                    s.last_seen = s.master;
                    s.run_started |=
                        stats.state != RunnerState::Ready || stats.totals().requests > 0;
                    s.error = None;
                    if stats.state == RunnerState::Stopped {
                        s.stopped = result(&stats);
                    }
                    if s.result.is_none()
                        && let Some(result) = settler.observe(&stats, at)
                    {
                        info!(
                            namespace = %ns,
                            name = %object.name,
                            total_requests = result.total_requests,
                            "the final Locust totals settled"
                        );
                        s.result = Some(result);
                        settled_answer = Some(body);
                    }
                }
                Err(e) => {
                    if s.master.is_some() || s.error.is_none() {
                        debug!(name = %object.name, error = %e, "the Locust master did not answer");
                    }
                    if let Some(m) = &metrics {
                        m.series.remove(&ns, &object.name);
                    }
                    s.master = None;
                    s.error = Some(e.to_string());
                }
            }
            s.clone()
        };
        if let Some(body) = settled_answer {
            let report = Arc::new(Box::pin(fetch_report(&client, body.to_vec(), &object)).await);
            let Ok(mut s) = state.lock() else { return };
            s.report = Some(report);
            snapshot = s.clone();
        }
        if worth_a_reconcile(&notified, &snapshot) {
            // No receiver (the controller is stopping) is not an error.
            let _ = trigger.send(object.clone());
            notified = snapshot;
        }
        tokio::time::sleep(interval.saturating_sub(at.elapsed())).await;
    }
}

/// The final answer and the HTML report (compressed off the async threads); a report that
/// cannot be fetched is recorded as such, the statistics are kept anyway.
async fn fetch_report(
    client: &LocustClient,
    stats_json: Vec<u8>,
    object: &ObjectRef<LocustTest>,
) -> FinalReport {
    let html = match client.report().await {
        Ok(html) => tokio::task::spawn_blocking(move || gzip(&html))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    match html {
        Ok(gz) => {
            debug!(name = %object.name, bytes = gz.len(), "fetched the HTML report");
            FinalReport {
                stats_json,
                html_gz: Some(gz),
                html_error: None,
            }
        }
        Err(e) => {
            warn!(name = %object.name, error = %e, "could not fetch the HTML report");
            FinalReport {
                stats_json,
                html_gz: None,
                html_error: Some(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(workers: i32, rps: f64) -> Option<MasterView> {
        Some(MasterView {
            connected_workers: workers,
            users: 10,
            requests_per_second: rps,
            failure_ratio: 0.0,
        })
    }

    #[test]
    fn only_visible_changes_ask_for_a_reconcile() {
        let none = Snapshot::default();
        let two = Snapshot {
            master: view(2, 20.0),
            ..Snapshot::default()
        };
        assert!(!worth_a_reconcile(&none, &none));
        assert!(worth_a_reconcile(&none, &two), "the master answers");
        assert!(worth_a_reconcile(&two, &none), "the master is gone");
        let noise = Snapshot {
            master: view(2, 21.0),
            ..Snapshot::default()
        };
        assert!(!worth_a_reconcile(&two, &noise));
        let one = Snapshot {
            master: view(1, 20.0),
            ..Snapshot::default()
        };
        assert!(worth_a_reconcile(&two, &one), "a worker left");
        let settled = Snapshot {
            result: Some(TestResult::default()),
            ..two.clone()
        };
        assert!(worth_a_reconcile(&two, &settled));
        assert!(!worth_a_reconcile(&settled, &settled));
    }

    #[tokio::test]
    async fn pollers_are_one_per_object_and_stop() {
        let url = crate::locust::master_url("http://127.0.0.1:1", "s", "n", None).expect("url");
        let client = LocustClient::new(url).with_timeout(Duration::from_millis(200));
        let pollers = Pollers::new();
        let mut rx = pollers.subscribe();
        pollers.ensure("n", "t", "uid-1", client.clone(), Duration::from_secs(1));
        pollers.ensure("n", "t", "uid-1", client.clone(), Duration::from_secs(1));
        assert_eq!(pollers.len(), 1);
        assert!(pollers.is_polling("n", "t", "uid-1"));
        assert!(!pollers.is_polling("n", "t", "uid-2"));
        // An unreachable master shows as an error; nothing visible changed, no trigger.
        let mut snapshot = None;
        for _ in 0..50 {
            snapshot = pollers
                .snapshot("n", "t", "uid-1")
                .filter(|s| s.error.is_some());
            if snapshot.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let snapshot = snapshot.expect("a failed poll is recorded");
        assert_eq!(snapshot.master, None);
        assert!(rx.try_recv().is_err());
        assert_eq!(pollers.snapshot("n", "t", "other-uid"), None);
        pollers.ensure("n", "t", "uid-2", client, Duration::from_secs(1));
        assert_eq!(
            pollers.len(),
            1,
            "a new object of the same name replaces it"
        );
        pollers.stop("n", "t");
        assert!(pollers.is_empty());
    }
}
