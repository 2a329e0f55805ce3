//! Restart etcd and the API server under a running operator: it must reconnect by itself
//! (same process), notice what changed while the API was away and what comes after, and
//! converge.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams};
use locust_bench::check;
use locust_bench::fixtures::{create_all, many};
use locust_bench::operator::Operator;
use locust_bench::setup::OPERATOR_USER;
use locust_bench::track::Tracker;
use locust_bench::{Result, ctx as with};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::naming;
use serde_json::json;

use super::{Ctx, Findings, RUN_SECONDS, env, options};

pub async fn run(ctx: &Ctx) -> Result<Findings> {
    let (before, after) = if ctx.short { (10, 10) } else { (30, 20) };
    let (env, _audit) = env().await?;
    let ns = env.namespace("apiserver").await?;
    let opts = options(ctx, env.operator_kubeconfig(OPERATOR_USER)?, &[&ns], &[]);
    let mut op = Operator::start("apiserver", &opts, &ctx.logs)?;
    op.wait_ready(Duration::from_secs(30)).await?;
    let pid = op.pid()?;
    create_all(&env.admin, &ns, many("before", before, 1, RUN_SECONDS), 16).await?;
    check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(120)).await?;

    let down = Instant::now();
    env.cluster
        .restart(&["etcd", "kube-apiserver"])
        .await
        .map_err(with("restarting etcd and the API server"))?;
    let outage = down.elapsed();
    // A new client: the old one's connections died with the server.
    let admin = env.cluster.client().await.map_err(with("admin client"))?;
    let tracker = Tracker::start(&admin, &ns).await;
    let back = Instant::now();
    // Work for the operator that only a reconnected operator can do.
    let victim = naming::worker_name("before-0000");
    Api::<Job>::namespaced(admin.clone(), &ns)
        .delete(&victim, &DeleteParams::background())
        .await
        .map_err(with(format!("deleting Job {victim}")))?;
    let made = many("after", after, 1, RUN_SECONDS);
    let names: Vec<String> = made
        .iter()
        .map(|t| t.metadata.name.clone().unwrap_or_default())
        .collect();
    create_all(&admin, &ns, made, 16).await?;
    let children = loop {
        let seen: Vec<_> = names
            .iter()
            .filter_map(|n| tracker.children_at(n))
            .collect();
        if seen.len() == names.len() {
            break seen
                .into_iter()
                .max()
                .map_or(0.0, |t| (t - back).as_secs_f64());
        }
        if back.elapsed() > Duration::from_secs(180) {
            return Err(format!(
                "{} of {after} tests made after the restart have their children after 180 s",
                seen.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    check::converged(&admin, &ns, Phase::Running, Duration::from_secs(180)).await?;
    let running_after = back.elapsed().as_secs_f64();
    op.check()?;
    if op.pid()? != pid {
        return Err("the operator was restarted".into());
    }
    let recreated = check::event_count(&admin, &ns, "ChildRecreated").await?;
    if recreated != 1 {
        return Err(format!(
            "want exactly 1 ChildRecreated event (the deleted worker Job), got {recreated}"
        ));
    }
    Ok(vec![
        ("tests".into(), json!(before + after)),
        ("api_outage_s".into(), json!(outage.as_secs_f64())),
        (
            "new_tests_children_after_api_back_s".into(),
            json!(children),
        ),
        ("all_running_after_api_back_s".into(), json!(running_after)),
        ("operator_restarted".into(), json!(false)),
    ])
}
