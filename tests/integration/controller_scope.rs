//! Install scopes: a namespace-scoped install (the ClusterRole bound by a RoleBinding in
//! one namespace only, `WATCH_NAMESPACES` set) runs its tests and leaves other namespaces
//! alone; this needs every watch, the pod watch included, to be namespaced.

use crate::common;

use std::time::Duration;

use common::{Operator, OperatorOptions, create, locust_test, wait_phase};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use locust_k8s_operator::api::status::Phase;

#[tokio::test]
async fn a_namespace_scoped_install_runs_its_tests_and_nothing_else() {
    let cluster = common::cluster().await;
    let client = common::admin().await;
    let mine = common::namespace("scoped").await;
    let other = common::namespace("not-mine").await;

    // Only a RoleBinding in `mine`: no cluster-wide permission at all.
    let (user, group) = ("scoped-operator", "scoped-operators");
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("locust-k8s-operator".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: common::cluster_role().metadata.name.expect("role name"),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: group.into(),
            namespace: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(client.clone(), &mine)
        .create(&PostParams::default(), &binding)
        .await
        .expect("role binding");
    let kubeconfig = cluster.kubeconfig_for(user, &[group]).expect("kubeconfig");
    let mut operator = Operator::start("scoped", OperatorOptions::new(&kubeconfig, &mine));

    create(&client, &mine, &locust_test("here", 1)).await;
    create(&client, &other, &locust_test("there", 1)).await;
    let done = wait_phase(
        &client,
        &mine,
        "here",
        Phase::Succeeded,
        Duration::from_secs(90),
    )
    .await;
    assert!(
        done.status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref())
            .is_some(),
        "{}",
        common::describe(&done)
    );
    common::assert_left_alone(&client, &other, "there").await;
    operator.assert_running();
    let log = operator.all_logs();
    assert!(
        !log.contains("orbidden"),
        "a namespace-scoped install needs no cluster-wide permission:\n{}",
        operator.log_tails()
    );
}
