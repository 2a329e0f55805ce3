//! Why the bundle could not be generated.

use std::path::PathBuf;

/// An error generating, writing or checking the bundle; each names the file or field.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A source or output file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A source file is not valid YAML.
    #[error("{path}: invalid YAML: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A source file is valid YAML but not what the generator needs.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Serialising an output file failed.
    #[error("serialising {name}: {message}")]
    Serialise {
        /// The output file.
        name: String,
        /// The serialiser's message.
        message: String,
    },
}

impl BundleError {
    /// A [`BundleError::Invalid`] for `path`.
    pub fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A [`BundleError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
