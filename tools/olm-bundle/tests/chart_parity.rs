//! The bundle's Deployment runs the operator like the Helm chart's default install: same
//! security, resources, probes, ports, arguments and image, and every setting the chart
//! passes that the bundle leaves out is the operator's own default (so both behave the
//! same). Only the certificate handling differs on purpose (OLM's files vs self-signed).

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{committed_csv, root};
use locust_k8s_operator::certs::CertsConfig;
use locust_k8s_operator::config::{ControllerConfig, OperatorConfig};
use serde_json::Value;

/// The chart's Deployment, rendered with its default values by the real helm.
fn chart_deployment() -> Value {
    let helm = test_cluster::binaries::bin_dir().join("helm");
    let out = Command::new(&helm)
        .args(["template", "t"])
        .arg(root().join("charts/locust-k8s-operator"))
        .args([
            "--namespace",
            "operators",
            "--show-only",
            "templates/deployment.yaml",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (make cluster-bins)", helm.display()));
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Option<Value>> =
        serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).expect("YAML");
    docs.into_iter()
        .flatten()
        .find(|d| d["kind"] == "Deployment")
        .expect("the chart renders a Deployment")
}

fn bundle_deployment() -> Value {
    committed_csv()["spec"]["install"]["spec"]["deployments"][0].clone()
}

/// Literal env values; fieldRefs as `fieldRef:<path>`.
fn env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some(path) => format!("fieldRef:{path}"),
                None => e["value"].as_str().expect("string value").to_string(),
            };
            (e["name"].as_str().expect("name").to_string(), value)
        })
        .collect()
}

#[test]
fn pod_and_container_settings_match_the_chart() {
    let chart = chart_deployment();
    let bundle = bundle_deployment();
    assert_eq!(bundle["spec"]["replicas"], chart["spec"]["replicas"]);
    let (cp, bp) = (
        &chart["spec"]["template"]["spec"],
        &bundle["spec"]["template"]["spec"],
    );
    assert_eq!(bp["securityContext"], cp["securityContext"]);
    assert_eq!(
        bp["terminationGracePeriodSeconds"],
        cp["terminationGracePeriodSeconds"]
    );
    assert_eq!(bp["volumes"], cp["volumes"], "the /tmp emptyDir");
    let (cc, bc) = (&cp["containers"][0], &bp["containers"][0]);
    for key in [
        "name",
        "image",
        "imagePullPolicy",
        "args",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "resources",
        "securityContext",
        "volumeMounts",
    ] {
        assert_eq!(bc[key], cc[key], "container {key}");
    }
}

#[test]
fn environment_matches_the_chart_apart_from_certificates_and_names() {
    let chart = env(&chart_deployment()["spec"]["template"]["spec"]["containers"][0]);
    let bundle = env(&bundle_deployment()["spec"]["template"]["spec"]["containers"][0]);
    // Set differently on purpose: OLM's certificates (files mode on OLM's mount), the
    // OperatorGroup's namespaces, and names the chart derives from its release (the
    // operator's defaults are the pod's namespace and fixed names, which the bundle uses).
    let different = [
        "WEBHOOK_MODE",
        "WEBHOOK_CERT_DIR",
        "WATCH_NAMESPACES",
        "LEADER_ELECTION_NAMESPACE",
        "WEBHOOK_NAMESPACE",
        "WEBHOOK_SERVICE_NAME",
        "WEBHOOK_SECRET_NAME",
        "WEBHOOK_CONFIG_NAME",
    ];
    for (name, value) in &bundle {
        if !different.contains(&name.as_str()) {
            assert_eq!(
                chart.get(name),
                Some(value),
                "{name}: the bundle sets it like the chart"
            );
        }
    }
    // Every other variable the chart sets is the operator's own default: adding it to the
    // bundle's environment changes no configuration.
    let with_pod = |extra: Option<(&String, &String)>| {
        let mut vars: Vec<(String, String)> = bundle
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if v.starts_with("fieldRef:") {
                        "x".into()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        if let Some((k, v)) = extra {
            vars.push((k.clone(), v.clone()));
        }
        (
            ControllerConfig::from_vars(vars.clone()).expect("controller config"),
            CertsConfig::from_vars(vars.clone()).expect("certs config"),
            OperatorConfig::from_vars(vars).expect("builder config"),
        )
    };
    let base = with_pod(None);
    let mut compared = 0;
    for (name, value) in &chart {
        if bundle.contains_key(name) || different.contains(&name.as_str()) {
            continue;
        }
        assert_eq!(
            with_pod(Some((name, value))),
            base,
            "{name}={value} from the chart is not the operator's default: set it in config/olm/csv.yaml"
        );
        compared += 1;
    }
    assert!(
        compared >= 5,
        "the chart's other settings were compared ({compared})"
    );
}
