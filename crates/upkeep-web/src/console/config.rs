//! The console's configuration page (`/admin/config`, admin only; other roles are refused with
//! 403, reading or writing): what is loaded (source file, when, its SHA-256, how many
//! components, monitors, tenants, alert rules and maintenance windows, as
//! `GET /api/v1/config` counts them), and the Reload button, which re-reads the file through
//! the same [`upkeep_engine::config::ConfigHandle::reload`] as `POST /api/v1/config/reload`:
//! atomic, audited when it changes something. A refused reload changes nothing and lists
//! every problem as `FILE:LINE:COLUMN: message`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use upkeep_domain::role::Role;
use upkeep_engine::config::{Counts, ReloadError};
use upkeep_store::users::UserRecord;

use super::pages::{Chrome, chrome, html};
use super::session::{SignedIn, is_admin, refusal};
use crate::problem::Problem;
use crate::state::AppState;
use crate::status::html::local;

#[derive(Template)]
#[template(path = "console_config.html")]
struct ConfigPage {
    chrome: Chrome,
    source: String,
    sha256: String,
    loaded_at: String,
    page_name: String,
    counts: Counts,
    /// What the last reload did, when it worked.
    outcome: Option<String>,
    /// Why the last reload was refused: a summary and every problem.
    refused: Option<(String, Vec<String>)>,
}

fn refused(u: &UserRecord) -> Response {
    refusal(u, Role::Admin, "the configuration page").into_response()
}

fn page(
    state: &AppState,
    me: &UserRecord,
    status: StatusCode,
    outcome: Option<String>,
    refused: Option<(String, Vec<String>)>,
) -> Response {
    let loaded = state.config.current();
    let page = ConfigPage {
        chrome: chrome(state, Some(me)),
        source: loaded.source.display_name(),
        sha256: loaded.digest.clone(),
        loaded_at: local(loaded.loaded_at, &loaded.config.page.timezone),
        page_name: loaded.config.page.name.clone(),
        counts: loaded.counts(),
        outcome,
        refused,
    };
    html(status, page.render())
}

/// `GET /admin/config`.
pub async fn show(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    if !is_admin(&session.user) {
        return refused(&session.user);
    }
    page(&state, &session.user, StatusCode::OK, None, None)
}

/// `POST /admin/config/reload`: re-reads the file; 422 with every problem when it is invalid.
pub async fn reload(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    let me = &session.user;
    if !is_admin(me) {
        return refused(me);
    }
    let actor = upkeep_engine::service::user::actor(me);
    match state
        .config
        .reload(&state.store, &actor, state.clock.now())
        .await
    {
        Ok(r) => {
            let outcome = if r.changed() {
                format!(
                    "Reloaded: the configuration changed (SHA-256 {} was {}).",
                    short(&r.digest),
                    short(&r.previous_digest)
                )
            } else {
                "Reloaded: the file is the same as the running configuration; nothing changed."
                    .to_owned()
            };
            page(&state, me, StatusCode::OK, Some(outcome), None)
        }
        Err(ReloadError::Load(e)) => {
            let lines = e.lines();
            let summary = format!(
                "The reload was refused: {} problem(s). The running configuration is unchanged; fix the file and reload again.",
                lines.len()
            );
            page(
                &state,
                me,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((summary, lines)),
            )
        }
        Err(ReloadError::Audit(e)) => Problem::internal(&e).into_response(),
    }
}

/// The first 12 hex digits of a digest.
fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}
