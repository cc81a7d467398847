//! SLO burn-rate alerts against SQLite and PostgreSQL: an hour of outage on a 99.9 % SLO fires
//! the critical tier once (stored as an event, not repeated), and the alert clears once the
//! short window is clean again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::parse;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_engine::slo_alerts::check;
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::testing::databases;

const CONFIG: &str = r#"
page: { name: T, url: "https://status.example", timezone: UTC }
components:
  api: { name: API }
monitors:
  api-http: { component: api, http: { url: "http://127.0.0.1:9/" } }
slos:
  api: { objective: 99.9, window: calendar_month }
"#;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[tokio::test]
async fn an_hour_down_fires_the_critical_tier_once_and_clears() {
    let config = parse("t.yaml", CONFIG, &|_| None, t("2026-11-01T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}", e.0));
    for db in databases("an_hour_down_fires_the_critical_tier_once").await {
        let store = db.store().await;
        let event = |at: &str, from: EventState, to: EventState| MonitorEvent {
            source: EventSource::Monitor("api-http".into()),
            at: t(at),
            from,
            to,
            reason: "test".into(),
        };
        store
            .record_monitor_events(&[
                event("2026-11-20T00:00:00Z", EventState::Pending, EventState::Up),
                event("2026-11-22T09:00:00Z", EventState::Up, EventState::Down),
            ])
            .await
            .unwrap();
        let now = t("2026-11-22T10:00:00Z");
        // Not recording (a replica without the lease): nothing stored.
        assert!(check(&store, &config, now, false).await.unwrap().is_empty());
        let fired = check(&store, &config, now, true).await.unwrap();
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].source, EventSource::Slo("api".into()));
        assert_eq!(fired[0].to, EventState::Critical);
        assert!(fired[0].reason.contains("14.4×"), "{}", fired[0].reason);
        // The next pass changes nothing.
        let again = check(&store, &config, now + SignedDuration::from_mins(1), true)
            .await
            .unwrap();
        assert!(again.is_empty(), "{again:?}");
        // Recovered at 10:00; by 16:30 even the 6 h / 30 m tier is clean... but the 1 d / 2 h
        // ticket tier still sees the hour: 1 h in 24 h is 41.7× the 99.9 % budget rate, and the
        // 2 h short window is clean from 12:00, so at 16:30 nothing fires.
        store
            .record_monitor_events(&[event(
                "2026-11-22T10:00:00Z",
                EventState::Down,
                EventState::Up,
            )])
            .await
            .unwrap();
        let cleared = check(&store, &config, t("2026-11-22T16:30:00Z"), true)
            .await
            .unwrap();
        assert_eq!(cleared.len(), 1, "{cleared:?}");
        assert_eq!(cleared[0].from, EventState::Critical);
        assert_eq!(cleared[0].to, EventState::Ok);
    }
}
