//! The `locust-k8s-operator` binary: wiring only.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use locust_k8s_operator::cli::{Cli, CliError, Command, run_offline, test_run};
use locust_k8s_operator::config::name_the_variable;

fn main() -> ExitCode {
    // A bad setting exits here (code 2; 3 for `test`) with clap's message, naming flag and
    // variable.
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        let e = name_the_variable(e, &Cli::command());
        let code = test_run::usage_exit_code(&e, &std::env::args_os().collect::<Vec<_>>());
        let _ = e.print();
        let _ = std::io::stdout().flush();
        std::process::exit(code)
    });
    let result = match cli.command {
        Command::Test(args) => return test_run::main(*args),
        Command::Run(args) => args
            .validate()
            .map_err(|e| CliError::Input(e.to_string()))
            .and_then(|config| {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| CliError::Internal(format!("starting the async runtime: {e}")))
                    .and_then(|rt| rt.block_on(locust_k8s_operator::cli::run::run(config)))
            })
            .map(|()| String::new()),
        command => run_offline(&command),
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                // A closed pipe (`| head`) is not worth a panic.
                Err(_) => ExitCode::from(1),
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
