//! What is kept of a run after its pods are gone: the master's final `/stats/requests`
//! answer and its HTML report, gzip-compressed to fit a ConfigMap.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

/// The final statistics and report of a run, as fetched from the master.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FinalReport {
    /// The master's `/stats/requests` answer once the totals settled (JSON).
    pub stats_json: Vec<u8>,
    /// The HTML report (`/stats/report?download=1`), gzip-compressed; `None` when it could
    /// not be fetched.
    pub html_gz: Option<Vec<u8>>,
    /// Why the HTML report is missing, when it is.
    pub html_error: Option<String>,
}

/// Compresses `bytes` with gzip (best compression: reports are fetched once per test).
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    #[test]
    fn gzip_round_trips_and_shrinks_html() {
        let html = "<html><script>var data = 1;</script></html>\n".repeat(2000);
        let gz = gzip(html.as_bytes()).expect("compresses");
        assert!(gz.len() * 10 < html.len(), "{} vs {}", gz.len(), html.len());
        let mut back = String::new();
        GzDecoder::new(gz.as_slice())
            .read_to_string(&mut back)
            .expect("decompresses");
        assert_eq!(back, html);
    }
}
