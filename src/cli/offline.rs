//! The offline commands: pure functions from input text to output text.

use super::{CliError, TargetVersion};
use crate::api::v2;
use crate::config::OperatorConfig;
use crate::manifest::{AnyLocustTest, parse_documents};
use crate::{builders, conversion, crd as crd_gen, validation, yaml};

/// Namespace used when a manifest has none.
const DEFAULT_NAMESPACE: &str = "default";

pub(super) fn crd() -> Result<String, CliError> {
    crd_gen::crd_yaml().map_err(|e| CliError::Internal(e.to_string()))
}

pub(super) fn render(text: &str, config: OperatorConfig) -> Result<String, CliError> {
    let mut objects = Vec::new();
    for test in valid_v2_tests(text)? {
        let invalid =
            |e: &dyn std::fmt::Display| CliError::Invalid(format!("{}: {e}", name_of(&test)));
        let valid = validation::validate(&test).map_err(|e| invalid(&e))?;
        let children = builders::build(&valid, &config).map_err(|e| invalid(&e))?;
        objects.extend(children.into_objects());
    }
    yaml::to_yaml_documents(&objects).map_err(|e| CliError::Internal(e.to_string()))
}

pub(super) fn convert(text: &str, to: TargetVersion) -> Result<String, CliError> {
    let mut out = Vec::new();
    for doc in parse(text)? {
        let value = match (doc, to) {
            (AnyLocustTest::V1(t), TargetVersion::V1) => to_value(&*t)?,
            (AnyLocustTest::V2(t), TargetVersion::V2) => to_value(&*t)?,
            (AnyLocustTest::V1(t), TargetVersion::V2) => {
                to_value(&conversion::v1_to_v2(&t).map_err(|e| CliError::Invalid(e.to_string()))?)?
            }
            (AnyLocustTest::V2(t), TargetVersion::V1) => {
                to_value(&conversion::v2_to_v1(&t).map_err(|e| CliError::Invalid(e.to_string()))?)?
            }
        };
        out.push(value);
    }
    yaml::to_yaml_documents(&out).map_err(|e| CliError::Internal(e.to_string()))
}

pub(super) fn validate(text: &str) -> Result<String, CliError> {
    let tests = valid_v2_tests(text)?;
    Ok(tests
        .iter()
        .map(|t| format!("{} is valid\n", name_of(t)))
        .collect())
}

/// Parses, converts v1 to v2, defaults the namespace and validates every document; the
/// error lists every problem of every document.
fn valid_v2_tests(text: &str) -> Result<Vec<v2::LocustTest>, CliError> {
    let mut tests = Vec::new();
    let mut problems = Vec::new();
    for doc in parse(text)? {
        let mut test = match doc {
            AnyLocustTest::V2(t) => *t,
            AnyLocustTest::V1(t) => {
                conversion::v1_to_v2(&t).map_err(|e| CliError::Invalid(e.to_string()))?
            }
        };
        test.metadata
            .namespace
            .get_or_insert_with(|| DEFAULT_NAMESPACE.to_string());
        match validation::validate(&test) {
            Ok(_) => tests.push(test),
            Err(errors) => {
                problems.extend(errors.0.iter().map(|e| format!("{}: {e}", name_of(&test))))
            }
        }
    }
    if problems.is_empty() {
        Ok(tests)
    } else {
        Err(CliError::Invalid(problems.join("\n")))
    }
}

fn parse(text: &str) -> Result<Vec<AnyLocustTest>, CliError> {
    parse_documents(text).map_err(|e| CliError::Input(e.to_string()))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(v).map_err(|e| CliError::Internal(e.to_string()))
}

fn name_of(test: &v2::LocustTest) -> String {
    format!(
        "locusttest/{}",
        test.metadata.name.as_deref().unwrap_or("(unnamed)")
    )
}
