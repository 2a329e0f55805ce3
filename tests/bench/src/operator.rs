//! The operator's release binary as a subprocess (under test-cluster's watchdog, so it
//! never outlives the suite), its probes and `/metrics` over plain HTTP, and its CPU time
//! and memory from `/proc`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use test_cluster::process::ManagedProcess;

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
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(ctx("binding a port"))?;
    Ok(listener.local_addr().map_err(ctx("local address"))?.port())
}

impl Operator {
    /// Spawns the operator named `name`, logging to `<log_dir>/<name>.log`.
    pub fn start(name: &str, options: &Options, log_dir: &Path) -> Result<Self> {
        let health_port = free_port()?;
        let mut args: Vec<String> = [
            "KUBECONFIG",
            "WATCH_NAMESPACES",
            "LEADER_ELECTION_NAMESPACE",
            "POD_NAME",
            "POD_NAMESPACE",
            "RUST_LOG",
            "KUBE_API_QPS",
            "KUBE_API_BURST",
            "WEBHOOK_MODE",
            "MASTER_URL_TEMPLATE",
        ]
        .iter()
        .flat_map(|v| ["-u".to_owned(), (*v).to_owned()])
        .collect();
        let mut set = |k: &str, v: &str| args.push(format!("{k}={v}"));
        set("KUBECONFIG", &options.kubeconfig.to_string_lossy());
        if !options.namespaces.is_empty() {
            set("WATCH_NAMESPACES", &options.namespaces.join(","));
        }
        set("LOG_FORMAT", "text");
        set("HEALTH_ADDR", &format!("127.0.0.1:{health_port}"));
        set("WEBHOOK_MODE", "disabled");
        // No Locust master listens in this cluster (kwok runs no containers): a fixed,
        // refusing address makes every poll fail fast, as a master not yet up would.
        set("MASTER_URL_TEMPLATE", "http://127.0.0.1:9");
        if let Some((ns, identity)) = &options.leader_election {
            set("LEADER_ELECTION_NAMESPACE", ns);
            set("POD_NAME", identity);
        }
        for (k, v) in &options.env {
            set(k, v);
        }
        args.push(options.binary.display().to_string());
        args.push("run".into());
        if options.leader_election.is_none() {
            args.push("--leader-elect=false".into());
        }
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
            let probe = tokio::task::spawn_blocking(move || http_get(port, "/readyz"))
                .await
                .map_err(ctx("probe task"))?;
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
        let (code, body) = tokio::task::spawn_blocking(move || http_get(port, "/metrics"))
            .await
            .map_err(ctx("metrics task"))??;
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
        cpu_seconds(self.pid()?)
    }

    /// `(VmRSS, VmHWM)` in MiB.
    pub fn memory_mib(&self) -> Result<(f64, f64)> {
        memory_mib(self.pid()?)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The sum of every sample of metric `name` (all label sets) in a Prometheus text.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    metric_sum_with(text, name, &[])
}

/// The sum of the samples of metric `name` whose labels include each of `labels`
/// (written as in the text: `verb="POST"`).
pub fn metric_sum_with(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (block, value) = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once('}')?,
                None => ("", rest.strip_prefix(' ')?),
            };
            labels.iter().all(|w| block.contains(w)).then_some(value)
        })
        .filter_map(|value| value.split_whitespace().next()?.parse::<f64>().ok())
        // An empty sum of f64 is -0.0.
        .fold(0.0, |a, b| a + b)
}

/// A plain HTTP/1.1 GET on 127.0.0.1:`port`: `(status, body)`.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(ctx("connecting"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(ctx("timeout"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(ctx("writing the request"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(ctx("reading the response"))?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(ctx("/proc stat"))?;
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| "malformed /proc stat".to_owned())
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

/// `(VmRSS, VmHWM)` of `pid` in MiB.
pub fn memory_mib(pid: u32) -> Result<(f64, f64)> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(ctx("/proc status"))?;
    let field = |name: &str| -> Result<f64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::{metric_sum, metric_sum_with};

    const TEXT: &str = "# TYPE locust_operator_reconcile_total counter
locust_operator_reconcile_total{result=\"ok\"} 7
locust_operator_reconcile_total{result=\"error\"} 2
locust_operator_reconcile_total_seconds 100
locust_operator_up 1
";

    #[test]
    fn sums_every_label_set_of_exactly_that_metric() {
        assert_eq!(metric_sum(TEXT, "locust_operator_reconcile_total"), 9.0);
        assert_eq!(metric_sum(TEXT, "locust_operator_up"), 1.0);
        assert_eq!(metric_sum(TEXT, "locust_operator_missing"), 0.0);
    }

    #[test]
    fn sums_only_the_samples_with_the_labels_asked_for() {
        let ok = metric_sum_with(TEXT, "locust_operator_reconcile_total", &["result=\"ok\""]);
        assert_eq!(ok, 7.0);
        assert_eq!(
            metric_sum_with(TEXT, "locust_operator_up", &["a=\"b\""]),
            0.0
        );
    }
}
