//! Rules on the pod extensions (`spec.pod`, `spec.master.pod`, `spec.worker.pod`): names,
//! containers that must not clash with the operator's, and the pod each role ends up with.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Container, TopologySpreadConstraint};

use super::Errors;
use super::metadata::{is_dns1123_label, is_dns1123_subdomain};
use crate::api::pod::{OPERATOR_CONTAINER_NAMES, RESERVED_CONTAINER_PREFIX};
use crate::api::v2::{LocustTestSpec, PodExtensions};

/// Init containers and extra containers.
const LISTS: [&str; 2] = ["initContainers", "extraContainers"];

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    let volumes: BTreeSet<&str> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    let blocks = [
        ("spec.pod", spec.pod.as_ref()),
        ("spec.master.pod", spec.master.pod.as_ref()),
        ("spec.worker.pod", spec.worker.pod.as_ref()),
    ];
    for (field, ext) in blocks {
        if let Some(ext) = ext {
            check_block(field, ext, &volumes, errors);
        }
    }
    // What each role's pod ends up with: spec.pod, then the role's block. A clash inside
    // spec.pod shows up for both roles and is reported once.
    let mut reported = BTreeSet::new();
    for (role, own) in [blocks[1], blocks[2]] {
        let merged = [blocks[0], (role, own)];
        check_unique_containers(&merged, &mut reported, errors);
        check_unique_spread(&merged, &mut reported, errors);
    }
}

fn check_block(field: &str, ext: &PodExtensions, volumes: &BTreeSet<&str>, errors: &mut Errors) {
    for (name, value, kind) in [
        (
            "serviceAccountName",
            &ext.service_account_name,
            "ServiceAccount",
        ),
        (
            "priorityClassName",
            &ext.priority_class_name,
            "PriorityClass",
        ),
    ] {
        if let Some(v) = value
            && !is_dns1123_subdomain(v)
        {
            errors.add(
                format!("{field}.{name}"),
                format!(
                    "{v:?} is not a valid {kind} name: lowercase letters, digits, '-' and '.', \
                     starting and ending with a letter or digit"
                ),
            );
        }
    }
    for (i, c) in ext.topology_spread_constraints.iter().flatten().enumerate() {
        check_spread(
            &format!("{field}.topologySpreadConstraints[{i}]"),
            c,
            errors,
        );
    }
    for (i, alias) in ext.host_aliases.iter().flatten().enumerate() {
        let at = format!("{field}.hostAliases[{i}]");
        if alias.ip.parse::<IpAddr>().is_err() {
            errors.add(
                format!("{at}.ip"),
                format!("{:?} is not an IP address", alias.ip),
            );
        }
        for (j, host) in alias.hostnames.iter().flatten().enumerate() {
            if !is_dns1123_subdomain(host) {
                errors.add(
                    format!("{at}.hostnames[{j}]"),
                    format!("{host:?} is not a valid host name (lowercase DNS name)"),
                );
            }
        }
    }
    for (list, containers) in LISTS.into_iter().zip(containers(ext)) {
        for (i, c) in containers.iter().enumerate() {
            let at = format!("{field}.{list}[{i}]");
            check_container(&at, list == "initContainers", c, volumes, errors);
        }
    }
}

fn containers(ext: &PodExtensions) -> [&[Container]; 2] {
    [
        ext.init_containers.as_deref().unwrap_or_default(),
        ext.extra_containers.as_deref().unwrap_or_default(),
    ]
}

fn check_container(
    at: &str,
    init: bool,
    c: &Container,
    volumes: &BTreeSet<&str>,
    errors: &mut Errors,
) {
    if OPERATOR_CONTAINER_NAMES.contains(&c.name.as_str()) {
        errors.add(
            format!("{at}.name"),
            format!(
                "{:?} is the name of the operator's Locust container; choose another name",
                c.name
            ),
        );
    } else if c.name.starts_with(RESERVED_CONTAINER_PREFIX) {
        errors.add(
            format!("{at}.name"),
            format!(
                "{:?}: names starting with {RESERVED_CONTAINER_PREFIX:?} are reserved for the \
                 operator's containers; choose another name",
                c.name
            ),
        );
    } else if !is_dns1123_label(&c.name) {
        errors.add(
            format!("{at}.name"),
            format!(
                "{:?} is not a valid container name: at most 63 lowercase letters, digits and \
                 '-', starting and ending with a letter or digit",
                c.name
            ),
        );
    }
    if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        errors.add(
            format!("{at}.image"),
            "is required: set the container's image",
        );
    }
    let sidecar = c.restart_policy.as_deref() == Some("Always");
    match (init, c.restart_policy.as_deref()) {
        (_, None) | (true, Some("Always")) => {}
        (true, Some(other)) => errors.add(
            format!("{at}.restartPolicy"),
            format!(
                "{other:?} is not supported: only Always (a native sidecar that runs beside \
                 Locust); leave it unset for a container that runs to completion first"
            ),
        ),
        (false, Some(_)) => errors.add(
            format!("{at}.restartPolicy"),
            "is for native sidecars: move the container to initContainers with \
             restartPolicy: Always",
        ),
    }
    if init && !sidecar {
        for (probe, set) in [
            ("lifecycle", c.lifecycle.is_some()),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
        ] {
            if set {
                errors.add(
                    format!("{at}.{probe}"),
                    "only native sidecars (restartPolicy: Always) may have it; add the \
                     restart policy or remove the field",
                );
            }
        }
    }
    for (j, m) in c.volume_mounts.iter().flatten().enumerate() {
        if !volumes.contains(m.name.as_str()) {
            errors.add(
                format!("{at}.volumeMounts[{j}].name"),
                format!(
                    "mounts volume {:?}, which spec.volumes does not define: add it there or \
                     fix the name",
                    m.name
                ),
            );
        }
    }
}

fn check_spread(at: &str, c: &TopologySpreadConstraint, errors: &mut Errors) {
    if c.max_skew < 1 {
        errors.add(
            format!("{at}.maxSkew"),
            format!("must be 1 or more (got {})", c.max_skew),
        );
    }
    if c.topology_key.trim().is_empty() {
        errors.add(
            format!("{at}.topologyKey"),
            "is required, for example topology.kubernetes.io/zone",
        );
    }
    let when = c.when_unsatisfiable.as_str();
    if !matches!(when, "DoNotSchedule" | "ScheduleAnyway") {
        errors.add(
            format!("{at}.whenUnsatisfiable"),
            format!("{when:?} is not supported: DoNotSchedule or ScheduleAnyway"),
        );
    }
    if let Some(min) = c.min_domains {
        if min < 1 {
            errors.add(
                format!("{at}.minDomains"),
                format!("must be 1 or more (got {min})"),
            );
        } else if when != "DoNotSchedule" {
            errors.add(
                format!("{at}.minDomains"),
                "is only allowed with whenUnsatisfiable: DoNotSchedule",
            );
        }
    }
    for (name, policy) in [
        ("nodeAffinityPolicy", &c.node_affinity_policy),
        ("nodeTaintsPolicy", &c.node_taints_policy),
    ] {
        if let Some(p) = policy
            && !matches!(p.as_str(), "Honor" | "Ignore")
        {
            errors.add(
                format!("{at}.{name}"),
                format!("{p:?} is not supported: Honor or Ignore"),
            );
        }
    }
}

/// Container names are unique in a pod, across init and regular containers.
fn check_unique_containers(
    merged: &[(&str, Option<&PodExtensions>); 2],
    reported: &mut BTreeSet<String>,
    errors: &mut Errors,
) {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (field, ext) in merged {
        let Some(ext) = ext else { continue };
        for (list, containers) in LISTS.into_iter().zip(containers(ext)) {
            for (i, c) in containers.iter().enumerate() {
                let at = format!("{field}.{list}[{i}].name");
                match seen.get(c.name.as_str()) {
                    Some(first) if reported.insert(at.clone()) => errors.add(
                        at,
                        format!(
                            "{:?} is already the name of {first}; container names must be \
                             unique in a pod",
                            c.name
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        seen.insert(&c.name, at);
                    }
                }
            }
        }
    }
}

/// Kubernetes refuses two spread constraints with the same topologyKey and
/// whenUnsatisfiable in one pod.
fn check_unique_spread(
    merged: &[(&str, Option<&PodExtensions>); 2],
    reported: &mut BTreeSet<String>,
    errors: &mut Errors,
) {
    let mut seen: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for (field, ext) in merged {
        let Some(ext) = ext else { continue };
        for (i, c) in ext.topology_spread_constraints.iter().flatten().enumerate() {
            let at = format!("{field}.topologySpreadConstraints[{i}]");
            let key = (c.topology_key.as_str(), c.when_unsatisfiable.as_str());
            match seen.get(&key) {
                Some(first) if reported.insert(at.clone()) => errors.add(
                    at,
                    format!(
                        "same topologyKey and whenUnsatisfiable as {first}; a pod may have only \
                         one such constraint"
                    ),
                ),
                Some(_) => {}
                None => {
                    seen.insert(key, at);
                }
            }
        }
    }
}
