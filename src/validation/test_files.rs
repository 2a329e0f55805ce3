//! Rules on `spec.testFiles`: one source of the test files, names, paths, the git
//! repository and ref, and the requirements.

use super::Errors;
use super::metadata::is_dns1123_subdomain;
use crate::api::v2::{GitTestFiles, LocustTestSpec, TestFilesSpec};

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    let Some(tf) = &spec.test_files else { return };
    let sources: Vec<&str> = [
        ("configMapRef", tf.config_map_ref.is_some()),
        (
            "persistentVolumeClaim",
            tf.persistent_volume_claim.is_some(),
        ),
        ("image", tf.image.is_some()),
        ("git", tf.git.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if sources.len() > 1 {
        errors.add(
            "spec.testFiles",
            format!(
                "set at most one source of the test files, not {}: keep configMapRef, \
                 persistentVolumeClaim, image or git",
                sources.join(" and ")
            ),
        );
    }
    check_names(tf, errors);
    for (field, value) in [
        ("spec.testFiles.srcMountPath", &tf.src_mount_path),
        ("spec.testFiles.libMountPath", &tf.lib_mount_path),
    ] {
        if let Some(v) = value
            && !v.starts_with('/')
        {
            errors.add(field, format!("{v:?} must be an absolute path"));
        }
    }
    if let Some(pvc) = &tf.persistent_volume_claim {
        check_relative(
            "spec.testFiles.persistentVolumeClaim.subPath",
            pvc.sub_path.as_deref(),
            errors,
        );
    }
    if let Some(image) = &tf.image
        && (image.reference.is_empty() || image.reference.chars().any(char::is_whitespace))
    {
        errors.add(
            "spec.testFiles.image.reference",
            format!(
                "{:?} is not an image reference, for example registry.example.com/tests:1.0",
                image.reference
            ),
        );
    }
    if let Some(git) = &tf.git {
        check_git(git, errors);
    }
    if let Some(key) = tf.requirements.as_ref().and_then(|r| r.key.as_deref())
        && !is_config_map_key(key)
    {
        errors.add(
            "spec.testFiles.requirements.key",
            format!(
                "{key:?} is not a ConfigMap key: letters, digits, '-', '_' and '.', for \
                 example requirements.txt"
            ),
        );
    }
}

/// The ConfigMap, PVC and Secret names.
fn check_names(tf: &TestFilesSpec, errors: &mut Errors) {
    let names = [
        (
            "spec.testFiles.configMapRef",
            "ConfigMap",
            tf.config_map_ref.as_ref(),
        ),
        (
            "spec.testFiles.libConfigMapRef",
            "ConfigMap",
            tf.lib_config_map_ref.as_ref(),
        ),
        (
            "spec.testFiles.persistentVolumeClaim.claimName",
            "PersistentVolumeClaim",
            tf.persistent_volume_claim.as_ref().map(|p| &p.claim_name),
        ),
        (
            "spec.testFiles.git.secretRef",
            "Secret",
            tf.git.as_ref().and_then(|g| g.secret_ref.as_ref()),
        ),
        (
            "spec.testFiles.requirements.configMapRef",
            "ConfigMap",
            tf.requirements.as_ref().map(|r| &r.config_map_ref),
        ),
    ];
    for (field, kind, value) in names {
        if let Some(v) = value
            && !is_dns1123_subdomain(v)
        {
            errors.add(field, format!("{v:?} is not a valid {kind} name"));
        }
    }
}

fn check_git(git: &GitTestFiles, errors: &mut Errors) {
    let repo = &git.repository;
    let authority = repo
        .strip_prefix("https://")
        .or_else(|| repo.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or_default());
    match authority {
        None => errors.add(
            "spec.testFiles.git.repository",
            format!(
                "{repo:?} must be an https:// (or http://) URL, for example \
                 https://github.com/example/load-tests.git"
            ),
        ),
        Some(a) if a.contains('@') => errors.add(
            "spec.testFiles.git.repository",
            "must not contain credentials: put them in a Secret (keys username and password) \
             and name it in git.secretRef",
        ),
        Some(a) if a.is_empty() || repo.chars().any(char::is_whitespace) => errors.add(
            "spec.testFiles.git.repository",
            format!("{repo:?} is not a repository URL"),
        ),
        Some(_) => {}
    }
    let r = &git.ref_;
    let ref_ok = r.len() <= 255
        && r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '+' | '-'));
    if !ref_ok {
        errors.add(
            "spec.testFiles.git.ref",
            format!(
                "{r:?} is not a branch, tag or commit: letters, digits, '.', '_', '/', '+' \
                 and '-', not starting with '-' or '.' (for example main, v1.2.0 or a \
                 40-character commit SHA)"
            ),
        );
    }
    check_relative("spec.testFiles.git.path", git.path.as_deref(), errors);
    if git.image.as_deref().is_some_and(|i| i.trim().is_empty()) {
        errors.add(
            "spec.testFiles.git.image",
            "must not be empty: leave it unset for the default or name an image with sh and git",
        );
    }
}

/// A path inside a volume: relative, never climbing out with `..`.
fn check_relative(field: &str, path: Option<&str>, errors: &mut Errors) {
    let Some(p) = path else { return };
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|part| part == "..") {
        errors.add(
            field,
            format!("{p:?} must be a relative path inside the volume, without '..'"),
        );
    }
}

/// A ConfigMap key: letters, digits, '-', '_' and '.', at most 253 characters.
fn is_config_map_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
