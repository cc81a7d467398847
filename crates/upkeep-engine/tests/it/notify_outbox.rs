//! The outbox end to end against SQLite and PostgreSQL, with real HTTP receivers: incident
//! notices reach a webhook subscriber through 500s, dropped connections and timeouts, each
//! exactly once and in order, under one delivery id per delivery; operator alerts routed by
//! severity to PagerDuty and Slack, held back during maintenance and sent when it ends,
//! repeated until acknowledged; reminders sent once at the shortest due lead; two workers never
//! claim the same delivery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::receiver;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use receiver::{Answer, Receiver};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::config::{Config, parse};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_domain::notify::DeliveryState;
use upkeep_domain::notify::routing::Scope;
use upkeep_domain::notify::signature;
use upkeep_engine::clock::{ManualClock, SharedClock};
use upkeep_engine::config::{ConfigSource, LoadedConfig};
use upkeep_engine::notify::send::Senders;
use upkeep_engine::notify::{
    ALERT_CURSOR, DeliverySettings, deliver_once, fan_out_once, follow_alerts_once, timers_once,
};
use upkeep_store::Store;
use upkeep_store::incidents::{IncidentChange, NewIncident};
use upkeep_store::maintenance::NewMaintenance;
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::outbox::NewDelivery;
use upkeep_store::testing::{OpenEventWrite, databases};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn config(hooks: &str) -> Config {
    let text = format!(
        r#"
page: {{ name: Acme Cloud, url: "https://status.example", timezone: Europe/Rome }}
components:
  api: {{ name: Public API }}
  db: {{ name: Database }}
monitors:
  api-health: {{ component: api, tcp: {{ address: "127.0.0.1:9" }} }}
  db-port: {{ component: db, tcp: {{ address: "127.0.0.1:9" }}, severity: warning }}
notifications:
  renotify_every: 1h
  channels:
    pager: {{ pagerduty: {{ routing_key: R0UT1NG, url: "{hooks}/pd" }} }}
    chat: {{ slack: {{ url: "{hooks}/slack" }} }}
  routes:
    - {{ severity: critical, channels: [pager, chat] }}
    - {{ severity: warning, channels: [chat] }}
"#
    );
    let mut cfg = parse("t.yaml", &text, &|_| None, t("2026-03-20T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}", e.0));
    cfg.notifications.retry.initial = Duration::from_millis(20);
    cfg.notifications.retry.max_interval = Duration::from_millis(100);
    cfg.notifications.delivery_timeout = Duration::from_millis(300);
    cfg
}

fn loaded(config: Config) -> Arc<LoadedConfig> {
    Arc::new(LoadedConfig {
        config,
        source: ConfigSource::EmbeddedDemo,
        digest: String::new(),
        loaded_at: Timestamp::UNIX_EPOCH,
    })
}

fn settings(worker: &str) -> DeliverySettings {
    DeliverySettings {
        worker: worker.into(),
        batch: 16,
    }
}

/// Fans out and delivers until the outbox is empty (the clock follows real time, so retries
/// come due).
async fn drain(store: &Store, cfg: &Arc<LoadedConfig>, clock: &ManualClock, limit: Duration) {
    let senders = Senders::new(None, Duration::from_millis(300)).unwrap();
    let shared: SharedClock = Arc::new(clock.clone());
    let deadline = std::time::Instant::now() + limit;
    loop {
        fan_out_once(store, &cfg.config, shared.now())
            .await
            .unwrap();
        deliver_once(store, cfg, &senders, &settings("w1"), &shared)
            .await
            .unwrap();
        let stats = store.outbox_stats().await.unwrap();
        if stats.pending == 0 && stats.unfanned == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "outbox not drained: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        clock.advance(SignedDuration::from_millis(40));
    }
}

fn api_down() -> Vec<AffectedComponent> {
    vec![AffectedComponent {
        id: "api".into(),
        status: ComponentStatus::MajorOutage,
    }]
}

#[tokio::test]
async fn incident_notices_survive_a_flaky_receiver_once_each_and_in_order() {
    for db in databases("notify_flaky_receiver").await {
        let store = db.store().await;
        // 500, closed connection, no answer, then 200 — over and over.
        let rx = Receiver::start(|n, _| match n % 4 {
            0 => Answer::Status(500),
            1 => Answer::Close,
            2 => Answer::Hang,
            _ => Answer::Status(200),
        })
        .await;
        let cfg = loaded(config("http://127.0.0.1:9"));
        let now = t("2026-05-01T10:00:00Z");
        let clock = ManualClock::new(now);
        let hook = format!("{}/subscriber", rx.url);
        store
            .create_webhook_subscriber(&hook, Some("s3cret"), &Scope::default(), "admin", now)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..10 {
            let new = NewIncident {
                title: format!("API errors {i}"),
                status: IncidentStatus::Investigating,
                impact: None,
                body: "Looking into it".into(),
                components: api_down(),
                started_at: None,
                auto: false,
            };
            let incident = store.create_incident(&new, "ops", now).await.unwrap();
            let change = IncidentChange {
                status: Some(IncidentStatus::Resolved),
                body: Some("Fixed".into()),
                components: Vec::new(),
            };
            store
                .add_incident_update(&incident.id, &change, "ops", now)
                .await
                .unwrap();
            ids.push(incident.id);
        }
        drain(&store, &cfg, &clock, Duration::from_secs(120)).await;

        let sent = store
            .list_deliveries(Some(DeliveryState::Sent), 1000)
            .await
            .unwrap();
        assert_eq!(sent.len(), 20, "one delivery per notice");
        // Paged by key, newest first, the same twenty in the same order.
        let mut paged = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let page = store
                .deliveries_before(Some(DeliveryState::Sent), before.as_deref(), 7)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.id.clone());
            paged.extend(page.into_iter().map(|d| d.id));
        }
        let all: Vec<&str> = sent.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(paged, all);
        let any_state = store.deliveries_before(None, None, 1000).await.unwrap();
        assert_eq!(any_state.len(), 20);
        let accepted = rx.accepted();
        let accepted_ids: Vec<String> = accepted
            .iter()
            .map(|r| r.header("upkeep-delivery").unwrap().to_owned())
            .collect();
        let unique: HashSet<&String> = accepted_ids.iter().collect();
        assert_eq!(
            unique.len(),
            accepted_ids.len(),
            "a delivery accepted twice"
        );
        let stored: HashSet<String> = sent.iter().map(|d| d.id.clone()).collect();
        assert_eq!(unique.into_iter().cloned().collect::<HashSet<_>>(), stored);
        // Failures happened, and every attempt of one delivery carried the same id and body.
        let all = rx.all();
        assert!(all.len() > accepted.len() * 2, "{} attempts", all.len());
        let mut bodies: HashMap<String, Vec<u8>> = HashMap::new();
        for r in &all {
            let id = r.header("upkeep-delivery").unwrap().to_owned();
            let body = bodies.entry(id).or_insert_with(|| r.body.clone());
            assert_eq!(body, &r.body, "a retry changed the body");
        }
        // Every accepted body is signed with the subscriber's secret and names its delivery.
        for r in &accepted {
            let sig = r.header("upkeep-signature").unwrap();
            let ts: i64 = sig[2..sig.find(',').unwrap()].parse().unwrap();
            signature::verify(b"s3cret", sig, &r.body, ts, 0).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["id"], r.header("upkeep-delivery").unwrap());
        }
        // Per incident, "opened" arrived before "resolved".
        for id in &ids {
            let order: Vec<String> = accepted
                .iter()
                .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap())
                .filter(|v| v["data"]["id"] == id.as_str())
                .map(|v| v["event"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                order,
                ["incident.opened", "incident.resolved"],
                "incident {id}"
            );
        }
        db.cleanup().await;
    }
}

/// Follows the operator events until every committed one is read, and returns how many were.
/// On PostgreSQL an event is read once every transaction that began writing before it has
/// ended, and the tests running beside this one share the server, so this may take a moment.
async fn follow(store: &Store, config: &Config, now: Timestamp) -> usize {
    let mut read = 0;
    for _ in 0..500 {
        read += follow_alerts_once(store, config, now).await.unwrap();
        let events = store.list_monitor_events(None, 10_000).await.unwrap();
        let last = events.iter().map(|e| e.id).max().unwrap_or(0);
        let cursor = store.cursor(ALERT_CURSOR).await.unwrap();
        if cursor.map_or(0, |c| c.id) >= last {
            return read;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the alert follower did not catch up with the event log");
}

async fn monitor_event(store: &Store, id: &str, from: &str, to: &str, at: Timestamp) {
    store
        .record_monitor_events(&[MonitorEvent {
            source: EventSource::parse(id).unwrap(),
            at,
            from: EventState::parse(from).unwrap(),
            to: EventState::parse(to).unwrap(),
            reason: "connection refused".into(),
        }])
        .await
        .unwrap();
}

/// The (path, JSON body) pairs the receiver accepted since `skip`.
/// An emergency maintenance of `api` (no subscriber notices) created at `created` and in
/// progress from `start`.
async fn api_maintenance_in_progress(
    store: &Store,
    title: &str,
    reason: &str,
    created: Timestamp,
    start: Timestamp,
    end: Timestamp,
) -> String {
    let mut m = NewMaintenance::new(Kind::Emergency, title, start, end);
    m.components = vec!["api".into()];
    m.reason = Some(reason.into());
    m.notify_subscribers = false;
    let m = store
        .create_maintenance(&m, "ops", created, None)
        .await
        .unwrap();
    store
        .transition_maintenance(
            &m.id,
            MaintenanceStatus::Scheduled,
            MaintenanceStatus::InProgress,
            "system:maintenance",
            start,
        )
        .await
        .unwrap();
    m.id
}

async fn complete_maintenance(store: &Store, id: &str, at: Timestamp) {
    store
        .transition_maintenance(
            id,
            MaintenanceStatus::InProgress,
            MaintenanceStatus::Completed,
            "system:maintenance",
            at,
        )
        .await
        .unwrap();
}

fn bodies(rx: &Receiver, skip: usize) -> Vec<(String, serde_json::Value)> {
    rx.accepted()
        .into_iter()
        .skip(skip)
        .map(|r| (r.path.clone(), serde_json::from_slice(&r.body).unwrap()))
        .collect()
}

#[tokio::test]
async fn alerts_are_routed_held_back_during_maintenance_and_repeated_until_acknowledged() {
    for db in databases("notify_alert_routing").await {
        let store = db.store().await;
        let rx = Receiver::start(|_, _| Answer::Status(202)).await;
        let cfg = loaded(config(&rx.url));
        let start = t("2026-05-01T10:00:00Z");
        let clock = ManualClock::new(start);
        // The follower starts at the present: events before its first look are history.
        follow(&store, &cfg.config, start).await;

        // A critical monitor goes down: PagerDuty trigger + Slack.
        let at = start + SignedDuration::from_secs(1);
        clock.set(at);
        monitor_event(&store, "api-health", "up", "down", at).await;
        follow(&store, &cfg.config, at).await;
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, 0);
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths.len(), 2, "{paths:?}");
        assert!(
            paths.contains(&"/pd") && paths.contains(&"/slack"),
            "{paths:?}"
        );
        let pd = &got.iter().find(|(p, _)| p == "/pd").unwrap().1;
        assert_eq!(pd["event_action"], "trigger");
        assert_eq!(pd["routing_key"], "R0UT1NG");
        assert_eq!(pd["dedup_key"], "upkeep/monitor:api-health");
        assert_eq!(pd["payload"]["severity"], "critical");

        // A warning monitor: Slack only.
        let seen = rx.accepted().len();
        monitor_event(&store, "db-port", "up", "down", at).await;
        follow(&store, &cfg.config, at).await;
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, seen);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "/slack");
        monitor_event(&store, "db-port", "down", "up", at).await;
        follow(&store, &cfg.config, at).await;
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;

        // Still firing an hour later: one quiet repeat; acknowledged: PagerDuty acknowledge and
        // no more repeats.
        let later = at + SignedDuration::from_secs(3601);
        clock.set(later);
        let seen = rx.accepted().len();
        timers_once(&store, &cfg.config, later).await.unwrap();
        timers_once(&store, &cfg.config, later).await.unwrap();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, seen);
        assert_eq!(got.len(), 2, "one repeat to each channel: {got:?}");
        store
            .acknowledge_alert("monitor:api-health", "ops", later)
            .await
            .unwrap()
            .unwrap();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, seen + 2);
        let pd = &got.iter().find(|(p, _)| p == "/pd").unwrap().1;
        assert_eq!(pd["event_action"], "acknowledge");
        assert_eq!(pd["dedup_key"], "upkeep/monitor:api-health");
        let seen = rx.accepted().len();
        let much_later = later + SignedDuration::from_secs(5 * 3600);
        clock.set(much_later);
        timers_once(&store, &cfg.config, much_later).await.unwrap();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        assert_eq!(
            rx.accepted().len(),
            seen,
            "an acknowledged alert was repeated"
        );

        // Recovery: PagerDuty resolve under the same dedup key.
        monitor_event(&store, "api-health", "down", "up", much_later).await;
        follow(&store, &cfg.config, much_later).await;
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, seen);
        let pd = &got.iter().find(|(p, _)| p == "/pd").unwrap().1;
        assert_eq!(pd["event_action"], "resolve");
        assert_eq!(pd["dedup_key"], "upkeep/monitor:api-health");

        // During a maintenance of `api`, a failure is recorded but nobody is paged; when the
        // window ends and it still fails, it pages at once.
        let w_start = much_later + SignedDuration::from_secs(60);
        let w_end = w_start + SignedDuration::from_secs(3600);
        let m = api_maintenance_in_progress(
            &store,
            "Database upgrade",
            "CVE-2026-0001",
            much_later,
            w_start,
            w_end,
        )
        .await;
        let during = w_start + SignedDuration::from_secs(60);
        clock.set(during);
        let seen = rx.accepted().len();
        monitor_event(&store, "api-health", "up", "down", during).await;
        follow(&store, &cfg.config, during).await;
        timers_once(&store, &cfg.config, during).await.unwrap();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        assert_eq!(rx.accepted().len(), seen, "paged during a maintenance");
        let held = store.alert_states().await.unwrap();
        assert!(
            held.iter()
                .any(|a| a.key == "monitor:api-health" && !a.notified)
        );
        complete_maintenance(&store, &m, w_end).await;
        clock.set(w_end);
        timers_once(&store, &cfg.config, w_end).await.unwrap();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, seen);
        let pd = &got.iter().find(|(p, _)| p == "/pd").unwrap().1;
        assert_eq!(pd["event_action"], "trigger", "{got:?}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reminders_go_out_once_at_the_shortest_due_lead() {
    for db in databases("notify_reminders").await {
        let store = db.store().await;
        let cfg = config("http://127.0.0.1:9");
        let now = t("2026-06-01T08:00:00Z");
        let starts = now + SignedDuration::from_hours(80);
        let mut m = NewMaintenance::new(
            Kind::Planned,
            "Monthly",
            starts,
            starts + SignedDuration::from_hours(4),
        );
        m.components = vec!["db".into()];
        let m = store
            .create_maintenance(&m, "ops", now, None)
            .await
            .unwrap();
        let reminders = |keys: Vec<String>| -> Vec<String> {
            keys.into_iter()
                .filter(|k| k.contains(":reminder:"))
                .collect()
        };
        let pending = |store: Store| async move {
            let notices = store.unfanned_notices(1000).await.unwrap();
            notices.into_iter().map(|n| n.dedup_key).collect::<Vec<_>>()
        };
        // Not yet due.
        timers_once(&store, &cfg, now).await.unwrap();
        assert!(reminders(pending(store.clone()).await).is_empty());
        // 72 h before: the 72 h reminder, once however often the timers run.
        let t72 = starts - SignedDuration::from_hours(72);
        for _ in 0..3 {
            timers_once(&store, &cfg, t72).await.unwrap();
        }
        let keys = reminders(pending(store.clone()).await);
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(
            keys[0].contains(&format!("{}:reminder:259200:", m.id)),
            "{keys:?}"
        );
        // 30 min before (upkeep was down at the 1 h mark): the 1 h reminder, not the 72 h again.
        let late = starts - SignedDuration::from_mins(30);
        timers_once(&store, &cfg, late).await.unwrap();
        timers_once(&store, &cfg, late).await.unwrap();
        let keys = reminders(pending(store.clone()).await);
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert!(keys[1].contains(":reminder:3600:"), "{keys:?}");
        // After the start: nothing more.
        timers_once(&store, &cfg, starts + SignedDuration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(reminders(pending(store.clone()).await).len(), 2);

        // Postponed by an hour after its 1 h reminder: no "72 h" reminder for the new start,
        // only a new 1 h one.
        let moved = starts + SignedDuration::from_hours(1);
        let edit = upkeep_store::maintenance::MaintenanceEdit {
            starts_at: Some(moved),
            ends_at: Some(moved + SignedDuration::from_hours(4)),
            ..Default::default()
        };
        let at = starts - SignedDuration::from_mins(20);
        // (Reset: the maintenance had not started; move it from before its start.)
        store
            .reschedule_maintenance(&m.id, &edit, "ops", at)
            .await
            .unwrap()
            .unwrap();
        timers_once(&store, &cfg, at + SignedDuration::from_mins(1))
            .await
            .unwrap();
        let keys = reminders(pending(store.clone()).await);
        assert_eq!(keys.len(), 2, "no reminder right after the move: {keys:?}");
        timers_once(&store, &cfg, moved - SignedDuration::from_mins(59))
            .await
            .unwrap();
        let keys = reminders(pending(store.clone()).await);
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(keys[2].contains(":reminder:3600:"), "{keys:?}");

        // A maintenance announced 2 h ahead gets no "72 h" reminder, only the 1 h one.
        let now2 = t("2026-07-01T08:00:00Z");
        let s2 = now2 + SignedDuration::from_hours(2);
        let mut e = NewMaintenance::new(
            Kind::Emergency,
            "Patch",
            s2,
            s2 + SignedDuration::from_hours(1),
        );
        e.reason = Some("CVE".into());
        let e = store
            .create_maintenance(&e, "ops", now2, None)
            .await
            .unwrap();
        timers_once(&store, &cfg, now2 + SignedDuration::from_mins(5))
            .await
            .unwrap();
        let keys: Vec<String> = reminders(pending(store.clone()).await)
            .into_iter()
            .filter(|k| k.contains(&e.id))
            .collect();
        assert!(keys.is_empty(), "{keys:?}");
        timers_once(&store, &cfg, s2 - SignedDuration::from_mins(59))
            .await
            .unwrap();
        let keys: Vec<String> = reminders(pending(store.clone()).await)
            .into_iter()
            .filter(|k| k.contains(&e.id))
            .collect();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].contains(":reminder:3600:"));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_workers_never_claim_the_same_delivery() {
    for db in databases("notify_claims").await {
        let store = db.store().await;
        let now = t("2026-05-01T10:00:00Z");
        for i in 0..200 {
            let d = NewDelivery {
                id: upkeep_store::outbox::new_delivery_id(),
                recipient: format!("subscriber:s{i}"),
                channel: "webhook".into(),
                destination: "http://127.0.0.1:9/".into(),
                order_key: format!("k{i}"),
                subject: "test".into(),
                content: "{}".into(),
            };
            store.enqueue_delivery("test", &d, now).await.unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_deliveries(&format!("w{w}"), now, 60_000, 7)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|d| d.id));
                }
            }));
        }
        let mut seen = HashSet::new();
        let mut total = 0;
        for t in tasks {
            for id in t.await.unwrap() {
                total += 1;
                assert!(seen.insert(id), "claimed twice");
            }
        }
        assert_eq!(total, 200);
        // A claim that expired (its worker died) is taken again, counted as a new attempt.
        let later = now + SignedDuration::from_secs(61);
        let again = store
            .claim_deliveries("w9", later, 60_000, 500)
            .await
            .unwrap();
        assert_eq!(again.len(), 200);
        assert!(again.iter().all(|d| d.attempts == 2));
        db.cleanup().await;
    }
}

/// Two writers commit out of id order: the event with the lower id is still in flight when the
/// later one commits. The follower reads neither until both are settled, then both, once each,
/// in order; nothing is skipped and nothing read twice.
#[tokio::test]
async fn the_alert_follower_skips_nothing_when_writers_commit_out_of_order() {
    for db in databases("notify_alert_out_of_order").await {
        let store = db.store().await;
        let cfg = config("http://127.0.0.1:9");
        let start = t("2026-05-01T10:00:00Z");
        follow(&store, &cfg, start).await;
        let at = start + SignedDuration::from_secs(10);
        let event = |id: &str| MonitorEvent {
            source: EventSource::Monitor(id.into()),
            at,
            from: EventState::Up,
            to: EventState::Down,
            reason: "connection refused".into(),
        };
        let mut read = 0;
        // Writer A begins and writes its event (the lower id) but does not commit yet.
        let open = OpenEventWrite::begin(&store, &[event("api-health")]).await;
        // Writer B writes and commits.
        monitor_event(&store, "db-port", "up", "down", at).await;
        if let Some(open) = open {
            for _ in 0..3 {
                assert_eq!(
                    follow_alerts_once(&store, &cfg, at).await.unwrap(),
                    0,
                    "read past an event still in flight"
                );
            }
            assert!(store.alert_states().await.unwrap().is_empty());
            open.commit().await;
        } else {
            // SQLite serialises writers: A commits before B.
            read += follow(&store, &cfg, at).await;
            monitor_event(&store, "api-health", "up", "down", at).await;
        }
        read += follow(&store, &cfg, at).await;
        assert_eq!(read, 2, "both events read");
        assert_eq!(
            follow_alerts_once(&store, &cfg, at).await.unwrap(),
            0,
            "nothing read twice"
        );
        let mut keys: Vec<String> = store
            .alert_states()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.key)
            .collect();
        keys.sort();
        assert_eq!(keys, ["monitor:api-health", "monitor:db-port"]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn removed_sources_resolve_and_gone_subscribers_get_nothing() {
    for db in databases("notify_removed").await {
        let store = db.store().await;
        let rx = Receiver::start(|_, _| Answer::Status(202)).await;
        let cfg = loaded(config(&rx.url));
        let start = t("2026-05-01T10:00:00Z");
        let clock = ManualClock::new(start);
        follow(&store, &cfg.config, start).await;
        monitor_event(&store, "api-health", "up", "down", start).await;
        follow(&store, &cfg.config, start).await;
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        let seen = rx.accepted().len();
        assert_eq!(seen, 2);

        // The monitor leaves the configuration while down: its alert resolves (PagerDuty too)
        // instead of repeating forever.
        let mut without = cfg.config.clone();
        without.monitors.remove("api-health");
        let without = loaded(without);
        timers_once(&store, &without.config, start).await.unwrap();
        assert!(store.alert_states().await.unwrap().is_empty());
        drain(&store, &without, &clock, Duration::from_secs(20)).await;
        let got = bodies(&rx, seen);
        let pd = &got.iter().find(|(p, _)| p == "/pd").unwrap().1;
        assert_eq!(pd["event_action"], "resolve");

        // A subscriber who unsubscribes after a delivery was made for them gets nothing.
        let hook = format!("{}/subscriber", rx.url);
        let sub = store
            .create_webhook_subscriber(&hook, None, &Scope::default(), "admin", start)
            .await
            .unwrap();
        let new = NewIncident {
            title: "Slow".into(),
            status: IncidentStatus::Investigating,
            impact: None,
            body: String::new(),
            components: api_down(),
            started_at: None,
            auto: false,
        };
        store.create_incident(&new, "ops", start).await.unwrap();
        fan_out_once(&store, &cfg.config, start).await.unwrap();
        assert_eq!(store.outbox_stats().await.unwrap().pending, 1);
        // Unsubscribed; then a fan-out that read the subscribers before that makes a delivery.
        store
            .delete_subscriber(&sub.id, "admin", start)
            .await
            .unwrap();
        store.create_incident(&new, "ops", start).await.unwrap();
        let ctx_subs = vec![sub.clone()];
        let key = upkeep_engine::notify::links::link_key(&store)
            .await
            .unwrap();
        let notices = store.unfanned_notices(10).await.unwrap();
        let ctx = upkeep_engine::notify::FanOutContext {
            config: &cfg.config,
            link_key: &key,
            subscribers: &ctx_subs,
        };
        let deliveries = upkeep_engine::notify::deliveries_for(&ctx, &notices[0]);
        store
            .fan_out(notices[0].id, "incident.opened", &deliveries, true, start)
            .await
            .unwrap();
        let before = rx.all().len();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        assert_eq!(
            rx.all().len(),
            before,
            "a delivery went to a gone subscriber"
        );
        assert!(
            store
                .list_deliveries(Some(DeliveryState::Pending), 10)
                .await
                .unwrap()
                .is_empty()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_failed_delivery_is_not_retried_after_a_later_one_was_sent() {
    for db in databases("notify_retry_order").await {
        let store = db.store().await;
        let now = t("2026-05-01T10:00:00Z");
        let make = |order: &str| NewDelivery {
            id: upkeep_store::outbox::new_delivery_id(),
            recipient: "channel:pager".into(),
            channel: "pagerduty".into(),
            destination: "http://127.0.0.1:9/pd".into(),
            order_key: order.into(),
            subject: "alert/x".into(),
            content: "{}".into(),
        };
        let (first, second) = (make("pd:alert/x"), make("pd:alert/x"));
        store
            .enqueue_delivery("alert.firing", &first, now)
            .await
            .unwrap();
        store
            .enqueue_delivery("alert.resolved", &second, now)
            .await
            .unwrap();
        let got = store.claim_deliveries("w", now, 60_000, 10).await.unwrap();
        assert_eq!(got.len(), 1, "one at a time per order key");
        assert!(
            store
                .mark_attempt_failed(&first.id, "w", "400", None)
                .await
                .unwrap()
        );
        let got = store.claim_deliveries("w", now, 60_000, 10).await.unwrap();
        assert_eq!(got[0].id, second.id);
        // While the resolve is in flight, the failed trigger cannot be retried, and nothing
        // else of that destination is claimed.
        let outcome = store.retry_delivery(&first.id, "ops", now).await.unwrap();
        assert_eq!(outcome, upkeep_store::outbox::RetryOutcome::Overtaken);
        assert!(
            store
                .claim_deliveries("w2", now, 60_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.mark_sent(&second.id, "w", now).await.unwrap());
        let outcome = store.retry_delivery(&first.id, "ops", now).await.unwrap();
        assert_eq!(outcome, upkeep_store::outbox::RetryOutcome::Overtaken);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn monitors_already_down_when_notifications_start_are_alerted() {
    for db in databases("notify_first_run").await {
        let store = db.store().await;
        let cfg = config("http://127.0.0.1:9");
        let now = t("2026-05-01T10:00:00Z");
        let row = |id: &str, status: &str| upkeep_store::monitoring::MonitorStateRow {
            monitor_id: id.into(),
            status: MonitorStatus::parse(status).unwrap(),
            consecutive_failures: 3,
            consecutive_successes: 0,
            changed_at: now - SignedDuration::from_mins(5),
            last_check_at: Some(now),
            paused: false,
        };
        store
            .save_monitor_states(&[row("api-health", "down"), row("db-port", "up")])
            .await
            .unwrap();
        follow(&store, &cfg, now).await;
        let alerts = store.alert_states().await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].key, "monitor:api-health");
        assert!(alerts[0].notified);
        // Only once: a second look changes nothing.
        follow(&store, &cfg, now).await;
        let notices = store.unfanned_notices(10).await.unwrap();
        assert_eq!(notices.len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn many_subscribers_are_fanned_out_in_chunks_and_a_cut_fan_out_resumes() {
    for db in databases("notify_fan_out_chunks").await {
        let store = db.store().await;
        let cfg = config("http://127.0.0.1:9");
        let now = t("2026-05-01T10:00:00Z");
        for i in 0..1_100 {
            let url = format!("http://127.0.0.1:9/hook/{i}");
            store
                .create_webhook_subscriber(&url, None, &Scope::default(), "admin", now)
                .await
                .unwrap();
        }
        let new = NewIncident {
            title: "Everything is down".into(),
            status: IncidentStatus::Investigating,
            impact: None,
            body: String::new(),
            components: api_down(),
            started_at: None,
            auto: false,
        };
        store.create_incident(&new, "ops", now).await.unwrap();
        // A fan-out cut after its first chunk (the process died): the notice is still waiting.
        let notices = store.unfanned_notices(10).await.unwrap();
        let subscribers = store.list_subscribers(true, 100).await.unwrap();
        let key = upkeep_engine::notify::links::link_key(&store)
            .await
            .unwrap();
        let ctx = upkeep_engine::notify::FanOutContext {
            config: &cfg,
            link_key: &key,
            subscribers: &subscribers,
        };
        let first = upkeep_engine::notify::deliveries_for(&ctx, &notices[0]);
        assert_eq!(first.len(), 100);
        store
            .fan_out(notices[0].id, "incident.opened", &first, false, now)
            .await
            .unwrap();
        assert_eq!(store.unfanned_notices(10).await.unwrap().len(), 1);
        // Resumed: every subscriber once, the first hundred keep their delivery ids.
        fan_out_once(&store, &cfg, now).await.unwrap();
        assert!(store.unfanned_notices(10).await.unwrap().is_empty());
        let all = store
            .list_deliveries(Some(DeliveryState::Pending), 5_000)
            .await
            .unwrap();
        assert_eq!(all.len(), 1_100);
        let recipients: HashSet<&str> = all.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(recipients.len(), 1_100);
        let ids: HashSet<&str> = all.iter().map(|d| d.id.as_str()).collect();
        assert!(first.iter().all(|d| ids.contains(d.id.as_str())));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_alert_acknowledged_during_its_maintenance_does_not_page_when_the_window_ends() {
    for db in databases("notify_ack_held").await {
        let store = db.store().await;
        let rx = Receiver::start(|_, _| Answer::Status(202)).await;
        let cfg = loaded(config(&rx.url));
        let start = t("2026-05-01T10:00:00Z");
        let clock = ManualClock::new(start);
        follow(&store, &cfg.config, start).await;
        let end = start + SignedDuration::from_hours(1);
        let m = api_maintenance_in_progress(&store, "Failover", "CVE", start, start, end).await;
        let during = start + SignedDuration::from_mins(5);
        monitor_event(&store, "api-health", "up", "down", during).await;
        follow(&store, &cfg.config, during).await;
        store
            .acknowledge_alert("monitor:api-health", "ops", during)
            .await
            .unwrap()
            .unwrap();
        complete_maintenance(&store, &m, end).await;
        clock.set(end);
        timers_once(&store, &cfg.config, end).await.unwrap();
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        assert!(rx.all().is_empty(), "paged for an acknowledged alert");
        let alert = store
            .alert_state("monitor:api-health")
            .await
            .unwrap()
            .unwrap();
        assert!(!alert.notified && alert.acknowledged_at.is_some());
        // Nor when it recovers.
        let later = end + SignedDuration::from_mins(5);
        monitor_event(&store, "api-health", "down", "up", later).await;
        follow(&store, &cfg.config, later).await;
        drain(&store, &cfg, &clock, Duration::from_secs(20)).await;
        assert!(
            rx.all().is_empty(),
            "a resolved notice for an alert never sent"
        );
        db.cleanup().await;
    }
}
