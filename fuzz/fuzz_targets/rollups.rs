//! Any bytes as a packed day of rollups, per hour and per minute: never panics; what decodes
//! packs and decodes back to the same totals, and merges with itself into twice the checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::rollups::{HOURS_A_DAY, MINUTES_A_DAY, decode, encode, merge};

fuzz_target!(|bytes: &[u8]| {
    for slots in [HOURS_A_DAY, MINUTES_A_DAY] {
        if let Ok(day) = decode(bytes, slots) {
            assert_eq!(decode(&encode(&day), slots).as_ref(), Ok(&day));
            let twice = merge(bytes, bytes, slots).map(|m| decode(&m, slots));
            let Ok(Ok(twice)) = twice else {
                panic!("a decodable day does not merge with itself");
            };
            for (one, two) in day.iter().zip(&twice) {
                assert_eq!(one.checks.saturating_mul(2), two.checks);
                assert_eq!(one.latency_max_ms, two.latency_max_ms);
            }
        }
    }
});
