//! Volumes and mounts of the Locust pods.
//!
//! In this order: the test files ([`naming::SRC_VOLUME`] at `srcMountPath`, from any
//! source: see `test_files`), the library ConfigMap ([`naming::LIB_VOLUME`] at
//! `libMountPath`), the requirements file and the installed Python packages
//! (`testFiles.requirements`), `env.secretMounts`
//! (volumes [`naming::secret_mount_volume`], read-only unless `readOnly: false`) — all on
//! both roles — then the user's `volumes`, each only on the pods that mount it according to
//! `volumeMounts[].target` (default both). A volume that no mount of a role uses is not
//! added to that role's pods.

use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, SecretVolumeSource, Volume, VolumeMount};

use crate::api::v2::{DEFAULT_LIB_MOUNT_PATH, DEFAULT_SRC_MOUNT_PATH, LocustTestSpec, MountTarget};
use crate::naming;

use super::{BuildError, Ctx, Role, test_files};

/// Where the test files are mounted.
pub(crate) fn src_mount_path(spec: &LocustTestSpec) -> &str {
    spec.test_files
        .as_ref()
        .and_then(|t| t.src_mount_path.as_deref())
        .unwrap_or(DEFAULT_SRC_MOUNT_PATH)
}

/// Where the library ConfigMap is mounted.
pub(crate) fn lib_mount_path(spec: &LocustTestSpec) -> &str {
    spec.test_files
        .as_ref()
        .and_then(|t| t.lib_mount_path.as_deref())
        .unwrap_or(DEFAULT_LIB_MOUNT_PATH)
}

fn config_map_volume(name: &str, config_map: &str) -> Volume {
    Volume {
        name: name.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_string(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str, read_only: Option<bool>) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only,
        ..VolumeMount::default()
    }
}

fn targets(target: Option<MountTarget>, role: Role) -> bool {
    matches!(
        (target.unwrap_or(MountTarget::Both), role),
        (MountTarget::Both, _)
            | (MountTarget::Master, Role::Master)
            | (MountTarget::Worker, Role::Worker)
    )
}

/// The volumes of `role`'s pod and the mounts of its container.
pub(crate) fn volumes_and_mounts(
    ctx: &Ctx<'_>,
    role: Role,
) -> Result<(Vec<Volume>, Vec<VolumeMount>), BuildError> {
    let spec = ctx.spec;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();

    if let Some((volume, m)) = test_files::source(spec, src_mount_path(spec)) {
        volumes.push(volume);
        mounts.push(m);
    }
    if let Some(cm) = spec
        .test_files
        .as_ref()
        .and_then(|f| f.lib_config_map_ref.as_ref())
    {
        volumes.push(config_map_volume(naming::LIB_VOLUME, cm));
        mounts.push(mount(naming::LIB_VOLUME, lib_mount_path(spec), None));
    }
    if let Some((pip_volumes, m)) = test_files::requirements_volumes(spec) {
        volumes.extend(pip_volumes);
        mounts.push(m);
    }

    let secret_mounts = spec.env.as_ref().and_then(|e| e.secret_mounts.as_ref());
    for (i, secret) in secret_mounts.into_iter().flatten().enumerate() {
        let name = naming::secret_mount_volume(i);
        volumes.push(Volume {
            name: name.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.name.clone()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount(
            &name,
            &secret.mount_path,
            Some(secret.read_only.unwrap_or(true)),
        ));
    }

    let user_volumes = spec.volumes.as_deref().unwrap_or_default();
    let user_mounts = spec.volume_mounts.as_deref().unwrap_or_default();
    for (i, m) in user_mounts.iter().enumerate() {
        if !user_volumes.iter().any(|v| v.name == m.name) {
            return Err(BuildError::invalid(
                format!("spec.volumeMounts[{i}].name"),
                format!("no volume named {:?} in spec.volumes", m.name),
            ));
        }
        if targets(m.target, role) {
            mounts.push(VolumeMount {
                name: m.name.clone(),
                mount_path: m.mount_path.clone(),
                read_only: m.read_only,
                sub_path: m.sub_path.clone(),
                sub_path_expr: m.sub_path_expr.clone(),
                mount_propagation: m.mount_propagation.clone(),
                ..VolumeMount::default()
            });
        }
    }
    volumes.extend(
        user_volumes
            .iter()
            .filter(|v| {
                user_mounts
                    .iter()
                    .any(|m| m.name == v.name && targets(m.target, role))
            })
            .cloned(),
    );
    Ok((volumes, mounts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::{EnvSpec, SecretMount, TargetedVolumeMount, TestFilesSpec};
    use crate::builders::test_support::{minimal, with_ctx};
    use k8s_openapi::api::core::v1::EmptyDirVolumeSource;

    fn empty_dir(name: &str) -> Volume {
        Volume {
            name: name.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }
    }

    fn targeted(name: &str, path: &str, target: Option<MountTarget>) -> TargetedVolumeMount {
        TargetedVolumeMount {
            name: name.into(),
            mount_path: path.into(),
            target,
            ..Default::default()
        }
    }

    fn volume_names(v: &[Volume]) -> Vec<&str> {
        v.iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn test_files_default_and_custom_paths() {
        let mut t = minimal();
        t.spec.test_files = Some(TestFilesSpec {
            config_map_ref: Some("src-cm".into()),
            lib_config_map_ref: Some("lib-cm".into()),
            src_mount_path: None,
            lib_mount_path: Some("/custom/lib".into()),
            ..Default::default()
        });
        for role in [Role::Master, Role::Worker] {
            let (v, m) = with_ctx(&t, |c| volumes_and_mounts(c, role)).expect("valid");
            assert_eq!(volume_names(&v), [naming::SRC_VOLUME, naming::LIB_VOLUME]);
            assert_eq!(
                v[0].config_map.as_ref().map(|c| c.name.as_str()),
                Some("src-cm")
            );
            assert_eq!(
                v[1].config_map.as_ref().map(|c| c.name.as_str()),
                Some("lib-cm")
            );
            assert_eq!(m[0].mount_path, "/lotest/src");
            assert_eq!(m[1].mount_path, "/custom/lib");
        }
    }

    #[test]
    fn secret_mounts_use_generated_volume_names() {
        let mut t = minimal();
        t.spec.test_files = None;
        t.spec.env = Some(EnvSpec {
            secret_mounts: Some(vec![
                SecretMount {
                    name: "tls.certs".into(),
                    mount_path: "/certs".into(),
                    read_only: None,
                },
                SecretMount {
                    name: "other".into(),
                    mount_path: "/other".into(),
                    read_only: Some(false),
                },
            ]),
            ..Default::default()
        });
        for role in [Role::Master, Role::Worker] {
            let (v, m) = with_ctx(&t, |c| volumes_and_mounts(c, role)).expect("valid");
            assert_eq!(
                volume_names(&v),
                [
                    naming::secret_mount_volume(0),
                    naming::secret_mount_volume(1)
                ]
            );
            assert!(v.iter().all(|v| naming::is_dns1035_label(&v.name)));
            assert_eq!(
                v[0].secret.as_ref().and_then(|s| s.secret_name.as_deref()),
                Some("tls.certs")
            );
            assert_eq!(m[0].read_only, Some(true));
            assert_eq!(m[1].read_only, Some(false));
        }
    }

    #[test]
    fn user_volumes_follow_their_mounts() {
        let mut t = minimal();
        t.spec.test_files = None;
        t.spec.volumes = Some(vec![
            empty_dir("both"),
            empty_dir("master-only"),
            empty_dir("worker-only"),
            empty_dir("unmounted"),
            empty_dir("explicit-both"),
        ]);
        t.spec.volume_mounts = Some(vec![
            TargetedVolumeMount {
                read_only: Some(true),
                sub_path: Some("sub".into()),
                mount_propagation: Some("HostToContainer".into()),
                ..targeted("both", "/both", None)
            },
            targeted("master-only", "/m", Some(MountTarget::Master)),
            TargetedVolumeMount {
                sub_path_expr: Some("$(POD_NAME)".into()),
                ..targeted("worker-only", "/w", Some(MountTarget::Worker))
            },
            targeted("explicit-both", "/eb", Some(MountTarget::Both)),
        ]);
        let (mv, mm) = with_ctx(&t, |c| volumes_and_mounts(c, Role::Master)).expect("valid");
        let (wv, wm) = with_ctx(&t, |c| volumes_and_mounts(c, Role::Worker)).expect("valid");
        assert_eq!(volume_names(&mv), ["both", "master-only", "explicit-both"]);
        assert_eq!(volume_names(&wv), ["both", "worker-only", "explicit-both"]);
        assert_eq!(
            mm.iter().map(|m| m.mount_path.as_str()).collect::<Vec<_>>(),
            ["/both", "/m", "/eb"]
        );
        assert_eq!(mm[0].read_only, Some(true));
        assert_eq!(mm[0].sub_path.as_deref(), Some("sub"));
        assert_eq!(mm[0].mount_propagation.as_deref(), Some("HostToContainer"));
        assert_eq!(wm[1].sub_path_expr.as_deref(), Some("$(POD_NAME)"));
    }

    #[test]
    fn mount_of_unknown_volume_names_the_field() {
        let mut t = minimal();
        t.spec.volume_mounts = Some(vec![targeted("ghost", "/g", None)]);
        let e = with_ctx(&t, |c| volumes_and_mounts(c, Role::Master)).expect_err("unknown");
        assert!(
            e.to_string().starts_with("spec.volumeMounts[0].name:"),
            "{e}"
        );
    }
}
