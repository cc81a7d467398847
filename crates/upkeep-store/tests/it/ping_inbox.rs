//! The ping inbox: pings are recorded into `pings_inbox` and moved into `pings` by the ping
//! writer (`WriterConnection::move_pings`). Wherever a ping is, every reader sees it the same;
//! a move keeps ids and content; an end pairs with its start in either table; the push judge's
//! facts do not depend on where the split between the two tables falls.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use upkeep_store::Store;
use upkeep_store::backups::BackupRun;
use upkeep_store::monitoring::{HeartbeatInstants, Ping, PingKind, StoredPing};
use upkeep_store::testing::{TestDatabase, databases, execute};

use crate::monitoring::{RID_A, RID_B, ms, ping};

/// Moves the inbox as the ping writer does; returns how many pings moved.
async fn move_pings(store: &Store) -> u64 {
    let mut conn = store.writer_connection().await.unwrap();
    conn.move_pings().await.unwrap()
}

/// What every reader of pings says about `key`.
#[derive(Debug, PartialEq)]
struct Seen {
    last_ping: Option<StoredPing>,
    last_success: Option<StoredPing>,
    last_outcome: Option<StoredPing>,
    open_start: Option<StoredPing>,
    recent: Vec<StoredPing>,
    count: u64,
    instants: Option<HeartbeatInstants>,
    last_backup: Option<BackupRun>,
    backup_runs: Vec<BackupRun>,
}

async fn seen(store: &Store, key: &str) -> Seen {
    Seen {
        last_ping: store.last_ping(key).await.unwrap(),
        last_success: store.last_success(key).await.unwrap(),
        last_outcome: store.last_outcome(key).await.unwrap(),
        open_start: store.open_start(key).await.unwrap(),
        recent: store.recent_pings(key, 1_000).await.unwrap(),
        count: store.count_pings(Some(key)).await.unwrap(),
        instants: store.heartbeat_instants(&[key]).await.unwrap().remove(key),
        last_backup: store.last_backup(key).await.unwrap(),
        backup_runs: store.recent_backup_runs(key, 1_000).await.unwrap(),
    }
}

#[tokio::test]
async fn every_reader_sees_inbox_pings_as_moved_ones() {
    for db in databases("every_reader_sees_inbox_pings_as_moved_ones").await {
        let store = db.store().await;
        use PingKind::*;
        let mut failed = ping("job", 2_000, Fail, None);
        failed.exit_code = Some(3);
        failed.body = "disk full\n".into();
        let batch = vec![
            ping("job", 0, Start, Some(RID_A)),
            ping("job", 1_000, Start, None),
            failed,
            ping("job", 3_000, Log, None),
            ping("job", 4_000, Success, Some(RID_A)),
            ping("job", 5_000, Start, None),
            ping("other", 500, Success, None),
            ping("other", 500, Fail, None), // the same instant: the later id is newer
        ];
        let stored = store.record_pings(&batch).await.unwrap();
        store.set_ping_size(stored[4].id, 4_096).await.unwrap();
        let keys = ["job", "other", "none"];
        let mut before = Vec::new();
        for key in keys {
            before.push(seen(&store, key).await);
        }
        // Seen while in the inbox as written.
        assert_eq!(before[0].count, 6);
        assert_eq!(before[0].last_ping.as_ref().unwrap().at, ms(5_000));
        assert_eq!(
            before[0].last_backup.as_ref().unwrap().size_bytes,
            Some(4_096)
        );
        assert_eq!(
            before[0].last_backup.as_ref().unwrap().duration_ms,
            Some(4_000)
        );
        let instants = before[0].instants.unwrap();
        assert_eq!(instants.last_success, Some(ms(4_000)));
        assert_eq!(instants.last_failure, None, "a later success clears it");
        assert_eq!(instants.open_start, Some(ms(5_000)));
        assert_eq!(
            before[1].instants.unwrap().last_failure,
            Some(ms(500)),
            "{:?}",
            store.backend()
        );
        assert_eq!(before[2].count, 0);

        assert_eq!(move_pings(&store).await, batch.len() as u64);
        assert_eq!(move_pings(&store).await, 0, "the inbox is empty");
        for (key, before) in keys.iter().zip(&before) {
            assert_eq!(
                &seen(&store, key).await,
                before,
                "{key} on {:?}",
                store.backend()
            );
        }
        assert_eq!(store.count_pings(None).await.unwrap(), batch.len() as u64);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_move_keeps_ids_and_content_and_later_ids_are_larger() {
    for db in databases("a_move_keeps_ids_and_content_and_later_ids_are_larger").await {
        let store = db.store().await;
        let batch: Vec<Ping> = (0..300)
            .map(|i| {
                let mut p = ping(&format!("k{}", i % 7), i * 10, PingKind::Success, None);
                p.body = format!("run {i}");
                p
            })
            .collect();
        let stored = store.record_pings(&batch).await.unwrap();
        let mut before = HashMap::new();
        for k in 0..7 {
            let key = format!("k{k}");
            before.insert(key.clone(), store.recent_pings(&key, 1_000).await.unwrap());
        }
        assert_eq!(move_pings(&store).await, 300);
        for (key, pings) in &before {
            assert_eq!(&store.recent_pings(key, 1_000).await.unwrap(), pings);
        }
        let newest_moved = stored.iter().map(|s| s.id).max().unwrap();
        let later = store
            .record_pings(&[ping("k0", 0, PingKind::Log, None)])
            .await
            .unwrap();
        assert!(later[0].id > newest_moved, "{:?}", store.backend());
        assert_eq!(move_pings(&store).await, 1);
        assert_eq!(store.count_pings(None).await.unwrap(), 301);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn ends_pair_with_starts_in_either_table() {
    for db in databases("ends_pair_with_starts_in_either_table").await {
        let store = db.store().await;
        use PingKind::*;
        let a = store
            .record_pings(&[ping("job", 0, Start, Some(RID_A))])
            .await
            .unwrap();
        move_pings(&store).await;
        let b = store
            .record_pings(&[ping("job", 1_000, Start, Some(RID_B))])
            .await
            .unwrap();
        // Ends by run id: one start moved, one still in the inbox.
        let ends = store
            .record_pings(&[
                ping("job", 5_000, Success, Some(RID_A)),
                ping("job", 6_000, Fail, Some(RID_B)),
            ])
            .await
            .unwrap();
        assert_eq!(ends[0].duration_ms, Some(5_000));
        assert_eq!(ends[1].duration_ms, Some(5_000));
        assert_eq!(store.open_start("job").await.unwrap(), None);
        // Without a run id: the latest open start, moved or not.
        store
            .record_pings(&[ping("job", 7_000, Start, None)])
            .await
            .unwrap();
        move_pings(&store).await;
        store
            .record_pings(&[ping("job", 8_000, Start, None)])
            .await
            .unwrap();
        let end = store
            .record_pings(&[ping("job", 9_000, Success, None)])
            .await
            .unwrap();
        assert_eq!(
            end[0].duration_ms,
            Some(1_000),
            "the inbox's start is the latest"
        );
        let end = store
            .record_pings(&[ping("job", 9_500, Success, None)])
            .await
            .unwrap();
        assert_eq!(end[0].duration_ms, Some(2_500), "then the moved one");
        assert_eq!(store.open_start("job").await.unwrap(), None);

        // Starts closed in the inbox stay closed once moved, with their end's instant.
        move_pings(&store).await;
        assert_eq!(store.open_start("job").await.unwrap(), None);
        let all = store.recent_pings("job", 100).await.unwrap();
        let ended = |id: i64| all.iter().find(|p| p.id == id).unwrap().ended_at;
        assert_eq!(ended(a[0].id), Some(ms(5_000)));
        assert_eq!(ended(b[0].id), Some(ms(6_000)));
        let starts: Vec<_> = all.iter().filter(|p| p.kind == Start).collect();
        assert_eq!(starts.len(), 4);
        assert!(starts.iter().all(|p| p.ended_at.is_some()), "{starts:?}");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_inbox_allocates_ids_after_every_id_pings_ever_had() {
    for db in databases("the_inbox_allocates_ids_after_every_id_pings_ever_had").await {
        // A database as the release before the inbox left it: three pings, the last deleted
        // (an id is never given twice, even one whose row is gone).
        let store = db.store_at_version(29).await;
        for at in 0..3 {
            let sql = format!(
                "INSERT INTO pings (key, at, kind, body) VALUES ('old', {at}, 'success', '')"
            );
            execute(&store, &sql).await.unwrap();
        }
        execute(&store, "DELETE FROM pings WHERE at = 2")
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let stored = store
            .record_pings(&[ping("new", 0, PingKind::Success, None)])
            .await
            .unwrap();
        assert!(
            stored[0].id > 3,
            "{} on {:?}",
            stored[0].id,
            store.backend()
        );
        assert_eq!(move_pings(&store).await, 1);
        assert_eq!(store.count_pings(None).await.unwrap(), 3);
        store.close().await;
        db.cleanup().await;
    }
}

/// One ping of a generated history: key (of three), kind, instant (few, so that instants
/// coincide), and whether it carries a run id (of two).
type Step = (usize, usize, i64, Option<bool>);

fn history() -> impl Strategy<Value = (Vec<Step>, usize, usize)> {
    let step = (
        0..3usize,
        0..4usize,
        0..12i64,
        proptest::option::of(any::<bool>()),
    );
    (prop::collection::vec(step, 1..24), 0..12usize, 1..5usize)
}

fn pings_of(prefix: &str, steps: &[Step]) -> Vec<Ping> {
    use PingKind::*;
    steps
        .iter()
        .map(|&(key, kind, at, rid)| {
            let kind = [Success, Start, Fail, Log][kind];
            let rid = rid.map(|a| if a { RID_A } else { RID_B });
            ping(&format!("{prefix}-{key}"), at * 1_000, kind, rid)
        })
        .collect()
}

/// What the push judge and the single-key readers say about the three keys of `prefix`, with
/// the prefix and ids left out.
async fn facts(store: &Store, prefix: &str) -> Vec<String> {
    let keys: Vec<String> = (0..3).map(|k| format!("{prefix}-{k}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let instants = store.heartbeat_instants(&key_refs).await.unwrap();
    let mut out = Vec::new();
    let brief = |p: Option<StoredPing>| p.map(|p| (p.at, p.kind, p.ended_at, p.duration_ms));
    for key in &keys {
        out.push(format!(
            "{:?} {:?} {:?} {:?} {:?}",
            instants.get(key),
            brief(store.last_success(key).await.unwrap()),
            brief(store.last_outcome(key).await.unwrap()),
            brief(store.open_start(key).await.unwrap()),
            store
                .recent_pings(key, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|p| brief(Some(p)))
                .collect::<Vec<_>>(),
        ));
    }
    out
}

/// The same history recorded in the same batches three ways: moved after `split` batches,
/// never moved, wholly moved. Every reader says the same of all three.
async fn same_facts_wherever_the_split(
    store: &Store,
    case: usize,
    steps: &[Step],
    split: usize,
    per_batch: usize,
) -> Result<(), TestCaseError> {
    let (split_at, inbox, moved) = (format!("s{case}"), format!("i{case}"), format!("m{case}"));
    for chunk in pings_of(&moved, steps).chunks(per_batch) {
        store.record_pings(chunk).await.unwrap();
    }
    for (n, chunk) in pings_of(&split_at, steps).chunks(per_batch).enumerate() {
        if n == split {
            move_pings(store).await;
        }
        store.record_pings(chunk).await.unwrap();
    }
    if split >= steps.len().div_ceil(per_batch) {
        move_pings(store).await;
    }
    for chunk in pings_of(&inbox, steps).chunks(per_batch) {
        store.record_pings(chunk).await.unwrap();
    }
    let expected = facts(store, &inbox).await;
    prop_assert_eq!(&facts(store, &split_at).await, &expected);
    prop_assert_eq!(&facts(store, &moved).await, &expected);
    move_pings(store).await;
    prop_assert_eq!(&facts(store, &inbox).await, &expected);
    prop_assert_eq!(&facts(store, &split_at).await, &expected);
    Ok(())
}

#[test]
fn the_judges_facts_do_not_depend_on_where_pings_are() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dbs: Vec<TestDatabase> = rt.block_on(databases(
        "the_judges_facts_do_not_depend_on_where_pings_are",
    ));
    for db in dbs {
        let store = rt.block_on(db.store());
        let mut runner = TestRunner::new(Config {
            cases: 32,
            failure_persistence: None,
            ..Config::default()
        });
        let case = std::cell::Cell::new(0usize);
        let result = runner.run(&history(), |(steps, split, per_batch)| {
            case.set(case.get() + 1);
            rt.block_on(same_facts_wherever_the_split(
                &store,
                case.get(),
                &steps,
                split,
                per_batch,
            ))
        });
        if let Err(e) = result {
            panic!("{:?}: {e}", store.backend());
        }
        rt.block_on(store.close());
        rt.block_on(db.cleanup());
    }
}
