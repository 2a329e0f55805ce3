//! A real Kubernetes control plane for integration tests, and for `make cluster-up`.
//!
//! [`Cluster::start`] runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler
//! and kwok as local processes on 127.0.0.1 with free ports in a temporary folder, with
//! certificates generated here, RBAC on, and three kwok nodes (see [`nodes`]). Pods on
//! them run and finish as their annotations ask (see [`annotations`]). Binaries come from
//! `make cluster-bins` (see [`binaries`]).
//!
//! ```no_run
//! # async fn demo() -> test_cluster::Result<()> {
//! let cluster = test_cluster::shared().await?;
//! let namespace = cluster.namespace("my-test").await?;
//! let client = cluster.client().await?;
//! # let _ = (namespace, client);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binaries;
pub mod certs;
pub mod cluster;
pub mod components;
pub mod daemon;
pub mod error;
pub mod fixtures;
pub mod kubeconfig;
pub mod kwok;
pub mod nodes;
pub mod operator;
pub mod process;
pub mod real_node;
mod shared;

pub use cluster::{Cluster, Options};
pub use error::{Error, Result};
pub use kwok::annotations;
pub use shared::{DEFAULT, shared, shared_named};
