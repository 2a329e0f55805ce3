//! SIGKILL the operator at random moments during a storm of LocustTests, again and
//! again, restarting it each time; then every test must converge: one of each child, no
//! child "recreated" by mistake, Running, status intact.

use std::time::Duration;

use locust_bench::check;
use locust_bench::fixtures::{create_all, many};
use locust_bench::operator::Operator;
use locust_bench::setup::OPERATOR_USER;
use locust_bench::{Result, ctx as with};
use locust_k8s_operator::api::status::Phase;
use serde_json::json;

use super::{Ctx, Findings, RUN_SECONDS, Rng, env, options};

pub async fn run(ctx: &Ctx) -> Result<Findings> {
    let (tests, kills) = if ctx.short { (50, 3) } else { (200, 10) };
    let (env, _audit) = env().await?;
    let ns = env.namespace("storm").await?;
    let opts = options(ctx, env.operator_kubeconfig(OPERATOR_USER)?, &[&ns], &[]);
    let mut op = Operator::start("storm", &opts, &ctx.logs)?;
    op.wait_ready(Duration::from_secs(30)).await?;
    let admin = env.admin.clone();
    let ns2 = ns.clone();
    let creating = tokio::spawn(async move {
        create_all(&admin, &ns2, many("storm", tests, 1, RUN_SECONDS), 16).await
    });
    let mut rng = Rng::from_clock();
    let mut moments = Vec::new();
    for _ in 0..kills {
        let wait = rng.range(0.2, 2.5);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        op.kill();
        moments.push((wait * 100.0).round() / 100.0);
        op = Operator::start("storm", &opts, &ctx.logs)?;
    }
    creating.await.map_err(with("the creating task"))??;
    let took = check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(300)).await?;
    op.check()?;
    let recreated = check::event_count(&env.admin, &ns, "ChildRecreated").await?;
    let created = check::event_count(&env.admin, &ns, "ResourcesCreated").await?;
    if recreated > 0 {
        return Err(format!(
            "{recreated} ChildRecreated events: a crash made the operator think a child had been deleted"
        ));
    }
    Ok(vec![
        ("tests".into(), json!(tests)),
        ("kills".into(), json!(kills)),
        ("seconds_between_kills".into(), json!(moments)),
        (
            "converged_after_last_restart_s".into(),
            json!(took.as_secs_f64()),
        ),
        ("resources_created_events".into(), json!(created)),
        ("child_recreated_events".into(), json!(recreated)),
    ])
}
