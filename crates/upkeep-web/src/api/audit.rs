//! `/api/v1/audit`: the audit log, newest first, for anyone with a token (auditors get
//! `viewer` tokens).
//!
//! Subscribers' addresses and delivery destinations are written into audit rows redacted
//! (`upkeep_store::outbox::redact_destination`); for callers below `admin` they are redacted
//! again when read, so rows written before that redaction show nothing more.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use upkeep_store::audit::AuditRecord;
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
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("`limit` must be between 1 and 500"));
    }
    let rows = state.store.list_audit(limit, q.before).await?;
    let admin = caller.role == upkeep_domain::role::Role::Admin;
    Ok(Json(
        rows.into_iter()
            .map(|row| {
                let mut view = AuditView::from(row);
                if !admin {
                    redact_row(&mut view);
                }
                view
            })
            .collect(),
    ))
}

/// Redacts the addresses a subscriber's or a delivery's row may hold.
fn redact_row(view: &mut AuditView) {
    let key = if view.target.starts_with("subscriber/") {
        "address"
    } else if view.target.starts_with("delivery/") {
        "destination"
    } else {
        return;
    };
    for value in [&mut view.before, &mut view.after].into_iter().flatten() {
        let Some(serde_json::Value::String(text)) = value.get_mut(key) else {
            continue;
        };
        let full = text.clone();
        let shown = upkeep_store::outbox::redact_destination(&full);
        text.clone_from(&shown);
        if let Some(serde_json::Value::String(error)) = value.get_mut("last_error") {
            *error = upkeep_store::outbox::redact_error(error, &full, &shown);
        }
    }
}
