//! What every request handler shares.

use std::sync::Arc;

use upkeep_engine::clock::SharedClock;
use upkeep_engine::config::ConfigHandle;
use upkeep_store::Store;

use crate::rate_limit::RateLimiter;

/// Shared state of the HTTP side. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: ConfigHandle,
    pub clock: SharedClock,
    pub public_limiter: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(store: Store, config: ConfigHandle, clock: SharedClock) -> Self {
        let limits = config.current().config.server.rate_limit;
        Self {
            store,
            config,
            clock,
            public_limiter: Arc::new(RateLimiter::new(limits.per_second, limits.burst)),
        }
    }
}
