//! Rate limits: per API key on `/api/v1`, and per client address on the API
//! and on every state-changing request (any method but GET, HEAD and
//! OPTIONS: server functions, uploads, sign-in). Over the limit, a request
//! is answered 429 with `Retry-After` before any work is done.
//!
//! `governor`'s keyed GCRA limiters: a quota per minute with a burst of the
//! same size, no background task, no lock across the whole map. With Redis
//! configured, the same GCRA runs there ([`crate::cluster`]), so replicas
//! behind a load balancer share one count; the in-process limiters decide
//! while Redis does not answer.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// Requests per minute; `None` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub per_key: Option<NonZeroU32>,
    pub per_address: Option<NonZeroU32>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_key: NonZeroU32::new(600),
            per_address: NonZeroU32::new(1200),
        }
    }
}

/// Past this many keys tracked, forget the ones whose allowance is full
/// again, so made-up keys and addresses cannot grow the maps for ever.
const SHRINK_AT: usize = 10_000;

pub struct RateLimits {
    per_key: Option<DefaultKeyedRateLimiter<String>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trusted_proxies: Vec<ipnet::IpNet>,
    settings: RateLimitSettings,
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl RateLimits {
    pub fn new(
        settings: RateLimitSettings,
        trusted_proxies: Vec<ipnet::IpNet>,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            settings,
            cluster,
            per_key: settings
                .per_key
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_address: settings
                .per_address
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            trusted_proxies,
        })
    }

    /// Asks Redis first, when there is one and it answers.
    async fn shared(
        &self,
        limit: &str,
        who: &str,
        quota: Option<NonZeroU32>,
    ) -> Option<Result<(), Duration>> {
        let (cluster, quota) = (self.cluster.as_ref()?, quota?);
        cluster.rate_limit(limit, who, quota.get()).await
    }

    async fn check_key(&self, key: &str) -> Result<(), Duration> {
        // Keys are long random strings; their first 100 characters are
        // plenty to tell them apart and bound what a made-up one costs.
        let key: String = key.chars().take(100).collect();
        if let Some(outcome) = self.shared("key", &key, self.settings.per_key).await {
            return outcome;
        }
        let Some(limiter) = &self.per_key else {
            return Ok(());
        };
        if limiter.len() > SHRINK_AT {
            limiter.retain_recent();
        }
        limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    async fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        if let Some(outcome) = self
            .shared("address", &address.to_string(), self.settings.per_address)
            .await
        {
            return outcome;
        }
        let Some(limiter) = &self.per_address else {
            return Ok(());
        };
        if limiter.len() > SHRINK_AT {
            limiter.retain_recent();
        }
        limiter
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

fn too_many(wait: Duration, what: &str) -> AppError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    AppError::TooManyRequests {
        message: format!(
            "Too many requests {what}. Wait {secs} second{} and try again.",
            if secs == 1 { "" } else { "s" }
        ),
        retry_after_secs: secs.max(1),
    }
}

/// The middleware.
pub async fn enforce(
    State(limits): State<Arc<RateLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/v1/");
    let writes = !matches!(
        *request.method(),
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    );
    if !api && !writes {
        return next.run(request).await;
    }
    let refusal = |e: AppError| -> Response {
        if api {
            super::error::ApiError(e).into_response()
        } else {
            e.into_response()
        }
    };
    if api {
        if let Some(key) = crate::auth::keys::bearer(request.headers()) {
            if let Err(wait) = limits.check_key(key).await {
                return refusal(too_many(wait, "with this API key"));
            }
        }
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let client =
            crate::request::client_ip_from(peer, request.headers(), &limits.trusted_proxies);
        if let Err(wait) = limits.check_address(client).await {
            return refusal(too_many(wait, "from your address"));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_over_its_quota_waits_and_others_do_not() {
        let limits = RateLimits::new(
            RateLimitSettings {
                per_key: NonZeroU32::new(3),
                per_address: None,
            },
            vec![],
            None,
        );
        for _ in 0..3 {
            assert!(limits.check_key("lk_a").await.is_ok());
        }
        let wait = limits.check_key("lk_a").await.unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limits.check_key("lk_b").await.is_ok());
        // No address limit configured: never refused.
        for _ in 0..100 {
            assert!(limits
                .check_address("127.0.0.1".parse().unwrap())
                .await
                .is_ok());
        }
    }

    #[test]
    fn the_refusal_says_how_long_to_wait() {
        let e = too_many(Duration::from_millis(1500), "with this API key");
        assert_eq!(e.status(), 429);
        assert!(e.to_string().contains("Wait 2 seconds"), "{e}");
        let AppError::TooManyRequests {
            retry_after_secs, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!(retry_after_secs, 2);
    }
}
