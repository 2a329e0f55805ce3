//! The user documentation (docs/, an mdBook) cannot drift from the code: the API reference
//! is what the CRD gives, the troubleshooting page explains exactly the reasons of
//! `src/status/reason.rs`, the field guide links every field, every page is in the book's
//! table of contents, and the README's links lead somewhere. (The built book's links are
//! checked by `make docs-check`, see `repo_gen::links`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use repo_gen::{api_docs, check_dir};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_committed_api_reference_is_current() {
    let pages = api_docs::generate(&root()).expect("the CRD");
    assert_eq!(
        pages.keys().map(String::as_str).collect::<Vec<_>>(),
        ["v1.md", "v2.md"]
    );
    let problems = check_dir(&root(), api_docs::DIR, &pages);
    assert!(
        problems.is_empty(),
        "{problems:?}: run `make api-docs` and commit docs/src/api/"
    );
    // Every field of the stored version, with its type and validation, e.g.:
    let v2 = &pages["v2.md"];
    for part in [
        "### `spec.worker.replicas` {#spec.worker.replicas}",
        "**integer (int32)**, required",
        "- from 1 to 500",
        "### `spec.testFiles.git.ref` {#spec.testFiles.git.ref}",
        "### `status.result.p95ResponseTime`",
        "| Result | `.status.conditions[?(@.type==\"Ready\")].reason` |",
    ] {
        assert!(v2.contains(part), "v2.md has `{part}`");
    }
    assert!(pages["v1.md"].contains("**Deprecated.**"));
    assert!(pages["v1.md"].contains("### `spec.masterCommandSeed`"));
}

/// The reason values of `src/status/reason.rs`.
fn reasons() -> BTreeSet<String> {
    let source = read("src/status/reason.rs");
    let reasons: BTreeSet<String> = source
        .lines()
        .filter(|l| l.starts_with("pub const") && l.contains(": &str = \""))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(reasons.len() > 40, "{reasons:?}");
    reasons
}

#[test]
fn troubleshooting_explains_every_reason_and_no_other() {
    let page = read("docs/src/troubleshooting.md");
    let mut documented = BTreeSet::new();
    let sections: Vec<&str> = page.split("\n### `").skip(1).collect();
    for section in sections {
        let (reason, body) = section.split_once("`\n").expect("### `Reason`");
        assert!(
            body.trim().len() > 40,
            "troubleshooting.md: `{reason}` says what it means and what to do"
        );
        assert!(
            documented.insert(reason.to_owned()),
            "troubleshooting.md: `{reason}` twice"
        );
    }
    let known = reasons();
    let missing: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "docs/src/troubleshooting.md lacks a `### `Reason`` section for {missing:?} (src/status/reason.rs)"
    );
    assert!(
        unknown.is_empty(),
        "docs/src/troubleshooting.md explains {unknown:?}, which src/status/reason.rs does not have"
    );
}

#[test]
fn the_field_guide_links_every_field_to_its_reference() {
    let crd: serde_json::Value =
        serde_saphyr::from_str(&read(api_docs::CRD)).expect("the CRD parses");
    let v2 = crd["spec"]["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == "v2"))
        .expect("v2");
    let guide = read("docs/src/fields.md");
    let fields = api_docs::fields(&v2["schema"]["openAPIV3Schema"]);
    let mut checked = 0;
    for f in fields {
        // The spec's own fields and their children: `spec.a` and `spec.a.b`.
        let depth = f.path.split('.').count();
        if !f.path.starts_with("spec.") || depth > 3 || f.path.contains("[]") {
            continue;
        }
        let link = format!("(api/v2.md#{})", api_docs::anchor(&f.path));
        assert!(
            guide.contains(&link),
            "docs/src/fields.md explains `{}` and links it: {link}",
            f.path
        );
        checked += 1;
    }
    assert!(checked > 60, "{checked} fields");
}

#[test]
fn every_page_is_in_the_table_of_contents() {
    let summary = read("docs/src/SUMMARY.md");
    let src = root().join("docs/src");
    let mut pages = Vec::new();
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).expect("under src");
        if rel.extension().is_some_and(|e| e == "md") && rel != Path::new("SUMMARY.md") {
            pages.push(rel.display().to_string());
        }
    }
    assert!(pages.len() > 25, "{pages:?}");
    for page in pages {
        assert!(
            summary.contains(&format!("]({page})")),
            "docs/src/SUMMARY.md lists {page}"
        );
    }
    // The metrics page is another part of the book's work; it must stay listed.
    assert!(summary.contains("[Metrics and dashboard](metrics.md)"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("docs/src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_readme_is_a_front_page_whose_links_resolve() {
    let readme = read("README.md");
    // Its quick start: `make demo`, then `make test`.
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("make "))
        .take(2)
        .collect();
    assert_eq!(commands.len(), 2, "README has a quick start");
    assert!(commands[0].starts_with("make demo"), "{commands:?}");
    assert!(commands[1].starts_with("make test"), "{commands:?}");
    assert!(
        readme.lines().count() < 120,
        "README stays a short front page"
    );
    // Every relative link names a file of the repository; the book is linked.
    let mut links = 0;
    for piece in readme.split("](").skip(1) {
        let target = piece.split(')').next().expect("a closing parenthesis");
        if target.contains("://") || target.starts_with('#') {
            continue;
        }
        let path = target.split('#').next().unwrap_or(target);
        assert!(
            root().join(path).exists(),
            "README.md links to {target}, which does not exist"
        );
        links += 1;
    }
    assert!(links > 30, "{links} links");
    for page in [
        "docs/src/getting-started.md",
        "docs/src/troubleshooting.md",
        "docs/src/api/v2.md",
    ] {
        assert!(
            readme.contains(&format!("]({page})")),
            "README links {page}"
        );
    }
}
