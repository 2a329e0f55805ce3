//! Arguments of the `locust-k8s-operator` command.

use std::io::Read;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use super::CliError;
use crate::certs::{CertsConfig, WebhookArgs};
use crate::config::{
    ConfigError, ControllerArgs, ControllerConfig, OperatorArgs, OperatorConfig, PodArgs,
};

/// Runs distributed Locust load tests from LocustTest resources, and renders, converts and
/// validates them offline.
#[derive(Debug, Parser)]
#[command(name = "locust-k8s-operator", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the LocustTest CustomResourceDefinition (YAML).
    Crd,
    /// Print every object the operator would create for a LocustTest (v1 or v2):
    /// the master Service, the master Job, then the worker Job.
    Render {
        /// The LocustTest manifest; `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
        /// The defaults of the Locust pods, as `run` takes them.
        #[command(flatten)]
        pods: Box<OperatorArgs>,
    },
    /// Convert a LocustTest between locust.io/v1 and locust.io/v2.
    Convert {
        /// The LocustTest manifest; `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
        /// The version to convert to.
        #[arg(long, value_enum)]
        to: TargetVersion,
    },
    /// Check a LocustTest; prints every problem and exits 1 when it is invalid.
    Validate {
        /// The LocustTest manifest; `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
    },
    /// Create a LocustTest and, with `--wait`, follow it to its verdict: for CI pipelines.
    ///
    /// The file is validated first, with the webhook's rules; an invalid file exits 3 and
    /// nothing is sent. Progress goes to stderr; the verdict and the numbers (or one JSON
    /// document with `--json`) to stdout.
    Test(Box<super::test_run::TestArgs>),
    /// Run the operator (the container's default command).
    ///
    /// Every setting is a flag and an environment variable (the chart and the OLM bundle set
    /// the variables); a flag wins over its variable. Values are trimmed and an empty
    /// variable counts as unset, except the Locust pods' quantities, where empty means no
    /// such request or limit. An invalid value stops the operator, naming the variable.
    Run(Box<RunArgs>),
}

/// The arguments of `run`: every setting of the operator.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The controller's settings.
    #[command(flatten)]
    pub controller: ControllerArgs,
    /// Compete for the leader-election Lease so several replicas can run; turn off
    /// with `--leader-elect=false` for a single local process.
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = clap::ArgAction::Set,
        help_heading = "Leader election",
    )]
    pub leader_elect: bool,
    /// The pod's name and namespace.
    #[command(flatten)]
    pub pod: PodArgs,
    /// The defaults of the Locust pods.
    #[command(flatten)]
    pub pods: OperatorArgs,
    /// The webhooks' settings.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// The validated configuration of `run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Whether to compete for the leader-election Lease.
    pub leader_elect: bool,
    /// The controller's settings.
    pub controller: ControllerConfig,
    /// The defaults of the Locust pods.
    pub pods: OperatorConfig,
    /// The webhook certificates' settings.
    pub certs: CertsConfig,
}

impl RunArgs {
    /// The validated configuration: the checks that span several settings.
    pub fn validate(self) -> Result<RunConfig, ConfigError> {
        Ok(RunConfig {
            leader_elect: self.leader_elect,
            controller: ControllerConfig::new(self.controller, &self.pod)?,
            pods: OperatorConfig::from(self.pods),
            certs: CertsConfig::new(self.webhooks, &self.pod),
        })
    }
}

/// A LocustTest API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetVersion {
    /// locust.io/v1 (deprecated).
    V1,
    /// locust.io/v2.
    V2,
}

/// Reads the file, or standard input for `-`.
pub(super) fn read_input(file: &PathBuf) -> Result<String, CliError> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Input(format!("reading standard input: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Input(format!("reading {}: {e}", file.display())))
    }
}
