//! Rollup totals, and the packed form of one UTC day's totals per hour or per minute.
//!
//! Every check result is summed into its UTC minute, hour and day ([`RollupTotals`]). Once a
//! day is over, the store keeps it as one row per monitor: the day's totals, its 24 hours
//! packed into one value and its 1,440 minutes into another ([`encode`]), rather than 1,465
//! rows. A packed day is a version byte, then one entry per slot (hour or minute) that has
//! anything in it, in slot order: the number of empty slots skipped since the previous entry,
//! then the checks, failures, latency sum, latency maximum and time down, each a LEB128 varint
//! (time down zigzagged). A monitor checked every 30 s packs a minute in about 7 bytes.
//!
//! Totals add up ([`RollupTotals::add`]): sums add and the largest latency wins, so a day
//! packed, then merged with what arrived late ([`merge`]), totals exactly what it would have
//! totalled unpacked. [`decode`] takes stored bytes as untrusted input: anything malformed is
//! an error, never a panic (fuzz target `rollups`).

use std::ops::Range;

use serde::Serialize;

use crate::varint::{self, VarintError};

/// Sums over a range of rollup buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RollupTotals {
    pub checks: u64,
    pub failures: u64,
    pub latency_sum_ms: u64,
    pub latency_max_ms: u32,
    pub down_ms: i64,
}

impl RollupTotals {
    /// Mean latency over the checks, if there were any.
    pub fn mean_latency_ms(&self) -> Option<u64> {
        self.latency_sum_ms.checked_div(self.checks)
    }

    /// Adds `other` in: counts and sums add (saturating), the larger latency maximum wins.
    pub fn add(&mut self, other: &RollupTotals) {
        self.checks = self.checks.saturating_add(other.checks);
        self.failures = self.failures.saturating_add(other.failures);
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(other.latency_sum_ms);
        self.latency_max_ms = self.latency_max_ms.max(other.latency_max_ms);
        self.down_ms = self.down_ms.saturating_add(other.down_ms);
    }

    /// Whether nothing was summed in.
    pub fn is_empty(&self) -> bool {
        *self == RollupTotals::default()
    }
}

/// Slots of a day packed per hour.
pub const HOURS_A_DAY: usize = 24;
/// Slots of a day packed per minute.
pub const MINUTES_A_DAY: usize = 1_440;

/// The packed format's version, its first byte.
const VERSION: u8 = 1;

/// Why packed totals could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("packed rollups are cut short")]
    CutShort,
    #[error("packed rollups hold a number longer than 64 bits")]
    TooLong,
    #[error("packed rollups of unknown version {0}")]
    Version(u8),
    #[error("packed rollups hold slot {slot} of a day of {slots}")]
    Slot { slot: u64, slots: usize },
    #[error("packed rollups hold a latency maximum of {0} ms, out of range")]
    Latency(u64),
}

impl From<VarintError> for PackError {
    fn from(e: VarintError) -> PackError {
        match e {
            VarintError::CutShort => PackError::CutShort,
            VarintError::TooLong => PackError::TooLong,
        }
    }
}

/// Packs a day's totals per slot (see the module documentation); empty slots take no room.
pub fn encode(slots: &[RollupTotals]) -> Vec<u8> {
    let mut out = vec![VERSION];
    let mut next = 0usize;
    for (i, t) in slots.iter().enumerate() {
        if t.is_empty() {
            continue;
        }
        varint::push(&mut out, (i - next) as u64);
        varint::push(&mut out, t.checks);
        varint::push(&mut out, t.failures);
        varint::push(&mut out, t.latency_sum_ms);
        varint::push(&mut out, u64::from(t.latency_max_ms));
        varint::push(&mut out, varint::zigzag(t.down_ms));
        next = i + 1;
    }
    out
}

/// Calls `each` with every slot `bytes` holds (index, totals), in slot order; the day has
/// `slots` slots.
fn entries(
    bytes: &[u8],
    slots: usize,
    mut each: impl FnMut(usize, RollupTotals),
) -> Result<(), PackError> {
    let Some((&version, mut input)) = bytes.split_first() else {
        return Err(PackError::CutShort);
    };
    if version != VERSION {
        return Err(PackError::Version(version));
    }
    let mut next = 0u64;
    while !input.is_empty() {
        let slot = next.saturating_add(varint::read(&mut input)?);
        let index = usize::try_from(slot)
            .ok()
            .filter(|i| *i < slots)
            .ok_or(PackError::Slot { slot, slots })?;
        let checks = varint::read(&mut input)?;
        let failures = varint::read(&mut input)?;
        let latency_sum_ms = varint::read(&mut input)?;
        let max = varint::read(&mut input)?;
        let latency_max_ms = u32::try_from(max).map_err(|_| PackError::Latency(max))?;
        let down_ms = varint::unzigzag(varint::read(&mut input)?);
        each(
            index,
            RollupTotals {
                checks,
                failures,
                latency_sum_ms,
                latency_max_ms,
                down_ms,
            },
        );
        next = slot + 1;
    }
    Ok(())
}

/// The totals per slot that [`encode`] packed, for a day of `slots` slots (24 or 1,440).
pub fn decode(bytes: &[u8], slots: usize) -> Result<Vec<RollupTotals>, PackError> {
    let mut out = vec![RollupTotals::default(); slots];
    entries(bytes, slots, |i, t| out[i] = t)?;
    Ok(out)
}

/// The totals of the slots in any of `ranges` (each slot counted once) of a packed day of
/// `slots` slots.
pub fn sum(bytes: &[u8], slots: usize, ranges: &[Range<usize>]) -> Result<RollupTotals, PackError> {
    let mut total = RollupTotals::default();
    entries(bytes, slots, |i, t| {
        if ranges.iter().any(|r| r.contains(&i)) {
            total.add(&t);
        }
    })?;
    Ok(total)
}

/// Two packed days of `slots` slots added slot by slot, packed.
pub fn merge(a: &[u8], b: &[u8], slots: usize) -> Result<Vec<u8>, PackError> {
    let mut out = decode(a, slots)?;
    entries(b, slots, |i, t| out[i].add(&t))?;
    Ok(encode(&out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn totals(checks: u64, failures: u64, sum: u64, max: u32, down: i64) -> RollupTotals {
        RollupTotals {
            checks,
            failures,
            latency_sum_ms: sum,
            latency_max_ms: max,
            down_ms: down,
        }
    }

    #[test]
    fn a_day_packs_its_slots_in_order_and_skips_empty_ones() {
        let mut day = vec![RollupTotals::default(); HOURS_A_DAY];
        day[0] = totals(120, 0, 4_800, 90, 0);
        day[3] = totals(2, 1, 300, 200, 30_000);
        let bytes = encode(&day);
        assert_eq!(
            bytes,
            [
                1, // version
                0, 120, 0, 0xc0, 0x25, 90, 0, // slot 0
                2, 2, 1, 0xac, 0x02, 0xc8, 0x01, 0xe0, 0xd4, 0x03, // slot 3, after 2 empty
            ]
        );
        assert_eq!(decode(&bytes, HOURS_A_DAY).unwrap(), day);
        assert_eq!(sum(&bytes, HOURS_A_DAY, &[1..3, 3..24]).unwrap(), day[3]);
        assert_eq!(sum(&bytes, HOURS_A_DAY, &[0..1, 2..3]).unwrap(), day[0]);
        assert_eq!(encode(&[RollupTotals::default(); MINUTES_A_DAY]), [1]);
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert_eq!(decode(&[], 24), Err(PackError::CutShort));
        assert_eq!(decode(&[2], 24), Err(PackError::Version(2)));
        assert_eq!(decode(&[1, 0, 1, 0], 24), Err(PackError::CutShort));
        assert_eq!(
            decode(&[1, 24, 1, 0, 0, 0, 0], 24),
            Err(PackError::Slot {
                slot: 24,
                slots: 24
            })
        );
        let mut huge = vec![1, 0, 1, 0, 0];
        varint::push(&mut huge, u64::from(u32::MAX) + 1);
        huge.push(0);
        assert_eq!(
            decode(&huge, 24),
            Err(PackError::Latency(u64::from(u32::MAX) + 1))
        );
        let mut skip_far = vec![1];
        varint::push(&mut skip_far, u64::MAX);
        skip_far.extend([1, 0, 0, 0, 0]);
        assert!(matches!(
            decode(&skip_far, 1_440),
            Err(PackError::Slot { .. })
        ));
    }

    fn arb_totals() -> impl Strategy<Value = RollupTotals> {
        prop_oneof![
            3 => Just(RollupTotals::default()),
            3 => (1..20u64, 0..3u64, 0..10_000u64, 0..5_000u32, 0..300_000i64)
                .prop_map(|(c, f, s, m, d)| totals(c, f, s, m, d)),
            1 => (any::<u64>(), any::<u64>(), any::<u64>(), any::<u32>(), any::<i64>())
                .prop_map(|(c, f, s, m, d)| totals(c, f, s, m, d)),
        ]
    }

    fn arb_day() -> impl Strategy<Value = Vec<RollupTotals>> {
        prop_oneof![
            proptest::collection::vec(arb_totals(), HOURS_A_DAY),
            proptest::collection::vec(arb_totals(), MINUTES_A_DAY),
        ]
    }

    fn arb_pair() -> impl Strategy<Value = (Vec<RollupTotals>, Vec<RollupTotals>)> {
        prop_oneof![Just(HOURS_A_DAY), Just(MINUTES_A_DAY)].prop_flat_map(|n| {
            (
                proptest::collection::vec(arb_totals(), n),
                proptest::collection::vec(arb_totals(), n),
            )
        })
    }

    proptest! {
        #[test]
        fn decoding_an_encoded_day_gives_it_back(day in arb_day()) {
            prop_assert_eq!(decode(&encode(&day), day.len()), Ok(day));
        }

        /// Merging packed days is adding their slots; a range's sum is its slots' total.
        #[test]
        fn merging_is_adding((a, b) in arb_pair(), lo in 0..1_440usize, len in 0..1_440usize) {
            let n = a.len();
            let merged = merge(&encode(&a), &encode(&b), n).unwrap();
            let mut want = a.clone();
            for (w, t) in want.iter_mut().zip(&b) {
                w.add(t);
            }
            prop_assert_eq!(decode(&merged, n), Ok(want.clone()));
            let range = lo.min(n)..(lo + len).min(n);
            let mut total = RollupTotals::default();
            for t in &want[range.clone()] {
                total.add(t);
            }
            prop_assert_eq!(sum(&merged, n, std::slice::from_ref(&range)), Ok(total));
            // A second range beside it adds its own slots, and an overlap counts once.
            let after = range.end..n;
            for t in &want[after.clone()] {
                total.add(t);
            }
            prop_assert_eq!(sum(&merged, n, &[range.clone(), after, range]), Ok(total));
        }

        /// Any bytes decode to an error or to a day that packs and decodes the same.
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64), hours in any::<bool>()) {
            let slots = if hours { HOURS_A_DAY } else { MINUTES_A_DAY };
            let mut bytes = bytes;
            if let Some(first) = bytes.first_mut() {
                *first = VERSION; // mostly well-versioned, so the entries are exercised
            }
            if let Ok(day) = decode(&bytes, slots) {
                prop_assert_eq!(decode(&encode(&day), slots), Ok(day.clone()));
                prop_assert_eq!(merge(&bytes, &[VERSION], slots).map(|m| decode(&m, slots)), Ok(Ok(day)));
            }
        }
    }
}
