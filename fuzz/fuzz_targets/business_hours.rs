//! Any text as business hours: never panics; what parses displays back to the same pattern and
//! answers `contains` and `overlaps` without panicking.
#![no_main]

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use libfuzzer_sys::fuzz_target;
use upkeep_domain::business_hours::BusinessHours;

fuzz_target!(|input: (&str, i32)| {
    let (text, seconds) = input;
    if let Ok(hours) = BusinessHours::parse(text) {
        assert_eq!(
            BusinessHours::parse(&hours.to_string()).as_ref(),
            Ok(&hours)
        );
        let zone = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
        let start = Timestamp::from_second(1_790_000_000 + i64::from(seconds))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let _ = hours.contains(zone.to_datetime(start));
        let _ = hours.overlaps(&zone, start, start + 3.hours());
    }
});
