//! What the API server says about itself: the mean latency it measured for one kind of
//! request (`apiserver_request_duration_seconds` on its `/metrics`), and a CPU profile
//! (`/debug/pprof/profile`, when the server runs with `--profiling=true`).

use std::path::PathBuf;
use std::time::Duration;

use futures::AsyncReadExt as _;
use kube::Client;

use crate::operator::metric_sum_with;
use crate::{Result, ctx};

/// The API server's mean latency, in milliseconds, of the requests with `verb` (`POST`,
/// `APPLY`, …) on `resource` of API `group` (`""` for the core group), no subresource,
/// since it started; `None` when it served none.
pub async fn mean_request_ms(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
) -> Result<Option<f64>> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(ctx("building the /metrics request"))?;
    let text = client
        .request_text(request)
        .await
        .map_err(ctx("reading the API server's /metrics"))?;
    Ok(mean_ms(&text, verb, group, resource))
}

/// [`mean_request_ms`] on the text of `/metrics` (a pure function, unit-tested).
fn mean_ms(metrics: &str, verb: &str, group: &str, resource: &str) -> Option<f64> {
    let wanted = [
        format!("group=\"{group}\""),
        format!("resource=\"{resource}\""),
        "subresource=\"\"".to_owned(),
        format!("verb=\"{verb}\""),
    ];
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let value = |name: &str| metric_sum_with(metrics, name, &wanted);
    let count = value("apiserver_request_duration_seconds_count");
    (count > 0.0).then(|| value("apiserver_request_duration_seconds_sum") / count * 1000.0)
}

/// After `delay`, takes a `seconds`-long CPU profile of the API server (which must run
/// with `--profiling=true`), written to `path` in pprof format (`go tool pprof -top PATH`).
pub fn profile(
    client: &Client,
    delay: Duration,
    seconds: u64,
    path: PathBuf,
) -> tokio::task::JoinHandle<Result<()>> {
    let client = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let request = http::Request::get(format!("/debug/pprof/profile?seconds={seconds}"))
            .body(Vec::new())
            .map_err(ctx("building the profile request"))?;
        let mut body = client
            .request_stream(request)
            .await
            .map_err(ctx("profiling the API server"))?;
        let mut bytes = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(seconds + 30),
            body.read_to_end(&mut bytes),
        )
        .await
        .map_err(ctx("the API server's profile"))?
        .map_err(ctx("reading the API server's profile"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(ctx(format!("creating {}", dir.display())))?;
        }
        std::fs::write(&path, bytes).map_err(ctx(format!("writing {}", path.display())))?;
        eprintln!("  API server CPU profile: {}", path.display());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::mean_ms;

    const METRICS: &str = r#"# HELP apiserver_request_duration_seconds x
apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1",le="0.005"} 3
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 6
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 4
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="All",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_duration_seconds_count{component="apiserver",dry_run="All",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="POST",version="v1"} 100
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="POST",version="v1"} 1
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="batch",resource="jobs",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="batch",resource="jobs",scope="resource",subresource="",verb="POST",version="v1"} 10
"#;

    #[test]
    fn means_over_every_series_of_the_request_kind() {
        // 6 s + 2 s over 4 + 1 requests; the status subresource and jobs are not counted.
        assert_eq!(mean_ms(METRICS, "POST", "", "services"), Some(1600.0));
        assert_eq!(mean_ms(METRICS, "POST", "batch", "jobs"), Some(100.0));
    }

    #[test]
    fn none_without_requests() {
        assert_eq!(mean_ms(METRICS, "DELETE", "", "services"), None);
        assert_eq!(mean_ms("", "POST", "", "services"), None);
    }
}
