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

/// The round a result probed at `at` is judged in, given the round its prober says it was
/// probed for (`claimed`): the claim holds when it is the round `at` falls in, or the next
/// round when that starts at most `ahead_ms` after `at` (a prober whose clock runs a little
/// fast started the round's probe just before it, by the judge's clock). Otherwise, and
/// without a claim, the round `at` falls in. A claim can never move a result into an earlier
/// round, nor more than one round ahead.
pub fn judged_round(
    id: &str,
    interval: Duration,
    claimed: Option<Timestamp>,
    at: Timestamp,
    ahead_ms: i64,
) -> Timestamp {
    let own = round_start(id, interval, at);
    let Some(claimed) = claimed else {
        return own;
    };
    let next = own.as_millisecond().saturating_add(interval_ms(interval));
    let holds = claimed == own
        || (claimed.as_millisecond() == next
            && next.saturating_sub(at.as_millisecond()) <= ahead_ms);
    if holds { claimed } else { own }
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

    #[test]
    fn a_claim_holds_for_its_own_round_or_the_next_one_just_ahead_only() {
        let every = Duration::from_secs(60);
        let at = Timestamp::from_millisecond(1_790_000_000_000).unwrap();
        let own = round_start("api", every, at);
        let ms = |t: Timestamp| t.as_millisecond();
        let ts = |m: i64| Timestamp::from_millisecond(m).unwrap();
        // No claim, or a claim of the round `at` falls in.
        assert_eq!(judged_round("api", every, None, at, 5_000), own);
        assert_eq!(judged_round("api", every, Some(own), at, 5_000), own);
        // A fast clock: the next round, starting 3 s after the probe's instant.
        let next = ts(ms(own) + 60_000);
        let early = ts(ms(next) - 3_000);
        assert_eq!(judged_round("api", every, Some(next), early, 5_000), next);
        // Too far ahead, two rounds ahead, an earlier round, off the grid: not held.
        let far = ts(ms(next) - 8_000);
        assert_eq!(
            judged_round("api", every, Some(next), far, 5_000),
            round_start("api", every, far)
        );
        let two = ts(ms(own) + 120_000);
        assert_eq!(judged_round("api", every, Some(two), early, 5_000), own);
        let before = ts(ms(own) - 60_000);
        assert_eq!(judged_round("api", every, Some(before), at, 5_000), own);
        let off = ts(ms(own) + 1);
        assert_eq!(judged_round("api", every, Some(off), at, 5_000), own);
    }
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
