//! Rules on the object's metadata.

use super::Errors;
use crate::api::v2::LocustTest;

/// Longest object name Kubernetes accepts (DNS-1123 subdomain).
const MAX_NAME_LEN: usize = 253;

pub(super) fn check(test: &LocustTest, errors: &mut Errors) {
    match test.metadata.name.as_deref() {
        None | Some("") => errors.add("metadata.name", "is required: give the test a name"),
        Some(name) if !is_dns1123_subdomain(name) => errors.add(
            "metadata.name",
            format!(
                "{name:?} is not a valid name: use at most {MAX_NAME_LEN} lowercase letters, \
                 digits, '-' and '.', starting and ending with a letter or digit"
            ),
        ),
        Some(_) => {}
    }
}

/// Lowercase alphanumerics, '-' and '.', at most 253 characters, each dot-separated part
/// starting and ending with an alphanumeric (Kubernetes sets no length on the parts).
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= MAX_NAME_LEN
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// Lowercase alphanumerics and '-', at most 63 characters, starting and ending with an
/// alphanumeric.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}
