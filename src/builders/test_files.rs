//! Where the Locust containers find the test files, and the operator's init containers.
//!
//! Every source of `spec.testFiles` becomes the volume [`naming::SRC_VOLUME`], mounted
//! read-only at `srcMountPath`: the ConfigMap, the PersistentVolumeClaim (with its
//! `subPath`), the image volume, or for git an emptyDir that the init container
//! [`naming::GIT_CONTAINER`] fills (a shallow fetch of one ref) and the Locust container
//! mounts at `repo/<path>`.
//!
//! `testFiles.requirements` adds the init container [`naming::PIP_CONTAINER`] (the Locust
//! image) that runs `pip install --target` [`PYDEPS_PATH`] from the requirements file
//! (volume [`naming::REQUIREMENTS_VOLUME`]) into the emptyDir [`naming::PYDEPS_VOLUME`],
//! which the Locust container mounts read-only there (and has on its `PYTHONPATH`).
//!
//! User values never become shell code: the git script is a constant that reads the
//! repository and the ref from environment variables, and pip gets its arguments as a list.

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ImageVolumeSource, KeyToPath, PersistentVolumeClaimVolumeSource, SecretKeySelector, Volume,
    VolumeMount,
};

use super::{Ctx, Role, env, pod, resources};
use crate::api::test_files::{DEFAULT_GIT_IMAGE, DEFAULT_REQUIREMENTS_KEY};
use crate::api::v2::{GitTestFiles, LocustTestSpec, RequirementsSpec, TestFilesSpec};
use crate::naming;

/// Where the Python packages of `testFiles.requirements` are installed (and mounted).
pub const PYDEPS_PATH: &str = "/lotest/pydeps";
/// Where pip's init container finds the requirements file.
const REQUIREMENTS_DIR: &str = "/lotest/requirements";
/// Name of the requirements file in [`REQUIREMENTS_DIR`], whatever its ConfigMap key.
const REQUIREMENTS_FILE: &str = "requirements.txt";
/// Where the git init container mounts [`naming::SRC_VOLUME`].
const GIT_DIR: &str = "/lotest/git";
/// Folder of the clone inside [`GIT_DIR`].
const GIT_CLONE: &str = "repo";

/// The git init container's script: a constant. It fetches only the wanted ref (branch,
/// tag or commit) and checks it out, reading every value from the environment.
const GIT_SCRIPT: &str = r#"set -eu
repo="$LOTEST_GIT_DIR/repo"
git init -q "$repo"
cd "$repo"
git remote add origin "$LOTEST_GIT_REPOSITORY"
git fetch -q --depth 1 --end-of-options origin "$LOTEST_GIT_REF"
git -c advice.detachedHead=false checkout -q FETCH_HEAD
echo "lotest-git: checked out $(git rev-parse HEAD) for ref $LOTEST_GIT_REF"
"#;

/// The git credential helper used with `testFiles.git.secretRef`: answers with the
/// Secret's username and password from the environment (a constant, run by git's shell).
const GIT_CREDENTIAL_HELPER: &str = r#"!f() { test "$1" = get || exit 0; printf 'username=%s\npassword=%s\n' "$LOTEST_GIT_USERNAME" "$LOTEST_GIT_PASSWORD"; }; f"#;

fn test_files(spec: &LocustTestSpec) -> Option<&TestFilesSpec> {
    spec.test_files.as_ref()
}

/// The requirements of the test, if any.
pub(crate) fn requirements(spec: &LocustTestSpec) -> Option<&RequirementsSpec> {
    test_files(spec).and_then(|t| t.requirements.as_ref())
}

fn mount(name: &str, path: &str, read_only: bool, sub_path: Option<String>) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        sub_path,
        ..VolumeMount::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// The volume holding the test files and the Locust container's mount of it, from the one
/// source of `spec.testFiles` (none without a source).
pub(crate) fn source(spec: &LocustTestSpec, src_mount_path: &str) -> Option<(Volume, VolumeMount)> {
    let files = test_files(spec)?;
    let name = naming::SRC_VOLUME;
    let volume = |v: Volume| Volume {
        name: name.to_string(),
        ..v
    };
    if let Some(cm) = &files.config_map_ref {
        let v = volume(Volume {
            config_map: Some(ConfigMapVolumeSource {
                name: cm.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        // ConfigMap volumes are read-only anyway.
        return Some((v, mount(name, src_mount_path, false, None)));
    }
    if let Some(pvc) = &files.persistent_volume_claim {
        let read_only = pvc.read_only.unwrap_or(true);
        let v = volume(Volume {
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: pvc.claim_name.clone(),
                read_only: read_only.then_some(true),
            }),
            ..Volume::default()
        });
        return Some((
            v,
            mount(name, src_mount_path, read_only, pvc.sub_path.clone()),
        ));
    }
    if let Some(image) = &files.image {
        let v = volume(Volume {
            image: Some(ImageVolumeSource {
                reference: Some(image.reference.clone()),
                pull_policy: image.pull_policy.map(|p| p.as_str().to_string()),
            }),
            ..Volume::default()
        });
        return Some((v, mount(name, src_mount_path, true, None)));
    }
    let git = files.git.as_ref()?;
    let sub_path = match git.path.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("{GIT_CLONE}/{p}"),
        _ => GIT_CLONE.to_string(),
    };
    Some((
        empty_dir(name),
        mount(name, src_mount_path, true, Some(sub_path)),
    ))
}

/// The volumes of `testFiles.requirements` and the Locust container's mount of the
/// installed packages.
pub(crate) fn requirements_volumes(spec: &LocustTestSpec) -> Option<([Volume; 2], VolumeMount)> {
    let req = requirements(spec)?;
    let key = req.key.as_deref().unwrap_or(DEFAULT_REQUIREMENTS_KEY);
    let file = Volume {
        name: naming::REQUIREMENTS_VOLUME.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: req.config_map_ref.clone(),
            items: Some(vec![KeyToPath {
                key: key.to_string(),
                path: REQUIREMENTS_FILE.to_string(),
                mode: None,
            }]),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    Some((
        [file, empty_dir(naming::PYDEPS_VOLUME)],
        mount(naming::PYDEPS_VOLUME, PYDEPS_PATH, true, None),
    ))
}

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    }
}

fn secret_var(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// The init container that clones `git`.
fn git_container(ctx: &Ctx<'_>, role: Role, git: &GitTestFiles) -> Container {
    let mut env = vec![
        var("LOTEST_GIT_REPOSITORY", &git.repository),
        var("LOTEST_GIT_REF", &git.ref_),
        var("LOTEST_GIT_DIR", GIT_DIR),
        var("HOME", GIT_DIR),
        var("GIT_TERMINAL_PROMPT", "0"),
    ];
    if let Some(secret) = &git.secret_ref {
        env.extend([
            secret_var("LOTEST_GIT_USERNAME", secret, "username"),
            secret_var("LOTEST_GIT_PASSWORD", secret, "password"),
            var("GIT_CONFIG_COUNT", "1"),
            var("GIT_CONFIG_KEY_0", "credential.helper"),
            var("GIT_CONFIG_VALUE_0", GIT_CREDENTIAL_HELPER),
        ]);
    }
    Container {
        name: naming::GIT_CONTAINER.to_string(),
        image: Some(
            git.image
                .clone()
                .unwrap_or_else(|| DEFAULT_GIT_IMAGE.to_string()),
        ),
        command: Some(vec!["sh".into(), "-c".into(), GIT_SCRIPT.into()]),
        env: Some(env),
        resources: resources::resources(ctx, role),
        volume_mounts: Some(vec![mount(naming::SRC_VOLUME, GIT_DIR, false, None)]),
        security_context: Some(pod::container_security_context(ctx)),
        ..Container::default()
    }
}

/// The init container that pip-installs the requirements, with the user's environment
/// (so `PIP_INDEX_URL` and other `PIP_*` settings in `spec.env` apply).
fn pip_container(ctx: &Ctx<'_>, role: Role) -> Container {
    let file = format!("{REQUIREMENTS_DIR}/{REQUIREMENTS_FILE}");
    let args = [
        "install",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--target",
        PYDEPS_PATH,
        "--requirement",
        &file,
    ];
    let user_env = ctx.spec.env.as_ref().and_then(|e| e.variables.clone());
    let env_from = env::env_from(ctx);
    Container {
        name: naming::PIP_CONTAINER.to_string(),
        image: Some(ctx.spec.image.clone()),
        image_pull_policy: ctx.spec.image_pull_policy.map(|p| p.as_str().to_string()),
        command: Some(vec!["pip".into()]),
        args: Some(args.iter().map(|a| (*a).to_string()).collect()),
        env: user_env.filter(|v| !v.is_empty()),
        env_from: (!env_from.is_empty()).then_some(env_from),
        resources: resources::resources(ctx, role),
        volume_mounts: Some(vec![
            mount(naming::REQUIREMENTS_VOLUME, REQUIREMENTS_DIR, true, None),
            mount(naming::PYDEPS_VOLUME, PYDEPS_PATH, false, None),
        ]),
        security_context: Some(pod::container_security_context(ctx)),
        ..Container::default()
    }
}

/// The operator's init containers of `role`'s pods, in order: git, then pip.
pub(crate) fn init_containers(ctx: &Ctx<'_>, role: Role) -> Vec<Container> {
    let files = test_files(ctx.spec);
    let git = files
        .and_then(|t| t.git.as_ref())
        .map(|g| git_container(ctx, role, g));
    let pip = requirements(ctx.spec).map(|_| pip_container(ctx, role));
    git.into_iter().chain(pip).collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PodSpec;

    use super::*;
    use crate::api::v2::{
        EnvSpec, ImagePullPolicy, ImageTestFiles, LocustTest, PodExtensions, PvcTestFiles,
    };
    use crate::builders::Children;
    use crate::builders::test_support::build;
    use crate::builders::test_support::{container, minimal, names, pod};
    use crate::config::OperatorConfig;

    fn git() -> GitTestFiles {
        GitTestFiles {
            repository: "https://git.example.com/load/tests.git".into(),
            ref_: "v1.2.0".into(),
            path: None,
            secret_ref: None,
            image: None,
        }
    }

    fn with_files(edit: impl FnOnce(&mut TestFilesSpec)) -> LocustTest {
        let mut t = minimal();
        let files = t.spec.test_files.get_or_insert_default();
        files.config_map_ref = None;
        edit(files);
        t
    }

    fn built(t: &LocustTest) -> Children {
        build(t, &OperatorConfig::default()).expect("builds")
    }

    /// The test-files volume and the Locust container's mount of it, the same on both roles.
    fn src(children: &Children) -> (Volume, VolumeMount) {
        let of = |role| {
            let p: &PodSpec = pod(children, role);
            let v = p
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == naming::SRC_VOLUME);
            let m = container(children, role)
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == naming::SRC_VOLUME);
            (v.cloned().expect("volume"), m.cloned().expect("mount"))
        };
        let master = of(Role::Master);
        assert_eq!(master, of(Role::Worker), "both roles read the same files");
        master
    }

    fn env_value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
        c.env
            .iter()
            .flatten()
            .find(|v| v.name == name)
            .and_then(|v| v.value.as_deref())
    }

    #[test]
    fn a_config_map_is_mounted_as_before() {
        let (v, m) = src(&built(&minimal()));
        assert_eq!(v.config_map.map(|c| c.name), Some("demo-locustfile".into()));
        assert_eq!((m.mount_path.as_str(), m.read_only), ("/lotest/src", None));
    }

    #[test]
    fn a_claim_is_mounted_read_only_unless_asked() {
        let t = with_files(|f| {
            f.persistent_volume_claim = Some(PvcTestFiles {
                claim_name: "big-tests".into(),
                sub_path: Some("checkout".into()),
                read_only: None,
            });
            f.src_mount_path = Some("/tests".into());
        });
        let (v, m) = src(&built(&t));
        let claim = v.persistent_volume_claim.expect("a PVC volume");
        assert_eq!(
            (claim.claim_name.as_str(), claim.read_only),
            ("big-tests", Some(true))
        );
        assert_eq!(m.mount_path, "/tests");
        assert_eq!(m.sub_path.as_deref(), Some("checkout"));
        assert_eq!(m.read_only, Some(true));

        let t = with_files(|f| {
            f.persistent_volume_claim = Some(PvcTestFiles {
                claim_name: "big-tests".into(),
                sub_path: None,
                read_only: Some(false),
            });
        });
        let (v, m) = src(&built(&t));
        assert_eq!(v.persistent_volume_claim.and_then(|c| c.read_only), None);
        assert_eq!((m.read_only, m.sub_path), (None, None));
    }

    #[test]
    fn an_image_becomes_an_image_volume() {
        let t = with_files(|f| {
            f.image = Some(ImageTestFiles {
                reference: "registry.example.com/tests:1.0".into(),
                pull_policy: Some(ImagePullPolicy::Always),
            });
        });
        let (v, m) = src(&built(&t));
        let image = v.image.expect("an image volume");
        assert_eq!(
            image.reference.as_deref(),
            Some("registry.example.com/tests:1.0")
        );
        assert_eq!(image.pull_policy.as_deref(), Some("Always"));
        assert_eq!(
            (m.mount_path.as_str(), m.read_only),
            ("/lotest/src", Some(true))
        );
        let children = built(&t);
        assert!(pod(&children, Role::Master).init_containers.is_none());
    }

    #[test]
    fn git_is_cloned_by_an_init_container_into_the_mounted_folder() {
        let t = with_files(|f| {
            f.git = Some(GitTestFiles {
                path: Some("/load/checkout/".into()),
                ..git()
            });
        });
        let children = built(&t);
        let (v, m) = src(&children);
        assert!(v.empty_dir.is_some(), "an emptyDir the clone fills");
        assert_eq!(m.sub_path.as_deref(), Some("repo/load/checkout"));
        assert_eq!(m.read_only, Some(true));
        for role in [Role::Master, Role::Worker] {
            let p = pod(&children, role);
            assert_eq!(names(p.init_containers.as_ref()), [naming::GIT_CONTAINER]);
            let c = &p.init_containers.as_ref().expect("init")[0];
            assert_eq!(c.image.as_deref(), Some(DEFAULT_GIT_IMAGE));
            assert_eq!(
                c.command.as_deref(),
                Some(&["sh".to_string(), "-c".into(), GIT_SCRIPT.into()][..])
            );
            assert_eq!(c.args, None);
            // The clone lands in repo/ of the volume, which Locust mounts.
            assert!(GIT_SCRIPT.contains(&format!("\"$LOTEST_GIT_DIR/{GIT_CLONE}\"")));
            let mounts = c.volume_mounts.as_deref().unwrap_or_default();
            assert_eq!(mounts[0].name, naming::SRC_VOLUME);
            assert_eq!(
                env_value(c, "LOTEST_GIT_DIR"),
                Some(mounts[0].mount_path.as_str())
            );
            assert_eq!(
                env_value(c, "LOTEST_GIT_REPOSITORY"),
                Some("https://git.example.com/load/tests.git")
            );
            assert_eq!(env_value(c, "LOTEST_GIT_REF"), Some("v1.2.0"));
            assert_eq!(env_value(c, "GIT_TERMINAL_PROMPT"), Some("0"));
            assert!(env_value(c, "GIT_CONFIG_COUNT").is_none(), "no credentials");
            assert_eq!(
                c.security_context,
                container(&children, role).security_context,
                "the Locust container's security context"
            );
        }
    }

    #[test]
    fn user_values_never_reach_the_script() {
        let sneaky = "main$(touch /tmp/pwned);`id`";
        let t = with_files(|f| {
            f.git = Some(GitTestFiles {
                ref_: sneaky.into(),
                image: Some("registry.example.com/git:2".into()),
                ..git()
            });
        });
        let children = built(&t);
        let c = &pod(&children, Role::Worker)
            .init_containers
            .as_ref()
            .expect("init")[0];
        assert_eq!(c.image.as_deref(), Some("registry.example.com/git:2"));
        let script = c.command.as_ref().expect("command").join(" ");
        assert!(!script.contains(sneaky) && !script.contains("git.example.com"));
        assert_eq!(env_value(c, "LOTEST_GIT_REF"), Some(sneaky));
    }

    #[test]
    fn git_credentials_come_from_the_secret() {
        let t = with_files(|f| {
            f.git = Some(GitTestFiles {
                secret_ref: Some("git-credentials".into()),
                ..git()
            });
        });
        let children = built(&t);
        let c = &pod(&children, Role::Master)
            .init_containers
            .as_ref()
            .expect("init")[0];
        for (var, key) in [
            ("LOTEST_GIT_USERNAME", "username"),
            ("LOTEST_GIT_PASSWORD", "password"),
        ] {
            let from = c
                .env
                .iter()
                .flatten()
                .find(|v| v.name == var)
                .and_then(|v| v.value_from.as_ref())
                .and_then(|f| f.secret_key_ref.as_ref())
                .expect("from the Secret");
            assert_eq!(
                (from.name.as_str(), from.key.as_str()),
                ("git-credentials", key)
            );
        }
        assert_eq!(env_value(c, "GIT_CONFIG_KEY_0"), Some("credential.helper"));
        assert_eq!(
            env_value(c, "GIT_CONFIG_VALUE_0"),
            Some(GIT_CREDENTIAL_HELPER)
        );
    }

    #[test]
    fn requirements_are_installed_before_locust_on_both_roles() {
        let mut t = minimal();
        let files = t.spec.test_files.get_or_insert_default();
        files.lib_config_map_ref = Some("lib".into());
        files.requirements = Some(RequirementsSpec {
            config_map_ref: "deps".into(),
            key: Some("reqs-prod.txt".into()),
        });
        t.spec.image_pull_policy = Some(ImagePullPolicy::IfNotPresent);
        t.spec.env = Some(EnvSpec {
            variables: Some(vec![var("PIP_INDEX_URL", "https://pypi.internal/simple")]),
            ..EnvSpec::default()
        });
        t.spec.pod = Some(PodExtensions {
            init_containers: Some(vec![Container {
                name: "wait".into(),
                image: Some("busybox:1.37".into()),
                ..Container::default()
            }]),
            ..PodExtensions::default()
        });
        let children = built(&t);
        for role in [Role::Master, Role::Worker] {
            let p = pod(&children, role);
            assert_eq!(
                names(p.init_containers.as_ref()),
                [naming::PIP_CONTAINER, "wait"],
                "the operator's first, then the user's"
            );
            let pip = &p.init_containers.as_ref().expect("init")[0];
            assert_eq!(pip.image.as_deref(), Some("locustio/locust:2.43.1"));
            assert_eq!(pip.image_pull_policy.as_deref(), Some("IfNotPresent"));
            let args = pip.args.clone().unwrap_or_default();
            let after = |flag: &str| {
                let i = args.iter().position(|a| a == flag).expect(flag);
                args[i + 1].clone()
            };
            assert_eq!(after("--target"), PYDEPS_PATH);
            assert_eq!(
                after("--requirement"),
                "/lotest/requirements/requirements.txt"
            );
            assert_eq!(
                env_value(pip, "PIP_INDEX_URL"),
                Some("https://pypi.internal/simple"),
                "pip sees the user's PIP_* settings"
            );
            let file = p
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == naming::REQUIREMENTS_VOLUME)
                .and_then(|v| v.config_map.clone())
                .expect("the requirements ConfigMap");
            assert_eq!(file.name, "deps");
            let item = &file.items.expect("one key")[0];
            assert_eq!(
                (item.key.as_str(), item.path.as_str()),
                ("reqs-prod.txt", "requirements.txt")
            );
            let locust = container(&children, role);
            let pydeps = locust
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == naming::PYDEPS_VOLUME)
                .expect("Locust mounts the packages");
            assert_eq!(
                (pydeps.mount_path.as_str(), pydeps.read_only),
                (PYDEPS_PATH, Some(true))
            );
            assert_eq!(
                env_value(locust, "PYTHONPATH"),
                Some("/opt/locust/lib:/lotest/pydeps"),
                "the library first, then the packages"
            );
            assert!(
                !locust
                    .volume_mounts
                    .iter()
                    .flatten()
                    .any(|m| m.name == naming::REQUIREMENTS_VOLUME),
                "only pip reads the requirements file"
            );
        }
    }

    #[test]
    fn without_requirements_or_git_there_are_no_init_containers() {
        let children = built(&minimal());
        for role in [Role::Master, Role::Worker] {
            assert!(pod(&children, role).init_containers.is_none());
            assert!(env_value(container(&children, role), "PYTHONPATH").is_none());
        }
    }
}
