//! v2 → v1.

use std::collections::BTreeMap;

use super::{ConversionError, affinity, annotation, tolerations, v1_to_v2};
use crate::api::{v1, v2};

/// Converts a v2 LocustTest to v1.
///
/// The v1 fields show what v1 can express of the v2 spec (affinity and tolerations only
/// when v1 can express them exactly). When converting those fields back would not give
/// the v2 spec again, the whole v2 spec is stored in the
/// [`V2_SPEC_ANNOTATION`](super::V2_SPEC_ANNOTATION), so that [`v1_to_v2`](super::v1_to_v2)
/// restores it; otherwise no annotation is added. The rest of the metadata and the status
/// are copied.
pub fn v2_to_v1(v2: &v2::LocustTest) -> Result<v1::LocustTest, ConversionError> {
    let spec = project_spec(&v2.spec);
    let mut metadata = v2.metadata.clone();
    annotation::strip(&mut metadata);
    if v1_to_v2::map_spec(&spec) != v2.spec {
        annotation::insert(&mut metadata, &v2.spec)?;
    }
    Ok(v1::LocustTest {
        metadata,
        spec,
        status: v2.status.clone(),
    })
}

/// The v1 fields of a v2 spec: what a v1 client sees.
pub(super) fn project_spec(v2: &v2::LocustTestSpec) -> v1::LocustTestSpec {
    let test_files = v2.test_files.as_ref();
    let scheduling = v2.scheduling.as_ref();
    v1::LocustTestSpec {
        master_command_seed: v2.master.command.clone(),
        worker_command_seed: v2.worker.command.clone(),
        worker_replicas: v2.worker.replicas,
        image: v2.image.clone(),
        image_pull_policy: v2.image_pull_policy,
        image_pull_secrets: v2
            .image_pull_secrets
            .as_ref()
            .map(|refs| refs.iter().map(|r| r.name.clone()).collect()),
        config_map: test_files.and_then(|t| t.config_map_ref.clone()),
        lib_config_map: test_files.and_then(|t| t.lib_config_map_ref.clone()),
        labels: per_role(&v2.master.labels, &v2.worker.labels),
        annotations: per_role(&v2.master.annotations, &v2.worker.annotations),
        affinity: scheduling
            .and_then(|s| s.affinity.as_ref())
            .and_then(affinity::to_v1),
        tolerations: scheduling
            .and_then(|s| s.tolerations.as_deref())
            .and_then(tolerations::to_v1),
    }
}

fn per_role(
    master: &Option<BTreeMap<String, String>>,
    worker: &Option<BTreeMap<String, String>>,
) -> Option<v1::PodMetadata> {
    (master.is_some() || worker.is_some()).then(|| v1::PodMetadata {
        master: master.clone(),
        worker: worker.clone(),
    })
}
