//! Incidents: the incident row, its timeline of updates (each with the affected components'
//! statuses at that moment, as JSON) and the components it currently affects.
//!
//! Callers validate input with [`upkeep_domain::incident`] (titles, bodies, known components);
//! this module applies the domain's rules on every change (`resolved_at` set on resolution and
//! cleared on reopening, component statuses merged) and writes each change with its audit row
//! (`incident.create|update|edit|delete`) in one transaction. Concurrent changes to one incident
//! are serialised optimistically: each change bumps a revision and is computed again on a clash
//! ([`crate::retry`]).

use std::collections::HashMap;

use crate::BeginWrite;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::{self, AffectedComponent, Impact, IncidentStatus};
use upkeep_domain::notify::{IncidentEvent, IncidentNotice, Notice, NoticeComponent};

use crate::audit::{AuditEntry, insert_audit};
use crate::outbox::insert_notice;
use crate::retry::{Attempt, on_clash};
use crate::{Params, Store, StoreError, ids, with_pool};

/// An incident with its affected components and its updates, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRecord {
    pub id: String,
    pub title: String,
    pub status: IncidentStatus,
    pub impact: Impact,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the trouble began (the creation time unless given).
    pub started_at: Timestamp,
    /// Set while the status is `resolved` or `postmortem`.
    pub resolved_at: Option<Timestamp>,
    /// Markdown.
    pub postmortem: Option<String>,
    /// Opened automatically (by a monitor or rule), so it may be resolved automatically.
    pub auto: bool,
    pub created_by: String,
    /// The components affected now, with the status the incident declares for each.
    pub components: Vec<AffectedComponent>,
    /// The timeline, newest first.
    pub updates: Vec<IncidentUpdateRecord>,
    #[serde(skip)]
    revision: i64,
}

/// One update of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentUpdateRecord {
    pub id: String,
    /// The incident's status set by (or current at) this update.
    pub status: IncidentStatus,
    /// Markdown; may be empty.
    pub body: String,
    /// The affected components and their statuses right after this update.
    pub components: Vec<AffectedComponent>,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// A new incident and its first update. Validate it first with
/// [`upkeep_domain::incident::validate_new`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub title: String,
    pub status: IncidentStatus,
    /// `None`: from the worst affected component ([`incident::default_impact`]).
    pub impact: Option<Impact>,
    /// The first update's body (Markdown; may be empty).
    pub body: String,
    pub components: Vec<AffectedComponent>,
    /// When the trouble began; `None`: now.
    pub started_at: Option<Timestamp>,
    /// Opened automatically.
    pub auto: bool,
}

/// An update: a new status, a body and component statuses (merged into the current ones).
/// Validate it first with [`upkeep_domain::incident::validate_update`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentChange {
    pub status: Option<IncidentStatus>,
    pub body: Option<String>,
    pub components: Vec<AffectedComponent>,
}

/// An edit of the incident itself, outside the timeline. `None` leaves a field as it is;
/// `postmortem: Some(None)` removes the postmortem.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentEdit {
    pub title: Option<String>,
    pub impact: Option<Impact>,
    pub postmortem: Option<Option<String>>,
}

type IncidentRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    bool,
    String,
    i64,
);

type UpdateRow = (String, String, String, String, i64, String);

macro_rules! select_incidents {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, status, impact, created_at, updated_at, started_at, resolved_at, \
             postmortem, auto, created_by, revision FROM incidents ",
            $rest
        )
    };
}

#[derive(Deserialize)]
struct StoredComponent {
    id: String,
    status: String,
}

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("incident {id}: {what}"))
}

fn status(id: &str, s: &str) -> Result<IncidentStatus, StoreError> {
    IncidentStatus::parse(s).ok_or_else(|| corrupt(id, format_args!("unknown status `{s}`")))
}

fn component(id: &str, component_id: String, s: &str) -> Result<AffectedComponent, StoreError> {
    let status = ComponentStatus::parse(s)
        .ok_or_else(|| corrupt(id, format_args!("unknown component status `{s}`")))?;
    Ok(AffectedComponent {
        id: component_id,
        status,
    })
}

fn components_json(components: &[AffectedComponent]) -> String {
    json!(components).to_string()
}

fn incident_record(
    row: IncidentRow,
    components: Vec<AffectedComponent>,
    updates: Vec<IncidentUpdateRecord>,
) -> Result<IncidentRecord, StoreError> {
    let (
        id,
        title,
        status_text,
        impact,
        created_at,
        updated_at,
        started_at,
        resolved_at,
        postmortem,
        auto,
        created_by,
        revision,
    ) = row;
    Ok(IncidentRecord {
        status: status(&id, &status_text)?,
        impact: Impact::parse(&impact)
            .ok_or_else(|| corrupt(&id, format_args!("unknown impact `{impact}`")))?,
        created_at: crate::timestamp(created_at)?,
        updated_at: crate::timestamp(updated_at)?,
        started_at: crate::timestamp(started_at)?,
        resolved_at: resolved_at.map(crate::timestamp).transpose()?,
        id,
        title,
        postmortem,
        auto,
        created_by,
        components,
        updates,
        revision,
    })
}

fn update_record(incident_id: &str, row: UpdateRow) -> Result<IncidentUpdateRecord, StoreError> {
    let (id, status_text, body, components, created_at, created_by) = row;
    let stored: Vec<StoredComponent> =
        serde_json::from_str(&components).map_err(|e| corrupt(incident_id, e))?;
    let components = stored
        .into_iter()
        .map(|c| component(incident_id, c.id, &c.status))
        .collect::<Result<_, _>>()?;
    Ok(IncidentUpdateRecord {
        id,
        status: status(incident_id, &status_text)?,
        body,
        components,
        created_at: crate::timestamp(created_at)?,
        created_by,
    })
}

/// The incident as the audit log records it: everything but the timeline, plus the update this
/// change added, if any.
fn audit_json(record: &IncidentRecord, update: Option<&IncidentUpdateRecord>) -> Value {
    let mut value = json!(record);
    if let Value::Object(map) = &mut value {
        map.remove("updates");
        if let Some(update) = update {
            map.insert("update".into(), json!(update));
        }
    }
    value
}

/// What a change writes: the incident's new state, the update it adds (if any) and whether the
/// set of affected components changed.
struct Write<'a> {
    before_revision: i64,
    before_status: IncidentStatus,
    after: &'a IncidentRecord,
    update: Option<&'a IncidentUpdateRecord>,
    components_changed: bool,
    audit: &'a AuditEntry,
}

/// A change to an existing incident: its audit action, the update it adds (if any) and whether
/// the set of affected components changed.
struct Change<'a> {
    action: &'static str,
    update: Option<&'a IncidentUpdateRecord>,
    components_changed: bool,
}

impl Store {
    /// Creates an incident with its first update, its affected components and its audit row in
    /// one transaction.
    pub async fn create_incident(
        &self,
        new: &NewIncident,
        actor: &str,
        now: Timestamp,
    ) -> Result<IncidentRecord, StoreError> {
        let update = IncidentUpdateRecord {
            id: ids::new_id(),
            status: new.status,
            body: new.body.clone(),
            components: new.components.clone(),
            created_at: now,
            created_by: actor.to_owned(),
        };
        let record = IncidentRecord {
            id: ids::new_id(),
            title: new.title.clone(),
            status: new.status,
            impact: new
                .impact
                .unwrap_or_else(|| incident::default_impact(&new.components)),
            created_at: now,
            updated_at: now,
            started_at: new.started_at.unwrap_or(now),
            resolved_at: incident::resolved_at(None, new.status, now),
            postmortem: None,
            auto: new.auto,
            created_by: actor.to_owned(),
            components: new.components.clone(),
            updates: vec![update.clone()],
            revision: 0,
        };
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "incident.create".into(),
            target: format!("incident/{}", record.id),
            before: None,
            after: Some(audit_json(&record, Some(&update))),
        };
        let at = now.as_millisecond();
        let r = &record;
        let (notice_key, notice) = incident_notice(None, r, &update);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO incidents (id, name, status, impact, created_at, updated_at, \
                 started_at, resolved_at, postmortem, auto, created_by, revision) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, 0)",
            )
            .bind(&r.id)
            .bind(&r.title)
            .bind(r.status.as_str())
            .bind(r.impact.as_str())
            .bind(at)
            .bind(at)
            .bind(r.started_at.as_millisecond())
            .bind(r.resolved_at.map(|t| t.as_millisecond()))
            .bind(r.auto)
            .bind(&r.created_by)
            .execute(&mut *tx)
            .await?;
            for (position, c) in (0_i64..).zip(&r.components) {
                sqlx::query(
                    "INSERT INTO incident_components (incident_id, component_id, status, position) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&r.id)
                .bind(&c.id)
                .bind(c.status.as_str())
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO incident_updates (id, incident_id, seq, status, body, \
                 affected_components, created_at, created_by) \
                 VALUES ($1, $2, 0, $3, $4, $5, $6, $7)",
            )
            .bind(&update.id)
            .bind(&r.id)
            .bind(update.status.as_str())
            .bind(&update.body)
            .bind(components_json(&update.components))
            .bind(at)
            .bind(&update.created_by)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, at, &audit)?;
            insert_notice!(&mut *tx, at, &notice_key, &notice)?;
            tx.commit().await
        })?;
        Ok(record)
    }

    /// One incident with its components and updates (newest first).
    pub async fn get_incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError> {
        let sql = select_incidents!("WHERE id = $1");
        let row: Option<IncidentRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(self.complete(row).await?)),
            None => Ok(None),
        }
    }

    /// Incidents newest first (by creation), at most `limit`; only those not resolved when
    /// `unresolved_only`.
    pub async fn list_incidents(
        &self,
        limit: u32,
        unresolved_only: bool,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        self.incidents_before(None, limit, unresolved_only).await
    }

    /// Up to `limit` incidents newest first (by creation, then id), starting after `before`:
    /// the `(created_at, id)` of the last one of the previous page.
    pub async fn incidents_before(
        &self,
        before: Option<(Timestamp, &str)>,
        limit: u32,
        unresolved_only: bool,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        let limit = i64::from(limit);
        let rows: Vec<IncidentRow> = match before {
            None => {
                let sql = if unresolved_only {
                    select_incidents!(
                        "WHERE resolved_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $1"
                    )
                } else {
                    select_incidents!("ORDER BY created_at DESC, id DESC LIMIT $1")
                };
                with_pool!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await)?
            }
            Some((at, id)) => {
                let sql = if unresolved_only {
                    select_incidents!(
                        "WHERE resolved_at IS NULL \
                         AND created_at <= $1 AND (created_at < $1 OR id < $2) \
                         ORDER BY created_at DESC, id DESC LIMIT $3"
                    )
                } else {
                    select_incidents!(
                        "WHERE created_at <= $1 AND (created_at < $1 OR id < $2) \
                         ORDER BY created_at DESC, id DESC LIMIT $3"
                    )
                };
                with_pool!(self, pool => sqlx::query_as(sql)
                    .bind(at.as_millisecond())
                    .bind(id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await)?
            }
        };
        self.complete_all(rows).await
    }

    /// Loads the components and updates of incident rows: two queries however many rows.
    async fn complete_all(
        &self,
        rows: Vec<IncidentRow>,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let marks = Params::Numbered.list(1, rows.len());
        let sql = format!(
            "SELECT incident_id, component_id, status FROM incident_components \
             WHERE incident_id IN ({marks}) ORDER BY incident_id, position, component_id"
        );
        let found: Vec<(String, String, String)> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for row in &rows {
                q = q.bind(&row.0);
            }
            q.fetch_all(pool).await
        })?;
        let mut components: HashMap<String, Vec<AffectedComponent>> = HashMap::new();
        for (id, cid, s) in found {
            let c = component(&id, cid, &s)?;
            components.entry(id).or_default().push(c);
        }
        let sql = format!(
            "SELECT incident_id, id, status, body, affected_components, created_at, created_by \
             FROM incident_updates WHERE incident_id IN ({marks}) ORDER BY incident_id, seq DESC"
        );
        let found: Vec<(String, String, String, String, String, i64, String)> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for row in &rows {
                q = q.bind(&row.0);
            }
            q.fetch_all(pool).await
        })?;
        let mut updates: HashMap<String, Vec<IncidentUpdateRecord>> = HashMap::new();
        for (incident, id, status, body, affected, at, by) in found {
            let u = update_record(&incident, (id, status, body, affected, at, by))?;
            updates.entry(incident).or_default().push(u);
        }
        rows.into_iter()
            .map(|row| {
                let c = components.remove(&row.0).unwrap_or_default();
                let u = updates.remove(&row.0).unwrap_or_default();
                incident_record(row, c, u)
            })
            .collect()
    }

    /// Loads the components and updates of an incident row.
    async fn complete(&self, row: IncidentRow) -> Result<IncidentRecord, StoreError> {
        let id = row.0.clone();
        let sql = "SELECT component_id, status FROM incident_components \
                   WHERE incident_id = $1 ORDER BY position, component_id";
        let rows: Vec<(String, String)> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(&id).fetch_all(pool).await)?;
        let components = rows
            .into_iter()
            .map(|(cid, s)| component(&id, cid, &s))
            .collect::<Result<_, _>>()?;
        let sql = "SELECT id, status, body, affected_components, created_at, created_by \
                   FROM incident_updates WHERE incident_id = $1 ORDER BY seq DESC";
        let rows: Vec<UpdateRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(&id).fetch_all(pool).await)?;
        let updates = rows
            .into_iter()
            .map(|r| update_record(&id, r))
            .collect::<Result<_, _>>()?;
        incident_record(row, components, updates)
    }

    /// Adds an update to the timeline: it may change the status (which sets or clears
    /// `resolved_at`), say something (`body`) and change component statuses (merged into the
    /// current ones). `None` when there is no such incident.
    pub async fn add_incident_update(
        &self,
        id: &str,
        change: &IncidentChange,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        on_clash(&format!("incident {id}"), || async move {
            let Some(before) = self.get_incident(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let status = change.status.unwrap_or(before.status);
            let components = incident::merge_components(&before.components, &change.components);
            let update = IncidentUpdateRecord {
                id: ids::new_id(),
                status,
                body: change.body.clone().unwrap_or_default(),
                components: components.clone(),
                created_at: now,
                created_by: actor.to_owned(),
            };
            let after = IncidentRecord {
                status,
                resolved_at: incident::resolved_at(before.resolved_at, status, now),
                updated_at: now,
                components: components.clone(),
                updates: std::iter::once(update.clone())
                    .chain(before.updates.iter().cloned())
                    .collect(),
                revision: before.revision + 1,
                ..before.clone()
            };
            let components_changed = components != before.components;
            let change = Change {
                action: "incident.update",
                update: Some(&update),
                components_changed,
            };
            self.write_change(&before, after, &change, actor, now).await
        })
        .await
    }

    /// Edits the title, impact or postmortem (no timeline entry). `None` when there is no such
    /// incident; an edit that changes nothing records nothing.
    pub async fn edit_incident(
        &self,
        id: &str,
        edit: &IncidentEdit,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        on_clash(&format!("incident {id}"), || async move {
            let Some(before) = self.get_incident(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let mut after = before.clone();
            if let Some(title) = &edit.title {
                after.title.clone_from(title);
            }
            if let Some(impact) = edit.impact {
                after.impact = impact;
            }
            if let Some(postmortem) = &edit.postmortem {
                after.postmortem.clone_from(postmortem);
            }
            if after == before {
                return Ok(Attempt::Done(Some(before)));
            }
            after.updated_at = now;
            after.revision = before.revision + 1;
            let change = Change {
                action: "incident.edit",
                update: None,
                components_changed: false,
            };
            self.write_change(&before, after, &change, actor, now).await
        })
        .await
    }

    /// Deletes an incident with its timeline; the audit row keeps all of it. Returns what was
    /// deleted, `None` when there is no such incident.
    pub async fn delete_incident(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        on_clash(&format!("incident {id}"), || async move {
            let Some(before) = self.get_incident(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let mut snapshot = audit_json(&before, None);
            if let Value::Object(map) = &mut snapshot {
                map.insert("updates".into(), json!(before.updates));
            }
            let audit = AuditEntry {
                actor: actor.to_owned(),
                action: "incident.delete".into(),
                target: format!("incident/{id}"),
                before: Some(snapshot),
                after: None,
            };
            let at = now.as_millisecond();
            let deleted = with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                sqlx::query("DELETE FROM incident_components WHERE incident_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM incident_updates WHERE incident_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let deleted = sqlx::query("DELETE FROM incidents WHERE id = $1 AND revision = $2")
                    .bind(id)
                    .bind(before.revision)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if deleted {
                    insert_audit!(&mut *tx, at, &audit)?;
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                deleted
            });
            if deleted {
                return Ok(Attempt::Done(Some(before)));
            }
            Ok(Attempt::Clashed)
        })
        .await
    }

    /// Writes `after`, changed from `before` as `change` says, with its audit row: `Done` with
    /// the new state, or `Clashed` when another change got there first.
    async fn write_change(
        &self,
        before: &IncidentRecord,
        after: IncidentRecord,
        change: &Change<'_>,
        actor: &str,
        now: Timestamp,
    ) -> Result<Attempt<Option<IncidentRecord>>, StoreError> {
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: change.action.into(),
            target: format!("incident/{}", before.id),
            before: Some(audit_json(before, None)),
            after: Some(audit_json(&after, change.update)),
        };
        let write = Write {
            before_revision: before.revision,
            before_status: before.status,
            after: &after,
            update: change.update,
            components_changed: change.components_changed,
            audit: &audit,
        };
        if self.write(&write, now).await? {
            return Ok(Attempt::Done(Some(after)));
        }
        Ok(Attempt::Clashed)
    }

    /// Writes a change computed from the incident at `before_revision`, with its audit row, in
    /// one transaction. `false` (nothing written) when another change got there first.
    async fn write(&self, w: &Write<'_>, now: Timestamp) -> Result<bool, StoreError> {
        let at = now.as_millisecond();
        let r = w.after;
        let written = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE incidents SET name = $1, status = $2, impact = $3, updated_at = $4, \
                 resolved_at = $5, postmortem = $6, revision = $7 \
                 WHERE id = $8 AND revision = $9",
            )
            .bind(&r.title)
            .bind(r.status.as_str())
            .bind(r.impact.as_str())
            .bind(at)
            .bind(r.resolved_at.map(|t| t.as_millisecond()))
            .bind(&r.postmortem)
            .bind(r.revision)
            .bind(&r.id)
            .bind(w.before_revision)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if updated {
                if w.components_changed {
                    sqlx::query("DELETE FROM incident_components WHERE incident_id = $1")
                        .bind(&r.id)
                        .execute(&mut *tx)
                        .await?;
                    for (position, c) in (0_i64..).zip(&r.components) {
                        sqlx::query(
                            "INSERT INTO incident_components \
                             (incident_id, component_id, status, position) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&r.id)
                        .bind(&c.id)
                        .bind(c.status.as_str())
                        .bind(position)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                if let Some(u) = w.update {
                    sqlx::query(
                        "INSERT INTO incident_updates (id, incident_id, seq, status, body, \
                         affected_components, created_at, created_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&u.id)
                    .bind(&r.id)
                    .bind(r.revision)
                    .bind(u.status.as_str())
                    .bind(&u.body)
                    .bind(components_json(&u.components))
                    .bind(at)
                    .bind(&u.created_by)
                    .execute(&mut *tx)
                    .await?;
                    let (key, notice) = incident_notice(Some(w.before_status), r, u);
                    insert_notice!(&mut *tx, at, &key, &notice)?;
                }
                insert_audit!(&mut *tx, at, w.audit)?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            updated
        });
        Ok(written)
    }
}

/// The customer notice of an incident change that adds `update`: opened on creation, resolved
/// when it becomes resolved, updated otherwise. Keyed by the update, so it is written once.
fn incident_notice(
    before: Option<IncidentStatus>,
    r: &IncidentRecord,
    update: &IncidentUpdateRecord,
) -> (String, Notice) {
    let event = match before {
        None => IncidentEvent::Opened,
        Some(b) if r.status.is_resolved() && !b.is_resolved() => IncidentEvent::Resolved,
        Some(_) => IncidentEvent::Updated,
    };
    let notice = Notice::Incident(IncidentNotice {
        event,
        id: r.id.clone(),
        title: r.title.clone(),
        status: r.status.as_str().to_owned(),
        impact: r.impact.as_str().to_owned(),
        components: r
            .components
            .iter()
            .map(|c| NoticeComponent {
                id: c.id.clone(),
                name: c.id.clone(),
                status: c.status.as_str().to_owned(),
            })
            .collect(),
        body: update.body.clone(),
        started_at: r.started_at,
        at: update.created_at,
    });
    (format!("incident:{}:{}", r.id, update.id), notice)
}

// ---------------------------------------------------------------------------------------------
// Automatic incidents: the failing sources that hold them open, and the event cursor
// ---------------------------------------------------------------------------------------------

/// A failing source (`monitor:ID`, `rule:NAME`, `alertmanager:FINGERPRINT`) attached to the
/// automatic incident it opened or joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSource {
    pub source: String,
    pub incident_id: String,
    pub component_id: String,
    /// The component status this source asks for.
    pub status: ComponentStatus,
    /// How the source is named in updates ("monitor `api-health`").
    pub label: String,
    pub since: Timestamp,
}

type SourceRow = (String, String, String, String, String, i64);

fn source_record(row: SourceRow) -> Result<IncidentSource, StoreError> {
    let (source, incident_id, component_id, status, label, since) = row;
    let status = ComponentStatus::parse(&status).ok_or_else(|| {
        corrupt(
            &incident_id,
            format_args!("unknown source status `{status}`"),
        )
    })?;
    Ok(IncidentSource {
        source,
        incident_id,
        component_id,
        status,
        label,
        since: crate::timestamp(since)?,
    })
}

impl Store {
    /// The newest unresolved incident opened automatically that affects `component_id`.
    pub async fn open_auto_incident_for(
        &self,
        component_id: &str,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let sql = "SELECT i.id FROM incidents i JOIN incident_components c ON c.incident_id = i.id \
                   WHERE i.auto = $1 AND i.resolved_at IS NULL AND c.component_id = $2 \
                   ORDER BY i.created_at DESC, i.id DESC LIMIT 1";
        let id: Option<String> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(true)
            .bind(component_id)
            .fetch_optional(pool)
            .await)?;
        match id {
            Some(id) => self.get_incident(&id).await,
            None => Ok(None),
        }
    }

    /// The source `source`, if it is attached to an incident.
    pub async fn incident_source(
        &self,
        source: &str,
    ) -> Result<Option<IncidentSource>, StoreError> {
        let sql = "SELECT source, incident_id, component_id, status, label, since \
                   FROM incident_sources WHERE source = $1";
        let row: Option<SourceRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(source).fetch_optional(pool).await)?;
        row.map(source_record).transpose()
    }

    /// The sources attached to an incident, oldest first.
    pub async fn incident_sources(
        &self,
        incident_id: &str,
    ) -> Result<Vec<IncidentSource>, StoreError> {
        let sql = "SELECT source, incident_id, component_id, status, label, since \
                   FROM incident_sources WHERE incident_id = $1 ORDER BY since, source";
        let rows: Vec<SourceRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(incident_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(source_record).collect()
    }

    /// Attaches a source to an incident (replacing an earlier attachment of the same source).
    pub async fn attach_incident_source(&self, s: &IncidentSource) -> Result<(), StoreError> {
        let sql = "INSERT INTO incident_sources (source, incident_id, component_id, status, label, since) \
                   VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (source) DO UPDATE SET incident_id = excluded.incident_id, \
                   component_id = excluded.component_id, status = excluded.status, \
                   label = excluded.label, since = excluded.since";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&s.source)
            .bind(&s.incident_id)
            .bind(&s.component_id)
            .bind(s.status.as_str())
            .bind(&s.label)
            .bind(s.since.as_millisecond())
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Detaches a source; returns whether it was attached.
    pub async fn detach_incident_source(&self, source: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM incident_sources WHERE source = $1";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(source)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))?;
        Ok(done > 0)
    }

    /// The position stored under the cursor `name`, if any.
    pub async fn cursor(&self, name: &str) -> Result<Option<EventPosition>, StoreError> {
        let sql = "SELECT xid, position FROM cursors WHERE name = $1";
        let position: Option<(i64, i64)> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(name).fetch_optional(pool).await)?;
        Ok(position.map(|(xid, id)| EventPosition { xid, id }))
    }

    /// Stores the position of the cursor `name`.
    pub async fn set_cursor(
        &self,
        name: &str,
        position: EventPosition,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO cursors (name, xid, position, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (name) DO UPDATE SET xid = excluded.xid, \
                   position = excluded.position, updated_at = excluded.updated_at";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(name)
            .bind(position.xid)
            .bind(position.id)
            .bind(now.as_millisecond())
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The settled events after `after`, in log order, at most `limit`: see [`EventPosition`].
    pub async fn settled_monitor_events_after(
        &self,
        after: EventPosition,
        limit: u32,
    ) -> Result<Vec<(EventPosition, crate::monitoring::StoredMonitorEvent)>, StoreError> {
        // The limit is written into the statement, as in `Store::claim_deliveries`.
        let sql = format!(
            "SELECT xid, id, source, at, from_status, to_status, reason \
             FROM monitor_events WHERE (xid, id) > ($1, $2){} ORDER BY xid, id LIMIT {limit}",
            self.settled_filter()
        );
        let rows: Vec<(i64, i64, String, i64, String, String, String)> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(after.xid)
                .bind(after.id)
                .fetch_all(pool)
                .await)?;
        rows.into_iter()
            .map(|(xid, id, source, at, from, to, reason)| {
                let event = crate::monitoring::stored_event((id, source, at, from, to, reason))?;
                Ok((EventPosition { xid, id }, event))
            })
            .collect()
    }

    /// The position of the newest settled event recorded before `before` (the start of the log
    /// when there is none): where a follower starts on a database it has never followed, so
    /// old history is not replayed.
    pub async fn last_monitor_event_before(
        &self,
        before: Timestamp,
    ) -> Result<EventPosition, StoreError> {
        let sql = format!(
            "SELECT xid, id FROM monitor_events WHERE at < $1{} ORDER BY xid DESC, id DESC LIMIT 1",
            self.settled_filter()
        );
        let row: Option<(i64, i64)> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(before.as_millisecond())
            .fetch_optional(pool)
            .await)?;
        Ok(
            row.map_or_else(EventPosition::default, |(xid, id)| EventPosition {
                xid,
                id,
            }),
        )
    }

    /// The condition that keeps events whose writer may still be in flight out of a read.
    fn settled_filter(&self) -> &'static str {
        match self.backend() {
            // Every transaction below the snapshot's xmin has finished, and any transaction
            // still to write gets an id at or above it.
            crate::Backend::Postgres => {
                " AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            }
            // Writers are serialised: ids commit in order and every visible event is settled.
            crate::Backend::Sqlite => "",
        }
    }
}

/// A position in the operator event log (`monitor_events`), as followers read it: by the
/// writing transaction (`xid`), then by id.
///
/// Ids come from a sequence, and on PostgreSQL two writers may commit out of id order, so a
/// cursor on the id alone could pass an event whose transaction commits later. Followers read
/// only *settled* events instead: those whose writer is below the oldest transaction still in
/// flight (`pg_snapshot_xmin(pg_current_snapshot())`). Every event below that line is
/// committed or gone for good, and every event still to come lands above it, so the settled
/// part of the log only grows at its end: a forward cursor skips nothing and reads nothing
/// twice. On SQLite writers are serialised, `xid` is 0 and the order is the id's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EventPosition {
    /// The writing transaction (PostgreSQL; 0 on SQLite and for events older than the column).
    pub xid: i64,
    /// The event's id.
    pub id: i64,
}
