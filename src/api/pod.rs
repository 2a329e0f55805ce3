//! `locust.io/v2` pod extensions: settings added to the Locust pods of one role
//! (`spec.master.pod`, `spec.worker.pod`) or of both (`spec.pod`).
//!
//! They extend the pods the operator builds and never replace its own fields: the Locust
//! container, its volumes, environment, labels and security defaults stay as they are.
//! How the shared and the per-role values combine is [`PodExtensions::merged`].

use k8s_openapi::api::core::v1::{Container, HostAlias, TopologySpreadConstraint};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::schema::compact;

/// Most entries in each list of [`PodExtensions`].
pub const MAX_POD_LIST_ITEMS: usize = 16;
/// Container names the operator uses for its own containers, in every role's pods.
pub const OPERATOR_CONTAINER_NAMES: [&str; 2] = ["locust-master", "locust-worker"];
/// Prefix reserved for containers the operator may add in the future.
pub const RESERVED_CONTAINER_PREFIX: &str = "lotest-";

/// A DNS-1123 subdomain, as Kubernetes requires for ServiceAccount and PriorityClass names.
const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// CEL: no container of the list takes a name the operator uses.
const NOT_OPERATOR_NAMES: &str = "self.all(c, c.name != 'locust-master' && c.name != 'locust-worker' && !c.name.startsWith('lotest-'))";

/// Additions to the Locust pods. In `spec.pod` they apply to the master and the workers;
/// in `spec.master.pod` or `spec.worker.pod` to that role only, on top of `spec.pod`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodExtensions {
    /// ServiceAccount the pods run as, for example one bound to a cloud identity (GKE
    /// Workload Identity, EKS IRSA/Pod Identity, Azure Workload Identity). Unset: the
    /// namespace's `default` account. A per-role value wins over `spec.pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub service_account_name: Option<String>,

    /// PriorityClass of the pods. A per-role value wins over `spec.pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS1123_SUBDOMAIN))]
    pub priority_class_name: Option<String>,

    /// How to spread the pods across zones, nodes or other topology domains. Those of
    /// `spec.pod` come first, then the role's. The label `performance-test-pod-name`
    /// selects the pods of one role of one test: its value is the Job's name,
    /// `<test name>-worker` or `<test name>-master`. Fields: `kubectl explain
    /// pod.spec.topologySpreadConstraints`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = MAX_POD_LIST_ITEMS),
        schema_with = "compact::<Vec<TopologySpreadConstraint>>"
    )]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,

    /// Extra `/etc/hosts` entries of the pods. Those of `spec.pod` come first, then the
    /// role's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_POD_LIST_ITEMS))]
    pub host_aliases: Option<Vec<HostAlias>>,

    /// Init containers, run before the Locust container: those of `spec.pod` first, then
    /// the role's. One with `restartPolicy: Always` is a native sidecar (Kubernetes 1.29
    /// and later): it starts before Locust, runs beside it and is stopped when Locust
    /// exits, so the Job still completes. Names must be unique in the pod and differ from
    /// the operator's containers (`locust-master`, `locust-worker`, `lotest-*`); volume
    /// mounts may name volumes of `spec.volumes`. The operator adds no security context to
    /// them. Fields: `kubectl explain pod.spec.initContainers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_POD_LIST_ITEMS), schema_with = "compact::<Vec<Container>>")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[x_kube(validation = Rule::new(NOT_OPERATOR_NAMES).message("initContainers: the names locust-master, locust-worker and lotest-* belong to the operator's containers; choose another name").reason(Reason::FieldValueInvalid))]
    #[x_kube(validation = Rule::new("self.all(c, !has(c.restartPolicy) || c.restartPolicy == 'Always')").message("initContainers: restartPolicy may only be Always (a native sidecar); leave it unset for a container that runs to completion first").reason(Reason::FieldValueInvalid))]
    pub init_containers: Option<Vec<Container>>,

    /// Containers added beside the Locust container: those of `spec.pod` first, then the
    /// role's. They keep a pod Running after Locust exits, so the Job does not complete
    /// until they exit too: prefer a native sidecar (an init container with
    /// `restartPolicy: Always`). Names, volumes and security context as for
    /// initContainers. Fields: `kubectl explain pod.spec.containers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_POD_LIST_ITEMS), schema_with = "compact::<Vec<Container>>")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[x_kube(validation = Rule::new(NOT_OPERATOR_NAMES).message("extraContainers: the names locust-master, locust-worker and lotest-* belong to the operator's containers; choose another name").reason(Reason::FieldValueInvalid))]
    #[x_kube(validation = Rule::new("self.all(c, !has(c.restartPolicy))").message("extraContainers: restartPolicy is for native sidecars; move the container to initContainers with restartPolicy: Always").reason(Reason::FieldValueForbidden))]
    pub extra_containers: Option<Vec<Container>>,
}

impl PodExtensions {
    /// The extensions of one role's pods: `shared` (`spec.pod`) combined with `role`
    /// (`spec.<role>.pod`). Names: the role's wins. Lists: the shared entries first, then
    /// the role's. A list that ends up empty is unset.
    pub fn merged(shared: Option<&PodExtensions>, role: Option<&PodExtensions>) -> PodExtensions {
        fn name(
            shared: Option<&PodExtensions>,
            role: Option<&PodExtensions>,
            get: fn(&PodExtensions) -> &Option<String>,
        ) -> Option<String> {
            role.and_then(|r| get(r).clone())
                .or_else(|| shared.and_then(|s| get(s).clone()))
        }
        fn list<T: Clone>(
            shared: Option<&PodExtensions>,
            role: Option<&PodExtensions>,
            get: fn(&PodExtensions) -> &Option<Vec<T>>,
        ) -> Option<Vec<T>> {
            let all: Vec<T> = [shared, role]
                .into_iter()
                .flatten()
                .flat_map(|p| get(p).iter().flatten().cloned())
                .collect();
            (!all.is_empty()).then_some(all)
        }
        PodExtensions {
            service_account_name: name(shared, role, |p| &p.service_account_name),
            priority_class_name: name(shared, role, |p| &p.priority_class_name),
            topology_spread_constraints: list(shared, role, |p| &p.topology_spread_constraints),
            host_aliases: list(shared, role, |p| &p.host_aliases),
            init_containers: list(shared, role, |p| &p.init_containers),
            extra_containers: list(shared, role, |p| &p.extra_containers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::names;

    fn container(name: &str) -> Container {
        Container {
            name: name.into(),
            image: Some("busybox".into()),
            ..Container::default()
        }
    }

    #[test]
    fn role_names_win_and_lists_append_shared_first() {
        let shared = PodExtensions {
            service_account_name: Some("shared-sa".into()),
            priority_class_name: Some("low".into()),
            host_aliases: Some(vec![HostAlias {
                ip: "10.0.0.1".into(),
                hostnames: Some(vec!["a.internal".into()]),
            }]),
            init_containers: Some(vec![container("fetch")]),
            extra_containers: Some(vec![container("logs")]),
            ..PodExtensions::default()
        };
        let role = PodExtensions {
            service_account_name: Some("worker-sa".into()),
            host_aliases: Some(vec![HostAlias {
                ip: "10.0.0.2".into(),
                hostnames: None,
            }]),
            init_containers: Some(vec![container("proxy")]),
            ..PodExtensions::default()
        };
        let m = PodExtensions::merged(Some(&shared), Some(&role));
        assert_eq!(m.service_account_name.as_deref(), Some("worker-sa"));
        assert_eq!(m.priority_class_name.as_deref(), Some("low"));
        let ips: Vec<_> = m.host_aliases.iter().flatten().map(|h| &h.ip[..]).collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(names(m.init_containers.as_ref()), ["fetch", "proxy"]);
        assert_eq!(names(m.extra_containers.as_ref()), ["logs"]);
        assert_eq!(m.topology_spread_constraints, None);
    }

    #[test]
    fn either_side_alone_and_neither() {
        let one = PodExtensions {
            priority_class_name: Some("high".into()),
            extra_containers: Some(vec![container("x")]),
            ..PodExtensions::default()
        };
        assert_eq!(PodExtensions::merged(Some(&one), None), one);
        assert_eq!(PodExtensions::merged(None, Some(&one)), one);
        assert_eq!(PodExtensions::merged(None, None), PodExtensions::default());
        let empty = PodExtensions {
            init_containers: Some(vec![]),
            ..PodExtensions::default()
        };
        assert_eq!(
            PodExtensions::merged(Some(&empty), Some(&empty)),
            PodExtensions::default(),
            "empty lists say nothing"
        );
    }
}
