//! Pod Security and sidecars on the real node: in a namespace enforcing the `restricted`
//! Pod Security Standard the default Locust pods are admitted and the kubelet accepts
//! their numeric non-root user; a sidecar that never exits (an extra container, as a
//! non-native Istio proxy would be) does not hold the test: it ends with Locust, and the
//! held master Job is suspended so its pod goes.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::common;
use crate::harness;

#[tokio::test]
#[ignore = "needs the real node: make e2e"]
async fn restricted_namespace_and_a_sidecar_that_never_exits() {
    let client = harness::client().await;
    let ns = harness::namespace(&client, "restricted").await;
    harness::prepare(&ns);
    // From now on only pods that pass `restricted` are admitted (the target already runs).
    harness::kubectl(&[
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
    ]);

    let mut test = harness::small_test("guarded", "ok.py", "15s");
    test["spec"]["master"]["pod"] = serde_json::json!({"extraContainers": [{
        "name": "proxy",
        "image": "locustio/locust:2.43.1",
        "command": ["python3", "-c", "import time; time.sleep(86400)"],
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
    }]});
    harness::apply_json(&ns, &test).expect("applies");

    let done = harness::wait_succeeded_with_requests(&client, &ns, "guarded").await;
    assert!(
        done.status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref())
            .is_some(),
        "{}",
        common::describe(&done)
    );
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    common::eventually(
        "the held master Job suspended and its pod gone",
        Duration::from_secs(120),
        || async {
            let job = jobs
                .get("guarded-master")
                .await
                .map_err(|e| e.to_string())?;
            let suspended = job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
            let left = pods
                .list(&ListParams::default().labels("performance-test-pod-name=guarded-master"))
                .await
                .map_err(|e| e.to_string())?
                .items
                .len();
            if suspended && left == 0 {
                Ok(())
            } else {
                Err(format!("suspended {suspended}, {left} master pods"))
            }
        },
    )
    .await;
}
