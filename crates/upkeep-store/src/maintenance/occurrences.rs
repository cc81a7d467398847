//! Occurrences of the recurring windows of the configuration: stored once per
//! `occurrence_key` (`WINDOW_ID@LOCAL_START`, `ON CONFLICT DO NOTHING`), so materialising twice,
//! or from two replicas, stores each occurrence once; a window edited in the configuration
//! moves or cancels only future occurrences that are still scheduled.

use crate::BeginWrite;
use jiff::Timestamp;
use serde_json::json;
use upkeep_domain::config::Window;
use upkeep_domain::maintenance::rules::maintenance_notice;
use upkeep_domain::maintenance::{
    Kind, MaintenanceEdit, MaintenanceRecord, MaintenanceStatus, MaintenanceUpdateRecord,
    NewMaintenance, Occurrence, StoredOccurrence, Update, checks_str, tenants_json,
};

use super::OccurrenceChanges;
use super::changes::{audit_json, fresh_record, insert_maintenance};
use super::rows::{Row, select_maintenances};
use crate::audit::{AuditEntry, insert_audit};
use crate::outbox::insert_notice;
use crate::{Store, StoreError, with_pool};

impl Store {
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
            new.rollout.clone_from(&window.rollout);
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
            let mut tx = pool.begin_write().await?;
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
}
