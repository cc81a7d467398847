//! Probe agents (docs/agents.md): each agent's last report (`agents`), the batches stored
//! (`agent_batches`, the idempotency record of `(agent, seq)`), and the results waiting to be
//! judged (`agent_results`, a queue whose consumer is the monitors' writer).

use jiff::Timestamp;
use upkeep_domain::agent::{Accepted, same_content};

use crate::monitoring::{MAX_ROWS_PER_STATEMENT, insert_sql};
use crate::{BeginWrite, Dialect, Store, StoreError, with_pool};

const RESULT_INSERT: &str = "INSERT INTO agent_results \
    (agent, monitor_id, location, at, received_at, ok, latency_ms, status_code, failure, \
    round_start)";
/// Columns of [`RESULT_INSERT`]: a statement of [`MAX_ROWS_PER_STATEMENT`] rows binds 1,280
/// values, far under both dialects' limits (SQLite 32,766, PostgreSQL 65,535).
const RESULT_COLUMNS: usize = 10;

/// A batch to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestBatch<'a> {
    /// The agent's name (its token's).
    pub agent: &'a str,
    pub location: &'a str,
    pub version: &'a str,
    pub seq: i64,
    /// A digest of its content (`upkeep_domain::agent::digest`), recorded with it.
    pub digest: &'a str,
    /// The digest releases before recorded for the same content
    /// (`upkeep_domain::agent::digest_as_posted`): a record holding it is the same batch too.
    pub digest_as_posted: &'a str,
    pub received_at: Timestamp,
    pub clock_offset_ms: i64,
    pub dropped: i64,
    /// Its results, checked (`upkeep_domain::agent::check_batch`), instants in the server's
    /// frame.
    pub results: &'a [Accepted],
}

/// What storing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored now, with this many results.
    Stored(usize),
    /// Stored before (same agent, seq and content): nothing stored again.
    Duplicate,
    /// The agent stored another batch with this seq before (it lost its data directory and
    /// numbers again): nothing stored; `next_seq` and every number after it are free.
    Conflict { next_seq: i64 },
}

/// An agent as last heard from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub name: String,
    pub location: String,
    pub version: String,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub clock_offset_ms: i64,
    pub dropped: i64,
    /// Whether a token of the `agent` role with its name is still valid.
    pub active: bool,
}

type AgentRow = (String, String, String, i64, i64, i64, i64, bool);

fn agent(row: AgentRow) -> Result<AgentRecord, StoreError> {
    let (name, location, version, first, last, clock_offset_ms, dropped, active) = row;
    Ok(AgentRecord {
        name,
        location,
        version,
        first_seen_at: crate::timestamp(first)?,
        last_seen_at: crate::timestamp(last)?,
        clock_offset_ms,
        dropped,
        active,
    })
}

impl Store {
    /// Stores a batch in one transaction: its `agent_batches` row (with its digest), its
    /// results queued in `agent_results` (multi-row statements), and the agent's row
    /// (location, version, last seen, clock offset). A batch stored before (same agent and
    /// seq) stores nothing again but still counts as the agent being heard from: the same
    /// content (`upkeep_domain::agent::same_content`; a row stored without a digest counts as
    /// it) is a duplicate, other content a conflict.
    pub async fn ingest_agent_batch(&self, b: &IngestBatch<'_>) -> Result<Ingested, StoreError> {
        let now = b.received_at.as_millisecond();
        let batch_sql = "INSERT INTO agent_batches (agent, seq, received_at, results, digest) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent, seq) DO NOTHING";
        let stored_sql = "SELECT digest FROM agent_batches WHERE agent = $1 AND seq = $2";
        let last_sql = "SELECT MAX(seq) FROM agent_batches WHERE agent = $1";
        let agent_sql = "INSERT INTO agents \
             (name, location, version, first_seen_at, last_seen_at, clock_offset_ms, dropped) \
             VALUES ($1, $2, $3, $4, $4, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET \
             version = excluded.version, last_seen_at = excluded.last_seen_at, \
             clock_offset_ms = excluded.clock_offset_ms, dropped = excluded.dropped";
        let count = i64::try_from(b.results.len()).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(batch_sql)
                .bind(b.agent)
                .bind(b.seq)
                .bind(now)
                .bind(count)
                .bind(b.digest)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let outcome = if inserted > 0 {
                for rows in b.results.chunks(MAX_ROWS_PER_STATEMENT) {
                    let sql = insert_sql(tx.params(), RESULT_INSERT, RESULT_COLUMNS, rows.len(), "");
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for r in rows {
                        q = q
                            .bind(b.agent)
                            .bind(&r.monitor)
                            .bind(b.location)
                            .bind(r.at.as_millisecond())
                            .bind(now)
                            .bind(r.ok)
                            .bind(r.latency_ms)
                            .bind(r.status_code.map(i64::from))
                            .bind(&r.failure)
                            .bind(r.round.map(|t| t.as_millisecond()));
                    }
                    q.execute(&mut *tx).await?;
                }
                Ingested::Stored(b.results.len())
            } else {
                // The row that conflicted may have been pruned since (PostgreSQL reads the
                // latest committed state): a batch that was stored counts as a duplicate.
                let stored: Option<String> = sqlx::query_scalar::<_, Option<String>>(stored_sql)
                    .bind(b.agent)
                    .bind(b.seq)
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
                if same_content(stored.as_deref(), b.digest, b.digest_as_posted) {
                    Ingested::Duplicate
                } else {
                    let last: Option<i64> = sqlx::query_scalar(last_sql)
                        .bind(b.agent)
                        .fetch_one(&mut *tx)
                        .await?;
                    Ingested::Conflict {
                        next_seq: last.unwrap_or(b.seq).saturating_add(1),
                    }
                }
            };
            sqlx::query(agent_sql)
                .bind(b.agent)
                .bind(b.location)
                .bind(b.version)
                .bind(now)
                .bind(b.clock_offset_ms)
                .bind(b.dropped)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(outcome)
        })
        .map_err(Into::into)
    }

    /// The digest agent `agent`'s batch `seq` was recorded with: `None` when no such batch is
    /// stored, `Some(None)` for one stored before digests were kept.
    pub async fn agent_batch_digest(
        &self,
        agent: &str,
        seq: i64,
    ) -> Result<Option<Option<String>>, StoreError> {
        let sql = "SELECT digest FROM agent_batches WHERE agent = $1 AND seq = $2";
        let stored = with_pool!(self, pool => sqlx::query_scalar::<_, Option<String>>(sql)
            .bind(agent)
            .bind(seq)
            .fetch_optional(pool)
            .await)?;
        Ok(stored)
    }

    /// Binds agent `name` to `location` on its first request and returns the location it is
    /// bound to (the one it first served: a token serves one location, so a stolen token cannot
    /// read another location's secrets or vote for it).
    pub async fn bind_agent_location(
        &self,
        name: &str,
        location: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let insert = "INSERT INTO agents \
             (name, location, version, first_seen_at, last_seen_at, clock_offset_ms, dropped) \
             VALUES ($1, $2, '', $3, $3, 0, 0) ON CONFLICT (name) DO NOTHING";
        let read = "SELECT location FROM agents WHERE name = $1";
        let bound: String = with_pool!(self, pool => {
            sqlx::query(insert)
                .bind(name)
                .bind(location)
                .bind(now.as_millisecond())
                .execute(pool)
                .await?;
            sqlx::query_scalar(read).bind(name).fetch_one(pool).await
        })?;
        Ok(bound)
    }

    /// Every agent ever heard from, by name.
    pub async fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let sql = "SELECT a.name, a.location, a.version, a.first_seen_at, a.last_seen_at, \
             a.clock_offset_ms, a.dropped, \
             EXISTS (SELECT 1 FROM api_tokens t WHERE t.name = a.name AND t.role = 'agent' \
                     AND t.revoked_at IS NULL) \
             FROM agents a ORDER BY a.name";
        let rows: Vec<AgentRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(agent).collect()
    }

    /// Whether a valid token of the `agent` role is named `name` (other than `except_id`).
    pub async fn agent_token_named(
        &self,
        name: &str,
        except_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM api_tokens WHERE name = $1 AND role = 'agent' \
             AND revoked_at IS NULL AND id <> $2";
        let count: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(name)
            .bind(except_id.unwrap_or(""))
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }

    /// Forgets the batches received before `before` (their results are not touched). Returns
    /// how many were removed.
    pub async fn prune_agent_batches(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM agent_batches WHERE received_at < $1";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(before.as_millisecond())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Deletes queued results probed before `before` (older than the ingest window: no
    /// round of theirs is judged any more). Returns how many.
    pub async fn prune_agent_results(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM agent_results WHERE id IN \
                   (SELECT id FROM agent_results WHERE at < $1 LIMIT $2)";
        self.prune(sql, before).await
    }

    /// The monitors and locations of the queued results, each pair once.
    pub async fn agent_result_sources(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT DISTINCT monitor_id, location FROM agent_results \
                   ORDER BY monitor_id, location";
        let rows = with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Deletes the queued results of a monitor from a location. Returns how many.
    pub async fn drop_agent_results(
        &self,
        monitor_id: &str,
        location: &str,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM agent_results WHERE monitor_id = $1 AND location = $2";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(monitor_id)
            .bind(location)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
