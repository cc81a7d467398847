//! Probe agents, the server's side (docs/agents.md): what a location is assigned, a batch of
//! results taken in, and the agents as operators see them.

use std::collections::BTreeSet;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use upkeep_domain::agent::{self, Batch, BatchError};
use upkeep_domain::config::{Config, assignment};
use upkeep_domain::event::EventState;
use upkeep_store::agents::{AgentRecord, IngestBatch, Ingested};
use upkeep_store::{Store, StoreError};

/// The monitors of one location, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignments {
    /// Changes exactly when what the location is sent changes.
    pub etag: String,
    pub location: String,
    /// Each monitor's id and definition (`upkeep_domain::config::assignment`), in id order.
    pub monitors: Vec<(String, String)>,
    pub components: BTreeSet<String>,
}

/// Why a location's assignments cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum AssignmentError {
    #[error(
        "`location` must be a location id (letters, digits, `-`, `_`, `.`), and not `server`, whose monitors the server probes itself"
    )]
    Location,
}

/// What the configuration assigns to `location`.
pub fn assignments(config: &Config, location: &str) -> Result<Assignments, AssignmentError> {
    if !agent::valid_location(location) {
        return Err(AssignmentError::Location);
    }
    let assigned = assignment::assigned(config, location);
    let mut hash = Sha256::new();
    // What this server accepts from agents (`accepts_round`) is part of the answer: an agent
    // polling a server rolled back to a release without it gets the new answer, not a 304
    // that keeps it sending what the server would refuse.
    hash.update(b"accepts_round\0");
    hash.update(location.as_bytes());
    for (id, definition) in &assigned.monitors {
        hash.update([0]);
        hash.update(id.as_bytes());
        hash.update([0]);
        hash.update(definition.as_bytes());
    }
    for component in &assigned.components {
        hash.update([1]);
        hash.update(component.as_bytes());
    }
    let digest = hex::encode(hash.finalize());
    Ok(Assignments {
        etag: format!("\"{}\"", &digest[..32]),
        location: location.to_owned(),
        monitors: assigned.monitors,
        components: assigned.components,
    })
}

/// An agent token asked for, or posted for, a location other than the one it serves.
#[derive(Debug, thiserror::Error)]
#[error(
    "this agent token serves location `{bound}`, not `{asked}`: a token serves the location it was first used for; create another token (with another name) for another location"
)]
pub struct OtherLocation {
    pub bound: String,
    pub asked: String,
}

/// Checks that agent `agent` serves `location`, binding it on its first request
/// (`docs/agents.md`, "The agent token").
pub async fn check_location(
    store: &Store,
    agent: &str,
    location: &str,
    now: Timestamp,
) -> Result<Result<(), OtherLocation>, StoreError> {
    let bound = store.bind_agent_location(agent, location, now).await?;
    Ok(if bound == location {
        Ok(())
    } else {
        Err(OtherLocation {
            bound,
            asked: location.to_owned(),
        })
    })
}

/// Why a batch was refused (nothing of it was stored).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body is larger than a batch may be.
    #[error("a batch body is at most {} bytes", agent::MAX_BODY_BYTES)]
    TooLarge,
    /// The body is not a batch.
    #[error("the body is not a batch of results: {0}")]
    Malformed(String),
    /// It parses but breaks a rule.
    #[error(transparent)]
    Refused(#[from] BatchError),
    /// The agent's token serves another location.
    #[error(transparent)]
    OtherLocation(#[from] OtherLocation),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What taking a batch in did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub seq: u64,
    pub outcome: Ingested,
    pub clock_offset_ms: i64,
    pub corrected: bool,
}

/// Takes in a batch posted by agent `agent` (its token's name) and received at `now`: refused
/// whole or stored whole, once per `(agent, seq)` (`docs/agents.md`). A batch stored before
/// is answered [`Ingested::Duplicate`] even when it would be refused now.
pub async fn ingest(
    store: &Store,
    config: &Config,
    agent_name: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<IngestOutcome, IngestError> {
    if body.len() > agent::MAX_BODY_BYTES {
        return Err(IngestError::TooLarge);
    }
    let batch: Batch =
        serde_json::from_slice(body).map_err(|e| IngestError::Malformed(e.to_string()))?;
    let digest = agent::digest(&batch);
    let digest_as_posted = agent::digest_as_posted(&batch);
    let checked = match agent::check_batch(&batch, now, |location, monitor| {
        config
            .monitors
            .get(monitor)
            .filter(|m| m.probed_from(location))
            .map(|m| m.interval)
    }) {
        Ok(checked) => checked,
        // A batch stored before is answered so, whatever the configuration or the clock say
        // now (a reload unassigned one of its monitors, its results aged past the window):
        // refused, the agent would change it and post it again, and a changed batch under a
        // stored number is another batch, numbered again and stored a second time.
        Err(refused) => {
            let stored = match i64::try_from(batch.seq) {
                Ok(seq) => store.agent_batch_digest(agent_name, seq).await?,
                Err(_) => None,
            };
            let before = stored
                .is_some_and(|d| agent::same_content(d.as_deref(), &digest, &digest_as_posted));
            if !before {
                return Err(refused.into());
            }
            let (clock_offset_ms, corrected) = agent::clock_offset(&batch, now);
            return Ok(IngestOutcome {
                seq: batch.seq,
                outcome: Ingested::Duplicate,
                clock_offset_ms,
                corrected,
            });
        }
    };
    // After the batch's own checks: a location that is not an agent location binds nothing.
    check_location(store, agent_name, &batch.location, now).await??;
    if checked.corrected {
        tracing::warn!(
            agent = agent_name,
            clock_offset_ms = checked.clock_offset_ms,
            "probe agent: its clock is off; its results' instants are corrected"
        );
    }
    if checked.rounds_ignored > 0 {
        tracing::debug!(
            agent = agent_name,
            results = checked.rounds_ignored,
            "probe agent: results' claimed rounds not kept (off the monitor's grid or too far ahead); judged by their instants"
        );
    }
    let outcome = store
        .ingest_agent_batch(&IngestBatch {
            agent: agent_name,
            location: &batch.location,
            version: &batch.version,
            // check_batch refused a seq beyond i64.
            seq: i64::try_from(batch.seq).unwrap_or(i64::MAX),
            digest: &digest,
            digest_as_posted: &digest_as_posted,
            received_at: now,
            clock_offset_ms: checked.clock_offset_ms,
            dropped: i64::try_from(batch.dropped).unwrap_or(i64::MAX),
            results: &checked.results,
        })
        .await?;
    Ok(IngestOutcome {
        seq: batch.seq,
        outcome,
        clock_offset_ms: checked.clock_offset_ms,
        corrected: checked.corrected,
    })
}

/// How long the server keeps its record of the batches stored (their idempotency): far
/// longer than an agent keeps a batch to send again ([`agent::MAX_AGE`]).
pub const BATCH_RECORDS_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// What one pass of [`prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Batch records older than [`BATCH_RECORDS_KEPT`].
    pub batches: u64,
    /// Queued results older than the ingest window ([`agent::MAX_AGE`]).
    pub old_results: u64,
    /// Queued results of monitors no longer probed from their location (removed, or their
    /// `locations` changed).
    pub unassigned_results: u64,
}

/// Prunes the agents' records at `now`: batch records older than a week, and queued results
/// no round of which will be judged (older than the ingest window, or of a monitor no
/// longer probed from their location).
pub async fn prune(store: &Store, config: &Config, now: Timestamp) -> Result<Pruned, StoreError> {
    let window =
        jiff::SignedDuration::try_from(agent::MAX_AGE).unwrap_or(jiff::SignedDuration::MAX);
    let batches = store
        .prune_agent_batches(
            now.checked_sub(BATCH_RECORDS_KEPT)
                .unwrap_or(Timestamp::MIN),
        )
        .await?;
    let old_results = store
        .prune_agent_results(now.checked_sub(window).unwrap_or(Timestamp::MIN))
        .await?;
    let mut unassigned_results = 0;
    for (monitor, location) in store.agent_result_sources().await? {
        let assigned = config
            .monitors
            .get(&monitor)
            .is_some_and(|m| !m.server_only() && m.probed_from(&location));
        if !assigned {
            unassigned_results += store.drop_agent_results(&monitor, &location).await?;
        }
    }
    Ok(Pruned {
        batches,
        old_results,
        unassigned_results,
    })
}

/// An agent as its operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    pub record: AgentRecord,
    /// `ok`, or `warning` when silent or off clock (the same judgement as its alerts).
    pub state: EventState,
    /// Why it is `warning`.
    pub reason: Option<String>,
    /// How many monitors the configuration assigns to its location.
    pub monitors: usize,
}

/// Every agent ever heard from, judged at `now`.
pub async fn list(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<AgentStatus>, StoreError> {
    let agents = store.list_agents().await?;
    Ok(agents
        .into_iter()
        .map(|record| {
            let (state, reason) =
                agent::watch_state(record.last_seen_at, record.clock_offset_ms, now);
            let monitors = config
                .monitors
                .values()
                .filter(|m| m.probed_from(&record.location))
                .count();
            AgentStatus {
                record,
                state,
                reason,
                monitors,
            }
        })
        .collect())
}
