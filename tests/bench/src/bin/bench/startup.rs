//! Start-up (process start → `/readyz` 200; → first child of a pre-existing test), idle
//! memory, and reconcile latency on a quiet cluster (tests created one at a time).

use std::path::Path;
use std::time::{Duration, Instant};

use locust_bench::Result;
use locust_bench::fixtures::{create_all, locust_test};
use locust_bench::operator::{Operator, Options};
use locust_bench::report::{Report, Target};
use locust_bench::setup::{Env, OPERATOR_USER};
use locust_bench::stats::percentile;
use locust_bench::track::Tracker;

use super::Args;

/// Pods of the benchmark tests run this long: they stay Running throughout.
pub const RUN_SECONDS: u32 = 100_000;

pub async fn run(args: &Args, binary: &Path, logs: &Path, report: &mut Report) -> Result<()> {
    eprintln!(
        "== start-up, idle memory, quiet latency ({} runs)",
        args.runs
    );
    let env = Env::start(Vec::new()).await?;
    let kubeconfig = env.operator_kubeconfig(OPERATOR_USER)?;
    let (mut ready, mut first_child, mut all_children) = (Vec::new(), Vec::new(), Vec::new());
    let (mut idle_rss, mut idle_hwm) = (Vec::new(), Vec::new());
    let (mut p50, mut p99) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        // Idle: an empty namespace.
        let ns = env.namespace("idle").await?;
        let options = Options {
            binary: binary.to_owned(),
            kubeconfig: kubeconfig.clone(),
            namespaces: vec![ns.clone()],
            leader_election: None,
            env: Vec::new(),
        };
        let mut op = Operator::start(&format!("idle-{run}"), &options, logs)?;
        ready.push(ms(op.wait_ready(Duration::from_secs(30)).await?));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (rss, hwm) = op.memory_mib()?;
        idle_rss.push(rss);
        idle_hwm.push(hwm);
        op.kill();

        // A test that exists before the operator starts.
        let ns = env.namespace("startup").await?;
        let tracker = Tracker::start(&env.admin, &ns).await;
        create_all(&env.admin, &ns, vec![locust_test("pre", 1, RUN_SECONDS)], 1).await?;
        let options = Options {
            namespaces: vec![ns.clone()],
            ..options
        };
        let mut op = Operator::start(&format!("startup-{run}"), &options, logs)?;
        op.wait_ready(Duration::from_secs(30)).await?;
        let first = wait_for(Duration::from_secs(30), || tracker.first_child()).await?;
        first_child.push(ms(first - op.spawned));
        let all = wait_for(Duration::from_secs(30), || tracker.children_at("pre")).await?;
        all_children.push(ms(all - op.spawned));

        // Quiet latency: one test at a time, each once the previous one has its children.
        let mut latencies = Vec::new();
        for i in 0..args.quiet_tests {
            let name = format!("quiet-{i:03}");
            let acked =
                create_all(&env.admin, &ns, vec![locust_test(&name, 1, RUN_SECONDS)], 1).await?;
            let done = wait_for(Duration::from_secs(30), || tracker.children_at(&name)).await?;
            latencies.push(ms(done.saturating_duration_since(acked[&name])));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        p50.push(percentile(&latencies, 50.0));
        p99.push(percentile(&latencies, 99.0));
        op.check()?;
        op.kill();
    }
    report.add(
        "startup.ready_ms",
        "start → /readyz 200 (caches synced)",
        "ms",
        ready,
        Some(Target::Lt(300.0)),
    );
    report.add(
        "startup.first_child_ms",
        "start → first child of a pre-existing test",
        "ms",
        first_child,
        None,
    );
    report.add(
        "startup.all_children_ms",
        "start → all 3 children of a pre-existing test",
        "ms",
        all_children,
        None,
    );
    report.add(
        "memory.idle_rss_mib",
        "RSS idle (no tests), 5 s after ready",
        "MiB",
        idle_rss,
        Some(Target::Lt(20.0)),
    );
    report.add(
        "memory.idle_peak_mib",
        "peak RSS (VmHWM) idle",
        "MiB",
        idle_hwm,
        Some(Target::Lt(20.0)),
    );
    report.add(
        "latency.quiet_p50_ms",
        &format!(
            "create → 3 children, quiet cluster, p50 of {}",
            args.quiet_tests
        ),
        "ms",
        p50,
        None,
    );
    report.add(
        "latency.quiet_p99_ms",
        &format!(
            "create → 3 children, quiet cluster, p99 of {}",
            args.quiet_tests
        ),
        "ms",
        p99,
        Some(Target::Lt(100.0)),
    );
    Ok(())
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Polls `f` every 2 ms until it yields a value.
pub async fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("nothing after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
