//! No process outlives its cluster: not after a drop, not after a panic, not after the
//! test binary exits with the shared cluster in a static, not after `SIGKILL`.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_cluster::process::is_running;
use test_cluster::{Cluster, Error, Options};

/// Environment variable that makes [`helper`] act; its value picks how it ends.
const HELPER_ENV: &str = "TEST_CLUSTER_LIFECYCLE_HELPER";

/// Waits until none of `pids` runs (zombies count as gone: they hold no resources and
/// are reaped by init); false on timeout.
fn all_gone(pids: &[u32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pids.iter().all(|&pid| !is_running(pid)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn running(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|&pid| is_running(pid))
        .collect()
}

#[tokio::test]
async fn drop_stops_every_process_and_removes_the_folder() -> test_cluster::Result<()> {
    let starting = Instant::now();
    let cluster = Cluster::start().await?;
    println!("started in {:.2} s", starting.elapsed().as_secs_f64());
    let mut pids: Vec<u32> = cluster.pids().into_iter().map(|(_, pid)| pid).collect();
    assert_eq!(pids.len(), 5, "five servers: {:?}", cluster.pids());
    pids.extend(cluster.wrapper_pids());
    let dir = cluster.dir().to_owned();
    assert!(dir.join("kubeconfig").is_file());

    let stopping = Instant::now();
    drop(cluster);
    println!("stopped in {:.2} s", stopping.elapsed().as_secs_f64());
    // Our own children are reaped by the drop; the servers by their wrappers.
    assert!(
        running(&pids).is_empty(),
        "still running after drop: {:?}",
        running(&pids)
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
    Ok(())
}

#[tokio::test]
async fn missing_binaries_fail_with_a_hint() {
    let empty = tempfile::tempdir().expect("a temporary folder");
    let options = Options {
        bin_dir: Some(empty.path().to_owned()),
        ..Options::default()
    };
    match Cluster::start_with(options).await {
        Err(e @ Error::MissingBinary { .. }) => {
            let message = e.to_string();
            assert!(message.contains("make cluster-bins"), "{message}");
            assert!(message.contains("etcd"), "{message}");
        }
        other => panic!("expected a missing binary, got {other:?}"),
    }
}

/// What the helper printed: the servers' and wrappers' pids and the cluster folder.
struct Reported {
    pids: Vec<u32>,
    dir: PathBuf,
}

/// Runs [`helper`] in a child test binary ending as `mode` says and returns what it
/// reported, after it exited.
fn run_helper(mode: &str) -> Reported {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([
            "helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, mode)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the helper");
    let stdout = child.stdout.take().expect("the helper's stdout");
    // Kept for failure messages only: the panicking helper's panic is expected noise.
    let mut stderr = child.stderr.take().expect("the helper's stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut pids = Vec::new();
    let mut dir = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("reading the helper's output");
        // The harness may print "test helper ... " on the same line first.
        if let Some((_, list)) = line.split_once("PIDS ") {
            pids = list
                .split_whitespace()
                .map(|p| p.parse().expect("a pid"))
                .collect();
        } else if let Some((_, d)) = line.split_once("DIR ") {
            dir = Some(PathBuf::from(d));
            if mode == "kill" {
                // The helper now sleeps: kill it as hard as possible.
                child.kill().expect("killing the helper");
            }
        }
    }
    let status = child.wait().expect("waiting for the helper");
    let errors = errors.join().unwrap_or_default();
    println!("helper ({mode}) ended: {status}");
    assert!(
        !pids.is_empty(),
        "the helper reported no pids; its stderr:\n{errors}"
    );
    let dir = dir.unwrap_or_else(|| panic!("the helper reported no folder; its stderr:\n{errors}"));
    Reported { pids, dir }
}

fn assert_cleaned_up(mode: &str) {
    let reported = run_helper(mode);
    let started = Instant::now();
    assert!(
        all_gone(&reported.pids, Duration::from_secs(15)),
        "{mode}: still running after the test binary ended: {:?}",
        running(&reported.pids)
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while reported.dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !reported.dir.exists(),
        "{mode}: {} still exists",
        reported.dir.display()
    );
    println!(
        "{mode}: all gone {:.2} s after the helper ended",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn processes_stop_when_the_test_binary_exits_with_the_shared_cluster() {
    assert_cleaned_up("exit");
}

#[test]
fn processes_stop_when_a_test_panics() {
    assert_cleaned_up("panic");
}

#[test]
fn processes_stop_when_the_test_binary_is_killed() {
    assert_cleaned_up("kill");
}

/// Not a test of its own: the child that the tests above run. It starts the shared
/// cluster, reports its pids, then ends as `$TEST_CLUSTER_LIFECYCLE_HELPER` says:
/// `exit` (return; the static is never dropped), `panic`, or `kill` (wait to be killed).
#[tokio::test]
#[ignore = "run by the lifecycle tests in a child process"]
async fn helper() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    let owned;
    let cluster = if mode == "panic" {
        owned = Cluster::start().await.expect("starting a cluster");
        &owned
    } else {
        test_cluster::shared()
            .await
            .expect("starting the shared cluster")
    };
    let mut pids: Vec<u32> = cluster.pids().into_iter().map(|(_, pid)| pid).collect();
    pids.extend(cluster.wrapper_pids());
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!("PIDS {}", list.join(" "));
    println!("DIR {}", cluster.dir().display());
    match mode.as_str() {
        "panic" => panic!("a test failing while it owns a cluster"),
        "kill" => tokio::time::sleep(Duration::from_secs(600)).await,
        _ => {}
    }
}

/// `restart` kills etcd and the API server and starts them again on the same ports with
/// the same data: objects written before are there after, the old processes are gone.
#[tokio::test]
async fn restart_brings_the_api_back_with_its_data() -> test_cluster::Result<()> {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};

    let cluster = Cluster::start().await?;
    let client = cluster.client().await?;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("survives".into());
    api.create(&PostParams::default(), &cm)
        .await
        .expect("creating a ConfigMap");
    let old: Vec<u32> = cluster
        .pids()
        .into_iter()
        .filter(|(name, _)| name == "etcd" || name == "kube-apiserver")
        .map(|(_, pid)| pid)
        .collect();
    assert_eq!(old.len(), 2, "etcd and kube-apiserver run");
    cluster.restart(&["etcd", "kube-apiserver"]).await?;
    assert!(
        all_gone(&old, Duration::from_secs(5)),
        "the old processes are gone"
    );
    let new: Vec<u32> = cluster
        .pids()
        .into_iter()
        .filter(|(name, _)| name == "etcd" || name == "kube-apiserver")
        .map(|(_, pid)| pid)
        .collect();
    assert_eq!(new.len(), 2, "etcd and kube-apiserver run again");
    assert!(
        new.iter().all(|p| !old.contains(p)),
        "new processes: {old:?} → {new:?}"
    );
    // A fresh client: the old connections died with the server.
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await?, "default");
    let back = api
        .get_opt("survives")
        .await
        .expect("reading the ConfigMap back");
    assert!(
        back.is_some(),
        "the ConfigMap written before the restart is still there"
    );
    cluster.check()
}
