//! The final word: the verdict and the numbers, as text or as one JSON document. Pure.

use serde::Serialize;

use super::outcome::{Exit, ready};
use super::report::Saved;
use crate::api::status::{Phase, TestResult};
use crate::api::v2::LocustTest;

/// What `--json` prints (and the text is made of).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The test's name (generated with `--generate-name`).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The last phase seen.
    pub phase: Option<Phase>,
    /// The Ready condition's reason: the verdict once the test finished.
    pub reason: Option<String>,
    /// The Ready condition's message.
    pub message: Option<String>,
    /// The final numbers (`status.result`).
    pub result: Option<TestResult>,
    /// The ConfigMap holding the report (`status.reportConfigMap`).
    pub report_config_map: Option<String>,
    /// What became of `--report`.
    pub report: Option<Saved>,
    /// Why the command stopped before the verdict (timeout, interrupted, ...).
    pub stopped: Option<String>,
    /// The exit code.
    pub exit_code: u8,
}

impl Summary {
    /// The summary of `test` as last seen.
    pub fn new(test: &LocustTest, namespace: &str, exit: Exit) -> Self {
        let status = test.status.as_ref();
        let ready = status.and_then(ready);
        Self {
            name: test.metadata.name.clone().unwrap_or_default(),
            namespace: namespace.to_string(),
            phase: status.and_then(|s| s.phase),
            reason: ready.map(|c| c.reason.clone()),
            message: ready.map(|c| c.message.clone()),
            result: status.and_then(|s| s.result.clone()),
            report_config_map: status.and_then(|s| s.report_config_map.clone()),
            report: None,
            stopped: None,
            exit_code: exit.code(),
        }
    }

    /// The JSON document (one line).
    pub fn json(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The text: the verdict, its message, the numbers, the report and the exit code.
    pub fn text(&self) -> String {
        let mut out = format!(
            "locusttest {}/{}: {}",
            self.namespace,
            self.name,
            self.phase.map_or("no phase yet", Phase::as_str)
        );
        if let Some(reason) = &self.reason {
            out.push_str(&format!(" ({reason})"));
        }
        out.push('\n');
        if let Some(message) = self.message.as_ref().filter(|m| !m.is_empty()) {
            out.push_str(&format!("  {message}\n"));
        }
        if let Some(r) = &self.result {
            out.push_str(&format!("  {}\n", numbers(r)));
        }
        match &self.report {
            Some(Saved {
                file: Some(file),
                bytes: Some(bytes),
                ..
            }) => out.push_str(&format!("  report saved to {file} ({bytes} bytes)\n")),
            Some(Saved {
                error: Some(why), ..
            }) => out.push_str(&format!("  no report saved: {why}\n")),
            _ => {}
        }
        if let Some(stopped) = &self.stopped {
            out.push_str(&format!("  stopped waiting: {stopped}\n"));
        }
        out.push_str(&format!(
            "exit code {}: {}\n",
            self.exit_code,
            meaning(self.exit_code)
        ));
        out
    }
}

/// What an exit code says.
fn meaning(code: u8) -> &'static str {
    match code {
        0 => "the test succeeded",
        1 => "the test failed",
        3 => "invalid input",
        _ => "no verdict",
    }
}

/// `1234 requests, 12 failed (0.97 %), 41.20 req/s, average 12.3 ms, p95 45.0 ms, ...`
pub fn numbers(r: &TestResult) -> String {
    let mut parts = vec![
        format!("{} requests", r.total_requests),
        match r.failure_percentage {
            Some(p) => format!("{} failed ({p:.2} %)", r.failed_requests),
            None => format!("{} failed", r.failed_requests),
        },
    ];
    if let Some(rps) = r.requests_per_second {
        parts.push(format!("{rps:.2} req/s"));
    }
    parts.push(format!("average {:.1} ms", r.average_response_time));
    for (name, v) in [("p95", r.p95_response_time), ("p99", r.p99_response_time)] {
        if let Some(v) = v {
            parts.push(format!("{name} {v:.1} ms"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::LocustTestStatus;
    use crate::status::conditions::condition;

    fn finished() -> LocustTest {
        let mut t = LocustTest::new("demo-x7k2p", Default::default());
        t.status = Some(LocustTestStatus {
            phase: Some(Phase::Failed),
            result: Some(TestResult {
                total_requests: 200,
                failed_requests: 20,
                failure_percentage: Some(10.0),
                average_response_time: 12.34,
                p95_response_time: Some(45.0),
                p99_response_time: None,
                requests_per_second: Some(6.5),
            }),
            report_config_map: Some("demo-x7k2p-report".into()),
            conditions: vec![condition(
                "Ready",
                "False",
                "ThresholdsBreached",
                "thresholds breached: failure ratio 10.00 % > 1.00 %",
                1,
            )],
            ..LocustTestStatus::default()
        });
        t
    }

    #[test]
    fn the_text_gives_the_verdict_the_numbers_and_the_report() {
        let mut s = Summary::new(&finished(), "ci", Exit::TestFailed);
        s.report = Some(Saved {
            file: Some("report.html".into()),
            bytes: Some(812),
            error: None,
        });
        assert_eq!(
            s.text(),
            "locusttest ci/demo-x7k2p: Failed (ThresholdsBreached)\n  thresholds breached: \
             failure ratio 10.00 % > 1.00 %\n  200 requests, 20 failed (10.00 %), 6.50 req/s, \
             average 12.3 ms, p95 45.0 ms\n  report saved to report.html (812 bytes)\nexit code \
             1: the test failed\n"
        );
    }

    #[test]
    fn the_json_has_every_field_in_camel_case() {
        let mut s = Summary::new(&finished(), "ci", Exit::TestFailed);
        s.stopped = None;
        let v: serde_json::Value = serde_json::from_str(&s.json()).expect("json");
        assert_eq!(v["name"], "demo-x7k2p");
        assert_eq!(v["namespace"], "ci");
        assert_eq!(v["phase"], "Failed");
        assert_eq!(v["reason"], "ThresholdsBreached");
        assert_eq!(v["result"]["totalRequests"], 200);
        assert_eq!(v["result"]["failurePercentage"], 10.0);
        assert_eq!(v["reportConfigMap"], "demo-x7k2p-report");
        assert_eq!(v["exitCode"], 1);
        assert!(v["report"].is_null() && v["stopped"].is_null());
    }

    #[test]
    fn a_test_stopped_without_status_says_so() {
        let t = LocustTest::new("slow", Default::default());
        let mut s = Summary::new(&t, "ci", Exit::NoVerdict);
        s.stopped = Some("timed out after 30s; the test keeps running".into());
        assert_eq!(
            s.text(),
            "locusttest ci/slow: no phase yet\n  stopped waiting: timed out after 30s; the test \
             keeps running\nexit code 2: no verdict\n"
        );
    }
}
