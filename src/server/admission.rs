//! `POST /validate`: the validating admission webhook for LocustTests
//! (`AdmissionReview`, admission.k8s.io/v1).
//!
//! Every LocustTest that is created, or whose spec is changed, goes through
//! [`crate::validation::validate`], the same function the CLI and the controller run, so
//! `kubectl apply` of a bad test fails at once with every problem and its field:
//!
//! ```text
//! LocustTest load/demo is invalid: spec.worker.replicas: must be between 1 and 500 (got 0); spec.image: is required …
//! ```
//!
//! - **v1 and v2** objects are each decoded as their own version, so a field that does not
//!   decode is named as the client wrote it (`spec.workerReplicas: invalid type …`). A v1
//!   object is then converted with [`crate::conversion::v1_to_v2`] and validated as v2;
//!   each problem names the v1 field and its v2 counterpart
//!   (`spec.workerReplicas (locust.io/v2: spec.worker.replicas): must be …`), and fields
//!   that exist only in v2 are marked `(a locust.io/v2 field)`.
//! - **UPDATE**: a change of metadata alone (labels, finalizers, annotations other than
//!   the spec itself) is always allowed, even for a test stored before the webhook existed.
//!   A spec change is validated; when the test has already started (it carries
//!   [`crate::controller::APPLIED_SPEC_ANNOTATION`] or `status.startTime`), a valid change is
//!   allowed, as the immutable-test design wants, but answered with a warning that it will
//!   not be applied and that the test must be deleted and created again.
//! - DELETE, CONNECT, subresources and other kinds are allowed without a look.
//! - A denial is `allowed: false` with a `Status` of reason `Invalid`, code 422, the
//!   message above and one cause per problem (`field`, `message`).
//! - An object that is not even a Kubernetes object (`metadata.labels` a list) is denied
//!   naming the field; only a body that is not an `AdmissionReview` gets HTTP 400, and a
//!   body over [`super::MAX_BODY_BYTES`] gets 413 (both from the wrapper the two webhooks
//!   share, which also records the metrics).
//!
//! Object contents are never logged (env values may hold secrets): logs carry the uid,
//! operation, namespace, name and the names of the fields in error.

use std::time::Instant;

use axum::body::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::response::{StatusCause, StatusDetails};
use kube::core::{DynamicObject, Status};
use serde_json::{Value, json};

use super::reply::truncate;
use super::webhook::{BadReview, Outcome, Reviewer, Verdict};
use crate::api::{KIND, v1, v2};
use crate::controller::APPLIED_SPEC_ANNOTATION;
use crate::conversion::{V2_SPEC_ANNOTATION, v1_to_v2};
use crate::manifest::{DecodeError, V1_API_VERSION, V2_API_VERSION, decode};
use crate::metrics::Webhook;
use crate::validation::validate;

/// The kind of an admission review.
const META_KIND: &str = "AdmissionReview";
/// The only review version served (the webhook configuration lists
/// `admissionReviewVersions: [v1]`).
const META_API_VERSION_V1: &str = "admission.k8s.io/v1";
/// The API group of LocustTests.
const GROUP: &str = "locust.io";

/// Most problems listed in one denial (the rest are counted).
const MAX_PROBLEMS: usize = 50;

/// The warning given when the spec of a test that has started is changed.
pub const SPEC_CHANGE_WARNING: &str = "this LocustTest has already started and its spec change will not be applied: a test never changes once started; to run the new spec, delete the test and create it again";

/// A request body read as far as it can be answered.
#[derive(Debug)]
pub enum Parsed {
    /// A request to [`review`].
    Request(Box<AdmissionRequest<DynamicObject>>),
    /// The request's `object` is not a Kubernetes object: already denied, naming the field.
    Undecodable(Box<AdmissionResponse>),
}

/// Decodes a request body as an AdmissionReview request.
///
/// The review itself must be well formed (else [`BadReview`], HTTP 400); an `object` that
/// is not a Kubernetes object still gets an answer, [`Parsed::Undecodable`], since the
/// request's uid is known. An `oldObject` that is not one is dropped.
pub fn parse(body: &[u8]) -> Result<Parsed, BadReview> {
    let decode_error = |detail: String| BadReview::Decode {
        review: META_KIND,
        detail: truncate(detail),
    };
    let mut raw: Value = serde_json::from_slice(body).map_err(|e| decode_error(e.to_string()))?;
    let Some(envelope) = raw.as_object_mut() else {
        return Err(decode_error("expected a JSON object".into()));
    };
    let text = |key: &str| {
        envelope
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    BadReview::check_type(
        (META_KIND, META_API_VERSION_V1),
        text("kind"),
        text("apiVersion"),
    )?;
    // The objects are decoded on their own, so that a broken object is denied with its
    // field rather than failing the whole review.
    let (object, old_object) = match envelope.get_mut("request").and_then(Value::as_object_mut) {
        Some(request) => (request.remove("object"), request.remove("oldObject")),
        None => (None, None),
    };
    let review: AdmissionReview<DynamicObject> =
        decode(raw).map_err(|e| decode_error(format!("{}: {}", e.path, e.message)))?;
    let mut request: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|_| BadReview::MissingRequest { review: META_KIND })?;
    if request.uid.is_empty() {
        return Err(BadReview::EmptyUid { review: META_KIND });
    }
    request.old_object = old_object
        .filter(|v| !v.is_null())
        .and_then(|v| decode_object(v).ok());
    if let Some(object) = object.filter(|v| !v.is_null()) {
        match decode_object(object) {
            Ok(object) => request.object = Some(object),
            // A request this webhook does not check is allowed whatever its object holds.
            Err(_) if !checked(&request) => request.object = None,
            Err(error) => {
                let problem = Problem {
                    field: error.path,
                    message: error.message,
                };
                let subject = Subject::of(&request, None);
                return Ok(Parsed::Undecodable(Box::new(deny(
                    &request,
                    &subject,
                    "",
                    vec![problem],
                ))));
            }
        }
    }
    Ok(Parsed::Request(Box::new(request)))
}

/// Answers an admission request (pure: no I/O besides logs). See the module's docs for
/// what is allowed, denied and warned about.
pub fn review(request: AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let started = Instant::now();
    let response = decide(&request);
    tracing::debug!(
        uid = %request.uid,
        operation = ?request.operation,
        namespace = request.namespace.as_deref().unwrap_or_default(),
        name = %request.name,
        allowed = response.allowed,
        warnings = response.warnings.as_ref().map_or(0, Vec::len),
        elapsed_us = started.elapsed().as_micros() as u64,
        "admission review"
    );
    response
}

/// Whether the webhook checks this request at all: a CREATE or UPDATE of a LocustTest
/// itself (not of a subresource).
fn checked(request: &AdmissionRequest<DynamicObject>) -> bool {
    matches!(request.operation, Operation::Create | Operation::Update)
        && request.sub_resource.is_none()
        && request.kind.group == GROUP
        && request.kind.kind == KIND
}

fn decide(request: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let allow = AdmissionResponse::from(request);
    if !matches!(request.operation, Operation::Create | Operation::Update)
        || request.sub_resource.is_some()
    {
        return allow;
    }
    if !checked(request) {
        tracing::warn!(
            uid = %request.uid,
            group = %truncate(request.kind.group.clone()),
            kind = %truncate(request.kind.kind.clone()),
            "admission request for a kind this webhook does not check: allowed"
        );
        return allow;
    }
    let Some(object) = &request.object else {
        let subject = Subject::of(request, None);
        let problem = Problem {
            field: "(root)".into(),
            message: "the admission request carries no object".into(),
        };
        return deny(request, &subject, "", vec![problem]);
    };
    let version = api_version(object, request);
    let subject = Subject::of(request, Some(object));
    let old = match request.operation {
        Operation::Update => request.old_object.as_ref(),
        _ => None,
    };
    if let Some(old) = old
        && same_spec_json(old, object)
    {
        return allow;
    }
    let test = match to_v2(object, &version) {
        Ok(test) => test,
        Err(Rejection::Decode(error)) => {
            let problem = Problem {
                field: error.path,
                message: error.message,
            };
            return deny(request, &subject, "", vec![problem]);
        }
        Err(Rejection::Other(problem)) => return deny(request, &subject, "", vec![problem]),
    };
    if let Some(old) = old
        && let Ok(before) = to_v2(old, &api_version(old, request))
        && before.spec == test.spec
    {
        return allow;
    }
    if let Err(errors) = validate(&test) {
        let v1 = version == V1_API_VERSION;
        let problems = errors
            .0
            .into_iter()
            .map(|e| Problem {
                field: if v1 { v1_field(&e.field) } else { e.field },
                message: e.message,
            })
            .collect();
        let note = if v1 {
            " (a locust.io/v1 object, checked as its locust.io/v2 conversion)"
        } else {
            ""
        };
        return deny(request, &subject, note, problems);
    }
    if request.operation == Operation::Update
        && (old.is_some_and(has_started) || has_started(object))
    {
        tracing::info!(
            uid = %request.uid,
            namespace = %subject.namespace,
            name = %subject.name,
            "spec change of a started LocustTest allowed with a warning: it will not be applied"
        );
        let mut allow = allow;
        allow.warnings = Some(vec![SPEC_CHANGE_WARNING.to_owned()]);
        return allow;
    }
    allow
}

/// The admission webhook, served by the shared wrapper (`super::webhook`).
pub(super) struct Admission;

impl Reviewer for Admission {
    const WEBHOOK: Webhook = Webhook::Validate;
    const NOUN: &'static str = "admission";
    const INTERNAL_ERROR: &'static str = "internal error while reviewing; see the operator's logs";

    /// Body → [`parse`] → [`review`] → JSON.
    fn answer(body: Bytes) -> Outcome {
        let response = match parse(&body) {
            Ok(Parsed::Request(request)) => {
                drop(body);
                review(*request)
            }
            Ok(Parsed::Undecodable(response)) => *response,
            Err(bad) => return bad.into(),
        };
        encode(response)
    }
}

/// One problem with one field.
struct Problem {
    field: String,
    message: String,
}

/// The namespace and name of the object under review, for messages and logs.
struct Subject {
    namespace: String,
    name: String,
}

impl Subject {
    fn of(request: &AdmissionRequest<DynamicObject>, object: Option<&DynamicObject>) -> Self {
        let meta = object.map(|o| &o.metadata);
        let pick = |from_meta: Option<&String>, from_request: Option<&str>| {
            from_meta
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .or(from_request)
                .unwrap_or_default()
                .chars()
                .take(253)
                .collect::<String>()
        };
        Self {
            namespace: pick(
                meta.and_then(|m| m.namespace.as_ref()),
                request.namespace.as_deref(),
            ),
            name: pick(
                meta.and_then(|m| m.name.as_ref()),
                Some(request.name.as_str()),
            ),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.namespace.as_str(), self.name.as_str()) {
            (_, "") => f.write_str("LocustTest"),
            ("", name) => write!(f, "LocustTest {name}"),
            (namespace, name) => write!(f, "LocustTest {namespace}/{name}"),
        }
    }
}

/// A denial listing every problem: `LocustTest ns/name is invalid: field: message; …`.
fn deny(
    request: &AdmissionRequest<DynamicObject>,
    subject: &Subject,
    note: &str,
    problems: Vec<Problem>,
) -> AdmissionResponse {
    let total = problems.len();
    let causes: Vec<StatusCause> = problems
        .into_iter()
        .take(MAX_PROBLEMS)
        .map(|p| StatusCause {
            reason: "FieldValueInvalid".into(),
            // kubectl prints causes as `* field: message`: the message leaves the field out.
            message: truncate(p.message),
            field: truncate(p.field),
        })
        .collect();
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    tracing::info!(
        uid = %request.uid,
        namespace = %subject.namespace,
        name = %subject.name,
        ?fields,
        "LocustTest denied"
    );
    let mut message = format!(
        "{subject} is invalid{note}: {}",
        causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect::<Vec<_>>()
            .join("; ")
    );
    if total > causes.len() {
        message.push_str(&format!(" (and {} more)", total - causes.len()));
    }
    let mut response = AdmissionResponse::from(request);
    response.allowed = false;
    response.result = Status::failure(&message, "Invalid")
        .with_code(422)
        .with_details(StatusDetails {
            name: subject.name.clone(),
            group: GROUP.into(),
            kind: KIND.into(),
            uid: String::new(),
            causes,
            retry_after_seconds: 0,
        });
    response
}

/// Why an object is not a v2 LocustTest to validate.
enum Rejection {
    /// A field does not decode in the object's own version.
    Decode(DecodeError),
    /// Another problem (an unknown version, a failed conversion).
    Other(Problem),
}

/// The object as a v2 LocustTest: decoded as `version`, converted when v1.
fn to_v2(object: &DynamicObject, version: &str) -> Result<v2::LocustTest, Rejection> {
    let mut value = serde_json::to_value(object).map_err(|e| {
        Rejection::Other(Problem {
            field: "(root)".into(),
            message: format!("cannot read the object: {e}"),
        })
    })?;
    if let Some(map) = value.as_object_mut() {
        // The API server always sends both; fill them in so a bare object still decodes.
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(version.to_owned()));
        map.entry("kind")
            .or_insert_with(|| Value::String(KIND.to_owned()));
    }
    match version {
        V2_API_VERSION => decode::<v2::LocustTest>(value).map_err(Rejection::Decode),
        V1_API_VERSION => {
            let test = decode::<v1::LocustTest>(value).map_err(Rejection::Decode)?;
            v1_to_v2(&test).map_err(|e| {
                Rejection::Other(Problem {
                    field: "(root)".into(),
                    message: format!("cannot convert to locust.io/v2: {e}"),
                })
            })
        }
        other => Err(Rejection::Other(Problem {
            field: "apiVersion".into(),
            message: format!(
                "must be {V2_API_VERSION} or {V1_API_VERSION}, got {:?}",
                truncate(other.to_owned())
            ),
        })),
    }
}

/// The object's `apiVersion`, or the request's group/version when the object has none.
fn api_version(object: &DynamicObject, request: &AdmissionRequest<DynamicObject>) -> String {
    match &object.types {
        Some(types) if !types.api_version.is_empty() => types.api_version.clone(),
        _ => format!("{}/{}", request.kind.group, request.kind.version),
    }
}

/// Whether two versions of an object have the same spec, as JSON: the same `spec` and, for
/// v1, the same annotation holding the v2-only fields.
fn same_spec_json(old: &DynamicObject, new: &DynamicObject) -> bool {
    let stored = |o: &DynamicObject| {
        o.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(V2_SPEC_ANNOTATION))
            .cloned()
    };
    old.data.get("spec") == new.data.get("spec") && stored(old) == stored(new)
}

/// Whether the test has started: the controller recorded the spec it started from, or
/// the status has a start time.
fn has_started(object: &DynamicObject) -> bool {
    let recorded = object
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(APPLIED_SPEC_ANNOTATION));
    let start_time = object
        .data
        .get("status")
        .and_then(|s| s.get("startTime"))
        .is_some_and(|t| !t.is_null());
    recorded || start_time
}

/// Decodes an object of the request, naming the field that does not fit.
fn decode_object(value: Value) -> Result<DynamicObject, DecodeError> {
    if !value.is_object() {
        return Err(DecodeError {
            path: "(root)".into(),
            message: format!("expected a Kubernetes object, found {}", kind_of(&value)),
        });
    }
    let metadata = value.get("metadata").cloned();
    decode::<DynamicObject>(value).map_err(|error| {
        // Flattened fields hide the path; decode the metadata alone to find it.
        match metadata.map(decode::<ObjectMeta>) {
            Some(Err(inner)) => DecodeError {
                path: match inner.path.as_str() {
                    "(root)" => "metadata".into(),
                    path => format!("metadata.{path}"),
                },
                message: inner.message,
            },
            _ => error,
        }
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// v2 field paths and the v1 fields they come from (longest first where they nest).
const V1_FIELDS: [(&str, &str); 13] = [
    ("spec.master.command", "spec.masterCommandSeed"),
    ("spec.worker.command", "spec.workerCommandSeed"),
    ("spec.worker.replicas", "spec.workerReplicas"),
    ("spec.master.labels", "spec.labels.master"),
    ("spec.worker.labels", "spec.labels.worker"),
    ("spec.master.annotations", "spec.annotations.master"),
    ("spec.worker.annotations", "spec.annotations.worker"),
    ("spec.testFiles.configMapRef", "spec.configMap"),
    ("spec.testFiles.libConfigMapRef", "spec.libConfigMap"),
    ("spec.scheduling.affinity", "spec.affinity"),
    ("spec.scheduling.tolerations", "spec.tolerations"),
    ("spec.imagePullSecrets", "spec.imagePullSecrets"),
    ("spec.imagePullPolicy", "spec.imagePullPolicy"),
];

/// The name of a v2 field for a v1 client: `spec.workerReplicas (locust.io/v2:
/// spec.worker.replicas)`; the same name where v1 has it too (`spec.image`,
/// `metadata.name`); `(a locust.io/v2 field)` for fields v1 does not have.
fn v1_field(v2: &str) -> String {
    for (v2_prefix, v1_prefix) in V1_FIELDS {
        if let Some(rest) = v2.strip_prefix(v2_prefix)
            && (rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
        {
            return if v2_prefix == v1_prefix {
                v2.to_owned()
            } else {
                format!("{v1_prefix}{rest} (locust.io/v2: {v2})")
            };
        }
    }
    if v2 == "spec.image" || !v2.starts_with("spec") {
        v2.to_owned()
    } else {
        format!("{v2} (a locust.io/v2 field)")
    }
}

/// Serializes the response as a review with what it says; should that ever fail, the API
/// server still gets a well-formed denial with the request's uid rather than a 500.
fn encode(response: AdmissionResponse) -> Outcome {
    let uid = response.uid.clone();
    let verdict = if response.allowed {
        Verdict::Allowed
    } else {
        Verdict::Denied
    };
    match serde_json::to_vec(&response.into_review()) {
        Ok(json) => Outcome::Reviewed { verdict, json },
        Err(error) => {
            tracing::error!(%uid, %error, "cannot encode an admission response");
            let fallback = json!({
                "apiVersion": META_API_VERSION_V1,
                "kind": META_KIND,
                "response": {
                    "uid": uid,
                    "allowed": false,
                    "status": {"status": "Failure", "message": "cannot encode the admission response", "reason": "InternalError", "code": 500},
                },
            });
            Outcome::Reviewed {
                verdict: Verdict::Denied,
                json: fallback.to_string().into_bytes(),
            }
        }
    }
}
