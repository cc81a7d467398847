//! The maintenance engine against SQLite and PostgreSQL: recurring windows materialised
//! idempotently and across a spring-forward night, statuses moved at their instants (and after
//! a restart), a window started exactly once when two replicas race, pre-flight checks holding
//! a start, failures during a window opening no incident until the window ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use upkeep_domain::config::{Config, parse};
use upkeep_domain::maintenance::MaintenanceStatus;
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_engine::incidents::under_maintenance;
use upkeep_engine::maintenance::{EngineState, materialise_all, step};
use upkeep_store::Store;
use upkeep_store::maintenance::{MaintenanceFilter, MaintenanceRecord};
use upkeep_store::monitoring::MonitorStateRow;
use upkeep_store::testing::databases;

const HORIZON: std::time::Duration = std::time::Duration::from_secs(10 * 86_400);

fn config(extra_window: &str) -> Config {
    let text = format!(
        r#"
page: {{ name: T, url: "https://status.example", timezone: Europe/Rome }}
components:
  api: {{ name: API }}
  db: {{ name: Database }}
monitors:
  db-port: {{ component: db, tcp: {{ address: "127.0.0.1:9" }} }}
maintenance:
  windows:
    - id: nightly
      title: Nightly database maintenance
      timezone: Europe/Rome
      rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"
      duration: 1h
      components: [db]
{extra_window}
"#
    );
    parse("t.yaml", &text, &|_| None, t("2026-03-20T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}", e.0))
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn all(store: &Store) -> Vec<MaintenanceRecord> {
    let mut v = store
        .list_maintenances(MaintenanceFilter::All, 10_000)
        .await
        .unwrap();
    v.sort_by_key(|m| m.starts_at);
    v
}

async fn set_monitor(store: &Store, id: &str, status: &str, at: Timestamp) {
    store
        .save_monitor_states(&[MonitorStateRow {
            monitor_id: id.into(),
            status: MonitorStatus::parse(status).unwrap(),
            consecutive_failures: 0,
            consecutive_successes: 0,
            changed_at: at,
            last_check_at: Some(at),
            paused: false,
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn windows_materialise_once_and_across_the_spring_forward_night() {
    for db in databases("windows_materialise_once").await {
        let store = db.store().await;
        let cfg = config("");
        let now = t("2026-03-27T12:00:00Z");
        materialise_all(&store, &cfg, now, HORIZON).await.unwrap();
        let first = all(&store).await;
        // Twice more, as after a restart and a reload: nothing new.
        materialise_all(&store, &cfg, now, HORIZON).await.unwrap();
        materialise_all(&store, &cfg, t("2026-03-27T12:05:00Z"), HORIZON)
            .await
            .unwrap();
        let again = all(&store).await;
        assert_eq!(first.len(), 10, "one a night for ten days");
        assert_eq!(
            first.iter().map(|m| &m.id).collect::<Vec<_>>(),
            again.iter().map(|m| &m.id).collect::<Vec<_>>()
        );
        let starts: Vec<String> = first.iter().map(|m| m.starts_at.to_string()).collect();
        // 02:30 CET = 01:30Z; on 29 March 02:30 does not exist and becomes 03:30 CEST = 01:30Z;
        // from then on 02:30 CEST = 00:30Z.
        assert_eq!(starts[0], "2026-03-28T01:30:00Z");
        assert_eq!(starts[1], "2026-03-29T01:30:00Z");
        assert_eq!(starts[2], "2026-03-30T00:30:00Z");
        assert_eq!(
            first[1].occurrence_key.as_deref(),
            Some("nightly@2026-03-29T02:30")
        );
        assert!(
            first
                .iter()
                .all(|m| m.ends_at.as_second() - m.starts_at.as_second() == 3600)
        );

        // The window is edited: future occurrences move, none is duplicated.
        let edited = config("").clone();
        let mut edited = edited;
        edited.maintenance.windows[0].rrule = "FREQ=DAILY;BYHOUR=3;BYMINUTE=0".into();
        materialise_all(&store, &edited, now, HORIZON)
            .await
            .unwrap();
        let live: Vec<MaintenanceRecord> = all(&store)
            .await
            .into_iter()
            .filter(|m| m.status != MaintenanceStatus::Cancelled)
            .collect();
        assert_eq!(live.len(), 10, "{live:#?}");
        assert!(live.iter().all(|m| {
            let local = m
                .starts_at
                .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap());
            local.hour() == 3 && local.minute() == 0
        }));

        // The window is removed: its future occurrences are cancelled.
        let mut removed = edited.clone();
        removed.maintenance.windows.clear();
        materialise_all(&store, &removed, now, HORIZON)
            .await
            .unwrap();
        assert!(
            all(&store)
                .await
                .iter()
                .all(|m| m.status == MaintenanceStatus::Cancelled)
        );
    }
}

#[tokio::test]
async fn statuses_follow_the_clock_and_failures_wait_for_the_window_to_end() {
    for db in databases("statuses_follow_the_clock").await {
        let store = db.store().await;
        let mut state = EngineState::default();
        let cfg = config("");
        let start = t("2026-03-28T01:30:00Z");
        materialise_all(&store, &cfg, t("2026-03-27T12:00:00Z"), HORIZON)
            .await
            .unwrap();
        set_monitor(&store, "db-port", "up", t("2026-03-27T12:00:00Z")).await;

        step(&store, &cfg, t("2026-03-28T01:29:59Z"), &mut state)
            .await
            .unwrap();
        assert_eq!(all(&store).await[0].status, MaintenanceStatus::Scheduled);
        step(&store, &cfg, start, &mut state).await.unwrap();
        let m = all(&store).await[0].clone();
        assert_eq!(m.status, MaintenanceStatus::InProgress);
        assert!(
            under_maintenance(&store, &cfg, "db", t("2026-03-28T02:00:00Z"))
                .await
                .unwrap()
        );
        assert!(
            !under_maintenance(&store, &cfg, "api", t("2026-03-28T02:00:00Z"))
                .await
                .unwrap()
        );

        // The database fails during the window: no incident.
        set_monitor(&store, "db-port", "down", t("2026-03-28T02:00:00Z")).await;
        step(&store, &cfg, t("2026-03-28T02:00:00Z"), &mut state)
            .await
            .unwrap();
        assert!(store.list_incidents(10, true).await.unwrap().is_empty());

        // The window ends with the database still down: verifying, and the incident opens now.
        step(&store, &cfg, t("2026-03-28T02:30:00Z"), &mut state)
            .await
            .unwrap();
        let m = store.get_maintenance(&m.id).await.unwrap().unwrap();
        assert_eq!(m.status, MaintenanceStatus::Verifying);
        let open = store.list_incidents(10, true).await.unwrap();
        assert_eq!(open.len(), 1, "{open:#?}");
        assert!(
            open[0].updates[0]
                .body
                .contains("Our automated checks noticed it")
        );
        assert!(
            !under_maintenance(&store, &cfg, "db", t("2026-03-28T02:31:00Z"))
                .await
                .unwrap()
        );

        // It recovers: completed.
        set_monitor(&store, "db-port", "up", t("2026-03-28T02:40:00Z")).await;
        step(&store, &cfg, t("2026-03-28T02:40:00Z"), &mut state)
            .await
            .unwrap();
        let m = store.get_maintenance(&m.id).await.unwrap().unwrap();
        assert_eq!(m.status, MaintenanceStatus::Completed);
        let statuses: Vec<MaintenanceStatus> = m.updates.iter().rev().map(|u| u.status).collect();
        assert_eq!(
            statuses,
            [
                MaintenanceStatus::Scheduled,
                MaintenanceStatus::InProgress,
                MaintenanceStatus::Verifying,
                MaintenanceStatus::Completed
            ]
        );

        // After a restart days later: the missed windows are completed, none is left running.
        step(&store, &cfg, t("2026-03-31T12:00:00Z"), &mut state)
            .await
            .unwrap();
        let past: Vec<MaintenanceRecord> = all(&store)
            .await
            .into_iter()
            .filter(|m| m.ends_at <= t("2026-03-31T12:00:00Z"))
            .collect();
        assert_eq!(past.len(), 4);
        assert!(
            past.iter()
                .all(|m| m.status == MaintenanceStatus::Completed)
        );
    }
}

#[tokio::test]
async fn two_replicas_start_a_window_once() {
    for db in databases("two_replicas_start_a_window_once").await {
        let a = db.store().await;
        let b = db.store().await;
        let cfg = config("");
        materialise_all(&a, &cfg, t("2026-03-27T12:00:00Z"), HORIZON)
            .await
            .unwrap();
        set_monitor(&a, "db-port", "up", t("2026-03-27T12:00:00Z")).await;
        let now = t("2026-03-28T01:31:00Z");
        let (mut sa, mut sb) = (EngineState::default(), EngineState::default());
        let (ra, rb) = tokio::join!(step(&a, &cfg, now, &mut sa), step(&b, &cfg, now, &mut sb));
        ra.unwrap();
        rb.unwrap();
        let m = all(&a).await[0].clone();
        assert_eq!(m.status, MaintenanceStatus::InProgress);
        let started = m
            .updates
            .iter()
            .filter(|u| u.status == MaintenanceStatus::InProgress)
            .count();
        assert_eq!(started, 1, "{:#?}", m.updates);
    }
}

#[tokio::test]
async fn failing_preflight_checks_hold_the_start() {
    for db in databases("failing_preflight_checks_hold_the_start").await {
        let store = db.store().await;
        let mut state = EngineState::default();
        let gated = r#"      preflight:
        - no_open_incidents
        - { command: "echo 'only 1 replica'; exit 3", timeout: 5s }"#;
        let cfg = config(gated);
        materialise_all(&store, &cfg, t("2026-03-27T12:00:00Z"), HORIZON)
            .await
            .unwrap();
        // 15 minutes ahead the checks run; the failure is recorded.
        step(&store, &cfg, t("2026-03-28T01:15:00Z"), &mut state)
            .await
            .unwrap();
        let m = all(&store).await[0].clone();
        assert_eq!(m.status, MaintenanceStatus::Scheduled);
        let hold = m.hold_reason.clone().unwrap();
        assert!(hold.contains("exited 3: only 1 replica"), "{hold}");
        // At the start it is still held.
        step(&store, &cfg, t("2026-03-28T01:30:00Z"), &mut state)
            .await
            .unwrap();
        let m = store.get_maintenance(&m.id).await.unwrap().unwrap();
        assert_eq!(m.status, MaintenanceStatus::Scheduled);

        // The check passes: the start goes ahead and the hold is cleared.
        let fixed = config(
            r#"      preflight:
        - no_open_incidents
        - { command: "test 2 -ge 2", timeout: 5s }"#,
        );
        step(&store, &fixed, t("2026-03-28T01:40:00Z"), &mut state)
            .await
            .unwrap();
        let m = store.get_maintenance(&m.id).await.unwrap().unwrap();
        assert_eq!(m.status, MaintenanceStatus::InProgress);
        assert_eq!(m.hold_reason, None);
    }
}

#[tokio::test]
async fn a_command_check_is_killed_at_its_timeout() {
    use upkeep_domain::maintenance::preflight::Check;
    let started = std::time::Instant::now();
    let outcome = upkeep_engine::maintenance::run_command(&Check::Command {
        run: "sleep 30".into(),
        timeout_ms: 300,
    })
    .await;
    assert!(!outcome.passed);
    assert!(
        outcome.detail.contains("did not finish within 300ms"),
        "{outcome:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn checks_skip_stops_probing_the_components_while_in_progress() {
    for db in databases("checks_skip_stops_probing").await {
        let store = db.store().await;
        let mut state = EngineState::default();
        let mut cfg = config("");
        cfg.maintenance.windows[0].checks = upkeep_domain::config::ChecksMode::Skip;
        materialise_all(&store, &cfg, t("2026-03-27T12:00:00Z"), HORIZON)
            .await
            .unwrap();
        set_monitor(&store, "db-port", "up", t("2026-03-27T12:00:00Z")).await;
        step(&store, &cfg, t("2026-03-28T01:00:00Z"), &mut state)
            .await
            .unwrap();
        assert!(!state.skip.contains("db"));
        step(&store, &cfg, t("2026-03-28T01:30:00Z"), &mut state)
            .await
            .unwrap();
        assert!(state.skip.contains("db") && !state.skip.contains("api"));
        step(&store, &cfg, t("2026-03-28T02:30:00Z"), &mut state)
            .await
            .unwrap();
        assert!(!state.skip.contains("db"));
    }
}

#[tokio::test]
async fn a_window_held_to_its_end_is_cancelled_not_completed() {
    for db in databases("a_window_held_to_its_end_is_cancelled").await {
        let store = db.store().await;
        let mut state = EngineState::default();
        let cfg = config(
            r#"      preflight:
        - { command: "exit 1", timeout: 5s }"#,
        );
        materialise_all(&store, &cfg, t("2026-03-27T12:00:00Z"), HORIZON)
            .await
            .unwrap();
        step(&store, &cfg, t("2026-03-28T01:30:00Z"), &mut state)
            .await
            .unwrap();
        let m = all(&store).await[0].clone();
        assert_eq!(m.status, MaintenanceStatus::Scheduled);
        assert!(m.hold_reason.is_some());
        step(&store, &cfg, t("2026-03-28T02:30:00Z"), &mut state)
            .await
            .unwrap();
        let m = store.get_maintenance(&m.id).await.unwrap().unwrap();
        assert_eq!(m.status, MaintenanceStatus::Cancelled);
        assert!(
            m.updates[0].body
                == "Cancelled: this maintenance could not start safely before its end.",
            "{:#?}",
            m.updates
        );
    }
}

/// The maintenance service, called without HTTP as any front end would: the notice policy
/// refuses short notice, only a caller who may override can `force` it (and the audit row
/// records what was forced), a start held by pre-flight checks needs `skip_checks`, and a
/// finished maintenance cannot be cancelled.
#[tokio::test]
async fn the_maintenance_service_applies_the_policy_and_its_overrides() {
    use upkeep_domain::maintenance::{Kind, NewMaintenance};
    use upkeep_engine::service::Caller;
    use upkeep_engine::service::maintenance::{self as service, MaintenanceError, Override};

    for db in databases("maintenance_service").await {
        let store = db.store().await;
        let cfg = config("");
        let now = t("2026-03-27T12:00:00Z");
        let editor = Caller {
            actor: "editor".into(),
            may_override: false,
        };
        let admin = Caller {
            actor: "admin".into(),
            may_override: true,
        };
        let mut new = NewMaintenance::new(
            Kind::Planned,
            "  Disk swap  ",
            t("2026-03-28T10:00:00Z"),
            t("2026-03-28T11:00:00Z"),
        );
        new.components = vec!["db".into(), "db".into()];

        let refused = service::schedule(&store, Some(&cfg), &editor, new.clone(), false, now).await;
        let Err(MaintenanceError::Notice(violation)) = refused else {
            panic!("short notice must be refused: {refused:?}");
        };
        assert_eq!(
            violation.earliest_allowed_start(),
            Some(t("2026-04-10T12:00:00Z"))
        );
        let refused = service::schedule(&store, Some(&cfg), &editor, new.clone(), true, now).await;
        assert!(
            matches!(refused, Err(MaintenanceError::Forbidden(Override::Force))),
            "{refused:?}"
        );
        assert!(all(&store).await.is_empty(), "nothing stored when refused");

        let scheduled = service::schedule(&store, Some(&cfg), &admin, new, true, now)
            .await
            .unwrap();
        let m = scheduled.record;
        assert_eq!(m.title, "Disk swap");
        assert_eq!(m.components, vec!["db".to_owned()]);
        assert_eq!(scheduled.forced_notice, Some(violation.to_string()));
        let audit = store.list_audit(10, None).await.unwrap();
        let create = audit
            .iter()
            .find(|a| a.action == "maintenance.create")
            .unwrap();
        assert_eq!(create.actor, "admin");
        assert_eq!(
            create.after.as_ref().unwrap()["forced"],
            violation.to_string()
        );

        store
            .set_hold_reason(&m.id, Some("backups are stale"), "system:test", now)
            .await
            .unwrap();
        let held = service::start(&store, &admin, &m.id, false, "", None, now).await;
        assert!(
            matches!(&held, Err(MaintenanceError::Held { reason, .. }) if reason == "backups are stale"),
            "{held:?}"
        );
        let held = service::start(&store, &editor, &m.id, true, "", None, now).await;
        assert!(
            matches!(held, Err(MaintenanceError::Forbidden(Override::SkipChecks))),
            "{held:?}"
        );
        let started = service::start(&store, &admin, &m.id, true, "Go.", None, now)
            .await
            .unwrap();
        assert_eq!(started.record.status, MaintenanceStatus::InProgress);
        assert_eq!(started.skipped_checks.as_deref(), Some("backups are stale"));
        assert_eq!(
            started.record.updates[0].body, "Started by hand.\n\nGo.",
            "the hold reason is the operator's, not the public timeline's"
        );
        // Started by hand before its start: the start moves to now.
        assert_eq!(started.record.starts_at, now);

        let done = service::complete(&store, &editor, &m.id, "", now)
            .await
            .unwrap();
        assert_eq!(done.status, MaintenanceStatus::Completed);
        let again = service::cancel(&store, &editor, &m.id, "", now).await;
        assert!(
            matches!(&again, Err(MaintenanceError::Store(upkeep_store::StoreError::Conflict(m))) if m.contains("cannot become cancelled")),
            "{again:?}"
        );
        let missing = service::complete(&store, &editor, "nosuchmaint0", "", now).await;
        assert!(
            matches!(&missing, Err(MaintenanceError::NotFound(id)) if id == "nosuchmaint0"),
            "{missing:?}"
        );
    }
}

/// A window over every tenant covers each tenant's own components only during that tenant's
/// slot: a failure of a tenant's service during another tenant's slot opens an incident at
/// once; during its own slot it is held back, and reported when the slot ends.
#[tokio::test]
async fn a_tenants_services_are_covered_during_its_slot_only() {
    use upkeep_engine::incidents::{FailureOutcome, monitor_failure, source_failing};
    for db in databases("tenant_services_slots").await {
        let store = db.store().await;
        let mut state = EngineState::default();
        let text = r#"
page: { name: T, url: "https://status.example", timezone: Europe/Rome }
regions:
  eu: { timezone: Europe/Rome }
tenants:
  acme:   { name: Acme Corp, region: eu }
  globex: { name: Globex, region: eu }
components:
  db: { name: Database }
tenant_services:
  components:
    app: { name: "{tenant.name} app" }
  monitors:
    app-port: { component: app, tcp: { address: "127.0.0.1:9" } }
maintenance:
  policy: { tenant_slot: 15m }
  windows:
    - id: nightly
      title: Nightly rollout
      timezone: Europe/Rome
      rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"
      duration: 1h
      components: [db]
      tenants: all
"#;
        let cfg = parse("t.yaml", text, &|_| None, t("2026-03-20T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{:?}", e.0));
        materialise_all(&store, &cfg, t("2026-03-27T12:00:00Z"), HORIZON)
            .await
            .unwrap();
        // 02:30 in Rome is 01:30 UTC: acme's slot is 01:30-01:45, globex's 01:45-02:00.
        step(&store, &cfg, t("2026-03-28T01:30:00Z"), &mut state)
            .await
            .unwrap();
        assert_eq!(all(&store).await[0].status, MaintenanceStatus::InProgress);
        let covered = |component: &'static str, at: &'static str| {
            let (store, cfg) = (&store, &cfg);
            async move {
                under_maintenance(store, cfg, component, t(at))
                    .await
                    .unwrap()
            }
        };
        assert!(covered("db", "2026-03-28T02:10:00Z").await);
        assert!(covered("acme.app", "2026-03-28T01:35:00Z").await);
        assert!(!covered("acme.app", "2026-03-28T01:50:00Z").await);
        assert!(!covered("globex.app", "2026-03-28T01:35:00Z").await);
        assert!(covered("globex.app", "2026-03-28T01:50:00Z").await);

        // Both tenants' services fail during acme's slot.
        let at = t("2026-03-28T01:35:00Z");
        set_monitor(&store, "acme.app-port", "down", at).await;
        set_monitor(&store, "globex.app-port", "down", at).await;
        let fail = |id: &'static str| {
            let (store, cfg) = (&store, &cfg);
            async move {
                let failure = monitor_failure(store, cfg, id, "connection refused", at)
                    .await
                    .unwrap()
                    .unwrap();
                source_failing(store, cfg, &failure, "system:test", at)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            fail("acme.app-port").await,
            FailureOutcome::UnderMaintenance
        );
        assert!(matches!(
            fail("globex.app-port").await,
            FailureOutcome::Opened(_)
        ));
        let open = store.list_incidents(10, true).await.unwrap();
        assert_eq!(open.len(), 1, "{open:#?}");
        assert_eq!(open[0].components[0].id, "globex.app");

        // Acme's slot ends with its service still down: its incident opens then.
        step(&store, &cfg, t("2026-03-28T01:44:59Z"), &mut state)
            .await
            .unwrap();
        assert_eq!(store.list_incidents(10, true).await.unwrap().len(), 1);
        step(&store, &cfg, t("2026-03-28T01:45:00Z"), &mut state)
            .await
            .unwrap();
        let open = store.list_incidents(10, true).await.unwrap();
        assert_eq!(open.len(), 2, "{open:#?}");
        let acme = open
            .iter()
            .find(|i| i.components[0].id == "acme.app")
            .expect("an incident on acme's service");
        assert_eq!(
            acme.created_at,
            t("2026-03-28T01:45:00Z"),
            "opened when the slot ended: {acme:#?}"
        );
        // Once handled, the slot's end is not reported again.
        step(&store, &cfg, t("2026-03-28T01:46:00Z"), &mut state)
            .await
            .unwrap();
        assert_eq!(store.list_incidents(10, true).await.unwrap().len(), 2);
    }
}
