//! The API server's audit log, limited to the operator's group: every request the
//! operator makes, with its user, verb, resource, URI and time. The chaos suite reads it
//! to prove client-side throttling (requests per second), that only the lease holder
//! writes, and that the operator's watches are selected by its labels.

use std::path::{Path, PathBuf};

use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

use crate::setup::OPERATOR_GROUP;
use crate::{Result, ctx};

/// Files of an audit-logging API server.
pub struct Audit {
    /// The JSON-lines log.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Audit {
    /// A policy logging every request of [`OPERATOR_GROUP`] once (at its completion, or at
    /// the start of a watch), nothing else; returns it and the `kube-apiserver` flags.
    pub fn new() -> Result<(Self, Vec<String>)> {
        Self::with_rules(&format!(
            "- level: Metadata\n  userGroups: [{OPERATOR_GROUP}]\n- level: None\n"
        ))
    }

    /// As [`Audit::new`], and also every write of every other client (the controllers,
    /// the scheduler, kwok): what the operator's writes set off.
    pub fn with_all_writes() -> Result<(Self, Vec<String>)> {
        Self::with_rules(&format!(
            "- level: Metadata\n  userGroups: [{OPERATOR_GROUP}]\n- level: Metadata\n  \
             verbs: [create, update, patch, delete, deletecollection]\n- level: None\n"
        ))
    }

    fn with_rules(rules: &str) -> Result<(Self, Vec<String>)> {
        let dir = tempfile::tempdir().map_err(ctx("audit folder"))?;
        let policy = dir.path().join("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n\
                 rules:\n{rules}"
            ),
        )
        .map_err(ctx("writing the audit policy"))?;
        let log = dir.path().join("audit.log");
        let args = test_cluster::components::audit_log_args(&policy, &log);
        Ok((Self { log, _dir: dir }, args))
    }

    /// Every request logged so far, once each, oldest first.
    pub fn requests(&self) -> Result<Vec<Request>> {
        read(&self.log)
    }
}

/// One logged request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The user (one per replica).
    pub user: String,
    /// `get`, `list`, `watch`, `create`, `patch`, …
    pub verb: String,
    /// `jobs`, `leases`, `locusttests`, …
    pub resource: String,
    /// The subresource (`status`) if any.
    pub subresource: String,
    /// The request URI (with its query).
    pub uri: String,
    /// When the API server received it.
    pub at: Timestamp,
    /// The response code.
    pub code: i64,
}

impl Request {
    /// Whether it changes something.
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(rename = "auditID")]
    audit_id: String,
    verb: String,
    #[serde(rename = "requestURI")]
    request_uri: String,
    user: User,
    object_ref: Option<ObjectRef>,
    request_received_timestamp: String,
    response_status: Option<Status>,
}

#[derive(Deserialize)]
struct User {
    username: String,
}

#[derive(Deserialize)]
struct ObjectRef {
    resource: Option<String>,
    subresource: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<i64>,
}

fn read(path: &Path) -> Result<Vec<Request>> {
    let text = std::fs::read_to_string(path).map_err(ctx("reading the audit log"))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        // A line cut short by a server killed mid-write is skipped; any other line must
        // parse, or the checks built on this log would pass on nothing.
        let l = match serde_json::from_str::<Line>(line) {
            Ok(l) => l,
            Err(e) if e.is_eof() => continue,
            Err(e) => return Err(format!("an audit line does not parse ({e}): {line}")),
        };
        if !seen.insert(l.audit_id) {
            continue;
        }
        let at: Timestamp = l
            .request_received_timestamp
            .parse()
            .map_err(ctx("audit timestamp"))?;
        let (resource, subresource) = l
            .object_ref
            .map(|o| {
                (
                    o.resource.unwrap_or_default(),
                    o.subresource.unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        out.push(Request {
            user: l.user.username,
            verb: l.verb,
            resource,
            subresource,
            uri: l.request_uri,
            at,
            code: l.response_status.and_then(|s| s.code).unwrap_or(0),
        });
    }
    out.sort_by_key(|r| r.at);
    Ok(out)
}

/// The most requests in any window of `window` seconds (sliding, starting at a request).
pub fn max_in_window(requests: &[&Request], window: f64) -> usize {
    let times: Vec<f64> = requests
        .iter()
        .map(|r| r.at.as_microsecond() as f64 / 1e6)
        .collect();
    let mut best = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while j < times.len() && times[j] < times[i] + window {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}
