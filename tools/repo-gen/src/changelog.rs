//! CHANGELOG.md from the Conventional Commits of the git history.
//!
//! The file is generated up to a recorded commit (`<!-- generated up to commit <sha> -->`)
//! rather than up to `HEAD`: the commit that adds a regenerated changelog cannot list
//! itself, and any commit after it would make an "up to HEAD" file stale, so such a check
//! would fail on every clean clone of a branch with new work. Generating up to the
//! recorded commit is reproducible on any full clone, so [`check`] fails only when the
//! file was edited by hand, the generator changed, or the recorded commit left the
//! history (a rebase). `make changelog` moves the record to `HEAD`; a release does that
//! right after tagging.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{GenError, command, read};

/// The changelog, relative to the repository root.
pub const FILE: &str = "CHANGELOG.md";

/// The marker line that records the newest commit the file covers.
const MARKER: &str = "<!-- generated up to commit ";

/// Commits whose scope is this are about the changelog itself and left out.
const OWN_SCOPE: &str = "changelog";

/// One commit of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Full hash.
    pub hash: String,
    /// First line of the message.
    pub subject: String,
    /// The rest of the message.
    pub body: String,
}

/// A subject line read as a Conventional Commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventional<'a> {
    /// `feat`, `fix`, ...; `None` when the subject does not follow the convention.
    pub kind: Option<&'a str>,
    /// The `(scope)`, if any.
    pub scope: Option<&'a str>,
    /// `!` after the type or scope, or a `BREAKING CHANGE:` footer.
    pub breaking: bool,
    /// The description (the whole subject when not conventional).
    pub description: &'a str,
}

/// Reads `subject` (and `body`, for a `BREAKING CHANGE:` footer) as a Conventional Commit.
pub fn parse<'a>(subject: &'a str, body: &str) -> Conventional<'a> {
    let footer = body
        .lines()
        .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));
    let plain = Conventional {
        kind: None,
        scope: None,
        breaking: footer,
        description: subject.trim(),
    };
    let Some((head, description)) = subject.split_once(": ") else {
        return plain;
    };
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((kind, rest)) => match rest.strip_suffix(')') {
            Some(scope) if !scope.is_empty() && !scope.contains(['(', ')', ' ']) => {
                (kind, Some(scope))
            }
            _ => return plain,
        },
        None => (head, None),
    };
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_lowercase()) {
        return plain;
    }
    Conventional {
        kind: Some(kind),
        scope,
        breaking: bang || footer,
        description: description.trim(),
    }
}

/// The section a commit type goes to, in the order sections are written.
const GROUPS: &[(&[&str], &str)] = &[
    (&["feat"], "Features"),
    (&["fix"], "Bug fixes"),
    (&["perf"], "Performance"),
    (&["docs"], "Documentation"),
    (&["refactor"], "Refactoring"),
    (&["test"], "Tests"),
    (&["build", "ci"], "Build and CI"),
    (&["style"], "Style"),
    (&["chore"], "Chores"),
    (&["revert"], "Reverts"),
];
const BREAKING: &str = "Breaking changes";
const OTHER: &str = "Other changes";

/// One release (a tag) or the unreleased commits, newest commit first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `Unreleased` or the tag, e.g. `v0.2.0`.
    pub title: String,
    /// The tag's commit date (YYYY-MM-DD); `None` for the unreleased commits.
    pub date: Option<String>,
    /// Its commits, newest first.
    pub commits: Vec<Commit>,
}

/// The changelog text for `releases` (newest first), recording `cutoff`. Pure.
pub fn render(cutoff: &str, releases: &[Release]) -> String {
    let mut out = String::from(
        "# Changelog\n\nGenerated from the [Conventional Commits](https://www.conventionalcommits.org/) \
         of the git history by `make changelog` (tools/repo-gen); do not edit by hand.\n",
    );
    out.push_str(&format!("{MARKER}{cutoff} -->\n"));
    for release in releases {
        let mut groups: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for commit in &release.commits {
            let c = parse(&commit.subject, &commit.body);
            if c.scope == Some(OWN_SCOPE) {
                continue;
            }
            let group = if c.breaking {
                0
            } else {
                c.kind
                    .and_then(|k| GROUPS.iter().position(|(kinds, _)| kinds.contains(&k)))
                    .map_or(GROUPS.len() + 1, |i| i + 1)
            };
            let scope = c.scope.map(|s| format!("**{s}:** ")).unwrap_or_default();
            let short = commit.hash.get(..7).unwrap_or(&commit.hash);
            groups
                .entry(group)
                .or_default()
                .push(format!("- {scope}{} (`{short}`)", c.description));
        }
        match &release.date {
            Some(date) => out.push_str(&format!("\n## {} ({date})\n", release.title)),
            None => out.push_str(&format!("\n## {}\n", release.title)),
        }
        if groups.is_empty() {
            out.push_str("\nNo changes.\n");
        }
        for (group, lines) in groups {
            let title = match group {
                0 => BREAKING,
                i if i <= GROUPS.len() => GROUPS[i - 1].1,
                _ => OTHER,
            };
            out.push_str(&format!("\n### {title}\n\n"));
            for line in lines {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

fn git(root: &Path, args: &[&str]) -> Result<String, GenError> {
    command(root, Path::new("git"), args)
}

/// The commits of `range` (`git log` syntax), newest first, merges left out.
fn commits(root: &Path, range: &str) -> Result<Vec<Commit>, GenError> {
    let log = git(
        root,
        &[
            "log",
            "--no-merges",
            "--topo-order",
            "--format=%H%x1f%s%x1f%b%x1e",
            range,
        ],
    )?;
    Ok(log
        .split('\x1e')
        .filter_map(|record| {
            let mut fields = record.trim_start_matches('\n').splitn(3, '\x1f');
            let hash = fields.next()?.trim();
            if hash.is_empty() {
                return None;
            }
            Some(Commit {
                hash: hash.to_owned(),
                subject: fields.next().unwrap_or_default().to_owned(),
                body: fields.next().unwrap_or_default().trim().to_owned(),
            })
        })
        .collect())
}

/// The releases up to `cutoff` (a commit): one per `v*` tag reachable from it and the
/// commits after the newest such tag as `Unreleased`; newest first.
pub fn history(root: &Path, cutoff: &str) -> Result<Vec<Release>, GenError> {
    let tags = git(
        root,
        &[
            "tag",
            "--list",
            "v*",
            "--merged",
            cutoff,
            "--sort=v:refname",
        ],
    )?;
    let tags: Vec<&str> = tags
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut releases = Vec::new();
    let mut previous: Option<&str> = None;
    for tag in &tags {
        let range = match previous {
            Some(p) => format!("{p}..{tag}"),
            None => (*tag).to_owned(),
        };
        let date = git(root, &["log", "-1", "--format=%cs", tag])?
            .trim()
            .to_owned();
        releases.push(Release {
            title: (*tag).to_owned(),
            date: Some(date),
            commits: commits(root, &range)?,
        });
        previous = Some(tag);
    }
    let range = match previous {
        Some(p) => format!("{p}..{cutoff}"),
        None => cutoff.to_owned(),
    };
    let unreleased = commits(root, &range)?;
    if !unreleased.is_empty() || tags.is_empty() {
        releases.push(Release {
            title: "Unreleased".to_owned(),
            date: None,
            commits: unreleased,
        });
    }
    releases.reverse();
    Ok(releases)
}

/// The full hash of `rev` (e.g. `HEAD`).
pub fn resolve(root: &Path, rev: &str) -> Result<String, GenError> {
    Ok(git(
        root,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )?
    .trim()
    .to_owned())
}

/// The changelog of the repository at `root` up to `cutoff` (a full hash).
pub fn generate(root: &Path, cutoff: &str) -> Result<String, GenError> {
    Ok(render(cutoff, &history(root, cutoff)?))
}

/// The commit recorded in a changelog's marker line.
pub fn recorded_cutoff(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix(MARKER)?.strip_suffix(" -->"))
        .map(str::trim)
}

/// What is wrong with the committed changelog of the repository at `root` (empty: it is
/// current up to its recorded commit). See the module documentation for why the check is
/// against the recorded commit, not `HEAD`.
pub fn check(root: &Path) -> Result<Vec<String>, GenError> {
    let path = root.join(FILE);
    let text = read(&path)?;
    let Some(cutoff) = recorded_cutoff(&text) else {
        return Ok(vec![format!(
            "{FILE} has no `{MARKER}<sha> -->` line: run `make changelog`"
        )]);
    };
    if git(root, &["cat-file", "-e", &format!("{cutoff}^{{commit}}")]).is_err() {
        return Ok(vec![format!(
            "{FILE} was generated up to commit {cutoff}, which this clone does not have \
             (a rebased branch, or a shallow clone: fetch the whole history): run `make changelog`"
        )]);
    }
    if git(root, &["merge-base", "--is-ancestor", cutoff, "HEAD"]).is_err() {
        return Ok(vec![format!(
            "{FILE} was generated up to commit {cutoff}, which is not in the history of HEAD: run `make changelog`"
        )]);
    }
    let expected = generate(root, cutoff)?;
    if expected != text {
        return Ok(vec![format!(
            "{FILE} differs from the one generated up to its recorded commit {cutoff} (edited by hand, or the generator changed): run `make changelog`"
        )]);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(hash: &str, subject: &str, body: &str) -> Commit {
        Commit {
            hash: hash.into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    #[test]
    fn subjects_are_read_as_conventional_commits() {
        let c = parse("feat(api): spec.ttl", "");
        assert_eq!(
            (c.kind, c.scope, c.breaking, c.description),
            (Some("feat"), Some("api"), false, "spec.ttl")
        );
        let c = parse("fix!: drop v1", "");
        assert_eq!((c.kind, c.scope, c.breaking), (Some("fix"), None, true));
        let c = parse("refactor(x)!: y", "");
        assert_eq!(
            (c.kind, c.scope, c.breaking),
            (Some("refactor"), Some("x"), true)
        );
        assert!(parse("feat: a", "text\n\nBREAKING CHANGE: gone").breaking);
        for plain in ["Merge branch 'chart'", "Feat: upper", "feat(: x", "wip"] {
            assert_eq!(parse(plain, "").kind, None, "{plain}");
        }
    }

    #[test]
    fn releases_are_grouped_by_type_breaking_first_and_other_last() {
        let releases = [
            Release {
                title: "Unreleased".into(),
                date: None,
                commits: vec![
                    commit("aaaaaaaaaa", "docs(changelog): regenerate", ""),
                    commit("bbbbbbbbbb", "fix(chart): quote names", ""),
                    commit("cccccccccc", "something odd", ""),
                    commit("dddddddddd", "feat!: v3 API", ""),
                    commit("eeeeeeeeee", "feat(api): ttl", ""),
                    commit("ffffffffff", "ci: cache", ""),
                ],
            },
            Release {
                title: "v0.1.0".into(),
                date: Some("2026-01-02".into()),
                commits: vec![],
            },
        ];
        let text = render("0123abc", &releases);
        assert_eq!(recorded_cutoff(&text), Some("0123abc"));
        let body = text.split_once("-->\n").expect("marker").1;
        assert_eq!(
            body,
            "\n## Unreleased\n\n### Breaking changes\n\n- v3 API (`ddddddd`)\n\
             \n### Features\n\n- **api:** ttl (`eeeeeee`)\n\
             \n### Bug fixes\n\n- **chart:** quote names (`bbbbbbb`)\n\
             \n### Build and CI\n\n- cache (`fffffff`)\n\
             \n### Other changes\n\n- something odd (`ccccccc`)\n\
             \n## v0.1.0 (2026-01-02)\n\nNo changes.\n"
        );
    }
}
