//! The CSV's catalogue metadata, offline: `createdAt` from the changelog's recorded
//! commit, `repository` and the source link from Cargo.toml, `relatedImages` (the
//! operator's image and the ones its pods run by default), the maturity and capability
//! level the chart also claims, and the scorecard configuration's pinning.

mod common;

use std::process::Command;

use common::{committed_csv, copy_of_sources, root, yaml_file};
use serde_json::Value;

fn annotation<'a>(csv: &'a Value, key: &str) -> &'a str {
    csv["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("the CSV has the {key} annotation"))
}

/// The recorded commit of CHANGELOG.md's marker line.
fn changelog_commit(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("<!-- generated up to commit "))
        .and_then(|rest| rest.split([',', ' ']).next())
        .expect("CHANGELOG.md records a commit")
        .to_owned()
}

#[test]
fn created_at_is_the_committer_date_of_the_commit_the_changelog_records() {
    let csv = committed_csv();
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).expect("CHANGELOG.md");
    let commit = changelog_commit(&changelog);
    // git's own rendering of the date, in UTC, independent of the generators' code.
    let out = Command::new("git")
        .args([
            "show",
            "-s",
            "--no-show-signature",
            "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
            "--format=%cd",
            &commit,
        ])
        .env("TZ", "UTC")
        .current_dir(root())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git show {commit}: {out:?}");
    let date = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(annotation(&csv, "createdAt"), date, "make changelog");
}

#[test]
fn created_at_moves_with_the_changelog_record_only() {
    let dir = copy_of_sources();
    let path = dir.path().join("CHANGELOG.md");
    let text = std::fs::read_to_string(&path).expect("read");
    let before =
        olm_bundle::csv_of(&olm_bundle::generate(dir.path()).expect("generates")).expect("csv");
    let old = annotation(&before, "createdAt").to_owned();
    std::fs::write(&path, text.replacen(&old, "2031-02-03T04:05:06Z", 1)).expect("write");
    let after =
        olm_bundle::csv_of(&olm_bundle::generate(dir.path()).expect("generates")).expect("csv");
    assert_eq!(annotation(&after, "createdAt"), "2031-02-03T04:05:06Z");
    // The rest of the CSV does not change with it.
    let without = |mut csv: Value| {
        csv["metadata"]["annotations"]
            .as_object_mut()
            .expect("annotations")
            .remove("createdAt");
        csv
    };
    assert_eq!(without(before), without(after));
    // A changelog without the dated record stops the generator with what to run.
    let undated: String = text
        .lines()
        .map(|l| match l.split_once(", committed ") {
            Some((head, _)) if l.starts_with("<!--") => format!("{head} -->\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&path, undated).expect("write");
    let err = olm_bundle::generate(dir.path()).expect_err("no date");
    let message = err.to_string();
    assert!(
        message.contains("CHANGELOG.md") && message.contains("make changelog"),
        "{message}"
    );
}

/// `repository = "..."` of Cargo.toml's `[package]`.
fn cargo_repository(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml has a repository")
        .to_owned()
}

#[test]
fn the_repository_comes_from_cargo_toml() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let repository = cargo_repository(&cargo);
    let csv = committed_csv();
    assert_eq!(annotation(&csv, "repository"), repository);
    assert_eq!(csv["spec"]["links"][0]["url"], repository.as_str());

    let dir = copy_of_sources();
    let moved = "https://git.example.org/load/locust-operator";
    std::fs::write(
        dir.path().join("Cargo.toml"),
        cargo.replacen(&repository, moved, 1),
    )
    .expect("write");
    let csv =
        olm_bundle::csv_of(&olm_bundle::generate(dir.path()).expect("generates")).expect("csv");
    assert_eq!(annotation(&csv, "repository"), moved);
    assert_eq!(csv["spec"]["links"][0]["url"], moved);
    let text = serde_json::to_string(&csv).expect("json");
    assert!(
        !text.contains(&repository),
        "no copy of the old URL is left"
    );
}

#[test]
fn related_images_are_the_operator_and_what_its_pods_run_by_default() {
    let csv = committed_csv();
    let images = csv["spec"]["relatedImages"].as_array().expect("a list");
    let by_name = |name: &str| {
        images
            .iter()
            .find(|i| i["name"] == name)
            .and_then(|i| i["image"].as_str())
            .unwrap_or_else(|| panic!("relatedImages has {name}"))
    };
    assert_eq!(images[0]["name"], "locust-k8s-operator");
    assert_eq!(
        images[0]["image"],
        csv["metadata"]["annotations"]["containerImage"]
    );
    assert_eq!(
        by_name("git"),
        locust_k8s_operator::api::test_files::DEFAULT_GIT_IMAGE,
        "the git init container's default image"
    );
    let examples: Vec<Value> =
        serde_json::from_str(annotation(&csv, "alm-examples")).expect("json");
    for example in &examples {
        assert_eq!(example["spec"]["image"], by_name("locust"), "{example}");
    }
    // Every pod image of the Deployment is listed, each pinned by tag or digest.
    let deployments = csv["spec"]["install"]["spec"]["deployments"]
        .as_array()
        .expect("list");
    for d in deployments {
        for c in d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
        {
            assert!(
                images.iter().any(|i| i["image"] == c["image"]),
                "{}",
                c["image"]
            );
        }
    }
    let mut names: Vec<&str> = images.iter().filter_map(|i| i["name"].as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), images.len(), "names are unique");

    // An unpinned image in config/olm/csv.yaml stops the generator.
    let dir = copy_of_sources();
    let base = dir.path().join("config/olm/csv.yaml");
    let text = std::fs::read_to_string(&base).expect("read");
    let unpinned = text.replacen("image: alpine/git:v2.49.1", "image: alpine/git", 1);
    assert_ne!(
        text, unpinned,
        "the git image is listed in config/olm/csv.yaml"
    );
    std::fs::write(&base, unpinned).expect("write");
    let err = olm_bundle::generate(dir.path()).expect_err("unpinned");
    assert!(err.to_string().contains("spec.relatedImages"), "{err}");
}

#[test]
fn maturity_and_capabilities_agree_with_the_chart() {
    let csv = committed_csv();
    assert_eq!(csv["spec"]["maturity"], "alpha");
    let chart = yaml_file(&root().join("charts/locust-k8s-operator/Chart.yaml"));
    assert_eq!(
        csv["metadata"]["annotations"]["capabilities"],
        chart["annotations"]["artifacthub.io/operatorCapabilities"]
    );
    for key in ["categories", "support", "description", "containerImage"] {
        assert!(!annotation(&csv, key).is_empty(), "{key}");
    }
}

#[test]
fn the_scorecard_config_is_pinned_to_the_operator_sdk_we_build_and_shipped() {
    let go_mod = std::fs::read_to_string(root().join("tests/olm/go.mod")).expect("go.mod");
    let sdk = go_mod
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("github.com/operator-framework/operator-sdk ")
        })
        .and_then(|v| v.split_whitespace().next())
        .expect("operator-sdk in go.mod");
    let config = yaml_file(&root().join("bundle/tests/scorecard/config.yaml"));
    let tests = config["stages"][0]["tests"].as_array().expect("tests");
    assert!(!tests.is_empty());
    for t in tests {
        assert_eq!(
            t["image"],
            format!("quay.io/operator-framework/scorecard-test:{sdk}")
        );
    }
    let suites: std::collections::BTreeSet<&str> = tests
        .iter()
        .filter_map(|t| t["labels"]["suite"].as_str())
        .collect();
    assert_eq!(suites, ["basic", "olm"].into());
    // The bundle image carries it where the annotations say.
    let annotations = yaml_file(&root().join("bundle/metadata/annotations.yaml"));
    assert_eq!(
        annotations["annotations"]["operators.operatorframework.io.test.config.v1"],
        "tests/scorecard/"
    );
    let dockerfile = std::fs::read_to_string(root().join("bundle.Dockerfile")).expect("read");
    assert!(
        dockerfile.contains("COPY bundle/tests/scorecard/ /tests/scorecard/"),
        "{dockerfile}"
    );
}
