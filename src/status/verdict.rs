//! The verdict on a run from Locust's own numbers: thresholds judged on the final
//! statistics, and why a failed master failed (Locust judged the run failed, the workers
//! never arrived, or something else). Pure.

use super::reason::{TEST_FAILED, THRESHOLDS_BREACHED, WORKERS_NOT_CONNECTED};
use crate::api::status::TestResult;
use crate::api::v2::ThresholdsSpec;

/// Exit code of a Locust process that hit an unhandled exception in a greenlet (a
/// locustfile bug), not a judgement on the run.
const UNHANDLED_EXCEPTION_EXIT: i32 = 2;

/// Each threshold, checked or broken, as a short sentence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judgement {
    /// The limits the run broke, e.g. `failure ratio 12.50 % > 1.00 %`.
    pub breached: Vec<String>,
    /// The limits the run met, e.g. `p95 180.0 ms <= 500.0 ms`.
    pub met: Vec<String>,
}

fn percent(v: f64) -> String {
    format!("{:.2} %", v * 100.0)
}

fn ms(v: f64) -> String {
    format!("{v:.1} ms")
}

fn per_second(v: f64) -> String {
    format!("{v:.2}/s")
}

/// Judges `result` against every limit set in `thresholds`. A limit on a figure Locust
/// did not report (a percentile of a run without requests) counts as broken: a pipeline
/// must not pass on numbers nobody measured.
pub fn judge(thresholds: &ThresholdsSpec, result: &TestResult) -> Judgement {
    let ratio = if result.total_requests > 0 {
        result.failed_requests as f64 / result.total_requests as f64
    } else {
        0.0
    };
    let average = (result.total_requests > 0).then_some(result.average_response_time);
    let checks = [
        Check::max(
            "failure ratio",
            Some(ratio),
            thresholds.max_failure_ratio,
            percent,
        ),
        Check::max(
            "average response time",
            average,
            thresholds.max_average_response_time,
            ms,
        ),
        Check::max(
            "p95 response time",
            result.p95_response_time,
            thresholds.max_p95_response_time,
            ms,
        ),
        Check::max(
            "p99 response time",
            result.p99_response_time,
            thresholds.max_p99_response_time,
            ms,
        ),
        Check {
            name: "requests per second",
            measured: result.requests_per_second,
            limit: thresholds.min_requests_per_second,
            is_max: false,
            format: per_second,
        },
    ];
    let mut j = Judgement::default();
    for c in checks {
        let Some(limit) = c.limit else { continue };
        let (op_ok, op_bad) = if c.is_max { ("<=", ">") } else { (">=", "<") };
        let format = c.format;
        match c.measured.filter(|v| v.is_finite()) {
            None => j.breached.push(format!(
                "{} not reported by Locust (limit {})",
                c.name,
                format(limit)
            )),
            Some(v) if (c.is_max && v <= limit) || (!c.is_max && v >= limit) => j.met.push(
                format!("{} {} {op_ok} {}", c.name, format(v), format(limit)),
            ),
            Some(v) => j.breached.push(format!(
                "{} {} {op_bad} {}",
                c.name,
                format(v),
                format(limit)
            )),
        }
    }
    j
}

/// One limit to check.
struct Check {
    name: &'static str,
    measured: Option<f64>,
    limit: Option<f64>,
    /// The limit is a maximum (else a minimum).
    is_max: bool,
    format: fn(f64) -> String,
}

impl Check {
    fn max(
        name: &'static str,
        measured: Option<f64>,
        limit: Option<f64>,
        format: fn(f64) -> String,
    ) -> Self {
        Check {
            name,
            measured,
            limit,
            is_max: true,
            format,
        }
    }
}

/// Why the master Job failed, when Locust's numbers tell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MasterVerdict {
    /// Ready reason ([`TEST_FAILED`], [`THRESHOLDS_BREACHED`] or [`WORKERS_NOT_CONNECTED`]).
    pub reason: &'static str,
    /// What happened, with the numbers.
    pub message: String,
}

/// What is known when the master Job failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailedMaster<'a> {
    /// The master container's exit code, when a pod shows it.
    pub exit_code: Option<i32>,
    /// The settled final result, when the operator read it.
    pub result: Option<&'a TestResult>,
    /// The test's thresholds.
    pub thresholds: Option<&'a ThresholdsSpec>,
    /// Workers last counted connected: as the master last reported, else as the status
    /// last said.
    pub connected: i32,
    /// Whether the master was seen running the test; `None` when it never answered.
    pub run_started: Option<bool>,
    /// Workers expected.
    pub expected: i32,
    /// The `--expect-workers-max-wait` the master ran with, in seconds.
    pub max_wait: Option<u32>,
}

/// Explains a failed master from Locust's numbers; `None` when they do not tell (then it
/// is an infrastructure failure: a crash, a kill, an unhandled exception).
pub(crate) fn failed_master(f: &FailedMaster<'_>) -> Option<MasterVerdict> {
    let code = f.exit_code?;
    // Signals (OOM kill, SIGTERM) and unhandled exceptions are not Locust's judgement.
    if !(1..128).contains(&code) || code == UNHANDLED_EXCEPTION_EXIT {
        return None;
    }
    match f.result.filter(|r| r.total_requests > 0) {
        Some(result) => {
            let exit = if result.failed_requests > 0 {
                format!(
                    "{} of {} requests failed ({})",
                    result.failed_requests,
                    result.total_requests,
                    percent(result.failed_requests as f64 / result.total_requests as f64)
                )
            } else {
                format!(
                    "no request failed, so the locustfile set the exit code ({} requests)",
                    result.total_requests
                )
            };
            if let Some(j) = f.thresholds.map(|t| judge(t, result))
                && !j.breached.is_empty()
            {
                return Some(MasterVerdict {
                    reason: THRESHOLDS_BREACHED,
                    message: format!(
                        "thresholds breached: {}; Locust also failed the run with exit code \
                         {code}: {exit}",
                        j.breached.join(", ")
                    ),
                });
            }
            Some(MasterVerdict {
                reason: TEST_FAILED,
                message: format!(
                    "Locust failed the run (the master exited with code {code}): {exit}; \
                     average response time {}{}",
                    ms(result.average_response_time),
                    result
                        .p95_response_time
                        .map(|p| format!(", p95 {}", ms(p)))
                        .unwrap_or_default()
                ),
            })
        }
        None if f.run_started == Some(false)
            || (f.run_started.is_none() && f.connected < f.expected) =>
        {
            Some(MasterVerdict {
                reason: WORKERS_NOT_CONNECTED,
                message: format!(
                    "only {}/{} workers connected and no request was made: the master gave up \
                 waiting for its workers{} and exited with code {code}; check the worker pods \
                 (PodsHealthy, their events and logs) and that they reach the master Service",
                    f.connected.max(0),
                    f.expected,
                    f.max_wait
                        .map(|s| format!(" after {s}s (expectWorkersMaxWait)"))
                        .unwrap_or_default()
                ),
            })
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(total: i64, failed: i64) -> TestResult {
        TestResult {
            total_requests: total,
            failed_requests: failed,
            failure_percentage: TestResult::failure_percentage_of(total, failed),
            average_response_time: 120.0,
            p95_response_time: Some(300.0),
            p99_response_time: Some(900.0),
            requests_per_second: Some(50.0),
        }
    }

    #[test]
    fn every_set_limit_is_judged_and_named() {
        let t = ThresholdsSpec {
            max_failure_ratio: Some(0.01),
            max_average_response_time: Some(200.0),
            max_p95_response_time: Some(250.0),
            max_p99_response_time: None,
            min_requests_per_second: Some(60.0),
        };
        let j = judge(&t, &result(1000, 20));
        assert_eq!(
            j.breached,
            vec![
                "failure ratio 2.00 % > 1.00 %",
                "p95 response time 300.0 ms > 250.0 ms",
                "requests per second 50.00/s < 60.00/s",
            ]
        );
        assert_eq!(j.met, vec!["average response time 120.0 ms <= 200.0 ms"]);
        let j = judge(&t, &result(1000, 10));
        assert!(
            j.met
                .contains(&"failure ratio 1.00 % <= 1.00 %".to_string()),
            "{j:?}"
        );
    }

    #[test]
    fn unmeasured_figures_break_their_limit() {
        let t = ThresholdsSpec {
            max_p99_response_time: Some(100.0),
            max_average_response_time: Some(100.0),
            ..Default::default()
        };
        let mut r = result(0, 0);
        r.p99_response_time = None;
        let j = judge(&t, &r);
        assert_eq!(j.breached.len(), 2, "{j:?}");
        assert!(j.breached[0].contains("not reported"), "{j:?}");
    }

    fn failed(code: i32, result: Option<&TestResult>, connected: i32) -> Option<MasterVerdict> {
        failed_master(&FailedMaster {
            exit_code: Some(code),
            result,
            thresholds: None,
            connected,
            run_started: None,
            expected: 3,
            max_wait: Some(300),
        })
    }

    #[test]
    fn locust_failing_the_run_is_a_test_failure_with_numbers() {
        let r = result(200, 20);
        let v = failed(1, Some(&r), 3).expect("verdict");
        assert_eq!(v.reason, TEST_FAILED);
        assert!(
            v.message.contains("20 of 200 requests failed (10.00 %)"),
            "{}",
            v.message
        );
        let clean = result(200, 0);
        let v = failed(3, Some(&clean), 3).expect("custom exit code");
        assert!(
            v.message.contains("the locustfile set the exit code"),
            "{}",
            v.message
        );
    }

    #[test]
    fn no_requests_and_missing_workers_means_they_never_arrived() {
        let v = failed(1, None, 1).expect("verdict");
        assert_eq!(v.reason, WORKERS_NOT_CONNECTED);
        assert!(v.message.contains("1/3 workers"), "{}", v.message);
        assert!(v.message.contains("after 300s"), "{}", v.message);
        let zero = result(0, 0);
        assert_eq!(
            failed(1, Some(&zero), 0).map(|v| v.reason),
            Some(WORKERS_NOT_CONNECTED)
        );
    }

    #[test]
    fn a_master_seen_waiting_never_started_whatever_the_pods_say() {
        let v = failed_master(&FailedMaster {
            exit_code: Some(1),
            result: None,
            thresholds: None,
            connected: 0,
            run_started: Some(false),
            expected: 3,
            max_wait: Some(8),
        })
        .expect("verdict");
        assert_eq!(v.reason, WORKERS_NOT_CONNECTED);
        assert!(v.message.contains("only 0/3"), "{}", v.message);
        let started = failed_master(&FailedMaster {
            exit_code: Some(1),
            result: None,
            thresholds: None,
            connected: 0,
            run_started: Some(true),
            expected: 3,
            max_wait: Some(8),
        });
        assert_eq!(started, None, "it ran: not a missing-workers failure");
    }

    #[test]
    fn crashes_and_kills_are_not_judgements() {
        let r = result(200, 20);
        assert_eq!(failed(137, Some(&r), 3), None, "OOM kill");
        assert_eq!(failed(2, Some(&r), 3), None, "unhandled exception");
        assert_eq!(failed(1, None, 3), None, "all workers, no numbers");
        let v = failed_master(&FailedMaster {
            exit_code: None,
            result: Some(&r),
            thresholds: None,
            connected: 3,
            run_started: None,
            expected: 3,
            max_wait: None,
        });
        assert_eq!(v, None, "no exit code known");
    }

    #[test]
    fn thresholds_win_over_the_exit_code() {
        let r = result(200, 20);
        let t = ThresholdsSpec {
            max_failure_ratio: Some(0.05),
            ..Default::default()
        };
        let v = failed_master(&FailedMaster {
            exit_code: Some(1),
            result: Some(&r),
            thresholds: Some(&t),
            connected: 3,
            run_started: Some(true),
            expected: 3,
            max_wait: None,
        })
        .expect("verdict");
        assert_eq!(v.reason, THRESHOLDS_BREACHED);
        assert!(
            v.message
                .starts_with("thresholds breached: failure ratio 10.00 % > 5.00 %"),
            "{}",
            v.message
        );
    }
}
