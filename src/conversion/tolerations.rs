//! v1 tolerations (key/operator/value/effect) ↔ Kubernetes `Toleration`.

use k8s_openapi::api::core::v1::Toleration;

use crate::api::v1::{LocustToleration, TaintEffect, TolerationOperator};

/// Maps v1 tolerations to v2: every field is written out, so the mapping can be undone.
pub(super) fn to_v2(tolerations: &[LocustToleration]) -> Vec<Toleration> {
    tolerations.iter().map(toleration_to_v2).collect()
}

/// The v1 tolerations that mean exactly what `tolerations` mean, if v1 can express them
/// all; `None` as soon as one of them cannot be expressed (see [`toleration_to_v1`]), so
/// that a v1 client never sees a partial list.
pub(super) fn to_v1(tolerations: &[Toleration]) -> Option<Vec<LocustToleration>> {
    tolerations.iter().map(toleration_to_v1).collect()
}

fn toleration_to_v2(toleration: &LocustToleration) -> Toleration {
    Toleration {
        key: Some(toleration.key.clone()),
        operator: Some(operator_name(toleration.operator).to_owned()),
        value: toleration.value.clone(),
        effect: Some(effect_name(toleration.effect).to_owned()),
        toleration_seconds: None,
    }
}

/// v1 cannot express `tolerationSeconds`, a toleration of every effect (no `effect`), or
/// an operator other than `Equal`/`Exists`. An unset operator means `Equal` and an unset
/// key means the empty key (every key) in Kubernetes, so those are expressible.
fn toleration_to_v1(toleration: &Toleration) -> Option<LocustToleration> {
    if toleration.toleration_seconds.is_some() {
        return None;
    }
    let operator = match toleration.operator.as_deref() {
        None | Some("Equal") => TolerationOperator::Equal,
        Some("Exists") => TolerationOperator::Exists,
        Some(_) => return None,
    };
    let effect = match toleration.effect.as_deref()? {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        _ => return None,
    };
    Some(LocustToleration {
        key: toleration.key.clone().unwrap_or_default(),
        operator,
        value: toleration.value.clone(),
        effect,
    })
}

fn operator_name(operator: TolerationOperator) -> &'static str {
    match operator {
        TolerationOperator::Equal => "Equal",
        TolerationOperator::Exists => "Exists",
    }
}

fn effect_name(effect: TaintEffect) -> &'static str {
    match effect {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k8s(
        key: Option<&str>,
        operator: Option<&str>,
        value: Option<&str>,
        effect: Option<&str>,
    ) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: operator.map(Into::into),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            toleration_seconds: None,
        }
    }

    #[test]
    fn every_v1_toleration_maps_out_and_back() {
        for operator in [TolerationOperator::Equal, TolerationOperator::Exists] {
            for effect in [
                TaintEffect::NoSchedule,
                TaintEffect::PreferNoSchedule,
                TaintEffect::NoExecute,
            ] {
                for value in [None, Some("locust".to_owned())] {
                    let v1 = vec![LocustToleration {
                        key: "dedicated".into(),
                        operator,
                        value: value.clone(),
                        effect,
                    }];
                    let v2 = to_v2(&v1);
                    assert_eq!(v2[0].key.as_deref(), Some("dedicated"));
                    assert_eq!(v2[0].operator.as_deref(), Some(operator_name(operator)));
                    assert_eq!(v2[0].value, value);
                    assert_eq!(v2[0].effect.as_deref(), Some(effect_name(effect)));
                    assert_eq!(v2[0].toleration_seconds, None);
                    assert_eq!(to_v1(&v2), Some(v1));
                }
            }
        }
    }

    #[test]
    fn kubernetes_defaults_are_expressible() {
        let v1 = to_v1(&[k8s(None, None, Some("x"), Some("NoSchedule"))]);
        assert_eq!(
            v1,
            Some(vec![LocustToleration {
                key: String::new(),
                operator: TolerationOperator::Equal,
                value: Some("x".into()),
                effect: TaintEffect::NoSchedule,
            }])
        );
    }

    #[test]
    fn what_v1_lacks_leaves_the_whole_list_unset() {
        let fine = k8s(Some("a"), Some("Equal"), Some("b"), Some("NoSchedule"));
        let seconds = Toleration {
            toleration_seconds: Some(30),
            ..k8s(Some("a"), Some("Exists"), None, Some("NoExecute"))
        };
        for bad in [
            seconds,
            k8s(Some("a"), Some("Exists"), None, None),
            k8s(Some("a"), Some("Gt"), Some("1"), Some("NoSchedule")),
            k8s(Some("a"), Some("Equal"), Some("b"), Some("Sometimes")),
        ] {
            assert_eq!(to_v1(&[fine.clone(), bad.clone()]), None, "{bad:?}");
        }
        assert_eq!(to_v1(&[]), Some(vec![]));
    }
}
