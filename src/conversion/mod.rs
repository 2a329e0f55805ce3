//! Conversion between `locust.io/v1` and `locust.io/v2` LocustTests: pure functions, no I/O.
//!
//! The conversion webhook, the CLI's `convert` and `render` (for v1 input) all go through
//! [`v1_to_v2`], [`v2_to_v1`] or the JSON-level [`convert_object`].
//!
//! # The mapping
//!
//! Following the field table of the requirements (section 4.4):
//!
//! | v1 | v2 |
//! |----|----|
//! | `masterCommandSeed` | `master.command` |
//! | `workerCommandSeed` | `worker.command` |
//! | `workerReplicas` | `worker.replicas` |
//! | `image`, `imagePullPolicy` | the same fields |
//! | `imagePullSecrets` (names) | `imagePullSecrets` (`{name}` references) |
//! | `configMap`, `libConfigMap` | `testFiles.configMapRef`, `testFiles.libConfigMapRef` |
//! | `labels.master`, `labels.worker` | `master.labels`, `worker.labels` |
//! | `annotations.master`, `annotations.worker` | `master.annotations`, `worker.annotations` |
//! | `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` (label → value) | `scheduling.affinity`: one node selector term, one `In` expression per label |
//! | `tolerations` | `scheduling.tolerations` |
//!
//! `metadata` and `status` pass through unchanged (the status types are the same), except
//! for the reserved annotation described below.
//!
//! # Defaults filled on v1 → v2
//!
//! A v1 object converts to a v2 object whose defaults are *written out*: `master.autostart:
//! true`, `master.autoquit: {enabled: true, timeout: 60}`, and `testFiles.srcMountPath:
//! /lotest/src` when `configMap` is set, `testFiles.libMountPath: /opt/locust/lib` when
//! `libConfigMap` is set. Every other v2-only field stays unset, which already means "the
//! default" (operator resources, no extra arguments, OpenTelemetry off, …).
//!
//! "Filling the defaults" is therefore a fixed function of the v1 fields alone. That is what
//! keeps both round trips exact: a v2 object that is exactly the image of a v1 object (the
//! defaults written out, no other v2-only field) converts to v1 without any annotation, and
//! a v2 object that differs from it in any way (for example `autostart` simply left unset,
//! which the operator reads as `true` too) keeps its exact spec in the annotation.
//!
//! # Lossless round trips: the reserved annotation
//!
//! v1 cannot express most of v2. [`v2_to_v1`] therefore stores the complete v2 spec as JSON
//! in the annotation [`V2_SPEC_ANNOTATION`] on the v1 object, and [`v1_to_v2`] restores it:
//!
//! 1. The annotation is written only when needed: when converting the v1 fields alone back
//!    to v2 already gives the original spec, no annotation is added. A v1 object converted
//!    to v2 and back never gains one.
//! 2. On v1 → v2 with the annotation present, the v1 fields still win where a v1 client
//!    edited them: for each mapped field, if its v1 value equals what the stored v2 spec maps
//!    to, the richer stored v2 value is kept; otherwise the v1 value is taken. A v1
//!    read-modify-write (`kubectl edit`, `kubectl scale` …) keeps every v2-only setting and
//!    still applies the edit.
//! 3. The annotation never appears on v2 objects: [`v1_to_v2`] removes it, and [`v2_to_v1`]
//!    replaces one a v2 client may have set by hand.
//! 4. v2 affinity that v1 cannot express exactly (several node selector terms, which are
//!    OR-ed; operators other than `In`; several values; `matchFields`; preferred rules; pod
//!    (anti-)affinity) is never squashed into a v1 map that would mean something else: the
//!    v1 `affinity` is left unset and the v2 value lives in the annotation. The same holds
//!    for tolerations v1 cannot express (`tolerationSeconds`, no effect, other operators):
//!    the whole v1 `tolerations` list is left unset then.
//! 5. The annotation key is reserved for the operator on both versions. A value a user puts
//!    there is treated as the operator's: if it holds a v2 spec it is restored (rule 2
//!    applies), if it does not decode it is ignored, and it is removed either way.
//!
//! Consequences worth knowing: a v1 client cannot remove a v2-only affinity or toleration
//! list it cannot see (unset means "keep"); deleting the annotation drops every v2-only
//! setting. The annotation counts towards the 256 KiB limit of an object's annotations.
//!
//! One v1 shape has no v2 counterpart at all: an empty `labels: {}` or `annotations: {}`
//! (neither `master` nor `worker`). It means the same as leaving the field out, and a v1
//! object carrying it comes back from v2 without it; every other v1 object comes back
//! identical.

mod affinity;
mod annotation;
mod error;
mod json;
mod tolerations;
mod v1_to_v2;
mod v2_to_v1;

#[cfg(test)]
mod tests;

pub use annotation::V2_SPEC_ANNOTATION;
pub use error::ConversionError;
pub use json::convert_object;
pub use v1_to_v2::v1_to_v2;
pub use v2_to_v1::v2_to_v1;
