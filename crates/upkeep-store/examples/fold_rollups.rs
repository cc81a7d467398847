//! Migrates a database and folds every day of rollups due at NOW_MS (`upkeep_store::
//! rollup_days`), then drops the minutes past RETENTION_DAYS: what upkeep's folding and pruning
//! passes do over time, all at once. `bench/rollups.sh` seeds a year of rollups and measures
//! what this leaves.
//!
//! ```sh
//! cargo run --release -p upkeep-store --example fold_rollups -- DATABASE_URL [NOW_MS [RETENTION_DAYS]]
//! ```
//!
//! Without NOW_MS it only migrates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use jiff::Timestamp;
use upkeep_store::monitoring::DAY_MS;
use upkeep_store::rollup_days::FoldedDays;
use upkeep_store::{ConnectOptions, Store};

/// Monitor-days read per pass and folded per transaction.
const PASS: u32 = 8_192;
const TRANSACTION: usize = 256;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("a database URL");
    let store = Store::connect(url, &ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let Some(now) = args.get(2).map(|a| a.parse::<i64>().expect("NOW_MS")) else {
        return;
    };
    let retention_days = args
        .get(3)
        .map_or(14, |a| a.parse::<i64>().expect("RETENTION_DAYS"));
    let started = Instant::now();
    let now = Timestamp::from_millisecond(now).unwrap();
    let mut total = FoldedDays::default();
    loop {
        let due = store.rollup_days_to_fold(now, PASS).await.unwrap();
        if due.is_empty() {
            break;
        }
        for chunk in due.chunks(TRANSACTION) {
            total.add(store.fold_rollup_days(chunk).await.unwrap());
        }
    }
    let before =
        Timestamp::from_millisecond(now.as_millisecond() - retention_days * DAY_MS).unwrap();
    let pruned = store.prune_minute_rollups(before).await.unwrap();
    println!(
        "folded {} monitor-days ({} rows) and pruned {pruned} minute rows and days in {} s",
        total.days,
        total.rows,
        started.elapsed().as_secs()
    );
    store.close().await;
}
