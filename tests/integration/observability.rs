//! Observability, proved with a real Prometheus and promtool (built from the Prometheus Go
//! module by `tests/cluster/build.sh prometheus promtool`, cached by version):
//! - the alerting rules (`config/prometheus/rules.yaml`) pass `promtool check rules` and
//!   their unit tests (`config/prometheus/rules.test.yaml`), and every alert is needed by
//!   those tests: with any one alert made unable to fire, `promtool test rules` fails;
//! - the chart's PrometheusRule renders those rules (with the thresholds of its values) and
//!   its Grafana ConfigMap holds the dashboard (`config/grafana/locust-k8s-operator.json`);
//! - during a real-Locust run (a local master and two workers, read by the operator as in
//!   `tests/integration/controller_locust.rs`) the operator's live `/metrics` passes
//!   `promtool check metrics`; a real Prometheus on 127.0.0.1 scrapes it, loads the rules
//!   and fires the verdict alerts, and EVERY query of the dashboard (its template
//!   variables substituted) returns data from it.

use crate::chart_common;
use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chart_common::{CHART, helm, run, tool};
use common::local_locust::{LOCUSTFILE, Procs, free_port, kill_group, locust_bin, start_target};
use common::{
    Operator, OperatorOptions, annotations, condition, create, http_get, locust_test,
    master_annotations, wait_phase, wait_status, worker_annotations,
};
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::api::v2::{LocustTest, ThresholdsSpec};
use serde_json::Value;

const RULES: &str = "config/prometheus/rules.yaml";
const RULES_TEST: &str = "config/prometheus/rules.test.yaml";
const DASHBOARD: &str = "config/grafana/locust-k8s-operator.json";

fn yaml(path: &str) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    locust_k8s_operator::yaml::from_yaml(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `promtool args`, with `stdin`; (success, stdout, stderr).
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run(&tool("promtool"), &args, stdin)
}

/// Every alerting rule of a rules document (`{groups: [{rules: [...]}]}`).
fn alerts(doc: &Value) -> Vec<&Value> {
    doc["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_need_every_alert() {
    let (ok, out, err) = promtool(&["check", "rules", RULES], None);
    assert!(ok, "promtool check rules:\n{out}{err}");
    let (ok, out, err) = promtool(&["test", "rules", RULES_TEST], None);
    assert!(ok, "promtool test rules:\n{out}{err}");

    // Each alert is expected to fire somewhere in the unit tests ...
    let rules = yaml(RULES);
    let names: Vec<String> = alerts(&rules)
        .iter()
        .map(|r| r["alert"].as_str().expect("alert name").to_owned())
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    let tests = yaml(RULES_TEST);
    let firing: BTreeSet<&str> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten())
        .filter(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|c| c["alertname"].as_str())
        .collect();
    for name in &names {
        assert!(
            firing.contains(name.as_str()),
            "{RULES_TEST} never expects {name} to fire"
        );
    }
    // ... so the unit tests fail when any one alert can no longer fire.
    let dir = tempfile::tempdir().expect("temp dir");
    fs::copy(RULES_TEST, dir.path().join("rules.test.yaml")).expect("copy the tests");
    for name in &names {
        let mut broken = rules.clone();
        for group in broken["groups"].as_array_mut().expect("groups") {
            for rule in group["rules"].as_array_mut().expect("rules") {
                if rule["alert"] == name.as_str() {
                    rule["expr"] = "vector(0) > 1".into();
                }
            }
        }
        fs::write(
            dir.path().join("rules.yaml"),
            serde_json::to_string(&broken).expect("json is yaml"),
        )
        .expect("write");
        let file = dir.path().join("rules.test.yaml");
        let (ok, out, _) = promtool(&["test", "rules", &file.to_string_lossy()], None);
        assert!(
            !ok,
            "promtool test rules passes without {name} firing:\n{out}"
        );
    }
}

/// The objects of `helm template` with `values` (a values file's text) and `--show-only`.
fn render(values: &str, template: &str) -> (bool, Vec<Value>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("values.yaml");
    fs::write(&file, values).expect("values");
    let (ok, out, err) = helm(&[
        "template",
        "obs",
        CHART,
        "--namespace",
        "monitoring-test",
        "-f",
        &file.to_string_lossy(),
        "--show-only",
        template,
    ]);
    let docs = if ok {
        out.split("\n---")
            .filter(|d| d.lines().any(|l| l.starts_with("kind:")))
            .map(|d| locust_k8s_operator::yaml::from_yaml(d).expect("rendered YAML"))
            .collect()
    } else {
        Vec::new()
    };
    (ok, docs, err)
}

#[test]
fn the_chart_ships_the_rules_and_the_dashboard() {
    let stale = "is stale: run `make chart`";
    for (copy, source) in [
        ("files/prometheus/rules.yaml", RULES),
        ("files/grafana/locust-k8s-operator.json", DASHBOARD),
    ] {
        assert_eq!(
            fs::read_to_string(format!("{CHART}/{copy}")).expect(copy),
            fs::read_to_string(source).expect(source),
            "{CHART}/{copy} {stale}"
        );
    }
    let rules = yaml(RULES);

    // Off by default.
    for template in [
        "templates/prometheusrule.yaml",
        "templates/grafana-dashboard.yaml",
    ] {
        let (ok, _, err) = render("{}", template);
        assert!(!ok && err.contains("could not find template"), "{err}");
    }

    // With the default values the PrometheusRule holds exactly the source's rules.
    let on = "metrics: {prometheusRule: {enabled: true, labels: {release: kps}}}";
    let (ok, docs, err) = render(on, "templates/prometheusrule.yaml");
    assert!(ok, "{err}");
    assert_eq!(docs[0]["kind"], "PrometheusRule");
    assert_eq!(docs[0]["metadata"]["labels"]["release"], "kps");
    assert_eq!(
        docs[0]["spec"]["groups"], rules["groups"],
        "the chart's defaults differ from {RULES}"
    );

    // Values change the threshold, `for` and severity, or leave an alert out; the result
    // is still valid for promtool.
    let custom = "metrics:
  prometheusRule:
    enabled: true
    alerts:
      LocustTestSlowResponses: {threshold: 0.75, for: 1m, severity: page}
      LocustOperatorReconcileErrors: {threshold: 0.25}
      LocustTestFailed: {enabled: false}
";
    let (ok, docs, err) = render(custom, "templates/prometheusrule.yaml");
    assert!(ok, "{err}");
    let spec = &docs[0]["spec"];
    let rendered = alerts(spec);
    let alert = |name: &str| rendered.iter().find(|r| r["alert"] == name).copied();
    assert!(alert("LocustTestFailed").is_none(), "disabled");
    let slow = alert("LocustTestSlowResponses").expect("slow responses");
    assert_eq!(
        slow["expr"].as_str().map(str::trim),
        Some("locust_operator_test_response_time_seconds{quantile=\"0.95\"} > 0.75 # threshold")
    );
    assert_eq!(
        (&slow["for"], &slow["labels"]["severity"]),
        (&"1m".into(), &"page".into())
    );
    let errors = alert("LocustOperatorReconcileErrors").expect("reconcile errors");
    assert!(
        errors["expr"]
            .as_str()
            .is_some_and(|e| e.contains("> 0.25 # threshold")),
        "{errors}"
    );
    assert_eq!(rendered.len(), alerts(&rules).len() - 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rendered.yaml");
    fs::write(&file, serde_json::to_string(spec).expect("json")).expect("write");
    let (ok, out, err) = promtool(&["check", "rules", &file.to_string_lossy()], None);
    assert!(
        ok,
        "promtool check rules on the rendered rules:\n{out}{err}"
    );

    // A threshold for an alert that has none, or an alert that does not exist, is refused
    // naming it; the values and their schema list exactly the rules' alerts.
    for (values, names) in [
        (
            "metrics: {prometheusRule: {enabled: true, alerts: {LocustOperatorDown: {threshold: 1}}}}",
            ["LocustOperatorDown", "threshold"],
        ),
        (
            "metrics: {prometheusRule: {enabled: true, alerts: {LocustTestFaild: {enabled: false}}}}",
            ["LocustTestFaild", "alerts"],
        ),
    ] {
        let (ok, _, err) = render(values, "templates/prometheusrule.yaml");
        assert!(
            !ok && names.iter().all(|n| err.contains(n)),
            "{values}: {err}"
        );
    }
    let names: BTreeSet<&str> = alerts(&rules)
        .iter()
        .filter_map(|r| r["alert"].as_str())
        .collect();
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect()
    };
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(format!("{CHART}/values.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let values = yaml(&format!("{CHART}/values.yaml"));
    let names: BTreeSet<String> = names.into_iter().map(str::to_owned).collect();
    assert_eq!(
        keys(
            &schema["properties"]["metrics"]["properties"]["prometheusRule"]["properties"]["alerts"]
                ["properties"]
        ),
        names
    );
    assert_eq!(keys(&values["metrics"]["prometheusRule"]["alerts"]), names);

    // The dashboard ConfigMap, labelled for the Grafana sidecar.
    let (ok, docs, err) = render(
        "metrics: {grafanaDashboard: {enabled: true}}",
        "templates/grafana-dashboard.yaml",
    );
    assert!(ok, "{err}");
    let cm = &docs[0];
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(cm["metadata"]["namespace"], "monitoring-test");
    assert_eq!(
        cm["data"]["locust-k8s-operator.json"].as_str(),
        Some(&*fs::read_to_string(DASHBOARD).expect("dashboard"))
    );
    let (ok, docs, err) = render(
        "metrics: {grafanaDashboard: {enabled: true, namespace: grafana, \
         sidecarLabel: dashboards, sidecarLabelValue: locust, labels: {team: perf}, \
         annotations: {grafana_folder: Load}}}",
        "templates/grafana-dashboard.yaml",
    );
    assert!(ok, "{err}");
    let meta = &docs[0]["metadata"];
    assert_eq!(meta["namespace"], "grafana");
    assert_eq!(meta["labels"]["dashboards"], "locust");
    assert_eq!(meta["labels"]["team"], "perf");
    assert_eq!(meta["labels"].get("grafana_dashboard"), None);
    assert_eq!(meta["annotations"]["grafana_folder"], "Load");
}

/// Every query of the dashboard: each panel target's `expr` (rows' nested panels too),
/// with its panel's title.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push((
                        p["title"].as_str().unwrap_or("?").to_owned(),
                        expr.to_owned(),
                    ));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Grafana's substitutions: the template variables and `$__rate_interval`.
fn substitute(expr: &str, vars: &[(&str, &str)]) -> String {
    let mut e = expr.replace("$__rate_interval", "10s");
    for (name, value) in vars {
        e = e
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!e.contains('$'), "a template variable is left in {e}");
    e
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A GET whose answer is JSON.
async fn get_json(addr: SocketAddr, path: &str) -> Result<Value, String> {
    let (_, body) = http_get(addr, path).await?;
    serde_json::from_str(&body).map_err(|e| format!("{e}: {body:.300}"))
}

/// A Prometheus on 127.0.0.1 scraping `target` every second and evaluating the rules;
/// killed (its log printed on panic) when dropped.
struct Prometheus {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: SocketAddr) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let rules = fs::canonicalize(RULES).expect("rules");
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{rules:?}]\n\
             scrape_configs:\n  - job_name: locust-k8s-operator\n    \
             static_configs: [{{targets: [\"{target}\"]}}]\n"
        );
        fs::write(dir.path().join("prometheus.yml"), config).expect("config");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let child = common::local_locust::spawn_in_group(
            Command::new(tool("prometheus"))
                .arg(format!(
                    "--config.file={}",
                    dir.path().join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .current_dir(dir.path()),
            &dir.path().join("prometheus.log"),
        );
        let p = Prometheus { addr, child, dir };
        common::eventually("Prometheus is ready", Duration::from_secs(60), || async {
            match http_get(addr, "/-/ready").await {
                Ok((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        p
    }

    /// The result of a range query over `[start, now]`.
    async fn range(&self, query: &str, start: f64) -> Vec<Value> {
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        let path = format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step=1",
            encode(query)
        );
        let answer = get_json(self.addr, &path)
            .await
            .expect("Prometheus answers");
        assert_eq!(answer["status"], "success", "{query}: {answer}");
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn firing(&self) -> Vec<Value> {
        let answer = get_json(self.addr, "/api/v1/alerts").await.expect("alerts");
        (answer["data"]["alerts"].as_array().into_iter().flatten())
            .filter(|a| a["state"] == "firing")
            .cloned()
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        kill_group(&mut self.child);
        if std::thread::panicking() {
            let log =
                fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("---- prometheus (last lines) ----");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// A test on kwok whose simulated master pod ends after 60 s with `exit_code` (long after
/// the real run has settled), as in `tests/integration/controller_locust.rs`.
fn ending_test(name: &str, exit_code: &str) -> LocustTest {
    let run = [(annotations::RUN_SECONDS, "600")];
    let test = worker_annotations(master_annotations(locust_test(name, 2), &run), &run);
    master_annotations(
        test,
        &[
            (annotations::RUN_SECONDS, "60"),
            (annotations::EXIT_CODE, exit_code),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_operator_and_every_dashboard_query_returns_data() {
    let t0 = Instant::now();
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let target = start_target().await;
    let web_port = free_port();
    let health: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let client = common::admin().await;
    let ns = common::namespace("observability").await;
    let kubeconfig = common::operator_kubeconfig().await;
    let mut options = OperatorOptions::new(&kubeconfig, &ns);
    for (k, v) in [
        (
            "MASTER_URL_TEMPLATE",
            format!("http://127.0.0.1:{web_port}"),
        ),
        ("LOCUST_POLL_SECONDS", "1".into()),
        ("HEALTH_ADDR", health.to_string()),
        ("ENDPOINT_METRICS", "true".into()),
        // The locustfile has two endpoints (/ok and /fail): one is left out.
        ("ENDPOINT_METRICS_MAX", "1".into()),
    ] {
        options.env.push((k.into(), v));
    }
    let mut operator = Operator::start("observability", options);
    let prometheus = Prometheus::start(health).await;

    // Three tests read the same real master: Locust's exit code 1 fails one, a 1 %
    // failure-ratio threshold another (one request in ten fails), the third succeeds.
    create(&client, &ns, &ending_test("failed", "1")).await;
    let mut strict = ending_test("strict", "0");
    strict.spec.thresholds = Some(ThresholdsSpec {
        max_failure_ratio: Some(0.01),
        ..ThresholdsSpec::default()
    });
    create(&client, &ns, &strict).await;
    create(&client, &ns, &ending_test("passed", "0")).await;
    for name in ["failed", "strict", "passed"] {
        wait_phase(&client, &ns, name, Phase::Running, Duration::from_secs(60)).await;
    }
    let (_, before) = http_get(health, "/metrics").await.expect("metrics");

    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("locustfile.py"), LOCUSTFILE).expect("locustfile");
    let env = vec![
        ("CUSTOM_VAR".to_owned(), "static-value".to_owned()),
        (
            "TARGET_HOST".to_owned(),
            format!("http://127.0.0.1:{target}"),
        ),
    ];
    let locustfile = dir.path().join("locustfile.py").display().to_string();
    let master_port = free_port();
    let mut procs = Procs::default();
    let master = procs.spawn(
        "master",
        dir.path(),
        (
            locust_bin(),
            [
                "-f",
                &locustfile,
                "--master",
                "--master-bind-host=127.0.0.1",
                &format!("--master-bind-port={master_port}"),
                "--web-host=127.0.0.1",
                &format!("--web-port={web_port}"),
                "--expect-workers=2",
                "--autostart",
                "--autoquit=20",
                "--users=4",
                "--spawn-rate=4",
                "--run-time=20s",
                "--only-summary",
            ]
            .map(str::to_owned)
            .to_vec(),
            env.clone(),
        ),
    );
    for w in ["worker-1", "worker-2"] {
        let args = [
            "-f",
            &locustfile,
            "--worker",
            "--master-host=127.0.0.1",
            &format!("--master-port={master_port}"),
        ];
        procs.spawn(
            w,
            dir.path(),
            (locust_bin(), args.map(str::to_owned).to_vec(), env.clone()),
        );
    }

    // The live /metrics while the run goes on: counters, summaries, endpoint series and
    // the cap, all passing promtool's checks (names, types, units, HELP).
    let label = format!("namespace=\"{ns}\",test=\"failed\"");
    let during = common::eventually(
        "per-test series on /metrics",
        Duration::from_secs(60),
        || async {
            let (_, body) = http_get(health, "/metrics").await?;
            let requests = common::sample_of(
                &body,
                &format!("locust_operator_test_requests_total{{{label}}}"),
            );
            let failures = common::sample_of(
                &body,
                &format!("locust_operator_test_failures_total{{{label}}}"),
            );
            let p95 = common::sample_of(
                &body,
                &format!("locust_operator_test_response_time_seconds{{{label},quantile=\"0.95\"}}"),
            );
            let dropped = common::sample_of(
                &body,
                &format!("locust_operator_test_endpoints_dropped{{{label}}}"),
            );
            match (requests, failures, p95, dropped) {
                (Some(r), Some(f), Some(p), Some(d))
                    if r > 0.0 && f > 0.0 && p.is_finite() && d == 1.0 =>
                {
                    Ok(body)
                }
                other => Err(format!("requests, failures, p95, dropped: {other:?}")),
            }
        },
    )
    .await;
    let (ok, out, err) = promtool(&["check", "metrics"], Some(&during));
    assert!(
        ok && out.trim().is_empty() && err.trim().is_empty(),
        "promtool check metrics on the live /metrics:\n{out}{err}\n{during}"
    );
    // What one running test adds to /metrics (HELP and TYPE lines are shared).
    let bytes = |endpoint: bool| -> usize {
        during
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(&label))
            .filter(|l| l.contains("method=") == endpoint)
            .map(|l| l.len() + 1)
            .sum()
    };
    eprintln!(
        "/metrics: {} bytes before the run, {} bytes with 3 running tests; one test's series: \
         {} bytes without endpoints, {} bytes for its one exported endpoint",
        before.len(),
        during.len(),
        bytes(false),
        bytes(true)
    );

    assert!(
        procs.wait(master, Duration::from_secs(90)).await.is_some(),
        "the master quits after its run time and the autoquit window"
    );
    for name in ["failed", "strict", "passed"] {
        wait_status(
            &client,
            &ns,
            name,
            "a verdict",
            Duration::from_secs(120),
            |t| common::phase(t).is_some_and(Phase::is_terminal),
        )
        .await;
    }
    let reason = |t: &LocustTest| condition(t, "Ready").map(|c| c.reason.clone());
    assert_eq!(
        reason(&common::get(&client, &ns, "strict").await).as_deref(),
        Some("ThresholdsBreached")
    );

    // The verdict alerts fire in the real Prometheus, from the rules as shipped.
    let fired = common::eventually(
        "the verdict alerts fire",
        Duration::from_secs(60),
        || async {
            let firing = prometheus.firing().await;
            let has = |alert: &str, test: &str| {
                firing
                    .iter()
                    .any(|a| a["labels"]["alertname"] == alert && a["labels"]["test"] == test)
            };
            if has("LocustTestFailed", "failed") && has("LocustTestThresholdsBreached", "strict") {
                Ok(firing)
            } else {
                Err(format!("firing: {firing:?}"))
            }
        },
    )
    .await;
    assert!(
        !fired
            .iter()
            .any(|a| a["labels"]["test"] == "passed"
                || a["labels"]["alertname"] == "LocustOperatorDown"),
        "{fired:?}"
    );

    // Every dashboard query, its variables set to this namespace and the failed test,
    // returns data from the run. (A range query sees a sample only from the first step
    // after it: the result series may be younger than a second when the alerts fire.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dashboard: Value =
        serde_json::from_str(&fs::read_to_string(DASHBOARD).expect("dashboard")).expect("json");
    let vars = [("namespace", ns.as_str()), ("test", "failed")];
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 15, "{queries:?}");
    assert!(
        prometheus
            .range(
                &substitute(
                    "locust_operator_test_userz{namespace=~\"$namespace\"}",
                    &vars
                ),
                start
            )
            .await
            .is_empty(),
        "a query of nothing returns nothing"
    );
    let mut empty = Vec::new();
    for (title, expr) in &queries {
        let query = substitute(expr, &vars);
        if prometheus.range(&query, start).await.is_empty() {
            empty.push(format!("{title}: {query}"));
        }
    }
    assert!(
        empty.is_empty(),
        "dashboard queries without data:\n{}",
        empty.join("\n")
    );
    // The variables' own queries (Grafana's label_values(metric, label)) find this run.
    for v in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        let Some(q) = v["query"]["query"]
            .as_str()
            .filter(|q| q.starts_with("label_values("))
        else {
            continue;
        };
        let inner = &q["label_values(".len()..q.len() - 1];
        let (metric, label) = inner.rsplit_once(',').expect("label_values(metric, label)");
        let (metric, label) = (substitute(metric.trim(), &vars), label.trim());
        let found: BTreeSet<String> = prometheus
            .range(&format!("count by ({label}) ({metric})"), start)
            .await
            .iter()
            .filter_map(|s| s["metric"][label].as_str().map(str::to_owned))
            .collect();
        let want = if label == "namespace" {
            ns.as_str()
        } else {
            "failed"
        };
        assert!(found.contains(want), "{q}: {found:?}");
    }
    eprintln!(
        "{} dashboard queries returned data; whole test {:?}",
        queries.len(),
        t0.elapsed()
    );
    operator.assert_running();
}
