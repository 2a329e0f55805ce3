//! The command line: `crd`, `render`, `convert`, `validate` (offline), `test` (a test
//! from CI) and `run`.
//!
//! Every offline command builds its whole output before printing it, so a failure never
//! leaves partial YAML on stdout; messages go to stderr and the exit code is non-zero.

mod args;
mod offline;
pub mod run;
pub mod test_run;

pub use args::{Cli, Command, RunArgs, RunConfig, TargetVersion};

use std::process::ExitCode;

use crate::config::OperatorConfig;

/// A CLI failure: the message for stderr and the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input could not be read or is not a valid LocustTest.
    #[error("{0}")]
    Input(String),
    /// The LocustTest is well-formed but invalid; one line per problem.
    #[error("{0}")]
    Invalid(String),
    /// Something the user cannot fix went wrong.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }
}

/// Runs an offline command and returns what to print on stdout.
pub fn run_offline(command: &Command) -> Result<String, CliError> {
    match command {
        Command::Crd => offline::crd(),
        Command::Render { file, pods } => offline::render(
            &args::read_input(file)?,
            OperatorConfig::from((**pods).clone()),
        ),
        Command::Convert { file, to } => offline::convert(&args::read_input(file)?, *to),
        Command::Validate { file } => offline::validate(&args::read_input(file)?),
        Command::Run(_) | Command::Test(_) => Err(CliError::Internal(
            "`run` and `test` are not offline commands".into(),
        )),
    }
}
