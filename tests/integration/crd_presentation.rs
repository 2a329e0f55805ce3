//! What users read about LocustTests with kubectl, against a real API server with the
//! generated CRD: `kubectl get locusttests` (and `-o wide`) shows the verdict and the
//! final numbers of a status written through the status subresource, and
//! `kubectl explain` describes the test and its spec in words written for users.

use crate::chart_common;
use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use chart_common::kubectl;
use kube::api::{Api, Patch, PatchParams};
use locust_k8s_operator::api::v2::LocustTest;
use serde_json::json;

/// Writes `status` through the status subresource, as the operator does.
async fn write_status(ns: &str, name: &str, status: serde_json::Value) {
    let client = common::admin().await;
    Api::<LocustTest>::namespaced(client, ns)
        .patch_status(
            name,
            &PatchParams::apply("crd-presentation-test").force(),
            &Patch::Apply(&json!({
                "apiVersion": "locust.io/v2", "kind": "LocustTest", "status": status
            })),
        )
        .await
        .unwrap_or_else(|e| panic!("writing the status of {ns}/{name}: {e}"));
}

/// A `kubectl get` table as rows of header → cell, cut at the header's column starts
/// (headers such as `FAIL %` contain a space).
fn table(out: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = out.lines();
    let header = lines.next().expect("a header line");
    let mut starts = Vec::new();
    let bytes = header.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let column_start = *b != b' ' && (i == 0 || header[..i].ends_with("   "));
        if column_start {
            starts.push(i);
        }
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let end = starts.get(n + 1).copied().unwrap_or(header.len());
            header[s..end].trim().to_string()
        })
        .collect();
    lines
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(n, &s)| {
                    let end = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    let cell = line.get(s.min(line.len())..end).unwrap_or("").trim();
                    (names[n].clone(), cell.to_string())
                })
                .collect()
        })
        .collect()
}

fn row<'a>(rows: &'a [BTreeMap<String, String>], name: &str) -> &'a BTreeMap<String, String> {
    rows.iter()
        .find(|r| r.get("NAME").map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in {rows:?}"))
}

#[tokio::test]
async fn kubectl_get_shows_the_verdict_and_the_numbers() {
    let cluster = common::cluster().await;
    let client = common::admin().await;
    let ns = common::namespace("columns").await;
    for name in ["passed", "breached", "running"] {
        common::create(&client, &ns, &common::locust_test(name, 3)).await;
    }
    // (name, phase, Ready status and reason, result: failure %, RPS, p95)
    let statuses = [
        (
            "passed",
            "Succeeded",
            ("True", "TestSucceeded"),
            Some((2.5, 48.25, 180.0)),
        ),
        (
            "breached",
            "Failed",
            ("False", "ThresholdsBreached"),
            Some((33.33, 1.5, 2400.0)),
        ),
        ("running", "Running", ("True", "ResourcesCreated"), None),
    ];
    for (name, phase, (ready, reason), result) in statuses {
        let mut status = json!({
            "phase": phase, "observedGeneration": 1,
            "connectedWorkers": if phase == "Running" { 2 } else { 0 },
            "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "m",
                            "lastTransitionTime": "2026-01-01T00:00:00Z",
                            "observedGeneration": 1}],
        });
        if let Some((percent, rps, p95)) = result {
            status["result"] = json!({
                "totalRequests": 4000, "failedRequests": 100, "averageResponseTime": 42.5,
                "failurePercentage": percent, "requestsPerSecond": rps, "p95ResponseTime": p95,
            });
        }
        write_status(&ns, name, status).await;
    }

    let (ok, out, err) = kubectl(
        cluster.kubeconfig(),
        &["-n", &ns, "get", "locusttests"],
        None,
    );
    assert!(ok, "kubectl get: {err}");
    let rows = table(&out);
    let headers: Vec<&str> = rows[0].keys().map(String::as_str).collect();
    for h in [
        "NAME",
        "PHASE",
        "RESULT",
        "WORKERS",
        "CONNECTED",
        "RPS",
        "FAIL %",
        "AGE",
    ] {
        assert!(headers.contains(&h), "column {h} in:\n{out}");
    }
    assert!(
        !headers.contains(&"P95 MS") && !headers.contains(&"IMAGE"),
        "p95 and image only in -o wide:\n{out}"
    );
    let passed = row(&rows, "passed");
    assert_eq!(passed["PHASE"], "Succeeded", "{out}");
    assert_eq!(passed["RESULT"], "TestSucceeded", "{out}");
    assert_eq!(passed["WORKERS"], "3", "{out}");
    assert_eq!(passed["CONNECTED"], "0", "{out}");
    assert_eq!(passed["RPS"], "48.25", "{out}");
    assert_eq!(passed["FAIL %"], "2.5", "{out}");
    let breached = row(&rows, "breached");
    assert_eq!(breached["PHASE"], "Failed", "{out}");
    assert_eq!(breached["RESULT"], "ThresholdsBreached", "{out}");
    assert_eq!(breached["FAIL %"], "33.33", "{out}");
    let running = row(&rows, "running");
    assert_eq!(running["PHASE"], "Running", "{out}");
    assert_eq!(running["CONNECTED"], "2", "{out}");
    assert_eq!(running["RPS"], "", "no numbers before the end:\n{out}");

    let (ok, out, err) = kubectl(
        cluster.kubeconfig(),
        &["-n", &ns, "get", "locusttests", "-o", "wide"],
        None,
    );
    assert!(ok, "kubectl get -o wide: {err}");
    let rows = table(&out);
    assert_eq!(row(&rows, "passed")["P95 MS"], "180", "{out}");
    assert_eq!(row(&rows, "breached")["P95 MS"], "2400", "{out}");
    assert_eq!(
        row(&rows, "passed")["IMAGE"],
        "locustio/locust:2.43.1",
        "{out}"
    );
}

/// `kubectl explain <what>`, retried while the API server has not published the CRD's
/// OpenAPI yet.
async fn explain(args: &[&str]) -> String {
    let cluster = common::cluster().await;
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    common::eventually(
        &format!("kubectl explain {args:?}"),
        Duration::from_secs(60),
        || {
            let (ok, out, err) = kubectl(cluster.kubeconfig(), &all, None);
            async move { if ok { Ok(out) } else { Err(err) } }
        },
    )
    .await
}

#[tokio::test]
async fn kubectl_explain_describes_the_test_and_its_spec_for_users() {
    let top = explain(&["locusttest", "--api-version=locust.io/v2"]).await;
    assert!(
        top.contains("A distributed Locust load test that runs once."),
        "{top}"
    );
    assert!(top.contains("verdict"), "{top}");
    let spec = explain(&["locusttest.spec", "--api-version=locust.io/v2"]).await;
    assert!(spec.contains("What the test runs"), "{spec}");
    assert!(spec.contains("immutable"), "{spec}");
    let v1 = explain(&["locusttest", "--api-version=locust.io/v1"]).await;
    assert!(v1.contains("deprecated locust.io/v1 layout"), "{v1}");
    let v1_spec = explain(&["locusttest.spec", "--api-version=locust.io/v1"]).await;
    assert!(v1_spec.contains("flat v1 layout"), "{v1_spec}");
    for text in [&top, &spec, &v1, &v1_spec] {
        assert!(!text.contains("clippy"), "{text}");
        assert!(!text.contains("Auto-generated derived type"), "{text}");
    }
}
