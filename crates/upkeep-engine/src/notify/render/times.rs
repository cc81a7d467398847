//! Times as mails show them: in the reader's zone, with the zone's abbreviation or offset,
//! and the IANA name once.

use super::*;

pub(super) fn strf(z: &Zoned, f: &str) -> String {
    jiff::fmt::strtime::format(f, z).unwrap_or_default()
}

/// `CET`, or `UTC+04:00` when the zone has no real abbreviation.
pub(super) fn zone_abbr(z: &Zoned) -> String {
    let abbr = strf(z, "%Z");
    if abbr.is_empty() || abbr.starts_with(['+', '-']) {
        utc_offset(z)
    } else {
        abbr
    }
}

/// `UTC+02:00`.
pub(super) fn utc_offset(z: &Zoned) -> String {
    format!("UTC{}", strf(z, "%:z"))
}

/// `CEST, UTC+02:00` (or only the offset when the zone has no abbreviation).
pub(super) fn abbr_and_offset(z: &Zoned) -> String {
    let abbr = zone_abbr(z);
    let off = utc_offset(z);
    if abbr == off {
        off
    } else {
        format!("{abbr}, {off}")
    }
}

/// `Saturday 7 March 2026, 22:00`.
pub(super) fn long_local(z: &Zoned) -> String {
    strf(z, "%A %-d %B %Y, %H:%M")
}

/// `Saturday 7 March 2026, 22:00 (Europe/Rome, CET)`.
pub(super) fn instant_long(t: Timestamp, tz: &TimeZone, tz_name: &str) -> String {
    let z = t.to_zoned(tz.clone());
    format!(
        "{} ({})",
        long_local(&z),
        zone_suffix(tz_name, &zone_abbr(&z))
    )
}

/// `7 Mar 2026, 22:00 CET`.
pub(super) fn instant_short(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    format!("{} {}", strf(&z, "%-d %b %Y, %H:%M"), zone_abbr(&z))
}

pub(super) fn zone_suffix(tz_name: &str, abbr: &str) -> String {
    let name = one_line(tz_name);
    if name.is_empty() || name == abbr {
        abbr.to_owned()
    } else {
        format!("{name}, {abbr}")
    }
}

/// A window for people, in full:
/// `Saturday 7 March 2026, 22:00 – Sunday 8 March 2026, 02:00 (Europe/Rome, CET)`;
/// across a daylight-saving change each end shows its own abbreviation and offset:
/// `Sunday 25 October 2026, 01:00 CEST (UTC+02:00) – 04:00 CET (UTC+01:00), Europe/Rome`.
pub(super) fn window_long(
    start: Timestamp,
    end: Timestamp,
    tz: &TimeZone,
    tz_name: &str,
) -> String {
    let s = start.to_zoned(tz.clone());
    let e = end.to_zoned(tz.clone());
    let end_part = if s.date() == e.date() {
        strf(&e, "%H:%M")
    } else {
        long_local(&e)
    };
    if s.offset() == e.offset() {
        format!(
            "{} – {} ({})",
            long_local(&s),
            end_part,
            zone_suffix(tz_name, &zone_abbr(&s))
        )
    } else {
        let name = one_line(tz_name);
        let mut out = format!(
            "{} ({}) – {} ({})",
            long_local(&s),
            abbr_and_offset(&s),
            end_part,
            abbr_and_offset(&e)
        );
        if !name.is_empty() {
            let _ = write!(out, ", {name}");
        }
        out
    }
}

/// A window for a subject: `Sat 7 Mar 22:00–02:00 CET`, `Sun 25 Oct 01:00 CEST–04:00 CET`,
/// `Sat 7 Mar 22:00 – Mon 9 Mar 06:00 CET`.
pub(super) fn window_short(start: Timestamp, end: Timestamp, tz: &TimeZone) -> String {
    let s = start.to_zoned(tz.clone());
    let e = end.to_zoned(tz.clone());
    let within_a_day = s.date() == e.date()
        || (s.date().tomorrow().ok() == Some(e.date())
            && end.as_second() - start.as_second() < 86_400);
    let same_offset = s.offset() == e.offset();
    let start_txt = strf(&s, "%a %-d %b %H:%M");
    let start_txt = if same_offset {
        start_txt
    } else {
        format!("{start_txt} {}", zone_abbr(&s))
    };
    if within_a_day {
        format!("{start_txt}–{} {}", strf(&e, "%H:%M"), zone_abbr(&e))
    } else {
        format!(
            "{start_txt} – {} {}",
            strf(&e, "%a %-d %b %H:%M"),
            zone_abbr(&e)
        )
    }
}

/// A tenant's slot: `on Saturday 7 March 2026 between 23:00 and 23:15 CET (Europe/Rome)`, or
/// with both dates when it crosses midnight or a change of offset.
pub(super) fn slot_phrase(from: Timestamp, to: Timestamp, tz: &TimeZone, tz_name: &str) -> String {
    let s = from.to_zoned(tz.clone());
    let e = to.to_zoned(tz.clone());
    let name = one_line(tz_name);
    let tail = if name.is_empty() {
        String::new()
    } else {
        format!(" ({name})")
    };
    if s.date() == e.date() && s.offset() == e.offset() {
        format!(
            "on {} between {} and {} {}{tail}",
            strf(&s, "%A %-d %B %Y"),
            strf(&s, "%H:%M"),
            strf(&e, "%H:%M"),
            zone_abbr(&e)
        )
    } else {
        format!(
            "between {} {} and {} {}{tail}",
            long_local(&s),
            zone_abbr(&s),
            long_local(&e),
            zone_abbr(&e)
        )
    }
}

/// An instant as RFC 3339 in `tz` with its offset: `2026-03-28T03:05:00+01:00`.
pub(super) fn rfc3339_in(t: Timestamp, tz: &TimeZone) -> String {
    strf(&t.to_zoned(tz.clone()), "%Y-%m-%dT%H:%M:%S%:z")
}

/// A tenant's update's instants in the tenant's zone `tz`, named `tz_name`.
pub fn local_times(n: &RolloutNotice, tz: &TimeZone, tz_name: &str) -> LocalTimes {
    LocalTimes {
        timezone: tz_name.to_owned(),
        at: rfc3339_in(n.at, tz),
        slot_start: rfc3339_in(n.slot.start, tz),
        slot_end: rfc3339_in(n.slot.end, tz),
    }
}
