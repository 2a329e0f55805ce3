//! Status of a LocustTest, written by the operator through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of a LocustTest.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocustTestStatus {
    /// Lifecycle phase: Pending, Running, Succeeded or Failed. It only moves forward:
    /// never from Running back to Pending, never out of Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// The number of Locust worker processes the master waits for
    /// (worker replicas × processes per pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_workers: Option<i32>,

    /// The number of workers connected to the master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_workers: Option<i32>,

    /// When the test started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the test reached Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// The `metadata.generation` of the spec the operator last acted on. Spec edits after
    /// the test started are not applied (tests are immutable), so this stays at the
    /// generation the test was started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Summary of the final Locust statistics, set when the test ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TestResult>,

    /// Name of the ConfigMap (owned by the test, so deleted with it) that keeps the final
    /// statistics (`stats.json`, the master's last `/stats/requests` answer) and the HTML
    /// report (`report.html.gz`, gzip in binaryData). Save the report with:
    /// `kubectl get configmap <name> -o jsonpath='{.binaryData.report\.html\.gz}' | base64 -d | gunzip > report.html`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_config_map: Option<String>,

    /// Live numbers read from the Locust master while the test runs (absent when the
    /// master's API cannot be reached). Updated only when they change noticeably (users
    /// change, requests per second move by more than 10 %, the failure ratio by more than
    /// one point), not on every poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveStatus>,

    /// Standard Kubernetes conditions: Ready, WorkersConnected, TestCompleted,
    /// PodsHealthy and SpecDrifted. Once the test has ended, Ready's reason is the verdict
    /// (the Result column): TestSucceeded, or why it failed: TestFailed (Locust failed the
    /// run; the message has the numbers), ThresholdsBreached, WorkersNotConnected,
    /// ResultUnavailable, MasterFailed, WorkersFailed, or a pod problem (ImagePullError,
    /// ConfigurationError, CrashLoopBackOff, OOMKilled, SchedulingError). For kstatus
    /// (Flux, kpt): Reconciling is True while the test is Pending or Running, Stalled is
    /// True once it failed or while it cannot start until someone acts; neither is present
    /// once it succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The lifecycle phase of a LocustTest.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Phase {
    /// Resources are being created or pods are not running yet.
    Pending,
    /// The master is running the test.
    Running,
    /// The test ran and completed successfully.
    Succeeded,
    /// The test failed; the Ready/TestCompleted conditions say why.
    Failed,
}

impl Phase {
    /// Succeeded and Failed are terminal: a test never leaves them.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }

    /// The name used in the API and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

/// Live numbers of a running test, from the Locust master's `/stats/requests`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveStatus {
    /// Users running.
    pub users: i64,
    /// Current requests per second (all endpoints).
    pub requests_per_second: f64,
    /// Failed requests over all requests so far (0 to 1).
    pub failure_ratio: f64,
}

/// Summary of a finished test, taken from Locust's final statistics.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Total requests made during the test.
    pub total_requests: i64,
    /// Requests that failed.
    pub failed_requests: i64,
    /// Failed requests as a percentage of all requests (0 to 100, two decimals); absent
    /// when no request was made. Shown in the `Fail %` column of `kubectl get locusttests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_percentage: Option<f64>,
    /// Average response time in milliseconds.
    pub average_response_time: f64,
    /// 95th percentile response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_response_time: Option<f64>,
    /// 99th percentile response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_response_time: Option<f64>,
    /// Average requests per second over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
}

impl TestResult {
    /// `failed` of `total` requests as a percentage rounded to two decimals, for
    /// [`TestResult::failure_percentage`]; `None` when no request was made (nothing failed,
    /// but nothing succeeded either).
    pub fn failure_percentage_of(total: i64, failed: i64) -> Option<f64> {
        (total > 0).then(|| {
            let percent = failed.clamp(0, total) as f64 * 100.0 / total as f64;
            (percent * 100.0).round() / 100.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TestResult;

    #[test]
    fn failure_percentage_is_rounded_and_absent_without_requests() {
        assert_eq!(TestResult::failure_percentage_of(0, 0), None);
        assert_eq!(TestResult::failure_percentage_of(200, 0), Some(0.0));
        assert_eq!(TestResult::failure_percentage_of(200, 20), Some(10.0));
        assert_eq!(TestResult::failure_percentage_of(3, 1), Some(33.33));
        assert_eq!(TestResult::failure_percentage_of(3, 2), Some(66.67));
        assert_eq!(TestResult::failure_percentage_of(7, 7), Some(100.0));
        // Counters from the API are not trusted to be consistent.
        assert_eq!(TestResult::failure_percentage_of(5, 9), Some(100.0));
        assert_eq!(TestResult::failure_percentage_of(5, -1), Some(0.0));
    }
}
