//! `locust.io/v2` web UI settings (`spec.webUI`): where the master serves its UI, how it
//! is exposed while the test runs (Service type, Ingress, Gateway API HTTPRoute) and who
//! may open it (basic authentication from a Secret).

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A DNS-1123 subdomain (Secret, Gateway and IngressClass names).
const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A host name, optionally with one leading wildcard label (`*.example.com`).
const HOSTNAME: &str = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A Secret data key.
const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";
/// Most Gateways an HTTPRoute attaches to, and most host names it matches.
pub const MAX_ROUTE_ITEMS: usize = 16;

/// Web UI of the master: its path, how it is exposed during the run, and its login.
/// Open it without any exposure: `kubectl port-forward svc/<test>-master 8089`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiSpec {
    /// Serve the web UI and stats API under this path (`--web-base-path`), for ingress
    /// routing, for example `/locust`. Also the path of `ingress` and `httpRoute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), regex(pattern = r"^/"))]
    pub base_path: Option<String>,

    /// The Service of the web UI. ClusterIP (default): the master Service `<test>-master`
    /// serves it and gets the annotations. NodePort or LoadBalancer: a separate Service
    /// `<test>-webui` exposes only the web UI port (8089), never the workers' ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<WebUiServiceSpec>,

    /// An Ingress (`networking.k8s.io/v1`) named `<test>-webui` routing `host` and the
    /// base path (default `/`) to the web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<WebUiIngressSpec>,

    /// A Gateway API HTTPRoute (`gateway.networking.k8s.io/v1`) named `<test>-webui`
    /// attaching the web UI to Gateways under the base path (default `/`). Needs the
    /// Gateway API CRDs in the cluster; without them the test is blocked
    /// (`GatewayAPIMissing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<WebUiHttpRouteSpec>,

    /// Protect the web UI and its API with HTTP basic authentication. The operator reads
    /// the same Secret to poll the master's statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebUiAuthSpec>,
}

/// The Service of the web UI.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.nodePort) || (has(self.type) && self.type != 'ClusterIP')").message("webUI.service.nodePort needs type NodePort or LoadBalancer").reason(Reason::FieldValueForbidden).field_path(".nodePort"))]
pub struct WebUiServiceSpec {
    /// ClusterIP (default), NodePort or LoadBalancer.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<WebUiServiceType>,

    /// Annotations of the Service, for example a cloud load balancer's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Node port of the web UI (type NodePort or LoadBalancer). Unset: Kubernetes picks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub node_port: Option<i32>,
}

/// Type of the web UI's Service: ClusterIP (default), NodePort or LoadBalancer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum WebUiServiceType {
    /// Reachable inside the cluster only (the master Service).
    #[default]
    ClusterIP,
    /// Also on a port of every node (a separate Service with only the web UI port).
    NodePort,
    /// Also through a cloud load balancer (a separate Service with only the web UI port).
    LoadBalancer,
}

impl WebUiServiceType {
    /// The value Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            WebUiServiceType::ClusterIP => "ClusterIP",
            WebUiServiceType::NodePort => "NodePort",
            WebUiServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// The Ingress of the web UI.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.tlsSecretName) || has(self.host)").message("webUI.ingress.tlsSecretName needs a host the certificate is for").reason(Reason::FieldValueRequired).field_path(".host"))]
pub struct WebUiIngressSpec {
    /// IngressClass (`ingressClassName`). Unset: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub class_name: Option<String>,

    /// Host name the rule matches, for example `locust.example.com`. Unset: every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = HOSTNAME))]
    pub host: Option<String>,

    /// Secret with the TLS certificate and key for `host` (type kubernetes.io/tls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub tls_secret_name: Option<String>,

    /// Annotations of the Ingress, for example for cert-manager or the ingress controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The Gateway API HTTPRoute of the web UI.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiHttpRouteSpec {
    /// Gateways the route attaches to.
    #[schemars(length(min = 1, max = MAX_ROUTE_ITEMS))]
    pub parent_refs: Vec<GatewayRef>,

    /// Host names the route matches, for example `locust.example.com`. Unset: those of
    /// the Gateway's listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_ROUTE_ITEMS), inner(length(min = 1, max = 253), regex(pattern = HOSTNAME)))]
    pub hostnames: Option<Vec<String>>,
}

/// A Gateway an HTTPRoute attaches to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRef {
    /// Name of the Gateway.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub name: String,

    /// Namespace of the Gateway. Unset: the test's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_SUBDOMAIN))]
    pub namespace: Option<String>,

    /// Listener of the Gateway (`sectionName`). Unset: every listener that allows the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub section_name: Option<String>,
}

/// HTTP basic authentication of the web UI.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiAuthSpec {
    /// The Secret holding the user name and password, in the test's namespace.
    pub secret_ref: WebUiAuthSecretRef,
}

/// Where the web UI's credentials are.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebUiAuthSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub name: String,

    /// Key of the user name. Default: `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub username_key: Option<String>,

    /// Key of the password. Default: `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub password_key: Option<String>,
}

/// Default key of the user name in the auth Secret.
pub const DEFAULT_USERNAME_KEY: &str = "username";
/// Default key of the password in the auth Secret.
pub const DEFAULT_PASSWORD_KEY: &str = "password";

impl WebUiAuthSecretRef {
    /// Key of the user name.
    pub fn username_key(&self) -> &str {
        self.username_key.as_deref().unwrap_or(DEFAULT_USERNAME_KEY)
    }

    /// Key of the password.
    pub fn password_key(&self) -> &str {
        self.password_key.as_deref().unwrap_or(DEFAULT_PASSWORD_KEY)
    }
}

impl WebUiSpec {
    /// The type of the web UI's Service (ClusterIP when unset).
    pub fn service_type(&self) -> WebUiServiceType {
        self.service
            .as_ref()
            .and_then(|s| s.type_)
            .unwrap_or_default()
    }

    /// Whether the web UI gets its own Service (`<test>-webui`): for NodePort and
    /// LoadBalancer, so the workers' ports are never exposed outside the cluster.
    pub fn separate_service(&self) -> bool {
        self.service_type() != WebUiServiceType::ClusterIP
    }

    /// The path the Ingress and HTTPRoute route: the base path, else `/`.
    pub fn route_path(&self) -> &str {
        self.base_path.as_deref().unwrap_or("/")
    }
}
