//! Which test, and which role in it, a cached pod belongs to (pure). The operator's pods
//! carry the exact test name in an annotation and the role in `app.kubernetes.io/component`;
//! the Go operator's pods (no `app.kubernetes.io/*` label) carry the test's name in
//! `performance-test-name` and their Job's name in `performance-test-pod-name`.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::builders::Role;
use crate::builders::labels::{
    COMPONENT, K8S_MANAGED_BY, POD_NAME, TEST_NAME, TEST_NAME_ANNOTATION,
};
use crate::naming;

/// The LocustTest a pod belongs to: the operator's annotation (exact, where the label may
/// be a shortened name), or, on a pod of the Go operator (no `app.kubernetes.io/managed-by`
/// label), its `performance-test-name` label, which holds the test's name itself.
pub fn pod_test_name(pod: &Pod) -> Option<&str> {
    pod.annotations()
        .get(TEST_NAME_ANNOTATION)
        .or_else(|| {
            (!pod.labels().contains_key(K8S_MANAGED_BY))
                .then(|| pod.labels().get(TEST_NAME))
                .flatten()
        })
        .map(String::as_str)
}

/// A pod's role in test `cr_name`: its component label, or, on a pod of the Go operator,
/// the Job its `performance-test-pod-name` label names.
pub fn pod_role(pod: &Pod, cr_name: &str) -> Option<Role> {
    let labels = pod.labels();
    match labels.get(COMPONENT).map(String::as_str) {
        Some(c) if c == Role::Master.component() => Some(Role::Master),
        Some(c) if c == Role::Worker.component() => Some(Role::Worker),
        Some(_) => None,
        None => match labels.get(POD_NAME) {
            Some(job) if *job == naming::go_master_name(cr_name) => Some(Role::Master),
            Some(job) if *job == naming::go_worker_name(cr_name) => Some(Role::Worker),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::builders::labels::MANAGED_BY;
    use crate::builders::test_support::minimal;
    use crate::config::OperatorConfig;

    fn pod(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Pod {
        let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Pod {
            metadata: ObjectMeta {
                labels: Some(map(labels)),
                annotations: Some(map(annotations)),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    /// A pod as the Go operator labels it (`internal/resources/labels.go`).
    fn go_pod(cr_name: &str, job: &str) -> Pod {
        pod(
            &[
                ("app", cr_name),
                (TEST_NAME, cr_name),
                (POD_NAME, job),
                (MANAGED_BY, "locust-k8s-operator"),
                ("job-name", job),
            ],
            &[("prometheus.io/scrape", "true")],
        )
    }

    #[test]
    fn the_operators_pods_are_named_by_their_annotation_and_component() {
        let children = crate::builders::test_support::build(&minimal(), &OperatorConfig::default())
            .expect("built");
        for (job, role) in [
            (&children.master_job, Role::Master),
            (&children.worker_job, Role::Worker),
        ] {
            let meta = job
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.clone())
                .unwrap_or_default();
            let p = Pod {
                metadata: meta,
                ..Pod::default()
            };
            assert_eq!(pod_test_name(&p), Some("demo"));
            assert_eq!(pod_role(&p, "demo"), Some(role));
        }
        // The label alone never names the test of an operator's pod (it may be shortened).
        let p = pod(
            &[(TEST_NAME, "demo"), (K8S_MANAGED_BY, "locust-k8s-operator")],
            &[],
        );
        assert_eq!(pod_test_name(&p), None);
    }

    #[test]
    fn the_go_operators_pods_are_named_by_their_labels() {
        let master = go_pod("team.legacy", "team-legacy-master");
        let worker = go_pod("team.legacy", "team-legacy-worker");
        assert_eq!(pod_test_name(&master), Some("team.legacy"));
        assert_eq!(pod_role(&master, "team.legacy"), Some(Role::Master));
        assert_eq!(pod_role(&worker, "team.legacy"), Some(Role::Worker));
        assert_eq!(pod_role(&master, "other"), None, "another test's Job");
        let odd = go_pod("demo", "demo-exporter");
        assert_eq!(pod_role(&odd, "demo"), None);
    }
}
