//! Business hours of a region: a weekly pattern of local wall-clock spans such as
//! `Mon-Fri 08:00-19:00, Sat 09:00-13:00`.
//!
//! A span names the days it *starts* on; an end at or before its start (`22:00-06:00`) crosses
//! midnight and ends on the next day; `24:00` is a valid end; day ranges may wrap (`Fri-Mon`).
//! [`BusinessHours::contains`] answers for a local wall-clock time. [`BusinessHours::overlaps`]
//! answers for an absolute interval in a zone, turning each span's local start and end into
//! instants with the rule of `docs/decisions.md#time`: a local time in a daylight-saving gap moves forward
//! by the gap, a local time that occurs twice means its first occurrence.

use std::fmt;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

const SECONDS_PER_DAY: u32 = 86_400;
const SECONDS_PER_WEEK: u32 = 7 * SECONDS_PER_DAY;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// How many local days [`BusinessHours::overlaps`] inspects at most: two weeks cover every day
/// of the pattern even when one week holds a daylight-saving change.
const MAX_DAYS_INSPECTED: i32 = 16;

/// A weekly pattern of business-hour spans; empty means "never business hours".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BusinessHours {
    spans: Vec<HoursSpan>,
}

/// One `DAYS HH:MM-HH:MM` item of the pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HoursSpan {
    /// First day, 0 = Monday.
    first_day: u8,
    /// Last day (inclusive), 0 = Monday; smaller than `first_day` when the range wraps.
    last_day: u8,
    /// Start, in minutes after local midnight (0..1440).
    start_minute: u16,
    /// End, in minutes after local midnight (1..=1440); at or before `start_minute` means the
    /// span ends on the next day.
    end_minute: u16,
}

impl HoursSpan {
    fn starts_on(&self, day: u8) -> bool {
        if self.first_day <= self.last_day {
            (self.first_day..=self.last_day).contains(&day)
        } else {
            day >= self.first_day || day <= self.last_day
        }
    }

    fn crosses_midnight(&self) -> bool {
        self.end_minute <= self.start_minute
    }

    fn length_seconds(&self) -> u32 {
        let end = if self.crosses_midnight() {
            u32::from(self.end_minute) + 1440
        } else {
            u32::from(self.end_minute)
        };
        (end - u32::from(self.start_minute)) * 60
    }
}

impl BusinessHours {
    /// Parses `Mon-Fri 08:00-19:00`, lists such as `Mon-Fri 08:00-19:00, Sat 09:00-13:00`,
    /// single days, wrapping ranges (`Fri-Mon`), `24:00` ends and spans crossing midnight.
    /// `never` (or an empty string) is the empty pattern.
    pub fn parse(text: &str) -> Result<BusinessHours, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("never") {
            return Ok(BusinessHours::default());
        }
        let spans = trimmed
            .split(',')
            .map(|item| parse_span(item.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BusinessHours { spans })
    }

    /// Whether business hours are in effect at this local wall-clock time.
    pub fn contains(&self, local: DateTime) -> bool {
        let day = weekday_index(local.weekday());
        let second_of_week = u32::from(day) * SECONDS_PER_DAY
            + u32::from(local.hour().unsigned_abs()) * 3600
            + u32::from(local.minute().unsigned_abs()) * 60
            + u32::from(local.second().unsigned_abs());
        self.spans.iter().any(|span| {
            (0..7u8).filter(|d| span.starts_on(*d)).any(|d| {
                let start = u32::from(d) * SECONDS_PER_DAY + u32::from(span.start_minute) * 60;
                let offset = (second_of_week + SECONDS_PER_WEEK - start) % SECONDS_PER_WEEK;
                offset < span.length_seconds()
            })
        })
    }

    /// Whether the absolute interval `[start, end)` meets business hours in `zone`. Each span's
    /// local start and end become instants with the rule of `docs/decisions.md#time` (gap → forward, fold → first).
    pub fn overlaps(&self, zone: &TimeZone, start: Timestamp, end: Timestamp) -> bool {
        if end <= start || self.spans.is_empty() {
            return false;
        }
        let Ok(first_day) = zone.to_datetime(start).date().checked_sub(1.day()) else {
            return true;
        };
        let last_day = zone.to_datetime(end).date();
        let mut day = first_day;
        for _ in 0..MAX_DAYS_INSPECTED {
            if day > last_day {
                return false;
            }
            let weekday = weekday_index(day.weekday());
            for span in self.spans.iter().filter(|span| span.starts_on(weekday)) {
                if let Some((span_start, span_end)) = span_instants(span, day, zone)
                    && span_start < end
                    && start < span_end
                {
                    return true;
                }
            }
            match day.checked_add(1.day()) {
                Ok(next) => day = next,
                Err(_) => return false,
            }
        }
        // Longer than two weeks: every day of the pattern has been seen and none matched.
        false
    }

    /// Whether the pattern is empty (no business hours at all).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// The absolute start and end of `span` when it starts on local date `day`.
fn span_instants(span: &HoursSpan, day: Date, zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = local_instant(zone, day, span.start_minute)?;
    let end_day = if span.crosses_midnight() {
        day.checked_add(1.day()).ok()?
    } else {
        day
    };
    let end = local_instant(zone, end_day, span.end_minute)?;
    Some((start, end))
}

/// The instant of `minute` after midnight (1440 = next midnight) on local `day` in `zone`.
fn local_instant(zone: &TimeZone, day: Date, minute: u16) -> Option<Timestamp> {
    let (day, minute) = if minute >= 1440 {
        (day.checked_add(1.day()).ok()?, minute - 1440)
    } else {
        (day, minute)
    };
    let hour = i8::try_from(minute / 60).ok()?;
    let minute = i8::try_from(minute % 60).ok()?;
    let time = Time::new(hour, minute, 0, 0).ok()?;
    zone.to_ambiguous_timestamp(day.to_datetime(time))
        .compatible()
        .ok()
}

fn weekday_index(weekday: Weekday) -> u8 {
    weekday.to_monday_zero_offset().unsigned_abs()
}

fn parse_span(item: &str) -> Result<HoursSpan, String> {
    let Some((days, hours)) = item.split_once(char::is_whitespace) else {
        return Err(format!(
            "bad business hours `{item}`: expected DAYS HH:MM-HH:MM, e.g. Mon-Fri 08:00-19:00"
        ));
    };
    let (first_day, last_day) = match days.split_once('-') {
        Some((first, last)) => (parse_day(first)?, parse_day(last)?),
        None => {
            let day = parse_day(days)?;
            (day, day)
        }
    };
    let hours = hours.trim();
    let Some((start, end)) = hours.split_once('-') else {
        return Err(format!(
            "bad business hours `{item}`: expected a time range HH:MM-HH:MM after the days"
        ));
    };
    let start_minute = parse_clock(start.trim(), false)?;
    let end_minute = parse_clock(end.trim(), true)?;
    if start_minute == end_minute {
        return Err(format!(
            "bad business hours `{item}`: the span is empty (use 00:00-24:00 for a whole day)"
        ));
    }
    Ok(HoursSpan {
        first_day,
        last_day,
        start_minute,
        end_minute,
    })
}

fn parse_day(text: &str) -> Result<u8, String> {
    let lower = text.trim().to_ascii_lowercase();
    let found = DAY_NAMES
        .iter()
        .zip(FULL_DAY_NAMES)
        .position(|(short, full)| lower == short.to_ascii_lowercase() || lower == full);
    match found.and_then(|index| u8::try_from(index).ok()) {
        Some(index) => Ok(index),
        None => Err(format!(
            "unknown day `{text}` in business hours: use Mon, Tue, Wed, Thu, Fri, Sat or Sun"
        )),
    }
}

/// Parses `HH:MM` into minutes after midnight; `24:00` only when `is_end`.
fn parse_clock(text: &str, is_end: bool) -> Result<u16, String> {
    let invalid = || format!("bad time `{text}` in business hours: expected HH:MM, e.g. 08:00");
    let (hour, minute) = text.split_once(':').ok_or_else(invalid)?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hour) || !two_digits(minute) {
        return Err(invalid());
    }
    let hour: u16 = hour.parse().map_err(|_| invalid())?;
    let minute: u16 = minute.parse().map_err(|_| invalid())?;
    if is_end && hour == 24 && minute == 0 {
        return Ok(1440);
    }
    if hour > 23 || minute > 59 {
        return Err(if hour == 24 {
            format!("bad time `{text}` in business hours: 24:00 is only valid as an end")
        } else {
            invalid()
        });
    }
    Ok(hour * 60 + minute)
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.spans.is_empty() {
            return f.write_str("never");
        }
        for (index, span) in self.spans.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            let name = |day: u8| DAY_NAMES.get(usize::from(day)).copied().unwrap_or("?");
            f.write_str(name(span.first_day))?;
            if span.last_day != span.first_day {
                write!(f, "-{}", name(span.last_day))?;
            }
            write!(
                f,
                " {:02}:{:02}-{:02}:{:02}",
                span.start_minute / 60,
                span.start_minute % 60,
                span.end_minute / 60,
                span.end_minute % 60
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn hours(text: &str) -> BusinessHours {
        BusinessHours::parse(text).unwrap()
    }

    fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> DateTime {
        date(y, mo, d).at(h, mi, 0, 0)
    }

    fn instant(zone: &TimeZone, local: DateTime) -> Timestamp {
        zone.to_ambiguous_timestamp(local).compatible().unwrap()
    }

    #[test]
    fn weekdays_office_hours() {
        let bh = hours("Mon-Fri 08:00-19:00");
        // 2026-11-23 is a Monday.
        assert!(bh.contains(at(2026, 11, 23, 8, 0)));
        assert!(bh.contains(at(2026, 11, 27, 18, 59)));
        assert!(!bh.contains(at(2026, 11, 27, 19, 0)));
        assert!(!bh.contains(at(2026, 11, 23, 7, 59)));
        assert!(!bh.contains(at(2026, 11, 28, 10, 0)));
    }

    #[test]
    fn lists_single_days_and_24_00() {
        let bh = hours("Mon-Fri 08:00-19:00, Sat 09:00-13:00, Sun 20:00-24:00");
        assert!(bh.contains(at(2026, 11, 28, 9, 0)));
        assert!(!bh.contains(at(2026, 11, 28, 13, 0)));
        assert!(bh.contains(at(2026, 11, 29, 23, 59)));
        assert!(!bh.contains(at(2026, 11, 30, 0, 0)));
        assert_eq!(
            bh.to_string(),
            "Mon-Fri 08:00-19:00, Sat 09:00-13:00, Sun 20:00-24:00"
        );
    }

    #[test]
    fn spans_crossing_midnight_end_next_day() {
        let bh = hours("Mon-Fri 22:00-06:00");
        assert!(bh.contains(at(2026, 11, 27, 23, 0))); // Friday night
        assert!(bh.contains(at(2026, 11, 28, 5, 59))); // Saturday morning, from Friday
        assert!(!bh.contains(at(2026, 11, 29, 5, 0))); // Sunday morning: Saturday has no span
        assert!(!bh.contains(at(2026, 11, 23, 5, 0))); // Monday morning: Sunday has no span
        assert!(bh.contains(at(2026, 11, 24, 5, 0))); // Tuesday morning, from Monday
    }

    #[test]
    fn wrapping_day_ranges() {
        let bh = hours("Fri-Mon 10:00-12:00");
        assert!(bh.contains(at(2026, 11, 27, 11, 0))); // Fri
        assert!(bh.contains(at(2026, 11, 29, 11, 0))); // Sun
        assert!(bh.contains(at(2026, 11, 30, 11, 0))); // Mon
        assert!(!bh.contains(at(2026, 11, 25, 11, 0))); // Wed
    }

    #[test]
    fn sunday_night_wraps_to_monday() {
        let bh = hours("Sun 23:00-01:00");
        assert!(bh.contains(at(2026, 11, 29, 23, 30)));
        assert!(bh.contains(at(2026, 11, 30, 0, 30)));
        assert!(!bh.contains(at(2026, 11, 30, 1, 0)));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in [
            "Mon-Fri",
            "Mon-Fri 8:00-19:00",
            "Mon-Fro 08:00-19:00",
            "Mon-Fri 08:00-25:00",
            "Mon-Fri 24:00-08:00",
            "Mon-Fri 08:00-08:00",
            "Mon-Fri 08:00",
            "Mon-Fri 08:60-09:00",
            ",",
        ] {
            assert!(
                BusinessHours::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        assert!(BusinessHours::parse("never").unwrap().is_empty());
    }

    #[test]
    fn overlaps_in_rome() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let bh = hours("Mon-Fri 08:00-19:00");
        let start = instant(&rome, at(2026, 11, 27, 19, 0));
        let end = instant(&rome, at(2026, 11, 27, 23, 0));
        assert!(!bh.overlaps(&rome, start, end));
        let early = instant(&rome, at(2026, 11, 27, 18, 45));
        assert!(bh.overlaps(&rome, early, end));
        // A weekend-long window never touches Mon-Fri hours before Monday 08:00.
        let saturday = instant(&rome, at(2026, 11, 28, 0, 0));
        let monday = instant(&rome, at(2026, 11, 30, 8, 0));
        assert!(!bh.overlaps(&rome, saturday, monday));
        assert!(bh.overlaps(&rome, saturday, monday + 1.second()));
    }

    #[test]
    fn span_starting_in_a_gap_moves_forward() {
        // Europe/Rome springs forward on 2026-03-29 (a Sunday) at 02:00 → 03:00.
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let bh = hours("Sun 02:30-04:00");
        let three_ten = instant(&rome, at(2026, 3, 29, 3, 10));
        let three_twenty_nine = instant(&rome, at(2026, 3, 29, 3, 29));
        let three_thirty = instant(&rome, at(2026, 3, 29, 3, 30));
        assert!(!bh.overlaps(&rome, three_ten, three_twenty_nine));
        assert!(bh.overlaps(&rome, three_ten, three_thirty + 1.second()));
    }

    #[test]
    fn span_ending_in_a_fold_ends_at_first_occurrence() {
        // Europe/Rome falls back on 2026-10-25 (a Sunday) at 03:00 → 02:00.
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let bh = hours("Sun 01:00-02:30");
        let first_two_thirty = instant(&rome, at(2026, 10, 25, 2, 30));
        // The second 02:00 is one hour after the first.
        let second_two = instant(&rome, at(2026, 10, 25, 2, 0)) + 1.hour();
        assert!(bh.overlaps(&rome, first_two_thirty - 1.second(), first_two_thirty));
        assert!(!bh.overlaps(&rome, first_two_thirty, second_two + 20.minutes()));
    }

    fn zone_strategy() -> impl Strategy<Value = TimeZone> {
        prop_oneof![
            Just(TimeZone::get("Europe/Rome").unwrap()),
            Just(TimeZone::get("America/New_York").unwrap()),
        ]
    }

    /// Instants around the 2026 transition days of both zones, plus arbitrary ones.
    fn instant_strategy() -> impl Strategy<Value = Timestamp> {
        let transitions = [
            "2026-03-08T00:00:00Z", // New York spring forward
            "2026-03-29T00:00:00Z", // Rome spring forward
            "2026-10-25T00:00:00Z", // Rome fall back
            "2026-11-01T00:00:00Z", // New York fall back
        ];
        let around = proptest::sample::select(transitions.to_vec()).prop_flat_map(|day| {
            let base: Timestamp = day.parse().unwrap();
            (-86_400i64..2 * 86_400).prop_map(move |s| base + s.seconds())
        });
        prop_oneof![
            around,
            (1_700_000_000i64..1_900_000_000).prop_map(|s| Timestamp::from_second(s).unwrap()),
        ]
    }

    /// Patterns whose span edges stay away from 01:00-04:00, where DST changes happen.
    fn pattern_strategy() -> impl Strategy<Value = String> {
        let day = proptest::sample::select(DAY_NAMES.to_vec());
        let start = prop_oneof![0u16..60, 240u16..1440];
        let end = prop_oneof![0u16..60, 240u16..1441];
        proptest::collection::vec((day.clone(), day, start, end), 1..4).prop_map(|items| {
            items
                .into_iter()
                .map(|(first, last, start, end)| {
                    let end = if end == start { (end + 1) % 1441 } else { end };
                    let end = if end == 0 { 1440 } else { end };
                    format!(
                        "{first}-{last} {:02}:{:02}-{:02}:{:02}",
                        start / 60,
                        start % 60,
                        end / 60,
                        end % 60
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    proptest! {
        #[test]
        fn display_round_trips(pattern in pattern_strategy()) {
            let parsed = hours(&pattern);
            prop_assert_eq!(BusinessHours::parse(&parsed.to_string()), Ok(parsed));
        }

        #[test]
        fn an_instant_overlaps_exactly_when_its_local_time_is_inside(
            pattern in pattern_strategy(),
            zone in zone_strategy(),
            t in instant_strategy(),
        ) {
            let bh = hours(&pattern);
            let local = zone.to_datetime(t);
            prop_assert_eq!(bh.overlaps(&zone, t, t + 1.second()), bh.contains(local));
        }

        #[test]
        fn overlap_is_monotonic_in_the_interval(
            pattern in pattern_strategy(),
            zone in zone_strategy(),
            t in instant_strategy(),
            a in 0i64..200_000,
            b in 0i64..200_000,
        ) {
            let bh = hours(&pattern);
            let (short, long) = (a.min(b), a.max(b));
            if bh.overlaps(&zone, t, t + short.seconds()) {
                prop_assert!(bh.overlaps(&zone, t, t + long.seconds()));
            }
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = BusinessHours::parse(&text);
        }
    }
}
