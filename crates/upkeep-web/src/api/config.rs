//! `/api/v1/config`: what configuration is running, and reloading it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use upkeep_engine::config::{LoadError, ReloadError};
use utoipa::ToSchema;

use super::{TAG_CONFIG, instant};
use crate::auth::{Admin, Auth, Viewer};
use crate::problem::Problem;
use crate::state::AppState;

/// The running configuration in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigSummary {
    /// The file it was read from, or `<embedded demo.yaml>`.
    pub source: String,
    /// SHA-256 of the file's text.
    pub sha256: String,
    pub loaded_at: String,
    pub page_name: String,
    pub components: usize,
    pub monitors: usize,
    pub tenants: usize,
    pub rules: usize,
    pub windows: usize,
}

/// The outcome of a reload.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadOutcome {
    /// Whether the file differed from the running configuration.
    pub changed: bool,
    pub previous_sha256: String,
    pub sha256: String,
}

#[utoipa::path(get, path = "/api/v1/config", tag = TAG_CONFIG, security(("bearer" = [])),
    responses((status = 200, body = ConfigSummary), (status = 401, body = Problem, content_type = "application/problem+json")))]
/// The running configuration in brief.
pub async fn show(State(state): State<AppState>, _: Auth<Viewer>) -> Json<ConfigSummary> {
    let loaded = state.config.current();
    let n = loaded.counts();
    Json(ConfigSummary {
        source: loaded.source.display_name(),
        sha256: loaded.digest.clone(),
        loaded_at: instant(loaded.loaded_at),
        page_name: loaded.config.page.name.clone(),
        components: n.components,
        monitors: n.monitors,
        tenants: n.tenants,
        rules: n.rules,
        windows: n.windows,
    })
}

#[utoipa::path(post, path = "/api/v1/config/reload", tag = TAG_CONFIG, security(("bearer" = [])),
    responses((status = 200, body = ReloadOutcome), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json", description = "The file is invalid; `errors` lists every problem as FILE:LINE:COLUMN: message. The running configuration is unchanged.")))]
/// Re-read the configuration file. Atomic: an invalid file changes nothing.
pub async fn reload(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Admin>,
) -> Result<Json<ReloadOutcome>, Problem> {
    match state
        .config
        .reload(&state.store, &caller.actor(), state.clock.now())
        .await
    {
        Ok(r) => Ok(Json(ReloadOutcome {
            changed: r.changed(),
            previous_sha256: r.previous_digest,
            sha256: r.digest,
        })),
        Err(ReloadError::Load(e)) => Err(reload_problem(&e)),
        Err(ReloadError::Audit(e)) => Err(Problem::internal(&e)),
    }
}

fn reload_problem(e: &LoadError) -> Problem {
    let errors = e.lines();
    let detail = match e {
        LoadError::Read { .. } => {
            "the configuration file cannot be read; the running configuration is unchanged"
                .to_owned()
        }
        LoadError::Invalid(_) => format!(
            "the configuration has {} problem(s); fix them and reload again — the running configuration is unchanged",
            errors.len()
        ),
    };
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        .with_type("invalid-config")
        .with_errors(errors)
}
