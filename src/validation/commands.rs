//! Rules on the master and worker command lines.

use super::Errors;
use crate::api::v2::LocustTestSpec;

/// Flags the operator sets itself; a user copy would contradict them.
const MANAGED_FLAGS: &[&str] = &[
    "--master",
    "--worker",
    "--master-host",
    "--master-port",
    "--master-bind-host",
    "--master-bind-port",
    "--expect-workers",
];

/// The master's and the workers' commands split into words like a shell would: what the
/// builders put into the pods, so they never parse a command themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commands {
    /// `spec.master.command`, as words.
    pub master: Vec<String>,
    /// `spec.worker.command`, as words.
    pub worker: Vec<String>,
}

/// Splits both commands; a command that cannot be split or is empty is an error naming
/// its field. No other rule is checked.
pub(super) fn split(spec: &LocustTestSpec, errors: &mut Errors) -> Commands {
    let mut words = |role: &str, command: &str| {
        let field = format!("spec.{role}.command");
        match shell_words::split(command) {
            Ok(words) if words.is_empty() => {
                errors.add(
                    &field,
                    "is required: for example \"locust -f /lotest/src/locustfile.py\"",
                );
                Vec::new()
            }
            Ok(words) => words,
            Err(e) => {
                errors.add(
                    &field,
                    format!("cannot be split into arguments ({e}): close the quote or escape it"),
                );
                Vec::new()
            }
        }
    };
    Commands {
        master: words("master", &spec.master.command),
        worker: words("worker", &spec.worker.command),
    }
}

/// The rules on the split commands and on extraArgs.
pub(super) fn check(spec: &LocustTestSpec, commands: &Commands, errors: &mut Errors) {
    for (role, words, extra) in [
        ("master", &commands.master, &spec.master.extra_args),
        ("worker", &commands.worker, &spec.worker.extra_args),
    ] {
        check_words(&format!("spec.{role}.command"), words, errors);
        for (i, arg) in extra.iter().flatten().enumerate() {
            check_words(
                &format!("spec.{role}.extraArgs[{i}]"),
                std::slice::from_ref(arg),
                errors,
            );
        }
    }
}

fn check_words(field: &str, words: &[String], errors: &mut Errors) {
    for w in words {
        let flag = w.split('=').next().unwrap_or(w);
        if flag == "--headless" {
            errors.add(
                field,
                "--headless disables the master's web UI and the stats API the operator reads; \
                 remove it (the operator starts the run with --autostart)",
            );
        } else if MANAGED_FLAGS.contains(&flag) {
            errors.add(
                field,
                format!("{flag} is set by the operator; remove it from the command"),
            );
        }
    }
}
