//! A real control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler and kwok, in one folder, stopped on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard};

use kube::config::Kubeconfig;

use crate::binaries::{Binaries, bin_dir};
use crate::certs::Pki;
use crate::error::{Error, Result};
use crate::kubeconfig::{self, Credentials};
use crate::process::{Janitor, ManagedProcess};
use crate::real_node::{self, RealNode};
use crate::{components, kwok};

mod ready;
mod users;

/// Environment variable: when set (to anything but `0`), a temporary cluster folder is
/// kept after the cluster stops, and its path printed, to read the logs.
pub const KEEP_DIR_ENV: &str = "TEST_CLUSTER_KEEP_DIR";

/// How many times start-up is tried when a chosen port was taken by someone else.
const START_ATTEMPTS: usize = 3;

/// How a cluster is started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run in this folder and keep it afterwards (`test-cluster up` does). Default: a
    /// fresh temporary folder, removed when the cluster stops.
    pub dir: Option<PathBuf>,
    /// Where the binaries are. Default: [`bin_dir`].
    pub bin_dir: Option<PathBuf>,
    /// Further `kube-apiserver` flags, after the usual ones (a later flag wins), such as
    /// `--max-requests-inflight=5` or an audit log for the fault-injection suite.
    pub apiserver_extra_args: Vec<String>,
    /// Serve a real node instead of kwok nodes (see [`crate::real_node`]): the API server
    /// listens on the node's bridge address and no kwok runs.
    pub real_node: Option<RealNode>,
}

/// Files and folders of one cluster.
#[derive(Debug, Clone)]
struct Layout {
    dir: PathBuf,
    pki: PathBuf,
    logs: PathBuf,
    run: PathBuf,
    etcd_data: PathBuf,
    kubeconfig: PathBuf,
    users: PathBuf,
    stages: PathBuf,
}

impl Layout {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            pki: dir.join("pki"),
            logs: dir.join("logs"),
            run: dir.join("run"),
            etcd_data: dir.join("etcd"),
            kubeconfig: dir.join("kubeconfig"),
            users: dir.join("users"),
            stages: dir.join("kwok-stages.yaml"),
        }
    }
}

/// A running control plane with kwok nodes.
///
/// Dropping it stops every process (also while a test panics); if the owning process dies
/// without dropping it, the processes stop by themselves (see [`crate::process`]).
#[derive(Debug)]
pub struct Cluster {
    layout: Layout,
    server: String,
    pki: Pki,
    admin: Kubeconfig,
    processes: Mutex<Vec<ManagedProcess>>,
    /// How each process was started (name, program, arguments), to restart it.
    specs: Mutex<Vec<(String, PathBuf, Vec<String>)>>,
    janitor: Mutex<Option<Janitor>>,
    /// The folder is temporary but kept on request ([`KEEP_DIR_ENV`]): say where.
    announce_kept: bool,
    issued: AtomicUsize,
}

impl Cluster {
    /// Starts a fresh cluster in a temporary folder and waits until it is ready: the API
    /// server answers `/readyz`, the nodes are Ready and the `default` service account
    /// exists.
    pub async fn start() -> Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// Starts a cluster as `options` say (see [`Cluster::start`]).
    pub async fn start_with(options: Options) -> Result<Self> {
        let binaries = match &options.bin_dir {
            Some(dir) => Binaries::locate_in(dir)?,
            None => Binaries::locate_in(&bin_dir())?,
        };
        let mut attempt = 1;
        loop {
            match Self::start_once(&options, &binaries).await {
                Err(e) if attempt < START_ATTEMPTS && e.is_port_clash() => attempt += 1,
                other => return other,
            }
        }
    }

    async fn start_once(options: &Options, binaries: &Binaries) -> Result<Self> {
        let keep_requested =
            std::env::var_os(KEEP_DIR_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        let keep_dir = options.dir.is_some() || keep_requested;
        let dir = match &options.dir {
            Some(dir) => {
                let dir = std::path::absolute(dir).map_err(Error::io("resolving", dir))?;
                for stale in ["etcd", "run", "logs", "users"] {
                    let path = dir.join(stale);
                    if path.exists() {
                        std::fs::remove_dir_all(&path).map_err(Error::io("removing", &path))?;
                    }
                }
                std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
                dir
            }
            None => tempfile::Builder::new()
                .prefix("test-cluster-")
                .tempdir()
                .map_err(Error::io(
                    "creating a temporary folder in",
                    std::env::temp_dir(),
                ))?
                .keep(),
        };
        let layout = Layout::new(&dir);
        // Before anything else, so that the folder goes away whatever happens next.
        let janitor = if keep_dir {
            None
        } else {
            Some(Janitor::spawn(&dir)?)
        };

        let extra_sans = options
            .real_node
            .map(|node| node.serving_sans())
            .unwrap_or_default();
        let pki = Pki::generate_with_sans(&extra_sans)?;
        let files = pki.write_to(&layout.pki)?;
        let [etcd_port, etcd_peer_port] = free_ports()?;
        let (apiserver_host, apiserver_port) = match options.real_node {
            Some(node) => (node.ip.to_string(), free_port_on(node.ip)?),
            None => ("127.0.0.1".to_owned(), free_ports::<1>()?[0]),
        };
        let server = format!("https://{apiserver_host}:{apiserver_port}");

        let admin_cert = pki.issue_client("kubernetes-admin", &["system:masters"])?;
        let admin = kubeconfig::build(
            &server,
            &pki.serving_ca_pem,
            "kubernetes-admin",
            &Credentials::ClientCert(admin_cert),
        );
        kubeconfig::write(&layout.kubeconfig, &admin)?;
        std::fs::write(&layout.stages, kwok::STAGES_YAML)
            .map_err(Error::io("writing", &layout.stages))?;

        let mut cluster = Self {
            layout,
            server,
            pki,
            admin,
            processes: Mutex::new(Vec::new()),
            specs: Mutex::new(Vec::new()),
            janitor: Mutex::new(janitor),
            announce_kept: options.dir.is_none() && keep_requested,
            issued: AtomicUsize::new(0),
        };
        let component_kubeconfig = |name: &str| -> Result<String> {
            let user = format!("system:{name}");
            let cert = cluster.pki.issue_client(&user, &["system:masters"])?;
            let config = kubeconfig::build(
                &cluster.server,
                &cluster.pki.serving_ca_pem,
                &user,
                &Credentials::ClientCert(cert),
            );
            let path = cluster.layout.pki.join(format!("{name}.kubeconfig"));
            kubeconfig::write(&path, &config)?;
            Ok(path.display().to_string())
        };
        let kcm_kubeconfig = component_kubeconfig("kube-controller-manager")?;
        let scheduler_kubeconfig = component_kubeconfig("kube-scheduler")?;
        let kwok_kubeconfig = component_kubeconfig("kwok")?;

        let l = cluster.layout.clone();
        cluster.spawn(
            "etcd",
            &binaries.etcd,
            &components::etcd_args(&l.etcd_data, etcd_port, etcd_peer_port),
        )?;
        let mut apiserver_args =
            components::apiserver_args(&l.pki.join("apiserver"), &files, etcd_port, apiserver_port);
        if let Some(node) = options.real_node {
            let kubelet_client =
                real_node::write_kubeconfigs(&cluster.pki, &cluster.server, &l.pki)?;
            apiserver_args.extend(node.apiserver_args(&kubelet_client));
        }
        apiserver_args.extend(options.apiserver_extra_args.iter().cloned());
        cluster.spawn("kube-apiserver", &binaries.kube_apiserver, &apiserver_args)?;
        // The others start once the API server is ready: kube-controller-manager gives up
        // (exit 1) when the API server is not healthy within 10 s of its start, which a
        // loaded machine can exceed.
        let deadline = ready::deadline();
        cluster.wait_for_api_server(deadline).await?;
        cluster.spawn(
            "kube-controller-manager",
            &binaries.kube_controller_manager,
            &components::controller_manager_args(&files, &kcm_kubeconfig),
        )?;
        cluster.spawn(
            "kube-scheduler",
            &binaries.kube_scheduler,
            &components::scheduler_args(&scheduler_kubeconfig),
        )?;
        if options.real_node.is_some() {
            // The node registers itself once tests/e2e/node.sh starts its kubelet.
            let client = cluster.client().await?;
            cluster
                .wait_for_default_service_account(&client, "default", deadline)
                .await?;
            return Ok(cluster);
        }
        cluster.spawn(
            "kwok",
            &binaries.kwok,
            &kwok::args(&kwok_kubeconfig, &l.stages.display().to_string()),
        )?;

        cluster.wait_until_ready(deadline).await?;
        Ok(cluster)
    }

    fn spawn(&mut self, name: &str, program: &Path, args: &[String]) -> Result<()> {
        let process =
            ManagedProcess::spawn(name, program, args, &self.layout.logs, &self.layout.run)?;
        self.lock_processes().push(process);
        self.specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name.to_owned(), program.to_owned(), args.to_vec()));
        Ok(())
    }

    /// Kills the named components (`SIGKILL`, last named first), starts them again with
    /// the same ports, data and flags (first named first), and waits until the API server
    /// answers `/readyz` again. For fault injection: `restart(&["etcd",
    /// "kube-apiserver"])` takes the whole API away under its clients and brings it back
    /// with every object it stored. Logs of the new processes are appended to the old.
    pub async fn restart(&self, names: &[&str]) -> Result<()> {
        {
            let mut processes = self.lock_processes();
            for name in names.iter().rev() {
                if let Some(i) = processes.iter().position(|p| p.name() == *name) {
                    let mut process = processes.remove(i);
                    process.stop();
                }
            }
        }
        let specs = self
            .specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for name in names {
            let (_, program, args) = specs
                .iter()
                .find(|(n, _, _)| n == name)
                .ok_or_else(|| Error::Daemon(format!("no component named {name}")))?;
            let process =
                ManagedProcess::spawn(name, program, args, &self.layout.logs, &self.layout.run)?;
            self.lock_processes().push(process);
        }
        self.wait_for_api_server(ready::deadline()).await
    }

    fn lock_processes(&self) -> MutexGuard<'_, Vec<ManagedProcess>> {
        // A panic while holding the lock leaves the list intact.
        self.processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Ok` while every process runs; otherwise which one exited, with its log's tail.
    pub fn check(&self) -> Result<()> {
        self.lock_processes()
            .iter_mut()
            .try_for_each(ManagedProcess::check)
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The folder holding the cluster's certificates, kubeconfigs, logs and etcd data.
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The folder holding one log file per process (`<name>.log`).
    pub fn log_dir(&self) -> &Path {
        &self.layout.logs
    }

    /// The admin kubeconfig (user `kubernetes-admin` in group `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.layout.kubeconfig
    }

    /// The admin kubeconfig's contents.
    pub fn admin_kubeconfig(&self) -> &Kubeconfig {
        &self.admin
    }

    /// The serving CA certificate (PEM) that clients trust.
    pub fn ca_pem(&self) -> &str {
        &self.pki.serving_ca_pem
    }

    /// The servers' pids by component name (`etcd`, `kube-apiserver`, ...).
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.lock_processes()
            .iter()
            .filter_map(|p| p.pid().map(|pid| (p.name().to_owned(), pid)))
            .collect()
    }

    /// The pids of the `sh` wrappers that watch the servers.
    pub fn wrapper_pids(&self) -> Vec<u32> {
        self.lock_processes()
            .iter()
            .map(ManagedProcess::wrapper_pid)
            .collect()
    }

    /// A fresh admin client, bound to the calling tokio runtime.
    pub async fn client(&self) -> Result<kube::Client> {
        kubeconfig::client(&self.admin).await
    }

    /// Stops every process and removes the temporary folder (what dropping does).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut processes = std::mem::take(&mut *self.lock_processes());
        // Close every watch pipe first so the servers die together, then reap, kwok
        // first and etcd last.
        processes.iter_mut().for_each(ManagedProcess::begin_stop);
        while let Some(mut process) = processes.pop() {
            process.stop();
        }
        let janitor = self
            .janitor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(mut janitor) = janitor {
            janitor.finish();
        } else if self.announce_kept {
            eprintln!("test-cluster: kept {}", self.layout.dir.display());
        }
    }
}

/// A free port on `ip`.
fn free_port_on(ip: std::net::Ipv4Addr) -> Result<u16> {
    let what = ip.to_string();
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(Error::io("binding a free port on", what.as_str()))
}

/// `N` distinct free ports on 127.0.0.1 (taken together so they differ).
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(Error::io("binding a free port on", "127.0.0.1"))?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(Error::io("binding a free port on", "127.0.0.1"))?
            .port();
    }
    Ok(ports)
}
