//! "locust.io/v1 is deprecated", logged once per v1 object the operator converts.
//!
//! The API server itself warns every v1 client (the CRD marks v1 deprecated); this log tells
//! the operator's owner which tests still use v1. Objects are keyed by uid (namespace/name
//! before the API server assigned one); the set is bounded so it cannot grow forever.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::api::V1_DEPRECATION_WARNING;

/// Most objects remembered; past it the set starts over (a repeated log line, no leak).
const MAX_REMEMBERED: usize = 10_000;

fn seen() -> &'static Mutex<HashSet<String>> {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Logs the deprecation once for `object` if it or the conversion's target is v1.
pub(super) fn note(object: &Value, desired: &str) {
    let version = object.get("apiVersion").and_then(Value::as_str);
    if version != Some("locust.io/v1") && desired != "locust.io/v1" {
        return;
    }
    let meta = object.get("metadata");
    let field = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (namespace, name, uid) = (field("namespace"), field("name"), field("uid"));
    let key = if uid.is_empty() {
        format!("{namespace}/{name}")
    } else {
        uid
    };
    if first_time(key) {
        tracing::warn!(%namespace, %name, "{V1_DEPRECATION_WARNING}");
    }
}

/// Whether `key` is new (and remembers it).
fn first_time(key: String) -> bool {
    let Ok(mut set) = seen().lock() else {
        return true;
    };
    if set.len() >= MAX_REMEMBERED {
        set.clear();
    }
    set.insert(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_object_is_noted_once() {
        let key = format!("test-{}", std::process::id());
        assert!(first_time(key.clone()));
        assert!(!first_time(key));
    }
}
