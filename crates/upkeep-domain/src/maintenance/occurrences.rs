//! Materialising recurring windows (`docs/decisions.md#maintenance`, `#time`): the
//! occurrences of a configured [`Window`] near "now", each with a stable key the store upserts
//! on, and the plan that brings stored occurrences in line with a (possibly edited) window.
//!
//! Rules:
//! - The rule is expanded in the window's zone with [`crate::recurrence`]'s conversion: a
//!   local start in a spring-forward gap moves forward by the gap (02:30 → 03:30), a local start
//!   that occurs twice means the first. An occurrence ends its duration later in absolute time.
//! - Each occurrence's key is `WINDOW_ID@LOCAL_START`, the local civil start *as the rule
//!   writes it* (`nightly@2026-03-29T02:30`, even though that night it starts at 03:30), with
//!   `:SS` only when the seconds are not zero. Keys do not depend on "now" or on the zone's
//!   offset, so re-materialising after a restart or a reload yields the same keys. When two
//!   local starts land on one instant (02:30 moved to 03:30 beside a real 03:30), one occurrence
//!   is kept, keyed by the earlier local start.
//! - [`materialise`] returns the occurrences starting in `[now - duration, now + horizon)`, so
//!   an occurrence in progress is included.
//! - The rule's DTSTART is local midnight of the window's `starts` date. Without `starts` it is
//!   [`DEFAULT_ANCHOR`], a fixed date, never "now": a rule's `INTERVAL` phase and the defaults
//!   RFC 5545 takes from DTSTART (the weekday of a `WEEKLY` rule without `BYDAY`, the day of a
//!   `MONTHLY` rule without `BYMONTHDAY`, ...) would otherwise shift as time passes and the key
//!   set would change between runs. So a `WEEKLY` rule without `BYDAY` means Saturdays (the
//!   weekday of 2000-01-01), `MONTHLY` without a day means the 1st. For speed the anchor is
//!   moved forward by whole periods of the rule, which yields the same occurrences. A rule with
//!   `COUNT` needs `starts`: counting from 2000 would be meaningless, so it is refused.
//! - [`plan_update`]: an edited window changes FUTURE occurrences only. An occurrence that has
//!   started (`start ≤ now`) is never updated or cancelled; a future one whose times changed is
//!   updated; a future one the window no longer produces is cancelled; an occurrence not stored
//!   yet is inserted, even if it has already started (a window added, or the server down, while
//!   it was due: it is real and in progress).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::{Date, DateTime, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp, ToSpan};
use serde::Serialize;

use crate::config::Window;
use crate::recurrence::{local_to_instant, occurrences_from_anchor};

/// The DTSTART date of a window without `starts` (a Saturday).
pub const DEFAULT_ANCHOR: Date = date(2000, 1, 1);

/// One occurrence of a recurring window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    pub window_id: String,
    /// `WINDOW_ID@LOCAL_START`, stable across runs; see the module documentation.
    pub key: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// An occurrence as the store holds it (not cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOccurrence {
    pub key: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What to change in the store; see [`plan_update`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Occurrences not stored yet.
    pub insert: Vec<Occurrence>,
    /// Future stored occurrences whose start or end changed (same key, new times).
    pub update: Vec<Occurrence>,
    /// Future stored occurrences the window no longer produces.
    pub cancel: Vec<StoredOccurrence>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.update.is_empty() && self.cancel.is_empty()
    }
}

/// The occurrences of `window` starting in `[now - window.duration, now + horizon)`, in order of
/// start; see the module documentation.
pub fn materialise(
    window: &Window,
    now: Timestamp,
    horizon: Duration,
) -> Result<Vec<Occurrence>, String> {
    let duration = signed(window.duration)?;
    let from = now.checked_sub(duration).map_err(|err| err.to_string())?;
    let until = now
        .checked_add(signed(horizon)?)
        .map_err(|err| err.to_string())?;
    let zone = &window.timezone;
    // Local bounds one day wider than the instants, so no offset can hide an occurrence.
    let civil_from = zone
        .to_datetime(from)
        .checked_sub(1.day())
        .map_err(|err| err.to_string())?;
    let civil_until = zone
        .to_datetime(until)
        .checked_add(1.day())
        .map_err(|err| err.to_string())?;
    let anchor = match window.starts {
        Some(starts) => starts,
        None => {
            let before = civil_from
                .date()
                .checked_sub(1.day())
                .map_err(|err| err.to_string())?;
            default_anchor(&window.rrule, before)?
        }
    };
    // Expanded in UTC, which has no daylight-saving changes, the rule yields its local civil
    // starts exactly as written; each is then placed in the window's zone.
    let floating = |local: DateTime| {
        TimeZone::UTC
            .to_timestamp(local)
            .map_err(|err| err.to_string())
    };
    let civil = occurrences_from_anchor(
        &window.rrule,
        &TimeZone::UTC,
        anchor,
        floating(civil_from)?,
        floating(civil_until)?,
    )?;
    let mut found = Vec::new();
    for written in civil {
        let local = TimeZone::UTC.to_datetime(written);
        let start = local_to_instant(zone, local)?;
        if start >= from && start < until {
            found.push((start, local));
        }
    }
    found.sort_unstable();
    found.dedup_by_key(|(start, _)| *start);
    found
        .into_iter()
        .map(|(start, local)| {
            Ok(Occurrence {
                window_id: window.id.clone(),
                key: occurrence_key(&window.id, local),
                start,
                end: start.checked_add(duration).map_err(|err| err.to_string())?,
            })
        })
        .collect()
}

/// `WINDOW_ID@YYYY-MM-DDTHH:MM`, with `:SS` when the seconds are not zero.
pub fn occurrence_key(window_id: &str, local_start: DateTime) -> String {
    let format = if local_start.second() == 0 && local_start.subsec_nanosecond() == 0 {
        "%Y-%m-%dT%H:%M"
    } else {
        "%Y-%m-%dT%H:%M:%S"
    };
    format!("{window_id}@{}", local_start.strftime(format))
}

/// The changes that make the stored occurrences `existing` match `fresh` (from
/// [`materialise`]) at `now`, without touching any occurrence that has started. Applying it
/// leaves the started stored occurrences as they were and, for every other key, exactly the
/// fresh occurrences. `existing` must not hold cancelled occurrences, and should cover the
/// same windows and horizon as `fresh` (a future stored occurrence missing from `fresh` is
/// cancelled).
pub fn plan_update(existing: &[StoredOccurrence], fresh: &[Occurrence], now: Timestamp) -> Update {
    let stored: BTreeMap<&str, &StoredOccurrence> =
        existing.iter().map(|o| (o.key.as_str(), o)).collect();
    let produced: BTreeMap<&str, &Occurrence> = fresh.iter().map(|o| (o.key.as_str(), o)).collect();
    let mut update = Update::default();
    for occurrence in produced.values() {
        match stored.get(occurrence.key.as_str()) {
            None => update.insert.push((*occurrence).clone()),
            Some(old) if old.start <= now => {}
            Some(old) if old.start != occurrence.start || old.end != occurrence.end => {
                update.update.push((*occurrence).clone());
            }
            Some(_) => {}
        }
    }
    for old in stored.values() {
        if old.start > now && !produced.contains_key(old.key.as_str()) {
            update.cancel.push((*old).clone());
        }
    }
    update
}

fn signed(duration: Duration) -> Result<SignedDuration, String> {
    SignedDuration::try_from(duration).map_err(|err| err.to_string())
}

/// The parts of a rule that decide how far its DTSTART may be moved.
struct RuleShape {
    freq: Option<String>,
    interval: Option<Result<i64, ()>>,
    has_count: bool,
}

impl RuleShape {
    fn of(rrule: &str) -> RuleShape {
        let rule = rrule.trim();
        let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
        let mut shape = RuleShape {
            freq: None,
            interval: None,
            has_count: false,
        };
        for part in rule.split(';') {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            match name.trim().to_ascii_uppercase().as_str() {
                "FREQ" => shape.freq = Some(value.trim().to_ascii_uppercase()),
                "INTERVAL" => {
                    shape.interval = Some(
                        value
                            .trim()
                            .parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .map(i64::from)
                            .ok_or(()),
                    );
                }
                "COUNT" => shape.has_count = true,
                _ => {}
            }
        }
        shape
    }
}

/// The DTSTART date for a window without `starts`: [`DEFAULT_ANCHOR`] moved forward by whole
/// periods of the rule to the latest date not after `before`. A rule that repeats every `n`
/// periods from DTSTART yields, from such a date on, the same occurrences as from
/// [`DEFAULT_ANCHOR`]: the period grid is the same and so are the defaults taken from DTSTART
/// (a Saturday, the 1st, January, midnight).
fn default_anchor(rrule: &str, before: Date) -> Result<Date, String> {
    let shape = RuleShape::of(rrule);
    if shape.has_count {
        return Err(
            "a rule with COUNT needs `starts`: without it there is no day to count from".into(),
        );
    }
    let interval = match shape.interval {
        None => 1,
        Some(Ok(n)) => n,
        // Let the rule's own parser explain the mistake.
        Some(Err(())) => return Ok(DEFAULT_ANCHOR),
    };
    if before <= DEFAULT_ANCHOR {
        return Ok(DEFAULT_ANCHOR);
    }
    let days = DEFAULT_ANCHOR.duration_until(before).as_secs() / 86_400;
    let step_days = |period_seconds: i64| period_seconds / gcd(86_400, period_seconds);
    let whole = |amount: i64, step: i64| amount / step * step;
    let span = match shape.freq.as_deref() {
        Some("YEARLY") => {
            let years = i64::from(before.year()) - i64::from(DEFAULT_ANCHOR.year());
            Span::new().try_years(whole(years, interval))
        }
        Some("MONTHLY") => {
            let months = (i64::from(before.year()) - i64::from(DEFAULT_ANCHOR.year())) * 12
                + i64::from(before.month())
                - i64::from(DEFAULT_ANCHOR.month());
            Span::new().try_months(whole(months, interval))
        }
        Some("WEEKLY") => Span::new().try_days(whole(days, 7 * interval)),
        Some("DAILY") => Span::new().try_days(whole(days, interval)),
        Some("HOURLY") => Span::new().try_days(whole(days, step_days(3600 * interval))),
        Some("MINUTELY") => Span::new().try_days(whole(days, step_days(60 * interval))),
        Some("SECONDLY") => Span::new().try_days(whole(days, step_days(interval))),
        // Let the rule's own parser explain the mistake.
        _ => return Ok(DEFAULT_ANCHOR),
    }
    .map_err(|err| err.to_string())?;
    DEFAULT_ANCHOR
        .checked_add(span)
        .map_err(|err| err.to_string())
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::{ChecksMode, TenantSel};
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(zone: &str, rrule: &str, starts: Option<Date>, duration: Duration) -> Window {
        Window {
            id: "nightly".into(),
            title: "Nightly maintenance".into(),
            description: None,
            timezone: TimeZone::get(zone).unwrap(),
            timezone_name: zone.into(),
            rrule: rrule.into(),
            starts,
            duration,
            components: vec!["api".into()],
            tenants: TenantSel::All,
            checks: ChecksMode::Run,
            counts_as_downtime: false,
            notify_subscribers: true,
            preflight: vec![],
            rollout: None,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    fn starts_and_keys(found: &[Occurrence]) -> Vec<(Timestamp, &str)> {
        found.iter().map(|o| (o.start, o.key.as_str())).collect()
    }

    #[test]
    fn rome_spring_forward() {
        let w = window("Europe/Rome", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", None, HOUR);
        let found = materialise(&w, ts("2026-03-28T12:00:00Z"), 3 * DAY).unwrap();
        assert_eq!(
            starts_and_keys(&found),
            vec![
                // 02:30 does not exist that night: 03:30 CEST.
                (ts("2026-03-29T01:30:00Z"), "nightly@2026-03-29T02:30"),
                (ts("2026-03-30T00:30:00Z"), "nightly@2026-03-30T02:30"),
                (ts("2026-03-31T00:30:00Z"), "nightly@2026-03-31T02:30"),
            ]
        );
        assert!(found.iter().all(|o| o.end == o.start + 1.hour()));
        assert!(found.iter().all(|o| o.window_id == "nightly"));
    }

    #[test]
    fn rome_fall_back() {
        let w = window("Europe/Rome", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", None, HOUR);
        let found = materialise(&w, ts("2026-10-24T12:00:00Z"), 2 * DAY).unwrap();
        assert_eq!(
            starts_and_keys(&found),
            vec![
                // 02:30 happens twice: once, the first (CEST).
                (ts("2026-10-25T00:30:00Z"), "nightly@2026-10-25T02:30"),
                (ts("2026-10-26T01:30:00Z"), "nightly@2026-10-26T02:30"),
            ]
        );
        // Four absolute hours on the 25-hour day end at 05:30 local (CET), not 06:30.
        let w = window(
            "Europe/Rome",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            None,
            4 * HOUR,
        );
        let found = materialise(&w, ts("2026-10-24T12:00:00Z"), DAY).unwrap();
        assert_eq!(found[0].end, ts("2026-10-25T04:30:00Z"));
    }

    #[test]
    fn new_york_both_changes() {
        let w = window(
            "America/New_York",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            None,
            HOUR,
        );
        let spring = materialise(&w, ts("2026-03-07T12:00:00Z"), DAY).unwrap();
        // 02:30 EST does not exist on 2026-03-08: 03:30 EDT.
        assert_eq!(
            starts_and_keys(&spring),
            vec![(ts("2026-03-08T07:30:00Z"), "nightly@2026-03-08T02:30")]
        );
        let w = window(
            "America/New_York",
            "FREQ=DAILY;BYHOUR=1;BYMINUTE=30",
            None,
            HOUR,
        );
        let fall = materialise(&w, ts("2026-10-31T12:00:00Z"), DAY).unwrap();
        // 01:30 happens twice on 2026-11-01: the first, EDT.
        assert_eq!(
            starts_and_keys(&fall),
            vec![(ts("2026-11-01T05:30:00Z"), "nightly@2026-11-01T01:30")]
        );
    }

    #[test]
    fn two_local_starts_on_one_instant_are_one_occurrence() {
        let w = window(
            "Europe/Rome",
            "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30",
            None,
            Duration::from_secs(600),
        );
        let found = materialise(
            &w,
            ts("2026-03-29T00:00:00Z"),
            Duration::from_secs(3 * 3600),
        )
        .unwrap();
        assert_eq!(
            starts_and_keys(&found),
            vec![(ts("2026-03-29T01:30:00Z"), "nightly@2026-03-29T02:30")]
        );
    }

    #[test]
    fn the_range_includes_one_in_progress_and_excludes_the_horizon() {
        let w = window("UTC", "FREQ=DAILY;BYHOUR=22", None, 4 * HOUR);
        // 2026-12-06 01:00: the window of the 5th (22:00-02:00) is in progress.
        let now = ts("2026-12-06T01:00:00Z");
        let found = materialise(&w, now, DAY).unwrap();
        assert_eq!(
            starts_and_keys(&found),
            vec![
                (ts("2026-12-05T22:00:00Z"), "nightly@2026-12-05T22:00"),
                (ts("2026-12-06T22:00:00Z"), "nightly@2026-12-06T22:00"),
            ]
        );
        // At its end it is over; a start exactly at the horizon is left out.
        let found = materialise(&w, ts("2026-12-06T02:00:00Z"), 20 * HOUR).unwrap();
        assert_eq!(
            starts_and_keys(&found),
            vec![(ts("2026-12-05T22:00:00Z"), "nightly@2026-12-05T22:00")]
        );
        let found = materialise(&w, ts("2026-12-06T02:00:01Z"), 19 * HOUR).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn materialising_again_yields_the_same_keys() {
        let w = window(
            "Europe/Rome",
            "FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22;BYMINUTE=0",
            None,
            4 * HOUR,
        );
        let now = ts("2026-11-22T10:00:00Z");
        let first = materialise(&w, now, 90 * DAY).unwrap();
        let again = materialise(&w, now, 90 * DAY).unwrap();
        assert_eq!(first, again);
        assert_eq!(
            starts_and_keys(&first),
            vec![
                (ts("2026-12-05T21:00:00Z"), "nightly@2026-12-05T22:00"),
                (ts("2027-01-02T21:00:00Z"), "nightly@2027-01-02T22:00"),
                (ts("2027-02-06T21:00:00Z"), "nightly@2027-02-06T22:00"),
            ]
        );
        // A day later (after a restart, say) the shared occurrences keep their keys.
        let later = materialise(&w, now + 24.hours(), 90 * DAY).unwrap();
        assert_eq!(later[..2], first[..2]);
    }

    #[test]
    fn intervals_keep_their_phase_as_time_passes() {
        // Every other day, anchored at 2000-01-01: the even days since then.
        let w = window("Europe/Rome", "FREQ=DAILY;INTERVAL=2;BYHOUR=3", None, HOUR);
        let mut keys = std::collections::BTreeSet::new();
        for day in 0..10i64 {
            let now = ts("2026-06-01T12:00:00Z") + (day * 24).hours();
            for o in materialise(&w, now, 5 * DAY).unwrap() {
                keys.insert(o.key);
            }
        }
        let days: Vec<i8> = keys
            .iter()
            .map(|k| k["nightly@2026-06-".len()..][..2].parse().unwrap())
            .collect();
        assert!(days.windows(2).all(|d| d[1] - d[0] == 2), "{days:?}");
        // The same as with `starts: 2000-01-01` written out.
        let explicit = window(
            "Europe/Rome",
            "FREQ=DAILY;INTERVAL=2;BYHOUR=3",
            Some(DEFAULT_ANCHOR),
            HOUR,
        );
        let now = ts("2026-06-01T12:00:00Z");
        assert_eq!(
            materialise(&w, now, 30 * DAY).unwrap(),
            materialise(&explicit, now, 30 * DAY).unwrap()
        );
        // An explicit `starts` sets the phase.
        let odd = window(
            "Europe/Rome",
            "FREQ=DAILY;INTERVAL=2;BYHOUR=3",
            Some(date(2026, 6, 2)),
            HOUR,
        );
        let found = materialise(&odd, now, 3 * DAY).unwrap();
        assert_eq!(found[0].key, "nightly@2026-06-02T03:00");
    }

    #[test]
    fn defaults_from_the_fixed_anchor() {
        // WEEKLY without BYDAY: Saturdays; MONTHLY without a day: the 1st.
        let weekly = window("UTC", "FREQ=WEEKLY;BYHOUR=22", None, HOUR);
        for o in materialise(&weekly, ts("2026-11-22T10:00:00Z"), 30 * DAY).unwrap() {
            assert_eq!(
                o.start.to_zoned(TimeZone::UTC).weekday(),
                jiff::civil::Weekday::Saturday
            );
        }
        let monthly = window("UTC", "RRULE:FREQ=MONTHLY;BYHOUR=22", None, HOUR);
        let found = materialise(&monthly, ts("2026-11-22T10:00:00Z"), 60 * DAY).unwrap();
        assert_eq!(found[0].key, "nightly@2026-12-01T22:00");
    }

    #[test]
    fn count_needs_starts() {
        let w = window("UTC", "FREQ=DAILY;COUNT=3;BYHOUR=22", None, HOUR);
        let err = materialise(&w, ts("2026-11-22T10:00:00Z"), DAY).unwrap_err();
        assert!(err.contains("COUNT needs `starts`"), "{err}");
        let w = window(
            "UTC",
            "FREQ=DAILY;COUNT=3;BYHOUR=22",
            Some(date(2026, 11, 22)),
            HOUR,
        );
        let found = materialise(&w, ts("2026-11-22T10:00:00Z"), 10 * DAY).unwrap();
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn bad_rules_are_errors() {
        for rule in ["FREQ=SOMETIMES", "FREQ=DAILY;INTERVAL=x", ""] {
            let w = window("UTC", rule, None, HOUR);
            let result = materialise(&w, ts("2026-11-22T10:00:00Z"), DAY);
            assert!(result.is_err(), "{rule}: {result:?}");
        }
    }

    #[test]
    fn keys_show_seconds_only_when_set() {
        let local = date(2026, 3, 29).at(2, 30, 0, 0);
        assert_eq!(occurrence_key("w", local), "w@2026-03-29T02:30");
        let local = date(2026, 3, 29).at(2, 30, 15, 0);
        assert_eq!(occurrence_key("w", local), "w@2026-03-29T02:30:15");
    }

    fn stored(key: &str, start: &str, hours: i64) -> StoredOccurrence {
        let start = ts(start);
        StoredOccurrence {
            key: key.into(),
            start,
            end: start + hours.hours(),
        }
    }

    fn fresh(key: &str, start: &str, hours: i64) -> Occurrence {
        let start = ts(start);
        Occurrence {
            window_id: "w".into(),
            key: key.into(),
            start,
            end: start + hours.hours(),
        }
    }

    #[test]
    fn an_edit_changes_future_occurrences_only() {
        let now = ts("2026-12-06T01:00:00Z");
        let existing = [
            stored("w@2026-12-04T22:00", "2026-12-04T21:00:00Z", 4), // over
            stored("w@2026-12-05T22:00", "2026-12-05T21:00:00Z", 4), // in progress
            stored("w@2026-12-06T22:00", "2026-12-06T21:00:00Z", 4), // future, unchanged
            stored("w@2026-12-07T22:00", "2026-12-07T21:00:00Z", 4), // future, longer now
            stored("w@2026-12-08T22:00", "2026-12-08T21:00:00Z", 4), // future, dropped
        ];
        let produced = [
            fresh("w@2026-12-05T22:00", "2026-12-05T21:00:00Z", 5), // started: left alone
            fresh("w@2026-12-06T22:00", "2026-12-06T21:00:00Z", 4),
            fresh("w@2026-12-07T22:00", "2026-12-07T21:00:00Z", 5),
            fresh("w@2026-12-09T22:00", "2026-12-09T21:00:00Z", 4), // new
        ];
        let update = plan_update(&existing, &produced, now);
        assert_eq!(update.insert, vec![produced[3].clone()]);
        assert_eq!(update.update, vec![produced[2].clone()]);
        assert_eq!(update.cancel, vec![existing[4].clone()]);
        // Nothing to do the second time round.
        let same: Vec<_> = produced
            .iter()
            .map(|o| StoredOccurrence {
                key: o.key.clone(),
                start: o.start,
                end: o.end,
            })
            .collect();
        assert!(plan_update(&same, &produced, now).is_empty());
    }

    #[test]
    fn a_started_occurrence_is_never_cancelled_and_a_missing_one_is_inserted() {
        let now = ts("2026-12-05T22:00:00Z");
        // Starting exactly now counts as started.
        let existing = [stored("w@2026-12-05T23:00", "2026-12-05T22:00:00Z", 4)];
        assert!(plan_update(&existing, &[], now).is_empty());
        let in_progress = [fresh("w@2026-12-05T22:00", "2026-12-05T21:00:00Z", 4)];
        let update = plan_update(&[], &in_progress, now);
        assert_eq!(update.insert, in_progress.to_vec());
    }

    /// Occurrences over a small pool of keys, so that existing and fresh sets meet.
    fn occurrence_strategy() -> impl Strategy<Value = (String, Timestamp, Timestamp)> {
        (0u8..12, 0i64..48, 1i64..6).prop_map(|(k, start_h, len_h)| {
            let start = ts("2026-12-01T00:00:00Z") + start_h.hours();
            (format!("w@{k}"), start, start + len_h.hours())
        })
    }

    proptest! {
        #[test]
        fn plan_update_never_touches_started_ones_and_yields_the_fresh_set(
            existing in proptest::collection::vec(occurrence_strategy(), 0..10),
            produced in proptest::collection::vec(occurrence_strategy(), 0..10),
            now_h in 0i64..50,
        ) {
            let now = ts("2026-12-01T00:00:00Z") + now_h.hours();
            let existing: Vec<StoredOccurrence> = existing
                .into_iter()
                .map(|(key, start, end)| (key.clone(), StoredOccurrence { key, start, end }))
                .collect::<BTreeMap<_, _>>()
                .into_values()
                .collect();
            let mut fresh_map = BTreeMap::new();
            for (key, start, end) in produced {
                fresh_map.insert(key.clone(), Occurrence { window_id: "w".into(), key, start, end });
            }
            let fresh: Vec<Occurrence> = fresh_map.into_values().collect();
            let update = plan_update(&existing, &fresh, now);

            let started: BTreeMap<&str, &StoredOccurrence> = existing
                .iter()
                .filter(|o| o.start <= now)
                .map(|o| (o.key.as_str(), o))
                .collect();
            for o in &update.update {
                prop_assert!(!started.contains_key(o.key.as_str()));
                let old = existing.iter().find(|e| e.key == o.key).unwrap();
                prop_assert!(old.start != o.start || old.end != o.end);
            }
            for o in &update.cancel {
                prop_assert!(o.start > now);
            }
            for o in &update.insert {
                prop_assert!(existing.iter().all(|e| e.key != o.key));
            }

            // Apply it.
            let mut store: BTreeMap<String, (Timestamp, Timestamp)> =
                existing.iter().map(|o| (o.key.clone(), (o.start, o.end))).collect();
            for o in update.insert.iter().chain(&update.update) {
                store.insert(o.key.clone(), (o.start, o.end));
            }
            for o in &update.cancel {
                prop_assert!(store.remove(&o.key).is_some());
            }

            // Started stored occurrences as they were; every other key exactly as fresh.
            let mut expected: BTreeMap<String, (Timestamp, Timestamp)> = started
                .values()
                .map(|o| (o.key.clone(), (o.start, o.end)))
                .collect();
            for o in &fresh {
                expected.entry(o.key.clone()).or_insert((o.start, o.end));
            }
            prop_assert_eq!(&store, &expected);
            // So the future part of the store is the fresh future part (bar started keys).
            let future_store: Vec<_> = store.iter().filter(|(_, (s, _))| *s > now).collect();
            let future_fresh: Vec<_> = expected.iter().filter(|(_, (s, _))| *s > now).collect();
            prop_assert_eq!(future_store, future_fresh);
        }

        #[test]
        fn the_moved_anchor_gives_the_same_occurrences_as_the_fixed_one(
            (rule, now, horizon) in anchor_case(),
            zone in proptest::sample::select(vec!["Europe/Rome", "America/New_York", "UTC"]),
        ) {
            let moved = window(zone, &rule, None, HOUR);
            let fixed = window(zone, &rule, Some(DEFAULT_ANCHOR), HOUR);
            let a = materialise(&moved, now, horizon).unwrap();
            let b = materialise(&fixed, now, horizon).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert!(a.windows(2).all(|p| p[0].start < p[1].start));
            for o in &a {
                prop_assert!(o.start + 1.hour() >= now && o.start < now + SignedDuration::try_from(horizon).unwrap());
                prop_assert_eq!(o.end, o.start + 1.hour());
            }
        }
    }

    /// Rules of every frequency with intervals, and instants where expanding from 2000 stays
    /// cheap for the sub-daily ones.
    fn anchor_case() -> impl Strategy<Value = (String, Timestamp, Duration)> {
        let instant = |from: &str, days: i64| {
            let base = ts(from);
            (0..days * 24).prop_map(move |h| base + h.hours())
        };
        let day_or_longer = (
            proptest::sample::select(vec!["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
            1u32..6,
            0u8..24,
            proptest::option::of(proptest::sample::select(vec!["MO", "SA", "SU,WE"])),
            instant("2000-01-01T00:00:00Z", 366 * 30),
        )
            .prop_map(|(freq, interval, hour, byday, now)| {
                let byday = match (freq, byday) {
                    ("WEEKLY", Some(days)) => format!(";BYDAY={days}"),
                    _ => String::new(),
                };
                let horizon = if freq == "YEARLY" {
                    800 * DAY
                } else {
                    100 * DAY
                };
                (
                    format!("FREQ={freq};INTERVAL={interval};BYHOUR={hour}{byday}"),
                    now,
                    horizon,
                )
            });
        let hourly = (1u32..30, instant("2000-01-01T00:00:00Z", 400))
            .prop_map(|(interval, now)| (format!("FREQ=HOURLY;INTERVAL={interval}"), now, 3 * DAY));
        let minutely =
            (5u32..200, instant("2000-01-01T00:00:00Z", 20)).prop_map(|(interval, now)| {
                (
                    format!("FREQ=MINUTELY;INTERVAL={interval}"),
                    now,
                    Duration::from_secs(6 * 3600),
                )
            });
        prop_oneof![4 => day_or_longer, 1 => hourly, 1 => minutely]
    }
}
