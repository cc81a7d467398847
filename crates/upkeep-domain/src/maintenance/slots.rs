//! Tenant slots within a maintenance window (`docs/decisions.md#maintenance`, "Tenant
//! slots"): tenants are rolled through a window one at a time, each down for one short slot.
//!
//! Rules ([`plan_slots`], [`plan_most`]):
//! - Each tenant gets one slot of the policy's `tenant_slot` length, wholly inside the window (a
//!   slot is not started when less of the window is left than it needs) and, when the policy
//!   says `outside_business_hours`, wholly outside that tenant's business hours read in its
//!   region's zone (with the rule of `docs/decisions.md#time` for daylight-saving changes, as in
//!   [`BusinessHours::overlaps`]). Slots never overlap.
//! - Rollout order: the canary tenants first, in the order given, then the others by tenant id,
//!   whatever order they are given in.
//! - A window is refused ([`SlotsError::DoesNotFit`]) only when no arrangement of slots holds
//!   every tenant; the refusal names the fewest tenants that cannot fit (a maximum placement).
//! - When every tenant fits in rollout order, each at the earliest start after the previous
//!   slot, that is the plan. Otherwise the plan is a maximum placement: the canaries first, in
//!   their order, when the rest still fits behind them, and then slot by slot the earliest
//!   possible start, tenants of the same start in rollout order, backtracking only where that
//!   would leave a tenant out. Tenants of one region are interchangeable, so within a region
//!   they keep rollout order and the ones left out are its last.
//! - No tenants: an empty plan. A zero slot length, or a tenant listed twice, is an error
//!   (checked before anything else). Canary ids that are no tenant are ignored.
//!
//! How the plan is found:
//! - Tenants with the same zone and business hours form a group with one set of feasible
//!   starts: disjoint ranges, found exactly without stepping minute by minute (when a candidate
//!   slot meets business hours, the next candidate is the first instant after the last
//!   business-hours instant inside it, and a range ends at the first business-hours instant
//!   after its start less one slot; both found by bisection, to the millisecond).
//! - Any valid plan, sorted by time, can be shifted left slot by slot: each slot to the earliest
//!   feasible start of its tenant after the previous slot's end, which keeps it valid and never
//!   moves it later. So a plan is fully described by its sequence of groups, each slot starting
//!   at the window's start, the end of the previous slot or the start of a feasible range.
//! - The search is exact: a depth-first search over those sequences (earliest slot first, then
//!   rollout order) decides whether `k` more slots fit from a state (cursor, tenants left per
//!   group), cutting a branch only when an upper bound proves it cannot reach `k`: no more than
//!   each group could take alone, nor than fit in the time when some group with tenants left is
//!   free. States are memoised with what is known of them, groups whose remaining feasible
//!   starts coincide merged. The maximum is the bound when reachable, else found by bisection
//!   above the greedy count; the plan is read back from the memo.
//! - Cost: when every tenant fits in rollout order (the usual case), one pass,
//!   O(n · g · log r) for n tenants, g groups and r feasible ranges per group. Otherwise each
//!   search node costs O(g · (r + log g)) and tries at most g children; placing equal-length
//!   slots in several allowed ranges is NP-hard in general, so the worst case is exponential,
//!   but the bound cuts every branch that leaves more of the window idle than the plan can
//!   afford, so that 500 tenants in 50 regions plan in a few hundred nodes (the ignored test
//!   `five_hundred_tenants_in_fifty_regions` prints the time).

use std::collections::HashMap;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::business_hours::BusinessHours;

/// One tenant to place: its id and the zone and business hours of its region.
#[derive(Debug, Clone)]
pub struct TenantInput {
    pub id: String,
    pub zone: TimeZone,
    pub business_hours: BusinessHours,
}

/// A tenant's slot, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub tenant: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotsError {
    #[error("a tenant slot must last longer than zero")]
    ZeroSlot,
    #[error("tenant `{0}` is listed more than once")]
    DuplicateTenant(String),
    #[error(
        "the window cannot fit every tenant's slot; these tenants do not fit: {}",
        quoted(.tenants)
    )]
    DoesNotFit { tenants: Vec<String> },
}

fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plans one slot of length `slot` per tenant within `[window_start, window_end)`; see the
/// module documentation for the rules. `canary` lists the tenants that go first, in that order
/// (ids that are no input tenant are ignored). The slots come in time order.
pub fn plan_slots(
    window_start: Timestamp,
    window_end: Timestamp,
    tenants: &[TenantInput],
    slot: Duration,
    outside_business_hours: bool,
    canary: &[String],
) -> Result<Vec<Slot>, SlotsError> {
    let (placed, missing) = plan_most(
        window_start,
        window_end,
        tenants,
        slot,
        outside_business_hours,
        canary,
    )?;
    if missing.is_empty() {
        Ok(placed)
    } else {
        Err(SlotsError::DoesNotFit { tenants: missing })
    }
}

/// A maximum placement: the slots of as many tenants as the window can hold (in time order) and
/// the ids of the fewest tenants left out (in rollout order: canaries first, then by id). The
/// same rules and errors as [`plan_slots`], which refuses whenever the second list is not empty.
pub fn plan_most(
    window_start: Timestamp,
    window_end: Timestamp,
    tenants: &[TenantInput],
    slot: Duration,
    outside_business_hours: bool,
    canary: &[String],
) -> Result<(Vec<Slot>, Vec<String>), SlotsError> {
    if slot.is_zero() {
        return Err(SlotsError::ZeroSlot);
    }
    let (order, canaries) = rollout_order(tenants, canary)?;
    // A slot too long for the time line fits no window.
    let Ok(length) = SignedDuration::try_from(slot) else {
        return Ok((Vec::new(), order.iter().map(|t| t.id.clone()).collect()));
    };
    let groups = group_tenants(
        &order,
        window_start,
        window_end,
        length,
        outside_business_hours,
    );
    let mut search = Search {
        groups: &groups,
        length,
        suffixes: suffix_ids(&groups),
        memo: HashMap::new(),
    };
    let sequence = search.best_sequence(window_start, canaries);
    let mut used = vec![0usize; groups.len()];
    let mut placed = Vec::with_capacity(sequence.len());
    for (group, start) in sequence {
        let Some(tenant) = groups[group].members.get(used[group]) else {
            continue;
        };
        used[group] += 1;
        let Ok(end) = start.checked_add(length) else {
            continue;
        };
        placed.push(Slot {
            tenant: order[*tenant].id.clone(),
            start,
            end,
        });
    }
    let mut left_out: Vec<usize> = groups
        .iter()
        .zip(&used)
        .flat_map(|(group, used)| group.members[*used..].iter().copied())
        .collect();
    left_out.sort_unstable();
    let missing = left_out.into_iter().map(|i| order[i].id.clone()).collect();
    Ok((placed, missing))
}

/// The tenants in rollout order: the canaries in their order, then the others by id; and how
/// many canaries lead it. A tenant listed twice is an error.
fn rollout_order<'a>(
    tenants: &'a [TenantInput],
    canary: &[String],
) -> Result<(Vec<&'a TenantInput>, usize), SlotsError> {
    let mut by_id: Vec<&TenantInput> = tenants.iter().collect();
    by_id.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(pair) = by_id.windows(2).find(|pair| pair[0].id == pair[1].id) {
        return Err(SlotsError::DuplicateTenant(pair[0].id.clone()));
    }
    let mut order: Vec<&TenantInput> = Vec::with_capacity(by_id.len());
    for id in canary {
        if let Ok(index) = by_id.binary_search_by(|t| t.id.as_str().cmp(id))
            && !order.iter().any(|t| t.id == *id)
        {
            order.push(by_id[index]);
        }
    }
    let canaries = order.len();
    for tenant in by_id {
        if !order[..canaries].iter().any(|t| t.id == tenant.id) {
            order.push(tenant);
        }
    }
    Ok((order, canaries))
}

/// Tenants with the same feasible starts (in practice: one region), in rollout order.
struct Group {
    /// Indexes into the rollout order, ascending.
    members: Vec<usize>,
    /// The feasible starts: disjoint closed ranges `[first, last]`, in time order.
    runs: Vec<(Timestamp, Timestamp)>,
}

impl Group {
    /// The earliest feasible start at or after `from`.
    fn next_start(&self, from: Timestamp) -> Option<Timestamp> {
        let index = self.runs.partition_point(|(_, last)| *last < from);
        self.runs.get(index).map(|(first, _)| (*first).max(from))
    }

    /// How many slots of this group alone fit at or after `from`: an upper bound.
    fn capacity(&self, from: Timestamp, length: SignedDuration) -> usize {
        let index = self.runs.partition_point(|(_, last)| *last < from);
        let length_ms = length.as_millis().max(1);
        self.runs[index..]
            .iter()
            .map(|(first, last)| {
                let room = last.duration_since((*first).max(from)).as_millis();
                usize::try_from(room / length_ms)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1)
            })
            .fold(0usize, usize::saturating_add)
    }
}

/// Groups the tenants (given in rollout order) by zone and business hours, with each group's
/// feasible starts.
fn group_tenants(
    order: &[&TenantInput],
    window_start: Timestamp,
    window_end: Timestamp,
    length: SignedDuration,
    outside_business_hours: bool,
) -> Vec<Group> {
    let mut groups: Vec<(usize, Group)> = Vec::new();
    for (index, tenant) in order.iter().enumerate() {
        let same = groups.iter_mut().find(|(first, _)| {
            !outside_business_hours
                || (order[*first].zone == tenant.zone
                    && order[*first].business_hours == tenant.business_hours)
        });
        match same {
            Some((_, group)) => group.members.push(index),
            None => {
                let hours = outside_business_hours.then_some(*tenant);
                let runs = free_runs(hours, window_start, window_end, length);
                groups.push((
                    index,
                    Group {
                        members: vec![index],
                        runs,
                    },
                ));
            }
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

/// Every feasible start of a slot of `length` in `[window_start, window_end)` that, when `hours`
/// is given, does not meet that tenant's business hours: disjoint closed ranges in time order.
fn free_runs(
    hours: Option<&TenantInput>,
    window_start: Timestamp,
    window_end: Timestamp,
    length: SignedDuration,
) -> Vec<(Timestamp, Timestamp)> {
    let mut runs = Vec::new();
    let mut from = window_start;
    while let Some(first) = first_fit(hours, from, window_end, length) {
        let Some(last) = last_start(hours, first, window_end, length) else {
            break;
        };
        runs.push((first, last));
        match last.checked_add(SignedDuration::from_millis(1)) {
            Ok(next) => from = next,
            Err(_) => break,
        }
    }
    runs
}

/// Given a feasible start `first`, the last start of the range of feasible starts from it: the
/// slot ends by the window's end and before the first business-hours instant after `first`
/// (found by bisection, to the millisecond).
fn last_start(
    hours: Option<&TenantInput>,
    first: Timestamp,
    window_end: Timestamp,
    length: SignedDuration,
) -> Option<Timestamp> {
    let meets = |end: Timestamp| {
        hours.is_some_and(|tenant| tenant.business_hours.overlaps(&tenant.zone, first, end))
    };
    let limit = if meets(window_end) {
        // Invariant: `[first, first + low ms)` is free, `[first, first + high ms)` is not.
        let mut low = first
            .checked_add(length)
            .ok()?
            .duration_since(first)
            .as_millis();
        let mut high = window_end.duration_since(first).as_millis();
        let at = |ms: i128| {
            i64::try_from(ms)
                .ok()
                .and_then(|ms| first.checked_add(SignedDuration::from_millis(ms)).ok())
        };
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if meets(at(middle)?) {
                high = middle;
            } else {
                low = middle;
            }
        }
        // The first business-hours instant is `first + low ms`.
        at(low)?
    } else {
        window_end
    };
    limit.checked_sub(length).ok()
}

/// The exact search for a maximum placement (see the module documentation).
struct Search<'a> {
    groups: &'a [Group],
    length: SignedDuration,
    /// For each group and run, an id of the runs from that one on: equal ids, equal runs.
    suffixes: Vec<Vec<usize>>,
    /// What is known of the most slots placeable from a state (keyed by its canonical form): at
    /// least the first, at most the second.
    memo: HashMap<StateKey, (usize, usize)>,
}

/// A state with its interchangeable groups merged: the cursor, and for each group with tenants
/// left, its feasible starts from the cursor on (the first range as cut by the cursor, and the id
/// of the later ones) with how many tenants it has left, sorted.
type StateKey = (Timestamp, Vec<(Timestamp, Timestamp, usize, usize)>);

/// Numbers each distinct tail of each group's runs (see [`Search::suffixes`]).
fn suffix_ids(groups: &[Group]) -> Vec<Vec<usize>> {
    let mut ids: HashMap<&[(Timestamp, Timestamp)], usize> = HashMap::new();
    groups
        .iter()
        .map(|group| {
            (0..=group.runs.len())
                .map(|index| {
                    let next = ids.len();
                    *ids.entry(&group.runs[index..]).or_insert(next)
                })
                .collect()
        })
        .collect()
}

impl Search<'_> {
    /// The left-shifted schedule (group, start) of a maximum placement that comes first in
    /// rollout order.
    fn best_sequence(
        &mut self,
        window_start: Timestamp,
        canaries: usize,
    ) -> Vec<(usize, Timestamp)> {
        let mut used = vec![0usize; self.groups.len()];
        // Each tenant in rollout order at its earliest start, skipping those that do not fit:
        // when nobody is skipped this is the plan (nothing comes earlier in rollout order).
        let greedy = self.greedy(window_start);
        let total: usize = self.groups.iter().map(|g| g.members.len()).sum();
        if greedy.len() == total {
            return greedy;
        }
        // The most placeable: the bound if reachable, else by bisection above the greedy count.
        let bound = self.bound(window_start, &used);
        let mut most = greedy.len();
        if bound > most && self.reach(window_start, &mut used, bound) {
            most = bound;
        } else {
            let mut high = bound.saturating_sub(1);
            while most < high {
                let middle = most + (high - most).div_ceil(2);
                if self.reach(window_start, &mut used, middle) {
                    most = middle;
                } else {
                    high = middle - 1;
                }
            }
        }
        if most == greedy.len() {
            // The greedy placement is the first in rollout order: a tenant it skips fits
            // nowhere later either.
            return greedy;
        }
        // The canaries first, in their order, when the rest still fits behind them.
        let canary_groups = (0..canaries)
            .filter_map(|rank| self.groups.iter().position(|g| g.members.contains(&rank)));
        let laid = self.lay_out(window_start, canary_groups);
        let cursor = laid.last().map_or(window_start, |(_, _, end)| *end);
        let prefix: Vec<usize> = laid.into_iter().map(|(group, ..)| group).collect();
        for group in &prefix {
            used[*group] += 1;
        }
        let rest = most.saturating_sub(prefix.len());
        let sequence = if !prefix.is_empty() && self.reach(cursor, &mut used, rest) {
            let mut sequence = prefix;
            sequence.extend(self.witness(cursor, &mut used, rest));
            sequence
        } else {
            used.iter_mut().for_each(|u| *u = 0);
            self.witness(window_start, &mut used, most)
        };
        self.lay_out(window_start, sequence)
            .into_iter()
            .map(|(group, start, _)| (group, start))
            .collect()
    }

    /// Each group of `sequence` in turn at its earliest start after the previous slot, from
    /// `cursor` on; a group that does not fit is skipped. With the end of each slot.
    fn lay_out(
        &self,
        mut cursor: Timestamp,
        sequence: impl IntoIterator<Item = usize>,
    ) -> Vec<(usize, Timestamp, Timestamp)> {
        let mut placed = Vec::new();
        for group in sequence {
            let Some(start) = self.groups[group].next_start(cursor) else {
                continue;
            };
            let Ok(end) = start.checked_add(self.length) else {
                continue;
            };
            placed.push((group, start, end));
            cursor = end;
        }
        placed
    }

    /// A sequence of `goal` groups that fits from a state [`Search::reach`] has shown can take
    /// them, read back from what the search remembers.
    fn witness(&mut self, mut cursor: Timestamp, used: &mut [usize], goal: usize) -> Vec<usize> {
        let mut sequence = Vec::with_capacity(goal);
        let mut added = Vec::with_capacity(goal);
        while sequence.len() < goal {
            let left = goal - sequence.len();
            let mut children = self.children(cursor, used);
            children.sort_by_key(|(_, start, _)| *start);
            let next = children.into_iter().find(|(group, _, end)| {
                used[*group] += 1;
                let fits = self.reach(*end, used, left - 1);
                used[*group] -= 1;
                fits
            });
            let Some((group, _, end)) = next else {
                break;
            };
            used[group] += 1;
            added.push(group);
            sequence.push(group);
            cursor = end;
        }
        for group in added {
            used[group] -= 1;
        }
        sequence
    }

    /// Each tenant in rollout order at its earliest start after the previous slot; a tenant
    /// that does not fit is skipped.
    fn greedy(&self, window_start: Timestamp) -> Vec<(usize, Timestamp)> {
        let mut members: Vec<(usize, usize)> = self
            .groups
            .iter()
            .enumerate()
            .flat_map(|(index, group)| group.members.iter().map(move |m| (*m, index)))
            .collect();
        members.sort_unstable();
        self.lay_out(window_start, members.into_iter().map(|(_, group)| group))
            .into_iter()
            .map(|(group, start, _)| (group, start))
            .collect()
    }

    /// The groups that can take the next slot from `cursor`, with its start and end, in the
    /// rollout order of each group's next tenant.
    fn children(&self, cursor: Timestamp, used: &[usize]) -> Vec<(usize, Timestamp, Timestamp)> {
        let mut children: Vec<(usize, usize, Timestamp, Timestamp)> = self
            .groups
            .iter()
            .enumerate()
            .filter_map(|(index, group)| {
                let next = *group.members.get(used[index])?;
                let start = group.next_start(cursor)?;
                let end = start.checked_add(self.length).ok()?;
                Some((next, index, start, end))
            })
            .collect();
        children.sort_unstable_by_key(|(next, ..)| *next);
        children
            .into_iter()
            .map(|(_, index, start, end)| (index, start, end))
            .collect()
    }

    /// An upper bound on the slots placeable from a state: no more than each group could take
    /// alone, nor than fit in the time when some group with tenants left is free.
    fn bound(&self, cursor: Timestamp, used: &[usize]) -> usize {
        let length_ms = self.length.as_millis().max(1);
        let mut alone = 0usize;
        let mut free: Vec<(Timestamp, Timestamp)> = Vec::new();
        for (group, used) in self.groups.iter().zip(used) {
            let left = group.members.len() - used;
            if left == 0 {
                continue;
            }
            alone = alone.saturating_add(left.min(group.capacity(cursor, self.length)));
            let index = group.runs.partition_point(|(_, last)| *last < cursor);
            free.extend(group.runs[index..].iter().filter_map(|(first, last)| {
                Some(((*first).max(cursor), last.checked_add(self.length).ok()?))
            }));
        }
        free.sort_unstable();
        let mut room = 0usize;
        let mut current: Option<(Timestamp, Timestamp)> = None;
        let count = |(from, to): (Timestamp, Timestamp)| {
            usize::try_from(to.duration_since(from).as_millis() / length_ms).unwrap_or(0)
        };
        for (from, to) in free {
            current = match current {
                Some((start, end)) if from <= end => Some((start, end.max(to))),
                Some(done) => {
                    room = room.saturating_add(count(done));
                    Some((from, to))
                }
                None => Some((from, to)),
            };
        }
        if let Some(done) = current {
            room = room.saturating_add(count(done));
        }
        room.min(alone)
    }

    fn key(&self, cursor: Timestamp, used: &[usize]) -> StateKey {
        let mut parts: Vec<(Timestamp, Timestamp, usize, usize)> = Vec::new();
        for ((group, used), suffixes) in self.groups.iter().zip(used).zip(&self.suffixes) {
            let left = group.members.len() - used;
            let index = group.runs.partition_point(|(_, last)| *last < cursor);
            let Some((first, last)) = group.runs.get(index) else {
                continue;
            };
            if left == 0 {
                continue;
            }
            parts.push(((*first).max(cursor), *last, suffixes[index + 1], left));
        }
        parts.sort_unstable();
        // Groups with the same feasible starts from here on are one.
        parts.dedup_by(|later, kept| {
            let same = (later.0, later.1, later.2) == (kept.0, kept.1, kept.2);
            if same {
                kept.3 += later.3;
            }
            same
        });
        (cursor, parts)
    }

    /// Whether `goal` more slots can be placed from `cursor` with `used` tenants of each group
    /// already placed: a depth-first search, earliest slot first, cut wherever the bound falls
    /// short of what is still needed.
    fn reach(&mut self, cursor: Timestamp, used: &mut [usize], goal: usize) -> bool {
        if goal == 0 {
            return true;
        }
        let key = self.key(cursor, used);
        let (low, high) = match self.memo.get(&key) {
            Some(known) => *known,
            None => (0, self.bound(cursor, used)),
        };
        if low >= goal {
            return true;
        }
        if high < goal {
            self.memo.insert(key, (low, high));
            return false;
        }
        // Earliest first (leaving the least idle time), then in rollout order.
        let mut children = self.children(cursor, used);
        children.sort_by_key(|(_, start, _)| *start);
        for (group, _, end) in children {
            used[group] += 1;
            let fits = self.reach(end, used, goal - 1);
            used[group] -= 1;
            if fits {
                self.memo.insert(key, (goal, high));
                return true;
            }
        }
        self.memo.insert(key, (low, goal - 1));
        false
    }
}

/// The earliest start at or after `from` of a slot of `length` that ends by `window_end` and,
/// when `hours` is given, does not meet that tenant's business hours.
fn first_fit(
    hours: Option<&TenantInput>,
    from: Timestamp,
    window_end: Timestamp,
    length: SignedDuration,
) -> Option<Timestamp> {
    let mut start = from;
    loop {
        let end = start.checked_add(length).ok()?;
        if end > window_end {
            return None;
        }
        match hours {
            Some(tenant) if tenant.business_hours.overlaps(&tenant.zone, start, end) => {
                start = past_business_hours(tenant, start, end)?;
            }
            _ => return Some(start),
        }
    }
}

/// Given `[start, end)` meeting business hours, the first instant (to the millisecond, counted
/// from `start`) after which `[t, end)` no longer meets them. No start before it can be
/// outside business hours, since its slot would contain `[t, end)`. Always after `start`.
fn past_business_hours(
    tenant: &TenantInput,
    start: Timestamp,
    end: Timestamp,
) -> Option<Timestamp> {
    let meets = |ms: i64| {
        start
            .checked_add(SignedDuration::from_millis(ms))
            .is_ok_and(|t| tenant.business_hours.overlaps(&tenant.zone, t, end))
    };
    let span_ms = end.duration_since(start).as_millis();
    // Invariant: meets(low) and !meets(high). At `high` the interval is empty (or inverted).
    let mut low: i64 = 0;
    let mut high: i64 = i64::try_from(span_ms).ok()?.checked_add(1)?;
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if meets(middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    start.checked_add(SignedDuration::from_millis(high)).ok()
}

/// The covered tenants' slots in a maintenance `[start, end)` under `policy`, each tenant read in
/// its region's zone and business hours: the one plan that mails, calendars and the API share.
/// Tenants (or regions) missing from the configuration are left out; `canary` go first.
pub fn maintenance_slots(
    tenants: &std::collections::BTreeMap<String, crate::config::Tenant>,
    regions: &std::collections::BTreeMap<String, crate::config::Region>,
    policy: &crate::config::MaintenancePolicy,
    covered: &[&String],
    start: Timestamp,
    end: Timestamp,
    canary: &[String],
) -> Result<Vec<Slot>, SlotsError> {
    let inputs: Vec<TenantInput> = covered
        .iter()
        .filter_map(|id| {
            let t = tenants.get(*id)?;
            let r = regions.get(&t.region)?;
            Some(TenantInput {
                id: (*id).clone(),
                zone: r.timezone.clone(),
                business_hours: r.business_hours.clone(),
            })
        })
        .collect();
    plan_slots(
        start,
        end,
        &inputs,
        policy.tenant_slot,
        policy.outside_business_hours,
        canary,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::ToSpan;
    use proptest::prelude::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn tenant(id: &str, zone: &str, hours: &str) -> TenantInput {
        TenantInput {
            id: id.to_owned(),
            zone: TimeZone::get(zone).unwrap(),
            business_hours: BusinessHours::parse(hours).unwrap(),
        }
    }

    fn slot(tenant: &str, start: &str, end: &str) -> Slot {
        Slot {
            tenant: tenant.to_owned(),
            start: ts(start),
            end: ts(end),
        }
    }

    const MIN15: Duration = Duration::from_secs(15 * 60);
    const HOUR: Duration = Duration::from_secs(3600);
    const EU_HOURS: &str = "Mon-Fri 08:00-19:00";
    const US_HOURS: &str = "Mon-Fri 08:00-18:00";

    /// Wednesday 2026-11-18 22:00 to Thursday 06:00 in Rome (CET): 21:00Z to 05:00Z. In New York
    /// (EST) the window opens at 16:00, inside business hours until 18:00 = 23:00Z.
    fn seed_004_window() -> (Timestamp, Timestamp) {
        (ts("2026-11-18T21:00:00Z"), ts("2026-11-19T05:00:00Z"))
    }

    fn seed_004_tenants() -> [TenantInput; 4] {
        [
            tenant("us-dyn", "America/New_York", US_HOURS),
            tenant("eu-beta", "Europe/Rome", EU_HOURS),
            tenant("us-corp", "America/New_York", US_HOURS),
            tenant("eu-acme", "Europe/Rome", EU_HOURS),
        ]
    }

    #[test]
    fn seed_004_eu_and_us_tenants_outside_their_hours() {
        let (start, end) = seed_004_window();
        let tenants = seed_004_tenants();
        let plan = plan_slots(start, end, &tenants, MIN15, true, &[]).unwrap();
        assert_eq!(
            plan,
            vec![
                slot("eu-acme", "2026-11-18T21:00:00Z", "2026-11-18T21:15:00Z"),
                slot("eu-beta", "2026-11-18T21:15:00Z", "2026-11-18T21:30:00Z"),
                // 18:00 in New York: the end of its business hours.
                slot("us-corp", "2026-11-18T23:00:00Z", "2026-11-18T23:15:00Z"),
                slot("us-dyn", "2026-11-18T23:15:00Z", "2026-11-18T23:30:00Z"),
            ]
        );
        // Without the business-hours rule the tenants are packed from the window's start.
        let packed = plan_slots(start, end, &tenants, MIN15, false, &[]).unwrap();
        assert_eq!(
            packed[2],
            slot("us-corp", "2026-11-18T21:30:00Z", "2026-11-18T21:45:00Z")
        );
        assert_eq!(packed[3].end, ts("2026-11-18T22:00:00Z"));
    }

    #[test]
    fn order_is_by_id_and_never_goes_back() {
        let (start, end) = seed_004_window();
        let tenants = [
            tenant("zeta", "Europe/Rome", EU_HOURS),
            tenant("acme", "America/New_York", US_HOURS),
        ];
        let plan = plan_slots(start, end, &tenants, MIN15, true, &[]).unwrap();
        assert_eq!(
            plan,
            vec![
                slot("acme", "2026-11-18T23:00:00Z", "2026-11-18T23:15:00Z"),
                slot("zeta", "2026-11-18T23:15:00Z", "2026-11-18T23:30:00Z"),
            ]
        );
    }

    #[test]
    fn every_tenant_that_does_not_fit_is_listed_and_the_others_still_placed() {
        let (start, end) = seed_004_window();
        let tenants = [
            tenant("eu-acme", "Europe/Rome", EU_HOURS),
            // 06:00-19:00 in Tokyo covers the whole window (06:00-14:00 JST).
            tenant("jp-kai", "Asia/Tokyo", "Mon-Fri 06:00-19:00"),
            tenant("au-syd", "Australia/Sydney", "Mon-Sun 00:00-24:00"),
            tenant("us-corp", "America/New_York", US_HOURS),
        ];
        let err = plan_slots(start, end, &tenants, MIN15, true, &[]).unwrap_err();
        assert_eq!(
            err,
            SlotsError::DoesNotFit {
                tenants: vec!["au-syd".into(), "jp-kai".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "the window cannot fit every tenant's slot; these tenants do not fit: `au-syd`, `jp-kai`"
        );
        // The others get the slots they get without the misfits.
        let fitting = [tenants[0].clone(), tenants[3].clone()];
        let plan = plan_slots(start, end, &fitting, MIN15, true, &[]).unwrap();
        assert_eq!(plan[0].start, start);
        assert_eq!(plan[1].start, ts("2026-11-18T23:00:00Z"));
    }

    #[test]
    fn rome_fall_back_night() {
        // Saturday 2026-10-24 22:00 CEST (20:00Z) to Sunday 06:00 CET (05:00Z): nine hours on a
        // 25-hour day. Business hours from Sunday 04:00 CET = 03:00Z.
        let start = ts("2026-10-24T20:00:00Z");
        let end = ts("2026-10-25T05:00:00Z");
        assert_eq!(end.duration_since(start), SignedDuration::from_hours(9));
        let tenants: Vec<_> = (1..=9)
            .map(|i| tenant(&format!("rome-{i}"), "Europe/Rome", "Sun 04:00-12:00"))
            .collect();
        let err = plan_slots(start, end, &tenants, HOUR, true, &[]).unwrap_err();
        assert_eq!(
            err,
            SlotsError::DoesNotFit {
                tenants: vec!["rome-8".into(), "rome-9".into()]
            }
        );
        let plan = plan_slots(start, end, &tenants[..7], HOUR, true, &[]).unwrap();
        assert_eq!(plan.len(), 7);
        assert_eq!(plan[6].end, ts("2026-10-25T03:00:00Z"));
        for (index, slot) in plan.iter().enumerate() {
            assert_eq!(slot.start, start + (index as i64).hours());
        }
    }

    #[test]
    fn new_york_spring_forward_night() {
        // Saturday 2026-03-07 22:00 EST (03:00Z) to Sunday 06:00 EDT (10:00Z): seven hours.
        // Business hours Sunday 02:30-05:00: 02:30 does not exist and moves to 03:30 EDT
        // (07:30Z); 05:00 EDT is 09:00Z.
        let start = ts("2026-03-08T03:00:00Z");
        let end = ts("2026-03-08T10:00:00Z");
        let tenants: Vec<_> = (1..=6)
            .map(|i| tenant(&format!("ny-{i}"), "America/New_York", "Sun 02:30-05:00"))
            .collect();
        let err = plan_slots(start, end, &tenants, HOUR, true, &[]).unwrap_err();
        assert_eq!(
            err,
            SlotsError::DoesNotFit {
                tenants: vec!["ny-6".into()]
            }
        );
        let plan = plan_slots(start, end, &tenants[..5], HOUR, true, &[]).unwrap();
        assert_eq!(
            plan[3],
            slot("ny-4", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z")
        );
        // The last slot ends exactly at the window's end.
        assert_eq!(
            plan[4],
            slot("ny-5", "2026-03-08T09:00:00Z", "2026-03-08T10:00:00Z")
        );
    }

    #[test]
    fn a_slot_may_start_right_at_the_end_of_business_hours() {
        let rome = "Europe/Rome";
        // Monday 2026-11-23 18:50 CET to 20:00 CET; hours end at 19:00 = 18:00Z.
        let start = ts("2026-11-23T17:50:00Z");
        let end = ts("2026-11-23T19:00:00Z");
        let plan =
            plan_slots(start, end, &[tenant("a", rome, EU_HOURS)], MIN15, true, &[]).unwrap();
        assert_eq!(
            plan,
            vec![slot("a", "2026-11-23T18:00:00Z", "2026-11-23T18:15:00Z")]
        );
    }

    #[test]
    fn empty_and_invalid_inputs() {
        let (start, end) = seed_004_window();
        assert_eq!(plan_slots(start, end, &[], MIN15, true, &[]), Ok(vec![]));
        assert_eq!(
            plan_slots(start, end, &[], Duration::ZERO, true, &[]),
            Err(SlotsError::ZeroSlot)
        );
        let twice = [
            tenant("a", "UTC", ""),
            tenant("b", "UTC", ""),
            tenant("a", "Europe/Rome", ""),
        ];
        assert_eq!(
            plan_slots(start, end, &twice, MIN15, true, &[]),
            Err(SlotsError::DuplicateTenant("a".into()))
        );
    }

    #[test]
    fn a_slot_longer_than_the_window_fits_nobody() {
        let (start, end) = seed_004_window();
        let tenants = [tenant("a", "UTC", ""), tenant("b", "UTC", "")];
        let err = plan_slots(
            start,
            end,
            &tenants,
            Duration::from_secs(9 * 3600),
            false,
            &[],
        );
        assert_eq!(
            err,
            Err(SlotsError::DoesNotFit {
                tenants: vec!["a".into(), "b".into()]
            })
        );
        let huge = plan_slots(start, end, &tenants[..1], Duration::MAX, false, &[]);
        assert_eq!(
            huge,
            Err(SlotsError::DoesNotFit {
                tenants: vec!["a".into()]
            })
        );
        // An inverted window has no room either.
        let inverted = plan_slots(end, start, &tenants[..1], MIN15, false, &[]);
        assert!(matches!(inverted, Err(SlotsError::DoesNotFit { .. })));
    }

    #[test]
    fn exactly_filling_the_window() {
        let start = ts("2026-11-18T21:00:00Z");
        let end = start + 30.minutes();
        let tenants = [tenant("a", "UTC", ""), tenant("b", "UTC", "")];
        let plan = plan_slots(start, end, &tenants, MIN15, true, &[]).unwrap();
        assert_eq!(plan[1].end, end);
    }

    /// Wednesday 2026-11-18 22:00Z to 23:30Z: three slots of 30 minutes. Tokyo's business hours
    /// start at 08:00 JST = 23:00Z, so Tokyo tenants only fit the first two; Rome (23:00 CET)
    /// fits any.
    fn tokyo_morning() -> (Timestamp, Timestamp) {
        (ts("2026-11-18T22:00:00Z"), ts("2026-11-18T23:30:00Z"))
    }

    const TOKYO_HOURS: &str = "Mon-Fri 08:00-19:00";
    const HALF_HOUR: Duration = Duration::from_secs(1800);

    #[test]
    fn tokyo_tenants_take_tokyo_night_and_rome_the_last_slot() {
        let (start, end) = tokyo_morning();
        let tenants = [
            tenant("jp-ren", "Asia/Tokyo", TOKYO_HOURS),
            tenant("eu-acme", "Europe/Rome", EU_HOURS),
            tenant("jp-kai", "Asia/Tokyo", TOKYO_HOURS),
        ];
        // In id order `eu-acme` would take 22:00 and `jp-ren` would be left out.
        let plan = plan_slots(start, end, &tenants, HALF_HOUR, true, &[]).unwrap();
        assert_eq!(
            plan,
            vec![
                slot("jp-kai", "2026-11-18T22:00:00Z", "2026-11-18T22:30:00Z"),
                slot("jp-ren", "2026-11-18T22:30:00Z", "2026-11-18T23:00:00Z"),
                slot("eu-acme", "2026-11-18T23:00:00Z", "2026-11-18T23:30:00Z"),
            ]
        );
        // A canary that cannot go first without leaving a tenant out goes where it fits.
        let canary = ["eu-acme".to_owned()];
        assert_eq!(
            plan_slots(start, end, &tenants, HALF_HOUR, true, &canary),
            Ok(plan)
        );
    }

    #[test]
    fn the_fewest_tenants_are_left_out_and_the_last_in_order() {
        let (start, end) = tokyo_morning();
        let tenants = [
            tenant("jp-sho", "Asia/Tokyo", TOKYO_HOURS),
            tenant("jp-ren", "Asia/Tokyo", TOKYO_HOURS),
            tenant("eu-acme", "Europe/Rome", EU_HOURS),
            tenant("jp-kai", "Asia/Tokyo", TOKYO_HOURS),
        ];
        assert_eq!(
            plan_slots(start, end, &tenants, HALF_HOUR, true, &[]),
            Err(SlotsError::DoesNotFit {
                tenants: vec!["jp-sho".into()]
            })
        );
        let (placed, missing) = plan_most(start, end, &tenants, HALF_HOUR, true, &[]).unwrap();
        assert_eq!(missing, vec!["jp-sho".to_owned()]);
        assert_eq!(
            placed.iter().map(|s| s.tenant.as_str()).collect::<Vec<_>>(),
            ["jp-kai", "jp-ren", "eu-acme"]
        );
        // As a canary, `jp-sho` is placed and the last Tokyo tenant in id order is left out.
        let canary = ["jp-sho".to_owned()];
        let (placed, missing) = plan_most(start, end, &tenants, HALF_HOUR, true, &canary).unwrap();
        assert_eq!(missing, vec!["jp-ren".to_owned()]);
        assert_eq!(placed[0].tenant, "jp-sho");
    }

    #[test]
    fn canaries_go_first_in_their_order() {
        let (start, end) = seed_004_window();
        let tenants = seed_004_tenants();
        let canary = [
            "eu-beta".to_owned(),
            "us-dyn".to_owned(),
            "nobody".to_owned(),
        ];
        let plan = plan_slots(start, end, &tenants, MIN15, true, &canary).unwrap();
        assert_eq!(
            plan,
            vec![
                slot("eu-beta", "2026-11-18T21:00:00Z", "2026-11-18T21:15:00Z"),
                // New York's business hours end at 23:00Z; the others wait for the canary.
                slot("us-dyn", "2026-11-18T23:00:00Z", "2026-11-18T23:15:00Z"),
                slot("eu-acme", "2026-11-18T23:15:00Z", "2026-11-18T23:30:00Z"),
                slot("us-corp", "2026-11-18T23:30:00Z", "2026-11-18T23:45:00Z"),
            ]
        );
    }

    #[test]
    fn canaries_go_first_when_the_others_still_fit_behind_them() {
        // 00:00Z to 04:00Z, one-hour slots: `a1` is busy until 01:00, `z1` from 03:00.
        let start = ts("2026-11-18T00:00:00Z");
        let end = ts("2026-11-18T04:00:00Z");
        let tenants = [
            tenant("z1", "UTC", "Mon-Sun 03:00-04:00"),
            tenant("m1", "UTC", ""),
            tenant("a1", "UTC", "Mon-Sun 00:00-01:00"),
        ];
        let canary = ["a1".to_owned()];
        // In rollout order (`a1`, `m1`, `z1`) `z1` would be left out.
        let plan = plan_slots(start, end, &tenants, HOUR, true, &canary).unwrap();
        assert_eq!(
            plan,
            vec![
                slot("a1", "2026-11-18T01:00:00Z", "2026-11-18T02:00:00Z"),
                slot("z1", "2026-11-18T02:00:00Z", "2026-11-18T03:00:00Z"),
                slot("m1", "2026-11-18T03:00:00Z", "2026-11-18T04:00:00Z"),
            ]
        );
        // Without a canary (`a1` first by id alone leaves `z1` out) the window's start is not
        // left idle.
        let plan = plan_slots(start, end, &tenants, HOUR, true, &[]).unwrap();
        assert_eq!(
            plan,
            vec![
                slot("m1", "2026-11-18T00:00:00Z", "2026-11-18T01:00:00Z"),
                slot("a1", "2026-11-18T01:00:00Z", "2026-11-18T02:00:00Z"),
                slot("z1", "2026-11-18T02:00:00Z", "2026-11-18T03:00:00Z"),
            ]
        );
    }

    /// 500 tenants in 50 regions (ten zones, five patterns of hours) over a day whose id order
    /// does not fit, and over a window too short for them. Run with `--ignored --nocapture` to
    /// see the time.
    #[test]
    #[ignore = "timing check"]
    fn five_hundred_tenants_in_fifty_regions() {
        let zones = [
            "Europe/Rome",
            "America/New_York",
            "Asia/Tokyo",
            "Australia/Sydney",
            "UTC",
            "America/Los_Angeles",
            "Asia/Kolkata",
            "Europe/London",
            "America/Sao_Paulo",
            "Asia/Singapore",
        ];
        let hours = [
            "Mon-Fri 08:00-19:00",
            "Mon-Fri 09:00-17:00",
            "Mon-Sat 07:00-20:00",
            "Mon-Sun 10:00-22:00",
            "Mon-Fri 06:00-12:00, Mon-Fri 13:00-18:00",
        ];
        let tenants: Vec<TenantInput> = (0..500)
            .map(|i| tenant(&format!("t{i:03}"), zones[i % 10], hours[(i / 10) % 5]))
            .collect();
        let start = ts("2026-11-18T00:00:00Z");
        let slot = Duration::from_secs(180);
        // 30 hours hold everyone; 20 hours (400 slots) do not.
        for hours in [30, 20] {
            let began = std::time::Instant::now();
            let (placed, missing) =
                plan_most(start, start + hours.hours(), &tenants, slot, true, &[]).unwrap();
            println!(
                "500 tenants, 50 regions, {hours} h: {} placed, {} left out in {:?}",
                placed.len(),
                missing.len(),
                began.elapsed()
            );
        }
    }

    const ZONES: [&str; 5] = [
        "Europe/Rome",
        "America/New_York",
        "Asia/Tokyo",
        "Australia/Sydney",
        "UTC",
    ];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

    fn hours_strategy() -> impl Strategy<Value = String> {
        let day = proptest::sample::select(DAYS.to_vec());
        let item = (day.clone(), day, 0u16..1440, 1u16..1441).prop_map(|(a, b, s, e)| {
            let e = if e == s { (e % 1440) + 1 } else { e };
            format!(
                "{a}-{b} {:02}:{:02}-{:02}:{:02}",
                s / 60,
                s % 60,
                e / 60,
                e % 60
            )
        });
        proptest::collection::vec(item, 0..3).prop_map(|items| items.join(", "))
    }

    /// Up to five tenants in up to three regions, in any order.
    fn tenants_strategy() -> impl Strategy<Value = Vec<TenantInput>> {
        let region = (proptest::sample::select(ZONES.to_vec()), hours_strategy());
        let regions = proptest::collection::vec(region, 1..=3);
        regions
            .prop_flat_map(|regions| {
                let count = regions.len();
                let members = proptest::collection::btree_map("[a-z]{1,2}", 0..count, 0..=5);
                (Just(regions), members)
            })
            .prop_map(|(regions, members)| {
                members
                    .into_iter()
                    .map(|(id, region)| tenant(&id, regions[region].0, &regions[region].1))
                    .collect::<Vec<_>>()
            })
            .prop_shuffle()
    }

    /// Window starts on the 2026 transition nights of the zones, or anywhere in 2026.
    fn start_strategy() -> impl Strategy<Value = Timestamp> {
        let nights = [
            "2026-03-07T20:00:00Z", // New York spring forward
            "2026-03-28T20:00:00Z", // Rome spring forward
            "2026-04-04T12:00:00Z", // Sydney falls back
            "2026-10-03T12:00:00Z", // Sydney springs forward
            "2026-10-24T20:00:00Z", // Rome fall back
            "2026-10-31T20:00:00Z", // New York fall back
        ];
        let near = proptest::sample::select(nights.to_vec()).prop_flat_map(|night| {
            let base = ts(night);
            (-6 * 3600i64..12 * 3600).prop_map(move |s| base + s.seconds())
        });
        prop_oneof![
            near,
            (1_767_225_600i64..1_798_761_600).prop_map(|s| Timestamp::from_second(s).unwrap()),
        ]
    }

    /// The earliest start at or after `from` for `tenant`, checked slot by slot.
    fn earliest(
        tenant: &TenantInput,
        from: Timestamp,
        window_end: Timestamp,
        length: SignedDuration,
        outside_business_hours: bool,
    ) -> Option<Timestamp> {
        first_fit(
            outside_business_hours.then_some(tenant),
            from,
            window_end,
            length,
        )
    }

    /// The most tenants placeable, by trying every sequence of distinct tenants each placed at
    /// its earliest start after the previous slot (any valid plan sorted by time can be shifted
    /// to that, so this covers every plan).
    fn brute_force(
        tenants: &[TenantInput],
        cursor: Timestamp,
        window_end: Timestamp,
        length: SignedDuration,
        outside_business_hours: bool,
        taken: &mut Vec<bool>,
    ) -> usize {
        let mut best = 0;
        for index in 0..tenants.len() {
            if taken[index] {
                continue;
            }
            let Some(start) = earliest(
                &tenants[index],
                cursor,
                window_end,
                length,
                outside_business_hours,
            ) else {
                continue;
            };
            taken[index] = true;
            let rest = brute_force(
                tenants,
                start + length,
                window_end,
                length,
                outside_business_hours,
                taken,
            );
            taken[index] = false;
            best = best.max(1 + rest);
        }
        best
    }

    /// Each tenant in turn at its earliest start after the previous slot, if all fit.
    fn in_order(
        order: &[&TenantInput],
        window_start: Timestamp,
        window_end: Timestamp,
        length: SignedDuration,
        outside_business_hours: bool,
    ) -> Option<Vec<Slot>> {
        let mut cursor = window_start;
        let mut plan = Vec::new();
        for tenant in order {
            let start = earliest(tenant, cursor, window_end, length, outside_business_hours)?;
            cursor = start + length;
            plan.push(Slot {
                tenant: tenant.id.clone(),
                start,
                end: cursor,
            });
        }
        Some(plan)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn plans_are_valid_maximal_and_keep_the_order_when_it_fits(
            tenants in tenants_strategy(),
            canary_picks in proptest::collection::vec(0usize..6, 0..3),
            window_start in start_strategy(),
            window_minutes in 0i64..(16 * 60),
            slot_minutes in 1u64..120,
            outside_business_hours: bool,
        ) {
            let window_end = window_start + window_minutes.minutes();
            let slot = Duration::from_secs(slot_minutes * 60);
            let length = SignedDuration::try_from(slot).unwrap();
            let canary: Vec<String> = canary_picks
                .iter()
                .map(|pick| tenants.get(*pick).map_or_else(|| "unknown".to_owned(), |t| t.id.clone()))
                .collect();
            let (placed, missing) =
                plan_most(window_start, window_end, &tenants, slot, outside_business_hours, &canary)
                    .unwrap();
            // The order the tenants come in does not matter.
            let mut sorted = tenants.clone();
            sorted.sort_by(|a, b| a.id.cmp(&b.id));
            let again =
                plan_most(window_start, window_end, &sorted, slot, outside_business_hours, &canary);
            prop_assert_eq!(again, Ok((placed.clone(), missing.clone())));
            // Every tenant is either placed or left out, once.
            let mut seen: Vec<&String> = placed.iter().map(|s| &s.tenant).chain(&missing).collect();
            seen.sort();
            prop_assert_eq!(seen, sorted.iter().map(|t| &t.id).collect::<Vec<_>>());
            // Every slot is valid: the right length, inside the window, outside business hours,
            // after the previous one.
            let mut cursor = window_start;
            for slot in &placed {
                let tenant = sorted.iter().find(|t| t.id == slot.tenant).unwrap();
                prop_assert_eq!(slot.end, slot.start + length);
                prop_assert!(slot.start >= cursor, "overlap: {:?}", placed);
                prop_assert!(slot.end <= window_end);
                if outside_business_hours {
                    prop_assert!(!tenant.business_hours.overlaps(&tenant.zone, slot.start, slot.end));
                }
                cursor = slot.end;
            }
            // As many as can be: the brute force over every sequence places no more.
            let most = brute_force(
                &sorted,
                window_start,
                window_end,
                length,
                outside_business_hours,
                &mut vec![false; sorted.len()],
            );
            prop_assert_eq!(placed.len(), most);
            // A refusal iff some tenant is left out.
            let refused = plan_slots(window_start, window_end, &tenants, slot, outside_business_hours, &canary);
            if missing.is_empty() {
                prop_assert_eq!(refused, Ok(placed.clone()));
            } else {
                prop_assert_eq!(refused, Err(SlotsError::DoesNotFit { tenants: missing.clone() }));
            }
            // When the rollout order (canaries, then by id) fits, the plan is that order's.
            let mut order: Vec<&TenantInput> = Vec::new();
            for id in &canary {
                if let Some(t) = sorted.iter().find(|t| &t.id == id) && !order.iter().any(|o| o.id == t.id) {
                    order.push(t);
                }
            }
            let canaries = order.len();
            for t in &sorted {
                if !order[..canaries].iter().any(|o| o.id == t.id) {
                    order.push(t);
                }
            }
            if let Some(expected) = in_order(&order, window_start, window_end, length, outside_business_hours) {
                prop_assert_eq!(&placed, &expected);
            }
            // The canaries go first, in their order, whenever the most still fit behind them.
            if let Some(first) = in_order(&order[..canaries], window_start, window_end, length, outside_business_hours) {
                let mut taken: Vec<bool> =
                    sorted.iter().map(|t| order[..canaries].iter().any(|c| c.id == t.id)).collect();
                let behind = first.last().map_or(window_start, |s| s.end);
                let rest = brute_force(&sorted, behind, window_end, length, outside_business_hours, &mut taken);
                if canaries + rest == placed.len() {
                    prop_assert_eq!(&placed[..canaries], &first[..]);
                }
            }
        }
    }
}
