//! Tests of the whole build: snapshots of the examples, where every field of the full
//! example lands, owner references and tricky names.

use k8s_openapi::api::core::v1::EnvVar;

use super::test_support::{build, container, minimal, names, pod};
use super::*;
use crate::api::v2::LocustTest;
use crate::config::OperatorConfig;

fn example(text: &str) -> LocustTest {
    let mut t: LocustTest = match crate::yaml::from_yaml(text) {
        Ok(t) => t,
        Err(e) => panic!("example does not parse: {e}"),
    };
    t.metadata.namespace.get_or_insert_with(|| "default".into());
    t
}

fn full() -> LocustTest {
    example(include_str!("../../examples/full-v2.yaml"))
}

fn build_ok(t: &LocustTest) -> Children {
    build(t, &OperatorConfig::default()).expect("valid test")
}

fn env_value<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|v| v.name == name)
        .and_then(|v| v.value.as_deref())
}

#[test]
fn snapshot_minimal_v2() {
    let children = build_ok(&example(include_str!("../../examples/minimal-v2.yaml")));
    insta::assert_yaml_snapshot!("minimal_v2", children.into_objects());
}

#[test]
fn snapshot_full_v2() {
    let children = build_ok(&full());
    insta::assert_yaml_snapshot!("full_v2", children.into_objects());
}

#[test]
fn snapshot_pod_extensions() {
    let children = build_ok(&example(include_str!("../../examples/pod-extensions.yaml")));
    insta::assert_yaml_snapshot!("pod_extensions", children.into_objects());
}

#[test]
fn snapshot_test_files_git() {
    let children = build_ok(&example(include_str!("../../examples/test-files-git.yaml")));
    insta::assert_yaml_snapshot!("test_files_git", children.into_objects());
}

#[test]
fn snapshot_web_ui() {
    let children = build_ok(&example(include_str!("../../examples/web-ui.yaml")));
    insta::assert_yaml_snapshot!("web_ui", children.into_objects());
}

#[test]
fn objects_in_creation_order() {
    let objects = build_ok(&minimal()).into_objects();
    let kinds: Vec<_> = objects
        .iter()
        .map(|o| (o.kind(), o.metadata().name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Service", "demo-master".to_string()),
            ("Job", "demo-master".to_string()),
            ("Job", "demo-worker".to_string())
        ]
    );
    // Serialised objects carry apiVersion and kind.
    let json = serde_json::to_value(&objects).expect("serialisable");
    assert_eq!(json[0]["apiVersion"], "v1");
    assert_eq!(json[0]["kind"], "Service");
    assert_eq!(json[1]["apiVersion"], "batch/v1");
    assert_eq!(json[2]["kind"], "Job");
}

/// Every field of the full example, on the right pods.
#[test]
fn full_example_checklist() {
    let c = build_ok(&full());
    let (m, w) = (container(&c, Role::Master), container(&c, Role::Worker));
    let (mp, wp) = (pod(&c, Role::Master), pod(&c, Role::Worker));
    let meta = |role| {
        c.job(role)
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.clone())
            .expect("template metadata")
    };
    let (mm, wm) = (meta(Role::Master), meta(Role::Worker));

    // image, imagePullPolicy, imagePullSecrets: both.
    for (ctr, p) in [(m, mp), (w, wp)] {
        assert_eq!(ctr.image.as_deref(), Some("locustio/locust:2.43.1"));
        assert_eq!(ctr.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(
            p.image_pull_secrets.as_ref().map(|s| s[0].name.as_str()),
            Some("my-registry-secret")
        );
    }

    // master: command, resources, labels, annotations, autostart/autoquit, extraArgs last.
    assert_eq!(m.command, Some(vec!["locust".to_string()]));
    let margs = m.args.clone().unwrap_or_default();
    assert_eq!(
        margs,
        [
            "-f",
            "/lotest/src/locustfile.py",
            "--master",
            "--master-port=5557",
            "--expect-workers=10",
            "--autostart",
            "--autoquit",
            "60",
            "--expect-workers-max-wait=600",
            "--otel",
            "--only-summary",
            "--enable-rebalancing",
        ]
    );
    let q =
        |r: &Option<k8s_openapi::api::core::v1::ResourceRequirements>, kind: &str, key: &str| {
            r.as_ref()
                .and_then(|r| {
                    if kind == "requests" {
                        r.requests.clone()
                    } else {
                        r.limits.clone()
                    }
                })
                .and_then(|m| m.get(key).map(|q| q.0.clone()))
        };
    assert_eq!(q(&m.resources, "requests", "cpu").as_deref(), Some("1000m"));
    assert_eq!(q(&m.resources, "limits", "memory").as_deref(), Some("4Gi"));
    let ml = mm.labels.clone().unwrap_or_default();
    assert_eq!(ml["team"], "platform");
    assert_eq!(ml["role"], "coordinator");
    assert_eq!(
        mm.annotations
            .as_ref()
            .map(|a| a["prometheus.io/scrape"].as_str()),
        Some("true")
    );

    // worker: command, replicas, resources, labels, no annotations, empty extraArgs.
    assert_eq!(w.command, Some(vec!["locust".to_string()]));
    assert_eq!(
        w.args.clone().unwrap_or_default(),
        [
            "-f",
            "/lotest/src/locustfile.py",
            "--worker",
            "--master-host=example-test-master",
            "--master-port=5557",
            "--otel",
        ]
    );
    let ws = c.worker_job.spec.as_ref().expect("spec");
    assert_eq!((ws.parallelism, ws.completions), (Some(10), Some(10)));
    assert_eq!(
        q(&w.resources, "requests", "memory").as_deref(),
        Some("256Mi")
    );
    assert_eq!(q(&w.resources, "limits", "cpu").as_deref(), Some("500m"));
    let wl = wm.labels.clone().unwrap_or_default();
    assert_eq!(wl["role"], "load-generator");
    // The example's empty worker annotations leave only the operator's own.
    let wa = wm.annotations.clone().unwrap_or_default();
    assert_eq!(wa.keys().collect::<Vec<_>>(), ["locust.io/test-name"]);
    assert!(!ml.contains_key("role") || ml["role"] != wl["role"]);

    // testFiles: both, PYTHONPATH for the library.
    for (ctr, p) in [(m, mp), (w, wp)] {
        let vols = p.volumes.clone().unwrap_or_default();
        let cm = |n: &str| {
            vols.iter()
                .find(|v| v.name == n)
                .and_then(|v| v.config_map.as_ref())
                .map(|c| c.name.clone())
        };
        assert_eq!(cm(naming::SRC_VOLUME).as_deref(), Some("my-locust-tests"));
        assert_eq!(cm(naming::LIB_VOLUME).as_deref(), Some("my-locust-lib"));
        let mounts = ctr.volume_mounts.clone().unwrap_or_default();
        let at = |n: &str| {
            mounts
                .iter()
                .find(|m| m.name == n)
                .map(|m| m.mount_path.clone())
        };
        assert_eq!(at(naming::SRC_VOLUME).as_deref(), Some("/lotest/src"));
        assert_eq!(at(naming::LIB_VOLUME).as_deref(), Some("/opt/locust/lib"));
        let env = ctr.env.clone().unwrap_or_default();
        assert_eq!(env[0].name, "PYTHONPATH");
        assert_eq!(env_value(&env, "PYTHONPATH"), Some("/opt/locust/lib"));
    }

    // scheduling: both.
    for p in [mp, wp] {
        let affinity = p.affinity.as_ref().and_then(|a| a.node_affinity.as_ref());
        let term = affinity
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|r| r.node_selector_terms[0].clone())
            .and_then(|t| t.match_expressions)
            .map(|e| e[0].key.clone());
        assert_eq!(term.as_deref(), Some("workload-type"));
        assert_eq!(
            p.tolerations.as_ref().and_then(|t| t[0].value.as_deref()),
            Some("locust")
        );
        assert_eq!(
            p.node_selector
                .as_ref()
                .map(|n| n["kubernetes.io/arch"].as_str()),
            Some("amd64")
        );
    }

    // env: both; envFrom ConfigMap (prefix) then Secret (empty prefix dropped),
    // variables after the OTel ones with valueFrom kept; secret mount read-only.
    for (ctr, p) in [(m, mp), (w, wp)] {
        let from = ctr.env_from.clone().unwrap_or_default();
        assert_eq!(
            from[0].config_map_ref.as_ref().map(|c| c.name.as_str()),
            Some("test-config")
        );
        assert_eq!(from[0].prefix.as_deref(), Some("TEST_"));
        assert_eq!(
            from[1].secret_ref.as_ref().map(|s| s.name.as_str()),
            Some("api-credentials")
        );
        assert_eq!(from[1].prefix, None);
        let env = ctr.env.clone().unwrap_or_default();
        let names: Vec<_> = env.iter().map(|v| v.name.as_str()).collect();
        let n = names.len();
        assert_eq!(names[n - 3..], ["CUSTOM_VAR", "API_TOKEN", "CONFIG_VALUE"]);
        assert!(
            env[n - 2]
                .value_from
                .as_ref()
                .is_some_and(|f| f.secret_key_ref.is_some())
        );
        assert!(
            env[n - 1]
                .value_from
                .as_ref()
                .is_some_and(|f| f.config_map_key_ref.is_some())
        );
        let secret_volume = naming::secret_mount_volume(0);
        let vols = p.volumes.clone().unwrap_or_default();
        assert!(vols.iter().any(|v| v.name == secret_volume
            && v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) == Some("tls-certs")));
        let mounts = ctr.volume_mounts.clone().unwrap_or_default();
        assert!(mounts.iter().any(|m| m.name == secret_volume
            && m.mount_path == "/etc/locust/certs"
            && m.read_only == Some(true)));
    }

    // volumes: test-results on both, shared-data on workers only.
    let volumes = |p: &k8s_openapi::api::core::v1::PodSpec| -> Vec<String> {
        p.volumes.iter().flatten().map(|v| v.name.clone()).collect()
    };
    assert!(volumes(mp).contains(&"test-results".to_string()));
    assert!(!volumes(mp).contains(&"shared-data".to_string()));
    assert!(volumes(wp).contains(&"test-results".to_string()));
    assert!(volumes(wp).contains(&"shared-data".to_string()));
    let paths = |ctr: &k8s_openapi::api::core::v1::Container| -> Vec<String> {
        ctr.volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.clone())
            .collect()
    };
    assert!(
        paths(m).contains(&"/results".to_string()) && !paths(m).contains(&"/shared".to_string())
    );
    assert!(
        paths(w).contains(&"/results".to_string()) && paths(w).contains(&"/shared".to_string())
    );

    // observability: OTel env on both; the user's service.name attribute names the service.
    for (ctr, role) in [(m, "master"), (w, "worker")] {
        let env = ctr.env.clone().unwrap_or_default();
        assert_eq!(
            env_value(&env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some("otel-collector.monitoring:4317")
        );
        assert_eq!(env_value(&env, "OTEL_EXPORTER_OTLP_PROTOCOL"), Some("grpc"));
        assert_eq!(env_value(&env, "OTEL_EXPORTER_OTLP_INSECURE"), Some("true"));
        assert_eq!(
            env_value(&env, "OTEL_TRACES_SAMPLER"),
            Some("parentbased_traceidratio")
        );
        assert_eq!(env_value(&env, "OTEL_TRACES_SAMPLER_ARG"), Some("0.1"));
        // The user's `service.name` attribute, passed on (Locust would say `locust`).
        assert_eq!(env_value(&env, "OTEL_SERVICE_NAME"), Some("locust-test"));
        assert_eq!(
            env_value(&env, "OTEL_RESOURCE_ATTRIBUTES").map(str::to_string),
            Some(format!(
                "service.name=locust-test,locust.test.name=example-test,\
                 locust.test.namespace=default,locust.role={role}"
            ))
        );
    }
    // OpenTelemetry needs no sidecar: one container per pod (extraContainers is empty).
    assert_eq!((mp.containers.len(), wp.containers.len()), (1, 1));

    // pod: both roles; worker.pod: the workers, its name winning, its list after.
    assert_eq!(names(mp.init_containers.as_ref()), ["wait-for-target"]);
    assert_eq!(
        names(wp.init_containers.as_ref()),
        ["wait-for-target", "token-proxy"]
    );
    assert_eq!(mp.service_account_name.as_deref(), Some("locust-runner"));
    assert_eq!(wp.service_account_name.as_deref(), Some("locust-workers"));
    for p in [mp, wp] {
        assert_eq!(p.priority_class_name.as_deref(), Some("load-testing"));
        assert_eq!(
            p.host_aliases.as_ref().map(|h| &h[0].ip[..]),
            Some("10.0.0.15")
        );
        assert_eq!(
            p.topology_spread_constraints
                .as_ref()
                .map(|t| &t[0].topology_key[..]),
            Some("kubernetes.io/hostname")
        );
    }
}

#[test]
fn owner_references_only_with_uid() {
    let mut t = minimal();
    for o in build_ok(&t).into_objects() {
        assert_eq!(o.metadata().owner_references, None);
    }
    t.metadata.uid = Some("1234-abcd".into());
    for o in build_ok(&t).into_objects() {
        let refs = o.metadata().owner_references.clone().expect("owner");
        assert_eq!(refs.len(), 1);
        let r = &refs[0];
        assert_eq!(r.api_version, "locust.io/v2");
        assert_eq!(r.kind, "LocustTest");
        assert_eq!(r.name, "demo");
        assert_eq!(r.uid, "1234-abcd");
        assert_eq!(
            (r.controller, r.block_owner_deletion),
            (Some(true), Some(true))
        );
    }
}

#[test]
fn namespace_follows_the_test() {
    let mut t = minimal();
    t.metadata.namespace = Some("perf".into());
    for o in build_ok(&t).into_objects() {
        assert_eq!(o.metadata().namespace.as_deref(), Some("perf"));
    }
    t.metadata.namespace = None;
    for o in build_ok(&t).into_objects() {
        assert_eq!(o.metadata().namespace, None);
    }
}

#[test]
fn missing_name_is_an_error() {
    let mut t = minimal();
    t.metadata.name = None;
    let e = build(&t, &OperatorConfig::default()).expect_err("no name");
    assert!(e.to_string().starts_with("metadata.name:"), "{e}");
}

#[test]
fn tricky_names_give_valid_names_everywhere() {
    let long = "a".repeat(61);
    let dotted_long = format!("{}.x", "b".repeat(70));
    for name in [
        "api.perf-v1.2",
        "1st-run",
        long.as_str(),
        dotted_long.as_str(),
    ] {
        let mut t = minimal();
        t.metadata.name = Some(name.into());
        t.metadata.uid = Some("u".into());
        let c = build_ok(&t);
        let service = c.service.metadata.name.clone().unwrap_or_default();
        assert!(naming::is_dns1035_label(&service), "{name}: {service}");
        for role in [Role::Master, Role::Worker] {
            let job = c.job(role);
            let job_name = job.metadata.name.clone().unwrap_or_default();
            assert!(naming::is_dns1035_label(&job_name), "{name}: {job_name}");
            assert_eq!(job_name, role.job_name(name));
            let template_labels = job
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            for labels in [
                job.metadata.labels.clone().unwrap_or_default(),
                template_labels,
            ] {
                for (k, v) in &labels {
                    assert!(naming::is_label_value(v), "{name}: label {k}={v}");
                }
                assert_eq!(labels[labels::POD_NAME], job_name);
            }
            for v in pod(&c, role).volumes.iter().flatten() {
                assert!(
                    naming::is_dns1035_label(&v.name),
                    "{name}: volume {}",
                    v.name
                );
            }
            // Owner reference keeps the real CR name.
            let owner = job.metadata.owner_references.clone().unwrap_or_default();
            assert_eq!(owner[0].name, name);
        }
        // The Service selects what the master pods carry.
        let selector = c
            .service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let master_labels = c
            .master_job
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        for (k, v) in &selector {
            assert!(naming::is_label_value(v), "{name}: selector {k}={v}");
            assert_eq!(master_labels.get(k), Some(v), "{name}: selector {k}");
        }
        // The workers connect to the Service.
        let args = container(&c, Role::Worker).args.clone().unwrap_or_default();
        assert!(args.contains(&format!("--master-host={service}")), "{name}");
    }
}

#[test]
fn worker_selector_labels_do_not_select_the_master() {
    let c = build_ok(&minimal());
    let selector = c
        .service
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    let worker_labels = c
        .worker_job
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    assert!(
        selector
            .iter()
            .any(|(k, v)| worker_labels.get(k) != Some(v))
    );
}

#[test]
fn command_styles_end_to_end() {
    let mut t = minimal();
    t.spec.master.command = r#"--locustfile /lotest/src/a.py --host "http://a b""#.into();
    t.spec.worker.command = r#"locust -f /lotest/src/a.py --tags 'x y'"#.into();
    let c = build_ok(&t);
    let (m, w) = (container(&c, Role::Master), container(&c, Role::Worker));
    assert_eq!(m.command, None);
    let margs = m.args.clone().unwrap_or_default();
    assert_eq!(
        margs[..5],
        [
            "--locustfile",
            "/lotest/src/a.py",
            "--host",
            "http://a b",
            "--master"
        ]
    );
    assert_eq!(w.command, Some(vec!["locust".to_string()]));
    let wargs = w.args.clone().unwrap_or_default();
    assert_eq!(
        wargs[..5],
        ["-f", "/lotest/src/a.py", "--tags", "x y", "--worker"]
    );
    assert!(!wargs.contains(&"locust".to_string()));

    t.spec.master.command = r#"locust --host "http://a"#.into();
    let e = crate::validation::validate(&t).expect_err("unterminated");
    assert!(
        e.to_string()
            .starts_with("spec.master.command: cannot be split into arguments"),
        "{e}"
    );
}
