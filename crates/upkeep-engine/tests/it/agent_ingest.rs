//! Agents' batches taken in by the server (`service::agents::ingest`) on SQLite and
//! PostgreSQL: a batch posted again after its answer was lost is stored once, even when the
//! agent changed between the attempts what it may change — the rounds it claims (sent only
//! to a server that said it takes them) — or a reload unassigned one of its monitors
//! meanwhile; another batch under a stored number is still a conflict, and a batch never
//! stored is still refused.

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::agent::{AgentResult, Batch, BatchError};
use upkeep_domain::config::Config;
use upkeep_domain::rounds::round_start;
use upkeep_engine::service::agents::{IngestError, ingest};
use upkeep_store::agents::Ingested;
use upkeep_store::testing::databases;

/// 2026-03-01T12:00:00Z.
const NOW_MS: i64 = 1_772_366_400_000;

fn ts(ms_after_now: i64) -> Timestamp {
    Timestamp::from_millisecond(NOW_MS + ms_after_now).unwrap()
}

/// `api-eu` probed from eu-1 (or, with `api_from_eu` false, from the server alone).
fn config(api_from_eu: bool) -> Config {
    let api = if api_from_eu {
        "[server, eu-1]"
    } else {
        "[server]"
    };
    let text = format!(
        "page: {{ name: T, url: 'http://127.0.0.1:8080', timezone: UTC }}\n\
         components: {{ web: {{ name: Web }} }}\n\
         monitors:\n  \
         web-eu: {{ component: web, http: {{ url: 'http://127.0.0.1:9/w' }}, interval: 2s, locations: [server, eu-1] }}\n  \
         api-eu: {{ component: web, http: {{ url: 'http://127.0.0.1:9/a' }}, interval: 2s, locations: {api} }}\n"
    );
    upkeep_domain::config::parse("t.yaml", &text, &|_| None, Timestamp::now())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// A result of `monitor` probed at `at`, claiming the round it falls in when `rounds`.
fn result(monitor: &str, at: Timestamp, rounds: bool) -> AgentResult {
    AgentResult {
        monitor: monitor.into(),
        at,
        ok: true,
        latency_ms: 12,
        status_code: Some(200),
        failure: None,
        round: rounds.then(|| round_start(monitor, Duration::from_secs(2), at)),
    }
}

fn body(seq: u64, results: Vec<AgentResult>) -> Vec<u8> {
    serde_json::to_vec(&Batch {
        seq,
        sent_at: ts(0),
        location: "eu-1".into(),
        version: "test".into(),
        dropped: 0,
        results,
    })
    .unwrap()
}

#[tokio::test]
async fn a_batch_posted_again_is_stored_once_whatever_changed_between_attempts() {
    for db in databases("a_batch_posted_again_is_stored_once_whatever_changed").await {
        let store = db.store().await;
        let (before, after) = (config(true), config(false));
        let first = |rounds| {
            body(
                1,
                vec![
                    result("web-eu", ts(-5_000), rounds),
                    result("api-eu", ts(-4_000), rounds),
                ],
            )
        };
        let outcome = |done: Result<upkeep_engine::service::agents::IngestOutcome, IngestError>| {
            done.unwrap_or_else(|e| panic!("{e}")).outcome
        };
        // Posted before the agent heard that the server takes rounds: without them.
        let stored = ingest(&store, &before, "probe-eu", &first(false), ts(0)).await;
        assert_eq!(outcome(stored), Ingested::Stored(2));
        // Its answer lost, posted again once the agent knows: with them. The same batch.
        let again = ingest(&store, &before, "probe-eu", &first(true), ts(1_000)).await;
        assert_eq!(outcome(again), Ingested::Duplicate, "{:?}", store.backend());
        // A reload took api-eu off eu-1 meanwhile: still the batch stored, not a refusal that
        // would have the agent drop those results and post the rest as another batch.
        let reloaded = ingest(&store, &after, "probe-eu", &first(true), ts(2_000)).await;
        assert_eq!(
            outcome(reloaded),
            Ingested::Duplicate,
            "{:?}",
            store.backend()
        );
        assert_eq!(store.pending_agent_results(100).await.unwrap().len(), 2);

        // Other results under the stored number: a conflict, with the next free number.
        let other = body(1, vec![result("web-eu", ts(-3_000), true)]);
        let conflict = ingest(&store, &before, "probe-eu", &other, ts(3_000)).await;
        assert_eq!(outcome(conflict), Ingested::Conflict { next_seq: 2 });
        // A batch never stored is judged as it is now.
        let fresh = body(2, vec![result("api-eu", ts(-2_000), true)]);
        let refused = ingest(&store, &after, "probe-eu", &fresh, ts(3_000)).await;
        assert!(
            matches!(
                refused,
                Err(IngestError::Refused(BatchError::Unassigned { .. }))
            ),
            "{refused:?}"
        );
        assert_eq!(store.pending_agent_results(100).await.unwrap().len(), 2);
        db.cleanup().await;
    }
}
