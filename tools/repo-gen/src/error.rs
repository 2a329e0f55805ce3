//! Why a file could not be generated or checked.

use std::path::PathBuf;

/// An error generating or checking a derived file; each names the file or command.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A command (git, helm) could not run or failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output, or why it could not start.
        message: String,
    },
    /// A source file is not what the generator needs.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Reads `path` as text, naming it in the error.
pub fn read(path: &std::path::Path) -> Result<String, GenError> {
    std::fs::read_to_string(path).map_err(|source| GenError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `text` to `path`, creating its folder, naming it in the error.
pub fn write(path: &std::path::Path, text: &str) -> Result<(), GenError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| GenError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| GenError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Runs `program args` in `dir`; its standard output, or its error output in the error.
pub fn command(
    dir: &std::path::Path,
    program: &std::path::Path,
    args: &[&str],
) -> Result<String, GenError> {
    let line = format!("{} {}", program.display(), args.join(" "));
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| GenError::Command {
            command: line.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(GenError::Command {
            command: line,
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| GenError::Command {
        command: line,
        message: format!("output is not UTF-8: {e}"),
    })
}
