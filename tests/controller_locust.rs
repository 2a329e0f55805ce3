//! The operator reads a REAL Locust master: `status.connectedWorkers` comes from the
//! master's `worker_count` (a killed worker drops it), and `status.result` is Locust's own
//! final total. The LocustTest lives on the kwok cluster (its simulated pods keep
//! "Running"); `MASTER_URL_TEMPLATE` points the operator at a local master started by the
//! test (a fixed URL), with two local workers and a tiny local HTTP target, as in
//! `tests/locust_real.rs`. With an unreachable master the status falls back to Ready
//! worker pods and says so in the `WorkersConnected` reason.

mod common;

use common::local_locust::{LOCUSTFILE, free_port, kill_group, locust_bin, start_target};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Operator, OperatorOptions, annotations, condition, create, locust_test, master_annotations,
    wait_phase, wait_status, worker_annotations,
};
use kube::Client;
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;

const STATUS: Duration = Duration::from_secs(60);

/// Local Locust processes, each in its own process group, killed when dropped (their
/// logs printed when the test panics).
struct Locust {
    dir: tempfile::TempDir,
    procs: Vec<(String, Child)>,
    env: Vec<(String, String)>,
}

impl Locust {
    fn new(target: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("locustfile.py"), LOCUSTFILE).expect("locustfile");
        Locust {
            dir,
            procs: Vec::new(),
            env: vec![
                ("CUSTOM_VAR".into(), "static-value".into()),
                ("TARGET_HOST".into(), format!("http://127.0.0.1:{target}")),
            ],
        }
    }

    fn spawn(&mut self, name: &str, args: &[String]) -> usize {
        use std::os::unix::process::CommandExt;
        let log = fs::File::create(self.dir.path().join(format!("{name}.log"))).expect("log");
        let locustfile = self.dir.path().join("locustfile.py");
        let child = Command::new(locust_bin())
            .arg("-f")
            .arg(&locustfile)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .envs(self.env.clone())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start locust");
        self.procs.push((name.to_string(), child));
        self.procs.len() - 1
    }

    fn kill(&mut self, i: usize) {
        kill_group(&mut self.procs[i].1);
    }

    async fn wait(&mut self, i: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.procs[i].1.try_wait().expect("try_wait").is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

impl Drop for Locust {
    fn drop(&mut self) {
        for (name, child) in &mut self.procs {
            kill_group(child);
            if std::thread::panicking() {
                let text = fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!("---- {name} (last lines) ----");
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// Locust's own final total from the master's `--json-file` output.
fn json_file_total(path: &Path) -> i64 {
    let text = fs::read_to_string(path).expect("json file");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    entries
        .iter()
        .map(|e| e["num_requests"].as_i64().unwrap_or(0))
        .sum()
}

/// A test with two worker pods whose simulated pods keep running for ten minutes.
fn long_test(name: &str) -> LocustTest {
    let run = [(annotations::RUN_SECONDS, "600")];
    worker_annotations(master_annotations(locust_test(name, 2), &run), &run)
}

async fn setup(prefix: &str, master_url: &str) -> (Client, String, Operator) {
    let client = common::admin().await;
    let ns = common::namespace(prefix).await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    options.env = vec![
        ("MASTER_URL_TEMPLATE".into(), master_url.into()),
        ("LOCUST_POLL_SECONDS".into(), "1".into()),
    ];
    (client, ns, Operator::start(prefix, options))
}

fn workers(t: &LocustTest) -> (Option<i32>, String) {
    (
        t.status.as_ref().and_then(|s| s.connected_workers),
        condition(t, "WorkersConnected")
            .map(|c| c.reason.clone())
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_workers_and_the_result_come_from_the_real_master() {
    let t0 = Instant::now();
    let target = start_target().await;
    let web_port = free_port();
    let (client, ns, mut operator) =
        setup("locust-live", &format!("http://127.0.0.1:{web_port}")).await;
    create(&client, &ns, &long_test("live")).await;
    // Before the master exists, workers are counted from the Ready (simulated) pods.
    wait_status(&client, &ns, "live", "workers from pods", STATUS, |t| {
        workers(t) == (Some(2), "WorkersConnectedFromPods".into())
    })
    .await;

    let mut locust = Locust::new(target);
    let master_port = free_port();
    let s = |v: &str| v.to_string();
    let master = locust.spawn(
        "master",
        &[
            s("--master"),
            s("--master-bind-host=127.0.0.1"),
            format!("--master-bind-port={master_port}"),
            s("--web-host=127.0.0.1"),
            format!("--web-port={web_port}"),
            s("--expect-workers=2"),
            s("--autostart"),
            s("--autoquit"),
            s("10"),
            s("--users=4"),
            s("--spawn-rate=4"),
            s("--run-time=25s"),
            s("--only-summary"),
            s("--json-file"),
            locust.path("stats").display().to_string(),
        ],
    );
    let worker_args = [
        s("--worker"),
        s("--master-host=127.0.0.1"),
        format!("--master-port={master_port}"),
    ];
    locust.spawn("worker-1", &worker_args);
    let w2 = locust.spawn("worker-2", &worker_args);

    let t = wait_status(
        &client,
        &ns,
        "live",
        "2 workers from the master",
        STATUS,
        |t| workers(t) == (Some(2), "AllWorkersConnected".into()),
    )
    .await;
    eprintln!("2 workers from the master after {:?}", t0.elapsed());
    assert_eq!(common::phase(&t), Some(Phase::Running));

    // Live numbers appear while the run goes on.
    let t = wait_status(&client, &ns, "live", "live numbers", STATUS, |t| {
        t.status
            .as_ref()
            .and_then(|s| s.live.as_ref())
            .is_some_and(|l| l.users == 4 && l.requests_per_second > 0.0)
    })
    .await;
    eprintln!("live: {:?}", t.status.as_ref().and_then(|s| s.live.clone()));

    // A worker dies: the master's count drops while both simulated pods stay Ready.
    locust.kill(w2);
    wait_status(
        &client,
        &ns,
        "live",
        "1 worker from the master",
        STATUS,
        |t| workers(t) == (Some(1), "WorkersMissing".into()),
    )
    .await;
    eprintln!("1 worker after {:?}", t0.elapsed());

    // The run stops, the totals settle, the master quits after the autoquit window.
    assert!(
        locust.wait(master, Duration::from_secs(70)).await,
        "the master quits after its run time and the autoquit window"
    );
    let total = json_file_total(&locust.path("stats.json"));
    assert!(total > 0, "the run made requests");
    let t = wait_status(&client, &ns, "live", "the final result", STATUS, |t| {
        t.status.as_ref().and_then(|s| s.result.as_ref()).is_some()
    })
    .await;
    let result = t.status.and_then(|s| s.result).expect("result");
    eprintln!("result {result:?}, Locust's json file: {total} requests");
    assert_eq!(result.total_requests, total);
    assert!(result.failed_requests > 0, "one request in ten fails");
    // The master is gone: back to the pods, and the live numbers are cleared.
    let t = wait_status(&client, &ns, "live", "back to pods", STATUS, |t| {
        workers(t) == (Some(2), "WorkersConnectedFromPods".into())
    })
    .await;
    assert_eq!(t.status.as_ref().and_then(|s| s.live.clone()), None);
    operator.assert_running();
    eprintln!("whole test {:?}", t0.elapsed());
}

#[tokio::test]
async fn an_unreachable_master_falls_back_to_ready_worker_pods() {
    let (client, ns, mut operator) = setup("locust-down", "http://127.0.0.1:1").await;
    create(&client, &ns, &long_test("down")).await;
    wait_phase(&client, &ns, "down", Phase::Running, STATUS).await;
    let t = wait_status(&client, &ns, "down", "workers from pods", STATUS, |t| {
        workers(t) == (Some(2), "WorkersConnectedFromPods".into())
    })
    .await;
    let c = condition(&t, "WorkersConnected").expect("condition");
    assert_eq!(c.status, "True");
    assert!(
        c.message.contains("master's API was unreachable"),
        "{}",
        c.message
    );
    let status = t.status.expect("status");
    assert_eq!(status.live, None);
    assert_eq!(status.result, None);
    // The poller keeps failing; the status is not rewritten for it.
    let rv = t.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let again = common::get(&client, &ns, "down").await;
    assert_eq!(again.metadata.resource_version, rv, "no rewrite per poll");
    operator.assert_running();
}
