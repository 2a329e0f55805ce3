//! `repo-gen [--check] [--root DIR] [--helm PATH] <changelog|chart-docs|kustomize|api-docs>`:
//! writes (or, with `--check`, verifies) one of the repository's generated files;
//! `repo-gen [--root DIR] links BOOK`: checks the built book's links (see [`repo_gen::links`]);
//! `repo-gen [--tag TAG] [--file FILE] <release-notes|release-check|release-sbom|release-chart>`
//! prints the release notes or runs a release check (`make release-dry-run`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use repo_gen::error::read;
use repo_gen::{
    GenError, api_docs, changelog, check_dir, kustomize, links, release, values_docs, write_dir,
};

const USAGE: &str =
    "usage: repo-gen [--check] [--root DIR] [--helm PATH] <changelog|chart-docs|kustomize|api-docs>
       repo-gen [--root DIR] links BOOK
       repo-gen [--root DIR] [--tag TAG] [--file FILE] <release-notes|release-check|release-sbom|release-chart>

  changelog   CHANGELOG.md from the Conventional Commits up to HEAD (--check: current up to
              the commit it records)
  chart-docs  the values table of charts/locust-k8s-operator/README.md from values.yaml
  kustomize   deploy/kustomize/ from `helm template` of the chart (--helm, default: helm)
  api-docs    docs/src/api/ (the book's API reference) from crd/locusttests.locust.io.yaml
  links       fail unless every relative link and #anchor of the built book BOOK (HTML)
              resolves; list the external links (not fetched)

  release-notes  print TAG's changelog section (default tag: v<Cargo.toml version>)
  release-check  the names in the chart, CSV and bundle agree with Cargo.toml and TAG, the
                 changelog is current, the release workflow runs the dry run's steps
  release-sbom   FILE is a CycloneDX SBOM (JSON) of the operator matching Cargo.lock
  release-chart  FILE is `helm show chart` of the packaged chart, with the release version";

struct Args {
    check: bool,
    root: PathBuf,
    helm: PathBuf,
    tag: Option<String>,
    file: Option<PathBuf>,
    what: String,
    /// The operand of `links`: the built book.
    book: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        check: false,
        root: PathBuf::from("."),
        helm: PathBuf::from("helm"),
        tag: None,
        file: None,
        what: String::new(),
        book: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--check" => args.check = true,
            "--root" => args.root = it.next().ok_or("--root needs a folder")?.into(),
            "--helm" => args.helm = it.next().ok_or("--helm needs a path")?.into(),
            "--tag" => args.tag = Some(it.next().ok_or("--tag needs a tag like v1.2.3")?),
            "--file" => args.file = Some(it.next().ok_or("--file needs a path")?.into()),
            "-h" | "--help" => return Err(String::new()),
            what if args.what.is_empty() && !what.starts_with('-') => args.what = what.to_owned(),
            book if args.what == "links" && args.book.is_none() => args.book = Some(book.into()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    if args.what.is_empty() {
        return Err("name what to generate".to_owned());
    }
    Ok(args)
}

/// Runs one generator; the problems found by `--check` (empty: current or written).
fn run(args: &Args) -> Result<Vec<String>, GenError> {
    let root = &args.root;
    let one = |name: &str, text: String| -> Result<Vec<String>, GenError> {
        let (dir, file) = name.rsplit_once('/').unwrap_or((".", name));
        let files = BTreeMap::from([(file.to_owned(), text)]);
        if args.check {
            // Only this file: the folder holds others.
            Ok(check_dir(root, dir, &files)
                .into_iter()
                .filter(|p| !p.ends_with("(remove it)"))
                .collect())
        } else {
            for written in write_dir_one(root, dir, &files)? {
                println!("wrote {written}");
            }
            Ok(Vec::new())
        }
    };
    match args.what.as_str() {
        "changelog" if args.check => changelog::check(root),
        "changelog" => {
            let head = changelog::resolve(root, "HEAD")?;
            one(changelog::FILE, changelog::generate(root, &head)?)
        }
        "chart-docs" => one(
            &format!("{}/README.md", values_docs::CHART),
            values_docs::generate(root)?,
        ),
        "kustomize" => whole_dir(
            args,
            kustomize::DIR,
            &kustomize::generate(root, &args.helm)?,
        ),
        "api-docs" => whole_dir(args, api_docs::DIR, &api_docs::generate(root)?),
        "links" => {
            let book = args.book.as_deref().ok_or_else(|| GenError::Invalid {
                path: PathBuf::from("links"),
                message: format!("name the built book's folder\n{USAGE}"),
            })?;
            let report = links::check(book, root)?;
            println!(
                "{} pages, {} internal links checked, {} links into the repository checked",
                report.pages, report.internal, report.repository
            );
            println!(
                "{} external links, not fetched (no network here):",
                report.external.len()
            );
            for (url, pages) in &report.external {
                println!("  {url}  ({})", pages.join(", "));
            }
            Ok(report.broken)
        }
        what if what.starts_with("release-") => release(args),
        other => Err(GenError::Invalid {
            path: PathBuf::from(other),
            message: format!("unknown generator\n{USAGE}"),
        }),
    }
}

/// Writes (or, with `--check`, compares) a folder that holds only generated files.
fn whole_dir(
    args: &Args,
    dir: &str,
    files: &BTreeMap<String, String>,
) -> Result<Vec<String>, GenError> {
    if args.check {
        return Ok(check_dir(&args.root, dir, files));
    }
    for written in write_dir(&args.root, dir, files)? {
        println!("wrote {written}");
    }
    Ok(Vec::new())
}

/// The release commands: notes on stdout, or the problems a check found.
fn release(args: &Args) -> Result<Vec<String>, GenError> {
    let root = &args.root;
    let rel = release::Release::read(root)?;
    let file = || -> Result<(PathBuf, String), GenError> {
        let path = args.file.clone().ok_or_else(|| GenError::Invalid {
            path: PathBuf::from(&args.what),
            message: "needs --file".to_owned(),
        })?;
        let text = read(&path)?;
        Ok((path, text))
    };
    let parse = |path: &PathBuf, text: &str| -> Result<serde_json::Value, GenError> {
        serde_saphyr::from_str(text).map_err(|e| GenError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })
    };
    match args.what.as_str() {
        "release-notes" => {
            let tag = args.tag.clone().unwrap_or_else(|| rel.tag());
            print!("{}", changelog::release_notes(root, &tag, "HEAD")?);
            Ok(Vec::new())
        }
        "release-check" => {
            let mut problems = release::check_names(root, &rel, args.tag.as_deref())?;
            problems.extend(changelog::check(root)?);
            let workflow = read(&root.join(release::WORKFLOW))?;
            let makefile = read(&root.join("Makefile"))?;
            problems.extend(release::check_workflow(&workflow, &makefile, &rel));
            Ok(problems)
        }
        "release-sbom" => {
            let (path, text) = file()?;
            let sbom = parse(&path, &text)?;
            let cargo_toml = read(&root.join("Cargo.toml"))?;
            let cargo_lock = read(&root.join("Cargo.lock"))?;
            Ok(release::check_sbom(&sbom, &cargo_toml, &cargo_lock, &rel))
        }
        "release-chart" => {
            let (path, text) = file()?;
            let chart = parse(&path, &text)?;
            Ok(release::check_chart_metadata(
                &chart,
                &rel,
                "the packaged chart",
            ))
        }
        other => Err(GenError::Invalid {
            path: PathBuf::from(other),
            message: format!("unknown release command\n{USAGE}"),
        }),
    }
}

/// Writes single files into a folder that holds other files too (nothing removed).
fn write_dir_one(
    root: &std::path::Path,
    dir: &str,
    files: &BTreeMap<String, String>,
) -> Result<Vec<String>, GenError> {
    let mut written = Vec::new();
    for (name, text) in files {
        let path = root.join(dir).join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            repo_gen::error::write(&path, text)?;
            written.push(if dir == "." {
                name.clone()
            } else {
                format!("{dir}/{name}")
            });
        }
    }
    Ok(written)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            if message.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("repo-gen: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for p in problems {
                eprintln!("repo-gen: {p}");
            }
            if args.what == "links" {
                eprintln!("repo-gen: fix these links in docs/src/ and run `make docs docs-check`");
            } else if args.what.starts_with("release-") {
                eprintln!("repo-gen: {} failed: fix what is named above", args.what);
            } else {
                eprintln!(
                    "repo-gen: run `make {}` and commit the result",
                    make_target(&args.what)
                );
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("repo-gen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn make_target(what: &str) -> &str {
    match what {
        "chart-docs" => "chart-docs",
        "kustomize" => "kustomize",
        "api-docs" => "api-docs",
        _ => "changelog",
    }
}
