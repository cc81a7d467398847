//! Whole days of rollups folded into one row per monitor and day (`upkeep_store::rollup_days`)
//! read exactly as they did unfolded, with results arriving late and minutes pruned, on SQLite
//! and PostgreSQL alike.

use jiff::Timestamp;
use upkeep_store::Store;
use upkeep_store::monitoring::{CheckResult, DAY_MS, HOUR_MS, MINUTE_MS};

use super::monitoring::{RANGES, assert_totals, expected, ms, result, spread};
use upkeep_store::testing::databases;

/// `results` of `from` again, as the results of `to`.
fn copied(results: &[CheckResult], from: &str, to: &str) -> Vec<CheckResult> {
    results
        .iter()
        .filter(|r| r.monitor_id == from)
        .map(|r| CheckResult {
            monitor_id: to.to_owned(),
            ..r.clone()
        })
        .collect()
}

/// Folds every due day of `monitors` at `now`; returns how many monitor-days were folded.
async fn fold(store: &Store, monitors: &[&str], now: Timestamp) -> u64 {
    let due: Vec<(String, Timestamp)> = store
        .rollup_days_to_fold(now, 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|(m, _)| monitors.contains(&m.as_str()))
        .collect();
    store.fold_rollup_days(&due).await.unwrap().days
}

/// [`RANGES`], and minutes and hours around a late result in day 1, in milliseconds from
/// `BASE_MS`.
fn ranges() -> impl Iterator<Item = (i64, i64)> {
    RANGES.into_iter().chain([
        (DAY_MS + 5 * HOUR_MS, DAY_MS + 6 * HOUR_MS),
        (
            DAY_MS + 5 * HOUR_MS + 30 * MINUTE_MS,
            DAY_MS + 5 * HOUR_MS + 31 * MINUTE_MS,
        ),
        (HOUR_MS + MINUTE_MS, DAY_MS + 2 * HOUR_MS + 1),
    ])
}

#[tokio::test]
async fn a_folded_day_then_a_late_result_totals_as_never_folded() {
    for db in databases("a_folded_day_then_a_late_result_totals_as_never_folded").await {
        let store = db.store().await;
        let mut results = spread();
        let twin = copied(&results, "api", "twin");
        store.record_results(&results).await.unwrap();
        store.record_results(&twin).await.unwrap();

        // At 01:59 on day 3, days 0 to 2 ended more than an hour ago: all due, oldest first.
        let now = ms(3 * DAY_MS + HOUR_MS + 59 * MINUTE_MS);
        let due = store.rollup_days_to_fold(now, 1_000).await.unwrap();
        let want: Vec<(String, Timestamp)> = (0..3)
            .flat_map(|d| ["api", "db", "twin"].map(|m| (m.to_owned(), ms(d * DAY_MS))))
            .collect();
        assert_eq!(due, want, "{:?}", store.backend());
        // At 00:59 on day 3, day 2 is not due yet.
        let early = store
            .rollup_days_to_fold(ms(3 * DAY_MS + 59 * MINUTE_MS), 1_000)
            .await
            .unwrap();
        assert_eq!(early.len(), 6);
        assert_eq!(store.rollup_days_to_fold(now, 2).await.unwrap(), want[..2]);

        // `api` and `db` are folded; `twin` is never.
        assert_eq!(fold(&store, &["api", "db"], now).await, 6);
        let left = store.rollup_days_to_fold(now, 1_000).await.unwrap();
        assert!(left.iter().all(|(m, _)| m == "twin"), "{left:?}");

        // A late result in folded day 1 (as an agent's backlog brings), to both.
        let late = result(
            "api",
            DAY_MS + 5 * HOUR_MS + 30 * MINUTE_MS + 7_000,
            false,
            4_321,
            60_000,
        );
        store
            .record_results(std::slice::from_ref(&late))
            .await
            .unwrap();
        store
            .record_results(&copied(std::slice::from_ref(&late), "api", "twin"))
            .await
            .unwrap();
        results.push(late);

        for pass in ["late result unfolded", "late result folded"] {
            for (from, to) in ranges() {
                let api = store.rollup_totals("api", ms(from), ms(to)).await.unwrap();
                let twin = store.rollup_totals("twin", ms(from), ms(to)).await.unwrap();
                let db_totals = store.rollup_totals("db", ms(from), ms(to)).await.unwrap();
                let what = format!("{:?}, {pass}: [{from}, {to})", store.backend());
                assert_eq!(api, expected(&results, "api", from, to), "{what}");
                assert_eq!(api, twin, "{what}");
                assert_eq!(db_totals, expected(&results, "db", from, to), "{what}");
                let all = store.rollup_totals_all(ms(from), ms(to)).await.unwrap();
                for (monitor, one) in [("api", api), ("twin", twin), ("db", db_totals)] {
                    assert_eq!(all.get(monitor).copied().unwrap_or_default(), one, "{what}");
                }
                assert!(
                    !all.values().any(|t| t.checks == 0),
                    "monitors without checks are absent: {what}"
                );
            }
            let days = store
                .daily_rollups("api", ms(HOUR_MS), ms(3 * DAY_MS))
                .await
                .unwrap();
            assert_eq!(
                days,
                store
                    .daily_rollups("twin", ms(HOUR_MS), ms(3 * DAY_MS))
                    .await
                    .unwrap()
            );
            assert_eq!(days.len(), 3);
            for (i, day) in (0i64..).zip(&days) {
                assert_eq!(day.day, ms(i * DAY_MS));
                assert_eq!(
                    day.totals,
                    expected(&results, "api", i * DAY_MS, (i + 1) * DAY_MS)
                );
            }
            // The late result's day is due again, and folds into the day's row.
            assert_eq!(
                fold(&store, &["api"], now).await,
                u64::from(pass == "late result unfolded")
            );
        }
        store.close().await;
        db.cleanup().await;
    }
}

/// xorshift64: the same sequence on every run.
fn numbers(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[tokio::test]
async fn totals_over_random_ranges_equal_a_brute_force_sum_of_the_results() {
    for db in databases("totals_over_random_ranges_equal_a_brute_force_sum").await {
        let store = db.store().await;
        let mut results = spread();
        store.record_results(&results).await.unwrap();
        // Days 0 and 1 folded, day 2 not; late results in day 0 after the fold.
        let now = ms(2 * DAY_MS + 2 * HOUR_MS);
        assert_eq!(fold(&store, &["api", "db"], now).await, 4);
        let late = [
            result("api", 13 * HOUR_MS + 17 * MINUTE_MS, false, 900, 30_000),
            result("db", 59 * MINUTE_MS + 59_999, true, 12, 0),
        ];
        store.record_results(&late).await.unwrap();
        results.extend(late);

        let mut next = numbers(0x9e37_79b9_7f4a_7c15);
        // An instant in [-1, 4) days, on a day, hour or minute boundary or anywhere.
        let mut instant = || {
            let at = i64::try_from(next() % (5 * DAY_MS as u64)).unwrap() - DAY_MS;
            let unit = [DAY_MS, HOUR_MS, MINUTE_MS, 1][usize::try_from(next() % 4).unwrap()];
            at - at.rem_euclid(unit)
        };
        for i in 0..300 {
            let (a, b) = (instant(), instant());
            let (from, to) = (a.min(b), a.max(b));
            for monitor in ["api", "db"] {
                let got = assert_totals(&store, &results, monitor, from, to).await;
                if i % 10 == 0 {
                    let all = store.rollup_totals_all(ms(from), ms(to)).await.unwrap();
                    assert_eq!(all.get(monitor).copied().unwrap_or_default(), got);
                }
            }
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn pruning_minutes_after_a_fold_reads_as_pruning_them_unfolded() {
    for db in databases("pruning_minutes_after_a_fold_reads_as_pruning_them_unfolded").await {
        let store = db.store().await;
        let results = spread();
        let twin = copied(&results, "api", "twin");
        store.record_results(&results).await.unwrap();
        store.record_results(&twin).await.unwrap();
        assert_eq!(fold(&store, &["api"], ms(3 * DAY_MS + HOUR_MS)).await, 3);

        // Minutes of days 0 and 1 go, on both sides; day 2's stay.
        assert!(store.prune_minute_rollups(ms(2 * DAY_MS)).await.unwrap() > 0);
        for (from, to) in ranges() {
            let api = store.rollup_totals("api", ms(from), ms(to)).await.unwrap();
            let twin = store.rollup_totals("twin", ms(from), ms(to)).await.unwrap();
            assert_eq!(api, twin, "{:?}: [{from}, {to})", store.backend());
        }
        // Minutes cut out of day 1 are gone: its first minute reads nothing any more.
        let minute = (DAY_MS, DAY_MS + MINUTE_MS);
        assert_ne!(expected(&results, "api", minute.0, minute.1).checks, 0);
        assert_eq!(
            store
                .rollup_totals("api", ms(minute.0), ms(minute.1))
                .await
                .unwrap()
                .checks,
            0
        );
        // Whole days, whole hours and day 2's minutes read as before.
        for (from, to) in [
            (0, 3 * DAY_MS),
            (HOUR_MS, DAY_MS + 5 * HOUR_MS),
            (2 * DAY_MS + 7 * MINUTE_MS, 2 * DAY_MS + 3 * HOUR_MS + 1),
        ] {
            assert_eq!(
                store.rollup_totals("api", ms(from), ms(to)).await.unwrap(),
                expected(&results, "api", from, to),
                "{:?}: [{from}, {to})",
                store.backend()
            );
        }
        // Pruning again drops nothing more.
        assert_eq!(store.prune_minute_rollups(ms(2 * DAY_MS)).await.unwrap(), 0);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_unreadable_folded_day_leaves_out_its_hours_not_every_monitors_history() {
    for db in databases("an_unreadable_folded_day_leaves_out_its_hours").await {
        let store = db.store().await;
        let results = spread();
        store.record_results(&results).await.unwrap();
        assert_eq!(
            fold(&store, &["api", "db"], ms(3 * DAY_MS + HOUR_MS)).await,
            6
        );
        // `api`'s day 1 loses its packed hours and minutes to a truncated varint.
        let garbage = match store.backend() {
            upkeep_store::Backend::Sqlite => "X'FFFFFFFF'",
            upkeep_store::Backend::Postgres => "'\\xffffffff'::bytea",
        };
        let day = ms(DAY_MS).as_millisecond();
        upkeep_store::testing::execute(
            &store,
            &format!(
                "UPDATE check_rollup_days SET hours = {garbage}, minutes = {garbage} \
                 WHERE monitor_id = 'api' AND day = {day}"
            ),
        )
        .await
        .unwrap();

        // Hours of day 1: `api`'s are left out, `db`'s read as ever.
        let (from, to) = (DAY_MS + 5 * HOUR_MS, DAY_MS + 6 * HOUR_MS + 30 * MINUTE_MS);
        let all = store.rollup_totals_all(ms(from), ms(to)).await.unwrap();
        let what = format!("{:?}", store.backend());
        assert_eq!(
            all.get("db"),
            Some(&expected(&results, "db", from, to)),
            "{what}"
        );
        assert_ne!(expected(&results, "api", from, to).checks, 0);
        assert_eq!(all.get("api"), None, "{what}");
        // Whole days, the unreadable one included, come from the day's own totals.
        let (from, to) = (0, 3 * DAY_MS);
        assert_eq!(
            store.rollup_totals("api", ms(from), ms(to)).await.unwrap(),
            expected(&results, "api", from, to),
            "{what}"
        );
        store.close().await;
        db.cleanup().await;
    }
}
