//! `WATCH_NAMESPACES` unset: one operator runs the tests of every namespace. (Its own test
//! binary, so that no other test's namespace is watched by a second operator.)

use crate::common;

use std::time::Duration;

use common::{Operator, OperatorOptions, create, locust_test, wait_phase};
use locust_k8s_operator::api::status::Phase;

/// This module's own cluster: it runs an operator that watches every namespace, which no other test may see.
async fn own() -> common::Prepared {
    common::prepared("controller_all_namespaces").await
}

#[tokio::test]
async fn without_watch_namespaces_every_namespace_is_served() {
    let client = own().await.admin().await;
    let first = own().await.namespace("all-a").await;
    let second = own().await.namespace("all-b").await;
    let kubeconfig = own().await.operator_kubeconfig();
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
