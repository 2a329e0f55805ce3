//! The routes besides the webhooks' logic: metrics, health, readiness, and the webhooks'
//! instrumentation.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use super::admission::{admission_body, v2_object};
use super::{review_body, state, v1_object};
use crate::server::{ServerState, probes_router, router};

/// Status, content type and body of one request.
async fn call(
    state: &ServerState,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, String, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn healthz_is_always_ok_and_readyz_waits_for_both_flags() {
    let state = state();
    assert_eq!(
        call(&state, "GET", "/healthz", Vec::new()).await.0,
        StatusCode::OK
    );
    let (status, _, text) = call(&state, "GET", "/readyz", Vec::new()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        text.contains("caches") && text.contains("webhook"),
        "{text}"
    );

    state.readiness.set_controller_synced();
    let (status, _, text) = call(&state, "GET", "/readyz", Vec::new()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !text.contains("caches") && text.contains("webhook"),
        "{text}"
    );

    state.readiness.set_webhook_serving();
    let (status, _, text) = call(&state, "GET", "/readyz", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "ok");
    assert_eq!(
        call(&state, "GET", "/healthz", Vec::new()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn both_webhooks_are_counted_by_result() {
    let state = state();
    let convert = |uid: &str, desired: &str, object| {
        serde_json::to_vec(&review_body(uid, desired, vec![object])).expect("encode")
    };
    let ok = convert("c1", "locust.io/v2", v1_object("a"));
    assert_eq!(call(&state, "POST", "/convert", ok).await.0, StatusCode::OK);
    let failing = convert("c2", "locust.io/v9", v1_object("a"));
    let (status, _, text) = call(&state, "POST", "/convert", failing).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("\"uid\":\"c2\""), "{text}");
    assert!(text.contains("Failure"), "{text}");
    assert_eq!(
        call(&state, "POST", "/convert", b"{".to_vec()).await.0,
        StatusCode::BAD_REQUEST
    );

    let allowed = admission_body("v1", "CREATE", Some(v2_object("a")), None);
    let mut invalid = v2_object("b");
    invalid["spec"]["worker"]["replicas"] = json!(0);
    let denied = admission_body("v2", "CREATE", Some(invalid), None);
    for body in [allowed, denied] {
        let bytes = serde_json::to_vec(&body).expect("encode");
        assert_eq!(
            call(&state, "POST", "/validate", bytes).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&state, "POST", "/validate", b"nope".to_vec()).await.0,
        StatusCode::BAD_REQUEST
    );

    let (status, content_type, text) = call(&state, "GET", "/metrics", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for line in [
        r#"locust_operator_webhook_requests_total{result="success",webhook="convert"} 1"#,
        r#"locust_operator_webhook_requests_total{result="failure",webhook="convert"} 1"#,
        r#"locust_operator_webhook_requests_total{result="bad_request",webhook="convert"} 1"#,
        r#"locust_operator_webhook_requests_total{result="allowed",webhook="validate"} 1"#,
        r#"locust_operator_webhook_requests_total{result="denied",webhook="validate"} 1"#,
        r#"locust_operator_webhook_requests_total{result="bad_request",webhook="validate"} 1"#,
        r#"locust_operator_webhook_duration_seconds_count{webhook="convert"} 3"#,
        r#"locust_operator_webhook_duration_seconds_count{webhook="validate"} 3"#,
        "locust_operator_build_info{",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn a_converted_response_is_passed_through_unchanged() {
    let state = state();
    let body = serde_json::to_vec(&review_body("same", "locust.io/v2", vec![v1_object("a")]))
        .expect("encode");
    let (status, content_type, text) = call(&state, "POST", "/convert", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let review: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(review["response"]["uid"], "same");
    assert_eq!(
        review["response"]["convertedObjects"][0]["spec"]["worker"]["replicas"],
        3
    );
}

#[tokio::test]
async fn the_probes_router_serves_no_webhook() {
    let state = state();
    state.readiness.set_controller_synced();
    state.readiness.set_webhook_serving();
    for (method, path, expected) in [
        ("GET", "/healthz", StatusCode::OK),
        ("GET", "/readyz", StatusCode::OK),
        ("GET", "/metrics", StatusCode::OK),
        ("POST", "/convert", StatusCode::NOT_FOUND),
        ("POST", "/validate", StatusCode::NOT_FOUND),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = probes_router(state.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), expected, "{method} {path}");
    }
}

#[tokio::test]
async fn secure_metrics_take_metrics_off_the_plain_ports_and_ask_for_a_token() {
    let state = state().without_plain_metrics();
    let get = |path: &str, authorization: Option<&str>| {
        let mut request = Request::builder().method("GET").uri(path);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(Body::empty()).expect("request")
    };
    for router in [router(state.clone()), probes_router(state.clone())] {
        let response = router
            .clone()
            .oneshot(get("/metrics", None))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = router
            .oneshot(get("/healthz", None))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Without a bearer token the API server is never asked: its client answers nothing.
    let (service, _handle) = tower_test::mock::pair::<
        http::Request<kube::client::Body>,
        http::Response<kube::client::Body>,
    >();
    let auth = crate::server::MetricsAuth::new(kube::Client::new(service, "default"));
    for authorization in [None, Some("Basic dXNlcjpwdw=="), Some("Bearer ")] {
        let response = crate::server::secure_metrics_router(state.clone(), auth.clone())
            .oneshot(get("/metrics", authorization))
            .await
            .expect("infallible");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
