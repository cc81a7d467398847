//! The public status: the HTML pages (`/`, `/history`, `/incidents/{id}`), the feeds
//! (`/feed.atom`, `/feed.rss`), the badges (`/badge/{component}.svg`) and the Statuspage
//! v2-compatible JSON (`/api/v2/*.json`), all served from an in-memory [`snapshot`].
//!
//! Rebuilding ([`keep_fresh`], spawned by [`crate::serve`]): every second — or at once when a
//! handler here [pokes](snapshot::SnapshotCell::poke) it after a change — the task gathers the
//! inputs (configuration, live monitor and rule states, incidents, uptime history) and hashes
//! them; only when the hash differs from the current snapshot's are the model, pages and
//! documents rendered again, and only bodies whose bytes changed are compressed again. Today's
//! and yesterday's uptime are re-read every ten seconds (older days once), and the response
//! time per location of the components with `show_latency` every minute (at once after a
//! reload). Polling the store (rather than only local events)
//! is what lets replicas sharing PostgreSQL show each other's changes within a second.
//!
//! Serving: handlers never touch the database for snapshot paths. They pick the prepared body
//! for the client's `Accept-Encoding` (br, then gzip, then identity), answer `If-None-Match`
//! with 304, and send `ETag`, `Last-Modified`, `Cache-Control` and `Vary: Accept-Encoding`.
//! Pages of incidents and maintenances older than the snapshot's are rendered on demand: the
//! record is read from the store (one row), and its page is rendered and compressed off the
//! async runtime (`spawn_blocking`) at cheaper levels (brotli 5, gzip 6), then kept by the
//! snapshot under the record's path and last change ([`revision_key`]), so the next request
//! for the same revision is served from memory; a change of the record or a new snapshot
//! renders it again. A snapshot keeps at most [`snapshot::MAX_ON_REQUEST`] such pages.
//!
//! Maintenance (active, upcoming, recent) is read with the incidents; `/maintenance/{id}` shows
//! one.

pub mod calendars;
pub mod feeds;
pub mod html;
pub mod model;
pub mod snapshot;
pub mod statuspage;
pub mod statuspage_doc;
pub mod uptime;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use upkeep_domain::alert_rule::AlertState;

use crate::problem::Problem;
use crate::state::AppState;
use model::{Inputs, Model};
use snapshot::{Body, Endpoint, Rendered, Snapshot};
use statuspage::RECENT_INCIDENTS;

/// How often the background task looks for changes.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// How often today's and yesterday's uptime are read again (a grouped query per day).
const HISTORY_EVERY: Duration = Duration::from_secs(10);

/// How often the response time per location is read again (one grouped query per 128
/// monitors shown; none when no component shows it). A minute: the figure is a mean over a
/// day, and a change of it rebuilds the snapshot.
const LATENCY_EVERY: Duration = Duration::from_secs(60);

/// Most unresolved incidents read per rebuild (their declared statuses all count).
const MAX_UNRESOLVED: u32 = 1000;

/// Most upcoming maintenances shown (the calendars carry every one).
const MAX_UPCOMING: u32 = 100;

/// `Cache-Control` of pages, feeds, badges and JSON: short, so a status change reaches readers
/// within seconds, yet a flood of readers behind one cache costs one request per 10 s.
const CACHE_CONTROL: &str = "public, max-age=10";
/// `Cache-Control` of the stylesheet, whose URL changes with its content.
pub(crate) const CACHE_CONTROL_STATIC: &str = "public, max-age=31536000, immutable";

const HTML: &str = "text/html; charset=utf-8";
const ICS: &str = "text/calendar; charset=utf-8";

/// The paths whose bodies the snapshot holds, each with whether its URL changes with its
/// content (then it is cached for a year).
pub(crate) fn fixed_paths() -> impl Iterator<Item = (&'static str, bool)> {
    Endpoint::ALL
        .iter()
        .map(|e| e.path())
        .chain([
            "/",
            "/history",
            "/feed.atom",
            "/feed.rss",
            "/maintenance.ics",
            STYLESHEET,
        ])
        .map(|path| (path, path == STYLESHEET))
}

/// The stylesheet's path.
const STYLESHEET: &str = "/static/status.css";

/// The public routes of the status page.
pub fn routes() -> Router<AppState> {
    fixed_paths()
        .fold(Router::new(), |router, (path, immutable)| {
            router.route(
                path,
                get(move |State(state): State<AppState>, headers: HeaderMap| {
                    serve_path(state, headers, path, immutable)
                }),
            )
        })
        .route("/incidents/{id}", get(incident_page))
        .route("/maintenance/{id}", get(maintenance_page))
        .route("/badge/{file}", get(badge))
        .route("/tenants/{id}/maintenance.ics", get(tenant_calendar))
        .route("/tenants/{id}", get(tenant_page))
}

/// What one rebuild reads.
struct Gathered {
    loaded: Arc<upkeep_engine::config::LoadedConfig>,
    monitors: HashMap<String, (upkeep_domain::monitor_state::MonitorStatus, jiff::Timestamp)>,
    firing: Vec<(String, upkeep_domain::config::Severity)>,
    recent: Vec<upkeep_store::incidents::IncidentRecord>,
    unresolved: Vec<upkeep_store::incidents::IncidentRecord>,
    maintenances: Vec<upkeep_domain::maintenance::MaintenanceRecord>,
    rollouts: std::collections::BTreeMap<String, upkeep_engine::service::rollout::Progress>,
}

/// The maintenances, read again only when the table changed since the last read (one cheap
/// query per poll instead of a list and its timelines).
async fn maintenances_unless_unchanged(
    state: &AppState,
    cache: &mut Option<MaintenanceCache>,
) -> anyhow::Result<Vec<upkeep_domain::maintenance::MaintenanceRecord>> {
    let fingerprint = state.store.maintenances_fingerprint().await?;
    if let Some((seen, list)) = cache.as_ref()
        && *seen == fingerprint
    {
        return Ok(list.clone());
    }
    let list = gather_maintenances(state).await?;
    *cache = Some((fingerprint, list.clone()));
    Ok(list)
}

/// The last maintenances read, with the fingerprint they were read at.
pub type MaintenanceCache = (
    (i64, i64),
    Vec<upkeep_domain::maintenance::MaintenanceRecord>,
);

async fn gather(
    state: &AppState,
    cache: &mut Option<MaintenanceCache>,
) -> anyhow::Result<Gathered> {
    let monitors = state
        .monitors
        .as_ref()
        .map(|m| m.views())
        .unwrap_or_default()
        .into_iter()
        .map(|(id, v)| (id, (v.state.status, v.state.changed_at)))
        .collect();
    let mut firing: Vec<_> = state
        .rules
        .as_ref()
        .map(|r| r.views())
        .unwrap_or_default()
        .into_values()
        .filter(|r| matches!(r.state, AlertState::Firing { .. }))
        .map(|r| (r.component, r.severity))
        .collect();
    firing.sort();
    let maintenances = maintenances_unless_unchanged(state, cache).await?;
    let rollouts = rollouts_under_way(state, &maintenances).await?;
    let (recent, unresolved) = one_story(
        state
            .store
            .list_incidents(RECENT_INCIDENTS as u32, false)
            .await?,
        state.store.list_incidents(MAX_UNRESOLVED, true).await?,
    );
    Ok(Gathered {
        loaded: state.config.current(),
        monitors,
        firing,
        recent,
        unresolved,
        maintenances,
        rollouts,
    })
}

/// The recent and the unresolved incidents, read one after the other, made to tell one story:
/// an incident opened, changed or resolved between the two reads is in one list only, or in
/// both in different versions, and a snapshot built from them would list an incident in the
/// summary that `incidents.json` does not (or the other way round). Each incident keeps its
/// latest version (the later `updated_at`, then the longer timeline); `unresolved` is every
/// incident unresolved in that version, `recent` the newest [`RECENT_INCIDENTS`] of all.
fn one_story(
    recent: Vec<upkeep_store::incidents::IncidentRecord>,
    unresolved: Vec<upkeep_store::incidents::IncidentRecord>,
) -> (
    Vec<upkeep_store::incidents::IncidentRecord>,
    Vec<upkeep_store::incidents::IncidentRecord>,
) {
    let mut latest: HashMap<String, upkeep_store::incidents::IncidentRecord> = HashMap::new();
    for i in recent.into_iter().chain(unresolved) {
        match latest.get(&i.id) {
            Some(seen)
                if (seen.updated_at, seen.updates.len()) >= (i.updated_at, i.updates.len()) => {}
            _ => {
                latest.insert(i.id.clone(), i);
            }
        }
    }
    let mut all: Vec<_> = latest.into_values().collect();
    // The store's order: newest first by creation, then id.
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let unresolved = all
        .iter()
        .filter(|i| i.resolved_at.is_none())
        .cloned()
        .collect();
    all.truncate(RECENT_INCIDENTS);
    (all, unresolved)
}

/// The progress of the rollouts of the maintenances in progress or verifying, by maintenance
/// id (a rollout not stored yet shows none).
async fn rollouts_under_way(
    state: &AppState,
    maintenances: &[upkeep_domain::maintenance::MaintenanceRecord],
) -> anyhow::Result<std::collections::BTreeMap<String, upkeep_engine::service::rollout::Progress>> {
    use upkeep_domain::maintenance::MaintenanceStatus;
    let mut out = std::collections::BTreeMap::new();
    for m in maintenances.iter().filter(|m| {
        m.rollout.is_some()
            && matches!(
                m.status,
                MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
            )
    }) {
        if let Some(r) = state.store.rollout(&m.id).await? {
            let progress =
                upkeep_engine::service::rollout::progress(r.tenants.iter().map(|t| t.state));
            out.insert(m.id.clone(), progress);
        }
    }
    Ok(out)
}

/// The maintenances the page and calendars show: every active one, the upcoming ones (at most
/// [`MAX_UPCOMING`]), the most recently finished ones and the cancelled occurrences of
/// recurring windows.
async fn gather_maintenances(
    state: &AppState,
) -> anyhow::Result<Vec<upkeep_domain::maintenance::MaintenanceRecord>> {
    use upkeep_store::maintenance::MaintenanceFilter;
    let mut out = state
        .store
        .list_maintenances(MaintenanceFilter::Active, MAX_UNRESOLVED)
        .await?;
    out.extend(
        state
            .store
            .list_maintenances(MaintenanceFilter::Upcoming, MAX_UPCOMING)
            .await?,
    );
    out.extend(
        state
            .store
            .list_maintenances(MaintenanceFilter::Finished, RECENT_INCIDENTS as u32)
            .await?,
    );
    out.extend(
        state
            .store
            .list_maintenances(MaintenanceFilter::CancelledOccurrences, MAX_UNRESOLVED)
            .await?,
    );
    // Every upcoming one-off, however many occurrences of recurring windows come first (the
    // calendar carries those as rules).
    out.extend(
        state
            .store
            .list_maintenances(MaintenanceFilter::UpcomingOneOff, MAX_UNRESOLVED)
            .await?,
    );
    let mut seen = std::collections::HashSet::new();
    out.retain(|m| seen.insert(m.id.clone()));
    Ok(out)
}

/// A hash of everything the snapshot shows (not of when it was built), including which
/// tenant slots of maintenances in progress cover `now` (a tenant's components are under
/// maintenance during its slot only).
fn digest(
    g: &Gathered,
    generations: (u64, u64),
    today: jiff::civil::Date,
    now: jiff::Timestamp,
) -> u64 {
    use upkeep_domain::maintenance::{Coverage, MaintenanceStatus, covers};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in &g.maintenances {
        if m.status == MaintenanceStatus::InProgress {
            for (tenant, (start, end)) in Coverage::of(&g.loaded.config, m).slots() {
                (&m.id, tenant, covers(start, end, now)).hash(&mut h);
            }
        }
    }
    g.loaded.loaded_at.hash(&mut h);
    let mut monitors: Vec<_> = g.monitors.iter().collect();
    monitors.sort_by(|a, b| a.0.cmp(b.0));
    for (id, (status, at)) in monitors {
        (id, status.as_str(), at).hash(&mut h);
    }
    for (c, s) in &g.firing {
        (c, s.as_str()).hash(&mut h);
    }
    for i in g.recent.iter().chain(&g.unresolved) {
        (&i.id, i.updated_at).hash(&mut h);
    }
    for m in &g.maintenances {
        (&m.id, m.updated_at).hash(&mut h);
    }
    for (id, p) in &g.rollouts {
        (id, p.done, p.total).hash(&mut h);
    }
    (generations, today).hash(&mut h);
    h.finish()
}

/// Renders every resource of the snapshot from `model`.
fn render(model: &Model) -> anyhow::Result<Vec<Rendered>> {
    let docs = statuspage::build(model)?;
    let mut out: Vec<Rendered> = Endpoint::ALL
        .iter()
        .map(|e| Rendered {
            path: e.path().to_owned(),
            content_type: "application/json",
            bytes: e.document(&docs).to_vec(),
        })
        .collect();
    let page = |path: &str, content_type, bytes: Vec<u8>| Rendered {
        path: path.to_owned(),
        content_type,
        bytes,
    };
    out.push(page("/", HTML, html::index(model)?.into_bytes()));
    out.push(page("/history", HTML, html::history(model)?.into_bytes()));
    out.push(page(
        "/feed.atom",
        "application/atom+xml; charset=utf-8",
        feeds::atom(model)?,
    ));
    out.push(page(
        "/feed.rss",
        "application/rss+xml; charset=utf-8",
        feeds::rss(model)?,
    ));
    out.push(page(
        "/maintenance.ics",
        ICS,
        calendars::all(model).into_bytes(),
    ));
    for (tenant, ics) in calendars::tenants(model) {
        out.push(page(
            &format!("/tenants/{tenant}/maintenance.ics"),
            ICS,
            ics.into_bytes(),
        ));
    }
    out.push(page(
        STYLESHEET,
        "text/css; charset=utf-8",
        html::CSS.as_bytes().to_vec(),
    ));
    for i in model.recent.iter().chain(&model.unresolved) {
        out.push(page(
            &format!("/incidents/{}", i.id),
            HTML,
            html::incident(model, i)?.into_bytes(),
        ));
    }
    for m in &model.maintenances {
        out.push(page(
            &format!("/maintenance/{}", m.id),
            HTML,
            html::maintenance(model, m)?.into_bytes(),
        ));
    }
    for c in &model.components {
        out.push(page(
            &format!("/badge/{}.svg", c.key),
            "image/svg+xml",
            html::badge(c)?.into_bytes(),
        ));
    }
    Ok(out)
}

/// Reads the response time per location of the monitors the page shows it for
/// ([`model::latency_monitors`]) again when [`LATENCY_EVERY`] has passed since the last read
/// or the configuration was reloaded since; counts a read that changed what the page shows
/// ([`model::shown_latency`]: names and rounded means), not one that changed only the day's
/// totals, which every check does.
async fn refresh_latency(state: &AppState, builder: &mut snapshot::Builder, now: jiff::Timestamp) {
    let loaded = state.config.current();
    let due = builder.latency_at.is_none_or(|(at, loaded_at)| {
        loaded_at != loaded.loaded_at || now.duration_since(at).unsigned_abs() >= LATENCY_EVERY
    });
    if !due {
        return;
    }
    let monitors = model::latency_monitors(&loaded.config);
    let latency = if monitors.is_empty() {
        Ok(model::Latency::new())
    } else {
        upkeep_engine::service::latency::by_location(&state.store, &monitors, now).await
    };
    match latency {
        Ok(latency) => {
            let shown = model::shown_latency(&loaded.config, &latency);
            if shown != builder.latency {
                builder.latency = shown;
                builder.latency_generation += 1;
            }
        }
        // The figures are a detail of the page: it keeps the last ones read (and its incidents
        // and statuses current) rather than failing its rebuild; read again next period.
        Err(e) => {
            tracing::warn!(error = %e, "response times per location not read; the page keeps the last ones")
        }
    }
    builder.latency_at = Some((now, loaded.loaded_at));
}

/// Brings the snapshot up to date: reads the inputs and, when they changed (or `force`),
/// renders and publishes a new snapshot. One build runs at a time.
pub async fn rebuild(state: &AppState) -> anyhow::Result<Arc<Snapshot>> {
    let mut builder = state.status.builder.lock().await;
    let now = state.clock.now();
    let tz = state.config.current().config.page.timezone.clone();
    let history_due = builder.history_at.is_none_or(|at| {
        now.duration_since(at).unsigned_abs() >= HISTORY_EVERY
            || tz.to_datetime(at).date() != tz.to_datetime(now).date()
    });
    if history_due {
        if builder.history.refresh(&state.store, &tz, now).await? {
            builder.history_generation += 1;
        }
        builder.history_at = Some(now);
    }
    refresh_latency(state, &mut builder, now).await;
    let gathered = gather(state, &mut builder.maintenances).await?;
    let inputs = digest(
        &gathered,
        (builder.history_generation, builder.latency_generation),
        tz.to_datetime(now).date(),
        now,
    );
    let previous = state.status.get();
    if let Some(p) = previous.as_ref().filter(|p| p.inputs == inputs) {
        return Ok(Arc::clone(p));
    }
    let history = builder.history.clone();
    let latency = builder.latency.clone();
    let started = std::time::Instant::now();
    let built = tokio::task::spawn_blocking(move || -> anyhow::Result<Snapshot> {
        let model = Arc::new(Model::build(&Inputs {
            config: &gathered.loaded.config,
            config_loaded_at: gathered.loaded.loaded_at,
            monitors: gathered.monitors,
            firing: gathered.firing,
            recent: gathered.recent,
            unresolved: gathered.unresolved,
            maintenances: gathered.maintenances,
            rollouts: gathered.rollouts,
            history: &history,
            latency: &latency,
            now,
        }));
        let rendered = render(&model)?;
        Ok(Snapshot::build(
            rendered,
            model,
            inputs,
            now,
            previous.as_deref(),
        )?)
    })
    .await??;
    metrics::counter!("upkeep_status_snapshot_builds_total").increment(1);
    metrics::histogram!("upkeep_status_snapshot_build_seconds")
        .record(started.elapsed().as_secs_f64());
    let built = Arc::new(built);
    state.status.set(Arc::clone(&built));
    Ok(built)
}

/// Keeps the snapshot current until `stop` is cancelled: a rebuild right away, then one every
/// [`POLL_EVERY`] and one shortly after each poke. A failed build is logged and the previous
/// snapshot kept.
pub async fn keep_fresh(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
            () = state.status.poked() => {
                // Let a burst of changes settle into one build.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if let Err(e) = rebuild(&state).await {
            tracing::warn!(error = %e, "could not rebuild the status snapshot");
        }
    }
}

/// The content coding chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// This coding's place in [`snapshot::BodyHeaders`]' arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Coding::Identity => 0,
            Coding::Gzip => 1,
            Coding::Brotli => 2,
        }
    }
}

/// Picks br, then gzip, then identity among the codings `accept_encoding` allows (`q=0`
/// refuses one; `*` stands for any coding not named; of a coding named twice, the last
/// word counts). Reads the header in place: serving a prepared body allocates nothing here.
pub(crate) fn negotiate(accept_encoding: Option<&str>) -> Coding {
    let Some(value) = accept_encoding else {
        return Coding::Identity;
    };
    let (mut br, mut gzip, mut any) = (None, None, None);
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let acceptable = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .all(|q| q.trim().parse::<f32>().map_or(true, |q| q > 0.0));
        if coding.eq_ignore_ascii_case("br") {
            br = Some(acceptable);
        } else if coding.eq_ignore_ascii_case("gzip") {
            gzip = Some(acceptable);
        } else if coding == "*" {
            any = Some(acceptable);
        }
    }
    let any = any.unwrap_or(false);
    if br.unwrap_or(any) {
        Coding::Brotli
    } else if gzip.unwrap_or(any) {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// Whether `If-None-Match` names `etag`, the representation about to be sent (weak
/// comparison, as RFC 9110 asks for this header). Only the negotiated encoding's tag matches,
/// so a shared cache revalidating a brotli copy for a gzip-only client gets the gzip body, not
/// a 304.
fn none_match<'h>(if_none_match: impl IntoIterator<Item = &'h str>, etag: &HeaderValue) -> bool {
    let Ok(ours) = etag.to_str() else {
        return false;
    };
    if_none_match
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours)
}

/// The current snapshot, building the first one if none exists yet (requests that arrive
/// before it queue behind one build); `None` when that build fails.
async fn current(state: &AppState) -> Option<Arc<Snapshot>> {
    if let Some(s) = state.status.get() {
        return Some(s);
    }
    match rebuild(state).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the status snapshot");
            None
        }
    }
}

fn preparing() -> Response {
    let mut p = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the status page is being prepared; try again in a moment",
    );
    p.retry_after = Some(1);
    p.into_response()
}

async fn serve_path(
    state: AppState,
    headers: HeaderMap,
    path: &'static str,
    immutable: bool,
) -> Response {
    let Some(snapshot) = current(&state).await else {
        return preparing();
    };
    match snapshot.body(path) {
        Some(body) => send(&headers, body, immutable),
        None => Problem::internal(&"the status snapshot lacks a page").into_response(),
    }
}

/// `/incidents/{id}`: from the snapshot, or rendered from the store for an older incident.
async fn incident_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let store = state.store.clone();
    page_of_record(
        &state,
        &headers,
        "incidents",
        "incident",
        &id,
        |id, model| async move {
            let record = store.get_incident(&id).await?;
            Ok(record.and_then(|r| {
                let tenant = if model.shows_incident(&r) {
                    None
                } else {
                    let named = r.components.iter().map(|c| c.id.as_str());
                    Some(model.public_owner(named)?)
                };
                Some(renderer(r.updated_at, r, tenant, html::incident))
            }))
        },
    )
    .await
}

/// `/maintenance/{id}`: from the snapshot, or rendered from the store for an older one.
async fn maintenance_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let store = state.store.clone();
    page_of_record(
        &state,
        &headers,
        "maintenance",
        "maintenance",
        &id,
        |id, model| async move {
            let record = store.get_maintenance(&id).await?;
            Ok(record.and_then(|r| {
                let tenant = if model.shows_maintenance(&r) {
                    None
                } else {
                    Some(model.public_owner(r.components.iter().map(String::as_str))?)
                };
                Some(renderer(r.updated_at, r, tenant, html::maintenance))
            }))
        },
    )
    .await
}

/// Renders a page of one stored record with the snapshot's model.
type Renderer = Box<dyn FnOnce(&Model) -> Result<String, askama::Error> + Send>;

/// The [`Renderer`] of `record` with `page` (with the model of `tenant`, for a record about
/// that tenant's own components only), and the record's last change.
fn renderer<R: Send + 'static>(
    at: jiff::Timestamp,
    record: R,
    tenant: Option<String>,
    page: fn(&Model, &R) -> Result<String, askama::Error>,
) -> (Renderer, jiff::Timestamp) {
    let render = move |m: &Model| match tenant.and_then(|t| m.for_tenant(&t)) {
        Some(scoped) => page(&scoped, &record),
        None => page(m, &record),
    };
    (Box::new(render), at)
}

/// `/{section}/{id}`: the snapshot's page, or one rendered on demand from the record `load`
/// finds (with its last change as Last-Modified); 404 for an id that cannot exist or is
/// unknown, and for a record about nothing but the own components of tenants that are not
/// public (`load` is given the public model to tell); one about a public tenant's own
/// components is rendered with that tenant's model, as its page links to it.
async fn page_of_record<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    section: &str,
    what: &str,
    id: &str,
    load: F,
) -> Response
where
    F: FnOnce(String, Arc<Model>) -> Fut,
    Fut: std::future::Future<
            Output = Result<Option<(Renderer, jiff::Timestamp)>, upkeep_store::StoreError>,
        >,
{
    let Some(snapshot) = current(state).await else {
        return preparing();
    };
    if let Some(body) = snapshot.body(&format!("/{section}/{id}")) {
        return send(headers, body, false);
    }
    let not_found =
        || Problem::new(StatusCode::NOT_FOUND, format!("no such {what}")).into_response();
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return not_found();
    }
    let (render, at) = match load(id.to_owned(), Arc::clone(&snapshot.model)).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let key = revision_key(&format!("/{section}/{id}"), at);
    if let Some(body) = snapshot.rendered(&key) {
        return send(headers, &body, false);
    }
    let model = Arc::clone(&snapshot.model);
    let built = tokio::task::spawn_blocking(move || -> anyhow::Result<Body> {
        let page = render(&model)?;
        Ok(Body::on_request(page.as_bytes(), HTML, at)?)
    })
    .await;
    match built {
        Ok(Ok(body)) => {
            let body = Arc::new(body);
            snapshot.keep_rendered(key, Arc::clone(&body));
            send(headers, &body, false)
        }
        Ok(Err(e)) => Problem::internal(&e).into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// The key under which a snapshot keeps the page at `path` of a record last changed `at`
/// ([`Snapshot::keep_rendered`]): a change of the record is a new key, so a new page.
pub fn revision_key(path: &str, at: jiff::Timestamp) -> String {
    format!("{path}@{}", at.as_millisecond())
}

/// `/tenants/{id}/maintenance.ics`.
async fn tenant_calendar(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(snapshot) = current(&state).await else {
        return preparing();
    };
    match snapshot.body(&format!("/tenants/{id}/maintenance.ics")) {
        Some(body) => send(&headers, body, false),
        None => Problem::new(StatusCode::NOT_FOUND, "no such tenant").into_response(),
    }
}

/// `/tenants/{id}`: the page of a tenant whose `public` is true, not linked from the public
/// page. Rendered on request from the snapshot's model and kept with that snapshot (a fleet of
/// tenants would otherwise make every rebuild render and compress every tenant's page); 404
/// for an unknown tenant and for one that is not public.
async fn tenant_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(snapshot) = current(&state).await else {
        return preparing();
    };
    let path = format!("/tenants/{id}");
    if let Some(body) = snapshot.rendered(&path) {
        return send(&headers, &body, false);
    }
    if !snapshot.model.tenants.get(&id).is_some_and(|t| t.public) {
        return Problem::new(StatusCode::NOT_FOUND, "no such tenant").into_response();
    }
    let model = Arc::clone(&snapshot.model);
    let built = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<Body>> {
        let Some(scoped) = model.for_tenant(&id) else {
            return Ok(None);
        };
        let Some(page) = html::tenant(&scoped) else {
            return Ok(None);
        };
        Ok(Some(Body::on_request(
            page?.as_bytes(),
            HTML,
            scoped.updated_at,
        )?))
    })
    .await;
    match built {
        Ok(Ok(Some(body))) => {
            let body = Arc::new(body);
            snapshot.keep_rendered(path, Arc::clone(&body));
            send(&headers, &body, false)
        }
        Ok(Ok(None)) => Problem::new(StatusCode::NOT_FOUND, "no such tenant").into_response(),
        Ok(Err(e)) => Problem::internal(&e).into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// `/badge/{component}.svg`.
async fn badge(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(snapshot) = current(&state).await else {
        return preparing();
    };
    match snapshot.body(&format!("/badge/{file}")) {
        Some(body) if file.ends_with(".svg") => send(&headers, body, false),
        _ => Problem::new(StatusCode::NOT_FOUND, "no such component badge").into_response(),
    }
}

/// Which representation of a body a request gets: the negotiated coding, and whether the
/// client already has it (a `304`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Choice {
    pub coding: Coding,
    pub not_modified: bool,
}

impl Choice {
    /// The representation of `body` a request with these `Accept-Encoding` and
    /// `If-None-Match` values gets.
    pub(crate) fn of<'h>(
        body: &Body,
        accept_encoding: Option<&str>,
        if_none_match: impl IntoIterator<Item = &'h str>,
    ) -> Self {
        let coding = negotiate(accept_encoding);
        let not_modified = none_match(if_none_match, &body.headers.etags[coding.index()]);
        Self {
            coding,
            not_modified,
        }
    }

    /// The bytes this choice sends of `body` (none for a `304`).
    pub(crate) fn bytes(self, body: &Body) -> axum::body::Bytes {
        if self.not_modified {
            return axum::body::Bytes::new();
        }
        match self.coding {
            Coding::Brotli => body.brotli.clone(),
            Coding::Gzip => body.gzip.clone(),
            Coding::Identity => body.plain.clone(),
        }
    }
}

/// Answers with `body` in the negotiated encoding, or 304 when the client has it.
pub(crate) fn send(headers: &HeaderMap, body: &Body, immutable: bool) -> Response {
    let choice = Choice::of(
        body,
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let prepared = &body.headers;
    let i = choice.coding.index();
    let (status, mut out) = if choice.not_modified {
        (StatusCode::NOT_MODIFIED, prepared.not_modified[i].clone())
    } else {
        (StatusCode::OK, prepared.ok[i].clone())
    };
    // The prepared headers carry the pages' `Cache-Control`.
    if immutable {
        out.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL_STATIC),
        );
    }
    let mut response = Response::new(axum::body::Body::from(choice.bytes(body)));
    *response.status_mut() = status;
    *response.headers_mut() = out;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_br_then_gzip_and_honours_q_zero() {
        assert_eq!(negotiate(None), Coding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Coding::Brotli);
        assert_eq!(negotiate(Some("gzip")), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0.5")), Coding::Gzip);
        assert_eq!(negotiate(Some("*")), Coding::Brotli);
        assert_eq!(negotiate(Some("*, br;q=0")), Coding::Gzip);
        assert_eq!(negotiate(Some("identity")), Coding::Identity);
        assert_eq!(negotiate(Some("deflate")), Coding::Identity);
    }
}
