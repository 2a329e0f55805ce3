//! Crash safety: the operator is killed with SIGKILL while it creates the children of 50
//! LocustTests, started again, and every test ends with exactly one master Job, one worker
//! Job and one Service, and phase Succeeded.

use crate::common;

use std::time::Duration;

use common::{Operator, OperatorOptions, create, locust_test};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::LocustTest;

const TESTS: usize = 50;

async fn master_jobs(client: &Client, ns: &str) -> usize {
    Api::<Job>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list jobs")
        .items
        .iter()
        .filter(|j| j.name_any().ends_with("-master"))
        .count()
}

#[tokio::test]
async fn sigkill_while_creating_50_tests_then_restart_converges() {
    let client = common::admin().await;
    let ns = common::namespace("crash").await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut operator = Operator::start("crash", OperatorOptions::new(&kubeconfig, &ns));

    // Create the 50 tests concurrently with the operator's work.
    let names: Vec<String> = (0..TESTS).map(|i| format!("load-{i:02}")).collect();
    let creator = {
        let client = client.clone();
        let ns = ns.clone();
        let names = names.clone();
        tokio::spawn(async move {
            for name in &names {
                create(&client, &ns, &locust_test(name, 1)).await;
            }
        })
    };
    // Kill it once it has made some, but not all, of the children (polled tightly: the
    // operator may be quick).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let made = loop {
        let n = master_jobs(&client, &ns).await;
        if n >= 3 {
            break n;
        }
        operator.assert_running();
        assert!(
            std::time::Instant::now() < deadline,
            "the operator created no master Jobs in 120 s ({n})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    operator.kill();
    let at_kill = master_jobs(&client, &ns).await;
    creator.await.expect("all 50 tests created");
    eprintln!("killed the operator with {made}..{at_kill} of {TESTS} master Jobs created");
    if at_kill >= TESTS {
        eprintln!(
            "warning: the kill came after every master Job existed; still checking convergence"
        );
    }

    operator.restart();
    let api: Api<LocustTest> = Api::namespaced(client.clone(), &ns);
    common::eventually(
        "all 50 tests Succeeded",
        Duration::from_secs(300),
        || async {
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            let not_done: Vec<String> = list
                .items
                .iter()
                .filter(|t| common::phase(t) != Some(Phase::Succeeded))
                .map(|t| format!("{}: {}", t.name_any(), common::describe(t)))
                .collect();
            if list.items.len() == TESTS && not_done.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} tests, {} not Succeeded, first: {:?}",
                    list.items.len(),
                    not_done.len(),
                    not_done.first()
                ))
            }
        },
    )
    .await;
    operator.assert_running();

    for test in api.list(&ListParams::default()).await.expect("list").items {
        let uid = test.uid().expect("uid");
        assert_eq!(
            common::owned_counts(&client, &ns, &uid).await,
            (2, 1),
            "{}: exactly one master Job, one worker Job and one Service",
            test.name_any()
        );
        let c = common::children(&client, &ns, &test.name_any()).await;
        assert!(c.complete(), "{}: {}", test.name_any(), c.summary());
        let status = test.status.as_ref().expect("status");
        assert!(status.start_time.is_some() && status.completion_time.is_some());
    }
    // Nobody deleted a child: a crash between two creates is not a "recreation".
    let mut misreported = Vec::new();
    for i in 0..TESTS {
        let name = format!("load-{i:02}");
        let events = common::events_for(&client, &ns, &name).await;
        let (recreated, started) = (
            common::event_count(&events, "ChildRecreated"),
            common::event_count(&events, "TestStarted"),
        );
        if recreated != 0 || started != 1 {
            misreported.push(format!(
                "{name}: ChildRecreated x{recreated}, TestStarted x{started} [{}]",
                common::event_summary(&events)
            ));
        }
    }
    assert!(
        misreported.is_empty(),
        "after the crash, {} of {TESTS} tests got wrong events (expected no ChildRecreated, \
         one TestStarted):\n{}",
        misreported.len(),
        misreported.join("\n")
    );
    let log = operator.all_logs();
    assert!(
        !log.contains("AlreadyExists") && !log.contains("already exists"),
        "creating after a crash never fails on 'already exists':\n{}",
        operator.log_tails()
    );
}
