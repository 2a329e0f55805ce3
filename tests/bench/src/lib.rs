//! Benchmarks (`make bench`) and fault injection (`make chaos`) of locust-k8s-operator,
//! against the real local control plane of `test-cluster` (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok nodes) and the operator's release binary
//! run as a subprocess, exactly as a user would run it.
//!
//! - [`apiserver`]: the API server's own request latencies and CPU profile;
//! - [`setup`]: a cluster with the CRD and the operator's RBAC, namespaces with the
//!   locustfile ConfigMap;
//! - [`operator`]: the operator process, its probes, `/metrics` and `/proc` figures;
//! - [`fixtures`]: LocustTests whose pods run (on kwok) as long as a scenario needs;
//! - [`track`]: watches that time when each test's children appear and when it runs;
//! - [`check`]: the invariants every chaos scenario ends with;
//! - [`stats`] and [`report`]: medians, percentiles, `results.json` and the table.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apiserver;
pub mod audit;
pub mod check;
pub mod fixtures;
pub mod operator;
pub mod report;
pub mod setup;
pub mod stats;
pub mod track;

/// Errors of the suites are reported and end the run: a plain message is enough.
pub type Result<T> = std::result::Result<T, String>;

/// Turns any displayable error into this crate's error, with what was being done.
pub fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}
