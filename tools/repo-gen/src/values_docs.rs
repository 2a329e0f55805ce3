//! The chart README's values table, generated from the `# --` comments of values.yaml
//! (the helm-docs convention: a `# -- text` comment, continued by the `#` lines right
//! after it, documents the key below it; `# -- (int) text` names the type where the
//! default cannot, e.g. `null`).
//!
//! Every value must be documented: a leaf (a scalar, a list, an empty map) needs a `# --`
//! comment on itself or on a map above it, or generation fails naming it.

use std::path::Path;

use serde_json::Value;

use crate::error::{GenError, read};

/// The chart, relative to the repository root.
pub const CHART: &str = "charts/locust-k8s-operator";
/// The line before the generated table in the chart README.
pub const BEGIN: &str =
    "<!-- BEGIN values table: generated from values.yaml by `make chart-docs`; do not edit -->";
/// The line after it.
pub const END: &str = "<!-- END values table -->";

/// One documented key.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Dotted path, e.g. `image.tag`.
    pub key: String,
    /// `string`, `int`, `float`, `bool`, `list`, `object` or the comment's `(type)`.
    pub kind: String,
    /// The default from values.yaml.
    pub default: Value,
    /// The comment's text, lines joined.
    pub description: String,
}

/// The documented keys of `values` (the text of values.yaml) in file order, with their
/// defaults and types. Fails when a value is undocumented or a type cannot be told.
pub fn rows(values: &str) -> Result<Vec<Row>, String> {
    let parsed: Value = serde_saphyr::from_str(values).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<String> = None;
    let mut documented: Vec<(String, String)> = Vec::new();
    for line in values.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.strip_prefix(' ').unwrap_or(comment);
            if let Some(start) = comment.strip_prefix("--") {
                pending = Some(start.trim().to_owned());
            } else if let Some(text) = pending.as_mut() {
                text.push(' ');
                text.push_str(comment.trim());
            }
            continue;
        }
        if trimmed.is_empty() {
            pending = None;
            continue;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let path = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .chain([key])
            .collect::<Vec<_>>()
            .join(".");
        stack.push((indent, key.to_owned()));
        if let Some(text) = pending.take() {
            documented.push((path, text));
        }
    }
    let mut undocumented = Vec::new();
    leaves("", &parsed, &mut |leaf| {
        let covered = documented
            .iter()
            .any(|(k, _)| leaf == k || leaf.starts_with(&format!("{k}.")));
        if !covered {
            undocumented.push(leaf.to_owned());
        }
    });
    if !undocumented.is_empty() {
        return Err(format!(
            "undocumented values (add a `# -- description` comment above each, or above a map holding it): {}",
            undocumented.join(", ")
        ));
    }
    documented
        .into_iter()
        .map(|(key, text)| {
            let default = key
                .split('.')
                .try_fold(&parsed, |node, part| node.get(part))
                .cloned()
                .ok_or_else(|| format!("`{key}`: not found in the parsed values"))?;
            let (kind, description) = match text.strip_prefix('(').and_then(|t| t.split_once(')')) {
                Some((kind, rest)) => (kind.trim().to_owned(), rest.trim().to_owned()),
                None => (
                    kind_of(&default)
                        .ok_or_else(|| {
                            format!(
                                "`{key}`: its default is null; name the type: `# -- (int) text`"
                            )
                        })?
                        .to_owned(),
                    text,
                ),
            };
            if description.is_empty() {
                return Err(format!("`{key}`: the `# --` comment has no text"));
            }
            Ok(Row {
                key,
                kind,
                default,
                description,
            })
        })
        .collect()
}

/// Calls `found` with the dotted path of every leaf: scalars, lists and empty maps.
fn leaves(prefix: &str, value: &Value, found: &mut dyn FnMut(&str)) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, found);
            }
        }
        _ => found(prefix),
    }
}

fn kind_of(value: &Value) -> Option<&'static str> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    })
}

/// The Markdown table of `rows`, between [`BEGIN`] and [`END`].
pub fn table(rows: &[Row]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!("{BEGIN}\n| key | type | default | description |\n|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} |\n",
            row.key,
            row.kind,
            cell(&row.default.to_string()),
            cell(&row.description)
        ));
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// `readme` with the text between the markers (inclusive) replaced by `table`.
pub fn splice(readme: &str, table: &str) -> Result<String, String> {
    let start = readme
        .find(BEGIN)
        .ok_or_else(|| format!("no `{BEGIN}` line"))?;
    let end = readme[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .ok_or_else(|| format!("no `{END}` line after the begin marker"))?;
    let end = if readme[end..].starts_with('\n') {
        end + 1
    } else {
        end
    };
    Ok(format!("{}{table}{}", &readme[..start], &readme[end..]))
}

/// The chart README of the repository at `root` with a fresh values table.
pub fn generate(root: &Path) -> Result<String, GenError> {
    let chart = root.join(CHART);
    let values_path = chart.join("values.yaml");
    let rows = rows(&read(&values_path)?).map_err(|message| GenError::Invalid {
        path: values_path,
        message,
    })?;
    let readme_path = chart.join("README.md");
    splice(&read(&readme_path)?, &table(&rows)).map_err(|message| GenError::Invalid {
        path: readme_path,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: &str = "\
# A section comment, not documentation.

# -- Replicas.
replicaCount: 2
image:
  # -- Repository;
  # continued | here.
  repository: a/b
  # -- (string) Tag; null: appVersion.
  tag: null
# -- Whole object.
resources:
  requests:
    cpu: 1
list:
  # -- Items.
  items:
    - a: 1
      b: 2
";

    #[test]
    fn comments_document_the_key_below_them_with_type_and_default() {
        let rows = rows(VALUES).expect("documented");
        let got: Vec<(&str, &str, String, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.key.as_str(),
                    r.kind.as_str(),
                    r.default.to_string(),
                    r.description.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("replicaCount", "int", "2".into(), "Replicas."),
                (
                    "image.repository",
                    "string",
                    "\"a/b\"".into(),
                    "Repository; continued | here."
                ),
                (
                    "image.tag",
                    "string",
                    "null".into(),
                    "Tag; null: appVersion."
                ),
                (
                    "resources",
                    "object",
                    r#"{"requests":{"cpu":1}}"#.into(),
                    "Whole object."
                ),
                ("list.items", "list", r#"[{"a":1,"b":2}]"#.into(), "Items."),
            ]
        );
        let table = table(&rows);
        assert!(table.contains(
            "| `image.repository` | string | `\"a/b\"` | Repository; continued \\| here. |"
        ));
    }

    #[test]
    fn an_undocumented_value_or_an_untyped_null_fails_naming_it() {
        let err = rows(&VALUES.replace("  # -- Repository;\n  # continued | here.\n", ""))
            .expect_err("undocumented");
        assert!(err.contains("image.repository"), "{err}");
        let err = rows(&VALUES.replace("(string) ", "")).expect_err("null");
        assert!(
            err.contains("`image.tag`") && err.contains("(int)"),
            "{err}"
        );
    }

    #[test]
    fn the_table_replaces_only_the_text_between_the_markers() {
        let readme = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
        let new = splice(&readme, &format!("{BEGIN}\nnew\n{END}\n")).expect("markers");
        assert_eq!(new, format!("intro\n{BEGIN}\nnew\n{END}\noutro\n"));
        assert!(splice("no markers", "x").is_err());
    }
}
