//! iCalendar (RFC 5545) text for maintenance calendars: VEVENTs with local times in their own
//! zone, a VTIMEZONE for every zone used, RRULE for recurring windows with RECURRENCE-ID
//! overrides for occurrences that were moved or cancelled, stable UIDs and a SEQUENCE that grows
//! with every reschedule.
//!
//! Written here rather than with a calendar crate because the part that matters — VTIMEZONE
//! blocks generated from the tz database for exactly the span the events cover, so that any
//! client computes the same instants upkeep does — is not something the available crates do;
//! the rest (escaping, 75-octet folding, CRLF) is a few lines, tested below.
//!
//! Local-time rules match [`crate::recurrence`] and RFC 5545 §3.3.5: a local start inside a
//! spring-forward gap is read with the offset before the gap (02:30 → 03:30 summer time), a
//! local time that occurs twice means its first occurrence.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

/// An event's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Tentative => "TENTATIVE",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One VEVENT.
#[derive(Debug, Clone)]
pub struct Event {
    /// Globally unique and stable across feeds and rebuilds.
    pub uid: String,
    /// Grows with every reschedule or cancellation.
    pub sequence: u32,
    pub summary: String,
    pub description: Option<String>,
    pub url: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The local start to write as DTSTART when it is not simply `start` in `tz`: a recurring
    /// event's first start as its rule writes it (02:30 on a spring-forward night, which
    /// readers resolve to the same instant as `start`).
    pub local_start: Option<jiff::civil::DateTime>,
    /// Write DTSTART and DTEND in UTC (for an occurrence whose local times are ambiguous or
    /// which spans a daylight-saving change, so that every reader computes the same instants).
    pub utc_times: bool,
    /// Write `DURATION` (exact, `end − start`) instead of `DTEND`: for recurring events, whose
    /// instances last the same absolute time across daylight-saving changes.
    pub exact_duration: bool,
    /// The zone the times are written in, with its IANA name (`UTC` writes UTC times).
    pub tz_name: String,
    pub tz: TimeZone,
    pub status: EventStatus,
    /// The rule of a recurring event (the part after `RRULE:`); `start` is its first occurrence.
    pub rrule: Option<String>,
    /// For an override of one occurrence of a recurring event: that occurrence's original
    /// local start as the rule writes it (`YYYY-MM-DDTHH:MM[:SS]`, in `tz`).
    pub recurrence_id: Option<jiff::civil::DateTime>,
    /// Original local starts of a recurring event's occurrences that no longer happen.
    pub exdates: Vec<jiff::civil::DateTime>,
    /// When this version of the event was written.
    pub stamp: Timestamp,
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (never inside a UTF-8 sequence) and ends it with CRLF.
pub fn fold(line: &str, out: &mut String) {
    let mut width = 0usize;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn civil(dt: jiff::civil::DateTime) -> String {
    dt.strftime("%Y%m%dT%H%M%S").to_string()
}

fn offset(o: Offset) -> String {
    let secs = o.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    if a.is_multiple_of(60) {
        format!("{sign}{:02}{:02}", a / 3600, a / 60 % 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", a / 3600, a / 60 % 60, a % 60)
    }
}

fn is_utc(name: &str) -> bool {
    matches!(name, "UTC" | "Etc/UTC" | "Z")
}

/// A property with a date-time in the event's zone.
fn when(name: &str, e: &Event, local: jiff::civil::DateTime) -> String {
    if is_utc(&e.tz_name) {
        format!("{name}:{}Z", civil(local))
    } else {
        format!("{name};TZID={}:{}", e.tz_name, civil(local))
    }
}

/// The VTIMEZONE of `tz` covering `[from, to)`: its offset at `from`, then every transition.
pub fn vtimezone(name: &str, tz: &TimeZone, from: Timestamp, to: Timestamp, out: &mut String) {
    fold("BEGIN:VTIMEZONE", out);
    fold(&format!("TZID:{name}"), out);
    let observance = |out: &mut String,
                      dst: bool,
                      start: jiff::civil::DateTime,
                      from: Offset,
                      to: Offset,
                      abbreviation: &str| {
        let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
        fold(&format!("BEGIN:{kind}"), out);
        fold(&format!("DTSTART:{}", civil(start)), out);
        fold(&format!("TZOFFSETFROM:{}", offset(from)), out);
        fold(&format!("TZOFFSETTO:{}", offset(to)), out);
        if !abbreviation.is_empty() {
            fold(&format!("TZNAME:{}", escape_text(abbreviation)), out);
        }
        fold(&format!("END:{kind}"), out);
    };
    let first = tz.to_offset_info(from);
    let mut current = first.offset();
    observance(
        out,
        first.dst().is_dst(),
        current.to_datetime(from),
        current,
        current,
        first.abbreviation(),
    );
    for t in tz.following(from) {
        if t.timestamp() >= to {
            break;
        }
        // DTSTART is the local time of the change read in the offset before it.
        observance(
            out,
            t.dst().is_dst(),
            current.to_datetime(t.timestamp()),
            current,
            t.offset(),
            t.abbreviation(),
        );
        current = t.offset();
    }
    fold("END:VTIMEZONE", out);
}

/// A whole calendar named `name` with `events`, and a VTIMEZONE for each zone they use,
/// covering their span (with a year of margin on either side, for clients that expand rules).
pub fn render(product: &str, name: &str, events: &[Event]) -> String {
    let mut out = String::new();
    fold("BEGIN:VCALENDAR", &mut out);
    fold("VERSION:2.0", &mut out);
    fold(&format!("PRODID:-//{}//EN", escape_text(product)), &mut out);
    fold("CALSCALE:GREGORIAN", &mut out);
    fold("METHOD:PUBLISH", &mut out);
    fold(&format!("X-WR-CALNAME:{}", escape_text(name)), &mut out);

    let mut zones: Vec<(&str, &TimeZone, Timestamp, Timestamp)> = Vec::new();
    for e in events.iter().filter(|e| !is_utc(&e.tz_name)) {
        let to = if e.rrule.is_some() {
            // A recurring event: cover the years a client will expand.
            e.end
                .checked_add(jiff::SignedDuration::from_hours(24 * 366 * 2))
        } else {
            Ok(e.end)
        }
        .unwrap_or(e.end);
        match zones.iter_mut().find(|z| z.0 == e.tz_name) {
            Some(z) => {
                z.2 = z.2.min(e.start);
                z.3 = z.3.max(to);
            }
            None => zones.push((&e.tz_name, &e.tz, e.start, to)),
        }
    }
    let year = jiff::SignedDuration::from_hours(24 * 366);
    for (name, tz, from, to) in zones {
        vtimezone(
            name,
            tz,
            from.checked_sub(year).unwrap_or(from),
            to.checked_add(year).unwrap_or(to),
            &mut out,
        );
    }

    for e in events {
        fold("BEGIN:VEVENT", &mut out);
        fold(&format!("UID:{}", escape_text(&e.uid)), &mut out);
        fold(&format!("DTSTAMP:{}", utc(e.stamp)), &mut out);
        fold(&format!("SEQUENCE:{}", e.sequence), &mut out);
        let start = e.local_start.unwrap_or_else(|| e.tz.to_datetime(e.start));
        // A local time that occurs twice (or, written by hand, not at all) would be read as
        // its first occurrence: such a one-off event is written in UTC instead.
        let unclear = |t: Timestamp| e.tz.to_ambiguous_zoned(e.tz.to_datetime(t)).is_ambiguous();
        let utc_times = e.utc_times
            || (e.rrule.is_none()
                && e.local_start.is_none()
                && !is_utc(&e.tz_name)
                && (unclear(e.start) || unclear(e.end)));
        if utc_times {
            fold(&format!("DTSTART:{}", utc(e.start)), &mut out);
        } else {
            fold(&when("DTSTART", e, start), &mut out);
        }
        if utc_times {
            fold(&format!("DTEND:{}", utc(e.end)), &mut out);
        } else if e.exact_duration {
            let secs = e.end.as_second().saturating_sub(e.start.as_second()).max(0);
            fold(&format!("DURATION:PT{secs}S"), &mut out);
        } else {
            fold(&when("DTEND", e, e.tz.to_datetime(e.end)), &mut out);
        }
        if let Some(id) = e.recurrence_id {
            fold(&when("RECURRENCE-ID", e, id), &mut out);
        }
        if let Some(rule) = &e.rrule {
            fold(&format!("RRULE:{rule}"), &mut out);
        }
        for x in &e.exdates {
            fold(&when("EXDATE", e, *x), &mut out);
        }
        fold(&format!("SUMMARY:{}", escape_text(&e.summary)), &mut out);
        if let Some(d) = &e.description {
            fold(&format!("DESCRIPTION:{}", escape_text(d)), &mut out);
        }
        if let Some(u) = &e.url {
            // A URI value is not TEXT: written as is, without line breaks.
            fold(&format!("URL:{}", u.replace(['\r', '\n'], "")), &mut out);
        }
        fold(&format!("STATUS:{}", e.status.as_str()), &mut out);
        fold("TRANSP:OPAQUE", &mut out);
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn unfold(text: &str) -> Vec<String> {
        text.replace("\r\n ", "")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a,b;c\\d\ne\r\u{7}"), "a\\,b\\;c\\\\d\\ne");
    }

    proptest! {
        #[test]
        fn folding_keeps_lines_short_and_unfolds_to_the_original(s in "\\PC{0,400}") {
            let line = format!("SUMMARY:{}", escape_text(&s));
            let mut out = String::new();
            fold(&line, &mut out);
            for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
                prop_assert!(physical.len() <= 75, "{} octets", physical.len());
            }
            prop_assert_eq!(unfold(&out), vec![line]);
        }
    }

    #[test]
    fn rome_has_its_transitions_with_local_starts_before_the_change() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let mut out = String::new();
        vtimezone(
            "Europe/Rome",
            &rome,
            "2026-01-01T00:00:00Z".parse().unwrap(),
            "2027-01-01T00:00:00Z".parse().unwrap(),
            &mut out,
        );
        let lines = unfold(&out);
        let text = lines.join("\n");
        assert!(text.starts_with("BEGIN:VTIMEZONE\nTZID:Europe/Rome\nBEGIN:STANDARD"));
        // Spring forward: 02:00 CET becomes 03:00 CEST on 29 March.
        assert!(text.contains(
            "BEGIN:DAYLIGHT\nDTSTART:20260329T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST\nEND:DAYLIGHT"
        ), "{text}");
        // Fall back: 03:00 CEST becomes 02:00 CET on 25 October.
        assert!(text.contains(
            "BEGIN:STANDARD\nDTSTART:20261025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET\nEND:STANDARD"
        ), "{text}");
        assert_eq!(text.matches("BEGIN:DAYLIGHT").count(), 1);
    }

    #[test]
    fn a_one_off_event_in_the_autumn_fold_is_written_in_utc() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let event = Event {
            uid: "m2@status.example".into(),
            sequence: 0,
            summary: "Fold".into(),
            description: None,
            url: Some("https://status.example/maintenance/a,b;c".into()),
            start: "2026-10-24T23:00:00Z".parse().unwrap(),
            // 02:30 CET, a local time that also happened an hour earlier in CEST.
            end: "2026-10-25T01:30:00Z".parse().unwrap(),
            local_start: None,
            utc_times: false,
            exact_duration: false,
            tz_name: "Europe/Rome".into(),
            tz: rome,
            status: EventStatus::Confirmed,
            rrule: None,
            recurrence_id: None,
            exdates: vec![],
            stamp: "2026-10-01T00:00:00Z".parse().unwrap(),
        };
        let lines = unfold(&render("upkeep", "M", &[event]));
        assert!(
            lines.iter().any(|l| l == "DTSTART:20261024T230000Z"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l == "DTEND:20261025T013000Z"),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "URL:https://status.example/maintenance/a,b;c")
        );
    }

    #[test]
    fn events_are_written_in_their_zone_with_a_timezone_block() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let event = Event {
            uid: "m1@status.example".into(),
            sequence: 2,
            summary: "Database upgrade, phase 1; read-only".into(),
            description: Some("Line one\nLine two".into()),
            url: Some("https://status.example/".into()),
            start: "2026-12-05T21:00:00Z".parse().unwrap(),
            end: "2026-12-05T23:00:00Z".parse().unwrap(),
            local_start: None,
            utc_times: false,
            exact_duration: false,
            tz_name: "Europe/Rome".into(),
            tz: rome,
            status: EventStatus::Cancelled,
            rrule: None,
            recurrence_id: None,
            exdates: vec![],
            stamp: "2026-11-22T10:00:00Z".parse().unwrap(),
        };
        let text = render("upkeep", "Maintenance", &[event]);
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        let lines = unfold(&text);
        for expected in [
            "UID:m1@status.example",
            "SEQUENCE:2",
            "DTSTART;TZID=Europe/Rome:20261205T220000",
            "DTEND;TZID=Europe/Rome:20261206T000000",
            "SUMMARY:Database upgrade\\, phase 1\\; read-only",
            "DESCRIPTION:Line one\\nLine two",
            "STATUS:CANCELLED",
            "TZID:Europe/Rome",
            "DTSTAMP:20261122T100000Z",
        ] {
            assert!(
                lines.iter().any(|l| l == expected),
                "{expected} in {lines:#?}"
            );
        }
    }
}
