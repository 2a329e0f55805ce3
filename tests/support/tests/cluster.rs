//! The control plane behaves like a real cluster: real version, real scheduling, Jobs
//! that complete or fail as their pods' annotations ask, and RBAC enforced.
//!
//! All tests share one cluster, each in its own namespace.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerStateWaiting, Pod, PodSpec, PodTemplateSpec, ServiceAccount, Toleration,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use test_cluster::nodes::{PERFORMANCE_LABEL, PERFORMANCE_NODE, PERFORMANCE_TAINT};
use test_cluster::{Result, annotations, shared};

/// How long a Job may take to finish here (pods run 3 s by default).
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// The Kubernetes version pinned in tests/cluster/kube/go.mod.
fn pinned_kube_version() -> String {
    let go_mod = test_cluster::binaries::workspace_root().join("tests/cluster/kube/go.mod");
    let text = std::fs::read_to_string(&go_mod)
        .unwrap_or_else(|e| panic!("reading {}: {e}", go_mod.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("require k8s.io/kubernetes "))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| {
            panic!(
                "no `require k8s.io/kubernetes` line in {}",
                go_mod.display()
            )
        })
}

fn job(name: &str, pod_annotations: &[(&str, &str)], pod_spec: PodSpec) -> Job {
    let annotations: BTreeMap<String, String> = pod_annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    ..pod_spec
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

fn container() -> Vec<Container> {
    vec![Container {
        name: "locust".to_owned(),
        image: Some("locustio/locust:2.43.1".to_owned()),
        ..Container::default()
    }]
}

fn job_condition(kind: &'static str) -> impl Condition<Job> {
    move |job: Option<&Job>| {
        job.and_then(|j| j.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
    }
}

async fn wait_job(api: &Api<Job>, name: &str, kind: &'static str) -> Job {
    let waited = tokio::time::timeout(
        JOB_TIMEOUT,
        await_condition(api.clone(), name, job_condition(kind)),
    )
    .await;
    match waited {
        Ok(Ok(Some(job))) => job,
        other => {
            let now = api
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|j| j.status);
            panic!(
                "job {name} did not become {kind} within {JOB_TIMEOUT:?} ({other:?}); status now: {now:?}"
            )
        }
    }
}

async fn job_pods(client: &kube::Client, namespace: &str, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    pods.list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .expect("listing the job's pods")
        .items
}

#[tokio::test]
async fn api_server_reports_the_real_version() -> Result<()> {
    let cluster = shared().await?;
    let info = cluster
        .client()
        .await?
        .apiserver_version()
        .await
        .expect("GET /version");
    let pinned = pinned_kube_version();
    assert_eq!(info.git_version, pinned, "/version: {info:?}");
    assert_eq!(info.major, "1");
    assert!(
        pinned.starts_with(&format!("v1.{}.", info.minor)),
        "minor {} vs {pinned}",
        info.minor
    );
    Ok(())
}

#[tokio::test]
async fn job_is_scheduled_by_selector_and_toleration_and_completes() -> Result<()> {
    let cluster = shared().await?;
    let namespace = cluster.namespace("job-complete").await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let spec = PodSpec {
        containers: container(),
        node_selector: Some(BTreeMap::from([(
            PERFORMANCE_LABEL.0.to_owned(),
            PERFORMANCE_LABEL.1.to_owned(),
        )])),
        tolerations: Some(vec![Toleration {
            key: Some(PERFORMANCE_TAINT.0.to_owned()),
            operator: Some("Equal".to_owned()),
            value: Some(PERFORMANCE_TAINT.1.to_owned()),
            effect: Some(PERFORMANCE_TAINT.2.to_owned()),
            ..Toleration::default()
        }]),
        ..PodSpec::default()
    };
    jobs.create(&PostParams::default(), &job("master", &[], spec))
        .await
        .expect("creating the job");

    let done = wait_job(&jobs, "master", "Complete").await;
    assert_eq!(done.status.and_then(|s| s.succeeded), Some(1));
    let pods = job_pods(&client, &namespace, "master").await;
    assert_eq!(pods.len(), 1, "one pod: {pods:?}");
    let pod = &pods[0];
    assert_eq!(
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some(PERFORMANCE_NODE)
    );
    let status = pod.status.clone().unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    let terminated = status.container_statuses.unwrap_or_default()[0]
        .state
        .clone()
        .and_then(|s| s.terminated);
    let terminated = terminated.expect("container terminated");
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    Ok(())
}

#[tokio::test]
async fn pods_without_toleration_stay_off_the_tainted_node() -> Result<()> {
    let cluster = shared().await?;
    let namespace = cluster.namespace("no-toleration").await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let mut spec = job(
        "plain",
        &[(annotations::RUN_SECONDS, "1")],
        PodSpec {
            containers: container(),
            ..PodSpec::default()
        },
    );
    if let Some(s) = spec.spec.as_mut() {
        s.completions = Some(6);
        s.parallelism = Some(6);
    }
    jobs.create(&PostParams::default(), &spec)
        .await
        .expect("creating the job");
    wait_job(&jobs, "plain", "Complete").await;
    for pod in job_pods(&client, &namespace, "plain").await {
        let node = pod.spec.and_then(|s| s.node_name).unwrap_or_default();
        assert!(
            node.starts_with("kwok-node-") && node != PERFORMANCE_NODE,
            "scheduled onto {node}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn exit_code_annotation_fails_the_job() -> Result<()> {
    let cluster = shared().await?;
    let namespace = cluster.namespace("job-fail").await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let failing = job(
        "worker",
        &[
            (annotations::EXIT_CODE, "1"),
            (annotations::RUN_SECONDS, "1"),
        ],
        PodSpec {
            containers: container(),
            ..PodSpec::default()
        },
    );
    jobs.create(&PostParams::default(), &failing)
        .await
        .expect("creating the job");

    let failed = wait_job(&jobs, "worker", "Failed").await;
    let reason = failed
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Failed");
    assert_eq!(
        reason.and_then(|c| c.reason).as_deref(),
        Some("BackoffLimitExceeded")
    );
    let pods = job_pods(&client, &namespace, "worker").await;
    let status = pods[0].status.clone().unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let terminated = status.container_statuses.unwrap_or_default()[0]
        .state
        .clone()
        .and_then(|s| s.terminated);
    let terminated = terminated.expect("container terminated");
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (1, Some("Error"))
    );
    Ok(())
}

#[tokio::test]
async fn waiting_reason_annotation_keeps_the_pod_waiting() -> Result<()> {
    let cluster = shared().await?;
    let namespace = cluster.namespace("waiting").await?;
    let client = cluster.client().await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let stuck = job(
        "pull",
        &[(annotations::WAITING_REASON, "ImagePullBackOff")],
        PodSpec {
            containers: container(),
            ..PodSpec::default()
        },
    );
    jobs.create(&PostParams::default(), &stuck)
        .await
        .expect("creating the job");

    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let waiting_reason = |pod: &Pod| -> Option<String> {
        let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
        statuses
            .first()?
            .state
            .as_ref()?
            .waiting
            .as_ref()
            .and_then(|w: &ContainerStateWaiting| w.reason.clone())
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = pods
            .list(&ListParams::default().labels("job-name=pull"))
            .await
            .expect("listing pods");
        if listed.items.first().and_then(waiting_reason).as_deref() == Some("ImagePullBackOff") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ImagePullBackOff after 30 s: {:?}",
            listed.items
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Longer than a Job pod's default run time: the pod must neither start nor finish.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pod = pods
        .list(&ListParams::default().labels("job-name=pull"))
        .await
        .expect("listing pods")
        .items
        .remove(0);
    assert_eq!(waiting_reason(&pod).as_deref(), Some("ImagePullBackOff"));
    let status = pod.status.clone().unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let ready = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready");
    assert_eq!(ready.map(|c| c.status).as_deref(), Some("False"));
    let job = jobs.get("pull").await.expect("reading the job");
    assert_eq!(
        job.status.and_then(|s| s.active),
        Some(1),
        "the job is still running"
    );
    Ok(())
}

#[tokio::test]
async fn rbac_is_enforced_for_issued_users() -> Result<()> {
    let cluster = shared().await?;
    let namespace = cluster.namespace("rbac").await?;
    let admin = cluster.client().await?;

    let path = cluster.kubeconfig_for("alice", &[])?;
    let kubeconfig =
        kube::config::Kubeconfig::read_from(&path).expect("reading alice's kubeconfig");
    let alice = test_cluster::kubeconfig::client(&kubeconfig).await?;
    let alice_pods: Api<Pod> = Api::namespaced(alice, &namespace);
    match alice_pods.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("alice listed pods without a role: {other:?}"),
    }

    let roles: Api<Role> = Api::namespaced(admin.clone(), &namespace);
    let role = Role {
        metadata: ObjectMeta {
            name: Some("pod-reader".to_owned()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_owned()]),
            verbs: vec!["get".to_owned(), "list".to_owned()],
            ..PolicyRule::default()
        }]),
    };
    roles
        .create(&PostParams::default(), &role)
        .await
        .expect("creating the role");
    let bind = |name: &str, subject: Subject| RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: "pod-reader".to_owned(),
        },
        subjects: Some(vec![subject]),
    };
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &namespace);
    let user = Subject {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: "User".to_owned(),
        name: "alice".to_owned(),
        namespace: None,
    };
    bindings
        .create(&PostParams::default(), &bind("alice", user))
        .await
        .expect("binding alice");
    eventually_lists(&alice_pods, "alice").await;

    // A group binding reaches a user through the certificate's organization.
    let group = Subject {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: "Group".to_owned(),
        name: "testers".to_owned(),
        namespace: None,
    };
    bindings
        .create(&PostParams::default(), &bind("testers", group))
        .await
        .expect("binding the group");
    let bob: Api<Pod> = Api::namespaced(
        cluster.client_for("bob", &["viewers", "testers"]).await?,
        &namespace,
    );
    eventually_lists(&bob, "bob in group testers").await;
    let carol: Api<Pod> =
        Api::namespaced(cluster.client_for("carol", &["viewers"]).await?, &namespace);
    assert!(
        carol.list(&ListParams::default()).await.is_err(),
        "carol is in no bound group"
    );

    // A service account authenticates with a token from the TokenRequest API.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &namespace);
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("operator".to_owned()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("creating the service account");
    let sa_kubeconfig = kube::config::Kubeconfig::read_from(
        cluster
            .kubeconfig_for_service_account(&namespace, "operator")
            .await?,
    )
    .expect("reading the service account's kubeconfig");
    let operator: Api<Pod> = Api::namespaced(
        test_cluster::kubeconfig::client(&sa_kubeconfig).await?,
        &namespace,
    );
    match operator.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("the service account listed pods without a role: {other:?}"),
    }
    let sa = Subject {
        api_group: None,
        kind: "ServiceAccount".to_owned(),
        name: "operator".to_owned(),
        namespace: Some(namespace.clone()),
    };
    bindings
        .create(&PostParams::default(), &bind("operator", sa))
        .await
        .expect("binding the service account");
    eventually_lists(&operator, "the service account").await;
    Ok(())
}

/// RBAC changes reach the authorizer through an informer: allow a moment.
async fn eventually_lists(pods: &Api<Pod>, who: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match pods.list(&ListParams::default()).await {
            Ok(_) => return,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                panic!("{who} still cannot list pods: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn bare_pod(name: &str, restart_policy: &str, pod_annotations: &[(&str, &str)]) -> Pod {
    let annotations = pod_annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: container(),
            restart_policy: Some(restart_policy.to_owned()),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

#[tokio::test]
async fn bare_pods_end_only_when_they_would_by_themselves() -> Result<()> {
    let cluster = shared().await?;
    let namespace = cluster.namespace("bare-pods").await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client().await?, &namespace);
    let create = |pod: Pod| {
        let pods = pods.clone();
        async move {
            pods.create(&PostParams::default(), &pod)
                .await
                .expect("creating a pod")
        }
    };
    create(bare_pod("once", "Never", &[])).await;
    create(bare_pod(
        "asked",
        "Always",
        &[(annotations::RUN_SECONDS, "1")],
    ))
    .await;
    create(bare_pod("server", "Always", &[])).await;

    let phase = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default()
    };
    for name in ["once", "asked"] {
        let succeeded = move |p: Option<&Pod>| p.is_some_and(|p| phase(p) == "Succeeded");
        tokio::time::timeout(JOB_TIMEOUT, await_condition(pods.clone(), name, succeeded))
            .await
            .unwrap_or_else(|_| panic!("pod {name} did not succeed in time"))
            .expect("watching the pod");
    }
    // "once" ran its default 3 s; a pod that restarts forever must still run.
    let server = pods.get("server").await.expect("reading the pod");
    assert_eq!(phase(&server), "Running", "{:?}", server.status);
    Ok(())
}
