//! Automatic incidents: monitor and rule transitions recorded through the store open, join and
//! resolve incidents; an operator's update stops the automatic resolution; a replica without
//! the lease does nothing; the cursor survives restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::incident::{Impact, IncidentStatus};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_engine::clock::{SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
use upkeep_engine::incidents::{AUTO_ACTOR, AutoIncidentSettings, CURSOR, run};
use upkeep_store::Store;
use upkeep_store::incidents::{IncidentChange, IncidentRecord};
use upkeep_store::monitoring::{MonitorEvent, MonitorStateRow};
use upkeep_store::testing::{OpenEventWrite, databases};

const CONFIG: &str = r#"
page:
  name: Test Cloud
  url: http://127.0.0.1:8080
  timezone: Europe/Rome
components:
  api: { name: Public API }
  web: { name: Website }
monitors:
  api-health:
    component: api
    tcp: { address: "127.0.0.1:9" }
  api-port:
    component: api
    tcp: { address: "127.0.0.1:9" }
  web-home:
    component: web
    tcp: { address: "127.0.0.1:9" }
rules:
  - name: HighCPUUsage
    scrape: "http://127.0.0.1:9/metrics"
    expr: cpu_usage > 80
    for: 5m
    severity: warning
    component: api
  - name: ChattyLogs
    scrape: "http://127.0.0.1:9/metrics"
    expr: log_lines > 80
    severity: info
    component: web
"#;

struct Follower {
    active: watch::Sender<bool>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

fn config() -> (ConfigHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    let loaded = load(&ConfigSource::File(path), Timestamp::now())
        .unwrap_or_else(|e| panic!("test config invalid: {:?}", e.lines()));
    (ConfigHandle::new(loaded), dir)
}

fn follow(store: &Store, config: &ConfigHandle, active: bool) -> Follower {
    let clock: SharedClock = Arc::new(SystemClock);
    let (tx, rx) = watch::channel(active);
    let stop = CancellationToken::new();
    let settings = AutoIncidentSettings {
        poll_every: Duration::from_millis(20),
        ..AutoIncidentSettings::default()
    };
    let task = tokio::spawn(run(
        store.clone(),
        config.subscribe(),
        clock,
        settings,
        rx,
        stop.clone(),
    ));
    Follower {
        active: tx,
        stop,
        task,
    }
}

/// Records a transition as the scheduler's writer does: the new state and its event in one
/// batch.
async fn transition(store: &Store, monitor: &str, from: &str, to: &str, at: Timestamp) {
    let source = EventSource::parse(monitor).unwrap();
    let state = MonitorStateRow {
        monitor_id: monitor.into(),
        status: MonitorStatus::parse(to).unwrap_or(MonitorStatus::Pending),
        consecutive_failures: u32::from(to == "down") * 3,
        consecutive_successes: u32::from(to == "up"),
        changed_at: at,
        last_check_at: Some(at),
        paused: false,
    };
    let event = MonitorEvent {
        at,
        from: EventState::parse(from).unwrap(),
        to: EventState::parse(to).unwrap(),
        reason: format!("test: {from} -> {to}"),
        source,
    };
    let states: &[MonitorStateRow] = match event.source {
        EventSource::Monitor(_) => std::slice::from_ref(&state),
        _ => &[],
    };
    store.record_batch(&[], states, &[event]).await.unwrap();
}

async fn incidents(store: &Store) -> Vec<IncidentRecord> {
    store.list_incidents(100, false).await.unwrap()
}

async fn wait_for<T>(
    what: &str,
    store: &Store,
    check: impl Fn(&[IncidentRecord]) -> Option<T>,
) -> T {
    for _ in 0..300 {
        if let Some(v) = check(&incidents(store).await) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "timed out waiting for: {what}; incidents: {:#?}",
        incidents(store).await
    );
}

/// Waits until the follower has handled every recorded event.
async fn settled(store: &Store) {
    let last = store
        .list_monitor_events(None, 1)
        .await
        .unwrap()
        .first()
        .map_or(0, |e| e.id);
    for _ in 0..300 {
        if store.cursor(CURSOR).await.unwrap().map_or(-1, |c| c.id) >= last {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the follower did not reach event {last}");
}

fn status_of(incident: &IncidentRecord, component: &str) -> Option<ComponentStatus> {
    incident
        .components
        .iter()
        .find(|c| c.id == component)
        .map(|c| c.status)
}

#[tokio::test]
async fn a_monitor_down_opens_an_incident_and_its_recovery_resolves_it() {
    for db in databases("a_monitor_down_opens_an_incident_and_its_recovery_resolves_it").await {
        let store = db.store().await;
        let (config, _dir) = config();
        let f = follow(&store, &config, true);

        transition(&store, "web-home", "pending", "up", Timestamp::now()).await;
        settled(&store).await;
        assert!(
            incidents(&store).await.is_empty(),
            "pending → up opens nothing"
        );

        let down_at = Timestamp::now();
        transition(&store, "web-home", "up", "down", down_at).await;
        let opened = wait_for("an incident", &store, |all| all.first().cloned()).await;
        assert!(opened.auto);
        assert_eq!(opened.title, "Website is down");
        assert_eq!(opened.status, IncidentStatus::Investigating);
        assert_eq!(opened.created_by, AUTO_ACTOR);
        assert_eq!(
            status_of(&opened, "web"),
            Some(ComponentStatus::MajorOutage),
            "the only monitor of the component is down"
        );
        assert_eq!(opened.started_at.as_millisecond(), down_at.as_millisecond());
        // Public text: the component, never the monitor or its probe's error.
        let body = &opened.updates[0].body;
        assert!(body.starts_with("Website is down."), "{body}");
        assert!(!body.contains("web-home"), "{body}");

        // The same transition seen again (a replayed event) opens nothing new.
        transition(&store, "web-home", "down", "down", Timestamp::now()).await;
        transition(&store, "web-home", "up", "down", Timestamp::now()).await;
        settled(&store).await;
        assert_eq!(incidents(&store).await.len(), 1);

        transition(&store, "web-home", "down", "up", Timestamp::now()).await;
        let resolved = wait_for("the incident resolved", &store, |all| {
            all.first()
                .filter(|i| i.status == IncidentStatus::Resolved)
                .cloned()
        })
        .await;
        assert_eq!(resolved.id, opened.id);
        assert!(resolved.resolved_at.is_some());
        assert!(
            resolved.updates[0]
                .body
                .starts_with("Recovered: a check of Website."),
            "{}",
            resolved.updates[0].body
        );
        assert_eq!(resolved.updates[0].created_by, AUTO_ACTOR);
        assert_eq!(
            status_of(&resolved, "web"),
            Some(ComponentStatus::Operational)
        );

        // A new outage after the resolution is a new incident.
        transition(&store, "web-home", "up", "down", Timestamp::now()).await;
        wait_for("a second incident", &store, |all| {
            (all.len() == 2).then_some(())
        })
        .await;
        f.stop().await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sources_on_one_component_share_an_incident_until_the_last_recovers() {
    for db in databases("sources_on_one_component_share_an_incident_until_the_last_recovers").await
    {
        let store = db.store().await;
        let (config, _dir) = config();
        let now = Timestamp::now();
        transition(&store, "api-port", "pending", "up", now).await;
        let f = follow(&store, &config, true);

        // One of two monitors down: a partial outage.
        transition(&store, "api-health", "up", "down", Timestamp::now()).await;
        let opened = wait_for("an incident", &store, |all| all.first().cloned()).await;
        assert_eq!(opened.title, "Public API is partially down");
        assert_eq!(
            status_of(&opened, "api"),
            Some(ComponentStatus::PartialOutage)
        );
        assert_eq!(opened.impact, Impact::Major);

        // A warning rule on the same component joins it, without lowering the status.
        transition(
            &store,
            "rule:HighCPUUsage",
            "pending",
            "firing",
            Timestamp::now(),
        )
        .await;
        settled(&store).await;
        let all = incidents(&store).await;
        assert_eq!(all.len(), 1, "joined, not opened");
        assert_eq!(all[0].updates.len(), 2);
        assert!(
            all[0].updates[0]
                .body
                .starts_with("Also failing: an alert on Public API.")
        );
        assert_eq!(
            status_of(&all[0], "api"),
            Some(ComponentStatus::PartialOutage)
        );

        // The second monitor goes down: every monitor is down, a major outage.
        transition(&store, "api-port", "up", "down", Timestamp::now()).await;
        settled(&store).await;
        let all = incidents(&store).await;
        assert_eq!(all.len(), 1);
        assert_eq!(
            status_of(&all[0], "api"),
            Some(ComponentStatus::MajorOutage)
        );
        assert_eq!(
            all[0].impact,
            Impact::Critical,
            "the impact follows the worse status"
        );

        // Recoveries while others still fail keep it open.
        transition(&store, "api-health", "down", "up", Timestamp::now()).await;
        transition(&store, "api-port", "down", "up", Timestamp::now()).await;
        settled(&store).await;
        let all = incidents(&store).await;
        assert_eq!(all[0].status, IncidentStatus::Investigating);
        assert!(
            all[0].updates[0]
                .body
                .contains("Still failing: an alert on Public API.")
        );
        assert_eq!(
            status_of(&all[0], "api"),
            Some(ComponentStatus::DegradedPerformance)
        );

        // The rule resolves: the last source, so the incident is resolved.
        transition(
            &store,
            "rule:HighCPUUsage",
            "firing",
            "inactive",
            Timestamp::now(),
        )
        .await;
        wait_for("resolved", &store, |all| {
            all.first()
                .filter(|i| i.status == IncidentStatus::Resolved)
                .map(|_| ())
        })
        .await;

        // An info rule opens nothing (default: critical and warning only).
        transition(
            &store,
            "rule:ChattyLogs",
            "inactive",
            "firing",
            Timestamp::now(),
        )
        .await;
        settled(&store).await;
        assert_eq!(incidents(&store).await.len(), 1);

        // A rule firing alone opens a degraded-performance incident with its name.
        transition(
            &store,
            "rule:HighCPUUsage",
            "pending",
            "firing",
            Timestamp::now(),
        )
        .await;
        let second = wait_for("a rule incident", &store, |all| {
            (all.len() == 2).then(|| all[0].clone())
        })
        .await;
        assert_eq!(second.title, "Public API is degraded");
        assert_eq!(
            status_of(&second, "api"),
            Some(ComponentStatus::DegradedPerformance)
        );
        f.stop().await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_operator_update_stops_the_automatic_resolution() {
    for db in databases("an_operator_update_stops_the_automatic_resolution").await {
        let store = db.store().await;
        let (config, _dir) = config();
        let f = follow(&store, &config, true);
        transition(&store, "web-home", "up", "down", Timestamp::now()).await;
        let opened = wait_for("an incident", &store, |all| all.first().cloned()).await;

        let change = IncidentChange {
            status: Some(IncidentStatus::Identified),
            body: Some("We are on it: a bad deploy.".into()),
            components: vec![],
        };
        store
            .add_incident_update(&opened.id, &change, "token:abc (ops)", Timestamp::now())
            .await
            .unwrap()
            .unwrap();

        transition(&store, "web-home", "down", "up", Timestamp::now()).await;
        settled(&store).await;
        let now = store.get_incident(&opened.id).await.unwrap().unwrap();
        assert_eq!(
            now.status,
            IncidentStatus::Identified,
            "the operator resolves it"
        );
        assert!(now.resolved_at.is_none());
        assert!(
            now.updates[0]
                .body
                .contains("An operator is handling this incident")
        );
        assert_eq!(now.updates[0].created_by, AUTO_ACTOR);
        f.stop().await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_replica_without_the_lease_does_nothing_and_the_cursor_survives_restarts() {
    for db in
        databases("a_replica_without_the_lease_does_nothing_and_the_cursor_survives_restarts").await
    {
        let store = db.store().await;
        let (config, _dir) = config();

        // History older than the follower's look-back is not replayed on a fresh database.
        let long_ago = Timestamp::now() - SignedDuration::from_hours(2);
        transition(&store, "api-health", "up", "down", long_ago).await;

        let standby = follow(&store, &config, false);
        transition(&store, "web-home", "up", "down", Timestamp::now()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            incidents(&store).await.is_empty(),
            "a standby opens nothing"
        );
        assert_eq!(
            store.cursor(CURSOR).await.unwrap(),
            None,
            "nor moves the cursor"
        );

        // It takes the lease over: the recent event is handled, the old one is not.
        standby.active.send(true).unwrap();
        let opened = wait_for("an incident", &store, |all| all.first().cloned()).await;
        assert_eq!(opened.title, "Website is down");
        settled(&store).await;
        standby.stop().await;

        // Recovery recorded while no follower runs: the next one resolves it, once.
        transition(&store, "web-home", "down", "up", Timestamp::now()).await;
        let restarted = follow(&store, &config, true);
        wait_for("resolved after restart", &store, |all| {
            all.first()
                .filter(|i| i.status == IncidentStatus::Resolved)
                .map(|_| ())
        })
        .await;
        settled(&store).await;
        let all = incidents(&store).await;
        assert_eq!(all.len(), 1, "nothing replayed: {all:#?}");
        assert_eq!(all[0].updates.len(), 2);
        restarted.stop().await;
        store.close().await;
        db.cleanup().await;
    }
}

/// A monitor's failure written by a transaction that commits after a later event's: no
/// incident opens for the later event alone while the earlier one is in flight... and once
/// both are committed each is handled, once.
#[tokio::test]
async fn an_event_committed_late_is_not_skipped() {
    for db in databases("auto_incidents_out_of_order").await {
        let store = db.store().await;
        let (config, _dir) = config();
        let follower = follow(&store, &config, true);
        let now = Timestamp::now();
        let late = MonitorEvent {
            source: EventSource::Monitor("web-home".into()),
            at: now,
            from: EventState::Up,
            to: EventState::Down,
            reason: "test: up -> down".into(),
        };
        let open = OpenEventWrite::begin(&store, &[late]).await;
        transition(&store, "api-health", "up", "down", now).await;
        match open {
            Some(open) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert!(
                    incidents(&store).await.is_empty(),
                    "handled an event while an earlier one was in flight"
                );
                open.commit().await;
            }
            None => transition(&store, "web-home", "up", "down", now).await,
        }
        settled(&store).await;
        let all = wait_for("an incident per component", &store, |all| {
            (all.len() == 2).then(|| all.to_vec())
        })
        .await;
        let mut titles: Vec<&str> = all.iter().map(|i| i.title.as_str()).collect();
        titles.sort_unstable();
        assert!(
            titles[0].contains("Public API") && titles[1].contains("Website"),
            "{titles:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(incidents(&store).await.len(), 2, "nothing handled twice");
        follower.stop().await;
        store.close().await;
        db.cleanup().await;
    }
}

/// Two replicas on one database (two pools) report failures on the same component at the same
/// moment — one from its monitor-event follower, one from the Alertmanager hook — many times
/// over: each time exactly one automatic incident opens and the other source joins it.
#[tokio::test]
async fn replicas_racing_on_one_component_open_one_incident() {
    use upkeep_engine::incidents::{Failure, source_failing, source_recovered};
    for db in databases("replicas_racing_on_one_component").await {
        let (a, b) = (db.store().await, db.store().await);
        let (handle, _dir) = config();
        let loaded = handle.current();
        for round in 0..10 {
            let failure = |source: &str| Failure {
                source: format!("{source}:{round}"),
                component_id: "api".into(),
                status: ComponentStatus::PartialOutage,
                label: source.into(),
                title: "API is partially down".into(),
                body: "failing".into(),
                detail: "internal".into(),
                started_at: None,
                seen_at: Timestamp::now(),
            };
            let now = Timestamp::now();
            let (fa, fb) = (failure("monitor"), failure("alertmanager"));
            let (ra, rb) = tokio::join!(
                source_failing(&a, &loaded.config, &fa, AUTO_ACTOR, now),
                source_failing(&b, &loaded.config, &fb, "system:alertmanager", now)
            );
            ra.unwrap();
            rb.unwrap();
            let open = a.list_incidents(100, true).await.unwrap();
            assert_eq!(open.len(), 1, "round {round}: {open:#?}");
            for s in [&fa.source, &fb.source] {
                source_recovered(&a, s, "ok", AUTO_ACTOR, Timestamp::now())
                    .await
                    .unwrap();
            }
            assert!(a.list_incidents(100, true).await.unwrap().is_empty());
        }
    }
}
