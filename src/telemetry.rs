//! Structured logs: JSON in a cluster, readable text in a terminal. `RUST_LOG` (a setting
//! of `run`, validated at start-up) filters, default `info`. Never log Secret values or
//! whole environment lists.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber with `filter` (`RUST_LOG` syntax; `info` if it does not
/// parse); `format: None` picks text for a terminal, else JSON.
pub fn init(format: Option<LogFormat>, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
