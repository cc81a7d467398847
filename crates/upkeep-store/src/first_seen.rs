//! When upkeep first watched each monitor. A push monitor that has never pinged is late
//! `period + grace` after this instant, whatever restarts or state changes happen meanwhile.

use crate::BeginWrite;
use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;

use crate::monitoring::{MAX_ROWS_PER_STATEMENT, insert_sql};
use crate::{Dialect, Params, Store, StoreError, with_pool};

/// `SELECT monitor_id, at FROM monitor_first_seen` for `ids` ids.
fn select_sql(params: Params, ids: usize) -> String {
    format!(
        "SELECT monitor_id, at FROM monitor_first_seen WHERE monitor_id IN ({})",
        params.list(1, ids)
    )
}

impl Store {
    /// Records `now` as the first-seen instant of every id not seen before, and returns the
    /// first-seen instant of every id given. One transaction, and two statements per
    /// [`MAX_ROWS_PER_STATEMENT`] ids (an insert that keeps existing rows, then a read).
    pub async fn first_seen(
        &self,
        monitor_ids: &[String],
        now: Timestamp,
    ) -> Result<HashMap<String, Timestamp>, StoreError> {
        let at = now.as_millisecond();
        let ids: Vec<&str> = monitor_ids
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut rows: Vec<(String, i64)> = Vec::with_capacity(ids.len());
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in ids.chunks(MAX_ROWS_PER_STATEMENT) {
                let insert = insert_sql(
                    tx.params(),
                    "INSERT INTO monitor_first_seen (monitor_id, at)",
                    2,
                    chunk.len(),
                    "ON CONFLICT (monitor_id) DO NOTHING",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(insert));
                for id in chunk {
                    q = q.bind(*id).bind(at);
                }
                q.execute(&mut *tx).await?;
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(select_sql(tx.params(), chunk.len())));
                for id in chunk {
                    q = q.bind(*id);
                }
                rows.extend(q.fetch_all(&mut *tx).await?);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        rows.into_iter()
            .map(|(id, seen)| Ok((id, crate::timestamp(seen)?)))
            .collect()
    }
}
