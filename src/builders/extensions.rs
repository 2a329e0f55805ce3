//! The user's pod extensions (`spec.pod`, `spec.<role>.pod`), merged into the pod spec the
//! operator built.
//!
//! Merging only adds: the Locust container stays first and unchanged, init containers and
//! extra containers come after the operator's own (shared ones first, then the role's),
//! and a user volume that only a user container mounts is added to the pod. The service
//! account, priority class, topology spread constraints and host aliases are fields the
//! operator does not set itself.

use k8s_openapi::api::core::v1::PodSpec;

use super::{BuildError, Ctx, Role};
use crate::api::v2::PodExtensions;

/// `spec.pod` and `spec.<role>.pod` with their field paths, in merge order.
fn sources<'a>(ctx: &Ctx<'a>, role: Role) -> [(String, Option<&'a PodExtensions>); 2] {
    let own = match role {
        Role::Master => ctx.master().pod.as_ref(),
        Role::Worker => ctx.worker().pod.as_ref(),
    };
    [
        ("spec.pod".to_string(), ctx.spec.pod.as_ref()),
        (format!("spec.{}.pod", role.component()), own),
    ]
}

/// Adds `role`'s extensions to `pod`, the operator's pod spec.
pub(crate) fn merge_into(ctx: &Ctx<'_>, role: Role, pod: &mut PodSpec) -> Result<(), BuildError> {
    let [(_, shared), (_, own)] = sources(ctx, role);
    let user_volumes = ctx.spec.volumes.as_deref().unwrap_or_default();
    for (field, ext) in sources(ctx, role) {
        let Some(ext) = ext else { continue };
        for (list, containers) in [
            ("initContainers", &ext.init_containers),
            ("extraContainers", &ext.extra_containers),
        ] {
            for (i, container) in containers.iter().flatten().enumerate() {
                for (j, mount) in container.volume_mounts.iter().flatten().enumerate() {
                    let volumes = pod.volumes.get_or_insert_with(Vec::new);
                    if volumes.iter().any(|v| v.name == mount.name) {
                        continue;
                    }
                    let volume = user_volumes
                        .iter()
                        .find(|v| v.name == mount.name)
                        .ok_or_else(|| {
                            BuildError::invalid(
                                format!("{field}.{list}[{i}].volumeMounts[{j}].name"),
                                format!(
                                    "no volume named {:?} in spec.volumes; add it there or fix \
                                     the name",
                                    mount.name
                                ),
                            )
                        })?;
                    volumes.push(volume.clone());
                }
            }
        }
    }
    let ext = PodExtensions::merged(shared, own);
    if let Some(init) = ext.init_containers {
        pod.init_containers
            .get_or_insert_with(Vec::new)
            .extend(init);
    }
    pod.containers
        .extend(ext.extra_containers.into_iter().flatten());
    pod.service_account_name = ext.service_account_name;
    pod.priority_class_name = ext.priority_class_name;
    pod.topology_spread_constraints = ext.topology_spread_constraints;
    pod.host_aliases = ext.host_aliases;
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        Container, EmptyDirVolumeSource, HostAlias, TopologySpreadConstraint, Volume, VolumeMount,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    use super::*;
    use crate::api::v2::{LocustTest, MountTarget, TargetedVolumeMount};
    use crate::builders::test_support::build;
    use crate::builders::test_support::{minimal, names, pod};
    use crate::config::OperatorConfig;

    fn container(name: &str, restart: Option<&str>, mounts: &[&str]) -> Container {
        Container {
            name: name.into(),
            image: Some("busybox:1.37".into()),
            restart_policy: restart.map(str::to_string),
            volume_mounts: (!mounts.is_empty()).then(|| {
                mounts
                    .iter()
                    .map(|m| VolumeMount {
                        name: (*m).into(),
                        mount_path: format!("/{m}"),
                        ..VolumeMount::default()
                    })
                    .collect()
            }),
            ..Container::default()
        }
    }

    fn empty_dir(name: &str) -> Volume {
        Volume {
            name: name.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }
    }

    fn spread(key: &str) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            max_skew: 1,
            topology_key: key.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(LabelSelector {
                match_labels: Some([("performance-test-name".into(), "demo".into())].into()),
                match_expressions: None,
            }),
            ..TopologySpreadConstraint::default()
        }
    }

    /// Shared and per-role extensions on top of a test with its own volumes and mounts.
    fn extended() -> LocustTest {
        let mut t = minimal();
        t.spec.volumes = Some(vec![empty_dir("results"), empty_dir("cache")]);
        t.spec.volume_mounts = Some(vec![TargetedVolumeMount {
            name: "results".into(),
            mount_path: "/results".into(),
            target: Some(MountTarget::Master),
            ..TargetedVolumeMount::default()
        }]);
        t.spec.pod = Some(PodExtensions {
            service_account_name: Some("load-tests".into()),
            priority_class_name: Some("batch-low".into()),
            topology_spread_constraints: Some(vec![spread("topology.kubernetes.io/zone")]),
            host_aliases: Some(vec![HostAlias {
                ip: "10.1.2.3".into(),
                hostnames: Some(vec!["shop.internal".into()]),
            }]),
            init_containers: Some(vec![container("wait-for-target", None, &[])]),
            extra_containers: Some(vec![container("log-shipper", None, &["results"])]),
        });
        t.spec.worker.pod = Some(PodExtensions {
            service_account_name: Some("load-workers".into()),
            topology_spread_constraints: Some(vec![spread("kubernetes.io/hostname")]),
            init_containers: Some(vec![container("auth-proxy", Some("Always"), &["cache"])]),
            ..PodExtensions::default()
        });
        t
    }

    #[test]
    fn shared_and_role_extensions_are_merged_per_role() {
        let children = build(&extended(), &OperatorConfig::default()).expect("builds");
        let master = pod(&children, Role::Master);
        let worker = pod(&children, Role::Worker);

        // Names: the worker's own win, the master inherits spec.pod's.
        assert_eq!(master.service_account_name.as_deref(), Some("load-tests"));
        assert_eq!(worker.service_account_name.as_deref(), Some("load-workers"));
        for p in [master, worker] {
            assert_eq!(p.priority_class_name.as_deref(), Some("batch-low"));
            assert_eq!(p.host_aliases.as_ref().map(Vec::len), Some(1));
        }
        // Lists: spec.pod's first, then the role's.
        let keys = |p: &PodSpec| -> Vec<String> {
            p.topology_spread_constraints
                .iter()
                .flatten()
                .map(|c| c.topology_key.clone())
                .collect()
        };
        assert_eq!(keys(master), ["topology.kubernetes.io/zone"]);
        assert_eq!(
            keys(worker),
            ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        );
        assert_eq!(names(master.init_containers.as_ref()), ["wait-for-target"]);
        assert_eq!(
            names(worker.init_containers.as_ref()),
            ["wait-for-target", "auth-proxy"]
        );
        assert_eq!(
            worker.init_containers.as_ref().expect("init")[1]
                .restart_policy
                .as_deref(),
            Some("Always"),
            "a native sidecar keeps its restartPolicy"
        );
        // The Locust container stays first, the extra containers follow.
        assert_eq!(
            names(Some(&master.containers)),
            ["locust-master", "log-shipper"]
        );
        assert_eq!(
            names(Some(&worker.containers)),
            ["locust-worker", "log-shipper"]
        );
    }

    #[test]
    fn volumes_only_user_containers_mount_are_added_once() {
        let children = build(&extended(), &OperatorConfig::default()).expect("builds");
        let volumes = |role| -> Vec<String> {
            pod(&children, role)
                .volumes
                .iter()
                .flatten()
                .map(|v| v.name.clone())
                .collect()
        };
        // The master mounts "results" itself; the log shipper shares it (no duplicate).
        assert_eq!(volumes(Role::Master), ["lotest-src", "results"]);
        // The worker's Locust container mounts nothing of spec.volumes: the log shipper
        // brings "results", the sidecar "cache".
        assert_eq!(volumes(Role::Worker), ["lotest-src", "results", "cache"]);
    }

    #[test]
    fn the_operators_fields_are_kept() {
        let plain = build(&minimal(), &OperatorConfig::default()).expect("builds");
        let mut t = extended();
        // The same test as `minimal` except for the extensions.
        t.spec.volumes = None;
        t.spec.volume_mounts = None;
        for ext in [t.spec.pod.as_mut(), t.spec.worker.pod.as_mut()]
            .into_iter()
            .flatten()
        {
            for c in ext
                .init_containers
                .iter_mut()
                .chain(ext.extra_containers.iter_mut())
                .flatten()
            {
                c.volume_mounts = None;
            }
        }
        let extended = build(&t, &OperatorConfig::default()).expect("builds");
        for role in [Role::Master, Role::Worker] {
            let (before, after) = (pod(&plain, role), pod(&extended, role));
            assert_eq!(after.containers[0], before.containers[0], "{role:?}");
            let without_extensions = PodSpec {
                containers: vec![after.containers[0].clone()],
                init_containers: None,
                service_account_name: None,
                priority_class_name: None,
                topology_spread_constraints: None,
                host_aliases: None,
                ..after.clone()
            };
            assert_eq!(&without_extensions, before, "{role:?}");
            let meta = |c: &crate::builders::Children| {
                c.job(role).spec.clone().map(|s| s.template.metadata)
            };
            assert_eq!(
                meta(&extended),
                meta(&plain),
                "{role:?}: labels and annotations"
            );
        }
    }

    #[test]
    fn without_extensions_nothing_is_set() {
        let children = build(&minimal(), &OperatorConfig::default()).expect("builds");
        for role in [Role::Master, Role::Worker] {
            let p = pod(&children, role);
            assert_eq!(p.containers.len(), 1);
            assert!(p.init_containers.is_none() && p.service_account_name.is_none());
            assert!(p.priority_class_name.is_none() && p.host_aliases.is_none());
            assert!(p.topology_spread_constraints.is_none());
        }
    }

    #[test]
    fn a_mount_of_an_undefined_volume_names_the_pod_block() {
        let mut t = minimal();
        t.spec.master.pod = Some(PodExtensions {
            extra_containers: Some(vec![container("shipper", None, &["nowhere"])]),
            ..PodExtensions::default()
        });
        let err = build(&t, &OperatorConfig::default()).expect_err("undefined volume");
        assert!(
            err.to_string().starts_with(
                "spec.master.pod.extraContainers[0].volumeMounts[0].name: no volume named \"nowhere\""
            ),
            "{err}"
        );
    }
}
