//! The link check of the built book (`make docs-check`): every relative `href` and `src`
//! of every HTML page must name a file of the book, and its `#fragment` an `id` (or `<a
//! name>`) of that page; links into this repository on GitHub
//! ([`REPOSITORY`]`/blob|tree/<branch>/<path>`) must name a file or folder of the
//! checkout. External links cannot be fetched here: they are listed, not checked.
//!
//! The pages are read with a small scanner of tags and attributes (mdBook writes plain
//! HTML5; comments, `<script>` and `<style>` bodies are skipped), not a full HTML parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::error::{GenError, read};

/// The repository on GitHub; links to its files are checked against the checkout.
pub const REPOSITORY: &str = "https://github.com/locust-k8s-operator/locust-k8s-operator";

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    /// HTML pages read.
    pub pages: usize,
    /// Relative links (and anchors) checked.
    pub internal: usize,
    /// Links into the repository checked against the checkout.
    pub repository: usize,
    /// External links (not fetched) -> the pages that hold them.
    pub external: BTreeMap<String, Vec<String>>,
    /// Broken links, one line each: `page: link: why`.
    pub broken: Vec<String>,
}

/// The ids and links of one HTML page.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    /// Every `id` attribute and `<a name>`.
    pub ids: BTreeSet<String>,
    /// Every `href` and `src` attribute value (entities decoded), in order.
    pub links: Vec<String>,
}

/// Checks the book built in `book` (mdBook's HTML output); `repo` is the checkout the
/// repository links must resolve in.
pub fn check(book: &Path, repo: &Path) -> Result<Report, GenError> {
    let mut files = Vec::new();
    list(book, Path::new(""), &mut files)?;
    if !files.iter().any(|f| f == Path::new("index.html")) {
        return Err(GenError::Invalid {
            path: book.to_owned(),
            message: "no index.html: not a built book (run `make docs`)".to_owned(),
        });
    }
    let mut pages = BTreeMap::new();
    for file in files.iter().filter(|f| is_html(f)) {
        pages.insert(file.clone(), parse(&read(&book.join(file))?));
    }
    let existing: BTreeSet<&PathBuf> = files.iter().collect();
    let mut report = Report {
        pages: pages.len(),
        ..Report::default()
    };
    for (file, page) in &pages {
        let name = file.display().to_string();
        for link in &page.links {
            match classify(link) {
                Link::Skip => {}
                Link::External(url) => {
                    if let Some(rest) = repository_path(url) {
                        report.repository += 1;
                        if !repo.join(rest).exists() {
                            report
                                .broken
                                .push(format!("{name}: {link}: no `{rest}` in the repository"));
                        }
                    }
                    let pages = report.external.entry(url.to_owned()).or_default();
                    if !pages.contains(&name) {
                        pages.push(name.clone());
                    }
                }
                Link::Relative { path, fragment } => {
                    report.internal += 1;
                    if let Err(why) = resolve(file, path, fragment, &existing, &pages) {
                        report.broken.push(format!("{name}: {link}: {why}"));
                    }
                }
            }
        }
    }
    Ok(report)
}

enum Link<'a> {
    Skip,
    External(&'a str),
    Relative { path: &'a str, fragment: &'a str },
}

fn classify(link: &str) -> Link<'_> {
    let link = link.trim();
    if link.is_empty() || link == "#" || link.starts_with("javascript:") {
        return Link::Skip;
    }
    let scheme = link.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if scheme || link.starts_with("//") {
        return Link::External(link);
    }
    let (path, fragment) = link.split_once('#').unwrap_or((link, ""));
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    Link::Relative { path, fragment }
}

/// The path inside the repository of a link to one of its files on GitHub.
fn repository_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix(REPOSITORY)?.strip_prefix('/')?;
    let rest = rest
        .strip_prefix("blob/")
        .or_else(|| rest.strip_prefix("tree/"))?;
    // Skip the branch or commit.
    let (_, path) = rest.split_once('/')?;
    let path = path.split(['#', '?']).next().unwrap_or(path);
    Some(path.trim_end_matches('/'))
}

fn resolve(
    from: &Path,
    path: &str,
    fragment: &str,
    existing: &BTreeSet<&PathBuf>,
    pages: &BTreeMap<PathBuf, Page>,
) -> Result<(), String> {
    let target = if path.is_empty() {
        from.to_owned()
    } else {
        let dir = from.parent().unwrap_or(Path::new(""));
        let joined = if let Some(root) = path.strip_prefix('/') {
            PathBuf::from(decode(root))
        } else {
            dir.join(decode(path))
        };
        let mut normal = normalize(&joined).ok_or("leaves the book")?;
        if path.ends_with('/')
            || (!existing.contains(&normal) && existing.contains(&normal.join("index.html")))
        {
            normal = normal.join("index.html");
        }
        if !existing.contains(&normal) {
            return Err(format!("no file `{}` in the book", normal.display()));
        }
        normal
    };
    if fragment.is_empty() || !is_html(&target) {
        return Ok(());
    }
    let fragment = decode(fragment);
    match pages.get(&target) {
        Some(page) if page.ids.contains(&fragment) => Ok(()),
        _ => Err(format!("no anchor `#{fragment}` in `{}`", target.display())),
    }
}

/// `path` without `.` and `..`; `None` when it climbs out of the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn is_html(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "html")
}

fn list(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), GenError> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).map_err(|source| GenError::Io {
        path: dir.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| GenError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = rel.join(entry.file_name());
        if entry.path().is_dir() {
            list(root, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Percent-decoding of a URL part (invalid escapes stay as they are).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ids and links of an HTML page.
pub fn parse(html: &str) -> Page {
    let mut page = Page::default();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len() - 1);
        if name_len == 0 {
            rest = &rest[1..];
            continue;
        }
        let name = rest[1..=name_len].to_ascii_lowercase();
        let (attributes, after) = attributes(&rest[1 + name_len..]);
        rest = after;
        for (key, value) in attributes {
            match key.as_str() {
                "id" => {
                    page.ids.insert(value);
                }
                "name" if name == "a" => {
                    page.ids.insert(value);
                }
                "href" | "src" => page.links.push(value),
                _ => {}
            }
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = lower.find(&close).map_or("", |end| &rest[end..]);
        }
    }
    page
}

/// The attributes of a tag, from just after its name; and the text after its `>`.
fn attributes(s: &str) -> (Vec<(String, String)>, &str) {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == '/')
            .is_some()
        {}
        let Some(&(i, c)) = chars.peek() else {
            return (out, "");
        };
        if c == '>' {
            return (out, &s[i + 1..]);
        }
        let mut key = String::new();
        while let Some((_, c)) =
            chars.next_if(|(_, c)| !c.is_whitespace() && !matches!(c, '=' | '>' | '/'))
        {
            key.push(c.to_ascii_lowercase());
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '=').is_some() {
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            match chars.peek().map(|&(_, c)| c) {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for (_, c) in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '>')
                    {
                        value.push(c);
                    }
                }
            }
        }
        if key.is_empty() {
            // A stray character: skip it.
            chars.next();
            continue;
        }
        out.push((key, unescape(&value)));
    }
}

/// Decodes the character references mdBook writes in attribute values.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_finds_ids_and_links_but_not_in_comments_or_scripts() {
        let page = parse(
            r#"<!DOCTYPE html><html><head><link rel="stylesheet" href="css/a.css">
            <script src="x.js"></script><script>var s = "<a href='no.html'>";</script>
            <style>a[href="no2"] {}</style></head>
            <body><!-- <a href="commented.html"> -->
            <h2 id="one"><a class=header href=#one>One</a></h2>
            <a name='old'></a><a href="b.html#two&amp;x" title="a > b">t</a>
            <img src='i.png' alt="<x>"><code>&lt;a href="code.html"&gt;</code></body></html>"#,
        );
        assert_eq!(
            page.links,
            ["css/a.css", "x.js", "#one", "b.html#two&x", "i.png"]
        );
        assert_eq!(
            page.ids,
            BTreeSet::from(["one".to_owned(), "old".to_owned()])
        );
    }

    fn book(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    #[test]
    fn broken_files_and_anchors_are_found_and_external_links_listed() {
        let repo = book(&[("README.md", "")]);
        let dir = book(&[
            (
                "index.html",
                r##"<h1 id="top">x</h1><a href="#top"></a><a href="guide/a.html#sec">ok</a>
                <a href="guide/">dir</a><a href="https://locust.io">ext</a>
                <a href="https://github.com/locust-k8s-operator/locust-k8s-operator/blob/main/README.md#x">repo</a>"##,
            ),
            (
                "guide/a.html",
                r##"<h2 id="sec">s</h2><a href="../index.html#top">up</a>
                <a href="../index.html#gone">bad anchor</a><a href="b.html">missing</a>
                <a href="../../out.html">out</a><a href="#sec">self</a><a href="#nope">self bad</a>
                <a href="https://github.com/locust-k8s-operator/locust-k8s-operator/tree/main/examples">gone</a>"##,
            ),
            ("guide/index.html", "<p>dir</p>"),
        ]);
        let report = check(dir.path(), repo.path()).expect("checked");
        assert_eq!(report.pages, 3);
        assert_eq!(
            report.broken,
            [
                "guide/a.html: ../index.html#gone: no anchor `#gone` in `index.html`",
                "guide/a.html: b.html: no file `guide/b.html` in the book",
                "guide/a.html: ../../out.html: leaves the book",
                "guide/a.html: #nope: no anchor `#nope` in `guide/a.html`",
                "guide/a.html: https://github.com/locust-k8s-operator/locust-k8s-operator/tree/main/examples: no `examples` in the repository",
            ]
        );
        assert_eq!(report.repository, 2);
        assert!(report.external.contains_key("https://locust.io"));
        assert_eq!(report.internal, 9);
    }

    #[test]
    fn a_folder_without_a_book_is_an_error() {
        let dir = book(&[("a.html", "")]);
        assert!(check(dir.path(), dir.path()).is_err());
    }
}
