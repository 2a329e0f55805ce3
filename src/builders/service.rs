//! The master Service: a ClusterIP Service named like the master Job, selecting the master
//! pod, with the two worker ports (5557, 5558) and the web UI / stats API port (8089).
//! It carries `webUI.service.annotations` when the web UI is served by it (ClusterIP).

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::MASTER_PORTS;
use super::{Ctx, Role, labels, web_ui};

/// The master Service. It carries the operator's master labels (not the user's pod labels).
pub(crate) fn build(ctx: &Ctx<'_>) -> Service {
    let ports = MASTER_PORTS
        .iter()
        .map(|(name, port)| ServicePort {
            name: Some((*name).to_string()),
            port: *port,
            target_port: Some(IntOrString::Int(*port)),
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        })
        .collect();
    let mut metadata =
        ctx.object_meta(&ctx.master_name, labels::operator_labels(ctx, Role::Master));
    metadata.annotations = web_ui::master_service_annotations(ctx);
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels::master_selector(ctx)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::{minimal, with_ctx};

    #[test]
    fn service_selects_the_master_pod() {
        let t = minimal();
        let s = with_ctx(&t, build);
        assert_eq!(s.metadata.name.as_deref(), Some("demo-master"));
        let spec = s.spec.expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        let selector = spec.selector.expect("selector");
        assert_eq!(selector.len(), 2);
        assert_eq!(selector[labels::TEST_NAME], "demo");
        assert_eq!(selector[labels::POD_NAME], "demo-master");
        let ports: Vec<_> = spec
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone().unwrap_or_default(), p.port))
            .collect();
        assert_eq!(
            ports,
            [
                ("master-p1".to_string(), 5557),
                ("master-p2".to_string(), 5558),
                ("web-ui".to_string(), 8089)
            ]
        );
    }
}
