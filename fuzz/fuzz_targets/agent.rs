//! Any bytes as a probe agent's batch, and any text as a monitor definition an agent is sent:
//! never panics; an accepted batch keeps its bounds and its instants within the accepted
//! window; a round kept is a round start of the monitor's grid, never far ahead of the
//! probe's start; the digest does not depend on when the batch was sent; a definition that
//! decodes renders back to one that decodes the same.
#![no_main]

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use upkeep_domain::agent::{
    MAX_AGE, MAX_AHEAD_MS, MAX_RESULTS, ROUND_AHEAD_MS, digest, parse_batch,
};
use upkeep_domain::config::assignment::decode;

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_second(1_780_000_000).unwrap();
    let interval = Duration::from_secs(30);
    if let Ok((batch, checked)) = parse_batch(data, now, |location, monitor| {
        (location == "eu-1" && monitor.starts_with('a')).then_some(interval)
    }) {
        assert!(checked.results.len() <= MAX_RESULTS);
        assert_eq!(checked.results.len(), batch.results.len());
        let max_age = i64::try_from(MAX_AGE.as_millis()).unwrap();
        for r in &checked.results {
            let ms = r.at.as_millisecond();
            assert!(ms <= now.as_millisecond() + MAX_AHEAD_MS);
            assert!(ms >= now.as_millisecond() - max_age);
            assert!(r.monitor.starts_with('a'));
            if let Some(round) = r.round {
                assert_eq!(upkeep_domain::rounds::round_start(&r.monitor, interval, round), round);
                assert!(round.as_millisecond() <= ms + ROUND_AHEAD_MS);
                assert!(round.as_millisecond() <= now.as_millisecond() + ROUND_AHEAD_MS);
            }
        }
        let mut resent = batch.clone();
        resent.sent_at = now;
        resent.dropped = resent.dropped.wrapping_add(1);
        assert_eq!(digest(&batch), digest(&resent));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let components = BTreeSet::from(["api".to_owned()]);
        let _ = decode("m", text, &components);
    }
});
