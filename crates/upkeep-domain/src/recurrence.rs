//! Recurring schedules in a time zone: RFC 5545 RRULEs for maintenance windows and 5-field cron
//! expressions for push monitors.
//!
//! The rrule crate is asked only for *local civil* date-times (it runs in UTC, used here as a
//! floating zone, so it never sees a daylight-saving change); each civil time is then turned
//! into an instant with the rule of `docs/decisions.md#time`, jiff's `compatible` disambiguation: a time in a
//! spring-forward gap moves forward by the gap (02:30 → 03:30), a time that occurs twice means
//! its first occurrence. A window's end is its start plus its duration in absolute time, so
//! callers add the duration to the returned instants. Cron schedules are croner's, in the
//! check's zone, with Vixie cron's day-of-month OR day-of-week rule.

use std::str::FromStr;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use rrule::RRuleSet;

/// At most this many occurrences are returned by one call of [`occurrences`].
pub const MAX_OCCURRENCES: usize = 100_000;
/// At most this many occurrences are stepped over before the requested range starts.
pub const MAX_SKIPPED: usize = 1_000_000;
/// A rule without an occurrence within this many years after "now" is refused.
pub const NEVER_OCCURS_YEARS: i16 = 10;

/// Occurrences of `rrule` (the part after `RRULE:`, e.g. `FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22`)
/// in `zone` whose start lies in `[from, until)`. The rule is anchored (its DTSTART) at local
/// midnight of `from`'s date; see [`occurrences_from_anchor`] for a fixed anchor.
pub fn occurrences(
    rrule: &str,
    zone: &TimeZone,
    from: Timestamp,
    until: Timestamp,
) -> Result<Vec<Timestamp>, String> {
    let anchor = zone.to_datetime(from).date();
    occurrences_from_anchor(rrule, zone, anchor, from, until)
}

/// Like [`occurrences`], with the rule's DTSTART at local midnight of `anchor`, so that
/// `INTERVAL` and `COUNT` count from a stable day.
pub fn occurrences_from_anchor(
    rrule: &str,
    zone: &TimeZone,
    anchor: Date,
    from: Timestamp,
    until: Timestamp,
) -> Result<Vec<Timestamp>, String> {
    // Civil bounds one day wider than the instants, so no zone offset can hide an occurrence.
    let civil_from = zone
        .to_datetime(from)
        .checked_sub(1.day())
        .map_err(|err| err.to_string())?;
    let civil_until = zone
        .to_datetime(until)
        .checked_add(1.day())
        .map_err(|err| err.to_string())?;
    let mut found = Vec::new();
    let mut skipped = 0usize;
    for local in civil_occurrences(rrule, anchor)? {
        if local > civil_until {
            break;
        }
        if local < civil_from {
            skipped += 1;
            if skipped > MAX_SKIPPED {
                return Err(too_many_before(anchor));
            }
            continue;
        }
        let instant = local_to_instant(zone, local)?;
        if instant >= from && instant < until {
            found.push(instant);
            if found.len() > MAX_OCCURRENCES {
                return Err(format!(
                    "this rule occurs more than {MAX_OCCURRENCES} times in the requested range"
                ));
            }
        }
    }
    // Two civil times can land on one instant (02:30 moved to 03:30 beside a real 03:30).
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// Checks a rule for use in the configuration: it must parse, and occur at least once within
/// [`NEVER_OCCURS_YEARS`] years after `now` (anchored at `anchor`, or `now`'s local date).
pub fn validate_rrule(
    rrule: &str,
    zone: &TimeZone,
    anchor: Option<Date>,
    now: Timestamp,
) -> Result<(), String> {
    let local_now = zone.to_datetime(now);
    let anchor = anchor.unwrap_or(local_now.date());
    let horizon = local_now
        .checked_add(i64::from(NEVER_OCCURS_YEARS).years())
        .map_err(|err| err.to_string())?;
    let mut first_after_now = None;
    for (index, local) in civil_occurrences(rrule, anchor)?.enumerate() {
        if index > MAX_SKIPPED {
            return Err(too_many_before(anchor));
        }
        if local >= local_now {
            first_after_now = Some(local);
            break;
        }
    }
    if first_after_now.is_some_and(|local| local <= horizon) {
        Ok(())
    } else {
        Err(format!(
            "this rule never occurs in the next {NEVER_OCCURS_YEARS} years"
        ))
    }
}

fn too_many_before(anchor: Date) -> String {
    format!(
        "this rule occurs more than {MAX_SKIPPED} times between its start ({anchor}) and the requested range; start it later"
    )
}

/// The conversion of a local civil time (`docs/decisions.md#time`): gap → forward by the gap, fold → first occurrence.
pub fn local_to_instant(zone: &TimeZone, local: DateTime) -> Result<Timestamp, String> {
    zone.to_ambiguous_timestamp(local)
        .compatible()
        .map_err(|err| err.to_string())
}

/// Local civil occurrences of the rule, in order, starting at local midnight of `anchor`.
fn civil_occurrences(rrule: &str, anchor: Date) -> Result<impl Iterator<Item = DateTime>, String> {
    let rule = rrule.trim();
    let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
    if rule.is_empty() {
        return Err("empty rule: write e.g. FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22;BYMINUTE=0".into());
    }
    // The rrule crate slices BYDAY values by bytes and panics inside a multi-byte char
    // (found by fuzzing); RFC 5545 rules are ASCII anyway.
    if !rule.is_ascii() {
        return Err("a rule is plain ASCII text, e.g. FREQ=WEEKLY;BYDAY=SA".into());
    }
    if rule.contains(['\n', '\r']) {
        return Err("a rule is one line: write only the part after `RRULE:`".into());
    }
    let text = format!(
        "DTSTART:{}T000000Z\nRRULE:{rule}",
        anchor.strftime("%Y%m%d")
    );
    let set = RRuleSet::from_str(&text).map_err(|err| err.to_string())?;
    Ok(set.limit().into_iter().map_while(|occurrence| {
        let instant = Timestamp::from_second(occurrence.timestamp()).ok()?;
        Some(TimeZone::UTC.to_datetime(instant))
    }))
}

/// Parses a standard 5-field cron expression (`0 2 * * *`; names like `MON` and `JAN` and
/// nicknames like `@daily` are accepted).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|err| err.to_string())
}

/// The first run of `cron` strictly after `after`, computed in `zone` (a fixed time inside a
/// spring-forward gap runs right after the gap; a time that occurs twice runs once).
pub fn next_cron_run(cron: &Cron, zone: &TimeZone, after: Timestamp) -> Result<Timestamp, String> {
    let start = Zoned::new(after, zone.clone());
    cron.find_next_occurrence(&start, false)
        .map(|next| next.timestamp())
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn monthly_first_saturday_at_22() {
        let found = occurrences(
            "FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22;BYMINUTE=0",
            &rome(),
            ts("2026-01-01T00:00:00Z"),
            ts("2026-04-01T00:00:00Z"),
        )
        .unwrap();
        // 2026-01-03, 2026-02-07, 2026-03-07 at 22:00 CET (21:00 UTC).
        assert_eq!(
            found,
            vec![
                ts("2026-01-03T21:00:00Z"),
                ts("2026-02-07T21:00:00Z"),
                ts("2026-03-07T21:00:00Z")
            ]
        );
    }

    #[test]
    fn spring_forward_gap_moves_forward() {
        // Europe/Rome: 2026-03-29 02:00 CET → 03:00 CEST; 02:30 does not exist.
        let found = occurrences(
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            &rome(),
            ts("2026-03-28T00:00:00Z"),
            ts("2026-03-31T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            found,
            vec![
                ts("2026-03-28T01:30:00Z"), // 02:30 CET
                ts("2026-03-29T01:30:00Z"), // 03:30 CEST: moved forward by the gap
                ts("2026-03-30T00:30:00Z"), // 02:30 CEST
            ]
        );
    }

    #[test]
    fn fall_back_fold_means_first_occurrence() {
        // Europe/Rome: 2026-10-25 03:00 CEST → 02:00 CET; 02:30 happens twice.
        let found = occurrences(
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            &rome(),
            ts("2026-10-24T00:00:00Z"),
            ts("2026-10-27T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            found,
            vec![
                ts("2026-10-24T00:30:00Z"), // 02:30 CEST
                ts("2026-10-25T00:30:00Z"), // first 02:30 (CEST), once
                ts("2026-10-26T01:30:00Z"), // 02:30 CET
            ]
        );
    }

    #[test]
    fn a_four_hour_window_lasts_four_hours_on_a_short_day() {
        let start = occurrences(
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=29;BYHOUR=0;BYMINUTE=0",
            &rome(),
            ts("2026-01-01T00:00:00Z"),
            ts("2027-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(start, vec![ts("2026-03-28T23:00:00Z")]);
        let end = start[0] + 4.hours();
        // Four absolute hours after local midnight on a 23-hour day is 05:00 local.
        assert_eq!(rome().to_datetime(end), date(2026, 3, 29).at(5, 0, 0, 0));
    }

    #[test]
    fn validation() {
        let now = ts("2026-11-22T10:00:00Z");
        assert!(validate_rrule("FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22", &rome(), None, now).is_ok());
        let never = validate_rrule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", &rome(), None, now);
        assert!(never.unwrap_err().contains("never occurs"));
        let past = validate_rrule(
            "FREQ=DAILY;UNTIL=20200101T000000Z",
            &rome(),
            Some(date(2019, 1, 1)),
            now,
        );
        assert!(past.unwrap_err().contains("never occurs"));
        assert!(validate_rrule("FREQ=SOMETIMES", &rome(), None, now).is_err());
        assert!(validate_rrule("FREQ=DAILY\nEXDATE:20260101T000000Z", &rome(), None, now).is_err());
        assert!(validate_rrule("", &rome(), None, now).is_err());
        let busy = validate_rrule("FREQ=SECONDLY", &rome(), Some(date(2000, 1, 1)), now);
        assert!(busy.unwrap_err().contains("start it later"));
    }

    #[test]
    fn non_ascii_byday_is_refused_not_a_panic() {
        let now = ts("2026-11-22T10:00:00Z");
        let result = validate_rrule("FREQ=MONTHLY;BYDAY=\u{4ec}A;BYHOUR=22", &rome(), None, now);
        assert!(result.unwrap_err().contains("ASCII"));
    }

    #[test]
    fn interval_counts_from_the_anchor() {
        let every_other_day = |anchor| {
            occurrences_from_anchor(
                "FREQ=DAILY;INTERVAL=2;BYHOUR=12",
                &TimeZone::UTC,
                anchor,
                ts("2026-06-10T00:00:00Z"),
                ts("2026-06-14T00:00:00Z"),
            )
            .unwrap()
        };
        assert_eq!(
            every_other_day(date(2026, 6, 1)),
            vec![ts("2026-06-11T12:00:00Z"), ts("2026-06-13T12:00:00Z")]
        );
        assert_eq!(
            every_other_day(date(2026, 6, 2)),
            vec![ts("2026-06-10T12:00:00Z"), ts("2026-06-12T12:00:00Z")]
        );
    }

    #[test]
    fn cron_in_a_zone() {
        let cron = parse_cron("0 2 * * *").unwrap();
        let next = next_cron_run(&cron, &rome(), ts("2026-11-22T10:00:00Z")).unwrap();
        assert_eq!(next, ts("2026-11-23T01:00:00Z"));
        // On the spring-forward day a 02:30 job runs right after the gap.
        let cron = parse_cron("30 2 * * *").unwrap();
        let next = next_cron_run(&cron, &rome(), ts("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(rome().to_datetime(next).date(), date(2026, 3, 29));
        assert_eq!(next, ts("2026-03-29T01:00:00Z"));
        // On the fall-back day it runs once.
        let first = next_cron_run(&cron, &rome(), ts("2026-10-24T12:00:00Z")).unwrap();
        let second = next_cron_run(&cron, &rome(), first).unwrap();
        assert_eq!(first, ts("2026-10-25T00:30:00Z"));
        assert_eq!(second, ts("2026-10-26T01:30:00Z"));
        for bad in ["", "0 2 * *", "0 0 2 * * *", "61 * * * *", "* * * * * 2026"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn daily_occurrences_are_sorted_unique_and_in_range(
            hour in 0i8..24,
            minute in 0i8..60,
            zone in prop_oneof![Just("Europe/Rome"), Just("America/New_York")],
            start_day in 0i64..730,
        ) {
            let zone = TimeZone::get(zone).unwrap();
            let from = ts("2026-01-01T00:00:00Z") + (start_day * 24).hours();
            let until = from + (40 * 24).hours();
            let found = occurrences(
                &format!("FREQ=DAILY;BYHOUR={hour};BYMINUTE={minute}"),
                &zone,
                from,
                until,
            )
            .unwrap();
            prop_assert!(found.windows(2).all(|pair| pair[0] < pair[1]));
            prop_assert!(found.iter().all(|t| *t >= from && *t < until));
            // One per local day: 40 days in range, give or take the partial first/last day.
            prop_assert!((39..=41).contains(&found.len()), "{}", found.len());
            for instant in &found {
                // The wall time asked for on that day, moved forward only if it fell in a gap.
                let asked = zone.to_datetime(*instant).date().at(hour, minute, 0, 0);
                prop_assert_eq!(local_to_instant(&zone, asked).unwrap(), *instant);
            }
        }
    }
}
