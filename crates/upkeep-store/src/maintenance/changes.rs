//! Changes to maintenances, each written with its audit row, its subscriber notice and its
//! operator event in one transaction. What a change does to the record is the domain's
//! ([`upkeep_domain::maintenance::rules`]); a change computed from a row another change has
//! since moved is computed again ([`crate::retry::on_clash`]).

use crate::BeginWrite;
use jiff::Timestamp;
use serde_json::{Value, json};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::maintenance::rules::{
    ChangeRefused, apply_edit, apply_status, maintenance_notice,
};
use upkeep_domain::maintenance::{
    MaintenanceEdit, MaintenanceRecord, MaintenanceStatus, MaintenanceUpdateRecord, NewMaintenance,
    checks_str, tenants_json,
};
use upkeep_domain::notify::Notice;

use super::rows::{Row, maintenance_record, select_maintenances};
use crate::audit::{AuditEntry, insert_audit};
use crate::outbox::insert_notice;
use crate::retry::{Attempt, on_clash};
use crate::{Store, StoreError, ids, with_pool};

fn transition_action(to: MaintenanceStatus) -> &'static str {
    match to {
        MaintenanceStatus::Scheduled => "maintenance.update",
        MaintenanceStatus::InProgress => "maintenance.start",
        MaintenanceStatus::Verifying => "maintenance.verify",
        MaintenanceStatus::Completed => "maintenance.complete",
        MaintenanceStatus::Cancelled => "maintenance.cancel",
    }
}

/// The maintenance as the audit log records it: everything but the timeline, plus the update
/// this change added and the forced notice violation, if any.
pub(super) fn audit_json(
    record: &MaintenanceRecord,
    update: Option<&MaintenanceUpdateRecord>,
    forced: Option<&str>,
) -> Value {
    let mut value = json!(record);
    if let Value::Object(map) = &mut value {
        map.remove("updates");
        if let Some(rollout) = &record.rollout {
            map.insert("rollout".into(), rollout.redacted());
        }
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
) -> Option<(EventSource, EventState, EventState, String)> {
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
            if old.is_some() {
                EventState::Held
            } else {
                EventState::Ok
            },
            EventState::Held,
            format!("maintenance `{}` is held: {reason}", after.title),
        )),
        (Some(_), None) => Some((
            source,
            EventState::Held,
            EventState::Ok,
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

/// A change the domain refuses, as the store reports it.
fn refused(refusal: ChangeRefused) -> StoreError {
    StoreError::Conflict(refusal.to_string())
}

/// A fresh record for `new`, not yet stored.
pub(super) fn fresh_record(
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
        rollout: new.rollout.clone(),
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
             created_at, updated_at, created_by, revision, rollout) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16, \
             NULL, NULL, $17, $18, $19, 0, $20) ON CONFLICT (occurrence_key) DO NOTHING",
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
        .bind(
            r.rollout
                .as_ref()
                .and_then(|spec| serde_json::to_string(spec).ok()),
        )
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
pub(super) use insert_maintenance;

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
            let mut tx = pool.begin_write().await?;
            insert_maintenance!(tx, &record, &update, &audit)?;
            tx.commit().await
        })?;
        Ok(record)
    }

    /// Reschedules or edits a maintenance that is not finished (see
    /// [`apply_edit`] for what changes). `None` when there is no such maintenance; a
    /// [`StoreError::Conflict`] when it is finished or has started and the start would move.
    /// An edit that changes nothing (and says nothing) records nothing.
    pub async fn reschedule_maintenance(
        &self,
        id: &str,
        edit: &MaintenanceEdit,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        on_clash(&format!("maintenance {id}"), || async move {
            let Some(before) = self.get_maintenance(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let Some(mut after) = apply_edit(&before, edit, now).map_err(refused)? else {
                return Ok(Attempt::Done(Some(before)));
            };
            let update = edit.message.as_ref().map(|body| MaintenanceUpdateRecord {
                id: ids::new_id(),
                status: before.status,
                body: body.clone(),
                created_at: now,
                created_by: actor.to_owned(),
            });
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
            let side = SideEffects {
                notice: maintenance_notice(Some(&before), &after, now),
                event: hold_event(&before, &after),
            };
            let written = self
                .write_maintenance(before.revision, &after, update.as_ref(), &audit, &side, now)
                .await?;
            Ok(if written {
                Attempt::Done(Some(after))
            } else {
                Attempt::Clashed
            })
        })
        .await
    }

    /// Adds an update to the timeline: a message and, optionally, a status change by hand (see
    /// [`apply_status`]; a refused one is a [`StoreError::Conflict`]). `None` when there is no
    /// such maintenance.
    pub async fn add_maintenance_update(
        &self,
        id: &str,
        new_status: Option<MaintenanceStatus>,
        body: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<MaintenanceRecord>, StoreError> {
        on_clash(&format!("maintenance {id}"), || async move {
            let Some(before) = self.get_maintenance(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let to = new_status.unwrap_or(before.status);
            let mut after = apply_status(&before, to, now).map_err(refused)?;
            let update = MaintenanceUpdateRecord {
                id: ids::new_id(),
                status: to,
                body: body.to_owned(),
                created_at: now,
                created_by: actor.to_owned(),
            };
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
            let side = SideEffects {
                notice: maintenance_notice(Some(&before), &after, now),
                event: hold_event(&before, &after),
            };
            let written = self
                .write_maintenance(before.revision, &after, Some(&update), &audit, &side, now)
                .await?;
            Ok(if written {
                Attempt::Done(Some(after))
            } else {
                Attempt::Clashed
            })
        })
        .await
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
            let mut tx = pool.begin_write().await?;
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
        let change = &change;
        on_clash(&format!("maintenance {id}"), || async move {
            let Some(before) = self.get_maintenance(id).await? else {
                return Ok(Attempt::Done(false));
            };
            let mut after = before.clone();
            if !change(&mut after) {
                return Ok(Attempt::Done(false));
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
            let side = SideEffects {
                notice: None,
                event: hold_event(&before, &after),
            };
            let written = self
                .write_maintenance(before.revision, &after, None, &audit, &side, now)
                .await?;
            Ok(if written {
                Attempt::Done(true)
            } else {
                Attempt::Clashed
            })
        })
        .await
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
            let mut tx = pool.begin_write().await?;
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
                "INSERT INTO monitor_events (source, at, from_status, to_status, reason) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(source.as_str())
            .bind($at_ms)
            .bind(from.as_str())
            .bind(to.as_str())
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
    event: Option<(EventSource, EventState, EventState, String)>,
}

/// The `monitor_events` source of a maintenance's pre-flight hold: `preflight:ID`, `held` while
/// its checks hold the start, `ok` once released. Operator alerts follow it.
pub fn preflight_source(id: &str) -> EventSource {
    EventSource::Preflight(id.to_owned())
}
