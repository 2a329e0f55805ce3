//! Environment of the Locust containers (the same on master and workers).
//!
//! Order of `env`: the operator's variables (`PYTHONPATH` with the library ConfigMap's
//! path, then the packages of `testFiles.requirements`, when there are any), then the OpenTelemetry variables, then the user's `env.variables` as written
//! (so a user variable of the same name, coming later, wins). `envFrom`: `env.configMapRefs`
//! first, then `env.secretRefs`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ConfigMapEnvSource, EnvFromSource, EnvVar, SecretEnvSource};

use super::test_files::{PYDEPS_PATH, requirements};
use super::volumes::lib_mount_path;
use super::{BuildError, Ctx, Role};

/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
const OTEL_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
const OTEL_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_INSECURE`.
const OTEL_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `OTEL_SERVICE_NAME`.
const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`.
const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

fn var(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// The `env` of `role`'s container.
pub(crate) fn env(ctx: &Ctx<'_>, role: Role) -> Result<Vec<EnvVar>, BuildError> {
    let mut out = Vec::new();
    let lib = ctx
        .spec
        .test_files
        .as_ref()
        .and_then(|t| t.lib_config_map_ref.as_ref())
        .map(|_| lib_mount_path(ctx.spec));
    let pydeps = requirements(ctx.spec).map(|_| PYDEPS_PATH);
    let python_path: Vec<&str> = lib.into_iter().chain(pydeps).collect();
    if !python_path.is_empty() {
        out.push(var("PYTHONPATH", python_path.join(":")));
    }
    out.extend(otel_env(ctx, role)?);
    if let Some(vars) = ctx.spec.env.as_ref().and_then(|e| e.variables.as_ref()) {
        out.extend(vars.iter().cloned());
    }
    Ok(out)
}

/// The `envFrom` of the Locust containers: ConfigMaps, then Secrets, each with its prefix.
pub(crate) fn env_from(ctx: &Ctx<'_>) -> Vec<EnvFromSource> {
    let Some(env) = ctx.spec.env.as_ref() else {
        return Vec::new();
    };
    let prefix = |p: &Option<String>| p.clone().filter(|p| !p.is_empty());
    let config_maps = env.config_map_refs.iter().flatten().map(|r| EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: r.name.clone(),
            optional: None,
        }),
        prefix: prefix(&r.prefix),
        secret_ref: None,
    });
    let secrets = env.secret_refs.iter().flatten().map(|r| EnvFromSource {
        config_map_ref: None,
        prefix: prefix(&r.prefix),
        secret_ref: Some(SecretEnvSource {
            name: r.name.clone(),
            optional: None,
        }),
    });
    config_maps.chain(secrets).collect()
}

/// Keys of an `OTEL_RESOURCE_ATTRIBUTES` value (`k1=v1,k2=v2`).
fn attribute_keys(value: &str) -> BTreeSet<&str> {
    value
        .split(',')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty())
        .collect()
}

/// The value of `key` in an `OTEL_RESOURCE_ATTRIBUTES` value, percent-decoded as the
/// OpenTelemetry SDK reads it; `None` when absent or empty.
fn attribute_value(value: &str, key: &str) -> Option<String> {
    value
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| percent_decode(v.trim()))
        .next_back()
        .filter(|v| !v.is_empty())
}

/// `%XX` escapes decoded (invalid ones kept as written).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The OpenTelemetry variables of `role`, empty when OpenTelemetry is off.
///
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, `..._PROTOCOL` (default grpc), `..._INSECURE` (when set),
/// `OTEL_SERVICE_NAME` (the test's name, unless the user sets it in extraEnvVars or
/// env.variables; a `service.name` the user gives only in the resource attributes is passed
/// on here, because Locust sets `service.name` from `OTEL_SERVICE_NAME`, default `locust`,
/// over the resource attributes), `OTEL_RESOURCE_ATTRIBUTES` (the
/// user's value plus `locust.test.name`, `locust.test.namespace` and `locust.role` for keys
/// the user did not set), then the user's other extraEnvVars in name order. A user extra
/// variable named like one of the operator's replaces its value instead of repeating it.
fn otel_env(ctx: &Ctx<'_>, role: Role) -> Result<Vec<EnvVar>, BuildError> {
    let Some(otel) = ctx
        .spec
        .observability
        .as_ref()
        .and_then(|o| o.open_telemetry.as_ref())
        .filter(|o| o.enabled)
    else {
        return Ok(Vec::new());
    };
    let endpoint = otel
        .endpoint
        .as_deref()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            BuildError::invalid(
                "spec.observability.openTelemetry.endpoint",
                "required when openTelemetry is enabled, for example otel-collector.monitoring:4317",
            )
        })?;
    let extra = otel.extra_env_vars.clone().unwrap_or_default();
    let user_attributes = extra.get(OTEL_RESOURCE_ATTRIBUTES).map(|s| s.trim());
    let user_keys = user_attributes.map(attribute_keys).unwrap_or_default();

    let mut out = vec![
        var(OTEL_ENDPOINT, endpoint),
        var(OTEL_PROTOCOL, otel.protocol.map_or("grpc", |p| p.as_str())),
    ];
    if let Some(insecure) = otel.insecure {
        out.push(var(OTEL_INSECURE, insecure.to_string()));
    }

    let user_sets_service_name = extra.contains_key(OTEL_SERVICE_NAME)
        || ctx
            .spec
            .env
            .as_ref()
            .and_then(|e| e.variables.as_ref())
            .is_some_and(|v| v.iter().any(|v| v.name == OTEL_SERVICE_NAME));
    if !user_sets_service_name {
        let name = user_attributes
            .and_then(|a| attribute_value(a, "service.name"))
            .unwrap_or_else(|| ctx.test_label.clone());
        out.push(var(OTEL_SERVICE_NAME, name));
    }

    let mut attributes: Vec<String> = user_attributes
        .filter(|a| !a.is_empty())
        .map(|a| vec![a.trim_end_matches(',').to_string()])
        .unwrap_or_default();
    let ours = [
        ("locust.test.name", Some(ctx.cr_name)),
        ("locust.test.namespace", ctx.namespace),
        ("locust.role", Some(role.component())),
    ];
    for (key, value) in ours {
        if let Some(value) = value
            && !user_keys.contains(key)
        {
            attributes.push(format!("{key}={value}"));
        }
    }
    out.push(var(OTEL_RESOURCE_ATTRIBUTES, attributes.join(",")));

    for (name, value) in extra {
        if name == OTEL_RESOURCE_ATTRIBUTES {
            continue;
        }
        match out.iter_mut().find(|v| v.name == name) {
            Some(existing) => existing.value = Some(value),
            None => out.push(var(&name, value)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::{
        EnvSourceRef, EnvSpec, ObservabilitySpec, OpenTelemetrySpec, OtelProtocol, TestFilesSpec,
    };
    use crate::builders::test_support::{minimal, with_ctx};

    fn names(vars: &[EnvVar]) -> Vec<&str> {
        vars.iter().map(|v| v.name.as_str()).collect()
    }

    fn value<'a>(vars: &'a [EnvVar], name: &str) -> Option<&'a str> {
        vars.iter()
            .find(|v| v.name == name)
            .and_then(|v| v.value.as_deref())
    }

    fn with_otel(extra: &[(&str, &str)]) -> crate::api::v2::LocustTest {
        let mut t = minimal();
        t.spec.observability = Some(ObservabilitySpec {
            open_telemetry: Some(OpenTelemetrySpec {
                enabled: true,
                endpoint: Some("collector.monitoring:4317".into()),
                protocol: None,
                insecure: None,
                extra_env_vars: (!extra.is_empty()).then(|| {
                    extra
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
            }),
        });
        t
    }

    #[test]
    fn order_is_operator_then_otel_then_user() {
        let mut t = with_otel(&[]);
        t.spec.test_files = Some(TestFilesSpec {
            lib_config_map_ref: Some("lib".into()),
            lib_mount_path: Some("/lib".into()),
            ..Default::default()
        });
        t.spec.env = Some(EnvSpec {
            variables: Some(vec![var("PYTHONPATH", "/mine"), var("A", "1")]),
            ..Default::default()
        });
        let vars = with_ctx(&t, |c| env(c, Role::Worker)).expect("valid");
        assert_eq!(
            names(&vars),
            [
                "PYTHONPATH",
                OTEL_ENDPOINT,
                OTEL_PROTOCOL,
                OTEL_SERVICE_NAME,
                OTEL_RESOURCE_ATTRIBUTES,
                "PYTHONPATH",
                "A"
            ]
        );
        assert_eq!(vars[0].value.as_deref(), Some("/lib"));
        assert_eq!(vars[5].value.as_deref(), Some("/mine"));
    }

    #[test]
    fn no_pythonpath_without_lib_config_map() {
        let mut t = minimal();
        t.spec.test_files = Some(TestFilesSpec {
            config_map_ref: Some("src".into()),
            ..Default::default()
        });
        let vars = with_ctx(&t, |c| env(c, Role::Master)).expect("valid");
        assert!(vars.is_empty(), "{vars:?}");
    }

    #[test]
    fn otel_defaults_on_both_roles() {
        let t = with_otel(&[]);
        for role in [Role::Master, Role::Worker] {
            let vars = with_ctx(&t, |c| env(c, role)).expect("valid");
            assert_eq!(
                value(&vars, OTEL_ENDPOINT),
                Some("collector.monitoring:4317")
            );
            assert_eq!(value(&vars, OTEL_PROTOCOL), Some("grpc"));
            assert_eq!(value(&vars, OTEL_INSECURE), None);
            assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("demo"));
            assert_eq!(
                value(&vars, OTEL_RESOURCE_ATTRIBUTES),
                Some(
                    format!(
                        "locust.test.name=demo,locust.test.namespace=default,locust.role={}",
                        role.component()
                    )
                    .as_str()
                )
            );
        }
    }

    #[test]
    fn otel_protocol_insecure_and_extra_vars() {
        let mut t = with_otel(&[
            ("OTEL_TRACES_SAMPLER", "always_on"),
            (OTEL_PROTOCOL, "http/json"),
            ("OTEL_A", "a"),
        ]);
        if let Some(o) = t
            .spec
            .observability
            .as_mut()
            .and_then(|o| o.open_telemetry.as_mut())
        {
            o.protocol = Some(OtelProtocol::HttpProtobuf);
            o.insecure = Some(true);
        }
        let vars = with_ctx(&t, |c| env(c, Role::Worker)).expect("valid");
        assert_eq!(
            names(&vars),
            [
                OTEL_ENDPOINT,
                OTEL_PROTOCOL,
                OTEL_INSECURE,
                OTEL_SERVICE_NAME,
                OTEL_RESOURCE_ATTRIBUTES,
                "OTEL_A",
                "OTEL_TRACES_SAMPLER"
            ]
        );
        // The user's extra variable replaces the operator's value, without a duplicate.
        assert_eq!(value(&vars, OTEL_PROTOCOL), Some("http/json"));
        assert_eq!(value(&vars, OTEL_INSECURE), Some("true"));
    }

    #[test]
    fn user_service_name_and_attributes_are_kept() {
        let t = with_otel(&[
            (OTEL_SERVICE_NAME, "checkout-load"),
            (OTEL_RESOURCE_ATTRIBUTES, "team=perf,locust.role=custom"),
        ]);
        let vars = with_ctx(&t, |c| env(c, Role::Master)).expect("valid");
        assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("checkout-load"));
        assert_eq!(
            names(&vars)
                .iter()
                .filter(|n| **n == OTEL_SERVICE_NAME)
                .count(),
            1
        );
        assert_eq!(
            value(&vars, OTEL_RESOURCE_ATTRIBUTES),
            Some(
                "team=perf,locust.role=custom,locust.test.name=demo,locust.test.namespace=default"
            )
        );

        // service.name in the resource attributes names the service too: Locust sets
        // `service.name` from OTEL_SERVICE_NAME (default `locust`) over the attributes, so
        // the name goes into OTEL_SERVICE_NAME as well (tests/integration/locust_otel.rs shows it).
        let t = with_otel(&[(OTEL_RESOURCE_ATTRIBUTES, "service.name=locust-test")]);
        let vars = with_ctx(&t, |c| env(c, Role::Worker)).expect("valid");
        assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("locust-test"));
        assert_eq!(
            value(&vars, OTEL_RESOURCE_ATTRIBUTES),
            Some(
                "service.name=locust-test,locust.test.name=demo,locust.test.namespace=default,locust.role=worker"
            )
        );

        // So does OTEL_SERVICE_NAME in env.variables.
        let mut t = with_otel(&[]);
        t.spec.env = Some(EnvSpec {
            variables: Some(vec![var(OTEL_SERVICE_NAME, "mine")]),
            ..Default::default()
        });
        let vars = with_ctx(&t, |c| env(c, Role::Worker)).expect("valid");
        assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("mine"));
    }

    #[test]
    fn a_service_name_attribute_is_passed_on_as_otel_service_name() {
        // Decoded as the SDK decodes attribute values; the last one counts.
        let t = with_otel(&[(
            OTEL_RESOURCE_ATTRIBUTES,
            "team=perf, service.name = old ,service.name=check%20out%2Cload,x",
        )]);
        let vars = with_ctx(&t, |c| env(c, Role::Master)).expect("valid");
        assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("check out,load"));
        // An empty name is no name: the test's name is used.
        let t = with_otel(&[(OTEL_RESOURCE_ATTRIBUTES, "service.name=")]);
        let vars = with_ctx(&t, |c| env(c, Role::Master)).expect("valid");
        assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("demo"));
        // OTEL_SERVICE_NAME set by the user wins over the attribute.
        let t = with_otel(&[
            (OTEL_SERVICE_NAME, "explicit"),
            (OTEL_RESOURCE_ATTRIBUTES, "service.name=attr"),
        ]);
        let vars = with_ctx(&t, |c| env(c, Role::Master)).expect("valid");
        assert_eq!(value(&vars, OTEL_SERVICE_NAME), Some("explicit"));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn otel_off_or_without_endpoint() {
        let mut t = with_otel(&[]);
        if let Some(o) = t
            .spec
            .observability
            .as_mut()
            .and_then(|o| o.open_telemetry.as_mut())
        {
            o.endpoint = None;
        }
        let e = with_ctx(&t, |c| env(c, Role::Master)).expect_err("no endpoint");
        assert!(
            e.to_string()
                .starts_with("spec.observability.openTelemetry.endpoint:"),
            "{e}"
        );
        if let Some(o) = t
            .spec
            .observability
            .as_mut()
            .and_then(|o| o.open_telemetry.as_mut())
        {
            o.enabled = false;
        }
        let vars = with_ctx(&t, |c| env(c, Role::Master)).expect("off");
        assert!(vars.is_empty());
    }

    #[test]
    fn env_from_config_maps_then_secrets() {
        let mut t = minimal();
        t.spec.env = Some(EnvSpec {
            secret_refs: Some(vec![EnvSourceRef {
                name: "s".into(),
                prefix: Some(String::new()),
            }]),
            config_map_refs: Some(vec![
                EnvSourceRef {
                    name: "c1".into(),
                    prefix: Some("C_".into()),
                },
                EnvSourceRef {
                    name: "c2".into(),
                    prefix: None,
                },
            ]),
            ..Default::default()
        });
        let from = with_ctx(&t, env_from);
        assert_eq!(from.len(), 3);
        assert_eq!(
            from[0].config_map_ref.as_ref().map(|c| c.name.as_str()),
            Some("c1")
        );
        assert_eq!(from[0].prefix.as_deref(), Some("C_"));
        assert_eq!(
            from[1].config_map_ref.as_ref().map(|c| c.name.as_str()),
            Some("c2")
        );
        assert_eq!(
            from[2].secret_ref.as_ref().map(|s| s.name.as_str()),
            Some("s")
        );
        assert_eq!(from[2].prefix, None);
    }

    #[test]
    fn value_from_is_kept() {
        let mut t = minimal();
        let from_secret = EnvVar {
            name: "TOKEN".into(),
            value: None,
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                secret_key_ref: Some(k8s_openapi::api::core::v1::SecretKeySelector {
                    name: "creds".into(),
                    key: "token".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        };
        t.spec.env = Some(EnvSpec {
            variables: Some(vec![from_secret.clone()]),
            ..Default::default()
        });
        let vars = with_ctx(&t, |c| env(c, Role::Worker)).expect("valid");
        assert_eq!(vars, vec![from_secret]);
    }
}
