//! `WATCH_NAMESPACES` unset: one operator runs the tests of every namespace. (Its own test
//! binary, so that no other test's namespace is watched by a second operator.)

mod common;

use std::time::Duration;

use common::{Operator, OperatorOptions, create, locust_test, wait_phase};
use locust_k8s_operator::api::status::Phase;

#[tokio::test]
async fn without_watch_namespaces_every_namespace_is_served() {
    let client = common::admin().await;
    let first = common::namespace("all-a").await;
    let second = common::namespace("all-b").await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut options = OperatorOptions::new(&kubeconfig, &first);
    options.watch_namespaces = None;
    let mut operator = Operator::start("all-namespaces", options);

    create(&client, &first, &locust_test("one", 1)).await;
    create(&client, &second, &locust_test("two", 1)).await;
    for (ns, name) in [(&first, "one"), (&second, "two")] {
        let done = wait_phase(&client, ns, name, Phase::Succeeded, Duration::from_secs(90)).await;
        let uid = done.metadata.uid.clone().expect("uid");
        assert_eq!(
            common::owned_counts(&client, ns, &uid).await,
            (2, 1),
            "{ns}/{name}"
        );
    }
    operator.assert_running();
}
