//! The engine's building blocks: leases shared between replicas, the supervisor's clean
//! shutdown, and atomic, audited configuration reloads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use upkeep_engine::clock::{SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, ReloadError, load};
use upkeep_engine::lease::{LeaseKeeper, LeaseSettings};
use upkeep_engine::supervisor::Supervisor;
use upkeep_store::testing::databases;

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn one_replica_holds_a_lease_and_another_takes_over_when_it_stops_or_dies() {
    for db in
        databases("one_replica_holds_a_lease_and_another_takes_over_when_it_stops_or_dies").await
    {
        let store = db.store().await;
        let clock: SharedClock = Arc::new(SystemClock);
        let settings = LeaseSettings {
            ttl: Duration::from_millis(400),
            renew_every: Duration::from_millis(50),
        };
        let start = |holder: &str| {
            let stop = CancellationToken::new();
            let (keeper, task) = LeaseKeeper::start(
                store.clone(),
                clock.clone(),
                "scheduler:test".into(),
                holder.into(),
                settings.clone(),
                stop.clone(),
            );
            (keeper, tokio::spawn(task), stop)
        };

        let (a, a_task, a_stop) = start("replica-a");
        wait_until("a holds the lease", || a.is_held()).await;
        let (b, b_task, b_stop) = start("replica-b");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(a.is_held() && !b.is_held(), "exactly one holder");

        // A clean stop releases at once: b takes over within one renewal period.
        a_stop.cancel();
        a_task.await.unwrap();
        assert!(!a.is_held());
        wait_until("b takes over after a clean stop", || b.is_held()).await;

        // A replica that dies (no release) is replaced once its lease expires.
        let (c, c_task, _c_stop) = start("replica-c");
        b_task.abort();
        let _ = b_task.await;
        let died = std::time::Instant::now();
        wait_until("c takes over after b died", || c.is_held()).await;
        assert!(
            died.elapsed() >= Duration::from_millis(250),
            "not before expiry: {:?}",
            died.elapsed()
        );
        drop(b_stop);
        c_task.abort();
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn shutdown_waits_for_tasks_and_reports_stragglers() {
    let supervisor = Supervisor::new();
    let finished = Arc::new(AtomicBool::new(false));
    let token = supervisor.token();
    let flag = finished.clone();
    supervisor.spawn("polite", async move {
        token.cancelled().await;
        tokio::time::sleep(Duration::from_millis(50)).await; // finish the unit of work
        flag.store(true, Ordering::SeqCst);
    });
    assert!(supervisor.shutdown(Duration::from_secs(2)).await);
    assert!(
        finished.load(Ordering::SeqCst),
        "the task finished its work before shutdown returned"
    );

    let stubborn = Supervisor::new();
    stubborn.spawn("stubborn", async {
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    assert!(!stubborn.shutdown(Duration::from_millis(100)).await);
}

#[tokio::test]
async fn reload_is_atomic_audited_and_wakes_subscribers_only_on_change() {
    let db = upkeep_store::testing::TestDatabase::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    let v1 = "page: { name: One, url: \"http://127.0.0.1:8080\", timezone: UTC }\n";
    std::fs::write(&path, v1).unwrap();
    let now = jiff::Timestamp::now();
    let handle = ConfigHandle::new(load(&ConfigSource::File(path.clone()), now).unwrap());
    let mut rx = handle.subscribe();
    rx.borrow_and_update();

    let same = handle.reload(&store, "test", now).await.unwrap();
    assert!(!same.changed());
    assert!(
        !rx.has_changed().unwrap(),
        "no wake-up for an unchanged file"
    );

    std::fs::write(
        &path,
        "page: { name: Two, url: \"http://127.0.0.1:8080\", timezone: UTC }\n",
    )
    .unwrap();
    let changed = handle.reload(&store, "test", now).await.unwrap();
    assert!(changed.changed());
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().config.page.name, "Two");

    std::fs::write(&path, "page: { name: Three, timezone: Bad/Zone }\n").unwrap();
    let err = handle.reload(&store, "test", now).await.unwrap_err();
    let ReloadError::Load(e) = err else {
        panic!("{err}")
    };
    assert!(
        e.lines().iter().any(|l| l.contains("Bad/Zone")),
        "{:?}",
        e.lines()
    );
    assert!(!rx.has_changed().unwrap());
    assert_eq!(handle.current().config.page.name, "Two");

    let audit = store.list_audit(10, None).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "config.reload");
    assert_eq!(audit[0].after.as_ref().unwrap()["sha256"], changed.digest);
}

#[tokio::test]
async fn the_embedded_demo_is_valid_without_any_environment() {
    let loaded = load(&ConfigSource::EmbeddedDemo, jiff::Timestamp::now())
        .unwrap_or_else(|e| panic!("{:?}", e.lines()));
    assert!(!loaded.config.components.is_empty());
    assert!(!loaded.config.monitors.is_empty());
}
