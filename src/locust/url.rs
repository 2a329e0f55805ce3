//! The master's base URL from `MASTER_URL_TEMPLATE`.

use super::LocustError;

/// Name of the environment variable holding the master URL template.
pub const MASTER_URL_TEMPLATE_ENV: &str = "MASTER_URL_TEMPLATE";

/// Default template: the master Service's cluster DNS name on the web UI port.
pub const DEFAULT_MASTER_URL_TEMPLATE: &str = "http://{service}.{namespace}.svc:8089";

/// A validated base URL of a Locust master (`http://host:port[/prefix]`, no trailing
/// slash), to which API paths such as `/stats/requests` are appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterUrl {
    host: String,
    port: u16,
    path: String,
}

impl MasterUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path prefix (empty or `/a/b`, never ending in `/`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full URL of `endpoint` (which starts with `/`, and may carry a query).
    pub fn endpoint(&self, endpoint: &str) -> String {
        format!("{self}{endpoint}")
    }

    /// The `Host` header value.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for MasterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

/// Builds the master's base URL: `template` with `{service}` and `{namespace}` replaced,
/// then `base_path` (the test's `webUI.basePath`) appended.
///
/// The template is `http://host[:port][/path]` (port 80 when absent); a fixed URL without
/// placeholders is allowed. Only plain HTTP is supported. Errors name
/// `MASTER_URL_TEMPLATE` (or `spec.webUI.basePath`) and say what is wrong.
pub fn master_url(
    template: &str,
    service: &str,
    namespace: &str,
    base_path: Option<&str>,
) -> Result<MasterUrl, LocustError> {
    let bad = |reason: String| LocustError::InvalidTemplate {
        template: template.to_string(),
        reason,
    };
    let filled = template
        .trim()
        .replace("{service}", service)
        .replace("{namespace}", namespace);
    if let Some(start) = filled.find('{') {
        let rest = &filled[start..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        return Err(bad(format!(
            "unknown placeholder {}; only {{service}} and {{namespace}} are replaced",
            &rest[..end]
        )));
    }
    let Some((scheme, rest)) = filled.split_once("://") else {
        return Err(bad(
            "expected scheme://host:port, for example http://{service}.{namespace}.svc:8089".into(),
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(bad(format!(
            "scheme {scheme:?} is not supported; use http (the Locust master serves plain HTTP)"
        )));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("a query or fragment is not allowed".into()));
    }
    if rest.contains(char::is_whitespace) {
        return Err(bad("white space is not allowed".into()));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(bad("user information (user@host) is not supported".into()));
    }
    let (host, port) = split_host_port(authority).map_err(bad)?;
    let mut path = normalise_path(path);
    if let Some(base) = base_path {
        if base.contains(['?', '#']) || base.contains(char::is_whitespace) {
            return Err(LocustError::InvalidBasePath {
                base_path: base.to_string(),
                reason: "must be a plain path such as /locust".into(),
            });
        }
        path.push_str(&normalise_path(base));
    }
    let url = MasterUrl { host, port, path };
    // Final check: the result must be a valid HTTP URI.
    url.endpoint("/")
        .parse::<hyper::Uri>()
        .map_err(|e| bad(format!("not a valid URL after substitution ({url}): {e}")))?;
    Ok(url)
}

/// `host[:port]` or `[v6][:port]` → host and port (80 by default).
fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    if authority.is_empty() {
        return Err("the host is empty".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| "unclosed [ in the host".to_string())?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the host"))?,
            ),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("port {p:?} is not a number between 1 and 65535")),
        },
    };
    Ok((host.to_string(), port))
}

/// `""`, `"/"` → `""`; `"a/"` → `"/a"`; repeated slashes collapse.
fn normalise_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .fold(String::new(), |mut out, seg| {
            out.push('/');
            out.push_str(seg);
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(t: &str, base: Option<&str>) -> Result<String, String> {
        master_url(t, "demo-master", "team-a", base)
            .map(|u| u.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn default_template_uses_the_service_dns_name() {
        assert_eq!(
            url(DEFAULT_MASTER_URL_TEMPLATE, None).as_deref(),
            Ok("http://demo-master.team-a.svc:8089")
        );
    }

    #[test]
    fn base_path_is_appended_and_normalised() {
        for base in ["/locust", "locust", "/locust/", "//locust"] {
            assert_eq!(
                url(DEFAULT_MASTER_URL_TEMPLATE, Some(base)).as_deref(),
                Ok("http://demo-master.team-a.svc:8089/locust"),
                "{base}"
            );
        }
        assert_eq!(
            url("http://x:1/", Some("/")).as_deref(),
            Ok("http://x:1"),
            "root base path adds nothing"
        );
        let u = master_url("http://x:1/proxy", "s", "n", Some("/a/b")).expect("valid");
        assert_eq!(
            u.endpoint("/stats/requests"),
            "http://x:1/proxy/a/b/stats/requests"
        );
    }

    #[test]
    fn fixed_urls_and_other_domains_work() {
        assert_eq!(
            url("http://127.0.0.1:18089", None).as_deref(),
            Ok("http://127.0.0.1:18089")
        );
        assert_eq!(
            url("http://{service}.{namespace}.svc.example.org:8089", None).as_deref(),
            Ok("http://demo-master.team-a.svc.example.org:8089")
        );
        assert_eq!(url("HTTP://h", None).as_deref(), Ok("http://h:80"));
        let v6 = master_url("http://[::1]:8089", "s", "n", None).expect("valid");
        assert_eq!((v6.host(), v6.port()), ("::1", 8089));
        assert_eq!(v6.to_string(), "http://[::1]:8089");
    }

    #[test]
    fn invalid_templates_name_the_variable() {
        for (t, needle) in [
            ("demo:8089", "scheme://host:port"),
            ("https://{service}:8089", "not supported"),
            ("http://{service}.{cluster}:8089", "{cluster}"),
            ("http://:8089", "host is empty"),
            ("http://h:port", "port"),
            ("http://h:0", "port"),
            ("http://h:8089?x=1", "query"),
            ("http://u@h:8089", "user"),
            ("http://[::1:8089", "unclosed"),
            ("", "scheme://host:port"),
        ] {
            let e = url(t, None).expect_err(t);
            assert!(e.starts_with("MASTER_URL_TEMPLATE"), "{e}");
            assert!(e.contains(needle), "{t}: {e}");
        }
        let e = url(DEFAULT_MASTER_URL_TEMPLATE, Some("/a b")).expect_err("space");
        assert!(e.starts_with("spec.webUI.basePath"), "{e}");
    }
}
