//! Where a maintenance stands at an instant: the transitions that happen by themselves at its
//! start and end (`docs/decisions.md#maintenance`). Transitions by hand (cancel, end early,
//! complete a verifying window) are the caller's; this module only says what time has made due.
//!
//! Rules ([`due_transition`]):
//! - `scheduled` → `in_progress` once `now ≥ start`, if the pre-flight checks passed; a failing
//!   check holds it in `scheduled`.
//! - `in_progress` → at `now ≥ end`: `verifying` when verification is needed (the window's
//!   components are not all green), otherwise `completed`.
//! - `verifying` → `completed` once verification is no longer needed (components green);
//!   otherwise it waits (or is completed by hand).
//! - `scheduled` with `now ≥ end` goes straight to `completed`: the whole span passed while
//!   nothing moved it (the server was down, or the start was held until the end). The checks do
//!   not matter any more and nothing is left to verify, so it neither starts nor verifies.
//! - `completed` and `cancelled` are terminal.
//!
//! The rules are written so that applying [`due_transition`] until it answers `None` takes at
//! most two steps, whatever the inputs: a restart after any outage reaches the right status at
//! once.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

/// The status of a maintenance (`docs/decisions.md#maintenance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Scheduled,
    InProgress,
    Verifying,
    Completed,
    Cancelled,
}

impl MaintenanceStatus {
    pub const ALL: [MaintenanceStatus; 5] = [
        MaintenanceStatus::Scheduled,
        MaintenanceStatus::InProgress,
        MaintenanceStatus::Verifying,
        MaintenanceStatus::Completed,
        MaintenanceStatus::Cancelled,
    ];

    /// The API and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "scheduled",
            MaintenanceStatus::InProgress => "in_progress",
            MaintenanceStatus::Verifying => "verifying",
            MaintenanceStatus::Completed => "completed",
            MaintenanceStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<MaintenanceStatus> {
        MaintenanceStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// Whether the status never changes again (`completed`, `cancelled`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            MaintenanceStatus::Completed | MaintenanceStatus::Cancelled
        )
    }
}

impl fmt::Display for MaintenanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status time has made due for a maintenance spanning `[start, end)`, or `None` when it
/// stays as it is. `checks_passed`: every pre-flight check passed. `verifying_enabled`: the end
/// must be verified (the window's components are not all green); see the module documentation.
pub fn due_transition(
    current: MaintenanceStatus,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
    checks_passed: bool,
    verifying_enabled: bool,
) -> Option<MaintenanceStatus> {
    use MaintenanceStatus::*;
    match current {
        Scheduled if now >= end => Some(Completed),
        Scheduled if now >= start && checks_passed => Some(InProgress),
        InProgress if now >= end && verifying_enabled => Some(Verifying),
        InProgress if now >= end => Some(Completed),
        Verifying if !verifying_enabled => Some(Completed),
        Scheduled | InProgress | Verifying | Completed | Cancelled => None,
    }
}

/// Whether `[start, end)` covers the instant `at` (start included, end excluded).
pub fn covers(start: Timestamp, end: Timestamp, at: Timestamp) -> bool {
    start <= at && at < end
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::MaintenanceStatus::*;
    use super::*;
    use jiff::ToSpan;
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn span() -> (Timestamp, Timestamp) {
        (ts("2026-12-05T21:00:00Z"), ts("2026-12-06T01:00:00Z"))
    }

    #[test]
    fn names_round_trip() {
        for status in MaintenanceStatus::ALL {
            assert_eq!(MaintenanceStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(MaintenanceStatus::parse("InProgress"), None);
        assert_eq!(MaintenanceStatus::parse("in-progress"), None);
        assert!(Completed.is_terminal() && Cancelled.is_terminal());
        assert!(!Scheduled.is_terminal() && !InProgress.is_terminal() && !Verifying.is_terminal());
    }

    #[test]
    fn scheduled_waits_for_its_start() {
        let (start, end) = span();
        assert_eq!(
            due_transition(Scheduled, start, end, start - 1.millisecond(), true, false),
            None
        );
        assert_eq!(
            due_transition(Scheduled, start, end, start, true, false),
            Some(InProgress)
        );
    }

    #[test]
    fn failing_checks_hold_the_start() {
        let (start, end) = span();
        let now = start + 1.hour();
        assert_eq!(
            due_transition(Scheduled, start, end, now, false, false),
            None
        );
        assert_eq!(
            due_transition(Scheduled, start, end, now, true, false),
            Some(InProgress)
        );
    }

    #[test]
    fn in_progress_ends_at_the_end() {
        let (start, end) = span();
        let before = end - 1.millisecond();
        assert_eq!(
            due_transition(InProgress, start, end, before, true, true),
            None
        );
        assert_eq!(
            due_transition(InProgress, start, end, end, true, false),
            Some(Completed)
        );
        assert_eq!(
            due_transition(InProgress, start, end, end, true, true),
            Some(Verifying)
        );
        // The checks are pre-flight: they do not matter once started.
        assert_eq!(
            due_transition(InProgress, start, end, end, false, false),
            Some(Completed)
        );
    }

    #[test]
    fn verifying_completes_when_no_longer_needed() {
        let (start, end) = span();
        let now = end + 10.minutes();
        assert_eq!(due_transition(Verifying, start, end, now, true, true), None);
        assert_eq!(
            due_transition(Verifying, start, end, now, true, false),
            Some(Completed)
        );
    }

    #[test]
    fn terminal_states_never_move() {
        let (start, end) = span();
        for status in [Completed, Cancelled] {
            for now in [start - 1.hour(), start, end, end + 1.hour()] {
                for (checks, verify) in [(true, true), (false, false), (true, false)] {
                    assert_eq!(
                        due_transition(status, start, end, now, checks, verify),
                        None
                    );
                }
            }
        }
    }

    #[test]
    fn restart_after_the_whole_window_completes_a_scheduled_one() {
        let (start, end) = span();
        let now = end + 3.hours();
        for (checks, verify) in [(true, true), (false, true), (false, false)] {
            assert_eq!(
                due_transition(Scheduled, start, end, now, checks, verify),
                Some(Completed)
            );
        }
        // Exactly at the end, too: the window no longer covers `now`.
        assert_eq!(
            due_transition(Scheduled, start, end, end, true, true),
            Some(Completed)
        );
    }

    #[test]
    fn restart_in_the_middle_starts_it_and_restart_after_ends_it() {
        let (start, end) = span();
        let middle = start + 2.hours();
        assert_eq!(
            due_transition(Scheduled, start, end, middle, true, true),
            Some(InProgress)
        );
        let after = end + 1.hour();
        assert_eq!(
            due_transition(InProgress, start, end, after, true, true),
            Some(Verifying)
        );
    }

    #[test]
    fn one_started_by_hand_before_its_start_stays_in_progress() {
        let (start, end) = span();
        let early = start - 1.hour();
        assert_eq!(
            due_transition(InProgress, start, end, early, false, false),
            None
        );
        // Even with no length at all, until its end.
        assert_eq!(
            due_transition(InProgress, start, start, early, false, false),
            None
        );
    }

    #[test]
    fn covers_is_half_open() {
        let (start, end) = span();
        assert!(covers(start, end, start));
        assert!(covers(start, end, end - 1.nanosecond()));
        assert!(!covers(start, end, end));
        assert!(!covers(start, end, start - 1.nanosecond()));
        assert!(
            !covers(end, start, start),
            "an inverted span covers nothing"
        );
    }

    fn status_strategy() -> impl Strategy<Value = MaintenanceStatus> {
        proptest::sample::select(MaintenanceStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn repeated_application_reaches_a_fixed_point_quickly(
            current in status_strategy(),
            start_s in 0i64..10_000,
            length_s in 0i64..10_000,
            now_s in -1_000i64..25_000,
            checks_passed: bool,
            verifying_enabled: bool,
        ) {
            let base = ts("2026-01-01T00:00:00Z");
            let start = base + start_s.seconds();
            let end = start + length_s.seconds();
            let now = base + now_s.seconds();
            let mut status = current;
            let mut steps = 0;
            while let Some(next) =
                due_transition(status, start, end, now, checks_passed, verifying_enabled)
            {
                prop_assert_ne!(next, status);
                prop_assert_ne!(next, Cancelled, "time never cancels");
                status = next;
                steps += 1;
                prop_assert!(steps <= 3, "no fixed point after 3 steps from {:?}", current);
            }
            // The fixed point agrees with the instant.
            if !current.is_terminal() {
                if now < start && current != Verifying {
                    prop_assert_eq!(status, current);
                }
                if now >= end && (status == InProgress || status == Scheduled) {
                    prop_assert!(false, "{:?} after the end", status);
                }
                if status == InProgress {
                    // Started by time only within its span (by hand it may start early).
                    prop_assert!(now < end);
                    if current == Scheduled {
                        prop_assert!(covers(start, end, now));
                    }
                }
            }
        }
    }
}
