//! Looking at a running operator from outside: plain-HTTP GETs of its probes and
//! `/metrics`, sums of metric samples, and its CPU time and memory from `/proc`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free port on 127.0.0.1 (released before returning: the caller binds it next).
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// How long [`http_get`] waits for a whole answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// A plain `GET path` on `addr`: `(status, body)`, or what went wrong (also when no whole
/// answer came within 5 s). An HTTP/1.0 request, so the answer is never chunked (Go
/// servers such as Prometheus chunk big HTTP/1.1 answers).
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    tokio::time::timeout(HTTP_TIMEOUT, get(addr, path))
        .await
        .map_err(|_| format!("GET {path} on {addr}: no answer within {HTTP_TIMEOUT:?}"))?
}

async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("writing to {addr}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {response:.80}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// The sum of every sample of metric `name` (all label sets) in a Prometheus text.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    metric_sum_with(text, name, &[])
}

/// The sum of the samples of metric `name` whose labels include each of `labels`
/// (written as in the text: `verb="POST"`); 0 when there is none.
pub fn metric_sum_with(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (block, value) = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once('}')?,
                None => ("", rest.strip_prefix(' ')?),
            };
            labels.iter().all(|w| block.contains(w)).then_some(value)
        })
        .filter_map(|value| value.split_whitespace().next()?.parse::<f64>().ok())
        // An empty sum of f64 is -0.0.
        .fold(0.0, |a, b| a + b)
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| "malformed /proc stat".to_owned())
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

/// `(VmRSS, VmHWM)` of `pid` in MiB.
pub fn memory_mib(pid: u32) -> Result<(f64, f64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| -> Result<f64, String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::{metric_sum, metric_sum_with};

    const TEXT: &str = "# TYPE locust_operator_reconcile_total counter
locust_operator_reconcile_total{result=\"ok\"} 7
locust_operator_reconcile_total{result=\"error\"} 2
locust_operator_reconcile_total_seconds 100
locust_operator_up 1
";

    #[test]
    fn sums_every_label_set_of_exactly_that_metric() {
        assert_eq!(metric_sum(TEXT, "locust_operator_reconcile_total"), 9.0);
        assert_eq!(metric_sum(TEXT, "locust_operator_up"), 1.0);
        assert_eq!(metric_sum(TEXT, "locust_operator_missing"), 0.0);
    }

    #[test]
    fn sums_only_the_samples_with_the_labels_asked_for() {
        let ok = metric_sum_with(TEXT, "locust_operator_reconcile_total", &["result=\"ok\""]);
        assert_eq!(ok, 7.0);
        assert_eq!(
            metric_sum_with(TEXT, "locust_operator_up", &["a=\"b\""]),
            0.0
        );
    }
}
