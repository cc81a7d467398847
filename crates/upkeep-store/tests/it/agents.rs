//! Probe agents' rows on SQLite and PostgreSQL: a batch stored once per agent and sequence
//! (its results queued, the agent's row kept), agent tokens told apart, old batch records
//! pruned.

use jiff::Timestamp;
use upkeep_domain::role::Role;
use upkeep_store::agents::{IngestBatch, Ingested, QueuedResult};
use upkeep_store::testing::databases;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

fn result(monitor: &str, secs: i64, ok: bool) -> QueuedResult {
    QueuedResult {
        monitor_id: monitor.into(),
        at: at(secs),
        ok,
        latency_ms: 12,
        status_code: ok.then_some(200),
        failure: (!ok).then(|| "connection refused".into()),
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
