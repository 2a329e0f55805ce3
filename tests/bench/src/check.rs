//! The invariants every chaos scenario ends with: each LocustTest has exactly one master
//! Service, one master Job and one worker Job controlled by it, the expected phase, and
//! its status intact (start time, conditions, the recorded spec).

use std::collections::HashMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::controller::APPLIED_SPEC_ANNOTATION;
use locust_k8s_operator::naming;

use crate::{Result, ctx};

/// Every violation of the invariants in `ns` (empty: all hold). `want` is the phase each
/// test must be in.
pub async fn invariants(client: &Client, ns: &str, want: Phase) -> Result<Vec<String>> {
    let tests = Api::<LocustTest>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(ctx("listing LocustTests"))?
        .items;
    let jobs = Api::<Job>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(ctx("listing Jobs"))?
        .items;
    let services = Api::<Service>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(ctx("listing Services"))?
        .items;
    // (owner uid, name) → how many objects of each kind.
    let mut owned: HashMap<(String, String, &str), usize> = HashMap::new();
    let mut count = |meta: &ObjectMeta, kind: &'static str| {
        for r in meta.owner_references.iter().flatten() {
            if r.controller == Some(true) && r.kind == "LocustTest" {
                *owned
                    .entry((r.uid.clone(), meta.name.clone().unwrap_or_default(), kind))
                    .or_default() += 1;
            }
        }
    };
    jobs.iter().for_each(|j| count(&j.metadata, "Job"));
    services.iter().for_each(|s| count(&s.metadata, "Service"));
    let mut problems = Vec::new();
    for test in &tests {
        let name = test.name_any();
        let uid = test.uid().unwrap_or_default();
        let master = naming::master_name(&name);
        let worker = naming::worker_name(&name);
        for (child, kind) in [(&master, "Service"), (&master, "Job"), (&worker, "Job")] {
            let n = owned
                .get(&(uid.clone(), child.clone(), kind))
                .copied()
                .unwrap_or(0);
            if n != 1 {
                problems.push(format!("{name}: {n} × {kind} {child} (want exactly 1)"));
            }
        }
        let mine = owned.keys().filter(|(u, _, _)| *u == uid).count();
        if mine != 3 {
            problems.push(format!("{name}: owns {mine} children (want 3)"));
        }
        let status = test.status.clone().unwrap_or_default();
        if status.phase != Some(want) {
            problems.push(format!("{name}: phase {:?} (want {want:?})", status.phase));
        }
        if matches!(want, Phase::Running | Phase::Succeeded | Phase::Failed)
            && status.start_time.is_none()
        {
            problems.push(format!("{name}: no status.startTime"));
        }
        if status.conditions.iter().all(|c| c.type_ != "Ready") {
            problems.push(format!("{name}: no Ready condition"));
        }
        if status.observed_generation.is_none() {
            problems.push(format!("{name}: no status.observedGeneration"));
        }
        if !test.annotations().contains_key(APPLIED_SPEC_ANNOTATION) {
            problems.push(format!("{name}: no {APPLIED_SPEC_ANNOTATION} annotation"));
        }
    }
    Ok(problems)
}

/// Waits until [`invariants`] hold in `ns` (every test in phase `want`); returns how long
/// it took, or the violations still seen after `timeout`.
pub async fn converged(
    client: &Client,
    ns: &str,
    want: Phase,
    timeout: std::time::Duration,
) -> Result<std::time::Duration> {
    let start = std::time::Instant::now();
    loop {
        let problems = match invariants(client, ns, want).await {
            Ok(p) => p,
            // The API server may be coming back: look again.
            Err(e) => vec![e],
        };
        if problems.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            let shown: Vec<_> = problems.iter().take(10).cloned().collect();
            return Err(format!(
                "not converged after {timeout:?}: {} problems, e.g. {}",
                problems.len(),
                shown.join("; ")
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// How many events with `reason` were reported about LocustTests in `ns` (series count).
pub async fn event_count(client: &Client, ns: &str, reason: &str) -> Result<i32> {
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(ctx("listing events"))?
        .items;
    Ok(events
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.series.as_ref().map_or(1, |s| s.count.max(1)))
        .sum())
}
