//! Reconcile errors, each with a stable label for logs, metrics and event reasons.

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server could not be reached or answered with an error we retry.
    #[error("Kubernetes API request failed while {action}: {source}")]
    Kube {
        /// What the operator was doing.
        action: &'static str,
        /// The client error.
        #[source]
        source: Box<kube::Error>,
    },
    /// An object could not be serialised (a bug, not user input).
    #[error("serialising {what} failed: {source}")]
    Serialize {
        /// What was being serialised.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The LocustTest lacks a name or namespace (the API server always sets them).
    #[error("the LocustTest has no {0}")]
    MissingMetadata(&'static str),
    /// This replica stopped leading before a write: the new leader takes over. Not a
    /// failure; the reconcile stops without writing.
    #[error("this replica no longer leads; the write was not made")]
    NotLeader,
}

impl Error {
    /// Every [`Error::label`], exported from 0 in `locust_operator_reconcile_errors_total`.
    pub const LABELS: [&'static str; 4] = [
        "KubeError",
        "SerializeError",
        "MissingMetadata",
        "NotLeader",
    ];

    /// A stable CamelCase label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubeError",
            Error::Serialize { .. } => "SerializeError",
            Error::MissingMetadata(_) => "MissingMetadata",
            Error::NotLeader => "NotLeader",
        }
    }

    /// Wraps a client error with what the operator was doing.
    pub(crate) fn kube(action: &'static str) -> impl FnOnce(kube::Error) -> Error {
        move |source| Error::Kube {
            action,
            source: Box::new(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `LABELS` is what `/metrics` exports from 0: every variant's label must be in it,
    /// once, and nothing else (add a new variant here and there).
    #[test]
    fn labels_lists_every_variants_label_once() {
        let kube = Error::kube("testing")(kube::Error::LinesCodecMaxLineLengthExceeded);
        let serialize = Error::Serialize {
            what: "testing",
            source: serde_json::from_str::<u8>("x").expect_err("not a number"),
        };
        let all = [
            kube.label(),
            serialize.label(),
            Error::MissingMetadata("name").label(),
            Error::NotLeader.label(),
        ];
        assert_eq!(all, Error::LABELS);
    }
}
