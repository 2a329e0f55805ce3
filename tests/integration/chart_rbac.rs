//! The operator under the Helm chart's RBAC, against the real control plane.
//!
//! No operator pod runs on kwok nodes, so each test renders the chart with `helm template`,
//! applies its ServiceAccount and RBAC objects, gets a token for that ServiceAccount from
//! the TokenRequest API (what a pod would mount), and runs the operator binary here with
//! that identity and the environment and arguments of the rendered Deployment (downward-API
//! variables resolved as the kubelet would; only the probe address is moved to a free
//! loopback port). Nothing else grants the ServiceAccount permissions, so a missing rule
//! fails the test.
//!
//! - cluster-wide (a ClusterRole, the Lease's Role in the release namespace), two replicas
//!   as the chart's default: a LocustTest in another namespace gets its children and
//!   reaches Succeeded, one replica holds the Lease, and both answer `/readyz` (the leader
//!   synced, the other a standby);
//! - namespaced (`watchNamespaces`: a Role per watched namespace): a test there succeeds,
//!   a test elsewhere is left alone, and nothing is granted cluster-wide;
//! - self-signed webhook certificates: the operator's certificate manager
//!   (`locust_k8s_operator::certs::start`, the code `run` calls with
//!   `WEBHOOK_MODE=self-signed`) with the ServiceAccount's client creates its Secret,
//!   writes the CA bundle into the CRD and the ValidatingWebhookConfiguration, renews the
//!   Secret and recreates it when deleted. The HTTPS server is not started: in a pod it
//!   binds 0.0.0.0 and the API server would reach it through the Service, which needs pod
//!   networking the test cluster does not have (webhook serving itself is proven in
//!   `tests/integration/webhooks.rs` with `WEBHOOK_MODE=local`).

use crate::chart_common;
use crate::common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chart_common::{env_value, objects, operator_deployment, operator_env, rbac_yaml, render};
use common::local_locust::free_port;
use common::{Operator, OperatorOptions, create, locust_test, wait_children, wait_phase};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use locust_k8s_operator::api::status::Phase;
use locust_k8s_operator::certs::{self, CertsConfig, WebhookMode};
use locust_k8s_operator::crd::CRD_NAME;
use serde_json::Value;

/// This module's own cluster: it runs a cluster-wide operator and registers a webhook configuration, which no other test may see.
async fn own() -> common::Prepared {
    common::prepared("chart_rbac").await
}

const CHILDREN: Duration = Duration::from_secs(60);

/// One operator at a time: the cluster-wide one would otherwise act on the namespaced
/// test's "not watched" namespace.
async fn one_operator_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
const PHASE: Duration = Duration::from_secs(120);

/// A chart release rendered and its RBAC applied: the ServiceAccount's kubeconfig and the
/// rendered objects.
struct Release {
    namespace: String,
    service_account: String,
    kubeconfig: PathBuf,
    objects: Vec<Value>,
}

/// Renders the chart as `release` in a new namespace and applies its ServiceAccount and
/// RBAC objects (only those) as the admin.
async fn install_rbac(release: &str, values: &[&str]) -> Release {
    let cluster = own().await.cluster();
    let namespace = cluster.namespace(release).await.expect("release namespace");
    let objects = objects(&render(release, &namespace, values));
    chart_common::apply(cluster.kubeconfig(), &rbac_yaml(&objects));
    let service_account =
        operator_deployment(&objects)["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .expect("serviceAccountName")
            .to_owned();
    let kubeconfig = cluster
        .kubeconfig_for_service_account(&namespace, &service_account)
        .await
        .expect("a token for the chart's ServiceAccount");
    Release {
        namespace,
        service_account,
        kubeconfig,
        objects,
    }
}

impl Release {
    /// The rendered operator container's environment for pod `pod`.
    fn env(&self, pod: &str) -> Vec<(String, String)> {
        operator_env(&self.objects, &self.namespace, pod)
    }

    /// Starts the operator as this release's ServiceAccount with the rendered Deployment's
    /// environment and arguments (probes moved to `health` on loopback, text logs).
    fn start_operator(&self, name: &str, health: SocketAddr) -> Operator {
        let pod = format!("{name}-pod-0");
        let env = self.env(&pod);
        assert_eq!(env_value(&env, "HEALTH_ADDR"), Some("0.0.0.0:8081"));
        let args = &operator_deployment(&self.objects)["spec"]["template"]["spec"]["containers"][0]
            ["args"];
        assert_eq!(
            args,
            &serde_json::json!(["run", "--leader-elect=true"]),
            "the harness runs `run` with leader election, like the Deployment"
        );
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k != "HEALTH_ADDR" && k != "LOG_FORMAT")
            .chain([("HEALTH_ADDR".to_owned(), health.to_string())])
            .collect();
        let options = OperatorOptions {
            kubeconfig: self.kubeconfig.clone(),
            watch_namespaces: None,
            grace_seconds: 120,
            leader_election: Some((self.namespace.clone(), pod)),
            env,
        };
        Operator::start(name, options)
    }

    /// Whether the real API server allows the ServiceAccount `verb` on `resource`
    /// (`namespace` `None`: cluster-wide).
    async fn can(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> bool {
        let reviews: Api<SubjectAccessReview> = Api::all(own().await.admin().await);
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(format!(
                    "system:serviceaccount:{}:{}",
                    self.namespace, self.service_account
                )),
                groups: Some(vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{}", self.namespace),
                    "system:authenticated".into(),
                ]),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.into()),
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    namespace: namespace.map(Into::into),
                    name: name.map(Into::into),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        reviews
            .create(&PostParams::default(), &review)
            .await
            .expect("subject access review")
            .status
            .is_some_and(|s| s.allowed)
    }
}

/// One access check: (allowed?, verb, API group, resource, namespace, name).
type Access<'a> = (
    bool,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
);

impl Release {
    /// Asserts each check against the real API server.
    async fn assert_access(&self, checks: &[Access<'_>]) {
        for (allowed, verb, group, resource, namespace, name) in checks {
            assert_eq!(
                self.can(verb, group, resource, *namespace, *name).await,
                *allowed,
                "{verb} {group}/{resource} in {namespace:?} named {name:?}"
            );
        }
    }
}

/// The operator ran without a single permission error.
fn assert_no_forbidden(operator: &Operator) {
    let log = operator.all_logs();
    assert!(
        !log.contains("forbidden") && !log.contains("Forbidden"),
        "the operator hit a permission error:\n{log}"
    );
}

#[tokio::test]
async fn cluster_wide_the_chart_rbac_runs_tests_in_any_namespace() {
    let _one = one_operator_at_a_time().await;
    let release = install_rbac("chart-cw", &["--set", "webhooks.enabled=false"]).await;
    // The chart's default: two replicas with leader election.
    let health: Vec<SocketAddr> = (0..2)
        .map(|_| ([127, 0, 0, 1], free_port()).into())
        .collect();
    let mut replicas = [
        release.start_operator("chart-cw-a", health[0]),
        release.start_operator("chart-cw-b", health[1]),
    ];
    let client = own().await.admin().await;
    let ns = own().await.namespace("chart-cw-tests").await;

    create(&client, &ns, &locust_test("cw", 1)).await;
    let kids = wait_children(&client, &ns, "cw", CHILDREN).await;
    assert!(kids.complete());
    let done = wait_phase(&client, &ns, "cw", Phase::Succeeded, PHASE).await;
    assert!(
        done.status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .is_some(),
        "it ran: {}",
        common::describe(&done)
    );
    // The Lease lives in the release namespace, held by this replica.
    let lease = Api::<Lease>::namespaced(client.clone(), &release.namespace)
        .get("locust-k8s-operator")
        .await
        .expect("the Lease in the release namespace");
    let holder = lease.spec.and_then(|s| s.holder_identity);
    assert!(
        matches!(
            holder.as_deref(),
            Some("chart-cw-a-pod-0" | "chart-cw-b-pod-0")
        ),
        "held by a replica: {holder:?}"
    );
    // Both replicas are Ready (the leader synced, the other a standby), so the chart's
    // PodDisruptionBudget and rolling updates can make progress.
    for addr in &health {
        common::eventually(
            &format!("/readyz on {addr} to answer 200"),
            Duration::from_secs(60),
            || async {
                match common::http_get(*addr, "/readyz").await? {
                    (200, _) => Ok(()),
                    (code, body) => Err(format!("{code} {body}")),
                }
            },
        )
        .await;
    }
    for replica in &mut replicas {
        replica.assert_running();
        assert_no_forbidden(replica);
    }

    // What the identity may and may not do.
    let other = Some(ns.as_str());
    release
        .assert_access(&[
            (true, "watch", "locust.io", "locusttests", None, None),
            (false, "get", "", "secrets", other, None),
            (false, "list", "", "secrets", None, None),
            (false, "delete", "batch", "jobs", other, None),
            (
                false,
                "update",
                "coordination.k8s.io",
                "leases",
                other,
                None,
            ),
            // No CRD rights without self-signed webhooks.
            (
                false,
                "patch",
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                None,
                Some(CRD_NAME),
            ),
        ])
        .await;
}

#[tokio::test]
async fn namespaced_the_chart_rbac_runs_tests_in_the_watched_namespace_only() {
    let _one = one_operator_at_a_time().await;
    let client = own().await.admin().await;
    let watched = own().await.namespace("chart-ns-watched").await;
    let other = own().await.namespace("chart-ns-other").await;
    let watch = format!(r#"watchNamespaces=["{watched}"]"#);
    let release = install_rbac(
        "chart-ns",
        &["--set", "webhooks.enabled=false", "--set-json", &watch],
    )
    .await;
    assert_eq!(
        env_value(&release.env("p"), "WATCH_NAMESPACES"),
        Some(watched.as_str())
    );
    let mut operator = release.start_operator("chart-ns", ([127, 0, 0, 1], free_port()).into());

    create(&client, &watched, &locust_test("here", 1)).await;
    create(&client, &other, &locust_test("there", 1)).await;
    wait_children(&client, &watched, "here", CHILDREN).await;
    wait_phase(&client, &watched, "here", Phase::Succeeded, PHASE).await;
    common::assert_left_alone(&client, &other, "there").await;
    operator.assert_running();
    assert_no_forbidden(&operator);

    // Nothing cluster-wide, nothing in other namespaces.
    release
        .assert_access(&[
            (true, "create", "batch", "jobs", Some(&watched), None),
            (false, "list", "locust.io", "locusttests", None, None),
            (false, "list", "", "pods", None, None),
            (false, "create", "batch", "jobs", Some(&other), None),
            (false, "get", "", "secrets", Some(&watched), None),
        ])
        .await;
}

/// The ServiceAccount's client (on this test's runtime).
async fn client_of(release: &Release) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(&release.kubeconfig).expect("kubeconfig");
    test_cluster::kubeconfig::client(&kubeconfig)
        .await
        .expect("service account client")
}

/// The bytes of `key` in the Secret.
fn secret_key(secret: &Secret, key: &str) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .unwrap_or_else(|| panic!("{key} in the Secret"))
}

fn ca_of(secret: &Secret) -> Vec<u8> {
    secret_key(secret, "ca.crt")
}

fn cert_of(secret: &Secret) -> Vec<u8> {
    secret_key(secret, "tls.crt")
}

#[tokio::test]
async fn self_signed_webhook_certificates_work_under_the_chart_rbac() {
    let admin = own().await.admin().await;
    // failurePolicy Ignore: the registered webhook has no reachable backend here, and the
    // other tests of this binary create LocustTests meanwhile.
    let release = install_rbac("chart-ss", &["--set", "webhooks.failurePolicy=Ignore"]).await;
    let cluster = own().await.cluster();
    // The chart's CRD (conversion webhook to the release's Service) and its
    // ValidatingWebhookConfiguration, as helm would install them.
    let webhook_objects: Vec<&Value> = release
        .objects
        .iter()
        .filter(|o| {
            o["kind"] == "CustomResourceDefinition" || o["kind"] == "ValidatingWebhookConfiguration"
        })
        .collect();
    assert_eq!(webhook_objects.len(), 2);
    chart_common::apply(
        cluster.kubeconfig(),
        &locust_k8s_operator::yaml::to_yaml_documents(&webhook_objects).expect("yaml"),
    );

    let dir = tempfile::tempdir().expect("cert dir");
    let mut env = release.env("chart-ss-pod-0");
    assert_eq!(env_value(&env, "WEBHOOK_MODE"), Some("self-signed"));
    // The certificate folder here instead of the pod's /tmp, and a short life so a renewal
    // (an update of the Secret) happens within the test.
    env.retain(|(k, _)| k != "WEBHOOK_CERT_DIR" && k != "WEBHOOK_CERT_VALIDITY_SECONDS");
    env.push((
        "WEBHOOK_CERT_DIR".into(),
        dir.path().to_string_lossy().into_owned(),
    ));
    env.push(("WEBHOOK_CERT_VALIDITY_SECONDS".into(), "9".into()));
    let config = CertsConfig::from_vars(env).expect("the chart's webhook configuration");
    assert_eq!(config.mode, WebhookMode::SelfSigned);
    assert_eq!(config.namespace, release.namespace);
    let reloads = Arc::new(AtomicUsize::new(0));
    let counter = reloads.clone();
    let webhook = certs::start(client_of(&release).await, &config, move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })
    .await
    .expect("the certificates are set up with the chart's rules")
    .expect("self-signed mode builds certificates");
    assert!(webhook.cert_file.is_file());

    // The Secret was created, and its CA is in the CRD and the webhook configuration.
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &release.namespace);
    let secret = secrets.get(&config.secret_name).await.expect("the Secret");
    let ca = ca_of(&secret);
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let vwcs: Api<ValidatingWebhookConfiguration> = Api::all(admin.clone());
    let published = |crd: &CustomResourceDefinition, vwc: &ValidatingWebhookConfiguration| {
        let in_crd = crd
            .spec
            .conversion
            .as_ref()
            .and_then(|c| c.webhook.as_ref())
            .and_then(|w| w.client_config.as_ref())
            .and_then(|c| c.ca_bundle.as_ref())
            .map(|b| b.0.clone());
        let in_vwc: Vec<Option<Vec<u8>>> = vwc
            .webhooks
            .iter()
            .flatten()
            .map(|w| w.client_config.ca_bundle.as_ref().map(|b| b.0.clone()))
            .collect();
        (in_crd, in_vwc)
    };
    let (in_crd, in_vwc) = published(
        &crds.get(CRD_NAME).await.expect("crd"),
        &vwcs.get(&config.webhook_config_name).await.expect("vwc"),
    );
    assert_eq!(in_crd.as_ref(), Some(&ca), "the CA bundle in the CRD");
    assert_eq!(
        in_vwc,
        vec![Some(ca.clone())],
        "the CA bundle in the webhook configuration"
    );

    // Renewal replaces the Secret (update by name) and reloads.
    let first_cert = cert_of(&secret);
    common::eventually(
        "the serving certificate renewed",
        Duration::from_secs(30),
        || {
            let secrets = secrets.clone();
            let first_cert = first_cert.clone();
            let reloads = reloads.clone();
            let name = config.secret_name.clone();
            async move {
                let now = secrets.get(&name).await.map_err(|e| e.to_string())?;
                if cert_of(&now) != first_cert && reloads.load(Ordering::SeqCst) > 0 {
                    Ok(())
                } else {
                    Err("not renewed yet".into())
                }
            }
        },
    )
    .await;

    // A deleted Secret is created again, and the new CA published.
    secrets
        .delete(&config.secret_name, &DeleteParams::default())
        .await
        .expect("delete the Secret");
    let recreated = common::eventually("the Secret recreated", Duration::from_secs(30), || {
        let secrets = secrets.clone();
        let old = secret.metadata.uid.clone();
        let name = config.secret_name.clone();
        async move {
            match secrets.get_opt(&name).await.map_err(|e| e.to_string())? {
                Some(s) if s.metadata.uid != old => Ok(s),
                _ => Err("not recreated yet".into()),
            }
        }
    })
    .await;
    let new_ca = ca_of(&recreated);
    common::eventually("the new CA published", Duration::from_secs(30), || {
        let (crds, vwcs, new_ca) = (crds.clone(), vwcs.clone(), new_ca.clone());
        let name = config.webhook_config_name.clone();
        async move {
            let crd = crds.get(CRD_NAME).await.map_err(|e| e.to_string())?;
            let vwc = vwcs.get(&name).await.map_err(|e| e.to_string())?;
            let (in_crd, in_vwc) = published(&crd, &vwc);
            (in_crd.as_ref() == Some(&new_ca) && in_vwc == vec![Some(new_ca.clone())])
                .then_some(())
                .ok_or_else(|| "old bundle still published".to_string())
        }
    })
    .await;
    webhook.stop();

    // Only the one Secret, only in the release namespace; only the two named objects.
    let ns = Some(release.namespace.as_str());
    let secret_name = Some(config.secret_name.as_str());
    release
        .assert_access(&[
            (true, "get", "", "secrets", ns, secret_name),
            (true, "update", "", "secrets", ns, secret_name),
            (false, "get", "", "secrets", ns, Some("someone-elses")),
            (false, "list", "", "secrets", ns, None),
            (false, "watch", "", "secrets", ns, None),
            (false, "get", "", "secrets", None, secret_name),
            (false, "create", "", "secrets", Some("default"), None),
            (
                false,
                "patch",
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                None,
                Some("other.example.com"),
            ),
            (
                false,
                "patch",
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations",
                None,
                Some("another-webhook"),
            ),
        ])
        .await;

    // Put the cluster back for the other tests: no webhook, conversion None.
    vwcs.delete(&config.webhook_config_name, &DeleteParams::default())
        .await
        .expect("delete the webhook configuration");
    crds.patch(
        CRD_NAME,
        &PatchParams::default(),
        &Patch::Merge(
            serde_json::json!({"spec": {"conversion": {"strategy": "None", "webhook": null}}}),
        ),
    )
    .await
    .expect("conversion back to None");
}
