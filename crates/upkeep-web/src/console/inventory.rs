//! The console's inventory page (`/admin/inventory`): every item at every place judged against
//! its chart's latest stable release, read through `service::inventory::list` as
//! `GET /api/v1/inventory` reads it, and worded as `upkeep inventory report` words it
//! ([`crate::inventory_report`]). Read-only: what is deployed is reported by machines.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use upkeep_engine::service::inventory as service;

use super::pages::{Chrome, chrome, html};
use super::session::SignedIn;
use crate::api::inventory::InventoryView;
use crate::inventory_report::Line;
use crate::problem::Problem;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console_inventory.html")]
struct InventoryPage {
    chrome: Chrome,
    rows: Vec<Line>,
    configured: bool,
}

/// `GET /admin/inventory`.
pub async fn inventory(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    let loaded = state.config.current();
    let rows = match service::list(&state.store, &loaded.config, state.clock.now()).await {
        Ok(rows) => rows,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let page = InventoryPage {
        chrome: chrome(&state, Some(&session.user)),
        rows: rows
            .into_iter()
            .map(|r| Line::of(&InventoryView::from(r)))
            .collect(),
        configured: !loaded.config.inventory.items.is_empty(),
    };
    html(StatusCode::OK, page.render())
}
