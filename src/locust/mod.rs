//! Talking to a running Locust master over its HTTP API (`/stats/requests`,
//! `/stats/report`).
//!
//! The pieces are pure where they can be: [`master_url`] builds the master's base URL from
//! the `MASTER_URL_TEMPLATE` setting, [`MasterStats`] is the typed `/stats/requests` answer,
//! [`live`] and [`result`] derive what the status shows, and [`Settler`] decides when the
//! final totals have settled. [`LocustClient`] is the only I/O: plain HTTP/1.1 with short
//! time-outs.

mod client;
mod report;
mod stats;
mod url;

pub use client::{
    BasicAuth, DEFAULT_REPORT_TIMEOUT, DEFAULT_TIMEOUT, LocustClient, MAX_REPORT_BYTES,
};
pub use report::{FinalReport, gzip};
pub use stats::{
    EndpointStats, LiveStats, MasterStats, RunnerState, SETTLE_TIME, STATS_CACHE_TIME, Settler,
    Totals, WORKER_REPORT_INTERVAL, WorkerInfo, live, parse_stats, result,
};
pub use url::{DEFAULT_MASTER_URL_TEMPLATE, MASTER_URL_TEMPLATE_ENV, MasterUrl, master_url};

use std::time::Duration;

/// Why talking to the Locust master failed, or why its URL could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LocustError {
    /// `MASTER_URL_TEMPLATE` (or the URL built from it) is not a usable `http://host:port`.
    #[error("{MASTER_URL_TEMPLATE_ENV} {template:?}: {reason}")]
    InvalidTemplate {
        /// The template as configured.
        template: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// `spec.webUI.basePath` cannot be appended to a URL.
    #[error("spec.webUI.basePath {base_path:?}: {reason}")]
    InvalidBasePath {
        /// The base path as written.
        base_path: String,
        /// What is wrong.
        reason: String,
    },
    /// The TCP connection to the master failed.
    #[error("GET {url}: cannot connect: {source}")]
    Connect {
        /// The URL asked.
        url: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("GET {url}: {source}")]
    Http {
        /// The URL asked.
        url: String,
        /// The HTTP error.
        #[source]
        source: hyper::Error,
    },
    /// The master did not answer in time.
    #[error("GET {url}: no answer within {after:?}")]
    Timeout {
        /// The URL asked.
        url: String,
        /// The time-out.
        after: Duration,
    },
    /// The master answered with a status other than 2xx.
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The answer is bigger than the client accepts.
    #[error("GET {url}: answer larger than {limit} bytes")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The answer is not the JSON expected.
    #[error("GET {url}: unexpected answer: {source}")]
    Decode {
        /// The URL asked.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}
