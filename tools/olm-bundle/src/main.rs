//! `olm-bundle [--check] [ROOT]`: writes (or, with `--check`, verifies) the OLM bundle of
//! the repository at ROOT (default: the current folder).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(".");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!(
                    "usage: olm-bundle [--check] [ROOT]\n\nGenerates bundle/ and bundle.Dockerfile from crd/, config/rbac/, config/olm/, examples/ and Cargo.toml."
                );
                return ExitCode::SUCCESS;
            }
            other => root = PathBuf::from(other),
        }
    }
    let files = match olm_bundle::generate(&root) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("olm-bundle: {e}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        let problems = olm_bundle::check(&root, &files);
        if problems.is_empty() {
            println!("the committed bundle is current");
            return ExitCode::SUCCESS;
        }
        for p in problems {
            eprintln!("olm-bundle: {p}");
        }
        eprintln!("olm-bundle: run `make bundle` and commit the result");
        return ExitCode::FAILURE;
    }
    match olm_bundle::write(&root, &files) {
        Ok(written) => {
            for name in &written {
                println!("wrote {name}");
            }
            if written.is_empty() {
                println!("the bundle is already current");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("olm-bundle: {e}");
            ExitCode::FAILURE
        }
    }
}
