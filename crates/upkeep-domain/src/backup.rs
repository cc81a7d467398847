//! Backups against their RPO and recovery drills against their RTO
//! (`docs/decisions.md#backups-and-drills`). Pure: every function takes the instants it needs.
//!
//! - A backup counts for the RPO only when it completed successfully, and its age is measured
//!   from its **start** (the data's point in time): a success ping's instant minus the run's
//!   duration when it was paired with a start, else the ping's instant. Failed or partial runs
//!   never reset the age (callers pass only the last *successful* run).
//! - [`BackupState`]: `unknown` while no backup ever succeeded; `breached` when the age is
//!   greater than the RPO (exactly the RPO is still within it); `at_risk` from 80 % of the RPO
//!   (integer milliseconds, `age × 5 ≥ rpo × 4`); else `ok`.
//! - A drill's recovery time (finished − started) counts only when the drill succeeded **and**
//!   its restore was validated; [`meets_rto`] is false for a drill that does not count.
//! - Drill cadence: the next drill is due `drill_every` after the last counted drill finished.
//!   A set with a cadence that was never drilled (successfully and validated) is due at once and
//!   overdue: an unproven restore is exactly what the cadence exists to prevent. A set without a
//!   cadence is never due.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// The share of the RPO from which a backup set is at risk, as a fraction `NUM / DEN` (80 %).
pub const AT_RISK_NUM: i128 = 4;
pub const AT_RISK_DEN: i128 = 5;

/// Where a backup set stands against its RPO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    Ok,
    AtRisk,
    Breached,
    Unknown,
}

impl BackupState {
    pub const ALL: [BackupState; 4] = [
        BackupState::Ok,
        BackupState::AtRisk,
        BackupState::Breached,
        BackupState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BackupState::Ok => "ok",
            BackupState::AtRisk => "at_risk",
            BackupState::Breached => "breached",
            BackupState::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<BackupState> {
        Some(match s {
            "ok" => BackupState::Ok,
            "at_risk" => BackupState::AtRisk,
            "breached" => BackupState::Breached,
            "unknown" => BackupState::Unknown,
            _ => return None,
        })
    }
}

impl std::fmt::Display for BackupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A duration in whole milliseconds, saturating at `i64::MAX`.
pub fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The start of a successful run: its end (`at`) minus its duration when it had a start.
pub fn run_started(at: Timestamp, duration_ms: Option<i64>) -> Timestamp {
    let back = jiff::SignedDuration::from_millis(duration_ms.unwrap_or(0).max(0));
    at.checked_sub(back).unwrap_or(at)
}

/// The age of the last good backup in milliseconds (never negative), when there is one.
pub fn age_ms(last_success_started: Option<Timestamp>, now: Timestamp) -> Option<i64> {
    last_success_started.map(|s| (now.as_millisecond() - s.as_millisecond()).max(0))
}

/// The age as parts per million of the RPO (1,000,000 = exactly the RPO), integer math.
pub fn age_rpo_ppm(age_ms: i64, rpo: Duration) -> i64 {
    let rpo = i128::from(duration_ms(rpo));
    if rpo <= 0 {
        return if age_ms > 0 { i64::MAX } else { 0 };
    }
    i64::try_from(i128::from(age_ms) * 1_000_000 / rpo).unwrap_or(i64::MAX)
}

/// The state of a backup set whose last successful run started at `last_success_started`.
pub fn state(
    rpo: Duration,
    last_success_started: Option<Timestamp>,
    now: Timestamp,
) -> BackupState {
    let Some(age) = age_ms(last_success_started, now) else {
        return BackupState::Unknown;
    };
    let (age, rpo) = (i128::from(age), i128::from(duration_ms(rpo)));
    if age > rpo {
        BackupState::Breached
    } else if age * AT_RISK_DEN >= rpo * AT_RISK_NUM {
        BackupState::AtRisk
    } else {
        BackupState::Ok
    }
}

/// How a recovery drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillOutcome {
    Success,
    Failure,
}

impl DrillOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillOutcome::Success => "success",
            DrillOutcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<DrillOutcome> {
        match s {
            "success" => Some(DrillOutcome::Success),
            "failure" => Some(DrillOutcome::Failure),
            _ => None,
        }
    }
}

impl std::fmt::Display for DrillOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a finished drill counts: it succeeded and its restore was validated.
pub fn drill_counts(outcome: DrillOutcome, validated: bool) -> bool {
    outcome == DrillOutcome::Success && validated
}

/// The recovery time of a finished drill in milliseconds (finished − started, never negative),
/// or `None` when the drill does not count ([`drill_counts`]).
pub fn recovery_ms(
    started: Timestamp,
    finished: Timestamp,
    outcome: DrillOutcome,
    validated: bool,
) -> Option<i64> {
    drill_counts(outcome, validated)
        .then(|| (finished.as_millisecond() - started.as_millisecond()).max(0))
}

/// Whether a recovery time meets the RTO (at most the RTO). A drill that does not count
/// (`None`) does not meet it.
pub fn meets_rto(recovery_ms: Option<i64>, rto: Duration) -> bool {
    recovery_ms.is_some_and(|ms| ms <= duration_ms(rto))
}

/// When the next drill is due: `drill_every` after the last counted drill finished. `None` when
/// no drills are expected (`drill_every` is `None`) — see [`drill_overdue`] for a set that was
/// never drilled.
pub fn next_drill_due(
    last_counted_drill_finished: Option<Timestamp>,
    drill_every: Option<Duration>,
) -> Option<Timestamp> {
    let every = drill_every?;
    let last = last_counted_drill_finished?;
    let every = jiff::SignedDuration::try_from(every).unwrap_or(jiff::SignedDuration::MAX);
    Some(last.checked_add(every).unwrap_or(Timestamp::MAX))
}

/// Whether a drill is overdue at `now`: `now` is after the due instant; a set with a cadence
/// that never had a counted drill is overdue at once; a set without a cadence never is.
pub fn drill_overdue(
    last_counted_drill_finished: Option<Timestamp>,
    drill_every: Option<Duration>,
    now: Timestamp,
) -> bool {
    if drill_every.is_none() {
        return false;
    }
    match next_drill_due(last_counted_drill_finished, drill_every) {
        Some(due) => now > due,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const H: u64 = 3600;

    #[test]
    fn breached_only_after_the_rpo() {
        let rpo = Duration::from_secs(6 * H);
        let start = t("2026-03-01T00:00:00Z");
        let at_rpo = t("2026-03-01T06:00:00Z");
        let after = t("2026-03-01T06:00:01Z");
        assert_eq!(state(rpo, Some(start), at_rpo), BackupState::AtRisk);
        assert_eq!(state(rpo, Some(start), after), BackupState::Breached);
        assert_eq!(state(rpo, None, after), BackupState::Unknown);
    }

    #[test]
    fn at_risk_from_exactly_eighty_percent() {
        let rpo = Duration::from_secs(10 * H);
        let start = t("2026-03-01T00:00:00Z");
        // 8 h is exactly 80 % of 10 h.
        assert_eq!(
            state(rpo, Some(start), t("2026-03-01T07:59:59.999Z")),
            BackupState::Ok
        );
        assert_eq!(
            state(rpo, Some(start), t("2026-03-01T08:00:00Z")),
            BackupState::AtRisk
        );
        assert_eq!(age_rpo_ppm(8 * 3_600_000, rpo), 800_000);
        assert_eq!(age_rpo_ppm(10 * 3_600_000, rpo), 1_000_000);
    }

    #[test]
    fn age_runs_from_the_start_of_the_run() {
        let rpo = Duration::from_secs(6 * H);
        // Ended at 02:00 after 2 h: the data is from 00:00.
        let started = run_started(t("2026-03-01T02:00:00Z"), Some(2 * 3_600_000));
        assert_eq!(started, t("2026-03-01T00:00:00Z"));
        assert_eq!(
            state(rpo, Some(started), t("2026-03-01T06:00:01Z")),
            BackupState::Breached
        );
        // Unpaired success: its own instant.
        assert_eq!(
            run_started(t("2026-03-01T02:00:00Z"), None),
            t("2026-03-01T02:00:00Z")
        );
        // Clock skew never makes an age negative.
        assert_eq!(
            age_ms(Some(t("2026-03-02T00:00:00Z")), t("2026-03-01T00:00:00Z")),
            Some(0)
        );
    }

    #[test]
    fn drills_count_only_when_validated() {
        let (s, f) = (t("2026-03-01T00:00:00Z"), t("2026-03-01T03:00:00Z"));
        let rto = Duration::from_secs(24 * H);
        assert_eq!(
            recovery_ms(s, f, DrillOutcome::Success, true),
            Some(3 * 3_600_000)
        );
        assert_eq!(recovery_ms(s, f, DrillOutcome::Success, false), None);
        assert_eq!(recovery_ms(s, f, DrillOutcome::Failure, true), None);
        assert!(meets_rto(Some(3 * 3_600_000), rto));
        assert!(meets_rto(Some(24 * 3_600_000), rto));
        assert!(!meets_rto(Some(24 * 3_600_000 + 1), rto));
        assert!(!meets_rto(None, rto));
    }

    #[test]
    fn drill_cadence() {
        let every = Some(Duration::from_secs(30 * 24 * H));
        let last = t("2026-03-01T00:00:00Z");
        let due = t("2026-03-31T00:00:00Z");
        assert_eq!(next_drill_due(Some(last), every), Some(due));
        assert!(!drill_overdue(Some(last), every, due));
        assert!(drill_overdue(
            Some(last),
            every,
            t("2026-03-31T00:00:00.001Z")
        ));
        assert!(
            drill_overdue(None, every, last),
            "never drilled: overdue at once"
        );
        assert!(!drill_overdue(None, None, last), "no cadence: never due");
        assert_eq!(next_drill_due(Some(last), None), None);
    }

    #[test]
    fn states_round_trip() {
        for s in BackupState::ALL {
            assert_eq!(BackupState::parse(s.as_str()), Some(s));
        }
        assert_eq!(DrillOutcome::parse("failure"), Some(DrillOutcome::Failure));
        assert_eq!(DrillOutcome::parse("ok"), None);
    }
}
