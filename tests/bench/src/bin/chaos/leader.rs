//! Two replicas with leader election (distinct users, so the audit log tells them
//! apart): kill the leader again and again. Each time a new leader must create the
//! children of a test made right after the kill within the lease time (plus a
//! reconcile), and the audit log must show that no replica ever wrote while the other
//! held the lease: every write but the Lease's own comes from the replica that wrote the
//! Lease last.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use locust_bench::audit::Request;
use locust_bench::check;
use locust_bench::fixtures::{create_all, locust_test, many};
use locust_bench::operator::Operator;
use locust_bench::track::Tracker;
use locust_bench::{Result, ctx as with};
use locust_k8s_operator::api::status::Phase;
use serde_json::json;

use super::{Ctx, Findings, RUN_SECONDS, env, options};

const LEASE_SECONDS: u64 = 4;
const LEASE: &str = "locust-k8s-operator";

pub async fn run(ctx: &Ctx) -> Result<Findings> {
    let kills = if ctx.short { 2 } else { 5 };
    let (env, audit) = env().await?;
    let ns = env.namespace("leader").await?;
    env.bind_leader_election(&ns).await?;
    let users = ["replica-a", "replica-b"];
    let mut replicas = Vec::new();
    let mut opts = Vec::new();
    for user in users {
        let mut o = options(
            ctx,
            env.operator_kubeconfig(user)?,
            &[&ns],
            &[("LEADER_ELECTION_LEASE_SECONDS", &LEASE_SECONDS.to_string())],
        );
        o.leader_election = Some((ns.clone(), user.to_owned()));
        replicas.push(Some(Operator::start(user, &o, &ctx.logs)?));
        opts.push(o);
    }
    let tracker = Tracker::start(&env.admin, &ns).await;
    create_all(&env.admin, &ns, many("lead", 10, 1, RUN_SECONDS), 16).await?;
    check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(120)).await?;
    let leases: Api<Lease> = Api::namespaced(env.admin.clone(), &ns);
    let mut takeovers = Vec::new();
    for k in 0..kills {
        let holder = leases
            .get(LEASE)
            .await
            .map_err(with("reading the Lease"))?
            .spec
            .and_then(|s| s.holder_identity)
            .ok_or("the Lease has no holder")?;
        let i = users
            .iter()
            .position(|u| *u == holder)
            .ok_or(format!("unknown holder {holder}"))?;
        if let Some(mut op) = replicas[i].take() {
            op.kill();
        }
        let killed = Instant::now();
        let name = format!("after-kill-{k}");
        create_all(&env.admin, &ns, vec![locust_test(&name, 1, RUN_SECONDS)], 1).await?;
        let deadline = killed + Duration::from_secs(LEASE_SECONDS * 3 + 10);
        let done = loop {
            if let Some(t) = tracker.children_at(&name) {
                break t;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no new leader created {name}'s children within {:?}",
                    deadline - killed
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        takeovers.push(((done - killed).as_secs_f64() * 100.0).round() / 100.0);
        // The killed replica comes back as a follower.
        replicas[i] = Some(Operator::start(users[i], &opts[i], &ctx.logs)?);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    check::converged(&env.admin, &ns, Phase::Running, Duration::from_secs(120)).await?;
    for op in replicas.iter_mut().flatten() {
        op.check()?;
    }
    let requests = audit.requests()?;
    let violations = writes_without_lease(&requests);
    if !violations.is_empty() {
        return Err(format!(
            "{} writes by a replica that did not hold the lease, e.g. {:?}",
            violations.len(),
            &violations[..violations.len().min(5)]
        ));
    }
    let writes = requests
        .iter()
        .filter(|r| r.is_write() && r.resource != "leases")
        .count();
    if writes == 0 {
        return Err("the audit log shows no write by either replica: nothing was checked".into());
    }
    let bound = LEASE_SECONDS as f64 + 5.0;
    if let Some(slow) = takeovers.iter().find(|t| **t > bound) {
        return Err(format!(
            "a takeover took {slow} s, more than the lease ({LEASE_SECONDS} s) + 5 s"
        ));
    }
    Ok(vec![
        ("lease_seconds".into(), json!(LEASE_SECONDS)),
        ("leader_kills".into(), json!(kills)),
        ("kill_to_new_leader_children_s".into(), json!(takeovers)),
        ("operator_writes_checked".into(), json!(writes)),
        ("writes_by_non_holder".into(), json!(0)),
    ])
}

/// Writes (other than to the Lease) by a user who was not the last to write the Lease.
fn writes_without_lease(requests: &[Request]) -> Vec<String> {
    let mut holder: Option<&str> = None;
    let mut bad = Vec::new();
    for r in requests {
        if !r.is_write() || !(200..300).contains(&r.code) {
            continue;
        }
        if r.resource == "leases" {
            holder = Some(&r.user);
        } else if holder != Some(r.user.as_str()) {
            bad.push(format!(
                "{} {} {} {} at {}",
                r.user, r.verb, r.resource, r.uri, r.at
            ));
        }
    }
    bad
}
