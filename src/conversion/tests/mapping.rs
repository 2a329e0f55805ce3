//! One test per line of the spec's v1 → v2 table (requirements 4.4). Each converts a v1
//! object to v2, checks the v2 field, and checks the object comes back identical without
//! the annotation.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::{minimal_v1_spec, v1_object, v1_round_trip};
use crate::api::status::{LocustTestStatus, Phase};
use crate::api::{v1, v2};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn convert(spec: v1::LocustTestSpec) -> v2::LocustTestSpec {
    v1_round_trip(&v1_object(spec)).spec
}

#[test]
fn master_command_seed_becomes_master_command() {
    let v2 = convert(v1::LocustTestSpec {
        master_command_seed: "--locustfile /lotest/src/a.py --users 'ten users'".into(),
        ..minimal_v1_spec()
    });
    assert_eq!(
        v2.master.command,
        "--locustfile /lotest/src/a.py --users 'ten users'"
    );
}

#[test]
fn worker_command_seed_becomes_worker_command() {
    let v2 = convert(v1::LocustTestSpec {
        worker_command_seed: "locust -f /lotest/src/b.py".into(),
        ..minimal_v1_spec()
    });
    assert_eq!(v2.worker.command, "locust -f /lotest/src/b.py");
}

#[test]
fn worker_replicas_becomes_worker_replicas() {
    let v2 = convert(v1::LocustTestSpec {
        worker_replicas: 37,
        ..minimal_v1_spec()
    });
    assert_eq!(v2.worker.replicas, 37);
}

#[test]
fn image_maps_directly() {
    let v2 = convert(v1::LocustTestSpec {
        image: "registry.example.com/locust:1".into(),
        ..minimal_v1_spec()
    });
    assert_eq!(v2.image, "registry.example.com/locust:1");
}

#[test]
fn image_pull_policy_maps_directly() {
    assert_eq!(convert(minimal_v1_spec()).image_pull_policy, None);
    for policy in [
        v2::ImagePullPolicy::Always,
        v2::ImagePullPolicy::IfNotPresent,
        v2::ImagePullPolicy::Never,
    ] {
        let v2 = convert(v1::LocustTestSpec {
            image_pull_policy: Some(policy),
            ..minimal_v1_spec()
        });
        assert_eq!(v2.image_pull_policy, Some(policy));
    }
}

#[test]
fn image_pull_secret_names_become_references() {
    let v2 = convert(v1::LocustTestSpec {
        image_pull_secrets: Some(vec!["one".into(), "two".into()]),
        ..minimal_v1_spec()
    });
    assert_eq!(
        v2.image_pull_secrets,
        Some(vec![
            LocalObjectReference { name: "one".into() },
            LocalObjectReference { name: "two".into() },
        ])
    );
    let empty = convert(v1::LocustTestSpec {
        image_pull_secrets: Some(vec![]),
        ..minimal_v1_spec()
    });
    assert_eq!(empty.image_pull_secrets, Some(vec![]));
    assert_eq!(convert(minimal_v1_spec()).image_pull_secrets, None);
}

#[test]
fn config_map_becomes_test_files_config_map_ref_with_default_mount_path() {
    let v2 = convert(v1::LocustTestSpec {
        config_map: Some("tests".into()),
        ..minimal_v1_spec()
    });
    assert_eq!(
        v2.test_files,
        Some(v2::TestFilesSpec {
            config_map_ref: Some("tests".into()),
            lib_config_map_ref: None,
            src_mount_path: Some("/lotest/src".into()),
            lib_mount_path: None,
            ..Default::default()
        })
    );
}

#[test]
fn lib_config_map_becomes_test_files_lib_config_map_ref_with_default_mount_path() {
    let v2 = convert(v1::LocustTestSpec {
        lib_config_map: Some("lib".into()),
        ..minimal_v1_spec()
    });
    assert_eq!(
        v2.test_files,
        Some(v2::TestFilesSpec {
            config_map_ref: None,
            lib_config_map_ref: Some("lib".into()),
            src_mount_path: None,
            lib_mount_path: Some("/opt/locust/lib".into()),
            ..Default::default()
        })
    );
}

#[test]
fn no_config_maps_means_no_test_files() {
    assert_eq!(convert(minimal_v1_spec()).test_files, None);
}

#[test]
fn labels_move_under_their_role() {
    let v2 = convert(v1::LocustTestSpec {
        labels: Some(v1::PodMetadata {
            master: Some(map(&[("role", "m")])),
            worker: Some(map(&[("role", "w"), ("tier", "load")])),
        }),
        ..minimal_v1_spec()
    });
    assert_eq!(v2.master.labels, Some(map(&[("role", "m")])));
    assert_eq!(
        v2.worker.labels,
        Some(map(&[("role", "w"), ("tier", "load")]))
    );

    let master_only = convert(v1::LocustTestSpec {
        labels: Some(v1::PodMetadata {
            master: Some(map(&[])),
            worker: None,
        }),
        ..minimal_v1_spec()
    });
    assert_eq!(master_only.master.labels, Some(map(&[])));
    assert_eq!(master_only.worker.labels, None);
}

#[test]
fn annotations_move_under_their_role() {
    let v2 = convert(v1::LocustTestSpec {
        annotations: Some(v1::PodMetadata {
            master: Some(map(&[("example.com/owner", "perf")])),
            worker: Some(map(&[("example.com/owner", "load")])),
        }),
        ..minimal_v1_spec()
    });
    assert_eq!(
        v2.master.annotations,
        Some(map(&[("example.com/owner", "perf")]))
    );
    assert_eq!(
        v2.worker.annotations,
        Some(map(&[("example.com/owner", "load")]))
    );

    let worker_only = convert(v1::LocustTestSpec {
        annotations: Some(v1::PodMetadata {
            master: None,
            worker: Some(map(&[("a", "b")])),
        }),
        ..minimal_v1_spec()
    });
    assert_eq!(worker_only.master.annotations, None);
    assert_eq!(worker_only.worker.annotations, Some(map(&[("a", "b")])));
}

#[test]
fn empty_per_role_maps_are_the_one_shape_without_v2_counterpart() {
    let spec = v1::LocustTestSpec {
        labels: Some(v1::PodMetadata::default()),
        annotations: Some(v1::PodMetadata::default()),
        ..minimal_v1_spec()
    };
    let v2 = convert(spec.clone());
    assert_eq!(v2, convert(minimal_v1_spec()));
}

#[test]
fn affinity_becomes_one_term_with_an_in_expression_per_label() {
    let v2 = convert(v1::LocustTestSpec {
        affinity: Some(v1::LocustAffinity {
            node_affinity: Some(v1::LocustNodeAffinity {
                required_during_scheduling_ignored_during_execution: map(&[
                    ("workload", "perf"),
                    ("kubernetes.io/arch", "amd64"),
                ]),
            }),
        }),
        ..minimal_v1_spec()
    });
    let expression = |key: &str, value: &str| NodeSelectorRequirement {
        key: key.into(),
        operator: "In".into(),
        values: Some(vec![value.into()]),
    };
    assert_eq!(
        v2.scheduling,
        Some(v2::SchedulingSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![
                                expression("kubernetes.io/arch", "amd64"),
                                expression("workload", "perf"),
                            ]),
                            match_fields: None,
                        }],
                    }),
                    preferred_during_scheduling_ignored_during_execution: None,
                }),
                pod_affinity: None,
                pod_anti_affinity: None,
            }),
            ..v2::SchedulingSpec::default()
        })
    );
}

#[test]
fn empty_affinity_shapes_round_trip() {
    for affinity in [
        v1::LocustAffinity {
            node_affinity: None,
        },
        v1::LocustAffinity {
            node_affinity: Some(v1::LocustNodeAffinity::default()),
        },
    ] {
        let v2 = convert(v1::LocustTestSpec {
            affinity: Some(affinity),
            ..minimal_v1_spec()
        });
        assert!(v2.scheduling.is_some_and(|s| s.affinity.is_some()));
    }
}

#[test]
fn tolerations_become_kubernetes_tolerations() {
    let v2 = convert(v1::LocustTestSpec {
        tolerations: Some(vec![
            v1::LocustToleration {
                key: "dedicated".into(),
                operator: v1::TolerationOperator::Equal,
                value: Some("locust".into()),
                effect: v1::TaintEffect::NoSchedule,
            },
            v1::LocustToleration {
                key: "spot".into(),
                operator: v1::TolerationOperator::Exists,
                value: None,
                effect: v1::TaintEffect::NoExecute,
            },
        ]),
        ..minimal_v1_spec()
    });
    assert_eq!(
        v2.scheduling,
        Some(v2::SchedulingSpec {
            tolerations: Some(vec![
                Toleration {
                    key: Some("dedicated".into()),
                    operator: Some("Equal".into()),
                    value: Some("locust".into()),
                    effect: Some("NoSchedule".into()),
                    toleration_seconds: None,
                },
                Toleration {
                    key: Some("spot".into()),
                    operator: Some("Exists".into()),
                    value: None,
                    effect: Some("NoExecute".into()),
                    toleration_seconds: None,
                },
            ]),
            ..v2::SchedulingSpec::default()
        })
    );
}

#[test]
fn v2_only_fields_get_the_tables_defaults() {
    let v2 = convert(minimal_v1_spec());
    // master.autostart: true; master.autoquit: {enabled: true, timeout: 60}
    assert_eq!(v2.master.autostart, Some(true));
    assert_eq!(
        v2.master.autoquit,
        Some(v2::AutoquitSpec {
            enabled: Some(true),
            timeout: Some(60),
        })
    );
    // resources: operator defaults; extraArgs, nodeSelector, env, volumes, volumeMounts:
    // empty; observability: OpenTelemetry off. All unset, which means exactly that.
    assert_eq!(v2.master.resources, None);
    assert_eq!(v2.worker.resources, None);
    assert_eq!(v2.master.extra_args, None);
    assert_eq!(v2.worker.extra_args, None);
    assert_eq!(v2.worker.processes_per_pod, None);
    assert_eq!(v2.scheduling, None);
    assert_eq!(v2.env, None);
    assert_eq!(v2.volumes, None);
    assert_eq!(v2.volume_mounts, None);
    assert_eq!(v2.observability, None);
    assert_eq!(v2.output, None);
    assert_eq!(v2.web_ui, None);
    assert_eq!(v2.security, None);
}

#[test]
fn metadata_and_status_pass_through() {
    let mut v1 = v1_object(minimal_v1_spec());
    v1.metadata.namespace = Some("load".into());
    v1.metadata.labels = Some(map(&[("team", "perf")]));
    v1.metadata.annotations = Some(map(&[("note", "keep")]));
    v1.metadata.generation = Some(4);
    v1.metadata.resource_version = Some("123".into());
    v1.status = Some(LocustTestStatus {
        phase: Some(Phase::Running),
        expected_workers: Some(2),
        connected_workers: Some(1),
        observed_generation: Some(4),
        live: Some(crate::api::status::LiveStatus {
            users: 10,
            requests_per_second: 19.5,
            failure_ratio: 0.1,
        }),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "ResourcesCreated".into(),
            message: "created".into(),
            last_transition_time: Time(Timestamp::from_second(1_700_000_000).expect("valid")),
            observed_generation: Some(4),
        }],
        ..LocustTestStatus::default()
    });
    let v2 = v1_round_trip(&v1);
    assert_eq!(v2.metadata, v1.metadata);
    assert_eq!(v2.status, v1.status);
}
