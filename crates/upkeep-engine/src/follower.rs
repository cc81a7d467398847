//! The one way the engine follows the operator event log (`monitor_events`): a named cursor
//! that moves forward through the *settled* events, in log order.
//!
//! An event is settled once no transaction that could still commit an earlier one is in
//! flight (see [`EventPosition`]), so a follower never skips an event that commits late and
//! never reads one twice, without waiting an arbitrary time. The automatic incidents and the
//! operator alerts both follow the log this way; each decides what an event means and when to
//! save its cursor (after each event, or with the changes it caused, in one transaction).

use jiff::{SignedDuration, Timestamp};
use upkeep_store::incidents::EventPosition;
use upkeep_store::monitoring::StoredMonitorEvent;
use upkeep_store::{Store, StoreError};

/// A follower of the event log under one cursor name.
#[derive(Debug, Clone, Copy)]
pub struct EventFollower {
    /// The cursor's name in the `cursors` table.
    pub cursor: &'static str,
    /// Most events read at once.
    pub batch: u32,
}

/// Where a follower stands before a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The saved cursor.
    Saved(EventPosition),
    /// No cursor yet (a database never followed): where to start, not saved.
    Fresh(EventPosition),
}

impl Position {
    /// The position, saved or not.
    pub fn at(self) -> EventPosition {
        match self {
            Position::Saved(p) | Position::Fresh(p) => p,
        }
    }
}

impl EventFollower {
    /// A follower under the cursor `cursor`, reading at most `batch` events at once.
    pub const fn new(cursor: &'static str, batch: u32) -> Self {
        Self { cursor, batch }
    }

    /// The saved cursor, or on a database never followed the newest settled event older than
    /// `history` before `now` (the follower begins at the present, minus that much history).
    pub async fn position(
        &self,
        store: &Store,
        now: Timestamp,
        history: SignedDuration,
    ) -> Result<Position, StoreError> {
        if let Some(saved) = store.cursor(self.cursor).await? {
            return Ok(Position::Saved(saved));
        }
        let from = now.checked_sub(history).unwrap_or(now);
        Ok(Position::Fresh(
            store.last_monitor_event_before(from).await?,
        ))
    }

    /// The settled events after `after`, in log order, with their positions.
    pub async fn read(
        &self,
        store: &Store,
        after: EventPosition,
    ) -> Result<Vec<(EventPosition, StoredMonitorEvent)>, StoreError> {
        store.settled_monitor_events_after(after, self.batch).await
    }

    /// Saves the cursor at `position`.
    pub async fn save(
        &self,
        store: &Store,
        position: EventPosition,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        store.set_cursor(self.cursor, position, now).await
    }
}
