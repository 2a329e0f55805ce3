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

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    for (role, command, extra) in [
        ("master", &spec.master.command, &spec.master.extra_args),
        ("worker", &spec.worker.command, &spec.worker.extra_args),
    ] {
        let field = format!("spec.{role}.command");
        match shell_words::split(command) {
            Ok(words) if words.is_empty() => errors.add(
                &field,
                "is required: for example \"locust -f /lotest/src/locustfile.py\"",
            ),
            Ok(words) => check_words(&field, &words, errors),
            Err(e) => errors.add(&field, format!("cannot be split into arguments: {e}")),
        }
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
