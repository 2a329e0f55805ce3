//! LocustTests for the suites and creating many at once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use locust_k8s_operator::api::v2::{
    LocustTest, LocustTestSpec, MasterSpec, TestFilesSpec, WorkerSpec,
};
use test_cluster::annotations;

use crate::setup::LOCUSTFILE;
use crate::{Result, ctx};

/// A LocustTest with `workers` worker pods whose pods (on kwok) run `run_seconds`, master
/// and workers alike, then succeed.
pub fn locust_test(name: &str, workers: i32, run_seconds: u32) -> LocustTest {
    let fate = Some(BTreeMap::from([(
        annotations::RUN_SECONDS.to_owned(),
        run_seconds.to_string(),
    )]));
    LocustTest::new(
        name,
        LocustTestSpec {
            image: "locustio/locust:2.43.1".into(),
            master: MasterSpec {
                command: "locust -f /lotest/src/locustfile.py --host http://target:8080 --users 10 --spawn-rate 5 --run-time 1m".into(),
                annotations: fate.clone(),
                ..MasterSpec::default()
            },
            worker: WorkerSpec {
                command: "locust -f /lotest/src/locustfile.py".into(),
                replicas: workers,
                annotations: fate,
                ..WorkerSpec::default()
            },
            test_files: Some(TestFilesSpec {
                config_map_ref: Some(LOCUSTFILE.into()),
                ..TestFilesSpec::default()
            }),
            ..LocustTestSpec::default()
        },
    )
}

/// `count` tests named `<prefix>-0000`, … (see [`locust_test`]).
pub fn many(prefix: &str, count: usize, workers: i32, run_seconds: u32) -> Vec<LocustTest> {
    (0..count)
        .map(|i| locust_test(&format!("{prefix}-{i:04}"), workers, run_seconds))
        .collect()
}

/// Creates `tests` in `ns`, `concurrency` requests at a time; returns when each create
/// was acknowledged by the API server. A throttled (429) or failed (5xx, connection)
/// create is tried again for up to a minute; "already exists" after such a retry counts.
pub async fn create_all(
    client: &Client,
    ns: &str,
    tests: Vec<LocustTest>,
    concurrency: usize,
) -> Result<HashMap<String, Instant>> {
    let api: Api<LocustTest> = Api::namespaced(client.clone(), ns);
    let results: Vec<Result<(String, Instant)>> = futures::stream::iter(tests)
        .map(|test| {
            let api = api.clone();
            async move {
                let name = test.name_any();
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut retried = false;
                loop {
                    match api.create(&PostParams::default(), &test).await {
                        Ok(_) => return Ok((name, Instant::now())),
                        Err(kube::Error::Api(s)) if s.code == 409 && retried => {
                            return Ok((name, Instant::now()));
                        }
                        Err(e) if transient(&e) && Instant::now() < deadline => {
                            retried = true;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Err(e) => return Err(ctx(format!("creating LocustTest {name}"))(e)),
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Whether an API error is worth trying again: throttled, a server error, no connection.
pub fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        _ => true,
    }
}
