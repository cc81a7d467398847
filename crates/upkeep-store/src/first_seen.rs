//! When upkeep first watched each monitor. A push monitor that has never pinged is late
//! `period + grace` after this instant, whatever restarts or state changes happen meanwhile.

use crate::BeginWrite;
use std::collections::HashMap;

use jiff::Timestamp;

use crate::{Store, StoreError, with_pool};

impl Store {
    /// Records `now` as the first-seen instant of every id not seen before, and returns the
    /// first-seen instant of every id given.
    pub async fn first_seen(
        &self,
        monitor_ids: &[String],
        now: Timestamp,
    ) -> Result<HashMap<String, Timestamp>, StoreError> {
        let at = now.as_millisecond();
        let mut out = HashMap::with_capacity(monitor_ids.len());
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for id in monitor_ids {
                sqlx::query(
                    "INSERT INTO monitor_first_seen (monitor_id, at) VALUES ($1, $2) \
                     ON CONFLICT (monitor_id) DO NOTHING",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let seen: i64 = sqlx::query_scalar("SELECT at FROM monitor_first_seen WHERE monitor_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                out.insert(id.clone(), crate::timestamp(seen)?);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }
}
