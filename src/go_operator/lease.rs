//! Whether a Go operator holds its Lease (pure): a holder is named and the last renewal is
//! younger than the lease's duration.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

/// A Go-operator Lease that is held right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLease {
    /// The Lease's namespace (the Go operator's).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// The replica holding it (controller-runtime: `<pod name>_<uuid>`).
    pub holder: String,
    /// When it was last renewed (or acquired).
    pub renewed: Timestamp,
}

impl std::fmt::Display for HeldLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the Go locust-k8s-operator holds its Lease {}/{} (holder {}, renewed {}): this \
             operator does not reconcile while it runs; scale the Go operator's Deployment in \
             namespace {} to 0 replicas (its chart names it locust-operator)",
            self.namespace, self.name, self.holder, self.renewed, self.namespace
        )
    }
}

/// The lease as held at `now`, or `None`: no holder, never renewed, or expired (its last
/// renewal is at least `leaseDurationSeconds` old; a Lease without a duration counts as
/// held for controller-runtime's default, 15 s). A stopped Go operator does not release
/// its Lease, so it expires that long after the last renewal.
pub fn held(lease: &Lease, now: Timestamp) -> Option<HeldLease> {
    let spec = lease.spec.as_ref()?;
    let holder = spec
        .holder_identity
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())?;
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0)?;
    let seconds = i64::from(
        spec.lease_duration_seconds
            .unwrap_or(DEFAULT_DURATION_SECONDS),
    );
    let expires = renewed
        .as_millisecond()
        .saturating_add(seconds.saturating_mul(1000));
    (now.as_millisecond() < expires).then(|| HeldLease {
        namespace: lease.namespace().unwrap_or_default(),
        name: lease.name_any(),
        holder: holder.to_string(),
        renewed,
    })
}

/// controller-runtime's default `LeaseDuration`.
const DEFAULT_DURATION_SECONDS: i32 = 15;

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("a valid time")
    }

    fn lease(holder: Option<&str>, renewed: Option<i64>, duration: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(crate::go_operator::LEASE_NAME.into()),
                namespace: Some("locust-system".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_string),
                renew_time: renewed.map(|s| MicroTime(at(s))),
                lease_duration_seconds: duration,
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_lease_is_held_until_its_duration_has_passed_since_the_renewal() {
        let l = lease(Some("go-abc_123"), Some(0), Some(15));
        let h = held(&l, at(14)).expect("held at 14 s");
        assert_eq!(
            (h.namespace.as_str(), h.holder.as_str(), h.renewed),
            ("locust-system", "go-abc_123", at(0))
        );
        assert!(
            h.to_string()
                .contains("locust-system/locust-k8s-operator.locust.io")
        );
        assert_eq!(held(&l, at(15)), None, "expired at 15 s");
        assert_eq!(held(&l, at(600)), None);
        // Without a duration: controller-runtime's 15 s.
        assert!(held(&lease(Some("go"), Some(0), None), at(14)).is_some());
        assert!(held(&lease(Some("go"), Some(0), None), at(15)).is_none());
    }

    #[test]
    fn a_lease_without_holder_or_renewal_is_not_held() {
        assert_eq!(held(&lease(None, Some(0), Some(15)), at(1)), None);
        assert_eq!(held(&lease(Some(" "), Some(0), Some(15)), at(1)), None);
        assert_eq!(held(&lease(Some("go"), None, Some(15)), at(1)), None);
        assert_eq!(held(&Lease::default(), at(1)), None);
    }
}
