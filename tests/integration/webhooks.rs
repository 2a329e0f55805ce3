//! The operator's HTTPS server end to end, against the real API server: the operator binary
//! runs with `WEBHOOK_MODE=local`, registers its conversion and validating webhooks by URL
//! on 127.0.0.1 with its own CA, and the API server calls them.
//!
//! One test function: the CRD and the webhook registration are cluster-wide, so the steps
//! share one operator and run in order.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::local_locust::free_port;
use common::operator::{Operator, OperatorOptions};
use common::{eventually, http_get, sample, wait_phase};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::{Phase, v1, v2};
use locust_k8s_operator::conversion::V2_SPEC_ANNOTATION;
use locust_k8s_operator::crd::{CRD_NAME, crd};
use locust_k8s_operator::manifest::{AnyLocustTest, parse_documents};
use test_cluster::fixtures::invalid_cases;

/// This module's own cluster: it registers the operator's webhooks for every LocustTest of the cluster, which no other test may see.
async fn own() -> common::Prepared {
    common::prepared("webhooks").await
}

/// Installs the generated CRD as shipped: conversion `strategy: Webhook`.
async fn install_webhook_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("webhook-test").force(),
        &Patch::Apply(&crd().expect("crd")),
    )
    .await
    .expect("the generated CRD installs");
}

fn example(path: &str) -> AnyLocustTest {
    let text = std::fs::read_to_string(path).expect("example");
    parse_documents(&text).expect("parses").remove(0)
}

#[tokio::test]
async fn the_api_server_calls_the_operators_webhooks() {
    let client = own().await.admin().await;
    install_webhook_crd(&client).await;
    let ns = own().await.namespace("webhooks").await;
    let admin_kubeconfig = own().await.cluster().kubeconfig().to_owned();
    let certs = tempfile::tempdir().expect("cert dir");
    let (webhook_port, health): (u16, SocketAddr) =
        (free_port(), ([127, 0, 0, 1], free_port()).into());

    // Local mode registers the webhooks cluster-wide: the developer's (admin) kubeconfig.
    let mut options = OperatorOptions::new(&admin_kubeconfig, &ns);
    for (k, v) in [
        ("WEBHOOK_MODE", "local".to_string()),
        ("WEBHOOK_PORT", webhook_port.to_string()),
        ("WEBHOOK_CERT_DIR", certs.path().display().to_string()),
        ("HEALTH_ADDR", health.to_string()),
    ] {
        options.env.push((k.to_string(), v));
    }
    let operator = Operator::start("webhooks", options);
    common::wait_ready(health).await;
    let (code, _) = http_get(health, "/healthz").await.expect("healthz");
    assert_eq!(code, 200);

    // 1. Every invalid case of the table is rejected by the API server, naming the field:
    //    schema and CEL first, the admission webhook for the rest.
    let dynamic: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::erase::<v2::LocustTest>(&()),
    );
    let cases = invalid_cases();
    for case in &cases {
        let obj: DynamicObject =
            serde_json::from_value(case.document.clone()).expect("dynamic object");
        let message = match dynamic.create(&PostParams::default(), &obj).await {
            Ok(_) => panic!("{}: accepted, must be rejected", case.name),
            Err(e) => e.to_string(),
        };
        let field = if case.crd {
            case.crd_field.as_deref().unwrap_or(&case.field)
        } else {
            &case.field
        };
        assert!(
            message.contains(field),
            "{}: {field} not named in {message}",
            case.name
        );
        if !case.crd {
            assert!(
                message.contains("admission webhook") && message.contains(&case.message),
                "{}: the webhook's message is shown: {message}",
                case.name
            );
        }
    }

    // 2. A v1 test applied unmodified: stored as v2, read back as v1 unchanged, run by the
    //    controller to Succeeded.
    for name in ["demo-test-map", "demo-lib-map"] {
        let cm = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &cm)
            .await
            .expect("configmap");
    }
    let AnyLocustTest::V1(legacy) = example("examples/v1.yaml") else {
        panic!("v1 example")
    };
    let v1_api: Api<v1::LocustTest> = Api::namespaced(client.clone(), &ns);
    v1_api
        .create(&PostParams::default(), &legacy)
        .await
        .expect("a v1 test is accepted through conversion and validation");
    let as_v1 = v1_api.get("legacy-test").await.expect("read as v1");
    assert_eq!(as_v1.spec, legacy.spec, "v1 reads back unchanged");
    assert!(!as_v1.annotations().contains_key(V2_SPEC_ANNOTATION));
    let v2_api: Api<v2::LocustTest> = Api::namespaced(client.clone(), &ns);
    let as_v2 = v2_api.get("legacy-test").await.expect("read as v2");
    assert_eq!(as_v2.spec.master.command, legacy.spec.master_command_seed);
    assert_eq!(as_v2.spec.worker.replicas, legacy.spec.worker_replicas);
    let listed = v1_api.list(&ListParams::default()).await.expect("v1 list");
    assert_eq!(listed.items.len(), 1);

    // Metrics while the test runs, then after it ended: they move.
    let during = eventually(
        "metrics to count the test",
        Duration::from_secs(30),
        || async {
            let (_, body) = http_get(health, "/metrics").await?;
            let active = sample(&body, "locust_operator_tests{phase=\"Pending\"}")
                + sample(&body, "locust_operator_tests{phase=\"Running\"}");
            (active >= 1.0)
                .then_some(body)
                .ok_or("no Pending/Running test counted yet".to_string())
        },
    )
    .await;
    let done = wait_phase(
        &client,
        &ns,
        "legacy-test",
        Phase::Succeeded,
        Duration::from_secs(90),
    )
    .await;
    assert!(
        done.status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref())
            .is_some()
    );
    let after = eventually(
        "metrics to count the success",
        Duration::from_secs(30),
        || async {
            let (_, body) = http_get(health, "/metrics").await?;
            (sample(&body, "locust_operator_tests{phase=\"Succeeded\"}") >= 1.0)
                .then_some(body)
                .ok_or("no Succeeded test counted yet".to_string())
        },
    )
    .await;
    let reconciles = |m: &str| sample(m, "locust_operator_reconcile_total{result=\"success\"}");
    assert!(
        reconciles(&after) > reconciles(&during),
        "reconciles counted: {} then {}",
        reconciles(&during),
        reconciles(&after)
    );
    assert!(
        sample(
            &after,
            "locust_operator_webhook_requests_total{result=\"success\",webhook=\"convert\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "locust_operator_webhook_requests_total{result=\"denied\",webhook=\"validate\"}"
        ) >= 1.0
    );

    // 3. The operator noted once that this v1 object uses a deprecated API.
    let log = operator.log();
    assert_eq!(
        log.matches("locust.io/v1 LocustTest is deprecated").count(),
        1,
        "logged once per v1 object:\n{log}"
    );
}

#[tokio::test]
async fn not_ready_until_the_controller_cache_syncs() {
    // A user that may not list LocustTests: the controller never syncs, so /readyz stays
    // 503 while /healthz answers.
    let cluster = own().await.cluster();
    let ns = own().await.namespace("unready").await;
    let kubeconfig = cluster
        .kubeconfig_for("nobody-in-particular", &[])
        .expect("kubeconfig");
    let health: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    options
        .env
        .push(("HEALTH_ADDR".to_string(), health.to_string()));
    let _operator = Operator::start("unready", options);
    eventually("/healthz to answer", Duration::from_secs(30), || async {
        match http_get(health, "/healthz").await? {
            (200, _) => Ok(()),
            (code, body) => Err(format!("{code} {body}")),
        }
    })
    .await;
    common::never("/readyz to turn ready", Duration::from_secs(5), || async {
        match http_get(health, "/readyz").await {
            Ok((503, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}
