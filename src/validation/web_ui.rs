//! `spec.webUI`: the base path, the Service, the Ingress, the HTTPRoute and the auth Secret.

use std::collections::BTreeMap;

use super::Errors;
use super::metadata::{is_dns1123_label, is_dns1123_subdomain};
use super::spec::is_label_key;
use crate::api::v2::{LocustTestSpec, WebUiServiceType};

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    let Some(web) = spec.web_ui.as_ref() else {
        return;
    };
    if let Some(base) = web.base_path.as_deref()
        && (!base.starts_with('/') || base.len() > 1 && base.ends_with('/'))
    {
        errors.add(
            "spec.webUI.basePath",
            format!("{base:?} must start with '/' and not end with '/', for example /locust"),
        );
    }
    if let Some(service) = &web.service {
        check_annotations(
            "spec.webUI.service.annotations",
            &service.annotations,
            errors,
        );
        match service.node_port {
            Some(_) if web.service_type() == WebUiServiceType::ClusterIP => errors.add(
                "spec.webUI.service.nodePort",
                "needs type NodePort or LoadBalancer: set webUI.service.type, or remove nodePort",
            ),
            Some(port) if !(1..=65535).contains(&port) => errors.add(
                "spec.webUI.service.nodePort",
                format!("must be a port from 1 to 65535 (got {port})"),
            ),
            _ => {}
        }
    }
    if let Some(ingress) = &web.ingress {
        check_annotations(
            "spec.webUI.ingress.annotations",
            &ingress.annotations,
            errors,
        );
        for (field, value) in [
            ("spec.webUI.ingress.className", &ingress.class_name),
            ("spec.webUI.ingress.tlsSecretName", &ingress.tls_secret_name),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !is_dns1123_subdomain(v)) {
                errors.add(field, format!("{v:?} is not a valid object name"));
            }
        }
        if let Some(host) = ingress.host.as_deref().filter(|h| !is_host(h)) {
            errors.add(
                "spec.webUI.ingress.host",
                format!("{host:?} is not a host name, for example locust.example.com"),
            );
        }
        if ingress.tls_secret_name.is_some() && ingress.host.is_none() {
            errors.add(
                "spec.webUI.ingress.host",
                "is required with tlsSecretName: set the host the certificate is for",
            );
        }
    }
    if let Some(route) = &web.http_route {
        if route.parent_refs.is_empty() {
            errors.add(
                "spec.webUI.httpRoute.parentRefs",
                "name at least one Gateway the route attaches to",
            );
        }
        for (i, parent) in route.parent_refs.iter().enumerate() {
            let field = format!("spec.webUI.httpRoute.parentRefs[{i}]");
            if !is_dns1123_subdomain(&parent.name) {
                errors.add(
                    format!("{field}.name"),
                    format!("{:?} is not a valid Gateway name", parent.name),
                );
            }
            if let Some(ns) = parent.namespace.as_deref().filter(|n| !is_dns1123_label(n)) {
                errors.add(
                    format!("{field}.namespace"),
                    format!("{ns:?} is not a valid namespace"),
                );
            }
        }
        for (i, host) in route.hostnames.iter().flatten().enumerate() {
            if !is_host(host) {
                errors.add(
                    format!("spec.webUI.httpRoute.hostnames[{i}]"),
                    format!("{host:?} is not a host name, for example locust.example.com"),
                );
            }
        }
    }
    if let Some(auth) = &web.auth
        && !is_dns1123_subdomain(&auth.secret_ref.name)
    {
        errors.add(
            "spec.webUI.auth.secretRef.name",
            format!("{:?} is not a valid Secret name", auth.secret_ref.name),
        );
    }
}

/// A DNS-1123 subdomain, optionally behind one `*.` wildcard label.
fn is_host(host: &str) -> bool {
    is_dns1123_subdomain(host.strip_prefix("*.").unwrap_or(host))
}

fn check_annotations(
    field: &str,
    annotations: &Option<BTreeMap<String, String>>,
    errors: &mut Errors,
) {
    for key in annotations.iter().flatten().map(|(k, _)| k) {
        if !is_label_key(key) {
            errors.add(
                format!("{field}[{key:?}]"),
                "is not a valid annotation key: an optional DNS prefix and '/', then at most 63 \
                 alphanumerics, '-', '_' or '.'",
            );
        }
    }
}
