//! Release checks (`make release-dry-run`, `.github/workflows/release.yml`): the names a
//! release publishes agree with Cargo.toml, the SBOM describes what Cargo.lock resolves,
//! the packaged chart carries the release version, and the workflow runs the same make
//! targets as the dry run.
//!
//! Every check returns the problems found, one line each (empty: all good).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::error::{GenError, read};

/// The release workflow, relative to the repository root.
pub const WORKFLOW: &str = ".github/workflows/release.yml";
/// The chart, relative to the repository root.
pub const CHART: &str = "charts/locust-k8s-operator";
/// The hand-written half of the CSV (its `containerImage` is the image repository).
pub const CSV_BASE: &str = "config/olm/csv.yaml";
/// The generated CSV.
pub const CSV: &str = "bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml";
/// The Makefile variable listing the release steps the workflow must run too.
pub const STEPS_VARIABLE: &str = "RELEASE_STEPS";
/// The make target that prints the release's names for the workflow's environment.
pub const ENV_TARGET: &str = "release-env";

/// The release's names, all derived from Cargo.toml (`scripts/release/env.sh` derives
/// them the same way for the shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `[package] version`.
    pub version: String,
    /// `[package] repository`: the one source-repository URL.
    pub repository: String,
    /// `[package.metadata.release] registry`, e.g. `ghcr.io/owner`.
    pub registry: String,
}

impl Release {
    /// Reads them from `root/Cargo.toml`.
    pub fn read(root: &Path) -> Result<Self, GenError> {
        let path = root.join("Cargo.toml");
        let text = read(&path)?;
        let field = |table: &str, key: &str| {
            toml_string(&text, table, key).ok_or_else(|| GenError::Invalid {
                path: path.clone(),
                message: format!("[{table}] has no `{key} = \"...\"`"),
            })
        };
        Ok(Self {
            version: field("package", "version")?,
            repository: field("package", "repository")?,
            registry: field("package.metadata.release", "registry")?,
        })
    }

    /// The operator image repository.
    pub fn image(&self) -> String {
        format!("{}/locust-k8s-operator", self.registry)
    }

    /// The tag a release of this version has.
    pub fn tag(&self) -> String {
        format!("v{}", self.version)
    }
}

/// A `key = "value"` line of a TOML table (the flat subset Cargo.toml uses).
pub fn toml_string(text: &str, table: &str, key: &str) -> Option<String> {
    let header = format!("[{table}]");
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
        } else if inside
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return v
                .trim()
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}

fn yaml(path: &Path) -> Result<Value, GenError> {
    serde_saphyr::from_str(&read(path)?).map_err(|e| GenError::Invalid {
        path: path.to_owned(),
        message: format!("invalid YAML: {e}"),
    })
}

fn expect(problems: &mut Vec<String>, what: &str, found: &Value, want: &str) {
    if found.as_str() != Some(want) {
        problems.push(format!("{what} is {found}, expected \"{want}\""));
    }
}

/// The names in the chart, the CSV's source and the generated bundle agree with
/// Cargo.toml, and `tag` (when given) is `v<version>`.
pub fn check_names(root: &Path, rel: &Release, tag: Option<&str>) -> Result<Vec<String>, GenError> {
    let mut problems = Vec::new();
    if let Some(tag) = tag
        && tag != rel.tag()
    {
        problems.push(format!(
            "the tag {tag} does not match Cargo.toml's version {} (expected {}): bump [package] version, run `make chart bundle`, commit, tag",
            rel.version,
            rel.tag()
        ));
    }
    let image = rel.image();
    let chart = yaml(&root.join(CHART).join("Chart.yaml"))?;
    problems.extend(check_chart_metadata(&chart, rel, "Chart.yaml"));
    let values = yaml(&root.join(CHART).join("values.yaml"))?;
    expect(
        &mut problems,
        "values.yaml image.repository",
        &values["image"]["repository"],
        &image,
    );
    let base = yaml(&root.join(CSV_BASE))?;
    expect(
        &mut problems,
        &format!("{CSV_BASE} metadata.annotations.containerImage"),
        &base["metadata"]["annotations"]["containerImage"],
        &image,
    );
    let csv = yaml(&root.join(CSV))?;
    let annotations = &csv["metadata"]["annotations"];
    expect(
        &mut problems,
        "the bundle's CSV spec.version",
        &csv["spec"]["version"],
        &rel.version,
    );
    expect(
        &mut problems,
        "the bundle's CSV containerImage",
        &annotations["containerImage"],
        &format!("{image}:{}", rel.version),
    );
    expect(
        &mut problems,
        "the bundle's CSV repository",
        &annotations["repository"],
        &rel.repository,
    );
    Ok(problems)
}

/// Every repository URL in `text` (`https://<host of the repository>/...`) is the
/// repository or below it.
fn foreign_repository_urls(text: &str, repository: &str) -> Vec<String> {
    let host = repository
        .strip_prefix("https://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let prefix = format!("https://{host}/");
    let mut foreign = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&prefix) {
        let url: String = rest[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ')' | '`'))
            .collect();
        let own = url == repository || url.starts_with(&format!("{repository}/"));
        if !own {
            foreign.push(url.clone());
        }
        rest = &rest[at + url.len().max(1)..];
    }
    foreign
}

/// Every string in `value`, recursively.
fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// A chart's metadata (Chart.yaml, or `helm show chart` of the package): version and
/// appVersion, the operator image in the Artifact Hub annotation, and the repository
/// URLs.
pub fn check_chart_metadata(chart: &Value, rel: &Release, what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    expect(
        &mut problems,
        &format!("{what} version"),
        &chart["version"],
        &rel.version,
    );
    expect(
        &mut problems,
        &format!("{what} appVersion"),
        &chart["appVersion"],
        &rel.version,
    );
    expect(
        &mut problems,
        &format!("{what} home"),
        &chart["home"],
        &rel.repository,
    );
    let image = format!("{}:{}", rel.image(), rel.version);
    let images = chart["annotations"]["artifacthub.io/images"]
        .as_str()
        .unwrap_or_default();
    if !images
        .lines()
        .any(|l| l.trim() == format!("image: {image}"))
    {
        problems.push(format!(
            "{what} artifacthub.io/images does not list {image} (run `make chart`)"
        ));
    }
    let mut strings = Vec::new();
    collect_strings(chart, &mut strings);
    for url in strings
        .iter()
        .flat_map(|s| foreign_repository_urls(s, &rel.repository))
    {
        problems.push(format!(
            "{what} names {url}, not the repository {} of Cargo.toml (run `make chart`)",
            rel.repository
        ));
    }
    let sources: Vec<&str> = chart["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !sources.contains(&rel.repository.as_str()) {
        problems.push(format!("{what} sources does not list {}", rel.repository));
    }
    problems
}

/// One `[[package]]` of Cargo.lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// `source`, e.g. `registry+https://github.com/rust-lang/crates.io-index`; empty for
    /// the workspace's own crates.
    pub source: String,
    /// The SHA-256 of the downloaded crate; empty for the workspace's own crates.
    pub checksum: String,
}

/// Cargo.lock's packages by (name, version).
pub fn lock_packages(text: &str) -> BTreeMap<(String, String), Locked> {
    let mut out = BTreeMap::new();
    for block in text.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(" = ")?;
                    (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
                })
                .unwrap_or_default()
        };
        out.insert(
            (field("name"), field("version")),
            Locked {
                source: field("source"),
                checksum: field("checksum"),
            },
        );
    }
    out
}

/// The names of a Cargo.toml table's keys (`[dependencies]`).
fn table_keys(text: &str, table: &str) -> Vec<String> {
    let header = format!("[{table}]");
    let mut inside = false;
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
        } else if inside
            && !line.starts_with('#')
            && let Some((k, _)) = line.split_once('=')
        {
            keys.push(k.trim().to_owned());
        }
    }
    keys
}

/// A CycloneDX SBOM (JSON) of the operator: it names the operator with the release
/// version, license and repository; every component is a crates.io crate of Cargo.lock
/// with its version, purl, license and Cargo.lock's checksum; every direct dependency of
/// Cargo.toml is among them.
pub fn check_sbom(sbom: &Value, cargo_toml: &str, cargo_lock: &str, rel: &Release) -> Vec<String> {
    let mut problems = Vec::new();
    expect(&mut problems, "bomFormat", &sbom["bomFormat"], "CycloneDX");
    if !sbom["specVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("1."))
    {
        problems.push(format!(
            "specVersion is {}, expected 1.x",
            sbom["specVersion"]
        ));
    }
    let main = &sbom["metadata"]["component"];
    expect(
        &mut problems,
        "metadata.component.name",
        &main["name"],
        "locust-k8s-operator",
    );
    expect(
        &mut problems,
        "metadata.component.version",
        &main["version"],
        &rel.version,
    );
    expect(
        &mut problems,
        "metadata.component licenses",
        &main["licenses"][0]["expression"],
        "Apache-2.0",
    );
    let vcs = main["externalReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "vcs");
    if vcs.map(|r| &r["url"]) != Some(&Value::from(rel.repository.as_str())) {
        problems.push(format!(
            "metadata.component has no vcs reference to {}",
            rel.repository
        ));
    }
    let lock = lock_packages(cargo_lock);
    let components = sbom["components"].as_array().cloned().unwrap_or_default();
    if components.is_empty() {
        problems.push("the SBOM lists no components".to_owned());
    }
    let mut names = BTreeSet::new();
    for c in &components {
        let (name, version) = (
            c["name"].as_str().unwrap_or_default(),
            c["version"].as_str().unwrap_or_default(),
        );
        names.insert(name.to_owned());
        let id = format!("{name}@{version}");
        let Some(locked) = lock.get(&(name.to_owned(), version.to_owned())) else {
            problems.push(format!("component {id} is not in Cargo.lock"));
            continue;
        };
        if !locked.source.contains("crates.io-index") {
            problems.push(format!(
                "component {id} is not from crates.io ({})",
                locked.source
            ));
        }
        expect(
            &mut problems,
            &format!("{id} purl"),
            &c["purl"],
            &format!("pkg:cargo/{id}"),
        );
        let license = c["licenses"][0]["expression"]
            .as_str()
            .or_else(|| c["licenses"][0]["license"]["id"].as_str())
            .or_else(|| c["licenses"][0]["license"]["name"].as_str());
        if license.is_none_or(str::is_empty) {
            problems.push(format!("component {id} has no license"));
        }
        let sha = c["hashes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["alg"] == "SHA-256")
            .and_then(|h| h["content"].as_str());
        if sha != Some(locked.checksum.as_str()) {
            problems.push(format!(
                "component {id}: SHA-256 {sha:?} is not Cargo.lock's checksum {}",
                locked.checksum
            ));
        }
    }
    for dep in table_keys(cargo_toml, "dependencies") {
        if !names.contains(&dep) {
            problems.push(format!("the direct dependency {dep} is not in the SBOM"));
        }
    }
    problems
}

/// The prerequisites of a Makefile variable (`NAME := a b c`, continuation lines joined).
pub fn makefile_list(makefile: &str, variable: &str) -> Vec<String> {
    let joined = makefile.replace("\\\n", " ");
    joined
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(":=").or_else(|| l.split_once(" = "))?;
            (name.trim() == variable).then(|| value.split_whitespace().map(str::to_owned).collect())
        })
        .unwrap_or_default()
}

/// The make targets a shell script runs (`make a b`, `make -C x a`), in order.
pub fn make_targets(script: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in script.replace("\\\n", " ").lines() {
        let mut words = line.split_whitespace().peekable();
        while let Some(word) = words.next() {
            if word != "make" {
                continue;
            }
            while let Some(arg) = words.peek() {
                if matches!(*arg, "&&" | "||" | ";" | "|" | ">>" | ">" | "2>&1") {
                    break;
                }
                let arg = words.next().unwrap_or_default();
                if !arg.starts_with('-') && !arg.contains('=') && !arg.contains('$') {
                    targets.push(arg.trim_end_matches(';').to_owned());
                }
            }
        }
    }
    targets
}

/// The release workflow: runs on `v*` tags, every job takes the names from `make
/// release-env` (no hard-coded registry or repository), and its steps run every make
/// target of the dry run's [`STEPS_VARIABLE`] and no other release target.
pub fn check_workflow(workflow_text: &str, makefile: &str, rel: &Release) -> Vec<String> {
    let mut problems = Vec::new();
    let workflow: Value = match serde_saphyr::from_str(workflow_text) {
        Ok(w) => w,
        Err(e) => return vec![format!("{WORKFLOW} is not valid YAML: {e}")],
    };
    // YAML 1.1 readers take `on` for `true`; serde-saphyr keeps it a string.
    let tags = &workflow["on"]["push"]["tags"];
    if !tags.as_array().is_some_and(|t| t.iter().any(|t| t == "v*")) {
        problems.push(format!(
            "{WORKFLOW} does not run on pushed `v*` tags (on.push.tags)"
        ));
    }
    for literal in [rel.registry.as_str(), rel.repository.as_str()] {
        if workflow_text.contains(literal) {
            problems.push(format!(
                "{WORKFLOW} hard-codes {literal}: use the env of `make {ENV_TARGET}` (Cargo.toml is the one place)"
            ));
        }
    }
    let steps = makefile_list(makefile, STEPS_VARIABLE);
    if steps.is_empty() {
        problems.push(format!("the Makefile has no {STEPS_VARIABLE} list"));
    }
    let mut called = Vec::new();
    let jobs = workflow["jobs"].as_object().cloned().unwrap_or_default();
    if jobs.is_empty() {
        problems.push(format!("{WORKFLOW} has no jobs"));
    }
    for (name, job) in &jobs {
        let runs: Vec<&str> = job["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["run"].as_str())
            .collect();
        let targets: Vec<String> = runs.iter().flat_map(|r| make_targets(r)).collect();
        let job_text = serde_json::to_string(job).unwrap_or_default();
        let uses_names = [
            "env.IMAGE",
            "env.BUNDLE_IMAGE",
            "env.CHART_REPO",
            "env.REGISTRY",
            "env.REPOSITORY",
            "env.VERSION",
        ]
        .iter()
        .any(|k| job_text.contains(k));
        if uses_names && targets.first().map(String::as_str) != Some(ENV_TARGET) {
            problems.push(format!(
                "job {name} uses the release names but does not run `make {ENV_TARGET}` first"
            ));
        }
        called.extend(targets);
    }
    for step in &steps {
        if !called.contains(step) {
            problems.push(format!(
                "{WORKFLOW} does not run `make {step}`, which the dry run does ({STEPS_VARIABLE})"
            ));
        }
    }
    for target in &called {
        if target.starts_with("release-") && target != ENV_TARGET && !steps.contains(target) {
            problems.push(format!(
                "{WORKFLOW} runs `make {target}`, which is not in the dry run's {STEPS_VARIABLE}"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel() -> Release {
        Release {
            version: "1.2.3".into(),
            repository: "https://github.com/o/n".into(),
            registry: "ghcr.io/o".into(),
        }
    }

    #[test]
    fn make_targets_are_read_from_shell_lines() {
        assert_eq!(
            make_targets(
                "make release-env >> \"$GITHUB_ENV\"\nmake -j2 a b V=1 && echo make\ncd x; make c\\\n  d"
            ),
            ["release-env", "a", "b", "c", "d"]
        );
    }

    #[test]
    fn makefile_lists_join_continuation_lines() {
        let mk = "X := a\nRELEASE_STEPS := one \\\n  two\\\n three\nother: x\n";
        assert_eq!(makefile_list(mk, "RELEASE_STEPS"), ["one", "two", "three"]);
        assert!(makefile_list(mk, "MISSING").is_empty());
    }

    #[test]
    fn foreign_urls_on_the_repository_host_are_found() {
        let text = "home: https://github.com/o/n\nx: https://github.com/o/n/blob/main/A.md\ny: 'https://github.com/other/n' https://example.com/z";
        assert_eq!(
            foreign_repository_urls(text, "https://github.com/o/n"),
            ["https://github.com/other/n"]
        );
        assert!(foreign_repository_urls(text, "https://github.com/o/n2").len() == 3);
    }

    #[test]
    fn toml_strings_are_read_from_their_table_only() {
        let t = "[workspace]\nversion = \"9\"\n[package]\nname = \"x\"\nversion = \"1.0.0\"\n[package.metadata.release]\nregistry = \"r\"\n";
        assert_eq!(
            toml_string(t, "package", "version").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            toml_string(t, "package.metadata.release", "registry").as_deref(),
            Some("r")
        );
        assert_eq!(toml_string(t, "package", "registry"), None);
    }

    fn reports(problems: &[String], needle: &str) -> bool {
        problems.iter().any(|p| p.contains(needle))
    }

    #[test]
    fn a_workflow_must_run_the_dry_run_steps_with_the_names_from_make() {
        let mk = "RELEASE_STEPS := release-a release-b\n";
        let good = "on:\n  push:\n    tags: [\"v*\"]\njobs:\n  one:\n    steps:\n      - run: make release-env >> \"$GITHUB_ENV\"\n      - run: make release-a release-b\n      - run: echo ${{ env.IMAGE }}\n";
        assert!(
            check_workflow(good, mk, &rel()).is_empty(),
            "{:?}",
            check_workflow(good, mk, &rel())
        );
        let missing = good.replace("make release-a release-b", "make release-a release-x");
        let p = check_workflow(&missing, mk, &rel());
        assert!(reports(&p, "does not run `make release-b`"), "{p:?}");
        assert!(reports(&p, "runs `make release-x`"), "{p:?}");
        let no_env = good.replace("make release-env >> \"$GITHUB_ENV\"", "echo");
        let p = check_workflow(&no_env, mk, &rel());
        assert!(reports(&p, "job one uses the release names"), "{p:?}");
        let literal = good.replace("${{ env.IMAGE }}", "ghcr.io/o/locust-k8s-operator");
        let p = check_workflow(&literal, mk, &rel());
        assert!(reports(&p, "hard-codes ghcr.io/o"), "{p:?}");
        let branch = good.replace("tags: [\"v*\"]", "branches: [main]");
        let p = check_workflow(&branch, mk, &rel());
        assert!(p.iter().any(|p| p.contains("`v*` tags")), "{p:?}");
    }
}
