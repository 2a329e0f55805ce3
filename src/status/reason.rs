//! Every reason the operator writes, in conditions and in Events, in one place.
//!
//! Reasons are part of the API: users match on them in alerts, pipelines and
//! `kubectl wait`. Each is CamelCase and says where it appears. A Ready reason of a
//! finished test is its verdict ([`TEST_FAILED`], [`THRESHOLDS_BREACHED`], …); the
//! infrastructure reasons ([`MASTER_FAILED`], the pod reasons) are kept apart from the
//! verdicts on Locust's own numbers.

// ---- Ready ----

/// Ready: the Service and both Jobs exist; also the Event when they were first created.
pub const RESOURCES_CREATED: &str = "ResourcesCreated";
/// Ready: some children do not exist (yet, or again).
pub const RESOURCES_PENDING: &str = "ResourcesPending";
/// Ready (blocked) and Event: the spec failed validation; the test waits for a fix.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// Ready (blocked) and Event: a referenced ConfigMap does not exist.
pub const CONFIG_MAP_MISSING: &str = "ConfigMapMissing";
/// Ready (blocked) and Event: the PersistentVolumeClaim holding the test files
/// (`testFiles.persistentVolumeClaim`) does not exist.
pub const PERSISTENT_VOLUME_CLAIM_MISSING: &str = "PersistentVolumeClaimMissing";
/// Ready (blocked) and Event: the API server refused to create a child.
pub const CREATE_FAILED: &str = "CreateFailed";
/// Ready (blocked) and Event: `webUI.httpRoute` is set but the cluster does not serve the
/// Gateway API's HTTPRoute (its CRDs are not installed).
pub const GATEWAY_API_MISSING: &str = "GatewayAPIMissing";
/// Ready (blocked) and Event: the Secret of `webUI.auth` (or one of its keys) is missing,
/// empty, or may not be read.
pub const AUTH_SECRET_MISSING: &str = "AuthSecretMissing";

// ---- Verdicts (Ready of a finished test; TestCompleted says TestFailed for all) ----

/// Ready and TestCompleted, and Event: the run happened and Locust failed it (failed
/// requests, or a locustfile setting the exit code).
pub const TEST_FAILED: &str = "TestFailed";
/// Ready: a `spec.thresholds` limit was broken.
pub const THRESHOLDS_BREACHED: &str = "ThresholdsBreached";
/// Ready: the master gave up waiting for its workers.
pub const WORKERS_NOT_CONNECTED: &str = "WorkersNotConnected";
/// Ready: thresholds are set but the final statistics could not be read.
pub const RESULT_UNAVAILABLE: &str = "ResultUnavailable";
/// Ready: the master Job failed for a reason Locust's numbers do not explain.
pub const MASTER_FAILED: &str = "MasterFailed";
/// Ready: the workers failed while the master had not finished.
pub const WORKERS_FAILED: &str = "WorkersFailed";

// ---- TestCompleted ----

/// TestCompleted: the test has not finished.
pub const TEST_IN_PROGRESS: &str = "TestInProgress";
/// TestCompleted: the master Job completed successfully (and thresholds, if any, held).
pub const TEST_SUCCEEDED: &str = "TestSucceeded";

// ---- WorkersConnected ----

/// WorkersConnected: all expected workers are connected.
pub const ALL_WORKERS_CONNECTED: &str = "AllWorkersConnected";
/// WorkersConnected: fewer workers than expected are connected.
pub const WORKERS_MISSING: &str = "WorkersMissing";
/// WorkersConnected: the master's API was unreachable; all expected worker pods are
/// Ready.
pub const WORKERS_CONNECTED_FROM_PODS: &str = "WorkersConnectedFromPods";
/// WorkersConnected: the master's API was unreachable; fewer worker pods than expected
/// are Ready.
pub const WORKERS_MISSING_FROM_PODS: &str = "WorkersMissingFromPods";
/// WorkersConnected after the test ended: nobody is connected any more, as expected.
pub const TEST_FINISHED: &str = "TestFinished";

// ---- PodsHealthy (also the Ready reason when unhealthy pods fail the test) ----

/// PodsHealthy: every pod is healthy (or still starting normally).
pub const PODS_HEALTHY: &str = "PodsHealthy";
/// PodsHealthy: no pod of the test exists yet.
pub const WAITING_FOR_PODS: &str = "WaitingForPods";
/// PodsHealthy: an image cannot be pulled.
pub const IMAGE_PULL_ERROR: &str = "ImagePullError";
/// PodsHealthy: a referenced ConfigMap/Secret (or key, or volume) is missing, or the
/// container cannot be created from its configuration.
pub const CONFIGURATION_ERROR: &str = "ConfigurationError";
/// PodsHealthy: a container keeps crashing.
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";
/// PodsHealthy: a container was killed for exceeding its memory limit.
pub const OOM_KILLED: &str = "OOMKilled";
/// PodsHealthy: the API server refuses to create the pods (Pod Security admission, a
/// quota, a missing ServiceAccount or PriorityClass): the Job's FailedCreate events.
pub const POD_CREATE_FAILED: &str = "PodCreateFailed";
/// PodsHealthy: a pod cannot be scheduled.
pub const SCHEDULING_ERROR: &str = "SchedulingError";
/// PodsHealthy, and Ready of a test that failed for it: the `lotest-pip` init container
/// could not install `testFiles.requirements`.
pub const DEPENDENCY_INSTALL_FAILED: &str = "DependencyInstallFailed";
/// PodsHealthy, and Ready of a test that failed for it: the `lotest-git` init container
/// could not fetch `testFiles.git`.
pub const TEST_FILES_FETCH_FAILED: &str = "TestFilesFetchFailed";

// ---- SpecDrifted ----

/// SpecDrifted: the spec was edited after the test started.
pub const SPEC_CHANGE_IGNORED: &str = "SpecChangeIgnored";
/// SpecDrifted: the spec is back to what the test started with.
pub const SPEC_RESTORED: &str = "SpecRestored";

// ---- Reconciling (kstatus; Stalled carries the Ready reason) ----

/// Reconciling: the test waits for its pods.
pub const TEST_PENDING: &str = "TestPending";
/// Reconciling: the test runs.
pub const TEST_RUNNING: &str = "TestRunning";

// ---- Events only ----

/// Event: the master became ready.
pub const TEST_STARTED: &str = "TestStarted";
/// Event: the test succeeded.
pub const TEST_COMPLETED: &str = "TestCompleted";
/// Event: a pod became unhealthy (or its problem changed).
pub const PODS_UNHEALTHY: &str = "PodsUnhealthy";
/// Event: the spec was edited after the test started.
pub const SPEC_DRIFTED: &str = "SpecDrifted";
/// Event: a child deleted by someone else was recreated.
pub const CHILD_RECREATED: &str = "ChildRecreated";
/// Event: the final statistics and HTML report were kept in the report ConfigMap.
pub const REPORT_KEPT: &str = "ReportKept";
/// Event: the report ConfigMap could not be written.
pub const REPORT_NOT_KEPT: &str = "ReportNotKept";
/// Event: a finished test is deleted (`spec.ttlSecondsAfterFinished`).
pub const TTL_EXPIRED: &str = "TTLExpired";
/// Event: children the Go operator created were adopted.
pub const ADOPTED: &str = "Adopted";

#[cfg(test)]
mod tests {
    /// Every reason is CamelCase (the Kubernetes convention for reasons).
    #[test]
    fn reasons_are_camel_case() {
        let src = include_str!("reason.rs");
        let values: Vec<&str> = src
            .lines()
            .filter(|l| l.starts_with("pub const") && l.contains("= \""))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert!(values.len() > 30, "{values:?}");
        for v in values {
            assert!(
                v.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && v.chars().all(|c| c.is_ascii_alphanumeric()),
                "{v}"
            );
        }
    }
}
