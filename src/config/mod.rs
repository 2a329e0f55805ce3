//! Operator configuration: one typed clap argument per setting, each read from its flag or
//! its environment variable (the chart and the OLM bundle set the variables).
//!
//! `locust-k8s-operator run --help` documents every setting: its flag, its variable, what
//! it does, its unit, default and range. clap parses and range-checks each value at
//! start-up through the small parsers of [`parse`], so a typo stops the operator with a
//! message naming the variable and the flag (see [`name_the_variable`]) instead of
//! producing broken Jobs later. What clap cannot check alone (one setting depending on
//! another) is checked once after parsing, when the clap structs become the validated
//! configs the rest of the code takes: [`OperatorConfig`] (builders), [`ControllerConfig`]
//! (the controller) and `CertsConfig` (webhook certificates). Nothing else reads the
//! environment.
//!
//! Values are trimmed, and an empty variable counts as unset, with one exception: an empty
//! `POD_*`/`MASTER_POD_*`/`WORKER_POD_*` quantity means "no such request or limit".
//!
//! The design card listed `envy` for configuration from the environment; issue 15
//! ("Configuration through clap with `env`") replaced it, and its hand-written parsers,
//! with these clap definitions.

use std::ffi::OsStr;

use clap::error::{ContextKind, ContextValue, ErrorKind};

mod controller;
pub mod parse;
mod pod;
mod pods;

pub use controller::{ControllerArgs, ControllerConfig, LogFormat, SecureMetrics};
pub use parse::is_quantity;
pub use pod::PodArgs;
pub use pods::{DEFAULT_EXPECT_WORKERS_MAX_WAIT, OperatorArgs, OperatorConfig, ResourceDefaults};

/// A configuration error, naming the environment variable and the flag.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A value clap rejected (wrong type, out of range); clap's message.
    #[error("invalid operator configuration: {0}")]
    Parse(String),
    /// A value that does not fit with another setting.
    #[error("invalid operator configuration: {var}={value:?}: {reason}")]
    Invalid {
        /// The environment variable and its flag.
        var: String,
        /// Its value.
        value: String,
        /// What is wrong and what is expected.
        reason: String,
    },
}

/// Adds the environment variable to a clap error about a value: clap names only the flag
/// (`--pod-cpu-limit <QUANTITY>`), while in a pod the value comes from the variable. The
/// flag is looked up in `cmd` and its subcommands.
pub fn name_the_variable(mut err: clap::Error, cmd: &clap::Command) -> clap::Error {
    if !matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return err;
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else {
        return err;
    };
    let long = shown
        .split_whitespace()
        .next()
        .and_then(|flag| flag.strip_prefix("--"));
    let env = long
        .and_then(|long| env_of(cmd, long))
        .and_then(OsStr::to_str);
    if let Some(env) = env {
        let named = format!("{env} ({shown})");
        err.insert(ContextKind::InvalidArg, ContextValue::String(named));
    }
    err
}

/// The environment variable of the flag `--long` in `cmd` or one of its subcommands.
fn env_of<'a>(cmd: &'a clap::Command, long: &str) -> Option<&'a OsStr> {
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(clap::Arg::get_env)
        .or_else(|| cmd.get_subcommands().find_map(|sub| env_of(sub, long)))
}

/// Parses the settings `A` from the given environment variables only, as `run` would: each
/// variable `A` knows becomes its flag; other variables are ignored, and the process
/// environment is not looked at (tests and tools check a chart's or a bundle's variables).
pub(crate) fn parse_vars<A>(vars: &[(String, String)]) -> Result<A, ConfigError>
where
    A: clap::Args + clap::FromArgMatches,
{
    let with_env = A::augment_args(clap::Command::new("run").no_binary_name(true));
    let argv: Vec<String> = vars
        .iter()
        .filter_map(|(name, value)| {
            with_env
                .get_arguments()
                .find(|a| a.get_env() == Some(OsStr::new(name)))
                .and_then(clap::Arg::get_long)
                .map(|long| format!("--{long}={value}"))
        })
        .collect();
    // `Arg::env` read the process environment when the command was built: drop it.
    let hermetic = with_env
        .clone()
        .mut_args(|a| a.env(None::<&str>).hide_env(true));
    hermetic
        .try_get_matches_from(argv)
        .and_then(|matches| A::from_arg_matches(&matches))
        .map_err(|e| {
            let e = name_the_variable(e, &with_env);
            ConfigError::Parse(clap_message(&e))
        })
}

/// clap's message on one line, without its `error: ` prefix and its hint and usage.
fn clap_message(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let message = text.split("\n\n").next().unwrap_or_default();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(name, value)` pairs as owned variables, for the configuration tests.
#[cfg(test)]
pub(crate) fn test_vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        pods: OperatorArgs,
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_flag() {
        let err = Cli::try_parse_from(["t", "--pod-cpu-limit=lots"]).expect_err("invalid");
        let err = name_the_variable(err, &Cli::command());
        let text = err.render().to_string();
        assert!(
            text.contains("POD_CPU_LIMIT (--pod-cpu-limit <QUANTITY>)"),
            "{text}"
        );
        assert!(text.contains("not a Kubernetes quantity"), "{text}");
    }

    #[test]
    fn other_errors_are_left_alone() {
        let err = Cli::try_parse_from(["t", "--no-such-flag"]).expect_err("unknown");
        let before = err.render().to_string();
        let after = name_the_variable(err, &Cli::command()).render().to_string();
        assert_eq!(before, after);
    }

    #[test]
    fn parsing_variables_ignores_others_and_reports_clap_s_reason() {
        let vars = test_vars(&[("UNRELATED", "x"), ("POD_CPU_REQUEST", "2")]);
        let args: OperatorArgs = parse_vars(&vars).expect("valid");
        assert_eq!(args.pod_cpu_request.0.as_deref(), Some("2"));
        let e = parse_vars::<OperatorArgs>(&test_vars(&[("POD_MEM_LIMIT", "1GB")]))
            .expect_err("invalid");
        assert_eq!(
            e.to_string(),
            "invalid operator configuration: invalid value '1GB' for 'POD_MEM_LIMIT \
             (--pod-mem-limit <QUANTITY>)': not a Kubernetes quantity (examples: 250m, 1, \
             512Mi, 2Gi)"
        );
        let e =
            ControllerConfig::from_vars(test_vars(&[("LOG_FORMAT", "xml")])).expect_err("invalid");
        assert!(
            e.to_string().ends_with(
                "for 'LOG_FORMAT (--log-format <FORMAT>)' [possible values: json, text]"
            ),
            "{e}"
        );
    }
}
