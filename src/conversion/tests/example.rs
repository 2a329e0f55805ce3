//! `examples/v1.yaml` converted to v2, checked field by field against the spec's table.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, NodeSelectorRequirement, Toleration};

use super::{has_reserved, v1_round_trip};
use crate::api::{v1, v2};

const EXAMPLE: &str = include_str!("../../../examples/v1.yaml");

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn the_v1_example_converts_as_the_table_says() {
    let v1: v1::LocustTest = crate::yaml::from_yaml(EXAMPLE).expect("example parses");
    let v2 = v1_round_trip(&v1);
    assert!(!has_reserved(&v2.metadata));
    assert_eq!(v2.metadata.name.as_deref(), Some("legacy-test"));
    assert_eq!(v2.status, None);

    let spec = &v2.spec;
    // masterCommandSeed → master.command, workerCommandSeed → worker.command
    assert_eq!(
        spec.master.command,
        "--locustfile /lotest/src/demo.py --host https://demo.example.com --users 100 --spawn-rate 10 --run-time 3m"
    );
    assert_eq!(spec.worker.command, "--locustfile /lotest/src/demo.py");
    // workerReplicas → worker.replicas
    assert_eq!(spec.worker.replicas, 3);
    // image, imagePullPolicy, imagePullSecrets
    assert_eq!(spec.image, "locustio/locust:2.43.1");
    assert_eq!(
        spec.image_pull_policy,
        Some(v2::ImagePullPolicy::IfNotPresent)
    );
    assert_eq!(
        spec.image_pull_secrets,
        Some(vec![LocalObjectReference {
            name: "my-registry-secret".into()
        }])
    );
    // configMap → testFiles.configMapRef, libConfigMap → testFiles.libConfigMapRef,
    // with the default mount paths
    assert_eq!(
        spec.test_files,
        Some(v2::TestFilesSpec {
            config_map_ref: Some("demo-test-map".into()),
            lib_config_map_ref: Some("demo-lib-map".into()),
            src_mount_path: Some("/lotest/src".into()),
            lib_mount_path: Some("/opt/locust/lib".into()),
            ..Default::default()
        })
    );
    // labels.{master,worker} → {master,worker}.labels; annotations likewise
    assert_eq!(spec.master.labels, Some(map(&[("team", "perf")])));
    assert_eq!(
        spec.worker.labels,
        Some(map(&[("team", "perf"), ("tier", "load")]))
    );
    assert_eq!(
        spec.master.annotations,
        Some(map(&[("example.com/owner", "perf-team")]))
    );
    assert_eq!(
        spec.worker.annotations,
        Some(map(&[("example.com/owner", "perf-team")]))
    );
    // affinity → scheduling.affinity: one term, one In expression per label
    let scheduling = spec.scheduling.as_ref().expect("scheduling");
    let affinity = scheduling.affinity.as_ref().expect("affinity");
    assert_eq!(affinity.pod_affinity, None);
    assert_eq!(affinity.pod_anti_affinity, None);
    let node = affinity.node_affinity.as_ref().expect("node affinity");
    assert_eq!(
        node.preferred_during_scheduling_ignored_during_execution,
        None
    );
    let terms = &node
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("required")
        .node_selector_terms;
    assert_eq!(terms.len(), 1);
    assert_eq!(terms[0].match_fields, None);
    let expression = |key: &str, value: &str| NodeSelectorRequirement {
        key: key.into(),
        operator: "In".into(),
        values: Some(vec![value.into()]),
    };
    assert_eq!(
        terms[0].match_expressions,
        Some(vec![
            expression("kubernetes.io/arch", "amd64"),
            expression("workload-type", "performance-testing"),
        ])
    );
    // tolerations → scheduling.tolerations
    assert_eq!(
        scheduling.tolerations,
        Some(vec![Toleration {
            key: Some("dedicated".into()),
            operator: Some("Equal".into()),
            value: Some("locust".into()),
            effect: Some("NoSchedule".into()),
            toleration_seconds: None,
        }])
    );
    assert_eq!(scheduling.node_selector, None);
    assert_eq!(scheduling.runtime_class_name, None);
    // v2-only fields: the table's defaults
    assert_eq!(spec.master.autostart, Some(true));
    assert_eq!(
        spec.master.autoquit,
        Some(v2::AutoquitSpec {
            enabled: Some(true),
            timeout: Some(60)
        })
    );
    assert_eq!(spec.master.resources, None);
    assert_eq!(spec.worker.resources, None);
    assert_eq!(spec.master.extra_args, None);
    assert_eq!(spec.worker.extra_args, None);
    assert_eq!(spec.env, None);
    assert_eq!(spec.volumes, None);
    assert_eq!(spec.volume_mounts, None);
    assert_eq!(spec.observability, None);
}
