//! The `locust-k8s-operator` binary: wiring only.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use locust_k8s_operator::cli::{Cli, run_offline};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run_offline(&cli.command) {
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
