//! Every name the operator generates, from one place.
//!
//! Builders, validation and the controller all call these functions, so a name can never be
//! computed two ways (the Go operator's endless recreate loop came from exactly that).
//!
//! Rules: a CR name that is already a DNS-1035 label short enough for its suffixes is used
//! as is (`demo` → `demo-master`, `demo-worker`), matching the Go operator. Any other name
//! (dots, a leading digit, too long) is made valid *and* kept distinct by appending a short
//! stable hash of the original name: `api.perf-v1.2` → `api-perf-v1-2-<hash>-master`,
//! `1st-run` → `lt-1st-run-<hash>-master`.

/// Longest DNS-1035 label (Service names) and label value.
pub const MAX_LABEL_LEN: usize = 63;
/// Suffix of the master Service and Job.
pub const MASTER_SUFFIX: &str = "-master";
/// Suffix of the worker Job.
pub const WORKER_SUFFIX: &str = "-worker";
/// Suffix of the web UI's Service, Ingress and HTTPRoute (no longer than [`WORKER_SUFFIX`]).
pub const WEB_UI_SUFFIX: &str = "-webui";
/// Suffix of the report ConfigMap's name (no longer than [`WORKER_SUFFIX`]).
pub const REPORT_SUFFIX: &str = "-report";
/// Longest base name: leaves room for the longest suffix.
pub const MAX_BASE_LEN: usize = MAX_LABEL_LEN - WORKER_SUFFIX.len();
/// Prefix for names that do not start with a letter.
const LETTER_PREFIX: &str = "lt-";
/// Hex digits of the disambiguating hash.
const HASH_LEN: usize = 8;

/// Prefix reserved for the operator's own volumes.
pub const RESERVED_VOLUME_PREFIX: &str = "lotest-";
/// Volume holding the test files, whatever their source (ConfigMap, PVC, image, git).
pub const SRC_VOLUME: &str = "lotest-src";
/// Volume holding the library ConfigMap.
pub const LIB_VOLUME: &str = "lotest-lib";
/// Volume holding the requirements file of `testFiles.requirements` (pip's init container
/// only).
pub const REQUIREMENTS_VOLUME: &str = "lotest-requirements";
/// Volume (an emptyDir) the Python packages of `testFiles.requirements` are installed into.
pub const PYDEPS_VOLUME: &str = "lotest-pydeps";
/// Init container cloning `testFiles.git` into [`SRC_VOLUME`].
pub const GIT_CONTAINER: &str = "lotest-git";
/// Init container pip-installing `testFiles.requirements` into [`PYDEPS_VOLUME`].
pub const PIP_CONTAINER: &str = "lotest-pip";

/// Whether `s` is a DNS-1035 label: lowercase letters, digits and '-', starting with a
/// letter, ending with a letter or digit, at most 63 characters.
pub fn is_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Whether `s` is a valid label value: at most 63 characters of alphanumerics, '-', '_' and
/// '.', starting and ending with an alphanumeric (or empty).
pub fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= MAX_LABEL_LEN
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')))
}

/// The base of every generated name for a LocustTest called `cr_name`: a DNS-1035 label of
/// at most [`MAX_BASE_LEN`] characters, distinct for distinct CR names.
pub fn base_name(cr_name: &str) -> String {
    if is_dns1035_label(cr_name) && cr_name.len() <= MAX_BASE_LEN {
        return cr_name.to_string();
    }
    let mut cleaned: String = cr_name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    if !cleaned.starts_with(|c: char| c.is_ascii_lowercase()) {
        cleaned.insert_str(0, LETTER_PREFIX);
    }
    let hash = short_hash(cr_name);
    let room = MAX_BASE_LEN - HASH_LEN - 1;
    cleaned.truncate(room);
    let mut base = cleaned.trim_end_matches('-').to_string();
    // Collapse runs of '-' so "a..b" and "a-b" still read well (distinctness comes from the hash).
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    format!("{base}-{hash}")
}

/// Name of the master Service and of the master Job.
pub fn master_name(cr_name: &str) -> String {
    format!("{}{MASTER_SUFFIX}", base_name(cr_name))
}

/// Name of the worker Job.
pub fn worker_name(cr_name: &str) -> String {
    format!("{}{WORKER_SUFFIX}", base_name(cr_name))
}

/// Name of the ConfigMap keeping a finished test's statistics and HTML report.
pub fn report_name(cr_name: &str) -> String {
    format!("{}{REPORT_SUFFIX}", base_name(cr_name))
}

/// Name of the web UI's own Service (NodePort or LoadBalancer), Ingress and HTTPRoute.
pub fn web_ui_name(cr_name: &str) -> String {
    format!("{}{WEB_UI_SUFFIX}", base_name(cr_name))
}

/// Value of the labels that name the test on its pods: the CR name itself when it is a
/// valid label value, the base name otherwise.
pub fn test_label_value(cr_name: &str) -> String {
    if is_label_value(cr_name) {
        cr_name.to_string()
    } else {
        base_name(cr_name)
    }
}

/// Name the Go operator (v2.x) gave the master Service and Job of the test `cr_name`: the
/// CR name with dots replaced by dashes, then `-master`. The same as [`master_name`] for
/// plain names; looked up only to adopt children the Go operator created.
pub fn go_master_name(cr_name: &str) -> String {
    format!("{}{MASTER_SUFFIX}", cr_name.replace('.', "-"))
}

/// Name the Go operator (v2.x) gave the worker Job of the test `cr_name` (see
/// [`go_master_name`]).
pub fn go_worker_name(cr_name: &str) -> String {
    format!("{}{WORKER_SUFFIX}", cr_name.replace('.', "-"))
}

/// Name of the volume for the `index`-th entry of `env.secretMounts`.
pub fn secret_mount_volume(index: usize) -> String {
    format!("{RESERVED_VOLUME_PREFIX}secret-{index}")
}

/// FNV-1a (64 bit) of the name, as 8 hex digits: stable across releases and platforms.
fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", (h ^ (h >> 32)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept() {
        assert_eq!(master_name("demo"), "demo-master");
        assert_eq!(worker_name("demo"), "demo-worker");
        assert_eq!(report_name("demo"), "demo-report");
        assert_eq!(web_ui_name("demo"), "demo-webui");
        assert_eq!(test_label_value("demo"), "demo");
        let long = "x".repeat(MAX_BASE_LEN);
        assert_eq!(report_name(&long).len(), MAX_LABEL_LEN);
        assert!(is_dns1035_label(&web_ui_name(&long)));
    }

    #[test]
    fn tricky_names_become_valid_and_distinct() {
        let names = [
            "api.perf-v1.2",
            "api-perf-v1-2",
            "api-perf-v1.2",
            "1st-run",
            "lt-1st-run",
            "9",
            &"a".repeat(60),
            &"a".repeat(61),
            &format!("{}.x", "b".repeat(250)),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for n in names {
            for generated in [master_name(n), worker_name(n)] {
                assert!(
                    is_dns1035_label(&generated),
                    "{n:?} gave invalid {generated:?}"
                );
                assert!(
                    seen.insert(generated.clone()),
                    "{n:?} gave duplicate {generated:?}"
                );
            }
            assert!(is_label_value(&test_label_value(n)), "{n:?}");
        }
    }

    #[test]
    fn dotted_name_reads_well() {
        let m = master_name("api.perf-v1.2");
        assert!(m.starts_with("api-perf-v1-2-"), "{m}");
        assert!(master_name("1st-run").starts_with("lt-1st-run-"));
    }

    #[test]
    fn go_names_replace_dots_only() {
        assert_eq!(go_master_name("demo"), master_name("demo"));
        assert_eq!(go_worker_name("demo"), worker_name("demo"));
        assert_eq!(go_master_name("api.perf-v1.2"), "api-perf-v1-2-master");
        assert_eq!(go_worker_name("api.perf-v1.2"), "api-perf-v1-2-worker");
        assert_ne!(
            go_master_name("api.perf-v1.2"),
            master_name("api.perf-v1.2")
        );
    }

    #[test]
    fn hash_is_stable() {
        // Changing this value renames children of existing tests: never change the hash.
        assert_eq!(
            master_name("api.perf-v1.2"),
            "api-perf-v1-2-e249e269-master"
        );
        assert_eq!(short_hash("x").len(), HASH_LEN);
    }
}
