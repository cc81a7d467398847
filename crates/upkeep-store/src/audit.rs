//! The audit log: who changed what, when, with the object before and after.
//!
//! Invariant: a change and its audit row are written in one transaction ([`insert_audit!`]), so
//! the log never misses a change and never records one that was rolled back.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::{Store, StoreError, with_pool};

/// One change to record. `before` is `None` for a creation, `after` is `None` for a deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who: `token:ID (NAME)`, `cli:USER`, or `system`.
    pub actor: String,
    /// What, as `object.verb`: `token.create`, `token.revoke`, `config.reload`, ...
    pub action: String,
    /// Which object: `token/ID`, `config`, ...
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which audit rows to read; empty strings and `None` match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Rows whose actor contains this text, case aside.
    pub actor: String,
    /// Rows whose action starts with this (`token.`, `user.disable`).
    pub action_prefix: String,
    /// Rows at or after this instant.
    pub from: Option<Timestamp>,
    /// Rows before this instant.
    pub until: Option<Timestamp>,
}

/// Inserts an audit row with the executor `$exec` (a transaction, so that the row commits with
/// the change it describes). Evaluates to `Result<_, sqlx::Error>`.
macro_rules! insert_audit {
    ($exec:expr, $at_ms:expr, $entry:expr) => {{
        let entry: &$crate::audit::AuditEntry = $entry;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($at_ms)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(entry.before.as_ref().map(|v| v.to_string()))
        .bind(entry.after.as_ref().map(|v| v.to_string()))
        .execute($exec)
        .await
        .map(|done| done.rows_affected())
    }};
}
pub(crate) use insert_audit;

type AuditRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Records a change that touches no other table (a configuration reload, say).
    pub async fn record_audit(&self, entry: &AuditEntry, now: Timestamp) -> Result<(), StoreError> {
        let at = now.as_millisecond();
        with_pool!(self, pool => insert_audit!(pool, at, entry))?;
        Ok(())
    }

    /// The newest audit rows first, at most `limit`, older than `before_id` when given.
    pub async fn list_audit(
        &self,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.list_audit_filtered(&AuditFilter::default(), limit, before_id)
            .await
    }

    /// [`Store::list_audit`] narrowed by `filter`: keyset pages by id, newest first.
    pub async fn list_audit_filtered(
        &self,
        filter: &AuditFilter,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        macro_rules! filtered {
            ($contains:literal) => {
                concat!(
                    "SELECT id, at, actor, action, target, before, after FROM audit_log \
                     WHERE id < $1 AND ",
                    $contains,
                    " AND substr(action, 1, length($4)) = $4 \
                     AND at >= $5 AND at < $6 ORDER BY id DESC LIMIT $2"
                )
            };
        }
        let sql = match self.backend() {
            crate::Backend::Sqlite => filtered!("instr(lower(actor), lower($3)) > 0"),
            crate::Backend::Postgres => filtered!("strpos(lower(actor), lower($3)) > 0"),
        };
        let before_id = before_id.unwrap_or(i64::MAX);
        let from = filter.from.map_or(i64::MIN, |t| t.as_millisecond());
        let until = filter.until.map_or(i64::MAX, |t| t.as_millisecond());
        let rows: Vec<AuditRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(before_id)
            .bind(i64::from(limit))
            .bind(&filter.actor)
            .bind(&filter.action_prefix)
            .bind(from)
            .bind(until)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(audit_record).collect()
    }
}

fn audit_record(row: AuditRow) -> Result<AuditRecord, StoreError> {
    let (id, at, actor, action, target, before, after) = row;
    let json = |s: Option<String>| -> Result<Option<Value>, StoreError> {
        s.map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("audit row {id}: {e}")))
    };
    Ok(AuditRecord {
        id,
        at: crate::timestamp(at)?,
        actor,
        action,
        target,
        before: json(before)?,
        after: json(after)?,
    })
}
