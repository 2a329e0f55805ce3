//! Control-plane processes that cannot outlive their owner.
//!
//! Each server runs under a tiny `sh` wrapper whose standard input is a pipe from the
//! owning process. The wrapper starts the server, then a watcher that blocks reading the
//! pipe: when the owner closes it, or dies in any way (panic, abort, `SIGKILL`, a test
//! binary that exits without dropping its statics), the read ends and the watcher kills
//! the server. The wrapper reaps the server and exits with its status, so the owner sees
//! an early exit as the wrapper's exit and no zombie is left behind. Every wrapper leads
//! its own process group, so a Ctrl-C at the terminal reaches only the owner, which then
//! cleans up through the pipes.
//!
//! A [`Janitor`] works the same way for a temporary folder: when its pipe closes it waits
//! for the servers to be gone and removes the folder.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::error::{Error, Result};

/// `sh -c` script: `$1` is the pid file, the rest is the command to run.
const WRAPPER: &str = r#"pidfile=$1
shift
exec 3<&0 0</dev/null
"$@" 3<&- &
pid=$!
echo "$pid" >"$pidfile"
{ while read -r line; do :; done <&3; kill -KILL "$pid" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
exit "$status"
"#;

/// `sh -c` script: `$1` is the folder to remove once the pipe closes and the servers
/// whose pid files are in `$1/run` are gone.
const JANITOR: &str = r#"dir=$1
while read -r line; do :; done
for f in "$dir"/run/*.pid; do
  [ -f "$f" ] || continue
  read -r pid <"$f" || continue
  n=0
  while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
done
rm -rf "$dir"
"#;

/// How long a stopping process may take before it is killed harder.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How many log lines an error report quotes.
const TAIL_LINES: usize = 25;

/// A server process started under a watchdog wrapper; stopped on drop.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    wrapper: Child,
    /// The write end of the watch pipe; dropping it stops the server.
    watch: Option<ChildStdin>,
    pid_file: PathBuf,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl ManagedProcess {
    /// Starts `program args` as `name`, logging to `logs/<name>.log` and writing the
    /// server's pid to `run/<name>.pid`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log_dir: &Path,
        run_dir: &Path,
    ) -> Result<Self> {
        std::fs::create_dir_all(log_dir).map_err(Error::io("creating", log_dir))?;
        std::fs::create_dir_all(run_dir).map_err(Error::io("creating", run_dir))?;
        let log = log_dir.join(format!("{name}.log"));
        let pid_file = run_dir.join(format!("{name}.pid"));
        // Appended: a restarted component keeps the log of its earlier run.
        let stdout = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(Error::io("creating", &log))?;
        let stderr = stdout.try_clone().map_err(Error::io("opening", &log))?;
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg(format!("test-cluster-{name}"))
            .arg(&pid_file)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                name: name.to_owned(),
                program: program.to_owned(),
                source,
            })?;
        let watch = wrapper.stdin.take();
        Ok(Self {
            name: name.to_owned(),
            wrapper,
            watch,
            pid_file,
            log,
            exited: None,
        })
    }

    /// The component's name, such as `etcd`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The component's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The server's pid, once the wrapper has written it (waits up to a second).
    pub fn pid(&self) -> Option<u32> {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if let Some(pid) = read_pid(&self.pid_file) {
                return Some(pid);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The wrapper's pid (also its process group).
    pub fn wrapper_pid(&self) -> u32 {
        self.wrapper.id()
    }

    /// `Ok` while the server runs; [`Error::ProcessExited`] with its log's tail once it
    /// has exited.
    pub fn check(&mut self) -> Result<()> {
        if self.exited.is_none() {
            self.exited = self.wrapper.try_wait().ok().flatten();
        }
        match self.exited {
            None => Ok(()),
            Some(status) => Err(Error::ProcessExited {
                name: self.name.clone(),
                status: describe(status),
                log: self.log.clone(),
                tail: self.log_tail(),
            }),
        }
    }

    /// The last lines of the log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, TAIL_LINES)
    }

    /// Closes the watch pipe: the wrapper kills the server and exits.
    pub fn begin_stop(&mut self) {
        self.watch = None;
    }

    /// Stops the server and reaps the wrapper, escalating to `SIGKILL` if it lingers.
    pub fn stop(&mut self) {
        self.begin_stop();
        if self.exited.is_some() || self.wait_for(STOP_GRACE) {
            return;
        }
        // The watcher did not act: kill the server ourselves; the wrapper reaps it.
        if let Some(pid) = read_pid(&self.pid_file).and_then(to_pid) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
        if self.wait_for(STOP_GRACE) {
            return;
        }
        // Last resort: the whole group, wrapper included.
        if let Some(pgid) = to_pid(self.wrapper.id()) {
            let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        }
        self.exited = self.wrapper.wait().ok();
    }

    /// Waits up to `grace` for the wrapper to exit; true if it did.
    fn wait_for(&mut self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        loop {
            match self.wrapper.try_wait() {
                Ok(Some(status)) => {
                    self.exited = Some(status);
                    return true;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => return false,
                // Already reaped elsewhere: nothing left to wait for.
                Err(_) => return true,
            }
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes a temporary cluster folder once its owner is gone, even if the owner never
/// runs its destructors.
#[derive(Debug)]
pub struct Janitor {
    child: Child,
    watch: Option<ChildStdin>,
}

impl Janitor {
    /// Starts a janitor for `dir` (whose `run/` holds the servers' pid files).
    pub fn spawn(dir: &Path) -> Result<Self> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(JANITOR)
            .arg("test-cluster-janitor")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                name: "janitor".to_owned(),
                program: PathBuf::from("sh"),
                source,
            })?;
        let watch = child.stdin.take();
        Ok(Self { child, watch })
    }

    /// Lets the janitor remove the folder now, and waits until it has.
    pub fn finish(&mut self) {
        self.watch = None;
        let _ = self.child.wait();
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Reads a pid file written by the wrapper.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn to_pid(pid: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(pid).ok()?)
}

/// Whether a process with this pid exists and is not a zombie.
pub fn is_running(pid: u32) -> bool {
    // Field 3 of /proc/<pid>/stat is the state; the command name before it is in
    // parentheses and may itself contain spaces or parentheses.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The last `lines` lines of a log file (at most its last 64 KiB are read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        // The wrapper reports a server killed by signal N as 128 + N.
        Some(code) if code > 128 => format!("killed by signal {}", code - 128),
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}
