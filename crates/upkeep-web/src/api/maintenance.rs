//! `/api/v1/maintenances`: schedule maintenance windows, reschedule and edit them, post updates
//! to their timeline, complete (end early) and cancel them. Viewers read; editors write; only an
//! admin may `force` a schedule past the notice policy, and the audit log records the violation
//! that was overridden.
//!
//! Components and tenants must exist in the running configuration. The notice policy is the
//! configuration's `maintenance.policy` ([`upkeep_domain::maintenance::check_notice`]): a
//! violation is a 422 whose detail says what is wrong and, for short notice, names the earliest
//! allowed start (also given as the `earliest_allowed_start` member of the problem document).
//!
//! Tenant slots (`docs/decisions.md#maintenance`): scheduling, and any change of a maintenance's times
//! or tenants, plans one `tenant_slot` per covered tenant with
//! [`upkeep_domain::maintenance::plan_slots`] (outside each tenant's business hours, in its
//! region's zone, when the policy says so). A window that cannot hold them all is a 422
//! (`urn:upkeep:problem:tenant-slots`) naming every tenant that does not fit, also listed by id
//! in `tenants_not_fitting`; an admin's `force` accepts it and the audit log records it.
//! `GET .../{id}/slots` shows the plan.
//!
//! `POST .../{id}/start` starts a scheduled maintenance by hand now. When pre-flight checks hold
//! it (`hold_reason`), it needs `skip_checks: true`, which is for admins only; the timeline
//! update (and so the audit row of the start) says which failing checks were skipped.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use upkeep_domain::config::{ChecksMode, Config, TenantSel};
use upkeep_domain::duration::{format_duration, parse_duration};
use upkeep_domain::maintenance::{
    Kind, MaintenanceStatus, NoticeOutcome, NoticeViolation, SlotsError, TenantInput, check_notice,
    check_reschedule, plan_slots,
};
use upkeep_domain::role::Role;
use upkeep_store::ids;
use upkeep_store::maintenance::{
    MaintenanceEdit, MaintenanceFilter, MaintenanceRecord, MaintenanceUpdateRecord, NewMaintenance,
    checks_str, tenants_json, validate_new, validate_scope, validate_text, validate_title,
};
use utoipa::{IntoParams, ToSchema};

use super::{TAG_MAINTENANCE, instant};
use crate::auth::{Auth, Caller, Editor, Viewer};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::state::AppState;

/// One entry of a maintenance's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceUpdateView {
    pub id: String,
    /// The maintenance's status at this update.
    pub status: String,
    /// Markdown; may be empty (a change of status by time says nothing).
    pub body: String,
    pub created_at: String,
    pub created_by: String,
}

/// A maintenance with its timeline, newest update first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceView {
    pub id: String,
    /// `planned` or `emergency`.
    pub kind: String,
    pub title: String,
    /// Markdown.
    pub description: Option<String>,
    /// Why (e.g. the CVE an emergency maintenance fixes).
    pub reason: Option<String>,
    pub starts_at: String,
    /// The scheduled end, or the actual end once ended early.
    pub ends_at: String,
    /// `scheduled`, `in_progress`, `verifying`, `completed` or `cancelled`.
    pub status: String,
    /// Affected component ids.
    pub components: Vec<String>,
    /// `"all"` or a list of tenant ids.
    #[schema(value_type = Object)]
    pub tenants: Value,
    /// `run` or `skip`.
    pub checks: String,
    pub counts_as_downtime: bool,
    pub notify_subscribers: bool,
    /// The recurring window (from the configuration) this is an occurrence of.
    pub window_id: Option<String>,
    pub occurrence_key: Option<String>,
    /// The ICS `SEQUENCE`: up by one on every reschedule, edit and cancellation.
    pub sequence: i64,
    /// When the notice was last measured.
    pub scheduled_at: String,
    /// Why pre-flight checks hold the start, while they do.
    pub hold_reason: Option<String>,
    /// The Alertmanager silence of the window.
    pub silence_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updates: Vec<MaintenanceUpdateView>,
}

impl From<MaintenanceUpdateRecord> for MaintenanceUpdateView {
    fn from(u: MaintenanceUpdateRecord) -> Self {
        Self {
            id: u.id,
            status: u.status.as_str().to_owned(),
            body: u.body,
            created_at: instant(u.created_at),
            created_by: u.created_by,
        }
    }
}

impl From<MaintenanceRecord> for MaintenanceView {
    fn from(r: MaintenanceRecord) -> Self {
        Self {
            id: r.id,
            kind: r.kind.as_str().to_owned(),
            title: r.title,
            description: r.description,
            reason: r.reason,
            starts_at: instant(r.starts_at),
            ends_at: instant(r.ends_at),
            status: r.status.as_str().to_owned(),
            components: r.components,
            tenants: tenants_json(&r.tenants),
            checks: checks_str(r.checks).to_owned(),
            counts_as_downtime: r.counts_as_downtime,
            notify_subscribers: r.notify_subscribers,
            window_id: r.window_id,
            occurrence_key: r.occurrence_key,
            sequence: r.sequence,
            scheduled_at: instant(r.scheduled_at),
            hold_reason: r.hold_reason,
            silence_id: r.silence_id,
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
            created_by: r.created_by,
            updates: r
                .updates
                .into_iter()
                .map(MaintenanceUpdateView::from)
                .collect(),
        }
    }
}

/// The body of `POST /api/v1/maintenances`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMaintenanceBody {
    /// `planned` (default) or `emergency`.
    pub kind: Option<String>,
    /// 1 to 200 characters.
    pub title: String,
    /// Markdown, at most 20,000 characters.
    pub description: Option<String>,
    /// Why; required for an emergency maintenance (by default policy).
    pub reason: Option<String>,
    /// RFC 3339, e.g. `2026-12-06T21:00:00Z`.
    pub starts_at: String,
    /// RFC 3339; give this or `duration`.
    pub ends_at: Option<String>,
    /// e.g. `2h`, `90m`, `1h30m`; give this or `ends_at`.
    pub duration: Option<String>,
    /// Affected component ids (at least one).
    pub components: Vec<String>,
    /// `"all"` (default) or a list of tenant ids.
    #[schema(value_type = Object)]
    pub tenants: Option<Value>,
    /// `run` (default) or `skip`.
    pub checks: Option<String>,
    /// Default: false for planned, true for emergency.
    pub counts_as_downtime: Option<bool>,
    /// Default true.
    pub notify_subscribers: Option<bool>,
    /// The first update of the timeline (Markdown); default empty.
    pub message: Option<String>,
    /// Accept a schedule outside the notice policy (admin only; audited).
    #[serde(default)]
    pub force: bool,
}

/// The body of `PATCH /api/v1/maintenances/{id}`: the fields to change. Moving the start
/// earlier measures the notice again from now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMaintenanceBody {
    pub title: Option<String>,
    /// Markdown; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<Option<String>>,
    /// RFC 3339.
    pub starts_at: Option<String>,
    /// RFC 3339; or `duration` from the (new) start.
    pub ends_at: Option<String>,
    pub duration: Option<String>,
    pub components: Option<Vec<String>>,
    #[schema(value_type = Object)]
    pub tenants: Option<Value>,
    pub checks: Option<String>,
    pub counts_as_downtime: Option<bool>,
    pub notify_subscribers: Option<bool>,
    /// A message for the timeline (Markdown), e.g. why it moved.
    pub message: Option<String>,
    /// Accept a start moved earlier than the notice policy allows (admin only; audited).
    #[serde(default)]
    pub force: bool,
}

/// The body of `POST /api/v1/maintenances/{id}/updates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceUpdateBody {
    /// A status change by hand: `in_progress`, `verifying`, `completed` or `cancelled`, where
    /// the current status allows it; default unchanged.
    pub status: Option<String>,
    /// Markdown, at most 20,000 characters.
    #[serde(default)]
    pub body: String,
}

/// The optional body of `POST /api/v1/maintenances/{id}/complete` and `.../cancel`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosingBody {
    /// Markdown, at most 20,000 characters.
    pub body: Option<String>,
}

/// The optional body of `POST /api/v1/maintenances/{id}/start`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Start although failing pre-flight checks hold the maintenance (admin only); the
    /// timeline and the audit log record the checks that were skipped.
    #[serde(default)]
    pub skip_checks: bool,
    /// Markdown, at most 20,000 characters.
    pub body: Option<String>,
}

/// One tenant's slot within a maintenance.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSlotView {
    pub tenant: String,
    /// The tenant's display name.
    pub name: String,
    /// The tenant's region id.
    pub region: String,
    /// The region's zone (IANA name).
    pub timezone: String,
    /// RFC 3339 in UTC.
    pub start: String,
    pub end: String,
    /// The same instants in the tenant's zone, RFC 3339 with its offset.
    pub local_start: String,
    pub local_end: String,
    /// `false` when the window cannot hold this tenant's slot (an admin forced the schedule):
    /// the times are then the whole window.
    pub fits: bool,
}

/// A field that is present (even as `null`) becomes `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Which maintenances to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `upcoming` (scheduled, soonest first), `active` (in progress or verifying) or `all`
    /// (default; latest start first).
    pub state: Option<String>,
    /// 1 to 1000 (default 50).
    pub limit: Option<u32>,
}

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

impl From<upkeep_store::StoreError> for Refusal {
    fn from(e: upkeep_store::StoreError) -> Self {
        Refusal::Problem(e.into())
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

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::unprocessable(detail).with_type("invalid-maintenance")
}

fn conflict(detail: String) -> Problem {
    Problem::new(StatusCode::CONFLICT, detail).with_type("conflict")
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!("there is no maintenance `{id}`"))
}

/// The id from the path, or 404 when it cannot be a maintenance id.
fn maintenance_id(id: &str) -> Result<&str, Problem> {
    if ids::is_id(id) {
        Ok(id)
    } else {
        Err(not_found(id))
    }
}

fn parse_instant(field: &str, s: &str) -> Result<Timestamp, Problem> {
    s.parse::<Timestamp>().map_err(|e| {
        invalid(format!(
            "`{field}` must be an RFC 3339 instant such as 2026-12-06T21:00:00Z: {e}"
        ))
    })
}

fn parse_kind(s: &str) -> Result<Kind, Problem> {
    Kind::parse(s)
        .ok_or_else(|| invalid(format!("unknown kind `{s}`: expected planned or emergency")))
}

fn parse_checks(s: &str) -> Result<ChecksMode, Problem> {
    match s {
        "run" => Ok(ChecksMode::Run),
        "skip" => Ok(ChecksMode::Skip),
        _ => Err(invalid(format!(
            "unknown checks `{s}`: expected run or skip"
        ))),
    }
}

fn parse_tenants(v: &Value) -> Result<TenantSel, Problem> {
    match v {
        Value::String(s) if s == "all" => Ok(TenantSel::All),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid("`tenants` lists tenant ids (strings)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TenantSel::List),
        _ => Err(invalid("`tenants` is \"all\" or a list of tenant ids")),
    }
}

fn parse_status(s: &str) -> Result<MaintenanceStatus, Problem> {
    MaintenanceStatus::parse(s).ok_or_else(|| {
        invalid(format!(
            "unknown status `{s}`: expected scheduled, in_progress, verifying, completed or \
             cancelled"
        ))
    })
}

/// The end from `ends_at` or `duration` after `start`; exactly one of them must be given when
/// `required`.
fn parse_end(
    start: Timestamp,
    ends_at: Option<&str>,
    duration: Option<&str>,
    required: bool,
) -> Result<Option<Timestamp>, Problem> {
    match (ends_at, duration) {
        (Some(_), Some(_)) => Err(invalid("give `ends_at` or `duration`, not both")),
        (Some(end), None) => parse_instant("ends_at", end).map(Some),
        (None, Some(d)) => {
            let d: Duration = parse_duration(d).map_err(|e| invalid(format!("`duration`: {e}")))?;
            let end = SignedDuration::try_from(d)
                .ok()
                .and_then(|d| start.checked_add(d).ok())
                .ok_or_else(|| invalid("`duration` is too long"))?;
            Ok(Some(end))
        }
        (None, None) if required => Err(invalid(
            "give the end as `ends_at` (RFC 3339) or `duration` (e.g. 2h)",
        )),
        (None, None) => Ok(None),
    }
}

/// `force` is for admins only.
fn check_force(caller: &Caller, force: bool) -> Result<(), Problem> {
    if force && caller.role != Role::Admin {
        return Err(Problem::forbidden(
            "`force` overrides the maintenance notice policy and the tenant slots, and needs an \
             admin token",
        ));
    }
    Ok(())
}

/// The violation text to audit, or the refusal.
fn forced(outcome: Result<NoticeOutcome, NoticeViolation>) -> Result<Option<String>, Refusal> {
    match outcome {
        Ok(NoticeOutcome::Accepted) => Ok(None),
        Ok(NoticeOutcome::Forced { violation }) => Ok(Some(violation.to_string())),
        Err(violation) => Err(Refusal::Notice(violation)),
    }
}

/// The configured tenants a maintenance covers, in id order, with what their slots need:
/// `(input, name, region id, zone name)`. Unknown ids (a tenant removed from the
/// configuration since) are left out.
fn covered_tenants(config: &Config, sel: &TenantSel) -> Vec<(TenantInput, String, String, String)> {
    let ids: BTreeSet<&String> = match sel {
        TenantSel::All => config.tenants.keys().collect(),
        TenantSel::List(ids) => ids.iter().collect(),
    };
    ids.into_iter()
        .filter_map(|id| {
            let tenant = config.tenants.get(id)?;
            let region = config.regions.get(&tenant.region)?;
            Some((
                TenantInput {
                    id: id.clone(),
                    zone: region.timezone.clone(),
                    business_hours: region.business_hours.clone(),
                },
                tenant.name.clone(),
                tenant.region.clone(),
                region.timezone_name.clone(),
            ))
        })
        .collect()
}

/// What does not fit: "the window cannot fit a 15m slot outside business hours for: beta (Beta
/// Inc), gamma (Gamma)".
fn slots_detail(config: &Config, missing: &[String]) -> String {
    let policy = &config.maintenance.policy;
    let names: Vec<String> = missing
        .iter()
        .map(|id| match config.tenants.get(id) {
            Some(t) => format!("{id} ({})", t.name),
            None => id.clone(),
        })
        .collect();
    format!(
        "the window cannot fit a {} slot{} for: {}",
        format_duration(policy.tenant_slot),
        if policy.outside_business_hours {
            " outside business hours"
        } else {
            ""
        },
        names.join(", ")
    )
}

/// Plans the tenant slots of `[start, end)` for `sel` under the configuration's policy. A
/// window that cannot hold every tenant's slot is refused, unless an admin `force`s it: then
/// the text of what was overridden is returned for the audit log. Nothing to plan (no tenants
/// configured or covered) passes.
fn check_slots(
    config: &Config,
    start: Timestamp,
    end: Timestamp,
    sel: &TenantSel,
    force: bool,
) -> Result<Option<String>, Refusal> {
    let inputs: Vec<TenantInput> = covered_tenants(config, sel)
        .into_iter()
        .map(|(input, ..)| input)
        .collect();
    if inputs.is_empty() {
        return Ok(None);
    }
    let policy = &config.maintenance.policy;
    match plan_slots(
        start,
        end,
        &inputs,
        policy.tenant_slot,
        policy.outside_business_hours,
    ) {
        Ok(_) => Ok(None),
        Err(SlotsError::DoesNotFit { tenants }) => {
            let detail = slots_detail(config, &tenants);
            if force {
                Ok(Some(detail))
            } else {
                Err(Refusal::Slots { detail, tenants })
            }
        }
        Err(other) => Err(invalid(other.to_string()).into()),
    }
}

/// Both overridden violations, for the one `forced` member of the audit row.
fn join_forced(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

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
    check_force(&caller, body.force)?;
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
    let mut new = NewMaintenance::new(kind, body.title.trim(), starts_at, ends_at);
    new.description = body.description;
    new.reason = body.reason.filter(|r| !r.trim().is_empty());
    new.components = dedup(body.components);
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
    let loaded = state.config.current();
    validate_new(&new, Some(&loaded.config)).map_err(invalid)?;
    let now = state.clock.now();
    let forced = forced(check_notice(
        &loaded.config.maintenance.policy,
        kind,
        new.reason.as_deref(),
        now,
        starts_at,
        body.force,
    ))?;
    let slots_forced = check_slots(&loaded.config, starts_at, ends_at, &new.tenants, body.force)?;
    let forced = join_forced(forced, slots_forced);
    let record = state
        .store
        .create_maintenance(&new, &caller.actor(), now, forced.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
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
    check_force(&caller, body.force)?;
    let Some(current) = state.store.get_maintenance(id).await? else {
        return Err(not_found(id).into());
    };
    let starts_at = body
        .starts_at
        .as_deref()
        .map(|s| parse_instant("starts_at", s))
        .transpose()?;
    if current.status.is_terminal() {
        return Err(conflict(format!(
            "maintenance {id} is {} and can no longer be changed",
            current.status
        ))
        .into());
    }
    if starts_at.is_some_and(|s| s != current.starts_at)
        && current.status != MaintenanceStatus::Scheduled
    {
        return Err(conflict(format!(
            "maintenance {id} is {} and its start can no longer move; change its end or \
             complete it",
            current.status
        ))
        .into());
    }
    let start = starts_at.unwrap_or(current.starts_at);
    let ends_at = parse_end(
        start,
        body.ends_at.as_deref(),
        body.duration.as_deref(),
        false,
    )?;
    let title = body
        .title
        .as_deref()
        .map(|t| validate_title(t).map(str::to_owned))
        .transpose()
        .map_err(invalid)?;
    for (field, text) in [
        (
            "description",
            body.description.as_ref().and_then(Option::as_ref),
        ),
        ("reason", body.reason.as_ref().and_then(Option::as_ref)),
        ("message", body.message.as_ref()),
    ] {
        if let Some(text) = text {
            validate_text(field, text).map_err(invalid)?;
        }
    }
    let tenants = body.tenants.as_ref().map(parse_tenants).transpose()?;
    let checks = body.checks.as_deref().map(parse_checks).transpose()?;
    let components = body.components.map(dedup);
    let loaded = state.config.current();
    validate_scope(
        start,
        ends_at.unwrap_or(current.ends_at),
        components.as_deref().unwrap_or(&current.components),
        tenants.as_ref().unwrap_or(&current.tenants),
        Some(&loaded.config),
    )
    .map_err(invalid)?;
    let now = state.clock.now();
    let forced = match starts_at {
        Some(new_start) => forced(check_reschedule(
            &loaded.config.maintenance.policy,
            current.kind,
            current.starts_at,
            new_start,
            now,
            body.force,
        ))?,
        None => None,
    };
    let new_end = ends_at.unwrap_or(current.ends_at);
    let new_tenants = tenants.as_ref().unwrap_or(&current.tenants);
    let slots_forced = if start != current.starts_at
        || new_end != current.ends_at
        || *new_tenants != current.tenants
    {
        check_slots(&loaded.config, start, new_end, new_tenants, body.force)?
    } else {
        None
    };
    let forced = join_forced(forced, slots_forced);
    let edit = MaintenanceEdit {
        title,
        description: body.description,
        reason: body.reason,
        starts_at,
        ends_at,
        components,
        tenants,
        checks,
        counts_as_downtime: body.counts_as_downtime,
        notify_subscribers: body.notify_subscribers,
        message: body.message,
        forced,
    };
    match state
        .store
        .reschedule_maintenance(id, &edit, &caller.actor(), now)
        .await?
    {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(id).into()),
    }
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
) -> Result<Json<MaintenanceView>, Problem> {
    let id = maintenance_id(&id)?;
    let status = body.status.as_deref().map(parse_status).transpose()?;
    validate_text("body", &body.body).map_err(invalid)?;
    if status.is_none() && body.body.trim().is_empty() {
        return Err(invalid("send a `body`, a `status` or both"));
    }
    match state
        .store
        .add_maintenance_update(id, status, &body.body, &caller.actor(), state.clock.now())
        .await?
    {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(id)),
    }
}

/// An optional JSON body: empty (or only whitespace) means the defaults.
fn optional_body<T: DeserializeOwned + Default>(raw: &Bytes) -> Result<T, Problem> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        serde_json::from_slice(raw).map_err(|e| {
            let status = if e.is_data() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            Problem::new(status, format!("the body is not valid here: {e}"))
                .with_type("invalid-body")
        })
    }
}

fn closing_body(raw: &Bytes) -> Result<String, Problem> {
    let body: ClosingBody = optional_body(raw)?;
    let text = body.body.unwrap_or_default();
    validate_text("body", &text).map_err(invalid)?;
    Ok(text)
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
) -> Result<Json<MaintenanceView>, Problem> {
    let id = maintenance_id(&id)?;
    let text = closing_body(&raw)?;
    let Some(current) = state.store.get_maintenance(id).await? else {
        return Err(not_found(id));
    };
    if !matches!(
        current.status,
        MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
    ) {
        return Err(conflict(format!(
            "maintenance {id} is {}: only one in progress or verifying can be completed",
            current.status
        )));
    }
    match state
        .store
        .complete_maintenance(id, &text, &caller.actor(), state.clock.now())
        .await?
    {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(id)),
    }
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
) -> Result<Json<MaintenanceView>, Problem> {
    let id = maintenance_id(&id)?;
    let text = closing_body(&raw)?;
    match state
        .store
        .cancel_maintenance(id, &text, &caller.actor(), state.clock.now())
        .await?
    {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(id)),
    }
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
    let policy = &loaded.config.maintenance.policy;
    let covered = covered_tenants(&loaded.config, &record.tenants);
    let plan = |inputs: &[TenantInput]| {
        plan_slots(
            record.starts_at,
            record.ends_at,
            inputs,
            policy.tenant_slot,
            policy.outside_business_hours,
        )
    };
    let inputs: Vec<TenantInput> = covered.iter().map(|(i, ..)| i.clone()).collect();
    let placed = match plan(&inputs) {
        Ok(placed) => placed,
        // Forced past the plan: those that fit get the slots they would get alone.
        Err(SlotsError::DoesNotFit { tenants }) => {
            let fitting: Vec<TenantInput> = inputs
                .into_iter()
                .filter(|i| !tenants.contains(&i.id))
                .collect();
            plan(&fitting).map_err(|e| invalid(e.to_string()))?
        }
        Err(other) => return Err(invalid(other.to_string())),
    };
    let views = covered
        .into_iter()
        .map(|(input, name, region, timezone)| {
            let slot = placed.iter().find(|s| s.tenant == input.id);
            let (start, end) =
                slot.map_or((record.starts_at, record.ends_at), |s| (s.start, s.end));
            TenantSlotView {
                tenant: input.id,
                name,
                region,
                timezone,
                start: instant(start),
                end: instant(end),
                local_start: local(start, &input.zone),
                local_end: local(end, &input.zone),
                fits: slot.is_some(),
            }
        })
        .collect();
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
) -> Result<Json<MaintenanceView>, Problem> {
    let id = maintenance_id(&id)?;
    let body: StartBody = optional_body(&raw)?;
    let message = body.body.unwrap_or_default();
    validate_text("body", &message).map_err(invalid)?;
    if body.skip_checks && caller.role != Role::Admin {
        return Err(Problem::forbidden(
            "`skip_checks` starts a maintenance past failing pre-flight checks and needs an \
             admin token",
        ));
    }
    let Some(current) = state.store.get_maintenance(id).await? else {
        return Err(not_found(id));
    };
    if current.status != MaintenanceStatus::Scheduled {
        return Err(conflict(format!(
            "maintenance {id} is {}: only a scheduled one can be started",
            current.status
        )));
    }
    let text = match &current.hold_reason {
        Some(reason) if !body.skip_checks => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                format!(
                    "pre-flight checks hold maintenance {id}: {reason}; an admin may start it \
                     anyway with `skip_checks: true`"
                ),
            )
            .with_type("preflight-hold"));
        }
        Some(reason) => {
            let mut text = format!("Started by hand, skipping failing pre-flight checks: {reason}");
            if !message.trim().is_empty() {
                text.push_str("\n\n");
                text.push_str(&message);
            }
            text
        }
        None => message,
    };
    validate_text("body", &text).map_err(invalid)?;
    match state
        .store
        .add_maintenance_update(
            id,
            Some(MaintenanceStatus::InProgress),
            &text,
            &caller.actor(),
            state.clock.now(),
        )
        .await?
    {
        Some(r) => Ok(Json(r.into())),
        None => Err(not_found(id)),
    }
}
