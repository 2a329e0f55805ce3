//! Shared helpers of the builder tests.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{BuildError, Children, Ctx, Role};
use crate::api::v2::{LocustTest, LocustTestSpec, MasterSpec, TestFilesSpec, WorkerSpec};
use crate::config::OperatorConfig;
use crate::validation::Validated;

/// A small valid test `demo` in namespace `default`, without a uid.
pub(crate) fn minimal() -> LocustTest {
    let mut t = LocustTest::new(
        "demo",
        LocustTestSpec {
            image: "locustio/locust:2.43.1".into(),
            master: MasterSpec {
                command: "locust -f /lotest/src/locustfile.py".into(),
                ..Default::default()
            },
            worker: WorkerSpec {
                command: "locust -f /lotest/src/locustfile.py".into(),
                replicas: 2,
                ..Default::default()
            },
            test_files: Some(TestFilesSpec {
                config_map_ref: Some("demo-locustfile".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    t.metadata.namespace = Some("default".into());
    t
}

/// Runs `f` with the builder context of `test` and the default configuration.
pub(crate) fn with_ctx<T>(test: &LocustTest, f: impl FnOnce(&Ctx<'_>) -> T) -> T {
    with_ctx_config(test, &OperatorConfig::default(), f)
}

/// Runs `f` with the builder context of `test` and `config`.
pub(crate) fn with_ctx_config<T>(
    test: &LocustTest,
    config: &OperatorConfig,
    f: impl FnOnce(&Ctx<'_>) -> T,
) -> T {
    let valid = Validated::started(test).expect("commands that split");
    match Ctx::new(test, valid.commands(), config) {
        Ok(ctx) => f(&ctx),
        Err(e) => panic!("test without a name: {e}"),
    }
}

/// The children of `test` (commands split as validation does, no other rule checked).
pub(crate) fn build(test: &LocustTest, config: &OperatorConfig) -> Result<Children, BuildError> {
    let valid = Validated::started(test).map_err(|e| BuildError::Invalid {
        field: "spec".into(),
        reason: e.to_string(),
    })?;
    super::build(&valid, config)
}

/// The pod spec of `role`.
pub(crate) fn pod(children: &Children, role: Role) -> &PodSpec {
    children
        .job(role)
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("a Job has a pod spec")
}

/// The Locust container of `role`.
pub(crate) fn container(children: &Children, role: Role) -> &Container {
    &pod(children, role).containers[0]
}

/// The names of `containers`, in order (none when unset).
pub(crate) fn names(containers: Option<&Vec<Container>>) -> Vec<&str> {
    containers
        .into_iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect()
}
