//! The life of an alert rule: `inactive → pending → firing → inactive`, like Prometheus.
//!
//! The condition must hold continuously for `for` before the alert fires; a pending alert whose
//! condition stops holding goes back to inactive without firing; a firing alert resolves as soon
//! as the condition stops holding. `for: 0s` fires on the first evaluation that holds.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Pending { since: Timestamp },
    Firing { since: Timestamp },
}

/// A change worth recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertChange {
    /// The condition started to hold.
    Pending,
    /// It held for `for`: the alert fires.
    Firing,
    /// A firing alert's condition no longer holds.
    Resolved,
    /// A pending alert's condition stopped holding before `for` passed.
    Cleared,
}

impl AlertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending { .. } => "pending",
            AlertState::Firing { .. } => "firing",
        }
    }

    /// Applies one evaluation at `now`.
    pub fn step(
        self,
        holds: bool,
        now: Timestamp,
        for_: Duration,
    ) -> (AlertState, Option<AlertChange>) {
        let fires_at = |since: Timestamp| {
            SignedDuration::try_from(for_)
                .ok()
                .and_then(|d| since.checked_add(d).ok())
                .unwrap_or(Timestamp::MAX)
        };
        match (self, holds) {
            (AlertState::Inactive, false) => (self, None),
            (AlertState::Inactive, true) if for_.is_zero() => {
                (AlertState::Firing { since: now }, Some(AlertChange::Firing))
            }
            (AlertState::Inactive, true) => (
                AlertState::Pending { since: now },
                Some(AlertChange::Pending),
            ),
            (AlertState::Pending { since }, true) if now >= fires_at(since) => {
                (AlertState::Firing { since: now }, Some(AlertChange::Firing))
            }
            (AlertState::Pending { .. }, true) | (AlertState::Firing { .. }, true) => (self, None),
            (AlertState::Pending { .. }, false) => {
                (AlertState::Inactive, Some(AlertChange::Cleared))
            }
            (AlertState::Firing { .. }, false) => {
                (AlertState::Inactive, Some(AlertChange::Resolved))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    const FIVE_MIN: Duration = Duration::from_secs(300);

    #[test]
    fn fires_only_after_holding_for_the_whole_duration() {
        let s = AlertState::Inactive;
        let (s, c) = s.step(true, at(0), FIVE_MIN);
        assert_eq!(c, Some(AlertChange::Pending));
        let (s, c) = s.step(true, at(299), FIVE_MIN);
        assert_eq!((s, c), (AlertState::Pending { since: at(0) }, None));
        let (s, c) = s.step(true, at(300), FIVE_MIN);
        assert_eq!(
            (s, c),
            (
                AlertState::Firing { since: at(300) },
                Some(AlertChange::Firing)
            )
        );
        let (s, c) = s.step(true, at(400), FIVE_MIN);
        assert_eq!(c, None);
        let (s, c) = s.step(false, at(401), FIVE_MIN);
        assert_eq!((s, c), (AlertState::Inactive, Some(AlertChange::Resolved)));
    }

    #[test]
    fn an_interruption_restarts_the_clock() {
        let (s, _) = AlertState::Inactive.step(true, at(0), FIVE_MIN);
        let (s, c) = s.step(false, at(200), FIVE_MIN);
        assert_eq!((s, c), (AlertState::Inactive, Some(AlertChange::Cleared)));
        let (s, _) = s.step(true, at(250), FIVE_MIN);
        let (s, c) = s.step(true, at(500), FIVE_MIN);
        assert_eq!(c, None, "only 250 s since it held again");
        assert_eq!(s.as_str(), "pending");
    }

    #[test]
    fn zero_for_fires_at_once() {
        let (s, c) = AlertState::Inactive.step(true, at(0), Duration::ZERO);
        assert_eq!(
            (s, c),
            (
                AlertState::Firing { since: at(0) },
                Some(AlertChange::Firing)
            )
        );
    }
}
