//! `test-cluster up` / `down`, as `make cluster-up` / `make cluster-down` run them.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use test_cluster::daemon::PID_FILE;
use test_cluster::process::{is_running, read_pid};

fn test_cluster(args: &[&str], dir: &Path) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_test-cluster"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("running test-cluster");
    println!("$ test-cluster {} --dir {}", args.join(" "), dir.display());
    println!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn up_starts_a_cluster_that_down_stops_for_good() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let dir = dir.path().join("cluster");

    let started = Instant::now();
    let up = test_cluster(&["up"], &dir);
    assert!(up.status.success(), "up failed");
    println!("up took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        stdout(&up).contains("get nodes"),
        "up tells how to use the cluster"
    );

    let kubeconfig = kube::config::Kubeconfig::read_from(dir.join("kubeconfig"))
        .expect("reading the kubeconfig");
    let client = test_cluster::kubeconfig::client(&kubeconfig)
        .await
        .expect("a client");
    let nodes = Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .expect("listing nodes");
    assert_eq!(nodes.items.len(), 3);

    // The servers, as the supervisor recorded them, and the supervisor itself.
    let supervisor = read_pid(&dir.join(PID_FILE)).expect("a supervisor pid");
    let pids_file = std::fs::read_to_string(dir.join("pids")).expect("reading the pids file");
    let mut pids: Vec<u32> = pids_file
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 5, "{pids_file}");
    pids.push(supervisor);
    assert!(pids.iter().all(|&pid| is_running(pid)));

    let again = test_cluster(&["up"], &dir);
    assert!(
        again.status.success() && stdout(&again).contains("already runs"),
        "a second up reuses the cluster"
    );

    let down = test_cluster(&["down"], &dir);
    assert!(
        down.status.success() && stdout(&down).contains("stopped"),
        "down failed"
    );
    let still: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&pid| is_running(pid))
        .collect();
    assert!(still.is_empty(), "running after down: {still:?}");
    assert!(!dir.join(PID_FILE).exists());

    let idle = test_cluster(&["down"], &dir);
    assert!(
        idle.status.success() && stdout(&idle).contains("No cluster runs"),
        "down is idempotent"
    );
}

#[test]
fn down_without_a_cluster_is_a_no_op() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let down = test_cluster(&["down"], dir.path());
    assert!(down.status.success() && stdout(&down).contains("No cluster runs"));
}

#[test]
fn up_refuses_a_folder_it_did_not_make() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("precious.txt"), "keep me").expect("writing a file");
    let started = Instant::now();
    let up = test_cluster(&["up"], dir.path());
    assert!(!up.status.success(), "up took over a foreign folder");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(dir.path().join("precious.txt").exists());
}
