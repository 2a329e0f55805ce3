//! The web UI's credentials (`spec.webUI.auth`): the one Secret the operator reads.
//!
//! Only tests that set `webUI.auth` make the operator read a Secret, by name (RBAC `get` on
//! secrets, no `list` or `watch`), twice: before the pods are created, to block a test
//! whose Secret or keys are missing, and when the poller of the running master starts, so
//! it can authenticate. The values leave this module only as a [`BasicAuth`], which never
//! prints them; messages name the Secret and its keys, never what they hold.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::error::Error;
use crate::api::v2::LocustTestSpec;
use crate::locust::BasicAuth;

/// What the test's credentials came to.
#[derive(Debug)]
pub enum Credentials {
    /// The test does not protect its web UI.
    NotAsked,
    /// The credentials from the Secret.
    Found(BasicAuth),
    /// The Secret or a key is missing or empty, or may not be read: what to do.
    Unusable(String),
}

/// Reads the credentials `spec.webUI.auth` points to, from namespace `ns`.
pub async fn read(client: &Client, ns: &str, spec: &LocustTestSpec) -> Result<Credentials, Error> {
    let Some(secret_ref) = (spec.web_ui.as_ref())
        .and_then(|w| w.auth.as_ref())
        .map(|a| &a.secret_ref)
    else {
        return Ok(Credentials::NotAsked);
    };
    let name = &secret_ref.name;
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = match api.get_opt(name).await {
        Ok(found) => found,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Ok(Credentials::Unusable(format!(
                "the operator may not read Secret {name:?} (spec.webUI.auth.secretRef.name) in \
                 namespace {ns}: web UI authentication is opt-in; install the chart with \
                 webUIAuth.readSecrets=true (or bind config/rbac/web_auth_role.yaml to the \
                 operator's ServiceAccount); the test starts once it may"
            )));
        }
        Err(e) => return Err(Error::kube("reading the web UI's Secret")(e)),
    };
    let Some(secret) = secret else {
        return Ok(Credentials::Unusable(format!(
            "Secret {name:?} (spec.webUI.auth.secretRef.name) does not exist in namespace {ns}: \
             create it with the keys {:?} and {:?}; the test starts once it exists",
            secret_ref.username_key(),
            secret_ref.password_key()
        )));
    };
    let value = |key: &str, field: &str| match secret.data.as_ref().and_then(|d| d.get(key)) {
        Some(v) if !v.0.is_empty() => Ok(v.0.clone()),
        Some(_) => Err(format!(
            "Secret {name:?} has an empty {key:?} ({field}): set a value"
        )),
        None => Err(format!(
            "Secret {name:?} has no key {key:?} ({field}): add it, or name the right key"
        )),
    };
    let found = value(
        secret_ref.username_key(),
        "spec.webUI.auth.secretRef.usernameKey",
    )
    .and_then(|user| {
        value(
            secret_ref.password_key(),
            "spec.webUI.auth.secretRef.passwordKey",
        )
        .map(|password| BasicAuth::new(&user, &password))
    });
    Ok(match found {
        Ok(auth) => Credentials::Found(auth),
        Err(problem) => Credentials::Unusable(problem),
    })
}
