//! What the operator knows of the Go `locust-k8s-operator` (v2.x,
//! github.com/AbdelrhmanHamouda/locust-k8s-operator), which serves the same
//! `locusttests.locust.io` API, so that a cluster can move from it to this operator:
//!
//! - its finalizer on every LocustTest it reconciled ([`FINALIZER`]): removed by the
//!   controller (`src/controller/adopt.rs`), so deleting a test does not hang once the Go
//!   operator is gone;
//! - the children it created (names from [`crate::naming::go_master_name`], no labels set
//!   on the Jobs and the Service, its labels on the pods): adopted by the controller;
//! - its leader-election Lease ([`LEASE_NAME`]): while a Go operator holds it, this
//!   operator does not reconcile ([`check`]), so two operators never act on the same tests.
//!
//! The facts come from the Go operator's v2.3.0 source: `internal/controller/
//! locusttest_controller.go` (finalizer, owner references), `internal/resources/`
//! (`constants.go`, `labels.go`, `job.go`, `service.go`: labels and children),
//! `api/v2/naming.go` (child names) and `cmd/main.go` (leader election).

pub mod check;
pub mod lease;

/// The finalizer the Go operator puts on every LocustTest it reconciles (and removes only
/// itself, when the test is deleted).
pub const FINALIZER: &str = "locust.io/cleanup";

/// The Go operator's leader-election Lease (controller-runtime's `LeaderElectionID`), in
/// the namespace its pod runs in.
pub const LEASE_NAME: &str = "locust-k8s-operator.locust.io";

/// Where the Go operator usually runs: the namespace of its documented `helm install`
/// and the one of its kustomize manifests. Looked in when Leases cannot be listed across
/// the cluster.
pub const DEFAULT_NAMESPACES: [&str; 2] = ["locust-system", "locust-k8s-operator-system"];
