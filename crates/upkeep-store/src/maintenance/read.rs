//! Reading maintenances: one by id, lists by [`MaintenanceFilter`], and the fingerprint that
//! tells a poller nothing changed.

use std::collections::HashMap;

use jiff::Timestamp;
use upkeep_domain::maintenance::MaintenanceRecord;

use super::rows::{Row, UpdateRow, maintenance_record, select_maintenances, update_record};
use super::{HeldMaintenance, MaintenanceFilter};
use crate::{Params, Store, StoreError, with_pool};

impl Store {
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

    /// Maintenances whose window overlaps `[from, to)` (they start before `to` and end after
    /// `from`), latest start first, at most `limit`: a calendar month's, read through the
    /// start index however many months of history there are.
    pub async fn maintenances_overlapping(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<MaintenanceRecord>, StoreError> {
        let sql = select_maintenances!(
            "WHERE starts_at < $1 AND ends_at > $2 ORDER BY starts_at DESC, id DESC LIMIT $3"
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(to.as_millisecond())
            .bind(from.as_millisecond())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        self.complete_maintenance_rows(rows).await
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
        self.complete_maintenance_rows(rows).await
    }

    async fn complete_maintenance_rows(
        &self,
        rows: Vec<Row>,
    ) -> Result<Vec<MaintenanceRecord>, StoreError> {
        // The updates of every row in a few queries (chunks of bound ids), not one per row.
        const CHUNK: usize = 500;
        let mut updates: HashMap<String, Vec<UpdateRow>> = HashMap::new();
        for chunk in rows.chunks(CHUNK) {
            let marks = Params::Numbered.list(1, chunk.len());
            let sql = format!(
                "SELECT maintenance_id, id, status, body, created_at, created_by \
                 FROM maintenance_updates WHERE maintenance_id IN ({marks}) \
                 ORDER BY maintenance_id, seq DESC, created_at DESC"
            );
            let found: Vec<(String, String, String, String, i64, String)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
                for row in chunk {
                    q = q.bind(&row.id);
                }
                q.fetch_all(pool).await
            })?;
            for (of, id, status, body, at, by) in found {
                updates
                    .entry(of)
                    .or_default()
                    .push((id, status, body, at, by));
            }
        }
        rows.into_iter()
            .map(|row| {
                let id = row.id.clone();
                let list = updates
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| update_record(&id, r))
                    .collect::<Result<_, _>>()?;
                maintenance_record(row, list)
            })
            .collect()
    }

    /// `scheduled` maintenances whose start is held (a hold reason is set), soonest first, at
    /// most `limit`: one query, without their timelines.
    pub async fn held_maintenances(&self, limit: u32) -> Result<Vec<HeldMaintenance>, StoreError> {
        let sql = "SELECT id, title, starts_at, hold_reason FROM maintenances \
                   WHERE status = 'scheduled' AND hold_reason IS NOT NULL \
                   ORDER BY starts_at, id LIMIT $1";
        let rows: Vec<(String, String, i64, String)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(id, title, starts_at, hold_reason)| {
                Ok(HeldMaintenance {
                    id,
                    title,
                    starts_at: crate::timestamp(starts_at)?,
                    hold_reason,
                })
            })
            .collect()
    }

    pub(super) async fn complete_maintenance_row(
        &self,
        row: Row,
    ) -> Result<MaintenanceRecord, StoreError> {
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
}
