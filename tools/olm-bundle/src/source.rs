//! The inputs of the bundle, read from the repository: nothing here is OLM-specific
//! except `config/olm/`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::BundleError;
use crate::yaml;

/// The committed CRD (`make crd`).
pub const CRD_FILE: &str = "crd/locusttests.locust.io.yaml";
/// The RBAC sources (one Role or ClusterRole per file).
pub const RBAC_DIR: &str = "config/rbac";
/// The examples; the stored API version's ones become `alm-examples`.
pub const EXAMPLES_DIR: &str = "examples";
/// The hand-written part of the CSV.
pub const CSV_BASE_FILE: &str = "config/olm/csv.yaml";
/// The package name and channels.
pub const PACKAGE_FILE: &str = "config/olm/package.yaml";
/// The icon.
pub const ICON_FILE: &str = "config/olm/icon.svg";
/// The operator's manifest (its `[package] version` is the bundle's version, its
/// `repository` the project's source repository).
pub const CARGO_FILE: &str = "Cargo.toml";
/// The changelog: its marker line records the commit (and its date) it is generated up
/// to, the CSV's `createdAt` (tools/repo-gen, `make changelog`).
pub const CHANGELOG_FILE: &str = "CHANGELOG.md";
/// The Go module operator-sdk is built from (`make olm-bins`): its version pins the
/// scorecard's test image.
pub const OPERATOR_SDK_GO_MOD: &str = "tests/olm/go.mod";

/// One RBAC source file.
#[derive(Debug, Clone)]
pub struct RbacSource {
    /// The file, relative to the repository root.
    pub file: String,
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// The `app.kubernetes.io/component` label, if any.
    pub component: Option<String>,
    /// The rules, as written.
    pub rules: Vec<Value>,
}

/// The package name and its channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The OLM package name.
    pub name: String,
    /// Every channel a release goes to.
    pub channels: Vec<String>,
    /// The channel a Subscription without one gets.
    pub default_channel: String,
}

/// Everything the bundle is made from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The operator's version (`Cargo.toml`).
    pub version: String,
    /// The source repository's URL (`Cargo.toml`'s `repository`).
    pub repository: String,
    /// When the release was made: the committer date (UTC) of the commit CHANGELOG.md is
    /// generated up to, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
    /// The operator-sdk version (`tests/olm/go.mod`), the scorecard test image's tag.
    pub operator_sdk_version: String,
    /// The CRD, parsed.
    pub crd: Value,
    /// The CRD as committed (copied into the bundle unchanged).
    pub crd_text: String,
    /// `config/olm/csv.yaml`.
    pub csv_base: Value,
    /// `config/olm/package.yaml`.
    pub package: Package,
    /// `config/rbac/*.yaml`, sorted by file name.
    pub rbac: Vec<RbacSource>,
    /// Every document of `examples/*.yaml`, files sorted by name.
    pub examples: Vec<Value>,
    /// `config/olm/icon.svg`.
    pub icon_svg: Vec<u8>,
}

impl Sources {
    /// Reads every input below the repository root `root`.
    pub fn read(root: &Path) -> Result<Self, BundleError> {
        let crd_path = root.join(CRD_FILE);
        let crd_text = yaml::read(&crd_path)?;
        let crd = single(&crd_path, yaml::documents(&crd_path, &crd_text)?)?;
        let icon_path = root.join(ICON_FILE);
        let cargo = root.join(CARGO_FILE);
        Ok(Self {
            version: cargo_version(&cargo)?,
            repository: cargo_repository(&cargo)?,
            created_at: changelog_date(&root.join(CHANGELOG_FILE))?,
            operator_sdk_version: operator_sdk_version(&root.join(OPERATOR_SDK_GO_MOD))?,
            crd,
            crd_text,
            csv_base: yaml::document(&root.join(CSV_BASE_FILE))?,
            package: package(&root.join(PACKAGE_FILE))?,
            rbac: rbac(root)?,
            examples: examples(&root.join(EXAMPLES_DIR))?,
            icon_svg: std::fs::read(&icon_path).map_err(BundleError::io(&icon_path))?,
        })
    }
}

fn single(path: &Path, mut docs: Vec<Value>) -> Result<Value, BundleError> {
    if docs.len() == 1 {
        Ok(docs.remove(0))
    } else {
        Err(BundleError::invalid(
            path,
            format!("expected one YAML document, found {}", docs.len()),
        ))
    }
}

/// A string value of the `[package]` table: `Some(Ok(value))`, `Some(Err(line))` when the
/// key is there but not a plain string, `None` when it is missing.
fn cargo_package_field(text: &str, key: &str) -> Option<Result<String, String>> {
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(rest) = line.strip_prefix(key)
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            let value = value.trim();
            return Some(
                value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .map(str::to_string)
                    .ok_or_else(|| line.to_string()),
            );
        }
    }
    None
}

/// The `version` of the `[package]` table.
pub fn cargo_version(path: &Path) -> Result<String, BundleError> {
    match cargo_package_field(&yaml::read(path)?, "version") {
        Some(Ok(v)) if is_semver(&v) => Ok(v),
        Some(Ok(v)) => Err(BundleError::invalid(
            path,
            format!("[package] version {v:?} is not a semantic version like \"1.2.3\""),
        )),
        Some(Err(line)) => Err(BundleError::invalid(
            path,
            format!("[package] {line:?} is not a semantic version like \"1.2.3\""),
        )),
        None => Err(BundleError::invalid(path, "no version in [package]")),
    }
}

/// The `repository` of the `[package]` table: the project's one source-repository URL
/// (the chart, the CSV and the release workflow take it from there).
pub fn cargo_repository(path: &Path) -> Result<String, BundleError> {
    match cargo_package_field(&yaml::read(path)?, "repository") {
        Some(Ok(url)) if url.starts_with("https://") && !url.ends_with('/') => Ok(url),
        _ => Err(BundleError::invalid(
            path,
            "[package] needs `repository = \"https://<host>/<owner>/<name>\"` (no trailing slash): the project's source repository",
        )),
    }
}

/// The date recorded in CHANGELOG.md's `<!-- generated up to commit <sha>, committed
/// <date> -->` line (`make changelog`).
pub fn changelog_date(path: &Path) -> Result<String, BundleError> {
    let text = yaml::read(path)?;
    let date = text.lines().find_map(|l| {
        l.strip_prefix("<!-- generated up to commit ")?
            .strip_suffix(" -->")?
            .split_once(", committed ")
            .map(|(_, date)| date.trim().to_string())
    });
    match date {
        Some(d) if is_utc_timestamp(&d) => Ok(d),
        _ => Err(BundleError::invalid(
            path,
            "no `<!-- generated up to commit <sha>, committed <YYYY-MM-DDTHH:MM:SSZ> -->` line: run `make changelog`",
        )),
    }
}

fn is_utc_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The operator-sdk version required by `tests/olm/go.mod`.
pub fn operator_sdk_version(path: &Path) -> Result<String, BundleError> {
    yaml::read(path)?
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "github.com/operator-framework/operator-sdk")
                .then(|| words.next().map(str::to_string))?
        })
        .filter(|v| v.starts_with('v'))
        .ok_or_else(|| {
            BundleError::invalid(
                path,
                "no `github.com/operator-framework/operator-sdk vX.Y.Z` requirement",
            )
        })
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn package(path: &Path) -> Result<Package, BundleError> {
    let doc = yaml::document(path)?;
    let text = |key: &str| {
        doc.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| BundleError::invalid(path, format!("`{key}` must be a string")))
    };
    let channels: Vec<String> = doc
        .get("channels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let package = Package {
        name: text("package")?,
        default_channel: text("defaultChannel")?,
        channels,
    };
    if !package.channels.contains(&package.default_channel) {
        return Err(BundleError::invalid(
            path,
            format!(
                "defaultChannel {:?} is not one of channels {:?}",
                package.default_channel, package.channels
            ),
        ));
    }
    Ok(package)
}

/// The `*.yaml` files of a folder, sorted by name.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, BundleError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(BundleError::io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

fn rbac(root: &Path) -> Result<Vec<RbacSource>, BundleError> {
    let mut out = Vec::new();
    for path in yaml_files(&root.join(RBAC_DIR))? {
        let doc = yaml::document(&path)?;
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind != "Role" && kind != "ClusterRole" {
            return Err(BundleError::invalid(
                &path,
                format!("expected kind Role or ClusterRole, found {kind:?}"),
            ));
        }
        let rules = doc
            .get("rules")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .cloned()
            .ok_or_else(|| BundleError::invalid(&path, "`rules` must be a non-empty list"))?;
        let component = doc
            .pointer("/metadata/labels/app.kubernetes.io~1component")
            .and_then(Value::as_str)
            .map(str::to_string);
        let file = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        out.push(RbacSource {
            file,
            kind: kind.to_string(),
            component,
            rules,
        });
    }
    Ok(out)
}

fn examples(dir: &Path) -> Result<Vec<Value>, BundleError> {
    let mut out = Vec::new();
    for path in yaml_files(dir)? {
        out.extend(yaml::documents(&path, &yaml::read(&path)?)?);
    }
    Ok(out)
}
