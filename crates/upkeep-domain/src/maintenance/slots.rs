//! Tenant slots within a maintenance window (`docs/decisions.md#maintenance`, "Tenant
//! slots"): tenants are rolled through a window one at a time, each down for one short slot.
//!
//! Rules ([`plan_slots`]):
//! - Tenants are rolled one at a time in a stable order: sorted by tenant id, whatever order
//!   they are given in. Each gets one slot of the policy's `tenant_slot` length.
//! - Greedy placement: each tenant takes the earliest start at or after the end of the previous
//!   tenant's slot (the window's start for the first) such that the slot lies wholly inside the
//!   window (a slot is not started when less of the window is left than it needs)
//!   and, when the policy says `outside_business_hours`, wholly outside that tenant's business
//!   hours read in its region's zone (with the rule of `docs/decisions.md#time` for daylight-saving changes, as in
//!   [`BusinessHours::overlaps`]). A later tenant never goes back before an earlier one, so
//!   slots never overlap and follow the order.
//! - A tenant that cannot be placed does not move the cursor: the following tenants are still
//!   placed. The plan is then refused with [`SlotsError::DoesNotFit`] listing every tenant that
//!   did not fit, in order; the tenants that did fit would get exactly the slots they would get
//!   in a plan without the others.
//! - No tenants: an empty plan. A zero slot length, or a tenant listed twice, is an error
//!   (checked before anything else).
//!
//! The earliest start is found exactly, without stepping through the window minute by minute:
//! when a candidate slot meets business hours, the next candidate is the first instant after
//! the last business-hours instant inside it (found by bisection over the slot, to the
//! millisecond), since every start before that would still meet it. Starts are therefore the
//! window's start, the end of the previous slot, or the end of a business-hours span.

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
/// module documentation for the rules. The slots come in tenant-id order.
pub fn plan_slots(
    window_start: Timestamp,
    window_end: Timestamp,
    tenants: &[TenantInput],
    slot: Duration,
    outside_business_hours: bool,
) -> Result<Vec<Slot>, SlotsError> {
    if slot.is_zero() {
        return Err(SlotsError::ZeroSlot);
    }
    let mut order: Vec<&TenantInput> = tenants.iter().collect();
    order.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(pair) = order.windows(2).find(|pair| pair[0].id == pair[1].id) {
        return Err(SlotsError::DuplicateTenant(pair[0].id.clone()));
    }
    // A slot too long for the time line fits no window.
    let length = SignedDuration::try_from(slot).ok();
    let mut cursor = window_start;
    let mut placed = Vec::with_capacity(order.len());
    let mut missing = Vec::new();
    for tenant in order {
        let fit = length.and_then(|length| {
            let hours = outside_business_hours.then_some(tenant);
            let start = first_fit(hours, cursor, window_end, length)?;
            Some((start, start.checked_add(length).ok()?))
        });
        match fit {
            Some((start, end)) => {
                placed.push(Slot {
                    tenant: tenant.id.clone(),
                    start,
                    end,
                });
                cursor = end;
            }
            None => missing.push(tenant.id.clone()),
        }
    }
    if missing.is_empty() {
        Ok(placed)
    } else {
        Err(SlotsError::DoesNotFit { tenants: missing })
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
/// Tenants (or regions) missing from the configuration are left out.
pub fn maintenance_slots(
    tenants: &std::collections::BTreeMap<String, crate::config::Tenant>,
    regions: &std::collections::BTreeMap<String, crate::config::Region>,
    policy: &crate::config::MaintenancePolicy,
    covered: &[&String],
    start: Timestamp,
    end: Timestamp,
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

    #[test]
    fn seed_004_eu_and_us_tenants_outside_their_hours() {
        let (start, end) = seed_004_window();
        let tenants = [
            tenant("us-dyn", "America/New_York", US_HOURS),
            tenant("eu-beta", "Europe/Rome", EU_HOURS),
            tenant("us-corp", "America/New_York", US_HOURS),
            tenant("eu-acme", "Europe/Rome", EU_HOURS),
        ];
        let plan = plan_slots(start, end, &tenants, MIN15, true).unwrap();
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
        let packed = plan_slots(start, end, &tenants, MIN15, false).unwrap();
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
        let plan = plan_slots(start, end, &tenants, MIN15, true).unwrap();
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
        let err = plan_slots(start, end, &tenants, MIN15, true).unwrap_err();
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
        let plan = plan_slots(start, end, &fitting, MIN15, true).unwrap();
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
        let err = plan_slots(start, end, &tenants, HOUR, true).unwrap_err();
        assert_eq!(
            err,
            SlotsError::DoesNotFit {
                tenants: vec!["rome-8".into(), "rome-9".into()]
            }
        );
        let plan = plan_slots(start, end, &tenants[..7], HOUR, true).unwrap();
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
        let err = plan_slots(start, end, &tenants, HOUR, true).unwrap_err();
        assert_eq!(
            err,
            SlotsError::DoesNotFit {
                tenants: vec!["ny-6".into()]
            }
        );
        let plan = plan_slots(start, end, &tenants[..5], HOUR, true).unwrap();
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
        let plan = plan_slots(start, end, &[tenant("a", rome, EU_HOURS)], MIN15, true).unwrap();
        assert_eq!(
            plan,
            vec![slot("a", "2026-11-23T18:00:00Z", "2026-11-23T18:15:00Z")]
        );
    }

    #[test]
    fn empty_and_invalid_inputs() {
        let (start, end) = seed_004_window();
        assert_eq!(plan_slots(start, end, &[], MIN15, true), Ok(vec![]));
        assert_eq!(
            plan_slots(start, end, &[], Duration::ZERO, true),
            Err(SlotsError::ZeroSlot)
        );
        let twice = [
            tenant("a", "UTC", ""),
            tenant("b", "UTC", ""),
            tenant("a", "Europe/Rome", ""),
        ];
        assert_eq!(
            plan_slots(start, end, &twice, MIN15, true),
            Err(SlotsError::DuplicateTenant("a".into()))
        );
    }

    #[test]
    fn a_slot_longer_than_the_window_fits_nobody() {
        let (start, end) = seed_004_window();
        let tenants = [tenant("a", "UTC", ""), tenant("b", "UTC", "")];
        let err = plan_slots(start, end, &tenants, Duration::from_secs(9 * 3600), false);
        assert_eq!(
            err,
            Err(SlotsError::DoesNotFit {
                tenants: vec!["a".into(), "b".into()]
            })
        );
        let huge = plan_slots(start, end, &tenants[..1], Duration::MAX, false);
        assert_eq!(
            huge,
            Err(SlotsError::DoesNotFit {
                tenants: vec!["a".into()]
            })
        );
        // An inverted window has no room either.
        let inverted = plan_slots(end, start, &tenants[..1], MIN15, false);
        assert!(matches!(inverted, Err(SlotsError::DoesNotFit { .. })));
    }

    #[test]
    fn exactly_filling_the_window() {
        let start = ts("2026-11-18T21:00:00Z");
        let end = start + 30.minutes();
        let tenants = [tenant("a", "UTC", ""), tenant("b", "UTC", "")];
        let plan = plan_slots(start, end, &tenants, MIN15, true).unwrap();
        assert_eq!(plan[1].end, end);
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

    fn tenants_strategy() -> impl Strategy<Value = Vec<TenantInput>> {
        let attributes = (proptest::sample::select(ZONES.to_vec()), hours_strategy());
        proptest::collection::btree_map("[a-z]{1,3}", attributes, 0..7)
            .prop_map(|map| {
                map.into_iter()
                    .map(|(id, (zone, hours))| tenant(&id, zone, &hours))
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

    /// Whether some start on the minute grid from `from` (or the last possible start) fits.
    fn some_minute_fits(
        tenant: &TenantInput,
        from: Timestamp,
        window_end: Timestamp,
        length: SignedDuration,
    ) -> Option<Timestamp> {
        let last = window_end.checked_sub(length).ok()?;
        let mut candidates: Vec<Timestamp> = (0..)
            .map(|k: i64| from + k.minutes())
            .take_while(|t| *t <= last)
            .collect();
        candidates.push(last);
        candidates.into_iter().find(|t| {
            *t >= from
                && !tenant
                    .business_hours
                    .overlaps(&tenant.zone, *t, *t + length)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn plans_keep_every_rule(
            tenants in tenants_strategy(),
            window_start in start_strategy(),
            window_minutes in 0i64..(16 * 60),
            slot_minutes in 1u64..120,
            outside_business_hours: bool,
        ) {
            let window_end = window_start + window_minutes.minutes();
            let slot = Duration::from_secs(slot_minutes * 60);
            let length = SignedDuration::try_from(slot).unwrap();
            let result = plan_slots(window_start, window_end, &tenants, slot, outside_business_hours);
            // The order the tenants come in does not matter.
            let mut sorted = tenants.clone();
            sorted.sort_by(|a, b| a.id.cmp(&b.id));
            prop_assert_eq!(
                &result,
                &plan_slots(window_start, window_end, &sorted, slot, outside_business_hours)
            );
            let (fitting, missing) = match &result {
                Ok(_) => (sorted.clone(), vec![]),
                Err(SlotsError::DoesNotFit { tenants: missing }) => {
                    prop_assert!(!missing.is_empty());
                    prop_assert!(missing.windows(2).all(|p| p[0] < p[1]));
                    for id in missing {
                        prop_assert!(sorted.iter().any(|t| &t.id == id), "{} is no input", id);
                    }
                    let fitting: Vec<_> = sorted
                        .iter()
                        .filter(|t| !missing.contains(&t.id))
                        .cloned()
                        .collect();
                    (fitting, missing.clone())
                }
                Err(other) => {
                    return Err(TestCaseError::fail(format!("unexpected {other:?}")));
                }
            };
            // Without the tenants that do not fit, the others fit.
            let plan = plan_slots(window_start, window_end, &fitting, slot, outside_business_hours);
            prop_assert!(plan.is_ok(), "{plan:?}");
            let plan = plan.unwrap();
            prop_assert_eq!(plan.len(), fitting.len());
            let mut cursor = window_start;
            for (slot, tenant) in plan.iter().zip(&fitting) {
                prop_assert_eq!(&slot.tenant, &tenant.id);
                prop_assert_eq!(slot.end, slot.start + length);
                prop_assert!(slot.start >= cursor, "overlap or out of order");
                prop_assert!(slot.end <= window_end);
                if outside_business_hours {
                    prop_assert!(
                        !tenant.business_hours.overlaps(&tenant.zone, slot.start, slot.end)
                    );
                }
                // Earliest: no minute-grid start from the cursor fits before it.
                let hours = if outside_business_hours { Some(tenant) } else { None };
                if let Some(t) = hours.and_then(|t| some_minute_fits(t, cursor, window_end, length)) {
                    prop_assert!(slot.start <= t, "{} placed at {} but {} fits", tenant.id, slot.start, t);
                } else if !outside_business_hours {
                    prop_assert_eq!(slot.start, cursor);
                }
                cursor = slot.end;
            }
            // A tenant that does not fit really has no start on the minute grid after the
            // slot of the tenant before it.
            for id in &missing {
                let tenant = sorted.iter().find(|t| &t.id == id).unwrap();
                let before = plan.iter().rev().find(|s| &s.tenant < id).map_or(window_start, |s| s.end);
                if outside_business_hours {
                    prop_assert_eq!(some_minute_fits(tenant, before, window_end, length), None);
                } else {
                    prop_assert!(before + length > window_end);
                }
            }
        }
    }
}
