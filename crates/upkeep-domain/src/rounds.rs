//! Probe rounds: when a monitor is probed, the same instants on every replica and agent.
//!
//! A monitor with interval `I` is probed once per round; its rounds start at the instants
//! `k × I + phase` (UTC, milliseconds since the epoch), where the phase is a stable hash of its
//! id inside the interval. So 10,000 monitors with the same interval spread over it rather than
//! firing at once, and every location probing a monitor probes it in the same round, however
//! far apart their processes started: the server judges a round on the results whose start
//! falls inside it (docs/agents.md).
//!
//! The hash is FNV-1a (64 bits) of the id's bytes: fixed by this module, not by a standard
//! library whose hasher may change between releases, because agents of other versions must
//! agree with the server.

use std::time::Duration;

use jiff::Timestamp;

/// A monitor's phase inside its interval, in milliseconds (`0 ≤ phase < interval`).
pub fn phase_ms(id: &str, interval: Duration) -> i64 {
    let interval = interval_ms(interval);
    let hash = fnv1a(id);
    // interval ≥ 1 and fits i64, so the remainder does too.
    i64::try_from(hash % interval.unsigned_abs()).unwrap_or(0)
}

/// FNV-1a (64 bits) of the bytes of `text`: the one stable hash of ids (rounds' phases,
/// `shards::shard_of`), the same in every process and release.
pub fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The interval in whole milliseconds, at least 1.
fn interval_ms(interval: Duration) -> i64 {
    i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// The start of the round that `at` falls in.
pub fn round_start(id: &str, interval: Duration, at: Timestamp) -> Timestamp {
    let i = interval_ms(interval);
    let phase = phase_ms(id, interval);
    let ms = at.as_millisecond();
    let start = ms.saturating_sub(phase).div_euclid(i).saturating_mul(i) + phase;
    Timestamp::from_millisecond(start).unwrap_or(at)
}

/// The first round start at or after `at`.
pub fn next_round_start(id: &str, interval: Duration, at: Timestamp) -> Timestamp {
    let start = round_start(id, interval, at);
    if start == at {
        return start;
    }
    let i = interval_ms(interval);
    Timestamp::from_millisecond(start.as_millisecond().saturating_add(i)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap()
    }

    #[test]
    fn the_phase_is_fixed_by_the_id_alone() {
        // Pinned: agents of other versions must compute the same phase.
        // FNV-1a of "api" is 0xe74f_c019_056a_ae07; its remainder by 60,000 (computed apart).
        assert_eq!(phase_ms("api", Duration::from_secs(60)), 27_879);
        assert_eq!(phase_ms("", Duration::from_secs(60)), 16_037);
        assert_ne!(
            phase_ms("api", Duration::from_secs(60)),
            phase_ms("apj", Duration::from_secs(60))
        );
    }

    #[test]
    fn many_ids_spread_over_the_interval() {
        let interval = Duration::from_secs(10);
        let mut tenths = [0u32; 10];
        for n in 0..10_000 {
            let p = phase_ms(&format!("monitor-{n}"), interval);
            tenths[usize::try_from(p / 1_000).unwrap()] += 1;
        }
        assert!(
            tenths.iter().all(|&c| (800..1200).contains(&c)),
            "{tenths:?}"
        );
    }

    proptest! {
        #[test]
        fn an_instant_lies_in_the_round_that_starts_before_it(
            id in "[a-z0-9-]{1,20}", secs in 1u64..86_400, at in -1_000_000_000_000i64..4_000_000_000_000,
        ) {
            let interval = Duration::from_secs(secs);
            let i = i64::try_from(interval.as_millis()).unwrap();
            let start = round_start(&id, interval, ts(at)).as_millisecond();
            prop_assert!(start <= at && at < start + i);
            prop_assert_eq!((start - phase_ms(&id, interval)).rem_euclid(i), 0);
            let next = next_round_start(&id, interval, ts(at)).as_millisecond();
            prop_assert!(next >= at && next < at + i);
            prop_assert_eq!(round_start(&id, interval, ts(next)).as_millisecond(), next);
        }
    }
}
