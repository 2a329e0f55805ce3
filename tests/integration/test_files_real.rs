//! The operator's init containers run for real on this machine: the exact command, args
//! and environment the builders give `lotest-pip` and `lotest-git`, with only what a pod
//! has and a local process has not mapped (every mapping is in [`Pod::local`]):
//! - a mount path of the container → a temporary folder per volume (also inside `env`
//!   values, such as `PYTHONPATH` and `LOTEST_GIT_DIR`); a ConfigMap volume is written
//!   there with its items as the kubelet would;
//! - the program `pip` → the pip of the cached Locust venv (`tests/locust/install.sh`),
//!   the same Python the official image's `pip` belongs to;
//! - `secretKeyRef` variables → the values of a fake Secret;
//! - for git only, `LOTEST_GIT_REPOSITORY` → a `file://` URL of a repository made here
//!   (the CRD allows only http(s) URLs; the script is the same).
//!
//! pip installs `tabulate` from PyPI into the packages folder, and real Locust imports it
//! from the `PYTHONPATH` the builders set (and cannot without it). git checks out a tag, a
//! branch and a commit of a local repository into the folder Locust mounts; its credential
//! helper answers with the Secret's username and password. A package that does not exist
//! or a ref that does not exist make the init container exit non-zero, which is what the
//! status turns into DependencyInstallFailed / TestFilesFetchFailed (`tests/integration/test_files.rs`).

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::core::v1::{Container, PodSpec};
use locust_k8s_operator::api::v2::{GitTestFiles, LocustTest, RequirementsSpec};
use locust_k8s_operator::builders::{self, Role};
use locust_k8s_operator::config::OperatorConfig;

use common::local_locust::locust_bin;

/// The package pip installs: small, pure Python, not in the Locust venv.
const PACKAGE: &str = "tabulate==0.9.0";

/// A locustfile that needs the package: it imports it at load time and uses it.
const LOCUSTFILE: &str = r#"import tabulate
from locust import User, constant, events, task

print("lotest-import:", tabulate.__file__, flush=True)


class Table(User):
    wait_time = constant(0.2)

    @task
    def render(self):
        tabulate.tabulate([[1, 2]], headers=["a", "b"])


@events.test_stop.add_listener
def done(environment, **_kwargs):
    print("lotest-rendered:", tabulate.tabulate([["ok"]]), flush=True)
"#;

/// A built pod of a test, and a local folder for each of its volumes.
struct Pod {
    spec: PodSpec,
    dir: tempfile::TempDir,
}

impl Pod {
    /// The worker pod of `test`, with a folder per volume.
    fn of(test: &LocustTest) -> Pod {
        let valid = locust_k8s_operator::validation::validate(test).expect("a valid test");
        let children = builders::build(&valid, &OperatorConfig::default()).expect("builds");
        let spec = children
            .job(Role::Worker)
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.clone())
            .expect("a pod template");
        let dir = tempfile::tempdir().expect("temp dir");
        for v in spec.volumes.iter().flatten() {
            fs::create_dir_all(dir.path().join(&v.name)).expect("volume folder");
        }
        Pod { spec, dir }
    }

    /// The local folder of volume `name`.
    fn volume(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `data` into ConfigMap volume `name` as the kubelet does: each item's key
    /// under the item's path (every key under its own name without items).
    fn fill_config_map(&self, name: &str, data: &BTreeMap<&str, &str>) {
        let cm = self
            .spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == name)
            .and_then(|v| v.config_map.clone())
            .unwrap_or_else(|| panic!("{name} is a ConfigMap volume"));
        let files: Vec<(String, String)> = match cm.items {
            Some(items) => items.into_iter().map(|i| (i.key, i.path)).collect(),
            None => data
                .keys()
                .map(|k| (k.to_string(), k.to_string()))
                .collect(),
        };
        for (key, path) in files {
            let value = data
                .get(key.as_str())
                .unwrap_or_else(|| panic!("key {key}"));
            fs::write(self.volume(name).join(path), value).expect("ConfigMap file");
        }
    }

    fn init(&self, name: &str) -> &Container {
        self.spec
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("init container {name}"))
    }

    fn locust(&self) -> &Container {
        &self.spec.containers[0]
    }

    /// `path` inside container `c` → the local path (by the container's mounts, with
    /// their subPath).
    fn map_path(&self, c: &Container, path: &str) -> String {
        for m in c.volume_mounts.iter().flatten() {
            let rest = match path.strip_prefix(m.mount_path.as_str()) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
                _ => continue,
            };
            let mut local = self.volume(&m.name);
            if let Some(sub) = &m.sub_path {
                local.push(sub);
            }
            return format!("{}{rest}", local.display());
        }
        path.to_string()
    }

    /// The environment of container `c`: paths mapped, `secretKeyRef` → `secret`.
    fn env_of(&self, c: &Container, secret: &BTreeMap<&str, &str>) -> Vec<(String, String)> {
        c.env
            .iter()
            .flatten()
            .map(|v| {
                let value = match (&v.value, &v.value_from) {
                    (Some(value), _) => value
                        .split(':')
                        .map(|part| self.map_path(c, part))
                        .collect::<Vec<_>>()
                        .join(":"),
                    (None, Some(from)) => {
                        let key = &from.secret_key_ref.as_ref().expect("a Secret key").key;
                        secret[key.as_str()].to_string()
                    }
                    (None, None) => String::new(),
                };
                (v.name.clone(), value)
            })
            .collect()
    }

    /// Container `c` as a local command: its program (`pip` → the venv's pip) and
    /// arguments with paths mapped, its environment, then `overrides`.
    fn local(
        &self,
        c: &Container,
        secret: &BTreeMap<&str, &str>,
        overrides: &[(&str, String)],
    ) -> Command {
        let mut argv: Vec<String> = c
            .command
            .iter()
            .flatten()
            .chain(c.args.iter().flatten())
            .map(|a| self.map_path(c, a))
            .collect();
        if argv[0] == "pip" {
            argv[0] = locust_bin().with_file_name("pip").display().to_string();
        }
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).envs(self.env_of(c, secret));
        for (k, v) in overrides {
            cmd.env(k, v);
        }
        cmd
    }
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("runs");
    eprintln!(
        "--- {:?}\n{}{}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn with_requirements() -> LocustTest {
    let mut t = common::locust_test("deps", 1);
    t.metadata.namespace = Some("default".into());
    t.spec.test_files.get_or_insert_default().requirements = Some(RequirementsSpec {
        config_map_ref: "deps".into(),
        key: Some("requirements-load.txt".into()),
    });
    t
}

#[test]
fn pip_installs_the_requirements_where_locust_imports_them() {
    let pod = Pod::of(&with_requirements());
    let pip = pod.init("lotest-pip");
    pod.fill_config_map(
        "lotest-requirements",
        &BTreeMap::from([("requirements-load.txt", PACKAGE)]),
    );
    let out = run(pod.local(pip, &BTreeMap::new(), &[]));
    assert!(out.status.success(), "pip installs {PACKAGE}");
    let pydeps = pod.volume("lotest-pydeps");
    assert!(
        pydeps.join("tabulate").is_dir(),
        "installed into the packages volume"
    );

    // Real Locust with the Locust container's environment imports it from there.
    fs::write(pod.volume("lotest-src").join("locustfile.py"), LOCUSTFILE).expect("locustfile");
    let locust = pod.locust();
    let env = pod.env_of(locust, &BTreeMap::new());
    assert!(env.iter().any(|(k, _)| k == "PYTHONPATH"), "{env:?}");
    let locustfile = pod.map_path(locust, "/lotest/src/locustfile.py");
    let headless = || {
        let mut cmd = Command::new(locust_bin());
        cmd.args([
            "-f",
            &locustfile,
            "--headless",
            "--users",
            "1",
            "--spawn-rate",
            "1",
        ])
        .args(["--run-time", "2s", "--only-summary"])
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null());
        cmd
    };
    let mut with_path = headless();
    with_path.envs(env.clone());
    let out = run(with_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "Locust runs the locustfile");
    assert!(
        stdout.contains(&format!(
            "lotest-import: {}",
            pydeps.join("tabulate").display()
        )),
        "imported from the packages volume: {stdout}"
    );
    assert!(stdout.contains("lotest-rendered:"), "{stdout}");

    // Without the builders' PYTHONPATH the venv has no such package.
    let out = run(headless());
    assert!(!out.status.success(), "the import fails without PYTHONPATH");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No module named 'tabulate'"));
}

#[test]
fn pip_fails_on_a_package_that_does_not_exist() {
    let pod = Pod::of(&with_requirements());
    pod.fill_config_map(
        "lotest-requirements",
        &BTreeMap::from([(
            "requirements-load.txt",
            "lotest-no-such-package-xyzzy==0.0.1\n",
        )]),
    );
    let out = run(pod.local(pod.init("lotest-pip"), &BTreeMap::new(), &[]));
    assert_eq!(out.status.code(), Some(1), "the init container exits 1");
}

/// A repository with `load/locustfile.py` at two commits: `first` tagged v1, `second` on
/// main. Returns the first commit's SHA.
fn repository(dir: &Path) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q", "-b", "main"]);
    fs::create_dir_all(dir.join("load")).expect("load folder");
    fs::write(dir.join("load/locustfile.py"), "# first\n").expect("write");
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    git(&["tag", "v1"]);
    let first = git(&["rev-parse", "HEAD"]);
    fs::write(dir.join("load/locustfile.py"), "# second\n").expect("write");
    git(&["commit", "-q", "-am", "second"]);
    first
}

fn from_git(ref_: &str) -> LocustTest {
    let mut t = common::locust_test("cloned", 1);
    t.metadata.namespace = Some("default".into());
    let files = t.spec.test_files.get_or_insert_default();
    files.config_map_ref = None;
    files.git = Some(GitTestFiles {
        repository: "https://git.example.com/load/tests.git".into(),
        ref_: ref_.into(),
        path: Some("load".into()),
        secret_ref: Some("git-credentials".into()),
        image: None,
    });
    t
}

#[test]
fn git_checks_out_a_tag_a_branch_or_a_commit_where_locust_reads() {
    let origin = tempfile::tempdir().expect("temp dir");
    let first = repository(origin.path());
    let url = format!("file://{}", origin.path().display());
    let secret = BTreeMap::from([("username", "load-bot"), ("password", "t0ken with spaces")]);
    for (ref_, want) in [
        ("v1", "# first\n"),
        ("main", "# second\n"),
        (first.as_str(), "# first\n"),
    ] {
        let pod = Pod::of(&from_git(ref_));
        let out = run(pod.local(
            pod.init("lotest-git"),
            &secret,
            &[("LOTEST_GIT_REPOSITORY", url.clone())],
        ));
        assert!(out.status.success(), "{ref_}: the clone succeeds");
        let locust = pod.locust();
        let file = pod.map_path(locust, "/lotest/src/locustfile.py");
        assert_eq!(
            fs::read_to_string(&file).unwrap_or_default(),
            want,
            "{ref_}: Locust reads the checked-out file at {file}"
        );
    }

    // The credential helper hands git the Secret's username and password.
    let pod = Pod::of(&from_git("main"));
    let mut child = Command::new("git")
        .args(["credential", "fill"])
        .envs(pod.env_of(pod.init("lotest-git"), &secret))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git credential runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"protocol=https\nhost=git.example.com\n\n")
        .expect("write");
    let out = child.wait_with_output().expect("git credential ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("username=load-bot\n") && stdout.contains("password=t0ken with spaces\n"),
        "{stdout}"
    );

    // A ref that does not exist fails the init container.
    let pod = Pod::of(&from_git("no-such-branch"));
    let out = run(pod.local(
        pod.init("lotest-git"),
        &secret,
        &[("LOTEST_GIT_REPOSITORY", url)],
    ));
    assert!(!out.status.success(), "a missing ref fails the clone");
}
