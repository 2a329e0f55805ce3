//! The table of invalid LocustTests (`tests/fixtures/invalid-cases.yaml`), shared by the
//! validation unit tests, the admission-webhook tests and the API-server tests.

use serde_json::Value;

/// One invalid LocustTest and the message it must produce.
#[derive(Debug, Clone)]
pub struct InvalidCase {
    /// What the case shows.
    pub name: String,
    /// `parse` (rejected while decoding) or `validate` (rejected by validation).
    pub stage: String,
    /// The whole LocustTest document: the table's base with the case's patch applied.
    pub document: Value,
    /// The field the message must name.
    pub field: String,
    /// Text the message must contain.
    pub message: String,
    /// Whether the CRD's schema and CEL rules alone reject it.
    pub crd: bool,
    /// The field the API server names, when it differs from `field`.
    pub crd_field: Option<String>,
}

/// The valid base document of the table.
pub fn valid_base() -> Value {
    table().0
}

/// Every case of the table.
pub fn invalid_cases() -> Vec<InvalidCase> {
    let (base, cases) = table();
    cases
        .into_iter()
        .map(|c| {
            let text = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let mut document = base.clone();
            merge_patch(&mut document, c.get("patch").unwrap_or(&Value::Null));
            InvalidCase {
                name: text("name"),
                stage: text("stage"),
                document,
                field: text("field"),
                message: text("message"),
                crd: c.get("crd").and_then(Value::as_bool).unwrap_or(false),
                crd_field: c
                    .get("crd_field")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }
        })
        .collect()
}

fn table() -> (Value, Vec<Value>) {
    let text = include_str!("../../fixtures/invalid-cases.yaml");
    let mut table: Value = serde_saphyr::from_str(text).unwrap_or(Value::Null);
    let base = table
        .get_mut("base")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let cases = match table.get_mut("cases").map(Value::take) {
        Some(Value::Array(cases)) => cases,
        _ => Vec::new(),
    };
    assert!(
        !cases.is_empty(),
        "tests/fixtures/invalid-cases.yaml has no cases"
    );
    (base, cases)
}

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}
