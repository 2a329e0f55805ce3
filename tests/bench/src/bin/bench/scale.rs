//! Scale: `size` LocustTests created at once. Per run, three fresh clusters: two where a
//! bare client creates the very objects the operator would (from
//! `locust_k8s_operator::builders`) as fast as the API server accepts them — the
//! baselines — and one where the operator does it. Also memory with the tests present,
//! reconcile latency under the storm and CPU per 1000 reconciles.
//!
//! The baselines differ in order only. **Per test** (the ratio's denominator): each
//! test's Service, master Job and worker Job in turn, the order in which any controller
//! that starts tests one by one creates them. **Services first**: all Services, then all
//! Jobs. The second is much faster here because the API server allocates ClusterIPs one at
//! a time (`MetaAllocator.AllocateNextService` holds a mutex across the IPAddress create),
//! and before any Job exists no pods compete with those creates; it is reported for
//! reference.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::{FutureExt as _, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, PostParams};
use locust_bench::apiserver::{mean_request_ms, profile};
use locust_bench::fixtures::{create_all, many};
use locust_bench::operator::{Operator, Options};
use locust_bench::report::{Report, Target};
use locust_bench::setup::{Env, OPERATOR_USER};
use locust_bench::stats::percentile;
use locust_bench::track::Tracker;
use locust_bench::{Result, ctx};
use locust_k8s_operator::api::v2::LocustTest;
use locust_k8s_operator::builders;
use locust_k8s_operator::config::OperatorConfig;

use super::Args;
use super::startup::{RUN_SECONDS, ms};

/// Requests in flight when the suites create objects themselves.
const CLIENT_CONCURRENCY: usize = 64;
/// Workers per test: each test has a master pod and this many worker pods.
const WORKERS: i32 = 1;

pub async fn run(
    args: &Args,
    binary: &Path,
    logs: &Path,
    size: usize,
    report: &mut Report,
) -> Result<()> {
    let runs = if size >= 500 {
        args.large_runs
    } else {
        args.runs
    };
    eprintln!("== scale: {size} LocustTests at once ({runs} runs)");
    let mut f = Figures::default();
    for run in 0..runs {
        let per_test = baseline(size, Order::PerTest).await?;
        f.baseline.push(per_test.rate);
        f.baseline_service_ms.extend(per_test.service_create_ms);
        let grouped = baseline(size, Order::ServicesFirst).await?;
        f.baseline_grouped.push(grouped.rate);
        f.grouped_service_ms.extend(grouped.service_create_ms);
        operator_run(args, binary, logs, size, run, &mut f).await?;
    }
    let ratio = |base: &[f64]| -> Vec<f64> {
        f.op_rate
            .iter()
            .zip(base)
            .map(|(op, base)| op / base)
            .collect()
    };
    let (ratio_per_test, ratio_grouped) = (ratio(&f.baseline), ratio(&f.baseline_grouped));
    let k = format!("scale.{size}");
    report.add(
        &format!("{k}.crs_created_s"),
        &format!("{size} LocustTests: the benchmark's own creates acknowledged (operator running)"),
        "s",
        f.crs_created_s,
        None,
    );
    report.add(
        &format!("{k}.children_s"),
        &format!("{size} tests created at once → all have 3 children"),
        "s",
        f.children_s,
        None,
    );
    report.add(
        &format!("{k}.running_s"),
        &format!("{size} tests created at once → all Running"),
        "s",
        f.running_s,
        None,
    );
    report.add(
        &format!("{k}.operator_creates_per_s"),
        &format!("{size} tests: operator's child creates per second"),
        "1/s",
        f.op_rate,
        None,
    );
    report.add(
        &format!("{k}.baseline_creates_per_s"),
        &format!("{size} tests: bare client's creates per second (same objects, test by test)"),
        "1/s",
        f.baseline,
        None,
    );
    report.add(
        &format!("{k}.rate_ratio"),
        &format!("{size} tests: operator rate ÷ bare-client rate (test by test)"),
        "ratio",
        ratio_per_test,
        (size >= 1000).then_some(Target::Ge(0.8)),
    );
    report.add(
        &format!("{k}.baseline_grouped_creates_per_s"),
        &format!("{size} tests: bare client's creates per second, all Services first (reference)"),
        "1/s",
        f.baseline_grouped,
        None,
    );
    report.add(
        &format!("{k}.rate_ratio_grouped"),
        &format!("{size} tests: operator rate ÷ bare client with all Services first (reference)"),
        "ratio",
        ratio_grouped,
        None,
    );
    report.add(
        &format!("{k}.service_create_ms"),
        &format!("{size} tests: mean Service create, API server's own measure (operator run)"),
        "ms",
        f.op_service_ms,
        None,
    );
    report.add(
        &format!("{k}.baseline_service_create_ms"),
        &format!("{size} tests: mean Service create, API server's own measure (bare client, test by test)"),
        "ms",
        f.baseline_service_ms,
        None,
    );
    report.add(
        &format!("{k}.baseline_grouped_service_create_ms"),
        &format!("{size} tests: mean Service create, API server's own measure (bare client, Services first)"),
        "ms",
        f.grouped_service_ms,
        None,
    );
    report.add(
        &format!("{k}.latency_p50_ms"),
        &format!("create → 3 children under the {size}-test storm, p50"),
        "ms",
        f.p50,
        None,
    );
    report.add(
        &format!("{k}.latency_p99_ms"),
        &format!("create → 3 children under the {size}-test storm, p99"),
        "ms",
        f.p99,
        None,
    );
    report.add(
        &format!("memory.{size}_rss_mib"),
        &format!("RSS with {size} tests Running (steady, 10 s after)"),
        "MiB",
        f.rss,
        (size >= 1000).then_some(Target::Lt(64.0)),
    );
    report.add(
        &format!("memory.{size}_peak_mib"),
        &format!("peak RSS (VmHWM) through the {size}-test storm"),
        "MiB",
        f.hwm,
        (size >= 1000).then_some(Target::Lt(64.0)),
    );
    report.add(
        &format!("cpu.{size}_s_per_1000_reconciles"),
        &format!("CPU seconds per 1000 reconciles ({size}-test storm)"),
        "s",
        f.cpu_per_1000,
        None,
    );
    report.add(
        &format!("cpu.{size}_reconciles"),
        &format!("reconciles until all {size} Running"),
        "count",
        f.reconciles,
        None,
    );
    Ok(())
}

#[derive(Default)]
struct Figures {
    baseline: Vec<f64>,
    baseline_grouped: Vec<f64>,
    baseline_service_ms: Vec<f64>,
    grouped_service_ms: Vec<f64>,
    op_service_ms: Vec<f64>,
    op_rate: Vec<f64>,
    children_s: Vec<f64>,
    running_s: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    rss: Vec<f64>,
    hwm: Vec<f64>,
    crs_created_s: Vec<f64>,
    cpu_per_1000: Vec<f64>,
    reconciles: Vec<f64>,
}

/// The order in which a baseline creates the children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Service, master Job, worker Job of one test, then the next test.
    PerTest,
    /// Every Service, then every Job.
    ServicesFirst,
}

/// What one baseline run measured.
struct Baseline {
    /// Creates per second.
    rate: f64,
    /// The API server's mean Service create, in ms.
    service_create_ms: Option<f64>,
}

/// A bare client creates the children of `size` tests (built by the operator's own
/// builders for tests stored in the API server, so owner references are real) in `order`
/// with [`CLIENT_CONCURRENCY`] requests in flight, watched by the same [`Tracker`] as the
/// operator's run.
async fn baseline(size: usize, order: Order) -> Result<Baseline> {
    let env = Env::start(Vec::new()).await?;
    let ns = env.namespace("baseline").await?;
    create_all(
        &env.admin,
        &ns,
        many("t", size, WORKERS, RUN_SECONDS),
        CLIENT_CONCURRENCY,
    )
    .await?;
    let _tracker = Tracker::start(&env.admin, &ns).await;
    let tests = Api::<LocustTest>::namespaced(env.admin.clone(), &ns)
        .list(&ListParams::default())
        .await
        .map_err(ctx("listing the baseline tests"))?
        .items;
    let config = OperatorConfig::default();
    let mut services = Vec::new();
    let mut jobs = Vec::new();
    for test in &tests {
        let valid = locust_k8s_operator::validation::validate(test)
            .map_err(ctx("validating a baseline test"))?;
        let c = builders::build(&valid, &config).map_err(ctx("building children"))?;
        services.push(c.service);
        jobs.push((c.master_job, c.worker_job));
    }
    let svc_api: Api<Service> = Api::namespaced(env.admin.clone(), &ns);
    let job_api: Api<Job> = Api::namespaced(env.admin.clone(), &ns);
    let params = PostParams::default();
    let svc = |s: &Service| {
        let (api, params, s) = (&svc_api, &params, s.clone());
        async move { api.create(params, &s).await.map(|_| ()) }.boxed()
    };
    let job = |j: &Job| {
        let (api, params, j) = (&job_api, &params, j.clone());
        async move { api.create(params, &j).await.map(|_| ()) }.boxed()
    };
    let creates: Vec<_> = match order {
        Order::PerTest => services
            .iter()
            .zip(&jobs)
            .flat_map(|(s, (m, w))| [svc(s), job(m), job(w)])
            .collect(),
        Order::ServicesFirst => services
            .iter()
            .map(svc)
            .chain(jobs.iter().flat_map(|(m, w)| [job(m), job(w)]))
            .collect(),
    };
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(creates)
        .buffer_unordered(CLIENT_CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        return Err(format!("the baseline had {failed} failed creates"));
    }
    let rate = (3 * size) as f64 / elapsed.as_secs_f64();
    let service_create_ms = mean_request_ms(&env.admin, "POST", "", "services").await?;
    eprintln!(
        "  baseline ({order:?}): {} creates in {:.2} s = {rate:.0}/s, mean Service create {:.0} ms",
        3 * size,
        elapsed.as_secs_f64(),
        service_create_ms.unwrap_or_default()
    );
    Ok(Baseline {
        rate,
        service_create_ms,
    })
}

async fn operator_run(
    args: &Args,
    binary: &Path,
    logs: &Path,
    size: usize,
    run: usize,
    f: &mut Figures,
) -> Result<()> {
    let audit = if args.audit {
        Some(locust_bench::audit::Audit::with_all_writes()?)
    } else {
        None
    };
    let mut flags = audit.as_ref().map(|(_, f)| f.clone()).unwrap_or_default();
    let profile_to = args
        .profile_apiserver
        .as_ref()
        .filter(|_| run == 0)
        .map(|p| p.with_extension(format!("{size}.pprof")));
    if profile_to.is_some() {
        flags.push("--profiling=true".into());
    }
    let env = Env::start(flags).await?;
    let ns = env.namespace("scale").await?;
    let tracker = Tracker::start(&env.admin, &ns).await;
    let mut op = Operator::start(
        &format!("scale-{size}-{run}"),
        &Options {
            binary: binary.to_owned(),
            kubeconfig: env.operator_kubeconfig(OPERATOR_USER)?,
            namespaces: vec![ns.clone()],
            leader_election: None,
            env: args.env.clone(),
        },
        logs,
    )?;
    op.wait_ready(Duration::from_secs(30)).await?;
    let (cpu0, rec0) = (op.cpu_seconds()?, op.reconciles().await?);
    let tests = many("t", size, WORKERS, RUN_SECONDS);
    let names: Vec<String> = tests
        .iter()
        .map(|t| t.metadata.name.clone().unwrap_or_default())
        .collect();
    let t0 = Instant::now();
    let profile = profile_to.map(|path| profile(&env.admin, Duration::from_secs(4), 30, path));
    let acked = create_all(&env.admin, &ns, tests, CLIENT_CONCURRENCY).await?;
    let all_acked = acked.values().max().copied().unwrap_or(t0);
    let timeout = Duration::from_secs(60 + size as u64);
    let children = wait_all(&mut op, timeout, "children", || {
        names.iter().map(|n| tracker.children_at(n)).collect()
    })
    .await?;
    let running = wait_all(&mut op, timeout * 2, "Running", || {
        names.iter().map(|n| tracker.running_at(n)).collect()
    })
    .await?;
    let (cpu1, rec1) = (op.cpu_seconds()?, op.reconciles().await?);
    f.op_service_ms
        .extend(mean_request_ms(&env.admin, "POST", "", "services").await?);
    if let Some(task) = profile {
        // A failed profile is reported, not fatal: the figures stand without it.
        if let Err(e) = task.await.map_err(|e| e.to_string()).and_then(|r| r) {
            eprintln!("  no API server profile: {e}");
        }
    }
    let last_child = children.iter().max().copied().unwrap_or(t0);
    let last_running = running.iter().max().copied().unwrap_or(t0);
    let latencies: Vec<f64> = names
        .iter()
        .zip(&children)
        .map(|(n, done)| ms(done.saturating_duration_since(acked[n])))
        .collect();
    f.children_s.push((last_child - t0).as_secs_f64());
    f.running_s.push((last_running - t0).as_secs_f64());
    f.op_rate
        .push((3 * size) as f64 / (last_child - t0).as_secs_f64());
    f.p50.push(percentile(&latencies, 50.0));
    f.p99.push(percentile(&latencies, 99.0));
    f.cpu_per_1000
        .push((cpu1 - cpu0) / (rec1 - rec0).max(1.0) * 1000.0);
    f.reconciles.push(rec1 - rec0);
    if let Some((audit, _)) = &audit {
        print_requests(audit, size)?;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (rss, hwm) = op.memory_mib()?;
    f.rss.push(rss);
    f.hwm.push(hwm);
    f.crs_created_s.push((all_acked - t0).as_secs_f64());
    eprintln!(
        "  operator: LocustTests created in {:.1} s, children {:.1} s, Running {:.1} s, {:.0} reconciles, {:.1} CPU s, RSS {rss:.1} MiB (peak {hwm:.1})",
        (all_acked - t0).as_secs_f64(),
        (last_child - t0).as_secs_f64(),
        (last_running - t0).as_secs_f64(),
        rec1 - rec0,
        cpu1 - cpu0
    );
    op.check()?;
    Ok(())
}

/// Prints the operator's requests from its start until every test was Running (`--audit`),
/// by verb and resource, per test; then the writes of every client in that time, the
/// operator's writes and what they set off (kinds with at least one write per ten tests).
fn print_requests(audit: &locust_bench::audit::Audit, size: usize) -> Result<()> {
    let requests = audit.requests()?;
    let mut writes = std::collections::BTreeMap::<String, usize>::new();
    for r in requests.iter().filter(|r| r.is_write()) {
        let sub = if r.subresource.is_empty() {
            String::new()
        } else {
            format!("/{}", r.subresource)
        };
        *writes
            .entry(format!("{} {} {}{sub}", r.user, r.verb, r.resource))
            .or_default() += 1;
    }
    let total: usize = writes.values().sum();
    eprintln!(
        "  writes of every client: {total} ({:.1} per test)",
        total as f64 / size as f64
    );
    for (what, n) in writes.iter().filter(|(_, n)| **n * 10 >= size) {
        eprintln!("    {what}: {n} ({:.2} per test)", *n as f64 / size as f64);
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for r in requests.iter().filter(|r| r.user == OPERATOR_USER) {
        let what = if r.subresource.is_empty() {
            format!("{} {}", r.verb, r.resource)
        } else {
            format!("{} {}/{}", r.verb, r.resource, r.subresource)
        };
        *counts.entry(what).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    eprintln!(
        "  operator requests until all Running: {total} ({:.2} per test)",
        total as f64 / size as f64
    );
    for (what, n) in counts {
        eprintln!("    {what}: {n} ({:.2} per test)", n as f64 / size as f64);
    }
    Ok(())
}

/// Polls until every entry of `f()` is `Some`; returns them.
async fn wait_all(
    op: &mut Operator,
    timeout: Duration,
    what: &str,
    f: impl Fn() -> Vec<Option<Instant>>,
) -> Result<Vec<Instant>> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = f();
        let missing = seen.iter().filter(|s| s.is_none()).count();
        if missing == 0 {
            return Ok(seen.into_iter().flatten().collect());
        }
        op.check()?;
        if Instant::now() > deadline {
            return Err(format!(
                "{missing} of {} tests without {what} after {timeout:?}",
                seen.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
