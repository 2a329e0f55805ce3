//! Throttling. First the API server: started with tiny in-flight limits (and API Priority
//! and Fairness off, so excess requests get 429 at once), a storm of tests must still
//! converge while the operator backs off. Then the operator's own client-side limit:
//! with `KUBE_API_QPS=5` the audit log must never show it above that rate.

use std::time::Duration;

use locust_bench::audit::{Request, max_in_window};
use locust_bench::check;
use locust_bench::fixtures::{create_all, many};
use locust_bench::operator::{Operator, metric_sum};
use locust_bench::setup::{Env, OPERATOR_USER};
use locust_bench::{Result, audit::Audit};
use locust_k8s_operator::api::status::Phase;
use serde_json::json;

use super::{Ctx, Findings, RUN_SECONDS, env, options};

const QPS: u32 = 5;

pub async fn run(ctx: &Ctx) -> Result<Findings> {
    let mut findings = server_side(ctx).await?;
    findings.extend(client_side(ctx).await?);
    Ok(findings)
}

async fn server_side(ctx: &Ctx) -> Result<Findings> {
    let tests = if ctx.short { 30 } else { 100 };
    let (audit, mut args) = Audit::new()?;
    args.extend([
        "--max-requests-inflight=4".to_owned(),
        "--max-mutating-requests-inflight=2".to_owned(),
        "--enable-priority-and-fairness=false".to_owned(),
    ]);
    let env = Env::start(args).await?;
    let ns = env.namespace("throttled").await?;
    let opts = options(ctx, env.operator_kubeconfig(OPERATOR_USER)?, &[&ns], &[]);
    let mut op = Operator::start("throttled", &opts, &ctx.logs)?;
    op.wait_ready(Duration::from_secs(60)).await?;
    create_all(&env.admin, &ns, many("busy", tests, 1, RUN_SECONDS), 32).await?;
    let took = check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(600)).await?;
    op.check()?;
    let metrics = op.metrics().await?;
    let errors = metric_sum(&metrics, "locust_operator_reconcile_errors_total");
    let requests = audit.requests()?;
    let throttled = requests.iter().filter(|r| r.code == 429).count();
    Ok(vec![
        ("throttled_tests".into(), json!(tests)),
        ("throttled_converged_s".into(), json!(took.as_secs_f64())),
        ("operator_requests_answered_429".into(), json!(throttled)),
        ("operator_reconcile_errors".into(), json!(errors)),
    ])
}

async fn client_side(ctx: &Ctx) -> Result<Findings> {
    let tests = if ctx.short { 15 } else { 30 };
    let (env, audit) = env().await?;
    let ns = env.namespace("qps").await?;
    let qps = QPS.to_string();
    let opts = options(
        ctx,
        env.operator_kubeconfig(OPERATOR_USER)?,
        &[&ns],
        &[("KUBE_API_QPS", &qps), ("KUBE_API_BURST", &qps)],
    );
    let mut op = Operator::start("qps", &opts, &ctx.logs)?;
    op.wait_ready(Duration::from_secs(30)).await?;
    create_all(&env.admin, &ns, many("slow", tests, 1, RUN_SECONDS), 16).await?;
    let took = check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(600)).await?;
    op.check()?;
    let requests = audit.requests()?;
    let mine: Vec<&Request> = requests
        .iter()
        .filter(|r| r.user == OPERATOR_USER)
        .collect();
    let (first, last) = match (mine.first(), mine.last()) {
        (Some(f), Some(l)) => (f.at, l.at),
        _ => return Err("no operator request in the audit log".into()),
    };
    let span = (last.as_microsecond() - first.as_microsecond()) as f64 / 1e6;
    let mean = mine.len() as f64 / span.max(1.0);
    let peak = max_in_window(&mine, 1.0);
    // A token bucket of QPS tokens refilled at QPS per second: any one-second window sees
    // at most the full bucket plus a second's refill.
    if peak > 2 * QPS as usize || mean > f64::from(QPS) * 1.1 {
        return Err(format!(
            "KUBE_API_QPS={QPS} not effective: {} requests in {span:.1} s (mean {mean:.1}/s), up to {peak} in one second",
            mine.len()
        ));
    }
    Ok(vec![
        ("qps_limit".into(), json!(QPS)),
        ("qps_tests".into(), json!(tests)),
        ("qps_converged_s".into(), json!(took.as_secs_f64())),
        ("qps_requests".into(), json!(mine.len())),
        ("qps_mean_per_s".into(), json!(mean)),
        ("qps_max_in_1s".into(), json!(peak)),
    ])
}
