//! `make chaos`: fault injection against the real local control plane. Every scenario
//! starts a fresh cluster (with the API server's audit log on for the operator's group),
//! runs the operator's release binary, injects its fault, and ends by checking that every
//! LocustTest has exactly one of each child, the right phase and its status intact.
//!
//! ```text
//! chaos --operator target/release/locust-k8s-operator [--short] [--only storm,leader]
//! ```
#![forbid(unsafe_code)]

mod apiserver;
mod evictions;
mod leader;
mod neighbours;
mod storm;
mod throttle;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use locust_bench::Result;

/// Fault injection for locust-k8s-operator against a local control plane.
#[derive(Debug, Parser)]
pub struct Args {
    /// The operator binary (the release build).
    #[arg(long)]
    operator: PathBuf,
    /// The short form (CI): fewer tests and fewer kills.
    #[arg(long)]
    short: bool,
    /// Only these scenarios: storm, apiserver, leader, evictions, neighbours, throttle.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the summary (chaos.json) goes.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
}

/// What a scenario hands back: its findings, as `(key, value)` lines for the summary.
pub type Findings = Vec<(String, serde_json::Value)>;

/// Paths and settings every scenario gets.
pub struct Ctx {
    /// The operator binary.
    pub binary: PathBuf,
    /// Where operator logs go.
    pub logs: PathBuf,
    /// Short form.
    pub short: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let binary = match std::path::absolute(&args.operator) {
        Ok(b) if b.is_file() => b,
        _ => {
            eprintln!("chaos: no operator binary at {}", args.operator.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let logs = match tempfile::Builder::new().prefix("locust-chaos-").tempdir() {
        Ok(d) => d.keep(),
        Err(e) => {
            eprintln!("chaos: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!("operator logs in {}", logs.display());
    let ctx = Ctx {
        binary,
        logs,
        short: args.short,
    };
    let wanted = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let mut summary = serde_json::Map::new();
    let mut failed = Vec::new();
    let mut passed = 0;
    macro_rules! scenario {
        ($name:literal, $f:expr) => {
            if wanted($name) {
                eprintln!("== chaos: {}", $name);
                let start = Instant::now();
                let result: Result<Findings> = $f.await;
                let secs = start.elapsed().as_secs_f64();
                let mut obj = serde_json::Map::new();
                obj.insert("seconds".into(), secs.into());
                match result {
                    Ok(findings) => {
                        passed += 1;
                        eprintln!("   {} passed in {secs:.0} s", $name);
                        for (k, v) in findings {
                            eprintln!("   {k}: {v}");
                            obj.insert(k, v);
                        }
                        obj.insert("passed".into(), true.into());
                    }
                    Err(e) => {
                        eprintln!("   {} FAILED after {secs:.0} s: {e}", $name);
                        obj.insert("passed".into(), false.into());
                        obj.insert("error".into(), e.into());
                        failed.push($name);
                    }
                }
                summary.insert($name.into(), obj.into());
            }
        };
    }
    scenario!("storm", storm::run(&ctx));
    scenario!("apiserver", apiserver::run(&ctx));
    scenario!("leader", leader::run(&ctx));
    scenario!("evictions", evictions::run(&ctx));
    scenario!("neighbours", neighbours::run(&ctx));
    scenario!("throttle", throttle::run(&ctx));
    let _ = std::fs::create_dir_all(&args.out);
    let _ = std::fs::write(
        args.out.join("chaos.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    );
    // The closing line CI reads.
    println!("chaos: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!("failed: {}", failed.join(", "));
        std::process::ExitCode::FAILURE
    }
}

/// A fresh cluster with the audit log on, and its audit log.
pub async fn env() -> Result<(locust_bench::setup::Env, locust_bench::audit::Audit)> {
    let (audit, args) = locust_bench::audit::Audit::new()?;
    let env = locust_bench::setup::Env::start(args).await?;
    Ok((env, audit))
}

/// A tiny xorshift generator: random moments without a dependency (seed printed).
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock.
    pub fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("   random seed {seed}");
        Self(seed)
    }

    /// A number in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + (self.0 % 1_000_000) as f64 / 1_000_000.0 * (hi - lo)
    }
}

/// Operator options: `ctx`'s binary, `kubeconfig`, watching `namespaces`.
pub fn options(
    ctx: &Ctx,
    kubeconfig: PathBuf,
    namespaces: &[&str],
    env: &[(&str, &str)],
) -> locust_bench::operator::Options {
    locust_bench::operator::Options {
        binary: ctx.binary.clone(),
        kubeconfig,
        namespaces: namespaces.iter().map(|s| (*s).to_owned()).collect(),
        leader_election: None,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Pods of chaos tests run this long unless a scenario says otherwise.
pub const RUN_SECONDS: u32 = 100_000;
