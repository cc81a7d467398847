//! Probe agents' rows on SQLite and PostgreSQL: a batch stored once per agent and sequence
//! (its results queued in multi-row statements, the agent's row kept), another batch with a
//! number already used refused with the next free one, agent tokens told apart, old batch
//! records and queued results pruned.

use jiff::Timestamp;
use upkeep_domain::agent::Accepted;
use upkeep_domain::role::Role;
use upkeep_store::agents::{IngestBatch, Ingested};
use upkeep_store::testing::databases;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

fn result(monitor: &str, secs: i64, ok: bool) -> Accepted {
    Accepted {
        monitor: monitor.into(),
        at: at(secs),
        ok,
        latency_ms: 12,
        status_code: ok.then_some(200),
        failure: (!ok).then(|| "connection refused".into()),
        round: None,
    }
}

fn ingest<'a>(
    agent: &'a str,
    seq: i64,
    digest: &'a str,
    results: &'a [Accepted],
) -> IngestBatch<'a> {
    IngestBatch {
        agent,
        location: "eu-1",
        version: "1.2.3",
        seq,
        digest,
        digest_as_posted: digest,
        received_at: at(100),
        clock_offset_ms: 0,
        dropped: 0,
        results,
    }
}

#[tokio::test]
async fn a_batch_is_stored_once_per_agent_and_sequence() {
    for db in databases("a_batch_is_stored_once_per_agent_and_sequence").await {
        let store = db.store().await;
        let results = [result("api", 1, true), result("api", 2, false)];
        let batch = |agent, seq, now, offset| IngestBatch {
            agent,
            location: "eu-1",
            version: "1.2.3",
            seq,
            digest: "d1",
            digest_as_posted: "d1",
            received_at: at(now),
            clock_offset_ms: offset,
            dropped: 4,
            results: &results,
        };
        let first = store
            .ingest_agent_batch(&batch("eu-a", 7, 10, 150))
            .await
            .unwrap();
        assert_eq!(first, Ingested::Stored(2));
        let again = store
            .ingest_agent_batch(&batch("eu-a", 7, 20, -30))
            .await
            .unwrap();
        assert_eq!(again, Ingested::Duplicate);
        // The same number from another agent is another batch.
        let other = store
            .ingest_agent_batch(&batch("eu-b", 7, 20, 0))
            .await
            .unwrap();
        assert_eq!(other, Ingested::Stored(2));

        store
            .create_token("eu-a", Role::Agent, "cli:ops", at(0))
            .await
            .unwrap();
        store
            .create_token("eu-b", Role::Viewer, "cli:ops", at(0))
            .await
            .unwrap();
        assert!(store.agent_token_named("eu-a", None).await.unwrap());
        assert!(!store.agent_token_named("eu-b", None).await.unwrap());

        let agents = store.list_agents().await.unwrap();
        assert_eq!(agents.len(), 2);
        let a = &agents[0];
        assert_eq!((a.name.as_str(), a.location.as_str()), ("eu-a", "eu-1"));
        assert_eq!((a.first_seen_at, a.last_seen_at), (at(10), at(20)));
        assert_eq!((a.clock_offset_ms, a.dropped, a.active), (-30, 4, true));
        assert!(!agents[1].active, "a viewer token does not make an agent");

        assert_eq!(store.prune_agent_batches(at(15)).await.unwrap(), 1);
        assert_eq!(store.prune_agent_batches(at(15)).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn a_number_used_for_other_content_is_refused_with_the_next_free_one() {
    for db in databases("a_number_used_for_other_content_is_refused_with_the_next_free_one").await {
        let store = db.store().await;
        let one = [result("api", 1, true)];
        let two = [result("api", 2, false)];
        for seq in [5, 9] {
            let stored = store
                .ingest_agent_batch(&ingest("eu-a", seq, "a", &one))
                .await
                .unwrap();
            assert_eq!(stored, Ingested::Stored(1));
        }
        // The same content again: a duplicate. Other content under a used number: refused,
        // with the number after the agent's highest.
        assert_eq!(
            store
                .ingest_agent_batch(&ingest("eu-a", 5, "a", &one))
                .await
                .unwrap(),
            Ingested::Duplicate
        );
        assert_eq!(
            store
                .ingest_agent_batch(&ingest("eu-a", 5, "b", &two))
                .await
                .unwrap(),
            Ingested::Conflict { next_seq: 10 }
        );
        assert_eq!(
            store.pending_agent_results(100).await.unwrap().len(),
            2,
            "nothing stored"
        );
        assert_eq!(
            store
                .ingest_agent_batch(&ingest("eu-a", 10, "b", &two))
                .await
                .unwrap(),
            Ingested::Stored(1)
        );
        // A record of an earlier release, which digested the content as posted: the same batch.
        let as_posted = IngestBatch {
            digest: "a-now",
            digest_as_posted: "a",
            ..ingest("eu-a", 5, "a", &one)
        };
        assert_eq!(
            store.ingest_agent_batch(&as_posted).await.unwrap(),
            Ingested::Duplicate
        );
        assert_eq!(
            store.agent_batch_digest("eu-a", 5).await.unwrap(),
            Some(Some("a".to_owned()))
        );
        assert_eq!(store.agent_batch_digest("eu-a", 77).await.unwrap(), None);
        assert_eq!(store.agent_batch_digest("eu-b", 5).await.unwrap(), None);
        // A record stored without a digest (before digests were kept) counts as the same batch.
        upkeep_store::testing::execute(
            &store,
            "UPDATE agent_batches SET digest = NULL WHERE seq = 9",
        )
        .await
        .unwrap();
        assert_eq!(
            store
                .ingest_agent_batch(&ingest("eu-a", 9, "c", &two))
                .await
                .unwrap(),
            Ingested::Duplicate
        );
        assert_eq!(
            store.agent_batch_digest("eu-a", 9).await.unwrap(),
            Some(None)
        );
    }
}

#[tokio::test]
async fn a_large_batch_is_queued_whole_with_its_rounds() {
    for db in databases("a_large_batch_is_queued_whole_with_its_rounds").await {
        let store = db.store().await;
        // More rows than one statement takes, and a result claiming its round.
        let mut results: Vec<Accepted> = (0..300)
            .map(|n| result(&format!("m{n:03}"), n, n % 3 != 0))
            .collect();
        results[299].round = Some(at(298));
        let stored = store
            .ingest_agent_batch(&ingest("eu-a", 1, "a", &results))
            .await
            .unwrap();
        assert_eq!(stored, Ingested::Stored(300));
        let mut queued = store.pending_agent_results(1000).await.unwrap();
        queued.sort_by(|a, b| a.monitor_id.cmp(&b.monitor_id));
        assert_eq!(queued.len(), 300);
        for (q, r) in queued.iter().zip(&results) {
            assert_eq!(
                (
                    &q.monitor_id,
                    q.at,
                    q.ok,
                    q.failure.as_deref(),
                    q.round,
                    q.location.as_str()
                ),
                (
                    &r.monitor,
                    r.at,
                    r.ok,
                    r.failure.as_deref(),
                    r.round,
                    "eu-1"
                )
            );
        }
        assert_eq!(queued[299].round, Some(at(298)));
    }
}

#[tokio::test]
async fn queued_results_are_pruned_by_age_and_by_source() {
    for db in databases("queued_results_are_pruned_by_age_and_by_source").await {
        let store = db.store().await;
        let old = [result("api", 1, true), result("gone", 2, true)];
        let new = [
            result("api", 50, true),
            result("gone", 51, true),
            result("api", 52, false),
        ];
        store
            .ingest_agent_batch(&ingest("eu-a", 1, "a", &old))
            .await
            .unwrap();
        store
            .ingest_agent_batch(&ingest("eu-a", 2, "b", &new))
            .await
            .unwrap();
        assert_eq!(store.prune_agent_results(at(10)).await.unwrap(), 2);
        assert_eq!(store.prune_agent_results(at(10)).await.unwrap(), 0);
        assert_eq!(
            store.agent_result_sources().await.unwrap(),
            [
                ("api".to_owned(), "eu-1".to_owned()),
                ("gone".to_owned(), "eu-1".to_owned())
            ]
        );
        assert_eq!(store.drop_agent_results("gone", "eu-1").await.unwrap(), 1);
        assert_eq!(store.drop_agent_results("api", "us-1").await.unwrap(), 0);
        let left = store.pending_agent_results(100).await.unwrap();
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|r| r.monitor_id == "api"), "{left:?}");
    }
}
