//! The value parsers of the settings: small pure functions from the text of a flag or an
//! environment variable to a typed value, or a message saying what is expected; and two
//! wrappers saying what an empty value means.
//!
//! Every setting goes through [`or_default`] or [`or_none`]: both trim surrounding white
//! space; an empty value is then the setting's default, or "none" ([`Optional`]).

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};

use crate::validation::{is_dns1123_label, is_dns1123_subdomain};

/// A setting that may be unset: unset or empty is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Optional<T>(pub Option<T>);

impl<T> Optional<T> {
    /// The value, if set.
    pub fn into_option(self) -> Option<T> {
        self.0
    }
}

/// Trims the value; an empty value means the argument's default value (unset).
pub fn or_default<P: TypedValueParser>(parser: P) -> OrDefault<P> {
    OrDefault(parser)
}

/// Trims the value; an empty value means none ([`Optional`]).
pub fn or_none<P: TypedValueParser>(parser: P) -> OrNone<P> {
    OrNone(parser)
}

/// See [`or_default`].
#[derive(Debug, Clone)]
pub struct OrDefault<P>(P);

/// See [`or_none`].
#[derive(Debug, Clone)]
pub struct OrNone<P>(P);

/// The trimmed value; `None` when it is empty (a value that is not UTF-8 is passed on
/// unchanged, for the inner parser to reject).
fn trimmed(value: &OsStr) -> Option<&OsStr> {
    match value.to_str().map(str::trim) {
        Some("") => None,
        Some(text) => Some(OsStr::new(text)),
        None => Some(value),
    }
}

impl<P: TypedValueParser> TypedValueParser for OrDefault<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let default = arg
            .and_then(|a| a.get_default_values().first())
            .map(|d| d.as_ref());
        match (trimmed(value), default) {
            (Some(text), _) => self.0.parse_ref(cmd, arg, text),
            (None, Some(default)) => self.0.parse_ref(cmd, arg, default),
            (None, None) => self.0.parse_ref(cmd, arg, value),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        self.0.possible_values()
    }
}

impl<P: TypedValueParser> TypedValueParser for OrNone<P> {
    type Value = Optional<P::Value>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        match trimmed(value) {
            None => Ok(Optional(None)),
            Some(text) => self.0.parse_ref(cmd, arg, text).map(|v| Optional(Some(v))),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        self.0.possible_values()
    }
}

/// A whole number from `min` to `max`.
pub fn number<T>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    move |text| {
        text.parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("expected a whole number from {min} to {max}"))
    }
}

/// A whole number of seconds from `min` to `max`.
pub fn seconds(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    let number = number::<u64>(min, max);
    move |text| {
        number(text)
            .map(Duration::from_secs)
            .map_err(|_| format!("expected a whole number of seconds from {min} to {max}"))
    }
}

/// `true`/`false`, also `1`/`0` and `yes`/`no`, in any case.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// A Kubernetes resource quantity (see [`is_quantity`]).
pub fn quantity(text: &str) -> Result<String, String> {
    if is_quantity(text) {
        Ok(text.to_string())
    } else {
        Err("not a Kubernetes quantity (examples: 250m, 1, 512Mi, 2Gi)".into())
    }
}

/// Whether `s` is a Kubernetes resource quantity: a non-negative decimal number followed by
/// an optional binary-SI (Ki…Ei), decimal-SI (n, u, m, k, M, G, T, P, E) or exponent suffix.
pub fn is_quantity(s: &str) -> bool {
    let s = s.strip_prefix('+').unwrap_or(s);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let valid_number = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let valid_suffix = match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        exp => {
            let rest = exp.strip_prefix(['e', 'E']);
            rest.is_some_and(|r| {
                let r = r.strip_prefix(['+', '-']).unwrap_or(r);
                !r.is_empty() && r.chars().all(|c| c.is_ascii_digit())
            })
        }
    };
    valid_number && valid_suffix
}

/// A DNS-1123 subdomain: the name of most objects (Secrets, Leases, RuntimeClasses,
/// ValidatingWebhookConfigurations).
pub fn dns1123_subdomain(text: &str) -> Result<String, String> {
    if is_dns1123_subdomain(text) {
        Ok(text.to_string())
    } else {
        Err(
            "expected a Kubernetes object name (DNS-1123 subdomain): at most 253 \
             lower-case letters, digits, '-' and '.', each dot-separated part starting and \
             ending with a letter or digit"
                .into(),
        )
    }
}

/// A DNS-1123 label: the name of a namespace or a Service.
pub fn dns1123_label(text: &str) -> Result<String, String> {
    if is_dns1123_label(text) {
        Ok(text.to_string())
    } else {
        Err(
            "expected a namespace or Service name (DNS-1123 label): at most 63 lower-case \
             letters, digits and '-', starting and ending with a letter or digit"
                .into(),
        )
    }
}

/// An IP address and port, such as `0.0.0.0:8081`.
pub fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| "expected an address and port, for example 0.0.0.0:8081".into())
}

/// A file-system path (not checked for existence).
pub fn path(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

/// The Locust master's URL template (see [`crate::locust::master_url`]): `http://host:port`
/// with the placeholders `{service}` and `{namespace}`.
pub fn master_url_template(text: &str) -> Result<String, String> {
    crate::locust::master_url(text, "sample-master", "sample-ns", None)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// A `tracing` filter, as in `RUST_LOG` (`info`, `warn,locust_k8s_operator=debug`).
pub fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(text)
        .map(|_| text.to_string())
        .map_err(|e| format!("{e}; expected a log filter such as info or warn,kube=debug"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `value` for an argument with `default` through `parser`, as clap does.
    fn through<P: TypedValueParser>(
        parser: P,
        default: Option<&'static str>,
        value: &str,
    ) -> Result<P::Value, String> {
        let mut arg = clap::Arg::new("x").long("x");
        if let Some(d) = default {
            arg = arg.default_value(d);
        }
        let mut cmd = clap::Command::new("t").arg(arg);
        cmd.build();
        parser
            .parse_ref(&cmd, cmd.get_arguments().next(), OsStr::new(value))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn empty_means_the_default_and_values_are_trimmed() {
        let p = || or_default(number::<u16>(1, 1024));
        assert_eq!(through(p(), Some("16"), ""), Ok(16));
        assert_eq!(through(p(), Some("16"), "  "), Ok(16));
        assert_eq!(through(p(), Some("16"), " 8 "), Ok(8));
        assert!(through(p(), Some("16"), "0").is_err());
        assert!(
            through(p(), None, "").is_err(),
            "no default: empty is invalid"
        );
    }

    #[test]
    fn empty_means_none() {
        let p = || or_none(quantity);
        assert_eq!(through(p(), None, ""), Ok(Optional(None)));
        assert_eq!(
            through(p(), None, " 2Gi "),
            Ok(Optional(Some("2Gi".into())))
        );
        let e = through(p(), None, "lots").expect_err("not a quantity");
        assert!(e.contains("not a Kubernetes quantity"), "{e}");
    }

    #[test]
    fn numbers_and_seconds_check_their_range() {
        let n = number::<u16>(1, 1024);
        assert_eq!(n("1"), Ok(1));
        assert_eq!(n("1024"), Ok(1024));
        for bad in ["0", "1025", "-1", "x", "", "1.5"] {
            assert_eq!(
                n(bad),
                Err("expected a whole number from 1 to 1024".into()),
                "{bad}"
            );
        }
        let s = seconds(0, 86_400);
        assert_eq!(s("0"), Ok(Duration::ZERO));
        assert_eq!(s("120"), Ok(Duration::from_secs(120)));
        let e = s("86401").expect_err("too long");
        assert!(e.contains("seconds from 0 to 86400"), "{e}");
    }

    #[test]
    fn booleans() {
        for yes in ["true", "TRUE", "1", "yes"] {
            assert_eq!(boolean(yes), Ok(true), "{yes}");
        }
        for no in ["false", "False", "0", "no"] {
            assert_eq!(boolean(no), Ok(false), "{no}");
        }
        assert!(boolean("maybe").is_err());
        assert!(boolean("").is_err());
    }

    #[test]
    fn quantities() {
        for ok in [
            "1", "250m", "0.5", "1Gi", "512Mi", "1e3", "30M", "+1", "1.5G", "2E-3",
        ] {
            assert!(is_quantity(ok), "{ok}");
            assert_eq!(quantity(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "lots", "1GB", "-1", ".", "1..2", "Mi", "1 Gi", "1e"] {
            assert!(!is_quantity(bad), "{bad}");
            assert!(quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_names() {
        for ok in ["gvisor", "kata-qemu", "runc.v2", "a"] {
            assert_eq!(dns1123_subdomain(ok).as_deref(), Ok(ok));
        }
        let too_long = "a".repeat(254);
        for bad in [
            "",
            "gVisor",
            "kata_qemu",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a b",
            &too_long,
        ] {
            let e = dns1123_subdomain(bad).expect_err(bad);
            assert!(e.contains("DNS-1123 subdomain"), "{e}");
        }
        assert_eq!(dns1123_label("team-a").as_deref(), Ok("team-a"));
        for bad in ["", "a.b", "A", "-x", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_templates_and_filters() {
        assert_eq!(
            socket_addr("0.0.0.0:8081").map(|a| a.port()),
            Ok(8081),
            "address and port"
        );
        assert!(socket_addr("localhost").is_err());
        assert!(master_url_template("http://{service}.{namespace}:8089").is_ok());
        assert!(master_url_template("http://127.0.0.1:18089").is_ok());
        for bad in ["https://{service}:8089", "{service}:8089", "http://{svc}:1"] {
            assert!(master_url_template(bad).is_err(), "{bad}");
        }
        assert!(log_filter("info").is_ok());
        assert!(log_filter("warn,locust_k8s_operator=debug").is_ok());
        let e = log_filter("info,kube=loud").expect_err("not a level");
        assert!(e.contains("log filter"), "{e}");
        assert_eq!(path("/x"), Ok(PathBuf::from("/x")));
    }
}
