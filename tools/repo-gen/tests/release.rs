//! The release checks of `make release-dry-run` on the repository as committed, and each
//! check failing on what it must catch.

use std::path::{Path, PathBuf};
use std::process::Command;

use repo_gen::release::{self, Release};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Fails unless some problem mentions each of `needles`.
fn assert_reports(problems: &[String], needles: &[&str]) {
    for needle in needles {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle}: {problems:#?}"
        );
    }
}

fn rel() -> Release {
    Release::read(&root()).expect("Cargo.toml has version, repository and registry")
}

#[test]
fn the_shell_and_the_checks_derive_the_same_names_from_cargo_toml() {
    let out = Command::new(root().join("scripts/release/env.sh"))
        .env_remove("TAG")
        .output()
        .expect("env.sh runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("env.sh prints {key}"))
            .to_owned()
    };
    let rel = rel();
    assert_eq!(get("VERSION"), rel.version);
    assert_eq!(get("TAG"), rel.tag());
    assert_eq!(get("REPOSITORY"), rel.repository);
    assert_eq!(get("REGISTRY"), rel.registry);
    assert_eq!(get("IMAGE"), rel.image());
    assert_eq!(get("BUNDLE_IMAGE"), format!("{}-bundle", rel.image()));
    assert_eq!(get("CHART_REPO"), format!("oci://{}/charts", rel.registry));
    assert!(rel.registry.starts_with(&get("REGISTRY_HOST")));
}

#[test]
fn the_committed_names_agree_with_cargo_toml_and_the_tag() {
    let rel = rel();
    let problems = release::check_names(&root(), &rel, Some(&rel.tag())).expect("reads");
    assert!(problems.is_empty(), "{problems:#?}");
    let problems = release::check_names(&root(), &rel, Some("v99.0.0")).expect("reads");
    assert_reports(&problems, &["the tag v99.0.0 does not match"]);
}

#[test]
fn another_repository_or_registry_is_found_in_the_chart_and_the_bundle() {
    let moved = Release {
        repository: "https://github.com/someone-else/locust-k8s-operator".into(),
        registry: "quay.io/someone-else".into(),
        ..rel()
    };
    let problems = release::check_names(&root(), &moved, None).expect("reads");
    assert_reports(
        &problems,
        &[
            "Chart.yaml home",
            "Chart.yaml names https://github.com/",
            "Chart.yaml sources",
            "values.yaml image.repository",
            "config/olm/csv.yaml metadata.annotations.containerImage",
            "the bundle's CSV repository",
            "artifacthub.io/images",
        ],
    );
}

#[test]
fn the_workflow_runs_the_dry_run_steps_and_no_other() {
    let workflow = read(release::WORKFLOW);
    let makefile = read("Makefile");
    let rel = rel();
    let problems = release::check_workflow(&workflow, &makefile, &rel);
    assert!(problems.is_empty(), "{problems:#?}");
    let steps = release::makefile_list(&makefile, release::STEPS_VARIABLE);
    assert!(steps.len() >= 7, "{steps:?}");
    // Every step of the dry run's list is a target of release-dry-run.
    let dry_run = makefile
        .lines()
        .find(|l| l.starts_with("release-dry-run:"))
        .expect("a release-dry-run target");
    assert!(
        dry_run.contains(&format!("$({})", release::STEPS_VARIABLE)),
        "{dry_run}"
    );
    // Dropping a step from the workflow, or adding one the dry run lacks, is caught.
    let dropped = workflow.replacen(" release-sbom", "", 1);
    assert_ne!(dropped, workflow);
    let problems = release::check_workflow(&dropped, &makefile, &rel);
    assert_reports(&problems, &["does not run `make release-sbom`"]);
    let extra = workflow.replacen(" release-notes", " release-notes release-publish", 1);
    let problems = release::check_workflow(&extra, &makefile, &rel);
    assert_reports(&problems, &["runs `make release-publish`"]);
    let shrunk = makefile.replacen(" release-checksums", "", 1);
    let problems = release::check_workflow(&workflow, &shrunk, &rel);
    assert_reports(&problems, &["runs `make release-checksums`"]);
}

/// A minimal SBOM as cargo-cyclonedx writes it, for the crates `names` of Cargo.lock.
fn sbom(rel: &Release, names: &[&str]) -> Value {
    let lock = release::lock_packages(&read("Cargo.lock"));
    let components: Vec<Value> = names
        .iter()
        .map(|name| {
            let ((n, v), locked) = lock
                .iter()
                .find(|((n, _), l)| n == name && !l.checksum.is_empty())
                .unwrap_or_else(|| panic!("{name} in Cargo.lock"));
            json!({
                "type": "library", "name": n, "version": v,
                "purl": format!("pkg:cargo/{n}@{v}"),
                "licenses": [{ "expression": "MIT OR Apache-2.0" }],
                "hashes": [{ "alg": "SHA-256", "content": locked.checksum }],
            })
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": { "component": {
            "name": "locust-k8s-operator", "version": rel.version,
            "licenses": [{ "expression": "Apache-2.0" }],
            "externalReferences": [{ "type": "vcs", "url": rel.repository }],
        }},
        "components": components,
    })
}

#[test]
fn the_sbom_check_wants_every_direct_dependency_with_license_and_lock_checksum() {
    let rel = rel();
    let cargo_toml = read("Cargo.toml");
    let cargo_lock = read("Cargo.lock");
    // The direct dependencies of the operator, as Cargo.toml names them.
    let direct: Vec<String> = cargo_toml
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("[dependencies]")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect();
    let names: Vec<&str> = direct.iter().map(String::as_str).collect();
    let good = sbom(&rel, &names);
    let check = |s: &Value| release::check_sbom(s, &cargo_toml, &cargo_lock, &rel);
    assert!(check(&good).is_empty(), "{:#?}", check(&good));

    let without_kube = sbom(
        &rel,
        &names
            .iter()
            .copied()
            .filter(|n| *n != "kube")
            .collect::<Vec<_>>(),
    );
    assert!(
        check(&without_kube)
            .iter()
            .any(|p| p.contains("direct dependency kube"))
    );

    let mut tampered = good.clone();
    tampered["components"][0]["hashes"][0]["content"] = json!("00");
    tampered["components"][1]["licenses"] = json!([]);
    tampered["components"][2]["version"] = json!("0.0.0-not-locked");
    tampered["metadata"]["component"]["version"] = json!("9.9.9");
    let problems = check(&tampered);
    assert_reports(
        &problems,
        &[
            "is not Cargo.lock's checksum",
            "has no license",
            "@0.0.0-not-locked is not in Cargo.lock",
            "metadata.component.version",
        ],
    );
}

#[test]
fn release_notes_are_the_changelog_section_of_the_tag() {
    let rel = rel();
    let notes = repo_gen::changelog::release_notes(&root(), &rel.tag(), "HEAD").expect("notes");
    assert!(notes.starts_with(&format!("## {}", rel.tag())), "{notes}");
    // Before the tag exists they hold the unreleased commits, as CHANGELOG.md does.
    let changelog = read("CHANGELOG.md");
    let first_change = changelog
        .lines()
        .find(|l| l.starts_with("- "))
        .expect("CHANGELOG.md lists a change");
    let tagged = Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/tags/{}", rel.tag()),
        ])
        .current_dir(root())
        .status()
        .expect("git")
        .success();
    if !tagged {
        assert!(notes.contains(first_change), "{first_change}\n{notes}");
    }
}
