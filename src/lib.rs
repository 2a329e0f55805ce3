//! locust-k8s-operator: runs distributed Locust load tests from `LocustTest` resources.
//!
//! The pure core (API types, naming, validation, conversion, builders) carries most tests;
//! I/O lives at the edges (CLI, controller, HTTPS server).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod builders;
pub mod certs;
pub mod cli;
pub mod config;
pub mod controller;
pub mod conversion;
pub mod crd;
pub mod go_operator;
pub mod leader;
pub mod locust;
pub mod manifest;
pub mod metrics;
pub mod naming;
pub mod rate_limit;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod text;
pub mod validation;
pub mod yaml;
