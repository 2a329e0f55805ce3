//! `spec.thresholds`: every limit a finite number, 0 or more; the failure ratio at most 1;
//! at least one limit set.

use super::Errors;
use crate::api::v2::LocustTestSpec;

pub(super) fn check(spec: &LocustTestSpec, errors: &mut Errors) {
    let Some(t) = &spec.thresholds else { return };
    let limits = [
        ("maxFailureRatio", t.max_failure_ratio, Some(1.0)),
        ("maxAverageResponseTime", t.max_average_response_time, None),
        ("maxP95ResponseTime", t.max_p95_response_time, None),
        ("maxP99ResponseTime", t.max_p99_response_time, None),
        ("minRequestsPerSecond", t.min_requests_per_second, None),
    ];
    if limits.iter().all(|(_, v, _)| v.is_none()) {
        errors.add(
            "spec.thresholds",
            "set at least one limit (maxFailureRatio, maxAverageResponseTime, \
             maxP95ResponseTime, maxP99ResponseTime or minRequestsPerSecond), or remove \
             thresholds",
        );
    }
    for (name, value, max) in limits {
        let Some(v) = value else { continue };
        let field = format!("spec.thresholds.{name}");
        if !v.is_finite() || v < 0.0 {
            errors.add(field, format!("must be a number, 0 or more (got {v})"));
        } else if let Some(max) = max.filter(|m| v > *m) {
            errors.add(
                field,
                format!("must be from 0 to {max}: a ratio, 0.01 meaning 1 % (got {v})"),
            );
        }
    }
}
