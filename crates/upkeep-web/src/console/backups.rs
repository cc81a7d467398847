//! The console's backups and drills pages, through `service::backups` as the API's:
//!
//! - `GET /admin/backups`: DR readiness, what `GET /api/v1/dr-readiness` answers, worded as
//!   the readiness page words it: each set's last good backup against its RPO (`ok`,
//!   `at_risk`, `breached`, `unknown`), its last drill against its RTO, the next drill due or
//!   overdue, and whether it is ready.
//! - `GET /admin/backups/{id}`: one set with its drill running, its newest runs and drills.
//! - `POST /admin/backups/{id}/drills` (`notes`) starts a drill and
//!   `POST /admin/backups/{id}/drills/{drill}/finish` (`outcome`, `validated`, `notes`)
//!   finishes it, with the API's rules (`drill.start`, `drill.finish` in the audit log). Writing
//!   needs the `editor` role: a viewer sees no forms, and the server refuses their posts with 403.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use serde::Deserialize;
use upkeep_domain::backup::{DrillOutcome, duration_ms};
use upkeep_engine::service::backups::{self as service, BackupError, Finish};
use upkeep_store::StoreError;
use upkeep_store::backups::{BackupRun, DrillRecord};
use upkeep_store::users::UserRecord;

use super::monitors::seconds;
use super::pages::{Chrome, chrome, html};
use super::session::{SignedIn, see_other};
use super::session::{can_write, writer};
use crate::api::backups::{DrRow, dr_row, human};
use crate::problem::Problem;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console_backups.html")]
struct ReadinessPage {
    chrome: Chrome,
    ready: bool,
    rows: Vec<DrRow>,
    tz_name: String,
}

/// `GET /admin/backups`.
pub async fn readiness(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let r = match service::readiness(&state.store, &loaded.config, state.clock.now()).await {
        Ok(r) => r,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let page = ReadinessPage {
        chrome: chrome(&state, Some(&session.user)),
        ready: r.ready,
        rows: r
            .backups
            .iter()
            .map(|a| dr_row(a, |t| seconds(t, tz)))
            .collect(),
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    html(StatusCode::OK, page.render())
}

struct RunRow {
    ok: bool,
    started: String,
    finished: String,
    duration: String,
    size: String,
    exit_code: String,
}

struct DrillRow {
    id: String,
    started: String,
    started_by: String,
    finished: String,
    finished_by: String,
    /// `running`, `success` or `failure`.
    outcome: &'static str,
    validated: &'static str,
    duration: String,
    recovery: String,
    notes: String,
}

#[derive(Template)]
#[template(path = "console_backup.html")]
struct DetailPage {
    chrome: Chrome,
    can_write: bool,
    row: DrRow,
    drill_every: String,
    runs: Vec<RunRow>,
    /// Drills still running, each with its finish form for editors.
    open: Vec<DrillRow>,
    drills: Vec<DrillRow>,
    outcomes: [&'static str; 2],
    message: Option<String>,
    tz_name: String,
}

fn run_row(r: BackupRun, tz: &TimeZone) -> RunRow {
    RunRow {
        ok: r.ok,
        started: seconds(r.started_at, tz),
        finished: seconds(r.finished_at, tz),
        duration: r.duration_ms.map(human).unwrap_or_default(),
        size: r.size_bytes.map(|b| format!("{b} B")).unwrap_or_default(),
        exit_code: r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
    }
}

fn drill_row(d: DrillRecord, rto_ms: i64, tz: &TimeZone) -> DrillRow {
    let duration = d.duration_ms().map(human).unwrap_or_default();
    let recovery = match d.recovery_ms {
        Some(ms) if ms <= rto_ms => format!("{} (meets RTO)", human(ms)),
        Some(ms) => format!("{} (exceeds RTO)", human(ms)),
        None if d.finished_at.is_some() => "does not count".to_owned(),
        None => String::new(),
    };
    DrillRow {
        started: seconds(d.started_at, tz),
        finished: d.finished_at.map(|t| seconds(t, tz)).unwrap_or_default(),
        outcome: d.outcome.map_or("running", DrillOutcome::as_str),
        validated: match d.validated {
            Some(true) => "validated",
            Some(false) => "not validated",
            None => "",
        },
        duration,
        recovery,
        id: d.id,
        started_by: d.started_by,
        finished_by: d.finished_by.unwrap_or_default(),
        notes: d.notes,
    }
}

async fn detail_page(
    state: &AppState,
    u: &UserRecord,
    id: &str,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let d = match service::show(&state.store, &loaded.config, id, state.clock.now()).await {
        Ok(d) => d,
        Err(e @ BackupError::UnknownSet(_)) => {
            return Problem::not_found(e.to_string()).into_response();
        }
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let rto_ms = duration_ms(d.set.rto);
    let (open, drills): (Vec<DrillRecord>, Vec<DrillRecord>) =
        d.drills.into_iter().partition(|d| d.finished_at.is_none());
    let page = DetailPage {
        chrome: chrome(state, Some(u)),
        can_write: can_write(u),
        row: dr_row(&d.assessment, |t| seconds(t, tz)),
        drill_every: d.set.drill_every.map_or_else(
            || "no drills expected".to_owned(),
            |every| human(duration_ms(every)),
        ),
        runs: d.runs.into_iter().map(|r| run_row(r, tz)).collect(),
        open: open.into_iter().map(|x| drill_row(x, rto_ms, tz)).collect(),
        drills: drills
            .into_iter()
            .map(|x| drill_row(x, rto_ms, tz))
            .collect(),
        outcomes: ["success", "failure"],
        message,
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    html(status, page.render())
}

/// `GET /admin/backups/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    detail_page(&state, &session.user, &id, StatusCode::OK, None).await
}

/// The page again with the reason of a refused write, or the problem of a failure.
async fn refused(state: &AppState, u: &UserRecord, id: &str, e: BackupError) -> Response {
    let status = match &e {
        BackupError::UnknownSet(_) => return Problem::not_found(e.to_string()).into_response(),
        BackupError::NoDrill { .. } => StatusCode::NOT_FOUND,
        BackupError::Outcome(_) | BackupError::NotesTooLong => StatusCode::UNPROCESSABLE_ENTITY,
        BackupError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
        BackupError::Store(e) => return Problem::internal(e).into_response(),
    };
    let message = match e {
        BackupError::Store(StoreError::Conflict(m)) => m,
        e => e.to_string(),
    };
    detail_page(state, u, id, status, Some(message)).await
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    notes: String,
}

/// `POST /admin/backups/{id}/drills`.
pub async fn start_drill(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<StartForm>,
) -> Response {
    let caller = match writer(&session.user, "starting a drill") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let config = state.config.current();
    let notes = Some(form.notes).filter(|n| !n.trim().is_empty());
    let now = state.clock.now();
    match service::start_drill(&state.store, &config.config, &caller, &id, notes, now).await {
        Ok(_) => see_other(&back(&id)),
        Err(e) => refused(&state, &session.user, &id, e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct FinishForm {
    #[serde(default)]
    outcome: String,
    /// A checkbox: present when ticked.
    validated: Option<String>,
    #[serde(default)]
    notes: String,
}

/// `POST /admin/backups/{id}/drills/{drill}/finish`.
pub async fn finish_drill(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, drill)): Path<(String, String)>,
    Form(form): Form<FinishForm>,
) -> Response {
    let caller = match writer(&session.user, "finishing a drill") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let config = state.config.current();
    let asked = Finish {
        outcome: form.outcome,
        validated: form.validated.is_some(),
        notes: Some(form.notes).filter(|n| !n.trim().is_empty()),
    };
    let now = state.clock.now();
    match service::finish_drill(
        &state.store,
        &config.config,
        &caller,
        (&id, &drill),
        asked,
        now,
    )
    .await
    {
        Ok(_) => see_other(&back(&id)),
        Err(e) => refused(&state, &session.user, &id, e).await,
    }
}

/// The set's page, its id percent-encoded.
fn back(id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/admin/backups/{encoded}")
}
