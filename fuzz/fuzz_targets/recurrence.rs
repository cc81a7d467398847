//! Any text as a window's RRULE: validation and a month of occurrences never panic, and the
//! occurrences come back sorted, unique and inside the requested range.
#![no_main]

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use libfuzzer_sys::fuzz_target;
use upkeep_domain::recurrence::{occurrences, validate_rrule};

fuzz_target!(|rule: &str| {
    let zone = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
    let from = Timestamp::from_second(1_774_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let until = from + (31 * 24).hours();
    let _ = validate_rrule(rule, &zone, None, from);
    if let Ok(found) = occurrences(rule, &zone, from, until) {
        assert!(found.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(found.iter().all(|t| *t >= from && *t < until));
    }
});
