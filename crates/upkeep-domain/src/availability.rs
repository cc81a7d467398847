//! Availability figures (`docs/decisions.md#continuity-numbers`): how long each component was
//! down over a period, weighted by how badly, split into planned and unplanned time.
//!
//! Everything is integer: instants and lengths are milliseconds since the Unix epoch (UTC),
//! fractions are parts per million (ppm), and weighted downtime is kept in "ppm·ms" (a
//! millisecond of major outage is 1_000_000 ppm·ms, a millisecond of partial outage
//! `partial_weight_ppm` ppm·ms), so no figure is ever rounded before the last step.
//!
//! Decisions:
//! - A period is `[from, to)`. The default period is the calendar year in the page's zone
//!   ([`year_period`]), whose length in days (365 or 366) travels with the figures.
//! - A component's [`Level`] at each instant is the worst of three sources
//!   ([`component_levels`]):
//!   - its monitors, as [`crate::component_status::derive`] does for the live page: at least one
//!     monitor down and every *active* monitor (up or down) down → major; some but not all
//!     active monitors down → partial. Pending, paused and unknown monitors are not active and
//!     never down, so a component whose only monitors are paused is not down;
//!   - its firing alert rules: critical → partial, warning → degraded, info → nothing;
//!   - unresolved incidents' declared status for it ([`Level::from_status`]), a step function
//!     over the incident's updates ([`incident_levels`]).
//! - Weights: major 1, partial `partial_weight_ppm` (default [`DEFAULT_PARTIAL_WEIGHT_PPM`], 0.3),
//!   degraded 0 (reported, never counted).
//! - Planned time is the union of the maintenance windows that ran on the component. Downtime
//!   inside planned time is planned downtime, never unplanned. A planned instant is *excused*
//!   (left out of SLA figures) when every window covering it has `counts_as_downtime: false`;
//!   one covering window that counts as downtime makes the instant count.
//! - **Observed time** ([`Timeline`]): an instant is observed when a monitor of the component
//!   had judged it (up or down: pending, paused and unknown monitors observe nothing), an alert
//!   rule on it fired, or an open incident declared its status (any status, operational and
//!   under maintenance included). Everything else — before upkeep watched the component, a push
//!   monitor that was never pinged, a paused monitor — is *unobserved*. Down time is always
//!   observed time (every source of a level also observes).
//! - Availability is computed over observed time only: raw availability counts every weighted
//!   down millisecond, planned or not; SLA availability leaves excused time out.
//!   `ppm = floor((observed·10⁶ − weighted) / observed)`: availability is rounded down, never
//!   flattered; downtime shown in milliseconds is rounded up. With no observed time there is no
//!   figure (`None`), never 100 %. Coverage is `floor(observed·10⁶ / period)`: 100 % only when
//!   every millisecond was observed.
//! - Overall figures ([`Figures::mean`]) are the time-weighted mean over components: each
//!   component weighs its observed time, so the overall availability is
//!   `1 − Σ weighted ÷ Σ observed` and the overall coverage `Σ observed ÷ Σ period`; ppm
//!   figures come from the exact sums, millisecond fields are the mean over components rounded
//!   down.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::component_status::ComponentStatus;
use crate::config::Severity;
use crate::monitor_state::MonitorStatus;

/// One whole, in parts per million.
pub const PPM: i64 = 1_000_000;

/// Partial outages weigh 0.3 unless configured otherwise (as on Statuspage's uptime calendar).
pub const DEFAULT_PARTIAL_WEIGHT_PPM: u32 = 300_000;

/// A half-open period `[from_ms, to_ms)` in UTC milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
    /// The length in days of the calendar year this period is, when it is one.
    pub year_days: Option<u16>,
}

impl Period {
    /// `[from_ms, to_ms)`; an inverted period is empty (`to_ms` becomes `from_ms`).
    pub fn new(from_ms: i64, to_ms: i64) -> Period {
        Period {
            from_ms,
            to_ms: to_ms.max(from_ms),
            year_days: None,
        }
    }

    /// The length in milliseconds.
    pub fn len_ms(&self) -> i64 {
        self.to_ms - self.from_ms
    }

    /// The same period ending at `to_ms` at the latest (never before its start).
    pub fn until(&self, to_ms: i64) -> Period {
        Period {
            to_ms: self.to_ms.min(to_ms).max(self.from_ms),
            ..*self
        }
    }
}

/// The calendar year `year` in zone `tz`: from local midnight on 1 January to local midnight on
/// the next 1 January, with its length in days.
pub fn year_period(year: i16, tz: &TimeZone) -> Result<Period, jiff::Error> {
    let start = Date::new(year, 1, 1)?;
    let end = start.checked_add(1.year())?;
    let days = start.days_in_year();
    Ok(Period {
        from_ms: local_midnight(start, tz)?,
        to_ms: local_midnight(end, tz)?,
        year_days: u16::try_from(days).ok(),
    })
}

/// The first instant of `date` in `tz` (after the gap when midnight does not exist), in ms.
pub fn local_midnight(date: Date, tz: &TimeZone) -> Result<i64, jiff::Error> {
    Ok(date.to_zoned(tz.clone())?.timestamp().as_millisecond())
}

/// How bad a component is at an instant. Ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Operational,
    Degraded,
    Partial,
    Major,
}

impl Level {
    /// The level an incident's declared status means: maintenance and operational are not down.
    pub fn from_status(status: ComponentStatus) -> Level {
        match status {
            ComponentStatus::MajorOutage => Level::Major,
            ComponentStatus::PartialOutage => Level::Partial,
            ComponentStatus::DegradedPerformance => Level::Degraded,
            ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Level::Operational,
        }
    }

    /// The level a firing rule of `severity` causes.
    pub fn from_severity(severity: Severity) -> Level {
        match severity {
            Severity::Critical => Level::Partial,
            Severity::Warning => Level::Degraded,
            Severity::Info => Level::Operational,
        }
    }
}

/// A monitor's status as far as availability cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MonitorState {
    Up,
    Down,
    /// Pending, paused or unknown: not active, never down.
    Inactive,
}

impl From<MonitorStatus> for MonitorState {
    fn from(status: MonitorStatus) -> MonitorState {
        match status {
            MonitorStatus::Up => MonitorState::Up,
            MonitorStatus::Down => MonitorState::Down,
            MonitorStatus::Pending | MonitorStatus::Paused | MonitorStatus::Unknown => {
                MonitorState::Inactive
            }
        }
    }
}

/// A value holding over `[start, end)` (UTC ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timed<T> {
    pub start: i64,
    pub end: i64,
    pub value: T,
}

/// Turns a source's ordered changes into spans clipped to `period`. `initial` is its value at
/// `period.from_ms` (from its last change before the period; `None`: no value, no span).
/// `changes` are `(at, new value)` in time order; changes before the period only update the
/// initial value, changes at or after its end are ignored; of several changes at one instant
/// the last wins. Adjacent spans of equal value are merged.
pub fn spans<T: Copy + PartialEq>(
    period: Period,
    initial: Option<T>,
    changes: impl IntoIterator<Item = (i64, T)>,
) -> Vec<Timed<T>> {
    let mut out: Vec<Timed<T>> = Vec::new();
    let mut current = initial;
    let mut since = period.from_ms;
    let mut push = |start: i64, end: i64, value: Option<T>| {
        let Some(value) = value else { return };
        if start >= end {
            return;
        }
        match out.last_mut() {
            Some(last) if last.end == start && last.value == value => last.end = end,
            _ => out.push(Timed { start, end, value }),
        }
    };
    for (at, value) in changes {
        if at >= period.to_ms {
            break;
        }
        if at > since {
            push(since, at, current);
            since = at;
        }
        current = Some(value);
    }
    push(since, period.to_ms, current);
    out
}

/// The levels an incident declares for one component, clipped to `period`. `started_ms` is
/// when the trouble began: the first step applies from it when it is earlier than the first
/// update. `steps` are the incident's updates in time order: `(at, Some(status))` when the
/// update leaves the incident open and declares `status` for the component, `(at, None)` when
/// the update resolves the incident or does not list the component. `resolved_ms` ends
/// everything (an incident reopened later has its resolution cleared and a new open step).
/// A declared operational (or under maintenance) status is an [`Level::Operational`] span:
/// not down, but observed.
pub fn incident_levels(
    period: Period,
    started_ms: i64,
    steps: &[(i64, Option<ComponentStatus>)],
    resolved_ms: Option<i64>,
) -> Vec<Timed<Level>> {
    let end = resolved_ms.unwrap_or(i64::MAX).min(period.to_ms);
    let clipped = Period {
        to_ms: end.max(period.from_ms),
        ..period
    };
    let mut first = true;
    let changes = steps.iter().map(|&(at, status)| {
        let at = if first { at.min(started_ms) } else { at };
        first = false;
        (at, status.map(Level::from_status))
    });
    spans(clipped, None, changes)
        .into_iter()
        .filter_map(|s| {
            Some(Timed {
                start: s.start,
                end: s.end,
                value: s.value?,
            })
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Counter {
    Active,
    Down,
    RuleCritical,
    RuleWarning,
    IncidentMajor,
    IncidentPartial,
    IncidentDegraded,
}

/// The component's level over time: sorted, non-overlapping spans of levels worse than
/// operational (operational time is the gaps). Inputs may be in any order:
/// - `monitors`: every monitor's state spans (one monitor's spans must not overlap each other);
/// - `rules`: the spans during which a rule fired, with its severity;
/// - `incidents`: the levels incidents declared ([`incident_levels`]); they may overlap.
///
/// One sort and one sweep: O(n log n) in the number of spans.
pub fn component_levels(
    monitors: &[Timed<MonitorState>],
    rules: &[Timed<Severity>],
    incidents: &[Timed<Level>],
) -> Vec<Timed<Level>> {
    let mut deltas: Vec<(i64, Counter, i32)> =
        Vec::with_capacity(2 * (monitors.len() * 2 + rules.len() + incidents.len()));
    let mut add = |span_start: i64, span_end: i64, counter: Counter| {
        if span_start < span_end {
            deltas.push((span_start, counter, 1));
            deltas.push((span_end, counter, -1));
        }
    };
    for m in monitors {
        match m.value {
            MonitorState::Up => add(m.start, m.end, Counter::Active),
            MonitorState::Down => {
                add(m.start, m.end, Counter::Active);
                add(m.start, m.end, Counter::Down);
            }
            MonitorState::Inactive => {}
        }
    }
    for r in rules {
        match r.value {
            Severity::Critical => add(r.start, r.end, Counter::RuleCritical),
            Severity::Warning => add(r.start, r.end, Counter::RuleWarning),
            Severity::Info => {}
        }
    }
    for i in incidents {
        match i.value {
            Level::Major => add(i.start, i.end, Counter::IncidentMajor),
            Level::Partial => add(i.start, i.end, Counter::IncidentPartial),
            Level::Degraded => add(i.start, i.end, Counter::IncidentDegraded),
            Level::Operational => {}
        }
    }
    deltas.sort_unstable_by_key(|d| d.0);
    let mut counts = [0_i32; 7];
    let mut out: Vec<Timed<Level>> = Vec::new();
    let mut i = 0;
    while i < deltas.len() {
        let at = deltas[i].0;
        while i < deltas.len() && deltas[i].0 == at {
            counts[deltas[i].1 as usize] += deltas[i].2;
            i += 1;
        }
        let Some(&(next, _, _)) = deltas.get(i) else {
            break;
        };
        let level = level_of(&counts);
        if level == Level::Operational {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.end == at && last.value == level => last.end = next,
            _ => out.push(Timed {
                start: at,
                end: next,
                value: level,
            }),
        }
    }
    out
}

fn level_of(c: &[i32; 7]) -> Level {
    let (active, down) = (c[Counter::Active as usize], c[Counter::Down as usize]);
    let monitors = if down <= 0 {
        Level::Operational
    } else if down >= active {
        Level::Major
    } else {
        Level::Partial
    };
    let rules = if c[Counter::RuleCritical as usize] > 0 {
        Level::Partial
    } else if c[Counter::RuleWarning as usize] > 0 {
        Level::Degraded
    } else {
        Level::Operational
    };
    let incidents = if c[Counter::IncidentMajor as usize] > 0 {
        Level::Major
    } else if c[Counter::IncidentPartial as usize] > 0 {
        Level::Partial
    } else if c[Counter::IncidentDegraded as usize] > 0 {
        Level::Degraded
    } else {
        Level::Operational
    };
    monitors.max(rules).max(incidents)
}

/// What is known of one component over time: when it was observed, and its levels worse than
/// operational. Every level span lies inside observed time (both come from the same sources).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    levels: Vec<Timed<Level>>,
    observed: Vec<(i64, i64)>,
}

impl Timeline {
    /// Nothing known: no level, nothing observed.
    pub const EMPTY: Timeline = Timeline {
        levels: Vec::new(),
        observed: Vec::new(),
    };

    /// From the component's sources, as [`component_levels`] takes them: observed is the union
    /// of its monitors' up and down spans, its rules' firing spans and its incidents' declared
    /// spans (see the module documentation).
    pub fn new(
        monitors: &[Timed<MonitorState>],
        rules: &[Timed<Severity>],
        incidents: &[Timed<Level>],
    ) -> Timeline {
        let observed = union(
            monitors
                .iter()
                .filter(|m| m.value != MonitorState::Inactive)
                .map(|m| (m.start, m.end))
                .chain(rules.iter().map(|r| (r.start, r.end)))
                .chain(incidents.iter().map(|i| (i.start, i.end))),
        );
        Timeline {
            levels: component_levels(monitors, rules, incidents),
            observed,
        }
    }

    /// Levels known by other means (sorted, non-overlapping, as [`component_levels`] gives
    /// them), observed over `observed` and over the levels themselves.
    pub fn from_levels(levels: Vec<Timed<Level>>, observed: &[(i64, i64)]) -> Timeline {
        let observed = union(
            observed
                .iter()
                .copied()
                .chain(levels.iter().map(|l| (l.start, l.end))),
        );
        Timeline { levels, observed }
    }

    /// The levels worse than operational: sorted, non-overlapping.
    pub fn levels(&self) -> &[Timed<Level>] {
        &self.levels
    }

    /// The observed time: sorted, non-overlapping, non-touching intervals.
    pub fn observed(&self) -> &[(i64, i64)] {
        &self.observed
    }
}

/// A maintenance window that ran on a component: `[start_ms, end_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedWindow {
    pub start_ms: i64,
    pub end_ms: i64,
    pub counts_as_downtime: bool,
}

/// Planned time of one component, ready for [`compute`]: sorted, non-overlapping intervals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Planned {
    /// Covered by at least one window.
    pub all: Vec<(i64, i64)>,
    /// Covered only by windows that do not count as downtime: left out of SLA figures.
    pub excused: Vec<(i64, i64)>,
}

impl Planned {
    /// From the windows that ran on the component, in any order.
    pub fn new(windows: &[PlannedWindow]) -> Planned {
        let all = union(windows.iter().map(|w| (w.start_ms, w.end_ms)));
        let counted = union(
            windows
                .iter()
                .filter(|w| w.counts_as_downtime)
                .map(|w| (w.start_ms, w.end_ms)),
        );
        let free = union(
            windows
                .iter()
                .filter(|w| !w.counts_as_downtime)
                .map(|w| (w.start_ms, w.end_ms)),
        );
        Planned {
            all,
            excused: subtract(&free, &counted),
        }
    }
}

/// The union of intervals as sorted, non-overlapping, non-touching intervals.
pub fn union(intervals: impl IntoIterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = intervals.into_iter().filter(|(s, e)| s < e).collect();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` minus `b`, both sorted and non-overlapping.
pub fn subtract(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &(s, e) in a {
        let mut cur = s;
        while j < b.len() && b[j].1 <= cur {
            j += 1;
        }
        let mut k = j;
        while cur < e && k < b.len() && b[k].0 < e {
            if b[k].0 > cur {
                out.push((cur, b[k].0));
            }
            cur = cur.max(b[k].1);
            k += 1;
        }
        if cur < e {
            out.push((cur, e));
        }
    }
    out
}

/// Availability figures of one component (or a mean of several) over a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AvailabilityFigures))]
pub struct Figures {
    /// Length of the period measured.
    pub period_ms: i64,
    /// Observed time in the period (see the module documentation) and the rest.
    pub observed_ms: i64,
    pub unobserved_ms: i64,
    /// Observed time ÷ period, ppm, rounded down (0 for an empty period).
    pub coverage_ppm: i64,
    /// Days of the calendar year measured, when the period is one.
    pub year_days: Option<u16>,
    /// Weight of partial outage, ppm.
    pub partial_weight_ppm: u32,
    /// Time at each level, planned time included.
    pub major_ms: i64,
    pub partial_ms: i64,
    pub degraded_ms: i64,
    /// Time covered by maintenance windows that ran.
    pub planned_ms: i64,
    /// Planned time left out of SLA figures (windows not counting as downtime).
    pub excused_ms: i64,
    /// Weighted downtime (ppm·ms): everything.
    pub down_weighted: i64,
    /// Weighted downtime inside planned time.
    pub planned_weighted: i64,
    /// Weighted downtime outside planned time (`down − planned`).
    pub unplanned_weighted: i64,
    /// Weighted downtime counted for SLA (`down − excused downtime`).
    pub sla_weighted: i64,
    /// Weighted downtime in ms, rounded up: raw, planned, SLA.
    pub downtime_ms: i64,
    pub planned_downtime_ms: i64,
    pub sla_downtime_ms: i64,
    /// Raw availability over observed time (every weighted down millisecond), ppm, rounded
    /// down; `None` without observed time.
    pub raw_ppm: Option<i64>,
    /// SLA availability over observed time (excused planned time left out), ppm, rounded down.
    pub sla_ppm: Option<i64>,
    /// Availability without any planned downtime (`1 − unplanned / observed`), ppm, rounded
    /// down.
    pub unplanned_ppm: Option<i64>,
}

fn ceil_div(a: i64, b: i64) -> i64 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

/// `floor((observed·10⁶ − weighted) / observed)` in exact arithmetic, within 0..=10⁶; `None`
/// without observed time (no data is never 100 %).
pub fn availability_ppm(observed_ms: i128, weighted: i128) -> Option<i64> {
    if observed_ms <= 0 {
        return None;
    }
    let v = (observed_ms * i128::from(PPM) - weighted).div_euclid(observed_ms);
    Some(i64::try_from(v.clamp(0, i128::from(PPM))).unwrap_or(0))
}

/// `floor(part·10⁶ / whole)`: the share of `whole` that `part` is, ppm; 0 when `whole` is empty.
pub fn share_ppm(part: i128, whole: i128) -> i64 {
    if whole <= 0 {
        return 0;
    }
    i64::try_from((part * i128::from(PPM)).div_euclid(whole)).unwrap_or(0)
}

impl Figures {
    fn finish(mut self) -> Figures {
        self.unplanned_weighted = self.down_weighted - self.planned_weighted;
        self.downtime_ms = ceil_div(self.down_weighted, PPM);
        self.planned_downtime_ms = ceil_div(self.planned_weighted, PPM);
        self.sla_downtime_ms = ceil_div(self.sla_weighted, PPM);
        self.unobserved_ms = self.period_ms - self.observed_ms;
        self.coverage_ppm = share_ppm(self.observed_ms.into(), self.period_ms.into());
        let p = i128::from(self.observed_ms);
        self.raw_ppm = availability_ppm(p, i128::from(self.down_weighted));
        self.sla_ppm = availability_ppm(p, i128::from(self.sla_weighted));
        self.unplanned_ppm = availability_ppm(p, i128::from(self.unplanned_weighted));
        self
    }

    /// The time-weighted mean of several components' figures over the same period (see the
    /// module documentation). `None` when there are none.
    pub fn mean(all: &[Figures]) -> Option<Figures> {
        let first = all.first()?;
        let n = i128::try_from(all.len()).ok()?;
        let mut sums = [0_i128; 11];
        for f in all {
            for (s, v) in sums.iter_mut().zip([
                f.period_ms,
                f.major_ms,
                f.partial_ms,
                f.degraded_ms,
                f.planned_ms,
                f.excused_ms,
                f.down_weighted,
                f.planned_weighted,
                f.sla_weighted,
                f.unplanned_weighted,
                f.observed_ms,
            ]) {
                *s += i128::from(v);
            }
        }
        let mean = |s: i128| i64::try_from(s.div_euclid(n)).unwrap_or(i64::MAX);
        let ceil_mean = |s: i128, d: i128| {
            let q = s.div_euclid(d) + i128::from(s.rem_euclid(d) != 0);
            i64::try_from(q).unwrap_or(i64::MAX)
        };
        let scale = n * i128::from(PPM);
        Some(Figures {
            period_ms: mean(sums[0]),
            observed_ms: mean(sums[10]),
            unobserved_ms: mean(sums[0] - sums[10]),
            coverage_ppm: share_ppm(sums[10], sums[0]),
            year_days: first.year_days,
            partial_weight_ppm: first.partial_weight_ppm,
            major_ms: mean(sums[1]),
            partial_ms: mean(sums[2]),
            degraded_ms: mean(sums[3]),
            planned_ms: mean(sums[4]),
            excused_ms: mean(sums[5]),
            down_weighted: mean(sums[6]),
            planned_weighted: mean(sums[7]),
            sla_weighted: mean(sums[8]),
            unplanned_weighted: mean(sums[9]),
            downtime_ms: ceil_mean(sums[6], scale),
            planned_downtime_ms: ceil_mean(sums[7], scale),
            sla_downtime_ms: ceil_mean(sums[8], scale),
            raw_ppm: availability_ppm(sums[10], sums[6]),
            sla_ppm: availability_ppm(sums[10], sums[8]),
            unplanned_ppm: availability_ppm(sums[10], sums[9]),
        })
    }
}

/// Index of the first interval of a sorted, non-overlapping list that ends after `from`.
fn first_after<T>(items: &[T], from: i64, end: impl Fn(&T) -> i64) -> usize {
    items.partition_point(|x| end(x) <= from)
}

/// Milliseconds of `[s, e)` inside the sorted, non-overlapping `set`, starting the search at
/// `*cursor` (advanced; calls must come with non-decreasing `s`).
fn covered(set: &[(i64, i64)], cursor: &mut usize, s: i64, e: i64) -> i64 {
    while *cursor < set.len() && set[*cursor].1 <= s {
        *cursor += 1;
    }
    let mut total = 0;
    let mut k = *cursor;
    while k < set.len() && set[k].0 < e {
        total += set[k].1.min(e) - set[k].0.max(s);
        k += 1;
    }
    total
}

/// The figures of one component over `period`, from its [`Timeline`] and its planned time.
/// Binary search to the period, then one pass over what falls inside it, so computing many
/// short periods over one long history stays cheap.
pub fn compute(
    period: Period,
    timeline: &Timeline,
    planned: &Planned,
    partial_weight_ppm: u32,
) -> Figures {
    let levels = timeline.levels();
    let (from, to) = (period.from_ms, period.to_ms);
    let weight = |level: Level, ms: i64| match level {
        Level::Major => ms * PPM,
        Level::Partial => ms * i64::from(partial_weight_ppm),
        Level::Degraded | Level::Operational => 0,
    };
    let mut f = Figures {
        period_ms: period.len_ms(),
        year_days: period.year_days,
        partial_weight_ppm,
        ..Figures::default()
    };
    let (mut ca, mut ce) = (
        first_after(&planned.all, from, |x| x.1),
        first_after(&planned.excused, from, |x| x.1),
    );
    for iv in &planned.all[ca..] {
        if iv.0 >= to {
            break;
        }
        f.planned_ms += iv.1.min(to) - iv.0.max(from);
    }
    for iv in &planned.excused[ce..] {
        if iv.0 >= to {
            break;
        }
        f.excused_ms += iv.1.min(to) - iv.0.max(from);
    }
    let observed = timeline.observed();
    let mut co = first_after(observed, from, |x| x.1);
    f.observed_ms = covered(observed, &mut co, from, to);
    let start = first_after(levels, from, |x| x.end);
    let mut excused_weighted = 0;
    for span in &levels[start..] {
        if span.start >= to {
            break;
        }
        let (s, e) = (span.start.max(from), span.end.min(to));
        let ms = e - s;
        match span.value {
            Level::Major => f.major_ms += ms,
            Level::Partial => f.partial_ms += ms,
            Level::Degraded => f.degraded_ms += ms,
            Level::Operational => continue,
        }
        f.down_weighted += weight(span.value, ms);
        f.planned_weighted += weight(span.value, covered(&planned.all, &mut ca, s, e));
        excused_weighted += weight(span.value, covered(&planned.excused, &mut ce, s, e));
    }
    f.sla_weighted = f.down_weighted - excused_weighted;
    f.finish()
}

/// One local day of a daily series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AvailabilityDay))]
pub struct Day {
    /// The local date (`YYYY-MM-DD`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    pub from_ms: i64,
    pub to_ms: i64,
    /// The day's real length: 23 h or 25 h on days the clocks change.
    pub length_ms: i64,
    /// Observed time of the day and its share of the day, ppm rounded down.
    pub observed_ms: i64,
    pub coverage_ppm: i64,
    pub major_ms: i64,
    pub partial_ms: i64,
    pub degraded_ms: i64,
    pub planned_ms: i64,
    pub sla_downtime_ms: i64,
    /// Availability over the day's observed time; `None` when nothing was observed.
    pub raw_ppm: Option<i64>,
    pub sla_ppm: Option<i64>,
}

impl Day {
    fn new(date: Date, period: Period, f: &Figures) -> Day {
        Day {
            date,
            from_ms: period.from_ms,
            to_ms: period.to_ms,
            length_ms: period.len_ms(),
            observed_ms: f.observed_ms,
            coverage_ppm: f.coverage_ppm,
            major_ms: f.major_ms,
            partial_ms: f.partial_ms,
            degraded_ms: f.degraded_ms,
            planned_ms: f.planned_ms,
            sla_downtime_ms: f.sla_downtime_ms,
            raw_ppm: f.raw_ppm,
            sla_ppm: f.sla_ppm,
        }
    }
}

/// The local days of `tz` that `period` touches, each clipped to the period: `(date, period)`.
pub fn days(period: Period, tz: &TimeZone) -> Result<Vec<(Date, Period)>, jiff::Error> {
    let mut out = Vec::new();
    if period.len_ms() <= 0 {
        return Ok(out);
    }
    let mut date = Timestamp::from_millisecond(period.from_ms)?
        .to_zoned(tz.clone())
        .date();
    loop {
        let next = date.tomorrow()?;
        let (s, e) = (local_midnight(date, tz)?, local_midnight(next, tz)?);
        let (s, e) = (s.max(period.from_ms), e.min(period.to_ms));
        if s < e {
            out.push((date, Period::new(s, e)));
        }
        if e >= period.to_ms {
            return Ok(out);
        }
        date = next;
    }
}

/// The daily series of one component over `days` ([`days`]).
pub fn daily(
    days: &[(Date, Period)],
    timeline: &Timeline,
    planned: &Planned,
    partial_weight_ppm: u32,
) -> Vec<Day> {
    days.iter()
        .map(|&(date, p)| Day::new(date, p, &compute(p, timeline, planned, partial_weight_ppm)))
        .collect()
}

/// The daily series of a mean over several components, from their per-day figures.
pub fn daily_mean(days: &[(Date, Period)], per_component: &[Vec<Figures>]) -> Vec<Day> {
    days.iter()
        .enumerate()
        .map(|(i, &(date, p))| {
            let of_day: Vec<Figures> = per_component
                .iter()
                .filter_map(|c| c.get(i).copied())
                .collect();
            let f = Figures::mean(&of_day)
                .unwrap_or_else(|| compute(p, &Timeline::EMPTY, &Planned::default(), 0));
            Day::new(date, p, &f)
        })
        .collect()
}

/// Per-day figures of one component (for [`daily_mean`]).
pub fn daily_figures(
    days: &[(Date, Period)],
    timeline: &Timeline,
    planned: &Planned,
    partial_weight_ppm: u32,
) -> Vec<Figures> {
    days.iter()
        .map(|&(_, p)| compute(p, timeline, planned, partial_weight_ppm))
        .collect()
}

/// A daily series from per-day figures.
pub fn days_from_figures(days: &[(Date, Period)], figures: &[Figures]) -> Vec<Day> {
    days.iter()
        .zip(figures)
        .map(|(&(date, p), f)| Day::new(date, p, f))
        .collect()
}
