//! Any text as a Prometheus exposition: never panics; every sample has a valid name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::metrics_text::parse;

fuzz_target!(|text: &str| {
    if let Ok(samples) = parse(text) {
        for s in samples {
            assert!(!s.name.is_empty());
        }
    }
});
