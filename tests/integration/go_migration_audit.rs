//! Running beside the Go `locust-k8s-operator` during a switch, against an API server with
//! an audit log: while the Go operator holds its leader-election Lease (written and renewed
//! by the stand-in in `common/go_operator.rs`) this operator reconciles nothing, is not
//! ready and says why, and it resumes once the Lease expires (the Go operator scaled to
//! 0); and every request it makes carries its `User-Agent`, so the audit log tells its
//! requests apart from the Go operator's.

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use common::go_operator::GoElector;
use common::local_locust::free_port;
use common::{Operator, OperatorOptions, children, create, eventually, locust_test, never};
use locust_k8s_operator::cli::run::USER_AGENT;
use test_cluster::Options;

/// The audit policy and log of this binary's cluster: every request of the operators'
/// group, at the `Metadata` level (which records the `userAgent`).
struct Audit {
    /// Its folder: removed by the test that reads the log (the API server writes on into
    /// the unlinked file), kept when that test fails.
    dir: PathBuf,
    log: PathBuf,
    args: Vec<String>,
}

fn audit() -> &'static Audit {
    static AUDIT: OnceLock<Audit> = OnceLock::new();
    AUDIT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("go-migration-audit-")
            .tempdir()
            .expect("audit folder")
            .keep();
        let policy = dir.join("policy.yaml");
        std::fs::write(
            &policy,
            format!(
                "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n\
                 rules:\n- level: Metadata\n  userGroups: [{}]\n- level: None\n",
                common::OPERATOR_GROUP
            ),
        )
        .expect("audit policy");
        let log = dir.join("audit.log");
        let args = test_cluster::components::audit_log_args(&policy, &log);
        Audit { dir, log, args }
    })
}

/// This module's own cluster, started with the audit log (no other test's requests in it).
async fn own() -> common::Prepared {
    common::prepared_with("go_migration_audit", || Options {
        apiserver_extra_args: audit().args.clone(),
        ..Options::default()
    })
    .await
}

async fn get_text(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    common::http_get(addr, path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// A Go operator holding its Lease (in its own namespace, found by the one LIST across the
/// cluster): a new test gets no child and no status, `/readyz` answers 503, the metric is
/// 1 and the error is logged once. When the Go operator stops renewing, the Lease expires
/// and the test starts; when a Go operator takes the Lease again, the operator stops
/// again, and resumes when the Lease is deleted.
#[tokio::test]
async fn a_held_go_operator_lease_blocks_reconciles_until_it_expires() {
    let client = own().await.admin().await;
    let go_ns = own().await.namespace("locust-system").await;
    let ns = own().await.namespace("go-lease").await;
    let go = GoElector::start(&client, &go_ns, "locust-operator-6d5f7_0c2e", 4).await;
    let health: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let kubeconfig = own().await.operator_kubeconfig();
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    options.env = vec![
        ("GO_OPERATOR_CHECK_SECONDS".into(), "1".into()),
        ("HEALTH_ADDR".into(), health.to_string()),
    ];
    let mut operator = Operator::start("go-lease", options);
    create(&client, &ns, &locust_test("waits", 1)).await;

    never(
        "reconciling while the Go operator holds its Lease",
        Duration::from_secs(6),
        || async {
            let t = common::get(&client, &ns, "waits").await;
            let c = children(&client, &ns, "waits").await;
            if t.status.is_none() && c.service.is_none() && c.master.is_none() {
                Ok(())
            } else {
                Err(format!("{} / {}", common::describe(&t), c.summary()))
            }
        },
    )
    .await;
    let (code, body) = get_text(health, "/readyz").await;
    assert_eq!(code, 503, "not ready beside a Go operator: {body}");
    assert!(
        body.contains("locust-k8s-operator.locust.io"),
        "/readyz names the Go operator's Lease: {body}"
    );
    let (_, metrics) = get_text(health, "/metrics").await;
    assert_eq!(
        common::sample(&metrics, "locust_operator_go_operator_lease_held"),
        1.0
    );
    let log = operator.log();
    let said = log
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("holds its Lease"))
        .count();
    assert_eq!(said, 1, "the error once, naming the Lease:\n{log}");
    assert!(
        log.contains(&format!("{go_ns}/locust-k8s-operator.locust.io")),
        "{log}"
    );

    // The Go operator scaled to 0: its Lease expires (4 s) and the test starts.
    go.stop().await;
    common::wait_children(&client, &ns, "waits", Duration::from_secs(30)).await;
    eventually("ready, metric 0", Duration::from_secs(30), || async {
        let (code, body) = common::http_get(health, "/readyz").await?;
        let (_, metrics) = common::http_get(health, "/metrics").await?;
        let held = common::sample(&metrics, "locust_operator_go_operator_lease_held");
        (code == 200 && held == 0.0)
            .then_some(())
            .ok_or(format!("{code} {body}; held {held}"))
    })
    .await;

    // A Go operator comes back: the operator stops again, and resumes when it is gone.
    let go = GoElector::start(&client, &go_ns, "locust-operator-6d5f7_9a41", 30).await;
    eventually("not ready again", Duration::from_secs(15), || async {
        let (code, body) = common::http_get(health, "/readyz").await?;
        (code == 503).then_some(()).ok_or(format!("{code} {body}"))
    })
    .await;
    // Readiness turns first, then the controller stops: give it a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    create(&client, &ns, &locust_test("later", 1)).await;
    never(
        "reconciling the new test",
        Duration::from_secs(4),
        || async {
            let c = children(&client, &ns, "later").await;
            if c.master.is_none() && c.service.is_none() {
                Ok(())
            } else {
                Err(c.summary())
            }
        },
    )
    .await;
    go.stop().await;
    kube::Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), &go_ns)
        .delete(common::go_operator::LEASE_NAME, &Default::default())
        .await
        .expect("the Go operator's Lease deleted");
    common::wait_children(&client, &ns, "later", Duration::from_secs(30)).await;
    operator.assert_running();
}

/// Every request the operator makes (lists, watches, creates, patches, events) reaches
/// the API server with `User-Agent: locust-k8s-operator/<version>`, as the audit log shows.
#[tokio::test]
async fn every_request_carries_the_operators_user_agent() {
    let client = own().await.admin().await;
    let ns = own().await.namespace("user-agent").await;
    let user = "locust-operator-ua";
    let kubeconfig = own()
        .await
        .cluster()
        .kubeconfig_for(user, &[common::OPERATOR_GROUP])
        .expect("kubeconfig");
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    // Not blocked by the other test's Go operator Lease.
    options.env = vec![("GO_OPERATOR_CHECK_SECONDS".into(), "0".into())];
    let mut operator = Operator::start("user-agent", options);
    create(&client, &ns, &locust_test("ua", 1)).await;
    common::wait_children(&client, &ns, "ua", Duration::from_secs(60)).await;
    common::wait_status(
        &client,
        &ns,
        "ua",
        "a status",
        Duration::from_secs(60),
        |t| t.status.is_some(),
    )
    .await;
    operator.assert_running();

    assert_eq!(
        USER_AGENT,
        format!("locust-k8s-operator/{}", env!("CARGO_PKG_VERSION"))
    );
    let text = std::fs::read_to_string(&audit().log).expect("the audit log");
    let mut verbs = std::collections::BTreeSet::new();
    let mut agents = std::collections::BTreeMap::<String, usize>::new();
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("an audit event");
        if event["user"]["username"] != user {
            continue;
        }
        verbs.insert(event["verb"].as_str().unwrap_or_default().to_string());
        *agents
            .entry(event["userAgent"].as_str().unwrap_or("(none)").to_string())
            .or_default() += 1;
    }
    for verb in ["list", "watch", "create", "patch"] {
        assert!(
            verbs.contains(verb),
            "a {verb} by {user} in the audit log: {verbs:?}"
        );
    }
    assert_eq!(
        agents.keys().collect::<Vec<_>>(),
        [USER_AGENT],
        "every request's User-Agent: {agents:?}"
    );
    let _ = std::fs::remove_dir_all(&audit().dir);
}
