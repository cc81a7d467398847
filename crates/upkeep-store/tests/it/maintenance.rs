//! The maintenance storage contract, run against SQLite and PostgreSQL alike: create, list,
//! reschedule (sequence and notice instant), updates and transitions by hand with their audit
//! rows, a transition raced by two callers (exactly one wins), and idempotent occurrences of a
//! recurring window.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::config::{ChecksMode, TenantSel, Window};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus, Occurrence, plan_update};
use upkeep_store::maintenance::{MaintenanceEdit, MaintenanceFilter, NewMaintenance};
use upkeep_store::testing::databases;
use upkeep_store::{Store, StoreError};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn planned(title: &str, start: i64) -> NewMaintenance {
    let mut new = NewMaintenance::new(Kind::Planned, title, at(start), at(start + 2 * HOUR));
    new.description = Some("Database **upgrade**.".into());
    new.components = vec!["api".into(), "db".into()];
    new.tenants = TenantSel::List(vec!["acme".into()]);
    new
}

async fn audit(store: &Store) -> Vec<(String, String, Option<serde_json::Value>)> {
    let mut rows = store.list_audit(1000, None).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .filter(|r| r.action.starts_with("maintenance."))
        .map(|r| (r.action, r.target, r.after))
        .collect()
}

#[tokio::test]
async fn maintenances_are_created_listed_rescheduled_and_finished() {
    for db in databases("maintenances_are_created_listed_rescheduled_and_finished").await {
        let store = db.store().await;
        let created = store
            .create_maintenance(&planned("DB upgrade", 20 * DAY), "cli:root", at(0), None)
            .await
            .unwrap();
        assert_eq!(created.id.len(), 12);
        assert_eq!(created.status, MaintenanceStatus::Scheduled);
        assert_eq!(created.sequence, 0);
        assert_eq!(created.scheduled_at, at(0));
        assert!(!created.counts_as_downtime && created.notify_subscribers);
        assert_eq!(created.checks, ChecksMode::Run);
        assert_eq!(created.updates.len(), 1);
        assert_eq!(
            store.get_maintenance(&created.id).await.unwrap(),
            Some(created.clone())
        );
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["tenants"], serde_json::json!(["acme"]));
        assert_eq!(json["checks"], "run");
        assert_eq!(json["kind"], "planned");
        assert!(json.get("revision").is_none());

        let mut emergency = NewMaintenance::new(Kind::Emergency, "CVE fix", at(HOUR), at(2 * HOUR));
        emergency.reason = Some("CVE-2026-1234".into());
        let emergency = store
            .create_maintenance(
                &emergency,
                "token:x (admin)",
                at(0),
                Some("forced: short notice"),
            )
            .await
            .unwrap();
        assert!(emergency.counts_as_downtime);
        assert_eq!(emergency.tenants, TenantSel::All);
        let json = serde_json::to_value(&emergency).unwrap();
        assert_eq!(json["tenants"], "all");

        let upcoming = store
            .list_maintenances(MaintenanceFilter::Upcoming, 50)
            .await
            .unwrap();
        let ids: Vec<_> = upcoming.iter().map(|m| m.id.clone()).collect();
        assert_eq!(
            ids,
            [emergency.id.clone(), created.id.clone()],
            "soonest first"
        );
        let all = store
            .list_maintenances(MaintenanceFilter::All, 1)
            .await
            .unwrap();
        assert_eq!(all[0].id, created.id, "latest start first, limited");
        assert!(
            store
                .list_maintenances(MaintenanceFilter::Active, 50)
                .await
                .unwrap()
                .is_empty()
        );

        // Later: sequence up, notice instant kept.
        let later = MaintenanceEdit {
            starts_at: Some(at(21 * DAY)),
            ends_at: Some(at(21 * DAY + 3 * HOUR)),
            message: Some("Moved by a day.".into()),
            ..MaintenanceEdit::default()
        };
        let moved = store
            .reschedule_maintenance(&created.id, &later, "cli:root", at(DAY))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(moved.sequence, 1);
        assert_eq!(moved.scheduled_at, at(0));
        assert_eq!(moved.updates.len(), 2);
        assert_eq!(moved.updates[0].body, "Moved by a day.");
        // Earlier: notice measured again from now.
        let earlier = MaintenanceEdit {
            starts_at: Some(at(18 * DAY)),
            ends_at: Some(at(18 * DAY + HOUR)),
            ..MaintenanceEdit::default()
        };
        let moved = store
            .reschedule_maintenance(&created.id, &earlier, "cli:root", at(2 * DAY))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(moved.sequence, 2);
        assert_eq!(moved.scheduled_at, at(2 * DAY));
        assert_eq!(moved.updates.len(), 2, "no message, no update");
        // Nothing changes: nothing recorded.
        let same = store
            .reschedule_maintenance(&created.id, &earlier, "cli:root", at(3 * DAY))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(same, moved);
        assert_eq!(
            store.get_maintenance(&created.id).await.unwrap(),
            Some(moved.clone())
        );

        // By hand: start, then complete early (the end becomes the actual end).
        let started = store
            .add_maintenance_update(
                &created.id,
                Some(MaintenanceStatus::InProgress),
                "Started.",
                "cli:root",
                at(18 * DAY),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(started.status, MaintenanceStatus::InProgress);
        let err = store
            .reschedule_maintenance(&created.id, &later, "cli:root", at(18 * DAY))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let done = store
            .complete_maintenance(&created.id, "Done early.", "cli:root", at(18 * DAY + 600))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, MaintenanceStatus::Completed);
        assert_eq!(done.ends_at, at(18 * DAY + 600));
        assert_eq!(done.sequence, 3);
        assert_eq!(done.updates[0].status, MaintenanceStatus::Completed);
        assert_eq!(done.updates[0].body, "Done early.");
        let err = store
            .cancel_maintenance(&created.id, "", "cli:root", at(19 * DAY))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("completed"), "{err}");

        // Cancel a scheduled one.
        let cancelled = store
            .cancel_maintenance(&emergency.id, "Not needed.", "cli:root", at(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cancelled.status, MaintenanceStatus::Cancelled);
        assert_eq!(cancelled.sequence, 1);
        assert_eq!(
            cancelled.ends_at, emergency.ends_at,
            "never started: the end stays"
        );
        assert!(
            store
                .cancel_maintenance("nosuchthing1", "", "cli:root", at(60))
                .await
                .unwrap()
                .is_none()
        );

        // Finished: completed or cancelled, most recently changed first.
        let finished = store
            .list_maintenances(MaintenanceFilter::Finished, 50)
            .await
            .unwrap();
        let ids: Vec<_> = finished.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, [created.id.as_str(), emergency.id.as_str()]);

        // Hold reasons and silences, recorded once each.
        assert!(
            !store
                .set_hold_reason(&created.id, None, "system", at(1))
                .await
                .unwrap()
        );
        let third = store
            .create_maintenance(&planned("Third", 30 * DAY), "cli:root", at(0), None)
            .await
            .unwrap();
        assert!(
            store
                .set_hold_reason(
                    &third.id,
                    Some("backups_fresh: db is 30h old"),
                    "system",
                    at(1)
                )
                .await
                .unwrap()
        );
        assert!(
            !store
                .set_hold_reason(
                    &third.id,
                    Some("backups_fresh: db is 30h old"),
                    "system",
                    at(2)
                )
                .await
                .unwrap()
        );
        assert!(
            store
                .set_silence_id(&third.id, Some("abc-123"), "system", at(3))
                .await
                .unwrap()
        );
        let third = store.get_maintenance(&third.id).await.unwrap().unwrap();
        assert_eq!(
            third.hold_reason.as_deref(),
            Some("backups_fresh: db is 30h old")
        );
        assert_eq!(third.silence_id.as_deref(), Some("abc-123"));
        assert_eq!(third.sequence, 0, "hold and silence are not reschedules");

        // The held ones, as the upcoming list with a hold reason shows them.
        let held = store.held_maintenances(50).await.unwrap();
        let from_list: Vec<_> = store
            .list_maintenances(MaintenanceFilter::Upcoming, 50)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| Some((m.id, m.title, m.starts_at, m.hold_reason?)))
            .collect();
        let read: Vec<_> = held
            .into_iter()
            .map(|h| (h.id, h.title, h.starts_at, h.hold_reason))
            .collect();
        assert_eq!(read, from_list);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].0, third.id);

        let actions: Vec<_> = audit(&store)
            .await
            .into_iter()
            .map(|(action, _, _)| action)
            .collect();
        assert_eq!(
            actions,
            [
                "maintenance.create",
                "maintenance.create",
                "maintenance.reschedule",
                "maintenance.reschedule",
                "maintenance.start",
                "maintenance.complete",
                "maintenance.cancel",
                "maintenance.create",
                "maintenance.hold",
                "maintenance.silence",
            ]
        );
        let entries = audit(&store).await;
        assert_eq!(entries[1].1, format!("maintenance/{}", emergency.id));
        assert_eq!(
            entries[1].2.as_ref().unwrap()["forced"],
            "forced: short notice"
        );
        assert!(entries[0].2.as_ref().unwrap().get("forced").is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn maintenance_transition_raced_by_two_callers_is_won_exactly_once() {
    for db in databases("maintenance_transition_raced_by_two_callers_is_won_exactly_once").await {
        let store = db.store().await;
        for round in 0..5 {
            let m = store
                .create_maintenance(&planned("Race", DAY), "cli:root", at(0), None)
                .await
                .unwrap();
            let tasks: Vec<_> = (0..2)
                .map(|i| {
                    let store = store.clone();
                    let id = m.id.clone();
                    tokio::spawn(async move {
                        store
                            .transition_maintenance(
                                &id,
                                MaintenanceStatus::Scheduled,
                                MaintenanceStatus::InProgress,
                                &format!("replica-{i}"),
                                at(DAY),
                            )
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let mut wins = 0;
            for task in tasks {
                wins += usize::from(task.await.unwrap());
            }
            assert_eq!(wins, 1, "round {round}");
            let after = store.get_maintenance(&m.id).await.unwrap().unwrap();
            assert_eq!(after.status, MaintenanceStatus::InProgress);
            assert_eq!(after.updates.len(), 2, "one update for the one transition");
            assert_eq!(after.updates[0].status, MaintenanceStatus::InProgress);
            // The same transition again, or from a stale status: no.
            assert!(
                !store
                    .transition_maintenance(
                        &m.id,
                        MaintenanceStatus::Scheduled,
                        MaintenanceStatus::InProgress,
                        "replica-0",
                        at(DAY),
                    )
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .transition_maintenance(
                        &m.id,
                        MaintenanceStatus::InProgress,
                        MaintenanceStatus::Completed,
                        "replica-0",
                        at(DAY + 2 * HOUR),
                    )
                    .await
                    .unwrap()
            );
        }
        let starts = audit(&store)
            .await
            .into_iter()
            .filter(|(action, _, _)| action == "maintenance.start")
            .count();
        assert_eq!(starts, 5);
        assert!(
            !store
                .transition_maintenance(
                    "nosuchthing1",
                    MaintenanceStatus::Scheduled,
                    MaintenanceStatus::InProgress,
                    "x",
                    at(0)
                )
                .await
                .unwrap()
        );
        db.cleanup().await;
    }
}

fn window() -> Window {
    Window {
        id: "nightly".into(),
        title: "Nightly patching".into(),
        description: Some("Rolling restarts.".into()),
        timezone: jiff::tz::TimeZone::UTC,
        timezone_name: "UTC".into(),
        rrule: "FREQ=DAILY".into(),
        starts: None,
        duration: Duration::from_secs(3600),
        components: vec!["api".into()],
        tenants: TenantSel::All,
        checks: ChecksMode::Skip,
        counts_as_downtime: false,
        notify_subscribers: false,
        preflight: vec![],
        rollout: None,
    }
}

fn occurrence(day: i64) -> Occurrence {
    Occurrence {
        window_id: "nightly".into(),
        key: format!("nightly@day{day}"),
        start: at(day * DAY),
        end: at(day * DAY + HOUR),
    }
}

#[tokio::test]
async fn maintenance_occurrences_are_stored_once_and_updates_touch_only_the_future() {
    for db in
        databases("maintenance_occurrences_are_stored_once_and_updates_touch_only_the_future").await
    {
        let store = db.store().await;
        let window = window();
        let occurrences: Vec<_> = (1..=3).map(occurrence).collect();
        let first = store
            .upsert_occurrences(&window, &occurrences, "system", at(0))
            .await
            .unwrap();
        assert_eq!(first.len(), 3);
        let again = store
            .upsert_occurrences(&window, &occurrences, "system", at(10))
            .await
            .unwrap();
        assert!(again.is_empty(), "the second time inserts nothing");
        let stored = store.stored_occurrences("nightly").await.unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[0].key, "nightly@day1");
        assert_eq!(stored[0].start, at(DAY));
        let rows = store
            .list_maintenances(MaintenanceFilter::Upcoming, 50)
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let m = &rows[0];
        assert_eq!(m.window_id.as_deref(), Some("nightly"));
        assert_eq!(m.occurrence_key.as_deref(), Some("nightly@day1"));
        assert_eq!(m.title, "Nightly patching");
        assert_eq!(m.checks, ChecksMode::Skip);
        assert!(!m.notify_subscribers);
        assert_eq!(m.kind, Kind::Planned);
        let creates = audit(&store).await.len();
        assert_eq!(creates, 3);

        // Concurrent upserts of the same occurrences: still one row each.
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                let window = window.clone();
                tokio::spawn(async move {
                    store
                        .upsert_occurrences(&window, &[occurrence(4)], "system", at(20))
                        .await
                        .unwrap()
                        .len()
                })
            })
            .collect();
        let mut inserted = 0;
        for t in tasks {
            inserted += t.await.unwrap();
        }
        assert_eq!(inserted, 1);

        // The window moves by an hour: day 1 has started and stays, days 2-4 move; day 4 is
        // then dropped and cancelled.
        let now = at(DAY + 60);
        let mut fresh: Vec<_> = (1..=3)
            .map(|d| {
                let mut o = occurrence(d);
                o.start = at(d * DAY + HOUR);
                o.end = at(d * DAY + 2 * HOUR);
                o
            })
            .collect();
        fresh.push(occurrence(5));
        let existing = store.stored_occurrences("nightly").await.unwrap();
        let plan = plan_update(&existing, &fresh, now);
        let changes = store
            .apply_occurrence_update(&window, &plan, "system", now)
            .await
            .unwrap();
        assert_eq!(changes.inserted.len(), 1);
        assert_eq!(changes.rescheduled.len(), 2);
        assert_eq!(changes.cancelled.len(), 1);
        assert!(changes.rescheduled.iter().all(|m| m.sequence == 1));
        let stored = store.stored_occurrences("nightly").await.unwrap();
        let keys: Vec<_> = stored.iter().map(|o| (o.key.as_str(), o.start)).collect();
        assert_eq!(
            keys,
            [
                ("nightly@day1", at(DAY)),
                ("nightly@day2", at(2 * DAY + HOUR)),
                ("nightly@day3", at(3 * DAY + HOUR)),
                ("nightly@day5", at(5 * DAY)),
            ]
        );
        // Applying the same plan computed again changes nothing.
        let existing = store.stored_occurrences("nightly").await.unwrap();
        assert!(plan_update(&existing, &fresh, now).is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_fingerprint_moves_with_every_change() {
    for db in databases("the_fingerprint_moves_with_every_change").await {
        let store = db.store().await;
        let mut seen = vec![store.maintenances_fingerprint().await.unwrap()];
        let m = store
            .create_maintenance(&planned("Fingerprint", 30 * DAY), "test", at(0), None)
            .await
            .unwrap();
        seen.push(store.maintenances_fingerprint().await.unwrap());
        store
            .set_hold_reason(&m.id, Some("checks fail"), "test", at(1))
            .await
            .unwrap();
        seen.push(store.maintenances_fingerprint().await.unwrap());
        assert!(
            store
                .transition_maintenance(
                    &m.id,
                    MaintenanceStatus::Scheduled,
                    MaintenanceStatus::InProgress,
                    "test",
                    at(2),
                )
                .await
                .unwrap()
        );
        seen.push(store.maintenances_fingerprint().await.unwrap());
        // Nothing changed: the same fingerprint.
        seen.push(store.maintenances_fingerprint().await.unwrap());
        assert_eq!(seen[3], seen[4]);
        let mut distinct = seen[..4].to_vec();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "{seen:?}");
    }
}
