//! The update inventory's rows: what is deployed where (`inventory_deployed`, every change
//! audited in its transaction), and the last good read of each index and end-of-life file
//! with what a conditional GET needs (`inventory_sources`).

use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use crate::audit::{AuditEntry, insert_audit};
use crate::{BeginWrite, Store, StoreError, with_pool};

/// What is deployed of an item at a place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployed {
    pub item: String,
    pub place: String,
    pub chart_version: String,
    pub app_version: Option<String>,
    pub reported_at: Timestamp,
    pub reported_by: String,
}

/// A report to store: what is deployed of `item` at `place`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedReport {
    pub item: String,
    pub place: String,
    pub chart_version: String,
    pub app_version: Option<String>,
}

/// What storing a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedChange {
    /// The row before (`None`: the item was not known at that place).
    pub before: Option<Deployed>,
    /// The row now.
    pub after: Deployed,
    /// Whether the versions changed (and so an audit row was written).
    pub changed: bool,
}

/// The last reads of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    pub location: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The last good read, summarised (JSON).
    pub body: Option<String>,
    pub good_at: Option<Timestamp>,
    pub checked_at: Timestamp,
    pub error: Option<String>,
}

/// How an attempt to read a source ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceOutcome {
    /// Read anew: the summary and the validators for the next conditional GET.
    Fresh {
        body: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// The server said it has not changed (304): the stored read is still good.
    Unchanged,
    /// It could not be read; the stored read is kept.
    Failed(String),
}

type DeployedRow = (String, String, String, Option<String>, i64, String);
type SourceRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
);

fn deployed(row: DeployedRow) -> Result<Deployed, StoreError> {
    let (item, place, chart_version, app_version, reported_at, reported_by) = row;
    Ok(Deployed {
        item,
        place,
        chart_version,
        app_version,
        reported_at: crate::timestamp(reported_at)?,
        reported_by,
    })
}

fn source(row: SourceRow) -> Result<SourceRecord, StoreError> {
    let (location, etag, last_modified, body, good_at, checked_at, error) = row;
    Ok(SourceRecord {
        location,
        etag,
        last_modified,
        body,
        good_at: good_at.map(crate::timestamp).transpose()?,
        checked_at: crate::timestamp(checked_at)?,
        error,
    })
}

macro_rules! select_deployed {
    ($rest:literal) => {
        concat!(
            "SELECT item, place, chart_version, app_version, reported_at, reported_by \
             FROM inventory_deployed ",
            $rest
        )
    };
}

macro_rules! select_sources {
    ($rest:literal) => {
        concat!(
            "SELECT location, etag, last_modified, body, good_at, checked_at, error \
             FROM inventory_sources ",
            $rest
        )
    };
}

impl Store {
    /// Stores what is deployed, all reports in one transaction; a report whose versions
    /// differ from the stored ones is audited (`inventory.deployed`), one that repeats them
    /// only refreshes `reported_at`.
    pub async fn report_deployed(
        &self,
        reports: &[DeployedReport],
        actor: &str,
        now: Timestamp,
    ) -> Result<Vec<DeployedChange>, StoreError> {
        let at = now.as_millisecond();
        let select = select_deployed!("WHERE item = $1 AND place = $2");
        let upsert = "INSERT INTO inventory_deployed \
             (item, place, chart_version, app_version, reported_at, reported_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (item, place) DO UPDATE SET chart_version = excluded.chart_version, \
             app_version = excluded.app_version, reported_at = excluded.reported_at, \
             reported_by = excluded.reported_by";
        let mut changes = Vec::with_capacity(reports.len());
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for report in reports {
                let row: Option<DeployedRow> = sqlx::query_as(select)
                    .bind(&report.item)
                    .bind(&report.place)
                    .fetch_optional(&mut *tx)
                    .await?;
                let before = row.map(deployed).transpose()?;
                let after = Deployed {
                    item: report.item.clone(),
                    place: report.place.clone(),
                    chart_version: report.chart_version.clone(),
                    app_version: report.app_version.clone(),
                    reported_at: now,
                    reported_by: actor.to_owned(),
                };
                sqlx::query(upsert)
                    .bind(&after.item)
                    .bind(&after.place)
                    .bind(&after.chart_version)
                    .bind(&after.app_version)
                    .bind(at)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                let changed = before.as_ref().is_none_or(|b| {
                    b.chart_version != after.chart_version || b.app_version != after.app_version
                });
                if changed {
                    let versions = |d: &Deployed| {
                        json!({"chart_version": d.chart_version, "app_version": d.app_version})
                    };
                    let audit = AuditEntry {
                        actor: actor.to_owned(),
                        action: "inventory.deployed".into(),
                        target: format!("inventory/{}/{}", after.item, after.place),
                        before: before.as_ref().map(versions),
                        after: Some(versions(&after)),
                    };
                    insert_audit!(&mut *tx, at, &audit)?;
                }
                changes.push(DeployedChange { before, after, changed });
            }
            tx.commit().await
        })?;
        Ok(changes)
    }

    /// Every deployment, by item and place.
    pub async fn list_deployed(&self) -> Result<Vec<Deployed>, StoreError> {
        let sql = select_deployed!("ORDER BY item, place");
        let rows: Vec<DeployedRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(deployed).collect()
    }

    /// The last reads of every source.
    pub async fn list_inventory_sources(&self) -> Result<Vec<SourceRecord>, StoreError> {
        let sql = select_sources!("ORDER BY location");
        let rows: Vec<SourceRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(source).collect()
    }

    /// The last reads of one source.
    pub async fn get_inventory_source(
        &self,
        location: &str,
    ) -> Result<Option<SourceRecord>, StoreError> {
        let sql = select_sources!("WHERE location = $1");
        let row: Option<SourceRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(location)
            .fetch_optional(pool)
            .await)?;
        row.map(source).transpose()
    }

    /// Records an attempt to read `location`: a fresh read replaces the stored one, a 304
    /// confirms it, a failure keeps it and says why.
    pub async fn record_inventory_source(
        &self,
        location: &str,
        outcome: &SourceOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let at = now.as_millisecond();
        match outcome {
            SourceOutcome::Fresh {
                body,
                etag,
                last_modified,
            } => {
                let sql = "INSERT INTO inventory_sources \
                     (location, etag, last_modified, body, good_at, checked_at, error) \
                     VALUES ($1, $2, $3, $4, $5, $5, NULL) \
                     ON CONFLICT (location) DO UPDATE SET etag = excluded.etag, \
                     last_modified = excluded.last_modified, body = excluded.body, \
                     good_at = excluded.good_at, checked_at = excluded.checked_at, error = NULL";
                with_pool!(self, pool => sqlx::query(sql)
                    .bind(location)
                    .bind(etag)
                    .bind(last_modified)
                    .bind(body)
                    .bind(at)
                    .execute(pool)
                    .await
                    .map(|_| ()))?;
            }
            SourceOutcome::Unchanged => {
                let sql = "UPDATE inventory_sources SET good_at = $2, checked_at = $2, error = NULL \
                     WHERE location = $1";
                with_pool!(self, pool => sqlx::query(sql)
                    .bind(location)
                    .bind(at)
                    .execute(pool)
                    .await
                    .map(|_| ()))?;
            }
            SourceOutcome::Failed(why) => {
                let sql = "INSERT INTO inventory_sources (location, checked_at, error) \
                     VALUES ($1, $2, $3) \
                     ON CONFLICT (location) DO UPDATE SET checked_at = excluded.checked_at, \
                     error = excluded.error";
                with_pool!(self, pool => sqlx::query(sql)
                    .bind(location)
                    .bind(at)
                    .bind(why)
                    .execute(pool)
                    .await
                    .map(|_| ()))?;
            }
        }
        Ok(())
    }
}
