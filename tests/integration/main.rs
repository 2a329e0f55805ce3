//! The integration tests: one test binary, against real local control planes (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, kwok nodes; see
//! `tests/support`), the operator's real binary and real Locust from PyPI.
//!
//! Each module is one area. Tests share the default cluster ([`common::cluster`], the CRD
//! and the operator's RBAC installed) and each works in namespaces of its own. A module
//! whose tests change cluster-wide state (the CRD's conversion block, webhook
//! configurations, other CRDs, a cluster-wide operator, API server flags) uses a cluster
//! named after itself ([`test_cluster::shared_named`]), which no other module sees.
//!
//! Run one area with `cargo test --test integration <module>::`.

mod chart_common;
mod common;

mod api_server;
mod certs;
mod chart;
mod chart_install;
mod chart_rbac;
mod ci_command;
mod cli;
mod controller;
mod controller_all_namespaces;
mod controller_crash;
mod controller_health;
mod controller_leader;
mod controller_locust;
mod controller_rbac;
mod controller_scope;
mod crd_presentation;
mod gitops_health;
mod go_migration;
mod go_migration_audit;
mod locust_otel;
mod locust_real;
mod locust_web_auth;
mod namespace_delete;
mod observability;
mod pod_extensions;
mod secure_metrics;
mod test_files;
mod test_files_real;
mod web_ui;
mod webhooks;
