//! Runs of identical successes: what keeps raw check results small.
//!
//! A monitor probed every 10 s answers the same way thousands of times a day, and storing every
//! one of those answers costs ~80 bytes a check (8–10 GB a day at 10,000 monitors). A result
//! carries information when it fails, when it is judged while its monitor is down, or when it
//! differs from the one before it; a long stretch of identical successes carries only how many
//! there were, when they started and ended, and their latencies.
//!
//! So raw results are written one row per check as they arrive (the write path stays one
//! multi-row insert), and once a whole UTC hour is older than [`COMPACT_AFTER_MS`] its rows are
//! folded: consecutive rows of one monitor and location that are plain successes (`ok`, no
//! failure text, nothing charged as down) with the same status code become ONE row — the
//! first row of the stretch, now standing for `checks` results from `at` to `last_at`, with
//! `latency_ms` their rounded mean and `latency_min_ms`/`latency_max_ms`/`latency_sum_ms`
//! beside it. Failures, results charged as down and single successes stay as they were.
//! Rollups are written when a result arrives and never change, so uptime and reports do not
//! move; readers of raw results see a run as one row with `checks > 1` (docs/monitoring.md).
//!
//! Folding is idempotent: a run is itself a valid input (its counts and sums add up), so an
//! hour folded twice, or by two replicas at once, ends the same. [`fold`] is pure; the store
//! functions below read an hour of some monitors and rewrite it in one transaction.

use jiff::Timestamp;

use crate::incidents::EventPosition;
use crate::monitoring::HOUR_MS;
use crate::{BeginWrite, Dialect, Params, Store, StoreError, with_pool};

/// How old a whole UTC hour of results must be before its runs are folded: younger results
/// stay one row per check (what rollout gates and the most recent results read).
pub const COMPACT_AFTER_MS: i64 = HOUR_MS;

/// The cursor holding the start of the next hour to fold.
pub const CURSOR: &str = "compact-results";

/// Ids bound per `DELETE … WHERE id IN (…)` statement.
const DELETE_CHUNK: usize = 500;

/// One stored row as folding sees it: a single result or a run.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FoldRow {
    pub id: i64,
    pub monitor_id: String,
    pub location: Option<String>,
    pub at: i64,
    pub ok: bool,
    pub status_code: Option<i64>,
    pub has_failure: bool,
    pub down_ms: i64,
    pub latency_ms: i64,
    /// Results the row stands for (1 for a single result).
    pub checks: i64,
    pub last_at: Option<i64>,
    pub latency_min_ms: Option<i64>,
    pub latency_max_ms: Option<i64>,
    pub latency_sum_ms: Option<i64>,
}

impl FoldRow {
    /// A plain success: the only kind of row a run holds.
    fn plain(&self) -> bool {
        self.ok && !self.has_failure && self.down_ms == 0
    }

    fn sum(&self) -> i64 {
        self.latency_sum_ms
            .unwrap_or(self.latency_ms.saturating_mul(self.checks))
    }
}

/// A stretch of rows folded into one: `keep` is rewritten as the run, `delete` go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub keep: i64,
    pub delete: Vec<i64>,
    pub checks: i64,
    pub last_at: i64,
    pub latency_mean_ms: i64,
    pub latency_min_ms: i64,
    pub latency_max_ms: i64,
    pub latency_sum_ms: i64,
}

/// Slack allowed over twice a monitor's interval before a gap between two checks ends a run.
const GAP_SLACK_MS: i64 = 1_000;

impl FoldRow {
    /// The instant of the row's last check.
    fn end(&self) -> i64 {
        self.last_at.unwrap_or(self.at)
    }

    fn same_series(&self, other: &FoldRow) -> bool {
        self.monitor_id == other.monitor_id && self.location == other.location
    }
}

/// The longest gap between two checks of a monitor probed every `interval_ms` that a run may
/// span: twice the interval and a second of slack. A longer gap (the monitor was paused, the
/// prober stopped) ends the run, so a run never stands for time nobody checked.
pub fn most_gap_ms(interval_ms: i64) -> i64 {
    interval_ms.saturating_mul(2).saturating_add(GAP_SLACK_MS)
}

/// Folds `rows` — ordered by monitor, location, `at` and id — into runs: every stretch of two
/// or more consecutive plain successes of one monitor and location with the same status code
/// and no gap between neighbours longer than `most_gap(monitor)` (rows of a monitor it has
/// no answer for are left alone). Rows outside such stretches are left alone (they appear in
/// no run).
pub fn fold(rows: &[FoldRow], most_gap: impl Fn(&str) -> Option<i64>) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let first = &rows[i];
        let mut j = i + 1;
        if let Some(most_gap) = most_gap(&first.monitor_id).filter(|_| first.plain()) {
            while j < rows.len() {
                let r = &rows[j];
                if !(r.plain()
                    && r.same_series(first)
                    && r.status_code == first.status_code
                    && r.at - rows[j - 1].end() <= most_gap)
                {
                    break;
                }
                j += 1;
            }
        }
        if j - i >= 2 {
            let stretch = &rows[i..j];
            let checks: i64 = stretch.iter().map(|r| r.checks).sum();
            let sum: i64 = stretch.iter().map(FoldRow::sum).sum();
            let min = stretch
                .iter()
                .map(|r| r.latency_min_ms.unwrap_or(r.latency_ms))
                .min()
                .unwrap_or(first.latency_ms);
            let max = stretch
                .iter()
                .map(|r| r.latency_max_ms.unwrap_or(r.latency_ms))
                .max()
                .unwrap_or(first.latency_ms);
            let last_at = stretch.iter().map(FoldRow::end).max().unwrap_or(first.at);
            runs.push(Run {
                keep: first.id,
                delete: stretch[1..].iter().map(|r| r.id).collect(),
                checks,
                last_at,
                // Rounded to the nearest millisecond; `checks` is at least 2.
                latency_mean_ms: (sum + checks / 2) / checks.max(1),
                latency_min_ms: min,
                latency_max_ms: max,
                latency_sum_ms: sum,
            });
        }
        i = j;
    }
    runs
}

/// What one folding pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folded {
    /// Rows read.
    pub rows: u64,
    /// Runs written.
    pub runs: u64,
    /// Rows deleted (now counted in a run).
    pub deleted: u64,
}

impl Folded {
    pub fn add(&mut self, other: Folded) {
        self.rows += other.rows;
        self.runs += other.runs;
        self.deleted += other.deleted;
    }
}

impl Store {
    /// The start of the next UTC hour to fold, if folding has begun: else the hour of the
    /// oldest stored result, if there is one.
    pub async fn next_hour_to_fold(&self) -> Result<Option<Timestamp>, StoreError> {
        if let Some(position) = self.cursor(CURSOR).await? {
            return Ok(Some(crate::timestamp(position.id)?));
        }
        let oldest: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT MIN(at) FROM check_results")
            .fetch_one(pool)
            .await)?;
        oldest
            .map(|at| crate::timestamp(at - at.rem_euclid(HOUR_MS)))
            .transpose()
    }

    /// Records that every hour before `next` is folded.
    pub async fn set_next_hour_to_fold(
        &self,
        next: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let position = EventPosition {
            xid: 0,
            id: next.as_millisecond(),
        };
        self.set_cursor(CURSOR, position, now).await
    }

    /// Folds the results of `monitors` (each with its interval in milliseconds) in the UTC
    /// hour starting at `hour` into runs (see the module documentation), in one transaction.
    pub async fn fold_hour(
        &self,
        monitors: &[(String, i64)],
        hour: Timestamp,
    ) -> Result<Folded, StoreError> {
        if monitors.is_empty() {
            return Ok(Folded::default());
        }
        let from = hour.as_millisecond() - hour.as_millisecond().rem_euclid(HOUR_MS);
        let select = format!(
            "SELECT id, monitor_id, location, at, ok, status_code, failure IS NOT NULL AS has_failure, down_ms, \
             latency_ms, checks, last_at, latency_min_ms, latency_max_ms, latency_sum_ms \
             FROM check_results WHERE at >= $1 AND at < $2 AND monitor_id IN ({}) \
             ORDER BY monitor_id, location, at, id",
            Params::Numbered.list(3, monitors.len())
        );
        let update = "UPDATE check_results SET checks = $1, last_at = $2, latency_ms = $3, \
                      latency_min_ms = $4, latency_max_ms = $5, latency_sum_ms = $6 WHERE id = $7";
        let folded = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut q = sqlx::query_as::<_, FoldRow>(sqlx::AssertSqlSafe(select.clone()))
                .bind(from)
                .bind(from + HOUR_MS);
            for (m, _) in monitors {
                q = q.bind(m);
            }
            let rows = q.fetch_all(&mut *tx).await?;
            let runs = fold(&rows, |id| {
                monitors
                    .iter()
                    .find(|(m, _)| m == id)
                    .map(|(_, interval)| most_gap_ms(*interval))
            });
            let mut deleted = 0u64;
            for run in &runs {
                sqlx::query(update)
                    .bind(run.checks)
                    .bind(run.last_at)
                    .bind(run.latency_mean_ms)
                    .bind(run.latency_min_ms)
                    .bind(run.latency_max_ms)
                    .bind(run.latency_sum_ms)
                    .bind(run.keep)
                    .execute(&mut *tx)
                    .await?;
            }
            let ids: Vec<i64> = runs.iter().flat_map(|r| r.delete.iter().copied()).collect();
            for chunk in ids.chunks(DELETE_CHUNK) {
                let sql = format!(
                    "DELETE FROM check_results WHERE id IN ({})",
                    tx.params().list(1, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                deleted += q.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Folded {
                rows: rows.len() as u64,
                runs: runs.len() as u64,
                deleted,
            })
        })?;
        Ok(folded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn every_10s(_: &str) -> Option<i64> {
        Some(most_gap_ms(10_000))
    }

    fn row(id: i64, monitor: &str, at: i64, ok: bool, latency: i64) -> FoldRow {
        FoldRow {
            id,
            monitor_id: monitor.to_owned(),
            location: None,
            at,
            ok,
            status_code: Some(200),
            has_failure: !ok,
            down_ms: if ok { 0 } else { 10_000 },
            latency_ms: latency,
            checks: 1,
            last_at: None,
            latency_min_ms: None,
            latency_max_ms: None,
            latency_sum_ms: None,
        }
    }

    #[test]
    fn a_failure_splits_successes_into_two_runs_and_stays_alone() {
        let rows = vec![
            row(1, "a", 0, true, 10),
            row(2, "a", 10, true, 30),
            row(3, "a", 20, false, 5),
            row(4, "a", 30, true, 20),
            row(5, "a", 40, true, 21),
            row(6, "a", 50, true, 22),
        ];
        let runs = fold(&rows, every_10s);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            runs[0],
            Run {
                keep: 1,
                delete: vec![2],
                checks: 2,
                last_at: 10,
                latency_mean_ms: 20,
                latency_min_ms: 10,
                latency_max_ms: 30,
                latency_sum_ms: 40,
            }
        );
        assert_eq!((runs[1].keep, &runs[1].delete[..]), (4, &[5, 6][..]));
        assert_eq!(
            (runs[1].checks, runs[1].last_at, runs[1].latency_mean_ms),
            (3, 50, 21)
        );
    }

    #[test]
    fn monitors_locations_and_status_codes_never_share_a_run() {
        let mut other_location = row(3, "a", 20, true, 1);
        other_location.location = Some("eu-1".into());
        let mut other_code = row(5, "b", 40, true, 1);
        other_code.status_code = Some(204);
        let rows = vec![
            row(1, "a", 0, true, 1),
            row(2, "a", 10, true, 1),
            other_location,
            row(4, "b", 30, true, 1),
            other_code,
        ];
        let runs = fold(&rows, every_10s);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].delete, vec![2]);
    }

    #[test]
    fn a_gap_longer_than_twice_the_interval_ends_a_run() {
        // Every 10 s, then nothing for 40 minutes (paused), then every 10 s again.
        let rows = vec![
            row(1, "a", 0, true, 1),
            row(2, "a", 10_000, true, 1),
            row(3, "a", 20_000, true, 1),
            row(4, "a", 2_420_000, true, 1),
            row(5, "a", 2_430_000, true, 1),
        ];
        let runs = fold(&rows, every_10s);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].keep, runs[0].last_at), (1, 20_000));
        assert_eq!((runs[1].keep, runs[1].checks), (4, 2));
        // Folded again, the two runs stay apart: the interval is read inside them.
        assert!(fold(&apply(&rows, &runs), every_10s).is_empty());
    }

    #[test]
    fn a_success_charged_as_down_is_kept_in_full() {
        let mut down = row(2, "a", 10, true, 1);
        down.down_ms = 10_000;
        let rows = vec![row(1, "a", 0, true, 1), down, row(3, "a", 20, true, 1)];
        assert!(fold(&rows, every_10s).is_empty());
    }

    /// Applies `runs` to `rows` as the store does: what the table holds afterwards.
    fn apply(rows: &[FoldRow], runs: &[Run]) -> Vec<FoldRow> {
        let mut out = Vec::new();
        for r in rows {
            if runs.iter().any(|run| run.delete.contains(&r.id)) {
                continue;
            }
            let mut r = r.clone();
            if let Some(run) = runs.iter().find(|run| run.keep == r.id) {
                r.checks = run.checks;
                r.last_at = Some(run.last_at);
                r.latency_ms = run.latency_mean_ms;
                r.latency_min_ms = Some(run.latency_min_ms);
                r.latency_max_ms = Some(run.latency_max_ms);
                r.latency_sum_ms = Some(run.latency_sum_ms);
            }
            out.push(r);
        }
        out
    }

    fn arb_rows() -> impl Strategy<Value = Vec<FoldRow>> {
        let spec = (
            0..3u8,
            any::<bool>(),
            0..2u8,
            0..500i64,
            prop_oneof![9 => Just(1i64), 1 => 2..50i64],
        );
        proptest::collection::vec(spec, 0..60).prop_map(|specs| {
            let mut at = 0;
            let mut rows: Vec<FoldRow> = specs
                .into_iter()
                .enumerate()
                .map(|(i, (m, ok, code, latency, gap))| {
                    at += gap * 10_000;
                    let mut r = row(i as i64 + 1, &format!("m{m}"), at, ok, latency);
                    r.status_code = Some(200 + i64::from(code));
                    r
                })
                .collect();
            rows.sort_by(|a, b| (&a.monitor_id, a.at, a.id).cmp(&(&b.monitor_id, b.at, b.id)));
            rows
        })
    }

    proptest! {
        /// Folding keeps every check, failure and latency total, keeps every non-plain row as
        /// it was, and folding the result again changes nothing.
        #[test]
        fn folding_loses_no_check_and_is_idempotent(rows in arb_rows()) {
            let runs = fold(&rows, every_10s);
            let after = apply(&rows, &runs);
            let checks = |rs: &[FoldRow]| rs.iter().map(|r| r.checks).sum::<i64>();
            let sum = |rs: &[FoldRow]| rs.iter().map(FoldRow::sum).sum::<i64>();
            let failures = |rs: &[FoldRow]| rs.iter().filter(|r| !r.plain()).cloned().collect::<Vec<_>>();
            prop_assert_eq!(checks(&rows), checks(&after));
            prop_assert_eq!(sum(&rows), sum(&after));
            prop_assert_eq!(failures(&rows), failures(&after));
            for m in ["m0", "m1", "m2"] {
                let max = |rs: &[FoldRow]| rs.iter().filter(|r| r.monitor_id == m)
                    .map(|r| r.latency_max_ms.unwrap_or(r.latency_ms)).max();
                let min = |rs: &[FoldRow]| rs.iter().filter(|r| r.monitor_id == m)
                    .map(|r| r.latency_min_ms.unwrap_or(r.latency_ms)).min();
                prop_assert_eq!(max(&rows), max(&after));
                prop_assert_eq!(min(&rows), min(&after));
            }
            prop_assert!(fold(&after, every_10s).is_empty());
            // No run spans a gap longer than twice its series' interval.
            for run in &runs {
                let members: Vec<&FoldRow> = rows.iter().filter(|r| r.id == run.keep || run.delete.contains(&r.id)).collect();
                for w in members.windows(2) {
                    prop_assert!(w[1].at - w[0].end() <= most_gap_ms(10_000));
                }
            }
            // No two neighbouring plain rows of one series and status code within the gap
            // are left apart.
            for w in after.windows(2) {
                prop_assert!(!(w[0].plain() && w[1].plain() && w[0].same_series(&w[1])
                    && w[0].status_code == w[1].status_code
                    && w[1].at - w[0].end() <= most_gap_ms(10_000)));
            }
        }
    }
}
