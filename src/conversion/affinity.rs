//! v1 affinity (required node labels as label → value) ↔ Kubernetes `Affinity`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
};

use crate::api::v1::{LocustAffinity, LocustNodeAffinity};

/// The node selector operator v1 labels map to.
const IN: &str = "In";

/// Maps a v1 affinity to v2.
///
/// The label map becomes one node selector term with one `In` expression per label (sorted
/// by label, as the map iterates), each with the single value. The two "no constraint"
/// shapes of v1 stay distinct, so that the conversion can be undone exactly: no
/// `nodeAffinity` gives an empty `Affinity`, an empty label map gives an empty
/// `nodeAffinity`.
pub(super) fn to_v2(affinity: &LocustAffinity) -> Affinity {
    Affinity {
        node_affinity: affinity.node_affinity.as_ref().map(node_affinity_to_v2),
        ..Affinity::default()
    }
}

fn node_affinity_to_v2(node: &LocustNodeAffinity) -> NodeAffinity {
    let labels = &node.required_during_scheduling_ignored_during_execution;
    let required = (!labels.is_empty()).then(|| NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_expressions: Some(
                labels
                    .iter()
                    .map(|(key, value)| NodeSelectorRequirement {
                        key: key.clone(),
                        operator: IN.to_owned(),
                        values: Some(vec![value.clone()]),
                    })
                    .collect(),
            ),
            match_fields: None,
        }],
    });
    NodeAffinity {
        required_during_scheduling_ignored_during_execution: required,
        preferred_during_scheduling_ignored_during_execution: None,
    }
}

/// The v1 affinity that means exactly what `affinity` means, if there is one.
///
/// `None` when v1 cannot express it: pod affinity or anti-affinity, preferred node rules,
/// several node selector terms (they are OR-ed, v1 labels are AND-ed), a term with
/// `matchFields` or without expressions (it matches no node), an operator other than `In`,
/// an expression with other than one value, or a label required twice. The order of the
/// expressions does not matter (they are AND-ed).
pub(super) fn to_v1(affinity: &Affinity) -> Option<LocustAffinity> {
    if affinity.pod_affinity.is_some() || affinity.pod_anti_affinity.is_some() {
        return None;
    }
    let node_affinity = match &affinity.node_affinity {
        None => None,
        Some(node) => Some(node_affinity_to_v1(node)?),
    };
    Some(LocustAffinity { node_affinity })
}

fn node_affinity_to_v1(node: &NodeAffinity) -> Option<LocustNodeAffinity> {
    if node
        .preferred_during_scheduling_ignored_during_execution
        .as_ref()
        .is_some_and(|preferred| !preferred.is_empty())
    {
        return None;
    }
    let labels = match &node.required_during_scheduling_ignored_during_execution {
        None => BTreeMap::new(),
        Some(selector) => required_labels(selector)?,
    };
    Some(LocustNodeAffinity {
        required_during_scheduling_ignored_during_execution: labels,
    })
}

/// The labels of a selector made of exactly one term of single-value `In` expressions.
fn required_labels(selector: &NodeSelector) -> Option<BTreeMap<String, String>> {
    let [term] = selector.node_selector_terms.as_slice() else {
        return None;
    };
    if term.match_fields.as_ref().is_some_and(|f| !f.is_empty()) {
        return None;
    }
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    if expressions.is_empty() {
        return None;
    }
    let mut labels = BTreeMap::new();
    for expression in expressions {
        let [value] = expression.values.as_deref().unwrap_or_default() else {
            return None;
        };
        if expression.operator != IN
            || labels
                .insert(expression.key.clone(), value.clone())
                .is_some()
        {
            return None;
        }
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodAffinity, PreferredSchedulingTerm};

    use super::*;

    fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    fn term(expressions: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(expressions),
            match_fields: None,
        }
    }

    fn required(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                preferred_during_scheduling_ignored_during_execution: None,
            }),
            ..Affinity::default()
        }
    }

    fn v1_labels(pairs: &[(&str, &str)]) -> LocustAffinity {
        LocustAffinity {
            node_affinity: Some(LocustNodeAffinity {
                required_during_scheduling_ignored_during_execution: pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            }),
        }
    }

    #[test]
    fn labels_become_one_term_of_in_expressions_sorted_by_key() {
        let v2 = to_v2(&v1_labels(&[("zone", "a"), ("arch", "amd64")]));
        assert_eq!(
            v2,
            required(vec![term(vec![
                requirement("arch", IN, &["amd64"]),
                requirement("zone", IN, &["a"]),
            ])])
        );
        assert_eq!(
            to_v1(&v2),
            Some(v1_labels(&[("zone", "a"), ("arch", "amd64")]))
        );
    }

    #[test]
    fn the_two_empty_v1_shapes_stay_distinct() {
        let no_node = LocustAffinity::default();
        let no_labels = v1_labels(&[]);
        assert_eq!(to_v2(&no_node), Affinity::default());
        assert_eq!(
            to_v2(&no_labels),
            Affinity {
                node_affinity: Some(NodeAffinity::default()),
                ..Affinity::default()
            }
        );
        assert_eq!(to_v1(&to_v2(&no_node)), Some(no_node));
        assert_eq!(to_v1(&to_v2(&no_labels)), Some(no_labels));
    }

    #[test]
    fn expression_order_does_not_matter() {
        let v2 = required(vec![term(vec![
            requirement("zone", IN, &["a"]),
            requirement("arch", IN, &["amd64"]),
        ])]);
        assert_eq!(
            to_v1(&v2),
            Some(v1_labels(&[("arch", "amd64"), ("zone", "a")]))
        );
    }

    #[test]
    fn several_terms_are_or_and_not_squashed_into_and() {
        let v2 = required(vec![
            term(vec![requirement("zone", IN, &["a"])]),
            term(vec![requirement("zone", IN, &["b"])]),
        ]);
        assert_eq!(to_v1(&v2), None);
    }

    #[test]
    fn other_operators_and_value_counts_are_not_expressible() {
        for expression in [
            requirement("zone", "NotIn", &["a"]),
            requirement("zone", "Exists", &[]),
            requirement("zone", IN, &["a", "b"]),
            requirement("zone", IN, &[]),
            NodeSelectorRequirement {
                key: "zone".into(),
                operator: IN.into(),
                values: None,
            },
        ] {
            assert_eq!(
                to_v1(&required(vec![term(vec![expression.clone()])])),
                None,
                "{expression:?}"
            );
        }
    }

    #[test]
    fn a_label_required_twice_is_not_expressible() {
        let v2 = required(vec![term(vec![
            requirement("zone", IN, &["a"]),
            requirement("zone", IN, &["b"]),
        ])]);
        assert_eq!(to_v1(&v2), None);
    }

    #[test]
    fn empty_terms_match_nothing_and_are_not_an_empty_v1_map() {
        assert_eq!(to_v1(&required(vec![])), None);
        assert_eq!(to_v1(&required(vec![term(vec![])])), None);
        assert_eq!(to_v1(&required(vec![NodeSelectorTerm::default()])), None);
    }

    #[test]
    fn match_fields_are_not_expressible() {
        let mut t = term(vec![requirement("zone", IN, &["a"])]);
        t.match_fields = Some(vec![requirement("metadata.name", IN, &["node-1"])]);
        assert_eq!(to_v1(&required(vec![t.clone()])), None);
        t.match_fields = Some(vec![]);
        assert_eq!(to_v1(&required(vec![t])), Some(v1_labels(&[("zone", "a")])));
    }

    #[test]
    fn preferred_rules_and_pod_affinity_are_not_expressible() {
        let mut preferred = required(vec![term(vec![requirement("zone", IN, &["a"])])]);
        if let Some(node) = preferred.node_affinity.as_mut() {
            node.preferred_during_scheduling_ignored_during_execution =
                Some(vec![PreferredSchedulingTerm {
                    weight: 1,
                    preference: term(vec![requirement("disk", IN, &["ssd"])]),
                }]);
        }
        assert_eq!(to_v1(&preferred), None);

        let pod = Affinity {
            pod_affinity: Some(PodAffinity::default()),
            ..Affinity::default()
        };
        assert_eq!(to_v1(&pod), None);
    }
}
