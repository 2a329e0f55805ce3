//! Schema helpers for the CRD.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

/// The schema of a Kubernetes type without the descriptions of its fields: the same
/// structure and types (so the API server still checks and prunes every field), a sixth of
/// the size. Used for the embedded core types (containers, volumes, affinity, tolerations,
/// security contexts, env variables): with every description the CRD would pass what a
/// client-side `kubectl apply` can store (262144 bytes). The field that holds one keeps its
/// own description, which points to `kubectl explain pod.spec...` for the rest.
pub(crate) fn compact<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Option<T>>();
    if let Some(object) = schema.as_object_mut() {
        for key in ["items", "properties", "additionalProperties"] {
            if let Some(sub) = object.get_mut(key) {
                strip_descriptions(sub, key == "properties");
            }
        }
    }
    schema
}

/// Removes `description` from `value` and every schema below it. `named` says `value` maps
/// property names to schemas (where a property may itself be called `description`).
fn strip_descriptions(value: &mut Value, named: bool) {
    match value {
        Value::Object(map) if named => map
            .values_mut()
            .for_each(|schema| strip_descriptions(schema, false)),
        Value::Object(map) => {
            map.remove("description");
            for (key, sub) in map.iter_mut() {
                strip_descriptions(sub, key == "properties");
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|schema| strip_descriptions(schema, false)),
        _ => {}
    }
}
