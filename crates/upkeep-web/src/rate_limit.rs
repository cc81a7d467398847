//! Per-client-address rate limiting of the public side (GCRA through `governor`): a client over
//! its quota gets `429` with `Retry-After`, and everyone else is served as usual.
//!
//! The key is the peer address of the connection. Behind a reverse proxy every request shares
//! the proxy's address, so the proxy should limit instead (documented in the README).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::listener::ClientAddr;
use crate::problem::Problem;

#[derive(Debug)]
struct Limits {
    per_second: u32,
    burst: u32,
    keyed: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

/// A keyed limiter whose quota can change on configuration reload.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RwLock<Limits>,
}

impl RateLimiter {
    /// `per_second` requests a second per client address, with bursts up to `burst`;
    /// `per_second == 0` turns limiting off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            limits: RwLock::new(Self::build(per_second, burst)),
        }
    }

    fn build(per_second: u32, burst: u32) -> Limits {
        let keyed = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        Limits {
            per_second,
            burst,
            keyed,
        }
    }

    /// Applies a new quota; counters restart only when it actually changed.
    pub fn reconfigure(&self, per_second: u32, burst: u32) {
        let mut limits = self.limits.write().unwrap_or_else(|e| e.into_inner());
        if limits.per_second != per_second || limits.burst != burst {
            *limits = Self::build(per_second, burst);
        }
    }

    /// `Ok` when `ip` may proceed, else how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let keyed = {
            let limits = self.limits.read().unwrap_or_else(|e| e.into_inner());
            match &limits.keyed {
                Some(k) => Arc::clone(k),
                None => return Ok(()),
            }
        };
        keyed
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose quota has fully recovered, so memory stays bounded under a flood
    /// of distinct addresses.
    pub fn forget_idle(&self) {
        let limits = self.limits.read().unwrap_or_else(|e| e.into_inner());
        if let Some(keyed) = &limits.keyed {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
    }
}

/// Middleware: rejects a client over its quota with 429 and `Retry-After`.
pub async fn limit_public(
    State(limiter): State<Arc<RateLimiter>>,
    ConnectInfo(ClientAddr(addr)): ConnectInfo<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    match limiter.check(addr.ip()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            metrics::counter!("upkeep_http_rate_limited_total").increment(1);
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Problem::too_many_requests(secs.max(1)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_burst_waits_and_others_do_not() {
        let limiter = RateLimiter::new(1, 3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).err();
        assert!(
            wait.is_some_and(|w| w <= Duration::from_secs(1)),
            "{wait:?}"
        );
        assert!(limiter.check(b).is_ok(), "another client is unaffected");
    }

    #[test]
    fn zero_disables_and_reconfigure_applies() {
        let limiter = RateLimiter::new(0, 0);
        let a: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..1000 {
            assert!(limiter.check(a).is_ok());
        }
        limiter.reconfigure(1, 1);
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
    }
}
