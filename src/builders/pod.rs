//! Pod template and Locust container of each role.
//!
//! Both roles share the image, pull settings, environment, test files, secret mounts,
//! scheduling and security contexts; they differ in invocation, resources, labels,
//! annotations, user volumes (by mount target) and ports (only the master listens). The
//! operator's init containers (git, pip: `test_files`) come first; the user's pod
//! extensions are merged in last (`extensions`).

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, PodSecurityContext, PodSpec, PodTemplateSpec,
    SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    BuildError, Ctx, MASTER_PORT, MASTER_PORT_2, Role, WEB_UI_PORT, command, env, extensions,
    labels, resources, test_files, volumes, web_ui,
};

/// Names of the master Service ports and of the master container ports.
pub(crate) const MASTER_PORTS: [(&str, i32); 3] = [
    ("master-p1", MASTER_PORT),
    ("master-p2", MASTER_PORT_2),
    ("web-ui", WEB_UI_PORT),
];

/// The pod security context: the operator's defaults, which pass the `restricted` Pod
/// Security Standard with the official image (`runAsNonRoot`, `runAsUser` from
/// `LOCUST_RUN_AS_USER`, default 1000, and `seccompProfile: RuntimeDefault`), with the CR's
/// `security.podSecurityContext` merged over them field by field.
fn pod_security_context(ctx: &Ctx<'_>) -> PodSecurityContext {
    let defaults = PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: ctx.config.run_as_user,
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    };
    let mine = ctx.spec.security.as_ref();
    merged(defaults, mine.and_then(|s| s.pod_security_context.as_ref()))
}

/// The container security context: no privilege escalation and no capabilities, with the
/// CR's `security.containerSecurityContext` merged over it field by field.
pub(super) fn container_security_context(ctx: &Ctx<'_>) -> SecurityContext {
    let defaults = SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        ..SecurityContext::default()
    };
    let mine = ctx.spec.security.as_ref();
    merged(
        defaults,
        mine.and_then(|s| s.container_security_context.as_ref()),
    )
}

/// `mine` merged over `defaults`: every field `mine` sets wins, nested objects (such as
/// `capabilities` or `seccompProfile`) are merged the same way, lists are replaced.
fn merged<T: Serialize + DeserializeOwned + Clone>(defaults: T, mine: Option<&T>) -> T {
    let Some(mine) = mine else {
        return defaults;
    };
    let (Ok(mut base), Ok(over)) = (serde_json::to_value(&defaults), serde_json::to_value(mine))
    else {
        return mine.clone();
    };
    merge_json(&mut base, over);
    serde_json::from_value(base).unwrap_or_else(|_| mine.clone())
}

fn merge_json(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if !v.is_null() => merge_json(slot, v),
                    None if !v.is_null() => {
                        b.insert(k, v);
                    }
                    _ => {}
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// `runtimeClassName`: unset → the operator's default, `""` → none, a name → that one.
fn runtime_class_name(ctx: &Ctx<'_>) -> Option<String> {
    let from_cr = ctx
        .spec
        .scheduling
        .as_ref()
        .and_then(|s| s.runtime_class_name.as_ref());
    match from_cr {
        None => ctx.config.default_runtime_class_name.clone(),
        Some(name) if name.is_empty() => None,
        Some(name) => Some(name.clone()),
    }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// The Locust container of `role`.
fn container(ctx: &Ctx<'_>, role: Role) -> Result<Container, BuildError> {
    let invocation = match role {
        Role::Master => command::master(ctx)?,
        Role::Worker => command::worker(ctx)?,
    };
    let (_, mounts) = volumes::volumes_and_mounts(ctx, role)?;
    let ports = match role {
        Role::Master => Some(
            MASTER_PORTS
                .iter()
                .map(|(name, port)| ContainerPort {
                    name: Some((*name).to_string()),
                    container_port: *port,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        Role::Worker => None,
    };
    Ok(Container {
        name: role.container_name().to_string(),
        image: Some(ctx.spec.image.clone()),
        image_pull_policy: ctx.spec.image_pull_policy.map(|p| p.as_str().to_string()),
        command: invocation.command,
        args: Some(invocation.args),
        env: non_empty(env::env(ctx, role)?),
        env_from: non_empty(env::env_from(ctx)),
        ports,
        resources: resources::resources(ctx, role),
        volume_mounts: non_empty(mounts),
        security_context: Some(container_security_context(ctx)),
        ..Container::default()
    })
}

/// The pod template of `role`'s Job.
pub(crate) fn template(ctx: &Ctx<'_>, role: Role) -> Result<PodTemplateSpec, BuildError> {
    let scheduling = ctx.spec.scheduling.as_ref();
    let (pod_volumes, _) = volumes::volumes_and_mounts(ctx, role)?;
    let mut spec = PodSpec {
        containers: vec![container(ctx, role)?],
        init_containers: non_empty(test_files::init_containers(ctx, role)),
        restart_policy: Some("Never".into()),
        image_pull_secrets: ctx.spec.image_pull_secrets.clone().and_then(non_empty),
        volumes: non_empty(pod_volumes),
        affinity: scheduling
            .and_then(|s| s.affinity.clone())
            .filter(|_| ctx.config.enable_affinity_cr_injection),
        tolerations: scheduling
            .and_then(|s| s.tolerations.clone())
            .filter(|_| ctx.config.enable_taint_tolerations_cr_injection),
        node_selector: scheduling
            .and_then(|s| s.node_selector.clone())
            .filter(|n| !n.is_empty()),
        runtime_class_name: runtime_class_name(ctx),
        security_context: Some(pod_security_context(ctx)),
        ..PodSpec::default()
    };
    let mut annotations = labels::pod_annotations(ctx, role);
    web_ui::add_auth(ctx, role, &mut spec, &mut annotations);
    extensions::merge_into(ctx, role, &mut spec)?;
    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels::pod_labels(ctx, role)),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::{SchedulingSpec, SecuritySpec};
    use crate::builders::test_support::{minimal, with_ctx_config};
    use crate::config::OperatorConfig;
    use k8s_openapi::api::core::v1::{Affinity, PodAffinity, Toleration};

    fn pod(t: &crate::api::v2::LocustTest, config: &OperatorConfig, role: Role) -> PodSpec {
        with_ctx_config(t, config, |c| template(c, role))
            .expect("valid")
            .spec
            .expect("spec")
    }

    fn scheduling(runtime: Option<&str>) -> SchedulingSpec {
        SchedulingSpec {
            affinity: Some(Affinity {
                pod_affinity: Some(PodAffinity::default()),
                ..Default::default()
            }),
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                ..Default::default()
            }]),
            node_selector: Some([("disk".to_string(), "ssd".to_string())].into()),
            runtime_class_name: runtime.map(str::to_string),
        }
    }

    #[test]
    fn runtime_class_three_states() {
        let config = OperatorConfig {
            default_runtime_class_name: Some("gvisor".into()),
            ..OperatorConfig::default()
        };
        let mut t = minimal();
        for (cr, expected) in [
            (None, Some("gvisor")),
            (Some(""), None),
            (Some("kata"), Some("kata")),
        ] {
            t.spec.scheduling = Some(scheduling(cr));
            for role in [Role::Master, Role::Worker] {
                assert_eq!(
                    pod(&t, &config, role).runtime_class_name.as_deref(),
                    expected,
                    "{cr:?}"
                );
            }
        }
        t.spec.scheduling = None;
        assert_eq!(
            pod(&t, &config, Role::Worker).runtime_class_name.as_deref(),
            Some("gvisor")
        );
        assert_eq!(
            pod(&t, &OperatorConfig::default(), Role::Worker).runtime_class_name,
            None
        );
    }

    #[test]
    fn injection_switches() {
        let mut t = minimal();
        t.spec.scheduling = Some(scheduling(None));
        let on = OperatorConfig::default();
        for role in [Role::Master, Role::Worker] {
            let p = pod(&t, &on, role);
            assert!(p.affinity.is_some() && p.tolerations.is_some());
            assert_eq!(
                p.node_selector.as_ref().map(|n| &n["disk"][..]),
                Some("ssd")
            );
        }
        let off = OperatorConfig {
            enable_affinity_cr_injection: false,
            enable_taint_tolerations_cr_injection: false,
            ..OperatorConfig::default()
        };
        for role in [Role::Master, Role::Worker] {
            let p = pod(&t, &off, role);
            assert!(p.affinity.is_none() && p.tolerations.is_none());
            // nodeSelector is not behind a switch.
            assert!(p.node_selector.is_some());
        }
        let only_affinity = OperatorConfig {
            enable_taint_tolerations_cr_injection: false,
            ..OperatorConfig::default()
        };
        let p = pod(&t, &only_affinity, Role::Master);
        assert!(p.affinity.is_some() && p.tolerations.is_none());
    }

    #[test]
    fn security_defaults_pass_restricted_and_merge_with_the_crs() {
        let mut t = minimal();
        let p = pod(&t, &OperatorConfig::default(), Role::Worker);
        let psc = p.security_context.expect("default");
        assert_eq!(
            psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault")
        );
        assert_eq!(
            (psc.run_as_non_root, psc.run_as_user),
            (Some(true), Some(1000))
        );
        let csc = p.containers[0].security_context.clone().expect("default");
        assert_eq!(csc.allow_privilege_escalation, Some(false));
        assert_eq!(
            csc.capabilities.and_then(|c| c.drop),
            Some(vec!["ALL".to_string()])
        );
        assert_eq!(csc.run_as_user, None);

        // The platform chooses the user (OpenShift): LOCUST_RUN_AS_USER="".
        let platform = OperatorConfig {
            run_as_user: None,
            ..OperatorConfig::default()
        };
        let psc = pod(&t, &platform, Role::Master)
            .security_context
            .expect("default");
        assert_eq!((psc.run_as_non_root, psc.run_as_user), (Some(true), None));

        let mine_pod = PodSecurityContext {
            run_as_user: Some(4242),
            fs_group: Some(4242),
            ..Default::default()
        };
        let mine_container = SecurityContext {
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_BIND_SERVICE".into()]),
                drop: None,
            }),
            ..Default::default()
        };
        t.spec.security = Some(SecuritySpec {
            pod_security_context: Some(mine_pod),
            container_security_context: Some(mine_container),
        });
        for role in [Role::Master, Role::Worker] {
            let p = pod(&t, &OperatorConfig::default(), role);
            let psc = p.security_context.expect("merged");
            assert_eq!(
                (psc.run_as_user, psc.fs_group),
                (Some(4242), Some(4242)),
                "mine win"
            );
            assert_eq!(psc.run_as_non_root, Some(true), "defaults stay");
            assert!(psc.seccomp_profile.is_some(), "defaults stay");
            let csc = p.containers[0].security_context.clone().expect("merged");
            assert_eq!(csc.read_only_root_filesystem, Some(true));
            assert_eq!(csc.allow_privilege_escalation, Some(false));
            let caps = csc.capabilities.expect("capabilities");
            assert_eq!(
                caps.drop,
                Some(vec!["ALL".to_string()]),
                "nested defaults stay"
            );
            assert_eq!(caps.add, Some(vec!["NET_BIND_SERVICE".to_string()]));
        }

        // Opting out explicitly: runAsNonRoot false, the image's own user.
        t.spec.security = Some(SecuritySpec {
            pod_security_context: Some(PodSecurityContext {
                run_as_non_root: Some(false),
                run_as_user: Some(0),
                ..Default::default()
            }),
            container_security_context: None,
        });
        let psc = pod(&t, &OperatorConfig::default(), Role::Worker)
            .security_context
            .expect("merged");
        assert_eq!(
            (psc.run_as_non_root, psc.run_as_user),
            (Some(false), Some(0))
        );
    }

    #[test]
    fn ports_only_on_the_master() {
        let t = minimal();
        let m = pod(&t, &OperatorConfig::default(), Role::Master);
        let ports: Vec<_> = m.containers[0]
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
            .collect();
        assert_eq!(
            ports,
            [
                ("master-p1".to_string(), 5557),
                ("master-p2".to_string(), 5558),
                ("web-ui".to_string(), 8089)
            ]
        );
        let w = pod(&t, &OperatorConfig::default(), Role::Worker);
        assert_eq!(w.containers[0].ports, None);
        assert_eq!(m.containers[0].name, "locust-master");
        assert_eq!(w.containers[0].name, "locust-worker");
        assert_eq!(m.restart_policy.as_deref(), Some("Never"));
        assert_eq!(w.restart_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn image_settings_on_both() {
        let mut t = minimal();
        t.spec.image_pull_policy = Some(crate::api::v2::ImagePullPolicy::Always);
        t.spec.image_pull_secrets = Some(vec![k8s_openapi::api::core::v1::LocalObjectReference {
            name: "reg".into(),
        }]);
        for role in [Role::Master, Role::Worker] {
            let p = pod(&t, &OperatorConfig::default(), role);
            assert_eq!(
                p.containers[0].image.as_deref(),
                Some("locustio/locust:2.43.1")
            );
            assert_eq!(p.containers[0].image_pull_policy.as_deref(), Some("Always"));
            assert_eq!(
                p.image_pull_secrets.as_ref().map(|s| s[0].name.as_str()),
                Some("reg")
            );
        }
    }
}
