//! `locust-k8s-operator test`: runs one LocustTest from CI. Reads and validates the file
//! (nothing is sent when it is invalid), creates the test, and with `--wait` follows it
//! to its verdict: phase and condition changes and a progress line on stderr, the
//! verdict and the numbers on stdout (text, or one JSON document with `--json`), the HTML
//! report saved with `--report`. The exit code says how it ended (see
//! [`EXIT_CODES_HELP`]).
//!
//! Modules: `args` (flags), `input` (the file, pure), `cluster` (client, create, delete),
//! `wait` (the watch loop), `progress` (what to print while waiting, pure), `outcome`
//! (standing and exit codes, pure), `summary` (the final text or JSON, pure), `report`
//! (the HTML report) and `duration` (`--timeout`).

mod args;
mod cluster;
mod duration;
mod input;
mod outcome;
mod progress;
mod report;
mod summary;
mod wait;

pub use args::TestArgs;
pub use outcome::Exit;

use std::process::ExitCode;

use kube::ResourceExt;

use super::args::read_input;
pub(crate) use super::run::shutdown_signal;
use summary::Summary;
use wait::Ended;

/// The exit codes, shown at the end of `test --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  the test Succeeded (without --wait: it was created)
  1  the test failed: Ready reason TestFailed, ThresholdsBreached, WorkersNotConnected or
     ResultUnavailable (a verdict on the system under test)
  2  no verdict: MasterFailed, WorkersFailed, a pod problem (ImagePullError,
     ConfigurationError, CrashLoopBackOff, OOMKilled, SchedulingError), a missing
     ConfigMap or a refused child for 30s, the timeout, SIGINT/SIGTERM, the test deleted,
     or the API server unreachable or refusing access
  3  invalid input, nothing created: the file does not parse or validate, the name
     exists, the API server refused the test, or the command line is wrong";

/// Runs `test` and returns its exit code; everything is printed here.
pub fn main(args: TestArgs) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(args)).exit_code(),
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            Exit::NoVerdict.exit_code()
        }
    }
}

/// The exit code of a command line clap refused: 3 for `test` (an invalid input, not an
/// infrastructure failure), clap's own (2, or 0 for `--help`) for the other commands.
pub fn usage_exit_code(error: &clap::Error, args: &[std::ffi::OsString]) -> i32 {
    let is_test = args.get(1).is_some_and(|a| a == "test");
    if is_test && error.use_stderr() {
        i32::from(Exit::InvalidInput.code())
    } else {
        error.exit_code()
    }
}

async fn run(args: TestArgs) -> Exit {
    let invalid = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        Exit::InvalidInput
    };
    let text = match read_input(&args.file) {
        Ok(text) => text,
        Err(e) => return invalid(&e),
    };
    let prepared = match input::prepare(&text, args.generate_name, args.namespace.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            let file = if args.file.as_os_str() == "-" {
                "standard input".to_string()
            } else {
                args.file.display().to_string()
            };
            return invalid(&format!("{file} is invalid; nothing was created:\n{e}"));
        }
    };
    let (client, default_ns) =
        match cluster::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit;
            }
        };
    let ns = prepared.namespace.clone().unwrap_or(default_ns);
    let mut test = match cluster::create(&client, &ns, &prepared.test).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit;
        }
    };
    let name = test.name_any();
    eprintln!("locusttest {ns}/{name} created");
    if !args.wait {
        let exit = Exit::Succeeded;
        return finish(&args, &Summary::new(&test, &ns, exit), exit);
    }
    let ended = wait::wait(&client, &ns, &name, &mut test, args.timeout).await;
    let (exit, summary) = match ended {
        Ended::Finished(exit) => {
            let mut summary = Summary::new(&test, &ns, exit);
            if let Some(file) = &args.report {
                let saved = report::save(&client, &test, &ns, file).await;
                if let Some(why) = &saved.error {
                    eprintln!("warning: no report saved: {why}");
                }
                summary.report = Some(saved);
            }
            (exit, summary)
        }
        Ended::Stopped {
            why,
            exit,
            unfinished,
        } => {
            let mut summary = Summary::new(&test, &ns, exit);
            let what_now = if !unfinished {
                String::new()
            } else if args.delete_unfinished {
                match cluster::delete(&client, &ns, &name).await {
                    Ok(()) => "; the test was deleted (--delete-unfinished)".into(),
                    Err(e) => format!("; {e}"),
                }
            } else {
                format!(
                    "; the test keeps running (delete it with `kubectl delete locusttest \
                     {name} -n {ns}`, or pass --delete-unfinished)"
                )
            };
            summary.stopped = Some(format!("{why}{what_now}"));
            (exit, summary)
        }
    };
    finish(&args, &summary, exit)
}

/// Prints the summary on stdout and returns the exit code.
fn finish(args: &TestArgs, summary: &Summary, exit: Exit) -> Exit {
    if args.json {
        println!("{}", summary.json());
    } else {
        print!("{}", summary.text());
    }
    exit
}
