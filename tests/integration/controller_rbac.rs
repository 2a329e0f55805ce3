//! The operator's RBAC rules (`config/rbac/*.yaml`): least privilege, no wildcards, no
//! Secrets in the controller's ClusterRole (reading those of `spec.webUI.auth` is the
//! opt-in `web_auth_role.yaml`), leases written only in a namespaced Role (the
//! ClusterRole reads the Go operator's Lease by name, nothing else), the
//! self-signed webhook mode's Secret only in a namespaced Role and by name, exactly the
//! rules the README explains. The controller tests run the operator with exactly these
//! rules; `tests/integration/chart_rbac.rs` runs it with the Helm chart's rendering of them.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

type Rules = BTreeMap<(String, String), BTreeSet<String>>;

/// The Go operator's leader-election Lease, the one object the ClusterRole names.
const GO_LEASE: &str = "locust-k8s-operator.locust.io";

/// The ClusterRole's rules without a `resourceNames` list (those are checked by
/// [`the_only_rule_by_name_reads_the_go_operators_lease`]).
fn rules() -> Rules {
    let role = common::cluster_role();
    assert_eq!(role.metadata.name.as_deref(), Some("locust-k8s-operator"));
    assert!(
        role.aggregation_rule.is_none(),
        "no aggregation: the rules are all here"
    );
    let mut out = Rules::new();
    for rule in role.rules.expect("rules") {
        assert!(
            rule.non_resource_urls.is_none(),
            "no non-resource URLs: {rule:?}"
        );
        if rule.resource_names.is_some() {
            continue;
        }
        for group in rule.api_groups.clone().expect("apiGroups") {
            for resource in rule.resources.clone().expect("resources") {
                out.entry((group.clone(), resource))
                    .or_default()
                    .extend(rule.verbs.iter().cloned());
            }
        }
    }
    out
}

#[test]
fn no_rule_uses_a_wildcard() {
    let text = common::ROLE_YAML;
    for ((group, resource), verbs) in rules() {
        assert!(
            !group.contains('*'),
            "wildcard apiGroup in {group}/{resource}"
        );
        assert!(
            !resource.contains('*'),
            "wildcard resource {group}/{resource}"
        );
        assert!(
            verbs.iter().all(|v| !v.contains('*')),
            "wildcard verb on {group}/{resource}: {verbs:?}"
        );
    }
    assert!(
        !text
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains('*')),
        "no '*' anywhere in config/rbac/role.yaml"
    );
}

#[test]
fn secrets_are_never_granted() {
    for (group, resource) in rules().keys() {
        assert!(
            !resource.starts_with("secrets"),
            "the operator must not access Secrets ({group}/{resource})"
        );
    }
}

/// The opt-in rules of `spec.webUI.auth`: `get` Secrets, nothing else.
#[test]
fn the_web_ui_auth_rules_only_get_secrets() {
    let role: k8s_openapi::api::rbac::v1::ClusterRole =
        locust_k8s_operator::yaml::from_yaml(include_str!("../../config/rbac/web_auth_role.yaml"))
            .expect("config/rbac/web_auth_role.yaml parses");
    let rules = role.rules.unwrap_or_default();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].api_groups.as_deref(), Some(&[String::new()][..]));
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["secrets".to_string()][..])
    );
    assert_eq!(rules[0].verbs, ["get"]);
}

#[test]
fn the_rules_are_exactly_the_documented_ones() {
    let expected: Rules = [
        (
            "locust.io",
            "locusttests",
            &["get", "list", "watch", "patch", "delete"][..],
        ),
        ("locust.io", "locusttests/status", &["get", "patch"]),
        (
            "batch",
            "jobs",
            &["get", "list", "watch", "create", "patch"],
        ),
        ("", "services", &["get", "list", "watch", "create", "patch"]),
        ("", "pods", &["get", "list", "watch"]),
        ("", "configmaps", &["get", "create", "patch"]),
        ("", "persistentvolumeclaims", &["get"]),
        ("", "events", &["list"]),
        ("networking.k8s.io", "ingresses", &["get", "create"]),
        (
            "gateway.networking.k8s.io",
            "httproutes",
            &["get", "create"],
        ),
        ("events.k8s.io", "events", &["create", "patch"]),
    ]
    .into_iter()
    .map(|(g, r, verbs)| {
        (
            (g.to_owned(), r.to_owned()),
            verbs.iter().map(|v| (*v).to_owned()).collect(),
        )
    })
    .collect();
    assert_eq!(rules(), expected);
    let readme = std::fs::read_to_string("config/rbac/README.md").expect("config/rbac/README.md");
    for ((group, resource), _) in expected {
        let group = if group.is_empty() {
            "\"\"".to_owned()
        } else {
            group
        };
        assert!(
            readme.contains(&format!("`{group}` | `{resource}`")),
            "config/rbac/README.md explains {group}/{resource}"
        );
    }
}

#[test]
fn the_only_rule_by_name_reads_the_go_operators_lease() {
    let role = common::cluster_role();
    let named: NamedRules = named_rules(role.rules.expect("rules"))
        .into_iter()
        .filter(|((_, _, names), _)| !names.is_empty())
        .collect();
    assert_eq!(
        named,
        expect(&[(
            "coordination.k8s.io",
            "leases",
            &[GO_LEASE],
            &["get", "list"]
        )])
    );
    assert_eq!(
        GO_LEASE,
        locust_k8s_operator::go_operator::LEASE_NAME,
        "the name the operator looks for"
    );
    let readme = std::fs::read_to_string("config/rbac/README.md").expect("config/rbac/README.md");
    assert!(readme.contains(&format!(
        "`coordination.k8s.io` | `leases` (`resourceNames: {GO_LEASE}`)"
    )));
}

/// The bound role, asked of the real API server as the operator's user: what it needs is
/// allowed, Secrets and deletions are not.
#[tokio::test]
async fn the_bound_role_allows_what_the_operator_needs_and_nothing_more() {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    use kube::api::{Api, PostParams};

    let cluster = common::cluster().await;
    let ns = common::namespace("rbac").await;
    let client = cluster
        .client_for(common::OPERATOR_USER, &[common::OPERATOR_GROUP])
        .await
        .expect("operator client");
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client);
    let can_named = |group: &'static str,
                     resource: &'static str,
                     sub: Option<&'static str>,
                     verb: &'static str,
                     name: Option<&'static str>| {
        let reviews = reviews.clone();
        let ns = ns.clone();
        async move {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(group.into()),
                        resource: Some(resource.into()),
                        subresource: sub.map(Into::into),
                        verb: Some(verb.into()),
                        namespace: Some(ns),
                        name: name.map(Into::into),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            reviews
                .create(&PostParams::default(), &review)
                .await
                .expect("access review")
                .status
                .is_some_and(|s| s.allowed)
        }
    };
    let can = |group, resource, sub, verb| can_named(group, resource, sub, verb, None);
    for (group, resource, sub, verb) in [
        ("locust.io", "locusttests", None, "watch"),
        ("locust.io", "locusttests", Some("status"), "patch"),
        ("batch", "jobs", None, "create"),
        ("batch", "jobs", None, "patch"),
        ("", "services", None, "create"),
        ("", "services", None, "patch"),
        ("", "pods", None, "watch"),
        ("", "configmaps", None, "get"),
        ("", "configmaps", None, "patch"),
        ("", "persistentvolumeclaims", None, "get"),
        ("", "events", None, "list"),
        ("locust.io", "locusttests", None, "delete"),
        ("events.k8s.io", "events", None, "create"),
        ("networking.k8s.io", "ingresses", None, "create"),
        ("gateway.networking.k8s.io", "httproutes", None, "create"),
    ] {
        assert!(
            can(group, resource, sub, verb).await,
            "allowed: {verb} {group}/{resource} {sub:?}"
        );
    }
    for (group, resource, sub, verb) in [
        ("", "secrets", None, "get"),
        ("", "secrets", None, "list"),
        ("", "secrets", None, "watch"),
        ("", "secrets", None, "update"),
        ("networking.k8s.io", "ingresses", None, "delete"),
        ("", "configmaps", None, "list"),
        ("", "persistentvolumeclaims", None, "list"),
        ("", "persistentvolumeclaims", None, "create"),
        ("batch", "jobs", None, "delete"),
        ("", "pods", None, "delete"),
        ("", "services", None, "delete"),
        ("locust.io", "locusttests", None, "update"),
        ("", "events", None, "watch"),
        ("coordination.k8s.io", "leases", None, "update"),
        ("coordination.k8s.io", "leases", None, "create"),
        ("coordination.k8s.io", "leases", None, "get"),
        ("coordination.k8s.io", "leases", None, "list"),
    ] {
        assert!(
            !can(group, resource, sub, verb).await,
            "denied: {verb} {group}/{resource} {sub:?}"
        );
    }
    // The Go operator's Lease, and only it, may be read.
    for verb in ["get", "list"] {
        assert!(
            can_named("coordination.k8s.io", "leases", None, verb, Some(GO_LEASE)).await,
            "allowed: {verb} the Go operator's Lease"
        );
    }
    for verb in ["update", "patch", "delete"] {
        assert!(
            !can_named("coordination.k8s.io", "leases", None, verb, Some(GO_LEASE)).await,
            "denied: {verb} the Go operator's Lease"
        );
    }
    // Leases only where the leader-election Role is bound (the operator's namespace).
    common::bind_leader_election(&common::admin().await, &ns).await;
    // The authorizer sees a new binding a moment later (its informer), under load too.
    common::eventually(
        "the leader-election Role's verbs allowed after binding it",
        std::time::Duration::from_secs(10),
        || async {
            for verb in ["get", "create", "patch", "update"] {
                if !can("coordination.k8s.io", "leases", None, verb).await {
                    return Err(format!("{verb} leases denied"));
                }
            }
            Ok(())
        },
    )
    .await;
    assert!(!can("coordination.k8s.io", "leases", None, "delete").await);
}

/// `(apiGroup, resource, resourceNames)` → verbs, from a Role's or ClusterRole's rules.
type NamedRules = BTreeMap<(String, String, Vec<String>), BTreeSet<String>>;

fn named_rules(rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>) -> NamedRules {
    let mut out = NamedRules::new();
    for rule in rules {
        assert!(rule.non_resource_urls.is_none(), "{rule:?}");
        let names = rule.resource_names.clone().unwrap_or_default();
        for group in rule.api_groups.clone().expect("apiGroups") {
            for resource in rule.resources.clone().expect("resources") {
                out.entry((group.clone(), resource, names.clone()))
                    .or_default()
                    .extend(rule.verbs.iter().cloned());
            }
        }
    }
    out
}

fn expect(rows: &[(&str, &str, &[&str], &[&str])]) -> NamedRules {
    rows.iter()
        .map(|(g, r, names, verbs)| {
            (
                (
                    (*g).to_owned(),
                    (*r).to_owned(),
                    names.iter().map(|n| (*n).to_owned()).collect(),
                ),
                verbs.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn leases_are_granted_by_a_namespaced_role_only() {
    let role = common::leader_election_role();
    assert_eq!(
        named_rules(role.rules.expect("rules")),
        expect(&[(
            "coordination.k8s.io",
            "leases",
            &[],
            &["get", "create", "patch", "update"]
        )])
    );
}

#[test]
fn the_self_signed_webhook_rules_are_namespaced_or_limited_by_name() {
    let role: k8s_openapi::api::rbac::v1::Role =
        locust_k8s_operator::yaml::from_yaml(common::WEBHOOK_ROLE_YAML).expect("parses");
    assert_eq!(
        named_rules(role.rules.expect("rules")),
        expect(&[
            ("", "secrets", &[], &["create"]),
            (
                "",
                "secrets",
                &[locust_k8s_operator::certs::config::DEFAULT_SECRET_NAME],
                &["get", "update"]
            ),
        ]),
        "the Secret: created, then read and renewed by its name only; no list, no watch"
    );
    let cluster: k8s_openapi::api::rbac::v1::ClusterRole =
        locust_k8s_operator::yaml::from_yaml(common::WEBHOOK_CLUSTER_ROLE_YAML).expect("parses");
    assert_eq!(
        named_rules(cluster.rules.expect("rules")),
        expect(&[
            (
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                &[locust_k8s_operator::crd::CRD_NAME],
                &["get", "patch"]
            ),
            (
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations",
                &[locust_k8s_operator::certs::config::DEFAULT_WEBHOOK_CONFIG_NAME],
                &["get", "patch"]
            ),
        ]),
        "cluster-scoped objects: only the CRD and the webhook configuration, by name"
    );
    let readme = std::fs::read_to_string("config/rbac/README.md").expect("config/rbac/README.md");
    for row in [
        "`\"\"` | `secrets`",
        "`apiextensions.k8s.io` | `customresourcedefinitions`",
        "`admissionregistration.k8s.io` | `validatingwebhookconfigurations`",
        "`coordination.k8s.io` | `leases`",
    ] {
        assert!(readme.contains(row), "config/rbac/README.md explains {row}");
    }
}

#[test]
fn no_source_file_uses_a_wildcard() {
    for (file, text) in [
        ("role.yaml", common::ROLE_YAML),
        (
            "leader_election_role.yaml",
            common::LEADER_ELECTION_ROLE_YAML,
        ),
        ("webhook_role.yaml", common::WEBHOOK_ROLE_YAML),
        (
            "webhook_cluster_role.yaml",
            common::WEBHOOK_CLUSTER_ROLE_YAML,
        ),
        ("web_auth_role.yaml", common::WEB_AUTH_ROLE_YAML),
        (
            "metrics_auth_role.yaml",
            include_str!("../../config/rbac/metrics_auth_role.yaml"),
        ),
    ] {
        assert!(
            !text
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains('*')),
            "no '*' in config/rbac/{file}"
        );
    }
}
