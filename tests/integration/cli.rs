//! The CLI, run as a user runs it: the real binary, files and stdin; and the settings of
//! `run` (documented by `run --help`, checked before anything connects to a cluster).

use crate::chart_common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_locust-k8s-operator");

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    run_with_env(args, stdin, &[])
}

/// Runs the binary with exactly the environment `env`.
fn run_with_env(args: &[&str], stdin: Option<&str>, env: &[(String, String)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("the binary finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn docs(o: &Output) -> Vec<Value> {
    locust_k8s_operator::yaml::from_yaml_documents(&stdout(o)).expect("stdout is YAML")
}

fn ok(args: &[&str]) -> Output {
    let o = run(args, None);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    o
}

fn fails(args: &[&str], stdin: Option<&str>) -> String {
    let o = run(args, stdin);
    assert!(!o.status.success(), "{args:?} should fail");
    assert!(
        o.stdout.is_empty(),
        "no partial output on failure: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn crd_prints_the_committed_file() {
    let o = ok(&["crd"]);
    let committed = include_str!("../../crd/locusttests.locust.io.yaml");
    assert!(
        stdout(&o) == committed,
        "crd/locusttests.locust.io.yaml is stale: run `make crd` and commit it"
    );
}

#[test]
fn render_prints_service_then_master_then_worker() {
    let o = ok(&["render", "-f", "examples/minimal-v2.yaml"]);
    let d = docs(&o);
    let kinds: Vec<(&str, &str)> = d
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap_or_default(),
                v["metadata"]["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Service", "demo-master"),
            ("Job", "demo-master"),
            ("Job", "demo-worker")
        ]
    );
    for v in &d {
        assert_eq!(v["metadata"]["namespace"], "default");
    }
}

#[test]
fn render_reads_stdin_and_v1() {
    let text = std::fs::read_to_string("examples/v1.yaml").expect("example");
    let o = run(&["render", "-f", "-"], Some(&text));
    assert!(o.status.success(), "{}", stderr(&o));
    let d = docs(&o);
    assert_eq!(d.len(), 3);
    let worker = &d[2]["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = worker["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[..2], ["--locustfile", "/lotest/src/demo.py"]);
    assert!(args.contains(&"--worker"));
    assert_eq!(d[2]["spec"]["parallelism"], 3);
}

#[test]
fn render_of_tricky_names_gives_valid_distinct_names() {
    let long = "a".repeat(70);
    let mut seen = std::collections::BTreeSet::new();
    for name in ["api.perf-v1.2", "1st-run", long.as_str()] {
        let text = std::fs::read_to_string("examples/minimal-v2.yaml")
            .expect("example")
            .replace("name: demo\n", &format!("name: {name}\n"));
        let o = run(&["render", "-f", "-"], Some(&text));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        for v in docs(&o) {
            let generated = v["metadata"]["name"].as_str().expect("name").to_string();
            assert!(
                locust_k8s_operator::naming::is_dns1035_label(&generated),
                "{name} → {generated}"
            );
            seen.insert((v["kind"].to_string(), generated));
            for (_, value) in v["spec"]["template"]["metadata"]["labels"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let value = value.as_str().expect("label value");
                assert!(
                    locust_k8s_operator::naming::is_label_value(value),
                    "{value}"
                );
            }
        }
    }
    assert_eq!(seen.len(), 9, "three distinct objects per test: {seen:?}");
}

#[test]
fn convert_round_trips_through_the_cli() {
    let v2 = ok(&["convert", "-f", "examples/full-v2.yaml", "--to", "v2"]);
    let v1 = ok(&["convert", "-f", "examples/full-v2.yaml", "--to", "v1"]);
    assert_eq!(docs(&v1)[0]["apiVersion"], "locust.io/v1");
    let back = run(&["convert", "-f", "-", "--to", "v2"], Some(&stdout(&v1)));
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(docs(&back), docs(&v2), "v2 → v1 → v2 is lossless");
}

#[test]
fn validate_accepts_the_examples() {
    for f in [
        "examples/minimal-v2.yaml",
        "examples/full-v2.yaml",
        "examples/pod-extensions.yaml",
        "examples/v1.yaml",
    ] {
        let o = ok(&["validate", "-f", f]);
        assert!(stdout(&o).contains("is valid"), "{f}");
    }
}

#[test]
fn validate_lists_every_problem_and_exits_1() {
    let text = "apiVersion: locust.io/v2\nkind: LocustTest\nmetadata: {name: t}\nspec:\n  image: ''\n  master: {command: locust}\n  worker: {command: locust, replicas: 900}\n";
    let err = fails(&["validate", "-f", "-"], Some(text));
    assert!(err.contains("spec.image: is required"), "{err}");
    assert!(
        err.contains("spec.worker.replicas: must be between 1 and 500"),
        "{err}"
    );
    let o = run(&["validate", "-f", "-"], Some(text));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bad_input_fails_cleanly_naming_the_problem() {
    let err = fails(&["render", "-f", "-"], Some("spec: [unclosed"));
    assert!(err.contains("not valid YAML"), "{err}");
    let err = fails(
        &["render", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
    );
    assert!(err.contains("is not a LocustTest"), "{err}");
    let err = fails(
        &["render", "-f", "-"],
        Some(
            "apiVersion: locust.io/v2\nkind: LocustTest\nmetadata: {name: x}\nspec:\n  image: i\n  imagePullPolicy: Sometimes\n  master: {command: locust}\n  worker: {command: locust, replicas: 1}\n",
        ),
    );
    assert!(err.contains("spec.imagePullPolicy"), "{err}");
    let err = fails(&["render", "-f", "/nonexistent/test.yaml"], None);
    assert!(err.contains("/nonexistent/test.yaml"), "{err}");
    let err = fails(&["render", "-f", "-"], Some(""));
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn render_of_the_v1_example_matches_its_snapshot() {
    // The v1 example goes through conversion and the builders, as the operator will run it.
    let o = ok(&["render", "-f", "examples/v1.yaml"]);
    insta::assert_snapshot!("render_v1_example", stdout(&o));
}

/// Values that make the chart set every variable it can set (the optional ones too).
const EVERY_CHART_SETTING: &[&str] = &[
    "--set",
    concat!(
        "locustPods.masterResources.requests.cpu=1,",
        "locustPods.masterResources.requests.memory=1Gi,",
        "locustPods.masterResources.requests.ephemeralStorage=1Gi,",
        "locustPods.masterResources.limits.cpu=2,",
        "locustPods.masterResources.limits.memory=2Gi,",
        "locustPods.masterResources.limits.ephemeralStorage=2Gi,",
        "locustPods.workerResources.requests.cpu=1,",
        "locustPods.workerResources.requests.memory=1Gi,",
        "locustPods.workerResources.requests.ephemeralStorage=1Gi,",
        "locustPods.workerResources.limits.cpu=2,",
        "locustPods.workerResources.limits.memory=,",
        "locustPods.workerResources.limits.ephemeralStorage=2Gi,",
        "locustPods.jobTtlSecondsAfterFinished=600,",
        "locustPods.defaultRuntimeClassName=gvisor,",
        "operator.kubeApiQps=20,operator.kubeApiBurst=40,",
        "webhooks.certValiditySeconds=86400",
    ),
    "--set-json",
    r#"operator.masterUrlTemplate="http://{service}.{namespace}.svc:8089""#,
];

/// The operator container's environment in the chart rendered with [`EVERY_CHART_SETTING`],
/// downward-API variables resolved as for the pod `lko-7d9f-abcde` in `lko-system`.
fn every_chart_variable() -> Vec<(String, String)> {
    let rendered = chart_common::render("lko", "lko-system", EVERY_CHART_SETTING);
    chart_common::operator_env(
        &chart_common::objects(&rendered),
        "lko-system",
        "lko-7d9f-abcde",
    )
}

/// The upper-case names of `- name: X` lines in the chart's Deployment template: every
/// variable it can set under a literal name, whatever the values.
fn template_variable_names() -> BTreeSet<String> {
    let path = format!("{}/templates/deployment.yaml", chart_common::CHART);
    let text = std::fs::read_to_string(&path).expect("the chart's Deployment template");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("- name: "))
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The variables the OLM bundle's Deployment sets.
fn bundle_variable_names() -> BTreeSet<String> {
    let csv =
        std::fs::read_to_string("bundle/manifests/locust-k8s-operator.clusterserviceversion.yaml")
            .expect("the committed CSV");
    let csv: Value = locust_k8s_operator::yaml::from_yaml_documents::<Value>(&csv)
        .expect("the CSV is YAML")
        .remove(0);
    let deployments = csv["spec"]["install"]["spec"]["deployments"]
        .as_array()
        .expect("the CSV's deployments");
    deployments
        .iter()
        .flat_map(|d| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .flat_map(|c| c["env"].as_array().into_iter().flatten())
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn run_help_documents_every_variable_the_chart_and_the_bundle_set() {
    let help = stdout(&ok(&["run", "--help"]));
    let rendered: BTreeSet<String> = every_chart_variable().into_iter().map(|(k, _)| k).collect();
    let literal = template_variable_names();
    let bundle = bundle_variable_names();
    // Not vacuous: the render has the variables the template names through `printf`
    // (per-role resources), the template and the bundle their literal ones.
    assert!(
        rendered
            .iter()
            .filter(|n| n.starts_with("WORKER_POD_"))
            .count()
            == 6
            && rendered
                .iter()
                .filter(|n| n.starts_with("MASTER_POD_"))
                .count()
                == 6,
        "the render sets every per-role resource variable: {rendered:?}"
    );
    assert!(literal.len() > 20, "{literal:?}");
    assert!(bundle.contains("WEBHOOK_MODE"), "{bundle:?}");
    let undocumented: Vec<&String> = rendered
        .iter()
        .chain(&literal)
        .chain(&bundle)
        .filter(|name| !help.contains(&format!("[env: {name}=")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "`run --help` does not document {undocumented:?}:\n{help}"
    );
}

#[test]
fn run_accepts_the_chart_s_environment_and_stops_only_at_the_cluster_connection() {
    let env = every_chart_variable();
    let o = run_with_env(&["run"], None, &env);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("no Kubernetes connection"),
        "the settings are accepted, then no cluster is found: {err}"
    );
}

#[test]
fn a_bad_setting_stops_run_naming_the_variable_and_what_is_expected() {
    let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    for (env, expected) in [
        (
            vec![("WORKER_POD_MEM_LIMIT", "lots")],
            "not a Kubernetes quantity",
        ),
        (
            vec![("DEFAULT_RUNTIME_CLASS_NAME", "gVisor")],
            "DNS-1123 subdomain",
        ),
        (
            vec![("RECONCILE_CONCURRENCY", "0")],
            "expected a whole number from 1 to 1024",
        ),
        (
            vec![("POD_HEALTH_GRACE_SECONDS", "2m")],
            "expected a whole number of seconds from 0 to 86400",
        ),
        (vec![("LOG_FORMAT", "xml")], "possible values: json, text"),
        (vec![("WEBHOOK_MODE", "cert-manager")], "self-signed"),
        (
            vec![("ENABLE_AFFINITY_CR_INJECTION", "maybe")],
            "expected true or false",
        ),
        (
            vec![("RUST_LOG", "info,kube=loud")],
            "expected a log filter",
        ),
        (
            vec![("KUBE_API_BURST", "40")],
            "a burst needs a limit: set KUBE_API_QPS",
        ),
    ] {
        let name = env[0].0;
        let o = run_with_env(&["run"], None, &vars(&env));
        let err = stderr(&o);
        assert!(!o.status.success(), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}: {}", stdout(&o));
        assert!(err.contains(name), "names {name}: {err}");
        assert!(err.contains(expected), "{name}: says {expected:?}: {err}");
        assert!(
            !err.contains("no Kubernetes connection"),
            "{name}: stops before connecting: {err}"
        );
    }
    // A flag names its variable too, and wins over it.
    let o = run_with_env(
        &["run", "--reconcile-concurrency=2000"],
        None,
        &vars(&[("RECONCILE_CONCURRENCY", "8")]),
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("'2000' for 'RECONCILE_CONCURRENCY (--reconcile-concurrency <COUNT>)'"),
        "{err}"
    );
}

#[test]
fn render_takes_the_locust_pod_defaults_from_the_environment() {
    let env = vec![
        ("WORKER_POD_CPU_LIMIT".to_owned(), "3".to_owned()),
        ("POD_MEM_LIMIT".to_owned(), String::new()),
    ];
    let o = run_with_env(&["render", "-f", "examples/minimal-v2.yaml"], None, &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = docs(&o);
    let limits = &d[2]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
    assert_eq!(limits["cpu"], "3", "{limits}");
    assert!(limits.get("memory").is_none(), "empty: no limit: {limits}");
    let o = run_with_env(
        &["render", "-f", "examples/minimal-v2.yaml"],
        None,
        &[("POD_CPU_REQUEST".to_owned(), "lots".to_owned())],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("POD_CPU_REQUEST"), "{}", stderr(&o));
}
