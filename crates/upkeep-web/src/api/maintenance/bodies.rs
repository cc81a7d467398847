//! What the maintenance endpoints read and write: the views of a maintenance and its
//! timeline, the request bodies, and the parsing of their fields into the domain's types (a
//! malformed field is a 422 `invalid-maintenance` naming it).

use std::time::Duration;

use axum::body::Bytes;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use upkeep_domain::config::{ChecksMode, TenantSel};
use upkeep_domain::duration::parse_duration;
use upkeep_domain::maintenance::rules::validate_text;
use upkeep_domain::maintenance::{
    Kind, MaintenanceRecord, MaintenanceStatus, MaintenanceUpdateRecord, checks_str, tenants_json,
};
use upkeep_store::ids;
use utoipa::{IntoParams, ToSchema};

use super::super::instant;
use super::refusal::{invalid, not_found};
use crate::extract::optional_json;
use crate::problem::Problem;

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
    #[schema(schema_with = tenants_schema)]
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
    /// The rollout it drives (durations in milliseconds, webhook secrets redacted), or null;
    /// its progress is at `GET /api/v1/maintenances/{id}/rollout`.
    #[schema(value_type = Option<Object>)]
    pub rollout: Option<Value>,
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
            rollout: r.rollout.as_ref().map(|spec| spec.redacted()),
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
    /// RFC 3339; give this or `duration`. At most `maintenance.policy.max_span` (default 31
    /// days) after the start (422 beyond).
    pub ends_at: Option<String>,
    /// e.g. `2h`, `90m`, `1h30m`; give this or `ends_at`.
    pub duration: Option<String>,
    /// Affected component ids (at least one).
    pub components: Vec<String>,
    /// `"all"` (default) or a list of tenant ids.
    #[schema(schema_with = tenants_schema, required = false)]
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
    /// Drive the work: the same object as a window's `rollout:` in the configuration, with
    /// durations as text (e.g. `{"action": {"command": "./deploy.sh", "timeout": "10m"},
    /// "canary": ["acme"]}`). Every problem is listed in the 422.
    #[schema(value_type = Option<Object>)]
    pub rollout: Option<Value>,
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
    /// RFC 3339; or `duration` from the (new) start. At most `maintenance.policy.max_span`
    /// after the start (422 beyond).
    pub ends_at: Option<String>,
    pub duration: Option<String>,
    pub components: Option<Vec<String>>,
    #[schema(schema_with = tenants_schema, required = false)]
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

/// The rules' answer to a maintenance not scheduled yet (`POST /api/v1/maintenances/check`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// The window asked about, RFC 3339 in UTC.
    pub starts_at: String,
    pub ends_at: String,
    /// The notice violation `force` would override (an admin's), when forced.
    pub forced_notice: Option<String>,
    /// The tenants' slots `force` would override not fitting, when forced.
    pub forced_slots: Option<String>,
    /// Each covered tenant's slot, in tenant-id order; empty when no tenant is covered.
    pub slots: Vec<TenantSlotView>,
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
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `upcoming` (scheduled, soonest first), `active` (in progress or verifying) or `all`
    /// (default; latest start first).
    pub state: Option<String>,
    /// 1 to 1000 (default 50).
    pub limit: Option<u32>,
}

/// The id from the path, or 404 when it cannot be a maintenance id.
pub(super) fn maintenance_id(id: &str) -> Result<&str, Problem> {
    if ids::is_id(id) {
        Ok(id)
    } else {
        Err(not_found(id))
    }
}

pub(super) fn parse_instant(field: &str, s: &str) -> Result<Timestamp, Problem> {
    s.parse::<Timestamp>().map_err(|e| {
        invalid(format!(
            "`{field}` must be an RFC 3339 instant such as 2026-12-06T21:00:00Z: {e}"
        ))
    })
}

pub(super) fn parse_kind(s: &str) -> Result<Kind, Problem> {
    Kind::parse(s)
        .ok_or_else(|| invalid(format!("unknown kind `{s}`: expected planned or emergency")))
}

pub(super) fn parse_checks(s: &str) -> Result<ChecksMode, Problem> {
    match s {
        "run" => Ok(ChecksMode::Run),
        "skip" => Ok(ChecksMode::Skip),
        _ => Err(invalid(format!(
            "unknown checks `{s}`: expected run or skip"
        ))),
    }
}

/// The schema of a tenant selection: `"all"` or a list of tenant ids.
fn tenants_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["all"])),
        )
        .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some("`\"all\"` or a list of tenant ids"))
        .build()
        .into()
}

pub(super) fn parse_tenants(v: &Value) -> Result<TenantSel, Problem> {
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

pub(super) fn parse_status(s: &str) -> Result<MaintenanceStatus, Problem> {
    MaintenanceStatus::parse(s).ok_or_else(|| {
        invalid(format!(
            "unknown status `{s}`: expected scheduled, in_progress, verifying, completed or \
             cancelled"
        ))
    })
}

/// The end from `ends_at` or `duration` after `start`; exactly one of them must be given when
/// `required`.
pub(super) fn parse_end(
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

pub(super) fn closing_body(raw: &Bytes) -> Result<String, Problem> {
    let body: ClosingBody = optional_json(raw, "valid here")?;
    let text = body.body.unwrap_or_default();
    validate_text("body", &text).map_err(invalid)?;
    Ok(text)
}
