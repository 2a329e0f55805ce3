//! `POST /convert`: the CRD conversion webhook (`ConversionReview`, apiextensions.k8s.io/v1).
//!
//! Every object of the review goes through [`crate::conversion::convert_object`]. The answer
//! is a review with the request's uid and either `Success` with the converted objects in
//! order, or a failure whose message names the object and the reason. Only a body that is
//! not a `ConversionReview` at all gets HTTP 400; a body over [`super::MAX_BODY_BYTES`] gets
//! 413 (both from the wrapper the two webhooks share, which also records the metrics).
//!
//! Object contents are never logged: env values may hold secrets. Logs carry the uid, the
//! object's index, namespace and name, and a short reason label.

use std::time::Instant;

use axum::body::Bytes;
use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde_json::Value;

use super::reply::truncate;
use super::webhook::{BadReview, Outcome, Reviewer, Verdict};
use crate::conversion::{ConversionError, convert_object};
use crate::metrics::Webhook;

/// The kind of a conversion review.
const META_KIND: &str = "ConversionReview";
/// The only review version served (the CRD lists `conversionReviewVersions: [v1]`).
const META_API_VERSION_V1: &str = "apiextensions.k8s.io/v1";

/// Decodes a request body as a ConversionReview request.
pub fn parse(body: &[u8]) -> Result<ConversionRequest, BadReview> {
    let review: ConversionReview = serde_json::from_slice(body).map_err(|e| BadReview::Decode {
        review: META_KIND,
        detail: truncate(e.to_string()),
    })?;
    BadReview::check_type(
        (META_KIND, META_API_VERSION_V1),
        &review.types.kind,
        &review.types.api_version,
    )?;
    let request = ConversionRequest::from_review(review)
        .map_err(|_| BadReview::MissingRequest { review: META_KIND })?;
    if request.uid.is_empty() {
        return Err(BadReview::EmptyUid { review: META_KIND });
    }
    Ok(request)
}

/// Converts every object of the request to its `desiredAPIVersion` and answers with a
/// review (pure: no I/O besides logs).
///
/// All objects convert, or the response is a failure naming the first object that did not
/// (`object 2 of 3 (default/my-test): …`) and carries no objects, as the API server expects.
pub fn review(mut request: ConversionRequest) -> ConversionReview {
    let started = Instant::now();
    let objects = std::mem::take(&mut request.objects);
    let count = objects.len();
    let uid = request.uid.clone();
    let desired = request.desired_api_version.clone();
    let response = ConversionResponse::for_request(request);
    let response = match convert_all(objects, &desired, &uid) {
        Ok(converted) => response.success(converted),
        Err(message) => response.failure(Status::failure(&message, "Invalid")),
    };
    tracing::debug!(
        %uid,
        desired_api_version = %desired,
        objects = count,
        success = response.result.is_success(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "conversion review"
    );
    response.into_review()
}

/// The conversion webhook, served by the shared wrapper (`super::webhook`).
pub(super) struct Conversion;

impl Reviewer for Conversion {
    const WEBHOOK: Webhook = Webhook::Convert;
    const NOUN: &'static str = "conversion";
    const INTERNAL_ERROR: &'static str = "internal error while converting; see the operator's logs";

    /// Body → [`parse`] → [`review`] → JSON.
    fn answer(body: Bytes) -> Outcome {
        let request = match parse(&body) {
            Ok(request) => request,
            Err(bad) => return bad.into(),
        };
        drop(body);
        encode(&review(request))
    }
}

fn convert_all(objects: Vec<Value>, desired: &str, uid: &str) -> Result<Vec<Value>, String> {
    let total = objects.len();
    let mut converted = Vec::with_capacity(total);
    for (index, object) in objects.into_iter().enumerate() {
        let name = ObjectName::of(&object);
        super::deprecation::note(&object, desired);
        let result = convert_object(object, desired).and_then(|out| {
            // The API server rejects a response whose objects are not in the desired version;
            // say so here with the object's name rather than leaving a vaguer error to it.
            match out.get("apiVersion").and_then(Value::as_str) {
                Some(v) if v == desired => Ok(out),
                _ => Err(ConversionError::Encode {
                    message: format!("the converted object is not {desired}"),
                }),
            }
        });
        match result {
            Ok(out) => converted.push(out),
            Err(error) => {
                tracing::warn!(
                    %uid,
                    index,
                    namespace = %name.namespace,
                    name = %name.name,
                    reason = error_label(&error),
                    "cannot convert object"
                );
                let message = match error {
                    ConversionError::UnknownDesiredVersion { .. } => error.to_string(),
                    _ => format!("object {} of {total} ({name}): {error}", index + 1),
                };
                return Err(truncate(message));
            }
        }
    }
    Ok(converted)
}

/// The namespace and name of an object, for messages and logs (never its contents).
struct ObjectName {
    namespace: String,
    name: String,
}

impl ObjectName {
    fn of(object: &Value) -> Self {
        let field = |key: &str| {
            object
                .get("metadata")
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .map(|s| s.chars().take(253).collect::<String>())
                .unwrap_or_default()
        };
        Self {
            namespace: field("namespace"),
            name: field("name"),
        }
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.namespace.as_str(), self.name.as_str()) {
            (_, "") => f.write_str("unnamed"),
            ("", name) => f.write_str(name),
            (namespace, name) => write!(f, "{namespace}/{name}"),
        }
    }
}

/// A stable label for logs: what went wrong, without any of the object's values.
fn error_label(error: &ConversionError) -> &'static str {
    match error {
        ConversionError::NotAnObject { .. } => "not_an_object",
        ConversionError::WrongKind { .. } => "wrong_kind",
        ConversionError::UnknownApiVersion { .. } => "unknown_api_version",
        ConversionError::UnknownDesiredVersion { .. } => "unknown_desired_version",
        ConversionError::Decode { .. } => "decode",
        ConversionError::Encode { .. } => "encode",
    }
}

/// Serializes the review with what it says; a review made of JSON values always
/// serializes, but should it not, the API server still gets a failed review rather than
/// a 500.
fn encode(review: &ConversionReview) -> Outcome {
    const FALLBACK: &str = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview","response":{"uid":"","result":{"status":"Failure","message":"cannot encode the conversion response"},"convertedObjects":[]}}"#;
    let success = review
        .response
        .as_ref()
        .is_some_and(|response| response.result.is_success());
    match serde_json::to_vec(review) {
        Ok(json) => Outcome::Reviewed {
            verdict: if success {
                Verdict::Success
            } else {
                Verdict::Failure
            },
            json,
        },
        Err(error) => {
            tracing::error!(%error, "cannot encode a conversion response");
            Outcome::Reviewed {
                verdict: Verdict::Failure,
                json: FALLBACK.as_bytes().to_vec(),
            }
        }
    }
}
