//! Operator state changes kept as `monitor_events` rows: the backup, drill and SLO watchers
//! compare each state with the last one stored for its source, and record the changes of one
//! pass together. The previous state is the stored one, so restarts and lease hand-overs
//! neither repeat nor miss a change.

use jiff::Timestamp;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::{Store, StoreError};

/// The changes found in one pass, recorded by [`Transitions::record`].
pub(crate) struct Transitions<'a> {
    store: &'a Store,
    now: Timestamp,
    events: Vec<MonitorEvent>,
}

impl<'a> Transitions<'a> {
    pub(crate) fn new(store: &'a Store, now: Timestamp) -> Self {
        Self {
            store,
            now,
            events: Vec::new(),
        }
    }

    /// Compares `to` with the last state stored for `source` (`initial` when there is none);
    /// when they differ, keeps the change with the reason `reason` gives and returns it.
    pub(crate) async fn observe(
        &mut self,
        source: EventSource,
        initial: EventState,
        to: EventState,
        reason: impl FnOnce() -> String,
    ) -> Result<Option<&MonitorEvent>, StoreError> {
        let from = self
            .store
            .last_event_state(&source)
            .await?
            .unwrap_or(initial);
        if from == to {
            return Ok(None);
        }
        self.events.push(MonitorEvent {
            source,
            at: self.now,
            from,
            to,
            reason: reason(),
        });
        Ok(self.events.last())
    }

    /// Stores the changes kept, in one write, and returns them.
    pub(crate) async fn record(self) -> Result<Vec<MonitorEvent>, StoreError> {
        if !self.events.is_empty() {
            self.store.record_monitor_events(&self.events).await?;
        }
        Ok(self.events)
    }
}
