//! One validation function for every path: the CLI, the admission webhook and the controller.
//!
//! [`validate`] checks a v2 LocustTest and returns *every* problem, each naming the field
//! (`spec.worker.replicas`) and saying what to do. It is pure: it never looks at the
//! cluster (whether a referenced ConfigMap exists is the controller's concern).
//! The CRD's schema and CEL rules express the same limits where they can, so a cluster
//! without the webhook still rejects most bad input; this function is the complete set.

mod commands;
mod metadata;
mod mounts;
mod pod;
mod spec;
mod test_files;
mod thresholds;
mod web_ui;

pub use commands::Commands;
pub(crate) use metadata::{is_dns1123_label, is_dns1123_subdomain};

use std::fmt;

use crate::api::v2::LocustTest;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, for example `spec.volumeMounts[1].name`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a LocustTest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Collects errors while the rules run.
#[derive(Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    /// `value` when no error was found, else every error.
    fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ValidationErrors(self.0))
        }
    }

    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// A LocustTest that passed [`validate`] (or started under it), with its commands split:
/// what the builders take.
#[derive(Debug, Clone)]
pub struct Validated<'a> {
    test: &'a LocustTest,
    commands: Commands,
}

impl<'a> Validated<'a> {
    /// A test that passed validation when it started (the spec the controller recorded):
    /// only its commands are split, no rule is checked again, so a rule added by a newer
    /// operator never stops a test that is running.
    pub fn started(test: &'a LocustTest) -> Result<Self, ValidationErrors> {
        let mut errors = Errors::default();
        let commands = commands::split(&test.spec, &mut errors);
        errors.into_result(Validated { test, commands })
    }

    /// `test` with `commands` the validation of this very spec split earlier (the
    /// controller keeps them from one stage to the next).
    pub(crate) fn new(test: &'a LocustTest, commands: Commands) -> Self {
        Validated { test, commands }
    }

    /// The test.
    pub fn test(&self) -> &'a LocustTest {
        self.test
    }

    /// Its commands, split into words.
    pub fn commands(&self) -> &Commands {
        &self.commands
    }
}

/// Validates a v2 LocustTest; `Err` lists every problem, `Ok` carries the split commands.
pub fn validate(test: &LocustTest) -> Result<Validated<'_>, ValidationErrors> {
    let mut errors = Errors::default();
    metadata::check(test, &mut errors);
    spec::check(&test.spec, &mut errors);
    let commands = commands::split(&test.spec, &mut errors);
    commands::check(&test.spec, &commands, &mut errors);
    test_files::check(&test.spec, &mut errors);
    mounts::check(&test.spec, &mut errors);
    pod::check(&test.spec, &mut errors);
    errors.into_result(Validated { test, commands })
}

#[cfg(test)]
mod tests;
