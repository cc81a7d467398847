//! How many bytes a check costs on disk once runs are folded (docs/monitoring.md): writes
//! simulated hours of results for a fleet through the store's own write path (the probe
//! engine's batches, with their rollups), folds each hour once it is an hour old and each day's
//! rollups once the day has been over for an hour, as the engine does, and prints the
//! database's growth per simulated hour and what it holds per check written so far.
//!
//! ```sh
//! cargo run --release -p upkeep-store --example result_storage -- MONITORS HOURS [INTERVAL_S] [FAILURE_PPM] [DIR] [START_HOUR] [ROUNDS_PER_BATCH]
//! ```
//!
//! `START_HOUR` (UTC, default 0) is the hour of the day the simulation starts at: 22 brings the
//! first day's end, and its fold an hour later, within a few simulated hours.
//!
//! `ROUNDS_PER_BATCH` (default 1) writes that many rounds of the fleet in one `record_results`
//! call: the same rows in the same order, in fewer transactions, so that a long simulation at a
//! large fleet takes less machine time. Each monitor's minute rollup is then upserted once per
//! batch instead of once per round; what the file holds per hour stays the same (the
//! benchmark's notes give both runs side by side).
//!
//! A fresh SQLite file in DIR (default: a temporary directory), WAL and `synchronous=FULL` as
//! `upkeep serve` opens it; latencies vary per check (20–220 ms), `FAILURE_PPM` of checks fail
//! with a message (default 10,000 = 1 %). Bytes are the main file's pages in use (page count
//! minus free pages) after a WAL checkpoint: what the database holds, not what it may reuse;
//! the last two columns split the growth between the raw results and the rollups (`dbstat`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use jiff::Timestamp;
use upkeep_store::monitoring::MonitorStateRow;
use upkeep_store::monitoring::{CheckResult, HOUR_MS};
use upkeep_store::{ConnectOptions, Store};

/// 2026-03-02T00:00:00Z.
const DAY_START_MS: i64 = 1_772_409_600_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: i64| {
        args.get(i)
            .map(|a| a.parse::<i64>().expect("a number"))
            .unwrap_or(default)
    };
    let monitors = arg(1, 1_000);
    let hours = arg(2, 4);
    let interval_ms = arg(3, 10) * 1_000;
    let failure_ppm = arg(4, 10_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = args.get(5).map_or(tmp.path().to_path_buf(), Into::into);
    let start_ms = DAY_START_MS + arg(6, 0) * HOUR_MS;
    let rounds_per_batch = arg(7, 1).max(1);
    let path = dir.join("results.sqlite");
    let _ = std::fs::remove_file(&path);
    let store = Store::connect(
        &format!("sqlite://{}", path.display()),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let ids: Vec<String> = (0..monitors).map(|m| format!("mon-{m:05}")).collect();
    let folded: Vec<(String, i64)> = ids.iter().map(|id| (id.clone(), interval_ms)).collect();
    let states: Vec<MonitorStateRow> = ids
        .iter()
        .map(|id| MonitorStateRow {
            monitor_id: id.clone(),
            status: upkeep_domain::monitor_state::MonitorStatus::Up,
            consecutive_failures: 0,
            consecutive_successes: 1,
            changed_at: ts(start_ms),
            last_check_at: None,
            paused: false,
        })
        .collect();
    store.save_monitor_states(&states).await.unwrap();

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let rounds_per_hour = HOUR_MS / interval_ms;
    let checks_per_hour = rounds_per_hour * monitors;
    println!(
        "monitors={monitors} interval={}s failures={failure_ppm}ppm checks/hour={checks_per_hour} rounds/batch={rounds_per_batch}",
        interval_ms / 1000
    );
    println!(
        "hour\twrite_s\tfold_s\tdays_s\tbytes_in_use\tgrowth\tbytes/check\tin_use/check\tresults/check\trollups/check"
    );
    let probe = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut before = used_bytes(&probe).await;
    let mut split_before = split_bytes(&probe).await;
    for hour in 0..hours {
        let t = Instant::now();
        let mut batch: Vec<CheckResult> = Vec::new();
        for round in 0..rounds_per_hour {
            let at0 = start_ms + hour * HOUR_MS + round * interval_ms;
            batch.extend(ids.iter().enumerate().map(|(m, id)| {
                let fail = random() % 1_000_000 < failure_ppm as u64;
                CheckResult {
                    monitor_id: id.clone(),
                    at: ts(at0 + (m as i64 * 7) % interval_ms),
                    ok: !fail,
                    latency_ms: 20 + (random() % 200) as u32,
                    status_code: Some(if fail { 503 } else { 200 }),
                    failure: fail.then(|| "HTTP 503 breaks `status == 200`".to_owned()),
                    location: None,
                    down_ms: 0,
                }
            }));
            if (round + 1) % rounds_per_batch == 0 || round + 1 == rounds_per_hour {
                store.record_results(&batch).await.unwrap();
                batch.clear();
            }
        }
        let write_s = t.elapsed().as_secs_f64();
        // The hour that is now an hour old is folded, as the engine's pass would.
        let t = Instant::now();
        if hour >= 1 {
            for chunk in folded.chunks(64) {
                store
                    .fold_hour(chunk, ts(start_ms + (hour - 1) * HOUR_MS))
                    .await
                    .unwrap();
            }
        }
        let fold_s = t.elapsed().as_secs_f64();
        // Each day that ended an hour ago is folded into its packed row, as the engine's
        // day pass does (`fold_rollup_days_once`).
        let t = Instant::now();
        let now = ts(start_ms + (hour + 1) * HOUR_MS);
        let due = store.rollup_days_to_fold(now, u32::MAX).await.unwrap();
        for chunk in due.chunks(64) {
            store.fold_rollup_days(chunk).await.unwrap();
        }
        let days_s = t.elapsed().as_secs_f64();
        let used = used_bytes(&probe).await;
        let growth = used - before;
        let split = split_bytes(&probe).await;
        let per_check = |now: i64, then: i64| (now - then) as f64 / checks_per_hour as f64;
        println!(
            "{hour}\t{write_s:.1}\t{fold_s:.1}\t{days_s:.1}\t{used}\t{growth}\t{:.1}\t{:.1}\t{:.1}\t{:.1}",
            growth as f64 / checks_per_hour as f64,
            used as f64 / (checks_per_hour * (hour + 1)) as f64,
            per_check(split.0, split_before.0),
            per_check(split.1, split_before.1),
        );
        before = used;
        split_before = split;
        // The rollups still count every check.
        let totals = store
            .rollup_totals(&ids[0], ts(start_ms), ts(start_ms + (hour + 1) * HOUR_MS))
            .await
            .unwrap();
        assert_eq!(totals.checks as i64, rounds_per_hour * (hour + 1));
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

/// Bytes of the pages of the raw results (`check_results` and its indexes) and of the rollups
/// (`check_rollups`, `check_rollup_days` and their indexes), from SQLite's `dbstat`, after
/// [`used_bytes`]'s checkpoint.
async fn split_bytes(pool: &sqlx::SqlitePool) -> (i64, i64) {
    let bytes = |pattern: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE $1",
        )
        .bind(pattern)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    (bytes("check_results%").await, bytes("check_rollup%").await)
}

/// Bytes of the main database file in use after a checkpoint.
async fn used_bytes(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await
        .unwrap();
    let pragma = |name: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
            .fetch_one(pool)
            .await
            .unwrap()
    };
    (pragma("page_count").await - pragma("freelist_count").await) * pragma("page_size").await
}
