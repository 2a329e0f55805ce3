//! `clusterPermissions` and `permissions` of the CSV from `config/rbac/`.

use serde_json::{Value, json};

use crate::source::RbacSource;

/// The `app.kubernetes.io/component` of the RBAC files that only the self-signed webhook
/// mode needs. Under OLM, OLM issues, injects and rotates the webhook certificates
/// (`WEBHOOK_MODE=files`), so these rules are left out.
pub const SELF_SIGNED_ONLY_COMPONENT: &str = "webhook-certificates";

/// The `app.kubernetes.io/component` of the opt-in rules reading the Secrets of
/// `spec.webUI.auth`: an OLM install cannot opt in, so the bundle leaves them out (an
/// administrator binds `config/rbac/web_auth_role.yaml` by hand to allow it).
pub const OPT_IN_COMPONENT: &str = "web-ui-auth";

/// The RBAC sources the bundle grants: every file except the self-signed-only and the
/// opt-in ones.
pub fn granted(sources: &[RbacSource]) -> impl Iterator<Item = &RbacSource> {
    sources.iter().filter(|s| {
        let component = s.component.as_deref();
        component != Some(SELF_SIGNED_ONLY_COMPONENT) && component != Some(OPT_IN_COMPONENT)
    })
}

/// `(clusterPermissions, permissions)`: the rules of every granted ClusterRole (bound
/// cluster-wide: the bundle supports AllNamespaces only) and of every granted Role (bound
/// in the operator's namespace, where its Lease lives), in file order, for the service
/// account `service_account`.
pub fn permissions(sources: &[RbacSource], service_account: &str) -> (Value, Value) {
    let rules = |kind: &str| -> Vec<Value> {
        granted(sources)
            .filter(|s| s.kind == kind)
            .flat_map(|s| s.rules.iter().cloned())
            .collect()
    };
    let entry = |rules: Vec<Value>| {
        if rules.is_empty() {
            json!([])
        } else {
            json!([{ "serviceAccountName": service_account, "rules": rules }])
        }
    };
    (entry(rules("ClusterRole")), entry(rules("Role")))
}
