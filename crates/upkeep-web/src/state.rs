//! What every request handler shares.

use std::sync::Arc;

use upkeep_engine::clock::SharedClock;
use upkeep_engine::config::ConfigHandle;
use upkeep_engine::monitoring::pings::PingWriter;
use upkeep_engine::monitoring::rules::RuleHandle;
use upkeep_engine::monitoring::scheduler::MonitorHandle;
use upkeep_engine::supervisor::Health;
use upkeep_store::Store;

use crate::rate_limit::RateLimiter;

/// Shared state of the HTTP side. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: ConfigHandle,
    pub clock: SharedClock,
    pub public_limiter: Arc<RateLimiter>,
    /// The per-token limit of authenticated API calls.
    pub token_limiter: Arc<RateLimiter<String>>,
    /// Clients refused for a while (see [`crate::rate_limit::limit_clients_or_tokens`]).
    pub blocked: Arc<crate::rate_limit::Blocked>,
    /// The per-address limit of `/ping/*`.
    pub ping_limiter: Arc<RateLimiter>,
    /// The probe scheduler, when it runs in this process.
    pub monitors: Option<MonitorHandle>,
    /// The alert-rule engine, when it runs in this process.
    pub rules: Option<RuleHandle>,
    /// The ping writer (group commit); a stopped one until [`AppState::with_pings`].
    pub pings: PingWriter,
    /// The public status data's snapshot (`/api/v2/*.json`), rebuilt by `status::keep_fresh`.
    pub status: crate::status::snapshot::SnapshotCell,
    /// The per-client budget of pings to unknown keys.
    pub ping_miss_limiter: Arc<crate::rate_limit::MinuteLimiter>,
    /// The tighter per-client limit of `POST /subscribe`.
    pub subscribe_limiter: Arc<crate::subscribe::SubscribeLimiter>,
    /// The budget of confirmation mails (`server.confirmation_mail_budget`) and the delays
    /// per address.
    pub confirmation_budget: crate::confirmation_budget::SharedBudget,
    /// The key of unsubscribe links, read from the store on first use.
    pub link_key: crate::subscribe::LinkKeyCache,
    /// Which background tasks are down, when the engine runs in this process (`/readyz`).
    pub health: Option<Health>,
    /// Cancelled when the server stops accepting connections: long-held requests (agents'
    /// long polls) answer at once instead of holding the shutdown up.
    pub draining: tokio_util::sync::CancellationToken,
}

impl AppState {
    pub fn new(store: Store, config: ConfigHandle, clock: SharedClock) -> Self {
        let server = config.current().config.server.clone();
        let (limits, ping) = (server.rate_limit, server.ping_rate_limit);
        Self {
            store,
            config,
            clock,
            public_limiter: Arc::new(RateLimiter::new(limits.per_second, limits.burst)),
            ping_limiter: Arc::new(RateLimiter::new(ping.per_second, ping.burst)),
            token_limiter: Arc::new(RateLimiter::new(
                server.token_rate_limit.per_second,
                server.token_rate_limit.burst,
            )),
            blocked: Default::default(),
            monitors: None,
            rules: None,
            pings: PingWriter::stopped(),
            status: Default::default(),
            ping_miss_limiter: Arc::new(crate::rate_limit::MinuteLimiter::new(
                server.ping_miss_rate_limit.per_minute,
                server.ping_miss_rate_limit.burst,
            )),
            subscribe_limiter: Arc::new(crate::subscribe::SubscribeLimiter::new(
                server.subscribe_rate_limit.per_minute,
                server.subscribe_rate_limit.burst,
            )),
            confirmation_budget: Arc::new(crate::confirmation_budget::ConfirmationBudget::new(
                server.confirmation_mail_budget,
            )),
            link_key: Default::default(),
            health: None,
            draining: Default::default(),
        }
    }

    /// The same state with the alert-rule engine's handle.
    pub fn with_rules(mut self, rules: RuleHandle) -> Self {
        self.rules = Some(rules);
        self
    }

    /// The same state with the probe scheduler's handle.
    pub fn with_monitors(mut self, monitors: MonitorHandle) -> Self {
        self.monitors = Some(monitors);
        self
    }

    /// The same state with the engine's view of its background tasks.
    pub fn with_health(mut self, health: Health) -> Self {
        self.health = Some(health);
        self
    }

    /// The same state with the ping writer's handle.
    pub fn with_pings(mut self, pings: PingWriter) -> Self {
        self.pings = pings;
        self
    }
}
