//! Probe agents watched (docs/agents.md): every heartbeat the lease holder judges each agent
//! whose token is valid (`upkeep_domain::agent::watch_state`: silent for three heartbeats, or
//! its clock off) and records a change as an `agent:NAME` event through the one transition
//! recorder, so operator alerts follow; an agent whose token is revoked is `ok` (nothing more
//! is expected of it).

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::agent;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::periodic::Periodic;
use crate::transitions::Transitions;

/// How often agents are judged.
pub const EVERY: Duration = agent::HEARTBEAT;

/// Runs until `stop` is cancelled, judging while `active` (the lease) holds.
pub async fn run(
    store: Store,
    clock: SharedClock,
    every: Duration,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut ticks = Periodic::while_held("agents-watch", every, active).start(stop);
    while ticks.next().await.is_some() {
        ticks.done(check(&store, &clock).await);
    }
}

/// One pass: judges every agent and records the changes. Returns them.
pub async fn check(store: &Store, clock: &SharedClock) -> Result<Vec<MonitorEvent>, StoreError> {
    let now = clock.now();
    let agents = store.list_agents().await?;
    let mut changes = Transitions::new(store, now);
    for a in agents {
        let (to, reason) = if a.active {
            agent::watch_state(a.last_seen_at, a.clock_offset_ms, now)
        } else {
            (EventState::Ok, Some("its token is revoked".to_owned()))
        };
        let source = EventSource::Agent(a.name.clone());
        let why = || {
            reason.unwrap_or_else(|| {
                format!(
                    "heard from again (location {}, version {})",
                    a.location, a.version
                )
            })
        };
        if let Some(event) = changes.observe(source, EventState::Ok, to, why).await? {
            tracing::warn!(agent = %a.name, to = %event.to, reason = %event.reason, "probe agent");
        }
    }
    changes.record().await
}
