//! `make bench`: the operator's figures against the real local control plane, each the
//! median of several runs, written to `target/bench/results.json` and `results.md`.
//!
//! ```text
//! bench --operator target/release/locust-k8s-operator [--sizes 100,1000] [--runs 3]
//! ```
//!
//! Sections: start-up and idle memory ([`startup`]), reconcile latency on a quiet
//! cluster (also [`startup`]), scale against a bare-client baseline with memory, latency
//! and CPU under the storm ([`scale`]), the conversion webhook under `wrk` ([`webhook`]),
//! and the binary's size.
#![forbid(unsafe_code)]

mod scale;
mod startup;
mod webhook;

use std::path::PathBuf;

use clap::Parser;
use locust_bench::Result;
use locust_bench::report::{Report, Target};

/// Benchmarks of locust-k8s-operator against a local control plane.
#[derive(Debug, Parser)]
struct Args {
    /// The operator binary to measure (the release build).
    #[arg(long)]
    operator: PathBuf,
    /// Where results.json and results.md go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Numbers of LocustTests created at once in the scale runs.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    sizes: Vec<usize>,
    /// Runs per figure (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Runs of scale sizes of 500 tests and more (long).
    #[arg(long, default_value_t = 3)]
    large_runs: usize,
    /// Tests created one by one on a quiet cluster for the latency percentiles.
    #[arg(long, default_value_t = 50)]
    quiet_tests: usize,
    /// More environment of the operator in the scale runs, `NAME=value` (repeatable),
    /// for example `--env KUBE_API_QPS=50 --env RECONCILE_CONCURRENCY=32`.
    #[arg(long = "env", value_parser = name_value)]
    env: Vec<(String, String)>,
    /// Log the operator's requests in the scale runs (the API server's audit log) and
    /// print them by verb and resource (costs the API server a little).
    #[arg(long)]
    audit: bool,
    /// Profile the API server's CPU for 30 s of the first operator run of each scale size
    /// (from 4 s after the first create), written to `<PATH>.<size>.pprof`; read it with
    /// `go tool pprof -top`.
    #[arg(long, value_name = "PATH")]
    profile_apiserver: Option<PathBuf>,
    /// Seconds of `wrk` per webhook run.
    #[arg(long, default_value_t = 10)]
    webhook_seconds: u32,
    /// Sections to skip: startup, scale, webhook.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

/// `NAME=value`.
fn name_value(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=value, got {s:?}"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<()> {
    let binary = std::path::absolute(&args.operator).map_err(|e| e.to_string())?;
    if !binary.is_file() {
        return Err(format!("no operator binary at {}", binary.display()));
    }
    let logs = tempfile::Builder::new()
        .prefix("locust-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    eprintln!("operator logs in {}", logs.display());
    let mut report = Report::new(serde_json::json!({
        "operator": binary.display().to_string(),
        "runs": args.runs,
        "large_runs": args.large_runs,
        "sizes": args.sizes,
        "quiet_tests": args.quiet_tests,
        "operator_env": args.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "webhook_seconds": args.webhook_seconds,
    }));
    let skip = |s: &str| args.skip.iter().any(|k| k == s);
    if !skip("startup") {
        startup::run(args, &binary, &logs, &mut report).await?;
    }
    if !skip("scale") {
        for &size in &args.sizes {
            scale::run(args, &binary, &logs, size, &mut report).await?;
        }
    }
    if !skip("webhook") {
        webhook::run(args, &binary, &logs, &mut report).await?;
    }
    size(&binary, &mut report);
    report.write(&args.out)?;
    println!("{}", report.table());
    eprintln!(
        "written: {0}/results.json, {0}/results.md",
        args.out.display()
    );
    Ok(())
}

/// The release binary's size and, when built, the static (musl) one's.
fn size(binary: &std::path::Path, report: &mut Report) {
    let mib = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| m.len() as f64 / 1024.0 / 1024.0)
    };
    if let Some(size) = mib(binary) {
        report.add(
            "size.release_mib",
            "release binary size (glibc, dynamic)",
            "MiB",
            vec![size],
            None,
        );
    }
    // <target>/release/x → <target>/x86_64-unknown-linux-musl/release/x
    let musl = binary
        .parent()
        .and_then(|release| release.parent())
        .map(|target| {
            target
                .join("x86_64-unknown-linux-musl/release")
                .join(binary.file_name().unwrap_or_default())
        });
    if let Some(size) = musl.as_deref().and_then(mib) {
        report.add(
            "size.static_mib",
            "static (musl) release binary size",
            "MiB",
            vec![size],
            Some(Target::Lt(15.0 * 1_000_000.0 / 1024.0 / 1024.0)),
        );
    }
}
