//! The console's probe agents page (`/admin/agents`): every agent ever heard from, read
//! through `service::agents::list` as `GET /api/v1/agents` reads it — location, version, last
//! contact, clock offset, results its buffer dropped, and its state (docs/agents.md).
//! Read-only: agents are made and revoked as tokens (`/admin/users`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use upkeep_engine::service::agents as service;

use super::pages::{Chrome, chrome, html};
use super::session::SignedIn;
use crate::problem::Problem;
use crate::state::AppState;
use crate::status::html::local;

/// One agent, worded.
struct Row {
    name: String,
    location: String,
    version: String,
    last_seen: String,
    seen_ago: String,
    clock: String,
    dropped: i64,
    monitors: usize,
    state: &'static str,
    reason: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "console_agents.html")]
struct AgentsPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

/// `GET /admin/agents`.
pub async fn agents(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    let loaded = state.config.current();
    let now = state.clock.now();
    let agents = match service::list(&state.store, &loaded.config, now).await {
        Ok(agents) => agents,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let tz = &loaded.config.page.timezone;
    let rows = agents
        .into_iter()
        .map(|a| Row {
            seen_ago: format!(
                "{}s ago",
                now.duration_since(a.record.last_seen_at).as_secs()
            ),
            last_seen: local(a.record.last_seen_at, tz),
            clock: format!("{:+} ms", a.record.clock_offset_ms),
            name: a.record.name,
            location: a.record.location,
            version: a.record.version,
            dropped: a.record.dropped,
            monitors: a.monitors,
            state: if a.state == upkeep_domain::event::EventState::Ok {
                "ok"
            } else {
                "warning"
            },
            reason: a.reason.unwrap_or_default(),
            active: a.record.active,
        })
        .collect();
    let page = AgentsPage {
        chrome: chrome(&state, Some(&session.user)),
        rows,
    };
    html(StatusCode::OK, page.render())
}
