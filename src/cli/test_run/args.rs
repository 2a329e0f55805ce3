//! The arguments of `locust-k8s-operator test`.

use std::path::PathBuf;
use std::time::Duration;

/// The arguments of `test`: the file, the cluster connection and how to wait.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = super::EXIT_CODES_HELP)]
pub struct TestArgs {
    /// The LocustTest manifest (locust.io/v2 or v1, one document); `-` reads standard
    /// input. It is validated here, with the webhook's rules, before anything is sent.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    /// Create the test under a fresh name: `metadata.name` (or `metadata.generateName`)
    /// plus `-` and five random characters, chosen by the API server. Without this flag a
    /// file with only `metadata.generateName` gets a fresh name too.
    #[arg(long)]
    pub generate_name: bool,
    /// The namespace; defaults to the file's `metadata.namespace`, then to the context's
    /// namespace, then `default`. A file naming another namespace is an error, as with
    /// kubectl.
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The kubeconfig file; defaults to `$KUBECONFIG`, then `~/.kube/config`, then the
    /// pod's service account (in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; defaults to the current context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Wait for the verdict, printing phase changes and progress on stderr; without it
    /// the command exits 0 once the test is created.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long (`90s`, `30m`, `1h30m`; a bare number is seconds)
    /// and exit 2. The test keeps running unless `--delete-unfinished` is given. Without
    /// it the command waits as long as the test runs.
    #[arg(long, value_name = "DURATION", requires = "wait", value_parser = super::duration::parse)]
    pub timeout: Option<Duration>,
    /// Delete the test when the command stops waiting before the test finished: the
    /// timeout, SIGINT/SIGTERM (a cancelled CI job), or a test that cannot start.
    #[arg(long, requires = "wait")]
    pub delete_unfinished: bool,
    /// Save the test's HTML report (from its report ConfigMap) to this file once it
    /// finished. A missing report is reported on stderr; it never changes the exit code.
    #[arg(long, value_name = "FILE", requires = "wait")]
    pub report: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text: name, namespace, phase, reason,
    /// message, result, report and exit code.
    #[arg(long)]
    pub json: bool,
}
