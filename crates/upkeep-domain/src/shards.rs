//! Probe shards: how the replicas sharing one database split the probing.
//!
//! Every monitor belongs to one of [`SHARDS`] shards ([`shard_of`], a stable hash of its id);
//! each shard is a lease, and the replica holding it probes the shard's monitors. At each pass
//! a replica looks at who is live and who holds which shard and [`plan`]s its part:
//!
//! - each live replica aims at its fair share ([`targets`]: `count / live` shards, one more for
//!   the first `count % live` of them, those already holding the most first, so a change of
//!   membership moves as few shards as it can);
//! - a replica holding more than its share gives up the extra (highest-numbered first), so that
//!   a replica that joined can take them;
//! - a replica holding less takes free shards (never held, released, or expired with a dead
//!   holder), starting at a place fixed by its name so that replicas claiming at once mostly
//!   ask for different shards.
//!
//! A join moves only the joiner's share; a death moves only the dead replica's shards. The
//! lease table decides every race (a claim of a held shard fails), and the next pass corrects
//! any overshoot. How the leases keep a shard probed by at most one replica per round is in
//! `upkeep_engine::monitoring::shards`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::rounds::fnv1a;

/// How many shards the monitors are split into: enough for a fair split over a few dozen
/// replicas, few enough that renewing them all costs nothing.
pub const SHARDS: u32 = 64;

/// The shard of a monitor among `count` (at least 1): fixed by its id alone, the same in every
/// process and release.
pub fn shard_of(monitor_id: &str, count: u32) -> u32 {
    let count = u64::from(count.max(1));
    // FNV-1a's last bytes reach only its low bits, which also place the monitor's phase in its
    // interval (`rounds`): mixed (MurmurHash3's 64-bit finaliser) so that ids differing in
    // their last characters spread over the shards, each holding phases from all over the
    // interval.
    let mut h = fnv1a(monitor_id);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    u32::try_from(h % count).unwrap_or(0)
}

/// Each live replica's fair share of `count` shards, given how many each holds now (`held`;
/// holders that are not live may appear and are ignored).
pub fn targets<'a>(
    members: &[&'a str],
    held: &HashMap<&str, usize>,
    count: u32,
) -> BTreeMap<&'a str, usize> {
    let members: BTreeSet<&'a str> = members.iter().copied().collect();
    let Ok(n) = u32::try_from(members.len()) else {
        return BTreeMap::new();
    };
    if n == 0 {
        return BTreeMap::new();
    }
    let base = usize::try_from(count / n).unwrap_or(0);
    let extra = usize::try_from(count % n).unwrap_or(0);
    // The extra shards go to those already holding the most (then by name): a replica at
    // `base + 1` keeps its extra one instead of passing it along.
    let mut order: Vec<&'a str> = members.into_iter().collect();
    order.sort_by_key(|m| (std::cmp::Reverse(held.get(m).copied().unwrap_or(0)), *m));
    order
        .into_iter()
        .enumerate()
        .map(|(i, m)| (m, base + usize::from(i < extra)))
        .collect()
}

/// What one replica does at a pass: the shards to claim and those to give up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub claim: Vec<u32>,
    pub release: Vec<u32>,
}

/// The pass of replica `me`: `members` are the live replicas (`me` counts as live whatever
/// the list says), `holders[s]` who holds shard `s` now (`None`: free). The number of shards
/// is `holders.len()`.
pub fn plan(me: &str, members: &[&str], holders: &[Option<&str>]) -> Plan {
    let Ok(count) = u32::try_from(holders.len()) else {
        return Plan::default();
    };
    let mut live: Vec<&str> = members.to_vec();
    live.push(me);
    let mut held: HashMap<&str, usize> = HashMap::new();
    for holder in holders.iter().flatten() {
        *held.entry(holder).or_default() += 1;
    }
    let target = targets(&live, &held, count).get(me).copied().unwrap_or(0);
    let mine: Vec<u32> = (0..count)
        .filter(|s| holders[*s as usize] == Some(me))
        .collect();
    if mine.len() > target {
        let release = mine[target..].to_vec();
        return Plan {
            claim: Vec::new(),
            release,
        };
    }
    let start = u32::try_from(fnv1a(me) % u64::from(count.max(1))).unwrap_or(0);
    let claim = (0..count)
        .map(|i| (start + i) % count)
        .filter(|s| holders[*s as usize].is_none())
        .take(target - mine.len())
        .collect();
    Plan {
        claim,
        release: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_shard_is_fixed_by_the_id_alone() {
        // Pinned: replicas of different releases must agree.
        // FNV-1a of "api" is 0xe74f_c019_056a_ae07, mixed 0x1acb_6049_47b1_3cd3; % 64 = 19.
        assert_eq!(shard_of("api", 64), 19);
        assert_eq!(shard_of("api", 1), 0);
        assert_eq!(shard_of("api", 0), 0);
    }

    #[test]
    fn many_ids_spread_over_the_shards() {
        let mut per = [0u32; SHARDS as usize];
        for n in 0..64_000 {
            per[shard_of(&format!("monitor-{n}"), SHARDS) as usize] += 1;
        }
        assert!(per.iter().all(|&c| (800..1200).contains(&c)), "{per:?}");
    }

    #[test]
    fn shares_differ_by_at_most_one_and_add_up() {
        let held = HashMap::from([("b", 40)]);
        let t = targets(&["a", "b", "c"], &held, 64);
        assert_eq!(t.values().sum::<usize>(), 64);
        // b holds the most: it keeps the extra shard.
        assert_eq!(t["b"], 22);
        assert_eq!((t["a"], t["c"]), (21, 21));
    }

    #[test]
    fn a_lone_replica_takes_every_shard() {
        let holders = vec![None; 8];
        let p = plan("only", &[], &holders);
        assert_eq!(p.claim.len(), 8);
        assert!(p.release.is_empty());
    }

    /// Runs passes of every replica in `order` (repeated) on `holders` until nothing changes;
    /// a release frees the shard, a claim takes a free one.
    fn settle(members: &[String], holders: &mut [Option<String>], order: &[usize]) -> usize {
        for pass in 0..100 {
            let mut changed = false;
            let everyone = 0..members.len();
            for i in order.iter().copied().chain(everyone) {
                let me = &members[i % members.len()];
                let view: Vec<Option<&str>> = holders.iter().map(|h| h.as_deref()).collect();
                let names: Vec<&str> = members.iter().map(String::as_str).collect();
                let p = plan(me, &names, &view);
                for s in p.release {
                    holders[s as usize] = None;
                    changed = true;
                }
                for s in p.claim {
                    if holders[s as usize].is_none() {
                        holders[s as usize] = Some(me.clone());
                        changed = true;
                    }
                }
            }
            if !changed {
                return pass;
            }
        }
        panic!("no fixed point: {holders:?}");
    }

    fn counts(holders: &[Option<String>]) -> HashMap<String, usize> {
        let mut c = HashMap::new();
        for h in holders.iter().flatten() {
            *c.entry(h.clone()).or_default() += 1;
        }
        c
    }

    fn assert_fair(members: &[String], holders: &[Option<String>]) {
        assert!(holders.iter().all(Option::is_some), "a shard is left free");
        let c = counts(holders);
        let n = members.len();
        let count = holders.len();
        for m in members {
            let got = c.get(m).copied().unwrap_or(0);
            assert!(
                got == count / n || got == count / n + 1,
                "{m} holds {got} of {count} over {n}: {c:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn replicas_settle_on_fair_shares_and_a_join_moves_only_the_joiners_share(
            n in 1usize..7, count in 1u32..130, order in proptest::collection::vec(0usize..8, 1..12),
        ) {
            let members: Vec<String> = (0..n).map(|i| format!("replica-{i}")).collect();
            let mut holders = vec![None; count as usize];
            settle(&members, &mut holders, &order);
            assert_fair(&members, &holders);

            // A join: only the shards the joiner ends with change hands.
            let before = holders.clone();
            let mut joined = members.clone();
            joined.push("replica-new".into());
            let mut order_join = order.clone();
            order_join.push(n);
            settle(&joined, &mut holders, &order_join);
            assert_fair(&joined, &holders);
            let moved = before.iter().zip(&holders).filter(|(a, b)| a != b).count();
            let joiner = counts(&holders).get("replica-new").copied().unwrap_or(0);
            prop_assert_eq!(moved, joiner);

            // A death: its shards expire; only they change hands.
            if n >= 1 {
                let dead = joined[0].clone();
                let survivors: Vec<String> = joined[1..].to_vec();
                let before = holders.clone();
                for h in holders.iter_mut() {
                    if h.as_deref() == Some(dead.as_str()) {
                        *h = None;
                    }
                }
                settle(&survivors, &mut holders, &order);
                assert_fair(&survivors, &holders);
                for (a, b) in before.iter().zip(&holders) {
                    if a.as_deref() != Some(dead.as_str()) {
                        prop_assert_eq!(a, b);
                    }
                }
            }
        }
    }
}
