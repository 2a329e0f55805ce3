//! The operator as a subprocess: `locust-k8s-operator run` with a kubeconfig and the
//! environment a test asks for, logging into a temporary folder.
//!
//! The process runs under test-cluster's watchdog wrapper ([`ManagedProcess`]), so it
//! cannot outlive the test binary even if that is killed. [`Operator::kill`] sends
//! `SIGKILL`; dropping an [`Operator`] kills it too, and while a test panics the drop prints
//! the tail of every log of this operator and keeps the folder (`KEEP_OPERATOR_LOGS=1`
//! keeps it always).

use std::path::{Path, PathBuf};

use test_cluster::process::{self, ManagedProcess};

/// The operator binary built by cargo for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_locust-k8s-operator");

/// Names another operator binary to run instead of [`BINARY`], for example the static musl
/// build (`make check-static-cluster` runs the webhook tests with it).
pub const BINARY_ENV: &str = "LOCUST_OPERATOR_BIN";

/// The operator binary the tests run: `$LOCUST_OPERATOR_BIN` when set, else [`BINARY`].
pub fn binary() -> PathBuf {
    std::env::var_os(BINARY_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(BINARY), PathBuf::from)
}

/// Set (not `0`) to keep every operator's logs, not only those of failed tests.
pub const KEEP_LOGS_ENV: &str = "KEEP_OPERATOR_LOGS";

/// Lines of log printed when a test fails.
const TAIL_LINES: usize = 60;

/// How to run the operator.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    /// `KUBECONFIG` (the RBAC-limited user in these tests).
    pub kubeconfig: PathBuf,
    /// `WATCH_NAMESPACES`: `None` leaves it unset (all namespaces).
    pub watch_namespaces: Option<Vec<String>>,
    /// `POD_HEALTH_GRACE_SECONDS`.
    pub grace_seconds: u32,
    /// Leader election: `(LEADER_ELECTION_NAMESPACE, POD_NAME)`; `None` runs with
    /// `--leader-elect=false`.
    pub leader_election: Option<(String, String)>,
    /// Further environment variables.
    pub env: Vec<(String, String)>,
}

impl OperatorOptions {
    /// Watching only `namespace`, grace 5 s, no leader election.
    pub fn new(kubeconfig: &Path, namespace: &str) -> Self {
        Self {
            kubeconfig: kubeconfig.to_owned(),
            watch_namespaces: Some(vec![namespace.to_owned()]),
            grace_seconds: 5,
            leader_election: None,
            env: Vec::new(),
        }
    }

    /// With `POD_HEALTH_GRACE_SECONDS=seconds`.
    pub fn grace(mut self, seconds: u32) -> Self {
        self.grace_seconds = seconds;
        self
    }

    /// With leader election on a lease in `namespace`, as `identity`.
    pub fn leader_election(mut self, namespace: &str, identity: &str) -> Self {
        self.leader_election = Some((namespace.to_owned(), identity.to_owned()));
        self
    }

    /// The command line: `env` with a controlled environment, then the operator
    /// ([`test_cluster::operator::Command`]), with `POD_HEALTH_GRACE_SECONDS`.
    fn args(&self) -> Vec<String> {
        let mut command = test_cluster::operator::Command::new(binary(), self.kubeconfig.clone());
        command.watch_namespaces = self.watch_namespaces.clone();
        command.leader_election = self.leader_election.clone();
        command.env = [(
            "POD_HEALTH_GRACE_SECONDS".to_owned(),
            self.grace_seconds.to_string(),
        )]
        .into_iter()
        .chain(self.env.iter().cloned())
        .collect();
        command.args()
    }
}

/// A running (or killed) operator. Every start logs to its own file
/// (`<name>-<n>.log`) in the operator's folder.
pub struct Operator {
    name: String,
    options: OperatorOptions,
    dir: Option<tempfile::TempDir>,
    process: Option<ManagedProcess>,
    starts: usize,
}

impl Operator {
    /// Starts the operator; `name` names its logs (use the test's name).
    pub fn start(name: &str, options: OperatorOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("operator-{name}-"))
            .tempdir()
            .expect("operator log folder");
        let mut operator = Self {
            name: name.to_owned(),
            options,
            dir: Some(dir),
            process: None,
            starts: 0,
        };
        operator.spawn();
        operator
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("log folder").path()
    }

    fn spawn(&mut self) {
        assert!(self.process.is_none(), "the operator already runs");
        self.starts += 1;
        let log_name = format!("{}-{}", self.name, self.starts);
        let dir = self.dir().to_owned();
        let process = ManagedProcess::spawn(
            &log_name,
            Path::new("env"),
            &self.options.args(),
            &dir,
            &dir.join("run"),
        )
        .expect("the operator starts");
        self.process = Some(process);
    }

    /// The operator's pid (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(ManagedProcess::pid)
    }

    /// Kills the operator with `SIGKILL` (no graceful shutdown) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Starts the operator again (killing it first if it runs), with a fresh log file.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Panics with the log's tail if the operator has exited.
    pub fn assert_running(&mut self) {
        if let Some(process) = self.process.as_mut()
            && let Err(e) = process.check()
        {
            panic!("the operator {} exited: {e}", self.name);
        }
    }

    /// Whether the operator process is alive.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.check().is_ok())
    }

    /// The log of the current (or last) start.
    pub fn log(&self) -> String {
        self.log_of(self.starts)
    }

    /// The log of start number `n` (1-based).
    pub fn log_of(&self, n: usize) -> String {
        std::fs::read_to_string(self.log_path(n)).unwrap_or_default()
    }

    /// Every log of this operator, oldest start first.
    pub fn all_logs(&self) -> String {
        (1..=self.starts)
            .map(|n| format!("===== {} start {n} =====\n{}", self.name, self.log_of(n)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.dir().join(format!("{}-{n}.log", self.name))
    }

    /// The last lines of every start's log.
    pub fn log_tails(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                format!(
                    "----- operator {} start {n} ({}) -----\n{}",
                    self.name,
                    self.log_path(n).display(),
                    process::log_tail(&self.log_path(n), TAIL_LINES)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        let panicking = std::thread::panicking();
        if panicking {
            eprintln!("{}", self.log_tails());
        }
        let keep = std::env::var_os(KEEP_LOGS_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        if (panicking || keep)
            && let Some(dir) = self.dir.take()
        {
            eprintln!("operator logs kept in {}", dir.keep().display());
        }
    }
}
