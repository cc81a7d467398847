//! Maintenance windows: the maintenance row (a one-off maintenance, or one occurrence of a
//! recurring window from the configuration) and its timeline of updates
//! (`docs/decisions.md#maintenance`).
//!
//! Callers apply the notice policy ([`upkeep_domain::maintenance::check_notice`]) and check
//! components and tenants against the configuration; this module writes each change with its
//! audit row (`maintenance.create|reschedule|update|start|verify|complete|cancel|hold|silence`)
//! in one transaction. Rules kept here:
//! - `sequence` is the ICS `SEQUENCE`: it starts at 0 and goes up by one on every reschedule or
//!   edit, on a cancellation and when an early end moves `ends_at`.
//! - `scheduled_at` is when the notice was last measured: the creation, and every reschedule
//!   that moves the start earlier.
//! - Status changes by time ([`Store::transition_maintenance`]) are one conditional `UPDATE ...
//!   WHERE status = FROM`, so across replicas exactly one caller wins each transition. Changes by
//!   hand follow [`manual_transition_allowed`]. `starts_at` and `ends_at` then tell what really
//!   happened: starting a maintenance by hand before its start sets `starts_at` to that moment,
//!   ending one early (completing or cancelling it once started, before its end) sets `ends_at`
//!   to that moment, and either bumps `sequence`. A finished maintenance (`completed`,
//!   `cancelled`) is never changed again.
//! - Other concurrent changes to one maintenance are serialised optimistically: each bumps a
//!   revision and is retried on a clash.
//! - Occurrences of recurring windows are keyed by `occurrence_key` (`WINDOW_ID@LOCAL_START`)
//!   and inserted with `ON CONFLICT (occurrence_key) DO NOTHING`, so materialising twice, or
//!   from two replicas, stores each occurrence once.

use jiff::Timestamp;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};
use upkeep_domain::config::{ChecksMode, Config, TenantSel, Window};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus, Occurrence, StoredOccurrence, Update};
use upkeep_domain::notify::{MaintenanceEvent, MaintenanceNotice, Notice};

use crate::audit::{AuditEntry, insert_audit};
use crate::outbox::insert_notice;
use crate::{Store, StoreError, ids, with_pool};

/// How often a change is retried when another change to the same maintenance won the race.
const MAX_ATTEMPTS: usize = 8;

/// A maintenance with its timeline, newest update first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceRecord {
    /// 12 lowercase alphanumerics.
    pub id: String,
    /// `planned` or `emergency`.
    pub kind: Kind,
    pub title: String,
    /// Markdown.
    pub description: Option<String>,
    /// Why (e.g. the CVE an emergency maintenance fixes).
    pub reason: Option<String>,
    /// The scheduled start; the actual start once started early by hand.
    pub starts_at: Timestamp,
    /// The scheduled end; the actual end once ended early by hand.
    pub ends_at: Timestamp,
    pub status: MaintenanceStatus,
    /// Affected component ids.
    pub components: Vec<String>,
    /// Affected tenants: `"all"` or a list of tenant ids.
    #[serde(serialize_with = "serialize_tenants")]
    pub tenants: TenantSel,
    /// `run` (monitors keep probing, results recorded as maintenance) or `skip`.
    #[serde(serialize_with = "serialize_checks")]
    pub checks: ChecksMode,
    /// Whether the window counts as downtime in SLA figures.
    pub counts_as_downtime: bool,
    /// Whether subscribers are notified.
    pub notify_subscribers: bool,
    /// The recurring window this is an occurrence of.
    pub window_id: Option<String>,
    /// `WINDOW_ID@LOCAL_START` for an occurrence of a recurring window.
    pub occurrence_key: Option<String>,
    /// The ICS `SEQUENCE`; see the module documentation.
    pub sequence: i64,
    /// When the notice was last measured (creation, or a reschedule to an earlier start).
    pub scheduled_at: Timestamp,
    /// Why pre-flight checks hold the start, while they do.
    pub hold_reason: Option<String>,
    /// The Alertmanager silence created for the window.
    pub silence_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: String,
    /// The timeline, newest first.
    pub updates: Vec<MaintenanceUpdateRecord>,
    #[serde(skip)]
    revision: i64,
}

/// One entry of a maintenance's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceUpdateRecord {
    pub id: String,
    /// The maintenance's status set by (or current at) this update.
    pub status: MaintenanceStatus,
    /// Markdown; may be empty.
    pub body: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

fn serialize_tenants<S: Serializer>(tenants: &TenantSel, s: S) -> Result<S::Ok, S::Error> {
    tenants_json(tenants).serialize(s)
}

fn serialize_checks<S: Serializer>(checks: &ChecksMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(checks_str(*checks))
}

/// `"all"` or the list of tenant ids, as stored and as the API writes it.
pub fn tenants_json(tenants: &TenantSel) -> Value {
    match tenants {
        TenantSel::All => Value::String("all".into()),
        TenantSel::List(ids) => json!(ids),
    }
}

/// `run` or `skip`.
pub fn checks_str(checks: ChecksMode) -> &'static str {
    match checks {
        ChecksMode::Run => "run",
        ChecksMode::Skip => "skip",
    }
}

/// A new one-off maintenance. Check it first against the notice policy and the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMaintenance {
    pub kind: Kind,
    pub title: String,
    pub description: Option<String>,
    pub reason: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub components: Vec<String>,
    pub tenants: TenantSel,
    pub checks: ChecksMode,
    pub counts_as_downtime: bool,
    pub notify_subscribers: bool,
    /// The first update's body (Markdown; may be empty).
    pub message: String,
}

impl NewMaintenance {
    /// A maintenance with the default switches (`docs/decisions.md#maintenance`): every tenant, checks run, counted as downtime
    /// only when it is an emergency, subscribers notified.
    pub fn new(kind: Kind, title: &str, starts_at: Timestamp, ends_at: Timestamp) -> Self {
        Self {
            kind,
            title: title.to_owned(),
            description: None,
            reason: None,
            starts_at,
            ends_at,
            components: Vec::new(),
            tenants: TenantSel::All,
            checks: ChecksMode::Run,
            counts_as_downtime: kind == Kind::Emergency,
            notify_subscribers: true,
            message: String::new(),
        }
    }
}

/// A reschedule or edit. `None` leaves a field as it is; `description: Some(None)` removes the
/// description. Check a start moved earlier first with
/// [`upkeep_domain::maintenance::check_reschedule`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MaintenanceEdit {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub reason: Option<Option<String>>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub components: Option<Vec<String>>,
    pub tenants: Option<TenantSel>,
    pub checks: Option<ChecksMode>,
    pub counts_as_downtime: Option<bool>,
    pub notify_subscribers: Option<bool>,
    /// A message for the timeline (an update with the current status); `None`: no update.
    pub message: Option<String>,
    /// The notice violation an admin forced, recorded in the audit row.
    pub forced: Option<String>,
}

/// Which maintenances [`Store::list_maintenances`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceFilter {
    /// `scheduled` ones (including those whose start is held or overdue), soonest first.
    Upcoming,
    /// `in_progress` and `verifying` ones, by start.
    Active,
    /// Every one, latest start first.
    All,
    /// `completed` and `cancelled` ones, most recently changed first.
    Finished,
    /// Cancelled occurrences of recurring windows, latest start first (the calendars mark
    /// them in their series).
    CancelledOccurrences,
    /// Those holding an Alertmanager silence, by start.
    WithSilence,
    /// `scheduled` one-off maintenances (not occurrences of a window), soonest first.
    UpcomingOneOff,
}

/// What [`Store::apply_occurrence_update`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OccurrenceChanges {
    /// Occurrences stored by this call (not those another call stored first).
    pub inserted: Vec<MaintenanceRecord>,
    /// Future occurrences moved to new times.
    pub rescheduled: Vec<MaintenanceRecord>,
    /// Future occurrences the window no longer produces, now cancelled.
    pub cancelled: Vec<MaintenanceRecord>,
}

/// Whether a person may move a maintenance from `from` to `to`: start it
/// (`scheduled → in_progress`), verify it (`in_progress → verifying`, `verifying →
/// in_progress`), complete it (`in_progress | verifying → completed`) or cancel it (`scheduled |
/// in_progress → cancelled`). Finished ones never move.
pub fn manual_transition_allowed(from: MaintenanceStatus, to: MaintenanceStatus) -> bool {
    use MaintenanceStatus::*;
    matches!(
        (from, to),
        (Scheduled, InProgress)
            | (Scheduled, Cancelled)
            | (InProgress, Verifying)
            | (InProgress, Completed)
            | (InProgress, Cancelled)
            | (Verifying, InProgress)
            | (Verifying, Completed)
    )
}

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, reason or update body, in characters.
pub const TEXT_MAX_CHARS: usize = 20_000;

/// Checks a title: 1 to [`TITLE_MAX_CHARS`] characters once trimmed, no control characters.
/// Returns it trimmed. Shared by the admin API and the command line, so both refuse alike.
pub fn validate_title(title: &str) -> Result<&str, String> {
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > TITLE_MAX_CHARS {
        return Err(format!(
            "a maintenance title has 1 to {TITLE_MAX_CHARS} characters (this one has {chars})"
        ));
    }
    if title.chars().any(char::is_control) {
        return Err("a maintenance title must not contain control characters".to_owned());
    }
    Ok(title)
}

/// Checks a Markdown text (`field` names it in the message): at most [`TEXT_MAX_CHARS`].
pub fn validate_text(field: &str, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > TEXT_MAX_CHARS {
        return Err(format!(
            "`{field}` has at most {TEXT_MAX_CHARS} characters (this one has {chars})"
        ));
    }
    Ok(())
}

/// Checks the span (the end after the start) and the affected components and tenants: at least
/// one component, each known to `config` when one is given, and every listed tenant known.
pub fn validate_scope(
    starts_at: Timestamp,
    ends_at: Timestamp,
    components: &[String],
    tenants: &TenantSel,
    config: Option<&Config>,
) -> Result<(), String> {
    if ends_at <= starts_at {
        return Err(format!(
            "the end ({ends_at}) must come after the start ({starts_at})"
        ));
    }
    if components.is_empty() {
        return Err("name at least one affected component".to_owned());
    }
    let Some(config) = config else {
        return Ok(());
    };
    let list = |ids: Vec<&String>| {
        ids.into_iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for c in components {
        if !config.components.contains_key(c) {
            return Err(format!(
                "there is no component `{c}` in the configuration; known components: {}",
                list(config.components.keys().collect())
            ));
        }
    }
    if let TenantSel::List(ids) = tenants {
        if ids.is_empty() {
            return Err("name at least one tenant, or `all`".to_owned());
        }
        for t in ids {
            if !config.tenants.contains_key(t) {
                let known = if config.tenants.is_empty() {
                    "none are configured".to_owned()
                } else {
                    format!("known tenants: {}", list(config.tenants.keys().collect()))
                };
                return Err(format!(
                    "there is no tenant `{t}` in the configuration; {known}"
                ));
            }
        }
    }
    Ok(())
}

/// Checks a new maintenance with [`validate_title`], [`validate_text`] and
/// [`validate_scope`]. The notice policy is checked apart, because `force` overrides it.
pub fn validate_new(new: &NewMaintenance, config: Option<&Config>) -> Result<(), String> {
    validate_title(&new.title)?;
    if let Some(d) = &new.description {
        validate_text("description", d)?;
    }
    if let Some(r) = &new.reason {
        validate_text("reason", r)?;
    }
    validate_text("message", &new.message)?;
    validate_scope(
        new.starts_at,
        new.ends_at,
        &new.components,
        &new.tenants,
        config,
    )
}

fn transition_action(to: MaintenanceStatus) -> &'static str {
    match to {
        MaintenanceStatus::Scheduled => "maintenance.update",
        MaintenanceStatus::InProgress => "maintenance.start",
        MaintenanceStatus::Verifying => "maintenance.verify",
        MaintenanceStatus::Completed => "maintenance.complete",
        MaintenanceStatus::Cancelled => "maintenance.cancel",
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kind: String,
    title: String,
    description: Option<String>,
    reason: Option<String>,
    starts_at: i64,
    ends_at: i64,
    status: String,
    components: String,
    tenants: String,
    checks: String,
    counts_as_downtime: bool,
    notify_subscribers: bool,
    window_id: Option<String>,
    occurrence_key: Option<String>,
    sequence: i64,
    scheduled_at: i64,
    hold_reason: Option<String>,
    silence_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    created_by: String,
    revision: i64,
}

type UpdateRow = (String, String, String, i64, String);

macro_rules! select_maintenances {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, title, description, reason, starts_at, ends_at, status, components, \
             tenants, checks, counts_as_downtime, notify_subscribers, window_id, occurrence_key, \
             sequence, scheduled_at, hold_reason, silence_id, created_at, updated_at, created_by, \
             revision FROM maintenances ",
            $rest
        )
    };
}

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("maintenance {id}: {what}"))
}

fn status(id: &str, s: &str) -> Result<MaintenanceStatus, StoreError> {
    MaintenanceStatus::parse(s).ok_or_else(|| corrupt(id, format_args!("unknown status `{s}`")))
}

fn parse_tenants(id: &str, text: &str) -> Result<TenantSel, StoreError> {
    match serde_json::from_str::<Value>(text).map_err(|e| corrupt(id, e))? {
        Value::String(s) if s == "all" => Ok(TenantSel::All),
        value @ Value::Array(_) => serde_json::from_value(value)
            .map(TenantSel::List)
            .map_err(|e| corrupt(id, e)),
        other => Err(corrupt(id, format_args!("bad tenants `{other}`"))),
    }
}

fn maintenance_record(
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
        id,
    })
}

fn update_record(
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

/// The maintenance as the audit log records it: everything but the timeline, plus the update
/// this change added and the forced notice violation, if any.
fn audit_json(
    record: &MaintenanceRecord,
    update: Option<&MaintenanceUpdateRecord>,
    forced: Option<&str>,
) -> Value {
    let mut value = json!(record);
    if let Value::Object(map) = &mut value {
        map.remove("updates");
        if let Some(update) = update {
            map.insert("update".into(), json!(update));
        }
        if let Some(forced) = forced {
            map.insert("forced".into(), Value::String(forced.to_owned()));
        }
    }
    value
}

/// The operator event of a hold change: `held` when pre-flight checks start holding a scheduled
/// maintenance (or hold it for a new reason), `ok` when they release it or it stops being
/// scheduled (started by hand, cancelled).
fn hold_event(
    before: &MaintenanceRecord,
    after: &MaintenanceRecord,
) -> Option<(String, String, String, String)> {
    let held = |r: &MaintenanceRecord| {
        r.hold_reason
            .as_ref()
            .filter(|_| r.status == MaintenanceStatus::Scheduled)
            .cloned()
    };
    let source = preflight_source(&after.id);
    match (held(before), held(after)) {
        (old, Some(reason)) if old.as_ref() != Some(&reason) => Some((
            source,
            if old.is_some() { "held" } else { "ok" }.to_owned(),
            "held".to_owned(),
            format!("maintenance `{}` is held: {reason}", after.title),
        )),
        (Some(_), None) => Some((
            source,
            "held".to_owned(),
            "ok".to_owned(),
            format!(
                "maintenance `{}` is no longer held ({})",
                after.title,
                if after.status == MaintenanceStatus::Scheduled {
                    "its checks pass".to_owned()
                } else {
                    after.status.to_string()
                }
            ),
        )),
        _ => None,
    }
}

fn conflict(id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "maintenance {id} kept changing under concurrent updates; try again"
    ))
}

fn finished(record: &MaintenanceRecord) -> StoreError {
    StoreError::Conflict(format!(
        "maintenance {} is {} and can no longer be changed",
        record.id, record.status
    ))
}

/// A fresh record for `new`, not yet stored.
fn fresh_record(
    new: &NewMaintenance,
    window: Option<(&str, &str)>,
    actor: &str,
    now: Timestamp,
) -> (MaintenanceRecord, MaintenanceUpdateRecord) {
    let update = MaintenanceUpdateRecord {
        id: ids::new_id(),
        status: MaintenanceStatus::Scheduled,
        body: new.message.clone(),
        created_at: now,
        created_by: actor.to_owned(),
    };
    let record = MaintenanceRecord {
        id: ids::new_id(),
        kind: new.kind,
        title: new.title.clone(),
        description: new.description.clone(),
        reason: new.reason.clone(),
        starts_at: new.starts_at,
        ends_at: new.ends_at,
        status: MaintenanceStatus::Scheduled,
        components: new.components.clone(),
        tenants: new.tenants.clone(),
        checks: new.checks,
        counts_as_downtime: new.counts_as_downtime,
        notify_subscribers: new.notify_subscribers,
        window_id: window.map(|(id, _)| id.to_owned()),
        occurrence_key: window.map(|(_, key)| key.to_owned()),
        sequence: 0,
        scheduled_at: now,
        hold_reason: None,
        silence_id: None,
        created_at: now,
        updated_at: now,
        created_by: actor.to_owned(),
        updates: vec![update.clone()],
        revision: 0,
    };
    (record, update)
}

/// Inserts a maintenance row (skipped when its occurrence key is already stored), then, if it
/// was inserted, its first update and audit row. Evaluates to `Result<bool, sqlx::Error>`.
macro_rules! insert_maintenance {
    ($tx:expr, $record:expr, $update:expr, $audit:expr) => {{
        let r: &MaintenanceRecord = $record;
        let u: &MaintenanceUpdateRecord = $update;
        let at = r.created_at.as_millisecond();
        let inserted = sqlx::query(
            "INSERT INTO maintenances (id, kind, title, description, reason, starts_at, ends_at, \
             status, components, tenants, checks, counts_as_downtime, notify_subscribers, \
             window_id, occurrence_key, sequence, scheduled_at, hold_reason, silence_id, \
             created_at, updated_at, created_by, revision) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16, \
             NULL, NULL, $17, $18, $19, 0) ON CONFLICT (occurrence_key) DO NOTHING",
        )
        .bind(&r.id)
        .bind(r.kind.as_str())
        .bind(&r.title)
        .bind(&r.description)
        .bind(&r.reason)
        .bind(r.starts_at.as_millisecond())
        .bind(r.ends_at.as_millisecond())
        .bind(r.status.as_str())
        .bind(json!(r.components).to_string())
        .bind(tenants_json(&r.tenants).to_string())
        .bind(checks_str(r.checks))
        .bind(r.counts_as_downtime)
        .bind(r.notify_subscribers)
        .bind(&r.window_id)
        .bind(&r.occurrence_key)
        .bind(r.scheduled_at.as_millisecond())
        .bind(at)
        .bind(at)
        .bind(&r.created_by)
        .execute(&mut *$tx)
        .await
        .map(|done| done.rows_affected() == 1);
        match inserted {
            Ok(true) => {
                let written = sqlx::query(
                    "INSERT INTO maintenance_updates (id, maintenance_id, seq, status, body, \
                     created_at, created_by) VALUES ($1, $2, 0, $3, $4, $5, $6)",
                )
                .bind(&u.id)
                .bind(&r.id)
                .bind(u.status.as_str())
                .bind(&u.body)
                .bind(at)
                .bind(&u.created_by)
                .execute(&mut *$tx)
                .await;
                match written {
                    Ok(_) => match insert_audit!(&mut *$tx, at, $audit) {
                        Ok(_) => match maintenance_notice(None, r, r.created_at) {
                            Some((key, notice)) => {
                                insert_notice!(&mut *$tx, at, &key, &notice).map(|_| true)
                            }
                            None => Ok(true),
                        },
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }};
}

impl Store {
    /// Creates a maintenance (status `scheduled`, `sequence` 0, `scheduled_at` now) with its
    /// first update and its audit row in one transaction. `forced`: the notice violation an
    /// admin overrode, recorded in the audit row.
    pub async fn create_maintenance(
        &self,
        new: &NewMaintenance,
        actor: &str,
        now: Timestamp,
        forced: Option<&str>,
    ) -> Result<MaintenanceRecord, StoreError> {
        let (record, update) = fresh_record(new, None, actor, now);
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "maintenance.create".into(),
            target: format!("maintenance/{}", record.id),
            before: None,
            after: Some(audit_json(&record, Some(&update), forced)),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            insert_maintenance!(tx, &record, &update, &audit)?;
            tx.commit().await
        })?;
        Ok(record)
    }

    /// One maintenance with its updates (newest first).
    pub async fn get_maintenance(&self, id: &str) -> Result<Option<MaintenanceRecord>, StoreError> {
        let sql = select_maintenances!("WHERE id = $1");
        let row: Option<Row> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(self.complete_maintenance_row(row).await?)),
            None => Ok(None),
        }
    }

    /// How many maintenances there are and the sum of their revisions: a cheap way to learn
    /// that nothing changed since the last look (every change bumps a revision; a deletion
    /// lowers the count).
    pub async fn maintenances_fingerprint(&self) -> Result<(i64, i64), StoreError> {
        let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(revision), 0) AS BIGINT) FROM maintenances";
        let row: (i64, i64) = with_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
        Ok(row)
    }

    /// Maintenances matching `filter`, at most `limit`; see [`MaintenanceFilter`] for the order.
    pub async fn list_maintenances(
        &self,
        filter: MaintenanceFilter,
        limit: u32,
    ) -> Result<Vec<MaintenanceRecord>, StoreError> {
        let sql = match filter {
            MaintenanceFilter::Upcoming => {
                select_maintenances!("WHERE status = 'scheduled' ORDER BY starts_at, id LIMIT $1")
            }
            MaintenanceFilter::Active => select_maintenances!(
                "WHERE status IN ('in_progress', 'verifying') ORDER BY starts_at, id LIMIT $1"
            ),
            MaintenanceFilter::All => {
                select_maintenances!("ORDER BY starts_at DESC, id DESC LIMIT $1")
            }
            MaintenanceFilter::Finished => select_maintenances!(
                "WHERE status IN ('completed', 'cancelled') \
                 ORDER BY updated_at DESC, id DESC LIMIT $1"
            ),
            MaintenanceFilter::WithSilence => {
                select_maintenances!("WHERE silence_id IS NOT NULL ORDER BY starts_at, id LIMIT $1")
            }
            MaintenanceFilter::UpcomingOneOff => select_maintenances!(
                "WHERE status = 'scheduled' AND window_id IS NULL ORDER BY starts_at, id LIMIT $1"
            ),
            MaintenanceFilter::CancelledOccurrences => select_maintenances!(
                "WHERE status = 'cancelled' AND window_id IS NOT NULL \
                 ORDER BY starts_at DESC, id DESC LIMIT $1"
            ),
        };
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.complete_maintenance_row(row).await?);
        }
        Ok(out)
    }

    async fn complete_maintenance_row(&self, row: Row) -> Result<MaintenanceRecord, StoreError> {
        let id = row.id.clone();
        let sql = "SELECT id, status, body, created_at, created_by FROM maintenance_updates \
                   WHERE maintenance_id = $1 ORDER BY seq DESC, created_at DESC";
        let rows: Vec<UpdateRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(&id).fetch_all(pool).await)?;
        let updates = rows
            .into_iter()
            .map(|r| update_record(&id, r))
            .collect::<Result<_, _>>()?;
        maintenance_record(row, updates)
    }

    /// Reschedules or edits a maintenance that is not finished. `sequence` goes up by one;
    /// `scheduled_at` becomes `now` when the start moves earlier. The start can only move while
    /// the maintenance is `scheduled`. `None` when there is no such maintenance; a
    /// [`StoreError::Conflict`] when it is finished or has started and the start would move.
    /// An edit that changes nothing (and says nothing) records nothing.
    pub async fn reschedule_maintenance(
        &self,
        id: &str,
        edit: &MaintenanceEdit,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(before) = self.get_maintenance(id).await? else {
                return Ok(None);
            };
            if before.status.is_terminal() {
                return Err(finished(&before));
            }
            let mut after = before.clone();
            if let Some(start) = edit.starts_at {
                if start != before.starts_at && before.status != MaintenanceStatus::Scheduled {
                    return Err(StoreError::Conflict(format!(
                        "maintenance {id} is {} and its start can no longer move; change its end \
                         or complete it",
                        before.status
                    )));
                }
                after.starts_at = start;
                if start < before.starts_at {
                    after.scheduled_at = now;
                }
            }
            if let Some(end) = edit.ends_at {
                after.ends_at = end;
            }
            if let Some(title) = &edit.title {
                after.title.clone_from(title);
            }
            if let Some(description) = &edit.description {
                after.description.clone_from(description);
            }
            if let Some(reason) = &edit.reason {
                after.reason.clone_from(reason);
            }
            if let Some(components) = &edit.components {
                after.components.clone_from(components);
            }
            if let Some(tenants) = &edit.tenants {
                after.tenants = tenants.clone();
            }
            if let Some(checks) = edit.checks {
                after.checks = checks;
            }
            if let Some(v) = edit.counts_as_downtime {
                after.counts_as_downtime = v;
            }
            if let Some(v) = edit.notify_subscribers {
                after.notify_subscribers = v;
            }
            if after == before && edit.message.is_none() {
                return Ok(Some(before));
            }
            if after != before {
                after.sequence += 1;
            }
            let update = edit.message.as_ref().map(|body| MaintenanceUpdateRecord {
                id: ids::new_id(),
                status: before.status,
                body: body.clone(),
                created_at: now,
                created_by: actor.to_owned(),
            });
            after.updated_at = now;
            after.revision = before.revision + 1;
            if let Some(u) = &update {
                after.updates.insert(0, u.clone());
            }
            let audit = AuditEntry {
                actor: actor.to_owned(),
                action: "maintenance.reschedule".into(),
                target: format!("maintenance/{id}"),
                before: Some(audit_json(&before, None, None)),
                after: Some(audit_json(&after, update.as_ref(), edit.forced.as_deref())),
            };
            if self
                .write_maintenance(
                    before.revision,
                    &after,
                    update.as_ref(),
                    &audit,
                    &SideEffects {
                        notice: maintenance_notice(Some(&before), &after, now),
                        event: hold_event(&before, &after),
                    },
                    now,
                )
                .await?
            {
                return Ok(Some(after));
            }
        }
        Err(conflict(id))
    }

    /// Adds an update to the timeline: a message and, optionally, a status change by hand
    /// (allowed by [`manual_transition_allowed`], else a [`StoreError::Conflict`]). Starting
    /// before the start sets `starts_at` to `now`, ending early sets `ends_at` to `now`; those
    /// and cancelling bump `sequence`. `None` when there is no such maintenance.
    pub async fn add_maintenance_update(
        &self,
        id: &str,
        new_status: Option<MaintenanceStatus>,
        body: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(before) = self.get_maintenance(id).await? else {
                return Ok(None);
            };
            let to = new_status.unwrap_or(before.status);
            if to != before.status && !manual_transition_allowed(before.status, to) {
                return Err(StoreError::Conflict(format!(
                    "maintenance {id} is {} and cannot become {to}",
                    before.status
                )));
            }
            if to == before.status && before.status.is_terminal() {
                return Err(finished(&before));
            }
            let update = MaintenanceUpdateRecord {
                id: ids::new_id(),
                status: to,
                body: body.to_owned(),
                created_at: now,
                created_by: actor.to_owned(),
            };
            let mut after = before.clone();
            after.status = to;
            let ends_early = matches!(
                to,
                MaintenanceStatus::Completed | MaintenanceStatus::Cancelled
            ) && before.status != MaintenanceStatus::Scheduled
                && now < before.ends_at;
            if ends_early {
                after.ends_at = now;
            }
            if to == MaintenanceStatus::InProgress
                && before.status == MaintenanceStatus::Scheduled
                && now < before.starts_at
            {
                after.starts_at = now;
            }
            if after.starts_at > after.ends_at {
                after.starts_at = after.ends_at;
            }
            if to == MaintenanceStatus::Cancelled
                || after.ends_at != before.ends_at
                || after.starts_at != before.starts_at
            {
                after.sequence += 1;
            }
            after.updated_at = now;
            after.revision = before.revision + 1;
            after.updates.insert(0, update.clone());
            let action = if to == before.status {
                "maintenance.update"
            } else {
                transition_action(to)
            };
            let audit = AuditEntry {
                actor: actor.to_owned(),
                action: action.into(),
                target: format!("maintenance/{id}"),
                before: Some(audit_json(&before, None, None)),
                after: Some(audit_json(&after, Some(&update), None)),
            };
            if self
                .write_maintenance(
                    before.revision,
                    &after,
                    Some(&update),
                    &audit,
                    &SideEffects {
                        notice: maintenance_notice(Some(&before), &after, now),
                        event: hold_event(&before, &after),
                    },
                    now,
                )
                .await?
            {
                return Ok(Some(after));
            }
        }
        Err(conflict(id))
    }

    /// Cancels a `scheduled` or `in_progress` maintenance by hand, with an optional message.
    /// `None` when there is no such maintenance; a [`StoreError::Conflict`] from any other
    /// status.
    pub async fn cancel_maintenance(
        &self,
        id: &str,
        body: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        self.add_maintenance_update(id, Some(MaintenanceStatus::Cancelled), body, actor, now)
            .await
    }

    /// Completes an `in_progress` or `verifying` maintenance by hand (ending it early when its
    /// end has not come), with an optional message. `None` when there is no such maintenance; a
    /// [`StoreError::Conflict`] from any other status.
    pub async fn complete_maintenance(
        &self,
        id: &str,
        body: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        self.add_maintenance_update(id, Some(MaintenanceStatus::Completed), body, actor, now)
            .await
    }

    /// Moves a maintenance from `from` to `to` as time makes it due (see
    /// [`upkeep_domain::maintenance::due_transition`]), with an update (empty body) and an audit
    /// row in the same transaction. One conditional `UPDATE ... WHERE status = FROM`: when
    /// several replicas try the same transition, exactly one gets `true`; the others (and a
    /// maintenance that is not in `from`, or does not exist) get `false`.
    pub async fn transition_maintenance(
        &self,
        id: &str,
        from: MaintenanceStatus,
        to: MaintenanceStatus,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let Some(before) = self.get_maintenance(id).await? else {
            return Ok(false);
        };
        if before.status != from || from == to {
            return Ok(false);
        }
        let at = now.as_millisecond();
        let bump = i64::from(to == MaintenanceStatus::Cancelled);
        let update_id = ids::new_id();
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE maintenances SET status = $1, updated_at = $2, revision = revision + 1, \
                 sequence = sequence + $3 WHERE id = $4 AND status = $5",
            )
            .bind(to.as_str())
            .bind(at)
            .bind(bump)
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if changed {
                let row: Row = sqlx::query_as(select_maintenances!("WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let revision = row.revision;
                let after = maintenance_record(row, Vec::new())?;
                let update = MaintenanceUpdateRecord {
                    id: update_id.clone(),
                    status: to,
                    body: String::new(),
                    created_at: now,
                    created_by: actor.to_owned(),
                };
                sqlx::query(
                    "INSERT INTO maintenance_updates (id, maintenance_id, seq, status, body, \
                     created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&update.id)
                .bind(id)
                .bind(revision)
                .bind(to.as_str())
                .bind(&update.body)
                .bind(at)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                let audit = AuditEntry {
                    actor: actor.to_owned(),
                    action: transition_action(to).into(),
                    target: format!("maintenance/{id}"),
                    before: Some(audit_json(&before, None, None)),
                    after: Some(audit_json(&after, Some(&update), None)),
                };
                insert_audit!(&mut *tx, at, &audit)?;
                let side = SideEffects {
                    notice: maintenance_notice(Some(&before), &after, now),
                    event: hold_event(&before, &after),
                };
                insert_side_effects!(&mut *tx, at, &side)?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok::<bool, StoreError>(changed)
        })?;
        Ok(changed)
    }

    /// Sets (or, with `None`, clears) why pre-flight checks hold the start. Returns whether it
    /// changed; `false` also when there is no such maintenance.
    pub async fn set_hold_reason(
        &self,
        id: &str,
        reason: Option<&str>,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_field(id, "maintenance.hold", actor, now, |r| {
            if r.hold_reason.as_deref() == reason {
                return false;
            }
            r.hold_reason = reason.map(str::to_owned);
            true
        })
        .await
    }

    /// Records (or, with `None`, forgets) the Alertmanager silence of the window. Returns
    /// whether it changed; `false` also when there is no such maintenance.
    pub async fn set_silence_id(
        &self,
        id: &str,
        silence_id: Option<&str>,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_field(id, "maintenance.silence", actor, now, |r| {
            if r.silence_id.as_deref() == silence_id {
                return false;
            }
            r.silence_id = silence_id.map(str::to_owned);
            true
        })
        .await
    }

    async fn set_field(
        &self,
        id: &str,
        action: &str,
        actor: &str,
        now: Timestamp,
        change: impl Fn(&mut MaintenanceRecord) -> bool,
    ) -> Result<bool, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(before) = self.get_maintenance(id).await? else {
                return Ok(false);
            };
            let mut after = before.clone();
            if !change(&mut after) {
                return Ok(false);
            }
            after.updated_at = now;
            after.revision = before.revision + 1;
            let audit = AuditEntry {
                actor: actor.to_owned(),
                action: action.to_owned(),
                target: format!("maintenance/{id}"),
                before: Some(audit_json(&before, None, None)),
                after: Some(audit_json(&after, None, None)),
            };
            if self
                .write_maintenance(
                    before.revision,
                    &after,
                    None,
                    &audit,
                    &SideEffects {
                        notice: None,
                        event: hold_event(&before, &after),
                    },
                    now,
                )
                .await?
            {
                return Ok(true);
            }
        }
        Err(conflict(id))
    }

    /// Stores the occurrences of a recurring `window` that are not stored yet (by
    /// `occurrence_key`), each as a planned `scheduled` maintenance with the window's title,
    /// description, components, tenants and switches, a first update and an audit row.
    /// Idempotent: occurrences already stored (even cancelled ones) are left alone. Returns
    /// those this call inserted.
    pub async fn upsert_occurrences(
        &self,
        window: &Window,
        occurrences: &[Occurrence],
        actor: &str,
        now: Timestamp,
    ) -> Result<Vec<MaintenanceRecord>, StoreError> {
        let mut fresh = Vec::with_capacity(occurrences.len());
        for o in occurrences {
            let mut new = NewMaintenance::new(Kind::Planned, &window.title, o.start, o.end);
            new.description.clone_from(&window.description);
            new.components.clone_from(&window.components);
            new.tenants = window.tenants.clone();
            new.checks = window.checks;
            new.counts_as_downtime = window.counts_as_downtime;
            new.notify_subscribers = window.notify_subscribers;
            let (record, update) = fresh_record(&new, Some((&o.window_id, &o.key)), actor, now);
            let audit = AuditEntry {
                actor: actor.to_owned(),
                action: "maintenance.create".into(),
                target: format!("maintenance/{}", record.id),
                before: None,
                after: Some(audit_json(&record, Some(&update), None)),
            };
            fresh.push((record, update, audit));
        }
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut inserted = Vec::new();
            for (record, update, audit) in &fresh {
                if insert_maintenance!(tx, record, update, audit)? {
                    inserted.push(record.clone());
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(inserted)
        })?;
        Ok(inserted)
    }

    /// The stored, not cancelled occurrences of the recurring window `window_id`, by start: the
    /// `existing` argument of [`upkeep_domain::maintenance::plan_update`].
    pub async fn stored_occurrences(
        &self,
        window_id: &str,
    ) -> Result<Vec<StoredOccurrence>, StoreError> {
        let sql = "SELECT occurrence_key, starts_at, ends_at FROM maintenances \
                   WHERE window_id = $1 AND occurrence_key IS NOT NULL AND status <> 'cancelled' \
                   ORDER BY starts_at, occurrence_key";
        let rows: Vec<(String, i64, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(window_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(key, start, end)| {
                Ok(StoredOccurrence {
                    key,
                    start: crate::timestamp(start)?,
                    end: crate::timestamp(end)?,
                })
            })
            .collect()
    }

    /// The maintenance stored for an occurrence key.
    pub async fn maintenance_by_occurrence(
        &self,
        key: &str,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        let sql = select_maintenances!("WHERE occurrence_key = $1");
        let row: Option<Row> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(self.complete_maintenance_row(row).await?)),
            None => Ok(None),
        }
    }

    /// Applies a [`plan_update`](upkeep_domain::maintenance::plan_update) of `window`: inserts
    /// new occurrences ([`Store::upsert_occurrences`]), moves future ones to their new times and
    /// cancels future ones the window no longer produces. An occurrence that is no longer
    /// `scheduled` or has started by `now` is left alone, whatever the plan says.
    pub async fn apply_occurrence_update(
        &self,
        window: &Window,
        plan: &Update,
        actor: &str,
        now: Timestamp,
    ) -> Result<OccurrenceChanges, StoreError> {
        let mut changes = OccurrenceChanges {
            inserted: self
                .upsert_occurrences(window, &plan.insert, actor, now)
                .await?,
            ..OccurrenceChanges::default()
        };
        for o in &plan.update {
            let Some(current) = self.maintenance_by_occurrence(&o.key).await? else {
                continue;
            };
            if current.status != MaintenanceStatus::Scheduled || current.starts_at <= now {
                continue;
            }
            let edit = MaintenanceEdit {
                starts_at: Some(o.start),
                ends_at: Some(o.end),
                ..MaintenanceEdit::default()
            };
            match self
                .reschedule_maintenance(&current.id, &edit, actor, now)
                .await
            {
                Ok(Some(record)) => changes.rescheduled.push(record),
                Ok(None) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for o in &plan.cancel {
            let Some(current) = self.maintenance_by_occurrence(&o.key).await? else {
                continue;
            };
            if current.status != MaintenanceStatus::Scheduled || current.starts_at <= now {
                continue;
            }
            match self.cancel_maintenance(&current.id, "", actor, now).await {
                Ok(Some(record)) => changes.cancelled.push(record),
                Ok(None) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changes)
    }

    /// Writes a change computed from the maintenance at `before_revision`, with its update (if
    /// any) and audit row, in one transaction. `false` (nothing written) when another change got
    /// there first.
    async fn write_maintenance(
        &self,
        before_revision: i64,
        r: &MaintenanceRecord,
        update: Option<&MaintenanceUpdateRecord>,
        audit: &AuditEntry,
        side: &SideEffects,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let at = now.as_millisecond();
        let written = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE maintenances SET title = $1, description = $2, reason = $3, \
                 starts_at = $4, ends_at = $5, status = $6, components = $7, tenants = $8, \
                 checks = $9, counts_as_downtime = $10, notify_subscribers = $11, sequence = $12, \
                 scheduled_at = $13, hold_reason = $14, silence_id = $15, updated_at = $16, \
                 revision = $17 WHERE id = $18 AND revision = $19",
            )
            .bind(&r.title)
            .bind(&r.description)
            .bind(&r.reason)
            .bind(r.starts_at.as_millisecond())
            .bind(r.ends_at.as_millisecond())
            .bind(r.status.as_str())
            .bind(json!(r.components).to_string())
            .bind(tenants_json(&r.tenants).to_string())
            .bind(checks_str(r.checks))
            .bind(r.counts_as_downtime)
            .bind(r.notify_subscribers)
            .bind(r.sequence)
            .bind(r.scheduled_at.as_millisecond())
            .bind(&r.hold_reason)
            .bind(&r.silence_id)
            .bind(at)
            .bind(r.revision)
            .bind(&r.id)
            .bind(before_revision)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if updated {
                if let Some(u) = update {
                    sqlx::query(
                        "INSERT INTO maintenance_updates (id, maintenance_id, seq, status, body, \
                         created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&u.id)
                    .bind(&r.id)
                    .bind(r.revision)
                    .bind(u.status.as_str())
                    .bind(&u.body)
                    .bind(at)
                    .bind(&u.created_by)
                    .execute(&mut *tx)
                    .await?;
                }
                insert_audit!(&mut *tx, at, audit)?;
                insert_side_effects!(&mut *tx, at, side)?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            updated
        });
        Ok(written)
    }
}

/// Writes a change's [`SideEffects`] inside its transaction; evaluates to
/// `Result<(), sqlx::Error>`.
macro_rules! insert_side_effects {
    ($exec:expr, $at_ms:expr, $side:expr) => {{
        let side: &SideEffects = $side;
        let mut result = Ok(());
        if let Some((key, notice)) = &side.notice {
            result = insert_notice!($exec, $at_ms, key, notice).map(|_| ());
        }
        if let (Ok(()), Some((source, from, to, reason))) = (&result, &side.event) {
            result = sqlx::query(
                "INSERT INTO monitor_events (monitor_id, at, from_status, to_status, reason) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(source)
            .bind($at_ms)
            .bind(from)
            .bind(to)
            .bind(reason)
            .execute($exec)
            .await
            .map(|_| ());
        }
        result
    }};
}
use insert_side_effects;

/// What a maintenance change writes besides the row, in the same transaction.
#[derive(Default)]
struct SideEffects {
    /// A notice for subscribers.
    notice: Option<(String, Notice)>,
    /// An operator event (`monitor_events`): source, from, to, reason.
    event: Option<(String, String, String, String)>,
}

/// The `monitor_events` source of a maintenance's pre-flight hold: `preflight:ID`, `held` while
/// its checks hold the start, `ok` once released. Operator alerts follow it.
pub fn preflight_source(id: &str) -> String {
    format!("preflight:{id}")
}

/// The subscriber notice of a maintenance change, if it needs one: scheduled when created,
/// rescheduled when a scheduled one's span moves, started, completed, cancelled. Nothing when
/// the maintenance does not notify subscribers. Keyed by the change's revision.
pub fn maintenance_notice(
    before: Option<&MaintenanceRecord>,
    after: &MaintenanceRecord,
    now: Timestamp,
) -> Option<(String, Notice)> {
    if !after.notify_subscribers {
        return None;
    }
    let mut previous = None;
    let event = match before {
        None if after.status == MaintenanceStatus::Scheduled => MaintenanceEvent::Scheduled,
        None => return None,
        Some(b) if b.status != after.status => match after.status {
            MaintenanceStatus::InProgress => MaintenanceEvent::Started,
            MaintenanceStatus::Completed => MaintenanceEvent::Completed,
            MaintenanceStatus::Cancelled => MaintenanceEvent::Cancelled,
            MaintenanceStatus::Scheduled | MaintenanceStatus::Verifying => return None,
        },
        Some(b)
            if (b.starts_at, b.ends_at) != (after.starts_at, after.ends_at)
                && !after.status.is_terminal() =>
        {
            previous = Some((b.starts_at, b.ends_at));
            MaintenanceEvent::Rescheduled
        }
        Some(_) => return None,
    };
    let notice = Notice::Maintenance(MaintenanceNotice {
        event,
        id: after.id.clone(),
        title: after.title.clone(),
        kind: after.kind.as_str().to_owned(),
        description: after.description.clone().unwrap_or_default(),
        reason: after.reason.clone().unwrap_or_default(),
        starts_at: after.starts_at,
        ends_at: after.ends_at,
        previous,
        components: after.components.clone(),
        tenants: match &after.tenants {
            TenantSel::All => None,
            TenantSel::List(ids) => Some(ids.clone()),
        },
        lead_seconds: None,
        at: now,
    });
    let key = format!(
        "maintenance:{}:{}:{}",
        after.id,
        event.as_str(),
        after.revision
    );
    Some((key, notice))
}
