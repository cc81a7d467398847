//! A monitor's state and how check results move it: `failure_threshold` consecutive failures
//! take it down, `recovery_threshold` consecutive successes bring it back, so one lost packet
//! never flaps the page.
//!
//! Decisions:
//! - A new monitor is `pending` until its first result: a success makes it `up` at once; it
//!   becomes `down` only after `failure_threshold` consecutive failures (it stays `pending` in
//!   between, so a monitor that never worked does not show as up).
//! - `paused` ignores results; resuming returns to `pending` with fresh counters.
//! - Every change of status is a [`Transition`], which the engine records as an event.

use jiff::Timestamp;

/// Where a monitor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorStatus {
    Pending,
    Up,
    Down,
    Paused,
    /// Probed from several locations, and too few of them reported for a quorum
    /// (docs/agents.md): neither up nor down.
    Unknown,
}

impl MonitorStatus {
    pub const ALL: [MonitorStatus; 5] = [
        MonitorStatus::Pending,
        MonitorStatus::Up,
        MonitorStatus::Down,
        MonitorStatus::Paused,
        MonitorStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorStatus::Pending => "pending",
            MonitorStatus::Up => "up",
            MonitorStatus::Down => "down",
            MonitorStatus::Paused => "paused",
            MonitorStatus::Unknown => "unknown",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<MonitorStatus> {
        MonitorStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for MonitorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many consecutive results it takes to change state (each at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub failure: u32,
    pub recovery: u32,
}

/// A change of status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: MonitorStatus,
    pub to: MonitorStatus,
    pub at: Timestamp,
}

/// The debounced state of one monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorState {
    pub status: MonitorStatus,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// When `status` last changed.
    pub changed_at: Timestamp,
}

impl MonitorState {
    /// A monitor seen for the first time at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self {
            status: MonitorStatus::Pending,
            consecutive_failures: 0,
            consecutive_successes: 0,
            changed_at: at,
        }
    }

    fn move_to(&mut self, to: MonitorStatus, at: Timestamp) -> Option<Transition> {
        if self.status == to {
            return None;
        }
        let transition = Transition {
            from: self.status,
            to,
            at,
        };
        self.status = to;
        self.changed_at = at;
        Some(transition)
    }

    /// Applies one check result.
    pub fn observe(&mut self, ok: bool, at: Timestamp, t: Thresholds) -> Option<Transition> {
        if self.status == MonitorStatus::Paused {
            return None;
        }
        if ok {
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
            self.consecutive_failures = 0;
            let recovered = match self.status {
                MonitorStatus::Pending | MonitorStatus::Unknown => true,
                MonitorStatus::Down => self.consecutive_successes >= t.recovery.max(1),
                MonitorStatus::Up | MonitorStatus::Paused => false,
            };
            if recovered {
                return self.move_to(MonitorStatus::Up, at);
            }
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.consecutive_successes = 0;
            let failed = matches!(
                self.status,
                MonitorStatus::Pending | MonitorStatus::Up | MonitorStatus::Unknown
            ) && self.consecutive_failures >= t.failure.max(1);
            if failed {
                return self.move_to(MonitorStatus::Down, at);
            }
        }
        None
    }

    /// Applies a round that could not be judged (too few locations reported). A monitor that
    /// is up or pending becomes `unknown`; one that is down stays down (an outage ends only
    /// when a quorum sees the monitor pass); a paused one stays paused. The counts of
    /// consecutive results start again.
    pub fn observe_unknown(&mut self, at: Timestamp) -> Option<Transition> {
        match self.status {
            MonitorStatus::Paused | MonitorStatus::Down => None,
            MonitorStatus::Pending | MonitorStatus::Up | MonitorStatus::Unknown => {
                self.consecutive_failures = 0;
                self.consecutive_successes = 0;
                self.move_to(MonitorStatus::Unknown, at)
            }
        }
    }

    /// Stops acting on results.
    pub fn pause(&mut self, at: Timestamp) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.consecutive_successes = 0;
        self.move_to(MonitorStatus::Paused, at)
    }

    /// Acts on results again, starting from `pending`.
    pub fn resume(&mut self, at: Timestamp) -> Option<Transition> {
        if self.status != MonitorStatus::Paused {
            return None;
        }
        self.move_to(MonitorStatus::Pending, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    const T3_1: Thresholds = Thresholds {
        failure: 3,
        recovery: 1,
    };

    #[test]
    fn unknown_rounds_never_make_a_monitor_up_or_end_an_outage() {
        let mut s = MonitorState::new(at(0));
        assert_eq!(
            s.observe(true, at(1), T3_1).map(|t| t.to),
            Some(MonitorStatus::Up)
        );
        assert_eq!(
            s.observe_unknown(at(2)).map(|t| (t.from, t.to)),
            Some((MonitorStatus::Up, MonitorStatus::Unknown))
        );
        assert_eq!(s.observe_unknown(at(3)), None);
        // Failures after unknown rounds count from zero, as from pending.
        assert_eq!(s.observe(false, at(4), T3_1), None);
        assert_eq!(s.observe(false, at(5), T3_1), None);
        assert_eq!(
            s.observe(false, at(6), T3_1).map(|t| t.to),
            Some(MonitorStatus::Down)
        );
        // Down stays down while it cannot be judged.
        assert_eq!(s.observe_unknown(at(7)), None);
        assert_eq!(s.status, MonitorStatus::Down);
        assert_eq!(
            s.observe(true, at(8), T3_1).map(|t| t.to),
            Some(MonitorStatus::Up)
        );
        // One passing round after unknown ones is up again.
        s.observe_unknown(at(9));
        assert_eq!(
            s.observe(true, at(10), T3_1).map(|t| t.to),
            Some(MonitorStatus::Up)
        );
        // Paused ignores them.
        s.pause(at(11));
        assert_eq!(s.observe_unknown(at(12)), None);
    }

    #[test]
    fn three_failures_take_it_down_and_one_success_brings_it_back() {
        let mut s = MonitorState::new(at(0));
        assert_eq!(
            s.observe(true, at(1), T3_1).map(|t| t.to),
            Some(MonitorStatus::Up)
        );
        assert_eq!(s.observe(false, at(2), T3_1), None);
        assert_eq!(s.observe(false, at(3), T3_1), None);
        let down = s.observe(false, at(4), T3_1);
        assert_eq!(
            down,
            Some(Transition {
                from: MonitorStatus::Up,
                to: MonitorStatus::Down,
                at: at(4)
            })
        );
        assert_eq!(s.changed_at, at(4));
        assert_eq!(s.observe(false, at(5), T3_1), None, "already down");
        assert_eq!(
            s.observe(true, at(6), T3_1).map(|t| t.to),
            Some(MonitorStatus::Up)
        );
    }

    #[test]
    fn a_flap_below_the_threshold_changes_nothing() {
        let mut s = MonitorState::new(at(0));
        s.observe(true, at(1), T3_1);
        for i in 0..50 {
            assert_eq!(s.observe(i % 3 == 2, at(2 + i), T3_1), None, "result {i}");
        }
        assert_eq!(s.status, MonitorStatus::Up);
    }

    #[test]
    fn a_monitor_that_never_worked_stays_pending_until_the_threshold() {
        let mut s = MonitorState::new(at(0));
        assert_eq!(s.observe(false, at(1), T3_1), None);
        assert_eq!(s.status, MonitorStatus::Pending);
        assert_eq!(s.observe(false, at(2), T3_1), None);
        assert_eq!(
            s.observe(false, at(3), T3_1).map(|t| t.from),
            Some(MonitorStatus::Pending)
        );
        assert_eq!(s.status, MonitorStatus::Down);
    }

    #[test]
    fn recovery_threshold_needs_consecutive_successes() {
        let t = Thresholds {
            failure: 1,
            recovery: 3,
        };
        let mut s = MonitorState::new(at(0));
        s.observe(false, at(1), t);
        assert_eq!(s.status, MonitorStatus::Down);
        s.observe(true, at(2), t);
        s.observe(true, at(3), t);
        s.observe(false, at(4), t);
        s.observe(true, at(5), t);
        s.observe(true, at(6), t);
        assert_eq!(s.status, MonitorStatus::Down, "the failure reset the count");
        assert!(s.observe(true, at(7), t).is_some());
        assert_eq!(s.status, MonitorStatus::Up);
    }

    #[test]
    fn paused_ignores_results_and_resume_starts_over() {
        let mut s = MonitorState::new(at(0));
        s.observe(true, at(1), T3_1);
        assert!(s.pause(at(2)).is_some());
        for i in 0..10 {
            assert_eq!(s.observe(false, at(3 + i), T3_1), None);
        }
        assert_eq!(s.status, MonitorStatus::Paused);
        assert_eq!(s.resume(at(20)).map(|t| t.to), Some(MonitorStatus::Pending));
        assert_eq!(s.resume(at(21)), None);
        assert_eq!(MonitorStatus::parse("paused"), Some(MonitorStatus::Paused));
        assert_eq!(MonitorStatus::parse("sleeping"), None);
    }

    proptest! {
        /// Whatever the sequence: the monitor is down only right after at least `failure`
        /// consecutive failures... unless it was already down; it turns up from down only after
        /// `recovery` consecutive successes; and every transition changes the status.
        #[test]
        fn transitions_respect_the_thresholds(
            results in proptest::collection::vec(any::<bool>(), 0..200),
            failure in 1u32..6,
            recovery in 1u32..6,
        ) {
            let t = Thresholds { failure, recovery };
            let mut s = MonitorState::new(at(0));
            let mut run_fail = 0u32;
            let mut run_ok = 0u32;
            for (i, ok) in results.into_iter().enumerate() {
                let before = s.status;
                if ok { run_ok += 1; run_fail = 0; } else { run_fail += 1; run_ok = 0; }
                let tr = s.observe(ok, at(i as i64 + 1), t);
                if let Some(tr) = tr {
                    prop_assert_ne!(tr.from, tr.to);
                    prop_assert_eq!(tr.from, before);
                    match tr.to {
                        MonitorStatus::Down => prop_assert!(run_fail >= failure),
                        MonitorStatus::Up if before == MonitorStatus::Down => prop_assert!(run_ok >= recovery),
                        MonitorStatus::Up => prop_assert_eq!(before, MonitorStatus::Pending),
                        other => prop_assert!(false, "unexpected transition to {other}"),
                    }
                } else {
                    prop_assert_eq!(s.status, before);
                }
                prop_assert_eq!(s.consecutive_failures, run_fail);
                prop_assert_eq!(s.consecutive_successes, run_ok);
            }
        }
    }
}
