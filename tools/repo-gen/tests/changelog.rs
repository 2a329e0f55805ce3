//! CHANGELOG.md: the committed one is current up to the commit it records, and the check
//! stays green when commits are added after it but fails on a hand edit or a rewritten
//! history (a scratch git repository).

use std::path::{Path, PathBuf};
use std::process::Command;

use repo_gen::changelog;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_committed_changelog_is_current() {
    let problems = changelog::check(&root()).expect("the check runs (git on PATH, a full clone)");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
}

fn regenerate(dir: &Path) -> String {
    let head = changelog::resolve(dir, "HEAD").expect("HEAD");
    let text = changelog::generate(dir, &head).expect("generates");
    std::fs::write(dir.join(changelog::FILE), &text).expect("write");
    text
}

#[test]
fn the_check_is_stable_under_new_commits_and_fails_on_edits_and_rewrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    git(dir, &["init", "-q", "-b", "main"]);
    commit(dir, "feat(api): first field");
    commit(dir, "fix: a bug");
    git(dir, &["tag", "v0.1.0"]);
    commit(dir, "perf(controller): fewer requests");
    commit(dir, "feat!: new API\n\nBREAKING CHANGE: v1 is gone");
    let text = regenerate(dir);
    assert!(
        text.contains("\n## Unreleased\n\n### Breaking changes\n\n- new API ("),
        "{text}"
    );
    assert!(
        text.contains("\n### Performance\n\n- **controller:** fewer requests ("),
        "{text}"
    );
    assert!(text.contains("\n## v0.1.0 ("), "{text}");
    assert!(text.contains("\n### Bug fixes\n\n- a bug ("), "{text}");
    // The regenerated file is committed (that commit is not in it) and work goes on.
    git(dir, &["add", changelog::FILE]);
    commit(dir, "docs(changelog): regenerate");
    commit(dir, "feat: later work");
    assert_eq!(changelog::check(dir).expect("check"), Vec::<String>::new());

    // A hand edit fails.
    std::fs::write(
        dir.join(changelog::FILE),
        text.replace("a bug", "a bug, edited"),
    )
    .expect("w");
    let problems = changelog::check(dir).expect("check");
    assert!(
        problems.len() == 1 && problems[0].contains("differs"),
        "{problems:?}"
    );

    // A rewritten history (the recorded commit no longer an ancestor of HEAD) fails.
    std::fs::write(dir.join(changelog::FILE), &text).expect("w");
    git(dir, &["checkout", "-q", "--orphan", "other"]);
    commit(dir, "feat: unrelated");
    let problems = changelog::check(dir).expect("check");
    assert!(
        problems.len() == 1 && problems[0].contains("not in the history of HEAD"),
        "{problems:?}"
    );

    // No marker fails.
    std::fs::write(dir.join(changelog::FILE), "# Changelog\n").expect("w");
    let problems = changelog::check(dir).expect("check");
    assert!(
        problems.len() == 1 && problems[0].contains("make changelog"),
        "{problems:?}"
    );
}
