//! `test-cluster up`/`down`: a cluster for people, kept in a folder in the background.
//!
//! `up` starts a detached supervisor (`test-cluster supervise`, in its own session) that
//! owns the control-plane processes, and returns once the cluster is ready. The supervisor
//! holds the processes' watch pipes, so if it dies they die too. `down` asks it to stop
//! (`SIGTERM`), waits until every process is gone, and is a no-op when nothing runs.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::cluster::{Cluster, Options};
use crate::error::{Error, Result};
use crate::process::{is_running, log_tail, read_pid};
use crate::real_node::RealNode;

/// The supervisor's pid, in the cluster folder.
pub const PID_FILE: &str = "supervisor.pid";
/// The supervisor's log, in the cluster folder.
pub const LOG_FILE: &str = "supervisor.log";
/// Marks a folder as made by `test-cluster up`, so that `up` may reuse it.
pub const MARKER_FILE: &str = ".test-cluster";

/// The hidden subcommand `up` runs in the background.
pub const SUPERVISE: &str = "supervise";

/// What the supervisor prints on its standard output once the cluster is ready.
const READY: &str = "ready";

/// How long `down` waits for the supervisor and the servers to be gone.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// What `up` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpOutcome {
    /// A new cluster runs; its API server's URL.
    Started(String),
    /// A cluster was running in that folder already; the supervisor's pid.
    AlreadyRunning(u32),
}

/// Starts a cluster in `dir` in the background, by running `exe supervise --dir <dir>`
/// detached, and returns once it is ready. With `real_node`, the cluster serves a real
/// node at that address (see [`crate::real_node`]).
pub fn up(exe: &Path, dir: &Path, real_node: Option<RealNode>) -> Result<UpOutcome> {
    let dir = std::path::absolute(dir).map_err(Error::io("resolving", dir))?;
    if let Some(pid) = running_supervisor(&dir) {
        return Ok(UpOutcome::AlreadyRunning(pid));
    }
    prepare_dir(&dir)?;

    let log_path = dir.join(LOG_FILE);
    let log = std::fs::File::create(&log_path).map_err(Error::io("creating", &log_path))?;
    // No inherited terminal or pipe: `make cluster-up | tee` must not wait for the
    // supervisor, and Ctrl-C at the terminal must not reach it.
    let mut command = Command::new(exe);
    command.arg(SUPERVISE).arg("--dir").arg(&dir);
    if let Some(node) = real_node {
        command.arg(format!("--node-ip={}", node.ip));
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|source| Error::Spawn {
            name: "supervisor".to_owned(),
            program: exe.to_owned(),
            source,
        })?;
    let stdout = child.stdout.take();
    let mut ready = None;
    if let Some(stdout) = stdout {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(server) = line.strip_prefix(READY) {
                ready = Some(server.trim().to_owned());
                break;
            }
        }
    }
    match ready {
        Some(server) => Ok(UpOutcome::Started(server)),
        None => {
            // The supervisor gave up: it is our child, so reap it.
            let status = child.wait().map_err(Error::io("waiting for", exe))?;
            Err(Error::Daemon(format!(
                "the cluster did not start (supervisor {status}); last lines of {}:\n{}",
                log_path.display(),
                log_tail(&log_path, 40)
            )))
        }
    }
}

/// Makes `dir` ready for a new cluster, refusing a folder that `up` did not make.
fn prepare_dir(dir: &Path) -> Result<()> {
    let marker = dir.join(MARKER_FILE);
    if dir.exists() && !marker.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(Error::io("reading", dir))?;
        if entries.next().is_some() {
            return Err(Error::Daemon(format!(
                "{} exists and was not made by `test-cluster up`; pick another --dir",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    std::fs::write(&marker, "made by test-cluster up\n").map_err(Error::io("writing", &marker))?;
    let pid_file = dir.join(PID_FILE);
    if pid_file.exists() {
        std::fs::remove_file(&pid_file).map_err(Error::io("removing", &pid_file))?;
    }
    Ok(())
}

/// Runs the cluster in `dir` until `SIGTERM`, `SIGINT` or `SIGHUP`, or until one of its
/// processes dies (the body of the hidden `supervise` subcommand).
pub async fn supervise(dir: &Path, real_node: Option<RealNode>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    // Leave the terminal's session; failure means we lead one already, which is as good.
    let _ = rustix::process::setsid();
    let mut terminate =
        signal(SignalKind::terminate()).map_err(Error::io("listening for SIGTERM in", dir))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(Error::io("listening for SIGINT in", dir))?;
    let mut hangup =
        signal(SignalKind::hangup()).map_err(Error::io("listening for SIGHUP in", dir))?;

    let started = Instant::now();
    let cluster = Cluster::start_with(Options {
        dir: Some(dir.to_owned()),
        real_node,
        ..Options::default()
    })
    .await?;
    eprintln!(
        "test-cluster: ready after {:.1} s at {}",
        started.elapsed().as_secs_f64(),
        cluster.server_url()
    );
    let pid_file = dir.join(PID_FILE);
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .map_err(Error::io("writing", &pid_file))?;
    let pids: String = cluster
        .pids()
        .iter()
        .map(|(name, pid)| format!("{pid} {name}\n"))
        .collect();
    let pids_file = dir.join("pids");
    std::fs::write(&pids_file, pids).map_err(Error::io("writing", &pids_file))?;

    {
        // `up` waits for this line; nothing goes to standard output afterwards.
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{READY} {}", cluster.server_url());
        let _ = stdout.flush();
    }

    let mut health = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            _ = terminate.recv() => break Ok("SIGTERM"),
            _ = interrupt.recv() => break Ok("SIGINT"),
            _ = hangup.recv() => break Ok("SIGHUP"),
            _ = health.tick() => {
                if let Err(e) = cluster.check() {
                    break Err(e);
                }
            }
        }
    };
    match &outcome {
        Ok(signal) => eprintln!("test-cluster: {signal}: stopping"),
        Err(e) => eprintln!("test-cluster: stopping: {e}"),
    }
    drop(cluster);
    let _ = std::fs::remove_file(&pid_file);
    eprintln!("test-cluster: stopped");
    outcome.map(|_| ())
}

/// Stops the cluster running in `dir`; returns whether there was one.
pub fn down(dir: &Path) -> Result<bool> {
    let dir = std::path::absolute(dir).map_err(Error::io("resolving", dir))?;
    let pid_file = dir.join(PID_FILE);
    let supervisor = running_supervisor(&dir);
    if let Some(pid) = supervisor {
        signal(pid, Signal::TERM);
        if !wait_gone(&[pid], STOP_TIMEOUT) {
            // Its processes die with it, through their watch pipes.
            signal(pid, Signal::KILL);
            wait_gone(&[pid], Duration::from_secs(5));
        }
    }
    // Whatever the supervisor left (it cannot, short of a kernel crash): servers whose
    // command line names this folder.
    let leftovers = server_pids(&dir);
    let stopped_any = supervisor.is_some() || !leftovers.is_empty();
    if !wait_gone(&leftovers, Duration::from_secs(5)) {
        for &pid in &leftovers {
            signal(pid, Signal::KILL);
        }
        if !wait_gone(&leftovers, Duration::from_secs(5)) {
            return Err(Error::Daemon(format!(
                "processes {leftovers:?} of {} would not stop",
                dir.display()
            )));
        }
    }
    if pid_file.exists() {
        std::fs::remove_file(&pid_file).map_err(Error::io("removing", &pid_file))?;
    }
    Ok(stopped_any)
}

/// The pid of the supervisor running for `dir`, if one runs.
fn running_supervisor(dir: &Path) -> Option<u32> {
    let pid = read_pid(&dir.join(PID_FILE))?;
    let cmdline = cmdline(pid)?;
    let ours =
        cmdline.iter().any(|a| a == SUPERVISE) && cmdline.iter().any(|a| Path::new(a) == dir);
    (ours && is_running(pid)).then_some(pid)
}

/// Live servers listed in `dir/run` whose command line mentions `dir`.
fn server_pids(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir.join("run")) else {
        return Vec::new();
    };
    let needle = dir.display().to_string();
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| read_pid(&e.path()))
        .filter(|&pid| is_running(pid))
        .filter(|&pid| cmdline(pid).is_some_and(|args| args.iter().any(|a| a.contains(&needle))))
        .collect()
}

fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Waits until none of `pids` runs; false on timeout.
fn wait_gone(pids: &[u32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !pids.iter().any(|&pid| is_running(pid)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The default folder of `make cluster-up`, relative to the working directory.
pub fn default_dir() -> PathBuf {
    PathBuf::from("target/cluster")
}
