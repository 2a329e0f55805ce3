//! What the integration tests and the benchmarks both need to run the operator against a
//! cluster of this crate, in one place:
//!
//! - [`setup`]: the committed CRD, the shipped RBAC bound to the operator's group, a
//!   namespace holding the locustfile ConfigMap;
//! - [`command`]: the operator's command line with a controlled environment;
//! - [`probe`]: free ports, plain-HTTP GETs of its probes and `/metrics`, sums of metric
//!   samples, and its CPU time and memory from `/proc`.
//!
//! Starting and watching the process stays with each harness (the tests panic with the
//! operator's logs, the benchmarks time it), on top of [`crate::process`].

pub mod command;
pub mod probe;
pub mod setup;

pub use command::Command;
pub use setup::{LOCUSTFILE, OPERATOR_GROUP, OPERATOR_USER};
