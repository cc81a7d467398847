//! The response time per location (`service::latency::by_location`) over stored results on
//! SQLite and PostgreSQL: the locations' hour rollups outlive a `monitoring.retention` shorter
//! than a day.

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
