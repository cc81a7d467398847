//! The uptime history behind the status page's 90-day bars and the badges' 30-day figure.
//!
//! [`History`] keeps, for each local day of the page's zone, every monitor's rollup totals over
//! exactly that day ([`Store::rollup_totals_all`] is exact to the minute, so days of 23 or 25
//! hours and zones with half-hour offsets are cut where the page's readers expect). Past days
//! are read once; today and yesterday are read again on every refresh, so a late result still
//! lands in the right bar.
//!
//! A component's day ([`component_days`]) is pure arithmetic over that history: the uptime is
//! `1 − Σ down / Σ observed` over the component's monitors that reported that day, where a
//! monitor observes the whole local day (today: up to now). A day without any result has no
//! figure ("no data") rather than a made-up 100 %. The availability engine with planned and
//! partial downtime is separate; the bars show what the probes saw.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use upkeep_store::Store;
use upkeep_store::StoreError;
use upkeep_store::incidents::IncidentRecord;
use upkeep_store::monitoring::RollupTotals;

/// How many days the bars show, today included.
pub const DAYS: usize = 90;
/// How many days the badges' uptime covers, today included.
pub const BADGE_DAYS: usize = 30;

/// Every monitor's totals per local day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    days: BTreeMap<Date, HashMap<String, RollupTotals>>,
}

/// The instants a local day spans in `tz` (its midnight to the next; 23 or 25 hours on the
/// days the clocks change).
pub fn day_span(day: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = day.to_zoned(tz.clone()).ok()?.timestamp();
    let end = day.tomorrow().ok()?.to_zoned(tz.clone()).ok()?.timestamp();
    Some((start, end))
}

/// The last `n` local days up to and including `today`, oldest first.
pub fn last_days(today: Date, n: usize) -> Vec<Date> {
    let mut days = Vec::with_capacity(n);
    let mut d = today;
    for _ in 0..n {
        days.push(d);
        match d.yesterday() {
            Ok(y) => d = y,
            Err(_) => break,
        }
    }
    days.reverse();
    days
}

impl History {
    /// Reads the days of the last [`DAYS`] not read yet, reads today and yesterday again and
    /// forgets older days. Returns whether anything changed.
    pub async fn refresh(
        &mut self,
        store: &Store,
        tz: &TimeZone,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let today = tz.to_datetime(now).date();
        let wanted = last_days(today, DAYS);
        let mut changed = false;
        if let Some(first) = wanted.first() {
            let before = self.days.len();
            self.days.retain(|d, _| d >= first);
            changed |= self.days.len() != before;
        }
        let recent = wanted.len().saturating_sub(2);
        for (i, day) in wanted.iter().enumerate() {
            if i < recent && self.days.contains_key(day) {
                continue;
            }
            let Some((start, end)) = day_span(*day, tz) else {
                continue;
            };
            let totals = store.rollup_totals_all(start, end).await?;
            if self.days.get(day) != Some(&totals) {
                self.days.insert(*day, totals);
                changed = true;
            }
        }
        Ok(changed)
    }

    /// The totals of `monitor` on `day`, if it reported that day.
    pub fn totals(&self, day: Date, monitor: &str) -> Option<&RollupTotals> {
        self.days.get(&day).and_then(|m| m.get(monitor))
    }

    /// Sets the totals of `monitor` on `day` (for tests and tools).
    pub fn insert(&mut self, day: Date, monitor: &str, totals: RollupTotals) {
        self.days
            .entry(day)
            .or_default()
            .insert(monitor.to_owned(), totals);
    }
}

/// One component's day on the bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUptime {
    pub date: Date,
    /// Parts per million up, or `None` when no monitor of the component reported that day.
    pub uptime_ppm: Option<u32>,
    /// Time observed down, summed over the component's monitors.
    pub down_ms: i64,
    /// Time observed, summed over the monitors that reported.
    pub observed_ms: i64,
    /// The incidents affecting the component that overlapped the day: `(id, title)`.
    pub incidents: Vec<(String, String)>,
}

/// `1 − down / observed` in parts per million (`None` when nothing was observed).
pub fn ppm(down_ms: i64, observed_ms: i64) -> Option<u32> {
    if observed_ms <= 0 {
        return None;
    }
    let down = down_ms.clamp(0, observed_ms);
    let up = (observed_ms - down) as i128 * 1_000_000 / observed_ms as i128;
    u32::try_from(up).ok()
}

/// The days of `days` for the component `component` watched by `monitors`, with the incidents
/// among `incidents` that affected it on each day. `now` caps today's span.
pub fn component_days(
    component: &str,
    monitors: &[&str],
    history: &History,
    tz: &TimeZone,
    days: &[Date],
    now: Timestamp,
    incidents: &[IncidentRecord],
) -> Vec<DayUptime> {
    days.iter()
        .map(|&date| {
            let Some((start, end)) = day_span(date, tz) else {
                return DayUptime {
                    date,
                    uptime_ppm: None,
                    down_ms: 0,
                    observed_ms: 0,
                    incidents: Vec::new(),
                };
            };
            let span = (end.min(now).as_millisecond() - start.as_millisecond()).max(0);
            let (mut down, mut observed) = (0i64, 0i64);
            for m in monitors {
                if let Some(t) = history.totals(date, m).filter(|t| t.checks > 0) {
                    down += t.down_ms.clamp(0, span);
                    observed += span;
                }
            }
            let incidents = incidents
                .iter()
                .filter(|i| i.components.iter().any(|c| c.id == component))
                .filter(|i| i.started_at < end && i.resolved_at.unwrap_or(now) >= start)
                .map(|i| (i.id.clone(), i.title.clone()))
                .collect();
            DayUptime {
                date,
                uptime_ppm: ppm(down, observed),
                down_ms: down,
                observed_ms: observed,
                incidents,
            }
        })
        .collect()
}

/// The uptime over the last `n` of `days` (parts per million), weighted by observed time.
pub fn uptime_over(days: &[DayUptime], n: usize) -> Option<u32> {
    let tail = &days[days.len().saturating_sub(n)..];
    let down = tail.iter().map(|d| d.down_ms).sum();
    let observed = tail.iter().map(|d| d.observed_ms).sum();
    ppm(down, observed)
}

/// `ppm` as a percentage with up to three decimals, truncated (never rounds 99.9996 up to 100).
pub fn percent(ppm: u32) -> String {
    let whole = ppm / 10_000;
    let frac = ppm % 10_000 / 10;
    if frac == 0 {
        format!("{whole}%")
    } else {
        let s = format!("{whole}.{frac:03}");
        format!("{}%", s.trim_end_matches('0'))
    }
}

/// Groups `incidents` by component id (for quick lookups while building many components).
pub fn by_component(incidents: &[IncidentRecord]) -> HashMap<&str, Vec<&IncidentRecord>> {
    let mut out: HashMap<&str, Vec<&IncidentRecord>> = HashMap::new();
    for i in incidents {
        for c in &i.components {
            out.entry(c.id.as_str()).or_default().push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jiff::civil::date;

    fn totals(checks: u64, down_ms: i64) -> RollupTotals {
        RollupTotals {
            checks,
            down_ms,
            ..Default::default()
        }
    }

    #[test]
    fn days_follow_the_local_clock_across_daylight_saving() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let (s, e) = day_span(date(2026, 3, 29), &rome).unwrap();
        assert_eq!(e.as_millisecond() - s.as_millisecond(), 23 * 3_600_000);
        assert_eq!(s.to_string(), "2026-03-28T23:00:00Z");
        let (s, e) = day_span(date(2026, 10, 25), &rome).unwrap();
        assert_eq!(e.as_millisecond() - s.as_millisecond(), 25 * 3_600_000);
        assert_eq!(s.to_string(), "2026-10-24T22:00:00Z");
    }

    #[test]
    fn last_days_end_today_oldest_first() {
        let days = last_days(date(2026, 3, 2), 3);
        assert_eq!(
            days,
            vec![date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)]
        );
        assert_eq!(last_days(date(2026, 11, 22), DAYS).len(), DAYS);
    }

    #[test]
    fn a_day_is_down_over_observed_and_no_data_stays_unknown() {
        let tz = TimeZone::UTC;
        let day = date(2026, 11, 20);
        let mut h = History::default();
        // One of two monitors down for 2.4 h of a 24 h day: 2.4 / 48 = 5 % down.
        h.insert(day, "a", totals(100, 8_640_000));
        h.insert(day, "b", totals(100, 0));
        let now: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
        let days = component_days(
            "api",
            &["a", "b"],
            &h,
            &tz,
            &[date(2026, 11, 19), day],
            now,
            &[],
        );
        assert_eq!(days[0].uptime_ppm, None);
        assert_eq!(days[1].uptime_ppm, Some(950_000));
        assert_eq!(uptime_over(&days, 30), Some(950_000));
    }

    #[test]
    fn today_counts_only_up_to_now() {
        let tz = TimeZone::UTC;
        let today = date(2026, 11, 22);
        let mut h = History::default();
        h.insert(today, "a", totals(10, 3_600_000));
        let now: Timestamp = "2026-11-22T02:00:00Z".parse().unwrap();
        let days = component_days("api", &["a"], &h, &tz, &[today], now, &[]);
        assert_eq!(days[0].uptime_ppm, Some(500_000));
    }

    #[test]
    fn percentages_truncate_and_trim() {
        assert_eq!(percent(1_000_000), "100%");
        assert_eq!(percent(999_999), "99.999%");
        assert_eq!(percent(999_000), "99.9%");
        assert_eq!(percent(950_000), "95%");
        assert_eq!(percent(0), "0%");
        assert_eq!(ppm(0, 0), None);
        assert_eq!(ppm(5, 10), Some(500_000));
        assert_eq!(ppm(50, 10), Some(0));
    }
}
