//! How the maintenance endpoints refuse: problem documents for the service's
//! [`MaintenanceError`]s, with the extra members of a notice violation
//! (`earliest_allowed_start`) and of tenant slots that do not fit (`tenants_not_fitting`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use upkeep_domain::maintenance::NoticeViolation;
use upkeep_engine::service::maintenance::{MaintenanceError, Override};

use super::super::instant;
use crate::problem::Problem;

/// A refusal: a problem document, a notice violation (a 422 with `earliest_allowed_start`) or
/// a window too short for its tenants' slots (a 422 with `tenants_not_fitting`).
pub enum Refusal {
    Problem(Problem),
    Notice(NoticeViolation),
    Slots {
        detail: String,
        tenants: Vec<String>,
    },
}

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Self {
        Refusal::Problem(p)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Problem(p) => p.into_response(),
            Refusal::Notice(violation) => {
                let problem =
                    Problem::unprocessable(violation.to_string()).with_type("notice-policy");
                let extra = violation
                    .earliest_allowed_start()
                    .map(|earliest| ("earliest_allowed_start", Value::String(instant(earliest))));
                with_member(&problem, extra)
            }
            Refusal::Slots { detail, tenants } => {
                let problem = Problem::unprocessable(detail).with_type("tenant-slots");
                let ids = tenants.into_iter().map(Value::String).collect();
                with_member(&problem, Some(("tenants_not_fitting", Value::Array(ids))))
            }
        }
    }
}

/// A 422 problem document with one more member.
fn with_member(problem: &Problem, extra: Option<(&str, Value)>) -> Response {
    let mut doc = serde_json::to_value(problem).unwrap_or(Value::Null);
    if let (Value::Object(map), Some((name, value))) = (&mut doc, extra) {
        map.insert(name.into(), value);
    }
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

pub(super) fn invalid(detail: impl Into<String>) -> Problem {
    Problem::unprocessable(detail).with_type("invalid-maintenance")
}

pub(super) fn conflict(detail: String) -> Problem {
    Problem::new(StatusCode::CONFLICT, detail).with_type("conflict")
}

pub(super) fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("there is no maintenance `{id}`"))
}

impl From<MaintenanceError> for Refusal {
    fn from(e: MaintenanceError) -> Self {
        match e {
            MaintenanceError::Invalid(detail) => invalid(detail).into(),
            MaintenanceError::NotFound(id) => not_found(&id).into(),
            MaintenanceError::Conflict(detail) => conflict(detail).into(),
            MaintenanceError::Held { id, reason } => Problem::new(
                StatusCode::CONFLICT,
                format!(
                    "pre-flight checks hold maintenance {id}: {reason}; an admin may start it \
                     anyway with `skip_checks: true`"
                ),
            )
            .with_type("preflight-hold")
            .into(),
            MaintenanceError::Forbidden(Override::Force) => Problem::forbidden(
                "`force` overrides the maintenance notice policy and the tenant slots, and needs \
                 an admin token",
            )
            .into(),
            MaintenanceError::Forbidden(Override::SkipChecks) => Problem::forbidden(
                "`skip_checks` starts a maintenance past failing pre-flight checks and needs an \
                 admin token",
            )
            .into(),
            MaintenanceError::Notice(violation) => Refusal::Notice(violation),
            MaintenanceError::Slots(violation) => Refusal::Slots {
                detail: violation.detail,
                tenants: violation.tenants,
            },
            MaintenanceError::Store(e) => Problem::from(e).into(),
        }
    }
}
