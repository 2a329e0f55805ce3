//! `--report`: the HTML report from the test's report ConfigMap (gzip in `binaryData`,
//! see [`crate::builders::report`]), written to a file. A missing report is explained,
//! never fatal.

use std::io::Read;
use std::path::Path;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};
use serde::Serialize;

use crate::api::v2::LocustTest;
use crate::builders::report::{NOTE_KEY, REPORT_KEY};

/// What became of `--report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    /// The file written, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// Why no report was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Saved {
    fn failed(error: String) -> Self {
        Self {
            file: None,
            bytes: None,
            error: Some(error),
        }
    }
}

/// Reads the finished test's report ConfigMap and writes the HTML to `file`.
pub async fn save(client: &Client, test: &LocustTest, ns: &str, file: &Path) -> Saved {
    let Some(name) = test
        .status
        .as_ref()
        .and_then(|s| s.report_config_map.clone())
    else {
        return Saved::failed(
            "the test has no report: status.reportConfigMap is not set (the operator could \
             not read the final statistics from the Locust master; the TestCompleted \
             condition and the operator's log say why)"
                .into(),
        );
    };
    let cm = match Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get(&name)
        .await
    {
        Ok(cm) => cm,
        Err(e) => return Saved::failed(format!("reading ConfigMap {ns}/{name}: {e}")),
    };
    let html = match html_of(&cm) {
        Ok(html) => html,
        Err(why) => return Saved::failed(format!("ConfigMap {ns}/{name}: {why}")),
    };
    match std::fs::write(file, &html) {
        Ok(()) => Saved {
            file: Some(file.display().to_string()),
            bytes: Some(html.len()),
            error: None,
        },
        Err(e) => Saved::failed(format!("writing {}: {e}", file.display())),
    }
}

/// The gunzipped HTML report of a report ConfigMap, or why there is none (the
/// ConfigMap's `NOTE` when the operator left it out).
pub fn html_of(cm: &ConfigMap) -> Result<Vec<u8>, String> {
    let Some(gz) = cm.binary_data.as_ref().and_then(|b| b.get(REPORT_KEY)) else {
        let note = cm.data.as_ref().and_then(|d| d.get(NOTE_KEY));
        return Err(match note {
            Some(note) => format!("no {REPORT_KEY}: {note}"),
            None => format!("no {REPORT_KEY} in binaryData"),
        });
    };
    let mut html = Vec::new();
    flate2::read::GzDecoder::new(gz.0.as_slice())
        .read_to_end(&mut html)
        .map_err(|e| format!("{REPORT_KEY} does not gunzip: {e}"))?;
    Ok(html)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write;

    use k8s_openapi::ByteString;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).expect("gzip");
        e.finish().expect("gzip")
    }

    #[test]
    fn the_report_gunzips_or_the_note_says_why_not() {
        let cm = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                REPORT_KEY.to_string(),
                ByteString(gzip(b"<html>Locust</html>")),
            )])),
            ..ConfigMap::default()
        };
        assert_eq!(html_of(&cm), Ok(b"<html>Locust</html>".to_vec()));

        let noted = ConfigMap {
            data: Some(BTreeMap::from([(
                NOTE_KEY.to_string(),
                "too big".to_string(),
            )])),
            ..ConfigMap::default()
        };
        assert_eq!(html_of(&noted), Err("no report.html.gz: too big".into()));
        assert_eq!(
            html_of(&ConfigMap::default()),
            Err("no report.html.gz in binaryData".into())
        );
        let corrupt = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                REPORT_KEY.to_string(),
                ByteString(b"not gzip".to_vec()),
            )])),
            ..ConfigMap::default()
        };
        assert!(
            html_of(&corrupt)
                .expect_err("corrupt")
                .contains("does not gunzip")
        );
    }
}
