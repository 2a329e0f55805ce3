//! `--timeout`: a duration such as `90s`, `30m`, `1h30m` or `45` (seconds).

use std::time::Duration;

/// Parses `<number><unit>` parts (units `h`, `m`, `s`; a bare number is seconds) into a
/// duration of at least one second.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "{text:?} is not a duration: use a number of seconds or parts like 90s, 30m, \
             1h30m (units h, m, s)"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return at_least_a_second(seconds);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        let n: u64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    at_least_a_second(total)
}

fn at_least_a_second(seconds: u64) -> Result<Duration, String> {
    if seconds == 0 {
        Err("must be at least 1s; leave --timeout out to wait without a limit".into())
    } else {
        Ok(Duration::from_secs(seconds))
    }
}

/// `1h02m03s`, `5m00s`, `42s`: a short, exact rendering for messages.
pub fn show(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, sec) => format!("{h}h{min:02}m{sec:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_bare_seconds() {
        let secs = |s| parse(s).map(|d| d.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("1m30s"), Ok(90));
        assert_eq!(secs(" 45 "), Ok(45));
    }

    #[test]
    fn rejects_what_is_not_a_positive_duration() {
        for bad in ["", "m", "1.5h", "10x", "5m3", "-5s", "1 h"] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("units h, m, s"), "{bad}: {e}");
        }
        assert!(parse("0").expect_err("zero").contains("at least 1s"));
        assert!(parse("0m").expect_err("zero").contains("at least 1s"));
        assert!(parse("99999999999999999999h").is_err());
    }

    #[test]
    fn shows_hours_minutes_seconds() {
        assert_eq!(show(Duration::from_secs(42)), "42s");
        assert_eq!(show(Duration::from_secs(300)), "5m00s");
        assert_eq!(show(Duration::from_secs(3723)), "1h02m03s");
    }
}
