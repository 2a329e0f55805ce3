//! Labels and annotations of the children.
//!
//! Every pod carries the operator's labels (the keys below); the user's `master.labels` /
//! `worker.labels` merge in but can never override them, so selectors keep working.
//! `master.annotations` / `worker.annotations` go onto the pods of that role.

use std::collections::BTreeMap;

use super::{Ctx, Role};

/// Label naming the test (value: [`crate::naming::test_label_value`]).
pub const APP: &str = "app";
/// Label naming the test (value: [`crate::naming::test_label_value`]).
pub const TEST_NAME: &str = "performance-test-name";
/// Label naming the Job a pod belongs to (value: the master or worker Job name).
pub const POD_NAME: &str = "performance-test-pod-name";
/// Legacy managed-by label of the Go operator.
pub const MANAGED_BY: &str = "managed-by";
/// The recommended managed-by label.
pub const K8S_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The recommended component label: `master` or `worker`.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// Value of the managed-by labels.
pub const MANAGER: &str = "locust-k8s-operator";
/// The recommended name label: the application, [`NAME_VALUE`].
pub const K8S_NAME: &str = "app.kubernetes.io/name";
/// Value of [`K8S_NAME`].
pub const NAME_VALUE: &str = "locust";
/// The recommended instance label: the test (value: [`crate::naming::test_label_value`]).
pub const K8S_INSTANCE: &str = "app.kubernetes.io/instance";
/// The recommended part-of label: the system the child belongs to, [`MANAGER`].
pub const K8S_PART_OF: &str = "app.kubernetes.io/part-of";
/// Annotation on every pod naming its LocustTest, which the controller maps pod events
/// through (the `performance-test-name` label holds a shortened name for long CR names).
pub const TEST_NAME_ANNOTATION: &str = "locust.io/test-name";

/// The operator's own labels for `role`: the keys above.
pub(crate) fn operator_labels(ctx: &Ctx<'_>, role: Role) -> BTreeMap<String, String> {
    let mut labels = test_labels(ctx, role.component());
    labels.insert(POD_NAME.to_string(), ctx.job_name(role).to_string());
    labels
}

/// The labels every child of the test carries (the Jobs, their pods, the Service and the
/// report ConfigMap): the test's name, the managed-by labels, the recommended
/// `app.kubernetes.io/name|instance|part-of` labels and `component`. None of them is in
/// a selector except the test's name, so adding one never changes what selects what.
pub(crate) fn test_labels(ctx: &Ctx<'_>, component: &str) -> BTreeMap<String, String> {
    [
        (APP, ctx.test_label.as_str()),
        (TEST_NAME, ctx.test_label.as_str()),
        (MANAGED_BY, MANAGER),
        (K8S_MANAGED_BY, MANAGER),
        (K8S_NAME, NAME_VALUE),
        (K8S_INSTANCE, ctx.test_label.as_str()),
        (K8S_PART_OF, MANAGER),
        (COMPONENT, component),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The labels the operator adds to a child the Go operator created when it adopts it
/// (`role`: master for the Service): enough for its watches, which select
/// [`K8S_MANAGED_BY`], and for telling master and worker apart. Nothing else of the child
/// changes.
pub fn adoption_labels(role: Role) -> BTreeMap<String, String> {
    [(K8S_MANAGED_BY, MANAGER), (COMPONENT, role.component())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Labels of `role`'s pods and Job: the user's labels, overridden by the operator's.
pub(crate) fn pod_labels(ctx: &Ctx<'_>, role: Role) -> BTreeMap<String, String> {
    let user = match role {
        Role::Master => ctx.master().labels.as_ref(),
        Role::Worker => ctx.worker().labels.as_ref(),
    };
    let mut labels = user.cloned().unwrap_or_default();
    labels.extend(operator_labels(ctx, role));
    labels
}

/// The labels that select the master pod (the Service selector).
pub(crate) fn master_selector(ctx: &Ctx<'_>) -> BTreeMap<String, String> {
    [
        (TEST_NAME, ctx.test_label.as_str()),
        (POD_NAME, ctx.master_name.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Annotations of `role`'s pods: the user's, then [`TEST_NAME_ANNOTATION`] (which a user
/// value cannot override).
pub(crate) fn pod_annotations(ctx: &Ctx<'_>, role: Role) -> BTreeMap<String, String> {
    let user = match role {
        Role::Master => ctx.master().annotations.as_ref(),
        Role::Worker => ctx.worker().annotations.as_ref(),
    };
    let mut annotations = user.cloned().unwrap_or_default();
    annotations.insert(TEST_NAME_ANNOTATION.to_string(), ctx.cr_name.to_string());
    annotations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::{minimal, with_ctx};

    #[test]
    fn operator_labels_win_over_user_labels() {
        let mut t = minimal();
        let hostile: BTreeMap<String, String> = [
            (APP, "x"),
            (TEST_NAME, "x"),
            (POD_NAME, "x"),
            (MANAGED_BY, "x"),
            (K8S_MANAGED_BY, "x"),
            (COMPONENT, "x"),
            (K8S_NAME, "x"),
            (K8S_INSTANCE, "x"),
            (K8S_PART_OF, "x"),
            ("team", "perf"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        t.spec.master.labels = Some(hostile.clone());
        t.spec.worker.labels = Some(hostile);
        let (m, w) = with_ctx(&t, |c| {
            (pod_labels(c, Role::Master), pod_labels(c, Role::Worker))
        });
        assert_eq!(m[APP], "demo");
        assert_eq!(m[TEST_NAME], "demo");
        assert_eq!(m[POD_NAME], "demo-master");
        assert_eq!(m[MANAGED_BY], MANAGER);
        assert_eq!(m[K8S_MANAGED_BY], MANAGER);
        assert_eq!(m[COMPONENT], "master");
        assert_eq!(m[K8S_NAME], "locust");
        assert_eq!(m[K8S_INSTANCE], "demo");
        assert_eq!(m[K8S_PART_OF], "locust-k8s-operator");
        assert_eq!(w[K8S_INSTANCE], "demo");
        assert_eq!(m["team"], "perf");
        assert_eq!(w[POD_NAME], "demo-worker");
        assert_eq!(w[COMPONENT], "worker");
        assert_eq!(w["team"], "perf");
    }

    #[test]
    fn a_long_test_name_gets_a_valid_instance_label() {
        let mut t = minimal();
        let long = format!("{}.x", "a".repeat(80));
        t.metadata.name = Some(long.clone());
        let m = with_ctx(&t, |c| pod_labels(c, Role::Master));
        assert_eq!(m[K8S_INSTANCE], crate::naming::test_label_value(&long));
        assert!(m[K8S_INSTANCE].len() <= 63, "{}", m[K8S_INSTANCE]);
        assert_eq!(m[K8S_INSTANCE], m[TEST_NAME]);
    }

    #[test]
    fn role_labels_and_annotations_stay_on_their_role() {
        let mut t = minimal();
        t.spec.master.labels = Some([("m".to_string(), "1".to_string())].into());
        t.spec.worker.annotations = Some([("w".to_string(), "2".to_string())].into());
        t.spec.master.annotations = Some(BTreeMap::new());
        let (ml, wl, ma, wa) = with_ctx(&t, |c| {
            (
                pod_labels(c, Role::Master),
                pod_labels(c, Role::Worker),
                pod_annotations(c, Role::Master),
                pod_annotations(c, Role::Worker),
            )
        });
        assert!(ml.contains_key("m") && !wl.contains_key("m"));
        let name = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
            extra
                .iter()
                .chain([(TEST_NAME_ANNOTATION, "demo")].iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(ma, name(&[]));
        assert_eq!(wa, name(&[("w", "2")]));
    }

    #[test]
    fn the_test_name_annotation_cannot_be_overridden() {
        let mut t = minimal();
        t.spec.worker.annotations =
            Some([(TEST_NAME_ANNOTATION.to_string(), "other".to_string())].into());
        let wa = with_ctx(&t, |c| pod_annotations(c, Role::Worker));
        assert_eq!(wa[TEST_NAME_ANNOTATION], "demo");
    }
}
