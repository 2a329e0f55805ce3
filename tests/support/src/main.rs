//! `test-cluster`: a local Kubernetes control plane with kwok nodes, in the background.
//!
//! ```text
//! test-cluster up   --dir target/cluster   # start; returns once ready
//! test-cluster down --dir target/cluster   # stop; nothing keeps running
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use test_cluster::daemon::{self, UpOutcome};
use test_cluster::real_node::RealNode;

/// A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
/// kube-scheduler) with kwok nodes, on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "test-cluster", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start a cluster in the background; returns once it is ready.
    Up {
        /// Folder for the kubeconfig, certificates, logs and etcd data.
        #[arg(long, default_value_os_t = daemon::default_dir())]
        dir: PathBuf,
        /// Serve a real node whose bridge has this address (tests/e2e/node.sh): the API
        /// server listens there instead of 127.0.0.1, and no kwok nodes run.
        #[arg(long)]
        node_ip: Option<Ipv4Addr>,
    },
    /// Stop the cluster started by `up` in that folder (a no-op when none runs).
    Down {
        /// The folder given to `up`.
        #[arg(long, default_value_os_t = daemon::default_dir())]
        dir: PathBuf,
    },
    /// Run a cluster in the foreground until SIGTERM (what `up` starts).
    #[command(hide = true, name = daemon::SUPERVISE)]
    Supervise {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        node_ip: Option<Ipv4Addr>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("test-cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Cmd) -> test_cluster::Result<()> {
    match command {
        Cmd::Up { dir, node_ip } => {
            let started = Instant::now();
            let exe = std::env::current_exe().map_err(|e| {
                test_cluster::Error::Daemon(format!("locating test-cluster itself: {e}"))
            })?;
            let kubeconfig = dir.join("kubeconfig");
            let real_node = node_ip.map(|ip| RealNode { ip });
            match daemon::up(&exe, &dir, real_node)? {
                UpOutcome::Started(server) => println!(
                    "Cluster ready in {:.1} s: API server {server}, {}.",
                    started.elapsed().as_secs_f64(),
                    if real_node.is_some() {
                        "waiting for its real node"
                    } else {
                        "3 kwok nodes"
                    }
                ),
                UpOutcome::AlreadyRunning(pid) => {
                    println!(
                        "A cluster already runs in {} (supervisor pid {pid}).",
                        dir.display()
                    )
                }
            }
            println!(
                "  {} --kubeconfig {} get nodes",
                kubectl(),
                kubeconfig.display()
            );
            if kubeconfig.is_absolute() {
                println!("  export KUBECONFIG={}", kubeconfig.display());
            } else {
                println!("  export KUBECONFIG=$PWD/{}", kubeconfig.display());
            }
            println!("  logs: {}/logs/", dir.display());
            println!(
                "Stop it with `make cluster-down` (test-cluster down --dir {}).",
                dir.display()
            );
            Ok(())
        }
        Cmd::Down { dir } => {
            if daemon::down(&dir)? {
                println!("Cluster in {} stopped.", dir.display());
            } else {
                println!("No cluster runs in {}.", dir.display());
            }
            Ok(())
        }
        Cmd::Supervise { dir, node_ip } => {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| {
                test_cluster::Error::Daemon(format!("starting the tokio runtime: {e}"))
            })?;
            runtime.block_on(daemon::supervise(&dir, node_ip.map(|ip| RealNode { ip })))
        }
    }
}

/// `kubectl` if it is on the PATH, else the one `make cluster-bins` built.
fn kubectl() -> String {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("kubectl").is_file()));
    if on_path {
        return "kubectl".to_owned();
    }
    let built = test_cluster::binaries::bin_dir().join("kubectl");
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            built
                .strip_prefix(cwd)
                .ok()
                .map(std::path::Path::to_path_buf)
        })
        .unwrap_or(built);
    shown.display().to_string()
}
