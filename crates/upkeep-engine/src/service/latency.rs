//! Response time per location over the last day ([`by_location`]): each location's checks,
//! failures, mean and highest latency. The admin API (`GET /api/v1/monitors`, each location's
//! `latency_24h`), the console's monitor page and the public status page (`show_latency`) all
//! read it here.
//!
//! A monitor probed from several locations has each location's results summed per UTC hour
//! (`check_location_rollups`, written with the results); one probed from the server alone has
//! one location, whose checks are the monitor's own (its rollups). The window is the UTC hours
//! whose start lies in the last 24 hours: the current hour and the 23 before it, so between 23
//! and 24 hours of checks. The mean counts every check, failures included (a timeout's
//! latency is the time it waited), as the monitor's own rollups do.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::{Monitor, MonitorKind};
use upkeep_domain::rollups::RollupTotals;
use upkeep_store::{Store, StoreError};

/// How far back the window reaches, in hours.
pub const WINDOW_HOURS: i64 = 24;

/// One location's checks of a monitor over the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationLatency {
    /// `server`, or an agent's location.
    pub location: String,
    /// Checks, failures, latency sum and maximum (`down_ms` is not used).
    pub totals: RollupTotals,
}

impl LocationLatency {
    /// The mean latency in whole milliseconds (rounded to the nearest), if it checked at all.
    pub fn mean_ms(&self) -> Option<u64> {
        let t = &self.totals;
        (t.checks > 0).then(|| (t.latency_sum_ms + t.checks / 2) / t.checks)
    }

    /// The highest latency, if it checked at all.
    pub fn max_ms(&self) -> Option<u32> {
        (self.totals.checks > 0).then_some(self.totals.latency_max_ms)
    }
}

/// The window at `now`: `[now − 24 h, now)`, read at hour precision (an hour counts when its
/// start lies in it).
pub fn window(now: Timestamp) -> (Timestamp, Timestamp) {
    let from = now
        .checked_sub(SignedDuration::from_hours(WINDOW_HOURS))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    (from, now)
}

/// How long each location's hour rollups are kept at least, in hours, whatever
/// `monitoring.retention` says: the window and the hour it starts in.
pub const KEPT_HOURS: i64 = WINDOW_HOURS + 1;

/// The cutoff each location's hour rollups are pruned at (an hour's rows go once the hour
/// ended by it): the earlier of `retention_cutoff` (`now − monitoring.retention`) and
/// `now −` [`KEPT_HOURS`], so a retention shorter than a day never shortens the window.
pub fn prune_cutoff(retention_cutoff: Timestamp, now: Timestamp) -> Timestamp {
    let kept = now
        .checked_sub(SignedDuration::from_hours(KEPT_HOURS))
        .unwrap_or(Timestamp::MIN);
    retention_cutoff.min(kept)
}

/// Whether a monitor's checks have a latency (every kind but push, which is judged on the
/// pings it receives).
pub fn measures_latency(m: &Monitor) -> bool {
    !matches!(m.kind, MonitorKind::Push(_))
}

/// A monitor with its id.
type Named<'a> = (&'a str, &'a Monitor);

/// Each location of each of `monitors` with its checks over the window at `now`, by monitor
/// id, in the order of the monitor's `locations` (a location without checks in the window has
/// zero totals). Push monitors are absent. One statement per 128 monitors probed from several
/// locations, and one for all those probed from the server alone.
pub async fn by_location(
    store: &Store,
    monitors: &[(&str, &Monitor)],
    now: Timestamp,
) -> Result<HashMap<String, Vec<LocationLatency>>, StoreError> {
    let (from, to) = window(now);
    let measured = monitors
        .iter()
        .copied()
        .filter(|(_, m)| measures_latency(m));
    let (server_only, located): (Vec<Named<'_>>, Vec<Named<'_>>) =
        measured.partition(|(_, m)| m.server_only());
    let ids: Vec<&str> = located.iter().map(|(id, _)| *id).collect();
    let mut found: HashMap<(String, String), RollupTotals> = store
        .location_rollup_totals(&ids, from, to)
        .await?
        .into_iter()
        .map(|t| ((t.monitor_id, t.location), t.totals))
        .collect();
    // The hour the window starts in is left out, as the locations' hour rollups leave it out.
    let hour_aligned = ceil_hour(from);
    let own: HashMap<String, RollupTotals> = match server_only.as_slice() {
        [] => HashMap::new(),
        [(id, _)] => {
            let t = store.rollup_totals(id, hour_aligned, to).await?;
            HashMap::from([((*id).to_owned(), t)])
        }
        _ => store.rollup_totals_all(hour_aligned, to).await?,
    };
    let mut out = HashMap::with_capacity(monitors.len());
    for (id, m) in server_only {
        let totals = own.get(id).copied().unwrap_or_default();
        let locations = m
            .locations
            .iter()
            .map(|location| LocationLatency {
                location: location.clone(),
                totals: without_down(totals),
            })
            .collect();
        out.insert(id.to_owned(), locations);
    }
    for (id, m) in located {
        let locations = m
            .locations
            .iter()
            .map(|location| LocationLatency {
                location: location.clone(),
                totals: found
                    .remove(&(id.to_owned(), location.clone()))
                    .unwrap_or_default(),
            })
            .collect();
        out.insert(id.to_owned(), locations);
    }
    Ok(out)
}

/// `totals` without its time down (which belongs to the monitor, not to a location).
fn without_down(totals: RollupTotals) -> RollupTotals {
    RollupTotals {
        down_ms: 0,
        ..totals
    }
}

/// The first whole UTC hour at or after `t`.
fn ceil_hour(t: Timestamp) -> Timestamp {
    use upkeep_store::monitoring::{HOUR_MS, bucket_ceil};
    Timestamp::from_millisecond(bucket_ceil(t.as_millisecond(), HOUR_MS)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn the_mean_rounds_to_the_nearest_millisecond_and_needs_checks() {
        let l = |checks, sum, max| LocationLatency {
            location: "eu-1".into(),
            totals: RollupTotals {
                checks,
                latency_sum_ms: sum,
                latency_max_ms: max,
                ..Default::default()
            },
        };
        assert_eq!(l(3, 100, 50).mean_ms(), Some(33));
        assert_eq!(l(2, 25, 20).mean_ms(), Some(13));
        assert_eq!(l(2, 25, 20).max_ms(), Some(20));
        assert_eq!(l(0, 0, 0).mean_ms(), None);
        assert_eq!(l(0, 0, 0).max_ms(), None);
    }

    #[test]
    fn the_window_starts_at_the_first_whole_hour_of_the_last_day() {
        let now = at("2026-12-06T14:20:00Z");
        let (from, to) = window(now);
        assert_eq!((from, to), (at("2026-12-05T14:20:00Z"), now));
        assert_eq!(ceil_hour(from), at("2026-12-05T15:00:00Z"));
        assert_eq!(
            ceil_hour(at("2026-12-05T15:00:00Z")),
            at("2026-12-05T15:00:00Z")
        );
    }
}
