//! The web UI during a run (`spec.webUI`): its own Service for NodePort/LoadBalancer,
//! the Ingress, the Gateway API HTTPRoute, and basic authentication on the master pod.
//!
//! Exposure: the master Service stays ClusterIP with the workers' ports; a ClusterIP web UI
//! is that Service (it only gets the annotations). For NodePort and LoadBalancer a
//! separate Service `<test>-webui` carries only the web UI port, so the master's ZMQ ports
//! are never reachable from outside the cluster. The Ingress and the HTTPRoute route the
//! base path (default `/`) to whichever Service serves the web UI.
//!
//! Authentication: Locust 2.43 has no built-in password check (`--web-auth` was removed
//! and `--web-login` only shows a login page whose check a locustfile must provide), so
//! the operator mounts a small Locust plugin ([`AUTH_PLUGIN`]) that answers 401 to every
//! request without the Secret's credentials. The credentials reach the container from
//! the Secret (`secretKeyRef`), never in the pod spec; the plugin's code travels in a pod
//! annotation, projected as a file by a downward API volume (no extra object to keep).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, EnvVar, EnvVarSource, ObjectFieldSelector,
    PodSpec, SecretKeySelector, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use super::{Ctx, Role, WEB_UI_PORT, labels};
use crate::api::v2::WebUiSpec;
use crate::naming;

/// Value of the component label of the web UI's Service, Ingress and HTTPRoute.
pub const COMPONENT: &str = "webui";
/// Name of the web UI port on the Services.
pub const PORT_NAME: &str = "web-ui";
/// API group of the HTTPRoute.
pub const HTTP_ROUTE_GROUP: &str = "gateway.networking.k8s.io";
/// API version of the HTTPRoute.
pub const HTTP_ROUTE_VERSION: &str = "v1";
/// Kind of the HTTPRoute.
pub const HTTP_ROUTE_KIND: &str = "HTTPRoute";
/// Plural (resource) name of the HTTPRoute.
pub const HTTP_ROUTE_PLURAL: &str = "httproutes";

/// The Locust plugin checking basic authentication (mounted as `locust_plugins`).
pub const AUTH_PLUGIN: &str = include_str!("web_auth_plugin.py");
/// Master pod annotation holding [`AUTH_PLUGIN`], projected into the container.
pub const AUTH_PLUGIN_ANNOTATION: &str = "locust.io/web-auth-plugin";
/// Volume of the plugin.
pub const AUTH_VOLUME: &str = "lotest-web-auth";
/// Where the plugin's directory is mounted (put on `PYTHONPATH`).
pub const AUTH_MOUNT_PATH: &str = "/lotest/web-auth";
/// Environment variable of the user name (from the Secret).
pub const USERNAME_ENV: &str = "LOTEST_WEB_USERNAME";
/// Environment variable of the password (from the Secret).
pub const PASSWORD_ENV: &str = "LOTEST_WEB_PASSWORD";
/// `PYTHONPATH`.
const PYTHONPATH: &str = "PYTHONPATH";

/// The HTTPRoute API resource (`gateway.networking.k8s.io/v1`, `httproutes`).
pub fn http_route_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(HTTP_ROUTE_GROUP, HTTP_ROUTE_VERSION, HTTP_ROUTE_KIND),
        HTTP_ROUTE_PLURAL,
    )
}

fn web_ui<'a>(ctx: &Ctx<'a>) -> Option<&'a WebUiSpec> {
    ctx.spec.web_ui.as_ref()
}

/// Name of the Service serving the web UI: `<test>-webui` when it has its own, else the
/// master Service.
fn backend_service(ctx: &Ctx<'_>) -> String {
    if web_ui(ctx).is_some_and(WebUiSpec::separate_service) {
        naming::web_ui_name(ctx.cr_name)
    } else {
        ctx.master_name.clone()
    }
}

/// Annotations of the master Service: `webUI.service.annotations` when the web UI is
/// served by it (type ClusterIP).
pub(crate) fn master_service_annotations(ctx: &Ctx<'_>) -> Option<BTreeMap<String, String>> {
    let web = web_ui(ctx).filter(|w| !w.separate_service())?;
    web.service
        .as_ref()
        .and_then(|s| s.annotations.clone())
        .filter(|a| !a.is_empty())
}

/// The web UI's own Service (`<test>-webui`, only port 8089), for type NodePort or
/// LoadBalancer.
pub(crate) fn service(ctx: &Ctx<'_>) -> Option<Service> {
    let web = web_ui(ctx).filter(|w| w.separate_service())?;
    let settings = web.service.as_ref();
    let mut metadata = ctx.object_meta(
        &naming::web_ui_name(ctx.cr_name),
        labels::test_labels(ctx, COMPONENT),
    );
    metadata.annotations = settings
        .and_then(|s| s.annotations.clone())
        .filter(|a| !a.is_empty());
    Some(Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(web.service_type().as_str().into()),
            selector: Some(labels::master_selector(ctx)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.into()),
                port: WEB_UI_PORT,
                target_port: Some(IntOrString::Int(WEB_UI_PORT)),
                node_port: settings.and_then(|s| s.node_port),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

/// The Ingress `<test>-webui`: `host` (or every host) and the base path to the web UI.
pub(crate) fn ingress(ctx: &Ctx<'_>) -> Option<Ingress> {
    let web = web_ui(ctx)?;
    let settings = web.ingress.as_ref()?;
    let mut metadata = ctx.object_meta(
        &naming::web_ui_name(ctx.cr_name),
        labels::test_labels(ctx, COMPONENT),
    );
    metadata.annotations = settings.annotations.clone().filter(|a| !a.is_empty());
    let path = HTTPIngressPath {
        path: Some(web.route_path().to_string()),
        path_type: "Prefix".into(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: backend_service(ctx),
                port: Some(ServiceBackendPort {
                    number: Some(WEB_UI_PORT),
                    name: None,
                }),
            }),
            resource: None,
        },
    };
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: settings.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: settings.host.clone(),
                http: Some(HTTPIngressRuleValue { paths: vec![path] }),
            }]),
            tls: settings.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: settings.host.clone().map(|h| vec![h]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            default_backend: None,
        }),
        status: None,
    })
}

/// The HTTPRoute `<test>-webui`: the base path on the given Gateways to the web UI.
pub(crate) fn http_route(ctx: &Ctx<'_>) -> Option<DynamicObject> {
    let web = web_ui(ctx)?;
    let route = web.http_route.as_ref()?;
    let parent_refs: Vec<_> = route
        .parent_refs
        .iter()
        .map(|p| {
            let mut r = json!({ "name": p.name });
            if let Some(ns) = &p.namespace {
                r["namespace"] = json!(ns);
            }
            if let Some(section) = &p.section_name {
                r["sectionName"] = json!(section);
            }
            r
        })
        .collect();
    let mut spec = json!({
        "parentRefs": parent_refs,
        "rules": [{
            "matches": [{ "path": { "type": "PathPrefix", "value": web.route_path() } }],
            "backendRefs": [{ "name": backend_service(ctx), "port": WEB_UI_PORT }],
        }],
    });
    if let Some(hosts) = route.hostnames.as_ref().filter(|h| !h.is_empty()) {
        spec["hostnames"] = json!(hosts);
    }
    let name = naming::web_ui_name(ctx.cr_name);
    let mut obj = DynamicObject::new(&name, &http_route_resource()).data(json!({ "spec": spec }));
    obj.metadata = ctx.object_meta(&name, labels::test_labels(ctx, COMPONENT));
    Some(obj)
}

/// Adds basic authentication to the master pod when `webUI.auth` is set: the plugin's
/// annotation (into `annotations`), its volume and mount, the credentials from the Secret
/// and `PYTHONPATH` (in front of any `PYTHONPATH` set before, which Kubernetes expands).
pub(crate) fn add_auth(
    ctx: &Ctx<'_>,
    role: Role,
    pod: &mut PodSpec,
    annotations: &mut BTreeMap<String, String>,
) {
    let Some(auth) = web_ui(ctx).and_then(|w| w.auth.as_ref()) else {
        return;
    };
    if role != Role::Master {
        return;
    }
    annotations.insert(AUTH_PLUGIN_ANNOTATION.into(), AUTH_PLUGIN.into());
    pod.volumes.get_or_insert_default().push(Volume {
        name: AUTH_VOLUME.into(),
        downward_api: Some(DownwardAPIVolumeSource {
            items: Some(vec![DownwardAPIVolumeFile {
                path: "locust_plugins/__init__.py".into(),
                field_ref: Some(ObjectFieldSelector {
                    field_path: format!("metadata.annotations['{AUTH_PLUGIN_ANNOTATION}']"),
                    api_version: None,
                }),
                ..DownwardAPIVolumeFile::default()
            }]),
            ..DownwardAPIVolumeSource::default()
        }),
        ..Volume::default()
    });
    let Some(container) = pod
        .containers
        .iter_mut()
        .find(|c| c.name == Role::Master.container_name())
    else {
        return;
    };
    container
        .volume_mounts
        .get_or_insert_default()
        .push(VolumeMount {
            name: AUTH_VOLUME.into(),
            mount_path: AUTH_MOUNT_PATH.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    let secret = &auth.secret_ref;
    let from_secret = |name: &str, key: &str| EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: key.into(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    };
    let env = container.env.get_or_insert_default();
    env.push(from_secret(USERNAME_ENV, secret.username_key()));
    env.push(from_secret(PASSWORD_ENV, secret.password_key()));
    // One PYTHONPATH entry (a duplicate name in env is a warning and trips server-side
    // apply): the plugin goes in front of the last literal one; only a PYTHONPATH taken
    // from a ConfigMap or Secret is chained through Kubernetes' $(PYTHONPATH) expansion.
    match env.iter_mut().rfind(|e| e.name == PYTHONPATH) {
        Some(last) if last.value_from.is_none() => {
            let rest = last.value.take().unwrap_or_default();
            last.value = Some(if rest.is_empty() {
                AUTH_MOUNT_PATH.into()
            } else {
                format!("{AUTH_MOUNT_PATH}:{rest}")
            });
        }
        earlier => {
            let chained = earlier.is_some();
            env.push(EnvVar {
                name: PYTHONPATH.into(),
                value: Some(if chained {
                    format!("{AUTH_MOUNT_PATH}:$({PYTHONPATH})")
                } else {
                    AUTH_MOUNT_PATH.into()
                }),
                value_from: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::{
        GatewayRef, LocustTest, WebUiAuthSecretRef, WebUiAuthSpec, WebUiHttpRouteSpec,
        WebUiIngressSpec, WebUiServiceSpec, WebUiServiceType,
    };
    use crate::builders::Children;
    use crate::builders::test_support::build;
    use crate::builders::test_support::{container, minimal, pod};
    use crate::config::OperatorConfig;

    fn built(t: &LocustTest) -> Children {
        build(t, &OperatorConfig::default()).expect("valid")
    }

    fn with_web(web: WebUiSpec) -> LocustTest {
        let mut t = minimal();
        t.metadata.uid = Some("uid-1".into());
        t.spec.web_ui = Some(web);
        t
    }

    fn service_spec(type_: WebUiServiceType) -> WebUiSpec {
        WebUiSpec {
            service: Some(WebUiServiceSpec {
                type_: Some(type_),
                annotations: Some([("lb".to_string(), "internal".to_string())].into()),
                node_port: (type_ != WebUiServiceType::ClusterIP).then_some(30089),
            }),
            ingress: Some(WebUiIngressSpec::default()),
            http_route: Some(WebUiHttpRouteSpec {
                parent_refs: vec![GatewayRef {
                    name: "gw".into(),
                    ..GatewayRef::default()
                }],
                hostnames: None,
            }),
            ..WebUiSpec::default()
        }
    }

    fn ingress_backend(c: &Children) -> String {
        let rules = c
            .ingress
            .as_ref()
            .and_then(|i| i.spec.as_ref()?.rules.clone());
        let rules = rules.expect("rules");
        let path = &rules[0].http.as_ref().expect("http").paths[0];
        path.backend.service.as_ref().expect("service").name.clone()
    }

    fn route_backend(c: &Children) -> serde_json::Value {
        c.http_route.as_ref().expect("route").data["spec"]["rules"][0]["backendRefs"][0].clone()
    }

    #[test]
    fn without_web_ui_settings_nothing_is_added() {
        let c = built(&minimal());
        assert!(c.web_ui_service.is_none() && c.ingress.is_none() && c.http_route.is_none());
        assert_eq!(c.service.metadata.annotations, None);
        let master = container(&c, Role::Master);
        assert!(master.env.iter().flatten().all(|e| e.name != PYTHONPATH));
    }

    #[test]
    fn a_cluster_ip_web_ui_is_the_annotated_master_service() {
        let c = built(&with_web(service_spec(WebUiServiceType::ClusterIP)));
        assert!(c.web_ui_service.is_none());
        let annotations = c.service.metadata.annotations.clone().expect("annotations");
        assert_eq!(annotations["lb"], "internal");
        assert_eq!(ingress_backend(&c), "demo-master");
        assert_eq!(route_backend(&c)["name"], "demo-master");
    }

    #[test]
    fn node_port_and_load_balancer_get_their_own_service_with_the_web_port_only() {
        for type_ in [WebUiServiceType::NodePort, WebUiServiceType::LoadBalancer] {
            let c = built(&with_web(service_spec(type_)));
            let s = c.web_ui_service.clone().expect("own Service");
            assert_eq!(s.metadata.name.as_deref(), Some("demo-webui"));
            assert_eq!(
                s.metadata.annotations.as_ref().map(|a| &a["lb"][..]),
                Some("internal")
            );
            assert_eq!(s.metadata.owner_references.as_ref().map(Vec::len), Some(1));
            let spec = s.spec.expect("spec");
            assert_eq!(spec.type_.as_deref(), Some(type_.as_str()));
            assert_eq!(
                spec.selector,
                c.service.spec.as_ref().and_then(|m| m.selector.clone())
            );
            let ports: Vec<_> = (spec.ports.iter().flatten())
                .map(|p| (p.name.clone(), p.port, p.node_port))
                .collect();
            assert_eq!(ports, [(Some("web-ui".into()), 8089, Some(30089))]);
            // The master Service keeps its type and ports, without the annotations.
            let master = c.service.spec.as_ref().expect("spec");
            assert_eq!(master.type_.as_deref(), Some("ClusterIP"));
            assert_eq!(master.ports.as_ref().map(Vec::len), Some(3));
            assert_eq!(c.service.metadata.annotations, None);
            assert_eq!(ingress_backend(&c), "demo-webui");
            assert_eq!(route_backend(&c)["name"], "demo-webui");
        }
    }

    #[test]
    fn the_ingress_routes_host_and_base_path_with_tls() {
        let mut t = with_web(WebUiSpec {
            base_path: Some("/locust".into()),
            ingress: Some(WebUiIngressSpec {
                class_name: Some("nginx".into()),
                host: Some("locust.example.com".into()),
                tls_secret_name: Some("locust-tls".into()),
                annotations: Some([("a".to_string(), "b".to_string())].into()),
            }),
            ..WebUiSpec::default()
        });
        let i = built(&t).ingress.expect("ingress");
        assert_eq!(i.metadata.name.as_deref(), Some("demo-webui"));
        assert_eq!(i.metadata.owner_references.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            i.metadata.annotations.as_ref().map(|a| &a["a"][..]),
            Some("b")
        );
        let spec = i.spec.expect("spec");
        assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
        let rule = &spec.rules.expect("rules")[0];
        assert_eq!(rule.host.as_deref(), Some("locust.example.com"));
        let path = &rule.http.as_ref().expect("http").paths[0];
        assert_eq!(
            (path.path.as_deref(), path.path_type.as_str()),
            (Some("/locust"), "Prefix")
        );
        let port = path.backend.service.as_ref().and_then(|s| s.port.clone());
        assert_eq!(port.and_then(|p| p.number), Some(WEB_UI_PORT));
        let tls = &spec.tls.expect("tls")[0];
        assert_eq!(tls.secret_name.as_deref(), Some("locust-tls"));
        assert_eq!(tls.hosts, Some(vec!["locust.example.com".to_string()]));
        // Without a base path the whole host is routed.
        if let Some(w) = t.spec.web_ui.as_mut() {
            w.base_path = None;
        }
        let i = built(&t).ingress.expect("ingress");
        let rules = i.spec.and_then(|s| s.rules).expect("rules");
        assert_eq!(
            rules[0].http.as_ref().map(|h| h.paths[0].path.clone()),
            Some(Some("/".into()))
        );
    }

    #[test]
    fn the_http_route_attaches_the_base_path_to_the_gateways() {
        let t = with_web(WebUiSpec {
            base_path: Some("/locust".into()),
            http_route: Some(WebUiHttpRouteSpec {
                parent_refs: vec![GatewayRef {
                    name: "shared".into(),
                    namespace: Some("gateways".into()),
                    section_name: Some("https".into()),
                }],
                hostnames: Some(vec!["locust.example.com".into()]),
            }),
            ..WebUiSpec::default()
        });
        let route = built(&t).http_route.expect("route");
        let v = serde_json::to_value(&route).expect("json");
        assert_eq!(v["apiVersion"], "gateway.networking.k8s.io/v1");
        assert_eq!(v["kind"], "HTTPRoute");
        assert_eq!(v["metadata"]["name"], "demo-webui");
        assert_eq!(v["metadata"]["namespace"], "default");
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(
            v["spec"]["parentRefs"],
            serde_json::json!([{ "name": "shared", "namespace": "gateways", "sectionName": "https" }])
        );
        assert_eq!(
            v["spec"]["hostnames"],
            serde_json::json!(["locust.example.com"])
        );
        assert_eq!(
            v["spec"]["rules"][0],
            serde_json::json!({
                "matches": [{ "path": { "type": "PathPrefix", "value": "/locust" } }],
                "backendRefs": [{ "name": "demo-master", "port": 8089 }],
            })
        );
    }

    fn auth() -> WebUiSpec {
        WebUiSpec {
            auth: Some(WebUiAuthSpec {
                secret_ref: WebUiAuthSecretRef {
                    name: "login".into(),
                    username_key: None,
                    password_key: Some("pw".into()),
                },
            }),
            ..WebUiSpec::default()
        }
    }

    #[test]
    fn auth_reaches_the_master_from_the_secret_only() {
        let c = built(&with_web(auth()));
        let master = container(&c, Role::Master);
        let env = master.env.clone().unwrap_or_default();
        for (name, key) in [(USERNAME_ENV, "username"), (PASSWORD_ENV, "pw")] {
            let var = env.iter().find(|e| e.name == name).expect(name);
            assert_eq!(var.value, None, "{name}: never in clear text in the spec");
            let from = var
                .value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref());
            assert_eq!(
                from.map(|s| (s.name.as_str(), s.key.as_str())),
                Some(("login", key))
            );
        }
        let path = env
            .iter()
            .rfind(|e| e.name == PYTHONPATH)
            .and_then(|e| e.value.clone());
        assert_eq!(path.as_deref(), Some(AUTH_MOUNT_PATH));
        let mount = (master.volume_mounts.iter().flatten()).find(|m| m.name == AUTH_VOLUME);
        assert_eq!(mount.map(|m| m.mount_path.as_str()), Some(AUTH_MOUNT_PATH));
        let volume = (pod(&c, Role::Master).volumes.iter().flatten())
            .find(|v| v.name == AUTH_VOLUME)
            .and_then(|v| v.downward_api.clone())
            .and_then(|d| d.items)
            .expect("downward API volume");
        assert_eq!(volume[0].path, "locust_plugins/__init__.py");
        let template = c.master_job.spec.as_ref().map(|s| &s.template);
        let annotations = template.and_then(|t| t.metadata.as_ref()?.annotations.clone());
        assert_eq!(
            annotations
                .as_ref()
                .map(|a| a[AUTH_PLUGIN_ANNOTATION].as_str()),
            Some(AUTH_PLUGIN)
        );
        // The workers serve no UI.
        let worker = container(&c, Role::Worker);
        assert!(worker.env.iter().flatten().all(|e| e.name != PASSWORD_ENV));
        assert!(
            pod(&c, Role::Worker)
                .volumes
                .iter()
                .flatten()
                .all(|v| v.name != AUTH_VOLUME)
        );
    }

    #[test]
    fn auth_keeps_an_earlier_python_path() {
        let mut t = with_web(auth());
        if let Some(f) = t.spec.test_files.as_mut() {
            f.lib_config_map_ref = Some("lib".into());
        }
        let c = built(&t);
        let env = container(&c, Role::Master).env.clone().unwrap_or_default();
        let paths: Vec<_> = (env.iter().filter(|e| e.name == PYTHONPATH))
            .filter_map(|e| e.value.clone())
            .collect();
        assert_eq!(
            paths,
            ["/lotest/web-auth:/opt/locust/lib"],
            "one entry, plugin first"
        );
    }

    #[test]
    fn the_plugin_checks_basic_auth_and_hands_over_to_an_installed_locust_plugins() {
        for needle in [
            "LOTEST_WEB_USERNAME",
            "LOTEST_WEB_PASSWORD",
            "before_request",
            "WWW-Authenticate",
            "compare_digest",
            "importlib.import_module(__name__)",
        ] {
            assert!(AUTH_PLUGIN.contains(needle), "{needle}");
        }
        assert!(AUTH_PLUGIN.contains(USERNAME_ENV) && AUTH_PLUGIN.contains(PASSWORD_ENV));
    }
}
