//! The backup and drill storage contract, run against SQLite and PostgreSQL alike: the last
//! successful run (its start, its size; failures never count), recent runs, drills started and
//! finished once with their audit rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use upkeep_domain::backup::{self, BackupState, DrillOutcome};
use upkeep_store::StoreError;
use upkeep_store::backups::DrillFinish;
use upkeep_store::monitoring::{Ping, PingKind};
use upkeep_store::testing::databases;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

fn ping(key: &str, secs: i64, kind: PingKind) -> Ping {
    Ping {
        key: key.into(),
        at: at(secs),
        kind,
        exit_code: None,
        rid: None,
        body: String::new(),
    }
}

#[tokio::test]
async fn last_backup_is_the_last_success_measured_from_its_start() {
    for db in databases("last_backup_is_the_last_success_measured_from_its_start").await {
        let store = db.store().await;
        assert_eq!(store.last_backup("bk").await.unwrap(), None);
        // A run from 0 to 600 s, successful, 1 MiB.
        store
            .record_pings(&[ping("bk", 0, PingKind::Start)])
            .await
            .unwrap();
        let done = store
            .record_pings(&[ping("bk", 600, PingKind::Success)])
            .await
            .unwrap();
        store.set_ping_size(done[0].id, 1_048_576).await.unwrap();
        // A later run that failed, and one still running: neither resets the age.
        store
            .record_pings(&[ping("bk", 7_000, PingKind::Start)])
            .await
            .unwrap();
        store
            .record_pings(&[ping("bk", 7_200, PingKind::Fail)])
            .await
            .unwrap();
        store
            .record_pings(&[ping("bk", 9_000, PingKind::Start)])
            .await
            .unwrap();
        store
            .record_pings(&[ping("other", 9_500, PingKind::Success)])
            .await
            .unwrap();

        let last = store.last_backup("bk").await.unwrap().unwrap();
        assert!(last.ok);
        assert_eq!(last.started_at, at(0), "from the run's start");
        assert_eq!(last.finished_at, at(600));
        assert_eq!(last.duration_ms, Some(600_000));
        assert_eq!(last.size_bytes, Some(1_048_576));

        let rpo = std::time::Duration::from_secs(6 * 3600);
        assert_eq!(
            backup::state(rpo, Some(last.started_at), at(6 * 3600)),
            BackupState::AtRisk
        );
        assert_eq!(
            backup::state(rpo, Some(last.started_at), at(6 * 3600 + 1)),
            BackupState::Breached,
            "the failed run at 7,000 s does not reset the age"
        );

        let runs = store.recent_backup_runs("bk", 10).await.unwrap();
        assert_eq!(runs.len(), 2, "ends only: {runs:?}");
        assert!(!runs[0].ok);
        assert_eq!(runs[0].started_at, at(7_000));
        assert!(runs[1].ok);
        // An unpaired success starts at its own instant.
        let other = store.last_backup("other").await.unwrap().unwrap();
        assert_eq!(other.started_at, at(9_500));
        assert_eq!(other.size_bytes, None);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn drills_start_and_finish_once_with_audit_rows() {
    for db in databases("drills_start_and_finish_once_with_audit_rows").await {
        let store = db.store().await;
        let d = store
            .start_drill("main-db", "restore to staging", "cli:alice", at(0))
            .await
            .unwrap();
        assert_eq!(d.id.len(), 12);
        assert_eq!(store.open_drill("main-db").await.unwrap().unwrap().id, d.id);
        assert_eq!(store.last_finished_drill("main-db").await.unwrap(), None);

        // The wrong set does not find it.
        let finish = DrillFinish {
            outcome: DrillOutcome::Success,
            validated: true,
            notes: Some("row counts match".into()),
        };
        assert_eq!(
            store
                .finish_drill("other", &d.id, &finish, "cli:bob", at(10))
                .await
                .unwrap(),
            None
        );
        let done = store
            .finish_drill("main-db", &d.id, &finish, "cli:bob", at(5_400))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.recovery_ms, Some(5_400_000));
        assert_eq!(done.outcome, Some(DrillOutcome::Success));
        assert_eq!(done.validated, Some(true));
        assert_eq!(done.notes, "restore to staging\nrow counts match");
        assert_eq!(done.finished_by.as_deref(), Some("cli:bob"));
        assert_eq!(store.get_drill(&d.id).await.unwrap().unwrap(), done);
        assert!(matches!(
            store
                .finish_drill("main-db", &d.id, &finish, "cli:bob", at(6_000))
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .last_counted_drill("main-db")
                .await
                .unwrap()
                .unwrap()
                .id,
            d.id
        );

        // A successful drill that was not validated: finished, but it does not count.
        let d2 = store
            .start_drill("main-db", "", "cli:alice", at(10_000))
            .await
            .unwrap();
        let unvalidated = DrillFinish {
            outcome: DrillOutcome::Success,
            validated: false,
            notes: None,
        };
        let done2 = store
            .finish_drill("main-db", &d2.id, &unvalidated, "cli:alice", at(10_060))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done2.recovery_ms, None);
        assert_eq!(done2.duration_ms(), Some(60_000));
        assert_eq!(
            store
                .last_finished_drill("main-db")
                .await
                .unwrap()
                .unwrap()
                .id,
            d2.id
        );
        assert_eq!(
            store
                .last_counted_drill("main-db")
                .await
                .unwrap()
                .unwrap()
                .id,
            d.id,
            "the cadence still runs from the validated drill"
        );
        assert_eq!(
            store.list_drills(Some("main-db"), 10).await.unwrap().len(),
            2
        );
        assert_eq!(store.list_drills(Some("other"), 10).await.unwrap().len(), 0);
        assert_eq!(store.list_drills(None, 1).await.unwrap()[0].id, d2.id);

        let mut audit: Vec<(String, String)> = store
            .list_audit(100, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.action, r.target))
            .collect();
        audit.reverse();
        assert_eq!(
            audit,
            vec![
                ("drill.start".into(), format!("drill/{}", d.id)),
                ("drill.finish".into(), format!("drill/{}", d.id)),
                ("drill.start".into(), format!("drill/{}", d2.id)),
                ("drill.finish".into(), format!("drill/{}", d2.id)),
            ]
        );
        db.cleanup().await;
    }
}
