//! `/ping/{key}`: heartbeats from cron jobs and backup jobs.

use axum::Router;

use crate::state::AppState;

/// The ping routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
