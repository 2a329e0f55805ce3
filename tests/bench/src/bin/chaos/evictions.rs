//! Spot-style evictions: delete a worker pod of one running test and the master pod of
//! another. The worker must come back through its Job and the test keep Running; a lost
//! master must end its test (Failed, with a reason that says so) rather than hang.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use locust_bench::check;
use locust_bench::fixtures::{create_all, locust_test};
use locust_bench::operator::Operator;
use locust_bench::setup::OPERATOR_USER;
use locust_bench::{Result, ctx as with};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;
use serde_json::json;

use super::{Ctx, Findings, RUN_SECONDS, env, options};

pub async fn run(ctx: &Ctx) -> Result<Findings> {
    let (env, _audit) = env().await?;
    let ns = env.namespace("evictions").await?;
    let opts = options(ctx, env.operator_kubeconfig(OPERATOR_USER)?, &[&ns], &[]);
    let mut op = Operator::start("evictions", &opts, &ctx.logs)?;
    op.wait_ready(Duration::from_secs(30)).await?;
    let tests = vec![
        locust_test("lose-worker", 2, RUN_SECONDS),
        locust_test("lose-master", 2, RUN_SECONDS),
    ];
    create_all(&env.admin, &ns, tests, 2).await?;
    check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(120)).await?;
    let pods: Api<Pod> = Api::namespaced(env.admin.clone(), &ns);
    let pod_of = |test: &str, role: &str| {
        let pods = pods.clone();
        let selector = format!("performance-test-name={test},app.kubernetes.io/component={role}");
        async move {
            pods.list(&ListParams::default().labels(&selector))
                .await
                .map_err(with("listing pods"))
                .map(|l| l.items)
        }
    };
    // A worker pod goes.
    let workers = pod_of("lose-worker", "worker").await?;
    let victim = workers
        .first()
        .ok_or("lose-worker has no worker pod")?
        .name_any();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .map_err(with("deleting a worker pod"))?;
    // Its Job replaces it: two live worker pods again, the deleted one gone.
    let start = Instant::now();
    let replaced = loop {
        let now = pod_of("lose-worker", "worker").await?;
        let live: Vec<_> = now
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .collect();
        if live.len() == 2 && live.iter().all(|p| p.name_any() != victim) {
            break start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "the worker Job did not replace {victim} within 60 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The master pod goes.
    let masters = pod_of("lose-master", "master").await?;
    let master = masters
        .first()
        .ok_or("lose-master has no master pod")?
        .name_any();
    pods.delete(&master, &DeleteParams::default())
        .await
        .map_err(with("deleting the master pod"))?;
    let tests: Api<LocustTest> = Api::namespaced(env.admin.clone(), &ns);
    let start = Instant::now();
    let ended = loop {
        let t = tests
            .get("lose-master")
            .await
            .map_err(with("reading lose-master"))?;
        let status = t.status.clone().unwrap_or_default();
        if status.phase.is_some_and(Phase::is_terminal) {
            break (start.elapsed(), status);
        }
        if start.elapsed() > Duration::from_secs(90) {
            return Err(format!(
                "lose-master is still {:?} 90 s after its master pod was deleted (a hang): conditions {:?}",
                status.phase,
                status
                    .conditions
                    .iter()
                    .map(|c| format!("{}={} {}: {}", c.type_, c.status, c.reason, c.message))
                    .collect::<Vec<_>>()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (ended_after, status) = ended;
    let completed = status
        .conditions
        .iter()
        .find(|c| c.type_ == "TestCompleted");
    // The other test is untouched by either eviction.
    let worker_test = tests
        .get("lose-worker")
        .await
        .map_err(with("reading lose-worker"))?;
    let worker_phase = worker_test.status.and_then(|s| s.phase);
    if worker_phase != Some(Phase::Running) {
        return Err(format!(
            "lose-worker is {worker_phase:?} after losing a worker pod (want Running)"
        ));
    }
    if status.phase != Some(Phase::Failed) {
        return Err(format!(
            "lose-master ended {:?} after losing its master (want Failed)",
            status.phase
        ));
    }
    op.check()?;
    Ok(vec![
        (
            "worker_pod_replaced_after_s".into(),
            json!(replaced.as_secs_f64()),
        ),
        ("test_with_lost_worker".into(), json!("Running")),
        (
            "lost_master_ended_after_s".into(),
            json!(ended_after.as_secs_f64()),
        ),
        (
            "lost_master_phase".into(),
            json!(format!("{:?}", status.phase)),
        ),
        (
            "lost_master_reason".into(),
            json!(completed.map(|c| format!("{}: {}", c.reason, c.message))),
        ),
    ])
}
