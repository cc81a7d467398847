//! `/api/v1/incidents`: open incidents, post updates to their timeline, edit, resolve and delete
//! them. Viewers read; editors open, update, edit and resolve; admins delete.
//!
//! Affected components must exist in the running configuration (an unknown one is a 422 that
//! names it and lists the known ids). Statuses and impacts are the Statuspage enum values.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::{AffectedComponent, Impact, IncidentError, IncidentStatus};
use upkeep_engine::service::incident::{self as service, IncidentServiceError};
use upkeep_store::ids;
use upkeep_store::incidents::{
    IncidentChange, IncidentEdit, IncidentRecord, IncidentUpdateRecord, NewIncident,
};
use utoipa::{IntoParams, ToSchema};

use super::{TAG_INCIDENTS, instant};
use crate::auth::{Admin, Auth, Editor, Viewer};
use crate::extract::{ApiJson, ApiPath, ApiQuery, optional_json};
use crate::problem::Problem;
use crate::state::AppState;

/// A component an incident affects and the status the incident declares for it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentView {
    /// The component's id in the configuration.
    pub id: String,
    /// `operational`, `degraded_performance`, `partial_outage`, `major_outage` or
    /// `under_maintenance`.
    pub status: String,
}

/// One entry of an incident's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateView {
    pub id: String,
    /// The incident's status at this update.
    pub status: String,
    /// Markdown.
    pub body: String,
    /// The affected components right after this update.
    pub components: Vec<ComponentView>,
    pub created_at: String,
    pub created_by: String,
}

/// An incident with its affected components and its timeline, newest update first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub title: String,
    /// `investigating`, `identified`, `monitoring`, `resolved` or `postmortem`.
    pub status: String,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: String,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: String,
    pub resolved_at: Option<String>,
    /// Markdown.
    pub postmortem: Option<String>,
    /// Opened automatically by a monitor or rule.
    pub auto: bool,
    pub created_by: String,
    pub components: Vec<ComponentView>,
    pub updates: Vec<UpdateView>,
}

fn component_views(components: Vec<AffectedComponent>) -> Vec<ComponentView> {
    components
        .into_iter()
        .map(|c| ComponentView {
            id: c.id,
            status: c.status.as_str().to_owned(),
        })
        .collect()
}

impl From<IncidentUpdateRecord> for UpdateView {
    fn from(u: IncidentUpdateRecord) -> Self {
        Self {
            id: u.id,
            status: u.status.as_str().to_owned(),
            body: u.body,
            components: component_views(u.components),
            created_at: instant(u.created_at),
            created_by: u.created_by,
        }
    }
}

impl From<IncidentRecord> for IncidentView {
    fn from(r: IncidentRecord) -> Self {
        Self {
            id: r.id,
            title: r.title,
            status: r.status.as_str().to_owned(),
            impact: r.impact.as_str().to_owned(),
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
            started_at: instant(r.started_at),
            resolved_at: r.resolved_at.map(instant),
            postmortem: r.postmortem,
            auto: r.auto,
            created_by: r.created_by,
            components: component_views(r.components),
            updates: r.updates.into_iter().map(UpdateView::from).collect(),
        }
    }
}

/// The body of `POST /api/v1/incidents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentBody {
    /// 1 to 200 characters.
    pub title: String,
    /// Default `investigating`.
    pub status: Option<String>,
    /// Default: from the worst affected component (`major_outage` → `critical`,
    /// `partial_outage` → `major`, `degraded_performance` → `minor`, else `none`).
    pub impact: Option<String>,
    /// The first update, Markdown, at most 20,000 characters.
    pub body: Option<String>,
    /// Affected components, each with its status.
    #[serde(default)]
    pub components: Vec<ComponentView>,
    /// When the trouble began (RFC 3339); default now.
    pub started_at: Option<String>,
}

/// The body of `POST /api/v1/incidents/{id}/updates`: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// The new status; default: unchanged.
    pub status: Option<String>,
    /// Markdown, at most 20,000 characters.
    pub body: Option<String>,
    /// Component statuses to set (added to the affected ones when new).
    #[serde(default)]
    pub components: Vec<ComponentView>,
}

/// The body of `PATCH /api/v1/incidents/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    pub title: Option<String>,
    pub impact: Option<String>,
    /// Markdown; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub postmortem: Option<Option<String>>,
}

/// The optional body of `POST /api/v1/incidents/{id}/resolve`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// Markdown, at most 20,000 characters.
    pub body: Option<String>,
}

/// A field that is present (even as `null`) becomes `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Which incidents to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those not resolved (default false).
    pub unresolved: Option<bool>,
    /// 1 to 1000 (default 50).
    pub limit: Option<u32>,
}

fn invalid(e: &IncidentError) -> Problem {
    Problem::unprocessable(e.to_string()).with_type("invalid-incident")
}

fn parse_status(s: &str) -> Result<IncidentStatus, Problem> {
    IncidentStatus::parse(s).ok_or_else(|| {
        Problem::unprocessable(format!(
            "unknown status `{s}`: expected investigating, identified, monitoring, resolved or \
             postmortem"
        ))
        .with_type("invalid-incident")
    })
}

fn parse_impact(s: &str) -> Result<Impact, Problem> {
    Impact::parse(s).ok_or_else(|| {
        Problem::unprocessable(format!(
            "unknown impact `{s}`: expected none, minor, major or critical"
        ))
        .with_type("invalid-incident")
    })
}

fn parse_components(components: &[ComponentView]) -> Result<Vec<AffectedComponent>, Problem> {
    components
        .iter()
        .map(|c| {
            let status = ComponentStatus::parse(&c.status).ok_or_else(|| {
                Problem::unprocessable(format!(
                    "unknown status `{}` for component `{}`: expected operational, \
                     degraded_performance, partial_outage, major_outage or under_maintenance",
                    c.status, c.id
                ))
                .with_type("invalid-incident")
            })?;
            Ok(AffectedComponent {
                id: c.id.clone(),
                status,
            })
        })
        .collect()
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("there is no incident `{id}`"))
}

/// A refusal of the incident service as a problem document.
fn refusal(e: IncidentServiceError) -> Problem {
    match e {
        IncidentServiceError::Invalid(e) => invalid(&e),
        IncidentServiceError::NotFound(id) => not_found(&id),
        IncidentServiceError::Store(e) => e.into(),
    }
}

/// The id from the path, or 404 when it cannot be an incident id.
fn incident_id(id: &str) -> Result<&str, Problem> {
    if ids::is_id(id) {
        Ok(id)
    } else {
        Err(not_found(id))
    }
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = TAG_INCIDENTS, security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = [IncidentView]), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
/// Incidents, newest first, with their components and timelines.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<IncidentView>>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("`limit` must be between 1 and 1000"));
    }
    let rows = state
        .store
        .list_incidents(limit, q.unresolved.unwrap_or(false))
        .await?;
    Ok(Json(rows.into_iter().map(IncidentView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/incidents", tag = TAG_INCIDENTS, security(("bearer" = [])),
    request_body = NewIncidentBody,
    responses((status = 201, body = IncidentView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
/// Open an incident with its first update.
pub async fn create(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiJson(body): ApiJson<NewIncidentBody>,
) -> Result<(StatusCode, Json<IncidentView>), Problem> {
    let status = body
        .status
        .as_deref()
        .map(parse_status)
        .transpose()?
        .unwrap_or(IncidentStatus::Investigating);
    let impact = body.impact.as_deref().map(parse_impact).transpose()?;
    let components = parse_components(&body.components)?;
    let started_at = body
        .started_at
        .as_deref()
        .map(|s| {
            s.parse::<jiff::Timestamp>().map_err(|e| {
                Problem::unprocessable(format!(
                    "`started_at` must be an RFC 3339 instant such as 2026-01-31T09:30:00Z: {e}"
                ))
                .with_type("invalid-incident")
            })
        })
        .transpose()?;
    let new = NewIncident {
        title: body.title,
        status,
        impact,
        body: body.body.unwrap_or_default(),
        components,
        started_at,
        auto: false,
    };
    let loaded = state.config.current();
    let record = service::open(
        &state.store,
        Some(&loaded.config),
        &caller.for_services(),
        new,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = TAG_INCIDENTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 200, body = IncidentView), (status = 401, body = Problem),
              (status = 404, body = Problem)))]
/// One incident with its components and timeline.
pub async fn show(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IncidentView>, Problem> {
    match state.store.get_incident(incident_id(&id)?).await? {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(&id)),
    }
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = TAG_INCIDENTS,
    security(("bearer" = [])), request_body = UpdateBody,
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 200, body = IncidentView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
/// Post an update: a new status, a message, component statuses (at least one of them).
/// Resolving sets `resolved_at`; any other status after that reopens the incident.
pub async fn add_update(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<IncidentView>, Problem> {
    let id = incident_id(&id)?;
    let status = body.status.as_deref().map(parse_status).transpose()?;
    let components = parse_components(&body.components)?;
    let change = IncidentChange {
        status,
        body: body.body,
        components,
    };
    let loaded = state.config.current();
    let record = service::update(
        &state.store,
        Some(&loaded.config),
        &caller.for_services(),
        id,
        &change,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    Ok(Json(record.into()))
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = TAG_INCIDENTS,
    security(("bearer" = [])), request_body(content = ResolveBody, description = "Optional"),
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 200, body = IncidentView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
/// Resolve: an update with status `resolved`, every affected component back to `operational`,
/// and an optional message (`{"body": "..."}`; the request body may be empty).
pub async fn resolve(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    raw: Bytes,
) -> Result<Json<IncidentView>, Problem> {
    let id = incident_id(&id)?;
    let body: ResolveBody = optional_json(&raw, "a valid resolution")?;
    let record = service::resolve(
        &state.store,
        &caller.for_services(),
        id,
        body.body,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    Ok(Json(record.into()))
}

#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = TAG_INCIDENTS,
    security(("bearer" = [])), request_body = EditBody,
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 200, body = IncidentView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
/// Edit the title, impact or postmortem; the timeline is unchanged.
pub async fn edit(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<IncidentView>, Problem> {
    let id = incident_id(&id)?;
    if body.title.is_none() && body.impact.is_none() && body.postmortem.is_none() {
        return Err(Problem::unprocessable(
            "send at least one of `title`, `impact` and `postmortem`",
        )
        .with_type("invalid-incident"));
    }
    let impact = body.impact.as_deref().map(parse_impact).transpose()?;
    let edit = IncidentEdit {
        title: body.title,
        impact,
        postmortem: body.postmortem,
    };
    let record = service::edit(
        &state.store,
        &caller.for_services(),
        id,
        edit,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    Ok(Json(record.into()))
}

#[utoipa::path(delete, path = "/api/v1/incidents/{id}", tag = TAG_INCIDENTS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
/// Delete an incident and its timeline (admin). The audit log keeps a copy.
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Admin>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id = incident_id(&id)?;
    service::delete(&state.store, &caller.for_services(), id, state.clock.now())
        .await
        .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}
