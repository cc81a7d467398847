//! Whether a push monitor's job is on time: the pure judgement over the pings received.
//!
//! Rules (`docs/decisions.md#heartbeats` and `#time`):
//! - A `period` schedule expects the next success within `period` of the last one; a `cron`
//!   schedule expects it at the next occurrence after the last one, computed in the schedule's
//!   zone (gap → forward, fold → first) and then converted to UTC before `grace` is added.
//! - The job is late once `grace` has passed after the due time. Before any success, the due
//!   time is counted from when upkeep began watching the monitor.
//! - A failure reported after the last success is down at once.
//! - A start without an end within `grace` is down (the run hangs).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::config::PushSchedule;
use crate::recurrence::{next_cron_run, parse_cron};

/// What upkeep knows about one job's pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatFacts {
    pub last_success: Option<Timestamp>,
    pub last_failure: Option<Timestamp>,
    /// The latest start that has no end yet.
    pub open_start: Option<Timestamp>,
    /// When upkeep began watching this monitor.
    pub watched_since: Timestamp,
}

/// The judgement at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// On time; the next success is due at `due` (late after `due + grace`).
    OnTime { due: Timestamp },
    /// No success by `due + grace`.
    Late { due: Timestamp },
    /// The job reported a failure at `at`.
    Failed { at: Timestamp },
    /// A run started at `started` has not ended within the grace time.
    Hanging { started: Timestamp },
    /// The schedule cannot be evaluated (should have been caught by validation).
    Invalid(String),
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::OnTime { .. })
    }

    /// Why the monitor is failing, for an operator; `None` when on time.
    pub fn reason(&self) -> Option<String> {
        match self {
            Verdict::OnTime { .. } => None,
            Verdict::Late { due } => Some(format!("no ping since it was due at {due:.0}")),
            Verdict::Failed { at } => Some(format!("the job reported a failure at {at:.0}")),
            Verdict::Hanging { started } => Some(format!(
                "a run started at {started:.0} has not finished within the grace time"
            )),
            Verdict::Invalid(e) => Some(format!("the schedule cannot be evaluated: {e}")),
        }
    }
}

fn grace_of(schedule: &PushSchedule) -> Duration {
    match schedule {
        PushSchedule::Period { grace, .. } | PushSchedule::Cron { grace, .. } => *grace,
    }
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// When the next success is due after one at `after` (grace not included).
pub fn next_due(schedule: &PushSchedule, after: Timestamp) -> Result<Timestamp, String> {
    match schedule {
        PushSchedule::Period { period, .. } => Ok(plus(after, *period)),
        PushSchedule::Cron { expr, timezone, .. } => {
            let cron = parse_cron(expr)?;
            next_cron_run(&cron, timezone, after)
        }
    }
}

/// Judges the job at `now`.
pub fn judge(schedule: &PushSchedule, facts: &HeartbeatFacts, now: Timestamp) -> Verdict {
    let grace = grace_of(schedule);
    if let Some(failed) = facts.last_failure
        && facts.last_success.is_none_or(|ok| failed > ok)
    {
        return Verdict::Failed { at: failed };
    }
    if let Some(started) = facts.open_start
        && now > plus(started, grace)
    {
        return Verdict::Hanging { started };
    }
    let base = facts.last_success.unwrap_or(facts.watched_since);
    match next_due(schedule, base) {
        Ok(due) if now > plus(due, grace) => Verdict::Late { due },
        Ok(due) => Verdict::OnTime { due },
        Err(e) => Verdict::Invalid(e),
    }
}

/// The instant at or after `now` past which the judgement changes with no new ping (the end of
/// the grace time of the success due, or of a run's), so a watcher can look again just then;
/// `None` when only a ping can change it (a reported failure, an invalid schedule).
pub fn next_change(
    schedule: &PushSchedule,
    facts: &HeartbeatFacts,
    now: Timestamp,
) -> Option<Timestamp> {
    let grace = grace_of(schedule);
    if matches!(
        judge(schedule, facts, now),
        Verdict::Failed { .. } | Verdict::Invalid(_)
    ) {
        return None;
    }
    let base = facts.last_success.unwrap_or(facts.watched_since);
    let due = next_due(schedule, base).ok().map(|due| plus(due, grace));
    let hang = facts.open_start.map(|started| plus(started, grace));
    [due, hang]
        .into_iter()
        .flatten()
        .filter(|t| *t >= now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn the_next_change_is_the_end_of_the_grace_time() {
        let facts = HeartbeatFacts {
            last_success: Some(t("2026-03-01T10:00:00Z")),
            last_failure: None,
            open_start: None,
            watched_since: t("2026-03-01T00:00:00Z"),
        };
        let schedule = period(2, 1);
        let now = t("2026-03-01T10:00:00.500Z");
        let at = t("2026-03-01T10:00:03Z");
        assert_eq!(next_change(&schedule, &facts, now), Some(at));
        assert!(judge(&schedule, &facts, at).is_ok());
        let after = at + SignedDuration::from_millis(1);
        assert!(matches!(
            judge(&schedule, &facts, after),
            Verdict::Late { .. }
        ));
        // Late already: nothing changes until a ping.
        assert_eq!(next_change(&schedule, &facts, after), None);
        // A run open since 10:00:01 hangs once its grace ends, at 10:00:02.
        let running = HeartbeatFacts {
            open_start: Some(t("2026-03-01T10:00:01Z")),
            ..facts
        };
        assert_eq!(
            next_change(&schedule, &running, now),
            Some(t("2026-03-01T10:00:02Z"))
        );
        let failed = HeartbeatFacts {
            last_failure: Some(t("2026-03-01T10:00:00.200Z")),
            ..facts
        };
        assert_eq!(next_change(&schedule, &failed, now), None);
    }

    fn period(p: u64, g: u64) -> PushSchedule {
        PushSchedule::Period {
            period: Duration::from_secs(p),
            grace: Duration::from_secs(g),
        }
    }

    fn cron(expr: &str, zone: &str, grace: u64) -> PushSchedule {
        PushSchedule::Cron {
            expr: expr.into(),
            timezone: TimeZone::get(zone).unwrap_or(TimeZone::UTC),
            timezone_name: zone.into(),
            grace: Duration::from_secs(grace),
        }
    }

    fn facts(success: Option<&str>) -> HeartbeatFacts {
        HeartbeatFacts {
            last_success: success.map(t),
            last_failure: None,
            open_start: None,
            watched_since: t("2026-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn a_period_job_is_late_only_after_period_plus_grace() {
        let s = period(86_400, 3_600);
        let f = facts(Some("2026-03-01T02:00:00Z"));
        assert!(judge(&s, &f, t("2026-03-02T02:59:59Z")).is_ok());
        assert!(
            judge(&s, &f, t("2026-03-02T03:00:00Z")).is_ok(),
            "exactly at the deadline"
        );
        assert_eq!(
            judge(&s, &f, t("2026-03-02T03:00:01Z")),
            Verdict::Late {
                due: t("2026-03-02T02:00:00Z")
            }
        );
    }

    #[test]
    fn before_any_ping_the_deadline_counts_from_when_watching_began() {
        let s = period(600, 60);
        let f = facts(None);
        assert!(judge(&s, &f, t("2026-01-01T00:11:00Z")).is_ok());
        assert!(!judge(&s, &f, t("2026-01-01T00:11:01Z")).is_ok());
    }

    #[test]
    fn a_reported_failure_is_down_until_the_next_success() {
        let s = period(3_600, 60);
        let mut f = facts(Some("2026-03-01T10:00:00Z"));
        f.last_failure = Some(t("2026-03-01T10:30:00Z"));
        assert_eq!(
            judge(&s, &f, t("2026-03-01T10:31:00Z")),
            Verdict::Failed {
                at: t("2026-03-01T10:30:00Z")
            }
        );
        f.last_success = Some(t("2026-03-01T10:45:00Z"));
        assert!(judge(&s, &f, t("2026-03-01T10:46:00Z")).is_ok());
    }

    #[test]
    fn a_start_without_an_end_within_grace_is_hanging() {
        let s = period(86_400, 600);
        let mut f = facts(Some("2026-03-01T02:00:00Z"));
        f.open_start = Some(t("2026-03-02T02:00:00Z"));
        assert!(judge(&s, &f, t("2026-03-02T02:10:00Z")).is_ok());
        assert_eq!(
            judge(&s, &f, t("2026-03-02T02:10:01Z")),
            Verdict::Hanging {
                started: t("2026-03-02T02:00:00Z")
            }
        );
    }

    #[test]
    fn cron_due_times_are_local_and_correct_across_daylight_saving() {
        // 02:30 every day in Rome: on 2026-03-29 02:30 does not exist; as in Vixie cron, the job
        // runs right after the gap, at 03:00 CEST (01:00Z); grace is added after converting to UTC.
        let s = cron("30 2 * * *", "Europe/Rome", 600);
        let f = facts(Some("2026-03-28T01:30:00Z")); // 02:30 CET on the 28th
        assert_eq!(
            next_due(&s, t("2026-03-28T01:30:00Z")),
            Ok(t("2026-03-29T01:00:00Z"))
        );
        assert!(judge(&s, &f, t("2026-03-29T01:10:00Z")).is_ok());
        assert!(!judge(&s, &f, t("2026-03-29T01:10:01Z")).is_ok());
        // Fall back (2026-10-25): 02:30 happens twice; the job is due at the first (00:30Z).
        assert_eq!(
            next_due(&s, t("2026-10-24T00:30:00Z")),
            Ok(t("2026-10-25T00:30:00Z"))
        );
        // And once only: the next due after the first 02:30 is the next day.
        assert_eq!(
            next_due(&s, t("2026-10-25T00:30:00Z")),
            Ok(t("2026-10-26T01:30:00Z"))
        );
    }

    #[test]
    fn reasons_are_sentences() {
        let late = Verdict::Late {
            due: t("2026-03-02T02:00:00Z"),
        };
        assert_eq!(
            late.reason().as_deref(),
            Some("no ping since it was due at 2026-03-02T02:00:00Z")
        );
        assert_eq!(
            Verdict::OnTime {
                due: t("2026-03-02T02:00:00Z")
            }
            .reason(),
            None
        );
    }
}
