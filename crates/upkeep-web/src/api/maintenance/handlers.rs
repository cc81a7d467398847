//! The maintenance handlers: each reads its request, calls the maintenance service
//! ([`upkeep_engine::service::maintenance`]) and answers with the view or a [`Refusal`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use upkeep_domain::config::{Config, decode_rollout_json};
use upkeep_domain::duration::parse_duration;
use upkeep_domain::maintenance::rules::{CoveredTenant, covered_tenants, plan_fitting};
use upkeep_domain::maintenance::{Kind, MaintenanceEdit, NewMaintenance, Slot, TenantInput};
use upkeep_engine::service::maintenance::{self as service, Closing, EditRequest};
use upkeep_store::maintenance::MaintenanceFilter;

use super::super::{TAG_MAINTENANCE, instant};
use super::bodies::{
    CheckView, ClosingBody, EditMaintenanceBody, ListQuery, MaintenanceUpdateBody, MaintenanceView,
    NewMaintenanceBody, StartBody, TenantSlotView, closing_body, maintenance_id, parse_checks,
    parse_end, parse_instant, parse_kind, parse_status, parse_tenants,
};
use super::refusal::{Refusal, invalid, not_found};
use crate::auth::{Auth, Caller, Editor, Viewer};
use crate::extract::{ApiJson, ApiPath, ApiQuery, optional_json};
use crate::problem::Problem;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/maintenances", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = [MaintenanceView]), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
/// Maintenances with their timelines: `?state=upcoming|active|all`.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<MaintenanceView>>, Problem> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("`limit` must be between 1 and 1000"));
    }
    let filter = match q.state.as_deref() {
        None | Some("all") => MaintenanceFilter::All,
        Some("upcoming") => MaintenanceFilter::Upcoming,
        Some("active") => MaintenanceFilter::Active,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "unknown state `{other}`: expected upcoming, active or all"
            )));
        }
    };
    let rows = state.store.list_maintenances(filter, limit).await?;
    Ok(Json(rows.into_iter().map(MaintenanceView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/maintenances", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body = NewMaintenanceBody,
    responses((status = 201, body = MaintenanceView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
/// Schedule a maintenance. Planned ones need the policy's notice (default 14 days); emergency
/// ones need a `reason`. An admin may `force` a schedule outside the policy (audited).
pub async fn create(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiJson(body): ApiJson<NewMaintenanceBody>,
) -> Result<(StatusCode, Json<MaintenanceView>), Refusal> {
    let loaded = state.config.current();
    let force = body.force;
    let new = new_maintenance(body, &loaded.config)?;
    let scheduled = service::schedule(
        &state.store,
        Some(&loaded.config),
        &caller.for_services(),
        new,
        force,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(scheduled.record.into())))
}

/// The maintenance a scheduling body asks for (not checked yet).
fn new_maintenance(body: NewMaintenanceBody, config: &Config) -> Result<NewMaintenance, Refusal> {
    let kind = body
        .kind
        .as_deref()
        .map(parse_kind)
        .transpose()?
        .unwrap_or(Kind::Planned);
    let starts_at = parse_instant("starts_at", &body.starts_at)?;
    let ends_at = parse_end(
        starts_at,
        body.ends_at.as_deref(),
        body.duration.as_deref(),
        true,
    )?
    .unwrap_or(starts_at);
    let mut new = NewMaintenance::new(kind, &body.title, starts_at, ends_at);
    new.description = body.description;
    new.reason = body.reason;
    new.components = body.components;
    if let Some(t) = &body.tenants {
        new.tenants = parse_tenants(t)?;
    }
    if let Some(c) = &body.checks {
        new.checks = parse_checks(c)?;
    }
    if let Some(v) = body.counts_as_downtime {
        new.counts_as_downtime = v;
    }
    if let Some(v) = body.notify_subscribers {
        new.notify_subscribers = v;
    }
    new.message = body.message.unwrap_or_default();
    if let Some(rollout) = &body.rollout {
        new.rollout = Some(decode_rollout_json(rollout, config, &new.tenants).map_err(
            |problems| invalid(format!("`rollout`: {}", problems.join("; "))).with_errors(problems),
        )?);
    }
    Ok(new)
}

#[utoipa::path(post, path = "/api/v1/maintenances/check", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body = NewMaintenanceBody,
    responses((status = 200, body = CheckView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
/// Ask the rules about a maintenance without scheduling it: the same body as scheduling, the
/// same refusals (422 with the earliest allowed start when notice is short, the tenants that do
/// not fit), or 200 with each covered tenant's slot. Nothing is written or audited.
pub async fn check(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiJson(body): ApiJson<NewMaintenanceBody>,
) -> Result<Json<CheckView>, Refusal> {
    let loaded = state.config.current();
    let force = body.force;
    let mut new = new_maintenance(body, &loaded.config)?;
    let checked = service::check(
        Some(&loaded.config),
        &caller.for_services(),
        &mut new,
        force,
        state.clock.now(),
    )?;
    let covered = covered_tenants(&loaded.config, &new.tenants);
    Ok(Json(CheckView {
        starts_at: instant(new.starts_at),
        ends_at: instant(new.ends_at),
        forced_notice: checked.forced_notice,
        forced_slots: checked.forced_slots,
        slots: slot_views(covered, &checked.slots, new.starts_at, new.ends_at),
    }))
}

/// The views of `covered` tenants' slots among `placed`; a tenant without one (forced past the
/// plan) is shown over the whole window and not fitting.
fn slot_views(
    covered: Vec<CoveredTenant>,
    placed: &[Slot],
    starts_at: Timestamp,
    ends_at: Timestamp,
) -> Vec<TenantSlotView> {
    covered
        .into_iter()
        .map(|c| {
            let slot = placed.iter().find(|s| s.tenant == c.input.id);
            let (start, end) = slot.map_or((starts_at, ends_at), |s| (s.start, s.end));
            TenantSlotView {
                local_start: local(start, &c.input.zone),
                local_end: local(end, &c.input.zone),
                tenant: c.input.id,
                name: c.name,
                region: c.region,
                timezone: c.timezone,
                start: instant(start),
                end: instant(end),
                fits: slot.is_some(),
            }
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/maintenances/{id}", tag = TAG_MAINTENANCE,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = MaintenanceView), (status = 401, body = Problem),
              (status = 404, body = Problem)))]
/// One maintenance with its timeline.
pub async fn show(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MaintenanceView>, Problem> {
    match state.store.get_maintenance(maintenance_id(&id)?).await? {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(&id)),
    }
}

#[utoipa::path(patch, path = "/api/v1/maintenances/{id}", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body = EditMaintenanceBody,
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = MaintenanceView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
/// Reschedule or edit a maintenance that has not finished. The start moves only while it is
/// scheduled; moving it earlier needs the policy's notice counted from now (or an admin's
/// `force`). Every change bumps `sequence`.
pub async fn edit(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditMaintenanceBody>,
) -> Result<Json<MaintenanceView>, Refusal> {
    let id = maintenance_id(&id)?;
    let starts_at = body
        .starts_at
        .as_deref()
        .map(|s| parse_instant("starts_at", s))
        .transpose()?;
    let (ends_at, duration) = match (body.ends_at.as_deref(), body.duration.as_deref()) {
        (Some(_), Some(_)) => return Err(invalid("give `ends_at` or `duration`, not both").into()),
        (Some(end), None) => (Some(parse_instant("ends_at", end)?), None),
        (None, Some(d)) => (
            None,
            Some(parse_duration(d).map_err(|e| invalid(format!("`duration`: {e}")))?),
        ),
        (None, None) => (None, None),
    };
    let request = EditRequest {
        edit: MaintenanceEdit {
            title: body.title,
            description: body.description,
            reason: body.reason,
            starts_at,
            ends_at,
            components: body.components,
            tenants: body.tenants.as_ref().map(parse_tenants).transpose()?,
            checks: body.checks.as_deref().map(parse_checks).transpose()?,
            counts_as_downtime: body.counts_as_downtime,
            notify_subscribers: body.notify_subscribers,
            message: body.message,
            forced: None,
        },
        duration,
        force: body.force,
    };
    let loaded = state.config.current();
    let record = service::edit(
        &state.store,
        &loaded.config,
        &caller.for_services(),
        id,
        request,
        state.clock.now(),
    )
    .await?;
    Ok(Json(record.into()))
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/updates", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body = MaintenanceUpdateBody,
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = MaintenanceView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
/// Post an update to the timeline, optionally changing the status by hand (start, verify,
/// complete, cancel) where the current status allows it (409 otherwise).
pub async fn add_update(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MaintenanceUpdateBody>,
) -> Result<Json<MaintenanceView>, Refusal> {
    let id = maintenance_id(&id)?;
    let status = body.status.as_deref().map(parse_status).transpose()?;
    let record = service::post_update(
        &state.store,
        &caller.for_services(),
        id,
        status,
        &body.body,
        state.clock.now(),
    )
    .await?;
    Ok(Json(record.into()))
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/complete", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body(content = ClosingBody, description = "Optional"),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = MaintenanceView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
/// Complete an `in_progress` or `verifying` maintenance; before its end, this ends it early
/// (`ends_at` becomes now). Optional message: `{"body": "..."}`.
pub async fn complete(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    raw: Bytes,
) -> Result<Json<MaintenanceView>, Refusal> {
    close(&state, &caller, &id, &raw, Closing::Complete).await
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/cancel", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body(content = ClosingBody, description = "Optional"),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = MaintenanceView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
/// Cancel a `scheduled` or `in_progress` maintenance (one in progress ends now: `ends_at`). Subscribers
/// are told; the history is kept. Optional message: `{"body": "..."}`.
pub async fn cancel(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    raw: Bytes,
) -> Result<Json<MaintenanceView>, Refusal> {
    close(&state, &caller, &id, &raw, Closing::Cancel).await
}

/// Closes the maintenance `id` by hand, with the optional message of `raw`.
async fn close(
    state: &AppState,
    caller: &Caller,
    id: &str,
    raw: &Bytes,
    how: Closing,
) -> Result<Json<MaintenanceView>, Refusal> {
    let id = maintenance_id(id)?;
    let text = closing_body(raw)?;
    let record = service::close(
        &state.store,
        &caller.for_services(),
        id,
        how,
        &text,
        state.clock.now(),
    )
    .await?;
    Ok(Json(record.into()))
}

/// `t` in `zone`, RFC 3339 with the zone's offset.
fn local(t: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[utoipa::path(get, path = "/api/v1/maintenances/{id}/slots", tag = TAG_MAINTENANCE,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = [TenantSlotView]), (status = 401, body = Problem),
              (status = 404, body = Problem)))]
/// The tenants' slots within a maintenance, in tenant-id order, in UTC and in each tenant's
/// zone. Empty when no configured tenant is covered.
pub async fn slots(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<TenantSlotView>>, Problem> {
    let Some(record) = state.store.get_maintenance(maintenance_id(&id)?).await? else {
        return Err(not_found(&id));
    };
    let loaded = state.config.current();
    let covered = covered_tenants(&loaded.config, &record.tenants);
    let inputs: Vec<TenantInput> = covered.iter().map(|c| c.input.clone()).collect();
    // Forced past the plan: the most tenants that fit get their slots, the others none.
    let (placed, _) = plan_fitting(
        &loaded.config,
        record.starts_at,
        record.ends_at,
        &inputs,
        record.canary(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    let views = slot_views(covered, &placed, record.starts_at, record.ends_at);
    Ok(Json(views))
}

#[utoipa::path(post, path = "/api/v1/maintenances/{id}/start", tag = TAG_MAINTENANCE,
    security(("bearer" = [])), request_body(content = StartBody, description = "Optional"),
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, body = MaintenanceView), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
/// Start a `scheduled` maintenance by hand, now (409 from any other status). When failing
/// pre-flight checks hold it, this needs `{"skip_checks": true}` and an admin token; the
/// timeline update, and so the audit log, names the checks that were skipped.
pub async fn start(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
    raw: Bytes,
) -> Result<Json<MaintenanceView>, Refusal> {
    let id = maintenance_id(&id)?;
    let body: StartBody = optional_json(&raw, "valid here")?;
    let loaded = state.config.current();
    let started = service::start(
        &state.store,
        &caller.for_services(),
        id,
        body.skip_checks,
        &body.body.unwrap_or_default(),
        Some(&loaded.config),
        state.clock.now(),
    )
    .await?;
    Ok(Json(started.record.into()))
}
