//! The `maintenances` and `maintenance_updates` columns, and how a row becomes a
//! [`MaintenanceRecord`] (a value the domain does not know is a [`StoreError::Corrupt`]).

use serde_json::Value;
use upkeep_domain::config::{ChecksMode, TenantSel};
use upkeep_domain::maintenance::{
    Kind, MaintenanceRecord, MaintenanceStatus, MaintenanceUpdateRecord,
};

use crate::StoreError;

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) starts_at: i64,
    pub(super) ends_at: i64,
    pub(super) status: String,
    pub(super) components: String,
    pub(super) tenants: String,
    pub(super) checks: String,
    pub(super) counts_as_downtime: bool,
    pub(super) notify_subscribers: bool,
    pub(super) window_id: Option<String>,
    pub(super) occurrence_key: Option<String>,
    pub(super) sequence: i64,
    pub(super) scheduled_at: i64,
    pub(super) hold_reason: Option<String>,
    pub(super) silence_id: Option<String>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) created_by: String,
    pub(super) revision: i64,
    pub(super) rollout: Option<String>,
}

pub(super) type UpdateRow = (String, String, String, i64, String);

macro_rules! select_maintenances {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, title, description, reason, starts_at, ends_at, status, components, \
             tenants, checks, counts_as_downtime, notify_subscribers, window_id, occurrence_key, \
             sequence, scheduled_at, hold_reason, silence_id, created_at, updated_at, created_by, \
             revision, rollout FROM maintenances ",
            $rest
        )
    };
}
pub(super) use select_maintenances;

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("maintenance {id}: {what}"))
}

fn status(id: &str, s: &str) -> Result<MaintenanceStatus, StoreError> {
    MaintenanceStatus::parse(s).ok_or_else(|| corrupt(id, format_args!("unknown status `{s}`")))
}

pub(crate) fn parse_tenants(id: &str, text: &str) -> Result<TenantSel, StoreError> {
    match serde_json::from_str::<Value>(text).map_err(|e| corrupt(id, e))? {
        Value::String(s) if s == "all" => Ok(TenantSel::All),
        value @ Value::Array(_) => serde_json::from_value(value)
            .map(TenantSel::List)
            .map_err(|e| corrupt(id, e)),
        other => Err(corrupt(id, format_args!("bad tenants `{other}`"))),
    }
}

pub(super) fn maintenance_record(
    row: Row,
    updates: Vec<MaintenanceUpdateRecord>,
) -> Result<MaintenanceRecord, StoreError> {
    let id = row.id;
    let kind = Kind::parse(&row.kind)
        .ok_or_else(|| corrupt(&id, format_args!("unknown kind `{}`", row.kind)))?;
    let checks = match row.checks.as_str() {
        "run" => ChecksMode::Run,
        "skip" => ChecksMode::Skip,
        other => return Err(corrupt(&id, format_args!("unknown checks `{other}`"))),
    };
    Ok(MaintenanceRecord {
        kind,
        title: row.title,
        description: row.description,
        reason: row.reason,
        starts_at: crate::timestamp(row.starts_at)?,
        ends_at: crate::timestamp(row.ends_at)?,
        status: status(&id, &row.status)?,
        components: serde_json::from_str(&row.components).map_err(|e| corrupt(&id, e))?,
        tenants: parse_tenants(&id, &row.tenants)?,
        checks,
        counts_as_downtime: row.counts_as_downtime,
        notify_subscribers: row.notify_subscribers,
        window_id: row.window_id,
        occurrence_key: row.occurrence_key,
        sequence: row.sequence,
        scheduled_at: crate::timestamp(row.scheduled_at)?,
        hold_reason: row.hold_reason,
        silence_id: row.silence_id,
        created_at: crate::timestamp(row.created_at)?,
        updated_at: crate::timestamp(row.updated_at)?,
        created_by: row.created_by,
        updates,
        revision: row.revision,
        rollout: match row.rollout {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt(&id, e))?),
            None => None,
        },
        id,
    })
}

pub(super) fn update_record(
    maintenance_id: &str,
    row: UpdateRow,
) -> Result<MaintenanceUpdateRecord, StoreError> {
    let (id, status_text, body, created_at, created_by) = row;
    Ok(MaintenanceUpdateRecord {
        id,
        status: status(maintenance_id, &status_text)?,
        body,
        created_at: crate::timestamp(created_at)?,
        created_by,
    })
}
