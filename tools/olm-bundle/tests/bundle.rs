//! The generated OLM bundle, offline: it is current, and each part comes from its source
//! (RBAC files, CRD, examples, Cargo.toml) and fits the operator's own configuration code.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{committed_csv, copy_of_sources, root, yaml_file};
use locust_k8s_operator::certs::{CertsConfig, WebhookMode};
use locust_k8s_operator::config::{ControllerConfig, OperatorConfig};
use olm_bundle::Sources;
use serde_json::{Value, json};

#[test]
fn committed_bundle_is_current() {
    let root = root();
    let files = olm_bundle::generate(&root).expect("the bundle generates");
    let problems = olm_bundle::check(&root, &files);
    assert!(
        problems.is_empty(),
        "the committed OLM bundle is stale: run `make bundle` and commit it:\n{}",
        problems.join("\n")
    );
}

#[test]
fn check_reports_a_stale_a_missing_and_a_leftover_file() {
    let dir = copy_of_sources();
    let files = olm_bundle::generate(dir.path()).expect("generates");
    assert!(olm_bundle::check(dir.path(), &files).is_empty());
    let manifests = dir.path().join("bundle/manifests");
    std::fs::write(manifests.join("old_v1_configmap.yaml"), "kind: ConfigMap\n").expect("w");
    std::fs::remove_file(dir.path().join("bundle/metadata/annotations.yaml")).expect("rm");
    let crd = manifests.join("locust.io_locusttests.yaml");
    let edited = std::fs::read_to_string(&crd).expect("read") + "# hand edit\n";
    std::fs::write(&crd, edited).expect("w");
    let problems = olm_bundle::check(dir.path(), &files);
    assert_eq!(
        problems,
        [
            "bundle/manifests/locust.io_locusttests.yaml is stale",
            "bundle/metadata/annotations.yaml is missing",
            "bundle/manifests/old_v1_configmap.yaml is not generated any more",
        ],
    );
    olm_bundle::write(dir.path(), &files).expect("writes");
    assert!(olm_bundle::check(dir.path(), &files).is_empty());
    assert!(!manifests.join("old_v1_configmap.yaml").exists());
}

/// The rules of every `config/rbac` file of `kind`, except the self-signed webhook ones.
fn source_rules(kind: &str) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("config/rbac"))
        .expect("config/rbac")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| yaml_file(p))
        .filter(|d| d["kind"] == kind)
        // Self-signed webhook certificates (OLM issues them) and the opt-in web UI auth
        // rules (an OLM install cannot opt in) are not granted.
        .filter(|d| {
            let component = &d["metadata"]["labels"]["app.kubernetes.io/component"];
            component != "webhook-certificates" && component != "web-ui-auth"
        })
        .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn permissions_are_the_rbac_sources_rules_without_the_self_signed_webhook_and_opt_in_ones() {
    let csv = committed_csv();
    let spec = &csv["spec"]["install"]["spec"];
    let role = yaml_file(&root().join("config/rbac/role.yaml"));
    let cluster_rules = source_rules("ClusterRole");
    assert!(
        role["rules"].as_array().is_some_and(|r| !r.is_empty()),
        "role.yaml has rules"
    );
    assert_eq!(spec["clusterPermissions"][0]["rules"], json!(cluster_rules));
    assert_eq!(
        spec["clusterPermissions"][0]["serviceAccountName"],
        "locust-k8s-operator"
    );
    for rule in role["rules"].as_array().expect("rules") {
        assert!(
            cluster_rules.contains(rule),
            "{rule} of role.yaml is granted"
        );
    }
    let namespaced = source_rules("Role");
    if namespaced.is_empty() {
        assert_eq!(spec["permissions"], json!([]));
    } else {
        assert_eq!(spec["permissions"][0]["rules"], json!(namespaced));
    }
    // OLM issues the webhook certificates: no Secrets, CRDs or webhook configurations.
    let all = serde_json::to_string(&spec["clusterPermissions"]).expect("json")
        + &serde_json::to_string(&spec["permissions"]).expect("json");
    for forbidden in [
        "secrets",
        "customresourcedefinitions",
        "validatingwebhookconfigurations",
        "\"*\"",
    ] {
        assert!(
            !all.contains(forbidden),
            "the bundle grants {forbidden}: {all}"
        );
    }
}

#[test]
fn extra_rbac_files_are_picked_up_and_self_signed_only_ones_left_out() {
    let dir = copy_of_sources();
    let rbac = dir.path().join("config/rbac");
    std::fs::write(
        rbac.join("zz_extra_role.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: extra\n\
         rules:\n  - apiGroups: [\"\"]\n    resources: [\"endpoints\"]\n    verbs: [\"get\"]\n",
    )
    .expect("write");
    std::fs::write(
        rbac.join("zz_extra_cluster_role.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\n\
         rules:\n  - apiGroups: [\"apps\"]\n    resources: [\"deployments\"]\n    verbs: [\"get\"]\n",
    )
    .expect("write");
    std::fs::write(
        rbac.join("zz_self_signed.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: y\n  \
         labels:\n    app.kubernetes.io/component: webhook-certificates\n\
         rules:\n  - apiGroups: [\"\"]\n    resources: [\"nodes\"]\n    verbs: [\"get\"]\n",
    )
    .expect("write");
    let files = olm_bundle::generate(dir.path()).expect("generates");
    let csv = olm_bundle::csv_of(&files).expect("csv");
    let spec = &csv["spec"]["install"]["spec"];
    let cluster = spec["clusterPermissions"][0]["rules"]
        .as_array()
        .expect("rules");
    let namespaced = spec["permissions"][0]["rules"].as_array().expect("rules");
    assert_eq!(
        cluster.last(),
        Some(&json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}))
    );
    assert_eq!(
        namespaced.last(),
        Some(&json!({"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]}))
    );
    assert!(!serde_json::to_string(spec).expect("json").contains("nodes"));
    // A file that is not a Role or ClusterRole stops the generator, naming it.
    std::fs::write(rbac.join("zz_binding.yaml"), "kind: RoleBinding\n").expect("write");
    let err = olm_bundle::generate(dir.path()).expect_err("a RoleBinding is refused");
    assert!(err.to_string().contains("zz_binding.yaml"), "{err}");
}

#[test]
fn name_version_and_image_tag_come_from_cargo_toml() {
    let csv = committed_csv();
    let version = olm_bundle::source::cargo_version(&root().join("Cargo.toml")).expect("version");
    assert_eq!(
        csv["metadata"]["name"],
        format!("locust-k8s-operator.v{version}")
    );
    assert_eq!(csv["spec"]["version"], version);

    let dir = copy_of_sources();
    let cargo = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&cargo).expect("read");
    let bumped = text.replacen(
        &format!("version = \"{version}\""),
        "version = \"9.8.7\"",
        1,
    );
    assert_ne!(text, bumped, "the package version line was found");
    std::fs::write(&cargo, bumped).expect("write");
    let files = olm_bundle::generate(dir.path()).expect("generates");
    let csv = olm_bundle::csv_of(&files).expect("csv");
    let image = "ghcr.io/locust-k8s-operator/locust-k8s-operator:9.8.7";
    assert_eq!(csv["metadata"]["name"], "locust-k8s-operator.v9.8.7");
    assert_eq!(csv["spec"]["version"], "9.8.7");
    assert_eq!(csv["metadata"]["annotations"]["containerImage"], image);
    assert_eq!(
        csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"]
            [0]["image"],
        image
    );
    assert_eq!(csv["spec"]["relatedImages"][0]["image"], image);
}

/// The schema of the stored version's `part` in the committed CRD.
fn crd_schema(part: &str) -> Value {
    let crd = yaml_file(&root().join("crd/locusttests.locust.io.yaml"));
    crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["storage"] == true)
        .expect("stored version")["schema"]["openAPIV3Schema"]["properties"][part]
        .clone()
}

#[test]
fn owned_crd_and_descriptors_follow_the_crd() {
    let csv = committed_csv();
    let owned = &csv["spec"]["customresourcedefinitions"]["owned"];
    assert_eq!(owned.as_array().map(Vec::len), Some(1));
    let owned = &owned[0];
    assert_eq!(owned["name"], "locusttests.locust.io");
    assert_eq!(owned["kind"], "LocustTest");
    assert_eq!(owned["version"], "v2");
    for (key, part) in [("specDescriptors", "spec"), ("statusDescriptors", "status")] {
        let schema = crd_schema(part);
        for d in owned[key].as_array().expect("descriptors") {
            let path = d["path"].as_str().expect("path");
            let field = olm_bundle::crd::schema_at(&schema, path)
                .unwrap_or_else(|| panic!("{part}.{path} is in the CRD"));
            assert!(d["displayName"].is_string(), "{path}");
            assert!(
                d["x-descriptors"].as_array().is_some_and(|x| !x.is_empty()),
                "{path}"
            );
            let description = d["description"].as_str().expect("description");
            assert!(!description.is_empty(), "{path}");
            if path != "phase" {
                // Taken from the CRD (the API types' rustdoc), not written twice.
                assert_eq!(field["description"], description, "{part}.{path}");
            }
        }
    }
    let important = [
        (
            "statusDescriptors",
            &[
                "phase",
                "expectedWorkers",
                "connectedWorkers",
                "conditions",
                "result.totalRequests",
                "result.failedRequests",
                "result.p95ResponseTime",
            ][..],
        ),
        (
            "specDescriptors",
            &[
                "image",
                "master.command",
                "worker.command",
                "worker.replicas",
                "testFiles.configMapRef",
            ][..],
        ),
    ];
    for (key, paths) in important {
        let listed: Vec<&str> = owned[key]
            .as_array()
            .expect("descriptors")
            .iter()
            .filter_map(|d| d["path"].as_str())
            .collect();
        for path in paths {
            assert!(listed.contains(path), "{key}: {path}");
        }
    }
}

#[test]
fn a_descriptor_path_missing_from_the_crd_stops_the_generator() {
    let dir = copy_of_sources();
    let base = dir.path().join("config/olm/csv.yaml");
    let text = std::fs::read_to_string(&base).expect("read");
    let broken = text.replacen("- path: worker.replicas", "- path: worker.replicaz", 1);
    assert_ne!(text, broken);
    std::fs::write(&base, broken).expect("write");
    let err = olm_bundle::generate(dir.path()).expect_err("unknown path");
    assert!(err.to_string().contains("\"worker.replicaz\""), "{err}");
    assert!(err.to_string().contains("config/olm/csv.yaml"), "{err}");
}

#[test]
fn alm_examples_are_the_v2_examples() {
    let csv = committed_csv();
    let text = csv["metadata"]["annotations"]["alm-examples"]
        .as_str()
        .expect("alm-examples is a string");
    let examples: Vec<Value> = serde_json::from_str(text).expect("alm-examples is JSON");
    let sources = Sources::read(&root()).expect("sources");
    let v2: Vec<&Value> = sources
        .examples
        .iter()
        .filter(|e| e["apiVersion"] == "locust.io/v2")
        .collect();
    assert!(v2.len() >= 2, "examples/ has v2 examples");
    assert_eq!(examples.iter().collect::<Vec<_>>(), v2);
    assert!(examples.iter().all(|e| e["kind"] == "LocustTest"));
    assert!(
        sources
            .examples
            .iter()
            .any(|e| e["apiVersion"] == "locust.io/v1"),
        "examples/ also has a v1 example, which is left out"
    );
}

#[test]
fn install_modes_are_all_namespaces_only() {
    let csv = committed_csv();
    let modes: BTreeMap<String, bool> = csv["spec"]["installModes"]
        .as_array()
        .expect("installModes")
        .iter()
        .map(|m| {
            (
                m["type"].as_str().expect("type").to_string(),
                m["supported"].as_bool().expect("supported"),
            )
        })
        .collect();
    assert_eq!(
        modes,
        BTreeMap::from([
            ("AllNamespaces".to_string(), true),
            ("MultiNamespace".to_string(), false),
            ("OwnNamespace".to_string(), false),
            ("SingleNamespace".to_string(), false),
        ])
    );
}

#[test]
fn webhook_definitions_match_the_operator() {
    let csv = committed_csv();
    let defs = csv["spec"]["webhookdefinitions"]
        .as_array()
        .expect("webhookdefinitions");
    let conversion = defs
        .iter()
        .find(|d| d["type"] == "ConversionWebhook")
        .expect("conversion webhook");
    assert_eq!(
        conversion["conversionCRDs"],
        json!([locust_k8s_operator::crd::CRD_NAME])
    );
    assert_eq!(
        conversion["webhookPath"],
        locust_k8s_operator::crd::CONVERT_PATH
    );
    let validating = defs
        .iter()
        .find(|d| d["type"] == "ValidatingAdmissionWebhook")
        .expect("validating webhook");
    // The same registration the operator makes itself (local mode), apart from the client
    // config OLM fills in.
    let own = locust_k8s_operator::certs::k8s::local_validating_webhook(
        "x",
        "https://127.0.0.1:1",
        k8s_openapi::ByteString(Vec::new()),
    );
    let own = serde_json::to_value(&own.webhooks.expect("webhooks")[0]).expect("json");
    assert_eq!(
        validating["webhookPath"],
        locust_k8s_operator::certs::k8s::VALIDATE_PATH
    );
    assert_eq!(validating["generateName"], own["name"]);
    for key in [
        "rules",
        "failurePolicy",
        "matchPolicy",
        "sideEffects",
        "timeoutSeconds",
        "admissionReviewVersions",
    ] {
        assert_eq!(validating[key], own[key], "{key}");
    }
    let port = webhook_port(&csv);
    for def in defs {
        assert_eq!(def["targetPort"], port, "{def}");
        assert_eq!(def["deploymentName"], "locust-k8s-operator");
    }
}

fn container(csv: &Value) -> &Value {
    &csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"][0]
}

fn webhook_port(csv: &Value) -> i64 {
    let env = env_of(container(csv), "unused");
    env["WEBHOOK_PORT"]
        .parse()
        .expect("WEBHOOK_PORT is a number")
}

/// The container's environment as the kubelet would give it, with `target_namespaces` as
/// OLM's `olm.targetNamespaces` annotation.
fn env_of(container: &Value, target_namespaces: &str) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().expect("name").to_string();
            let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => "locust-k8s-operator-7d9f-abcde".to_string(),
                Some("metadata.namespace") => "operators".to_string(),
                Some("metadata.annotations['olm.targetNamespaces']") => {
                    target_namespaces.to_string()
                }
                Some(other) => panic!("unexpected fieldRef {other}"),
                None => e["value"].as_str().expect("a string value").to_string(),
            };
            (name, value)
        })
        .collect()
}

#[test]
fn the_deployment_environment_is_valid_operator_configuration() {
    let csv = committed_csv();
    let container = container(&csv);
    let env = env_of(container, "");
    let vars = || env.clone().into_iter();
    let controller = ControllerConfig::from_vars(vars()).expect("controller config");
    assert!(
        controller.watch_namespaces.is_empty(),
        "AllNamespaces: every namespace"
    );
    assert_eq!(controller.leader_election_namespace, "operators");
    assert_eq!(controller.identity, "locust-k8s-operator-7d9f-abcde");
    assert_eq!(controller.health_addr.to_string(), "0.0.0.0:8081");
    let certs = CertsConfig::from_vars(vars()).expect("certs config");
    assert_eq!(
        certs.mode,
        WebhookMode::Files,
        "OLM provides the certificates"
    );
    assert_eq!(
        certs.cert_file(),
        Path::new("/tmp/k8s-webhook-server/serving-certs/tls.crt"),
        "where OLM mounts its serving certificate"
    );
    assert_eq!(
        certs.key_file(),
        Path::new("/tmp/k8s-webhook-server/serving-certs/tls.key")
    );
    OperatorConfig::from_vars(vars()).expect("builder config");
    // OLM's target namespaces (comma-separated) are what WATCH_NAMESPACES expects.
    let scoped = ControllerConfig::from_vars(env_of(container, "team-a,team-b")).expect("scoped");
    assert_eq!(scoped.watch_namespaces, ["team-a", "team-b"]);

    let ports: Vec<&Value> = container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .collect();
    assert!(
        ports
            .iter()
            .any(|p| p["name"] == "health" && p["containerPort"] == 8081)
    );
    assert!(ports.iter().any(|p| p["containerPort"] == certs.port));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
}

#[test]
fn the_deployment_is_locked_down() {
    let csv = committed_csv();
    let pod = &csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(
        pod["securityContext"]["runAsUser"].is_null(),
        "no hard-coded UID"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert!(
        c["securityContext"]["runAsUser"].is_null(),
        "no hard-coded UID"
    );
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
}

#[test]
fn annotations_and_dockerfile_labels_agree() {
    let root = root();
    let annotations =
        yaml_file(&root.join("bundle/metadata/annotations.yaml"))["annotations"].clone();
    let prefix = "operators.operatorframework.io.bundle";
    assert_eq!(annotations[format!("{prefix}.channels.v1")], "stable,alpha");
    assert_eq!(
        annotations[format!("{prefix}.channel.default.v1")],
        "stable"
    );
    assert_eq!(
        annotations[format!("{prefix}.package.v1")],
        "locust-k8s-operator"
    );
    assert_eq!(annotations[format!("{prefix}.mediatype.v1")], "registry+v1");
    let dockerfile = std::fs::read_to_string(root.join("bundle.Dockerfile")).expect("Dockerfile");
    let labels: serde_json::Map<String, Value> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("LABEL "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    assert_eq!(Value::Object(labels), annotations);
    assert!(dockerfile.contains("COPY bundle/manifests /manifests/"));
    assert!(dockerfile.contains("COPY bundle/metadata /metadata/"));
}

#[test]
fn the_crd_in_the_bundle_is_the_committed_crd() {
    let root = root();
    let committed =
        std::fs::read_to_string(root.join("crd/locusttests.locust.io.yaml")).expect("crd");
    let bundled = std::fs::read_to_string(root.join("bundle/manifests/locust.io_locusttests.yaml"))
        .expect("bundled");
    assert!(
        bundled.ends_with(&committed),
        "the bundle carries crd/ unchanged"
    );
}
