//! `/api/v1/backups` and `/api/v1/dr-readiness`: backup sets against their RPO, recovery drills
//! against their RTO (`docs/decisions.md#backups-and-drills`). Viewers read; editors start and
//! finish drills.
//!
//! Backup sets come from the running configuration (`backups:`); an unknown id is a 404. The
//! numbers are integers: milliseconds and parts per million of the RPO. A backup's age runs
//! from the start of the last successful run; a drill's recovery time counts only when it
//! succeeded and its restore was validated.

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use upkeep_domain::backup::{DrillOutcome, duration_ms};
use upkeep_engine::backups::Assessment;
use upkeep_engine::service::backups::{self as service, BackupError, Finish};
use upkeep_store::backups::{BackupRun, DrillRecord};
use utoipa::ToSchema;

use super::{TAG_BACKUPS, instant};
use crate::auth::{Auth, Editor, Viewer};
use crate::extract::{ApiJson, ApiPath, optional_json};
use crate::problem::Problem;
use crate::state::AppState;

/// A completed backup run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub ok: bool,
    /// When the run started (its end minus its duration; its end when it had no start ping).
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<u64>,
    pub exit_code: Option<u8>,
}

impl From<BackupRun> for RunView {
    fn from(r: BackupRun) -> Self {
        Self {
            ok: r.ok,
            started_at: instant(r.started_at),
            finished_at: instant(r.finished_at),
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            exit_code: r.exit_code,
        }
    }
}

/// A recovery drill.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrillView {
    pub id: String,
    pub backup_set: String,
    pub started_at: String,
    /// `null` while the drill runs.
    pub finished_at: Option<String>,
    /// `success` or `failure`; `null` while the drill runs.
    pub outcome: Option<String>,
    /// Whether the restored data was validated.
    pub validated: Option<bool>,
    /// Finished − started, whether it counts or not.
    pub duration_ms: Option<i64>,
    /// The recovery time: finished − started, only when the drill succeeded and was validated.
    pub recovery_ms: Option<i64>,
    /// The set's RTO.
    pub rto_ms: i64,
    /// The drill counts and its recovery time is at most the RTO.
    pub meets_rto: bool,
    pub notes: String,
    pub started_by: String,
    pub finished_by: Option<String>,
}

fn drill_view(d: DrillRecord, rto_ms: i64) -> DrillView {
    DrillView {
        duration_ms: d.duration_ms(),
        meets_rto: d.recovery_ms.is_some_and(|ms| ms <= rto_ms),
        id: d.id,
        backup_set: d.backup_set,
        started_at: instant(d.started_at),
        finished_at: d.finished_at.map(instant),
        outcome: d.outcome.map(|o| o.as_str().to_owned()),
        validated: d.validated,
        recovery_ms: d.recovery_ms,
        rto_ms,
        notes: d.notes,
        started_by: d.started_by,
        finished_by: d.finished_by,
    }
}

/// A backup set against its RPO and its drills against its RTO.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupView {
    pub id: String,
    pub rpo_ms: i64,
    pub rto_ms: i64,
    /// The drill cadence; `null` when no drills are expected.
    pub drill_every_ms: Option<i64>,
    /// `ok`, `at_risk` (from 80 % of the RPO), `breached` (older than the RPO) or `unknown`
    /// (no successful backup yet).
    pub state: String,
    /// The last successful run; failed runs never count.
    pub last_backup: Option<RunView>,
    /// Age of the last good backup, from its start.
    pub age_ms: Option<i64>,
    /// The age in parts per million of the RPO (1,000,000 = exactly the RPO).
    pub age_rpo_ppm: Option<i64>,
    /// The latest finished drill.
    pub last_drill: Option<DrillView>,
    /// A drill still running.
    pub open_drill: Option<DrillView>,
    /// The latest finished drill counts and met the RTO.
    pub meets_rto: bool,
    /// When the next drill is due; `null` without a cadence, or when never drilled (then
    /// `drill_overdue` is true: due at once).
    pub next_drill_due: Option<String>,
    pub drill_overdue: bool,
    /// Within the RPO and, when drills are expected, drilled within the RTO and on time.
    pub ready: bool,
}

impl From<Assessment> for BackupView {
    fn from(a: Assessment) -> Self {
        let rto_ms = duration_ms(a.rto);
        Self {
            rpo_ms: duration_ms(a.rpo),
            rto_ms,
            drill_every_ms: a.drill_every.map(duration_ms),
            state: a.state.as_str().to_owned(),
            last_backup: a.last_backup.map(RunView::from),
            age_ms: a.age_ms,
            age_rpo_ppm: a.age_rpo_ppm,
            last_drill: a.last_drill.map(|d| drill_view(d, rto_ms)),
            open_drill: a.open_drill.map(|d| drill_view(d, rto_ms)),
            meets_rto: a.meets_rto,
            next_drill_due: a.next_drill_due.map(instant),
            drill_overdue: a.drill_overdue,
            ready: a.ready,
            id: a.id,
        }
    }
}

/// One backup set with its recent runs and drills.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupDetail {
    #[serde(flatten)]
    pub backup: BackupView,
    /// The newest completed runs (successes and failures), newest first, at most 20.
    pub runs: Vec<RunView>,
    /// The newest drills, newest first, at most 20.
    pub drills: Vec<DrillView>,
}

/// The DR readiness summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Every backup set is ready.
    pub ready: bool,
    pub generated_at: String,
    pub backups: Vec<BackupView>,
}

/// The body of `POST /api/v1/backups/{id}/drills`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDrillBody {
    /// What is being restored, where; at most 20,000 characters.
    pub notes: Option<String>,
}

/// The body of `POST /api/v1/backups/{id}/drills/{drill_id}/finish`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishDrillBody {
    /// `success` or `failure`.
    pub outcome: String,
    /// Whether the restored data was checked and found good. A drill's recovery time counts
    /// only when it succeeded and was validated.
    pub validated: bool,
    /// Appended to the drill's notes; at most 20,000 characters.
    pub notes: Option<String>,
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!(
        "there is no backup set `{id}`; `GET /api/v1/backups` lists the configured ones"
    ))
}

fn drill_missing(id: &str, drill_id: &str) -> Problem {
    Problem::not_found(format!(
        "backup set `{id}` has no drill `{drill_id}`; `GET /api/v1/backups/{id}` lists them"
    ))
}

/// The API's words for a refusal of `service::backups`.
fn refusal(e: BackupError) -> Problem {
    match e {
        BackupError::UnknownSet(id) => not_found(&id),
        BackupError::NoDrill { set, drill } => drill_missing(&set, &drill),
        e @ (BackupError::Outcome(_) | BackupError::NotesTooLong) => {
            Problem::unprocessable(e.to_string()).with_type("invalid-drill")
        }
        BackupError::Store(e) => e.into(),
    }
}

async fn readiness_of(state: &AppState) -> Result<Readiness, Problem> {
    let now = state.clock.now();
    let config = state.config.current();
    let r = service::readiness(&state.store, &config.config, now).await?;
    Ok(Readiness {
        ready: r.ready,
        generated_at: instant(now),
        backups: r.backups.into_iter().map(BackupView::from).collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/backups", tag = TAG_BACKUPS, security(("bearer" = [])),
    responses((status = 200, body = [BackupView]), (status = 401, body = Problem)))]
/// Every backup set: its last good backup's age against the RPO, its last drill against the
/// RTO, the next drill due.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Vec<BackupView>>, Problem> {
    Ok(Json(readiness_of(&state).await?.backups))
}

#[utoipa::path(get, path = "/api/v1/backups/{id}", tag = TAG_BACKUPS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The backup set's id in the configuration")),
    responses((status = 200, body = BackupDetail), (status = 401, body = Problem),
              (status = 404, body = Problem)))]
/// One backup set with its recent runs and drills.
pub async fn show(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BackupDetail>, Problem> {
    let config = state.config.current();
    let d = service::show(&state.store, &config.config, &id, state.clock.now())
        .await
        .map_err(refusal)?;
    let rto_ms = duration_ms(d.set.rto);
    Ok(Json(BackupDetail {
        backup: d.assessment.into(),
        runs: d.runs.into_iter().map(RunView::from).collect(),
        drills: d
            .drills
            .into_iter()
            .map(|d| drill_view(d, rto_ms))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/backups/{id}/drills", tag = TAG_BACKUPS,
    security(("bearer" = [])), request_body = StartDrillBody,
    params(("id" = String, Path, description = "The backup set's id in the configuration")),
    responses((status = 201, body = DrillView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
/// Start a recovery drill; its clock runs until it is finished.
pub async fn start_drill(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    raw: Bytes,
) -> Result<(StatusCode, Json<DrillView>), Problem> {
    let config = state.config.current();
    service::set(&config.config, &id).map_err(refusal)?;
    let body: StartDrillBody = optional_json(&raw, "a valid drill start")?;
    let caller = caller.for_services();
    let (set, drill) = service::start_drill(
        &state.store,
        &config.config,
        &caller,
        &id,
        body.notes,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    Ok((
        StatusCode::CREATED,
        Json(drill_view(drill, duration_ms(set.rto))),
    ))
}

#[utoipa::path(post, path = "/api/v1/backups/{id}/drills/{drill_id}/finish", tag = TAG_BACKUPS,
    security(("bearer" = [])), request_body = FinishDrillBody,
    params(("id" = String, Path, description = "The backup set's id in the configuration"),
           ("drill_id" = String, Path, description = "The drill's id")),
    responses((status = 200, body = DrillView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
/// Finish a drill with its outcome; the recovery time is computed and compared with the RTO.
/// A drill is finished once (409 after that).
pub async fn finish_drill(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath((id, drill_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<FinishDrillBody>,
) -> Result<Json<DrillView>, Problem> {
    let config = state.config.current();
    let asked = Finish {
        outcome: body.outcome,
        validated: body.validated,
        notes: body.notes,
    };
    let (set, drill) = service::finish_drill(
        &state.store,
        &config.config,
        &caller.for_services(),
        (&id, &drill_id),
        asked,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    Ok(Json(drill_view(drill, duration_ms(set.rto))))
}

#[utoipa::path(get, path = "/api/v1/dr-readiness", tag = TAG_BACKUPS, security(("bearer" = [])),
    responses((status = 200, body = Readiness), (status = 401, body = Problem)))]
/// Disaster-recovery readiness: every backup set and whether all are ready.
pub async fn readiness(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Readiness>, Problem> {
    Ok(Json(readiness_of(&state).await?))
}

#[derive(Template)]
#[template(path = "dr.html")]
struct DrPage {
    page_name: String,
    css_version: &'static str,
    generated: String,
    ready: bool,
    rows: Vec<DrRow>,
}

/// A backup set's line on the DR readiness page, worded for people (the console's backups
/// page words it so too, with its times in the page's zone).
pub(crate) struct DrRow {
    pub(crate) id: String,
    pub(crate) age: String,
    pub(crate) rpo: String,
    pub(crate) percent: Option<String>,
    pub(crate) state: &'static str,
    pub(crate) drill: String,
    pub(crate) recovery: String,
    pub(crate) rto: String,
    pub(crate) next_due: String,
    pub(crate) ready: bool,
}

/// `1d 02h 03m`, `2h 05m`, `45s` for people.
pub(crate) fn human(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d {h:02}h {m:02}m")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {:02}s", s % 60)
    } else {
        format!("{s}s")
    }
}

fn utc(t: &str) -> String {
    t.get(..16)
        .map_or_else(|| t.to_owned(), |s| s.replace('T', " "))
}

/// `a` worded for people, its instants written by `when`.
pub(crate) fn dr_row(a: &Assessment, when: impl Fn(Timestamp) -> String) -> DrRow {
    let drill = match &a.last_drill {
        None => "never".to_owned(),
        Some(d) => {
            let at = d.finished_at.map(&when).unwrap_or_default();
            let outcome = d.outcome.map_or("?", DrillOutcome::as_str);
            let validated = if d.validated == Some(true) {
                "validated"
            } else {
                "not validated"
            };
            format!("{outcome}, {validated} ({at})")
        }
    };
    let recovery = match a.last_drill.as_ref().and_then(|d| d.recovery_ms) {
        Some(ms) if a.meets_rto => format!("{} (meets RTO)", human(ms)),
        Some(ms) => format!("{} (exceeds RTO)", human(ms)),
        None => "—".to_owned(),
    };
    let next_due = match (a.drill_every, a.next_drill_due) {
        (None, _) => "no drills expected".to_owned(),
        (Some(_), None) => "now (never drilled)".to_owned(),
        (Some(_), Some(due)) if a.drill_overdue => format!("{} (overdue)", when(due)),
        (Some(_), Some(due)) => when(due),
    };
    DrRow {
        id: a.id.clone(),
        age: a.age_ms.map_or_else(|| "no backup".to_owned(), human),
        rpo: human(duration_ms(a.rpo)),
        percent: a
            .age_rpo_ppm
            .map(|p| format!("{}.{}", p / 10_000, p % 10_000 / 1000)),
        state: a.state.as_str(),
        drill,
        recovery,
        rto: human(duration_ms(a.rto)),
        next_due,
        ready: a.ready,
    }
}

#[utoipa::path(get, path = "/api/v1/dr-readiness.html", tag = TAG_BACKUPS,
    security(("bearer" = [])),
    responses((status = 200, description = "The DR readiness page", content_type = "text/html"),
              (status = 401, body = Problem)))]
/// The DR readiness page: per backup set, the last backup's age against the RPO, the last
/// drill's result and time against the RTO, the next drill due.
pub async fn readiness_html(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Response, Problem> {
    let now = state.clock.now();
    let config = state.config.current();
    let r = service::readiness(&state.store, &config.config, now).await?;
    let page = DrPage {
        page_name: config.config.page.name.clone(),
        css_version: crate::status::html::CSS_VERSION.as_str(),
        generated: utc(&instant(now)),
        ready: r.ready,
        rows: r
            .backups
            .iter()
            .map(|a| dr_row(a, |t| utc(&instant(t))))
            .collect(),
    };
    let html = page.render().map_err(|e| Problem::internal(&e))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}
