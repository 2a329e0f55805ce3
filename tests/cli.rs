//! The offline CLI, run as a user runs it: the real binary, files and stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_locust-k8s-operator");

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
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
    let committed = include_str!("../crd/locusttests.locust.io.yaml");
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
