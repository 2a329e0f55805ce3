//! Authentication and authorization of `/metrics` scrapes when `METRICS_SECURE=true`, the
//! way controller-runtime's secure metrics do it.
//!
//! A scrape carries `Authorization: Bearer <token>` (Prometheus: `bearerTokenFile` or
//! `authorization`). The API server authenticates the token (a `TokenReview`) and decides
//! whether its user may `get` the non-resource URL `/metrics` (a `SubjectAccessReview`, so
//! RBAC's `nonResourceURLs: ["/metrics"]` grants it):
//!
//! | request | answer |
//! |---|---|
//! | no bearer token, or one the API server does not authenticate | 401 |
//! | an authenticated user without the permission | 403, naming the user |
//! | an authenticated user with it | 200, the metrics |
//! | the API server cannot be asked | 500 (logged; the token never is) |
//!
//! Answers are cached for [`CACHE_TTL`] by the token's SHA-256 digest (never the token),
//! in at most [`CACHE_CAPACITY`] entries, so a scrape every few seconds costs the API
//! server two requests a minute per token. Errors are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

/// The path and verb a scraper must be allowed (RBAC `nonResourceURLs`).
pub const METRICS_PATH: &str = "/metrics";
/// See [`METRICS_PATH`].
pub const METRICS_VERB: &str = "get";
/// How long an answer about one token is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Most tokens remembered at once.
pub const CACHE_CAPACITY: usize = 1024;

/// What the API server said about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a token the API server authenticates (401).
    Unauthenticated,
    /// Authenticated as this user, who may not get `/metrics` (403).
    Forbidden(String),
    /// Authenticated and allowed (200).
    Allowed,
}

/// The SHA-256 digest of a token: the cache's key, so no token is kept in memory.
type Digest = [u8; 32];

fn digest(token: &str) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// Verdicts by token digest, each for [`CACHE_TTL`], at most `capacity` of them.
#[derive(Debug)]
pub struct VerdictCache {
    ttl: Duration,
    capacity: usize,
    entries: HashMap<Digest, (Instant, Verdict)>,
}

impl VerdictCache {
    /// An empty cache keeping verdicts for `ttl`, at most `capacity` (at least 1) at once.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The verdict about `token` if one younger than the TTL is kept.
    pub fn get(&self, token: &str, now: Instant) -> Option<Verdict> {
        self.entries
            .get(&digest(token))
            .filter(|(at, _)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(_, verdict)| verdict.clone())
    }

    /// Keeps `verdict` about `token`. When full, expired entries go first; if none has
    /// expired, every entry goes (a burst of new tokens costs reviews, never memory).
    pub fn insert(&mut self, token: &str, verdict: Verdict, now: Instant) {
        let key = digest(token);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let ttl = self.ttl;
            self.entries
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (now, verdict));
    }

    /// How many verdicts are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no verdict is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks scrapers' tokens with the API server; cheap to clone (one cache).
#[derive(Clone)]
pub struct MetricsAuth {
    client: Client,
    cache: Arc<Mutex<VerdictCache>>,
}

impl std::fmt::Debug for MetricsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAuth").finish_non_exhaustive()
    }
}

impl MetricsAuth {
    /// Reviews tokens with `client` (which needs `create` on `tokenreviews` and
    /// `subjectaccessreviews`, config/rbac/metrics_auth_role.yaml).
    pub fn new(client: Client) -> Self {
        Self {
            client,
            cache: Arc::new(Mutex::new(VerdictCache::new(CACHE_TTL, CACHE_CAPACITY))),
        }
    }

    /// The verdict about `token`: cached, or asked of the API server (and cached).
    pub async fn check(&self, token: &str) -> Result<Verdict, kube::Error> {
        if let Some(verdict) = self.lock().get(token, Instant::now()) {
            return Ok(verdict);
        }
        let verdict = self.review(token).await?;
        self.lock().insert(token, verdict.clone(), Instant::now());
        Ok(verdict)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VerdictCache> {
        // A panic while holding the lock leaves a consistent map: keep using it.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn review(&self, token: &str) -> Result<Verdict, kube::Error> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let review = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let status = review.status.unwrap_or_default();
        let (Some(true), Some(user)) = (status.authenticated, status.user) else {
            return Ok(Verdict::Unauthenticated);
        };
        let access = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                groups: user.groups,
                uid: user.uid,
                extra: user.extra,
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(METRICS_PATH.to_owned()),
                    verb: Some(METRICS_VERB.to_owned()),
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let access = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &access)
            .await?;
        Ok(if access.status.is_some_and(|s| s.allowed) {
            Verdict::Allowed
        } else {
            Verdict::Forbidden(user.username.unwrap_or_default())
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case), if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The middleware in front of the HTTPS `/metrics`: 401, 403 or the route's answer.
pub async fn require_access(
    State(auth): State<MetricsAuth>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(request.headers()) else {
        return unauthorized("a bearer token is required (Authorization: Bearer <token>)");
    };
    match auth.check(token).await {
        Ok(Verdict::Allowed) => next.run(request).await,
        Ok(Verdict::Unauthenticated) => {
            unauthorized("the API server does not authenticate this bearer token")
        }
        Ok(Verdict::Forbidden(user)) => {
            tracing::debug!(%user, "a /metrics scrape was forbidden");
            (
                StatusCode::FORBIDDEN,
                format!(
                    "user {user:?} may not {METRICS_VERB} {METRICS_PATH}: bind it to a \
                     ClusterRole granting nonResourceURLs [\"{METRICS_PATH}\"] verbs \
                     [\"{METRICS_VERB}\"] (the chart's <release>-metrics-reader)"
                ),
            )
                .into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "cannot review a /metrics scraper's token with the API server");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot check the bearer token with the API server; see the operator's logs",
            )
                .into_response()
        }
    }
}

fn unauthorized(message: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn only_a_non_empty_bearer_token_counts() {
        assert_eq!(bearer_token(&headers("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
        for value in [
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwdw==",
            "abc",
            "Token abc",
        ] {
            assert_eq!(bearer_token(&headers(value)), None, "{value:?}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn verdicts_are_kept_for_the_ttl_by_digest() {
        let now = Instant::now();
        let mut cache = VerdictCache::new(Duration::from_secs(60), 8);
        cache.insert("token-a", Verdict::Allowed, now);
        cache.insert("token-b", Verdict::Forbidden("bob".into()), now);
        assert_eq!(cache.get("token-a", now), Some(Verdict::Allowed));
        assert_eq!(
            cache.get("token-b", now + Duration::from_secs(59)),
            Some(Verdict::Forbidden("bob".into()))
        );
        assert_eq!(cache.get("token-a", now + Duration::from_secs(60)), None);
        assert_eq!(cache.get("token-c", now), None);
        // The keys are digests: no token is kept.
        let debug = format!("{cache:?}");
        assert!(!debug.contains("token-a"), "{debug}");
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let start = Instant::now();
        let mut cache = VerdictCache::new(Duration::from_secs(60), 4);
        for i in 0..4 {
            cache.insert(&format!("t{i}"), Verdict::Allowed, start);
        }
        // Full of live entries: a new token empties it.
        cache.insert("t4", Verdict::Unauthenticated, start);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("t4", start), Some(Verdict::Unauthenticated));
        // Expired entries go first; live ones stay.
        let later = start + Duration::from_secs(61);
        for i in 5..8 {
            cache.insert(&format!("t{i}"), Verdict::Allowed, later);
        }
        cache.insert("t8", Verdict::Allowed, later);
        assert_eq!(cache.len(), 4);
        assert_eq!(cache.get("t5", later), Some(Verdict::Allowed));
        assert_eq!(cache.get("t4", later), None);
        // Refreshing a kept token does not evict anything.
        cache.insert("t5", Verdict::Unauthenticated, later);
        assert_eq!(cache.len(), 4);
        for i in 0..10_000 {
            cache.insert(&format!("flood-{i}"), Verdict::Unauthenticated, later);
            assert!(cache.len() <= 4);
        }
    }
}
