//! Transactions that read before they write, run by several writers at once, never fail with a
//! busy database: every transaction of the store begins as a write.

use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinSet;
use upkeep_domain::config::Severity;
use upkeep_domain::notify::{AlertNotice, AlertState};
use upkeep_store::alerts::AlertChange;
use upkeep_store::testing::databases;
use upkeep_store::{ConnectOptions, Store, StoreError};

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(1_790_000_000_000 + ms).unwrap()
}

/// One writer: fires and resolves alerts of its own (as one leader does; on SQLite any other
/// writer's commit is in the way, whatever rows it touched). Each change reads the alert's
/// state and then writes it, in one transaction.
async fn writer(store: Store, w: i64, rounds: i64) -> Result<(), StoreError> {
    for i in 0..rounds {
        let key = format!("rule:Writer{w}x{}", i % 3);
        let when = at(w * 1_000 + i);
        let notice = AlertNotice {
            key: key.clone(),
            state: AlertState::Firing,
            severity: Severity::Warning,
            component: None,
            summary: format!("writer {w}, round {i}"),
            detail: String::new(),
            since: when,
            at: when,
        };
        let fire = AlertChange::Fire {
            notice,
            suppressed: i % 2 == 0,
            event_id: w * 1_000 + i,
        };
        store.apply_alert_changes(&[fire], None, when).await?;
        let resolve = AlertChange::Resolve {
            key,
            at: when,
            detail: String::new(),
            event_id: w * 1_000 + i,
        };
        store.apply_alert_changes(&[resolve], None, when).await?;
        tokio::task::yield_now().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_then_write_transactions_never_see_a_busy_database() {
    for db in databases("concurrent_read_then_write_transactions_never_see_a_busy_database").await {
        let options = ConnectOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
        };
        let store = Store::connect(&db.url, &options).await.unwrap();
        store.migrate().await.unwrap();
        let mut writers = JoinSet::new();
        for w in 0..8 {
            writers.spawn(writer(store.clone(), w, 60));
        }
        let mut failures = Vec::new();
        while let Some(done) = writers.join_next().await {
            if let Err(e) = done.unwrap() {
                failures.push(e.to_string());
            }
        }
        assert!(
            failures.is_empty(),
            "{:?}: writers failed: {failures:#?}",
            store.backend()
        );
        store.close().await;
        db.cleanup().await;
    }
}
