//! The file of `test`, read into the v2 LocustTest to create: one document, v1 converted,
//! the name (or `generateName`) and namespace settled, validated with the webhook's rules.
//! Pure: nothing here talks to the cluster.

use crate::api::v2::LocustTest;
use crate::manifest::{AnyLocustTest, parse_documents};
use crate::{conversion, validation};

/// Longest `generateName` prefix the API server keeps (63 minus its five random
/// characters); a longer one is cut.
const MAX_PREFIX: usize = 58;
/// What the API server appends to a `generateName` prefix, for local validation.
const PLACEHOLDER_SUFFIX: &str = "xxxxx";

/// A test ready to be sent: name or `generateName` set, namespace from the flag or the
/// file (`None`: the context's default).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The test, without status or server-set metadata.
    pub test: LocustTest,
    /// The namespace to create it in, if the flag or the file says.
    pub namespace: Option<String>,
}

/// Reads `text` (one LocustTest), settles its name and namespace and validates it; the
/// error lists every problem, each naming its field.
pub fn prepare(
    text: &str,
    generate_name: bool,
    namespace_flag: Option<&str>,
) -> Result<Prepared, String> {
    let mut docs = parse_documents(text).map_err(|e| e.to_string())?;
    if docs.len() != 1 {
        return Err(format!(
            "the file holds {} LocustTests; `test` runs exactly one: put each in its own file",
            docs.len()
        ));
    }
    let mut test = match docs.remove(0) {
        AnyLocustTest::V2(t) => *t,
        AnyLocustTest::V1(t) => conversion::v1_to_v2(&t).map_err(|e| e.to_string())?,
    };
    let namespace = settle_namespace(&test, namespace_flag)?;
    settle_name(&mut test, generate_name)?;
    forget_server_fields(&mut test);
    validate(&test)?;
    test.metadata.namespace.clone_from(&namespace);
    Ok(Prepared { test, namespace })
}

/// The flag wins when the file has no namespace or the same; a different one is an error
/// (kubectl's rule: the file is not silently moved).
fn settle_namespace(test: &LocustTest, flag: Option<&str>) -> Result<Option<String>, String> {
    let file = test.metadata.namespace.as_deref().filter(|n| !n.is_empty());
    match (flag, file) {
        (Some(flag), Some(file)) if flag != file => Err(format!(
            "metadata.namespace is {file:?} but --namespace is {flag:?}: remove one, or make \
             them equal"
        )),
        (Some(ns), _) | (None, Some(ns)) => Ok(Some(ns.to_string())),
        (None, None) => Ok(None),
    }
}

/// With `--generate-name`, `metadata.name` (or `generateName`) becomes the prefix of a
/// fresh name; without it, a name is kept and a lone `generateName` is honoured.
fn settle_name(test: &mut LocustTest, generate_name: bool) -> Result<(), String> {
    let meta = &mut test.metadata;
    let name = meta.name.take().filter(|n| !n.is_empty());
    let prefix = meta.generate_name.take().filter(|n| !n.is_empty());
    match (generate_name, name, prefix) {
        (true, _, Some(prefix)) => meta.generate_name = Some(prefix),
        (true, Some(name), None) => meta.generate_name = Some(format!("{name}-")),
        (false, Some(name), _) => meta.name = Some(name),
        (false, None, Some(prefix)) => meta.generate_name = Some(prefix),
        (_, None, None) => {
            return Err("metadata.name: is required: give the test a name, or set \
                 metadata.generateName (or pass --generate-name) for a fresh name on every run"
                .into());
        }
    }
    Ok(())
}

/// Drops what the API server sets, so the output of `kubectl get -o yaml` can be run
/// again.
fn forget_server_fields(test: &mut LocustTest) {
    let meta = &mut test.metadata;
    meta.resource_version = None;
    meta.uid = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.generation = None;
    meta.managed_fields = None;
    meta.self_link = None;
    test.status = None;
}

/// The webhook's validation; a `generateName` is checked as the name the API server
/// will make of it.
fn validate(test: &LocustTest) -> Result<(), String> {
    let mut checked = test.clone();
    let generated = checked.metadata.name.is_none();
    if let Some(prefix) = &checked.metadata.generate_name {
        let cut: String = prefix.chars().take(MAX_PREFIX).collect();
        checked.metadata.name = Some(format!("{cut}{PLACEHOLDER_SUFFIX}"));
    }
    validation::validate(&checked).map(drop).map_err(|errors| {
        errors
            .0
            .iter()
            .map(|e| {
                if generated && e.field == "metadata.name" {
                    format!(
                        "metadata.generateName: {} (checked as the generated name)",
                        e.message
                    )
                } else {
                    e.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "apiVersion: locust.io/v2
kind: LocustTest
metadata:
  name: demo
spec:
  image: locustio/locust:2.43.1
  master:
    command: locust -f /lotest/src/t.py
  worker:
    command: locust -f /lotest/src/t.py
    replicas: 2
";

    fn with_meta(meta: &str) -> String {
        V2.replace("metadata:\n  name: demo\n", &format!("metadata:\n{meta}"))
    }

    #[test]
    fn a_named_test_keeps_its_name_and_takes_the_flag_s_namespace() {
        let p = prepare(V2, false, Some("ci")).expect("valid");
        assert_eq!(p.test.metadata.name.as_deref(), Some("demo"));
        assert_eq!(p.test.metadata.generate_name, None);
        assert_eq!(p.namespace.as_deref(), Some("ci"));
        assert_eq!(p.test.metadata.namespace.as_deref(), Some("ci"));
        let p = prepare(V2, false, None).expect("valid");
        assert_eq!(p.namespace, None, "the context's namespace decides");
    }

    #[test]
    fn generate_name_turns_the_name_into_a_prefix_or_keeps_the_file_s_prefix() {
        let p = prepare(V2, true, None).expect("valid");
        assert_eq!(p.test.metadata.name, None);
        assert_eq!(p.test.metadata.generate_name.as_deref(), Some("demo-"));
        let file = with_meta("  generateName: nightly-\n");
        for flag in [false, true] {
            let p = prepare(&file, flag, None).expect("valid");
            assert_eq!(p.test.metadata.name, None);
            assert_eq!(p.test.metadata.generate_name.as_deref(), Some("nightly-"));
        }
    }

    #[test]
    fn a_missing_name_or_a_bad_prefix_is_named() {
        let e = prepare(&with_meta("  labels: {a: b}\n"), true, None).expect_err("no name");
        assert!(e.starts_with("metadata.name: is required"), "{e}");
        assert!(e.contains("--generate-name"), "{e}");
        let e = prepare(&with_meta("  generateName: Nightly-\n"), false, None).expect_err("bad");
        assert!(
            e.starts_with("metadata.generateName: \"Nightly-xxxxx\""),
            "{e}"
        );
    }

    #[test]
    fn a_long_prefix_is_checked_as_the_server_cuts_it() {
        let long = "a".repeat(70);
        let p = prepare(
            &with_meta(&format!("  generateName: {long}\n")),
            false,
            None,
        );
        assert!(p.is_ok(), "{p:?}");
    }

    #[test]
    fn namespaces_that_disagree_are_refused() {
        let file = with_meta("  name: demo\n  namespace: team-a\n");
        let e = prepare(&file, false, Some("team-b")).expect_err("mismatch");
        assert!(e.contains("metadata.namespace is \"team-a\" but --namespace is \"team-b\""));
        let p = prepare(&file, false, Some("team-a")).expect("same");
        assert_eq!(p.namespace.as_deref(), Some("team-a"));
        let p = prepare(&file, false, None).expect("file");
        assert_eq!(p.namespace.as_deref(), Some("team-a"));
    }

    #[test]
    fn the_webhook_s_rules_apply_and_every_problem_is_listed() {
        let bad = V2
            .replace("replicas: 2", "replicas: 0")
            .replace("image: locustio/locust:2.43.1", "image: ''");
        let e = prepare(&bad, false, None).expect_err("invalid");
        let expected =
            validation::validate(&match parse_documents(&bad).expect("parses").remove(0) {
                AnyLocustTest::V2(t) => *t,
                AnyLocustTest::V1(_) => unreachable!("a v2 document"),
            })
            .expect_err("invalid");
        assert_eq!(e, expected.to_string());
        assert!(e.lines().count() >= 2, "{e}");
    }

    #[test]
    fn several_documents_or_another_kind_are_refused() {
        let e = prepare(&format!("{V2}---\n{V2}"), false, None).expect_err("two");
        assert!(e.contains("holds 2 LocustTests"), "{e}");
        let e = prepare("apiVersion: v1\nkind: ConfigMap\n", false, None).expect_err("kind");
        assert!(e.contains("is not a LocustTest"), "{e}");
    }

    #[test]
    fn server_fields_and_status_are_dropped_and_v1_is_converted() {
        let file = with_meta("  name: demo\n  resourceVersion: \"42\"\n  uid: abc\n")
            + "status:\n  phase: Succeeded\n";
        let p = prepare(&file, false, None).expect("valid");
        assert_eq!(p.test.metadata.resource_version, None);
        assert_eq!(p.test.metadata.uid, None);
        assert_eq!(p.test.status, None);

        let v1 = "apiVersion: locust.io/v1
kind: LocustTest
metadata:
  name: old
spec:
  image: locustio/locust:2.43.1
  masterCommandSeed: -f /lotest/src/t.py
  workerCommandSeed: -f /lotest/src/t.py
  workerReplicas: 3
";
        let p = prepare(v1, false, None).expect("v1 converts");
        assert_eq!(p.test.spec.worker.replicas, 3);
    }
}
