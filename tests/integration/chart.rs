//! The Helm chart `charts/locust-k8s-operator`: generated copies fresh, version in step
//! with the operator, every value documented, the schema rejecting bad values, `helm lint`
//! and `helm template` for every documented combination of values, the rendered manifests
//! accepted by the real API server (`kubectl apply --dry-run=server`).
//!
//! `helm install`/`upgrade`/`uninstall` are in `tests/integration/chart_install.rs` (its own cluster:
//! the CRD it leaves behind would change what a dry-run here compares against); RBAC under
//! the chart's identity (the operator running as the chart's ServiceAccount) is in
//! `tests/integration/chart_rbac.rs`.

use crate::chart_common;

use std::collections::BTreeSet;

use chart_common::{CHART, helm, kubectl, objects, of_kind, one, operator_deployment, render};
use serde_json::{Value, json};

/// A values file written for the Go operator's chart (chart README, "Values of the Go
/// operator's chart").
const GO_VALUES: &str = "tests/fixtures/go-operator-values.yaml";

/// Every documented combination of values (README "Install with Helm", the chart README's
/// "Common set-ups"): name, flags.
const COMBINATIONS: &[(&str, &[&str])] = &[
    ("default", &[]),
    ("webhooks-off", &["--set", "webhooks.enabled=false"]),
    (
        "cert-manager",
        &["--set", "webhooks.certificates=cert-manager"],
    ),
    (
        "cert-manager-cluster-issuer",
        &[
            "--set",
            "webhooks.certificates=cert-manager,webhooks.certManager.issuerName=ca,webhooks.certManager.issuerKind=ClusterIssuer",
        ],
    ),
    ("no-validation", &["--set", "webhooks.validation=false"]),
    (
        "namespaced",
        &["--set-json", r#"watchNamespaces=["team-a","team-b"]"#],
    ),
    (
        "single-replica",
        &["--set", "replicaCount=1,leaderElection.enabled=false"],
    ),
    (
        "otel-external",
        &[
            "--set",
            "openTelemetry.collector.deploy=false,openTelemetry.collector.externalEndpoint=otel.monitoring:4317",
        ],
    ),
    (
        "otel-forward",
        &[
            "--set",
            "openTelemetry.collector.exporters.otlp.endpoint=tempo.monitoring:4317,openTelemetry.collector.exporters.otlp.insecure=true,openTelemetry.collector.exporters.prometheus.enabled=false",
        ],
    ),
    (
        "service-monitor",
        &["--set", "metrics.serviceMonitor.enabled=true"],
    ),
    (
        "service-monitors-tuned",
        &[
            "--set",
            "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.namespace=monitoring,metrics.serviceMonitor.interval=15s,metrics.serviceMonitor.scrapeTimeout=10s,metrics.serviceMonitor.labels.release=prometheus,metrics.serviceMonitor.annotations.team=perf,metrics.serviceMonitor.honorLabels=true,openTelemetry.collector.serviceMonitor.enabled=true,openTelemetry.collector.serviceMonitor.interval=1m",
            "--set-json",
            r#"metrics.serviceMonitor.relabelings=[{"action":"replace","targetLabel":"cluster","replacement":"perf-1"}]"#,
            "--set-json",
            r#"metrics.serviceMonitor.metricRelabelings=[{"action":"drop","sourceLabels":["__name__"],"regex":"process_.*"}]"#,
        ],
    ),
    (
        "secure-metrics",
        &[
            "--set",
            "metrics.secure.enabled=true,metrics.serviceMonitor.enabled=true",
        ],
    ),
    (
        "secure-metrics-own-certificate",
        &[
            "--set",
            "metrics.secure.enabled=true,metrics.secure.certSecret=metrics-tls,metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.tlsConfig.serverName=lko-locust-k8s-operator-metrics.lko-system.svc,metrics.serviceMonitor.tlsConfig.ca.secret.name=metrics-tls,metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt,metrics.serviceMonitor.bearerTokenSecret.name=prometheus-token",
        ],
    ),
    (
        "locust-pod-defaults",
        &[
            "--set",
            "locustPods.masterResources.limits.cpu=2,locustPods.workerResources.requests.memory=,locustPods.jobTtlSecondsAfterFinished=300,locustPods.defaultRuntimeClassName=gvisor,locustPods.affinityInjection=false",
        ],
    ),
    ("go-operator-values", &["--values", GO_VALUES]),
    (
        "mirror-and-digests",
        &[
            "--set",
            "global.imageRegistry=mirror.example:5000/lko,image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000,crds.keep=false",
        ],
    ),
    ("second-release", &["--set", "crds.install=false"]),
];

fn rendered(name: &str) -> Vec<Value> {
    let (_, flags) = COMBINATIONS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a documented combination");
    objects(&render("lko", "lko-system", flags))
}

fn env_of(objects: &[Value]) -> Vec<(String, String)> {
    chart_common::operator_env(objects, "lko-system", "pod-0")
}

fn env<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    chart_common::env_value(env, name)
}

// ---- generated files and documentation ----------------------------------------------

#[test]
fn chart_version_follows_the_operator() {
    let chart: Value = locust_k8s_operator::yaml::from_yaml(
        &std::fs::read_to_string(format!("{CHART}/Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(chart["version"], version, "Chart.yaml version (make chart)");
    assert_eq!(
        chart["appVersion"], version,
        "Chart.yaml appVersion (make chart)"
    );
}

#[test]
fn the_chart_copies_of_the_crd_and_rbac_are_fresh() {
    let stale = "is stale: run `make chart`";
    assert_eq!(
        std::fs::read_to_string(format!("{CHART}/files/crd/locusttests.locust.io.yaml"))
            .expect("chart CRD copy"),
        std::fs::read_to_string("crd/locusttests.locust.io.yaml").expect("crd"),
        "{CHART}/files/crd/locusttests.locust.io.yaml {stale}"
    );
    let names = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .expect(dir)
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect()
    };
    let sources = names("config/rbac");
    assert_eq!(
        names(&format!("{CHART}/files/rbac")),
        sources,
        "{CHART}/files/rbac {stale}"
    );
    for file in sources {
        assert_eq!(
            std::fs::read_to_string(format!("{CHART}/files/rbac/{file}")).expect("copy"),
            std::fs::read_to_string(format!("config/rbac/{file}")).expect("source"),
            "{CHART}/files/rbac/{file} {stale}"
        );
    }
}

/// Values whose whole object is passed through to Kubernetes (documented as one key).
fn passed_through(key: &str) -> bool {
    key.ends_with("resources") || key.ends_with("ecurityContext")
}

/// Leaf keys of values.yaml (maps are walked; lists, empty maps and objects passed
/// through to Kubernetes are leaves).
fn leaf_keys(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() && !passed_through(prefix) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_keys(&key, v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn every_value_is_documented_and_in_the_schema() {
    let values: Value = locust_k8s_operator::yaml::from_yaml(
        &std::fs::read_to_string(format!("{CHART}/values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml parses");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{CHART}/values.schema.json")).expect("schema"),
    )
    .expect("values.schema.json is JSON");
    let readme = std::fs::read_to_string(format!("{CHART}/README.md")).expect("chart README");
    let mut keys = Vec::new();
    leaf_keys("", &values, &mut keys);
    assert!(keys.len() > 40, "values.yaml has its keys: {keys:?}");
    // The table is generated (make chart-docs; tools/repo-gen/tests/chart_docs.rs checks it
    // is current): a value is documented by its own row, a row of a map above it, or rows
    // of the keys inside an object passed through.
    for key in keys {
        let parts: Vec<&str> = key.split('.').collect();
        let documented = (1..=parts.len())
            .any(|n| readme.contains(&format!("| `{}` |", parts[..n].join("."))))
            || readme.contains(&format!("| `{key}."));
        assert!(
            documented,
            "{CHART}/README.md documents `{key}` in its values table"
        );
        let mut node = &schema;
        for part in key.split('.') {
            node = &node["properties"][part];
            assert!(
                !node.is_null(),
                "values.schema.json has a schema for `{key}`"
            );
        }
    }
}

// ---- Artifact Hub metadata, CRD toggles, images, two releases ---------------------------

fn chart_yaml() -> Value {
    locust_k8s_operator::yaml::from_yaml(
        &std::fs::read_to_string(format!("{CHART}/Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses")
}

/// An Artifact Hub annotation (a YAML string) parsed.
fn annotation(chart: &Value, key: &str) -> Value {
    let text = chart["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("Chart.yaml has the {key} annotation"));
    locust_k8s_operator::yaml::from_yaml(text).unwrap_or_else(|e| panic!("{key}: {e}"))
}

#[test]
fn chart_metadata_is_complete_and_agrees_with_the_chart() {
    let chart = chart_yaml();
    for key in ["home", "icon", "kubeVersion"] {
        assert!(
            chart[key].as_str().is_some_and(|v| !v.is_empty()),
            "Chart.yaml has {key}"
        );
    }
    assert!(chart["sources"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(chart["maintainers"][0]["name"].is_string());
    assert_eq!(chart["annotations"]["artifacthub.io/license"], "Apache-2.0");
    assert_eq!(chart["annotations"]["artifacthub.io/operator"], "true");
    assert!(annotation(&chart, "artifacthub.io/links")[0]["url"].is_string());
    // The images are the ones the default install runs.
    let o = rendered("default");
    let mut listed: Vec<String> = annotation(&chart, "artifacthub.io/images")
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["image"].as_str().expect("image").to_owned())
        .collect();
    listed.sort_unstable();
    let mut running: Vec<String> = of_kind(&o, "Deployment")
        .iter()
        .map(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .expect("image")
                .to_owned()
        })
        .collect();
    running.sort_unstable();
    assert_eq!(
        listed, running,
        "artifacthub.io/images (make chart sets the tag)"
    );
    // The CRD and its example are the real ones.
    let crd = one(&o, "CustomResourceDefinition");
    let crds = annotation(&chart, "artifacthub.io/crds");
    assert_eq!(crds[0]["name"], crd["metadata"]["name"]);
    assert_eq!(crds[0]["kind"], crd["spec"]["names"]["kind"]);
    let example: Value = locust_k8s_operator::yaml::from_yaml(
        &std::fs::read_to_string("examples/minimal-v2.yaml").expect("example"),
    )
    .expect("example parses");
    assert_eq!(
        annotation(&chart, "artifacthub.io/crdsExamples")[0],
        example
    );
    // helm refuses clusters older than kubeVersion.
    let (ok, _, err) = helm(&["template", "x", CHART, "--kube-version", "1.32.0"]);
    assert!(!ok && err.contains("kubeVersion"), "{err}");
    let (ok, _, err) = helm(&["template", "x", CHART, "--kube-version", "1.33.0"]);
    assert!(ok, "{err}");
}

#[test]
fn crds_install_and_keep_toggle_the_crd_and_its_policy() {
    let crd = |o: &[Value]| of_kind(o, "CustomResourceDefinition").len();
    let policy = |o: &[Value]| {
        one(o, "CustomResourceDefinition")["metadata"]["annotations"]["helm.sh/resource-policy"]
            .clone()
    };
    let o = rendered("default");
    assert_eq!(policy(&o), "keep");
    let o = rendered("mirror-and-digests");
    assert_eq!(policy(&o), Value::Null, "crds.keep=false: no keep policy");
    let o = rendered("second-release");
    assert_eq!(crd(&o), 0, "crds.install=false: no CRD");
    assert_eq!(operator_deployment(&o)["kind"], "Deployment");
}

#[test]
fn the_registry_mirror_and_digests_shape_every_image() {
    let digest = format!("sha256:{}", "0".repeat(64));
    let o = rendered("mirror-and-digests");
    let image = |o: &[Value], container: &str| -> String {
        of_kind(o, "Deployment")
            .iter()
            .map(|d| &d["spec"]["template"]["spec"]["containers"][0])
            .find(|c| c["name"] == container)
            .and_then(|c| c["image"].as_str())
            .expect("the container")
            .to_owned()
    };
    assert_eq!(
        image(&o, "operator"),
        format!("mirror.example:5000/lko/locust-k8s-operator/locust-k8s-operator@{digest}"),
        "the mirror replaces ghcr.io, the digest the tag"
    );
    assert_eq!(
        image(&o, "otel-collector"),
        "mirror.example:5000/lko/otel/opentelemetry-collector-contrib:0.139.0",
        "a Docker Hub repository gets the mirror prepended"
    );
    let o = objects(&render(
        "lko",
        "lko-system",
        &[
            "--set",
            &format!("openTelemetry.collector.image.digest={digest}"),
        ],
    ));
    assert_eq!(
        image(&o, "otel-collector"),
        format!("otel/opentelemetry-collector-contrib@{digest}")
    );
    let (ok, _, err) = helm(&["template", "x", CHART, "--set", "image.digest=latest"]);
    assert!(
        !ok && err.contains("digest"),
        "a digest that is none is refused: {err}"
    );
}

/// Cluster-scoped objects of a render: (kind, name).
fn cluster_scoped(o: &[Value]) -> BTreeSet<(String, String)> {
    o.iter()
        .filter(|x| x["metadata"]["namespace"].is_null())
        .map(|x| {
            (
                x["kind"].as_str().expect("kind").to_owned(),
                x["metadata"]["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect()
}

#[test]
fn two_releases_own_different_cluster_scoped_objects() {
    let a = objects(&render(
        "team-a",
        "team-a",
        &["--set-json", r#"watchNamespaces=["team-a"]"#],
    ));
    let b = objects(&render(
        "team-b",
        "team-b",
        &[
            "--set-json",
            r#"watchNamespaces=["team-b"]"#,
            "--set",
            "crds.install=false",
        ],
    ));
    let (a_names, b_names) = (cluster_scoped(&a), cluster_scoped(&b));
    assert!(
        a_names.contains(&(
            "ValidatingWebhookConfiguration".into(),
            "team-a-locust-k8s-operator".into()
        )),
        "{a_names:?}"
    );
    assert!(
        a_names.is_disjoint(&b_names),
        "both releases render {:?}",
        a_names.intersection(&b_names).collect::<Vec<_>>()
    );
    // Each operator is told its own webhook configuration, and may patch only that one.
    for o in [&a, &b] {
        let vwc = one(o, "ValidatingWebhookConfiguration")["metadata"]["name"].clone();
        let e = env_of(o);
        assert_eq!(env(&e, "WEBHOOK_CONFIG_NAME"), vwc.as_str());
        let rules = &named(o, "ClusterRole", "-webhook")[0]["rules"];
        assert!(
            rules
                .as_array()
                .expect("rules")
                .iter()
                .any(
                    |r| r["resources"] == json!(["validatingwebhookconfigurations"])
                        && r["resourceNames"] == json!([vwc])
                ),
            "{rules}"
        );
    }
}

// ---- lint, template, schema -----------------------------------------------------------

#[test]
fn helm_lint_passes_for_every_documented_combination() {
    for (name, flags) in COMBINATIONS {
        let mut args = vec!["lint", "--strict", CHART];
        args.extend_from_slice(flags);
        let (ok, out, err) = helm(&args);
        assert!(ok, "helm lint ({name}) failed:\n{out}\n{err}");
        assert!(out.contains("0 chart(s) failed"), "{name}: {out}");
    }
}

#[test]
fn wrong_values_fail_with_a_clear_message() {
    for (flags, message) in [
        (
            &["--set", "replicaCount=abc"][..],
            "at '/replicaCount': got string, want integer",
        ),
        (&["--set", "replicaCount=0"], "/replicaCount"),
        (
            &["--set", "webhooks.certificates=vault"],
            "'self-signed', 'cert-manager'",
        ),
        (
            &["--set", "locustPods.resources.limits.cpu=lots"],
            "/locustPods/resources/limits/cpu",
        ),
        (&["--set", "replicasCount=2"], "replicasCount"),
        (
            &["--set", "operator.locustPollSeconds=0"],
            "/operator/locustPollSeconds",
        ),
        (
            &["--set", "webhooks.failurePolicy=Sometimes"],
            "/webhooks/failurePolicy",
        ),
        (
            &["--set-json", r#"watchNamespaces=["Team_A"]"#],
            "/watchNamespaces/0",
        ),
        (
            &["--set", "replicaCount=2,leaderElection.enabled=false"],
            "replicaCount > 1 needs leaderElection.enabled=true",
        ),
    ] {
        let mut args = vec!["template", "lko", CHART];
        args.extend_from_slice(flags);
        let (ok, _, err) = helm(&args);
        assert!(!ok, "helm template {flags:?} must fail");
        assert!(
            err.contains(message),
            "{flags:?}: expected {message:?} in:\n{err}"
        );
    }
}

/// `value` with every number as a float (Helm's YAML round trip turns `500.0` into `500`).
fn numbers_as_f64(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_f64).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn container(objects: &[Value]) -> &Value {
    &operator_deployment(objects)["spec"]["template"]["spec"]["containers"][0]
}

#[test]
fn the_default_install_is_hardened_highly_available_and_webhooked() {
    let o = rendered("default");
    let deploy = operator_deployment(&o);
    let pod = &deploy["spec"]["template"]["spec"];
    let c = container(&o);
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(
        pod["securityContext"].get("runAsUser").is_none()
            && c["securityContext"].get("runAsUser").is_none(),
        "no hard-coded UID"
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert_eq!(c["args"], json!(["run", "--leader-elect=true"]));
    let e = env_of(&o);
    assert_eq!(env(&e, "HEALTH_ADDR"), Some("0.0.0.0:8081"));
    assert_eq!(env(&e, "WEBHOOK_MODE"), Some("self-signed"));
    assert_eq!(env(&e, "POD_NAMESPACE"), Some("lko-system"));
    assert_eq!(env(&e, "POD_NAME"), Some("pod-0"));
    assert_eq!(env(&e, "WATCH_NAMESPACES"), Some(""));
    assert_eq!(env(&e, "POD_CPU_REQUEST"), Some("250m"));
    assert_eq!(env(&e, "POD_MEM_LIMIT"), Some("1024Mi"));
    // The probes' port is HEALTH_ADDR's; /tmp is writable for the certificates.
    assert_eq!(c["ports"][0]["containerPort"], 8081);
    assert_eq!(c["volumeMounts"][0]["mountPath"], "/tmp");
    let pdb = one(&o, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deploy["spec"]["selector"]["matchLabels"]
    );

    // The CRD: the generated one, kept on uninstall, converted by this release's Service.
    let crd = one(&o, "CustomResourceDefinition");
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let generated =
        serde_json::to_value(locust_k8s_operator::crd::crd().expect("crd")).expect("json");
    assert!(
        numbers_as_f64(&crd["spec"]["versions"]) == numbers_as_f64(&generated["spec"]["versions"]),
        "the rendered CRD's versions and schemas are the generated ones"
    );
    assert_eq!(crd["spec"]["names"], generated["spec"]["names"]);
    let service = &crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"];
    assert_eq!(crd["spec"]["conversion"]["strategy"], "Webhook");
    assert_eq!(service["namespace"], "lko-system");
    let webhook_service = of_kind(&o, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == service["name"])
        .expect("the conversion webhook's Service is rendered");
    assert_eq!(webhook_service["spec"]["ports"][0]["port"], 443);
    assert_eq!(env(&e, "WEBHOOK_SERVICE_NAME"), service["name"].as_str());
    let vwc = one(&o, "ValidatingWebhookConfiguration");
    assert_eq!(
        env(&e, "WEBHOOK_CONFIG_NAME"),
        vwc["metadata"]["name"].as_str()
    );
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["service"]["name"],
        service["name"]
    );
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["service"]["path"],
        "/validate"
    );
    assert_eq!(vwc["webhooks"][0]["failurePolicy"], "Fail");
    // The OpenTelemetry Collector is deployed by default (spec 5.1.1); no ServiceMonitor.
    assert!(
        of_kind(&o, "Deployment").iter().any(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("otel/opentelemetry-collector-contrib:"))
        }),
        "the collector Deployment"
    );
    assert!(of_kind(&o, "ServiceMonitor").is_empty());
    assert!(of_kind(&o, "Certificate").is_empty());
}

#[test]
fn webhooks_off_leaves_a_v2_only_install_without_webhooks() {
    let o = rendered("webhooks-off");
    let crd = one(&o, "CustomResourceDefinition");
    assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    let mut served: Vec<(String, bool)> = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().expect("name").to_owned(),
                v["served"] == true,
            )
        })
        .collect();
    served.sort();
    assert_eq!(served, [("v1".to_owned(), false), ("v2".to_owned(), true)]);
    assert!(of_kind(&o, "ValidatingWebhookConfiguration").is_empty());
    assert!(
        !of_kind(&o, "Service").iter().any(|s| s["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("-webhook"))),
        "no webhook Service"
    );
    let e = env_of(&o);
    assert_eq!(env(&e, "WEBHOOK_MODE"), Some("disabled"));
    for role in of_kind(&o, "Role")
        .into_iter()
        .chain(of_kind(&o, "ClusterRole"))
    {
        assert!(
            !serde_json::to_string(&role["rules"])
                .expect("json")
                .contains("secrets"),
            "no Secret access without webhooks: {}",
            role["metadata"]["name"]
        );
    }
}

#[test]
fn cert_manager_mode_mounts_its_certificate_and_injects_the_ca() {
    let o = rendered("cert-manager");
    let cert = one(&o, "Certificate");
    let issuer = one(&o, "Issuer");
    assert_eq!(
        cert["spec"]["issuerRef"]["name"],
        issuer["metadata"]["name"]
    );
    let inject = format!(
        "lko-system/{}",
        cert["metadata"]["name"].as_str().expect("name")
    );
    let crd = one(&o, "CustomResourceDefinition");
    assert_eq!(
        crd["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        inject
    );
    let vwc = one(&o, "ValidatingWebhookConfiguration");
    assert_eq!(
        vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        inject
    );
    let e = env_of(&o);
    assert_eq!(env(&e, "WEBHOOK_MODE"), Some("files"));
    let pod = &operator_deployment(&o)["spec"]["template"]["spec"];
    let cert_volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["secret"]["secretName"] == cert["spec"]["secretName"])
        .expect("the Certificate's Secret is mounted");
    let mount = container(&o)["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == cert_volume["name"])
        .expect("mounted");
    assert_eq!(mount["mountPath"].as_str(), env(&e, "WEBHOOK_CERT_DIR"));
    let svc = crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["name"]
        .as_str()
        .expect("service");
    assert!(
        cert["spec"]["dnsNames"]
            .as_array()
            .expect("dnsNames")
            .contains(&json!(format!("{svc}.lko-system.svc"))),
        "the certificate names the webhook Service"
    );
    // cert-manager writes the CA bundles: the operator needs no Secret or CRD rights.
    for role in of_kind(&o, "Role")
        .into_iter()
        .chain(of_kind(&o, "ClusterRole"))
    {
        let rules = serde_json::to_string(&role["rules"]).expect("json");
        assert!(!rules.contains("secrets") && !rules.contains("customresourcedefinitions"));
    }
    let o = rendered("cert-manager-cluster-issuer");
    assert!(of_kind(&o, "Issuer").is_empty());
    assert_eq!(
        one(&o, "Certificate")["spec"]["issuerRef"],
        json!({"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"})
    );
    let o = rendered("no-validation");
    assert!(of_kind(&o, "ValidatingWebhookConfiguration").is_empty());
    assert_eq!(
        one(&o, "CustomResourceDefinition")["spec"]["conversion"]["strategy"],
        "Webhook"
    );
}

#[test]
fn large_numbers_from_a_values_file_reach_the_operator_as_integers() {
    // `-f` files give Helm float64 numbers, which `quote` alone prints as 3.1536e+07: the
    // operator would refuse to start on such a variable.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("values.yaml");
    std::fs::write(
        &file,
        "webhooks:\n  certValiditySeconds: 31536000\noperator:\n  podHealthGraceSeconds: 86400\n  \
         kubeApiQps: 10000\n  kubeApiBurst: 20000\n  reconcileConcurrency: 64\n  \
         locustPollSeconds: 300\nleaderElection:\n  leaseSeconds: 600\n",
    )
    .expect("values file");
    let file = file.display().to_string();
    let objects = objects(&render("lko", "lko-system", &["--values", &file]));
    let vars = env_of(&objects);
    for (name, want) in [
        ("WEBHOOK_CERT_VALIDITY_SECONDS", "31536000"),
        ("POD_HEALTH_GRACE_SECONDS", "86400"),
        ("KUBE_API_QPS", "10000"),
        ("KUBE_API_BURST", "20000"),
        ("RECONCILE_CONCURRENCY", "64"),
        ("LOCUST_POLL_SECONDS", "300"),
        ("LEADER_ELECTION_LEASE_SECONDS", "600"),
    ] {
        assert_eq!(env(&vars, name), Some(want), "{name}");
    }
}

#[test]
fn other_documented_values_reach_the_manifests() {
    let o = rendered("single-replica");
    assert!(
        of_kind(&o, "PodDisruptionBudget").is_empty(),
        "no PDB for one replica"
    );
    assert_eq!(
        container(&o)["args"],
        json!(["run", "--leader-elect=false"])
    );
    assert!(
        !of_kind(&o, "Role")
            .iter()
            .any(|r| serde_json::to_string(&r["rules"])
                .expect("json")
                .contains("leases")),
        "no lease Role without leader election"
    );

    let o = rendered("otel-external");
    assert!(
        !of_kind(&o, "Deployment")
            .iter()
            .any(|d| d["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.contains("otel"))),
        "no collector"
    );
    let o = rendered("otel-forward");
    let config = of_kind(&o, "ConfigMap")
        .into_iter()
        .find(|c| {
            c["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("otel-collector"))
        })
        .expect("collector config");
    let config: Value = locust_k8s_operator::yaml::from_yaml(
        config["data"]["config.yaml"].as_str().expect("config.yaml"),
    )
    .expect("collector config parses");
    assert_eq!(
        config["exporters"]["otlp"]["endpoint"],
        "tempo.monitoring:4317"
    );
    assert_eq!(config["exporters"]["otlp"]["tls"]["insecure"], true);
    assert!(config["exporters"].get("prometheus").is_none());
    assert_eq!(
        config["service"]["pipelines"]["metrics"]["exporters"],
        json!(["otlp"])
    );
    assert_eq!(
        config["service"]["pipelines"]["traces"]["exporters"],
        json!(["otlp"])
    );

    let o = rendered("service-monitor");
    let monitor = one(&o, "ServiceMonitor");
    let port = &monitor["spec"]["endpoints"][0]["port"];
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector");
    let selected: Vec<_> = of_kind(&o, "Service")
        .into_iter()
        .filter(|s| {
            selector
                .iter()
                .all(|(k, v)| &s["metadata"]["labels"][k] == v)
        })
        .collect();
    assert_eq!(
        selected.len(),
        1,
        "the ServiceMonitor selects the metrics Service only"
    );
    assert_eq!(&selected[0]["spec"]["ports"][0]["name"], port);
    assert_eq!(selected[0]["spec"]["ports"][0]["port"], 8081);

    let e = env_of(&rendered("locust-pod-defaults"));
    assert_eq!(env(&e, "MASTER_POD_CPU_LIMIT"), Some("2"));
    assert_eq!(env(&e, "WORKER_POD_MEM_REQUEST"), Some(""));
    assert_eq!(env(&e, "JOB_TTL_SECONDS_AFTER_FINISHED"), Some("300"));
    assert_eq!(env(&e, "DEFAULT_RUNTIME_CLASS_NAME"), Some("gvisor"));
    assert_eq!(env(&e, "ENABLE_AFFINITY_CR_INJECTION"), Some("false"));
    assert_eq!(
        env(&e, "ENABLE_TAINT_TOLERATIONS_CR_INJECTION"),
        Some("true")
    );
    // The operator accepts exactly this configuration (unknown or bad values stop it).
    let vars: Vec<(String, String)> = e.clone();
    let config = locust_k8s_operator::config::OperatorConfig::from_vars(vars.clone())
        .expect("the operator accepts the chart's builder configuration");
    assert_eq!(config.master_resources.limits["cpu"], "2");
    assert!(!config.worker_resources.requests.contains_key("memory"));
    assert_eq!(config.job_ttl_seconds_after_finished, Some(300));
    locust_k8s_operator::config::ControllerConfig::from_vars(vars.clone())
        .expect("the operator accepts the chart's controller configuration");
    locust_k8s_operator::certs::CertsConfig::from_vars(vars)
        .expect("the operator accepts the chart's webhook configuration");

    let o = rendered("namespaced");
    let e = env_of(&o);
    assert_eq!(env(&e, "WATCH_NAMESPACES"), Some("team-a,team-b"));
    let vwc = one(&o, "ValidatingWebhookConfiguration");
    assert_eq!(
        vwc["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"],
        json!(["team-a", "team-b"])
    );
}

// ---- values of the Go operator's chart ------------------------------------------------

/// The rows of the chart README's "Values of the Go operator's chart" table: (Go value,
/// what happens here); a subtree is written `key.*`.
fn go_table() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(format!("{CHART}/README.md")).expect("chart README");
    let section = readme
        .split("\n## Values of the Go operator's chart\n")
        .nth(1)
        .expect("the chart README has the Go values table")
        .split("\n## ")
        .next()
        .expect("section");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| {
            let (key, rest) = l.split_once("` | ").expect("| `key` | text |");
            (key.to_owned(), rest.trim_end_matches(" |").to_owned())
        })
        .collect()
}

/// The schema node of a dotted values key (`Value::Null` when there is none).
fn schema_node<'a>(schema: &'a Value, key: &str) -> &'a Value {
    key.split('.')
        .fold(schema, |node, part| &node["properties"][part])
}

/// Dotted keys of every schema node, with the node.
fn schema_keys<'a>(prefix: &str, node: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    for (k, v) in node["properties"].as_object().into_iter().flatten() {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        out.push((key.clone(), v));
        schema_keys(&key, v, out);
    }
}

const GO: &str = "Go operator compatibility: ";

#[test]
fn the_go_values_table_the_schema_and_the_fixture_agree() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{CHART}/values.schema.json")).expect("schema"),
    )
    .expect("values.schema.json is JSON");
    let table = go_table();
    assert!(
        table.len() > 40,
        "the Go values table has its rows: {table:?}"
    );
    let rows: Vec<&str> = table
        .iter()
        .map(|(k, _)| k.trim_end_matches(".*"))
        .collect();
    for (key, text) in &table {
        let key = key.trim_end_matches(".*");
        let node = schema_node(&schema, key);
        assert!(
            !node.is_null(),
            "values.schema.json knows the Go value `{key}`"
        );
        let description = node["description"].as_str().unwrap_or_default();
        if text.starts_with("same key") {
            assert!(
                !description.starts_with(GO),
                "`{key}` is one of ours: {description}"
            );
        } else if !node["description"].is_null() {
            assert!(
                description.starts_with(GO),
                "`{key}`'s schema says what it is for the Go chart: {description}"
            );
        }
    }
    // Every Go-only key of the schema is in the table (itself or what is below it).
    let mut keys = Vec::new();
    schema_keys("", &schema, &mut keys);
    for (key, node) in keys {
        if node["description"]
            .as_str()
            .is_some_and(|d| d.starts_with(GO))
        {
            assert!(
                rows.iter()
                    .any(|r| *r == key || r.starts_with(&format!("{key}."))),
                "the Go values table has `{key}`"
            );
        }
    }
    // The fixture is made of the Go chart's keys.
    let fixture: Value =
        locust_k8s_operator::yaml::from_yaml(&std::fs::read_to_string(GO_VALUES).expect("fixture"))
            .expect("the fixture parses");
    let mut leaves = Vec::new();
    leaf_keys("", &fixture, &mut leaves);
    for leaf in leaves {
        assert!(
            rows.iter()
                .any(|r| leaf == *r || leaf.starts_with(&format!("{r}."))),
            "{GO_VALUES}: `{leaf}` is in the Go values table"
        );
    }
}

fn named_service<'a>(objects: &'a [Value], suffix: &str) -> Option<&'a Value> {
    named(objects, "Service", suffix).into_iter().next()
}

fn collector_deployment(objects: &[Value]) -> Option<&Value> {
    of_kind(objects, "Deployment")
        .into_iter()
        .find(|d| d["spec"]["template"]["spec"]["containers"][0]["name"] == "otel-collector")
}

#[test]
fn go_operator_values_reach_the_manifests() {
    let o = rendered("go-operator-values");
    let deploy = operator_deployment(&o);
    let pod = &deploy["spec"]["template"]["spec"];
    let c = container(&o);
    let e = env_of(&o);
    // Keys with the same name and meaning.
    assert_eq!(deploy["metadata"]["name"], "locust-operator");
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(pod["terminationGracePeriodSeconds"], 10);
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(c["resources"]["requests"]["cpu"], "10m");
    assert_eq!(env(&e, "POD_CPU_REQUEST"), Some("500m"));
    assert_eq!(env(&e, "MASTER_POD_MEM_LIMIT"), Some("4Gi"));
    assert_eq!(
        env(&e, "ENABLE_TAINT_TOLERATIONS_CR_INJECTION"),
        Some("false")
    );

    // Mapped: each differs from this chart's default.
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
    assert_eq!(
        env(&e, "HTTPS_PROXY"),
        Some("http://proxy.corp.example:3128")
    );
    assert_eq!(c["securityContext"]["privileged"], false);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    let pdb = one(&o, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(pdb["spec"].get("minAvailable").is_none(), "{pdb}");
    let metrics = named_service(&o, "-metrics").expect("metrics.enabled: the metrics Service");
    assert_eq!(
        metrics["spec"]["ports"][0],
        json!({"name": "metrics", "port": 8080, "targetPort": "health", "protocol": "TCP"})
    );
    assert_eq!(env(&e, "WEBHOOK_MODE"), Some("files"), "cert-manager");
    assert_eq!(env(&e, "WEBHOOK_PORT"), Some("9443"));
    assert!(
        c["ports"]
            .as_array()
            .expect("ports")
            .contains(&json!({"name": "webhook", "containerPort": 9443, "protocol": "TCP"})),
        "{}",
        c["ports"]
    );
    one(&o, "Certificate");
    assert_eq!(env(&e, "DEFAULT_RUNTIME_CLASS_NAME"), Some("gvisor"));
    assert_eq!(env(&e, "JOB_TTL_SECONDS_AFTER_FINISHED"), Some("3600"));
    // k8s.clusterRole.enabled=false: the release namespace only, with a Role there.
    assert_eq!(env(&e, "WATCH_NAMESPACES"), Some("lko-system"));
    assert!(named(&o, "ClusterRole", "locust-operator").is_empty());
    let role = named(&o, "Role", "locust-operator");
    assert_eq!(role.len(), 1);
    assert_eq!(role[0]["metadata"]["namespace"], "lko-system");
    assert_eq!(role[0]["rules"], source_rules("role.yaml"));
    assert_eq!(
        one(&o, "ValidatingWebhookConfiguration")["webhooks"][0]["namespaceSelector"]["matchExpressions"]
            [0]["values"],
        json!(["lko-system"])
    );
    // The collector.
    let collector = collector_deployment(&o).expect("otelCollector.enabled: a collector");
    let cpod = &collector["spec"]["template"]["spec"];
    assert_eq!(collector["spec"]["replicas"], 2);
    assert_eq!(
        cpod["containers"][0]["image"],
        "otel/opentelemetry-collector-contrib:0.145.0"
    );
    assert_eq!(
        cpod["containers"][0]["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}})
    );
    assert_eq!(cpod["securityContext"]["runAsUser"], 10001);
    assert_eq!(
        cpod["containers"][0]["securityContext"]["privileged"],
        false
    );
    assert!(
        pod["securityContext"].get("runAsUser").is_none(),
        "otelCollector.podSecurityContext is the collector's only"
    );

    // The operator accepts the configuration these values give it.
    let vars: Vec<(String, String)> = e.clone();
    let config = locust_k8s_operator::config::OperatorConfig::from_vars(vars.clone())
        .expect("the operator accepts the builder configuration");
    assert_eq!(config.job_ttl_seconds_after_finished, Some(3600));
    assert_eq!(config.default_runtime_class_name.as_deref(), Some("gvisor"));
    locust_k8s_operator::config::ControllerConfig::from_vars(vars.clone())
        .expect("the operator accepts the controller configuration");
    locust_k8s_operator::certs::CertsConfig::from_vars(vars)
        .expect("the operator accepts the webhook configuration");
}

#[test]
fn go_operator_values_switch_off_and_take_the_place_of_ours() {
    let go = |flags: &[&str]| objects(&render("lko", "lko-system", flags));
    // The Go defaults that switch things off here.
    let o = go(&[
        "--set",
        "webhook.enabled=false,metrics.enabled=false,otelCollector.enabled=false,k8s.clusterRole.enabled=true",
    ]);
    let e = env_of(&o);
    assert_eq!(env(&e, "WEBHOOK_MODE"), Some("disabled"));
    assert!(of_kind(&o, "ValidatingWebhookConfiguration").is_empty());
    assert_eq!(
        one(&o, "CustomResourceDefinition")["spec"]["conversion"],
        json!({"strategy": "None"})
    );
    assert!(
        named_service(&o, "-metrics").is_none(),
        "no metrics Service"
    );
    assert!(collector_deployment(&o).is_none(), "no collector");
    assert_eq!(env(&e, "WATCH_NAMESPACES"), Some(""));
    assert_eq!(named(&o, "ClusterRole", "lko-locust-k8s-operator").len(), 1);

    // A Go value set takes the place of ours; Go's "" means unset.
    let e = env_of(&go(&[
        "--set",
        "webhook.certManager.enabled=false,webhooks.certificates=cert-manager",
        "--set",
        "config.loadGenerationJobs.ttlSecondsAfterFinished=600,locustPods.ttlSecondsAfterFinished=",
        "--set",
        "locustPods.runtimeClassName=,locustPods.defaultRuntimeClassName=kata",
    ]));
    assert_eq!(env(&e, "WEBHOOK_MODE"), Some("self-signed"));
    assert_eq!(env(&e, "JOB_TTL_SECONDS_AFTER_FINISHED"), Some("600"));
    assert_eq!(env(&e, "DEFAULT_RUNTIME_CLASS_NAME"), Some("kata"));
    let e = env_of(&go(&[
        "--set",
        "config.loadGenerationJobs.ttlSecondsAfterFinished=600,locustPods.ttlSecondsAfterFinished=60",
    ]));
    assert_eq!(env(&e, "JOB_TTL_SECONDS_AFTER_FINISHED"), Some("60"));

    // Lists are combined with ours.
    let o = go(&[
        "--values",
        GO_VALUES,
        "--set-json",
        r#"imagePullSecrets=["mirror"]"#,
        "--set-json",
        r#"operator.extraEnv=[{"name":"NO_PROXY","value":".svc"}]"#,
    ]);
    assert_eq!(
        operator_deployment(&o)["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{"name": "regcred"}, {"name": "mirror"}])
    );
    let e = env_of(&o);
    assert_eq!(
        env(&e, "HTTPS_PROXY"),
        Some("http://proxy.corp.example:3128")
    );
    assert_eq!(env(&e, "NO_PROXY"), Some(".svc"));

    // Values without effect here are accepted.
    go(&[
        "--set",
        "otelCollector.enabled=false,otelCollector.config=receivers: {}",
    ]);
    go(&[
        "--set",
        "kafka.enabled=false,kafka.bootstrapServers=kafka:9092,metrics.secure=false",
    ]);
    go(&[
        "--set",
        "config.loadGenerationPods.kafka.bootstrapServers=kafka:9092",
    ]);
}

#[test]
fn go_operator_values_that_cannot_work_fail_with_their_message() {
    for (flags, message) in [
        (
            &["--set", "image.repository=lotest/locust-k8s-operator"][..],
            "image.repository=lotest/locust-k8s-operator: that is the Go operator's image",
        ),
        (
            &["--set", "kafka.enabled=true"],
            "kafka.enabled=true: this operator passes no Kafka settings to Locust pods",
        ),
        (
            &["--set-json", r#"watchNamespaces=["team-a"]"#],
            "k8s.clusterRole.enabled and watchNamespaces are both set",
        ),
        (
            &[
                "--set",
                "locustPods.metricsExporter.image=containersol/locust_exporter:v0.5.0",
            ],
            "locustPods.metricsExporter: this operator adds no locust_exporter sidecar",
        ),
        (
            &["--set", "otelCollector.config=receivers: {}"],
            "otelCollector.config: this chart writes the collector's configuration",
        ),
        (
            &[
                "--set",
                "config.loadGenerationPods.resource.cpuRequest=250m",
            ],
            "config.loadGenerationPods.resource: the 1.x chart's layout",
        ),
        (
            &[
                "--set",
                "config.loadGenerationPods.affinity.enableCrInjection=false",
            ],
            "set locustPods.affinityInjection instead",
        ),
        (
            &[
                "--set",
                "config.loadGenerationPods.taintTolerations.enableCrInjection=false",
            ],
            "set locustPods.tolerationsInjection instead",
        ),
        (
            &[
                "--set",
                "config.loadGenerationPods.metricsExporter.port=9646",
            ],
            "config.loadGenerationPods.metricsExporter: this operator adds no locust_exporter sidecar",
        ),
        // The schema still rejects what the Go chart did not have, and wrong types.
        (
            &["--set", "webhook.certManager.issuer=ca"],
            "additional properties 'issuer' not allowed",
        ),
        (
            &["--set", "locustPods.ttlSecondsAfterFinished=soon"],
            "/locustPods/ttlSecondsAfterFinished",
        ),
        (
            &["--set", "otelCollector.replicas=two"],
            "/otelCollector/replicas",
        ),
    ] {
        // On top of the Go values file, as a user would have it.
        let mut args = vec!["template", "lko", CHART, "--values", GO_VALUES];
        args.extend_from_slice(flags);
        let (ok, _, err) = helm(&args);
        assert!(!ok, "helm template {flags:?} must fail");
        assert!(
            err.contains(message),
            "{flags:?}: expected {message:?} in:\n{err}"
        );
    }
    // Every value that cannot work is named at once.
    let (ok, _, err) = helm(&[
        "template",
        "lko",
        CHART,
        "--set",
        "locustPods.metricsExporter.port=9646,kafka.enabled=true",
    ]);
    assert!(!ok);
    assert!(
        err.contains("\n- locustPods.metricsExporter:") && err.contains("\n- kafka.enabled=true:"),
        "{err}"
    );
}

// ---- RBAC rendered from config/rbac ---------------------------------------------------

fn source_rules(file: &str) -> Value {
    let doc: Value = locust_k8s_operator::yaml::from_yaml(
        &std::fs::read_to_string(format!("config/rbac/{file}")).expect(file),
    )
    .expect("rbac source parses");
    doc["rules"].clone()
}

fn named<'a>(objects: &'a [Value], kind: &str, suffix: &str) -> Vec<&'a Value> {
    of_kind(objects, kind)
        .into_iter()
        .filter(|o| {
            o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect()
}

#[test]
fn the_chart_rules_are_exactly_config_rbac() {
    let o = rendered("default");
    let controller = named(&o, "ClusterRole", "locust-k8s-operator");
    assert_eq!(controller.len(), 1);
    assert_eq!(controller[0]["rules"], source_rules("role.yaml"));
    let webhook = named(&o, "ClusterRole", "-webhook");
    // The same rules, with this release's ValidatingWebhookConfiguration by name.
    let vwc = one(&o, "ValidatingWebhookConfiguration")["metadata"]["name"].clone();
    assert_eq!(vwc, "lko-locust-k8s-operator");
    let mut expected = source_rules("webhook_cluster_role.yaml");
    for rule in expected.as_array_mut().expect("rules") {
        if rule["resources"] == json!(["validatingwebhookconfigurations"]) {
            rule["resourceNames"] = json!([vwc]);
        }
    }
    assert_eq!(webhook[0]["rules"], expected);
    let lease = named(&o, "Role", "-leader-election");
    assert_eq!(lease[0]["rules"], source_rules("leader_election_role.yaml"));
    assert_eq!(lease[0]["metadata"]["namespace"], "lko-system");
    let secret = named(&o, "Role", "-webhook");
    assert_eq!(secret[0]["rules"], source_rules("webhook_role.yaml"));
    assert_eq!(secret[0]["metadata"]["namespace"], "lko-system");
    assert_eq!(of_kind(&o, "Role").len(), 2);
    assert_eq!(of_kind(&o, "ClusterRole").len(), 2);
    // Every binding binds the chart's ServiceAccount to a role of this render.
    let sa = one(&o, "ServiceAccount");
    for binding in of_kind(&o, "RoleBinding")
        .into_iter()
        .chain(of_kind(&o, "ClusterRoleBinding"))
    {
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "lko-system"}])
        );
        let kind = if binding["kind"] == "RoleBinding" {
            "Role"
        } else {
            "ClusterRole"
        };
        assert_eq!(binding["roleRef"]["kind"], kind);
        assert!(
            of_kind(&o, kind)
                .iter()
                .any(|r| r["metadata"]["name"] == binding["roleRef"]["name"]
                    && r["metadata"]["namespace"] == binding["metadata"]["namespace"]),
            "{} binds a rendered {kind}",
            binding["metadata"]["name"]
        );
    }
    // The names the operator uses are the ones the rules allow by name.
    let e = env_of(&o);
    let names = serde_json::to_string(&source_rules("webhook_role.yaml")).expect("json");
    assert!(names.contains(&format!(
        "\"{}\"",
        env(&e, "WEBHOOK_SECRET_NAME").expect("secret")
    )));
    let names = serde_json::to_string(&webhook[0]["rules"]).expect("json");
    assert!(names.contains(&format!(
        "\"{}\"",
        env(&e, "WEBHOOK_CONFIG_NAME").expect("vwc")
    )));

    let o = rendered("namespaced");
    assert!(
        named(&o, "ClusterRole", "locust-k8s-operator").is_empty()
            && named(&o, "ClusterRoleBinding", "locust-k8s-operator").is_empty(),
        "namespaced: no cluster-wide controller rules"
    );
    for ns in ["team-a", "team-b"] {
        let role = of_kind(&o, "Role")
            .into_iter()
            .find(|r| r["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("a Role in {ns}"));
        assert_eq!(role["rules"], source_rules("role.yaml"));
        assert!(
            of_kind(&o, "RoleBinding")
                .iter()
                .any(|b| b["metadata"]["namespace"] == ns
                    && b["roleRef"]["name"] == role["metadata"]["name"]),
            "a RoleBinding in {ns}"
        );
    }
}

#[test]
fn no_rendered_rule_has_a_wildcard_and_secrets_are_never_readable_cluster_wide() {
    for (name, _) in COMBINATIONS {
        let o = rendered(name);
        for role in of_kind(&o, "Role")
            .into_iter()
            .chain(of_kind(&o, "ClusterRole"))
        {
            for rule in role["rules"].as_array().expect("rules") {
                for field in [
                    "apiGroups",
                    "resources",
                    "verbs",
                    "resourceNames",
                    "nonResourceURLs",
                ] {
                    for item in rule[field].as_array().into_iter().flatten() {
                        assert!(
                            !item.as_str().expect("string").contains('*'),
                            "{name}: wildcard in {} {field}: {rule}",
                            role["metadata"]["name"]
                        );
                    }
                }
                let secrets = rule["resources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r.as_str().is_some_and(|r| r.starts_with("secrets")));
                if secrets {
                    assert_eq!(
                        role["kind"], "Role",
                        "{name}: Secrets only in a namespaced Role"
                    );
                    assert_eq!(
                        role["metadata"]["namespace"], "lko-system",
                        "{name}: Secrets only in the release namespace"
                    );
                    let verbs: Vec<&str> = rule["verbs"]
                        .as_array()
                        .expect("verbs")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    assert!(
                        !verbs.contains(&"list") && !verbs.contains(&"watch"),
                        "{name}: {rule}"
                    );
                    if verbs.contains(&"get") {
                        assert!(
                            rule["resourceNames"].is_array(),
                            "{name}: get by name only: {rule}"
                        );
                    }
                }
            }
        }
    }
}

// ---- against the real API server ------------------------------------------------------

/// Minimal CRDs for the kinds the chart can render but the test cluster lacks
/// (cert-manager's Certificate and Issuer): just enough for the API server to accept the
/// objects; their schemas are not checked here. The ServiceMonitor's CRD is the real one
/// ([`chart_common::install_servicemonitor_crd`]).
const STUB_KINDS: &[(&str, &str, &str)] = &[
    ("cert-manager.io", "Certificate", "certificates"),
    ("cert-manager.io", "Issuer", "issuers"),
];

fn stub_crds() -> String {
    STUB_KINDS
        .iter()
        .map(|(group, kind, plural)| {
            format!(
                "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                 metadata: {{name: {plural}.{group}}}\nspec:\n  group: {group}\n  \
                 names: {{kind: {kind}, plural: {plural}}}\n  scope: Namespaced\n  versions:\n  \
                 - name: v1\n    served: true\n    storage: true\n    schema: {{openAPIV3Schema: \
                 {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
            )
        })
        .collect()
}

/// Installs [`stub_crds`] and waits until the API server serves them.
async fn install_stub_crds(cluster: &test_cluster::Cluster) {
    let client = cluster.client().await.expect("client");
    chart_common::apply(cluster.kubeconfig(), &stub_crds());
    for (group, _, plural) in STUB_KINDS {
        chart_common::wait_established(&client, &format!("{plural}.{group}")).await;
    }
    chart_common::install_servicemonitor_crd(cluster).await;
}

#[tokio::test]
async fn every_combination_is_accepted_by_the_api_server() {
    let cluster = test_cluster::shared_named("chart", test_cluster::Options::default)
        .await
        .expect("cluster");
    let kubeconfig = cluster.kubeconfig().to_owned();
    install_stub_crds(cluster).await;
    let release_ns = cluster.namespace("dry-run").await.expect("namespace");
    let team_a = cluster.namespace("team-a").await.expect("namespace");
    let team_b = cluster.namespace("team-b").await.expect("namespace");
    let watch = format!(r#"watchNamespaces=["{team_a}","{team_b}"]"#);
    // A ServiceMonitor in Prometheus's namespace: this cluster's "monitoring".
    let monitoring = cluster.namespace("monitoring").await.expect("namespace");
    let elsewhere = format!("namespace={monitoring},");
    for (name, flags) in COMBINATIONS {
        let owned: Vec<String> = flags
            .iter()
            .map(|f| f.replace("namespace=monitoring,", &elsewhere))
            .collect();
        let flags: Vec<&str> = if *name == "namespaced" {
            vec!["--set-json", &watch]
        } else {
            owned.iter().map(String::as_str).collect()
        };
        let yaml = render("dry", &release_ns, &flags);
        let (ok, out, err) = kubectl(
            &kubeconfig,
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&yaml),
        );
        let errors: Vec<&str> = err.lines().filter(|l| !l.starts_with("Warning:")).collect();
        assert!(
            ok,
            "{name}: the API server rejects the rendered chart:\n{}\n{out}",
            errors.join("\n")
        );
        let accepted = out
            .lines()
            .filter(|l| l.contains("(server dry run)"))
            .count();
        assert_eq!(
            accepted,
            objects(&yaml).len(),
            "{name}: every object accepted:\n{out}"
        );
    }
}

/// `helm install --dry-run` prints the notes (`helm template` does not).
fn install_notes(kubeconfig: &std::path::Path, namespace: &str, values: &[&str]) -> String {
    let kubeconfig = kubeconfig.to_string_lossy();
    let mut args = vec![
        "install",
        "lko",
        CHART,
        "--dry-run=client",
        "--kubeconfig",
        &kubeconfig,
        "--namespace",
        namespace,
    ];
    args.extend_from_slice(values);
    let (ok, out, err) = helm(&args);
    assert!(ok, "helm install --dry-run {values:?} failed:\n{err}");
    out.split_once("NOTES:")
        .map(|(_, notes)| notes.to_owned())
        .unwrap_or_else(|| panic!("no NOTES in:\n{out}"))
}

#[tokio::test]
async fn the_notes_name_each_go_operator_value_in_use() {
    let cluster = test_cluster::shared_named("chart", test_cluster::Options::default)
        .await
        .expect("cluster");
    // helm maps every rendered kind, the cert-manager ones included.
    install_stub_crds(cluster).await;
    let ns = cluster.namespace("go-values").await.expect("namespace");
    let notes = install_notes(cluster.kubeconfig(), &ns, &["--values", GO_VALUES]);
    assert!(
        notes.contains("Values of the Go operator's chart in use"),
        "{notes}"
    );
    for line in [
        "  image.pullSecrets -> imagePullSecrets (combined)",
        "  extraEnv -> operator.extraEnv (combined)",
        "  containerSecurityContext -> securityContext",
        "  podDisruptionBudget.maxUnavailable -> podDisruptionBudget.minAvailable",
        "  metrics.enabled -> metrics.service.enabled",
        "  metrics.port -> the metrics Service's port",
        "  webhook.enabled -> webhooks.enabled",
        "  webhook.port -> webhooks.port",
        "  webhook.certManager.enabled -> webhooks.certificates",
        "  locustPods.runtimeClassName -> locustPods.defaultRuntimeClassName",
        "  locustPods.ttlSecondsAfterFinished -> locustPods.jobTtlSecondsAfterFinished",
        "  otelCollector.enabled -> openTelemetry.collector.deploy",
        "  otelCollector.image -> openTelemetry.collector.image.repository and .tag",
        "  otelCollector.replicas -> openTelemetry.collector.replicas",
        "  otelCollector.resources -> openTelemetry.collector.resources",
        "  otelCollector.podSecurityContext -> podSecurityContext",
        "  otelCollector.containerSecurityContext -> securityContext",
        "  k8s.clusterRole.enabled -> watchNamespaces",
        "  metrics.secure -> metrics.secure.enabled",
        "  kafka: no effect",
    ] {
        assert!(notes.contains(line), "NOTES name {line:?}:\n{notes}");
    }
    // What the mapped values did, in the notes' own lines.
    assert!(
        notes.contains(&format!("It watches LocustTests in: {ns}.")),
        "{notes}"
    );
    assert!(
        notes.contains("Webhooks: on (cert-manager certificates"),
        "{notes}"
    );
    let notes = install_notes(
        cluster.kubeconfig(),
        &ns,
        &[
            "--set",
            "otelCollector.enabled=false,otelCollector.config=receivers: {}",
            "--set",
            "config.loadGenerationJobs.ttlSecondsAfterFinished=600,config.loadGenerationPods.kafka.bootstrapServers=kafka:9092",
        ],
    );
    for line in [
        "  otelCollector.config: no effect (no collector deployed)",
        "  config.loadGenerationPods.kafka: no effect",
        "  config.loadGenerationJobs.ttlSecondsAfterFinished -> locustPods.jobTtlSecondsAfterFinished",
    ] {
        assert!(notes.contains(line), "NOTES name {line:?}:\n{notes}");
    }
    // Values of this chart only: no such section.
    let notes = install_notes(cluster.kubeconfig(), &ns, &[]);
    assert!(!notes.contains("Go operator"), "{notes}");
    // How to open a running test's web UI.
    assert!(
        notes.contains("port-forward svc/<test name>-master 8089"),
        "{notes}"
    );
}

/// `webUIAuth.readSecrets` adds `get secrets` (and nothing else about Secrets) to the
/// controller's role: its ClusterRole, or its Role in each watched namespace only.
#[test]
fn reading_web_ui_secrets_is_opt_in() {
    let secret_verbs = |role: &Value| -> Vec<Value> {
        role["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["resources"] == json!(["secrets"]))
            .map(|r| r["verbs"].clone())
            .collect()
    };
    let controller = |o: &[Value], kind: &str| -> Vec<Value> {
        of_kind(o, kind)
            .into_iter()
            .filter(|r| r["metadata"]["name"] == "lko-locust-k8s-operator")
            .cloned()
            .collect()
    };
    let off = rendered("default");
    for role in controller(&off, "ClusterRole") {
        assert!(secret_verbs(&role).is_empty(), "off by default: {role}");
    }
    let on = objects(&render(
        "lko",
        "lko-system",
        &["--set", "webUIAuth.readSecrets=true"],
    ));
    let cluster = controller(&on, "ClusterRole");
    assert_eq!(cluster.len(), 1);
    assert_eq!(secret_verbs(&cluster[0]), [json!(["get"])]);
    let namespaced = objects(&render(
        "lko",
        "lko-system",
        &[
            "--set",
            "webUIAuth.readSecrets=true",
            "--set-json",
            r#"watchNamespaces=["team-a","team-b"]"#,
        ],
    ));
    assert!(controller(&namespaced, "ClusterRole").is_empty());
    let roles = controller(&namespaced, "Role");
    let namespaces: Vec<&Value> = roles.iter().map(|r| &r["metadata"]["namespace"]).collect();
    assert_eq!(namespaces, [&json!("team-a"), &json!("team-b")]);
    for role in &roles {
        assert_eq!(secret_verbs(role), [json!(["get"])], "{role}");
    }
}

// ---- ServiceMonitors and secure metrics -------------------------------------------------

/// The ServiceMonitor named `name`.
fn monitor<'a>(objects: &'a [Value], name: &str) -> &'a Value {
    of_kind(objects, "ServiceMonitor")
        .into_iter()
        .find(|m| m["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("a ServiceMonitor {name}"))
}

/// The Services a ServiceMonitor's selector picks among `objects`.
fn selected<'a>(objects: &'a [Value], monitor: &Value) -> Vec<&'a Value> {
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    of_kind(objects, "Service")
        .into_iter()
        .filter(|s| {
            selector
                .iter()
                .all(|(k, v)| &s["metadata"]["labels"][k] == v)
        })
        .collect()
}

#[test]
fn service_monitor_options_land_where_prometheus_reads_them() {
    let o = rendered("service-monitors-tuned");
    let operator = monitor(&o, "lko-locust-k8s-operator");
    assert_eq!(operator["metadata"]["namespace"], "monitoring");
    assert_eq!(
        operator["spec"]["namespaceSelector"]["matchNames"],
        json!(["lko-system"]),
        "a ServiceMonitor elsewhere still scrapes the release namespace"
    );
    assert_eq!(operator["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(operator["metadata"]["annotations"]["team"], "perf");
    let endpoint = &operator["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], "metrics");
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["interval"], "15s");
    assert_eq!(endpoint["scrapeTimeout"], "10s");
    assert_eq!(endpoint["honorLabels"], true);
    assert_eq!(
        endpoint["relabelings"],
        json!([{"action": "replace", "targetLabel": "cluster", "replacement": "perf-1"}])
    );
    assert_eq!(
        endpoint["metricRelabelings"],
        json!([{"action": "drop", "sourceLabels": ["__name__"], "regex": "process_.*"}])
    );
    assert!(endpoint.get("scheme").is_none(), "plain HTTP by default");
    assert!(endpoint.get("bearerTokenFile").is_none());

    // The collector's: its Service's Prometheus exporter port, and only that Service.
    let collector = monitor(&o, "lko-locust-k8s-operator-otel-collector");
    assert_eq!(collector["metadata"]["namespace"], "lko-system");
    let endpoint = &collector["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], "prometheus");
    assert_eq!(endpoint["interval"], "1m");
    assert_eq!(
        endpoint["honorLabels"], true,
        "the senders' job and instance"
    );
    assert!(endpoint.get("scrapeTimeout").is_none());
    let services = selected(&o, collector);
    assert_eq!(services.len(), 1, "the collector's Service only");
    assert_eq!(
        services[0]["metadata"]["name"],
        "lko-locust-k8s-operator-otel-collector"
    );
    assert!(
        services[0]["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["name"] == "prometheus" && p["port"] == 9090)
    );
    let services = selected(&o, operator);
    assert_eq!(services.len(), 1, "the metrics Service only");
    assert_eq!(
        services[0]["metadata"]["name"],
        "lko-locust-k8s-operator-metrics"
    );

    // Without the collector's exporter there is nothing to scrape: said at render time.
    let (ok, _, err) = helm(&[
        "template",
        "lko",
        CHART,
        "--set",
        "openTelemetry.collector.serviceMonitor.enabled=true,openTelemetry.collector.exporters.prometheus.enabled=false",
    ]);
    assert!(!ok);
    assert!(
        err.contains("openTelemetry.collector.serviceMonitor.enabled needs")
            && err.contains("exporters.prometheus.enabled=true"),
        "{err}"
    );
    // A duration Prometheus would not read is refused by the schema.
    let (ok, _, err) = helm(&[
        "template",
        "lko",
        CHART,
        "--set",
        "metrics.serviceMonitor.scrapeTimeout=soon",
    ]);
    assert!(!ok);
    assert!(
        err.contains("/metrics/serviceMonitor/scrapeTimeout"),
        "{err}"
    );
}

#[test]
fn secure_metrics_switch_the_port_the_rbac_and_the_scrape_to_https() {
    let plain = rendered("service-monitor");
    let e = env_of(&plain);
    assert_eq!(env(&e, "METRICS_SECURE"), None, "off by default");
    assert!(
        named(&plain, "ClusterRole", "-metrics-reader").is_empty()
            && named(&plain, "ClusterRole", "-metrics-auth").is_empty()
    );

    let o = rendered("secure-metrics");
    let e = env_of(&o);
    assert_eq!(env(&e, "METRICS_SECURE"), Some("true"));
    assert_eq!(env(&e, "METRICS_SECURE_ADDR"), Some("0.0.0.0:8444"));
    assert_eq!(env(&e, "METRICS_CERT_DIR"), None, "self-signed");
    // The operator accepts exactly this configuration.
    let settings = locust_k8s_operator::config::ControllerConfig::from_vars(e.clone())
        .expect("the operator accepts the chart's settings");
    let secure = settings.secure_metrics.expect("secure metrics on");
    assert_eq!(secure.addr.port(), 8444);
    let ports = &container(&o)["ports"];
    assert!(
        ports
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["name"] == "metrics-https" && p["containerPort"] == 8444),
        "{ports}"
    );
    // Probes stay on the plain port.
    assert_eq!(container(&o)["readinessProbe"]["httpGet"]["port"], "health");
    let service = named_service(&o, "-metrics").expect("metrics Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics-https");
    assert_eq!(service["spec"]["ports"][0]["port"], 8443);
    let endpoint = &monitor(&o, "lko-locust-k8s-operator")["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "https");
    assert_eq!(endpoint["tlsConfig"], json!({"insecureSkipVerify": true}));
    assert_eq!(
        endpoint["bearerTokenFile"],
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    );
    // RBAC: the reviews for the operator (from config/rbac), the reader for Prometheus.
    let auth = named(&o, "ClusterRole", "-metrics-auth");
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0]["rules"], source_rules("metrics_auth_role.yaml"));
    let binding = named(&o, "ClusterRoleBinding", "-metrics-auth");
    assert_eq!(binding[0]["subjects"][0]["kind"], "ServiceAccount");
    let reader = named(&o, "ClusterRole", "-metrics-reader");
    assert_eq!(
        reader[0]["rules"],
        json!([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    );
    // Namespace-scoped installs need the same cluster-scoped reviews.
    let o = objects(&render(
        "lko",
        "lko-system",
        &[
            "--set",
            "metrics.secure.enabled=true",
            "--set-json",
            r#"watchNamespaces=["team-a"]"#,
        ],
    ));
    assert_eq!(named(&o, "ClusterRoleBinding", "-metrics-auth").len(), 1);

    // Your own certificate, verified by Prometheus, and a token from a Secret.
    let o = rendered("secure-metrics-own-certificate");
    let e = env_of(&o);
    assert_eq!(
        env(&e, "METRICS_CERT_DIR"),
        Some("/tmp/locust-k8s-operator/metrics-certs")
    );
    let pod = &operator_deployment(&o)["spec"]["template"]["spec"];
    assert!(
        pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .any(|v| v["name"] == "metrics-cert" && v["secret"]["secretName"] == "metrics-tls")
    );
    assert!(
        pod["containers"][0]["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .any(|m| m["name"] == "metrics-cert"
                && m["mountPath"] == "/tmp/locust-k8s-operator/metrics-certs")
    );
    let endpoint = &monitor(&o, "lko-locust-k8s-operator")["spec"]["endpoints"][0];
    assert_eq!(
        endpoint["tlsConfig"],
        json!({
            "serverName": "lko-locust-k8s-operator-metrics.lko-system.svc",
            "ca": {"secret": {"name": "metrics-tls", "key": "ca.crt"}},
        })
    );
    assert_eq!(
        endpoint["authorization"],
        json!({"type": "Bearer", "credentials": {"name": "prometheus-token", "key": "token"}})
    );
    assert!(endpoint.get("bearerTokenFile").is_none());

    // The Go chart's boolean turns it on too.
    let o = objects(&render(
        "lko",
        "lko-system",
        &["--values", GO_VALUES, "--set", "metrics.secure=true"],
    ));
    assert_eq!(env(&env_of(&o), "METRICS_SECURE"), Some("true"));
    let service = named_service(&o, "-metrics").expect("metrics Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080, "the Go port");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics-https");
}
