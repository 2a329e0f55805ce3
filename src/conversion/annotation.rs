//! The reserved annotation that carries a v2 spec on a v1 object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::ConversionError;
use crate::api::v2;

/// Annotation on a v1 LocustTest holding, as JSON, the v2 spec it was converted from, when
/// v1 cannot express all of it. Reserved for the operator: see the [module
/// documentation](super) for the rules.
///
/// The value is a JSON object `{"spec": <v2 spec>}`, with `"emptyAnnotations": true` added
/// when the v2 object had an empty (rather than no) annotation map.
pub const V2_SPEC_ANNOTATION: &str = "locust.io/v2-spec";

/// The annotation's value, as read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    spec: v2::LocustTestSpec,
    #[serde(default)]
    empty_annotations: bool,
}

/// The annotation's value, as written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredRef<'a> {
    spec: &'a v2::LocustTestSpec,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    empty_annotations: bool,
}

/// Removes the reserved annotation from `metadata` and returns the v2 spec it holds.
///
/// A value that does not decode is dropped and ignored (the key is the operator's; failing
/// the conversion would make the object unreadable in every version). When the annotation
/// was the only one, the annotation map goes back to what the v2 object had: none, or an
/// empty one.
pub(super) fn take(metadata: &mut ObjectMeta) -> Option<v2::LocustTestSpec> {
    let annotations = metadata.annotations.as_mut()?;
    let raw = annotations.remove(V2_SPEC_ANNOTATION)?;
    let stored = serde_json::from_str::<Stored>(&raw).ok();
    if annotations.is_empty() && !stored.as_ref().is_some_and(|s| s.empty_annotations) {
        metadata.annotations = None;
    }
    stored.map(|s| s.spec)
}

/// Removes a reserved annotation a v2 object should not carry (rule 3 of the module).
pub(super) fn strip(metadata: &mut ObjectMeta) {
    if let Some(annotations) = metadata.annotations.as_mut()
        && annotations.remove(V2_SPEC_ANNOTATION).is_some()
        && annotations.is_empty()
    {
        metadata.annotations = None;
    }
}

/// Stores `spec` in the reserved annotation of `metadata`.
pub(super) fn insert(
    metadata: &mut ObjectMeta,
    spec: &v2::LocustTestSpec,
) -> Result<(), ConversionError> {
    let empty_annotations = metadata
        .annotations
        .as_ref()
        .is_some_and(BTreeMap::is_empty);
    let value = serde_json::to_string(&StoredRef {
        spec,
        empty_annotations,
    })
    .map_err(|e| ConversionError::Encode {
        message: e.to_string(),
    })?;
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(V2_SPEC_ANNOTATION.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(annotations: Option<&[(&str, &str)]>) -> ObjectMeta {
        ObjectMeta {
            annotations: annotations.map(|pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn insert_then_take_restores_spec_and_annotation_map() {
        let spec = v2::LocustTestSpec {
            image: "img".into(),
            ..v2::LocustTestSpec::default()
        };
        for original in [meta(None), meta(Some(&[])), meta(Some(&[("a", "b")]))] {
            let mut m = original.clone();
            insert(&mut m, &spec).expect("encodes");
            assert!(
                m.annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(V2_SPEC_ANNOTATION))
            );
            assert_eq!(take(&mut m), Some(spec.clone()));
            assert_eq!(m, original);
        }
    }

    #[test]
    fn the_flag_is_written_only_for_an_empty_map() {
        let spec = v2::LocustTestSpec::default();
        let mut m = meta(None);
        insert(&mut m, &spec).expect("encodes");
        let value = &m.annotations.as_ref().expect("annotations")[V2_SPEC_ANNOTATION];
        assert!(value.starts_with(r#"{"spec":"#), "{value}");
        assert!(!value.contains("emptyAnnotations"), "{value}");
        let mut m = meta(Some(&[]));
        insert(&mut m, &spec).expect("encodes");
        let value = &m.annotations.as_ref().expect("annotations")[V2_SPEC_ANNOTATION];
        assert!(value.ends_with(r#","emptyAnnotations":true}"#), "{value}");
    }

    #[test]
    fn an_undecodable_value_is_removed_and_ignored() {
        for junk in ["", "not json", "{}", r#"{"spec":{"image":1}}"#, "[1,2]"] {
            let mut m = meta(Some(&[(V2_SPEC_ANNOTATION, junk), ("keep", "me")]));
            assert_eq!(take(&mut m), None, "{junk}");
            assert_eq!(m, meta(Some(&[("keep", "me")])));
            let mut m = meta(Some(&[(V2_SPEC_ANNOTATION, junk)]));
            assert_eq!(take(&mut m), None);
            assert_eq!(m, meta(None));
        }
    }

    #[test]
    fn without_the_annotation_nothing_changes() {
        for original in [meta(None), meta(Some(&[])), meta(Some(&[("a", "b")]))] {
            let mut m = original.clone();
            assert_eq!(take(&mut m), None);
            assert_eq!(m, original);
            strip(&mut m);
            assert_eq!(m, original);
        }
    }

    #[test]
    fn strip_removes_only_the_reserved_key() {
        let mut m = meta(Some(&[(V2_SPEC_ANNOTATION, "x"), ("a", "b")]));
        strip(&mut m);
        assert_eq!(m, meta(Some(&[("a", "b")])));
        let mut m = meta(Some(&[(V2_SPEC_ANNOTATION, "x")]));
        strip(&mut m);
        assert_eq!(m, meta(None));
    }
}
