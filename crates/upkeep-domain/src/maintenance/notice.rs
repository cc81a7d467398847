//! The notice policy (`docs/decisions.md#maintenance`, "Policy": at least two weeks
//! of notice for planned work, shorter notice for an emergency that gives its reason).
//!
//! Rules:
//! - A maintenance scheduled at `scheduled_at` to start at `starts_at` has
//!   `starts_at - scheduled_at` of notice. It needs at least its kind's `min_notice` (planned:
//!   default 14 days; emergency: default none). Exactly `min_notice` is enough; one millisecond
//!   less is not. A refusal names the earliest allowed start, `scheduled_at + min_notice`.
//! - A start before `scheduled_at` is refused as "starts in the past" (whatever the kind). With
//!   `force` it is accepted: that is how a maintenance already carried out is recorded after the
//!   fact, and the audit log shows it was forced.
//! - An emergency maintenance must carry a non-blank reason (e.g. the CVE it fixes) when the
//!   policy's `require_reason` is set.
//! - `force: true` accepts any of these violations: the result is [`NoticeOutcome::Forced`]
//!   carrying the (first) violation, for the caller to audit; [`violations`] lists them all.
//!   Violations are reported in this order: missing reason, start in the past, short notice.
//! - A reschedule ([`check_reschedule`]) to a later start is always allowed (more notice, never
//!   less). A move to an earlier start is measured again, from the moment of the reschedule,
//!   as if the maintenance were created then; its reason was checked when it was created and
//!   is not checked again.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::config::MaintenancePolicy;

/// The kind of a maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Announced in advance, with the policy's full notice.
    Planned,
    /// Short notice allowed (e.g. a security fix), with a reason.
    Emergency,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Planned, Kind::Emergency];

    /// The API and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Planned => "planned",
            Kind::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// `a planned` or `an emergency`, for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            Kind::Planned => "a planned",
            Kind::Emergency => "an emergency",
        }
    }

    /// The least notice this kind needs under `policy`.
    pub fn min_notice(self, policy: &MaintenancePolicy) -> Duration {
        match self {
            Kind::Planned => policy.planned.min_notice,
            Kind::Emergency => policy.emergency.min_notice,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An accepted schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// Within the policy.
    Accepted,
    /// Outside the policy but forced by an admin; the caller records `violation` in the audit
    /// log.
    Forced { violation: NoticeViolation },
}

/// Why a schedule breaks the notice policy. The message is meant for the person scheduling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeViolation {
    #[error("an emergency maintenance needs a reason")]
    ReasonRequired,
    #[error("the maintenance starts in the past ({starts_at}, before {scheduled_at})")]
    StartsInPast {
        starts_at: Timestamp,
        scheduled_at: Timestamp,
    },
    #[error(
        "{} maintenance needs {} of notice: the earliest allowed start is {earliest_allowed_start}",
        .kind.with_article(),
        human_duration(*.min_notice)
    )]
    TooShortNotice {
        kind: Kind,
        min_notice: Duration,
        earliest_allowed_start: Timestamp,
    },
}

impl NoticeViolation {
    /// The earliest start that would satisfy the notice, when the violation is about notice.
    pub fn earliest_allowed_start(&self) -> Option<Timestamp> {
        match self {
            NoticeViolation::TooShortNotice {
                earliest_allowed_start,
                ..
            } => Some(*earliest_allowed_start),
            NoticeViolation::ReasonRequired | NoticeViolation::StartsInPast { .. } => None,
        }
    }
}

/// Checks a new maintenance against the policy; see the module documentation for the rules.
pub fn check_notice(
    policy: &MaintenancePolicy,
    kind: Kind,
    reason: Option<&str>,
    scheduled_at: Timestamp,
    starts_at: Timestamp,
    force: bool,
) -> Result<NoticeOutcome, NoticeViolation> {
    outcome(
        violations(policy, kind, reason, scheduled_at, starts_at),
        force,
    )
}

/// Checks moving a maintenance of `kind` from `current_start` to `new_start`, decided at
/// `rescheduled_at`: later is always allowed, earlier needs the kind's notice counted from
/// `rescheduled_at` (and must not be in the past).
pub fn check_reschedule(
    policy: &MaintenancePolicy,
    kind: Kind,
    current_start: Timestamp,
    new_start: Timestamp,
    rescheduled_at: Timestamp,
    force: bool,
) -> Result<NoticeOutcome, NoticeViolation> {
    if new_start >= current_start {
        return Ok(NoticeOutcome::Accepted);
    }
    outcome(
        timing_violation(policy, kind, rescheduled_at, new_start)
            .into_iter()
            .collect(),
        force,
    )
}

/// Every violation of the policy by a new maintenance, in the order of the module
/// documentation; empty when it is within the policy.
pub fn violations(
    policy: &MaintenancePolicy,
    kind: Kind,
    reason: Option<&str>,
    scheduled_at: Timestamp,
    starts_at: Timestamp,
) -> Vec<NoticeViolation> {
    let mut found = Vec::new();
    let has_reason = reason.is_some_and(|r| !r.trim().is_empty());
    if kind == Kind::Emergency && policy.emergency.require_reason && !has_reason {
        found.push(NoticeViolation::ReasonRequired);
    }
    found.extend(timing_violation(policy, kind, scheduled_at, starts_at));
    found
}

fn outcome(
    violations: Vec<NoticeViolation>,
    force: bool,
) -> Result<NoticeOutcome, NoticeViolation> {
    match violations.into_iter().next() {
        None => Ok(NoticeOutcome::Accepted),
        Some(violation) if force => Ok(NoticeOutcome::Forced { violation }),
        Some(violation) => Err(violation),
    }
}

/// The past-start or short-notice violation of a start decided at `decided_at`, if any.
fn timing_violation(
    policy: &MaintenancePolicy,
    kind: Kind,
    decided_at: Timestamp,
    starts_at: Timestamp,
) -> Option<NoticeViolation> {
    if starts_at < decided_at {
        return Some(NoticeViolation::StartsInPast {
            starts_at,
            scheduled_at: decided_at,
        });
    }
    let min_notice = kind.min_notice(policy);
    // A notice too large for the time line can never be met: its earliest start is the end of
    // time.
    let earliest_allowed_start = SignedDuration::try_from(min_notice)
        .ok()
        .and_then(|notice| decided_at.checked_add(notice).ok())
        .unwrap_or(Timestamp::MAX);
    (starts_at < earliest_allowed_start).then_some(NoticeViolation::TooShortNotice {
        kind,
        min_notice,
        earliest_allowed_start,
    })
}

/// A duration in words for messages: `14 days`, `1 day 12 hours`, `90 seconds` is
/// `1 minute 30 seconds`, `0 seconds`.
pub fn human_duration(duration: Duration) -> String {
    const UNITS: [(&str, u128); 5] = [
        ("day", 86_400_000),
        ("hour", 3_600_000),
        ("minute", 60_000),
        ("second", 1_000),
        ("millisecond", 1),
    ];
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0 seconds".to_owned();
    }
    let mut parts = Vec::new();
    for (unit, unit_ms) in UNITS {
        let amount = ms / unit_ms;
        if amount > 0 {
            let plural = if amount == 1 { "" } else { "s" };
            parts.push(format!("{amount} {unit}{plural}"));
            ms %= unit_ms;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::ToSpan;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn policy() -> MaintenancePolicy {
        MaintenancePolicy::default()
    }

    const NOW: &str = "2026-11-22T10:00:00Z";

    #[test]
    fn kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(Kind::parse("Planned"), None);
        assert_eq!(Kind::parse("unplanned"), None);
        assert_eq!(serde_json::to_value(Kind::Emergency).unwrap(), "emergency");
    }

    #[test]
    fn planned_with_exactly_the_minimum_notice_is_accepted() {
        let now = ts(NOW);
        let start = now + (14 * 24).hours();
        assert_eq!(
            check_notice(&policy(), Kind::Planned, None, now, start, false),
            Ok(NoticeOutcome::Accepted)
        );
        let later = start + 1.hour();
        assert_eq!(
            check_notice(&policy(), Kind::Planned, None, now, later, false),
            Ok(NoticeOutcome::Accepted)
        );
    }

    #[test]
    fn planned_one_millisecond_short_is_refused_with_the_earliest_start() {
        let now = ts(NOW);
        let start = now + (14 * 24).hours() - 1.millisecond();
        let err = check_notice(&policy(), Kind::Planned, None, now, start, false).unwrap_err();
        assert_eq!(
            err,
            NoticeViolation::TooShortNotice {
                kind: Kind::Planned,
                min_notice: Duration::from_secs(14 * 86_400),
                earliest_allowed_start: ts("2026-12-06T10:00:00Z"),
            }
        );
        assert_eq!(
            err.to_string(),
            "a planned maintenance needs 14 days of notice: the earliest allowed start is 2026-12-06T10:00:00Z"
        );
        assert_eq!(
            err.earliest_allowed_start(),
            Some(ts("2026-12-06T10:00:00Z"))
        );
    }

    #[test]
    fn forced_short_notice_is_accepted_and_carries_the_violation() {
        let now = ts(NOW);
        let start = now + 1.hour();
        let outcome = check_notice(&policy(), Kind::Planned, None, now, start, true).unwrap();
        let NoticeOutcome::Forced { violation } = outcome else {
            panic!("expected a forced outcome, got {outcome:?}");
        };
        assert!(matches!(violation, NoticeViolation::TooShortNotice { .. }));
        // Force on a schedule within the policy changes nothing.
        let fine = now + (15 * 24).hours();
        assert_eq!(
            check_notice(&policy(), Kind::Planned, None, now, fine, true),
            Ok(NoticeOutcome::Accepted)
        );
    }

    #[test]
    fn emergency_needs_a_non_blank_reason() {
        let now = ts(NOW);
        let start = now + 10.minutes();
        for reason in [None, Some(""), Some("   \n")] {
            let err =
                check_notice(&policy(), Kind::Emergency, reason, now, start, false).unwrap_err();
            assert_eq!(err, NoticeViolation::ReasonRequired);
            assert_eq!(err.to_string(), "an emergency maintenance needs a reason");
            assert_eq!(err.earliest_allowed_start(), None);
        }
        assert_eq!(
            check_notice(
                &policy(),
                Kind::Emergency,
                Some("CVE-2026-1234"),
                now,
                start,
                false
            ),
            Ok(NoticeOutcome::Accepted)
        );
        // Forced without a reason.
        assert_eq!(
            check_notice(&policy(), Kind::Emergency, None, now, start, true),
            Ok(NoticeOutcome::Forced {
                violation: NoticeViolation::ReasonRequired
            })
        );
    }

    #[test]
    fn emergency_without_required_reason_and_starting_now() {
        let mut policy = policy();
        policy.emergency.require_reason = false;
        let now = ts(NOW);
        assert_eq!(
            check_notice(&policy, Kind::Emergency, None, now, now, false),
            Ok(NoticeOutcome::Accepted)
        );
    }

    #[test]
    fn emergency_min_notice_is_applied_too() {
        let mut policy = policy();
        policy.emergency.min_notice = Duration::from_secs(3600);
        let now = ts(NOW);
        let err = check_notice(
            &policy,
            Kind::Emergency,
            Some("CVE"),
            now,
            now + 30.minutes(),
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "an emergency maintenance needs 1 hour of notice: the earliest allowed start is 2026-11-22T11:00:00Z"
        );
        assert_eq!(err.earliest_allowed_start(), Some(now + 1.hour()));
    }

    #[test]
    fn a_start_in_the_past_is_refused_unless_forced() {
        let now = ts(NOW);
        let start = now - 1.millisecond();
        for kind in Kind::ALL {
            let err = check_notice(&policy(), kind, Some("CVE"), now, start, false).unwrap_err();
            assert_eq!(
                err,
                NoticeViolation::StartsInPast {
                    starts_at: start,
                    scheduled_at: now
                }
            );
            assert!(err.to_string().contains("starts in the past"), "{err}");
            let forced = check_notice(&policy(), kind, Some("CVE"), now, start, true);
            assert_eq!(forced, Ok(NoticeOutcome::Forced { violation: err }));
        }
    }

    #[test]
    fn every_violation_is_listed_reason_first() {
        let now = ts(NOW);
        let found = violations(&policy(), Kind::Emergency, None, now, now - 1.hour());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], NoticeViolation::ReasonRequired);
        assert!(matches!(found[1], NoticeViolation::StartsInPast { .. }));
        assert_eq!(
            check_notice(&policy(), Kind::Emergency, None, now, now - 1.hour(), false),
            Err(NoticeViolation::ReasonRequired)
        );
    }

    #[test]
    fn an_unreachable_notice_has_the_end_of_time_as_earliest_start() {
        let mut policy = policy();
        policy.planned.min_notice = Duration::MAX;
        let now = ts(NOW);
        let err =
            check_notice(&policy, Kind::Planned, None, now, now + 1.hour(), false).unwrap_err();
        assert_eq!(err.earliest_allowed_start(), Some(Timestamp::MAX));
    }

    #[test]
    fn rescheduling_later_is_always_allowed() {
        let now = ts(NOW);
        let current = now + 1.hour(); // was forced in with short notice
        for new_start in [current, current + 1.minute(), current + (30 * 24).hours()] {
            assert_eq!(
                check_reschedule(&policy(), Kind::Planned, current, new_start, now, false),
                Ok(NoticeOutcome::Accepted)
            );
        }
    }

    #[test]
    fn rescheduling_earlier_measures_notice_from_the_reschedule() {
        let created = ts("2026-11-01T10:00:00Z");
        let current = ts("2026-12-20T10:00:00Z");
        let rescheduled_at = ts(NOW);
        // Exactly 14 days after the reschedule: allowed.
        let ok = rescheduled_at + (14 * 24).hours();
        assert_eq!(
            check_reschedule(&policy(), Kind::Planned, current, ok, rescheduled_at, false),
            Ok(NoticeOutcome::Accepted)
        );
        // 1 ms earlier: refused, even though it is more than 14 days after creation.
        let short = ok - 1.millisecond();
        assert!(short > created + (14 * 24).hours());
        let err = check_reschedule(
            &policy(),
            Kind::Planned,
            current,
            short,
            rescheduled_at,
            false,
        )
        .unwrap_err();
        assert_eq!(err.earliest_allowed_start(), Some(ok));
        // Forced.
        assert_eq!(
            check_reschedule(
                &policy(),
                Kind::Planned,
                current,
                short,
                rescheduled_at,
                true
            ),
            Ok(NoticeOutcome::Forced { violation: err })
        );
        // Into the past.
        let past = rescheduled_at - 1.hour();
        assert!(matches!(
            check_reschedule(
                &policy(),
                Kind::Emergency,
                current,
                past,
                rescheduled_at,
                false
            ),
            Err(NoticeViolation::StartsInPast { .. })
        ));
        // An emergency moved earlier needs only its own notice, and no reason again.
        assert_eq!(
            check_reschedule(
                &policy(),
                Kind::Emergency,
                current,
                rescheduled_at,
                rescheduled_at,
                false
            ),
            Ok(NoticeOutcome::Accepted)
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_secs(14 * 86_400)), "14 days");
        assert_eq!(
            human_duration(Duration::from_secs(86_400 + 12 * 3600)),
            "1 day 12 hours"
        );
        assert_eq!(
            human_duration(Duration::from_secs(90)),
            "1 minute 30 seconds"
        );
        assert_eq!(human_duration(Duration::from_millis(1)), "1 millisecond");
        assert_eq!(human_duration(Duration::ZERO), "0 seconds");
    }
}
