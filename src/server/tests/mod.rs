//! Tests of the HTTPS server: the conversion and admission handlers as functions, TLS
//! loading and reloading, a real HTTPS round trip, metrics and health, hostile bodies
//! thrown at the router, and the request wrapper both webhooks share.

mod admission;
mod admission_cases;
mod admission_hostile;
mod certs;
mod client;
mod convert;
mod hostile;
mod https;
mod routes;
mod tls;
mod webhook;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::metrics::{Metrics, Readiness};
use crate::server::ServerState;

/// Fresh state: its own metrics, nothing ready.
fn state() -> ServerState {
    ServerState::new(
        Arc::new(Metrics::new().expect("metrics register")),
        Readiness::new(),
    )
}

/// The router with fresh state.
fn test_router() -> axum::Router {
    crate::server::router(state())
}

/// A minimal valid v1 LocustTest.
fn v1_object(name: &str) -> Value {
    json!({
        "apiVersion": "locust.io/v1",
        "kind": "LocustTest",
        "metadata": {"name": name, "namespace": "load", "uid": "0f5e-1", "resourceVersion": "7"},
        "spec": {
            "masterCommandSeed": "--locustfile /lotest/src/demo.py --host https://example.com",
            "workerCommandSeed": "--locustfile /lotest/src/demo.py",
            "workerReplicas": 3,
            "image": "locustio/locust:2.43.1"
        }
    })
}

/// A ConversionReview request body.
fn review_body(uid: &str, desired: &str, objects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": uid, "desiredAPIVersion": desired, "objects": objects}
    })
}
