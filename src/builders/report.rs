//! The ConfigMap that keeps a finished test's final statistics and HTML report, owned by
//! the test (deleted with it). The report is gzip-compressed in `binaryData` (an HTML
//! report is about 1 MB of mostly JavaScript; compressed about 300 kB); what does not fit
//! under the API's 1 MiB object limit is left out and a `NOTE` key says so.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;

use super::{BuildError, Ctx, labels};
use crate::api::v2::LocustTest;
use crate::config::OperatorConfig;
use crate::locust::FinalReport;
use crate::naming;

/// Key of the final `/stats/requests` answer (JSON).
pub const STATS_KEY: &str = "stats.json";
/// Key of the gzip-compressed HTML report in `binaryData`.
pub const REPORT_KEY: &str = "report.html.gz";
/// Key of the explanation when something could not be kept.
pub const NOTE_KEY: &str = "NOTE";
/// Value of `app.kubernetes.io/component` on the report ConfigMap.
pub const COMPONENT: &str = "report";
/// Most bytes of data kept in the ConfigMap: under the API server's 1 MiB limit on a
/// ConfigMap's data, with room for the metadata.
pub const MAX_DATA_BYTES: usize = 1_000_000;

/// The report ConfigMap of `test` (named [`naming::report_name`]).
pub fn config_map(
    test: &LocustTest,
    config: &OperatorConfig,
    report: &FinalReport,
) -> Result<ConfigMap, BuildError> {
    // The report needs the test's names and labels, not its commands.
    let commands = crate::validation::Commands::default();
    let ctx = Ctx::new(test, &commands, config)?;
    let name = naming::report_name(ctx.cr_name);
    let mut meta_labels = labels::test_labels(&ctx, COMPONENT);
    meta_labels.retain(|_, v| !v.is_empty());

    let mut notes = Vec::new();
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    let mut used = 0;
    let stats = String::from_utf8_lossy(&report.stats_json).into_owned();
    if stats.len() <= MAX_DATA_BYTES {
        used += stats.len();
        data.insert(STATS_KEY.to_string(), stats);
    } else {
        notes.push(format!(
            "{STATS_KEY} left out: {} bytes is over the {MAX_DATA_BYTES}-byte limit of a \
             ConfigMap",
            stats.len()
        ));
    }
    match (&report.html_gz, &report.html_error) {
        (Some(gz), _) if used + gz.len() <= MAX_DATA_BYTES => {
            binary.insert(REPORT_KEY.to_string(), ByteString(gz.clone()));
        }
        (Some(gz), _) => notes.push(format!(
            "{REPORT_KEY} left out: {} bytes compressed does not fit the {MAX_DATA_BYTES}-byte \
             limit of a ConfigMap; use spec.output.htmlReport to write it to a volume",
            gz.len()
        )),
        (None, why) => notes.push(format!(
            "the HTML report could not be fetched from the master: {}",
            why.as_deref().unwrap_or("unknown error")
        )),
    }
    if !notes.is_empty() {
        data.insert(NOTE_KEY.to_string(), notes.join("\n"));
    }
    Ok(ConfigMap {
        metadata: ctx.object_meta(&name, meta_labels),
        data: Some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        ..ConfigMap::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::test_support::minimal;

    fn report(stats: usize, gz: Option<usize>) -> FinalReport {
        FinalReport {
            stats_json: vec![b'{'; stats],
            html_gz: gz.map(|n| vec![0x1f; n]),
            html_error: gz
                .is_none()
                .then(|| "GET http://m/stats/report: timed out".into()),
        }
    }

    #[test]
    fn keeps_stats_and_the_compressed_report_owned_by_the_test() {
        let mut t = minimal();
        t.metadata.uid = Some("0b5c4d2e".into());
        let cm = config_map(&t, &OperatorConfig::default(), &report(10, Some(20))).expect("ok");
        let name = t.metadata.name.clone().expect("name");
        assert_eq!(
            cm.metadata.name.as_deref(),
            Some(naming::report_name(&name).as_str())
        );
        assert_eq!(cm.metadata.namespace, t.metadata.namespace);
        let owner = &cm.metadata.owner_references.expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("LocustTest", Some(true))
        );
        let labels = cm.metadata.labels.expect("labels");
        assert_eq!(labels[labels::COMPONENT], COMPONENT);
        assert_eq!(labels[labels::K8S_MANAGED_BY], labels::MANAGER);
        assert_eq!(labels[labels::K8S_NAME], "locust");
        assert_eq!(labels[labels::K8S_INSTANCE], name);
        assert_eq!(labels[labels::K8S_PART_OF], labels::MANAGER);
        assert!(
            !labels.contains_key(labels::POD_NAME),
            "no pod-name label on the report"
        );
        let data = cm.data.expect("data");
        assert_eq!(data[STATS_KEY].len(), 10);
        assert!(!data.contains_key(NOTE_KEY));
        assert_eq!(cm.binary_data.expect("binary")[REPORT_KEY].0.len(), 20);
    }

    #[test]
    fn what_does_not_fit_is_left_out_and_said() {
        let t = minimal();
        let cm = config_map(
            &t,
            &OperatorConfig::default(),
            &report(MAX_DATA_BYTES - 10, Some(20)),
        )
        .expect("ok");
        assert_eq!(cm.binary_data, None);
        let note = &cm.data.expect("data")[NOTE_KEY];
        assert!(
            note.starts_with("report.html.gz left out: 20 bytes"),
            "{note}"
        );

        let cm = config_map(&t, &OperatorConfig::default(), &report(5, None)).expect("ok");
        let note = &cm.data.expect("data")[NOTE_KEY];
        assert!(note.contains("timed out"), "{note}");
    }
}
