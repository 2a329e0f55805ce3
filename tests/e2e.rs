//! End-to-end tests on a real node: the operator runs in-cluster from its Helm chart (two
//! replicas, leader election, self-signed webhooks called through their Service, the
//! bundled OpenTelemetry Collector) and real Locust runs in real containers.
//!
//! They are `#[ignore]`d in `cargo test`: `make e2e` (tests/e2e/run.sh) brings the node
//! up, installs the chart, runs them with `--ignored`, then `helm uninstall` and the
//! namespace tests last, takes the node down and checks the host is as it was.
//! See docs/e2e.md.

#[path = "integration/common/mod.rs"]
mod common;

#[path = "e2e/harness.rs"]
mod harness;

#[path = "e2e/checkout.rs"]
mod checkout;

#[path = "e2e/verdicts.rs"]
mod verdicts;

#[path = "e2e/admission.rs"]
mod admission;

#[path = "e2e/otel.rs"]
mod otel;

#[path = "e2e/failover.rs"]
mod failover;

#[path = "e2e/lifecycle.rs"]
mod lifecycle;

#[path = "e2e/workers.rs"]
mod workers;

#[path = "e2e/security.rs"]
mod security;
