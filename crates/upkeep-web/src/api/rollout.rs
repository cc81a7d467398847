//! `/api/v1/maintenances/{id}/rollout` (`docs/rollouts.md`): a maintenance's rollout with every
//! tenant's state, slot, attempts and last decision with its evidence; and an operator's
//! commands on it: `pause`, `resume`, `abort`, and `retry` or `skip` of one tenant. Viewers
//! read; editors command (each command is audited by the store). The rules are the rollout
//! service's ([`upkeep_engine::service::rollout`]), which the command line calls too.
//!
//! Before its maintenance starts, a rollout shows its plan (`pending`, every tenant with its
//! planned slot, canaries first); `pause` and `abort` work then too. A command the rollout's
//! state does not allow is a 409 whose detail says why; an unknown maintenance, a maintenance
//! without a rollout or an unknown tenant is a 404. The specification is shown with webhook
//! secrets redacted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use upkeep_domain::rollout::machine::Command;
use upkeep_engine::service::rollout::{self as service, RolloutError, RolloutShow};
use upkeep_store::ids;
use utoipa::ToSchema;

use super::{TAG_ROLLOUTS, instant};
use crate::auth::{Auth, Editor, Viewer};
use crate::extract::ApiPath;
use crate::problem::Problem;
use crate::state::AppState;

/// A maintenance's rollout.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolloutDocument {
    /// The maintenance's id.
    pub maintenance_id: String,
    /// `pending`, `running`, `paused`, `halted`, `completed` or `aborted`.
    pub state: String,
    /// Why it is in its state, in a sentence.
    pub reason: String,
    pub progress: ProgressView,
    /// The rollout's specification (durations in milliseconds), webhook secrets redacted.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// In rollout order: canaries first, then slot order.
    pub tenants: Vec<RolloutTenantView>,
}

/// How far a rollout got.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    /// Tenants updated (their gate passed).
    pub done: usize,
    /// Every tenant of the rollout.
    pub total: usize,
}

/// One tenant of a rollout.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolloutTenantView {
    pub tenant: String,
    /// `pending`, `acting`, `settling`, `passed`, `failed`, `rolling_back`, `rolled_back`,
    /// `paused`, `skipped` or `halted`.
    pub state: String,
    /// Its slot; a step starts only inside it.
    pub slot: SlotView,
    /// Oldest first.
    pub attempts: Vec<AttemptView>,
    /// The last decision about it, in a sentence.
    pub decision: Option<String>,
    /// The last gate judgement: `verdict`, `reason` and what each monitor showed.
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<Value>,
}

/// A tenant's slot, `[start, end)`, RFC 3339 in UTC.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub start: String,
    pub end: String,
}

/// One attempt of a step.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// `action` or `rollback`.
    pub step: String,
    /// 1, 2, ... per step.
    pub attempt: u32,
    /// The same for a run again of the same attempt, new for a new attempt.
    pub idempotency_key: String,
    pub started_at: String,
    /// Unset while it runs (or when upkeep stopped during it).
    pub finished_at: Option<String>,
    /// `succeeded`, `failed`, `timed_out` or `unknown`; unset while it runs.
    pub outcome: Option<String>,
    /// What it printed or answered (its tail), or why it failed to start. Shown to editors and
    /// admins only (a script may print what a viewer should not read); unset for viewers.
    pub detail: Option<String>,
    /// How many times it was started (more than one only under `on_unknown: retry`).
    pub runs: u32,
}

impl From<RolloutShow> for RolloutDocument {
    fn from(r: RolloutShow) -> Self {
        let progress = r.progress();
        RolloutDocument {
            maintenance_id: r.maintenance_id,
            state: r.state.as_str().to_owned(),
            reason: r.reason,
            progress: ProgressView {
                done: progress.done,
                total: progress.total,
            },
            spec: r.spec.redacted(),
            tenants: r
                .tenants
                .into_iter()
                .map(|t| RolloutTenantView {
                    tenant: t.tenant,
                    state: t.state.as_str().to_owned(),
                    slot: SlotView {
                        start: instant(t.slot_start),
                        end: instant(t.slot_end),
                    },
                    attempts: t
                        .attempts
                        .into_iter()
                        .map(|a| AttemptView {
                            step: a.step.as_str().to_owned(),
                            attempt: a.attempt,
                            idempotency_key: a.idempotency_key,
                            started_at: instant(a.started_at),
                            finished_at: a.finished_at.map(instant),
                            outcome: a.outcome.map(|o| o.as_str().to_owned()),
                            detail: a.detail,
                            runs: a.runs,
                        })
                        .collect(),
                    decision: t.decision,
                    evidence: t
                        .evidence
                        .and_then(|e| serde_json::to_value(e).ok())
                        .filter(|v| !v.is_null()),
                })
                .collect(),
        }
    }
}

/// A refusal of the rollout service as a problem document.
impl From<RolloutError> for Problem {
    fn from(e: RolloutError) -> Self {
        match e {
            RolloutError::NoMaintenance(_) | RolloutError::NoRollout(_) => {
                Problem::not_found(e.to_string())
            }
            RolloutError::UnknownTenant(_) => {
                Problem::not_found(e.to_string()).with_type("unknown-tenant")
            }
            RolloutError::NotNow(detail) => {
                Problem::new(StatusCode::CONFLICT, detail).with_type("rollout-state")
            }
            RolloutError::Store(e) => Problem::from(e),
        }
    }
}

/// The id from the path, or 404 when it cannot be a maintenance id.
fn maintenance_id(id: &str) -> Result<&str, Problem> {
    if ids::is_id(id) {
        Ok(id)
    } else {
        Err(RolloutError::NoMaintenance(id.to_owned()).into())
    }
}

#[utoipa::path(get, path = "/api/v1/maintenances/{id}/rollout", tag = TAG_ROLLOUTS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = RolloutDocument),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
/// A maintenance's rollout: its state and every tenant's state, slot, attempts and last
/// decision with its evidence. Before the maintenance starts: `pending`, with the planned
/// slots. 404 for a maintenance without a rollout.
pub async fn show(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RolloutDocument>, Problem> {
    let loaded = state.config.current();
    let shown = service::show(&state.store, &loaded.config, maintenance_id(&id)?).await?;
    let mut document: RolloutDocument = shown.into();
    if !caller.role.allows(upkeep_domain::role::Role::Editor) {
        for attempt in document
            .tenants
            .iter_mut()
            .flat_map(|t| t.attempts.iter_mut())
        {
            attempt.detail = None;
        }
    }
    Ok(Json(document))
}

/// Applies `command` to the rollout of maintenance `id` as `caller`.
async fn run(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: &str,
    command: Command,
) -> Result<Json<RolloutDocument>, Problem> {
    let loaded = state.config.current();
    let shown = service::command(
        &state.store,
        &loaded.config,
        &caller.for_services(),
        maintenance_id(id)?,
        &command,
        state.clock.now(),
    )
    .await?;
    Ok(Json(shown.into()))
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/rollout/pause", tag = TAG_ROLLOUTS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = RolloutDocument),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
/// Pause a pending or running rollout: no further tenant starts (a step in flight finishes).
/// Before the maintenance starts, the rollout will start paused.
pub async fn pause(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RolloutDocument>, Problem> {
    run(&state, &caller, &id, Command::Pause).await
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/rollout/resume", tag = TAG_ROLLOUTS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = RolloutDocument),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
/// Resume a paused or halted rollout; a tenant whose gate waited on an operator is judged
/// again. A tenant whose step has an unknown outcome must be retried or skipped first (409).
pub async fn resume(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RolloutDocument>, Problem> {
    run(&state, &caller, &id, Command::Resume).await
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/rollout/abort", tag = TAG_ROLLOUTS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = RolloutDocument),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
/// Abort a rollout for good: no further tenant starts. 409 once it completed or was aborted.
pub async fn abort(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RolloutDocument>, Problem> {
    run(&state, &caller, &id, Command::Abort).await
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/rollout/tenants/{tenant}/retry",
    tag = TAG_ROLLOUTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id"),
           ("tenant" = String, Path, description = "The tenant's id")),
    responses((status = 200, body = RolloutDocument),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
/// Retry a tenant that failed, was rolled back, paused, halted or skipped: it goes back to
/// `pending` (its next attempt gets a new idempotency key) and the rollout runs. 409 when its
/// slot is over or there is nothing to retry.
pub async fn retry(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath((id, tenant)): ApiPath<(String, String)>,
) -> Result<Json<RolloutDocument>, Problem> {
    run(&state, &caller, &id, Command::Retry(tenant)).await
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/rollout/tenants/{tenant}/skip",
    tag = TAG_ROLLOUTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id"),
           ("tenant" = String, Path, description = "The tenant's id")),
    responses((status = 200, body = RolloutDocument),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
/// Skip a tenant that is not acting, rolling back or done: the rollout goes on without it.
pub async fn skip(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath((id, tenant)): ApiPath<(String, String)>,
) -> Result<Json<RolloutDocument>, Problem> {
    run(&state, &caller, &id, Command::Skip(tenant)).await
}
