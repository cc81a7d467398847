//! Any text as a duration: never panics, and what parses formats back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::duration::{format_duration, parse_duration};

fuzz_target!(|text: &str| {
    if let Ok(duration) = parse_duration(text) {
        assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
    }
});
