//! The monitoring storage contract on SQLite and PostgreSQL alike: results and their rollups,
//! pruning, monitor states and events, push pings and how ends pair with starts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_store::monitoring::{
    CheckResult, DAY_MS, HOUR_MS, LocationTotals, MINUTE_MS, MonitorEvent, MonitorStateRow,
    PING_BODY_MAX, Ping, PingKind, RollupTotals, rollup_ranges,
};
use upkeep_store::testing::{databases, execute};
use upkeep_store::{Store, StoreError};

/// 2026-03-01T00:00:00Z, a UTC midnight.
const BASE_MS: i64 = 1_772_323_200_000;

pub(crate) fn ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(BASE_MS + ms).unwrap()
}

pub(crate) fn result(monitor: &str, at_ms: i64, ok: bool, latency: u32, down: i64) -> CheckResult {
    CheckResult {
        monitor_id: monitor.into(),
        at: ms(at_ms),
        ok,
        latency_ms: latency,
        status_code: if ok { Some(200) } else { Some(503) },
        failure: (!ok).then(|| "status 503".to_owned()),
        location: None,
        down_ms: down,
    }
}

/// What the rollups must say about `[from, to)`: every result whose minute starts in it.
pub(crate) fn expected(results: &[CheckResult], monitor: &str, from: i64, to: i64) -> RollupTotals {
    let mut t = RollupTotals::default();
    for r in results.iter().filter(|r| r.monitor_id == monitor) {
        let minute = (r.at.as_millisecond() - BASE_MS).div_euclid(MINUTE_MS) * MINUTE_MS;
        if minute >= from && minute < to {
            t.checks += 1;
            t.failures += u64::from(!r.ok);
            t.latency_sum_ms += u64::from(r.latency_ms);
            t.latency_max_ms = t.latency_max_ms.max(r.latency_ms);
            t.down_ms += r.down_ms;
        }
    }
    t
}

/// Asserts that `monitor`'s rollup totals over `[from, to)` are what [`expected`] sums from
/// `results`, and returns them.
pub(crate) async fn assert_totals(
    store: &Store,
    results: &[CheckResult],
    monitor: &str,
    from: i64,
    to: i64,
) -> RollupTotals {
    let got = store
        .rollup_totals(monitor, ms(from), ms(to))
        .await
        .unwrap();
    assert_eq!(
        got,
        expected(results, monitor, from, to),
        "{:?}: {monitor} [{from}, {to})",
        store.backend()
    );
    got
}

/// A deterministic spread of results over three days for two monitors, crossing minute, hour
/// and day boundaries (including results exactly on them).
pub(crate) fn spread() -> Vec<CheckResult> {
    let mut out = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..1_500i64 {
        let at = i64::try_from(next() % (3 * DAY_MS as u64)).unwrap();
        let ok = next() % 5 != 0;
        let latency = u32::try_from(next() % 900).unwrap();
        let monitor = if i % 3 == 0 { "db" } else { "api" };
        out.push(result(
            monitor,
            at,
            ok,
            latency,
            if ok { 0 } else { 30_000 },
        ));
    }
    for edge in [
        0,
        MINUTE_MS,
        HOUR_MS,
        DAY_MS - 1,
        DAY_MS,
        2 * DAY_MS + HOUR_MS,
    ] {
        out.push(result("api", edge, false, 1_000, 10_000));
    }
    out
}

/// Ranges cutting minutes, hours and days of [`spread`], in milliseconds from `BASE_MS`.
pub(crate) const RANGES: [(i64, i64); 9] = [
    (0, 3 * DAY_MS),
    (0, DAY_MS),
    (MINUTE_MS * 7, MINUTE_MS * 8),
    (
        HOUR_MS + 30 * MINUTE_MS,
        DAY_MS + 2 * HOUR_MS + 15 * MINUTE_MS,
    ),
    (23 * HOUR_MS + 59 * MINUTE_MS, 2 * DAY_MS + MINUTE_MS),
    (5 * HOUR_MS, 5 * HOUR_MS),
    (DAY_MS - 1, DAY_MS + 1),
    // Bounds inside a minute: minutes starting in [from, to) count.
    (30_000, HOUR_MS + 30_000),
    (-DAY_MS, 10 * DAY_MS),
];

#[tokio::test]
async fn rollups_total_exactly_for_ranges_cutting_buckets() {
    for db in databases("rollups_total_exactly_for_ranges_cutting_buckets").await {
        let store = db.store().await;
        let results = spread();
        // Two calls, the second with more than a thousand results for one transaction.
        store.record_results(&results[..300]).await.unwrap();
        store.record_results(&results[300..]).await.unwrap();

        for (from, to) in RANGES {
            for monitor in ["api", "db"] {
                assert_totals(&store, &results, monitor, from, to).await;
            }
        }
        // The coarsest buckets are used: a three-day range is three day rows.
        assert_eq!(rollup_ranges(BASE_MS, BASE_MS + 3 * DAY_MS).len(), 1);
        // 01:01 on day 0 to 02:00:00.001 on day 1 holds no whole UTC day: hours, then minutes.
        assert_eq!(
            rollup_ranges(
                BASE_MS + HOUR_MS + MINUTE_MS,
                BASE_MS + DAY_MS + 2 * HOUR_MS + 1
            ),
            vec![
                (
                    HOUR_MS,
                    BASE_MS + 2 * HOUR_MS,
                    BASE_MS + DAY_MS + 2 * HOUR_MS
                ),
                (
                    MINUTE_MS,
                    BASE_MS + HOUR_MS + MINUTE_MS,
                    BASE_MS + 2 * HOUR_MS
                ),
                (
                    MINUTE_MS,
                    BASE_MS + DAY_MS + 2 * HOUR_MS,
                    BASE_MS + DAY_MS + 2 * HOUR_MS + MINUTE_MS
                ),
            ]
        );
        assert_eq!(
            rollup_ranges(BASE_MS - MINUTE_MS, BASE_MS + 2 * DAY_MS + HOUR_MS),
            vec![
                (DAY_MS, BASE_MS, BASE_MS + 2 * DAY_MS),
                (MINUTE_MS, BASE_MS - MINUTE_MS, BASE_MS),
                (
                    HOUR_MS,
                    BASE_MS + 2 * DAY_MS,
                    BASE_MS + 2 * DAY_MS + HOUR_MS
                ),
            ]
        );

        let days = store
            .daily_rollups("api", ms(HOUR_MS), ms(3 * DAY_MS))
            .await
            .unwrap();
        assert_eq!(days.len(), 3, "{:?}", store.backend());
        for (i, day) in days.iter().enumerate() {
            let i = i64::try_from(i).unwrap();
            assert_eq!(day.day, ms(i * DAY_MS));
            assert_eq!(
                day.totals,
                expected(&results, "api", i * DAY_MS, (i + 1) * DAY_MS)
            );
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn pruning_removes_raw_results_but_keeps_rollups() {
    for db in databases("pruning_removes_raw_results_but_keeps_rollups").await {
        let store = db.store().await;
        let results: Vec<_> = (0..100)
            .map(|i| result("api", i * 30_000, i % 10 != 0, 100, 0))
            .collect();
        store.record_results(&results).await.unwrap();
        let before = store.rollup_totals("api", ms(0), ms(DAY_MS)).await.unwrap();
        assert_eq!(before.checks, 100);
        assert_eq!(before.failures, 10);

        let pruned = store.prune_results(ms(25 * 30_000)).await.unwrap();
        assert_eq!(pruned, 25, "{:?}", store.backend());
        let recent = store.recent_results("api", 1_000).await.unwrap();
        assert_eq!(recent.len(), 75);
        assert_eq!(recent[0].at, ms(99 * 30_000), "newest first");
        assert_eq!(recent[74].at, ms(25 * 30_000));
        assert_eq!(
            store.rollup_totals("api", ms(0), ms(DAY_MS)).await.unwrap(),
            before
        );
        let failed = recent.iter().find(|r| !r.ok).unwrap();
        assert_eq!(failed.status_code, Some(503));
        assert_eq!(failed.failure.as_deref(), Some("status 503"));

        // Minute rollups may go too; hour and day totals stay.
        store.prune_minute_rollups(ms(DAY_MS)).await.unwrap();
        assert_eq!(
            store.rollup_totals("api", ms(0), ms(DAY_MS)).await.unwrap(),
            before
        );
        store.close().await;
        db.cleanup().await;
    }
}

/// [`spread`] with locations: a quarter judged rows (no location), the rest the results of
/// `server`, `eu-1` and `us-1`.
fn located_spread() -> Vec<CheckResult> {
    let locations = [None, Some("server"), Some("eu-1"), Some("us-1")];
    spread()
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.location = locations[i % locations.len()].map(str::to_owned);
            r.down_ms = if r.location.is_some() { 0 } else { r.down_ms };
            r
        })
        .collect()
}

/// What each location's rollups must say of `[from, to)`, by brute force: every located
/// result of `monitors` whose UTC hour starts in it, summed per monitor and location.
fn expected_locations(
    results: &[CheckResult],
    monitors: &[&str],
    from: i64,
    to: i64,
) -> Vec<LocationTotals> {
    let mut sums: std::collections::BTreeMap<(String, String), RollupTotals> =
        std::collections::BTreeMap::new();
    for r in results {
        let Some(location) = &r.location else {
            continue;
        };
        let hour = (r.at.as_millisecond() - BASE_MS).div_euclid(HOUR_MS) * HOUR_MS;
        if !monitors.contains(&r.monitor_id.as_str()) || hour < from || hour >= to {
            continue;
        }
        let t = sums
            .entry((r.monitor_id.clone(), location.clone()))
            .or_default();
        t.checks += 1;
        t.failures += u64::from(!r.ok);
        t.latency_sum_ms += u64::from(r.latency_ms);
        t.latency_max_ms = t.latency_max_ms.max(r.latency_ms);
    }
    sums.into_iter()
        .map(|((monitor_id, location), totals)| LocationTotals {
            monitor_id,
            location,
            totals,
        })
        .collect()
}

#[tokio::test]
async fn location_rollups_sum_the_located_results_and_are_pruned_with_them() {
    for db in databases("location_rollups_sum_the_located_results").await {
        let store = db.store().await;
        let results = located_spread();
        // Batches of several sizes, so rows of one hour are upserted again.
        store.record_results(&results[..1]).await.unwrap();
        store.record_results(&results[1..400]).await.unwrap();
        store.record_results(&results[400..]).await.unwrap();
        let both = ["api", "db"];
        for (from, to) in RANGES {
            assert_eq!(
                store
                    .location_rollup_totals(&both, ms(from), ms(to))
                    .await
                    .unwrap(),
                expected_locations(&results, &both, from, to),
                "{:?}: [{from}, {to})",
                store.backend()
            );
        }
        // Only the monitors asked for, however many are asked for (statements of 128).
        let mut many: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        many.push("db".into());
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let all = (-DAY_MS, 10 * DAY_MS);
        let db_only = store
            .location_rollup_totals(&many, ms(all.0), ms(all.1))
            .await
            .unwrap();
        assert_eq!(db_only, expected_locations(&results, &["db"], all.0, all.1));
        assert_eq!(db_only.len(), 3, "server, eu-1 and us-1 of db");
        // The monitors' own rollups still count only what they were judged on.
        let judged: Vec<CheckResult> = results
            .iter()
            .filter(|r| r.location.is_none())
            .cloned()
            .collect();
        assert_totals(&store, &judged, "api", 0, 3 * DAY_MS).await;

        // Hours that ended by the cutoff go; the hour it falls in stays.
        let cutoff = DAY_MS + 30 * MINUTE_MS;
        let pruned = store.prune_location_rollups(ms(cutoff)).await.unwrap();
        // One row per monitor, location and hour of the first day.
        let rows_before: usize = (0..24)
            .map(|h| expected_locations(&results, &both, h * HOUR_MS, (h + 1) * HOUR_MS).len())
            .sum();
        assert!(rows_before > 24);
        assert_eq!(
            pruned,
            u64::try_from(rows_before).unwrap(),
            "{:?}",
            store.backend()
        );
        assert_eq!(
            store
                .location_rollup_totals(&both, ms(all.0), ms(all.1))
                .await
                .unwrap(),
            expected_locations(&results, &both, DAY_MS, all.1),
            "{:?}",
            store.backend()
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn monitor_states_round_trip_and_upsert() {
    for db in databases("monitor_states_round_trip_and_upsert").await {
        let store = db.store().await;
        assert!(store.load_monitor_states().await.unwrap().is_empty());
        let mut rows: Vec<MonitorStateRow> = (0..300)
            .map(|i| MonitorStateRow {
                monitor_id: format!("m{i:03}"),
                status: MonitorStatus::Pending,
                consecutive_failures: 0,
                consecutive_successes: 0,
                changed_at: ms(0),
                last_check_at: None,
                paused: false,
            })
            .collect();
        store.save_monitor_states(&rows).await.unwrap();
        assert_eq!(store.load_monitor_states().await.unwrap(), rows);

        rows[7].status = MonitorStatus::Down;
        rows[7].consecutive_failures = 3;
        rows[7].changed_at = ms(90_000);
        rows[7].last_check_at = Some(ms(90_000));
        rows[8].status = MonitorStatus::Paused;
        rows[8].paused = true;
        let mut changed = vec![rows[7].clone(), rows[8].clone()];
        // The last row for a monitor wins.
        let mut stale = rows[8].clone();
        stale.status = MonitorStatus::Up;
        changed.insert(0, stale);
        store.save_monitor_states(&changed).await.unwrap();
        assert_eq!(store.load_monitor_states().await.unwrap(), rows);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn monitor_events_list_newest_first_in_recording_order() {
    for db in databases("monitor_events_list_newest_first_in_recording_order").await {
        let store = db.store().await;
        let event = |monitor: &str, at: i64, from: MonitorStatus, to: MonitorStatus| MonitorEvent {
            source: EventSource::Monitor(monitor.into()),
            at: ms(at),
            from: from.into(),
            to: to.into(),
            reason: format!("{} -> {}", from.as_str(), to.as_str()),
        };
        use MonitorStatus::{Down, Paused, Pending, Up};
        store
            .record_monitor_events(&[
                event("api", 0, Pending, Up),
                event("db", 0, Pending, Up),
                event("api", 60_000, Up, Down),
            ])
            .await
            .unwrap();
        // Same instant: recording order breaks the tie.
        store
            .record_monitor_events(&[
                event("api", 120_000, Down, Up),
                event("api", 120_000, Up, Paused),
            ])
            .await
            .unwrap();
        let api = store
            .list_monitor_events(Some(&EventSource::Monitor("api".into())), 10)
            .await
            .unwrap();
        let seen: Vec<_> = api
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("up", "paused"),
                ("down", "up"),
                ("up", "down"),
                ("pending", "up")
            ]
        );
        assert_eq!(api[2].reason, "up -> down");
        assert_eq!(api[2].at, ms(60_000));
        let all = store.list_monitor_events(None, 10).await.unwrap();
        assert_eq!(all.len(), 5);
        assert!(
            all.iter()
                .any(|e| e.source == EventSource::Monitor("db".into()))
        );
        assert_eq!(store.list_monitor_events(None, 2).await.unwrap().len(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

pub(crate) fn ping(key: &str, at: i64, kind: PingKind, rid: Option<&str>) -> Ping {
    Ping {
        key: key.into(),
        at: ms(at),
        kind,
        exit_code: None,
        rid: rid.map(str::to_owned),
        body: String::new(),
    }
}

pub(crate) const RID_A: &str = "6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6f";
pub(crate) const RID_B: &str = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";

#[tokio::test]
async fn pings_pair_ends_with_starts() {
    for db in databases("pings_pair_ends_with_starts").await {
        let store = db.store().await;
        use PingKind::*;

        // Without run ids, across batches: the end closes the latest open start.
        let s = store
            .record_pings(&[ping("job", 0, Start, None)])
            .await
            .unwrap();
        assert_eq!(s[0].kind, Start);
        assert_eq!(store.open_start("job").await.unwrap().unwrap().id, s[0].id);
        let e = store
            .record_pings(&[ping("job", 5_000, Success, None)])
            .await
            .unwrap();
        assert_eq!(e[0].duration_ms, Some(5_000), "{:?}", store.backend());
        assert!(store.open_start("job").await.unwrap().is_none());
        let start = store.recent_pings("job", 10).await.unwrap();
        assert_eq!(start[1].ended_at, Some(ms(5_000)));

        // A success with no start has no duration.
        let lone = store
            .record_pings(&[ping("job", 6_000, Success, None)])
            .await
            .unwrap();
        assert_eq!(lone[0].duration_ms, None);

        // Overlapping runs with run ids, within one batch and across batches.
        let batch = store
            .record_pings(&[
                ping("job", 10_000, Start, Some(RID_A)),
                ping("job", 11_000, Start, Some(RID_B)),
                ping("job", 13_000, Fail, Some(RID_A)),
            ])
            .await
            .unwrap();
        assert_eq!(batch[2].duration_ms, Some(3_000));
        assert_eq!(batch[0].ended_at, Some(ms(13_000)));
        assert_eq!(batch[1].ended_at, None);
        assert_eq!(
            store
                .open_start("job")
                .await
                .unwrap()
                .unwrap()
                .rid
                .as_deref(),
            Some(RID_B)
        );
        let b_end = store
            .record_pings(&[ping("job", 20_000, Success, Some(RID_B))])
            .await
            .unwrap();
        assert_eq!(b_end[0].duration_ms, Some(9_000));
        // An end whose run id matches no open start gets no duration.
        let unknown = store
            .record_pings(&[ping("job", 21_000, Success, Some(RID_A))])
            .await
            .unwrap();
        assert_eq!(unknown[0].duration_ms, None);

        // Overlapping runs without ids: each end closes the latest start still open.
        let runs = store
            .record_pings(&[
                ping("cron", 0, Start, None),
                ping("cron", 1_000, Start, None),
                ping("cron", 1_500, Log, None),
                ping("cron", 4_000, Success, None),
            ])
            .await
            .unwrap();
        assert_eq!(runs[3].duration_ms, Some(3_000));
        assert_eq!(runs[2].duration_ms, None, "a log ends nothing");
        let last = store
            .record_pings(&[ping("cron", 9_000, Fail, None)])
            .await
            .unwrap();
        assert_eq!(last[0].duration_ms, Some(9_000));
        // Keys do not mix.
        assert!(store.open_start("job").await.unwrap().is_none());
        assert!(store.open_start("cron").await.unwrap().is_none());

        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn pings_are_stored_as_sent_and_read_back() {
    for db in databases("pings_are_stored_as_sent_and_read_back").await {
        let store = db.store().await;
        use PingKind::*;
        assert!(store.last_ping("k").await.unwrap().is_none());
        assert!(store.last_success("k").await.unwrap().is_none());

        let mut long = ping("k", 1_000, Fail, None);
        long.exit_code = Some(2);
        long.body = "é".repeat(PING_BODY_MAX); // 2 bytes a character: cut at a boundary
        let mut ok = ping("k", 2_000, Success, None);
        ok.exit_code = Some(0);
        ok.body = "all good\n".into();
        // Identical pings still get their own rows, and ids come back in batch order.
        let mut batch = vec![long, ok];
        for _ in 0..300 {
            batch.push(ping("other", 3_000, Success, None));
        }
        batch.push(ping("k", 4_000, Log, None));
        let stored = store.record_pings(&batch).await.unwrap();
        assert_eq!(stored.len(), batch.len());
        for (p, s) in batch.iter().zip(&stored) {
            assert_eq!((&p.key, p.at, p.kind), (&s.key, s.at, s.kind));
        }
        let mut ids: Vec<i64> = stored.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), batch.len(), "every ping has its own row");

        assert!(stored[0].body.len() <= PING_BODY_MAX);
        assert!(stored[0].body.len() > PING_BODY_MAX - 2);
        assert!(stored[0].body.chars().all(|c| c == 'é'));
        assert_eq!(stored[0].exit_code, Some(2));

        let last = store.last_ping("k").await.unwrap().unwrap();
        assert_eq!(last.kind, Log);
        let success = store.last_success("k").await.unwrap().unwrap();
        assert_eq!(success.body, "all good\n");
        assert_eq!(success.exit_code, Some(0));
        // A log after an outcome does not hide it.
        let outcome = store.last_outcome("k").await.unwrap().unwrap();
        assert_eq!(outcome.kind, Success);
        assert!(store.last_outcome("none").await.unwrap().is_none());
        let recent = store.recent_pings("k", 2).await.unwrap();
        assert_eq!(
            recent.iter().map(|p| p.kind).collect::<Vec<_>>(),
            [Log, Success]
        );
        assert_eq!(store.count_pings(Some("other")).await.unwrap(), 300);
        assert_eq!(store.count_pings(None).await.unwrap(), 303);
        // Pruning keeps what push monitors are judged on: each key's latest success and failure.
        // It prunes moved pings only (the inbox holds the last second or so).
        assert_eq!(store.prune_pings(ms(3_500)).await.unwrap(), 0);
        let mut writer = store.writer_connection().await.unwrap();
        assert_eq!(writer.move_pings().await.unwrap(), 303);
        drop(writer);
        assert_eq!(store.prune_pings(ms(3_500)).await.unwrap(), 299);
        assert_eq!(store.count_pings(None).await.unwrap(), 4);
        assert_eq!(
            store.last_success("k").await.unwrap().unwrap().at,
            ms(2_000)
        );
        assert_eq!(
            store.last_outcome("k").await.unwrap().unwrap().kind,
            Success
        );
        assert_eq!(store.count_pings(Some("other")).await.unwrap(), 1);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_burst_over_many_keys_pairs_every_run_in_one_batch() {
    for db in databases("a_burst_over_many_keys_pairs_every_run_in_one_batch").await {
        let store = db.store().await;
        // The top of the minute: 300 jobs start, then all end in one batch.
        let starts: Vec<Ping> = (0..300)
            .map(|i| ping(&format!("job-{i}"), i, PingKind::Start, None))
            .collect();
        store.record_pings(&starts).await.unwrap();
        let ends: Vec<Ping> = (0..300)
            .map(|i| ping(&format!("job-{i}"), 60_000 + 2 * i, PingKind::Success, None))
            .collect();
        let stored = store.record_pings(&ends).await.unwrap();
        for (i, s) in (0i64..).zip(&stored) {
            assert_eq!(s.key, format!("job-{i}"));
            assert_eq!(s.duration_ms, Some(60_000 + i), "{:?}", store.backend());
        }
        for i in [0, 127, 128, 299] {
            assert!(
                store
                    .open_start(&format!("job-{i}"))
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_writer_connection_records_like_the_store() {
    for db in databases("a_writer_connection_records_like_the_store").await {
        let store = db.store().await;
        let mut conn = store.writer_connection().await.unwrap();
        use PingKind::*;
        // One statement (BEGIN and COMMIT ride along), then several.
        let s = conn
            .record_pings(&[ping("w", 0, Start, Some(RID_A))])
            .await
            .unwrap();
        assert_eq!(store.open_start("w").await.unwrap().unwrap().id, s[0].id);
        let mut batch = vec![ping("w", 4_000, Success, Some(RID_A))];
        batch.extend((0..300).map(|i| ping("x", i, Log, None)));
        batch.push(ping("w", 5_000, Start, None));
        let stored = conn.record_pings(&batch).await.unwrap();
        assert_eq!(stored.len(), 302);
        assert_eq!(stored[0].duration_ms, Some(4_000), "{:?}", store.backend());
        assert_eq!(store.count_pings(None).await.unwrap(), 303);
        assert_eq!(
            store.open_start("w").await.unwrap().unwrap().id,
            stored[301].id
        );
        assert!(conn.record_pings(&[]).await.unwrap().is_empty());
        // The store's own transactions still work beside it.
        store
            .record_pings(&[ping("w", 6_000, Fail, None)])
            .await
            .unwrap();
        assert!(store.open_start("w").await.unwrap().is_none());
        drop(conn);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_batch_is_written_whole_or_not_at_all() {
    for db in databases("a_batch_is_written_whole_or_not_at_all").await {
        let store = db.store().await;
        let results = vec![result("api", 1_000, false, 5, 30_000)];
        let api = EventSource::Monitor("api".into());
        let event = MonitorEvent {
            source: api.clone(),
            at: ms(1_000),
            from: EventState::Up,
            to: EventState::Down,
            reason: "status 503".into(),
        };
        let state = MonitorStateRow {
            monitor_id: "api".into(),
            status: MonitorStatus::Down,
            consecutive_failures: 1,
            consecutive_successes: 0,
            changed_at: ms(1_000),
            last_check_at: Some(ms(1_000)),
            paused: false,
        };
        // The batch's last write (its event) fails: the results and the state go with it.
        execute(
            &store,
            "ALTER TABLE monitor_events RENAME TO monitor_events_away",
        )
        .await
        .unwrap();
        let refused = store
            .record_batch(
                &results,
                std::slice::from_ref(&state),
                std::slice::from_ref(&event),
            )
            .await;
        execute(
            &store,
            "ALTER TABLE monitor_events_away RENAME TO monitor_events",
        )
        .await
        .unwrap();
        assert!(refused.is_err(), "{:?}", store.backend());
        assert!(
            store.load_monitor_states().await.unwrap().is_empty(),
            "no state without its event"
        );
        assert!(
            store.recent_results("api", 10).await.unwrap().is_empty(),
            "no result without its state"
        );
        assert!(
            store
                .list_monitor_events(Some(&api), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .rollup_totals("api", ms(0), ms(120_000))
                .await
                .unwrap()
                .checks,
            0
        );

        store
            .record_batch(
                &results,
                std::slice::from_ref(&state),
                std::slice::from_ref(&event),
            )
            .await
            .unwrap();
        assert_eq!(store.recent_results("api", 10).await.unwrap().len(), 1);
        assert_eq!(
            store
                .list_monitor_events(Some(&api), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store.load_monitor_states().await.unwrap()[0].status,
            MonitorStatus::Down
        );
        assert_eq!(
            store
                .rollup_totals("api", ms(0), ms(120_000))
                .await
                .unwrap()
                .down_ms,
            30_000
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn totals_of_all_monitors_match_totals_of_each() {
    for db in databases("totals_of_all_monitors_match_totals_of_each").await {
        let store = db.store().await;
        let mut results = Vec::new();
        for (i, monitor) in ["a", "b", "c"].iter().enumerate() {
            for n in 0..200i64 {
                let at = n * 37_000 + i as i64 * 1_000; // across minutes and hours
                results.push(result(
                    monitor,
                    at,
                    n % (i as i64 + 3) != 0,
                    10 + n as u32,
                    0,
                ));
            }
        }
        store.record_results(&results).await.unwrap();
        for (from, to) in [(0, 7_400_000), (90_000, 3_700_000), (61_000, 5_000_000)] {
            let all = store.rollup_totals_all(ms(from), ms(to)).await.unwrap();
            for monitor in ["a", "b", "c"] {
                let one = store
                    .rollup_totals(monitor, ms(from), ms(to))
                    .await
                    .unwrap();
                assert_eq!(
                    all.get(monitor).copied().unwrap_or_default(),
                    one,
                    "{monitor} [{from}, {to})"
                );
                assert_eq!(one, expected(&results, monitor, from, to));
            }
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unknown_stored_event_sources_and_states_are_errors_not_panics() {
    for db in databases("unknown_stored_event_sources_and_states_are_errors").await {
        let store = db.store().await;
        let insert = |source: &str, from: &str, to: &str| {
            format!(
                "INSERT INTO monitor_events (source, at, from_status, to_status, reason) \
                 VALUES ('{source}', {}, '{from}', '{to}', 'written by hand')",
                ms(1_000).as_millisecond()
            )
        };
        let cases = [
            (
                insert("alertmanager:abc", "ok", "firing"),
                "alertmanager:abc",
            ),
            (insert("api", "up", "sideways"), "sideways"),
            // A known state that its source never records.
            (insert("backup:nightly", "ok", "firing"), "firing"),
        ];
        for (sql, named) in cases {
            execute(&store, "DELETE FROM monitor_events").await.unwrap();
            execute(&store, &sql).await.unwrap();
            let errors = [
                store.list_monitor_events(None, 10).await.err(),
                store.status_history(ms(0), ms(60_000)).await.err(),
                store.status_history(ms(60_000), ms(120_000)).await.err(),
            ];
            for error in errors {
                match error {
                    Some(StoreError::Corrupt(message)) => {
                        assert!(message.contains(named), "{message}")
                    }
                    other => panic!("{named}: expected a corrupt-data error, got {other:?}"),
                }
            }
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn events_written_before_the_source_column_read_back_unchanged() {
    for db in databases("events_written_before_the_source_column").await {
        // The event log as upkeep wrote it before its column was named `source`.
        let old = db.store_at_version(9).await;
        let rows = [
            ("api", 1_000, "pending", "up"),
            ("api", 2_000, "up", "down"),
            ("rule:High CPU: p99#1", 3_000, "pending", "firing"),
            ("slo:api", 4_000, "ok", "critical"),
            ("backup:nightly", 5_000, "unknown", "at_risk"),
            ("drill:nightly", 6_000, "ok", "overdue"),
            ("preflight:01JDEMO", 7_000, "ok", "held"),
        ];
        for (source, at, from, to) in rows {
            let sql = format!(
                "INSERT INTO monitor_events (monitor_id, at, from_status, to_status, reason) \
                 VALUES ('{source}', {}, '{from}', '{to}', '{from} -> {to}')",
                ms(at).as_millisecond()
            );
            execute(&old, &sql).await.unwrap();
        }
        old.close().await;

        let store = db.store().await;
        // Oldest first. (Not through the followers' settled read: on PostgreSQL that waits for
        // every transaction of the server, other tests' included.)
        let mut read = store.list_monitor_events(None, 100).await.unwrap();
        read.reverse();
        assert_eq!(read.len(), rows.len());
        for ((source, at, from, to), event) in rows.iter().zip(&read) {
            assert_eq!(event.source.as_str(), *source);
            assert_eq!(event.at, ms(*at));
            assert_eq!((event.from.as_str(), event.to.as_str()), (*from, *to));
            assert_eq!(event.reason, format!("{from} -> {to}"));
        }
        let rule = EventSource::Rule("High CPU: p99#1".into());
        assert_eq!(read[2].source, rule);
        assert_eq!(read[2].to, EventState::Firing);
        assert_eq!(
            store.list_monitor_events(Some(&rule), 10).await.unwrap(),
            vec![read.remove(2)]
        );
        let history = store.status_history(ms(2_500), ms(10_000)).await.unwrap();
        assert_eq!(
            history.initial.get(&EventSource::Monitor("api".into())),
            Some(&EventState::Down)
        );
        assert_eq!(
            history.changes[&EventSource::Backup("nightly".into())][0].to,
            EventState::AtRisk
        );
        // New events go to the same log.
        store
            .record_monitor_events(&[MonitorEvent {
                source: EventSource::Monitor("api".into()),
                at: ms(8_000),
                from: EventState::Down,
                to: EventState::Up,
                reason: "recovered".into(),
            }])
            .await
            .unwrap();
        assert_eq!(store.list_monitor_events(None, 100).await.unwrap().len(), 8);
        store.close().await;
        db.cleanup().await;
    }
}

fn state(monitor: &str) -> MonitorStateRow {
    MonitorStateRow {
        monitor_id: monitor.into(),
        status: MonitorStatus::Up,
        consecutive_failures: 0,
        consecutive_successes: 1,
        changed_at: ms(0),
        last_check_at: Some(ms(0)),
        paused: false,
    }
}

#[tokio::test]
async fn folding_an_hour_keeps_every_check_failure_and_total() {
    for db in databases("folding_an_hour_keeps_every_check_failure_and_total").await {
        let store = db.store().await;
        // Two monitors every 10 s over two hours; `api` fails at 00:20 for three checks.
        let mut results = Vec::new();
        for i in 0..720 {
            let down = (120..123).contains(&i);
            let latency = 50 + (i % 7) as u32;
            results.push(result(
                "api",
                i * 10_000,
                !down,
                latency,
                if down { 10_000 } else { 0 },
            ));
            results.push(result("web", i * 10_000 + 5_000, true, 20, 0));
        }
        store.record_results(&results).await.unwrap();
        store
            .save_monitor_states(&[state("api"), state("web")])
            .await
            .unwrap();
        let totals = |s: &upkeep_store::Store, m: &'static str| {
            let s = s.clone();
            async move { s.rollup_totals(m, ms(0), ms(2 * HOUR_MS)).await.unwrap() }
        };
        let (api_before, web_before) = (totals(&store, "api").await, totals(&store, "web").await);

        let folded = store
            .fold_hour(
                &[("api".to_owned(), 10_000), ("web".to_owned(), 10_000)],
                ms(0),
            )
            .await
            .unwrap();
        // api: 120 successes, 3 failures, 237 successes → two runs; web: one run of 360.
        assert_eq!(
            (folded.rows, folded.runs, folded.deleted),
            (720, 3, 714),
            "{:?}",
            store.backend()
        );

        let api = store
            .results_between("api", ms(0), ms(HOUR_MS))
            .await
            .unwrap();
        assert_eq!(api.len(), 5, "{api:?}");
        assert_eq!(api[0].checks(), 120);
        let run = api[0].run.as_ref().unwrap();
        assert_eq!(run.last_at, ms(119 * 10_000));
        assert_eq!((run.latency_min_ms, run.latency_max_ms), (50, 56));
        let sum: u64 = (0..120).map(|i| 50 + (i % 7)).sum();
        assert_eq!(run.latency_sum_ms, sum);
        assert_eq!(u64::from(api[0].latency_ms), (sum + 60) / 120);
        for failed in &api[1..4] {
            assert!(!failed.ok && failed.run.is_none() && failed.down_ms == 10_000);
            assert_eq!(failed.failure.as_deref(), Some("status 503"));
        }
        assert_eq!(api[4].checks(), 237);
        let web = store
            .results_between("web", ms(0), ms(HOUR_MS))
            .await
            .unwrap();
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].checks(), 360);
        // The next hour is not touched; the totals never move.
        let later = store
            .results_between("web", ms(HOUR_MS), ms(2 * HOUR_MS))
            .await
            .unwrap();
        assert_eq!(later.len(), 360);
        assert!(later.iter().all(|r| r.run.is_none()));
        assert_eq!(totals(&store, "api").await, api_before);
        assert_eq!(totals(&store, "web").await, web_before);
        let total_checks: u64 = store
            .recent_results("api", 1_000)
            .await
            .unwrap()
            .iter()
            .map(|r| r.checks())
            .sum();
        assert_eq!(total_checks, 720);

        // A window that starts inside a run reads the run and counts only its checks in the
        // window: 00:30:00 to 00:59:50, every 10 s.
        let window = store
            .results_between("api", ms(HOUR_MS / 2), ms(HOUR_MS))
            .await
            .unwrap();
        assert_eq!(window.len(), 1);
        assert_eq!(window[0].id, api[4].id);
        assert_eq!(window[0].checks_within(ms(HOUR_MS / 2), ms(HOUR_MS)), 180);
        assert_eq!(window[0].checks_within(ms(0), ms(2 * HOUR_MS)), 237);
        assert_eq!(window[0].checks_within(ms(HOUR_MS), ms(2 * HOUR_MS)), 0);
        assert_eq!(api[1].checks_within(ms(0), ms(HOUR_MS)), 1);

        // Folding again changes nothing.
        let again = store
            .fold_hour(
                &[("api".to_owned(), 10_000), ("web".to_owned(), 10_000)],
                ms(0),
            )
            .await
            .unwrap();
        assert_eq!((again.runs, again.deleted), (0, 0));
        assert_eq!(
            store
                .results_between("api", ms(0), ms(HOUR_MS))
                .await
                .unwrap(),
            api
        );

        // The cursor starts at the oldest result's hour and then keeps what it is told.
        assert_eq!(store.next_hour_to_fold().await.unwrap(), Some(ms(0)));
        store
            .set_next_hour_to_fold(ms(HOUR_MS), ms(3 * HOUR_MS))
            .await
            .unwrap();
        assert_eq!(store.next_hour_to_fold().await.unwrap(), Some(ms(HOUR_MS)));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn heartbeat_instants_agree_with_the_single_key_reads() {
    for db in databases("heartbeat_instants_agree").await {
        let store = db.store().await;
        use PingKind::*;
        // 200 keys (more than one statement's worth), each with its own history: i % 5 picks
        // success only, a failure after a success, a success after a failure, an open start
        // after an end, or a log and a closed run.
        let mut batch = Vec::new();
        for i in 0..200i64 {
            let key = format!("job-{i}");
            let t = i * 10;
            match i % 5 {
                0 => batch.push(ping(&key, t, Success, None)),
                1 => {
                    batch.push(ping(&key, t, Success, None));
                    batch.push(ping(&key, t + 1, Fail, None));
                }
                2 => {
                    batch.push(ping(&key, t, Fail, None));
                    batch.push(ping(&key, t + 1, Success, None));
                }
                3 => {
                    batch.push(ping(&key, t, Success, None));
                    batch.push(ping(&key, t + 2, Start, Some(RID_A)));
                }
                _ => {
                    batch.push(ping(&key, t, Start, None));
                    batch.push(ping(&key, t + 1, Fail, None));
                    batch.push(ping(&key, t + 2, Log, None));
                }
            }
        }
        store.record_pings(&batch).await.unwrap();
        let keys: Vec<String> = (0..200)
            .map(|i| format!("job-{i}"))
            .chain(["never-pinged".to_owned()])
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let all = store.heartbeat_instants(&refs).await.unwrap();
        assert_eq!(all.len(), keys.len());
        for key in &keys {
            let got = all[key];
            let success = store.last_success(key).await.unwrap().map(|p| p.at);
            let failure = store
                .last_outcome(key)
                .await
                .unwrap()
                .filter(|p| p.kind == Fail)
                .map(|p| p.at);
            let start = store.open_start(key).await.unwrap().map(|p| p.at);
            assert_eq!(
                (got.last_success, got.last_failure, got.open_start),
                (success, failure, start),
                "{key}"
            );
        }
        // The histories differ: the answer is not a constant.
        assert_eq!(all["job-1"].last_failure, Some(ms(11)));
        assert_eq!(all["job-2"].last_failure, None);
        assert_eq!(all["job-3"].open_start, Some(ms(32)));
        assert_eq!(all["job-4"].open_start, None);
        assert_eq!(all["never-pinged"], Default::default());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn first_seen_records_each_id_once_whatever_the_batch() {
    for db in databases("first_seen_records_each_id_once").await {
        let store = db.store().await;
        // 300 ids: more than one statement's worth. The first 100 are seen at 1 s; then all
        // 300 (one twice) at 2 s; then all again at 3 s.
        let ids: Vec<String> = (0..300).map(|i| format!("monitor-{i}")).collect();
        let first = store.first_seen(&ids[..100], ms(1_000)).await.unwrap();
        assert_eq!(first.len(), 100);
        assert!(first.values().all(|at| *at == ms(1_000)));

        let mut again: Vec<String> = ids.clone();
        again.push(ids[150].clone());
        let all = store.first_seen(&again, ms(2_000)).await.unwrap();
        assert_eq!(all.len(), 300);
        for (i, id) in ids.iter().enumerate() {
            let expected = if i < 100 { ms(1_000) } else { ms(2_000) };
            assert_eq!(all[id], expected, "{id}");
        }
        assert_eq!(store.first_seen(&ids, ms(3_000)).await.unwrap(), all);
        assert_eq!(
            store
                .first_seen(&[ids[299].clone()], ms(4_000))
                .await
                .unwrap()[&ids[299]],
            ms(2_000)
        );
        store.close().await;
        db.cleanup().await;
    }
}
