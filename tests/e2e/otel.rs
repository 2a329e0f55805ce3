//! OpenTelemetry on the real node: a test with `observability.openTelemetry` exports to the
//! chart's bundled Collector, through cluster DNS and the Collector's Service. Read back
//! from the Collector itself: its Prometheus exporter (metrics, labelled with the test's
//! service name) and its debug exporter's log (span counts; traces go there by default).

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use locust_k8s_operator::api::status::Phase;

use crate::common;
use crate::harness;

/// The chart's Collector for the release `locust-k8s-operator`.
const COLLECTOR: &str = "locust-k8s-operator-otel-collector";

/// The largest `"spans": N` in the Collector's log lines about traces.
fn spans_logged(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("Traces"))
        .filter_map(|l| {
            let rest = &l[l.find("\"spans\":")? + "\"spans\":".len()..];
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn spans_and_metrics_reach_the_bundled_collector() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "otel").await;
    harness::prepare(&ns);
    let operator_ns = harness::operator_namespace();

    let mut test = harness::small_test("traced", "ok.py", "20s");
    test["spec"]["observability"] = serde_json::json!({"openTelemetry": {
        "enabled": true,
        "endpoint": format!("{COLLECTOR}.{operator_ns}.svc:4317"),
        "protocol": "grpc",
        "insecure": true,
        "extraEnvVars": {"OTEL_METRIC_EXPORT_INTERVAL": "2000"}
    }});
    harness::apply_json(&ns, &test).expect("applies");
    harness::wait_phase(&client, &ns, "traced", Phase::Succeeded).await;

    let service = Api::<Service>::namespaced(client.clone(), &operator_ns)
        .get(COLLECTOR)
        .await
        .expect("the Collector's Service");
    let ip = service
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("a cluster IP");
    let addr: SocketAddr = format!("{ip}:9090").parse().expect("address");
    common::eventually(
        "http.client.duration from the test on the Collector's Prometheus exporter",
        Duration::from_secs(60),
        || async {
            let (code, body) = common::http_get(addr, "/metrics").await?;
            let found = body.lines().any(|l| {
                l.starts_with("http_client_duration") && l.contains("service_name=\"traced\"")
            });
            if code == 200 && found {
                Ok(())
            } else {
                Err(format!("HTTP {code}, {} lines", body.lines().count()))
            }
        },
    )
    .await;

    common::eventually(
        "spans in the Collector's debug log",
        Duration::from_secs(60),
        || async {
            let log = harness::kubectl_result(&[
                "logs",
                "-n",
                &operator_ns,
                &format!("deployment/{COLLECTOR}"),
            ])?;
            match spans_logged(&log) {
                0 => Err(format!("no spans yet in {} log lines", log.lines().count())),
                _ => Ok(()),
            }
        },
    )
    .await;
}

#[test]
fn span_counts_are_read_from_the_collectors_log() {
    let log = r#"{"level":"info","msg":"Traces","otelcol.component.id":"debug","resource spans":1,"spans":12}
{"level":"info","msg":"Metrics","data points":3}"#;
    assert_eq!(spans_logged(log), 12);
    assert_eq!(spans_logged("nothing"), 0);
}
