//! Rules on volumes and mounts: names, references, and paths the operator owns.

use std::collections::{BTreeMap, BTreeSet};

use super::Errors;
use super::spec::valid_volume_name;
use crate::api::v2::{DEFAULT_LIB_MOUNT_PATH, DEFAULT_SRC_MOUNT_PATH, LocustTestSpec, MountTarget};
use crate::builders::PYDEPS_PATH;
use crate::naming::RESERVED_VOLUME_PREFIX;

/// A path the operator mounts a test-files ConfigMap on.
struct Reserved {
    path: String,
    field: &'static str,
    why: &'static str,
}

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    let defined = check_volumes(spec, errors);
    let reserved = reserved_paths(spec);
    // mount path -> roles already using it, to catch two mounts on one path in one pod.
    let mut used: BTreeMap<String, (bool, bool, String)> = BTreeMap::new();
    for r in &reserved {
        used.insert(clean(&r.path), (true, true, r.field.to_string()));
    }

    for (i, m) in spec.volume_mounts.iter().flatten().enumerate() {
        let field = format!("spec.volumeMounts[{i}]");
        if !defined.contains(m.name.as_str()) {
            errors.add(
                format!("{field}.name"),
                format!("mounts volume {:?}, which spec.volumes does not define: add it there or fix the name", m.name),
            );
        }
        let target = m.target.unwrap_or(MountTarget::Both);
        let roles = (target != MountTarget::Worker, target != MountTarget::Master);
        check_path(
            &format!("{field}.mountPath"),
            &m.mount_path,
            roles,
            &reserved,
            &mut used,
            errors,
        );
    }
    for (i, m) in spec
        .env
        .iter()
        .flat_map(|e| e.secret_mounts.iter().flatten())
        .enumerate()
    {
        let field = format!("spec.env.secretMounts[{i}].mountPath");
        check_path(
            &field,
            &m.mount_path,
            (true, true),
            &reserved,
            &mut used,
            errors,
        );
    }
}

/// Checks volume names; returns the set of defined names.
fn check_volumes<'a>(spec: &'a LocustTestSpec, errors: &mut Errors) -> BTreeSet<&'a str> {
    let mut defined = BTreeSet::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let field = format!("spec.volumes[{i}].name");
        if !valid_volume_name(&v.name) {
            errors.add(
                &field,
                format!("{:?} is not a valid volume name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", v.name),
            );
        }
        if v.name.starts_with(RESERVED_VOLUME_PREFIX) {
            errors.add(
                &field,
                format!("{:?}: names starting with {RESERVED_VOLUME_PREFIX:?} are reserved for the operator's own volumes; rename the volume", v.name),
            );
        }
        if !defined.insert(v.name.as_str()) {
            errors.add(
                &field,
                format!("{:?} is defined twice; volume names must be unique", v.name),
            );
        }
    }
    defined
}

fn reserved_paths(spec: &LocustTestSpec) -> Vec<Reserved> {
    let mut out = Vec::new();
    if let Some(tf) = &spec.test_files {
        if tf.has_source() {
            out.push(Reserved {
                path: tf
                    .src_mount_path
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SRC_MOUNT_PATH.into()),
                field: "spec.testFiles.srcMountPath",
                why: "the test files are mounted there",
            });
        }
        if tf.requirements.is_some() {
            out.push(Reserved {
                path: PYDEPS_PATH.into(),
                field: "spec.testFiles.requirements",
                why: "the Python packages of testFiles.requirements are installed there",
            });
        }
        if tf.lib_config_map_ref.is_some() {
            out.push(Reserved {
                path: tf
                    .lib_mount_path
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LIB_MOUNT_PATH.into()),
                field: "spec.testFiles.libMountPath",
                why: "the library files (testFiles.libConfigMapRef) are mounted there",
            });
        }
    }
    out
}

fn check_path(
    field: &str,
    path: &str,
    (on_master, on_worker): (bool, bool),
    reserved: &[Reserved],
    used: &mut BTreeMap<String, (bool, bool, String)>,
    errors: &mut Errors,
) {
    if !path.starts_with('/') {
        errors.add(field, format!("{path:?} must be an absolute path"));
        return;
    }
    let p = clean(path);
    for r in reserved {
        let rp = clean(&r.path);
        if p == rp || p.starts_with(&format!("{}/", rp.trim_end_matches('/'))) {
            errors.add(
                field,
                format!(
                    "{path:?} is on or under {} ({:?}): {}; choose another path",
                    r.field, r.path, r.why
                ),
            );
            return;
        }
    }
    match used.get_mut(&p) {
        Some((m, w, first)) if (*m && on_master) || (*w && on_worker) => errors.add(
            field,
            format!(
                "{path:?} is already used by {first}; two mounts cannot share a path in one pod"
            ),
        ),
        Some((m, w, _)) => {
            *m |= on_master;
            *w |= on_worker;
        }
        None => {
            used.insert(p, (on_master, on_worker, field.to_string()));
        }
    }
}

/// `/a//b/` → `/a/b`, so textual variants of one path compare equal.
fn clean(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    format!("/{}", parts.join("/"))
}
