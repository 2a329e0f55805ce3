//! The conversion webhook under load: `wrk` (Debian's `wrk` package) POSTs a
//! ConversionReview of 10 v1 LocustTests to `/convert` over HTTPS on loopback; the
//! operator runs with `WEBHOOK_MODE=local` (its own CA, the conversion webhook
//! registered by URL). Also start-up with the webhooks on.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use locust_bench::operator::{Operator, Options, free_port};
use locust_bench::report::{Report, Target};
use locust_bench::setup::Env;
use locust_bench::{Result, ctx};

use super::Args;
use super::startup::ms;

/// The v1 example every review converts (ten copies with different names).
const V1_EXAMPLE: &str = include_str!("../../../../../examples/v1.yaml");

/// `wrk` threads and connections.
const WRK_THREADS: u32 = 2;
const WRK_CONNECTIONS: u32 = 16;

pub async fn run(args: &Args, binary: &Path, logs: &Path, report: &mut Report) -> Result<()> {
    eprintln!(
        "== webhook: 10-object ConversionReview, wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{}s ({} runs)",
        args.webhook_seconds, args.runs
    );
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed (apt-get install wrk)".into());
    }
    let env = Env::start(Vec::new()).await?;
    let ns = env.namespace("webhook").await?;
    let dir = tempfile::tempdir().map_err(ctx("temporary folder"))?;
    let body = dir.path().join("review.json");
    std::fs::write(&body, review()?).map_err(ctx("writing the review"))?;
    let script = dir.path().join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             local f = io.open(\"{}\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\n",
            body.display()
        ),
    )
    .map_err(ctx("writing the wrk script"))?;
    let (mut ready, mut rps, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..args.runs {
        let port = free_port()?;
        let mut op = Operator::start(
            &format!("webhook-{run}"),
            &Options {
                binary: binary.to_owned(),
                // Local mode registers the webhooks cluster-wide (the CRD's conversion
                // block): what a developer's admin kubeconfig does, as in `make run`.
                kubeconfig: env.cluster.kubeconfig().to_owned(),
                namespaces: vec![ns.clone()],
                leader_election: None,
                env: vec![
                    ("WEBHOOK_MODE".into(), "local".into()),
                    ("WEBHOOK_PORT".into(), port.to_string()),
                    ("WEBHOOK_VALIDATION_ENABLED".into(), "false".into()),
                ],
            },
            logs,
        )?;
        ready.push(ms(op.wait_ready(Duration::from_secs(30)).await?));
        let url = format!("https://127.0.0.1:{port}/convert");
        check_one(&url, &body)?;
        let out = Command::new("wrk")
            .args([
                format!("-t{WRK_THREADS}"),
                format!("-c{WRK_CONNECTIONS}"),
                format!("-d{}s", args.webhook_seconds),
                "--latency".into(),
                "-s".into(),
                script.display().to_string(),
                url,
            ])
            .output()
            .map_err(ctx("running wrk"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || text.contains("Non-2xx") {
            return Err(format!(
                "wrk failed or saw errors:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        rps.push(field(&text, "Requests/sec:")?);
        p50.push(latency(&text, "50%")?);
        p99.push(latency(&text, "99%")?);
        op.check()?;
    }
    report.add(
        "startup.ready_webhooks_ms",
        "start → /readyz 200 with WEBHOOK_MODE=local (certificates made, webhook registered)",
        "ms",
        ready,
        Some(Target::Lt(300.0)),
    );
    report.add(
        "webhook.convert_rps",
        "conversion reviews per second (10 objects each, HTTPS, loopback)",
        "1/s",
        rps,
        None,
    );
    report.add(
        "webhook.convert_p50_ms",
        "conversion review latency p50",
        "ms",
        p50,
        None,
    );
    report.add(
        "webhook.convert_p99_ms",
        "conversion review latency p99",
        "ms",
        p99,
        None,
    );
    Ok(())
}

/// A ConversionReview asking for 10 v1 objects in v2.
fn review() -> Result<String> {
    let v1: serde_json::Value =
        locust_k8s_operator::yaml::from_yaml(V1_EXAMPLE).map_err(ctx("examples/v1.yaml"))?;
    let objects: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            let mut o = v1.clone();
            o["metadata"]["name"] = format!("legacy-{i}").into();
            o["metadata"]["namespace"] = "default".into();
            o["metadata"]["uid"] = format!("00000000-0000-0000-0000-{i:012}").into();
            o
        })
        .collect();
    serde_json::to_string(&serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {
            "uid": "bench",
            "desiredAPIVersion": "locust.io/v2",
            "objects": objects,
        }
    }))
    .map_err(ctx("review to JSON"))
}

/// One request with curl: the review converts (status Success, 10 objects).
fn check_one(url: &str, body: &Path) -> Result<()> {
    let out = Command::new("curl")
        .args([
            "-sk",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
        ])
        .arg(format!("@{}", body.display()))
        .arg(url)
        .output()
        .map_err(ctx("running curl"))?;
    let response: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(ctx("the webhook's answer"))?;
    let converted = response["response"]["convertedObjects"]
        .as_array()
        .map_or(0, Vec::len);
    if response["response"]["result"]["status"] != "Success" || converted != 10 {
        return Err(format!(
            "the webhook did not convert the review: {response}"
        ));
    }
    Ok(())
}

fn field(text: &str, name: &str) -> Result<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no {name} in wrk's output:\n{text}"))
}

/// A percentile line of `wrk --latency` (`99%   12.34ms`), in milliseconds.
fn latency(text: &str, pct: &str) -> Result<f64> {
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(pct))
        .map(str::trim)
        .ok_or_else(|| format!("no {pct} latency in wrk's output:\n{text}"))?;
    let (num, factor) = if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (value, 1.0)
    };
    num.parse::<f64>()
        .map(|v| v * factor)
        .map_err(|_| format!("unreadable latency {value:?}"))
}
