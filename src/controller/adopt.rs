//! Taking over tests the Go operator (v2.x) started (see [`crate::go_operator`]).
//!
//! - **Children.** The Go operator sets no labels on its Jobs and Service (the API server
//!   copies the pod template's labels onto a Job without labels, so its Jobs carry the
//!   legacy `managed-by`, never `app.kubernetes.io/managed-by`), so the operator's watches
//!   (selected by `app.kubernetes.io/managed-by`) never see them. A child this test
//!   controls (its controller owner reference names the test's uid) that lacks that label
//!   is relabelled with [`adoption_labels`] by a merge patch of the labels only (with the
//!   child's uid as precondition): from then on the watches see it and the status follows
//!   it to the end. Nothing else of the child changes and nothing is created in its
//!   place. For a test the Go operator started ([`go_started`]) a child missing from the
//!   caches is also looked up by name, the operator's and the Go operator's (they differ
//!   for names with dots). The Go operator's pods carry the legacy `managed-by` label the
//!   pod watch selects (see `src/controller/children.rs`).
//! - **Finalizer.** The Go operator's [`FINALIZER`] would make `kubectl delete` hang once
//!   the Go operator is gone: a merge patch writes the finalizer list without it, keeping
//!   every other finalizer in its order, under the test's `resourceVersion` (a list changed
//!   meanwhile makes the API server refuse the patch, and the reconcile is retried).

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::children::Existing;
use super::context::FIELD_MANAGER;
use super::error::Error;
use crate::api::status::LocustTestStatus;
use crate::api::v2::LocustTest;
use crate::builders::Role;
use crate::builders::labels::{K8S_MANAGED_BY, MANAGER, adoption_labels};
use crate::go_operator::FINALIZER;
use crate::naming;

/// Whether the Go operator started `test`: it carries the Go operator's finalizer, or it
/// has a start time but no spec recorded by this operator (`recorded`).
pub fn go_started(test: &LocustTest, recorded: bool, previous: &LocustTestStatus) -> bool {
    has_go_finalizer(test) || (!recorded && previous.start_time.is_some())
}

/// Whether `test` carries the Go operator's finalizer.
pub fn has_go_finalizer(test: &LocustTest) -> bool {
    test.finalizers().iter().any(|f| f == FINALIZER)
}

/// Whether the object's controller owner reference names `uid`.
pub fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    !uid.is_empty()
        && meta
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Whether the object already carries the label the operator's watches select.
fn is_labelled(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(K8S_MANAGED_BY))
        .is_some_and(|v| v == MANAGER)
}

/// The merge patch writing `meta`'s finalizers without [`FINALIZER`] (the others kept, in
/// their order) under its `resourceVersion`, or `None` when it is not there.
pub fn finalizer_patch(meta: &ObjectMeta) -> Option<Value> {
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return None;
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
    Some(json!({
        "metadata": {
            "resourceVersion": meta.resource_version,
            "finalizers": kept,
        }
    }))
}

/// Removes the Go operator's finalizer from `test`; `true` if there was one. A test that is
/// gone is fine. One changed since it was read (409: the cache a moment behind, or the
/// operator's own write) is read again and patched once more; a second conflict fails the
/// reconcile, which is retried.
pub async fn remove_go_finalizer(client: &Client, test: &LocustTest) -> Result<bool, Error> {
    if finalizer_patch(&test.metadata).is_none() {
        return Ok(false);
    }
    let (name, ns) = (test.name_any(), test.namespace().unwrap_or_default());
    let api: Api<LocustTest> = Api::namespaced(client.clone(), &ns);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let mut meta = test.metadata.clone();
    for attempt in 0..2 {
        let Some(patch) = finalizer_patch(&meta) else {
            return Ok(false);
        };
        match api.patch(&name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt == 0 => {
                match api
                    .get_metadata_opt(&name)
                    .await
                    .map_err(Error::kube("reading a test to remove the Go finalizer"))?
                {
                    Some(fresh) => meta = fresh.metadata,
                    None => return Ok(false),
                }
            }
            Err(e) => return Err(Error::kube("removing the Go operator's finalizer")(e)),
        }
    }
    Ok(false)
}

/// Adopts the children of `test` the Go operator created (see the module): relabels those
/// in `existing` that lack the operator's label and, when `look` (the Go operator started
/// the test), first looks up the missing ones by name. Returns the kinds and names of the
/// children adopted.
pub async fn adopt_children(
    client: &Client,
    ns: &str,
    test: &LocustTest,
    look: bool,
    existing: &mut Existing,
) -> Result<Vec<String>, Error> {
    let cr_name = test.name_any();
    let uid = test.metadata.uid.clone().unwrap_or_default();
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let mut adopted = Vec::new();
    let master = [
        naming::master_name(&cr_name),
        naming::go_master_name(&cr_name),
    ];
    let worker = [
        naming::worker_name(&cr_name),
        naming::go_worker_name(&cr_name),
    ];
    let slot = Slot { uid: &uid, look };
    if let Some(name) = slot
        .adopt(&services, &mut existing.service, &master, Role::Master)
        .await?
    {
        adopted.push(format!("Service {name}"));
    }
    if let Some(name) = slot
        .adopt(&jobs, &mut existing.master_job, &master, Role::Master)
        .await?
    {
        adopted.push(format!("Job {name}"));
    }
    if let Some(name) = slot
        .adopt(&jobs, &mut existing.worker_job, &worker, Role::Worker)
        .await?
    {
        adopted.push(format!("Job {name}"));
    }
    Ok(adopted)
}

/// Adopting one child of the test with `uid`.
struct Slot<'a> {
    uid: &'a str,
    /// Look up a missing child by name.
    look: bool,
}

impl Slot<'_> {
    /// Fills `slot` with the child named one of `names` that the test controls (when
    /// missing and [`Slot::look`]) and relabels it if it lacks the operator's label;
    /// returns its name when it was relabelled.
    async fn adopt<K>(
        &self,
        api: &Api<K>,
        slot: &mut Option<K>,
        names: &[String; 2],
        role: Role,
    ) -> Result<Option<String>, Error>
    where
        K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        if slot.is_none() && self.look {
            for name in dedup(names) {
                let found = api
                    .get_opt(name)
                    .await
                    .map_err(Error::kube("looking up a child the Go operator created"))?;
                if let Some(found) = found.filter(|f| controlled_by(f.meta(), self.uid)) {
                    *slot = Some(found);
                    break;
                }
            }
        }
        let Some(child) = slot.as_ref() else {
            return Ok(None);
        };
        if is_labelled(child.meta()) || !controlled_by(child.meta(), self.uid) {
            return Ok(None);
        }
        let name = child.name_any();
        let relabelled = relabel(api, child, role).await?;
        *slot = Some(relabelled);
        Ok(Some(name))
    }
}

/// `names` without a repeat (the Go name equals the operator's for plain names).
fn dedup(names: &[String; 2]) -> impl Iterator<Item = &String> {
    let second = (names[1] != names[0]).then_some(&names[1]);
    std::iter::once(&names[0]).chain(second)
}

/// The merge patch giving `child` (whose uid it requires) the [`adoption_labels`] of
/// `role`.
pub fn relabel_patch(child: &ObjectMeta, role: Role) -> Value {
    json!({
        "metadata": {
            "uid": child.uid,
            "labels": adoption_labels(role),
        }
    })
}

/// Gives `child` the operator's labels (a merge patch of the labels only).
pub async fn relabel<K>(api: &Api<K>, child: &K, role: Role) -> Result<K, Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(
        &child.name_any(),
        &params,
        &Patch::Merge(relabel_patch(child.meta(), role)),
    )
    .await
    .map_err(Error::kube("labelling a child the Go operator created"))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::builders::labels::COMPONENT;
    use crate::builders::test_support::minimal;

    fn owned(uid: &str, controller: Option<bool>) -> ObjectMeta {
        ObjectMeta {
            uid: Some("child-uid".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "locust.io/v2".into(),
                kind: "LocustTest".into(),
                name: "demo".into(),
                uid: uid.into(),
                controller,
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn only_the_tests_controller_reference_counts() {
        assert!(controlled_by(&owned("u1", Some(true)), "u1"));
        assert!(!controlled_by(&owned("u1", Some(true)), "u2"));
        assert!(!controlled_by(&owned("u1", None), "u1"), "not a controller");
        assert!(!controlled_by(&ObjectMeta::default(), "u1"));
        assert!(
            !controlled_by(&owned("", Some(true)), ""),
            "no uid, no match"
        );
    }

    #[test]
    fn the_finalizer_patch_removes_only_the_go_finalizer() {
        let meta = |l: &[&str]| ObjectMeta {
            resource_version: Some("42".into()),
            finalizers: Some(l.iter().map(|s| s.to_string()).collect()),
            ..ObjectMeta::default()
        };
        assert_eq!(finalizer_patch(&meta(&["example.com/keep"])), None);
        assert_eq!(finalizer_patch(&meta(&[])), None);
        assert_eq!(finalizer_patch(&ObjectMeta::default()), None);
        assert_eq!(
            finalizer_patch(&meta(&["a/b", FINALIZER, "c/d"])),
            Some(json!({
                "metadata": { "resourceVersion": "42", "finalizers": ["a/b", "c/d"] }
            }))
        );
        assert_eq!(
            finalizer_patch(&meta(&[FINALIZER])),
            Some(json!({ "metadata": { "resourceVersion": "42", "finalizers": [] } }))
        );
    }

    #[test]
    fn a_test_is_go_started_by_its_finalizer_or_an_unrecorded_start() {
        let mut t = minimal();
        let none = LocustTestStatus::default();
        assert!(!go_started(&t, false, &none), "a new test");
        let started = LocustTestStatus {
            start_time: Some(Time(Timestamp::UNIX_EPOCH)),
            ..LocustTestStatus::default()
        };
        assert!(go_started(&t, false, &started), "started, nothing recorded");
        assert!(!go_started(&t, true, &started), "started by this operator");
        t.metadata.finalizers = Some(vec![FINALIZER.into()]);
        assert!(go_started(&t, true, &none));
        assert!(has_go_finalizer(&t));
    }

    #[test]
    fn relabelling_sets_our_two_labels_under_the_childs_uid() {
        let patch = relabel_patch(&owned("u1", Some(true)), Role::Worker);
        assert_eq!(patch["metadata"]["uid"], "child-uid");
        assert_eq!(patch["metadata"]["labels"][K8S_MANAGED_BY], MANAGER);
        assert_eq!(patch["metadata"]["labels"][COMPONENT], "worker");
        assert_eq!(
            patch["metadata"]
                .as_object()
                .map(|m| m.len())
                .unwrap_or_default(),
            2,
            "nothing but the uid precondition and the labels"
        );
    }

    #[test]
    fn names_are_tried_once_each() {
        let plain = ["demo-master".to_string(), "demo-master".to_string()];
        assert_eq!(dedup(&plain).count(), 1);
        let dotted = ["a-b-1234-master".to_string(), "a-b-master".to_string()];
        assert_eq!(dedup(&dotted).collect::<Vec<_>>(), [&dotted[0], &dotted[1]]);
    }
}
