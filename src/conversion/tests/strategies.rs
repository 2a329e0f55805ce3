//! proptest generators of arbitrary v1 and v2 LocustTests.
//!
//! The v2 generators reach every field of the v2 spec (Kubernetes types with a
//! representative set of their fields), with extra weight on the shapes the conversion
//! treats specially: v2 specs that are exactly the image of a v1 spec, affinity and
//! tolerations v1 can express (in any order), and the three states of `runtimeClassName`.
//!
//! Every composite generator is boxed ([`Gen`]): unboxed, the value trees of a whole v2
//! spec are large enough to overflow a test thread's stack in debug builds.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction, HostAlias, HostPathVolumeSource,
    KeyToPath, LocalObjectReference, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, ObjectFieldSelector, PersistentVolumeClaimVolumeSource, PodAffinity,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PreferredSchedulingTerm, Probe,
    ResourceClaim, ResourceRequirements, SeccompProfile, SecretKeySelector, SecretVolumeSource,
    SecurityContext, Sysctl, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use proptest::collection::{btree_map, vec};
use proptest::option::of as maybe;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::BoxedStrategy as Gen;

use crate::api::status::{LiveStatus, LocustTestStatus, Phase, TestResult};
use crate::api::{v1, v2};

// ---------------------------------------------------------------------------------------
// Scalars

/// A DNS-label-like name.
fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}"
}

/// Free text, including quotes, backslashes and non-ASCII characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,12}", "\\PC{0,6}"]
}

/// A label or annotation key (never the reserved conversion annotation).
fn key() -> impl Strategy<Value = String> {
    "([a-z]{1,5}\\.io/)?[a-z][a-z0-9]{0,6}"
}

fn string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(key(), text(), 0..3)
}

fn absolute_path() -> impl Strategy<Value = String> {
    "(/[a-z]{1,6}){1,3}"
}

fn quantity() -> impl Strategy<Value = Quantity> {
    "[1-9][0-9]{0,3}(m|Mi|Gi)?".prop_map(Quantity)
}

fn time() -> impl Strategy<Value = Time> {
    (0i64..4_000_000_000).prop_map(|s| Time(Timestamp::from_second(s).expect("in range")))
}

/// A float that survives any round trip (a multiple of 1/4).
fn float() -> impl Strategy<Value = f64> {
    (0u32..4_000_000).prop_map(|n| f64::from(n) / 4.0)
}

// ---------------------------------------------------------------------------------------
// Metadata and status (shared by both versions)

/// Object metadata; annotations may be absent, empty or set.
pub(super) fn metadata() -> Gen<ObjectMeta> {
    (
        name(),
        maybe(name()),
        maybe(string_map()),
        maybe(string_map()),
        maybe("[0-9a-f]{8}"),
        maybe(1i64..100),
        maybe("[0-9]{1,6}"),
        maybe(time()),
    )
        .prop_map(
            |(name, namespace, labels, annotations, uid, generation, resource_version, created)| {
                ObjectMeta {
                    name: Some(name),
                    namespace,
                    labels,
                    annotations,
                    uid,
                    generation,
                    resource_version,
                    creation_timestamp: created,
                    ..ObjectMeta::default()
                }
            },
        )
        .boxed()
}

fn condition() -> Gen<Condition> {
    (
        select(vec![
            "Ready",
            "WorkersConnected",
            "TestCompleted",
            "PodsHealthy",
        ]),
        select(vec!["True", "False", "Unknown"]),
        "[A-Z][a-zA-Z]{0,12}",
        text(),
        time(),
        maybe(1i64..100),
    )
        .prop_map(
            |(type_, status, reason, message, time, observed_generation)| Condition {
                type_: type_.to_owned(),
                status: status.to_owned(),
                reason,
                message,
                last_transition_time: time,
                observed_generation,
            },
        )
        .boxed()
}

fn test_result() -> Gen<TestResult> {
    (
        0i64..1_000_000,
        0i64..1_000,
        float(),
        maybe(float()),
        maybe(float()),
        maybe(float()),
        maybe(float()),
    )
        .prop_map(
            |(total, failed, average, p95, p99, rps, percent)| TestResult {
                total_requests: total,
                failed_requests: failed,
                failure_percentage: percent,
                average_response_time: average,
                p95_response_time: p95,
                p99_response_time: p99,
                requests_per_second: rps,
            },
        )
        .boxed()
}

fn live_status() -> Gen<LiveStatus> {
    (0i64..100_000, float(), float())
        .prop_map(|(users, rps, ratio)| LiveStatus {
            users,
            requests_per_second: rps,
            failure_ratio: ratio,
        })
        .boxed()
}

pub(super) fn status() -> Gen<LocustTestStatus> {
    let phase = select(vec![
        Phase::Pending,
        Phase::Running,
        Phase::Succeeded,
        Phase::Failed,
    ]);
    (
        maybe(phase),
        maybe(0i32..1000),
        maybe(0i32..1000),
        maybe(time()),
        maybe(time()),
        maybe(1i64..100),
        maybe(test_result()),
        vec(condition(), 0..3),
        maybe(live_status()),
        maybe(name()),
    )
        .prop_map(
            |(
                phase,
                expected,
                connected,
                start,
                completion,
                generation,
                result,
                conditions,
                live,
                report_config_map,
            )| {
                LocustTestStatus {
                    phase,
                    expected_workers: expected,
                    connected_workers: connected,
                    start_time: start,
                    completion_time: completion,
                    observed_generation: generation,
                    result,
                    report_config_map,
                    live,
                    conditions,
                }
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------------------
// v1

fn pod_metadata() -> Gen<v1::PodMetadata> {
    (maybe(string_map()), maybe(string_map()))
        .prop_map(|(master, worker)| v1::PodMetadata { master, worker })
        .boxed()
}

fn v1_affinity() -> Gen<v1::LocustAffinity> {
    maybe(btree_map(key(), name(), 0..4))
        .prop_map(|labels| v1::LocustAffinity {
            node_affinity: labels.map(|labels| v1::LocustNodeAffinity {
                required_during_scheduling_ignored_during_execution: labels,
            }),
        })
        .boxed()
}

fn v1_toleration() -> Gen<v1::LocustToleration> {
    let operator = select(vec![
        v1::TolerationOperator::Equal,
        v1::TolerationOperator::Exists,
    ]);
    let effect = select(vec![
        v1::TaintEffect::NoSchedule,
        v1::TaintEffect::PreferNoSchedule,
        v1::TaintEffect::NoExecute,
    ]);
    (text(), operator, maybe(text()), effect)
        .prop_map(|(key, operator, value, effect)| v1::LocustToleration {
            key,
            operator,
            value,
            effect,
        })
        .boxed()
}

fn pull_policy() -> impl Strategy<Value = v2::ImagePullPolicy> {
    select(vec![
        v2::ImagePullPolicy::Always,
        v2::ImagePullPolicy::IfNotPresent,
        v2::ImagePullPolicy::Never,
    ])
}

/// Every field of a v1 spec (replicas over the whole i32 range: the conversion does not
/// validate).
pub(super) fn v1_spec() -> Gen<v1::LocustTestSpec> {
    (
        (text(), text(), any::<i32>(), text()),
        (
            maybe(pull_policy()),
            maybe(vec(name(), 0..3)),
            maybe(name()),
            maybe(name()),
        ),
        (
            maybe(pod_metadata()),
            maybe(pod_metadata()),
            maybe(v1_affinity()),
            maybe(vec(v1_toleration(), 0..3)),
        ),
    )
        .prop_map(
            |(
                (master_command_seed, worker_command_seed, worker_replicas, image),
                (image_pull_policy, image_pull_secrets, config_map, lib_config_map),
                (labels, annotations, affinity, tolerations),
            )| v1::LocustTestSpec {
                master_command_seed,
                worker_command_seed,
                worker_replicas,
                image,
                image_pull_policy,
                image_pull_secrets,
                config_map,
                lib_config_map,
                labels,
                annotations,
                affinity,
                tolerations,
            },
        )
        .boxed()
}

/// A v1 LocustTest as a v1 client writes it (no reserved annotation).
pub(super) fn v1_test() -> Gen<v1::LocustTest> {
    (metadata(), v1_spec(), maybe(status()))
        .prop_map(|(metadata, spec, status)| v1::LocustTest {
            metadata,
            spec,
            status,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Kubernetes types used by v2

fn resources() -> Gen<ResourceRequirements> {
    let amounts = || {
        maybe(btree_map(
            select(vec!["cpu", "memory"]).prop_map(String::from),
            quantity(),
            0..3,
        ))
    };
    let claim = (name(), maybe(name())).prop_map(|(name, request)| ResourceClaim { name, request });
    (amounts(), amounts(), maybe(vec(claim, 0..2)))
        .prop_map(|(limits, requests, claims)| ResourceRequirements {
            limits,
            requests,
            claims,
        })
        .boxed()
}

fn node_requirement() -> Gen<NodeSelectorRequirement> {
    let operator = select(vec![
        "In",
        "In",
        "NotIn",
        "Exists",
        "DoesNotExist",
        "Gt",
        "Lt",
    ]);
    (key(), operator, maybe(vec(name(), 0..3)))
        .prop_map(|(key, operator, values)| NodeSelectorRequirement {
            key,
            operator: operator.to_owned(),
            values,
        })
        .boxed()
}

fn node_term() -> Gen<NodeSelectorTerm> {
    (
        maybe(vec(node_requirement(), 0..3)),
        maybe(vec(node_requirement(), 0..2)),
    )
        .prop_map(|(match_expressions, match_fields)| NodeSelectorTerm {
            match_expressions,
            match_fields,
        })
        .boxed()
}

fn pod_affinity_term() -> Gen<PodAffinityTerm> {
    (key(), maybe(string_map()), maybe(vec(name(), 0..2)))
        .prop_map(|(topology_key, match_labels, namespaces)| PodAffinityTerm {
            topology_key,
            label_selector: Some(LabelSelector {
                match_labels,
                match_expressions: None,
            }),
            namespaces,
            ..PodAffinityTerm::default()
        })
        .boxed()
}

fn pod_affinity() -> Gen<PodAffinity> {
    let weighted = (1i32..100, pod_affinity_term()).prop_map(|(weight, pod_affinity_term)| {
        WeightedPodAffinityTerm {
            weight,
            pod_affinity_term,
        }
    });
    (
        maybe(vec(pod_affinity_term(), 0..2)),
        maybe(vec(weighted, 0..2)),
    )
        .prop_map(|(required, preferred)| PodAffinity {
            required_during_scheduling_ignored_during_execution: required,
            preferred_during_scheduling_ignored_during_execution: preferred,
        })
        .boxed()
}

/// Any affinity: node rules with any terms and operators, preferred rules, pod
/// (anti-)affinity.
fn any_affinity() -> Gen<Affinity> {
    let preferred = (1i32..100, node_term())
        .prop_map(|(weight, preference)| PreferredSchedulingTerm { weight, preference });
    let node = (maybe(vec(node_term(), 0..3)), maybe(vec(preferred, 0..2))).prop_map(
        |(required, preferred)| NodeAffinity {
            required_during_scheduling_ignored_during_execution: required.map(
                |node_selector_terms| NodeSelector {
                    node_selector_terms,
                },
            ),
            preferred_during_scheduling_ignored_during_execution: preferred,
        },
    );
    (maybe(node), maybe(pod_affinity()), maybe(pod_affinity()))
        .prop_map(|(node_affinity, pod_affinity, anti)| Affinity {
            node_affinity,
            pod_affinity,
            pod_anti_affinity: anti.map(|a| PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: a
                    .required_during_scheduling_ignored_during_execution,
                preferred_during_scheduling_ignored_during_execution: a
                    .preferred_during_scheduling_ignored_during_execution,
            }),
        })
        .boxed()
}

/// Distinct labels with a value each, in any order.
fn shuffled_labels() -> impl Strategy<Value = Vec<(String, String)>> {
    btree_map(key(), name(), 1..4)
        .prop_map(|labels| labels.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

/// Affinity v1 can express: one term of single-value `In` expressions on distinct labels,
/// in any order, sometimes with an empty `matchFields`.
fn expressible_affinity() -> Gen<Affinity> {
    (shuffled_labels(), any::<bool>())
        .prop_map(|(labels, empty_fields)| Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(
                            labels
                                .into_iter()
                                .map(|(key, value)| NodeSelectorRequirement {
                                    key,
                                    operator: "In".into(),
                                    values: Some(vec![value]),
                                })
                                .collect(),
                        ),
                        match_fields: empty_fields.then(Vec::new),
                    }],
                }),
                preferred_during_scheduling_ignored_during_execution: None,
            }),
            ..Affinity::default()
        })
        .boxed()
}

fn affinity() -> Gen<Affinity> {
    prop_oneof![expressible_affinity(), any_affinity()].boxed()
}

/// Any toleration, including what v1 cannot express (no effect, tolerationSeconds,
/// unknown operators or effects).
fn toleration() -> Gen<Toleration> {
    (
        maybe(name()),
        maybe(select(vec!["Equal", "Exists", "Gt"])),
        maybe(text()),
        maybe(select(vec![
            "NoSchedule",
            "PreferNoSchedule",
            "NoExecute",
            "Sometimes",
        ])),
        maybe(0i64..3600),
    )
        .prop_map(|(key, operator, value, effect, seconds)| Toleration {
            key,
            operator: operator.map(String::from),
            value,
            effect: effect.map(String::from),
            toleration_seconds: seconds,
        })
        .boxed()
}

/// A toleration v1 can express (an unset key or operator included).
fn expressible_toleration() -> Gen<Toleration> {
    (
        maybe(name()),
        maybe(select(vec!["Equal", "Exists"])),
        maybe(text()),
        select(vec!["NoSchedule", "PreferNoSchedule", "NoExecute"]),
    )
        .prop_map(|(key, operator, value, effect)| Toleration {
            key,
            operator: operator.map(String::from),
            value,
            effect: Some(effect.to_owned()),
            toleration_seconds: None,
        })
        .boxed()
}

fn tolerations() -> Gen<Vec<Toleration>> {
    prop_oneof![vec(expressible_toleration(), 0..3), vec(toleration(), 0..3)].boxed()
}

fn env_var_source() -> Gen<EnvVarSource> {
    prop_oneof![
        (name(), name(), maybe(any::<bool>())).prop_map(|(name, key, optional)| EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name,
                key,
                optional
            }),
            ..EnvVarSource::default()
        }),
        (name(), name(), maybe(any::<bool>())).prop_map(|(name, key, optional)| EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name,
                key,
                optional
            }),
            ..EnvVarSource::default()
        }),
        (maybe(Just("v1".to_owned())), "metadata\\.(name|namespace)").prop_map(
            |(api_version, field_path)| EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version,
                    field_path
                }),
                ..EnvVarSource::default()
            }
        ),
    ]
    .boxed()
}

fn env_var() -> Gen<EnvVar> {
    (
        "[A-Z][A-Z0-9_]{0,8}",
        maybe(text()),
        maybe(env_var_source()),
    )
        .prop_map(|(name, value, value_from)| EnvVar {
            name,
            value,
            value_from,
        })
        .boxed()
}

fn key_to_path() -> Gen<KeyToPath> {
    (name(), name(), maybe(0i32..0o777))
        .prop_map(|(key, path, mode)| KeyToPath { key, path, mode })
        .boxed()
}

/// A volume with one of several sources.
fn volume() -> Gen<Volume> {
    let empty_dir =
        (maybe(Just("Memory".to_owned())), maybe(quantity())).prop_map(|(medium, size_limit)| {
            Volume {
                empty_dir: Some(EmptyDirVolumeSource { medium, size_limit }),
                ..Volume::default()
            }
        });
    let config_map = (
        name(),
        maybe(vec(key_to_path(), 0..2)),
        maybe(0i32..0o777),
        maybe(any::<bool>()),
    )
        .prop_map(|(name, items, default_mode, optional)| Volume {
            config_map: Some(ConfigMapVolumeSource {
                name,
                items,
                default_mode,
                optional,
            }),
            ..Volume::default()
        });
    let secret = (
        maybe(name()),
        maybe(vec(key_to_path(), 0..2)),
        maybe(any::<bool>()),
    )
        .prop_map(|(secret_name, items, optional)| Volume {
            secret: Some(SecretVolumeSource {
                secret_name,
                items,
                optional,
                default_mode: None,
            }),
            ..Volume::default()
        });
    let claim = (name(), maybe(any::<bool>())).prop_map(|(claim_name, read_only)| Volume {
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name,
            read_only,
        }),
        ..Volume::default()
    });
    let host_path =
        (absolute_path(), maybe(Just("Directory".to_owned()))).prop_map(|(path, type_)| Volume {
            host_path: Some(HostPathVolumeSource { path, type_ }),
            ..Volume::default()
        });
    (
        name(),
        prop_oneof![empty_dir, config_map, secret, claim, host_path],
    )
        .prop_map(|(name, volume)| Volume { name, ..volume })
        .boxed()
}

fn seccomp_profile() -> Gen<SeccompProfile> {
    prop_oneof![
        Just(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None
        }),
        name().prop_map(|p| SeccompProfile {
            type_: "Localhost".into(),
            localhost_profile: Some(p)
        }),
    ]
    .boxed()
}

fn pod_security_context() -> Gen<PodSecurityContext> {
    let sysctl = (name(), name()).prop_map(|(name, value)| Sysctl { name, value });
    (
        maybe(0i64..65536),
        maybe(0i64..65536),
        maybe(any::<bool>()),
        maybe(0i64..65536),
        maybe(seccomp_profile()),
        maybe(vec(0i64..65536, 0..3)),
        maybe(vec(sysctl, 0..2)),
    )
        .prop_map(
            |(user, group, non_root, fs_group, seccomp, supplemental, sysctls)| {
                PodSecurityContext {
                    run_as_user: user,
                    run_as_group: group,
                    run_as_non_root: non_root,
                    fs_group,
                    seccomp_profile: seccomp,
                    supplemental_groups: supplemental,
                    sysctls,
                    ..PodSecurityContext::default()
                }
            },
        )
        .boxed()
}

fn container_security_context() -> Gen<SecurityContext> {
    let capabilities = (
        maybe(vec("[A-Z_]{2,8}", 0..2)),
        maybe(vec(Just("ALL".to_owned()), 0..2)),
    )
        .prop_map(|(add, drop)| Capabilities { add, drop });
    (
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(0i64..65536),
        maybe(any::<bool>()),
        maybe(capabilities),
        maybe(seccomp_profile()),
    )
        .prop_map(
            |(escalation, read_only, non_root, user, privileged, capabilities, seccomp)| {
                SecurityContext {
                    allow_privilege_escalation: escalation,
                    read_only_root_filesystem: read_only,
                    run_as_non_root: non_root,
                    run_as_user: user,
                    privileged,
                    capabilities,
                    seccomp_profile: seccomp,
                    ..SecurityContext::default()
                }
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------------------
// v2 spec parts

fn master() -> Gen<v2::MasterSpec> {
    let autoquit = (maybe(any::<bool>()), maybe(0i32..86400))
        .prop_map(|(enabled, timeout)| v2::AutoquitSpec { enabled, timeout });
    (
        text(),
        maybe(resources()),
        maybe(string_map()),
        maybe(string_map()),
        maybe(any::<bool>()),
        maybe(autoquit),
        maybe(0i32..86400),
        maybe(vec(text(), 0..3)),
        maybe(pod_extensions()),
    )
        .prop_map(
            |(
                command,
                resources,
                labels,
                annotations,
                autostart,
                autoquit,
                expect_workers_max_wait,
                extra_args,
                pod,
            )| {
                v2::MasterSpec {
                    command,
                    resources,
                    labels,
                    annotations,
                    autostart,
                    autoquit,
                    expect_workers_max_wait,
                    extra_args,
                    pod,
                }
            },
        )
        .boxed()
}

fn topology_spread_constraint() -> Gen<TopologySpreadConstraint> {
    (
        1i32..5,
        key(),
        select(vec!["DoNotSchedule", "ScheduleAnyway"]),
        maybe(string_map()),
        maybe(1i32..4),
        maybe(vec(key(), 0..2)),
    )
        .prop_map(
            |(max_skew, topology_key, when, match_labels, min_domains, match_label_keys)| {
                TopologySpreadConstraint {
                    max_skew,
                    topology_key,
                    when_unsatisfiable: when.to_owned(),
                    label_selector: match_labels.map(|match_labels| LabelSelector {
                        match_labels: Some(match_labels),
                        match_expressions: None,
                    }),
                    min_domains,
                    match_label_keys,
                    ..TopologySpreadConstraint::default()
                }
            },
        )
        .boxed()
}

fn host_alias() -> Gen<HostAlias> {
    (
        "10\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        maybe(vec(name(), 0..3)),
    )
        .prop_map(|(ip, hostnames)| HostAlias { ip, hostnames })
        .boxed()
}

/// A container with a representative set of fields (ports, env, mounts, a probe,
/// resources, a security context and, sometimes, the native sidecar restart policy).
fn user_container() -> Gen<Container> {
    let port = (maybe(name()), 1i32..65536).prop_map(|(name, container_port)| ContainerPort {
        name,
        container_port,
        ..ContainerPort::default()
    });
    let mount = (name(), absolute_path(), maybe(any::<bool>())).prop_map(
        |(name, mount_path, read_only)| VolumeMount {
            name,
            mount_path,
            read_only,
            ..VolumeMount::default()
        },
    );
    let probe = (vec(text(), 1..3), maybe(1i32..60)).prop_map(|(command, period)| Probe {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        period_seconds: period,
        ..Probe::default()
    });
    (
        (
            name(),
            maybe("[a-z]{1,8}(:[0-9]\\.[0-9])?"),
            maybe(vec(text(), 0..3)),
        ),
        (
            maybe(vec(text(), 0..3)),
            maybe(vec(env_var(), 0..2)),
            maybe(vec(port, 0..2)),
            maybe(vec(mount, 0..2)),
        ),
        (
            maybe(probe),
            maybe(resources()),
            maybe(container_security_context()),
            maybe(Just("Always".to_owned())),
        ),
    )
        .prop_map(
            |(
                (name, image, command),
                (args, env, ports, volume_mounts),
                (readiness_probe, resources, security_context, restart_policy),
            )| Container {
                name,
                image,
                command,
                args,
                env,
                ports,
                volume_mounts,
                readiness_probe,
                resources,
                security_context,
                restart_policy,
                ..Container::default()
            },
        )
        .boxed()
}

fn pod_extensions() -> Gen<v2::PodExtensions> {
    (
        maybe(name()),
        maybe(name()),
        maybe(vec(topology_spread_constraint(), 0..3)),
        maybe(vec(host_alias(), 0..3)),
        maybe(vec(user_container(), 0..3)),
        maybe(vec(user_container(), 0..3)),
    )
        .prop_map(
            |(
                service_account_name,
                priority_class_name,
                topology_spread_constraints,
                host_aliases,
                init_containers,
                extra_containers,
            )| v2::PodExtensions {
                service_account_name,
                priority_class_name,
                topology_spread_constraints,
                host_aliases,
                init_containers,
                extra_containers,
            },
        )
        .boxed()
}

fn thresholds() -> Gen<v2::ThresholdsSpec> {
    let value = || maybe((0u32..1_000_000).prop_map(|v| f64::from(v) / 100.0));
    (
        maybe((0u32..=1000).prop_map(|v| f64::from(v) / 1000.0)),
        value(),
        value(),
        value(),
        value(),
    )
        .prop_map(|(ratio, avg, p95, p99, rps)| v2::ThresholdsSpec {
            max_failure_ratio: ratio,
            max_average_response_time: avg,
            max_p95_response_time: p95,
            max_p99_response_time: p99,
            min_requests_per_second: rps,
        })
        .boxed()
}

fn worker() -> Gen<v2::WorkerSpec> {
    (
        text(),
        any::<i32>(),
        maybe(1i32..64),
        maybe(resources()),
        maybe(string_map()),
        maybe(string_map()),
        maybe(vec(text(), 0..3)),
        maybe(pod_extensions()),
    )
        .prop_map(
            |(command, replicas, processes, resources, labels, annotations, extra_args, pod)| {
                v2::WorkerSpec {
                    command,
                    replicas,
                    processes_per_pod: processes,
                    resources,
                    labels,
                    annotations,
                    extra_args,
                    pod,
                }
            },
        )
        .boxed()
}

fn test_files() -> Gen<v2::TestFilesSpec> {
    let src = prop_oneof![Just(v2::DEFAULT_SRC_MOUNT_PATH.to_owned()), absolute_path()];
    let lib = prop_oneof![Just(v2::DEFAULT_LIB_MOUNT_PATH.to_owned()), absolute_path()];
    (
        (maybe(name()), maybe(name()), maybe(src), maybe(lib)),
        (
            maybe(pvc_test_files()),
            maybe(image_test_files()),
            maybe(git_test_files()),
            maybe(requirements()),
        ),
    )
        .prop_map(
            |((config_map_ref, lib_config_map_ref, src, lib), (pvc, image, git, requirements))| {
                v2::TestFilesSpec {
                    config_map_ref,
                    lib_config_map_ref,
                    src_mount_path: src,
                    lib_mount_path: lib,
                    persistent_volume_claim: pvc,
                    image,
                    git,
                    requirements,
                }
            },
        )
        .boxed()
}

fn pvc_test_files() -> Gen<v2::PvcTestFiles> {
    (name(), maybe(text()), maybe(any::<bool>()))
        .prop_map(|(claim_name, sub_path, read_only)| v2::PvcTestFiles {
            claim_name,
            sub_path,
            read_only,
        })
        .boxed()
}

fn image_test_files() -> Gen<v2::ImageTestFiles> {
    (text(), maybe(pull_policy()))
        .prop_map(|(reference, pull_policy)| v2::ImageTestFiles {
            reference,
            pull_policy,
        })
        .boxed()
}

fn git_test_files() -> Gen<v2::GitTestFiles> {
    (text(), text(), maybe(text()), maybe(name()), maybe(text()))
        .prop_map(
            |(repository, ref_, path, secret_ref, image)| v2::GitTestFiles {
                repository,
                ref_,
                path,
                secret_ref,
                image,
            },
        )
        .boxed()
}

fn requirements() -> Gen<v2::RequirementsSpec> {
    (name(), maybe(text()))
        .prop_map(|(config_map_ref, key)| v2::RequirementsSpec {
            config_map_ref,
            key,
        })
        .boxed()
}

fn scheduling() -> Gen<v2::SchedulingSpec> {
    // runtimeClassName has three states: unset, "" (no runtime class), a name.
    let runtime_class = maybe(prop_oneof![Just(String::new()), name()]);
    (
        maybe(affinity()),
        maybe(tolerations()),
        maybe(string_map()),
        runtime_class,
    )
        .prop_map(
            |(affinity, tolerations, node_selector, runtime_class_name)| v2::SchedulingSpec {
                affinity,
                tolerations,
                node_selector,
                runtime_class_name,
            },
        )
        .boxed()
}

fn env() -> Gen<v2::EnvSpec> {
    let source = || {
        (name(), maybe("[A-Z_]{0,6}")).prop_map(|(name, prefix)| v2::EnvSourceRef { name, prefix })
    };
    let secret_mount = (name(), absolute_path(), maybe(any::<bool>())).prop_map(
        |(name, mount_path, read_only)| v2::SecretMount {
            name,
            mount_path,
            read_only,
        },
    );
    (
        maybe(vec(source(), 0..3)),
        maybe(vec(source(), 0..3)),
        maybe(vec(env_var(), 0..3)),
        maybe(vec(secret_mount, 0..3)),
    )
        .prop_map(
            |(config_map_refs, secret_refs, variables, secret_mounts)| v2::EnvSpec {
                config_map_refs,
                secret_refs,
                variables,
                secret_mounts,
            },
        )
        .boxed()
}

fn volume_mount() -> Gen<v2::TargetedVolumeMount> {
    let propagation =
        select(vec!["None", "HostToContainer", "Bidirectional"]).prop_map(String::from);
    let target = select(vec![
        v2::MountTarget::Master,
        v2::MountTarget::Worker,
        v2::MountTarget::Both,
    ]);
    (
        name(),
        absolute_path(),
        maybe(any::<bool>()),
        maybe(name()),
        maybe("\\$\\([A-Z]{1,5}\\)"),
        maybe(propagation),
        maybe(target),
    )
        .prop_map(
            |(name, mount_path, read_only, sub_path, sub_path_expr, propagation, target)| {
                v2::TargetedVolumeMount {
                    name,
                    mount_path,
                    read_only,
                    sub_path,
                    sub_path_expr,
                    mount_propagation: propagation,
                    target,
                }
            },
        )
        .boxed()
}

fn observability() -> Gen<v2::ObservabilitySpec> {
    let protocol = select(vec![v2::OtelProtocol::Grpc, v2::OtelProtocol::HttpProtobuf]);
    let open_telemetry = (
        any::<bool>(),
        maybe("[a-z-]{1,8}\\.[a-z]{1,8}:4317"),
        maybe(protocol),
        maybe(any::<bool>()),
        maybe(btree_map("OTEL_[A-Z_]{1,8}", text(), 0..3)),
    )
        .prop_map(|(enabled, endpoint, protocol, insecure, extra_env_vars)| {
            v2::OpenTelemetrySpec {
                enabled,
                endpoint,
                protocol,
                insecure,
                extra_env_vars,
            }
        });
    maybe(open_telemetry)
        .prop_map(|open_telemetry| v2::ObservabilitySpec { open_telemetry })
        .boxed()
}

fn output() -> Gen<v2::OutputSpec> {
    let file = || {
        (
            any::<bool>(),
            prop_oneof![Just(String::new()), absolute_path()],
        )
            .prop_map(|(enabled, path)| v2::OutputFile { enabled, path })
    };
    (maybe(file()), maybe(file()))
        .prop_map(|(json_file, html_report)| v2::OutputSpec {
            json_file,
            html_report,
        })
        .boxed()
}

fn web_ui() -> Gen<v2::WebUiSpec> {
    maybe("/[a-z]{0,8}")
        .prop_map(|base_path| v2::WebUiSpec {
            base_path,
            ..Default::default()
        })
        .boxed()
}

fn security() -> Gen<v2::SecuritySpec> {
    (
        maybe(pod_security_context()),
        maybe(container_security_context()),
    )
        .prop_map(|(pod, container)| v2::SecuritySpec {
            pod_security_context: pod,
            container_security_context: container,
        })
        .boxed()
}

fn pull_secrets() -> Gen<Vec<LocalObjectReference>> {
    vec(name().prop_map(|name| LocalObjectReference { name }), 0..3).boxed()
}

/// Any v2 spec: every field, each unset or set.
fn any_v2_spec() -> Gen<v2::LocustTestSpec> {
    (
        (
            text(),
            maybe(pull_policy()),
            maybe(pull_secrets()),
            master(),
            worker(),
            maybe(test_files()),
            maybe(scheduling()),
        ),
        (
            maybe(env()),
            maybe(vec(volume(), 0..3)),
            maybe(vec(volume_mount(), 0..3)),
            maybe(observability()),
            maybe(output()),
            maybe(web_ui()),
            maybe(security()),
            maybe(thresholds()),
            maybe(pod_extensions()),
        ),
        (maybe(0..=31_536_000i32), maybe(any::<bool>())),
    )
        .prop_map(
            |(
                (
                    image,
                    image_pull_policy,
                    image_pull_secrets,
                    master,
                    worker,
                    test_files,
                    scheduling,
                ),
                (
                    env,
                    volumes,
                    volume_mounts,
                    observability,
                    output,
                    web_ui,
                    security,
                    thresholds,
                    pod,
                ),
                (ttl_seconds_after_finished, keep_failed),
            )| v2::LocustTestSpec {
                image,
                image_pull_policy,
                image_pull_secrets,
                master,
                worker,
                test_files,
                scheduling,
                env,
                volumes,
                volume_mounts,
                observability,
                output,
                web_ui,
                security,
                thresholds,
                pod,
                ttl_seconds_after_finished,
                keep_failed,
            },
        )
        .boxed()
}

/// A v2 spec that is exactly what a v1 spec converts to, written from the spec's table
/// (defaults written out, v2-only fields unset): it must convert to v1 without the
/// annotation.
fn v1_shaped_v2_spec() -> Gen<v2::LocustTestSpec> {
    let master = (text(), maybe(string_map()), maybe(string_map())).prop_map(
        |(command, labels, annotations)| v2::MasterSpec {
            command,
            labels,
            annotations,
            autostart: Some(true),
            autoquit: Some(v2::AutoquitSpec {
                enabled: Some(true),
                timeout: Some(60),
            }),
            ..v2::MasterSpec::default()
        },
    );
    let worker = (
        text(),
        any::<i32>(),
        maybe(string_map()),
        maybe(string_map()),
    )
        .prop_map(|(command, replicas, labels, annotations)| v2::WorkerSpec {
            command,
            replicas,
            labels,
            annotations,
            ..v2::WorkerSpec::default()
        });
    let test_files = (maybe(name()), maybe(name())).prop_map(|(config_map, lib_config_map)| {
        (config_map.is_some() || lib_config_map.is_some()).then(|| v2::TestFilesSpec {
            src_mount_path: config_map.as_ref().map(|_| "/lotest/src".to_owned()),
            lib_mount_path: lib_config_map
                .as_ref()
                .map(|_| "/opt/locust/lib".to_owned()),
            config_map_ref: config_map,
            lib_config_map_ref: lib_config_map,
            ..v2::TestFilesSpec::default()
        })
    });
    let scheduling = (maybe(v1_affinity()), maybe(vec(v1_toleration(), 0..3))).prop_map(
        |(affinity, tolerations)| {
            (affinity.is_some() || tolerations.is_some()).then(|| v2::SchedulingSpec {
                affinity: affinity.map(|a| table_affinity(&a)),
                tolerations: tolerations.map(|t| t.iter().map(table_toleration).collect()),
                ..v2::SchedulingSpec::default()
            })
        },
    );
    (
        text(),
        maybe(pull_policy()),
        maybe(pull_secrets()),
        master,
        worker,
        test_files,
        scheduling,
    )
        .prop_map(
            |(
                image,
                image_pull_policy,
                image_pull_secrets,
                master,
                worker,
                test_files,
                scheduling,
            )| {
                v2::LocustTestSpec {
                    image,
                    image_pull_policy,
                    image_pull_secrets,
                    master,
                    worker,
                    test_files,
                    scheduling,
                    ..v2::LocustTestSpec::default()
                }
            },
        )
        .boxed()
}

/// The spec table's v2 form of a v1 affinity, written independently of the code under test.
fn table_affinity(v1: &v1::LocustAffinity) -> Affinity {
    Affinity {
        node_affinity: v1.node_affinity.as_ref().map(|node| {
            let labels = &node.required_during_scheduling_ignored_during_execution;
            NodeAffinity {
                required_during_scheduling_ignored_during_execution: (!labels.is_empty()).then(
                    || NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(
                                labels
                                    .iter()
                                    .map(|(k, v)| NodeSelectorRequirement {
                                        key: k.clone(),
                                        operator: "In".into(),
                                        values: Some(vec![v.clone()]),
                                    })
                                    .collect(),
                            ),
                            match_fields: None,
                        }],
                    },
                ),
                preferred_during_scheduling_ignored_during_execution: None,
            }
        }),
        ..Affinity::default()
    }
}

/// The spec table's v2 form of a v1 toleration.
fn table_toleration(v1: &v1::LocustToleration) -> Toleration {
    Toleration {
        key: Some(v1.key.clone()),
        operator: Some(format!("{:?}", v1.operator)),
        value: v1.value.clone(),
        effect: Some(format!("{:?}", v1.effect)),
        toleration_seconds: None,
    }
}

/// A v2 LocustTest as a v2 client writes it (no reserved annotation): any spec, or one
/// that is exactly the image of a v1 spec.
pub(super) fn v2_test() -> Gen<v2::LocustTest> {
    let spec = prop_oneof![3 => any_v2_spec(), 1 => v1_shaped_v2_spec()];
    (metadata(), spec, maybe(status()))
        .prop_map(|(metadata, spec, status)| v2::LocustTest {
            metadata,
            spec,
            status,
        })
        .boxed()
}

/// A v2 LocustTest that is the image of a v1 one.
pub(super) fn plain_v2_test() -> Gen<v2::LocustTest> {
    (metadata(), v1_shaped_v2_spec(), maybe(status()))
        .prop_map(|(metadata, spec, status)| v2::LocustTest {
            metadata,
            spec,
            status,
        })
        .boxed()
}
