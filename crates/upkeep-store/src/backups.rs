//! Backups and recovery drills (`docs/decisions.md#backups-and-drills`).
//!
//! A backup set's runs are the pings of its push key (see [`crate::monitoring`]): a `success`
//! ends a good run, a `fail` a failed one; a backup job may report the size of what it wrote
//! (`pings.size_bytes`, set with [`Store::set_ping_size`] once the ping is recorded). The age
//! that the RPO is judged on runs from the **start** of the last successful run
//! ([`BackupRun::started_at`]); failed runs never count ([`Store::last_backup`]).
//!
//! Drills are rows of `drills`: started, then finished once with an outcome and whether the
//! restore was validated. Each change writes its audit row (`drill.start`, `drill.finish`) in
//! the same transaction. Finishing is a conditional update, so a drill is finished once even
//! when two requests race; the second gets [`StoreError::Conflict`].

use crate::BeginWrite;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use upkeep_domain::backup::{self, DrillOutcome};

use crate::audit::{AuditEntry, insert_audit};
use crate::monitoring::newest_pings;
use crate::{Store, StoreError, ids, with_pool};

/// One completed run of a backup job (a `success` or `fail` ping of its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupRun {
    /// The ping's id.
    pub id: i64,
    /// Whether the run succeeded.
    pub ok: bool,
    /// When the run started: the end minus its duration when paired with a start, else the end.
    pub started_at: Timestamp,
    /// When its end was reported.
    pub finished_at: Timestamp,
    /// The run's duration, when it was paired with a start.
    pub duration_ms: Option<i64>,
    /// The size reported with `?size=`, if any.
    pub size_bytes: Option<u64>,
    pub exit_code: Option<u8>,
}

/// A recovery drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrillRecord {
    pub id: String,
    /// The backup set's id in the configuration.
    pub backup_set: String,
    pub started_at: Timestamp,
    /// `None` while the drill runs.
    pub finished_at: Option<Timestamp>,
    pub outcome: Option<DrillOutcome>,
    /// Whether the restored data was validated.
    pub validated: Option<bool>,
    /// Finished − started, only when the drill counts (succeeded and validated).
    pub recovery_ms: Option<i64>,
    pub notes: String,
    pub started_by: String,
    pub finished_by: Option<String>,
}

impl DrillRecord {
    /// How long the drill took, counted or not (`None` while it runs).
    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at
            .map(|f| (f.as_millisecond() - self.started_at.as_millisecond()).max(0))
    }
}

/// How a drill ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillFinish {
    pub outcome: DrillOutcome,
    pub validated: bool,
    /// Appended to the drill's notes (on a line of its own) when given.
    pub notes: Option<String>,
}

type RunRow = (i64, String, i64, Option<i64>, Option<i64>, Option<i64>);

type DrillRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<i64>,
    String,
    String,
    Option<String>,
);

macro_rules! select_drills {
    ($rest:literal) => {
        concat!(
            "SELECT id, backup_set, started_at, finished_at, outcome, validated, recovery_ms, \
             notes, started_by, finished_by FROM drills ",
            $rest
        )
    };
}

macro_rules! select_runs {
    ($filter:literal, $limit:literal) => {
        newest_pings!(
            "id, kind, at, duration_ms, size_bytes, exit_code",
            $filter,
            $limit
        )
    };
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn backup_run(row: RunRow) -> Result<BackupRun, StoreError> {
    let (id, kind, at, duration_ms, size_bytes, exit_code) = row;
    let finished_at = crate::timestamp(at)?;
    Ok(BackupRun {
        id,
        ok: kind == "success",
        started_at: backup::run_started(finished_at, duration_ms),
        finished_at,
        duration_ms,
        size_bytes: size_bytes
            .map(|s| u64::try_from(s).map_err(|_| corrupt(format!("ping {id}: size {s}"))))
            .transpose()?,
        exit_code: exit_code
            .map(|c| u8::try_from(c).map_err(|_| corrupt(format!("ping {id}: exit code {c}"))))
            .transpose()?,
    })
}

fn drill_record(row: DrillRow) -> Result<DrillRecord, StoreError> {
    let (
        id,
        backup_set,
        started_at,
        finished_at,
        outcome,
        validated,
        recovery_ms,
        notes,
        started_by,
        finished_by,
    ) = row;
    let outcome = outcome
        .map(|o| {
            DrillOutcome::parse(&o).ok_or_else(|| corrupt(format!("drill {id}: outcome `{o}`")))
        })
        .transpose()?;
    Ok(DrillRecord {
        started_at: crate::timestamp(started_at)?,
        finished_at: finished_at.map(crate::timestamp).transpose()?,
        id,
        backup_set,
        outcome,
        validated,
        recovery_ms,
        notes,
        started_by,
        finished_by,
    })
}

impl Store {
    /// Records the size a backup job reported with a ping already stored (`id`).
    pub async fn set_ping_size(&self, id: i64, size_bytes: u64) -> Result<(), StoreError> {
        let size = i64::try_from(size_bytes)
            .map_err(|_| StoreError::Conflict(format!("size {size_bytes} is too large")))?;
        // The inbox first: rows only move from it to `pings`, so a row moved between the two
        // updates is found by the second.
        for sql in [
            "UPDATE pings_inbox SET size_bytes = $1 WHERE id = $2",
            "UPDATE pings SET size_bytes = $1 WHERE id = $2",
        ] {
            with_pool!(self, pool => sqlx::query(sql).bind(size).bind(id).execute(pool).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// The last successful run of the backup job pinging `key` (failed runs never count).
    pub async fn last_backup(&self, key: &str) -> Result<Option<BackupRun>, StoreError> {
        let sql = select_runs!("key = $1 AND kind = 'success'", "1");
        let row: Option<RunRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await)?;
        row.map(backup_run).transpose()
    }

    /// The newest completed runs (successes and failures) of `key`, newest first.
    pub async fn recent_backup_runs(
        &self,
        key: &str,
        limit: u32,
    ) -> Result<Vec<BackupRun>, StoreError> {
        let sql = select_runs!("key = $1 AND kind IN ('success', 'fail')", "$2");
        let rows: Vec<RunRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(key)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(backup_run).collect()
    }

    /// Starts a recovery drill of `backup_set`, with its audit row (`drill.start`).
    pub async fn start_drill(
        &self,
        backup_set: &str,
        notes: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<DrillRecord, StoreError> {
        let record = DrillRecord {
            id: ids::new_id(),
            backup_set: backup_set.to_owned(),
            started_at: now,
            finished_at: None,
            outcome: None,
            validated: None,
            recovery_ms: None,
            notes: notes.to_owned(),
            started_by: actor.to_owned(),
            finished_by: None,
        };
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "drill.start".into(),
            target: format!("drill/{}", record.id),
            before: None,
            after: Some(json!(record)),
        };
        let at = now.as_millisecond();
        let r = &record;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO drills (id, backup_set, started_at, finished_at, outcome, validated, \
                 recovery_ms, notes, started_by, finished_by) \
                 VALUES ($1, $2, $3, NULL, NULL, NULL, NULL, $4, $5, NULL)",
            )
            .bind(&r.id)
            .bind(&r.backup_set)
            .bind(at)
            .bind(&r.notes)
            .bind(&r.started_by)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, at, &audit)?;
            tx.commit().await
        })?;
        Ok(record)
    }

    /// Finishes a running drill of `backup_set`: the recovery time is computed (and counts only
    /// when the drill succeeded and was validated). `None` when `backup_set` has no such drill;
    /// [`StoreError::Conflict`] when it is already finished.
    pub async fn finish_drill(
        &self,
        backup_set: &str,
        id: &str,
        finish: &DrillFinish,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<DrillRecord>, StoreError> {
        let Some(before) = self.get_drill(id).await? else {
            return Ok(None);
        };
        if before.backup_set != backup_set {
            return Ok(None);
        }
        if before.finished_at.is_some() {
            return Err(already_finished(id));
        }
        let finished_at = now.max(before.started_at);
        let notes = match finish.notes.as_deref().map(str::trim) {
            Some(extra) if !extra.is_empty() && !before.notes.is_empty() => {
                format!("{}\n{extra}", before.notes)
            }
            Some(extra) if !extra.is_empty() => extra.to_owned(),
            _ => before.notes.clone(),
        };
        let after = DrillRecord {
            finished_at: Some(finished_at),
            outcome: Some(finish.outcome),
            validated: Some(finish.validated),
            recovery_ms: backup::recovery_ms(
                before.started_at,
                finished_at,
                finish.outcome,
                finish.validated,
            ),
            notes,
            finished_by: Some(actor.to_owned()),
            ..before.clone()
        };
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "drill.finish".into(),
            target: format!("drill/{id}"),
            before: Some(json!(before)),
            after: Some(json!(after)),
        };
        let at = now.as_millisecond();
        let a = &after;
        let changed: u64 = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE drills SET finished_at = $1, outcome = $2, validated = $3, \
                 recovery_ms = $4, notes = $5, finished_by = $6 \
                 WHERE id = $7 AND finished_at IS NULL",
            )
            .bind(finished_at.as_millisecond())
            .bind(finish.outcome.as_str())
            .bind(finish.validated)
            .bind(a.recovery_ms)
            .bind(&a.notes)
            .bind(actor)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 1 {
                insert_audit!(&mut *tx, at, &audit)?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok::<u64, sqlx::Error>(done)
        })?;
        if changed == 1 {
            Ok(Some(after))
        } else {
            Err(already_finished(id))
        }
    }

    /// One drill.
    pub async fn get_drill(&self, id: &str) -> Result<Option<DrillRecord>, StoreError> {
        let sql = select_drills!("WHERE id = $1");
        let row: Option<DrillRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        row.map(drill_record).transpose()
    }

    /// Drills of one backup set or of all, newest first (by start), at most `limit`.
    pub async fn list_drills(
        &self,
        backup_set: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DrillRecord>, StoreError> {
        let limit = i64::from(limit);
        let rows: Vec<DrillRow> = match backup_set {
            Some(set) => {
                let sql = select_drills!(
                    "WHERE backup_set = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
                );
                with_pool!(self, pool => sqlx::query_as(sql).bind(set).bind(limit).fetch_all(pool).await)?
            }
            None => {
                let sql = select_drills!("ORDER BY started_at DESC, id DESC LIMIT $1");
                with_pool!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await)?
            }
        };
        rows.into_iter().map(drill_record).collect()
    }

    /// The latest finished drill of `backup_set`, counted or not.
    pub async fn last_finished_drill(
        &self,
        backup_set: &str,
    ) -> Result<Option<DrillRecord>, StoreError> {
        let sql = select_drills!(
            "WHERE backup_set = $1 AND finished_at IS NOT NULL \
             ORDER BY finished_at DESC, id DESC LIMIT 1"
        );
        self.one_drill(sql, backup_set).await
    }

    /// The latest drill of `backup_set` that counts (succeeded and validated): what the drill
    /// cadence runs from.
    pub async fn last_counted_drill(
        &self,
        backup_set: &str,
    ) -> Result<Option<DrillRecord>, StoreError> {
        let sql = select_drills!(
            "WHERE backup_set = $1 AND finished_at IS NOT NULL AND outcome = 'success' \
             AND validated = TRUE ORDER BY finished_at DESC, id DESC LIMIT 1"
        );
        self.one_drill(sql, backup_set).await
    }

    /// The latest drill of `backup_set` still running.
    pub async fn open_drill(&self, backup_set: &str) -> Result<Option<DrillRecord>, StoreError> {
        let sql = select_drills!(
            "WHERE backup_set = $1 AND finished_at IS NULL ORDER BY started_at DESC, id DESC LIMIT 1"
        );
        self.one_drill(sql, backup_set).await
    }

    async fn one_drill(
        &self,
        sql: &'static str,
        backup_set: &str,
    ) -> Result<Option<DrillRecord>, StoreError> {
        let row: Option<DrillRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(backup_set)
            .fetch_optional(pool)
            .await)?;
        row.map(drill_record).transpose()
    }
}

fn already_finished(id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "drill `{id}` is already finished; start a new drill to record another attempt"
    ))
}
