//! Per-client-address rate limiting of the public side (GCRA through `governor`): a client over
//! its quota gets `429` with `Retry-After`, and everyone else is served as usual.
//!
//! The key is the real client of the request ([`crate::listener::ClientAddr`]: the TCP peer, or
//! behind one of `server.trusted_proxies` the address the proxy forwarded), reduced by
//! [`client_key`]: an IPv4 address, or the /64 network of an IPv6 one — one host usually holds a
//! whole /64, so per-address keys would let it rotate through 2^64 quotas.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::header::AUTHORIZATION;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::listener::ClientAddr;
use crate::problem::Problem;

#[derive(Debug)]
struct Limits<K: Hash + Eq + Clone> {
    per_second: u32,
    burst: u32,
    keyed: Option<Arc<DefaultKeyedRateLimiter<K>>>,
}

/// A keyed limiter whose quota can change on configuration reload: by client address (the
/// default), or by any other key (an API token's id).
#[derive(Debug)]
pub struct RateLimiter<K: Hash + Eq + Clone = IpAddr> {
    limits: RwLock<Limits<K>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_second` requests a second per key, with bursts up to `burst`; `per_second == 0`
    /// turns limiting off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            limits: RwLock::new(Self::build(per_second, burst)),
        }
    }

    fn build(per_second: u32, burst: u32) -> Limits<K> {
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

    /// `Ok` when `key` may proceed, else how long it must wait.
    pub fn check_key(&self, key: &K) -> Result<(), Duration> {
        let keyed = {
            let limits = self.limits.read().unwrap_or_else(|e| e.into_inner());
            match &limits.keyed {
                Some(k) => Arc::clone(k),
                None => return Ok(()),
            }
        };
        keyed
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose quota has fully recovered, so memory stays bounded under a flood
    /// of distinct keys.
    pub fn forget_idle(&self) {
        let limits = self.limits.read().unwrap_or_else(|e| e.into_inner());
        if let Some(keyed) = &limits.keyed {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
    }
}

impl RateLimiter<IpAddr> {
    /// `Ok` when `ip` (keyed by [`client_key`]) may proceed, else how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check_key(&client_key(ip))
    }
}

/// Clients refused for a while without any work done: those whose requests with a bearer
/// token that did not authenticate went over their per-client quota.
#[derive(Debug, Default)]
pub struct Blocked {
    until: Mutex<HashMap<IpAddr, Instant>>,
}

impl Blocked {
    /// How long `client` is still refused, if it is.
    pub fn remaining(&self, client: IpAddr) -> Option<Duration> {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until
            .get(&client_key(client))
            .and_then(|t| t.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// Refuses `client` for `wait`.
    pub fn block(&self, client: IpAddr, wait: Duration) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.insert(client_key(client), Instant::now() + wait);
    }

    /// Forgets the blocks that ended.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.retain(|_, t| *t > now);
        until.shrink_to_fit();
    }
}

/// Set by [`crate::auth::Auth`] on a request whose bearer token authenticated.
#[derive(Debug, Clone, Default)]
pub struct Authenticated(Arc<AtomicBool>);

impl Authenticated {
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Middleware of everything but the pings: a request without a bearer token is limited per
/// client (`server.rate_limit`). A request with one is limited per token instead
/// (`server.token_rate_limit`, checked by [`crate::auth::Auth`] once the token is known), so
/// an admin's script is not throttled by the anonymous quota of its address; when its token
/// does not authenticate, the request is charged to its client afterwards, and a client over
/// its quota that way is refused before any work (no token lookup) until it has waited.
pub async fn limit_clients_or_tokens(
    State(state): State<crate::state::AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(AUTHORIZATION) {
        return match state.public_limiter.check(client) {
            Ok(()) => next.run(request).await,
            Err(wait) => over_quota(wait).into_response(),
        };
    }
    if let Some(wait) = state.blocked.remaining(client) {
        return over_quota(wait).into_response();
    }
    let authenticated = Authenticated::default();
    request.extensions_mut().insert(authenticated.clone());
    let response = next.run(request).await;
    if !authenticated.get()
        && let Err(wait) = state.public_limiter.check(client)
    {
        state.blocked.block(client, wait);
    }
    response
}

/// A keyed limiter counted a minute at a time (the quotas of `POST /subscribe` and of
/// unknown ping keys), whose quota can change on configuration reload.
#[derive(Debug)]
pub struct MinuteLimiter {
    limits: std::sync::RwLock<SubscribeQuota>,
}

/// A quota (a minute's rate and a burst) and its limiter, absent when the rate is 0.
type SubscribeQuota = (u32, u32, Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl MinuteLimiter {
    /// `per_minute` requests a minute per client, bursts up to `burst` (at least 1);
    /// `per_minute == 0` turns this limit off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            limits: std::sync::RwLock::new(Self::build(per_minute, burst)),
        }
    }

    fn build(per_minute: u32, burst: u32) -> SubscribeQuota {
        let keyed = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ))
        });
        (per_minute, burst, keyed)
    }

    /// Applies a new quota; counters restart only when it actually changed.
    pub fn reconfigure(&self, per_minute: u32, burst: u32) {
        let mut limits = self.limits.write().unwrap_or_else(|e| e.into_inner());
        if (limits.0, limits.1) != (per_minute, burst) {
            *limits = Self::build(per_minute, burst);
        }
    }

    fn keyed(&self) -> Option<Arc<DefaultKeyedRateLimiter<IpAddr>>> {
        let limits = self.limits.read().unwrap_or_else(|e| e.into_inner());
        limits.2.clone()
    }

    /// `Ok` when `ip` may proceed, else how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(keyed) = self.keyed() else {
            return Ok(());
        };
        keyed
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets addresses whose quota has fully recovered.
    pub fn forget_idle(&self) {
        if let Some(keyed) = self.keyed() {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
    }
}

/// A keyed budget counted an hour at a time (the confirmation mails: `()` for all of them,
/// a domain for one domain's), whose budget can change on configuration reload: the whole
/// hour may be spent at once, then it recovers steadily.
#[derive(Debug)]
pub struct HourLimiter<K: Hash + Eq + Clone> {
    limits: RwLock<(u32, Option<Arc<DefaultKeyedRateLimiter<K>>>)>,
}

impl<K: Hash + Eq + Clone> HourLimiter<K> {
    /// `per_hour` a key an hour; 0 turns this budget off.
    pub fn new(per_hour: u32) -> Self {
        Self {
            limits: RwLock::new(Self::build(per_hour)),
        }
    }

    fn build(per_hour: u32) -> (u32, Option<Arc<DefaultKeyedRateLimiter<K>>>) {
        let keyed = NonZeroU32::new(per_hour)
            .map(|n| Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_hour(n))));
        (per_hour, keyed)
    }

    /// Applies a new budget; counters restart only when it actually changed.
    pub fn reconfigure(&self, per_hour: u32) {
        let mut limits = self.limits.write().unwrap_or_else(|e| e.into_inner());
        if limits.0 != per_hour {
            *limits = Self::build(per_hour);
        }
    }

    fn keyed(&self) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
        let limits = self.limits.read().unwrap_or_else(|e| e.into_inner());
        limits.1.clone()
    }

    /// Spends one from `key`'s budget: `Ok`, or how long until there is one again.
    pub fn check_key(&self, key: &K) -> Result<(), Duration> {
        let Some(keyed) = self.keyed() else {
            return Ok(());
        };
        keyed
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose budget has fully recovered.
    pub fn forget_idle(&self) {
        if let Some(keyed) = self.keyed() {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
    }
}

/// Middleware: rejects a client over its quota with 429 and `Retry-After`.
pub async fn limit_public(
    State(limiter): State<Arc<RateLimiter>>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    request: Request,
    next: Next,
) -> Response {
    match limiter.check(client) {
        Ok(()) => next.run(request).await,
        Err(wait) => over_quota(wait).into_response(),
    }
}

/// Documents in `doc` the `429` every operation may answer (a per-token or per-client quota).
pub fn document_429(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let response = ResponseBuilder::new()
        .description(
            "Over the token's quota (`server.token_rate_limit`), or without a token over the \
             client's (`server.rate_limit`); `Retry-After` says when to try again",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("429".to_owned())
                .or_insert_with(|| response.clone().into());
        }
    }
}

/// The answer to a client over a quota for `wait` more: 429 with `Retry-After` in whole
/// seconds (at least 1), counted.
pub fn over_quota(wait: Duration) -> Problem {
    metrics::counter!("upkeep_http_rate_limited_total").increment(1);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Problem::too_many_requests(secs.max(1))
}

/// The rate-limit key of a client address: IPv4 as it is (an IPv4-mapped IPv6 address as its
/// IPv4 address), IPv6 by its /64 network.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_the_quota_of_their_64() {
        let limiter = RateLimiter::new(1, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap_or(IpAddr::from([0; 16]));
        let b: IpAddr = "2001:db8:1:2:ffff::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 16]));
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(b).is_ok());
        assert!(limiter.check(a).is_err(), "same /64: one quota");
        assert!(limiter.check(other).is_ok(), "another /64 is unaffected");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(client_key(mapped), IpAddr::from([10, 0, 0, 1]));
    }

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
