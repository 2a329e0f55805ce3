//! Property tests: both round trips are identical, and a v1 read-modify-write keeps every
//! v2-only setting while applying the v1 edit.

use proptest::prelude::*;

use super::strategies::{plain_v2_test, v1_spec, v1_test, v2_test};
use super::{has_reserved, normalize_v1};
use crate::api::{v1, v2};
use crate::conversion::{v1_to_v2, v2_to_v1};

proptest! {
    /// v2 → v1 → v2 gives back the very same object (spec, metadata, status), and the v2
    /// side never carries the annotation.
    #[test]
    fn v2_to_v1_to_v2_is_identical(v2 in v2_test()) {
        let v1 = v2_to_v1(&v2).expect("v2 → v1");
        let back = v1_to_v2(&v1).expect("v1 → v2");
        prop_assert!(!has_reserved(&back.metadata));
        prop_assert_eq!(back, v2);
    }

    /// A v2 object that is the image of a v1 object converts to v1 without the annotation.
    #[test]
    fn plain_v2_needs_no_annotation(v2 in plain_v2_test()) {
        let v1 = v2_to_v1(&v2).expect("v2 → v1");
        prop_assert!(!has_reserved(&v1.metadata));
        prop_assert_eq!(&v1.metadata, &v2.metadata);
        prop_assert_eq!(v1_to_v2(&v1).expect("v1 → v2"), v2);
    }

    /// v1 → v2 → v1 gives back the same object (up to an empty `labels: {}` /
    /// `annotations: {}`, which v2 cannot hold) and never adds the annotation.
    #[test]
    fn v1_to_v2_to_v1_is_identical(v1 in v1_test()) {
        let v2 = v1_to_v2(&v1).expect("v1 → v2");
        prop_assert!(!has_reserved(&v2.metadata));
        let back = v2_to_v1(&v2).expect("v2 → v1");
        prop_assert!(!has_reserved(&back.metadata));
        prop_assert_eq!(back, normalize_v1(v1));
    }

    /// A v1 client reads a v2 object, changes some v1 fields, writes it back: it then reads
    /// exactly what it wrote, and every v2-only setting is unchanged. (Without the
    /// annotation the v2 object was the plain image of its v1 fields: its only v2-only
    /// values are the written-out defaults, and a mount path written out for a ConfigMap
    /// the v1 client removes goes with it, which changes nothing.)
    #[test]
    fn a_v1_read_modify_write_keeps_v2_settings(
        original in v2_test(),
        other in v1_spec(),
        edits in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let mut v1 = v2_to_v1(&original).expect("v2 → v1");
        let annotated = has_reserved(&v1.metadata);
        apply_edits(&mut v1.spec, other, &edits);
        let written = v1_to_v2(&v1).expect("v1 → v2");

        prop_assert!(!has_reserved(&written.metadata));
        prop_assert_eq!(&written.metadata, &original.metadata);
        prop_assert_eq!(&written.status, &original.status);
        let reread = v2_to_v1(&written).expect("v2 → v1");
        prop_assert_eq!(reread.spec, normalize_v1(v1.clone()).spec);
        if annotated {
            // A ConfigMap the v1 client sets is then the one source of the test files.
            let shown = v2_to_v1(&original).expect("v2 → v1").spec.config_map;
            let chose_config_map = v1.spec.config_map.is_some() && v1.spec.config_map != shown;
            let mut expected = original.spec.clone();
            if chose_config_map && let Some(files) = expected.test_files.as_mut() {
                files.persistent_volume_claim = None;
                files.image = None;
                files.git = None;
            }
            prop_assert_eq!(v2_only(&written.spec), v2_only(&expected));
        } else {
            prop_assert_eq!(
                without_default_paths(v2_only(&written.spec)),
                without_default_paths(v2_only(&original.spec))
            );
        }
        // An untouched affinity or toleration list keeps its exact v2 form.
        if !edits[10] {
            prop_assert_eq!(affinity(&written.spec), affinity(&original.spec));
        }
        if !edits[11] {
            prop_assert_eq!(tolerations(&written.spec), tolerations(&original.spec));
        }
    }
}

/// Replaces the v1 fields selected by `edits` with those of `other`.
fn apply_edits(spec: &mut v1::LocustTestSpec, other: v1::LocustTestSpec, edits: &[bool]) {
    let v1::LocustTestSpec {
        master_command_seed,
        worker_command_seed,
        worker_replicas,
        image,
        image_pull_policy,
        image_pull_secrets,
        config_map,
        lib_config_map,
        labels,
        annotations,
        affinity,
        tolerations,
    } = other;
    let edit = |i: usize| edits.get(i).copied().unwrap_or(false);
    if edit(0) {
        spec.master_command_seed = master_command_seed;
    }
    if edit(1) {
        spec.worker_command_seed = worker_command_seed;
    }
    if edit(2) {
        spec.worker_replicas = worker_replicas;
    }
    if edit(3) {
        spec.image = image;
    }
    if edit(4) {
        spec.image_pull_policy = image_pull_policy;
    }
    if edit(5) {
        spec.image_pull_secrets = image_pull_secrets;
    }
    if edit(6) {
        spec.config_map = config_map;
    }
    if edit(7) {
        spec.lib_config_map = lib_config_map;
    }
    if edit(8) {
        spec.labels = labels;
    }
    if edit(9) {
        spec.annotations = annotations;
    }
    if edit(10) {
        spec.affinity = affinity;
    }
    if edit(11) {
        spec.tolerations = tolerations;
    }
}

/// The v2 spec with every field v1 maps cleared: what only v2 can say.
fn v2_only(spec: &v2::LocustTestSpec) -> v2::LocustTestSpec {
    let mut spec = spec.clone();
    spec.image.clear();
    spec.image_pull_policy = None;
    spec.image_pull_secrets = None;
    spec.master.command.clear();
    spec.master.labels = None;
    spec.master.annotations = None;
    spec.worker.command.clear();
    spec.worker.replicas = 0;
    spec.worker.labels = None;
    spec.worker.annotations = None;
    if let Some(test_files) = spec.test_files.as_mut() {
        test_files.config_map_ref = None;
        test_files.lib_config_map_ref = None;
    }
    if let Some(scheduling) = spec.scheduling.as_mut() {
        scheduling.affinity = None;
        scheduling.tolerations = None;
    }
    // A v1 edit may create these sections; empty, they say nothing.
    if spec.test_files == Some(v2::TestFilesSpec::default()) {
        spec.test_files = None;
    }
    if spec.scheduling == Some(v2::SchedulingSpec::default()) {
        spec.scheduling = None;
    }
    spec
}

/// Mount paths equal to their default cleared (they mean the same as unset).
fn without_default_paths(mut spec: v2::LocustTestSpec) -> v2::LocustTestSpec {
    if let Some(test_files) = spec.test_files.as_mut() {
        if test_files.src_mount_path.as_deref() == Some(v2::DEFAULT_SRC_MOUNT_PATH) {
            test_files.src_mount_path = None;
        }
        if test_files.lib_mount_path.as_deref() == Some(v2::DEFAULT_LIB_MOUNT_PATH) {
            test_files.lib_mount_path = None;
        }
    }
    if spec.test_files == Some(v2::TestFilesSpec::default()) {
        spec.test_files = None;
    }
    spec
}

fn affinity(spec: &v2::LocustTestSpec) -> Option<&k8s_openapi::api::core::v1::Affinity> {
    spec.scheduling.as_ref().and_then(|s| s.affinity.as_ref())
}

fn tolerations(spec: &v2::LocustTestSpec) -> Option<&Vec<k8s_openapi::api::core::v1::Toleration>> {
    spec.scheduling
        .as_ref()
        .and_then(|s| s.tolerations.as_ref())
}
