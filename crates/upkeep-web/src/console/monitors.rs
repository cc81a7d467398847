//! The console's monitor pages: the fleet, searched, filtered, sorted and paged by key on the
//! server (`GET /admin/monitors`), and one monitor with its uptime, recent results, a latency
//! chart drawn as inline SVG on the server, and its state changes (`GET /admin/monitors/{id}`).
//! Pausing and resuming go through the monitoring engine, as the API's do; they need the
//! `editor` role: a viewer sees no buttons, and the server refuses their posts with 403.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;
use upkeep_domain::config::Monitor;
use upkeep_domain::event::EventSource;
use upkeep_engine::service::latency::{self, LocationLatency};
use upkeep_store::monitoring::StoredResult;
use upkeep_store::users::UserRecord;

use super::pages::{Chrome, chrome, html};
use super::session::{SignedIn, can_write, see_other, writer};
use crate::api::monitors::{kind_name, uptime};
use crate::problem::Problem;
use crate::state::AppState;

/// Rows on one page of the list.
pub const PAGE_SIZE: usize = 50;
/// Results shown (and drawn) on a monitor's page: an hour at a 10 s interval.
const RESULTS_SHOWN: u32 = 360;
/// Results listed in the table under the chart.
const RESULTS_LISTED: usize = 20;
/// State changes shown.
const EVENTS_SHOWN: u32 = 50;
/// Longest search text or key kept from a query.
const QUERY_MAX: usize = 200;

/// An instant to the second in the page's zone.
pub(super) fn seconds(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%-d %b %Y, %H:%M:%S %Z")
        .to_string()
}

fn clip(s: Option<String>) -> String {
    s.map(|s| s.trim().chars().take(QUERY_MAX).collect())
        .unwrap_or_default()
}

/// `?q=&state=&component=&kind=&sort=&after=`: search in ids and components, filters, the sort
/// column, and the key of the last row of the page before.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    state: Option<String>,
    component: Option<String>,
    kind: Option<String>,
    sort: Option<String>,
    /// The sort value and id of the previous page's last row, `VALUE/ID` percent-encoded.
    after: Option<String>,
}

/// The columns the list sorts by.
const SORTS: [&str; 4] = ["id", "state", "component", "kind"];
const STATES: [&str; 4] = ["pending", "up", "down", "paused"];
const KINDS: [&str; 18] = upkeep_domain::config::MONITOR_KINDS;

/// A monitor that passed the filters: what sorting and paging need, borrowed.
struct Candidate<'a> {
    id: &'a String,
    m: &'a Monitor,
    /// The sort column's value.
    key: &'a str,
}

struct Row {
    id: String,
    component: String,
    kind: &'static str,
    state: String,
    changed: String,
    latency: String,
    last: String,
    failure: String,
}

#[derive(Template)]
#[template(path = "console_monitors.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    state: String,
    component: String,
    kind: String,
    sort: String,
    components: Vec<(String, String)>,
    states: [&'static str; 4],
    kinds: [&'static str; 18],
    sorts: [&'static str; 4],
    rows: Vec<Row>,
    total: usize,
    next: Option<String>,
    first: Option<String>,
    tz_name: String,
}

/// A query string of the list's filters, with `after` when given.
fn list_url(
    q: &str,
    state: &str,
    component: &str,
    kind: &str,
    sort: &str,
    after: Option<&str>,
) -> String {
    super::paging::url(
        "/admin/monitors",
        &[
            ("q", Some(q)),
            ("state", Some(state)),
            ("component", Some(component)),
            ("kind", Some(kind)),
            ("sort", Some(sort)),
            ("after", after),
        ],
    )
}

/// `GET /admin/monitors`.
pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    let loaded = state.config.current();
    let config = &loaded.config;
    let tz = &config.page.timezone;
    let q = clip(query.q);
    let wanted_state = clip(query.state);
    let component = clip(query.component);
    let kind = clip(query.kind);
    let sort = clip(query.sort);
    let sort = if SORTS.contains(&sort.as_str()) {
        sort
    } else {
        "id".to_owned()
    };
    let after = query
        .after
        .map(|a| a.chars().take(2 * QUERY_MAX).collect::<String>())
        .and_then(|a| {
            a.rsplit_once('/')
                .map(|(v, id)| (v.to_owned(), id.to_owned()))
        });
    // Filtering, sorting and paging look at every monitor, so they work on borrowed ids and
    // static names only; the views are copied and the rows formatted for the page alone.
    let needle = q.to_lowercase();
    let wanted: Vec<(&String, &Monitor)> = config
        .monitors
        .iter()
        .filter(|(id, m)| {
            (needle.is_empty()
                || id.to_lowercase().contains(&needle)
                || m.component.to_lowercase().contains(&needle)
                || config
                    .components
                    .get(&m.component)
                    .is_some_and(|c| c.name.to_lowercase().contains(&needle)))
                && (component.is_empty() || m.component == component)
                && (kind.is_empty() || kind_name(m) == kind)
        })
        .collect();
    let statuses = match state.monitors.as_ref() {
        Some(h) => h.statuses(wanted.iter().map(|(id, _)| id.as_str())),
        None => vec![None; wanted.len()],
    };
    let mut candidates: Vec<Candidate<'_>> = wanted
        .into_iter()
        .zip(statuses)
        .filter_map(|((id, m), status)| {
            let status = status.map_or("pending", |s| s.as_str());
            if !wanted_state.is_empty() && status != wanted_state {
                return None;
            }
            let key = match sort.as_str() {
                "state" => status,
                "component" => m.component.as_str(),
                "kind" => kind_name(m),
                _ => "",
            };
            Some(Candidate { id, m, key })
        })
        .collect();
    // The map is in id order already; a stable sort by the column keeps ids ascending within it.
    if sort != "id" {
        candidates.sort_by(|a, b| a.key.cmp(b.key));
    }
    let total = candidates.len();
    let start = match &after {
        None => 0,
        Some((v, id)) => {
            candidates.partition_point(|c| (c.key, c.id.as_str()) <= (v.as_str(), id.as_str()))
        }
    };
    let mut shown: Vec<&Candidate<'_>> =
        candidates.iter().skip(start).take(PAGE_SIZE + 1).collect();
    let next = if shown.len() > PAGE_SIZE {
        shown.truncate(PAGE_SIZE);
        shown.last().map(|c| {
            list_url(
                &q,
                &wanted_state,
                &component,
                &kind,
                &sort,
                Some(&format!("{}/{}", c.key, c.id)),
            )
        })
    } else {
        None
    };
    let page: Vec<Row> = shown
        .into_iter()
        .map(|c| {
            let view = state.monitors.as_ref().and_then(|h| h.view(c.id));
            let last = view.as_ref().and_then(|v| v.last.as_ref());
            Row {
                id: c.id.clone(),
                component: config
                    .components
                    .get(&c.m.component)
                    .map_or_else(|| c.m.component.clone(), |comp| comp.name.clone()),
                kind: kind_name(c.m),
                state: view
                    .as_ref()
                    .map_or("pending", |v| v.state.status.as_str())
                    .to_owned(),
                changed: view
                    .as_ref()
                    .map(|v| seconds(v.state.changed_at, tz))
                    .unwrap_or_default(),
                latency: last
                    .map(|l| format!("{} ms", l.latency_ms))
                    .unwrap_or_default(),
                last: last.map(|l| seconds(l.at, tz)).unwrap_or_default(),
                failure: last.and_then(|l| l.failure.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let first = after
        .is_some()
        .then(|| list_url(&q, &wanted_state, &component, &kind, &sort, None));
    let page = ListPage {
        chrome: chrome(&state, Some(&session.user)),
        q,
        state: wanted_state,
        component,
        kind,
        sort,
        components: config
            .components
            .iter()
            .map(|(id, c)| (id.clone(), c.name.clone()))
            .collect(),
        states: STATES,
        kinds: KINDS,
        sorts: SORTS,
        rows: page,
        total,
        next,
        first,
        tz_name: config.page.timezone_name.clone(),
    };
    html(StatusCode::OK, page.render())
}

struct ResultRow {
    /// The check's instant, or a run's first and last.
    at: String,
    ok: bool,
    /// How many checks a run of identical successes stands for (1: a single check).
    checks: u64,
    /// The latency, or a run's mean with its lowest and highest.
    latency: String,
    status_code: String,
    failure: String,
    location: String,
}

struct EventRow {
    at: String,
    from: String,
    to: String,
    reason: String,
}

/// The latency chart: an SVG of `WIDTH` × `HEIGHT` user units, drawn on the server.
struct Chart {
    /// The polyline's points.
    points: String,
    /// Failed checks, as `(x, y)` of their marks.
    failures: Vec<(u32, u32)>,
    max_ms: u32,
    from: String,
    to: String,
}

const WIDTH: u32 = 720;
const HEIGHT: u32 = 160;

/// Draws `results` (newest first) oldest on the left; the y axis runs from 0 to the largest
/// latency.
fn chart(results: &[StoredResult], tz: &TimeZone) -> Option<Chart> {
    let (newest, oldest) = (results.first()?, results.last()?);
    let max_ms = results
        .iter()
        .map(|r| r.latency_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let span = (newest.at.as_millisecond() - oldest.at.as_millisecond()).max(1);
    let xy = |r: &StoredResult| {
        let x = (r.at.as_millisecond() - oldest.at.as_millisecond()) * i64::from(WIDTH) / span;
        let y = u64::from(HEIGHT) - u64::from(r.latency_ms) * u64::from(HEIGHT) / u64::from(max_ms);
        (
            u32::try_from(x).unwrap_or(WIDTH),
            u32::try_from(y).unwrap_or(0),
        )
    };
    let mut points = String::new();
    for r in results.iter().rev() {
        let (x, y) = xy(r);
        let _ = write!(points, "{x},{y} ");
    }
    Some(Chart {
        points: points.trim_end().to_owned(),
        failures: results.iter().filter(|r| !r.ok).map(xy).collect(),
        max_ms,
        from: seconds(oldest.at, tz),
        to: seconds(newest.at, tz),
    })
}

#[derive(Template)]
#[template(path = "console_monitor.html")]
struct DetailPage {
    chrome: Chrome,
    can_write: bool,
    /// Whether the monitoring engine runs in this process (pausing needs it).
    engine: bool,
    id: String,
    component: String,
    kind: &'static str,
    interval: String,
    state: String,
    changed: String,
    uptime: [(&'static str, String); 4],
    chart: Option<Chart>,
    width: u32,
    height: u32,
    results: Vec<ResultRow>,
    events: Vec<EventRow>,
    message: Option<String>,
    tz_name: String,
    quorum: usize,
    /// Empty for a monitor probed from the server alone.
    locations: Vec<LocationRow>,
}

/// One location of a monitor probed from several.
struct LocationRow {
    location: String,
    /// `up` (passing), `down` (failing), `below` (failing below quorum, alerting), `silent`.
    class: &'static str,
    /// "passing", "failing for 45 min, below quorum", "no results yet".
    state: String,
    at: String,
    latency: String,
    /// The mean and the highest latency of its checks over the last day, or "—".
    mean_24h: String,
    max_24h: String,
}

/// What each location of `m` last saw, worded for the page, with its checks over the last day
/// (`latency`, from [`upkeep_engine::service::latency::by_location`]).
fn location_rows(
    m: &upkeep_domain::config::Monitor,
    view: Option<&upkeep_engine::monitoring::scheduler::MonitorView>,
    latency: &[LocationLatency],
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<LocationRow> {
    if m.server_only() {
        return Vec::new();
    }
    let down =
        view.is_some_and(|v| v.state.status == upkeep_domain::monitor_state::MonitorStatus::Down);
    m.locations
        .iter()
        .map(|location| {
            let seen = view.and_then(|v| v.locations.get(location));
            let last = seen.and_then(|s| s.last.as_ref());
            let day = latency.iter().find(|l| &l.location == location);
            let failing_for = seen.and_then(|s| s.failing_since).map(|since| {
                let secs = u64::try_from(now.duration_since(since).as_secs()).unwrap_or(0);
                // Whole minutes once past one: what an operator reads at a glance.
                let shown = if secs >= 60 { secs / 60 * 60 } else { secs };
                upkeep_domain::duration::format_duration(std::time::Duration::from_secs(shown))
            });
            let (class, state) = match (last, failing_for) {
                (None, _) => ("silent", "no results yet".to_owned()),
                (Some(l), _) if l.ok => ("up", "passing".to_owned()),
                (Some(_), Some(d)) if seen.is_some_and(|s| s.warned) && !down => {
                    ("below", format!("failing for {d}, below quorum"))
                }
                (Some(_), Some(d)) => ("down", format!("failing for {d}")),
                (Some(_), None) => ("down", "failing".to_owned()),
            };
            LocationRow {
                location: location.clone(),
                class,
                state,
                at: last.map(|l| seconds(l.at, tz)).unwrap_or_default(),
                latency: last
                    .map(|l| format!("{} ms", l.latency_ms))
                    .unwrap_or_default(),
                mean_24h: ms(day.and_then(LocationLatency::mean_ms)),
                max_24h: ms(day.and_then(LocationLatency::max_ms).map(u64::from)),
            }
        })
        .collect()
}

/// Milliseconds for people, or "—" when there is no figure.
fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v} ms"))
}

async fn detail_page(
    state: &AppState,
    u: &UserRecord,
    id: &str,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let loaded = state.config.current();
    let config = &loaded.config;
    let tz = &config.page.timezone;
    let Some(m) = config.monitors.get(id) else {
        return Problem::not_found(format!(
            "there is no monitor `{}` in the configuration",
            id.chars().take(80).collect::<String>()
        ))
        .into_response();
    };
    let view = state.monitors.as_ref().and_then(|h| h.view(id));
    let now = state.clock.now();
    let up = match uptime(state, id, now).await {
        Ok(u) => u,
        Err(p) => return p.into_response(),
    };
    let pct = |v: Option<String>| v.map_or_else(|| "—".to_owned(), |v| format!("{v} %"));
    let latency = if m.server_only() {
        Vec::new()
    } else {
        match latency::by_location(&state.store, &[(id, m)], now).await {
            Ok(mut l) => l.remove(id).unwrap_or_default(),
            Err(e) => return Problem::internal(&e).into_response(),
        }
    };
    let results = match state.store.recent_results(id, RESULTS_SHOWN).await {
        Ok(r) => r,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let events = match state
        .store
        .list_monitor_events(Some(&EventSource::Monitor(id.to_owned())), EVENTS_SHOWN)
        .await
    {
        Ok(e) => e,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let page = DetailPage {
        chrome: chrome(state, Some(u)),
        can_write: can_write(u),
        engine: state.monitors.is_some(),
        id: id.to_owned(),
        component: config
            .components
            .get(&m.component)
            .map_or_else(|| m.component.clone(), |c| c.name.clone()),
        kind: kind_name(m),
        interval: format!("{} s", m.interval.as_secs()),
        state: view
            .as_ref()
            .map_or("pending", |v| v.state.status.as_str())
            .to_owned(),
        changed: view
            .as_ref()
            .map(|v| seconds(v.state.changed_at, tz))
            .unwrap_or_default(),
        uptime: [
            ("24 h", pct(up.h24)),
            ("7 d", pct(up.d7)),
            ("30 d", pct(up.d30)),
            ("90 d", pct(up.d90)),
        ],
        // The chart shows what the monitor was judged on, not each location's checks.
        chart: chart(
            &results
                .iter()
                .filter(|r| r.location.is_none())
                .cloned()
                .collect::<Vec<_>>(),
            tz,
        ),
        width: WIDTH,
        height: HEIGHT,
        results: results
            .iter()
            .take(RESULTS_LISTED)
            .map(|r| ResultRow {
                at: match &r.run {
                    Some(run) => format!("{} – {}", seconds(r.at, tz), seconds(run.last_at, tz)),
                    None => seconds(r.at, tz),
                },
                ok: r.ok,
                checks: r.checks(),
                latency: match &r.run {
                    Some(run) => format!(
                        "{} ms ({}–{})",
                        r.latency_ms, run.latency_min_ms, run.latency_max_ms
                    ),
                    None => format!("{} ms", r.latency_ms),
                },
                status_code: r.status_code.map(|c| c.to_string()).unwrap_or_default(),
                failure: r.failure.clone().unwrap_or_default(),
                location: r.location.clone().unwrap_or_default(),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: seconds(e.at, tz),
                from: e.from.as_str().to_owned(),
                to: e.to.as_str().to_owned(),
                reason: e.reason,
            })
            .collect(),
        message,
        tz_name: config.page.timezone_name.clone(),
        quorum: m.quorum,
        locations: location_rows(m, view.as_ref(), &latency, now, tz),
    };
    html(status, page.render())
}

/// `GET /admin/monitors/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    detail_page(&state, &session.user, &id, StatusCode::OK, None).await
}

async fn set_paused(state: &AppState, u: &UserRecord, id: &str, pause: bool) -> Response {
    let caller = match writer(
        u,
        if pause {
            "pausing a monitor"
        } else {
            "resuming a monitor"
        },
    ) {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    if !state.config.current().config.monitors.contains_key(id) {
        return detail_page(state, u, id, StatusCode::NOT_FOUND, None).await;
    }
    let Some(handle) = state.monitors.as_ref() else {
        return detail_page(
            state,
            u,
            id,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("The monitoring engine is not running in this process.".into()),
        )
        .await;
    };
    match handle.set_paused(id, pause, &caller.actor).await {
        Ok(_) => see_other(&format!(
            "/admin/monitors/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        )),
        Err(e) => {
            detail_page(
                state,
                u,
                id,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(e.to_string()),
            )
            .await
        }
    }
}

/// `POST /admin/monitors/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    set_paused(&state, &session.user, &id, true).await
}

/// `POST /admin/monitors/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    set_paused(&state, &session.user, &id, false).await
}
