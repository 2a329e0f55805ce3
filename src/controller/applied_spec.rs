//! The spec a test was started from, kept in an annotation on the LocustTest.
//!
//! Tests are immutable (requirements 8.3): children are built from the spec recorded when
//! the test started, never from a later edit. Recovery recreates a deleted child from the
//! same recorded spec, and `SpecDrifted` compares the live spec with it, so putting the
//! spec back clears the condition.

use crate::api::v2::{LocustTest, LocustTestSpec};

/// Annotation holding the JSON of the spec the test was started from.
pub const APPLIED_SPEC_ANNOTATION: &str = "locust.io/applied-spec";

/// The recorded spec, if the test has one that decodes.
pub fn recorded(test: &LocustTest) -> Option<LocustTestSpec> {
    let text = test
        .metadata
        .annotations
        .as_ref()?
        .get(APPLIED_SPEC_ANNOTATION)?;
    serde_json::from_str(text).ok()
}

/// Whether the live spec differs from the recorded one.
pub fn drifted(test: &LocustTest, recorded: &LocustTestSpec) -> bool {
    &test.spec != recorded
}

/// The LocustTest as it was started: the live object with the recorded spec.
pub fn as_started(test: &LocustTest, recorded: &LocustTestSpec) -> LocustTest {
    let mut started = test.clone();
    started.spec = recorded.clone();
    started
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::{MasterSpec, WorkerSpec};

    fn test_with(replicas: i32) -> LocustTest {
        LocustTest::new(
            "t",
            LocustTestSpec {
                image: "i".into(),
                master: MasterSpec {
                    command: "locust".into(),
                    ..Default::default()
                },
                worker: WorkerSpec {
                    command: "locust".into(),
                    replicas,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
    }

    #[test]
    fn records_round_trip_and_drift_is_by_content() {
        let mut t = test_with(2);
        assert_eq!(recorded(&t), None);
        let json = serde_json::to_string(&t.spec).expect("serialises");
        t.metadata.annotations = Some([(APPLIED_SPEC_ANNOTATION.to_string(), json)].into());
        let rec = recorded(&t).expect("recorded");
        assert!(!drifted(&t, &rec));
        t.spec.worker.replicas = 5;
        assert!(drifted(&t, &rec));
        assert_eq!(as_started(&t, &rec).spec.worker.replicas, 2);
        t.spec.worker.replicas = 2;
        assert!(!drifted(&t, &rec), "putting the spec back clears the drift");
    }

    #[test]
    fn a_damaged_annotation_is_ignored() {
        let mut t = test_with(1);
        t.metadata.annotations =
            Some([(APPLIED_SPEC_ANNOTATION.to_string(), "{not json".to_string())].into());
        assert_eq!(recorded(&t), None);
    }
}
