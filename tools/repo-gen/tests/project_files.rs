//! The project's own files: the Apache-2.0 LICENSE, every workspace package declaring it,
//! and SECURITY.md / CONTRIBUTING.md naming what they must.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_license_is_the_apache_2_text_and_every_package_declares_it() {
    let license = read("LICENSE");
    for part in [
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "9. Accepting Warranty or Additional Liability.",
        "END OF TERMS AND CONDITIONS",
        "APPENDIX: How to apply the Apache License to your work.",
    ] {
        assert!(license.contains(part), "LICENSE has `{part}`");
    }
    let workspace = read("Cargo.toml");
    let members = workspace
        .lines()
        .find_map(|l| l.strip_prefix("members = ["))
        .expect("a one-line members list in Cargo.toml");
    let members: Vec<&str> = members
        .trim_end_matches(']')
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    assert!(members.len() >= 4, "{members:?}");
    for member in members {
        let manifest = read(&format!("{member}/Cargo.toml"));
        assert!(
            manifest.lines().any(|l| l == "license = \"Apache-2.0\""),
            "{member}/Cargo.toml: license = \"Apache-2.0\""
        );
    }
    let chart = read("charts/locust-k8s-operator/Chart.yaml");
    assert!(
        chart.contains("artifacthub.io/license: Apache-2.0"),
        "Chart.yaml's license annotation"
    );
}

#[test]
fn security_and_contributing_name_what_they_must() {
    let security = read("SECURITY.md");
    for part in [
        "## Reporting a vulnerability",
        "## Supported versions",
        "## What the operator can read and write",
        "Secrets",
    ] {
        assert!(security.contains(part), "SECURITY.md has `{part}`");
    }
    // Every resource the operator's RBAC names (config/rbac) is listed in SECURITY.md.
    for file in [
        "role.yaml",
        "leader_election_role.yaml",
        "webhook_role.yaml",
        "webhook_cluster_role.yaml",
        "web_auth_role.yaml",
    ] {
        for line in read(&format!("config/rbac/{file}")).lines() {
            if let Some(resources) = line.trim().strip_prefix("resources: [") {
                for resource in resources.trim_end_matches(']').split(',') {
                    let resource = resource.trim().trim_matches('"');
                    assert!(
                        security.contains(&format!("`{resource}`")),
                        "SECURITY.md lists `{resource}` (config/rbac/{file})"
                    );
                }
            }
        }
    }
    let contributing = read("CONTRIBUTING.md");
    for part in [
        "make test",
        "make lint",
        "Conventional Commits",
        "duplicates",
        "make changelog",
        "tests/",
    ] {
        assert!(contributing.contains(part), "CONTRIBUTING.md has `{part}`");
    }
}
