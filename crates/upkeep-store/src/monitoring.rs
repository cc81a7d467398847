//! Monitoring data: check results, their rollups, monitor states and events, push pings.
//!
//! Check results arrive in batches from the probe scheduler. [`Store::record_results`] writes the
//! raw rows and folds every result into its UTC minute, hour and day buckets in the same
//! transaction (upserts), so uptime bars and yearly reports read a few rollup rows instead of
//! millions of results, and raw results can be pruned ([`Store::prune_results`]) while the
//! rollups stay. [`Store::rollup_totals`] answers any range from the coarsest buckets that fit
//! inside it. Once a UTC day is over, its rollups are folded into one row per monitor
//! ([`crate::rollup_days`]); readers add the folded days to what `check_rollups` still holds.
//!
//! The results that carry a location (each location's checks of a monitor probed from several;
//! the monitor's rollups count its rounds) are summed, in the same transaction, into one row
//! per monitor, location and UTC hour of `check_location_rollups`, what per-location latency is
//! read from ([`Store::location_rollup_totals`]); those rows go with the raw results
//! ([`Store::prune_location_rollups`]).
//!
//! Push pings arrive one per HTTP request but are written in groups by the ping writer of the
//! engine: [`Store::record_pings`] takes a whole batch, pairs every end (success or failure) with
//! its start — the start with the same run id when the end carries one, else the latest start of
//! the key that has no end yet — and commits the batch in one transaction, so a batch costs one
//! `fsync` however many pings it holds.
//!
//! Batches are written with multi-row statements (at most [`MAX_ROWS_PER_STATEMENT`] rows each),
//! the same SQL on SQLite and PostgreSQL.

use crate::BeginWrite;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;

use jiff::Timestamp;
use serde::Serialize;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_domain::rollups;

use crate::audit::{AuditEntry, insert_audit};
use crate::{Dialect, Params, Store, StoreError, with_pool};

/// Largest number of rows one multi-row statement carries.
pub const MAX_ROWS_PER_STATEMENT: usize = 128;

/// Longest ping body kept, in bytes (a run's log).
pub const PING_BODY_MAX: usize = 10 * 1024;

/// Rollup resolutions, in milliseconds: minute, hour, day (UTC buckets).
pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
const RESOLUTIONS: [i64; 3] = [MINUTE_MS, HOUR_MS, DAY_MS];

/// Rows deleted per statement when pruning, so that no single delete holds the write lock long.
const PRUNE_CHUNK: i64 = 10_000;

// ---------------------------------------------------------------------------------------------
// Check results and rollups
// ---------------------------------------------------------------------------------------------

/// One probe result, as the scheduler produces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub monitor_id: String,
    pub at: Timestamp,
    pub ok: bool,
    pub latency_ms: u32,
    pub status_code: Option<u16>,
    pub failure: Option<String>,
    pub location: Option<String>,
    /// Time charged as down to this result (the scheduler passes the interval when the monitor
    /// is down after it, else 0).
    pub down_ms: i64,
}

/// A probe agent's result waiting in `agent_results` for the replica that judges its
/// monitor's rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAgentResult {
    pub id: i64,
    pub agent: String,
    pub monitor_id: String,
    pub location: String,
    /// The probe's start, on the server's clock.
    pub at: Timestamp,
    pub received_at: Timestamp,
    pub ok: bool,
    pub latency_ms: u32,
    pub status_code: Option<u16>,
    pub failure: Option<String>,
    /// The round it was probed for, when its agent said so and the claim held at ingest.
    pub round: Option<Timestamp>,
}

/// A raw result as stored: one check, or a run of identical successes folded into one row
/// once its hour is old enough ([`crate::result_runs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredResult {
    pub id: i64,
    pub monitor_id: String,
    pub at: Timestamp,
    pub ok: bool,
    /// The check's latency; for a run, the rounded mean of its checks' latencies.
    pub latency_ms: u32,
    pub status_code: Option<u16>,
    pub failure: Option<String>,
    pub location: Option<String>,
    pub down_ms: i64,
    /// The run of identical successes this row stands for, if it is one.
    pub run: Option<ResultRun>,
}

impl StoredResult {
    /// How many checks the row stands for: 1, or a run's count.
    pub fn checks(&self) -> u64 {
        self.run.as_ref().map_or(1, |r| r.checks)
    }

    /// How many of the row's checks fell in `[from, until)`: 0 or 1 for a single check; for a
    /// run, its checks in proportion to the part of its span in the range (they are evenly
    /// spaced, one interval apart), at least one when any of it is in the range.
    pub fn checks_within(&self, from: Timestamp, until: Timestamp) -> u64 {
        let (from, until) = (from.as_millisecond(), until.as_millisecond());
        let at = self.at.as_millisecond();
        let Some(run) = &self.run else {
            return u64::from(at >= from && at < until);
        };
        let last = run.last_at.as_millisecond();
        let (lo, hi) = (at.max(from), last.min(until - 1));
        if lo > hi {
            return 0;
        }
        let span = (last - at).max(1);
        let steps =
            u64::try_from((hi - lo) as i128 * i128::from(run.checks as i64 - 1) / i128::from(span))
                .unwrap_or(0);
        (steps + 1).min(run.checks)
    }
}

/// A run of identical successes ([`crate::result_runs`]): `checks` results from the row's `at`
/// to `last_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultRun {
    pub checks: u64,
    pub last_at: Timestamp,
    pub latency_min_ms: u32,
    pub latency_max_ms: u32,
    pub latency_sum_ms: u64,
}

pub use upkeep_domain::rollups::RollupTotals;

/// One UTC day of rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyRollup {
    /// Midnight UTC starting the day.
    pub day: Timestamp,
    pub totals: RollupTotals,
}

type ResultRow = (
    i64,
    String,
    i64,
    bool,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The columns [`stored_result`] reads, in order.
const RESULT_COLUMNS: &str = "id, monitor_id, at, ok, latency_ms, status_code, failure, \
    location, down_ms, checks, last_at, latency_min_ms, latency_max_ms, latency_sum_ms";
pub(crate) type TotalsRow = (i64, i64, i64, i64, i64);
/// A key with, in `pings`, its last success, its last end of a run and that end's kind, and its
/// open start, and its open start in `pings_inbox` (milliseconds).
type InstantsRow = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The start of the bucket of `resolution` holding `ms`.
pub fn bucket_start(ms: i64, resolution: i64) -> i64 {
    ms - ms.rem_euclid(resolution)
}

/// The start of the first bucket of `resolution` that starts at or after `ms`.
pub fn bucket_ceil(ms: i64, resolution: i64) -> i64 {
    let rem = ms.rem_euclid(resolution);
    if rem == 0 { ms } else { ms - rem + resolution }
}

/// The rollup buckets that cover `[from, to)` exactly at minute precision: `(resolution, lo,
/// hi)` triples, each selecting the buckets of that resolution whose start is in `[lo, hi)`.
/// Whole days come from day buckets, whole hours from hour buckets, the rest from minute
/// buckets. A minute counts when its start lies in `[from, to)`.
pub fn rollup_ranges(from_ms: i64, to_ms: i64) -> Vec<(i64, i64, i64)> {
    let (f, t) = (
        bucket_ceil(from_ms, MINUTE_MS),
        bucket_ceil(to_ms, MINUTE_MS),
    );
    let mut out = Vec::with_capacity(5);
    if f >= t {
        return out;
    }
    let (d1, d2) = (bucket_ceil(f, DAY_MS), bucket_start(t, DAY_MS));
    let hour_spans = if d1 < d2 {
        out.push((DAY_MS, d1, d2));
        vec![(f, d1), (d2, t)]
    } else {
        vec![(f, t)]
    };
    for (a, b) in hour_spans {
        if a >= b {
            continue;
        }
        let (h1, h2) = (bucket_ceil(a, HOUR_MS), bucket_start(b, HOUR_MS));
        if h1 < h2 {
            out.push((HOUR_MS, h1, h2));
            for (lo, hi) in [(a, h1), (h2, b)] {
                if lo < hi {
                    out.push((MINUTE_MS, lo, hi));
                }
            }
        } else {
            out.push((MINUTE_MS, a, b));
        }
    }
    out
}

#[derive(Debug, Default, Clone, Copy)]
struct Agg {
    checks: i64,
    failures: i64,
    latency_sum: i64,
    latency_max: i64,
    down: i64,
}

impl Agg {
    /// Sums `r` in.
    fn add(&mut self, r: &CheckResult) {
        self.checks += 1;
        self.failures += i64::from(!r.ok);
        self.latency_sum += i64::from(r.latency_ms);
        self.latency_max = self.latency_max.max(i64::from(r.latency_ms));
        self.down += r.down_ms;
    }
}

fn corrupt(what: &str, value: i64) -> StoreError {
    StoreError::Corrupt(format!("{what} {value} is out of range"))
}

fn to_u64(what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(what, v))
}

fn to_u32(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(what, v))
}

pub(crate) fn totals(row: TotalsRow) -> Result<RollupTotals, StoreError> {
    let (checks, failures, latency_sum, latency_max, down) = row;
    Ok(RollupTotals {
        checks: to_u64("checks", checks)?,
        failures: to_u64("failures", failures)?,
        latency_sum_ms: to_u64("latency sum", latency_sum)?,
        latency_max_ms: to_u32("latency max", latency_max)?,
        down_ms: down,
    })
}

fn stored_result(row: ResultRow) -> Result<StoredResult, StoreError> {
    let (id, monitor_id, at, ok, latency_ms, status_code, failure, location, down_ms) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
    );
    let run = match (row.9, row.10, row.11, row.12, row.13) {
        (checks, Some(last_at), Some(min), Some(max), Some(sum)) if checks > 1 => Some(ResultRun {
            checks: to_u64("checks", checks)?,
            last_at: crate::timestamp(last_at)?,
            latency_min_ms: to_u32("latency min", min)?,
            latency_max_ms: to_u32("latency max", max)?,
            latency_sum_ms: to_u64("latency sum", sum)?,
        }),
        _ => None,
    };
    Ok(StoredResult {
        run,
        id,
        monitor_id,
        at: crate::timestamp(at)?,
        ok,
        latency_ms: to_u32("latency", latency_ms)?,
        status_code: status_code
            .map(|c| u16::try_from(c).map_err(|_| corrupt("status code", c)))
            .transpose()?,
        failure,
        location,
        down_ms,
    })
}

/// `INSERT INTO table (cols) VALUES (?, ...), (...)` for `rows` rows (in `params`' style),
/// then `suffix`.
pub(crate) fn insert_sql(
    params: Params,
    head: &str,
    columns: usize,
    rows: usize,
    suffix: &str,
) -> String {
    let mut sql = String::with_capacity(head.len() + suffix.len() + rows * columns * 6);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            params.push(&mut sql, n);
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(suffix);
    sql
}

/// Splits `len` rows into statements of [`MAX_ROWS_PER_STATEMENT`] rows and one for the rest:
/// a batch is as few round trips to the database as possible (what bounds a batch's commit
/// time when the CPU is busy).
fn chunk_sizes(len: usize) -> impl Iterator<Item = usize> {
    let full = len / MAX_ROWS_PER_STATEMENT;
    let rest = len % MAX_ROWS_PER_STATEMENT;
    std::iter::repeat_n(MAX_ROWS_PER_STATEMENT, full).chain((rest > 0).then_some(rest))
}

/// Runs `$build` (a closure `(first_row_index, rows) -> query`) over `$len` rows in chunks,
/// with the executor `$exec`. Evaluates to `Result<(), sqlx::Error>`.
macro_rules! execute_chunked {
    ($exec:expr, $len:expr, $sql:expr, |$query:ident, $i:ident| $bind:expr) => {{
        let mut start = 0usize;
        let mut result: Result<(), sqlx::Error> = Ok(());
        for size in chunk_sizes($len) {
            let sql: String = $sql(size);
            // Only full chunks stay in the connection's statement cache: a rest of every size
            // from 1 to 127 rows, for each statement, on every pooled connection, kept tens of
            // megabytes of prepared programs alive (BENCHMARKS.md, "Probes at scale").
            let mut $query =
                sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(size == MAX_ROWS_PER_STATEMENT);
            for $i in start..start + size {
                $query = $bind;
            }
            if let Err(e) = $query.execute(&mut *$exec).await {
                result = Err(e);
                break;
            }
            start += size;
        }
        result
    }};
}

const RESULT_INSERT: &str = "INSERT INTO check_results \
    (monitor_id, at, ok, latency_ms, status_code, failure, location, down_ms)";
const ROLLUP_INSERT: &str = "INSERT INTO check_rollups \
    (monitor_id, resolution, bucket, checks, failures, latency_sum_ms, latency_max_ms, down_ms)";
const ROLLUP_UPSERT: &str = "ON CONFLICT (monitor_id, resolution, bucket) DO UPDATE SET \
    checks = check_rollups.checks + excluded.checks, \
    failures = check_rollups.failures + excluded.failures, \
    latency_sum_ms = check_rollups.latency_sum_ms + excluded.latency_sum_ms, \
    latency_max_ms = CASE WHEN excluded.latency_max_ms > check_rollups.latency_max_ms \
        THEN excluded.latency_max_ms ELSE check_rollups.latency_max_ms END, \
    down_ms = check_rollups.down_ms + excluded.down_ms";
const LOCATION_ROLLUP_INSERT: &str = "INSERT INTO check_location_rollups \
    (monitor_id, location, bucket, checks, failures, latency_sum_ms, latency_max_ms)";
const LOCATION_ROLLUP_UPSERT: &str = "ON CONFLICT (monitor_id, location, bucket) DO UPDATE SET \
    checks = check_location_rollups.checks + excluded.checks, \
    failures = check_location_rollups.failures + excluded.failures, \
    latency_sum_ms = check_location_rollups.latency_sum_ms + excluded.latency_sum_ms, \
    latency_max_ms = CASE WHEN excluded.latency_max_ms > check_location_rollups.latency_max_ms \
        THEN excluded.latency_max_ms ELSE check_location_rollups.latency_max_ms END";

/// Sums results into their minute, hour and day rollups. A monitor's rollups count what it
/// was judged on: each result of a monitor probed from the server alone, each round of one
/// probed from several locations (the round's row has no location); the results of its
/// locations (with one) are kept raw only.
fn rollups_of(results: &[CheckResult]) -> Vec<((&str, i64, i64), Agg)> {
    let mut rollups: BTreeMap<(&str, i64, i64), Agg> = BTreeMap::new();
    for r in results.iter().filter(|r| r.location.is_none()) {
        let at = r.at.as_millisecond();
        for res in RESOLUTIONS {
            rollups
                .entry((r.monitor_id.as_str(), res, bucket_start(at, res)))
                .or_default()
                .add(r);
        }
    }
    rollups.into_iter().collect()
}

/// The key of a row of `check_location_rollups`: monitor, location, UTC hour.
type LocationKey<'a> = (&'a str, &'a str, i64);

/// Sums the results that carry a location (each location's results of a monitor probed from
/// several) into their UTC hour per monitor and location: one row per monitor, location and
/// hour, what per-location latency is read from ([`Store::location_rollup_totals`]).
fn location_rollups_of(results: &[CheckResult]) -> Vec<(LocationKey<'_>, Agg)> {
    let mut rollups: BTreeMap<LocationKey<'_>, Agg> = BTreeMap::new();
    for r in results {
        let Some(location) = r.location.as_deref() else {
            continue;
        };
        let hour = bucket_start(r.at.as_millisecond(), HOUR_MS);
        rollups
            .entry((r.monitor_id.as_str(), location, hour))
            .or_default()
            .add(r);
    }
    rollups.into_iter().collect()
}

/// One row per monitor, the last given winning (PostgreSQL refuses to upsert a row twice in
/// one statement), in a stable order.
fn unique_states(rows: &[MonitorStateRow]) -> Vec<&MonitorStateRow> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        last.insert(r.monitor_id.as_str(), i);
    }
    let mut unique: Vec<&MonitorStateRow> = last.into_values().map(|i| &rows[i]).collect();
    unique.sort_by(|a, b| a.monitor_id.cmp(&b.monitor_id));
    unique
}

/// Inserts raw results and upserts their rollups and their locations' rollups inside the
/// transaction `$tx`.
macro_rules! write_results {
    ($tx:ident, $results:expr, $rollups:expr, $located:expr) => {{
        let results: &[CheckResult] = $results;
        let rollups = &$rollups;
        let located = &$located;
        let params = $tx.params();
        let raw = execute_chunked!(
            $tx,
            results.len(),
            |n| insert_sql(params, RESULT_INSERT, 8, n, ""),
            |q, i| {
                let r = &results[i];
                q.bind(&r.monitor_id)
                    .bind(r.at.as_millisecond())
                    .bind(r.ok)
                    .bind(i64::from(r.latency_ms))
                    .bind(r.status_code.map(i64::from))
                    .bind(r.failure.as_deref())
                    .bind(r.location.as_deref())
                    .bind(r.down_ms)
            }
        );
        let judged = match raw {
            Err(e) => Err(e),
            Ok(()) => execute_chunked!(
                $tx,
                rollups.len(),
                |n| insert_sql(params, ROLLUP_INSERT, 8, n, ROLLUP_UPSERT),
                |q, i| {
                    let ((monitor, res, bucket), a) = &rollups[i];
                    q.bind(*monitor)
                        .bind(*res)
                        .bind(*bucket)
                        .bind(a.checks)
                        .bind(a.failures)
                        .bind(a.latency_sum)
                        .bind(a.latency_max)
                        .bind(a.down)
                }
            ),
        };
        match judged {
            Err(e) => Err(e),
            Ok(()) => execute_chunked!(
                $tx,
                located.len(),
                |n| insert_sql(params, LOCATION_ROLLUP_INSERT, 7, n, LOCATION_ROLLUP_UPSERT),
                |q, i| {
                    let ((monitor, location, hour), a) = &located[i];
                    q.bind(*monitor)
                        .bind(*location)
                        .bind(*hour)
                        .bind(a.checks)
                        .bind(a.failures)
                        .bind(a.latency_sum)
                        .bind(a.latency_max)
                }
            ),
        }
    }};
}

/// Upserts monitor states inside the transaction `$tx`.
macro_rules! write_states {
    ($tx:ident, $unique:expr) => {{
        let unique: &[&MonitorStateRow] = &$unique;
        let params = $tx.params();
        execute_chunked!(
            $tx,
            unique.len(),
            |n| insert_sql(params, STATE_INSERT, 7, n, STATE_UPSERT),
            |q, i| {
                let r = unique[i];
                q.bind(&r.monitor_id)
                    .bind(r.status.as_str())
                    .bind(i64::from(r.consecutive_failures))
                    .bind(i64::from(r.consecutive_successes))
                    .bind(r.changed_at.as_millisecond())
                    .bind(r.last_check_at.map(|t| t.as_millisecond()))
                    .bind(r.paused)
            }
        )
    }};
}

/// Appends transition events, in order, inside the transaction `$tx`.
macro_rules! write_events {
    ($tx:ident, $events:expr) => {{
        let events: &[MonitorEvent] = $events;
        let mut result: Result<(), sqlx::Error> = Ok(());
        for e in events {
            let done = sqlx::query(
                "INSERT INTO monitor_events (source, at, from_status, to_status, reason) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(e.source.as_str())
            .bind(e.at.as_millisecond())
            .bind(e.from.as_str())
            .bind(e.to.as_str())
            .bind(&e.reason)
            .execute(&mut *$tx)
            .await;
            if let Err(err) = done {
                result = Err(err);
                break;
            }
        }
        result
    }};
}
pub(crate) use write_events;

impl Store {
    /// Writes `results` and folds them into their minute, hour and day rollups, in one
    /// transaction. Any number of results per call; thousands are one short transaction.
    pub async fn record_results(&self, results: &[CheckResult]) -> Result<(), StoreError> {
        self.record_batch(results, &[], &[]).await
    }

    /// Writes a batch of the probe engine in ONE transaction: the results with their rollups,
    /// the monitors' states and their transition events. Either all of it is stored or none,
    /// so a failed write can be retried without counting anything twice.
    pub async fn record_batch(
        &self,
        results: &[CheckResult],
        states: &[MonitorStateRow],
        events: &[MonitorEvent],
    ) -> Result<(), StoreError> {
        self.record_audited_batch(results, states, events, &[])
            .await
    }

    /// [`Store::record_batch`] with the audit rows of the changes in it (an operator's pause or
    /// resume, each with its instant), in the same transaction.
    pub async fn record_audited_batch(
        &self,
        results: &[CheckResult],
        states: &[MonitorStateRow],
        events: &[MonitorEvent],
        audits: &[(Timestamp, AuditEntry)],
    ) -> Result<(), StoreError> {
        self.record_probe_batch(results, states, events, audits, &[])
            .await
    }

    /// [`Store::record_audited_batch`] that also takes the agents' results it judged off their
    /// queue (`agent_results`, by id), in the same transaction: each agent result is judged
    /// and written exactly once.
    pub async fn record_probe_batch(
        &self,
        results: &[CheckResult],
        states: &[MonitorStateRow],
        events: &[MonitorEvent],
        audits: &[(Timestamp, AuditEntry)],
        taken: &[i64],
    ) -> Result<(), StoreError> {
        if results.is_empty()
            && states.is_empty()
            && events.is_empty()
            && audits.is_empty()
            && taken.is_empty()
        {
            return Ok(());
        }
        let rollups = rollups_of(results);
        let located = location_rollups_of(results);
        let states = unique_states(states);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            write_results!(tx, results, rollups, located)?;
            write_states!(tx, states)?;
            write_events!(tx, events)?;
            for (at, audit) in audits {
                insert_audit!(&mut *tx, at.as_millisecond(), audit)?;
            }
            for ids in taken.chunks(MAX_ROWS_PER_STATEMENT) {
                let sql = format!(
                    "DELETE FROM agent_results WHERE id IN ({})",
                    tx.params().list(1, ids.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// The newest agents' results waiting to be judged (`agent_results`), at most `limit`,
    /// newest first: after an outage, a backlog of late results (history only) never holds
    /// back the results of the rounds being judged; it drains as the flow allows.
    pub async fn pending_agent_results(
        &self,
        limit: u32,
    ) -> Result<Vec<PendingAgentResult>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            i64,
            i64,
            bool,
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, agent, monitor_id, location, at, received_at, ok, latency_ms, \
             status_code, failure, round_start FROM agent_results ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(
                |(
                    id,
                    agent,
                    monitor_id,
                    location,
                    at,
                    received_at,
                    ok,
                    latency,
                    code,
                    failure,
                    round,
                )| {
                    Ok(PendingAgentResult {
                        id,
                        agent,
                        monitor_id,
                        location,
                        at: crate::timestamp(at)?,
                        received_at: crate::timestamp(received_at)?,
                        ok,
                        latency_ms: to_u32("latency", latency)?,
                        status_code: code
                            .map(|c| u16::try_from(c).map_err(|_| corrupt("status code", c)))
                            .transpose()?,
                        failure,
                        round: round.map(crate::timestamp).transpose()?,
                    })
                },
            )
            .collect()
    }

    /// Deletes raw results older than `before` (the rollups stay); returns how many. Deletes in
    /// chunks so that writers are never held up for long.
    pub async fn prune_results(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM check_results WHERE id IN \
                   (SELECT id FROM check_results WHERE at < $1 LIMIT $2)";
        self.prune(sql, before).await
    }

    /// Deletes minute rollups of buckets that start before `before`, and the packed minutes of
    /// folded days that ended by then (hour and day rollups stay); returns how many minute
    /// rows and days. Ranges older than that are then totalled at hour precision at their
    /// edges.
    pub async fn prune_minute_rollups(&self, before: Timestamp) -> Result<u64, StoreError> {
        let hot = "DELETE FROM check_rollups WHERE resolution = 60000 AND bucket < $1";
        let folded = "UPDATE check_rollup_days SET minutes = NULL \
                      WHERE minutes IS NOT NULL AND day <= $1";
        let before = before.as_millisecond();
        let done = with_pool!(self, pool => {
            let rows = sqlx::query(hot).bind(before).execute(pool).await?.rows_affected();
            let days = sqlx::query(folded)
                .bind(before - DAY_MS)
                .execute(pool)
                .await?
                .rows_affected();
            Ok::<_, sqlx::Error>(rows + days)
        })?;
        Ok(done)
    }

    /// Deletes the locations' hour rollups of hours that ended by `before` (the raw results'
    /// cutoff, [`Store::prune_results`], or a day and an hour back when that is earlier);
    /// returns how many rows. An hour holds one row per monitor and location, so one statement
    /// deletes it.
    pub async fn prune_location_rollups(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM check_location_rollups WHERE bucket <= $1";
        let last = before.as_millisecond() - HOUR_MS;
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(last)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))?;
        Ok(done)
    }

    /// Runs `sql` (a chunked delete binding the cutoff and [`PRUNE_CHUNK`]) until it deletes
    /// less than a chunk; returns how many rows it deleted.
    pub(crate) async fn prune(
        &self,
        sql: &'static str,
        before: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let done = with_pool!(self, pool => sqlx::query(sql)
                .bind(before.as_millisecond())
                .bind(PRUNE_CHUNK)
                .execute(pool)
                .await
                .map(|d| d.rows_affected()))?;
            total += done;
            if done < PRUNE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// The raw results a monitor was judged on in `[from, until)` (for one probed from several
    /// locations, its rounds, not its locations' results), oldest first: every row with a check
    /// in the range, so also a run that began before `from` and ended in it (a run never spans
    /// more than an hour; count its checks in the range with [`StoredResult::checks_within`]).
    pub async fn results_between(
        &self,
        monitor_id: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM check_results \
             WHERE monitor_id = $1 AND location IS NULL AND at >= $2 - {HOUR_MS} AND at < $3 \
             AND COALESCE(last_at, at) >= $2 ORDER BY at, id"
        );
        let rows: Vec<ResultRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(monitor_id)
            .bind(from.as_millisecond())
            .bind(until.as_millisecond())
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(stored_result).collect()
    }

    /// The newest raw results of a monitor, newest first.
    pub async fn recent_results(
        &self,
        monitor_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let sql = format!(
            "SELECT {RESULT_COLUMNS} FROM check_results \
             WHERE monitor_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<ResultRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(monitor_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(stored_result).collect()
    }

    /// Totals over `[from, to)` read from rollups only (see [`rollup_ranges`]): whole days from
    /// day totals, whole hours from hour totals, the rest from minute totals, each read from
    /// `check_rollups` and from the days folded into `check_rollup_days`
    /// ([`crate::rollup_days`]). Exact at minute precision: a result counts when the minute
    /// holding it starts in `[from, to)`.
    pub async fn rollup_totals(
        &self,
        monitor_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<RollupTotals, StoreError> {
        let mut all = self.totals_by_monitor(Some(monitor_id), from, to).await?;
        Ok(all.remove(monitor_id).unwrap_or_default())
    }

    /// [`Store::rollup_totals`] of every monitor at once: one statement whatever the number of
    /// monitors. Monitors without checks in the range are absent.
    pub async fn rollup_totals_all(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<String, RollupTotals>, StoreError> {
        self.totals_by_monitor(None, from, to).await
    }

    async fn totals_by_monitor(
        &self,
        monitor_id: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<String, RollupTotals>, StoreError> {
        let ranges = rollup_ranges(from.as_millisecond(), to.as_millisecond());
        if ranges.is_empty() {
            return Ok(HashMap::new());
        }
        let edges = edge_days(&ranges);
        let (sql, binds) = totals_statement(monitor_id.is_some(), &ranges, &edges);
        let rows: Vec<TotalsPart> = with_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            if let Some(monitor_id) = monitor_id {
                q = q.bind(monitor_id);
            }
            for b in &binds {
                q = q.bind(*b);
            }
            q.fetch_all(pool).await
        })?;
        let mut all: HashMap<String, RollupTotals> = HashMap::new();
        for (id, day, checks, failures, latency_sum, latency_max, down, hours, minutes) in rows {
            let mut t = totals((checks, failures, latency_sum, latency_max, down))?;
            if let Some(day) = day {
                let packed = [
                    (hours, HOUR_MS, rollups::HOURS_A_DAY),
                    (minutes, MINUTE_MS, rollups::MINUTES_A_DAY),
                ];
                for (bytes, resolution, slots) in packed {
                    let Some(bytes) = bytes else { continue };
                    let spans: Vec<Range<usize>> = ranges
                        .iter()
                        .filter(|(res, _, _)| *res == resolution)
                        .map(|&(_, lo, hi)| slot_range(day, resolution, slots, lo, hi))
                        .collect();
                    match rollups::sum(&bytes, slots, &spans) {
                        Ok(folded) => t.add(&folded),
                        // One unreadable day leaves its hours or minutes out, not the page
                        // (and every other monitor's history) unread.
                        Err(e) => tracing::error!(monitor = %id, day, error = %e,
                            "a folded day of rollups cannot be read; its part of the range is left out"),
                    }
                }
            }
            if !t.is_empty() {
                all.entry(id).or_default().add(&t);
            }
        }
        Ok(all)
    }

    /// Day rollups of every UTC day that overlaps `[from, to)`, oldest first; days without
    /// results are absent.
    pub async fn daily_rollups(
        &self,
        monitor_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DailyRollup>, StoreError> {
        // One statement: a day being folded meanwhile is read on one side or the other.
        let sql = "SELECT bucket, checks, failures, latency_sum_ms, latency_max_ms, down_ms \
                   FROM check_rollups WHERE monitor_id = $1 AND resolution = $2 \
                   AND bucket >= $3 AND bucket < $4 \
                   UNION ALL SELECT day, checks, failures, latency_sum_ms, latency_max_ms, down_ms \
                   FROM check_rollup_days WHERE monitor_id = $1 AND day >= $3 AND day < $4";
        let rows: Vec<(i64, i64, i64, i64, i64, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(monitor_id)
            .bind(DAY_MS)
            .bind(bucket_start(from.as_millisecond(), DAY_MS))
            .bind(to.as_millisecond())
            .fetch_all(pool)
            .await)?;
        let mut days: BTreeMap<i64, RollupTotals> = BTreeMap::new();
        for (day, c, f, ls, lm, d) in rows {
            days.entry(day)
                .or_default()
                .add(&totals((c, f, ls, lm, d))?);
        }
        days.into_iter()
            .map(|(day, totals)| {
                Ok(DailyRollup {
                    day: crate::timestamp(day)?,
                    totals,
                })
            })
            .collect()
    }
}

impl Store {
    /// Each location's totals of `monitors` over the UTC hours whose start lies in `[from,
    /// to)`, read from `check_location_rollups` (the results that carry a location: each
    /// location's checks of a monitor probed from several), ordered by monitor and location.
    /// Locations without checks in the range are absent; `down_ms` is always 0 (time down is
    /// charged to what a monitor was judged on, its rounds). Hour precision: a range that
    /// starts inside an hour leaves that hour out.
    pub async fn location_rollup_totals(
        &self,
        monitors: &[&str],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LocationTotals>, StoreError> {
        type Row = (String, String, i64, i64, i64, i64);
        let mut out = Vec::new();
        for chunk in monitors.chunks(MAX_ROWS_PER_STATEMENT) {
            let list = Params::Numbered.list(3, chunk.len());
            let sql = format!(
                "SELECT monitor_id, location, CAST(SUM(checks) AS BIGINT), \
                 CAST(SUM(failures) AS BIGINT), CAST(SUM(latency_sum_ms) AS BIGINT), \
                 MAX(latency_max_ms) FROM check_location_rollups \
                 WHERE bucket >= $1 AND bucket < $2 AND monitor_id IN ({list}) \
                 GROUP BY monitor_id, location"
            );
            let rows: Vec<Row> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(from.as_millisecond())
                    .bind(to.as_millisecond());
                for m in chunk {
                    q = q.bind(*m);
                }
                q.fetch_all(pool).await
            })?;
            for (monitor_id, location, checks, failures, sum, max) in rows {
                out.push(LocationTotals {
                    monitor_id,
                    location,
                    totals: totals((checks, failures, sum, max, 0))?,
                });
            }
        }
        out.sort_by(|a, b| (&a.monitor_id, &a.location).cmp(&(&b.monitor_id, &b.location)));
        Ok(out)
    }
}

/// One location's totals of one monitor over a range ([`Store::location_rollup_totals`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationTotals {
    pub monitor_id: String,
    pub location: String,
    pub totals: RollupTotals,
}

/// A row of the statement behind [`Store::rollup_totals`]: `(monitor, day, checks, failures,
/// latency sum, latency max, down, hours, minutes)`, either sums over a range (no day) or a
/// folded day's packed hours and minutes, as far as the ranges need them.
type TotalsPart = (
    String,
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// A folded day the hour or minute ranges of a read fall in: its packed hours or minutes are
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EdgeDay {
    day: i64,
    hours: bool,
    minutes: bool,
}

/// The UTC days the hour and minute ranges of `ranges` ([`rollup_ranges`]) fall in: at most
/// two, since whole days are read from day totals.
fn edge_days(ranges: &[(i64, i64, i64)]) -> Vec<EdgeDay> {
    let mut days: BTreeMap<i64, EdgeDay> = BTreeMap::new();
    for &(resolution, lo, hi) in ranges {
        if resolution == DAY_MS {
            continue;
        }
        let mut day = bucket_start(lo, DAY_MS);
        while day < hi {
            let edge = days.entry(day).or_insert(EdgeDay {
                day,
                hours: false,
                minutes: false,
            });
            if resolution == HOUR_MS {
                edge.hours = true;
            } else {
                edge.minutes = true;
            }
            day += DAY_MS;
        }
    }
    days.into_values().collect()
}

/// The slots of the day starting at `day`, of `slots` buckets of `resolution`, whose start is
/// in `[lo, hi)`.
fn slot_range(day: i64, resolution: i64, slots: usize, lo: i64, hi: i64) -> Range<usize> {
    let ceil = |ms: i64| -((-ms).div_euclid(resolution));
    let max = i64::try_from(slots).unwrap_or(i64::MAX);
    let clamp = |slot: i64| usize::try_from(slot.clamp(0, max)).unwrap_or(0);
    clamp(ceil(lo - day))..clamp(ceil(hi - day))
}

/// The one statement [`Store::rollup_totals`] and [`Store::rollup_totals_all`] read (one, so
/// that a day folded meanwhile is read on one side or the other, never both): per range, the
/// sums of `check_rollups` and, for whole days, of `check_rollup_days`; then the edge days'
/// packed hours and minutes. With `one_monitor`, `$1` is the monitor; the other parameters
/// are the returned values, in order.
fn totals_statement(
    one_monitor: bool,
    ranges: &[(i64, i64, i64)],
    edges: &[EdgeDay],
) -> (String, Vec<i64>) {
    const SUMS: &str = "CAST(SUM(checks) AS BIGINT), CAST(SUM(failures) AS BIGINT), \
        CAST(SUM(latency_sum_ms) AS BIGINT), MAX(latency_max_ms), CAST(SUM(down_ms) AS BIGINT)";
    const NO_DAY: &str = "CAST(NULL AS BIGINT)";
    const NO_BYTES: &str = "CAST(NULL AS BYTEA)";
    const ZEROS: &str = "CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), \
        CAST(0 AS BIGINT), CAST(0 AS BIGINT)";
    let monitor = if one_monitor {
        "monitor_id = $1 AND "
    } else {
        ""
    };
    let mut binds: Vec<i64> = Vec::new();
    let mut arg = |value: i64| {
        binds.push(value);
        format!("${}", binds.len() + usize::from(one_monitor))
    };
    let mut parts = Vec::with_capacity(ranges.len() + edges.len() + 1);
    for &(resolution, lo, hi) in ranges {
        let (lo, hi) = (arg(lo), arg(hi));
        parts.push(format!(
            "SELECT monitor_id, {NO_DAY}, {SUMS}, {NO_BYTES}, {NO_BYTES} FROM check_rollups \
             WHERE {monitor}resolution = {resolution} AND bucket >= {lo} AND bucket < {hi} \
             GROUP BY monitor_id"
        ));
        if resolution == DAY_MS {
            parts.push(format!(
                "SELECT monitor_id, {NO_DAY}, {SUMS}, {NO_BYTES}, {NO_BYTES} FROM check_rollup_days \
                 WHERE {monitor}day >= {lo} AND day < {hi} GROUP BY monitor_id"
            ));
        }
    }
    for edge in edges {
        let hours = if edge.hours { "hours" } else { NO_BYTES };
        let minutes = if edge.minutes { "minutes" } else { NO_BYTES };
        parts.push(format!(
            "SELECT monitor_id, day, {ZEROS}, {hours}, {minutes} FROM check_rollup_days \
             WHERE {monitor}day = {}",
            arg(edge.day)
        ));
    }
    (parts.join(" UNION ALL "), binds)
}

// ---------------------------------------------------------------------------------------------
// Monitor states and events
// ---------------------------------------------------------------------------------------------

/// A monitor's debounced state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorStateRow {
    pub monitor_id: String,
    pub status: MonitorStatus,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub changed_at: Timestamp,
    pub last_check_at: Option<Timestamp>,
    pub paused: bool,
}

/// An operator event: a transition of a monitor, an alert rule, an SLO, a backup set, its
/// drills or a maintenance's pre-flight hold, for incidents, notifications and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEvent {
    pub source: EventSource,
    pub at: Timestamp,
    pub from: EventState,
    pub to: EventState,
    pub reason: String,
}

/// A stored event. Ids grow in the order events were recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMonitorEvent {
    pub id: i64,
    pub source: EventSource,
    pub at: Timestamp,
    pub from: EventState,
    pub to: EventState,
    pub reason: String,
}

/// The source of an event as stored; an unknown one is corrupt data.
pub(crate) fn event_source(stored: &str) -> Result<EventSource, StoreError> {
    EventSource::parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown event source `{stored}`")))
}

/// A state of `source` as stored; an unknown one, or one its source never records, is corrupt
/// data.
pub(crate) fn event_state(source: &EventSource, stored: &str) -> Result<EventState, StoreError> {
    EventState::parse(stored)
        .filter(|state| source.admits(*state))
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "unknown state `{stored}` of event source `{source}`"
            ))
        })
}

/// A stored event from its row `(id, source, at, from, to, reason)`.
pub(crate) fn stored_event(row: EventRow) -> Result<StoredMonitorEvent, StoreError> {
    let (id, source, at, from, to, reason) = row;
    let source = event_source(&source)?;
    Ok(StoredMonitorEvent {
        id,
        at: crate::timestamp(at)?,
        from: event_state(&source, &from)?,
        to: event_state(&source, &to)?,
        source,
        reason,
    })
}

/// A monitor status as stored; an unknown one is corrupt data.
fn monitor_status(monitor: &str, stored: &str) -> Result<MonitorStatus, StoreError> {
    MonitorStatus::parse(stored).ok_or_else(|| {
        StoreError::Corrupt(format!("monitor `{monitor}`: unknown status `{stored}`"))
    })
}

type StateRow = (String, String, i64, i64, i64, Option<i64>, bool);
pub(crate) type EventRow = (i64, String, i64, String, String, String);

const STATE_INSERT: &str = "INSERT INTO monitor_states (monitor_id, status, consecutive_failures, \
    consecutive_successes, changed_at, last_check_at, paused)";
const STATE_UPSERT: &str = "ON CONFLICT (monitor_id) DO UPDATE SET status = excluded.status, \
    consecutive_failures = excluded.consecutive_failures, \
    consecutive_successes = excluded.consecutive_successes, changed_at = excluded.changed_at, \
    last_check_at = excluded.last_check_at, paused = excluded.paused";

impl Store {
    /// Every saved monitor state, by monitor id.
    pub async fn load_monitor_states(&self) -> Result<Vec<MonitorStateRow>, StoreError> {
        let sql = "SELECT monitor_id, status, consecutive_failures, consecutive_successes, \
                   changed_at, last_check_at, paused FROM monitor_states ORDER BY monitor_id";
        let rows: Vec<StateRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(monitor_id, status, f, s, changed, last, paused)| {
                Ok(MonitorStateRow {
                    status: monitor_status(&monitor_id, &status)?,
                    monitor_id,
                    consecutive_failures: to_u32("consecutive failures", f)?,
                    consecutive_successes: to_u32("consecutive successes", s)?,
                    changed_at: crate::timestamp(changed)?,
                    last_check_at: last.map(crate::timestamp).transpose()?,
                    paused,
                })
            })
            .collect()
    }

    /// Inserts or replaces the states of the given monitors, in one transaction. When a
    /// monitor appears more than once, the last row wins.
    pub async fn save_monitor_states(&self, rows: &[MonitorStateRow]) -> Result<(), StoreError> {
        self.record_batch(&[], rows, &[]).await
    }

    /// Appends transitions, in order, in one transaction.
    pub async fn record_monitor_events(&self, events: &[MonitorEvent]) -> Result<(), StoreError> {
        self.record_batch(&[], &[], events).await
    }

    /// The newest events first (by instant, then by recording order), of one source or of all.
    pub async fn list_monitor_events(
        &self,
        source: Option<&EventSource>,
        limit: u32,
    ) -> Result<Vec<StoredMonitorEvent>, StoreError> {
        let limit = i64::from(limit);
        let rows: Vec<EventRow> = match source {
            Some(source) => {
                let source = source.as_str();
                let sql = "SELECT id, source, at, from_status, to_status, reason \
                           FROM monitor_events WHERE source = $1 \
                           ORDER BY at DESC, id DESC LIMIT $2";
                with_pool!(self, pool => sqlx::query_as(sql).bind(&*source).bind(limit).fetch_all(pool).await)?
            }
            None => {
                let sql = "SELECT id, source, at, from_status, to_status, reason \
                           FROM monitor_events ORDER BY at DESC, id DESC LIMIT $1";
                with_pool!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await)?
            }
        };
        rows.into_iter().map(stored_event).collect()
    }

    /// The state `source` last entered, if it has any event.
    pub async fn last_event_state(
        &self,
        source: &EventSource,
    ) -> Result<Option<EventState>, StoreError> {
        Ok(self
            .list_monitor_events(Some(source), 1)
            .await?
            .into_iter()
            .next()
            .map(|e| e.to))
    }
}

// ---------------------------------------------------------------------------------------------
// Push pings
// ---------------------------------------------------------------------------------------------

/// What a ping says. `/ping/KEY/CODE` is a [`PingKind::Success`] (code 0) or a
/// [`PingKind::Fail`] (1–255) with its `exit_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PingKind {
    /// The job succeeded (and ended, if it had started).
    Success,
    /// The job started; its end gives the run's duration.
    Start,
    /// The job failed (and ended).
    Fail,
    /// A message for the log; changes no state.
    Log,
}

impl PingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PingKind::Success => "success",
            PingKind::Start => "start",
            PingKind::Fail => "fail",
            PingKind::Log => "log",
        }
    }

    pub fn parse(s: &str) -> Option<PingKind> {
        Some(match s {
            "success" => PingKind::Success,
            "start" => PingKind::Start,
            "fail" => PingKind::Fail,
            "log" => PingKind::Log,
            _ => return None,
        })
    }

    /// Whether this ping ends a run (and so is paired with a start).
    pub fn ends_run(self) -> bool {
        matches!(self, PingKind::Success | PingKind::Fail)
    }
}

/// A ping to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub key: String,
    pub at: Timestamp,
    pub kind: PingKind,
    pub exit_code: Option<u8>,
    /// Run id (a UUID, lower case) pairing a start with its end.
    pub rid: Option<String>,
    /// The run's log, at most [`PING_BODY_MAX`] bytes (longer bodies are cut).
    pub body: String,
}

/// A stored ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPing {
    pub id: i64,
    pub key: String,
    pub at: Timestamp,
    pub kind: PingKind,
    pub exit_code: Option<u8>,
    pub rid: Option<String>,
    pub body: String,
    /// On an end paired with its start: the run's duration.
    pub duration_ms: Option<i64>,
    /// On a start: when its end arrived (`None` while the run is open).
    pub ended_at: Option<Timestamp>,
}

/// Cuts `body` to at most [`PING_BODY_MAX`] bytes, at a character boundary.
pub fn truncate_body(body: &mut String) {
    if body.len() > PING_BODY_MAX {
        let mut cut = PING_BODY_MAX;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
    }
}

type PingRow = (
    i64,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
);

/// The newest `$limit` pings (a literal: a number or a parameter) of both tables that match
/// `$filter` (the condition of a `WHERE`), newest first (`at`, then `id`), as `$columns` (which
/// must include `at` and `id`). Each table gives its newest `$limit` through its own indexes
/// (`pings`) or a scan of the few seconds of pings it holds (`pings_inbox`), and the two are
/// merged.
macro_rules! newest_pings {
    ($columns:literal, $filter:literal, $limit:literal) => {
        concat!(
            "SELECT ",
            $columns,
            " FROM (SELECT * FROM (SELECT ",
            $columns,
            " FROM pings WHERE ",
            $filter,
            " ORDER BY at DESC, id DESC LIMIT ",
            $limit,
            ") AS moved UNION ALL ",
            "SELECT * FROM (SELECT ",
            $columns,
            " FROM pings_inbox WHERE ",
            $filter,
            " ORDER BY at DESC, id DESC LIMIT ",
            $limit,
            ") AS inbox) AS both_tables ",
            "ORDER BY at DESC, id DESC LIMIT ",
            $limit
        )
    };
}
pub(crate) use newest_pings;

macro_rules! select_pings {
    ($filter:literal, $limit:literal) => {
        newest_pings!(
            "id, key, at, kind, exit_code, rid, body, duration_ms, ended_at",
            $filter,
            $limit
        )
    };
}

/// Pings are inserted into the inbox (see [`WriterConnection::move_pings`]).
const PING_INSERT: &str =
    "INSERT INTO pings_inbox (key, at, kind, exit_code, rid, body, duration_ms, ended_at)";
const PING_RETURNING: &str =
    "RETURNING id, key, at, kind, exit_code, rid, body, duration_ms, ended_at";

/// The columns of both ping tables.
macro_rules! ping_columns {
    () => {
        "id, key, at, kind, exit_code, rid, body, duration_ms, ended_at, size_bytes"
    };
}

/// Moves every row of `pings_inbox` into `pings`, sorted by key (on SQLite, under the write
/// lock, followed by [`SQLITE_EMPTY_INBOX`]).
const SQLITE_MOVE: &str = concat!(
    "INSERT INTO pings (",
    ping_columns!(),
    ") SELECT ",
    ping_columns!(),
    " FROM pings_inbox ORDER BY key, at, id"
);
const SQLITE_EMPTY_INBOX: &str = "DELETE FROM pings_inbox";

/// Moves the rows of `pings_inbox` into `pings`, sorted by key, in one statement: what the
/// `DELETE` took is what the `INSERT` writes, so a row inserted meanwhile stays for the next
/// move, and writers moving at once (one per replica) each take other rows. Rows locked by a
/// transaction closing a start are left for the next move rather than waited for (no lock
/// cycle with it).
const POSTGRES_MOVE: &str = concat!(
    "WITH taken AS (SELECT id FROM pings_inbox ORDER BY id FOR UPDATE SKIP LOCKED), ",
    "moved AS (DELETE FROM pings_inbox WHERE id IN (SELECT id FROM taken) RETURNING ",
    ping_columns!(),
    ") INSERT INTO pings (",
    ping_columns!(),
    ") SELECT ",
    ping_columns!(),
    " FROM moved ORDER BY key, at, id"
);

/// Open starts loaded per key, at most this many (newest); an end whose run id is not among
/// them is looked up on its own.
const OPEN_STARTS_LOADED: i64 = 64;

fn stored_ping(row: PingRow) -> Result<StoredPing, StoreError> {
    let (id, key, at, kind, exit_code, rid, body, duration_ms, ended_at) = row;
    Ok(StoredPing {
        id,
        key,
        at: crate::timestamp(at)?,
        kind: PingKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("ping {id}: unknown kind `{kind}`")))?,
        exit_code: exit_code
            .map(|c| u8::try_from(c).map_err(|_| corrupt("exit code", c)))
            .transpose()?,
        rid,
        body,
        duration_ms,
        ended_at: ended_at.map(crate::timestamp).transpose()?,
    })
}

/// Where an open start lives: already in the database (by id) or earlier in this batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Stored(i64),
    Batch(usize),
}

#[derive(Debug, Clone)]
struct OpenStart {
    at: i64,
    rid: Option<String>,
    origin: Origin,
}

/// A ping row computed for insertion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct NewPing {
    key: String,
    at: i64,
    kind: PingKind,
    exit_code: Option<u8>,
    rid: Option<String>,
    body: String,
    duration_ms: Option<i64>,
    ended_at: Option<i64>,
}

/// Pairs every end of `pings` (in order) with a start: the one with the same run id when the
/// end has one (and none if there is no such open start), else the latest open start of its key
/// at or before the end. `open` holds the open starts already stored, per key. Returns the rows
/// to insert and the stored starts to close (`(id, ended_at)`).
fn pair_pings(
    pings: &[Ping],
    mut open: HashMap<String, Vec<OpenStart>>,
) -> (Vec<NewPing>, Vec<(i64, i64)>) {
    let mut rows: Vec<NewPing> = Vec::with_capacity(pings.len());
    let mut close_stored = Vec::new();
    for (i, p) in pings.iter().enumerate() {
        let at = p.at.as_millisecond();
        let mut body = p.body.clone();
        truncate_body(&mut body);
        let mut row = NewPing {
            key: p.key.clone(),
            at,
            kind: p.kind,
            exit_code: p.exit_code,
            rid: p.rid.clone(),
            body,
            duration_ms: None,
            ended_at: None,
        };
        match p.kind {
            PingKind::Start => open.entry(p.key.clone()).or_default().push(OpenStart {
                at,
                rid: p.rid.clone(),
                origin: Origin::Batch(i),
            }),
            kind if kind.ends_run() => {
                if let Some(starts) = open.get_mut(&p.key) {
                    let found = starts
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| match &p.rid {
                            Some(rid) => s.rid.as_deref() == Some(rid.as_str()),
                            None => s.at <= at,
                        })
                        .max_by_key(|(_, s)| (s.at, s.origin))
                        .map(|(n, _)| n);
                    if let Some(n) = found {
                        let start = starts.swap_remove(n);
                        row.duration_ms = Some((at - start.at).max(0));
                        match start.origin {
                            Origin::Stored(id) => close_stored.push((id, at)),
                            Origin::Batch(j) => rows[j].ended_at = Some(at),
                        }
                    }
                }
            }
            _ => {}
        }
        rows.push(row);
    }
    (rows, close_stored)
}

/// The newest [`OPEN_STARTS_LOADED`] open starts of each of `keys` keys, of both tables (each
/// through its partial index of open starts). The keys are bound twice, in order: once for
/// each table.
fn open_starts_sql(params: Params, keys: usize) -> String {
    let pings = params.list(1, keys);
    let inbox = params.list(keys + 1, keys);
    format!(
        "SELECT id, key, at, rid FROM (SELECT id, key, at, rid, \
         ROW_NUMBER() OVER (PARTITION BY key ORDER BY at DESC, id DESC) AS n FROM (\
         SELECT id, key, at, rid FROM pings \
         WHERE kind = 'start' AND ended_at IS NULL AND key IN ({pings}) UNION ALL \
         SELECT id, key, at, rid FROM pings_inbox \
         WHERE kind = 'start' AND ended_at IS NULL AND key IN ({inbox})) AS both_tables) \
         AS open_starts WHERE n <= {OPEN_STARTS_LOADED}"
    )
}

/// A key's instants as [`Store::heartbeat_instants`] reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatInstants {
    pub last_success: Option<Timestamp>,
    /// The latest end of a run, when it is a failure (a later success clears it).
    pub last_failure: Option<Timestamp>,
    pub open_start: Option<Timestamp>,
}

/// [`Store::heartbeat_instants`] in `pings` for `keys` keys: one row per key, each
/// instant read through the key's indexes (newest first, one row), as the single-key reads
/// do; and the key's open start in `pings_inbox` (through its partial index).
fn heartbeat_instants_sql(params: Params, keys: usize) -> String {
    let mut list = String::with_capacity(keys * 20);
    for n in 1..=keys {
        if n > 1 {
            list.push_str(", ");
        }
        list.push_str("(CAST(");
        params.push(&mut list, n);
        list.push_str(" AS TEXT))");
    }
    let newest_end = "FROM pings p WHERE p.key = k.key AND p.kind IN ('success', 'fail') \
                      ORDER BY p.at DESC, p.id DESC LIMIT 1";
    format!(
        "WITH k(key) AS (VALUES {}) SELECT k.key, \
         (SELECT p.at FROM pings p WHERE p.key = k.key AND p.kind = 'success' \
          ORDER BY p.at DESC, p.id DESC LIMIT 1), \
         (SELECT p.at {newest_end}), (SELECT p.kind {newest_end}), \
         (SELECT p.at FROM pings p WHERE p.key = k.key AND p.kind = 'start' AND p.ended_at IS NULL \
          ORDER BY p.at DESC, p.id DESC LIMIT 1), \
         (SELECT i.at FROM pings_inbox i \
          WHERE i.key = k.key AND i.kind = 'start' AND i.ended_at IS NULL \
          ORDER BY i.at DESC, i.id DESC LIMIT 1) \
         FROM k",
        list
    )
}

/// The newest success and failure of every key in `pings_inbox`: one scan of the few seconds
/// of pings it holds, whatever the number of keys.
const INBOX_ENDS: &str = "SELECT key, kind, MAX(at) FROM pings_inbox \
                          WHERE kind IN ('success', 'fail') GROUP BY key, kind";

/// Which of a key's ends in `pings_inbox` at one instant came last (when a success and a
/// failure share the newest instant).
const INBOX_LAST_END_AT: &str = "SELECT kind FROM pings_inbox \
                                 WHERE key = $1 AND at = $2 AND kind IN ('success', 'fail') \
                                 ORDER BY id DESC LIMIT 1";

/// A key's newest pings of each kind the push judge reads, in one of the two tables
/// (milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Newest {
    success: Option<i64>,
    /// The newest end of a run, and whether it is a failure.
    end: Option<(i64, bool)>,
    open_start: Option<i64>,
}

impl Newest {
    /// Both tables together, as `ORDER BY at DESC, id DESC` over their union ranks them: at
    /// the same instant a row of `pings_inbox` is the newer (its id is larger: `pings` holds
    /// only rows moved from the inbox, and the inbox's ids come after every id moved).
    fn merge(moved: Newest, inbox: Newest) -> Newest {
        Newest {
            success: moved.success.max(inbox.success),
            end: match (moved.end, inbox.end) {
                (Some(m), Some(i)) if m.0 > i.0 => Some(m),
                (m, i) => i.or(m),
            },
            open_start: moved.open_start.max(inbox.open_start),
        }
    }

    fn instants(self) -> Result<HeartbeatInstants, StoreError> {
        let at = |ms: Option<i64>| ms.map(crate::timestamp).transpose();
        Ok(HeartbeatInstants {
            last_success: at(self.success)?,
            last_failure: at(self.end.and_then(|(at, failed)| failed.then_some(at)))?,
            open_start: at(self.open_start)?,
        })
    }
}

/// Closes `pairs` stored starts of `table` in one statement: binds `(id, ended_at)` pairs in
/// order.
fn close_starts_sql(table: &str, pairs: usize) -> String {
    let cases: String = (0..pairs)
        .map(|i| format!(" WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
        .collect();
    let ids: Vec<String> = (0..pairs).map(|i| format!("${}", 2 * i + 1)).collect();
    format!(
        "UPDATE {table} SET ended_at = CASE id{cases} END WHERE id IN ({})",
        ids.join(", ")
    )
}

/// The statements of [`Store::record_pings`] on the executor `$exec` (a transaction or a
/// connection), with `$prefix` glued in front of the first statement and `$suffix` after the
/// last. Evaluates to the rows inserted and the rows the database returned; returns from the
/// enclosing function or block on errors.
macro_rules! record_pings_on {
    ($exec:ident, $prefix:expr, $suffix:expr, $pings:expr) => {{
        let pings: &[Ping] = $pings;
        // Glued to the first statement sent (a `BEGIN`) and to the last one (a `COMMIT`).
        let mut prefix: Option<&str> = $prefix;
        let suffix: Option<&str> = $suffix;
        let mut first = |sql: String| -> String {
            match prefix.take() {
                Some(p) => format!("{p}{sql}"),
                None => sql,
            }
        };
        // Keys whose open starts matter: those with an end in this batch.
        let end_keys: BTreeSet<&str> = pings
            .iter()
            .filter(|p| p.kind.ends_run())
            .map(|p| p.key.as_str())
            .collect();
        let batch_rids: HashSet<(&str, &str)> = pings
            .iter()
            .filter(|p| p.kind == PingKind::Start)
            .filter_map(|p| Some((p.key.as_str(), p.rid.as_deref()?)))
            .collect();
        let end_rids: HashSet<(&str, &str)> = pings
            .iter()
            .filter(|p| p.kind.ends_run())
            .filter_map(|p| Some((p.key.as_str(), p.rid.as_deref()?)))
            .collect();

        {
            let mut open: HashMap<String, Vec<OpenStart>> = HashMap::new();
            let end_keys: Vec<&str> = end_keys.iter().copied().collect();
            for keys in end_keys.chunks(MAX_ROWS_PER_STATEMENT) {
                let sql = first(open_starts_sql($exec.params(), keys.len()));
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for key in keys.iter().chain(keys) {
                    q = q.bind(*key);
                }
                let rows: Vec<(i64, String, i64, Option<String>)> =
                    q.fetch_all(&mut *$exec).await?;
                for (id, key, at, rid) in rows {
                    open.entry(key).or_default().push(OpenStart {
                        at,
                        rid,
                        origin: Origin::Stored(id),
                    });
                }
            }
            for (key, rid) in &end_rids {
                let loaded = open
                    .get(*key)
                    .is_some_and(|v| v.iter().any(|s| s.rid.as_deref() == Some(*rid)));
                if loaded || batch_rids.contains(&(*key, *rid)) {
                    continue;
                }
                let sql = newest_pings!(
                    "id, at",
                    "key = $1 AND kind = 'start' AND ended_at IS NULL AND rid = $2",
                    "1"
                );
                let row: Option<(i64, i64)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(first(sql.to_owned())))
                        .bind(*key)
                        .bind(*rid)
                        .fetch_optional(&mut *$exec)
                        .await?;
                if let Some((id, at)) = row {
                    open.entry((*key).to_owned()).or_default().push(OpenStart {
                        at,
                        rid: Some((*rid).to_owned()),
                        origin: Origin::Stored(id),
                    });
                }
            }
            let (rows, close) = pair_pings(pings, open);
            // A start is in one of the two tables; the inbox first: a start moved meanwhile
            // (by another replica's writer) is then found in `pings`.
            for table in ["pings_inbox", "pings"] {
                for pairs in close.chunks(MAX_ROWS_PER_STATEMENT) {
                    let sql = first(close_starts_sql(table, pairs.len()));
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (id, ended_at) in pairs {
                        q = q.bind(*id).bind(*ended_at);
                    }
                    q.execute(&mut *$exec).await?;
                }
            }
            let mut returned: Vec<PingRow> = Vec::with_capacity(rows.len());
            let mut start = 0usize;
            for size in chunk_sizes(rows.len()) {
                let mut sql = first(insert_sql(
                    $exec.params(),
                    PING_INSERT,
                    8,
                    size,
                    PING_RETURNING,
                ));
                if start + size == rows.len()
                    && let Some(suffix) = suffix
                {
                    sql.push_str(suffix);
                }
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for r in &rows[start..start + size] {
                    q = q
                        .bind(&r.key)
                        .bind(r.at)
                        .bind(r.kind.as_str())
                        .bind(r.exit_code.map(i64::from))
                        .bind(r.rid.as_deref())
                        .bind(&r.body)
                        .bind(r.duration_ms)
                        .bind(r.ended_at);
                }
                returned.extend(q.fetch_all(&mut *$exec).await?);
                start += size;
            }
            (rows, returned)
        }
    }};
}

impl Store {
    /// Records a batch of pings in one transaction, pairing each end with its start (see the
    /// module documentation), and returns them as stored, in the order given.
    pub async fn record_pings(&self, pings: &[Ping]) -> Result<Vec<StoredPing>, StoreError> {
        if pings.is_empty() {
            return Ok(Vec::new());
        }
        // Reads (open starts) before it writes: a write transaction from its `BEGIN`.
        let (rows, returned) = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = record_pings_on!(tx, None, None, pings);
            tx.commit().await?;
            done
        });
        match_returned(rows, returned)
    }

    /// A connection of its own for one high-rate writer (the ping writer): each batch then
    /// skips the pool (and its liveness check), and on SQLite its `BEGIN` and `COMMIT` ride
    /// along with the batch's first and last statements, so that a batch is as few round trips
    /// as possible (what bounds a batch's commit time when the CPU is busy). The connection is
    /// closed, not returned to the pool, when dropped; drop it after an error.
    pub async fn writer_connection(&self) -> Result<WriterConnection, StoreError> {
        Ok(WriterConnection(match &self.pool {
            crate::Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                conn.close_on_drop();
                Held::Sqlite(conn, pool.clone())
            }
            crate::Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                conn.close_on_drop();
                Held::Postgres(conn)
            }
        }))
    }
}

/// A pooled connection held by one writer; see [`Store::writer_connection`].
pub struct WriterConnection(Held);

enum Held {
    /// The connection, and its pool for the process's write turn (`crate::sqlite_write_turn`).
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>, sqlx::SqlitePool),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl std::fmt::Debug for WriterConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.0 {
            Held::Sqlite(..) => "sqlite",
            Held::Postgres(_) => "postgres",
        };
        f.debug_tuple("WriterConnection").field(&backend).finish()
    }
}

impl WriterConnection {
    /// [`Store::record_pings`] on this connection.
    pub async fn record_pings(&mut self, pings: &[Ping]) -> Result<Vec<StoredPing>, StoreError> {
        if pings.is_empty() {
            return Ok(Vec::new());
        }
        let (rows, returned) = match &mut self.0 {
            Held::Sqlite(conn, pool) => {
                // The batch's transaction holds the process's write turn until it ends.
                let _turn = crate::sqlite_write_turn(pool).await?;
                let conn: &mut sqlx::SqliteConnection = conn;
                let done: Result<_, sqlx::Error> = async {
                    Ok(record_pings_on!(
                        conn,
                        Some(&format!("{}; ", crate::SQLITE_BEGIN_WRITE)),
                        Some("; COMMIT"),
                        pings
                    ))
                }
                .await;
                if done.is_err() {
                    // Best effort; the writer drops (closes) this connection after an error.
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                }
                done?
            }
            Held::Postgres(conn) => {
                let mut tx = sqlx::Connection::begin(&mut **conn).await?;
                let done = record_pings_on!(tx, None, None, pings);
                tx.commit().await?;
                done
            }
        };
        match_returned(rows, returned)
    }
}

impl WriterConnection {
    /// Moves the pings of `pings_inbox` into `pings` in one transaction, sorted by key and
    /// time, keeping their ids and content; returns how many. The ping writer calls it about
    /// once a second: each key's index pages are then written once per move instead of once
    /// per batch. On SQLite it holds the process's write turn for the move.
    pub async fn move_pings(&mut self) -> Result<u64, StoreError> {
        match &mut self.0 {
            Held::Sqlite(conn, pool) => {
                let conn: &mut sqlx::SqliteConnection = conn;
                let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pings_inbox)")
                    .fetch_one(&mut *conn)
                    .await?;
                if !any {
                    return Ok(0);
                }
                let _turn = crate::sqlite_write_turn(pool).await?;
                let done: Result<i64, sqlx::Error> = async {
                    let sql = format!(
                        "{}; SELECT COUNT(*) FROM pings_inbox",
                        crate::SQLITE_BEGIN_WRITE
                    );
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut *conn)
                        .await?;
                    let sql = format!("{SQLITE_MOVE}; {SQLITE_EMPTY_INBOX}; COMMIT");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut *conn)
                        .await?;
                    Ok(n)
                }
                .await;
                if done.is_err() {
                    // Best effort; the writer drops (closes) this connection after an error.
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                }
                to_u64("moved pings", done?)
            }
            Held::Postgres(conn) => {
                let done = sqlx::query(POSTGRES_MOVE).execute(&mut **conn).await?;
                Ok(done.rows_affected())
            }
        }
    }
}

/// Gives each inserted row (in batch order) the stored row the database returned for it.
/// `RETURNING` promises no order, so rows are matched by content: rows of equal content are
/// interchangeable.
fn match_returned(
    rows: Vec<NewPing>,
    returned: Vec<PingRow>,
) -> Result<Vec<StoredPing>, StoreError> {
    let lost = || StoreError::Corrupt("a recorded ping was not returned by the database".into());
    let mut by_content: HashMap<NewPing, Vec<StoredPing>> = HashMap::with_capacity(returned.len());
    for row in returned {
        let s = stored_ping(row)?;
        let content = NewPing {
            key: s.key.clone(),
            at: s.at.as_millisecond(),
            kind: s.kind,
            exit_code: s.exit_code,
            rid: s.rid.clone(),
            body: s.body.clone(),
            duration_ms: s.duration_ms,
            ended_at: s.ended_at.map(|t| t.as_millisecond()),
        };
        by_content.entry(content).or_default().push(s);
    }
    rows.into_iter()
        .map(|r| by_content.get_mut(&r).and_then(Vec::pop).ok_or_else(lost))
        .collect()
}

impl Store {
    /// The latest ping of `key` (any kind).
    pub async fn last_ping(&self, key: &str) -> Result<Option<StoredPing>, StoreError> {
        let sql = select_pings!("key = $1", "1");
        self.one_ping(sql, key).await
    }

    /// The latest success of `key`.
    pub async fn last_success(&self, key: &str) -> Result<Option<StoredPing>, StoreError> {
        let sql = select_pings!("key = $1 AND kind = 'success'", "1");
        self.one_ping(sql, key).await
    }

    /// The latest end of a run of `key`, success or failure: what a push monitor's state
    /// follows (starts and logs do not end anything).
    pub async fn last_outcome(&self, key: &str) -> Result<Option<StoredPing>, StoreError> {
        let sql = select_pings!("key = $1 AND kind IN ('success', 'fail')", "1");
        self.one_ping(sql, key).await
    }

    /// The latest start of `key` that has no end yet (a run in progress, or one that never
    /// reported its end).
    pub async fn open_start(&self, key: &str) -> Result<Option<StoredPing>, StoreError> {
        let sql = select_pings!("key = $1 AND kind = 'start' AND ended_at IS NULL", "1");
        self.one_ping(sql, key).await
    }

    /// What push monitors are judged on, for each of `keys` at once: per key the `at` of its
    /// latest success, of its latest end of a run when that end is a failure, and of its latest
    /// open start — what [`last_success`](Self::last_success),
    /// [`last_outcome`](Self::last_outcome) and [`open_start`](Self::open_start) give, in one
    /// statement per [`MAX_ROWS_PER_STATEMENT`] keys instead of three per key, after one scan of
    /// the ping inbox for all keys. Keys without pings are in the answer, with no instants.
    pub async fn heartbeat_instants(
        &self,
        keys: &[&str],
    ) -> Result<HashMap<String, HeartbeatInstants>, StoreError> {
        let wanted: HashSet<&str> = keys.iter().copied().collect();
        // The inbox before `pings`: rows only move from the inbox to `pings`, so one moved
        // between the two reads is read twice (the same instants), never missed.
        let rows: Vec<(String, String, i64)> =
            with_pool!(self, pool => sqlx::query_as(INBOX_ENDS).fetch_all(pool).await)?;
        // Per key: the newest success and the newest failure.
        let mut ends: HashMap<String, (Option<i64>, Option<i64>)> = HashMap::new();
        for (key, kind, at) in rows {
            if wanted.contains(key.as_str()) {
                let (success, failure) = ends.entry(key).or_default();
                *(if kind == "fail" { failure } else { success }) = Some(at);
            }
        }
        let mut inbox: HashMap<String, Newest> = HashMap::with_capacity(ends.len());
        for (key, (success, failure)) in ends {
            let end = match (success, failure) {
                (Some(s), Some(f)) if s == f => {
                    // Both at one instant: the one inserted last is the newer. Found no more
                    // when moved meanwhile: then `pings`, read next, has both.
                    let kind: Option<String> = with_pool!(self, pool => {
                        sqlx::query_scalar(INBOX_LAST_END_AT)
                            .bind(key.as_str())
                            .bind(s)
                            .fetch_optional(pool)
                            .await
                    })?;
                    kind.map(|kind| (s, kind == "fail"))
                }
                (Some(s), Some(f)) => Some(if s > f { (s, false) } else { (f, true) }),
                (s, f) => s.map(|s| (s, false)).or(f.map(|f| (f, true))),
            };
            let newest = Newest {
                success,
                end,
                open_start: None,
            };
            inbox.insert(key, newest);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_ROWS_PER_STATEMENT) {
            let rows: Vec<InstantsRow> = with_pool!(self, pool => {
                let sql = heartbeat_instants_sql(pool.params(), chunk.len());
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for key in chunk {
                    q = q.bind(*key);
                }
                q.fetch_all(pool).await
            })?;
            for (key, success, end, end_kind, open_start, inbox_open_start) in rows {
                let moved = Newest {
                    success,
                    end: end.map(|at| (at, end_kind.as_deref() == Some("fail"))),
                    open_start,
                };
                let mut newest = inbox.get(&key).copied().unwrap_or_default();
                newest.open_start = inbox_open_start;
                let instants = Newest::merge(moved, newest).instants()?;
                out.insert(key, instants);
            }
        }
        Ok(out)
    }

    async fn one_ping(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<StoredPing>, StoreError> {
        let row: Option<PingRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await)?;
        row.map(stored_ping).transpose()
    }

    /// The newest pings of `key`, newest first.
    pub async fn recent_pings(&self, key: &str, limit: u32) -> Result<Vec<StoredPing>, StoreError> {
        let sql = select_pings!("key = $1", "$2");
        let rows: Vec<PingRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(key)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(stored_ping).collect()
    }

    /// How many pings are stored for `key`, or for every key.
    pub async fn count_pings(&self, key: Option<&str>) -> Result<u64, StoreError> {
        let n: i64 = match key {
            Some(key) => {
                let sql = "SELECT (SELECT COUNT(*) FROM pings WHERE key = $1) \
                           + (SELECT COUNT(*) FROM pings_inbox WHERE key = $1)";
                with_pool!(self, pool => sqlx::query_scalar(sql).bind(key).fetch_one(pool).await)?
            }
            None => {
                let sql =
                    "SELECT (SELECT COUNT(*) FROM pings) + (SELECT COUNT(*) FROM pings_inbox)";
                with_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?
            }
        };
        to_u64("ping count", n)
    }

    /// Deletes pings older than `before`, except what push monitors are judged on: each key's
    /// latest success and latest failure, and runs still open. Returns how many. Only `pings`
    /// is pruned: the inbox holds the last second or so.
    pub async fn prune_pings(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM pings WHERE id IN (SELECT id FROM pings WHERE at < $1 \
                   AND NOT (kind = 'start' AND ended_at IS NULL) \
                   AND id NOT IN (SELECT MAX(id) FROM pings WHERE kind IN ('success', 'fail') GROUP BY key, kind) \
                   LIMIT $2)";
        self.prune(sql, before).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The query plan of each part of the totals statement, on an empty SQLite store.
    async fn plans(one_monitor: bool, from: &str, to: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = Store::connect(&url, &crate::ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let ms = |s: &str| s.parse::<Timestamp>().unwrap().as_millisecond();
        let ranges = rollup_ranges(ms(from), ms(to));
        let (sql, binds) = totals_statement(one_monitor, &ranges, &edge_days(&ranges));
        let crate::Pool::Sqlite(pool) = &store.pool else {
            unreachable!("a SQLite store")
        };
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {sql}"
        )));
        if one_monitor {
            q = q.bind("api");
        }
        for b in &binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(pool).await.unwrap();
        rows.into_iter().map(|(_, _, _, detail)| detail).collect()
    }

    #[tokio::test]
    async fn totals_of_every_monitor_search_rollups_by_bucket_not_by_scanning() {
        // Minutes, hours and days of rollups, and two edge days.
        let (from, to) = ("2026-03-01T22:30:00Z", "2026-03-04T01:30:00Z");
        let all = plans(false, from, to).await;
        let rollups: Vec<&String> = all.iter().filter(|d| d.contains("check_rollups")).collect();
        assert!(rollups.len() >= 3, "{all:#?}");
        for d in &rollups {
            assert!(
                d.starts_with("SEARCH check_rollups USING INDEX check_rollups_by_bucket"),
                "{all:#?}"
            );
        }
        // One monitor's totals still seek its rows by the primary key.
        let one = plans(true, from, to).await;
        for d in one.iter().filter(|d| d.contains("check_rollups ")) {
            assert!(
                d.starts_with("SEARCH check_rollups USING PRIMARY KEY"),
                "{one:#?}"
            );
        }
    }
}
