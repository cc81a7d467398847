//! The maintenance calendars: `/maintenance.ics` (every maintenance) and
//! `/tenants/{id}/maintenance.ics` (each maintenance that affects the tenant, at that tenant's
//! own slot, in its region's zone). Written with [`upkeep_domain::calendar`].
//!
//! `/maintenance.ics`:
//! - A recurring window of the configuration is one VEVENT with its RRULE, in the window's zone,
//!   whose DTSTART is the first occurrence not yet over (as the rule writes it, so clients
//!   apply the same daylight-saving rules) and whose `DURATION` is exact. An occurrence moved
//!   or cancelled by hand becomes an override (`RECURRENCE-ID`) with its own SEQUENCE and
//!   STATUS. Occurrences already over are listed as events of their own, so the history stays.
//!   A rule with COUNT is listed occurrence by occurrence (moving DTSTART would change what
//!   COUNT counts).
//! - A one-off maintenance is one VEVENT in the page's zone.
//! - An occurrence whose written start falls in a daylight-saving gap or fold, or which spans
//!   a change, is also spelled out as an override with UTC times: readers differ in how they
//!   resolve such local times and in whether they add a duration in wall-clock or exact time.
//! - UIDs: `window-{id}@{host}` for a series, `{maintenance id}@{host}` for everything else;
//!   SEQUENCE is the maintenance's, which grows with every reschedule and cancellation;
//!   `STATUS:CANCELLED` when cancelled.
//!
//! A tenant's calendar lists its slots one by one (no RRULE: a slot's place can differ from
//! one night to the next with business hours and daylight saving), UID
//! `{maintenance id}-{tenant}@{host}`. When the window cannot hold every tenant's slot, the
//! tenant's event is the whole window.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::DateTime;
use upkeep_domain::calendar::{self, Event, EventStatus};
use upkeep_domain::config::Window;
use upkeep_domain::maintenance::MaintenanceRecord;
use upkeep_domain::maintenance::{MaintenanceStatus, materialise};

use super::model::Model;

const PRODUCT: &str = "upkeep//maintenance calendar";

fn host(m: &Model) -> String {
    url::Url::parse(&m.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "upkeep".to_owned())
}

fn status_of(r: &MaintenanceRecord) -> EventStatus {
    if r.status == MaintenanceStatus::Cancelled {
        EventStatus::Cancelled
    } else {
        EventStatus::Confirmed
    }
}

fn sequence(r: &MaintenanceRecord) -> u32 {
    u32::try_from(r.sequence).unwrap_or(u32::MAX)
}

fn description(m: &Model, r: &MaintenanceRecord) -> String {
    let mut d = r.description.clone().unwrap_or_default();
    let names: Vec<&str> = r
        .components
        .iter()
        .map(|c| m.component(c).map_or(c.as_str(), |v| v.name.as_str()))
        .collect();
    if !names.is_empty() {
        if !d.is_empty() {
            d.push_str("\n\n");
        }
        d.push_str(&format!("Affected: {}", names.join(", ")));
    }
    d
}

/// A one-off event for `r`, in `tz`.
fn single(m: &Model, r: &MaintenanceRecord, tz_name: &str, tz: &jiff::tz::TimeZone) -> Event {
    Event {
        uid: format!("{}@{}", r.id, host(m)),
        sequence: sequence(r),
        summary: r.title.clone(),
        description: Some(description(m, r)),
        url: Some(format!("{}/maintenance/{}", m.url, r.id)),
        start: r.starts_at,
        end: r.ends_at,
        local_start: None,
        utc_times: false,
        exact_duration: false,
        tz_name: tz_name.to_owned(),
        tz: tz.clone(),
        status: status_of(r),
        rrule: None,
        recurrence_id: None,
        exdates: Vec::new(),
        stamp: r.updated_at,
    }
}

/// The local start an occurrence key names (`WINDOW@YYYY-MM-DDTHH:MM[:SS]`).
fn key_start(key: &str) -> Option<DateTime> {
    key.rsplit_once('@')?.1.parse().ok()
}

/// The SEQUENCE of a series whose first listed occurrence starts at `start`: days since the
/// Unix epoch, so it only ever grows as DTSTART moves forward.
fn series_sequence(start: Timestamp) -> u32 {
    u32::try_from(start.as_second().div_euclid(86_400)).unwrap_or(0)
}

/// The events of one recurring window: the series, its overrides and its past occurrences.
fn window_events(m: &Model, w: &Window, stored: &[&MaintenanceRecord]) -> Vec<Event> {
    let mut out = Vec::new();
    let horizon = std::time::Duration::from_secs(400 * 86_400);
    let generated = materialise(w, m.now, horizon).unwrap_or_default();
    let first = generated.first();
    let by_count = w.rrule.to_ascii_uppercase().contains("COUNT=");
    let series_from = match first {
        Some(f) if !by_count => f.start,
        _ => Timestamp::MAX,
    };
    let series_seq = first.map_or(0, |f| series_sequence(f.start));
    let rule_times: BTreeMap<&str, (Timestamp, Timestamp)> = generated
        .iter()
        .map(|o| (o.key.as_str(), (o.start, o.end)))
        .collect();
    // An event of the window's series from `start` to `end`.
    let window_event = |start: Timestamp, end: Timestamp| Event {
        uid: format!("window-{}@{}", w.id, host(m)),
        // DTSTART moves forward as occurrences pass; SEQUENCE must grow with it.
        sequence: series_seq,
        summary: w.title.clone(),
        description: w.description.clone(),
        url: Some(format!("{}/", m.url)),
        start,
        end,
        local_start: None,
        utc_times: false,
        exact_duration: false,
        tz_name: w.timezone_name.clone(),
        tz: w.timezone.clone(),
        status: EventStatus::Confirmed,
        rrule: None,
        recurrence_id: None,
        exdates: Vec::new(),
        stamp: m.config_loaded_at,
    };
    if let Some(f) = first.filter(|_| !by_count) {
        let written = key_start(&f.key).unwrap_or_else(|| w.timezone.to_datetime(f.start));
        out.push(Event {
            // DTSTART as the rule writes it (e.g. 02:30 on a spring-forward night), which
            // clients resolve to the same instant.
            local_start: Some(written),
            exact_duration: true,
            rrule: Some(w.rrule.clone()),
            ..window_event(f.start, f.end)
        });
    }
    // Occurrences whose written start falls in a daylight-saving gap or fold, or which span a
    // change, are spelled out in UTC: readers differ in how they resolve such local times and
    // in whether they add a duration in wall-clock or exact time.
    let overridden: std::collections::HashSet<&str> = stored
        .iter()
        .filter_map(|r| r.occurrence_key.as_deref())
        .collect();
    for o in generated.iter().filter(|o| o.start >= series_from) {
        let Some(written) = key_start(&o.key) else {
            continue;
        };
        let unclear = w.timezone.to_ambiguous_zoned(written).is_ambiguous()
            || w.timezone.to_offset(o.start) != w.timezone.to_offset(o.end);
        if unclear && !overridden.contains(o.key.as_str()) {
            out.push(Event {
                utc_times: true,
                recurrence_id: Some(written),
                ..window_event(o.start, o.end)
            });
        }
    }
    for r in stored {
        let Some(key) = r.occurrence_key.as_deref() else {
            continue;
        };
        let in_series = r.starts_at >= series_from
            || rule_times.get(key).is_some_and(|(s, _)| *s >= series_from);
        if !in_series {
            out.push(single(m, r, &w.timezone_name, &w.timezone));
            continue;
        }
        let as_generated = rule_times.get(key) == Some(&(r.starts_at, r.ends_at));
        let written = key_start(key);
        let unclear = written.is_some_and(|d| {
            w.timezone.to_ambiguous_zoned(d).is_ambiguous()
                || w.timezone.to_offset(r.starts_at) != w.timezone.to_offset(r.ends_at)
        });
        if as_generated && r.status != MaintenanceStatus::Cancelled && r.sequence == 0 && !unclear {
            continue;
        }
        let mut e = single(m, r, &w.timezone_name, &w.timezone);
        e.uid = format!("window-{}@{}", w.id, host(m));
        e.recurrence_id = written;
        e.utc_times = unclear;
        // An override counts from its series' SEQUENCE (readers ignore one below it).
        e.sequence = series_seq.saturating_add(e.sequence);
        out.push(e);
    }
    out
}

/// `/maintenance.ics`.
pub fn all(m: &Model) -> String {
    let mut events = Vec::new();
    let windows: BTreeMap<&str, &Window> = m
        .maintenance_config
        .windows
        .iter()
        .map(|w| (w.id.as_str(), w))
        .collect();
    for w in windows.values() {
        let stored: Vec<&MaintenanceRecord> = m
            .maintenances
            .iter()
            .filter(|r| r.window_id.as_deref() == Some(w.id.as_str()))
            .collect();
        events.extend(window_events(m, w, &stored));
    }
    for r in &m.maintenances {
        let recurring = r
            .window_id
            .as_deref()
            .is_some_and(|w| windows.contains_key(w));
        if !recurring {
            events.push(single(m, r, &m.tz_name, &m.tz));
        }
    }
    calendar::render(PRODUCT, &format!("{} maintenance", m.name), &events)
}

/// Every tenant's `/tenants/{id}/maintenance.ics`.
pub fn tenants(m: &Model) -> Vec<(String, String)> {
    m.tenants
        .keys()
        .filter_map(|id| tenant(m, id).map(|ics| (id.clone(), ics)))
        .collect()
}

/// `/tenants/{id}/maintenance.ics`: each maintenance covering the tenant, at its slot (the
/// whole window when the window cannot hold every slot); `None` for an unknown tenant.
pub fn tenant(m: &Model, tenant_id: &str) -> Option<String> {
    if m.tenant.as_deref() == Some(tenant_id) {
        tenant_with(m, tenant_id)
    } else {
        tenant_with(&m.for_tenant(tenant_id)?, tenant_id)
    }
}

/// The calendar of `m`, a model scoped to `tenant_id`.
fn tenant_with(m: &Model, tenant_id: &str) -> Option<String> {
    let tenant = m.tenants.get(tenant_id)?;
    let region = m.regions.get(&tenant.region)?;
    let mut events = Vec::new();
    for r in &m.maintenances {
        let slot = m.tenant_slot(&r.id);
        let mut e = single(m, r, &region.timezone_name, &region.timezone);
        e.uid = format!("{}-{}@{}", r.id, tenant_id, host(m));
        let window = format!(
            "The whole window: {} – {}.",
            super::html::local(r.starts_at, &region.timezone),
            super::html::local(r.ends_at, &region.timezone)
        );
        if let Some((start, end)) = slot {
            e.start = start;
            e.end = end;
            e.summary = format!("{} — {}'s slot", r.title, tenant.name);
        }
        let mut d = e.description.take().unwrap_or_default();
        if !d.is_empty() {
            d.push_str("\n\n");
        }
        d.push_str(&window);
        e.description = Some(d);
        events.push(e);
    }
    Some(calendar::render(
        PRODUCT,
        &format!("{} maintenance for {}", m.name, tenant.name),
        &events,
    ))
}
