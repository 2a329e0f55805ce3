//! Tests of the conversion as a whole: the spec's mapping table, the annotation rules,
//! the JSON entry point, the v1 example and property tests of both round trips.

mod annotation_rules;
mod example;
mod json;
mod mapping;
mod roundtrip;
mod strategies;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{V2_SPEC_ANNOTATION, v1_to_v2, v2_to_v1};
use crate::api::{v1, v2};

/// The smallest valid v1 spec.
fn minimal_v1_spec() -> v1::LocustTestSpec {
    v1::LocustTestSpec {
        master_command_seed: "--locustfile /lotest/src/demo.py --host https://example.com".into(),
        worker_command_seed: "--locustfile /lotest/src/demo.py".into(),
        worker_replicas: 2,
        image: "locustio/locust:2.43.1".into(),
        ..v1::LocustTestSpec::default()
    }
}

fn v1_object(spec: v1::LocustTestSpec) -> v1::LocustTest {
    v1::LocustTest::new("demo", spec)
}

fn v2_object(spec: v2::LocustTestSpec) -> v2::LocustTest {
    v2::LocustTest::new("demo", spec)
}

/// The v2 image of the minimal v1 spec.
fn minimal_v2_spec() -> v2::LocustTestSpec {
    v1_to_v2(&v1_object(minimal_v1_spec()))
        .expect("converts")
        .spec
}

fn has_reserved(metadata: &ObjectMeta) -> bool {
    metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(V2_SPEC_ANNOTATION))
}

/// The v1 object as it comes back from v2: an empty `labels: {}` / `annotations: {}`
/// (neither role) has no v2 counterpart and comes back unset.
fn normalize_v1(mut v1: v1::LocustTest) -> v1::LocustTest {
    for per_role in [&mut v1.spec.labels, &mut v1.spec.annotations] {
        if per_role
            .as_ref()
            .is_some_and(|m| m.master.is_none() && m.worker.is_none())
        {
            *per_role = None;
        }
    }
    v1
}

/// Converts a v1 object to v2 and back, checks it comes back identical without any
/// annotation, and returns the v2 object.
fn v1_round_trip(v1: &v1::LocustTest) -> v2::LocustTest {
    let v2 = v1_to_v2(v1).expect("v1 → v2");
    assert!(!has_reserved(&v2.metadata), "annotation on v2: {v2:?}");
    let back = v2_to_v1(&v2).expect("v2 → v1");
    assert!(
        !has_reserved(&back.metadata),
        "v1 gained the annotation: {back:?}"
    );
    assert_eq!(back, normalize_v1(v1.clone()));
    v2
}

/// Converts a v2 object to v1 and back, checks it comes back identical, and returns the
/// v1 object.
fn v2_round_trip(v2: &v2::LocustTest) -> v1::LocustTest {
    let v1 = v2_to_v1(v2).expect("v2 → v1");
    let back = v1_to_v2(&v1).expect("v1 → v2");
    assert!(!has_reserved(&back.metadata), "annotation on v2: {back:?}");
    assert_eq!(&back, v2);
    v1
}
