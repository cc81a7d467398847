//! `/api/v1/monitors`: every monitor with its live state, last result and uptime over 24 h,
//! 7 d, 30 d and 90 d (read from rollups), its recent results and transitions; pause and resume.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use upkeep_domain::config::{Monitor, MonitorKind};
use upkeep_domain::event::EventSource;
use upkeep_engine::monitoring::scheduler::{MonitorHandle, MonitorView};
use upkeep_engine::service::latency::{self, LocationLatency};
use utoipa::{IntoParams, ToSchema};

use super::{TAG_MONITORS, instant};
use crate::auth::{Auth, Editor, Viewer};
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::state::AppState;

/// A check of a monitor, or a run of identical successes stored as one row once its hour is
/// an hour old (docs/monitoring.md): then `checks` says how many, from `at` to `last_at`, and
/// `latency_ms` is their rounded mean.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub at: String,
    pub ok: bool,
    pub latency_ms: u32,
    pub status_code: Option<u16>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// How many checks this row stands for (1 for a single check).
    pub checks: u64,
    /// A run's last check; `null` for a single check.
    pub last_at: Option<String>,
    /// A run's lowest latency; `null` for a single check.
    pub latency_min_ms: Option<u32>,
    /// A run's highest latency; `null` for a single check.
    pub latency_max_ms: Option<u32>,
    /// For a monitor probed from several locations, the location that made this check
    /// (`server` for the server itself); `null` for a result the monitor was judged on (one
    /// check of a monitor probed from the server alone, or a round of one probed from several).
    pub location: Option<String>,
}

impl ResultView {
    /// One check, as the engine last saw it.
    fn single(
        at: jiff::Timestamp,
        ok: bool,
        latency_ms: u32,
        status_code: Option<u16>,
        failure: Option<String>,
    ) -> Self {
        ResultView {
            at: instant(at),
            ok,
            latency_ms,
            status_code,
            failure,
            checks: 1,
            last_at: None,
            latency_min_ms: None,
            latency_max_ms: None,
            location: None,
        }
    }
}

impl From<upkeep_store::monitoring::StoredResult> for ResultView {
    fn from(r: upkeep_store::monitoring::StoredResult) -> Self {
        let mut view = ResultView::single(r.at, r.ok, r.latency_ms, r.status_code, r.failure);
        view.location = r.location;
        if let Some(run) = r.run {
            view.checks = run.checks;
            view.last_at = Some(instant(run.last_at));
            view.latency_min_ms = Some(run.latency_min_ms);
            view.latency_max_ms = Some(run.latency_max_ms);
        }
        view
    }
}

/// Share of successful checks over a period, as a percentage with three decimals (`"99.931"`),
/// or `null` when there was no check.
#[derive(Debug, Serialize, ToSchema)]
pub struct UptimeView {
    #[serde(rename = "24h")]
    pub h24: Option<String>,
    #[serde(rename = "7d")]
    pub d7: Option<String>,
    #[serde(rename = "30d")]
    pub d30: Option<String>,
    #[serde(rename = "90d")]
    pub d90: Option<String>,
}

/// A monitor and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorSummary {
    pub id: String,
    pub component: String,
    /// The kind: `http`, `tcp`, `dns`, `tls`, `postgres`, `mysql`, `redis`, `mqtt`, `websocket`,
    /// `snmp`, `grpc`, `docker` or `push`.
    pub kind: &'static str,
    /// `pending`, `up`, `down`, `paused` or `unknown` (probed from several locations, and
    /// too few of them reported for a quorum).
    pub status: String,
    /// When the status last changed.
    pub changed_at: Option<String>,
    pub last_result: Option<ResultView>,
    pub uptime: UptimeView,
    /// Failing results of one round that make it a failure, and the fewest a round needs.
    pub quorum: usize,
    /// Where it is probed from, in the configuration's order, and what each location last saw.
    pub locations: Vec<LocationState>,
}

/// One location of a monitor.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationState {
    /// `server`, or an agent's location.
    pub location: String,
    /// `passing`, `failing`, or `silent` (no result seen yet).
    pub status: &'static str,
    /// The first failure of its current run of failing rounds.
    pub failing_since: Option<String>,
    /// Whether its own alert fires: failing for `failure_threshold` rounds in a row, whatever
    /// the other locations say (below the quorum, the monitor stays up).
    pub alerting: bool,
    pub last_result: Option<ResultView>,
    /// Its checks over the last 24 hours (at hour precision: the current UTC hour and the 23
    /// before it); `null` for a push monitor.
    pub latency_24h: Option<LatencyView>,
}

/// A location's checks over a window, with their latency (docs/agents.md, "Response time
/// per location").
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyView {
    pub checks: u64,
    pub failures: u64,
    /// The mean latency of its checks, failures included, in whole milliseconds; `null`
    /// without checks.
    pub mean_ms: Option<u64>,
    /// The highest latency of its checks; `null` without checks.
    pub max_ms: Option<u32>,
}

impl From<&LocationLatency> for LatencyView {
    fn from(l: &LocationLatency) -> Self {
        LatencyView {
            checks: l.totals.checks,
            failures: l.totals.failures,
            mean_ms: l.mean_ms(),
            max_ms: l.max_ms(),
        }
    }
}

/// A state change of a monitor.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub at: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// How many rows to return.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

pub(crate) fn kind_name(m: &Monitor) -> &'static str {
    match m.kind {
        MonitorKind::Http(_) => "http",
        MonitorKind::Tcp(_) => "tcp",
        MonitorKind::Dns(_) => "dns",
        MonitorKind::Tls(_) => "tls",
        MonitorKind::Postgres(_) => "postgres",
        MonitorKind::Mysql(_) => "mysql",
        MonitorKind::Redis(_) => "redis",
        MonitorKind::Mqtt(_) => "mqtt",
        MonitorKind::Websocket(_) => "websocket",
        MonitorKind::Snmp(_) => "snmp",
        MonitorKind::Grpc(_) => "grpc",
        MonitorKind::Docker(_) => "docker",
        MonitorKind::Icmp(_) => "icmp",
        MonitorKind::Domain(_) => "domain",
        MonitorKind::Smtp(_) => "smtp",
        MonitorKind::Imap(_) => "imap",
        MonitorKind::Ssh(_) => "ssh",
        MonitorKind::Push(_) => "push",
    }
}

fn limit(q: &LimitQuery) -> Result<u32, Problem> {
    let limit = q.limit.unwrap_or(100);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::bad_request("`limit` must be between 1 and 1000"))
    }
}

fn engine(state: &AppState) -> Result<&MonitorHandle, Problem> {
    state.monitors.as_ref().ok_or_else(|| {
        Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the monitoring engine is not running in this process",
        )
    })
}

/// Percentage with three decimals from integer counts, without floating point.
fn percent(checks: u64, failures: u64) -> Option<String> {
    if checks == 0 {
        return None;
    }
    let ok = u128::from(checks - failures.min(checks));
    let milli_percent = ok * 100_000 / u128::from(checks); // 100.000 % = 100_000
    Some(format!(
        "{}.{:03}",
        milli_percent / 1000,
        milli_percent % 1000
    ))
}

/// The four uptime windows, in hours.
const WINDOWS_H: [i64; 4] = [24, 24 * 7, 24 * 30, 24 * 90];

fn window_start(now: Timestamp, hours: i64) -> Timestamp {
    now.checked_sub(SignedDuration::from_hours(hours))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn uptime_view(mut windows: impl Iterator<Item = Option<String>>) -> UptimeView {
    UptimeView {
        h24: windows.next().flatten(),
        d7: windows.next().flatten(),
        d30: windows.next().flatten(),
        d90: windows.next().flatten(),
    }
}

/// Uptime of one monitor.
pub(crate) async fn uptime(
    state: &AppState,
    id: &str,
    now: Timestamp,
) -> Result<UptimeView, Problem> {
    let mut out = Vec::with_capacity(WINDOWS_H.len());
    for hours in WINDOWS_H {
        let totals = state
            .store
            .rollup_totals(id, window_start(now, hours), now)
            .await?;
        out.push(percent(totals.checks, totals.failures));
    }
    Ok(uptime_view(out.into_iter()))
}

/// Uptime of every monitor, with a few grouped queries whatever their number.
async fn uptime_all(
    state: &AppState,
    now: Timestamp,
) -> Result<HashMap<String, UptimeView>, Problem> {
    let mut windows = Vec::with_capacity(WINDOWS_H.len());
    for hours in WINDOWS_H {
        windows.push(
            state
                .store
                .rollup_totals_all(window_start(now, hours), now)
                .await?,
        );
    }
    let ids: std::collections::BTreeSet<&String> = windows.iter().flat_map(|w| w.keys()).collect();
    Ok(ids
        .into_iter()
        .map(|id| {
            let view = uptime_view(
                windows
                    .iter()
                    .map(|w| w.get(id).and_then(|t| percent(t.checks, t.failures))),
            );
            (id.clone(), view)
        })
        .collect())
}

fn no_uptime() -> UptimeView {
    uptime_view(std::iter::empty())
}

/// What each location of a monitor last saw (for one probed from the server alone, its last
/// result), with its checks over the last day (`latency`, from [`latency::by_location`]).
fn location_states(
    m: &Monitor,
    view: Option<&MonitorView>,
    latency: Option<&[LocationLatency]>,
) -> Vec<LocationState> {
    let single = |l: &upkeep_engine::monitoring::scheduler::LastResult| {
        ResultView::single(l.at, l.ok, l.latency_ms, l.status_code, l.failure.clone())
    };
    m.locations
        .iter()
        .map(|location| {
            let seen = view.and_then(|v| v.locations.get(location));
            let last = if m.server_only() {
                view.and_then(|v| v.last.as_ref())
            } else {
                seen.and_then(|s| s.last.as_ref())
            };
            LocationState {
                location: location.clone(),
                status: match last {
                    None => "silent",
                    Some(l) if l.ok => "passing",
                    Some(_) => "failing",
                },
                failing_since: seen.and_then(|s| s.failing_since).map(instant),
                alerting: seen.is_some_and(|s| s.warned),
                last_result: last.map(single),
                latency_24h: latency
                    .and_then(|all| all.iter().find(|l| &l.location == location))
                    .map(LatencyView::from),
            }
        })
        .collect()
}

fn summary(
    id: &str,
    m: &Monitor,
    view: Option<MonitorView>,
    uptime: UptimeView,
    latency: Option<&[LocationLatency]>,
) -> MonitorSummary {
    let locations = location_states(m, view.as_ref(), latency);
    MonitorSummary {
        quorum: m.quorum,
        locations,
        id: id.to_owned(),
        component: m.component.clone(),
        kind: kind_name(m),
        status: view
            .as_ref()
            .map_or("pending", |v| v.state.status.as_str())
            .to_owned(),
        changed_at: view.as_ref().map(|v| instant(v.state.changed_at)),
        last_result: view
            .and_then(|v| v.last)
            .map(|l| ResultView::single(l.at, l.ok, l.latency_ms, l.status_code, l.failure)),
        uptime,
    }
}

/// The summary of one monitor, `view` being what the engine sees of it.
async fn one(
    state: &AppState,
    id: &str,
    m: &Monitor,
    view: Option<MonitorView>,
) -> Result<MonitorSummary, Problem> {
    let now = state.clock.now();
    let uptime = uptime(state, id, now).await?;
    let latencies = latency::by_location(&state.store, &[(id, m)], now).await?;
    let latency = latencies.get(id).map(Vec::as_slice);
    Ok(summary(id, m, view, uptime, latency))
}

/// The monitor `id` of the running configuration, or 404.
fn known(state: &AppState, id: &str) -> Result<Monitor, Problem> {
    state
        .config
        .current()
        .config
        .monitors
        .get(id)
        .cloned()
        .ok_or_else(|| {
            Problem::not_found(format!("there is no monitor `{id}` in the configuration"))
        })
}

#[utoipa::path(get, path = "/api/v1/monitors", tag = TAG_MONITORS, security(("bearer" = [])),
    responses((status = 200, body = [MonitorSummary]), (status = 401, body = Problem, content_type = "application/problem+json")))]
/// Every monitor of the running configuration with its state, last result and uptime.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Vec<MonitorSummary>>, Problem> {
    let loaded = state.config.current();
    let views = state
        .monitors
        .as_ref()
        .map(MonitorHandle::views)
        .unwrap_or_default();
    let now = state.clock.now();
    let mut uptimes = uptime_all(&state, now).await?;
    let monitors: Vec<(&str, &Monitor)> = loaded
        .config
        .monitors
        .iter()
        .map(|(id, m)| (id.as_str(), m))
        .collect();
    let latencies = latency::by_location(&state.store, &monitors, now).await?;
    let out = monitors
        .into_iter()
        .map(|(id, m)| {
            let uptime = uptimes.remove(id).unwrap_or_else(no_uptime);
            let latency = latencies.get(id).map(Vec::as_slice);
            summary(id, m, views.get(id).cloned(), uptime, latency)
        })
        .collect();
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/v1/monitors/{id}", tag = TAG_MONITORS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id in the configuration")),
    responses((status = 200, body = MonitorSummary), (status = 404, body = Problem, content_type = "application/problem+json")))]
/// One monitor.
pub async fn show(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MonitorSummary>, Problem> {
    let m = known(&state, &id)?;
    let view = state.monitors.as_ref().and_then(|h| h.view(&id));
    Ok(Json(one(&state, &id, &m, view).await?))
}

#[utoipa::path(get, path = "/api/v1/monitors/{id}/results", tag = TAG_MONITORS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id"), LimitQuery),
    responses((status = 200, body = [ResultView]), (status = 404, body = Problem, content_type = "application/problem+json")))]
/// The most recent raw results, newest first (kept for the retention period).
pub async fn results(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<ResultView>>, Problem> {
    known(&state, &id)?;
    let rows = state.store.recent_results(&id, limit(&q)?).await?;
    Ok(Json(rows.into_iter().map(ResultView::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/monitors/{id}/events", tag = TAG_MONITORS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id"), LimitQuery),
    responses((status = 200, body = [EventView]), (status = 404, body = Problem, content_type = "application/problem+json")))]
/// State changes, newest first.
pub async fn events(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<EventView>>, Problem> {
    known(&state, &id)?;
    let rows = state
        .store
        .list_monitor_events(Some(&EventSource::Monitor(id)), limit(&q)?)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| EventView {
                at: instant(e.at),
                from: e.from.as_str().to_owned(),
                to: e.to.as_str().to_owned(),
                reason: e.reason,
            })
            .collect(),
    ))
}

async fn set_paused(
    state: &AppState,
    actor: &str,
    id: &str,
    pause: bool,
) -> Result<Json<MonitorSummary>, Problem> {
    let m = known(state, id)?;
    let handle = engine(state)?;
    // The change and its audit row are written in one transaction by the engine.
    handle
        .set_paused(id, pause, actor)
        .await
        .map_err(|e| Problem::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(one(state, id, &m, handle.view(id)).await?))
}

#[utoipa::path(post, path = "/api/v1/monitors/{id}/pause", tag = TAG_MONITORS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    responses((status = 200, body = MonitorSummary), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
/// Pause a monitor: it is no longer probed and pages no one until resumed.
pub async fn pause(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MonitorSummary>, Problem> {
    set_paused(&state, &caller.actor(), &id, true).await
}

#[utoipa::path(post, path = "/api/v1/monitors/{id}/resume", tag = TAG_MONITORS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    responses((status = 200, body = MonitorSummary), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
/// Resume a paused monitor; it starts again from `pending`.
pub async fn resume(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MonitorSummary>, Problem> {
    set_paused(&state, &caller.actor(), &id, false).await
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percentages_are_exact_with_three_decimals() {
        assert_eq!(percent(0, 0), None);
        assert_eq!(percent(1000, 0).as_deref(), Some("100.000"));
        assert_eq!(percent(1000, 1).as_deref(), Some("99.900"));
        assert_eq!(percent(3, 1).as_deref(), Some("66.666"));
        assert_eq!(percent(10, 10).as_deref(), Some("0.000"));
    }
}
