//! The operator's release binary as a subprocess (under test-cluster's watchdog, so it
//! never outlives the suite), timed from its spawn; its command line, probes, `/metrics`
//! and `/proc` figures come from [`test_cluster::operator`], shared with the integration
//! tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use test_cluster::operator::{Command, probe};
use test_cluster::process::ManagedProcess;

pub use test_cluster::operator::probe::{metric_sum, metric_sum_with};

use crate::{Result, ctx};

/// How to run one operator process.
#[derive(Debug, Clone)]
pub struct Options {
    /// The operator binary (the release build for benchmarks).
    pub binary: PathBuf,
    /// Its kubeconfig.
    pub kubeconfig: PathBuf,
    /// `WATCH_NAMESPACES` (empty: every namespace).
    pub namespaces: Vec<String>,
    /// `Some((lease namespace, identity))` runs with leader election.
    pub leader_election: Option<(String, String)>,
    /// Further environment variables (`WEBHOOK_MODE`, `KUBE_API_QPS`, …).
    pub env: Vec<(String, String)>,
}

/// A running operator.
pub struct Operator {
    process: Option<ManagedProcess>,
    /// Where `/readyz` and `/metrics` are served.
    pub health_port: u16,
    /// When the process was spawned (before `exec`).
    pub spawned: Instant,
    log: PathBuf,
}

/// A free port on 127.0.0.1 (released before returning: the operator binds it next).
pub fn free_port() -> Result<u16> {
    probe::free_port().map_err(ctx("binding a port"))
}

impl Operator {
    /// Spawns the operator named `name`, logging to `<log_dir>/<name>.log`.
    pub fn start(name: &str, options: &Options, log_dir: &Path) -> Result<Self> {
        let health_port = free_port()?;
        let mut command = Command::new(options.binary.clone(), options.kubeconfig.clone());
        if !options.namespaces.is_empty() {
            command.watch_namespaces = Some(options.namespaces.clone());
        }
        command.leader_election = options.leader_election.clone();
        command.health_addr = format!("127.0.0.1:{health_port}");
        // No Locust master listens in this cluster (kwok runs no containers): a fixed,
        // refusing address makes every poll fail fast, as a master not yet up would.
        command.env = [(
            "MASTER_URL_TEMPLATE".to_owned(),
            "http://127.0.0.1:9".to_owned(),
        )]
        .into_iter()
        .chain(options.env.iter().cloned())
        .collect();
        let args = command.args();
        let spawned = Instant::now();
        let process =
            ManagedProcess::spawn(name, Path::new("env"), &args, log_dir, &log_dir.join("run"))
                .map_err(ctx("starting the operator"))?;
        Ok(Self {
            log: process.log().to_owned(),
            process: Some(process),
            health_port,
            spawned,
        })
    }

    /// The operator's pid.
    pub fn pid(&self) -> Result<u32> {
        self.process
            .as_ref()
            .and_then(ManagedProcess::pid)
            .ok_or_else(|| "the operator has no pid".to_owned())
    }

    /// `SIGKILL`s the operator and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Sends `SIGTERM` (graceful shutdown).
    pub fn terminate(&self) -> Result<()> {
        let pid = self.pid()?;
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .map_err(ctx("kill -TERM"))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -TERM {pid} failed"))
    }

    /// `Err` with the log's tail once the operator has exited.
    pub fn check(&mut self) -> Result<()> {
        match self.process.as_mut() {
            Some(p) => p.check().map_err(|e| e.to_string()),
            None => Err("the operator was killed".into()),
        }
    }

    /// The operator's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/readyz` answers 200; returns the time since spawning.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let port = self.health_port;
        let spawned = self.spawned;
        let deadline = spawned + timeout;
        loop {
            let probe = http_get(port, "/readyz").await;
            let now = Instant::now();
            if let Ok((200, _)) = probe {
                return Ok(now - spawned);
            }
            if now > deadline {
                self.check()?;
                return Err(format!("/readyz not 200 after {timeout:?}: {probe:?}"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        let port = self.health_port;
        let (code, body) = http_get(port, "/metrics").await?;
        (code == 200)
            .then_some(body)
            .ok_or_else(|| format!("/metrics answered {code}"))
    }

    /// Reconciles so far: the sum of `locust_operator_reconcile_total` over results.
    pub async fn reconciles(&self) -> Result<f64> {
        Ok(metric_sum(
            &self.metrics().await?,
            "locust_operator_reconcile_total",
        ))
    }

    /// CPU seconds (user + system) the operator has used so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        probe::cpu_seconds(self.pid()?)
    }

    /// `(VmRSS, VmHWM)` in MiB.
    pub fn memory_mib(&self) -> Result<(f64, f64)> {
        probe::memory_mib(self.pid()?)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP/1.1 GET on 127.0.0.1:`port`: `(status, body)`.
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    probe::http_get(SocketAddr::from(([127, 0, 0, 1], port)), path).await
}
