//! `/api/v1/audit`: the audit log, newest first, for anyone with a token (auditors get
//! `viewer` tokens).
//!
//! Read through `service::audit::list`, as the console's audit page reads it: subscribers'
//! addresses and delivery destinations are redacted for callers below `admin`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use upkeep_engine::service::audit::{self as service, AuditError};
use upkeep_store::audit::{AuditFilter, AuditRecord};
use utoipa::{IntoParams, ToSchema};

use super::{TAG_AUDIT, instant};
use crate::auth::{Auth, Viewer};
use crate::extract::ApiQuery;
use crate::problem::Problem;
use crate::state::AppState;

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// How many rows, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Only rows older than this id (the `id` of the last row of the previous page).
    pub before: Option<i64>,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: instant(r.at),
            actor: r.actor,
            action: r.action,
            target: r.target,
            before: r.before,
            after: r.after,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/audit", tag = TAG_AUDIT, security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = [AuditView]), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")))]
/// The audit log, newest first.
pub async fn list(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Viewer>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, Problem> {
    let rows = service::list(
        &state.store,
        caller.role,
        &AuditFilter::default(),
        q.limit.unwrap_or(50),
        q.before,
    )
    .await
    .map_err(|e| match e {
        AuditError::Limit => Problem::bad_request(e.to_string()),
        AuditError::Store(e) => e.into(),
    })?;
    Ok(Json(rows.into_iter().map(AuditView::from).collect()))
}
