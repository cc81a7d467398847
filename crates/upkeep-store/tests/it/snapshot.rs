//! Copies of upkeep's own database: consistent SQLite snapshots, their checks, atomic
//! installation, and the "is this database in use" state that guards a restore.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::role::Role;
use upkeep_store::snapshot::{
    LEADER_LEASE, install_sqlite_file, is_sqlite_file, sqlite_path, verify_sqlite_snapshot,
};
use upkeep_store::testing::{TestDatabase, databases};
use upkeep_store::{ConnectOptions, Store};

#[tokio::test]
async fn live_state_sees_data_and_a_running_server() {
    for db in databases("live_state_sees_data_and_a_running_server").await {
        let store = db.store().await;
        let now = Timestamp::now();
        let empty = store.live_state(now).await.unwrap();
        assert!(empty.has_schema);
        assert!(!empty.has_data, "a fresh database holds no data");
        assert_eq!(empty.lease_holder, None);

        store
            .create_token("ops", Role::Admin, "test", now)
            .await
            .unwrap();
        assert!(
            store
                .try_acquire_lease(LEADER_LEASE, "replica-1", Duration::from_secs(15), now)
                .await
                .unwrap()
        );
        let live = store.live_state(now).await.unwrap();
        assert!(live.has_data);
        assert_eq!(live.lease_holder.as_deref(), Some("replica-1"));
        let later = now
            .checked_add(jiff::SignedDuration::from_secs(60))
            .unwrap();
        assert_eq!(
            store.live_state(later).await.unwrap().lease_holder,
            None,
            "an expired lease is no running server"
        );
        store.clear_leases().await.unwrap();
        assert_eq!(store.live_state(now).await.unwrap().lease_holder, None);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_database_without_the_schema_is_not_live() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("empty.db").display());
    let store = Store::connect(&url, &ConnectOptions::default())
        .await
        .unwrap();
    let state = store.live_state(Timestamp::now()).await.unwrap();
    assert!(!state.has_schema && !state.has_data && state.lease_holder.is_none());
    store.close().await;
}

#[tokio::test]
async fn sqlite_snapshot_is_a_verified_copy_taken_while_writing() {
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let now = Timestamp::now();
    store
        .create_token("before", Role::Viewer, "test", now)
        .await
        .unwrap();
    // Writers keep going while the copy is taken.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                store
                    .create_token(&format!("during-{i}"), Role::Viewer, "test", now)
                    .await
                    .unwrap();
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    store.sqlite_snapshot(&copy).await.unwrap();
    writer.await.unwrap();
    assert!(
        store.sqlite_snapshot(&copy).await.is_err(),
        "VACUUM INTO never overwrites"
    );
    let info = verify_sqlite_snapshot(&copy).await.unwrap();
    assert!(info.schema_version >= 6, "{info:?}");
    assert!(info.bytes > 0);
    assert!(
        !dir.path().join("copy.db-wal").exists(),
        "verifying leaves the file alone"
    );

    // The copy opens as a database of its own, with the data committed before it was taken.
    let copy_url = format!("sqlite://{}", copy.display());
    let restored = Store::connect(&copy_url, &ConnectOptions::default())
        .await
        .unwrap();
    let tokens = restored.list_tokens().await.unwrap();
    assert!(tokens.iter().any(|t| t.name == "before"), "{tokens:?}");
    restored.close().await;
    store.close().await;
}

#[tokio::test]
async fn verify_refuses_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all").unwrap();
    let e = verify_sqlite_snapshot(&text).await.unwrap_err().to_string();
    assert!(e.contains("is not an SQLite database"), "{e}");

    let dump = dir.path().join("upkeep.dump");
    std::fs::write(&dump, b"PGDMP\x01\x0e\x00").unwrap();
    let e = verify_sqlite_snapshot(&dump).await.unwrap_err().to_string();
    assert!(e.contains("PostgreSQL dump"), "{e}");

    // An SQLite database, but not upkeep's.
    let other = dir.path().join("other.db");
    let url = format!("sqlite://{}", other.display());
    let store = Store::connect(&url, &ConnectOptions::default())
        .await
        .unwrap();
    store.close().await;
    assert!(is_sqlite_file(&other).unwrap());
    let e = verify_sqlite_snapshot(&other)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an upkeep database"), "{e}");

    let e = verify_sqlite_snapshot(&dir.path().join("missing.db"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read"), "{e}");
}

#[tokio::test]
async fn install_replaces_the_file_and_its_stale_journal() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("backup.db");
    let target = dir.path().join("upkeep.db");
    std::fs::write(&from, b"new contents").unwrap();
    std::fs::write(&target, b"old contents").unwrap();
    std::fs::write(dir.path().join("upkeep.db-wal"), b"old wal").unwrap();
    std::fs::write(dir.path().join("upkeep.db-shm"), b"old shm").unwrap();
    let bytes = install_sqlite_file(&from, &target).unwrap();
    assert_eq!(bytes, 12);
    assert_eq!(std::fs::read(&target).unwrap(), b"new contents");
    assert!(!dir.path().join("upkeep.db-wal").exists());
    assert!(!dir.path().join("upkeep.db-shm").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn sqlite_paths_come_from_urls() {
    assert_eq!(
        sqlite_path("sqlite://upkeep.db").unwrap().to_str(),
        Some("upkeep.db")
    );
    assert_eq!(
        sqlite_path("sqlite:///var/lib/upkeep/upkeep.db?mode=rwc")
            .unwrap()
            .to_str(),
        Some("/var/lib/upkeep/upkeep.db")
    );
    assert_eq!(sqlite_path("sqlite::memory:"), None);
    assert_eq!(sqlite_path("postgres://u@h/db"), None);
}
