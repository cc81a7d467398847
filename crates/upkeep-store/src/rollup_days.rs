//! Whole UTC days of rollups: what keeps a year of them small.
//!
//! Every result is summed into its minute, hour and day rows of `check_rollups` as it arrives
//! (the write path is one multi-row upsert). Kept that way, a monitor-year is 525,600 minute
//! rows (while minutes are kept), 8,760 hour rows and 365 day rows, each carrying its monitor
//! id and key. So once a UTC day ended at least [`FOLD_AFTER_MS`] ago, a monitor's rows of that
//! day are folded into ONE row of `check_rollup_days`: the day's totals as columns (what
//! reports over whole days sum in SQL), its 24 hours and its 1,440 minutes each packed into a
//! value ([`upkeep_domain::rollups`]). Minutes are dropped with `monitoring.retention`
//! ([`Store::prune_minute_rollups`]); the day row and its hours stay.
//!
//! Results up to a day late (an agent's backlog) may still land in a folded day: they go to
//! `check_rollups` as always and are folded into the day's row on a later pass. Everything is
//! a sum (or a maximum), so readers add the two tables and stay exact whatever was folded when.
//! A fold deletes the rows it folds (`DELETE … RETURNING`) in the transaction that writes the
//! day's row, so a result written meanwhile is either folded or left for the next pass.

use jiff::Timestamp;
use upkeep_domain::rollups::{self, HOURS_A_DAY, MINUTES_A_DAY, RollupTotals};

use crate::monitoring::{DAY_MS, HOUR_MS, MINUTE_MS};
use crate::{BeginWrite, Store, StoreError, with_pool};

/// How long after its end a UTC day is folded: late enough that the probe writer's own
/// batches of that day are written.
pub const FOLD_AFTER_MS: i64 = HOUR_MS;

/// A monitor's day as `check_rollup_days` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedDay {
    pub totals: RollupTotals,
    /// The 24 hours, packed.
    pub hours: Vec<u8>,
    /// The 1,440 minutes, packed; `None` once past retention (or never kept).
    pub minutes: Option<Vec<u8>>,
}

/// What one fold did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldedDays {
    /// Monitor-days folded.
    pub days: u64,
    /// Rows of `check_rollups` folded into them (and deleted).
    pub rows: u64,
}

impl FoldedDays {
    pub fn add(&mut self, other: FoldedDays) {
        self.days += other.days;
        self.rows += other.rows;
    }
}

fn corrupt(e: rollups::PackError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The slot of `bucket` (a bucket of `resolution` in the day starting at `day`) in a day of
/// `slots` slots.
fn slot(day: i64, bucket: i64, resolution: i64, slots: usize) -> Result<usize, StoreError> {
    usize::try_from((bucket - day).div_euclid(resolution))
        .ok()
        .filter(|s| *s < slots)
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "rollup bucket {bucket} is not in the day starting at {day}"
            ))
        })
}

/// Folds a monitor's rows of `check_rollups` for the day starting at `day` — `(resolution,
/// bucket, totals)` — into that day's packed row, `existing` if it has one. The day's totals
/// come from day rows, its hours from hour rows and its minutes from minute rows, each added to
/// what the packed row held; a day without minutes (none kept) keeps none.
pub fn fold_day(
    existing: Option<PackedDay>,
    day: i64,
    rows: &[(i64, i64, RollupTotals)],
) -> Result<PackedDay, StoreError> {
    let (mut totals, hours, minutes) = match existing {
        Some(p) => (p.totals, Some(p.hours), p.minutes),
        None => (RollupTotals::default(), None, None),
    };
    let decode = |bytes: Option<&Vec<u8>>, slots| match bytes {
        Some(b) => rollups::decode(b, slots).map_err(corrupt),
        None => Ok(vec![RollupTotals::default(); slots]),
    };
    let mut hour_slots = decode(hours.as_ref(), HOURS_A_DAY)?;
    let mut minute_slots: Option<Vec<RollupTotals>> = match &minutes {
        Some(m) => Some(decode(Some(m), MINUTES_A_DAY)?),
        None => None,
    };
    for (resolution, bucket, t) in rows {
        match *resolution {
            DAY_MS => totals.add(t),
            HOUR_MS => hour_slots[slot(day, *bucket, HOUR_MS, HOURS_A_DAY)?].add(t),
            MINUTE_MS => {
                let slots = minute_slots
                    .get_or_insert_with(|| vec![RollupTotals::default(); MINUTES_A_DAY]);
                slots[slot(day, *bucket, MINUTE_MS, MINUTES_A_DAY)?].add(t);
            }
            other => {
                return Err(StoreError::Corrupt(format!(
                    "rollup resolution {other} is not a minute, hour or day"
                )));
            }
        }
    }
    Ok(PackedDay {
        totals,
        hours: rollups::encode(&hour_slots),
        minutes: minute_slots.map(|m| rollups::encode(&m)),
    })
}

type HotRow = (i64, i64, i64, i64, i64, i64, i64);
type PackedRow = (i64, i64, i64, i64, i64, Vec<u8>, Option<Vec<u8>>);

impl Store {
    /// The monitor-days of `check_rollups` due for folding at `now` (days that ended at least
    /// [`FOLD_AFTER_MS`] ago), oldest day first, at most `limit`: `(monitor, day)`. Walks the
    /// monitors through the table's key, a few index reads each, whatever the table holds.
    pub async fn rollup_days_to_fold(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let last_day = now.as_millisecond() - FOLD_AFTER_MS - DAY_MS;
        let sql = format!(
            "WITH RECURSIVE monitors(id) AS ( \
               SELECT (SELECT monitor_id FROM check_rollups ORDER BY monitor_id LIMIT 1) \
               UNION ALL \
               SELECT (SELECT c.monitor_id FROM check_rollups c WHERE c.monitor_id > monitors.id \
                       ORDER BY c.monitor_id LIMIT 1) \
               FROM monitors WHERE monitors.id IS NOT NULL) \
             SELECT r.monitor_id, r.bucket FROM monitors \
             JOIN check_rollups r ON r.monitor_id = monitors.id \
             WHERE r.resolution = {DAY_MS} AND r.bucket <= $1 \
             ORDER BY r.bucket, r.monitor_id LIMIT $2"
        );
        let rows: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(last_day)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(m, day)| Ok((m, crate::timestamp(day)?)))
            .collect()
    }

    /// Folds each of `days` — `(monitor, midnight UTC)` — into its row of `check_rollup_days`
    /// (see the module documentation), all in one transaction. A day with nothing to fold is
    /// left as it is.
    pub async fn fold_rollup_days(
        &self,
        days: &[(String, Timestamp)],
    ) -> Result<FoldedDays, StoreError> {
        let take = format!(
            "DELETE FROM check_rollups WHERE monitor_id = $1 \
             AND resolution IN ({MINUTE_MS}, {HOUR_MS}, {DAY_MS}) AND bucket >= $2 AND bucket < $3 \
             RETURNING resolution, bucket, checks, failures, latency_sum_ms, latency_max_ms, down_ms"
        );
        let read = "SELECT checks, failures, latency_sum_ms, latency_max_ms, down_ms, hours, \
                    minutes FROM check_rollup_days WHERE monitor_id = $1 AND day = $2";
        let write = "INSERT INTO check_rollup_days (monitor_id, day, checks, failures, \
                     latency_sum_ms, latency_max_ms, down_ms, hours, minutes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (monitor_id, day) DO UPDATE SET checks = excluded.checks, \
                     failures = excluded.failures, latency_sum_ms = excluded.latency_sum_ms, \
                     latency_max_ms = excluded.latency_max_ms, down_ms = excluded.down_ms, \
                     hours = excluded.hours, minutes = excluded.minutes";
        let mut folded = FoldedDays::default();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (monitor, day) in days {
                let day = crate::monitoring::bucket_start(day.as_millisecond(), DAY_MS);
                let hot: Vec<HotRow> = sqlx::query_as(sqlx::AssertSqlSafe(take.clone()))
                    .bind(monitor)
                    .bind(day)
                    .bind(day + DAY_MS)
                    .fetch_all(&mut *tx)
                    .await?;
                if hot.is_empty() {
                    continue;
                }
                let existing: Option<PackedRow> = sqlx::query_as(read)
                    .bind(monitor)
                    .bind(day)
                    .fetch_optional(&mut *tx)
                    .await?;
                let existing = existing
                    .map(|(c, f, ls, lm, d, hours, minutes)| {
                        Ok::<_, StoreError>(PackedDay {
                            totals: crate::monitoring::totals((c, f, ls, lm, d))?,
                            hours,
                            minutes,
                        })
                    })
                    .transpose()?;
                let rows = hot
                    .iter()
                    .map(|&(res, bucket, c, f, ls, lm, d)| {
                        Ok((res, bucket, crate::monitoring::totals((c, f, ls, lm, d))?))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let packed = fold_day(existing, day, &rows)?;
                let t = packed.totals;
                sqlx::query(write)
                    .bind(monitor)
                    .bind(day)
                    .bind(to_i64(t.checks)?)
                    .bind(to_i64(t.failures)?)
                    .bind(to_i64(t.latency_sum_ms)?)
                    .bind(i64::from(t.latency_max_ms))
                    .bind(t.down_ms)
                    .bind(packed.hours)
                    .bind(packed.minutes)
                    .execute(&mut *tx)
                    .await?;
                folded.days += 1;
                folded.rows += hot.len() as u64;
            }
            tx.commit().await?;
        });
        Ok(folded)
    }
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("rollup total {v} is out of range")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(checks: u64, latency_max_ms: u32) -> RollupTotals {
        RollupTotals {
            checks,
            failures: 1,
            latency_sum_ms: checks * 10,
            latency_max_ms,
            down_ms: 5,
        }
    }

    #[test]
    fn a_day_folds_its_rows_into_slots_and_adds_to_what_was_folded() {
        let day = 20 * DAY_MS;
        let rows = vec![
            (DAY_MS, day, t(3, 90)),
            (HOUR_MS, day + 23 * HOUR_MS, t(3, 90)),
            (MINUTE_MS, day + 23 * HOUR_MS + 59 * MINUTE_MS, t(3, 90)),
        ];
        let first = fold_day(None, day, &rows).unwrap();
        assert_eq!(first.totals, t(3, 90));
        let hours = rollups::decode(&first.hours, HOURS_A_DAY).unwrap();
        assert_eq!(hours[23], t(3, 90));
        let minutes = rollups::decode(first.minutes.as_ref().unwrap(), MINUTES_A_DAY).unwrap();
        assert_eq!(minutes[1_439], t(3, 90));

        // Late rows, without minutes (already past retention), add to the packed row.
        let late = vec![(DAY_MS, day, t(1, 200)), (HOUR_MS, day, t(1, 200))];
        let mut pruned = first.clone();
        pruned.minutes = None;
        let second = fold_day(Some(pruned), day, &late).unwrap();
        let mut both = t(3, 90);
        both.add(&t(1, 200));
        assert_eq!(second.totals, both);
        let hours = rollups::decode(&second.hours, HOURS_A_DAY).unwrap();
        assert_eq!((hours[0], hours[23]), (t(1, 200), t(3, 90)));
        assert_eq!(second.minutes, None);

        let outside = vec![(HOUR_MS, day + DAY_MS, t(1, 1))];
        assert!(matches!(
            fold_day(None, day, &outside),
            Err(StoreError::Corrupt(_))
        ));
    }
}
