//! Tests of the HTTPS server: the conversion handler as a function, TLS loading and
//! reloading, a real HTTPS round trip, and hostile bodies thrown at the router.

mod certs;
mod client;
mod convert;
mod hostile;
mod https;
mod tls;

use serde_json::{Value, json};

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
