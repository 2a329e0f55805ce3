//! The Locust invocation of the master and the workers.
//!
//! A command is split like a shell does (quoted arguments stay whole). Two styles work with
//! the official image, whose entrypoint is `locust`:
//! - flags only (`--locustfile x.py --host …`, the v1 style): no container `command` is set,
//!   every word goes to `args`, and the entrypoint runs them;
//! - a program first (`locust -f x.py`): the container `command` is that program and `args`
//!   the rest, so the result is `locust -f x.py …`, never `locust locust -f …`.
//!
//! The operator's flags follow the user's command; `extraArgs` always come last.

use crate::api::v2::{
    DEFAULT_AUTOQUIT_TIMEOUT, LocustTestSpec, MAX_PROCESSES_PER_POD, MAX_WORKER_REPLICAS,
};

use super::{BuildError, Ctx, MASTER_PORT};

/// The container's `command` and `args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// The program, when the user's command names one; `None` keeps the image entrypoint.
    pub command: Option<Vec<String>>,
    /// Everything after the program.
    pub args: Vec<String>,
}

/// Number of Locust workers the master waits for: `replicas × processesPerPod`
/// (processesPerPod defaults to 1). Saturates instead of overflowing on unvalidated input.
pub fn expected_workers(spec: &LocustTestSpec) -> i32 {
    let processes = spec.worker.processes_per_pod.unwrap_or(1).max(1);
    spec.worker.replicas.max(0).saturating_mul(processes)
}

/// The program and arguments of a command already split into `words` (the value of
/// `field`): a first word that is a flag keeps the image's entrypoint.
fn invocation(field: &'static str, words: &[String]) -> Result<Invocation, BuildError> {
    let (first, rest) = words
        .split_first()
        .ok_or(BuildError::EmptyCommand { field })?;
    Ok(if first.starts_with('-') {
        Invocation {
            command: None,
            args: words.to_vec(),
        }
    } else {
        Invocation {
            command: Some(vec![first.clone()]),
            args: rest.to_vec(),
        }
    })
}

/// Checks the worker counts the invocation depends on.
fn check_workers(ctx: &Ctx<'_>) -> Result<(), BuildError> {
    let worker = ctx.worker();
    if !(1..=MAX_WORKER_REPLICAS).contains(&worker.replicas) {
        return Err(BuildError::invalid(
            "spec.worker.replicas",
            format!(
                "must be between 1 and {MAX_WORKER_REPLICAS}, got {}",
                worker.replicas
            ),
        ));
    }
    if let Some(p) = worker.processes_per_pod
        && !(1..=MAX_PROCESSES_PER_POD).contains(&p)
    {
        return Err(BuildError::invalid(
            "spec.worker.processesPerPod",
            format!("must be between 1 and {MAX_PROCESSES_PER_POD}, got {p}"),
        ));
    }
    Ok(())
}

/// Whether OpenTelemetry export is on.
pub(crate) fn otel_enabled(spec: &LocustTestSpec) -> bool {
    spec.observability
        .as_ref()
        .and_then(|o| o.open_telemetry.as_ref())
        .is_some_and(|o| o.enabled)
}

/// Locust's flag bounding the wait for workers.
const MAX_WAIT_FLAG: &str = "--expect-workers-max-wait";

/// How long the master waits for its workers (`--expect-workers-max-wait`), in seconds:
/// `master.expectWorkersMaxWait`, else the operator's `default` (from
/// `EXPECT_WORKERS_MAX_WAIT_SECONDS`). `None` when the wait is unbounded (0) or the
/// master's extraArgs pass the flag themselves (the operator then adds nothing).
pub fn expect_workers_max_wait(spec: &LocustTestSpec, default: u32) -> Option<u32> {
    let user_flag = spec
        .master
        .extra_args
        .iter()
        .flatten()
        .any(|a| a == MAX_WAIT_FLAG || a.starts_with(&format!("{MAX_WAIT_FLAG}=")));
    if user_flag {
        return None;
    }
    let wait = spec
        .master
        .expect_workers_max_wait
        .map_or(default, |w| u32::try_from(w).unwrap_or(0));
    (wait > 0).then_some(wait)
}

/// The master's invocation: the user's command, `--master --master-port=5557
/// --expect-workers=N`, `--autostart`, `--autoquit T` (only with `--autostart`, which
/// Locust requires), `--expect-workers-max-wait=S` (see [`expect_workers_max_wait`]),
/// `--otel`, `--json-file`, `--html`, `--web-base-path`, then extraArgs.
pub(crate) fn master(ctx: &Ctx<'_>) -> Result<Invocation, BuildError> {
    check_workers(ctx)?;
    let spec = ctx.spec;
    let master = ctx.master();
    let mut inv = invocation("spec.master.command", &ctx.commands.master)?;
    let args = &mut inv.args;
    args.push("--master".into());
    args.push(format!("--master-port={MASTER_PORT}"));
    args.push(format!("--expect-workers={}", expected_workers(spec)));

    let autostart = master.autostart != Some(false);
    if autostart {
        args.push("--autostart".into());
        let autoquit = master.autoquit.as_ref();
        if autoquit.and_then(|a| a.enabled) != Some(false) {
            let timeout = autoquit
                .and_then(|a| a.timeout)
                .unwrap_or(DEFAULT_AUTOQUIT_TIMEOUT);
            if timeout < 0 {
                return Err(BuildError::invalid(
                    "spec.master.autoquit.timeout",
                    format!("must be 0 or more seconds, got {timeout}"),
                ));
            }
            args.push("--autoquit".into());
            args.push(timeout.to_string());
        }
    }

    // Locust waits for workers only when it starts the run itself.
    if let Some(wait) =
        expect_workers_max_wait(spec, ctx.config.expect_workers_max_wait).filter(|_| autostart)
    {
        args.push(format!("{MAX_WAIT_FLAG}={wait}"));
    }
    if otel_enabled(spec) {
        args.push("--otel".into());
    }
    if let Some(output) = &spec.output {
        for (flag, file, field) in [
            (
                "--json-file",
                &output.json_file,
                "spec.output.jsonFile.path",
            ),
            ("--html", &output.html_report, "spec.output.htmlReport.path"),
        ] {
            if let Some(file) = file.as_ref().filter(|f| f.enabled) {
                if file.path.is_empty() {
                    return Err(BuildError::invalid(
                        field,
                        "required when the output is enabled",
                    ));
                }
                args.push(flag.into());
                args.push(file.path.clone());
            }
        }
    }
    if let Some(base) = spec.web_ui.as_ref().and_then(|w| w.base_path.as_ref()) {
        args.push("--web-base-path".into());
        args.push(base.clone());
    }
    args.extend(master.extra_args.iter().flatten().cloned());
    Ok(inv)
}

/// A worker's invocation: the user's command, `--worker --master-host=<master service>
/// --master-port=5557`, `--processes N` when more than one process per pod, `--otel`
/// (the workers send the requests), then extraArgs.
pub(crate) fn worker(ctx: &Ctx<'_>) -> Result<Invocation, BuildError> {
    check_workers(ctx)?;
    let worker = ctx.worker();
    let mut inv = invocation("spec.worker.command", &ctx.commands.worker)?;
    let args = &mut inv.args;
    args.push("--worker".into());
    args.push(format!("--master-host={}", ctx.master_name));
    args.push(format!("--master-port={MASTER_PORT}"));
    if let Some(p) = worker.processes_per_pod.filter(|p| *p > 1) {
        args.push("--processes".into());
        args.push(p.to_string());
    }
    if otel_enabled(ctx.spec) {
        args.push("--otel".into());
    }
    args.extend(worker.extra_args.iter().flatten().cloned());
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::{minimal, with_ctx};

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The invocation of `command` as validation splits it.
    fn split(field: &'static str, command: &str) -> Result<Invocation, BuildError> {
        invocation(
            field,
            &shell_words::split(command).expect("a command that splits"),
        )
    }

    #[test]
    fn program_style_keeps_locust_once() {
        let inv = split("f", "locust -f /lotest/src/locustfile.py").expect("valid");
        assert_eq!(inv.command, Some(strs(&["locust"])));
        assert_eq!(inv.args, strs(&["-f", "/lotest/src/locustfile.py"]));
    }

    #[test]
    fn flags_only_style_uses_the_entrypoint() {
        let inv = split("f", "--locustfile /lotest/src/a.py --host https://x").expect("valid");
        assert_eq!(inv.command, None);
        assert_eq!(
            inv.args,
            strs(&["--locustfile", "/lotest/src/a.py", "--host", "https://x"])
        );
    }

    #[test]
    fn quoted_arguments_stay_whole() {
        let inv = split("f", r#"locust -f a.py --host "http://a b" --tags 'x y'"#).expect("ok");
        assert_eq!(
            inv.args,
            strs(&["-f", "a.py", "--host", "http://a b", "--tags", "x y"])
        );
    }

    #[test]
    fn an_empty_command_names_the_field() {
        // An unterminated quote never gets here: validation refuses it (see
        // validation/tests.rs), and only what it split reaches the builders.
        let e = split("spec.worker.command", "   ").expect_err("empty");
        assert!(e.to_string().starts_with("spec.worker.command: "), "{e}");
    }

    #[test]
    fn master_defaults() {
        let t = minimal();
        let inv = with_ctx(&t, master).expect("valid");
        assert_eq!(inv.command, Some(strs(&["locust"])));
        assert_eq!(
            inv.args,
            strs(&[
                "-f",
                "/lotest/src/locustfile.py",
                "--master",
                "--master-port=5557",
                "--expect-workers=2",
                "--autostart",
                "--autoquit",
                "60",
                "--expect-workers-max-wait=300",
            ])
        );
        assert!(
            !inv.args
                .iter()
                .any(|a| a == "--headless" || a == "--only-summary" || a == "--enable-rebalancing")
        );
    }

    #[test]
    fn the_wait_for_workers_is_bounded_unless_the_user_says_otherwise() {
        let mut t = minimal();
        let waits = |t: &crate::api::v2::LocustTest| {
            let inv = with_ctx(t, master).expect("valid");
            inv.args
                .iter()
                .filter(|a| a.starts_with(MAX_WAIT_FLAG))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(waits(&t), strs(&["--expect-workers-max-wait=300"]));
        t.spec.master.expect_workers_max_wait = Some(45);
        assert_eq!(waits(&t), strs(&["--expect-workers-max-wait=45"]));
        t.spec.master.expect_workers_max_wait = Some(0);
        assert_eq!(waits(&t), Vec::<String>::new(), "0 waits forever");
        t.spec.master.expect_workers_max_wait = None;
        t.spec.master.extra_args = Some(strs(&["--expect-workers-max-wait", "9"]));
        assert_eq!(
            waits(&t),
            strs(&["--expect-workers-max-wait"]),
            "the user's only"
        );
        assert_eq!(expect_workers_max_wait(&t.spec, 300), None);
        t.spec.master.extra_args = None;
        t.spec.master.autostart = Some(false);
        assert_eq!(waits(&t), Vec::<String>::new(), "no autostart, no wait");
    }

    #[test]
    fn master_flags_in_order_with_extra_args_last() {
        let mut t = minimal();
        t.spec.master.autoquit = Some(crate::api::v2::AutoquitSpec {
            enabled: Some(true),
            timeout: Some(120),
        });
        t.spec.observability = Some(crate::api::v2::ObservabilitySpec {
            open_telemetry: Some(crate::api::v2::OpenTelemetrySpec {
                enabled: true,
                endpoint: Some("collector:4317".into()),
                ..Default::default()
            }),
        });
        t.spec.output = Some(crate::api::v2::OutputSpec {
            json_file: Some(crate::api::v2::OutputFile {
                enabled: true,
                path: "/results/stats".into(),
            }),
            html_report: Some(crate::api::v2::OutputFile {
                enabled: true,
                path: "/results/report.html".into(),
            }),
        });
        t.spec.web_ui = Some(crate::api::v2::WebUiSpec {
            base_path: Some("/locust".into()),
            ..Default::default()
        });
        t.spec.master.extra_args = Some(strs(&["--loglevel", "DEBUG"]));
        let inv = with_ctx(&t, master).expect("valid");
        assert_eq!(
            inv.args[2..],
            strs(&[
                "--master",
                "--master-port=5557",
                "--expect-workers=2",
                "--autostart",
                "--autoquit",
                "120",
                "--expect-workers-max-wait=300",
                "--otel",
                "--json-file",
                "/results/stats",
                "--html",
                "/results/report.html",
                "--web-base-path",
                "/locust",
                "--loglevel",
                "DEBUG",
            ])[..]
        );
    }

    #[test]
    fn disabled_outputs_give_no_flags() {
        let mut t = minimal();
        t.spec.output = Some(crate::api::v2::OutputSpec {
            json_file: Some(crate::api::v2::OutputFile {
                enabled: false,
                path: "/x".into(),
            }),
            html_report: None,
        });
        let inv = with_ctx(&t, master).expect("valid");
        assert!(!inv.args.iter().any(|a| a == "--json-file" || a == "--html"));
        t.spec.output = Some(crate::api::v2::OutputSpec {
            json_file: None,
            html_report: Some(crate::api::v2::OutputFile {
                enabled: true,
                path: String::new(),
            }),
        });
        let e = with_ctx(&t, master).expect_err("empty path");
        assert!(
            e.to_string().starts_with("spec.output.htmlReport.path:"),
            "{e}"
        );
    }

    #[test]
    fn autostart_false_drops_autoquit_too() {
        let mut t = minimal();
        t.spec.master.autostart = Some(false);
        let inv = with_ctx(&t, master).expect("valid");
        assert!(!inv.args.iter().any(|a| a.starts_with("--auto")), "{inv:?}");
    }

    #[test]
    fn autoquit_disabled_keeps_autostart() {
        let mut t = minimal();
        t.spec.master.autoquit = Some(crate::api::v2::AutoquitSpec {
            enabled: Some(false),
            timeout: Some(5),
        });
        let inv = with_ctx(&t, master).expect("valid");
        assert!(inv.args.contains(&"--autostart".to_string()));
        assert!(!inv.args.contains(&"--autoquit".to_string()));
    }

    #[test]
    fn processes_per_pod_multiplies_expected_workers() {
        let mut t = minimal();
        t.spec.worker.replicas = 3;
        t.spec.worker.processes_per_pod = Some(4);
        let m = with_ctx(&t, master).expect("valid");
        assert!(m.args.contains(&"--expect-workers=12".to_string()));
        assert!(!m.args.contains(&"--processes".to_string()));
        let w = with_ctx(&t, worker).expect("valid");
        let i = w
            .args
            .iter()
            .position(|a| a == "--processes")
            .expect("flag");
        assert_eq!(w.args[i + 1], "4");
        assert_eq!(expected_workers(&t.spec), 12);

        t.spec.worker.processes_per_pod = Some(1);
        let w = with_ctx(&t, worker).expect("valid");
        assert!(!w.args.contains(&"--processes".to_string()));
    }

    #[test]
    fn worker_invocation() {
        let mut t = minimal();
        t.spec.worker.command = "--locustfile /lotest/src/a.py".into();
        t.spec.worker.extra_args = Some(strs(&["--loglevel", "INFO"]));
        let w = with_ctx(&t, worker).expect("valid");
        assert_eq!(w.command, None);
        assert_eq!(
            w.args,
            strs(&[
                "--locustfile",
                "/lotest/src/a.py",
                "--worker",
                "--master-host=demo-master",
                "--master-port=5557",
                "--loglevel",
                "INFO",
            ])
        );
    }

    #[test]
    fn worker_counts_are_checked() {
        let mut t = minimal();
        t.spec.worker.replicas = 0;
        let e = with_ctx(&t, worker).expect_err("zero");
        assert!(e.to_string().starts_with("spec.worker.replicas:"), "{e}");
        t.spec.worker.replicas = 2;
        t.spec.worker.processes_per_pod = Some(0);
        let e = with_ctx(&t, master).expect_err("zero");
        assert!(
            e.to_string().starts_with("spec.worker.processesPerPod:"),
            "{e}"
        );
    }
}
