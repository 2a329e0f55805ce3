//! Rules on single fields: ranges, required values, references and formats.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;

use super::Errors;
use super::metadata::{is_dns1123_label, is_dns1123_subdomain};
use crate::api::v2::{LocustTestSpec, MAX_PROCESSES_PER_POD, MAX_WORKER_REPLICAS};
use crate::config::is_quantity;
use crate::naming::is_label_value;

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    if spec.image.trim().is_empty() {
        errors.add(
            "spec.image",
            "is required: set the Locust image, for example locustio/locust:2.43.1",
        );
    }
    for (i, secret) in spec.image_pull_secrets.iter().flatten().enumerate() {
        if !is_dns1123_subdomain(&secret.name) {
            errors.add(
                format!("spec.imagePullSecrets[{i}].name"),
                format!("{:?} is not a valid Secret name", secret.name),
            );
        }
    }
    if !(1..=MAX_WORKER_REPLICAS).contains(&spec.worker.replicas) {
        errors.add(
            "spec.worker.replicas",
            format!(
                "must be between 1 and {MAX_WORKER_REPLICAS} (got {})",
                spec.worker.replicas
            ),
        );
    }
    if let Some(p) = spec.worker.processes_per_pod
        && !(1..=MAX_PROCESSES_PER_POD).contains(&p)
    {
        errors.add(
            "spec.worker.processesPerPod",
            format!("must be between 1 and {MAX_PROCESSES_PER_POD} (got {p})"),
        );
    }
    if let Some(t) = spec.master.autoquit.as_ref().and_then(|a| a.timeout)
        && t < 0
    {
        errors.add(
            "spec.master.autoquit.timeout",
            format!("must be 0 or more seconds (got {t})"),
        );
    }
    if let Some(w) = spec.master.expect_workers_max_wait
        && !(0..=86_400).contains(&w)
    {
        errors.add(
            "spec.master.expectWorkersMaxWait",
            format!("must be from 0 to 86400 seconds, 0 waiting forever (got {w})"),
        );
    }
    check_resources(
        "spec.master.resources",
        spec.master.resources.as_ref(),
        errors,
    );
    check_resources(
        "spec.worker.resources",
        spec.worker.resources.as_ref(),
        errors,
    );
    check_labels("spec.master.labels", spec.master.labels.as_ref(), errors);
    check_labels("spec.worker.labels", spec.worker.labels.as_ref(), errors);
    check_env_refs(spec, errors);
    check_observability(spec, errors);
    check_output(spec, errors);
    super::thresholds::check(spec, errors);
    super::web_ui::check(spec, errors);
}

fn check_resources(field: &str, resources: Option<&ResourceRequirements>, errors: &mut Errors) {
    let Some(r) = resources else { return };
    for (kind, map) in [("requests", &r.requests), ("limits", &r.limits)] {
        for (name, q) in map.iter().flatten() {
            if !is_quantity(&q.0) {
                errors.add(
                    format!("{field}.{kind}.{name}"),
                    format!(
                        "{:?} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 4Gi)",
                        q.0
                    ),
                );
            }
        }
    }
}

fn check_labels(field: &str, labels: Option<&BTreeMap<String, String>>, errors: &mut Errors) {
    for (key, value) in labels.into_iter().flatten() {
        if !is_label_key(key) {
            errors.add(
                format!("{field}[{key:?}]"),
                "is not a valid label key: an optional DNS prefix and '/', then at most 63 \
                 alphanumerics, '-', '_' or '.'",
            );
        }
        if is_reserved_label_key(key) {
            errors.add(
                format!("{field}[{key:?}]"),
                "is set by Kubernetes on Job pods (batch.kubernetes.io/*, job-name, controller-uid); \
                 use another key",
            );
        }
        if !is_label_value(value) {
            errors.add(
                format!("{field}[{key:?}]"),
                format!(
                    "{value:?} is not a valid label value: at most 63 alphanumerics, '-', '_' or \
                     '.', starting and ending with an alphanumeric"
                ),
            );
        }
    }
}

/// Label keys the Job controller sets on its pods.
fn is_reserved_label_key(key: &str) -> bool {
    key.starts_with("batch.kubernetes.io/") || matches!(key, "job-name" | "controller-uid")
}

/// `[prefix/]name`: a DNS subdomain prefix and a name like a non-empty label value.
pub(super) fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    prefix.is_none_or(is_dns1123_subdomain) && !name.is_empty() && is_label_value(name)
}

fn check_env_refs(spec: &LocustTestSpec, errors: &mut Errors) {
    let Some(env) = &spec.env else { return };
    for (list, kind, refs) in [
        ("configMapRefs", "ConfigMap", &env.config_map_refs),
        ("secretRefs", "Secret", &env.secret_refs),
    ] {
        for (i, r) in refs.iter().flatten().enumerate() {
            if !is_dns1123_subdomain(&r.name) {
                errors.add(
                    format!("spec.env.{list}[{i}].name"),
                    format!("{:?} is not a valid {kind} name", r.name),
                );
            }
        }
    }
    for (i, v) in env.variables.iter().flatten().enumerate() {
        if v.name.trim().is_empty() {
            errors.add(format!("spec.env.variables[{i}].name"), "is required");
        }
        if v.value.is_some() && v.value_from.is_some() {
            errors.add(
                format!("spec.env.variables[{i}]"),
                "set either value or valueFrom, not both",
            );
        }
    }
    for (i, m) in env.secret_mounts.iter().flatten().enumerate() {
        if !is_dns1123_subdomain(&m.name) {
            errors.add(
                format!("spec.env.secretMounts[{i}].name"),
                format!("{:?} is not a valid Secret name", m.name),
            );
        }
    }
}

fn check_observability(spec: &LocustTestSpec, errors: &mut Errors) {
    let Some(otel) = spec
        .observability
        .as_ref()
        .and_then(|o| o.open_telemetry.as_ref())
    else {
        return;
    };
    if otel.enabled && otel.endpoint.as_deref().is_none_or(|e| e.trim().is_empty()) {
        errors.add(
            "spec.observability.openTelemetry.endpoint",
            "is required when openTelemetry is enabled: set it to your collector, for example \
             otel-collector.monitoring:4317",
        );
    }
}

fn check_output(spec: &LocustTestSpec, errors: &mut Errors) {
    let Some(output) = &spec.output else { return };
    for (field, file) in [
        ("spec.output.jsonFile.path", &output.json_file),
        ("spec.output.htmlReport.path", &output.html_report),
    ] {
        if let Some(f) = file
            && f.enabled
            && !f.path.starts_with('/')
        {
            errors.add(
                field,
                format!(
                    "{:?}: an absolute path is required when the output is enabled, usually on \
                     a mounted volume (for example /results/report.html)",
                    f.path
                ),
            );
        }
    }
}

/// Volume names must be DNS-1123 labels (re-exported for the mount rules).
pub(super) fn valid_volume_name(name: &str) -> bool {
    is_dns1123_label(name)
}
