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
use serde::{Deserialize, Serialize};
use upkeep_domain::backup::{DrillOutcome, duration_ms};
use upkeep_domain::config::Backup;
use upkeep_engine::backups::{Assessment, assess, assess_all};
use upkeep_store::backups::{BackupRun, DrillFinish, DrillRecord};
use upkeep_store::ids;
use utoipa::ToSchema;

use super::{TAG_BACKUPS, instant};
use crate::auth::{Auth, Editor, Viewer};
use crate::extract::{ApiJson, ApiPath, optional_json};
use crate::problem::Problem;
use crate::state::AppState;

/// Longest drill notes, in characters.
pub const NOTES_MAX_CHARS: usize = 20_000;

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

fn set(state: &AppState, id: &str) -> Result<Backup, Problem> {
    state
        .config
        .current()
        .config
        .backups
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

fn notes(text: Option<String>) -> Result<Option<String>, Problem> {
    match text {
        Some(t) if t.chars().count() > NOTES_MAX_CHARS => Err(Problem::unprocessable(format!(
            "`notes` is longer than {NOTES_MAX_CHARS} characters"
        ))
        .with_type("invalid-drill")),
        other => Ok(other),
    }
}

async fn readiness_of(state: &AppState) -> Result<Readiness, Problem> {
    let now = state.clock.now();
    let config = state.config.current();
    let all = assess_all(&state.store, &config.config, now).await?;
    Ok(Readiness {
        ready: all.iter().all(|a| a.ready),
        generated_at: instant(now),
        backups: all.into_iter().map(BackupView::from).collect(),
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
    let backup = set(&state, &id)?;
    let a = assess(&state.store, &id, &backup, state.clock.now()).await?;
    let runs = state.store.recent_backup_runs(&backup.push_key, 20).await?;
    let rto_ms = duration_ms(backup.rto);
    let drills = state.store.list_drills(Some(&id), 20).await?;
    Ok(Json(BackupDetail {
        backup: a.into(),
        runs: runs.into_iter().map(RunView::from).collect(),
        drills: drills.into_iter().map(|d| drill_view(d, rto_ms)).collect(),
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
    let backup = set(&state, &id)?;
    let body: StartDrillBody = optional_json(&raw, "a valid drill start")?;
    let text = notes(body.notes)?.unwrap_or_default();
    let drill = state
        .store
        .start_drill(&id, &text, &caller.actor(), state.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(drill_view(drill, duration_ms(backup.rto))),
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
    let backup = set(&state, &id)?;
    let drill_missing = || {
        Problem::not_found(format!(
            "backup set `{id}` has no drill `{drill_id}`; `GET /api/v1/backups/{id}` lists them"
        ))
    };
    if !ids::is_id(&drill_id) {
        return Err(drill_missing());
    }
    let outcome = DrillOutcome::parse(&body.outcome).ok_or_else(|| {
        Problem::unprocessable(format!(
            "unknown outcome `{}`: expected success or failure",
            body.outcome
        ))
        .with_type("invalid-drill")
    })?;
    let finish = DrillFinish {
        outcome,
        validated: body.validated,
        notes: notes(body.notes)?,
    };
    match state
        .store
        .finish_drill(&id, &drill_id, &finish, &caller.actor(), state.clock.now())
        .await?
    {
        Some(d) => Ok(Json(drill_view(d, duration_ms(backup.rto)))),
        None => Err(drill_missing()),
    }
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

struct DrRow {
    id: String,
    age: String,
    rpo: String,
    percent: Option<String>,
    state: &'static str,
    drill: String,
    recovery: String,
    rto: String,
    next_due: String,
    ready: bool,
}

/// `1d 02h 03m`, `2h 05m`, `45s` for people.
fn human(ms: i64) -> String {
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

fn dr_row(a: &Assessment) -> DrRow {
    let drill = match &a.last_drill {
        None => "never".to_owned(),
        Some(d) => {
            let when = d.finished_at.map(|t| utc(&instant(t))).unwrap_or_default();
            let outcome = d.outcome.map_or("?", DrillOutcome::as_str);
            let validated = if d.validated == Some(true) {
                "validated"
            } else {
                "not validated"
            };
            format!("{outcome}, {validated} ({when})")
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
        (Some(_), Some(due)) if a.drill_overdue => format!("{} (overdue)", utc(&instant(due))),
        (Some(_), Some(due)) => utc(&instant(due)),
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
    let all = assess_all(&state.store, &config.config, now).await?;
    let page = DrPage {
        page_name: config.config.page.name.clone(),
        css_version: crate::status::html::CSS_VERSION.as_str(),
        generated: utc(&instant(now)),
        ready: all.iter().all(|a| a.ready),
        rows: all.iter().map(dr_row).collect(),
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
