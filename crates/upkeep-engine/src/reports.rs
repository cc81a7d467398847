//! Availability and SLO reports (`docs/decisions.md#continuity-numbers`): reads what shaped every component's status over
//! the period (monitor and rule status changes, incidents, maintenances that ran) in a fixed
//! number of queries, turns it into each component's levels once, and computes every figure
//! from those levels with [`upkeep_domain::availability`] and [`upkeep_domain::slo`]. No
//! per-minute loop: the cost is one sort and one pass over the status changes, then a binary
//! search and a short pass per figure.
//!
//! Decisions:
//! - Only the past is measured: history is read over `[from, min(to, now))` (the report says
//!   where measuring stopped and whether the period is complete), so a year that is not over
//!   yet reports its availability so far. A status still holding at `now` counts up to `now`.
//!   Figures are of the whole period: what lies after `now` is unobserved, so the coverage of
//!   a year in progress is at most the part of it that has passed. Daily series stop at the
//!   day of `now` (clipped to it).
//! - Each figure carries its coverage: the observed time of the component (a monitor of it
//!   judged up or down, a rule on it fired, an incident declared its status; see
//!   [`upkeep_domain::availability::Timeline`]), and availability is computed over observed
//!   time only. Days before upkeep watched a component, a push monitor never pinged and paused
//!   monitors are unobserved: no figure, never 100 %.
//! - Components are the configured ones (optionally one); their monitors and rules come from the
//!   configuration. Status history of monitors and rules no longer configured is ignored.
//! - A tenant uses its own components (from `tenant_services`) and every shared one, so a
//!   tenant's figures are the mean over those, with, as planned time, only the maintenances that
//!   cover that tenant (`tenants: all` or a list naming it). Planned time on a component is what
//!   [`upkeep_domain::maintenance::Coverage`] says: a listed component the whole window, a
//!   tenant's own component its tenant's slot. Tenant figures are given only when asked for.
//! - Overall is the time-weighted mean over the reported components
//!   ([`upkeep_domain::availability::Figures::mean`]).
//! - An SLO is measured over its window containing `now` ([`upkeep_domain::slo`]): spent is the
//!   SLA weighted downtime from the window's start to `now`, against the whole window's budget;
//!   burn rates use the SLA weighted downtime in the `long` and `short` windows before `now`.
//!   Unobserved time spends no budget (it is assumed up); the report says how much of the
//!   window so far was observed (`measured`), so the assumption is visible.
//!   SLOs are computed for every configured SLO on a reported component, whatever the period.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use upkeep_domain::availability::{
    self, DEFAULT_PARTIAL_WEIGHT_PPM, Day, Figures, Level, MonitorState, Period, Planned,
    PlannedWindow, Timed, Timeline,
};
use upkeep_domain::config::{Config, Severity, TenantSel};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::incident::IncidentStatus;
use upkeep_domain::maintenance::Coverage;
use upkeep_domain::slo::{self, TierStatus};
use upkeep_store::continuity::{IncidentHistory, MaintenanceSpan, StatusHistory};
use upkeep_store::{Store, StoreError};

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityQuery {
    /// Start of the period (inclusive).
    pub from: Timestamp,
    /// End of the period (exclusive).
    pub to: Timestamp,
    /// Only this component (and the overall figures are then its own).
    pub component: Option<String>,
    /// Also the figures of this tenant.
    pub tenant: Option<String>,
    /// Weight of partial outage, ppm (default 300_000).
    pub partial_weight_ppm: u32,
    /// Whether to include daily series (in the page's zone).
    pub daily: bool,
}

impl AvailabilityQuery {
    /// `[from, to)`, every component, no tenant, default weight, daily series.
    pub fn range(from: Timestamp, to: Timestamp) -> AvailabilityQuery {
        AvailabilityQuery {
            from,
            to,
            component: None,
            tenant: None,
            partial_weight_ppm: DEFAULT_PARTIAL_WEIGHT_PPM,
            daily: true,
        }
    }

    /// The calendar year `year` in the page's zone.
    pub fn year(config: &Config, year: i16) -> Result<AvailabilityQuery, jiff::Error> {
        let p = availability::year_period(year, &config.page.timezone)?;
        Ok(AvailabilityQuery::range(
            Timestamp::from_millisecond(p.from_ms)?,
            Timestamp::from_millisecond(p.to_ms)?,
        ))
    }

    /// Checks the query against the configuration: a period that is not empty, a known
    /// component and tenant, a weight of at most 100 %.
    pub fn validate(&self, config: &Config) -> Result<(), String> {
        if self.from >= self.to {
            return Err(format!(
                "the period is empty: {} is not before {}",
                self.from, self.to
            ));
        }
        if let Some(c) = &self.component
            && !config.components.contains_key(c)
        {
            return Err(format!("unknown component `{c}`"));
        }
        if let Some(t) = &self.tenant
            && !config.tenants.contains_key(t)
        {
            return Err(format!("unknown tenant `{t}`"));
        }
        if i64::from(self.partial_weight_ppm) > availability::PPM {
            return Err("the partial outage weight is at most 1 (1000000 ppm)".into());
        }
        Ok(())
    }
}

/// The period of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeriodInfo {
    /// RFC 3339 with milliseconds, in the page's zone.
    pub from: String,
    pub to: String,
    /// The page's zone.
    pub timezone: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub length_ms: i64,
    /// 365 or 366 when the period is a calendar year in the page's zone.
    pub year_days: Option<u16>,
    /// Where measuring stopped: `min(to, now)`.
    pub measured_to: String,
    pub measured_ms: i64,
    /// Whether the whole period is in the past.
    pub complete: bool,
}

/// Figures of one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ComponentReport {
    pub id: String,
    pub name: String,
    pub group: Option<String>,
    pub figures: Figures,
    /// Empty unless the query asked for daily series.
    pub daily: Vec<Day>,
}

/// Figures of a tenant, or of all components (overall).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupReport {
    /// The tenant's id; `None` for overall.
    pub id: Option<String>,
    pub name: String,
    pub figures: Figures,
    pub daily: Vec<Day>,
}

/// One SLO measured now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SloReport {
    pub component: String,
    /// `calendar_year`, `calendar_quarter`, `calendar_month` or `rolling 30d`.
    pub window: String,
    /// The window containing now, RFC 3339 in the page's zone.
    pub window_from: String,
    pub window_to: String,
    /// 365 or 366 for a calendar-year window.
    pub year_days: Option<u16>,
    /// The budget of the whole window and what observed downtime has spent of it so far.
    /// Unobserved time spends nothing: `measured` says how much of the window so far that is.
    pub status: slo::Status,
    /// Where measuring stopped (now, or the window's end), RFC 3339 in the page's zone.
    pub measured_to: String,
    /// The window from its start to `measured_to`: observed time, coverage and availability
    /// over observed time (`None` when nothing was observed).
    pub measured: Figures,
    /// Every burn-rate tier evaluated now.
    pub burn: Vec<TierStatus>,
    /// Whether any tier fires now.
    pub firing: bool,
}

/// Availability of every (or one) component over a period, per tenant if asked, overall, and
/// the SLOs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AvailabilityReport {
    pub period: PeriodInfo,
    pub partial_weight_ppm: u32,
    /// RFC 3339 in the page's zone.
    pub generated_at: String,
    pub components: Vec<ComponentReport>,
    /// Only the tenant asked for (empty otherwise).
    pub tenants: Vec<GroupReport>,
    pub overall: GroupReport,
    pub slos: Vec<SloReport>,
}

/// RFC 3339 with milliseconds in `tz` (the Statuspage convention).
fn local(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string()
        })
        .unwrap_or_default()
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn bad_date(e: jiff::Error) -> StoreError {
    StoreError::Corrupt(format!("date arithmetic out of range: {e}"))
}

/// Every component's levels over one range, and the maintenances that ran in it.
struct History {
    timelines: HashMap<String, Timeline>,
    maintenances: Vec<MaintenanceSpan>,
    /// Index into `maintenances` and the span covering the component, by component.
    by_component: HashMap<String, Vec<CoveredSpan>>,
}

/// A maintenance (index into [`History::maintenances`]) and the part of it, in UTC
/// milliseconds, that covers one component.
type CoveredSpan = (usize, (i64, i64));

impl History {
    async fn load(
        store: &Store,
        config: &Config,
        range: Period,
        components: &[&str],
    ) -> Result<History, StoreError> {
        let (from, to) = (timestamp(range.from_ms), timestamp(range.to_ms));
        let status = store.status_history(from, to).await?;
        let incidents = store.incidents_between(from, to).await?;
        let maintenances = store.maintenances_between(from, to).await?;
        let mut by_component: HashMap<String, Vec<CoveredSpan>> = HashMap::new();
        for (i, m) in maintenances.iter().enumerate() {
            let coverage = Coverage::new(
                config,
                &m.components,
                &m.tenants,
                timestamp(m.starts_ms),
                timestamp(m.ends_ms),
                &m.canary,
            );
            for c in coverage.components() {
                if let Some((start, end)) = coverage.span_of(&c) {
                    let span = (start.as_millisecond(), end.as_millisecond());
                    by_component.entry(c).or_default().push((i, span));
                }
            }
        }
        Ok(History {
            timelines: timelines(config, range, components, &status, &incidents),
            maintenances,
            by_component,
        })
    }

    fn planned(&self, component: &str, tenant: Option<&str>) -> Planned {
        let windows: Vec<PlannedWindow> = self
            .by_component
            .get(component)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|&(i, span)| Some((self.maintenances.get(i)?, span)))
            .filter(|(m, _)| match (tenant, &m.tenants) {
                (None, _) | (Some(_), TenantSel::All) => true,
                (Some(t), TenantSel::List(list)) => list.iter().any(|x| x == t),
            })
            .map(|(m, (start_ms, end_ms))| PlannedWindow {
                start_ms,
                end_ms,
                counts_as_downtime: m.counts_as_downtime,
            })
            .collect();
        Planned::new(&windows)
    }

    fn timeline(&self, component: &str) -> &Timeline {
        static EMPTY: Timeline = Timeline::EMPTY;
        self.timelines.get(component).unwrap_or(&EMPTY)
    }
}

/// A monitor's state as availability sees it.
fn monitor_state(state: EventState) -> MonitorState {
    state
        .monitor_status()
        .map_or(MonitorState::Inactive, MonitorState::from)
}

/// Each component's timeline (levels and observed time) over `range` from the status history
/// and incidents.
fn timelines(
    config: &Config,
    range: Period,
    components: &[&str],
    status: &StatusHistory,
    incidents: &[IncidentHistory],
) -> HashMap<String, Timeline> {
    let wanted: HashSet<&str> = components.iter().copied().collect();
    let mut monitors: HashMap<&str, Vec<Timed<MonitorState>>> = HashMap::new();
    for (id, m) in &config.monitors {
        if !wanted.contains(m.component.as_str()) {
            continue;
        }
        let source = EventSource::Monitor(id.clone());
        let initial = status.initial.get(&source).map(|s| monitor_state(*s));
        let changes = status.changes.get(&source).map_or(&[][..], Vec::as_slice);
        let spans = availability::spans(
            range,
            initial,
            changes.iter().map(|c| (c.at_ms, monitor_state(c.to))),
        );
        monitors
            .entry(m.component.as_str())
            .or_default()
            .extend(spans);
    }
    let mut rules: HashMap<&str, Vec<Timed<Severity>>> = HashMap::new();
    for rule in &config.rules {
        if !wanted.contains(rule.component.as_str()) {
            continue;
        }
        let source = EventSource::Rule(rule.name.clone());
        let initial = status
            .initial
            .get(&source)
            .map(|s| *s == EventState::Firing);
        let changes = status.changes.get(&source).map_or(&[][..], Vec::as_slice);
        let spans = availability::spans(
            range,
            initial,
            changes
                .iter()
                .map(|c| (c.at_ms, c.to == EventState::Firing)),
        );
        rules.entry(rule.component.as_str()).or_default().extend(
            spans.into_iter().filter(|s| s.value).map(|s| Timed {
                start: s.start,
                end: s.end,
                value: rule.severity,
            }),
        );
    }
    let mut declared: HashMap<&str, Vec<Timed<Level>>> = HashMap::new();
    for incident in incidents {
        let mut ids: Vec<&str> = incident
            .steps
            .iter()
            .flat_map(|s| s.components.iter().map(|c| c.id.as_str()))
            .filter(|id| wanted.contains(id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let steps: Vec<_> = incident
                .steps
                .iter()
                .map(|s| {
                    let open = !matches!(
                        s.status,
                        IncidentStatus::Resolved | IncidentStatus::Postmortem
                    );
                    let status = s
                        .components
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| c.status)
                        .filter(|_| open);
                    (s.at_ms, status)
                })
                .collect();
            let started = incident.started_ms.min(incident.created_ms);
            declared
                .entry(id)
                .or_default()
                .extend(availability::incident_levels(
                    range,
                    started,
                    &steps,
                    incident.resolved_ms,
                ));
        }
    }
    components
        .iter()
        .map(|&c| {
            let timeline = Timeline::new(
                monitors.get(c).map_or(&[][..], Vec::as_slice),
                rules.get(c).map_or(&[][..], Vec::as_slice),
                declared.get(c).map_or(&[][..], Vec::as_slice),
            );
            (c.to_owned(), timeline)
        })
        .collect()
}

fn longest_burn_window_ms(config: &Config, components: &[&str]) -> i64 {
    components
        .iter()
        .filter_map(|c| config.slos.get(*c))
        .flat_map(|s| s.burn_rates.iter())
        .map(|b| i64::try_from(b.long.as_millis()).unwrap_or(i64::MAX))
        .max()
        .unwrap_or(0)
}

/// Each SLO's window (by component), and the range of history they all need.
type SloWindows = (Vec<(String, Period)>, Option<Period>);

/// The SLO windows of the given components at `now`, measured up to `now`, and the range of
/// history they need (burn windows included).
fn slo_windows(
    config: &Config,
    components: &[&str],
    now_ms: i64,
) -> Result<SloWindows, StoreError> {
    let tz = &config.page.timezone;
    let mut windows = Vec::new();
    let mut range: Option<Period> = None;
    for &c in components {
        let Some(s) = config.slos.get(c) else {
            continue;
        };
        let w = slo::window_containing(s.window, timestamp(now_ms), tz).map_err(bad_date)?;
        let from = w
            .from_ms
            .min(now_ms.saturating_sub(longest_burn_window_ms(config, &[c])));
        range = Some(match range {
            None => Period::new(from, now_ms),
            Some(r) => Period::new(r.from_ms.min(from), now_ms),
        });
        windows.push((c.to_owned(), w));
    }
    Ok((windows, range))
}

fn slo_reports(
    config: &Config,
    history: &History,
    windows: &[(String, Period)],
    weight: u32,
    now_ms: i64,
) -> Vec<SloReport> {
    let tz = &config.page.timezone;
    windows
        .iter()
        .filter_map(|(c, w)| {
            let s = config.slos.get(c)?;
            let timeline = history.timeline(c);
            let planned = history.planned(c, None);
            let spent = availability::compute(w.until(now_ms), timeline, &planned, weight);
            let burn = slo::tiers(&s.burn_rates, s.objective_ppm, |window_ms| {
                let p = Period::new(now_ms.saturating_sub(window_ms), now_ms);
                availability::compute(p, timeline, &planned, weight).sla_weighted
            });
            Some(SloReport {
                component: c.clone(),
                window: slo::window_name(s.window),
                window_from: local(w.from_ms, tz),
                window_to: local(w.to_ms, tz),
                year_days: w.year_days,
                status: slo::status(s.objective_ppm, w.len_ms(), spent.sla_weighted),
                measured_to: local(w.until(now_ms).to_ms, tz),
                measured: spent,
                firing: burn.iter().any(|t| t.firing),
                burn,
            })
        })
        .collect()
}

/// Whether `[from, to)` is exactly a calendar year in `tz`, and its length in days if so.
fn year_days(from_ms: i64, to_ms: i64, tz: &TimeZone) -> Option<u16> {
    let year = Timestamp::from_millisecond(from_ms)
        .ok()?
        .to_zoned(tz.clone())
        .year();
    let p = availability::year_period(year, tz).ok()?;
    (p.from_ms == from_ms && p.to_ms == to_ms)
        .then_some(p.year_days)
        .flatten()
}

/// The availability report for `query` as of `now` (see the module documentation). Validate
/// the query first ([`AvailabilityQuery::validate`]): an unknown component or tenant reports
/// nothing for it.
pub async fn availability(
    store: &Store,
    config: &Config,
    query: &AvailabilityQuery,
    now: Timestamp,
) -> Result<AvailabilityReport, StoreError> {
    let tz = &config.page.timezone;
    let now_ms = now.as_millisecond();
    let weight = query.partial_weight_ppm;
    let (from_ms, to_ms) = (query.from.as_millisecond(), query.to.as_millisecond());
    let period = Period {
        year_days: year_days(from_ms, to_ms, tz),
        ..Period::new(from_ms, to_ms)
    };
    let measured = period.until(now_ms);
    let components: Vec<&str> = match &query.component {
        Some(c) => config
            .components
            .keys()
            .filter(|k| *k == c)
            .map(String::as_str)
            .collect(),
        None => config.components.keys().map(String::as_str).collect(),
    };
    let (windows, slo_range) = slo_windows(config, &components, now_ms)?;
    let range = match slo_range {
        Some(r) => Period::new(r.from_ms.min(measured.from_ms), r.to_ms.max(measured.to_ms)),
        None => measured,
    };
    let history = History::load(store, config, range, &components).await?;
    let days = if query.daily {
        availability::days(measured, tz).map_err(bad_date)?
    } else {
        Vec::new()
    };

    let mut reports = Vec::with_capacity(components.len());
    let mut all = Vec::with_capacity(components.len());
    let mut all_daily = Vec::with_capacity(components.len());
    for &c in &components {
        let timeline = history.timeline(c);
        let planned = history.planned(c, None);
        let figures = availability::compute(period, timeline, &planned, weight);
        let per_day = availability::daily_figures(&days, timeline, &planned, weight);
        let component = config.components.get(c);
        reports.push(ComponentReport {
            id: c.to_owned(),
            name: component.map(|x| x.name.clone()).unwrap_or_default(),
            group: component.and_then(|x| x.group.clone()),
            figures,
            daily: availability::days_from_figures(&days, &per_day),
        });
        all.push(figures);
        all_daily.push(per_day);
    }
    let empty = availability::compute(period, &Timeline::EMPTY, &Planned::default(), weight);
    let overall = GroupReport {
        id: None,
        name: "overall".into(),
        figures: Figures::mean(&all).unwrap_or(empty),
        daily: availability::daily_mean(&days, &all_daily),
    };

    let mut tenants = Vec::new();
    if let Some(t) = &query.tenant
        && let Some(tenant) = config.tenants.get(t)
    {
        let mut figures = Vec::with_capacity(components.len());
        let mut daily = Vec::with_capacity(components.len());
        // Its own components and the shared ones, never another tenant's.
        let used = components.iter().filter(|c| {
            config
                .components
                .get(**c)
                .and_then(|x| x.tenant.as_deref())
                .is_none_or(|owner| owner == t)
        });
        for &c in used {
            let timeline = history.timeline(c);
            let planned = history.planned(c, Some(t));
            figures.push(availability::compute(period, timeline, &planned, weight));
            daily.push(availability::daily_figures(
                &days, timeline, &planned, weight,
            ));
        }
        tenants.push(GroupReport {
            id: Some(t.clone()),
            name: tenant.name.clone(),
            figures: Figures::mean(&figures).unwrap_or(empty),
            daily: availability::daily_mean(&days, &daily),
        });
    }

    Ok(AvailabilityReport {
        period: PeriodInfo {
            from: local(period.from_ms, tz),
            to: local(period.to_ms, tz),
            timezone: config.page.timezone_name.clone(),
            from_ms: period.from_ms,
            to_ms: period.to_ms,
            length_ms: period.len_ms(),
            year_days: period.year_days,
            measured_to: local(measured.to_ms, tz),
            measured_ms: measured.len_ms(),
            complete: measured.to_ms == period.to_ms,
        },
        partial_weight_ppm: weight,
        generated_at: local(now_ms, tz),
        components: reports,
        tenants,
        overall,
        slos: slo_reports(config, &history, &windows, weight, now_ms),
    })
}

/// Every configured SLO (or the one of `component`) measured at `now`, with its burn-rate
/// tiers, partial outages weighing `partial_weight_ppm`.
pub async fn slo_status(
    store: &Store,
    config: &Config,
    component: Option<&str>,
    partial_weight_ppm: u32,
    now: Timestamp,
) -> Result<Vec<SloReport>, StoreError> {
    let now_ms = now.as_millisecond();
    let components: Vec<&str> = config
        .slos
        .keys()
        .map(String::as_str)
        .filter(|c| component.is_none_or(|x| x == *c))
        .collect();
    let (windows, range) = slo_windows(config, &components, now_ms)?;
    let Some(range) = range else {
        return Ok(Vec::new());
    };
    let history = History::load(store, config, range, &components).await?;
    Ok(slo_reports(
        config,
        &history,
        &windows,
        partial_weight_ppm,
        now_ms,
    ))
}
