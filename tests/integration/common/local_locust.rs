//! Real Locust run as local processes (from the venv `tests/locust/install.sh` makes), a
//! tiny HTTP target for it, and free loopback ports: shared by `tests/integration/locust_real.rs`,
//! `tests/integration/locust_otel.rs` and `tests/integration/controller_locust.rs`. [`Run`] starts the exact
//! invocation the builders produce, mapped to a local run by [`Mapping::map`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Container;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::builders::{self, Children, Role};
use locust_k8s_operator::config::OperatorConfig;
use locust_k8s_operator::locust::{LocustClient, master_url};

/// The pinned Locust version (keep in step with `tests/locust/requirements.txt`).
pub const LOCUST_VERSION: &str = "2.43.1";
/// The locustfile the local runs use.
pub const LOCUSTFILE: &str = include_str!("../../locust/locustfile.py");

/// The `locust` executable: `LOCUST_BIN`, or the venv `tests/locust/install.sh` creates.
/// Fails (never skips) with how to install it.
pub fn locust_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("LOCUST_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "LOCUST_BIN={} does not exist; run tests/locust/install.sh",
            bin.display()
        );
        return bin;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    let venv = cache
        .join("locust-k8s-operator")
        .join(format!("venv-locust-{LOCUST_VERSION}"));
    let bin = venv.join("bin").join("locust");
    assert!(
        bin.is_file() && venv.join(".installed").is_file(),
        "Locust {LOCUST_VERSION} is not installed (looked for {}): run `tests/locust/install.sh` \
         (needs python3 and PyPI; `make locust` and `.ci/run` do it) or set LOCUST_BIN to a \
         locust executable",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    test_cluster::operator::probe::free_port().expect("a free port on 127.0.0.1")
}

/// The load target on 127.0.0.1: `/ok` answers 200, everything else 500.
pub async fn start_target() -> u16 {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind target");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: hyper::Request<_>| async move {
                    let status = if req.uri().path() == "/ok" { 200 } else { 500 };
                    hyper::Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from_static(b"hi")))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// Starts `cmd` in its own process group (see [`kill_group`]) with stdin closed and stdout
/// and stderr written to a new file `log`.
pub fn spawn_in_group(cmd: &mut Command, log: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let out = fs::File::create(log).expect("log file");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()))
}

/// Kills the process group of a child started with `process_group(0)` (which includes the
/// processes a worker forks for `--processes`) and reaps it.
pub fn kill_group(child: &mut Child) {
    if child.try_wait().ok().flatten().is_none() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A free TCP port on 127.0.0.1 whose successor is free too (the master binds both).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = a.local_addr().expect("addr").port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports");
}

/// The Locust container of `role` in the built children.
pub fn container(children: &Children, role: Role) -> Container {
    children
        .job(role)
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers[0].clone())
        .expect("a container")
}

/// How a pod's paths and ports become a local run's.
pub struct Mapping {
    /// The temporary folder standing in for the pod's mounts.
    pub dir: PathBuf,
    /// The master's port for workers (5557 in a pod).
    pub master_port: u16,
    /// The master's web UI port (8089 in a pod).
    pub web_port: u16,
    /// The master Service's name (the workers' `--master-host`).
    pub service: String,
    /// Values of Secret keys, `(secret, key, value)`, for `env` entries that take their
    /// value from a Secret (`secretKeyRef`).
    pub secrets: Vec<(String, String, String)>,
}

/// The pod path of the operator's web UI auth plugin folder, and its local folder name.
const WEB_AUTH_PATH: (&str, &str) = ("/lotest/web-auth", "web-auth");

impl Mapping {
    /// Program, arguments and environment of `role`'s container, mapped to a local run.
    pub fn map(&self, c: &Container, role: Role) -> (PathBuf, Vec<String>, Vec<(String, String)>) {
        assert_eq!(c.command.as_deref(), Some(&["locust".to_string()][..]));
        let src = self.dir.join("src");
        let results = self.dir.join("results");
        let mut args: Vec<String> = c
            .args
            .iter()
            .flatten()
            .map(|a| {
                if let Some(rest) = a.strip_prefix("/lotest/src") {
                    format!("{}{rest}", src.display())
                } else if let Some(rest) = a.strip_prefix("/results") {
                    format!("{}{rest}", results.display())
                } else if a == "--master-port=5557" {
                    format!("--master-port={}", self.master_port)
                } else if a == &format!("--master-host={}", self.service) {
                    "--master-host=127.0.0.1".to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
        if role == Role::Master {
            args.extend([
                "--master-bind-host=127.0.0.1".to_string(),
                format!("--master-bind-port={}", self.master_port),
                "--web-host=127.0.0.1".to_string(),
                format!("--web-port={}", self.web_port),
            ]);
        }
        let web_auth = self.dir.join(WEB_AUTH_PATH.1);
        let env = c
            .env
            .iter()
            .flatten()
            .map(|e| {
                let from_secret = (e.value_from.as_ref())
                    .and_then(|f| f.secret_key_ref.as_ref())
                    .map(|r| {
                        let found = self
                            .secrets
                            .iter()
                            .find(|(s, k, _)| *s == r.name && *k == r.key);
                        found.map(|(_, _, v)| v.clone()).unwrap_or_else(|| {
                            panic!("{}: no value for Secret {}/{}", e.name, r.name, r.key)
                        })
                    });
                let v = e
                    .value
                    .clone()
                    .map(|v| v.replace(WEB_AUTH_PATH.0, &web_auth.display().to_string()));
                (
                    e.name.clone(),
                    v.or(from_secret)
                        .expect("only literal and Secret env values in this spec"),
                )
            })
            .collect();
        (locust_bin(), args, env)
    }
}

/// Writes the files of the master pod's downward API volume mounted at the web UI auth
/// path (annotations projected as files) under `dir`, as the kubelet would.
fn write_downward_api_files(children: &Children, dir: &Path) {
    let Some(template) = children
        .job(Role::Master)
        .spec
        .as_ref()
        .map(|s| &s.template)
    else {
        return;
    };
    let annotations = (template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let mounted = container(children, Role::Master)
        .volume_mounts
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.mount_path == WEB_AUTH_PATH.0)
        .map(|m| m.name)
        .collect::<Vec<_>>();
    let volumes = template.spec.as_ref().and_then(|s| s.volumes.clone());
    for volume in volumes
        .into_iter()
        .flatten()
        .filter(|v| mounted.contains(&v.name))
    {
        for item in volume
            .downward_api
            .and_then(|d| d.items)
            .into_iter()
            .flatten()
        {
            let field = item.field_ref.map(|f| f.field_path).unwrap_or_default();
            let key = field
                .strip_prefix("metadata.annotations['")
                .and_then(|k| k.strip_suffix("']"))
                .unwrap_or_else(|| panic!("unsupported downward API field {field}"));
            let path = dir.join(&item.path);
            fs::create_dir_all(path.parent().expect("parent")).expect("plugin dir");
            fs::write(&path, &annotations[key]).expect("plugin file");
        }
    }
}

/// The processes of one run; all killed (by process group) when dropped.
#[derive(Default)]
pub struct Procs {
    /// Name, process and log file of each process started.
    pub children: Vec<(String, Child, PathBuf)>,
}

impl Procs {
    /// Starts a mapped invocation with only PATH and HOME from the test's environment, in
    /// its own process group, logging to `<dir>/<name>.log`; returns its index.
    pub fn spawn(
        &mut self,
        name: &str,
        dir: &Path,
        (bin, args, env): (PathBuf, Vec<String>, Vec<(String, String)>),
    ) -> usize {
        eprintln!("start {name}: locust {}", args.join(" "));
        let log = dir.join(format!("{name}.log"));
        let child = spawn_in_group(
            Command::new(bin)
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", std::env::var_os("HOME").unwrap_or_default())
                .envs(env)
                .current_dir(dir),
            &log,
        );
        self.children.push((name.to_string(), child, log));
        self.children.len() - 1
    }

    /// Kills process `i`'s group.
    pub fn kill(&mut self, i: usize) {
        let (_, child, _) = &mut self.children[i];
        kill_group(child);
    }

    /// Process `i`'s exit status, if it has exited.
    pub fn try_wait(&mut self, i: usize) -> Option<ExitStatus> {
        self.children[i].1.try_wait().expect("try_wait")
    }

    /// Waits up to `limit` for process `i` to exit.
    pub async fn wait(&mut self, i: usize, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(s) = self.try_wait(i) {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (name, child, log) in &mut self.children {
            kill_group(child);
            if std::thread::panicking() {
                let text = fs::read_to_string(log.as_path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("---- {name} (last lines) ----");
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// A run set up from the builders' invocation.
pub struct Run {
    // Fields drop in order: the processes (and their logs) before the folder.
    /// The Locust processes.
    pub procs: Procs,
    /// The temporary folder (`src/` holds the locustfile, `results/` the outputs).
    pub dir: tempfile::TempDir,
    /// How the pod's paths and ports map to this run.
    pub mapping: Mapping,
    /// What the builders made of the test.
    pub children: Children,
}

impl Run {
    /// Builds `test`'s children and prepares a folder with the locustfile.
    pub async fn new(test: &LocustTest) -> Run {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(dir.path().join("src")).expect("src dir");
        fs::create_dir_all(dir.path().join("results")).expect("results dir");
        fs::write(dir.path().join("src/locustfile.py"), LOCUSTFILE).expect("locustfile");
        let valid = locust_k8s_operator::validation::validate(test).expect("a valid test");
        let children = builders::build(&valid, &OperatorConfig::default()).expect("build");
        let service = children
            .service
            .metadata
            .name
            .clone()
            .expect("service name");
        write_downward_api_files(&children, &dir.path().join(WEB_AUTH_PATH.1));
        let mapping = Mapping {
            dir: dir.path().to_path_buf(),
            master_port: free_port_pair(),
            web_port: free_port(),
            service,
            secrets: Vec::new(),
        };
        Run {
            dir,
            mapping,
            children,
            procs: Procs::default(),
        }
    }

    /// Starts `role`'s mapped invocation under `name`; returns its index in `procs`.
    pub fn start(&mut self, role: Role, name: &str) -> usize {
        let c = container(&self.children, role);
        let inv = self.mapping.map(&c, role);
        self.procs.spawn(name, self.dir.path(), inv)
    }

    /// The operator's Locust client for this run's master.
    pub fn client(&self, base_path: Option<&str>) -> LocustClient {
        let url = master_url(
            &format!("http://127.0.0.1:{}", self.mapping.web_port),
            &self.mapping.service,
            "default",
            base_path,
        )
        .expect("master url");
        LocustClient::new(url)
    }
}
