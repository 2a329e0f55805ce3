//! v1 → v2.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LocalObjectReference;

use super::{ConversionError, affinity, annotation, tolerations, v2_to_v1};
use crate::api::{v1, v2};

/// Converts a v1 LocustTest to v2.
///
/// Without the [`V2_SPEC_ANNOTATION`](super::V2_SPEC_ANNOTATION), the v2 spec is the
/// spec's mapping of the v1 fields with the defaults written out (see the [module
/// documentation](super)). With it, the stored v2 spec comes back, except for the mapped
/// fields a v1 client changed, which take their v1 value. The annotation is removed;
/// the rest of the metadata and the status are copied.
pub fn v1_to_v2(v1: &v1::LocustTest) -> Result<v2::LocustTest, ConversionError> {
    let mut metadata = v1.metadata.clone();
    let spec = match annotation::take(&mut metadata) {
        Some(stored) => merge(stored, &v1.spec),
        None => map_spec(&v1.spec),
    };
    Ok(v2::LocustTest {
        metadata,
        spec,
        status: v1.status.clone(),
    })
}

/// The v2 spec of a v1 spec alone: the table's mapping plus the written-out defaults.
pub(super) fn map_spec(v1: &v1::LocustTestSpec) -> v2::LocustTestSpec {
    v2::LocustTestSpec {
        image: v1.image.clone(),
        image_pull_policy: v1.image_pull_policy,
        image_pull_secrets: v1.image_pull_secrets.as_deref().map(pull_secrets),
        master: v2::MasterSpec {
            command: v1.master_command_seed.clone(),
            labels: master(v1.labels.as_ref()),
            annotations: master(v1.annotations.as_ref()),
            autostart: Some(true),
            autoquit: Some(v2::AutoquitSpec {
                enabled: Some(true),
                timeout: Some(v2::DEFAULT_AUTOQUIT_TIMEOUT),
            }),
            ..v2::MasterSpec::default()
        },
        worker: v2::WorkerSpec {
            command: v1.worker_command_seed.clone(),
            replicas: v1.worker_replicas,
            labels: worker(v1.labels.as_ref()),
            annotations: worker(v1.annotations.as_ref()),
            ..v2::WorkerSpec::default()
        },
        test_files: test_files(v1),
        scheduling: scheduling(v1),
        ..v2::LocustTestSpec::default()
    }
}

/// `stored` with the mapped fields a v1 client changed replaced by their v1 value.
///
/// A field counts as changed when its v1 value differs from what `stored` maps to, i.e.
/// from what the v1 client was shown.
fn merge(stored: v2::LocustTestSpec, v1: &v1::LocustTestSpec) -> v2::LocustTestSpec {
    let shown = v2_to_v1::project_spec(&stored);
    let fresh = map_spec(v1);
    let mut spec = stored;

    if v1.image != shown.image {
        spec.image = fresh.image;
    }
    if v1.image_pull_policy != shown.image_pull_policy {
        spec.image_pull_policy = fresh.image_pull_policy;
    }
    if v1.image_pull_secrets != shown.image_pull_secrets {
        spec.image_pull_secrets = fresh.image_pull_secrets;
    }
    if v1.master_command_seed != shown.master_command_seed {
        spec.master.command = fresh.master.command;
    }
    if v1.worker_command_seed != shown.worker_command_seed {
        spec.worker.command = fresh.worker.command;
    }
    if v1.worker_replicas != shown.worker_replicas {
        spec.worker.replicas = fresh.worker.replicas;
    }
    if master(v1.labels.as_ref()) != master(shown.labels.as_ref()) {
        spec.master.labels = fresh.master.labels;
    }
    if worker(v1.labels.as_ref()) != worker(shown.labels.as_ref()) {
        spec.worker.labels = fresh.worker.labels;
    }
    if master(v1.annotations.as_ref()) != master(shown.annotations.as_ref()) {
        spec.master.annotations = fresh.master.annotations;
    }
    if worker(v1.annotations.as_ref()) != worker(shown.annotations.as_ref()) {
        spec.worker.annotations = fresh.worker.annotations;
    }
    if v1.config_map != shown.config_map {
        let files = spec.test_files.get_or_insert_default();
        files.config_map_ref = v1.config_map.clone();
        if files.config_map_ref.is_some() {
            // A v1 client chose a ConfigMap as the one source of the test files.
            files.persistent_volume_claim = None;
            files.image = None;
            files.git = None;
        }
    }
    if v1.lib_config_map != shown.lib_config_map {
        spec.test_files.get_or_insert_default().lib_config_map_ref = v1.lib_config_map.clone();
    }
    let fresh_scheduling = fresh.scheduling.unwrap_or_default();
    if v1.affinity != shown.affinity {
        spec.scheduling.get_or_insert_default().affinity = fresh_scheduling.affinity;
    }
    if v1.tolerations != shown.tolerations {
        spec.scheduling.get_or_insert_default().tolerations = fresh_scheduling.tolerations;
    }
    spec
}

fn pull_secrets(names: &[String]) -> Vec<LocalObjectReference> {
    names
        .iter()
        .map(|name| LocalObjectReference { name: name.clone() })
        .collect()
}

fn master(per_role: Option<&v1::PodMetadata>) -> Option<BTreeMap<String, String>> {
    per_role.and_then(|m| m.master.clone())
}

fn worker(per_role: Option<&v1::PodMetadata>) -> Option<BTreeMap<String, String>> {
    per_role.and_then(|m| m.worker.clone())
}

/// `testFiles` when a ConfigMap is set, with the mount path of each ConfigMap set.
fn test_files(v1: &v1::LocustTestSpec) -> Option<v2::TestFilesSpec> {
    if v1.config_map.is_none() && v1.lib_config_map.is_none() {
        return None;
    }
    Some(v2::TestFilesSpec {
        config_map_ref: v1.config_map.clone(),
        lib_config_map_ref: v1.lib_config_map.clone(),
        src_mount_path: v1
            .config_map
            .as_ref()
            .map(|_| v2::DEFAULT_SRC_MOUNT_PATH.to_owned()),
        lib_mount_path: v1
            .lib_config_map
            .as_ref()
            .map(|_| v2::DEFAULT_LIB_MOUNT_PATH.to_owned()),
        ..v2::TestFilesSpec::default()
    })
}

/// `scheduling` when affinity or tolerations are set.
fn scheduling(v1: &v1::LocustTestSpec) -> Option<v2::SchedulingSpec> {
    if v1.affinity.is_none() && v1.tolerations.is_none() {
        return None;
    }
    Some(v2::SchedulingSpec {
        affinity: v1.affinity.as_ref().map(affinity::to_v2),
        tolerations: v1.tolerations.as_deref().map(tolerations::to_v2),
        ..v2::SchedulingSpec::default()
    })
}
