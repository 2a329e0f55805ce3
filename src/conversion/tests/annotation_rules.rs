//! The rules of the reserved annotation (see the module documentation).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{has_reserved, minimal_v1_spec, minimal_v2_spec, v1_object, v2_object, v2_round_trip};
use crate::api::{v1, v2};
use crate::conversion::{V2_SPEC_ANNOTATION, v1_to_v2, v2_to_v1};

fn in_term(pairs: &[(&str, &str)]) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(
            pairs
                .iter()
                .map(|(k, v)| NodeSelectorRequirement {
                    key: (*k).into(),
                    operator: "In".into(),
                    values: Some(vec![(*v).into()]),
                })
                .collect(),
        ),
        match_fields: None,
    }
}

fn required(terms: Vec<NodeSelectorTerm>) -> Affinity {
    Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            preferred_during_scheduling_ignored_during_execution: None,
        }),
        ..Affinity::default()
    }
}

fn v1_affinity(pairs: &[(&str, &str)]) -> v1::LocustAffinity {
    v1::LocustAffinity {
        node_affinity: Some(v1::LocustNodeAffinity {
            required_during_scheduling_ignored_during_execution: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }),
    }
}

/// A v2 spec rich in v2-only settings.
fn rich_v2_spec() -> v2::LocustTestSpec {
    let mut spec = minimal_v2_spec();
    spec.master.autostart = Some(false);
    spec.master.autoquit = None;
    spec.master.extra_args = Some(vec!["--csv=/results/run".into()]);
    spec.master.resources = Some(ResourceRequirements {
        limits: Some(BTreeMap::from([("memory".into(), Quantity("1Gi".into()))])),
        ..ResourceRequirements::default()
    });
    spec.worker.processes_per_pod = Some(4);
    spec.test_files = Some(v2::TestFilesSpec {
        config_map_ref: Some("tests".into()),
        src_mount_path: Some("/custom/src".into()),
        ..v2::TestFilesSpec::default()
    });
    spec.scheduling = Some(v2::SchedulingSpec {
        // Two terms: zone a OR zone b. v1 cannot say that.
        affinity: Some(required(vec![
            in_term(&[("zone", "a")]),
            in_term(&[("zone", "b")]),
        ])),
        tolerations: Some(vec![Toleration {
            key: Some("spot".into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(30),
            value: None,
        }]),
        node_selector: Some(BTreeMap::from([("disk".into(), "ssd".into())])),
        runtime_class_name: Some(String::new()),
    });
    spec.env = Some(v2::EnvSpec {
        secret_refs: Some(vec![v2::EnvSourceRef {
            name: "creds".into(),
            prefix: Some("APP_".into()),
        }]),
        ..v2::EnvSpec::default()
    });
    spec.observability = Some(v2::ObservabilitySpec {
        open_telemetry: Some(v2::OpenTelemetrySpec {
            enabled: true,
            endpoint: Some("otel:4317".into()),
            ..v2::OpenTelemetrySpec::default()
        }),
    });
    spec.web_ui = Some(v2::WebUiSpec {
        base_path: Some("/locust".into()),
        ..Default::default()
    });
    spec
}

// Rule 1: only when needed.

#[test]
fn the_image_of_a_v1_object_needs_no_annotation() {
    let v1 = v2_round_trip(&v2_object(minimal_v2_spec()));
    assert!(!has_reserved(&v1.metadata));
    assert_eq!(v1.metadata.annotations, None);
}

#[test]
fn a_default_left_unset_in_v2_is_kept_in_the_annotation() {
    let mut spec = minimal_v2_spec();
    spec.master.autostart = None;
    let v1 = v2_round_trip(&v2_object(spec));
    assert!(has_reserved(&v1.metadata));
}

#[test]
fn the_annotation_holds_the_v2_spec_as_json() {
    let v2 = v2_object(rich_v2_spec());
    let v1 = v2_to_v1(&v2).expect("converts");
    let raw = &v1.metadata.annotations.as_ref().expect("annotations")[V2_SPEC_ANNOTATION];
    let stored: serde_json::Value = serde_json::from_str(raw).expect("JSON");
    assert_eq!(
        stored["spec"],
        serde_json::to_value(&v2.spec).expect("encodes")
    );
}

#[test]
fn every_v2_only_field_survives_v1() {
    let v1 = v2_round_trip(&v2_object(rich_v2_spec()));
    // What v1 can show is shown.
    assert_eq!(v1.spec.config_map.as_deref(), Some("tests"));
    assert_eq!(v1.spec.worker_replicas, 2);
}

#[test]
fn user_annotations_sit_beside_the_reserved_one() {
    let mut v2 = v2_object(rich_v2_spec());
    v2.metadata.annotations = Some(BTreeMap::from([("note".into(), "keep".into())]));
    let v1 = v2_round_trip(&v2);
    let annotations = v1.metadata.annotations.expect("annotations");
    assert_eq!(annotations.len(), 2);
    assert_eq!(annotations["note"], "keep");
}

#[test]
fn an_empty_annotation_map_on_v2_comes_back_empty() {
    let mut v2 = v2_object(rich_v2_spec());
    v2.metadata.annotations = Some(BTreeMap::new());
    v2_round_trip(&v2);
    v2.metadata.annotations = None;
    v2_round_trip(&v2);
}

// Rule 2: v1 edits win, v2-only settings survive a v1 read-modify-write.

#[test]
fn a_v1_read_modify_write_applies_the_edit_and_keeps_v2_settings() {
    let original = v2_object(rich_v2_spec());
    let mut v1 = v2_to_v1(&original).expect("converts");
    v1.spec.worker_replicas = 9;
    v1.spec.image = "locustio/locust:2.44".into();
    v1.spec.labels = Some(v1::PodMetadata {
        master: None,
        worker: Some(BTreeMap::from([("edited".into(), "yes".into())])),
    });
    let updated = v1_to_v2(&v1).expect("converts");

    let mut expected = original.spec.clone();
    expected.worker.replicas = 9;
    expected.image = "locustio/locust:2.44".into();
    expected.worker.labels = Some(BTreeMap::from([("edited".into(), "yes".into())]));
    assert_eq!(updated.spec, expected);
    assert!(!has_reserved(&updated.metadata));
}

#[test]
fn a_v1_edit_of_an_inexpressible_affinity_replaces_it() {
    let original = v2_object(rich_v2_spec());
    let mut v1 = v2_to_v1(&original).expect("converts");
    assert_eq!(
        v1.spec.affinity, None,
        "OR terms must not be squashed into a v1 map"
    );
    v1.spec.affinity = Some(v1_affinity(&[("zone", "c")]));
    let updated = v1_to_v2(&v1).expect("converts");
    let scheduling = updated.spec.scheduling.expect("scheduling");
    assert_eq!(
        scheduling.affinity,
        Some(required(vec![in_term(&[("zone", "c")])]))
    );
    // The rest of the scheduling section is untouched.
    assert_eq!(
        scheduling.tolerations,
        rich_v2_spec().scheduling.and_then(|s| s.tolerations)
    );
    assert_eq!(scheduling.runtime_class_name, Some(String::new()));
}

#[test]
fn an_unedited_expressible_affinity_keeps_its_v2_form() {
    let mut spec = minimal_v2_spec();
    spec.master.autostart = None; // force the annotation
    let mut term = in_term(&[("zone", "a"), ("arch", "amd64")]); // not sorted
    term.match_fields = Some(vec![]);
    spec.scheduling = Some(v2::SchedulingSpec {
        affinity: Some(required(vec![term])),
        ..v2::SchedulingSpec::default()
    });
    let v1 = v2_round_trip(&v2_object(spec.clone()));
    assert_eq!(
        v1.spec.affinity,
        Some(v1_affinity(&[("arch", "amd64"), ("zone", "a")]))
    );

    // Another v1 field edited: the affinity keeps its v2 form.
    let mut edited = v1.clone();
    edited.spec.worker_replicas = 5;
    let updated = v1_to_v2(&edited).expect("converts");
    assert_eq!(updated.spec.scheduling, spec.scheduling);

    // The affinity itself edited: the v1 value wins.
    edited.spec.affinity = Some(v1_affinity(&[("zone", "a")]));
    let updated = v1_to_v2(&edited).expect("converts");
    assert_eq!(
        updated.spec.scheduling.and_then(|s| s.affinity),
        Some(required(vec![in_term(&[("zone", "a")])]))
    );
}

#[test]
fn v1_edits_of_tolerations_and_config_maps_apply() {
    let original = v2_object(rich_v2_spec());
    let mut v1 = v2_to_v1(&original).expect("converts");
    assert_eq!(
        v1.spec.tolerations, None,
        "tolerationSeconds cannot be shown in v1"
    );
    v1.spec.tolerations = Some(vec![]);
    v1.spec.config_map = None;
    v1.spec.lib_config_map = Some("lib".into());
    let updated = v1_to_v2(&v1).expect("converts");
    assert_eq!(
        updated
            .spec
            .scheduling
            .as_ref()
            .and_then(|s| s.tolerations.clone()),
        Some(vec![])
    );
    assert_eq!(
        updated.spec.test_files,
        Some(v2::TestFilesSpec {
            config_map_ref: None,
            lib_config_map_ref: Some("lib".into()),
            src_mount_path: Some("/custom/src".into()),
            lib_mount_path: None,
            ..Default::default()
        })
    );
}

#[test]
fn v1_edits_create_missing_v2_sections() {
    let mut spec = minimal_v2_spec();
    spec.web_ui = Some(v2::WebUiSpec::default()); // force the annotation
    let mut v1 = v2_to_v1(&v2_object(spec.clone())).expect("converts");
    v1.spec.config_map = Some("tests".into());
    v1.spec.tolerations = Some(vec![v1::LocustToleration {
        key: "k".into(),
        operator: v1::TolerationOperator::Exists,
        value: None,
        effect: v1::TaintEffect::NoSchedule,
    }]);
    let updated = v1_to_v2(&v1).expect("converts").spec;
    assert_eq!(
        updated.test_files.and_then(|t| t.config_map_ref).as_deref(),
        Some("tests")
    );
    assert_eq!(
        updated
            .scheduling
            .and_then(|s| s.tolerations)
            .map(|t| t.len()),
        Some(1)
    );
    assert_eq!(updated.web_ui, spec.web_ui);
}

// Rule 3: never on v2.

#[test]
fn a_reserved_annotation_set_on_v2_by_hand_is_replaced() {
    let mut v2 = v2_object(minimal_v2_spec());
    v2.metadata.annotations = Some(BTreeMap::from([(
        V2_SPEC_ANNOTATION.to_owned(),
        "hand-made".to_owned(),
    )]));
    let v1 = v2_to_v1(&v2).expect("converts");
    assert_eq!(v1.metadata.annotations, None, "not needed: removed");

    let mut rich = v2_object(rich_v2_spec());
    rich.metadata.annotations = v2.metadata.annotations.clone();
    let v1 = v2_to_v1(&rich).expect("converts");
    let back = v1_to_v2(&v1).expect("converts");
    assert_eq!(back.spec, rich.spec);
    assert_eq!(back.metadata.annotations, None);
}

// Rule 5: the key is the operator's.

#[test]
fn a_v1_user_value_in_the_reserved_key_is_dropped_when_it_does_not_decode() {
    let mut v1 = v1_object(minimal_v1_spec());
    v1.metadata.annotations = Some(BTreeMap::from([
        (V2_SPEC_ANNOTATION.to_owned(), "my own note".to_owned()),
        ("other".to_owned(), "x".to_owned()),
    ]));
    let v2 = v1_to_v2(&v1).expect("converts");
    assert_eq!(v2.spec, minimal_v2_spec());
    assert_eq!(
        v2.metadata.annotations,
        Some(BTreeMap::from([("other".to_owned(), "x".to_owned())]))
    );
}

#[test]
fn a_v1_user_value_in_the_reserved_key_is_used_when_it_decodes() {
    let mut stored = rich_v2_spec();
    stored.image = "from-annotation".into();
    let mut v1 = v1_object(minimal_v1_spec());
    v1.metadata.annotations = Some(BTreeMap::from([(
        V2_SPEC_ANNOTATION.to_owned(),
        serde_json::json!({ "spec": stored }).to_string(),
    )]));
    let v2 = v1_to_v2(&v1).expect("converts");
    // v1 fields that differ from the stored spec win (image), the rest comes from it.
    assert_eq!(v2.spec.image, minimal_v1_spec().image);
    assert_eq!(v2.spec.web_ui, stored.web_ui);
    assert_eq!(v2.metadata.annotations, None);
}

#[test]
fn deleting_the_annotation_on_v1_drops_the_v2_only_settings() {
    let mut v1 = v2_to_v1(&v2_object(rich_v2_spec())).expect("converts");
    v1.metadata.annotations = None;
    let v2 = v1_to_v2(&v1).expect("converts");
    assert_eq!(v2.spec.master.autostart, Some(true));
    assert_eq!(v2.spec.web_ui, None);
    assert_eq!(v2.spec.env, None);
    assert_eq!(v2.spec.scheduling, None);
}
