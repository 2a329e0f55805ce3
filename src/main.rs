//! The `locust-k8s-operator` binary: wiring only.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use locust_k8s_operator::cli::{Cli, CliError, Command, run_offline};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { leader_elect } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::Internal(format!("starting the async runtime: {e}")))
            .and_then(|rt| rt.block_on(locust_k8s_operator::cli::run::run(*leader_elect)))
            .map(|()| String::new()),
        command => run_offline(command),
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
