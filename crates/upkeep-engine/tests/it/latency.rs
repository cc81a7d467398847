//! The response time per location (`service::latency::by_location`) over stored results on
//! SQLite and PostgreSQL: monitors probed from several locations read each location's hour
//! rollups; monitors probed from the server alone read their own rollups (one monitor alone,
//! or many at once: two different reads, the same figures); push monitors have none. And the
//! locations' hour rollups outlive a `monitoring.retention` shorter than a day.

use std::collections::HashMap;

use jiff::Timestamp;
use upkeep_domain::config::{Config, Monitor};
use upkeep_domain::rollups::RollupTotals;
use upkeep_engine::monitoring::scheduler;
use upkeep_engine::service::latency::{LocationLatency, by_location};
use upkeep_store::monitoring::CheckResult;
use upkeep_store::testing::databases;

/// 2026-03-01T00:00:00Z, a UTC midnight.
const BASE_MS: i64 = 1_772_323_200_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(BASE_MS + ms).unwrap()
}

fn config(extra: &str) -> Config {
    let text = format!(
        "page: {{ name: T, url: 'http://127.0.0.1:8080', timezone: UTC }}\n{extra}\
         components: {{ web: {{ name: Web }} }}\n\
         monitors:\n  \
         api: {{ component: web, http: {{ url: 'http://127.0.0.1:9/api' }} }}\n  \
         db: {{ component: web, tcp: {{ address: '127.0.0.1:9' }} }}\n  \
         jobs: {{ component: web, push: {{ key: h5xag8y2d8zrji7kv6tsxjjskx9kuhvr, period: 5m, grace: 2m }} }}\n  \
         edge: {{ component: web, http: {{ url: 'http://127.0.0.1:9/edge' }}, locations: [server, eu-1] }}\n"
    );
    upkeep_domain::config::parse("t.yaml", &text, &|_| None, Timestamp::now())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// A check of `monitor` at `at_ms` from `location` (`None`: what the monitor was judged on).
fn check(
    monitor: &str,
    at_ms: i64,
    ok: bool,
    latency_ms: u32,
    location: Option<&str>,
) -> CheckResult {
    CheckResult {
        monitor_id: monitor.into(),
        at: ts(at_ms),
        ok,
        latency_ms,
        status_code: ok.then_some(200),
        failure: (!ok).then(|| "connection refused".to_owned()),
        location: location.map(str::to_owned),
        // Time down belongs to the monitor: a location's figures never carry it.
        down_ms: if ok { 0 } else { 60_000 },
    }
}

/// Monitor `id` of `config`, as `by_location` takes it.
fn named<'a>(config: &'a Config, id: &'a str) -> (&'a str, &'a Monitor) {
    (id, config.monitors.get(id).unwrap())
}

fn totals(checks: u64, failures: u64, latency_sum_ms: u64, latency_max_ms: u32) -> RollupTotals {
    RollupTotals {
        checks,
        failures,
        latency_sum_ms,
        latency_max_ms,
        down_ms: 0,
    }
}

fn at(location: &str, totals: RollupTotals) -> LocationLatency {
    LocationLatency {
        location: location.into(),
        totals,
    }
}

/// Each kind of monitor read alone and together, at 2026-03-02T12:20Z: the window is the
/// hours from 2026-03-01T13:00Z on (the hour it starts in, 12:00, is left out).
#[tokio::test]
async fn each_kind_of_monitor_has_its_own_exact_figures() {
    for db in databases("each_kind_of_monitor_has_its_own_exact_figures").await {
        let store = db.store().await;
        let config = config("");
        let now = ts(36 * HOUR + 20 * MINUTE);
        let day = 24 * HOUR;
        store
            .record_results(&[
                // api, from the server alone: one check in the hour the window starts in
                // (left out), then 40 ms and a 60 ms failure inside it.
                check("api", 12 * HOUR + 40 * MINUTE, true, 900, None),
                check("api", 13 * HOUR, true, 40, None),
                check("api", day + 12 * HOUR + 10 * MINUTE, false, 60, None),
                // db: only before the window.
                check("db", 11 * HOUR, true, 500, None),
                // jobs, a push monitor: stored checks, yet no latency.
                check("jobs", 20 * HOUR, true, 7, None),
                // edge, from two locations: eu-1 before the window (left out), then 80 ms
                // and a 120 ms failure; nothing from the server.
                check("edge", 12 * HOUR + 50 * MINUTE, true, 1_000, Some("eu-1")),
                check("edge", 13 * HOUR + 30 * MINUTE, true, 80, Some("eu-1")),
                check(
                    "edge",
                    day + 12 * HOUR + 5 * MINUTE,
                    false,
                    120,
                    Some("eu-1"),
                ),
            ])
            .await
            .unwrap();
        let monitor = |id| named(&config, id);
        let api = vec![at("server", totals(2, 1, 100, 60))];
        let db_none = vec![at("server", RollupTotals::default())];
        let edge = vec![
            at("server", RollupTotals::default()),
            at("eu-1", totals(2, 1, 200, 120)),
        ];

        // One monitor from the server alone: its own rollups, read for it alone.
        let alone = by_location(&store, &[monitor("api")], now).await.unwrap();
        assert_eq!(
            alone,
            HashMap::from([("api".to_owned(), api.clone())]),
            "{:?}",
            store.backend()
        );
        assert_eq!(alone["api"][0].mean_ms(), Some(50));
        assert_eq!(alone["api"][0].max_ms(), Some(60));

        // A push monitor alone: nothing.
        let push = by_location(&store, &[monitor("jobs")], now).await.unwrap();
        assert!(push.is_empty(), "{push:?}");

        // Every kind together: several monitors from the server alone are read at once, and
        // give the same figures; the push monitor is absent.
        let all = [
            monitor("api"),
            monitor("db"),
            monitor("jobs"),
            monitor("edge"),
        ];
        let together = by_location(&store, &all, now).await.unwrap();
        assert_eq!(
            together,
            HashMap::from([
                ("api".to_owned(), api),
                ("db".to_owned(), db_none),
                ("edge".to_owned(), edge),
            ]),
            "{:?}",
            store.backend()
        );
        assert_eq!(together["db"][0].mean_ms(), None);
        assert_eq!(together["edge"][1].mean_ms(), Some(100));
        db.cleanup().await;
    }
}

/// With `monitoring.retention: 2h`, a pruning pass at 2026-03-03T00:30Z keeps each
/// location's hour rollups of the last 25 hours (from 2026-03-01T23:00Z), so the day's
/// response time stays whole.
#[tokio::test]
async fn a_retention_shorter_than_a_day_keeps_the_locations_last_day() {
    for db in databases("a_retention_shorter_than_a_day_keeps_the_locations_last_day").await {
        let store = db.store().await;
        let config = config("monitoring: { retention: 2h }\n");
        let now = ts(48 * HOUR + 30 * MINUTE);
        // One 10 ms check from eu-1 five minutes into each of the last 30 hours.
        let results: Vec<CheckResult> = (0..30)
            .map(|k| {
                check(
                    "edge",
                    48 * HOUR - k * HOUR + 5 * MINUTE,
                    true,
                    10,
                    Some("eu-1"),
                )
            })
            .collect();
        store.record_results(&results).await.unwrap();

        scheduler::prune_once(&store, &config, now).await;

        // Hours that ended by 2026-03-01T23:30Z (now − 25 h) are gone; the 26 after stay.
        let kept = store
            .location_rollup_totals(&["edge"], ts(0), ts(3 * 24 * HOUR))
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(
            kept[0].totals,
            totals(26, 0, 260, 10),
            "{:?}",
            store.backend()
        );
        let day = by_location(&store, &[named(&config, "edge")], now)
            .await
            .unwrap();
        assert_eq!(
            day["edge"],
            [
                at("server", RollupTotals::default()),
                at("eu-1", totals(24, 0, 240, 10))
            ],
            "{:?}",
            store.backend()
        );
        db.cleanup().await;
    }
}
