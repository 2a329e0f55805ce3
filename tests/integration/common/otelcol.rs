//! A real OpenTelemetry Collector (`tests/cluster/otelcol`, built from its Go modules by
//! `tests/cluster/build.sh` into the control-plane binaries' folder) receiving OTLP on
//! 127.0.0.1 over gRPC and HTTP and writing every batch as a line of OTLP JSON, and what
//! the tests read back from it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::local_locust::{free_port, kill_group, spawn_in_group};

/// The collector binary, failing (never skipping) with how to build it.
pub fn otelcol_bin() -> PathBuf {
    let bin = test_cluster::binaries::bin_dir().join("otelcol");
    assert!(
        bin.is_file(),
        "the OpenTelemetry Collector is not built (looked for {}): run `make cluster-bins` \
         (or `tests/cluster/build.sh otelcol`; needs Go and the Go module proxy)",
        bin.display()
    );
    bin
}

/// A running collector; killed (by process group) when dropped.
pub struct Collector {
    child: Child,
    dir: tempfile::TempDir,
    /// The OTLP/gRPC port on 127.0.0.1.
    pub grpc_port: u16,
    /// The OTLP/HTTP port on 127.0.0.1.
    pub http_port: u16,
}

impl Collector {
    /// Starts the collector and waits until both receivers accept connections.
    pub async fn start() -> Collector {
        let dir = tempfile::tempdir().expect("temp dir");
        let (grpc_port, http_port) = (free_port(), free_port());
        let out = dir.path().join("otlp.jsonl");
        let config = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc_port}\n      \
             http:\n        endpoint: 127.0.0.1:{http_port}\n\
             exporters:\n  file:\n    path: {}\n    flush_interval: 100ms\n\
             service:\n  pipelines:\n\
             \x20   traces: {{receivers: [otlp], exporters: [file]}}\n\
             \x20   metrics: {{receivers: [otlp], exporters: [file]}}\n\
             \x20   logs: {{receivers: [otlp], exporters: [file]}}\n",
            out.display()
        );
        let config_path = dir.path().join("config.yaml");
        fs::write(&config_path, config).expect("collector config");
        let child = spawn_in_group(
            Command::new(otelcol_bin()).arg(format!("--config={}", config_path.display())),
            &dir.path().join("otelcol.log"),
        );
        let mut collector = Collector {
            child,
            dir,
            grpc_port,
            http_port,
        };
        let until = Instant::now() + Duration::from_secs(30);
        for port in [grpc_port, http_port] {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                let exited = collector.child.try_wait().expect("try_wait");
                assert!(
                    exited.is_none() && Instant::now() < until,
                    "otelcol did not listen on {port} (exit: {exited:?}):\n{}",
                    collector.log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        collector
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("otelcol.log")).unwrap_or_default()
    }

    /// Everything received so far, one OTLP JSON export request per element (a line the
    /// exporter is still writing is left for the next call).
    pub fn batches(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.dir.path().join("otlp.jsonl")).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a line of OTLP JSON"))
            .collect()
    }

    /// The spans and metrics received so far, each with its resource's attributes.
    pub fn signals(&self) -> Vec<Signal> {
        self.batches().iter().flat_map(signals).collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        kill_group(&mut self.child);
        if std::thread::panicking() {
            eprintln!("---- otelcol log ----\n{}", self.log());
        }
    }
}

/// What a signal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A span (its name).
    Span,
    /// A histogram metric (its name) and the number of measurements in its data points.
    Histogram(u64),
    /// Any other metric.
    Metric,
    /// A log record.
    Log,
}

/// One span, metric or log record with its resource's attributes (values as strings).
#[derive(Debug, Clone)]
pub struct Signal {
    /// Span or metric name (empty for a log record).
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// The resource's attributes.
    pub resource: BTreeMap<String, String>,
}

impl Signal {
    /// The resource attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.resource.get(key).map(String::as_str)
    }
}

/// An OTLP JSON `AnyValue` as a string (OTLP JSON writes 64-bit integers as strings).
fn any_value(v: &Value) -> String {
    match v.as_object().and_then(|o| o.values().next()) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v[key].as_array().into_iter().flatten()
}

/// The signals of one export request (`resourceSpans`, `resourceMetrics` or `resourceLogs`).
fn signals(batch: &Value) -> Vec<Signal> {
    let mut out = Vec::new();
    for (resources, scopes) in [
        ("resourceSpans", "scopeSpans"),
        ("resourceMetrics", "scopeMetrics"),
        ("resourceLogs", "scopeLogs"),
    ] {
        for r in array(batch, resources) {
            let resource: BTreeMap<String, String> = array(&r["resource"], "attributes")
                .map(|a| {
                    (
                        a["key"].as_str().unwrap_or("").to_string(),
                        any_value(&a["value"]),
                    )
                })
                .collect();
            for scope in array(r, scopes) {
                let push = |name: &Value, kind: Kind, out: &mut Vec<Signal>| {
                    out.push(Signal {
                        name: name.as_str().unwrap_or("").to_string(),
                        kind,
                        resource: resource.clone(),
                    });
                };
                for s in array(scope, "spans") {
                    push(&s["name"], Kind::Span, &mut out);
                }
                for m in array(scope, "metrics") {
                    let kind = if m.get("histogram").is_some() {
                        let count = array(&m["histogram"], "dataPoints")
                            .filter_map(|p| {
                                let c = &p["count"];
                                c.as_u64().or_else(|| c.as_str()?.parse().ok())
                            })
                            .sum();
                        Kind::Histogram(count)
                    } else {
                        Kind::Metric
                    };
                    push(&m["name"], kind, &mut out);
                }
                for _ in array(scope, "logRecords") {
                    push(&Value::Null, Kind::Log, &mut out);
                }
            }
        }
    }
    out
}
