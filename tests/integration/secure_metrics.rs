//! Secure metrics and the chart's ServiceMonitors against the real control plane.
//!
//! - `METRICS_SECURE=true`: the operator (running as the RBAC-limited operator user, with
//!   `config/rbac/metrics_auth_role.yaml` bound) serves `/metrics` over HTTPS only: a
//!   ServiceAccount token (TokenRequest) bound to the chart's `<release>-metrics-reader`
//!   rules gets 200, one without gets 403, no token or a garbage token 401; the plain port
//!   keeps the probes and no longer serves `/metrics`. With the option off `/metrics` is
//!   plain HTTP as before.
//! - The chart's ServiceMonitors, rendered with various values, are accepted by the real
//!   `monitoring.coreos.com` ServiceMonitor CRD (from the Prometheus Operator's Go module,
//!   `tests/monitoring/prometheus-operator-crds.sh`), which rejects a broken one; so are
//!   its PrometheusRule (by the real PrometheusRule CRD) and its dashboard ConfigMap.

use crate::chart_common;
use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::local_locust::free_port;
use common::{Operator, OperatorOptions, eventually, http_get};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

/// The operator's extra rules for the reviews.
const METRICS_AUTH_ROLE_YAML: &str = include_str!("../../config/rbac/metrics_auth_role.yaml");

/// Binds `role` (created if absent) cluster-wide to `subject`, under `name`.
async fn bind_cluster_role(client: &Client, name: &str, role: &ClusterRole, subject: Subject) {
    let params = PatchParams::apply("secure-metrics-test").force();
    let mut role_json = serde_json::to_value(role).expect("role json");
    role_json["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
    role_json["kind"] = "ClusterRole".into();
    Api::<ClusterRole>::all(client.clone())
        .patch(&role.name_any(), &params, &Patch::Apply(&role_json))
        .await
        .expect("the ClusterRole applies");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.name_any(),
        },
        subjects: Some(vec![subject]),
    };
    let mut value = serde_json::to_value(&binding).expect("binding json");
    value["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
    value["kind"] = "ClusterRoleBinding".into();
    Api::<ClusterRoleBinding>::all(client.clone())
        .patch(name, &params, &Patch::Apply(&value))
        .await
        .expect("the ClusterRoleBinding applies");
}

/// The chart's `<release>-metrics-reader` ClusterRole, renamed `name`.
fn chart_metrics_reader(name: &str) -> ClusterRole {
    let objects = chart_common::objects(&chart_common::render(
        "lko",
        "lko-system",
        &["--set", "metrics.secure.enabled=true"],
    ));
    let reader = objects
        .into_iter()
        .find(|o| {
            o["kind"] == "ClusterRole"
                && o["metadata"]["name"] == "lko-locust-k8s-operator-metrics-reader"
        })
        .expect("the chart renders the metrics-reader ClusterRole");
    let mut role: ClusterRole = serde_json::from_value(reader).expect("a ClusterRole");
    role.metadata = ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    };
    role
}

/// A token of the ServiceAccount `name` in `ns` (created), by TokenRequest.
async fn service_account_token(client: &Client, ns: &str, name: &str) -> String {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("ServiceAccount");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .expect("a token")
        .token
}

/// `GET /metrics` over HTTPS trusting only `ca`, with `Authorization: <authorization>`.
async fn https_get(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    authorization: Option<&str>,
) -> Result<(u16, String), String> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()), tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::get("/metrics").header("host", addr.to_string());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).expect("request"))
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test]
async fn secure_metrics_serve_only_tokens_rbac_allows() {
    let client = common::admin().await;
    let ns = common::namespace("secure-metrics").await;
    // The operator user may review tokens (what the chart grants with metrics.secure).
    let auth_role: ClusterRole =
        locust_k8s_operator::yaml::from_yaml(METRICS_AUTH_ROLE_YAML).expect("role parses");
    bind_cluster_role(
        &client,
        "locust-k8s-operator-metrics-auth-test",
        &auth_role,
        Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: common::OPERATOR_GROUP.into(),
            namespace: None,
        },
    )
    .await;
    // Prometheus's ServiceAccount is bound to the chart's reader role; a stranger is not.
    let prometheus = service_account_token(&client, &ns, "prometheus").await;
    let stranger = service_account_token(&client, &ns, "stranger").await;
    let reader_binding = format!("{ns}-metrics-reader");
    bind_cluster_role(
        &client,
        &reader_binding,
        &chart_metrics_reader(&format!("{ns}-metrics-reader")),
        Subject {
            api_group: None,
            kind: "ServiceAccount".into(),
            name: "prometheus".into(),
            namespace: Some(ns.clone()),
        },
    )
    .await;

    // The serving certificate, from a CA this test trusts (METRICS_CERT_DIR).
    let certs = tempfile::tempdir().expect("cert dir");
    let material = locust_k8s_operator::certs::generate::new_material(
        &locust_k8s_operator::certs::generate::Subject::local(),
        Duration::from_secs(3600),
        SystemTime::now(),
        None,
    )
    .expect("certificate");
    std::fs::write(certs.path().join("tls.crt"), &material.cert).expect("tls.crt");
    std::fs::write(certs.path().join("tls.key"), &material.key).expect("tls.key");
    let ca = CertificateDer::from_pem_slice(material.ca_bundle.as_bytes()).expect("CA");

    let health: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let secure: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut options = OperatorOptions::new(&common::operator_kubeconfig().await, &ns);
    for (k, v) in [
        ("HEALTH_ADDR", health.to_string()),
        ("METRICS_SECURE", "true".into()),
        ("METRICS_SECURE_ADDR", secure.to_string()),
        ("METRICS_CERT_DIR", certs.path().display().to_string()),
    ] {
        options.env.push((k.into(), v));
    }
    let mut operator = Operator::start("secure-metrics", options);
    common::wait_ready(health).await;
    let bearer = |token: &str| format!("Bearer {token}");

    // Allowed: the metrics.
    let (code, body) = eventually("the HTTPS /metrics", Duration::from_secs(30), || async {
        https_get(secure, &ca, Some(&bearer(&prometheus))).await
    })
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("locust_operator_build_info"), "{body}");
    // Authenticated, not allowed: 403 naming the user.
    let (code, body) = https_get(secure, &ca, Some(&bearer(&stranger)))
        .await
        .expect("request");
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains(&format!("system:serviceaccount:{ns}:stranger")),
        "{body}"
    );
    // Not authenticated: 401.
    for authorization in [
        None,
        Some("Bearer not-a-token".to_owned()),
        Some(format!("Basic {prometheus}")),
    ] {
        let (code, body) = https_get(secure, &ca, authorization.as_deref())
            .await
            .expect("request");
        assert_eq!(code, 401, "{authorization:?}: {body}");
        assert!(!body.contains("locust_operator"), "{body}");
    }
    // The plain port keeps the probes, without /metrics.
    assert_eq!(http_get(health, "/healthz").await.expect("healthz").0, 200);
    assert_eq!(http_get(health, "/metrics").await.expect("plain").0, 404);

    // Answers are cached for a minute: revoking the binding is seen only after that.
    Api::<ClusterRoleBinding>::all(client.clone())
        .delete(&reader_binding, &DeleteParams::default())
        .await
        .expect("delete the reader binding");
    let (code, _) = https_get(secure, &ca, Some(&bearer(&prometheus)))
        .await
        .expect("request");
    assert_eq!(code, 200, "the allowed answer is reused within the minute");

    operator.assert_running();
    let log = operator.log();
    for token in [&prometheus, &stranger] {
        assert!(!log.contains(token.as_str()), "a token in the log");
    }
}

#[tokio::test]
async fn without_the_option_metrics_stay_plain_http() {
    let ns = common::namespace("plain-metrics").await;
    let health: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let secure: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut options = OperatorOptions::new(&common::operator_kubeconfig().await, &ns);
    options.env.push(("HEALTH_ADDR".into(), health.to_string()));
    options
        .env
        .push(("METRICS_SECURE_ADDR".into(), secure.to_string()));
    let _operator = Operator::start("plain-metrics", options);
    let (code, body) = eventually("the plain /metrics", Duration::from_secs(60), || async {
        http_get(health, "/metrics").await
    })
    .await;
    assert_eq!(code, 200);
    assert!(body.contains("locust_operator_build_info"), "{body}");
    assert!(
        tokio::net::TcpStream::connect(secure).await.is_err(),
        "no HTTPS metrics port without METRICS_SECURE"
    );
}

// ---- the chart's ServiceMonitors against the real CRD ------------------------------------

/// `kubectl apply --dry-run=server` of `objects`; (success, kubectl's messages).
fn dry_run(kubeconfig: &std::path::Path, objects: &[&Value]) -> (bool, String) {
    let yaml = locust_k8s_operator::yaml::to_yaml_documents(objects).expect("yaml");
    let (ok, out, err) = chart_common::kubectl(
        kubeconfig,
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        Some(&yaml),
    );
    (ok, format!("{out}{err}"))
}

#[tokio::test]
async fn the_charts_service_monitors_are_valid_service_monitors() {
    // Its own cluster: it installs the Prometheus Operator's CRDs.
    let cluster = common::prepared("secure_metrics_monitors").await.cluster();
    chart_common::install_servicemonitor_crd(cluster).await;
    let release_ns = cluster.namespace("monitors").await.expect("namespace");
    let monitoring = cluster.namespace("monitoring").await.expect("namespace");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("default", vec!["--set".into(), "metrics.serviceMonitor.enabled=true".into()]),
        (
            "tuned, both",
            vec![
                "--set".into(),
                format!(
                    "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.namespace={monitoring},\
                     metrics.serviceMonitor.interval=1m30s,metrics.serviceMonitor.scrapeTimeout=20s,\
                     metrics.serviceMonitor.labels.release=prometheus,metrics.serviceMonitor.annotations.owner=perf,\
                     metrics.serviceMonitor.honorLabels=true,openTelemetry.collector.serviceMonitor.enabled=true,\
                     openTelemetry.collector.serviceMonitor.namespace={monitoring},openTelemetry.collector.serviceMonitor.scrapeTimeout=5s"
                ),
                "--set-json".into(),
                r#"metrics.serviceMonitor.relabelings=[{"action":"replace","sourceLabels":["__meta_kubernetes_pod_node_name"],"targetLabel":"node"}]"#.into(),
                "--set-json".into(),
                r#"metrics.serviceMonitor.metricRelabelings=[{"action":"drop","sourceLabels":["__name__"],"regex":"process_.*"}]"#.into(),
                "--set-json".into(),
                r#"openTelemetry.collector.serviceMonitor.relabelings=[{"action":"labeldrop","regex":"pod"}]"#.into(),
            ],
        ),
        (
            "secure, token file",
            vec!["--set".into(), "metrics.secure.enabled=true,metrics.serviceMonitor.enabled=true".into()],
        ),
        (
            "secure, own CA and token Secret",
            vec![
                "--set".into(),
                "metrics.secure.enabled=true,metrics.secure.certSecret=metrics-tls,\
                 metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.tlsConfig.serverName=lko-metrics.svc,\
                 metrics.serviceMonitor.tlsConfig.ca.secret.name=metrics-tls,metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt,\
                 metrics.serviceMonitor.bearerTokenSecret.name=prometheus-token,metrics.serviceMonitor.bearerTokenSecret.key=token"
                    .into(),
            ],
        ),
    ];
    let mut total = 0;
    for (name, flags) in &cases {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let objects = chart_common::objects(&chart_common::render("lko", &release_ns, &flags));
        let monitors = chart_common::of_kind(&objects, "ServiceMonitor");
        assert!(!monitors.is_empty(), "{name}: a ServiceMonitor rendered");
        total += monitors.len();
        let (ok, out) = dry_run(cluster.kubeconfig(), &monitors);
        assert!(
            ok,
            "{name}: the ServiceMonitor CRD rejects the chart's:\n{out}"
        );
        assert_eq!(
            out.lines()
                .filter(|l| l.contains("serverside-applied (server dry run)"))
                .count(),
            monitors.len(),
            "{name}: every ServiceMonitor accepted:\n{out}"
        );
    }
    assert_eq!(total, 5, "two in the tuned case, one in each other");

    // The real schema is in force: a broken endpoint is rejected, naming the field.
    let objects = chart_common::objects(&chart_common::render(
        "lko",
        &release_ns,
        &["--set", "metrics.serviceMonitor.enabled=true"],
    ));
    let mut broken = chart_common::one(&objects, "ServiceMonitor").clone();
    broken["spec"]["endpoints"][0]["scheme"] = "gopher".into();
    broken["spec"]["endpoints"][0]["interval"] = "soon".into();
    let (ok, out) = dry_run(cluster.kubeconfig(), &[&broken]);
    assert!(!ok, "a broken ServiceMonitor is rejected:\n{out}");
    assert!(out.contains("spec.endpoints[0].scheme"), "{out}");
    assert!(out.contains("spec.endpoints[0].interval"), "{out}");

    // The chart's PrometheusRule (alerts with tuned values) and its Grafana dashboard
    // ConfigMap are accepted by the real PrometheusRule CRD and the API server.
    chart_common::apply(
        cluster.kubeconfig(),
        &chart_common::prometheus_operator_crd("prometheusrules"),
    );
    let client = cluster.client().await.expect("client");
    chart_common::wait_established(&client, "prometheusrules.monitoring.coreos.com").await;
    let objects = chart_common::objects(&chart_common::render(
        "lko",
        &release_ns,
        &[
            "--set",
            "metrics.prometheusRule.enabled=true,metrics.prometheusRule.labels.release=prometheus,\
             metrics.prometheusRule.alerts.LocustTestSlowResponses.threshold=1.5,\
             metrics.prometheusRule.alerts.LocustTestFailed.enabled=false,\
             metrics.grafanaDashboard.enabled=true",
        ],
    ));
    let rule = chart_common::one(&objects, "PrometheusRule");
    let dashboard = chart_common::of_kind(&objects, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1")
        .expect("the dashboard ConfigMap is rendered");
    let (ok, out) = dry_run(cluster.kubeconfig(), &[rule, dashboard]);
    assert!(
        ok,
        "the PrometheusRule CRD or the API server rejects the chart's:\n{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("serverside-applied (server dry run)"))
            .count(),
        2,
        "the rule and the dashboard accepted:\n{out}"
    );
}
