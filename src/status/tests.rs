//! Scenario tests of [`derive`] and [`events`].

use k8s_openapi::api::core::v1::Pod;

use super::conditions::{
    self, FALSE, PODS_HEALTHY, READY, TEST_COMPLETED, TRUE, WORKERS_CONNECTED,
};
use super::test_support::*;
use super::*;
use crate::api::status::{LocustTestStatus, Phase, TestResult};

/// Runs `steps` (time, observation) from an empty status; returns every status.
fn run(steps: &[(i64, Observed)]) -> Vec<LocustTestStatus> {
    let mut status = LocustTestStatus::default();
    let mut out = Vec::new();
    for (t, obs) in steps {
        status = derive(&status, obs, 2, &at(*t), GRACE);
        out.push(status.clone());
    }
    out
}

fn cond<'a>(
    s: &'a LocustTestStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions::find(&s.conditions, type_).unwrap_or_else(|| panic!("no {type_} condition"))
}

fn with_pods(master: Vec<Pod>, workers: Vec<Pod>) -> Observed {
    Observed {
        master_pods: master,
        worker_pods: workers,
        ..created()
    }
}

fn master_ready() -> Pod {
    pod("demo-master-x").ready(10).build()
}

/// The master and both workers ready.
fn all_running() -> Observed {
    with_pods(
        vec![master_ready()],
        vec![pod("w-0").ready(12).build(), pod("w-1").ready(12).build()],
    )
}

fn finished_master(job_type: &str, reason: &str, t: i64) -> Observed {
    Observed {
        master_job: Some(with_condition(job(1), job_type, reason, t)),
        ..created()
    }
}

#[test]
fn phase_is_monotonic() {
    let gone = Observed {
        generation: 1,
        ..Observed::default()
    };
    let mut failed_later = finished_master("Failed", "BackoffLimitExceeded", 40);
    failed_later.master_pods = vec![pod("m").terminated(1, "Error").build()];
    let steps = [
        (0, created()),
        (10, with_pods(vec![master_ready()], vec![])),
        // Pods and children disappear: still Running, never back to Pending.
        (20, gone.clone()),
        (25, created()),
        (30, finished_master("Complete", "CompletionsReached", 30)),
        // Terminal stays terminal, whatever is observed afterwards.
        (40, failed_later),
        (50, gone),
    ];
    let s = run(&steps);
    let phases: Vec<_> = s.iter().map(|s| s.phase).collect();
    use Phase::*;
    assert_eq!(
        phases,
        [
            Pending, Running, Running, Running, Succeeded, Succeeded, Succeeded
        ]
        .map(Some)
    );
    assert_eq!(cond(&s[2], READY).reason, reason::RESOURCES_PENDING);
    assert!(cond(&s[2], READY).message.contains("master Service"));
    assert_eq!(s[4], s[5]);
    assert_eq!(s[4], s[6]);
}

#[test]
fn success_path_sets_timestamps_once() {
    let steps = [
        (0, created()),
        (12, with_pods(vec![master_ready()], vec![])),
        (20, with_pods(vec![master_ready()], vec![])),
        (60, finished_master("Complete", "CompletionsReached", 50)),
    ];
    let s = run(&steps);
    assert_eq!(s[0].start_time, None);
    assert_eq!(s[1].start_time, Some(at(12)));
    assert_eq!(s[2].start_time, Some(at(12)));
    assert_eq!(s[3].start_time, Some(at(12)));
    assert_eq!(s[2].completion_time, None);
    assert_eq!(s[3].completion_time, Some(at(50)));
    assert_eq!(s[3].phase, Some(Phase::Succeeded));
    let tc = cond(&s[3], TEST_COMPLETED);
    assert_eq!(
        (tc.status.as_str(), tc.reason.as_str()),
        (TRUE, "TestSucceeded")
    );
    let ready = cond(&s[3], READY);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        (TRUE, "TestSucceeded"),
        "Ready carries the verdict of a finished test"
    );
    assert_eq!(ready.message, tc.message);
    assert_eq!(
        cond(&s[2], READY).reason,
        "ResourcesCreated",
        "while it runs, the objects"
    );
    assert_eq!(s[3].observed_generation, Some(1));
    assert_eq!(tc.observed_generation, Some(1));
    let wc = cond(&s[3], WORKERS_CONNECTED);
    assert_eq!(
        (wc.status.as_str(), wc.reason.as_str()),
        (FALSE, "TestFinished"),
        "a finished test does not report its workers as missing"
    );
}

#[test]
fn a_finished_test_reports_no_connected_workers_even_while_their_pods_wind_down() {
    // The master is done; the worker pods are still Ready for a moment (they exit when
    // the master's quit reaches them). connectedWorkers must agree with WorkersConnected.
    let mut done = finished_master("Complete", "CompletionsReached", 50);
    done.master_pods = vec![pod("m").terminated(0, "Completed").build()];
    done.worker_pods = vec![pod("w0").ready(10).build(), pod("w1").ready(10).build()];
    let s = run(&[(20, all_running()), (60, done)]);
    assert_eq!(
        s[0].connected_workers,
        Some(2),
        "counted from Ready pods while it runs"
    );
    assert_eq!(s[1].phase, Some(Phase::Succeeded));
    assert_eq!(s[1].connected_workers, Some(0));
    let wc = cond(&s[1], WORKERS_CONNECTED);
    assert_eq!(
        (wc.status.as_str(), wc.reason.as_str()),
        (FALSE, "TestFinished")
    );
}

#[test]
fn a_test_finished_before_it_was_seen_running_gets_a_start_time() {
    let mut obs = finished_master("Complete", "CompletionsReached", 50);
    obs.master_pods = vec![pod("m").terminated(0, "Completed").build()];
    let s = run(&[(60, obs)]);
    assert_eq!(s[0].phase, Some(Phase::Succeeded));
    assert_eq!(s[0].start_time, Some(at(5)));
    assert_eq!(s[0].completion_time, Some(at(50)));
    let reasons: Vec<&str> = super::events(&LocustTestStatus::default(), &s[0])
        .iter()
        .map(|e| e.reason)
        .collect();
    assert_eq!(
        reasons,
        ["TestStarted", "TestCompleted"],
        "it started, once"
    );
}

/// (case, observations at t=0.., expected phase, Ready reason, TestCompleted reason,
/// text in the TestCompleted message)
#[test]
fn failures() {
    let mut master_exit_1 = finished_master("Failed", "BackoffLimitExceeded", 30);
    master_exit_1.master_pods = vec![pod("demo-master-x").terminated(1, "Error").build()];

    let mut worker_indexes_failed = with_pods(vec![master_ready()], vec![]);
    worker_indexes_failed.worker_job = Some(with_failed_indexes(job(2), "0-1"));

    let mut worker_job_failed = with_pods(vec![master_ready()], vec![]);
    worker_job_failed.worker_job = Some(with_condition(job(2), "Failed", "FailedIndexes", 30));

    // The current worker Job: its shared `backoffLimit` used up.
    let mut worker_budget_used_up = with_pods(vec![master_ready()], vec![]);
    worker_budget_used_up.worker_job =
        Some(with_condition(job(2), "Failed", "BackoffLimitExceeded", 30));

    let mut one_index_failed = with_pods(vec![master_ready()], vec![]);
    one_index_failed.worker_job = Some(with_failed_indexes(job(2), "1"));

    let cases: Vec<(&str, Observed, Phase, &str, &str, &str)> = vec![
        (
            "master exit 1",
            master_exit_1,
            Phase::Failed,
            reason::MASTER_FAILED,
            "TestFailed",
            "exited with code 1",
        ),
        (
            "all worker indexes failed",
            worker_indexes_failed,
            Phase::Failed,
            reason::WORKERS_FAILED,
            "TestFailed",
            "every worker index failed",
        ),
        (
            "worker Job failed",
            worker_job_failed,
            Phase::Failed,
            reason::WORKERS_FAILED,
            "TestFailed",
            "FailedIndexes",
        ),
        (
            "worker Job over its shared backoffLimit",
            worker_budget_used_up,
            Phase::Failed,
            reason::WORKERS_FAILED,
            "TestFailed",
            "BackoffLimitExceeded",
        ),
        (
            "one worker index failed",
            one_index_failed,
            Phase::Running,
            "ResourcesCreated",
            "TestInProgress",
            "running",
        ),
    ];
    for (name, obs, phase, ready, completed, text) in cases {
        let s = &run(&[(0, created()), (10, all_running()), (40, obs)])[2];
        assert_eq!(s.phase, Some(phase), "{name}");
        assert_eq!(cond(s, READY).reason, ready, "{name}");
        let tc = cond(s, TEST_COMPLETED);
        assert_eq!(tc.reason, completed, "{name}");
        assert!(tc.message.contains(text), "{name}: {}", tc.message);
        if phase == Phase::Failed {
            assert!(s.completion_time.is_some(), "{name}");
        }
    }
}

/// A failed git or pip init container fails the test with its own reason, naming the
/// container and how to read its logs; the Job's failure alone would say MasterFailed.
#[test]
fn a_failed_init_container_of_the_operator_names_the_cause() {
    let master = |container: &str| {
        let mut obs = finished_master("Failed", "BackoffLimitExceeded", 30);
        obs.master_pods = vec![pod("demo-master-x").init_failed(container, 1).build()];
        obs
    };
    let workers = |container: &str| {
        let mut obs = with_pods(
            vec![master_ready()],
            vec![pod("w-0").init_failed(container, 128).build()],
        );
        obs.worker_job = Some(with_condition(job(2), "Failed", "BackoffLimitExceeded", 30));
        obs
    };
    let cases = [
        (
            "master pip",
            master("lotest-pip"),
            reason::DEPENDENCY_INSTALL_FAILED,
            "demo-master-x -c lotest-pip",
        ),
        (
            "master git",
            master("lotest-git"),
            reason::TEST_FILES_FETCH_FAILED,
            "demo-master-x -c lotest-git",
        ),
        (
            "worker pip",
            workers("lotest-pip"),
            reason::DEPENDENCY_INSTALL_FAILED,
            "w-0 -c lotest-pip",
        ),
        (
            "worker git",
            workers("lotest-git"),
            reason::TEST_FILES_FETCH_FAILED,
            "w-0 -c lotest-git",
        ),
        (
            "user init container",
            master("wait-for-db"),
            reason::MASTER_FAILED,
            "the master Job failed",
        ),
    ];
    for (name, obs, want, text) in cases {
        let s = &run(&[(0, created()), (40, obs)])[1];
        assert_eq!(s.phase, Some(Phase::Failed), "{name}");
        let ready = cond(s, READY);
        assert_eq!(ready.reason, want, "{name}");
        assert!(ready.message.contains(text), "{name}: {}", ready.message);
        let healthy = cond(s, PODS_HEALTHY);
        if want == reason::MASTER_FAILED {
            assert_eq!(healthy.status, TRUE, "{name}: not the operator's container");
        } else {
            assert_eq!(
                (healthy.status.as_str(), healthy.reason.as_str()),
                (FALSE, want),
                "{name}"
            );
            assert!(
                healthy.message.contains("exited with code"),
                "{name}: {}",
                healthy.message
            );
        }
    }
    // While the pod still runs its init containers, or after they succeeded, all is well.
    let mut ok = pod("w-0").ready(12).build();
    if let Some(st) = ok.status.as_mut() {
        st.init_container_statuses = pod("x")
            .init_failed("lotest-pip", 0)
            .build()
            .status
            .and_then(|s| s.init_container_statuses);
    }
    let s = &run(&[
        (0, created()),
        (20, with_pods(vec![master_ready()], vec![ok])),
    ])[1];
    assert_eq!(
        cond(s, PODS_HEALTHY).status,
        TRUE,
        "{:?}",
        cond(s, PODS_HEALTHY)
    );
}

#[test]
fn pod_problems_are_named() {
    let cases: Vec<(&str, Pod, &str, &str)> = vec![
        (
            "image pull",
            pod("w-0").waiting("ImagePullBackOff").build(),
            "ImagePullError",
            "ImagePullBackOff",
        ),
        (
            "bad image name",
            pod("w-0").waiting("InvalidImageName").build(),
            "ImagePullError",
            "imagePullSecrets",
        ),
        (
            "missing ConfigMap key",
            pod("w-0").waiting("CreateContainerConfigError").build(),
            "ConfigurationError",
            "CreateContainerConfigError",
        ),
        (
            "crash loop",
            pod("w-0").waiting("CrashLoopBackOff").build(),
            "CrashLoopBackOff",
            "logs",
        ),
        (
            "OOM crash loop",
            pod("w-0")
                .waiting("CrashLoopBackOff")
                .last_oom_killed()
                .build(),
            "OOMKilled",
            "OOMKilled",
        ),
        (
            "OOM terminated",
            pod("w-0").terminated(137, "OOMKilled").build(),
            "OOMKilled",
            "memory limit",
        ),
        (
            "unschedulable",
            pod("w-0").unschedulable().build(),
            "SchedulingError",
            "Insufficient cpu",
        ),
        (
            "stuck creating",
            pod("w-0").waiting("ContainerCreating").build(),
            "ConfigurationError",
            "ContainerCreating",
        ),
        (
            "pulling a big image",
            pod("w-0")
                .waiting("ContainerCreating")
                .sandbox_ready()
                .build(),
            "PodsHealthy",
            "healthy",
        ),
        (
            "running",
            pod("w-0").ready(10).build(),
            "PodsHealthy",
            "all 1 pods",
        ),
    ];
    for (name, p, reason, text) in cases {
        // Observed 200 s after scheduling, so "stuck" is past the 120 s grace.
        let s = &run(&[(200, with_pods(vec![], vec![p]))])[0];
        let c = cond(s, PODS_HEALTHY);
        assert_eq!(c.reason, reason, "{name}");
        let want = if reason == "PodsHealthy" { TRUE } else { FALSE };
        assert_eq!(c.status, want, "{name}");
        assert!(c.message.contains(text), "{name}: {}", c.message);
        if want == FALSE {
            assert!(
                c.message.contains("worker pod w-0"),
                "{name}: {}",
                c.message
            );
        }
        // A problem fails the test only after the grace period.
        assert_eq!(s.phase, Some(Phase::Pending), "{name}");
    }
}

#[test]
fn a_pod_still_creating_within_the_grace_period_is_healthy() {
    let s = &run(&[(
        100,
        with_pods(
            vec![],
            vec![pod("w-0").waiting("ContainerCreating").build()],
        ),
    )])[0];
    assert_eq!(cond(s, PODS_HEALTHY).status, TRUE);
}

#[test]
fn unhealthy_pods_fail_the_test_only_after_the_grace_period() {
    let bad = || {
        with_pods(
            vec![],
            vec![
                pod("w-0").waiting("ErrImagePull").build(),
                pod("w-1").build(),
            ],
        )
    };
    let worse = || {
        with_pods(
            vec![],
            vec![
                pod("w-0").waiting("ImagePullBackOff").build(),
                pod("w-1").build(),
            ],
        )
    };
    let s = run(&[
        (0, created()),
        (10, bad()),
        (100, worse()),
        (129, worse()),
        (130, worse()),
    ]);
    let phases: Vec<_> = s.iter().map(|s| s.phase).collect();
    use Phase::*;
    assert_eq!(
        phases,
        [Pending, Pending, Pending, Pending, Failed].map(Some)
    );
    let c = cond(&s[3], PODS_HEALTHY);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (FALSE, "ImagePullError")
    );
    assert_eq!(c.last_transition_time, at(10));
    assert_eq!(cond(&s[4], READY).reason, "ImagePullError");
    assert_eq!(cond(&s[4], TEST_COMPLETED).reason, "TestFailed");
    assert!(cond(&s[4], TEST_COMPLETED).message.contains("w-0"));
    assert_eq!(s[4].start_time, None);
    assert_eq!(s[4].completion_time, Some(at(130)));

    // A problem that clears within the grace period restarts the clock.
    let healthy = || with_pods(vec![], vec![pod("w-0").build()]);
    let s = run(&[
        (10, bad()),
        (100, healthy()),
        (150, bad()),
        (260, bad()),
        (270, bad()),
    ]);
    let phases: Vec<_> = s.iter().map(|s| s.phase).collect();
    assert_eq!(
        phases,
        [Pending, Pending, Pending, Pending, Failed].map(Some)
    );
}

fn master(connected: i32) -> Option<MasterView> {
    Some(MasterView {
        connected_workers: connected,
        users: 10,
        requests_per_second: 20.0,
        failure_ratio: 0.0,
    })
}

#[test]
fn pending_workers_are_not_connected() {
    let mut obs = with_pods(
        vec![master_ready()],
        vec![pod("w-0").ready(10).build(), pod("w-1").build()],
    );
    obs.master = master(1);
    let s = &run(&[(20, obs)])[0];
    assert_eq!(s.phase, Some(Phase::Running));
    assert_eq!(s.expected_workers, Some(2));
    assert_eq!(s.connected_workers, Some(1));
    let c = cond(s, WORKERS_CONNECTED);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (FALSE, "WorkersMissing")
    );
    assert_eq!(c.message, "1/2 workers connected");

    let mut obs = with_pods(
        vec![master_ready()],
        vec![pod("w-0").ready(10).build(), pod("w-1").ready(11).build()],
    );
    obs.master = master(2);
    let s = &run(&[(20, obs)])[0];
    let c = cond(s, WORKERS_CONNECTED);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (TRUE, "AllWorkersConnected")
    );
    assert_eq!(c.message, "2/2 workers connected");
}

#[test]
fn without_the_master_ready_worker_pods_are_counted_and_the_reason_says_so() {
    let obs = with_pods(
        vec![master_ready()],
        vec![pod("w-0").ready(10).build(), pod("w-1").build()],
    );
    let s = &run(&[(20, obs)])[0];
    assert_eq!(s.connected_workers, Some(1));
    let c = cond(s, WORKERS_CONNECTED);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (FALSE, "WorkersMissingFromPods")
    );
    assert!(
        c.message.starts_with("1/2 workers connected"),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("master's API was unreachable"),
        "{}",
        c.message
    );
    assert_eq!(s.live, None);

    let obs = with_pods(
        vec![master_ready()],
        vec![pod("w-0").ready(10).build(), pod("w-1").ready(11).build()],
    );
    let s = &run(&[(20, obs)])[0];
    let c = cond(s, WORKERS_CONNECTED);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (TRUE, "WorkersConnectedFromPods")
    );
    assert_eq!(s.connected_workers, Some(2));
}

#[test]
fn the_master_count_wins_over_ready_pods() {
    let ready = || {
        with_pods(
            vec![master_ready()],
            vec![pod("w-0").ready(10).build(), pod("w-1").ready(11).build()],
        )
    };
    let mut one = ready();
    one.master = master(1);
    let mut two = ready();
    two.master = master(2);
    let s = run(&[(20, two), (30, one), (40, ready())]);
    let workers: Vec<_> = s.iter().map(|s| s.connected_workers).collect();
    assert_eq!(workers, [Some(2), Some(1), Some(2)]);
    let reasons: Vec<_> = s
        .iter()
        .map(|s| cond(s, WORKERS_CONNECTED).reason.clone())
        .collect();
    assert_eq!(
        reasons,
        [
            "AllWorkersConnected",
            "WorkersMissing",
            "WorkersConnectedFromPods"
        ]
    );
}

#[test]
fn live_numbers_are_written_only_when_they_change_noticeably() {
    let at_rps = |users: i64, rps: f64| {
        let mut o = with_pods(vec![master_ready()], vec![]);
        o.master = Some(MasterView {
            connected_workers: 2,
            users,
            requests_per_second: rps,
            failure_ratio: 0.05,
        });
        o
    };
    let s = run(&[
        (10, at_rps(10, 20.0)),
        (15, at_rps(10, 21.0)),
        (20, at_rps(10, 23.5)),
        (25, at_rps(5, 23.5)),
        (30, with_pods(vec![master_ready()], vec![])),
    ]);
    let live: Vec<_> = s
        .iter()
        .map(|s| s.live.as_ref().map(|l| (l.users, l.requests_per_second)))
        .collect();
    assert_eq!(
        live,
        [
            Some((10, 20.0)),
            Some((10, 20.0)),
            Some((10, 23.5)),
            Some((5, 23.5)),
            None
        ]
    );
    assert_eq!(s[0].live.as_ref().map(|l| l.failure_ratio), Some(0.05));
    assert_eq!(s[0], s[1], "a small change rewrites nothing");
}

#[test]
fn the_final_result_is_kept_and_reaches_a_finished_test() {
    let result = crate::api::status::TestResult {
        total_requests: 30,
        failed_requests: 3,
        average_response_time: 1.75,
        ..Default::default()
    };
    let mut with_result = with_pods(vec![master_ready()], vec![]);
    with_result.final_result = Some(result.clone());
    let s = run(&[
        (10, with_pods(vec![master_ready()], vec![])),
        (20, with_result),
        (30, with_pods(vec![master_ready()], vec![])),
    ]);
    assert_eq!(s[0].result, None);
    assert_eq!(s[1].result.as_ref(), Some(&result));
    assert_eq!(s[2].result.as_ref(), Some(&result), "kept once set");

    // A result that settles after the test finished still reaches the status.
    let done = run(&[(60, finished_master("Complete", "CompletionsReached", 50))]);
    let mut late = finished_master("Complete", "CompletionsReached", 50);
    late.final_result = Some(result.clone());
    let s = derive(&done[0], &late, 2, &at(70), GRACE);
    assert_eq!(s.result.as_ref(), Some(&result));
    assert_eq!(s.phase, Some(Phase::Succeeded));
}

#[test]
fn processes_per_pod_count_as_workers() {
    let mut obs = with_pods(vec![master_ready()], vec![pod("w-0").ready(10).build()]);
    obs.processes_per_pod = 4;
    let s = derive(&LocustTestStatus::default(), &obs, 8, &at(20), GRACE);
    assert_eq!(
        (s.expected_workers, s.connected_workers),
        (Some(8), Some(4))
    );
}

#[test]
fn last_transition_time_is_stable_while_status_is_unchanged() {
    let running = || with_pods(vec![master_ready()], vec![]);
    let s = run(&[
        (0, created()),
        (10, running()),
        (20, running()),
        (30, running()),
    ]);
    for type_ in [READY, WORKERS_CONNECTED, TEST_COMPLETED, PODS_HEALTHY] {
        assert_eq!(
            cond(&s[1], type_).last_transition_time,
            cond(&s[3], type_).last_transition_time,
            "{type_}"
        );
    }
    assert_eq!(cond(&s[3], READY).last_transition_time, at(0));
    // TestCompleted stayed False (its message changed): the time is kept.
    assert_eq!(cond(&s[3], TEST_COMPLETED).last_transition_time, at(0));
    // PodsHealthy went Unknown → True at 10.
    assert_eq!(cond(&s[3], PODS_HEALTHY).last_transition_time, at(10));
    assert_eq!(s[2], s[3]);
}

#[test]
fn conditions_owned_by_the_controller_are_kept() {
    let mut previous = LocustTestStatus::default();
    set_condition(
        &mut previous.conditions,
        conditions::condition(conditions::SPEC_DRIFTED, TRUE, "SpecChanged", "edited", 1),
        &at(3),
    );
    let s = derive(&previous, &created(), 2, &at(10), GRACE);
    let c = cond(&s, conditions::SPEC_DRIFTED);
    assert_eq!(
        (c.reason.as_str(), c.last_transition_time.clone()),
        ("SpecChanged", at(3))
    );
}

#[test]
fn events_are_emitted_once_per_transition() {
    let bad = || {
        with_pods(
            vec![master_ready()],
            vec![pod("w-0").waiting("ErrImagePull").build()],
        )
    };
    let crash = || {
        with_pods(
            vec![master_ready()],
            vec![pod("w-0").waiting("CrashLoopBackOff").build()],
        )
    };
    let running = || with_pods(vec![master_ready()], vec![]);
    let mut master_failed = finished_master("Failed", "BackoffLimitExceeded", 200);
    master_failed.master_pods = vec![pod("m").terminated(1, "Error").build()];
    let steps = [
        (0, created(), vec![]),
        (10, running(), vec![reason::TEST_STARTED]),
        (20, running(), vec![]),
        (30, bad(), vec![reason::PODS_UNHEALTHY]),
        (40, bad(), vec![]),
        (50, crash(), vec![reason::PODS_UNHEALTHY]),
        (60, running(), vec![]),
        (200, master_failed.clone(), vec![reason::TEST_FAILED]),
        (210, master_failed, vec![]),
        (220, created(), vec![]),
    ];
    let mut status = LocustTestStatus::default();
    for (t, obs, want) in steps {
        let new = derive(&status, &obs, 0, &at(t), GRACE);
        let got: Vec<_> = events(&status, &new).iter().map(|e| e.reason).collect();
        assert_eq!(got, want, "at {t}");
        // Re-running the same reconcile emits nothing new.
        let again = derive(&new, &obs, 0, &at(t), GRACE);
        assert!(events(&new, &again).is_empty(), "at {t} (again)");
        status = new;
    }

    let ok = finished_master("Complete", "CompletionsReached", 5);
    let s = derive(&LocustTestStatus::default(), &ok, 0, &at(6), GRACE);
    let evs = events(&LocustTestStatus::default(), &s);
    // A test seen only once it had finished still started, once.
    assert_eq!(evs.len(), 2);
    assert_eq!(
        (evs[0].reason, evs[0].kind),
        (reason::TEST_STARTED, EventKind::Normal)
    );
    assert_eq!(
        (evs[1].reason, evs[1].kind),
        (reason::TEST_COMPLETED, EventKind::Normal)
    );
}

fn numbers(total: i64, failed: i64) -> TestResult {
    TestResult {
        total_requests: total,
        failed_requests: failed,
        failure_percentage: TestResult::failure_percentage_of(total, failed),
        average_response_time: 80.0,
        p95_response_time: Some(200.0),
        p99_response_time: Some(400.0),
        requests_per_second: Some(10.0),
    }
}

fn master_exited(code: i32) -> Observed {
    let mut obs = finished_master("Failed", "BackoffLimitExceeded", 60);
    obs.master_pods = vec![pod("demo-master-x").terminated(code, "Error").build()];
    obs
}

#[test]
fn locust_failing_the_run_is_test_failed_with_the_numbers() {
    let mut obs = master_exited(1);
    obs.final_result = Some(numbers(300, 30));
    let s = &run(&[(0, created()), (10, all_running()), (60, obs)])[2];
    assert_eq!(s.phase, Some(Phase::Failed));
    let ready = cond(s, READY);
    assert_eq!(ready.reason, "TestFailed");
    assert!(
        ready
            .message
            .contains("30 of 300 requests failed (10.00 %)"),
        "{}",
        ready.message
    );
    assert_eq!(s.result, Some(numbers(300, 30)));
    assert!(s.start_time.is_some());
}

#[test]
fn workers_that_never_arrive_are_named() {
    let mut obs = master_exited(1);
    obs.expect_workers_max_wait = Some(120);
    // The master ran, the workers stayed Pending: none ever connected.
    let waiting = with_pods(
        vec![master_ready()],
        vec![pod("w-0").unschedulable().build()],
    );
    let s = &run(&[(0, created()), (10, waiting), (130, obs)])[2];
    assert_eq!(s.phase, Some(Phase::Failed));
    let ready = cond(s, READY);
    assert_eq!(ready.reason, "WorkersNotConnected");
    assert!(
        ready.message.contains("only 0/2 workers connected") && ready.message.contains("120s"),
        "{}",
        ready.message
    );
}

#[test]
fn a_crash_stays_an_infrastructure_failure() {
    let mut obs = master_exited(137);
    obs.final_result = Some(numbers(300, 0));
    let s = &run(&[(0, created()), (10, all_running()), (60, obs)])[2];
    assert_eq!(cond(s, READY).reason, reason::MASTER_FAILED);
}

fn thresholds() -> crate::api::v2::ThresholdsSpec {
    crate::api::v2::ThresholdsSpec {
        max_failure_ratio: Some(0.05),
        max_p95_response_time: Some(250.0),
        ..Default::default()
    }
}

#[test]
fn thresholds_judge_a_successful_run() {
    let mut ok = finished_master("Complete", "CompletionsReached", 60);
    ok.thresholds = Some(thresholds());
    ok.final_result = Some(numbers(1000, 10));
    let s = &run(&[(0, created()), (10, all_running()), (60, ok.clone())])[2];
    assert_eq!(s.phase, Some(Phase::Succeeded));
    let tc = cond(s, TEST_COMPLETED);
    assert!(
        tc.message
            .contains("1000 requests, 10 failed; thresholds met: failure ratio 1.00 % <= 5.00 %"),
        "{}",
        tc.message
    );

    let mut slow = ok.clone();
    let mut r = numbers(1000, 10);
    r.p95_response_time = Some(900.0);
    slow.final_result = Some(r);
    let s = &run(&[(0, created()), (10, all_running()), (60, slow)])[2];
    assert_eq!(s.phase, Some(Phase::Failed));
    let ready = cond(s, READY);
    assert_eq!(ready.reason, "ThresholdsBreached");
    assert_eq!(
        ready.message,
        "thresholds breached: p95 response time 900.0 ms > 250.0 ms"
    );
    assert_eq!(cond(s, TEST_COMPLETED).reason, "TestFailed");
}

#[test]
fn thresholds_without_numbers_cannot_pass() {
    let mut blind = finished_master("Complete", "CompletionsReached", 60);
    blind.thresholds = Some(thresholds());
    blind.master_error = Some("GET http://m:8089/stats/requests: cannot connect".into());
    let s = &run(&[(0, created()), (10, all_running()), (60, blind.clone())])[2];
    assert_eq!(s.phase, Some(Phase::Failed));
    let ready = cond(s, READY);
    assert_eq!(ready.reason, "ResultUnavailable");
    assert!(
        ready.message.contains("cannot connect"),
        "{}",
        ready.message
    );

    // The last `stopped` totals count once the master Job has finished.
    let mut late = blind;
    late.stopped_result = Some(numbers(1000, 0));
    let s = &run(&[(0, created()), (10, all_running()), (60, late)])[2];
    assert_eq!(s.phase, Some(Phase::Succeeded));
    assert_eq!(s.result, Some(numbers(1000, 0)));
}

#[test]
fn stopped_totals_wait_for_the_end_of_the_master() {
    let mut running = all_running();
    running.stopped_result = Some(numbers(5, 0));
    let s = &run(&[(0, created()), (10, running)])[1];
    assert_eq!(s.result, None, "not settled, and the master is still up");
}

/// A master Job that never finishes because a non-native sidecar keeps its pod Running.
fn held_open_master(code: i32) -> Observed {
    with_pods(
        vec![
            pod("demo-master-x")
                .held_open("locust-master", code, 90)
                .build(),
        ],
        vec![
            pod("w-0").held_open("locust-worker", 0, 91).build(),
            pod("w-1").held_open("locust-worker", 0, 91).build(),
        ],
    )
}

#[test]
fn a_sidecar_holding_the_pod_open_does_not_hold_the_verdict() {
    let s = run(&[(10, all_running()), (100, held_open_master(0))]);
    assert_eq!(s[1].phase, Some(Phase::Succeeded));
    assert_eq!(s[1].completion_time, Some(at(90)), "when Locust exited");
    assert_eq!(cond(&s[1], TEST_COMPLETED).reason, reason::TEST_SUCCEEDED);

    let s = run(&[(10, all_running()), (100, held_open_master(3))]);
    assert_eq!(s[1].phase, Some(Phase::Failed));
    let ready = cond(&s[1], READY);
    assert_eq!(ready.reason, reason::MASTER_FAILED);
    assert!(
        ready.message.contains("exited with code 3")
            && ready.message.contains("kept its pod running"),
        "{}",
        ready.message
    );
}

#[test]
fn only_the_locust_container_ending_counts_not_a_sidecar() {
    // The sidecar ended, Locust runs on: still running.
    let mut obs = all_running();
    obs.master_pods = vec![
        pod("demo-master-x")
            .held_open("istio-proxy-init", 0, 20)
            .build(),
    ];
    let s = run(&[(10, all_running()), (30, obs)]);
    assert_eq!(s[1].phase, Some(Phase::Running));
}

#[test]
fn pods_the_api_server_refuses_are_unhealthy_and_fail_the_test_after_the_grace_period() {
    let refused = || {
        let mut obs = created();
        obs.refused_pods = vec![RefusedPods {
            role: crate::builders::Role::Worker,
            job: "demo-worker".into(),
            message:
                "pods \"demo-worker-0-x\" is forbidden: violates PodSecurity \"restricted:latest\""
                    .into(),
        }];
        obs
    };
    let s = run(&[(10, refused()), (200, refused())]);
    let c = cond(&s[0], PODS_HEALTHY);
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (FALSE, "PodCreateFailed")
    );
    assert!(
        c.message.contains("worker pods of Job demo-worker")
            && c.message.contains("violates PodSecurity"),
        "{}",
        c.message
    );
    assert_eq!(s[0].phase, Some(Phase::Pending));
    assert_eq!(s[1].phase, Some(Phase::Failed));
    assert_eq!(cond(&s[1], READY).reason, "PodCreateFailed");
}

#[test]
fn a_container_that_just_exited_in_a_pod_still_marked_running_is_not_held_open() {
    // The kubelet reports the container's exit a moment before the pod's phase: without
    // another running container nothing holds the pod, and the Job decides.
    let mut just_exited = pod("demo-master-x")
        .held_open("locust-master", 1, 90)
        .build();
    if let Some(statuses) = just_exited
        .status
        .as_mut()
        .and_then(|s| s.container_statuses.as_mut())
    {
        statuses.retain(|c| c.name == "locust-master");
    }
    let mut obs = all_running();
    obs.master_pods = vec![just_exited];
    let s = run(&[(10, all_running()), (100, obs)]);
    assert_eq!(s[1].phase, Some(Phase::Running));
}
