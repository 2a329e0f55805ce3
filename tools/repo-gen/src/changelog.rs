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
//!
//! The marker also carries the recorded commit's committer date (UTC), so other generated
//! files can be stamped with a date that moves only with the record, never with `HEAD`:
//! the OLM bundle's `createdAt` (tools/olm-bundle) is that date.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{GenError, command, read};

/// The changelog, relative to the repository root.
pub const FILE: &str = "CHANGELOG.md";

/// The marker line that records the newest commit the file covers:
/// `<!-- generated up to commit <sha>, committed <YYYY-MM-DDTHH:MM:SSZ> -->`.
const MARKER: &str = "<!-- generated up to commit ";
/// Between the hash and the date in the marker line.
const DATE_SEPARATOR: &str = ", committed ";

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

/// The commit a changelog is generated up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoff {
    /// Full hash.
    pub hash: String,
    /// Its committer date in UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date: String,
}

/// The changelog text for `releases` (newest first), recording `cutoff`. Pure.
pub fn render(cutoff: &Cutoff, releases: &[Release]) -> String {
    let mut out = String::from(
        "# Changelog\n\nGenerated from the [Conventional Commits](https://www.conventionalcommits.org/) \
         of the git history by `make changelog` (tools/repo-gen); do not edit by hand.\n",
    );
    out.push_str(&format!(
        "{MARKER}{}{DATE_SEPARATOR}{} -->\n",
        cutoff.hash, cutoff.date
    ));
    for release in releases {
        out.push_str(&render_release(release));
    }
    out
}

/// One release's section: `## title (date)` and its commits grouped by type. Pure.
pub fn render_release(release: &Release) -> String {
    let mut out = String::new();
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

/// The committer date of `rev` in UTC, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn commit_date(root: &Path, rev: &str) -> Result<String, GenError> {
    let seconds = git(
        root,
        &["show", "-s", "--no-show-signature", "--format=%ct", rev],
    )?;
    let seconds = seconds
        .trim()
        .parse::<i64>()
        .map_err(|e| GenError::Command {
            command: format!("git show -s --format=%ct {rev}"),
            message: format!("not a Unix time ({e}): {seconds:?}"),
        })?;
    Ok(utc_timestamp(seconds))
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn utc_timestamp(seconds: i64) -> String {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01, counting in 400-year eras from 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// The changelog of the repository at `root` up to `cutoff` (a full hash).
pub fn generate(root: &Path, cutoff: &str) -> Result<String, GenError> {
    let cutoff_at = Cutoff {
        hash: cutoff.to_owned(),
        date: commit_date(root, cutoff)?,
    };
    Ok(render(&cutoff_at, &history(root, cutoff)?))
}

/// The release notes of `tag` (`v<version>`): its changelog section, made from the history
/// by the same code as CHANGELOG.md. Before the tag exists (`make release-dry-run`), the
/// commits after the previous `v*` tag up to `rev`, titled `<tag> (unreleased)`.
pub fn release_notes(root: &Path, tag: &str, rev: &str) -> Result<String, GenError> {
    let tagged = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/tags/{tag}"),
        ],
    )
    .is_ok();
    let releases = history(root, if tagged { tag } else { rev })?;
    let release = if tagged {
        releases.into_iter().find(|r| r.title == tag)
    } else {
        releases
            .into_iter()
            .find(|r| r.date.is_none())
            .map(|r| Release {
                title: format!("{tag} (unreleased)"),
                ..r
            })
    };
    let release = release.unwrap_or_else(|| Release {
        title: format!("{tag} (unreleased)"),
        date: None,
        commits: Vec::new(),
    });
    Ok(render_release(&release).trim_start().to_owned())
}

/// The commit (and its date) recorded in a changelog's marker line.
pub fn recorded(text: &str) -> Option<Cutoff> {
    let rest = text
        .lines()
        .find_map(|l| l.strip_prefix(MARKER)?.strip_suffix(" -->"))?;
    let (hash, date) = rest.split_once(DATE_SEPARATOR).unwrap_or((rest, ""));
    Some(Cutoff {
        hash: hash.trim().to_owned(),
        date: date.trim().to_owned(),
    })
}

/// The commit recorded in a changelog's marker line.
pub fn recorded_cutoff(text: &str) -> Option<String> {
    recorded(text).map(|c| c.hash)
}

/// What is wrong with the committed changelog of the repository at `root` (empty: it is
/// current up to its recorded commit). See the module documentation for why the check is
/// against the recorded commit, not `HEAD`.
pub fn check(root: &Path) -> Result<Vec<String>, GenError> {
    let path = root.join(FILE);
    let text = read(&path)?;
    let Some(cutoff) = recorded_cutoff(&text) else {
        return Ok(vec![format!(
            "{FILE} has no `{MARKER}<sha>{DATE_SEPARATOR}<date> -->` line: run `make changelog`"
        )]);
    };
    if git(root, &["cat-file", "-e", &format!("{cutoff}^{{commit}}")]).is_err() {
        return Ok(vec![format!(
            "{FILE} was generated up to commit {cutoff}, which this clone does not have \
             (a rebased branch, or a shallow clone: fetch the whole history): run `make changelog`"
        )]);
    }
    if git(root, &["merge-base", "--is-ancestor", &cutoff, "HEAD"]).is_err() {
        return Ok(vec![format!(
            "{FILE} was generated up to commit {cutoff}, which is not in the history of HEAD: run `make changelog`"
        )]);
    }
    let expected = generate(root, &cutoff)?;
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
    fn unix_times_become_utc_timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_709_164_799), "2024-02-28T23:59:59Z");
        assert_eq!(utc_timestamp(1_735_689_600), "2025-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(-1), "1969-12-31T23:59:59Z");
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
        let cutoff = Cutoff {
            hash: "0123abc".into(),
            date: "2026-01-03T04:05:06Z".into(),
        };
        let text = render(&cutoff, &releases);
        assert_eq!(recorded(&text), Some(cutoff));
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
