//! Bad neighbours: a namespace full of unrelated pods and Jobs must not slow the operator
//! nor grow its memory, because it caches only what carries its label. Measured with the
//! operator watching every namespace (the widest install): RSS and create → children
//! latency before and after the neighbours arrive, and, from the audit log, that every
//! list and watch of pods, Jobs and Services it made was selected by its label.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use locust_bench::operator::Operator;
use locust_bench::setup::OPERATOR_USER;
use locust_bench::stats::median;
use locust_bench::track::{Tracker, sequential_latencies};
use locust_bench::{Result, ctx as with};
use serde_json::json;
use test_cluster::annotations;

use super::{Ctx, Findings, RUN_SECONDS, env, options};

pub async fn run(ctx: &Ctx) -> Result<Findings> {
    let (pods, jobs, samples) = if ctx.short {
        (100, 20, 10)
    } else {
        (500, 100, 20)
    };
    let (env, audit) = env().await?;
    let ns = env.namespace("ours").await?;
    let opts = options(ctx, env.operator_kubeconfig(OPERATOR_USER)?, &[], &[]);
    let mut op = Operator::start("neighbours", &opts, &ctx.logs)?;
    op.wait_ready(Duration::from_secs(30)).await?;
    let tracker = Tracker::start(&env.admin, &ns).await;
    let before =
        sequential_latencies(&env.admin, &ns, &tracker, "before", samples, RUN_SECONDS).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_before, _) = op.memory_mib()?;

    let noisy = env.namespace("neighbours").await?;
    let fate = BTreeMap::from([(annotations::RUN_SECONDS.to_owned(), RUN_SECONDS.to_string())]);
    let template = |name: Option<String>| -> (ObjectMeta, PodSpec) {
        (
            ObjectMeta {
                name,
                labels: Some(BTreeMap::from([("app".to_owned(), "neighbour".to_owned())])),
                annotations: Some(fate.clone()),
                ..ObjectMeta::default()
            },
            PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some("registry.example/neighbour:1".into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            },
        )
    };
    let pod_api: Api<Pod> = Api::namespaced(env.admin.clone(), &noisy);
    let job_api: Api<Job> = Api::namespaced(env.admin.clone(), &noisy);
    let creates = futures::stream::iter(0..pods)
        .map(|i| {
            let (metadata, spec) = template(Some(format!("neighbour-{i}")));
            let api = pod_api.clone();
            async move {
                api.create(
                    &PostParams::default(),
                    &Pod {
                        metadata,
                        spec: Some(spec),
                        ..Pod::default()
                    },
                )
                .await
                .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    creates
        .into_iter()
        .collect::<std::result::Result<Vec<()>, _>>()
        .map_err(with("creating neighbour pods"))?;
    let creates = futures::stream::iter(0..jobs)
        .map(|i| {
            let (metadata, mut spec) = template(None);
            spec.restart_policy = Some("Never".into());
            let job = Job {
                metadata: ObjectMeta {
                    name: Some(format!("neighbour-job-{i}")),
                    ..ObjectMeta::default()
                },
                spec: Some(JobSpec {
                    template: PodTemplateSpec {
                        metadata: Some(metadata),
                        spec: Some(spec),
                    },
                    ..JobSpec::default()
                }),
                ..Job::default()
            };
            let api = job_api.clone();
            async move { api.create(&PostParams::default(), &job).await.map(|_| ()) }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    creates
        .into_iter()
        .collect::<std::result::Result<Vec<()>, _>>()
        .map_err(with("creating neighbour Jobs"))?;
    // Wait until the neighbours' pods all run.
    let want = pods + jobs;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let running = pod_api
            .list(&ListParams::default())
            .await
            .map_err(with("listing neighbour pods"))?
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if running >= want {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "only {running} of {want} neighbour pods run after 180 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after =
        sequential_latencies(&env.admin, &ns, &tracker, "after", samples, RUN_SECONDS).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_after, hwm) = op.memory_mib()?;
    op.check()?;

    // Every list/watch of pods, Jobs and Services by the operator carried its label: Jobs
    // and Services `app.kubernetes.io/managed-by`, pods the legacy `managed-by` (which the
    // Go operator's pods carry too).
    let requests = audit.requests()?;
    let unselected: Vec<String> = requests
        .iter()
        .filter(|r| matches!(r.verb.as_str(), "list" | "watch"))
        .filter(|r| matches!(r.resource.as_str(), "pods" | "jobs" | "services"))
        .filter(|r| {
            let selector = if r.resource == "pods" {
                "labelSelector=managed-by%3Dlocust-k8s-operator"
            } else {
                "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dlocust-k8s-operator"
            };
            !r.uri.contains(selector)
        })
        .map(|r| r.uri.clone())
        .collect();
    let checked = requests
        .iter()
        .filter(|r| matches!(r.verb.as_str(), "list" | "watch"))
        .filter(|r| matches!(r.resource.as_str(), "pods" | "jobs" | "services"))
        .count();
    if checked == 0 {
        return Err("the audit log shows no list or watch of pods, Jobs or Services".into());
    }
    if !unselected.is_empty() {
        return Err(format!(
            "the operator listed or watched without its label: {unselected:?}"
        ));
    }
    let (p50_before, p50_after) = (median(&before), median(&after));
    let grew = rss_after - rss_before;
    if grew > 3.0 {
        return Err(format!(
            "RSS grew by {grew:.1} MiB with {want} neighbour pods and {jobs} Jobs"
        ));
    }
    if p50_after > (2.0 * p50_before).max(p50_before + 100.0) {
        return Err(format!(
            "median latency went from {p50_before:.0} ms to {p50_after:.0} ms"
        ));
    }
    Ok(vec![
        ("neighbour_pods".into(), json!(want)),
        ("neighbour_jobs".into(), json!(jobs)),
        ("rss_before_mib".into(), json!(rss_before)),
        ("rss_after_mib".into(), json!(rss_after)),
        ("peak_rss_mib".into(), json!(hwm)),
        ("latency_p50_before_ms".into(), json!(p50_before)),
        ("latency_p50_after_ms".into(), json!(p50_after)),
        (
            "operator_lists_and_watches_of_pods_jobs_services".into(),
            json!(checked),
        ),
    ])
}
