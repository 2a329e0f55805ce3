//! The client-side limit on requests to the API server: a token bucket (`KUBE_API_QPS`
//! requests per second on average, bursts of up to `KUBE_API_BURST`), as client-go's.
//!
//! tower's own `RateLimit` counts fixed one-second windows: once a window's requests are
//! spent, every request waits for the next window, which made a reconcile of a lone new
//! test wait up to a second on a quiet cluster (`make bench`, quiet p99 470 ms). A bucket
//! refills continuously, so a request waits at most `1 / qps`.
//!
//! Without `KUBE_API_QPS` there is no client-side limit: the API server's Priority and
//! Fairness protects it, and `RECONCILE_CONCURRENCY` bounds the requests in flight
//! (controller-runtime made the same choice in kubernetes-sigs/controller-runtime#3119,
//! on SIG API Machinery's advice).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// Tokens: how many requests may go now, refilled at `rate` per second up to `burst`.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens (at least one) refilled at `qps` per second.
    pub fn new(qps: u64, burst: u64, now: Instant) -> Self {
        let burst = burst.max(1) as f64;
        Self {
            rate: qps.max(1) as f64,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// A tower layer limiting requests with a [`Bucket`].
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    qps: u64,
    burst: u64,
}

impl RateLimitLayer {
    /// `qps` requests per second on average, bursts of `burst`.
    pub fn new(qps: u64, burst: u64) -> Self {
        Self { qps, burst }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            bucket: Bucket::new(self.qps, self.burst, Instant::now()),
            granted: false,
            sleep: None,
        }
    }
}

/// The service of [`RateLimitLayer`]: ready once a token is taken and the inner service
/// is ready. (kube's client puts a buffer in front, so one task drives it.)
pub struct RateLimit<S> {
    inner: S,
    bucket: Bucket,
    granted: bool,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<S, R> Service<R> for RateLimit<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        while !self.granted {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            match self.bucket.take(Instant::now()) {
                Ok(()) => self.granted = true,
                Err(wait) => self.sleep = Some(Box::pin(tokio::time::sleep(wait))),
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.granted = false;
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;
    use tower::{Layer, Service, ServiceExt};

    use super::{Bucket, RateLimitLayer};

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_paces() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 3, t0);
        for _ in 0..3 {
            assert_eq!(b.take(t0), Ok(()));
        }
        let wait = b.take(t0).expect_err("empty");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // A tenth of a second later one token is back, not a whole window's worth.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(b.take(t1), Ok(()));
        assert!(b.take(t1).is_err());
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(100, 2, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.take(later), Ok(()));
        assert_eq!(b.take(later), Ok(()));
        assert!(b.take(later).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_service_waits_for_tokens() {
        let mut svc = RateLimitLayer::new(5, 2).layer(tower::service_fn(|r: u32| async move {
            Ok::<_, std::convert::Infallible>(r)
        }));
        let start = Instant::now();
        for i in 0..7u32 {
            let got = svc.ready().await.expect("ready").call(i).await;
            assert_eq!(got, Ok(i));
        }
        // Two at once, then five more at 5 per second: one second.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(999) && took < Duration::from_millis(1100),
            "{took:?}"
        );
    }
}
