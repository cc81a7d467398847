//! The notification outbox (`docs/notifications.md`): notices, their deliveries, and the claims that keep
//! replicas from sending one delivery twice.
//!
//! - A **notice** ([`upkeep_domain::notify::Notice`]) is inserted by [`insert_notice!`] inside
//!   the transaction of the change that causes it (an incident update, a maintenance moving,
//!   an operator alert), keyed by a `dedup_key` so writing it again is a no-op.
//! - **Fan-out** turns a notice into one delivery per recipient ([`Store::fan_out`]), in
//!   chunks: each chunk's rows in one transaction (`ON CONFLICT DO NOTHING` on notice +
//!   recipient + destination, so a fan-out cut between chunks resumes without repeating), the
//!   last one with the notice's `fanned_out_at`. A delivery's `id` is made there, once, and
//!   sent on every attempt.
//! - **Delivery**: a worker claims due rows ([`Store::claim_deliveries`]) by setting
//!   `claimed_by`/`claimed_until` in one conditional `UPDATE` (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL), so two replicas never hold one row; a claim that outlives a crashed worker
//!   expires and the row is taken again. Rows sharing an `order_key` (one destination) are
//!   claimed one at a time, oldest first, never while one of them is in flight, so "resolved"
//!   never overtakes "opened". Outcomes are written right after their attempts, a group per
//!   transaction ([`Store::record_outcomes`]): only a crash between a receiver's answer and
//!   that write can send a delivery twice — under the same delivery id, which receivers can
//!   dedupe on.

use crate::BeginWrite;
use jiff::Timestamp;
use serde::Serialize;
use upkeep_domain::notify::{DeliveryState, Notice};

use crate::audit::{AuditEntry, insert_audit};
use crate::{Store, StoreError, with_pool};

/// Inserts a notice inside a transaction: `insert_notice!(&mut *tx, at_ms, &dedup_key,
/// &notice)`. A notice whose key exists is skipped. Evaluates to `Result<bool, sqlx::Error>`
/// (whether it was inserted).
macro_rules! insert_notice {
    ($exec:expr, $at_ms:expr, $key:expr, $notice:expr) => {{
        let notice: &upkeep_domain::notify::Notice = $notice;
        let payload = serde_json::to_string(notice).unwrap_or_default();
        sqlx::query(
            "INSERT INTO notices (dedup_key, audience, payload, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind($key)
        .bind(notice.audience().as_str())
        .bind(payload)
        .bind($at_ms)
        .execute($exec)
        .await
        .map(|done| done.rows_affected() == 1)
    }};
}
pub(crate) use insert_notice;

/// A notice waiting to be fanned out.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotice {
    pub id: i64,
    pub dedup_key: String,
    pub notice: Notice,
    pub created_at: Timestamp,
}

/// A delivery to make for a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The delivery id ([`new_delivery_id`]), sent on every attempt (and in webhook bodies).
    pub id: String,
    /// `channel:ID` or `subscriber:ID`.
    pub recipient: String,
    /// `email`, `webhook`, `slack` or `pagerduty`.
    pub channel: String,
    /// Address or URL.
    pub destination: String,
    /// Deliveries with one key (one destination) go out one at a time, in order.
    pub order_key: String,
    /// What the delivery is about (`incident/ID`, ...): a failed one is not retried after a
    /// later one of the same subject reached the destination.
    pub subject: String,
    /// JSON of what is sent.
    pub content: String,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    /// The delivery id, sent on every attempt.
    pub id: String,
    /// `None` for a subscription confirmation (no notice behind it).
    pub notice_id: Option<i64>,
    pub event: String,
    pub recipient: String,
    pub channel: String,
    /// Serialised (audit rows) as [`redact_destination`] gives it.
    #[serde(serialize_with = "serialize_destination")]
    pub destination: String,
    #[serde(skip)]
    pub order_key: String,
    pub subject: String,
    #[serde(skip)]
    pub content: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

type DeliveryRow = (
    String,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    i64,
    Option<i64>,
);

const DELIVERY_COLUMNS: &str = "id, notice_id, event, recipient, channel, destination, order_key, subject, \
    content, state, attempts, next_attempt_at, last_error, created_at, sent_at";

fn delivery_record(row: DeliveryRow) -> Result<DeliveryRecord, StoreError> {
    let (
        id,
        notice_id,
        event,
        recipient,
        channel,
        destination,
        order_key,
        subject,
        content,
        state,
        attempts,
        next,
        last_error,
        created,
        sent,
    ) = row;
    let state = DeliveryState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("delivery {id}: unknown state `{state}`")))?;
    Ok(DeliveryRecord {
        id,
        notice_id,
        event,
        recipient,
        channel,
        destination,
        order_key,
        subject,
        content,
        state,
        attempts,
        next_attempt_at: crate::timestamp(next)?,
        last_error,
        created_at: crate::timestamp(created)?,
        sent_at: sent.map(crate::timestamp).transpose()?,
    })
}

/// How an attempt ended, as [`Store::record_outcomes`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver took it.
    Sent,
    /// It failed: tried again at `retry_at`, or given up with `None`.
    Failed {
        error: String,
        retry_at: Option<Timestamp>,
    },
    /// Not sent and forgotten (its subscriber is gone).
    Dropped,
}

/// What [`Store::retry_delivery`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Back in the queue.
    Retried,
    /// No failed delivery has this id.
    NotFailed,
    /// A later delivery of its subject to its destination was sent: retrying would deliver out
    /// of order.
    Overtaken,
    /// Its subscriber unsubscribed.
    RecipientGone,
}

/// How deep the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Notices not yet fanned out.
    pub unfanned: i64,
    /// Deliveries not yet sent nor given up.
    pub pending: i64,
    /// Creation of the oldest pending delivery or unfanned notice.
    pub oldest: Option<Timestamp>,
    /// Deliveries given up.
    pub failed: i64,
}

/// A destination fit to show or log: a URL as its origin only (`https://hooks.slack.com/…`):
/// the path and query of a webhook URL may be its credential; an e-mail address as
/// [`upkeep_domain::email::redact_address`] shows it (`o…@example.com`): it is personal data.
/// Redacting twice gives the same text.
pub fn redact_destination(destination: &str) -> String {
    match url::Url::parse(destination) {
        Ok(u) if u.has_host() => {
            let origin = u.origin().ascii_serialization();
            if u.path() == "/" && u.query().is_none() {
                origin
            } else {
                format!("{origin}/…")
            }
        }
        _ if destination.contains('@') => upkeep_domain::email::redact_address(destination),
        _ => destination.to_owned(),
    }
}

/// `error` (an attempt's error, which may quote its destination: an HTTP client's error names
/// the URL) with `destination` written as `shown`.
pub fn redact_error(error: &str, destination: &str, shown: &str) -> String {
    let mut error = error.replace(destination, shown);
    if let Ok(parsed) = url::Url::parse(destination) {
        error = error.replace(parsed.as_str(), shown);
    }
    error
}

impl DeliveryRecord {
    /// The record as the audit log keeps it: the destination redacted (see
    /// [`redact_destination`]), also inside the last error.
    pub fn audited(&self) -> serde_json::Value {
        let mut record = self.clone();
        let shown = redact_destination(&record.destination);
        record.last_error = record
            .last_error
            .map(|e| redact_error(&e, &record.destination, &shown));
        serde_json::json!(record)
    }
}

fn serialize_destination<S: serde::Serializer>(d: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_destination(d))
}

/// A new delivery id: a random UUID (v4), fixed for the delivery's life.
pub fn new_delivery_id() -> String {
    crate::ids::new_uuid()
}

impl Store {
    /// Writes a notice on its own (a reminder, a re-notification): the change causing it is
    /// time passing, there is no other row to write with it. `false` when its key exists.
    pub async fn enqueue_notice(
        &self,
        dedup_key: &str,
        notice: &Notice,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let at = now.as_millisecond();
        let inserted = with_pool!(self, pool => insert_notice!(pool, at, dedup_key, notice))?;
        Ok(inserted)
    }

    /// Notices not fanned out yet, oldest first. A notice whose payload cannot be read (written
    /// by another version, say) is set aside — marked fanned out, logged — so it cannot stop the
    /// ones behind it.
    pub async fn unfanned_notices(&self, limit: u32) -> Result<Vec<StoredNotice>, StoreError> {
        // The limit is written into the statement, as in `claim_deliveries`.
        let sql = format!(
            "SELECT id, dedup_key, payload, created_at FROM notices \
             WHERE fanned_out_at IS NULL ORDER BY id LIMIT {limit}"
        );
        let rows: Vec<(i64, String, String, i64)> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(pool)
            .await)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, dedup_key, payload, created) in rows {
            match serde_json::from_str(&payload) {
                Ok(notice) => out.push(StoredNotice {
                    id,
                    dedup_key,
                    notice,
                    created_at: crate::timestamp(created)?,
                }),
                Err(e) => {
                    tracing::error!(notice = id, key = %dedup_key, error = %e,
                        "a notice cannot be read; it is set aside and not sent");
                    let sql = "UPDATE notices SET fanned_out_at = created_at WHERE id = $1";
                    with_pool!(self, pool => sqlx::query(sql).bind(id).execute(pool).await
                        .map(|_| ()))?;
                }
            }
        }
        Ok(out)
    }

    /// Makes some of a notice's deliveries in one transaction, and with `done` marks the notice
    /// fanned out in the same one (so a notice for many subscribers is written in chunks; a
    /// fan-out interrupted between chunks is resumed). Deliveries that exist (same notice,
    /// recipient, destination) are kept as they are. Returns how many were made.
    pub async fn fan_out(
        &self,
        notice_id: i64,
        event: &str,
        deliveries: &[NewDelivery],
        done: bool,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let at = now.as_millisecond();
        let made = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut made = 0;
            for d in deliveries {
                made += sqlx::query(
                    "INSERT INTO deliveries (id, notice_id, event, recipient, channel, \
                     destination, order_key, subject, content, state, attempts, \
                     next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $10, $8, 'pending', 0, $9, $9) \
                     ON CONFLICT (notice_id, recipient, destination) DO NOTHING",
                )
                .bind(&d.id)
                .bind(notice_id)
                .bind(event)
                .bind(&d.recipient)
                .bind(&d.channel)
                .bind(&d.destination)
                .bind(&d.order_key)
                .bind(&d.content)
                .bind(at)
                .bind(&d.subject)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            if done {
                sqlx::query("UPDATE notices SET fanned_out_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(notice_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<u64, StoreError>(made)
        })?;
        Ok(made)
    }

    /// Claims up to `limit` due deliveries for `worker` until `now + claim_ms`, counting the
    /// attempt. Only the oldest pending delivery of each `order_key` is due, and none of a key
    /// with a delivery in flight (claimed): one destination, one attempt at a time.
    pub async fn claim_deliveries(
        &self,
        worker: &str,
        now: Timestamp,
        claim_ms: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let at = now.as_millisecond();
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        // The limit is written into the statement: SQLite prepares a statement whose `LIMIT`
        // is a bound parameter again at every run (its plan depends on the value), and the
        // delivery workers claim every second.
        let sql = format!(
            "UPDATE deliveries SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
             WHERE seq IN (SELECT d.seq FROM deliveries d \
                WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
                AND (d.claimed_until IS NULL OR d.claimed_until < $3) \
                AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.order_key = d.order_key \
                    AND e.state = 'pending' \
                    AND (e.seq < d.seq OR e.claimed_until >= $3)) \
                ORDER BY d.next_attempt_at, d.seq LIMIT {limit}{lock}) \
             AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < $3) \
             RETURNING {DELIVERY_COLUMNS}"
        );
        let rows: Vec<DeliveryRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(worker)
            .bind(at.saturating_add(claim_ms))
            .bind(at)
            .fetch_all(pool)
            .await)?;
        let mut out = rows
            .into_iter()
            .map(delivery_record)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|d| d.next_attempt_at);
        Ok(out)
    }

    /// Queues one delivery that no notice stands behind (a subscription's confirmation mail),
    /// due now, in place of the recipient's earlier deliveries of the same `event` that are
    /// neither sent nor being sent (an older confirmation's token no longer works). Returns its
    /// id.
    pub async fn enqueue_delivery(
        &self,
        event: &str,
        d: &NewDelivery,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let at = now.as_millisecond();
        let replace = "DELETE FROM deliveries WHERE recipient = $1 AND event = $2 \
                       AND state <> 'sent' AND (claimed_until IS NULL OR claimed_until < $3)";
        let insert = "INSERT INTO deliveries (id, notice_id, event, recipient, channel, \
                      destination, order_key, subject, content, state, attempts, \
                      next_attempt_at, created_at) \
                      VALUES ($1, NULL, $2, $3, $4, $5, $6, $9, $7, 'pending', 0, $8, $8)";
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(replace)
                .bind(&d.recipient)
                .bind(event)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(insert)
                .bind(&d.id)
                .bind(event)
                .bind(&d.recipient)
                .bind(&d.channel)
                .bind(&d.destination)
                .bind(&d.order_key)
                .bind(&d.content)
                .bind(at)
                .bind(&d.subject)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })?;
        Ok(d.id.clone())
    }

    /// Records the outcomes of attempts by `worker`, in one transaction (one commit for a
    /// whole group: on SQLite, many small write transactions mostly wait on each other's
    /// locks). Each outcome applies only while the worker's claim holds (`claimed_by`); the
    /// result says, per outcome, whether it did.
    pub async fn record_outcomes(
        &self,
        worker: &str,
        outcomes: &[(String, DeliveryOutcome)],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        // A confirmation mail carries a live token: once sent or given up, its stored copy is
        // dropped.
        let sent = "UPDATE deliveries SET state = 'sent', sent_at = $1, claimed_by = NULL, \
                    claimed_until = NULL, last_error = NULL, content = CASE WHEN event = \
                    'subscription.confirm' THEN '{}' ELSE content END \
                    WHERE id = $2 AND claimed_by = $3 AND state = 'pending'";
        let failed = "UPDATE deliveries SET state = $1, \
                      next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3, \
                      claimed_by = NULL, claimed_until = NULL, content = CASE WHEN $1 = 'failed' \
                      AND event = 'subscription.confirm' THEN '{}' ELSE content END \
                      WHERE id = $4 AND claimed_by = $5 AND state = 'pending'";
        let dropped =
            "DELETE FROM deliveries WHERE id = $1 AND claimed_by = $2 AND state = 'pending'";
        let at = now.as_millisecond();
        let applied = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut applied = Vec::with_capacity(outcomes.len());
            for (id, outcome) in outcomes {
                let n = match outcome {
                    DeliveryOutcome::Sent => {
                        sqlx::query(sent).bind(at).bind(id).bind(worker).execute(&mut *tx).await?
                    }
                    DeliveryOutcome::Failed { error, retry_at } => {
                        // A receiver's answer may hold anything; PostgreSQL's TEXT takes no NUL.
                        let error: String = error
                            .chars()
                            .map(|c| if c.is_control() { ' ' } else { c })
                            .take(1000)
                            .collect();
                        let state = if retry_at.is_some() {
                            DeliveryState::Pending
                        } else {
                            DeliveryState::Failed
                        };
                        sqlx::query(failed)
                            .bind(state.as_str())
                            .bind(retry_at.map(|t| t.as_millisecond()))
                            .bind(&error)
                            .bind(id)
                            .bind(worker)
                            .execute(&mut *tx)
                            .await?
                    }
                    DeliveryOutcome::Dropped => {
                        sqlx::query(dropped).bind(id).bind(worker).execute(&mut *tx).await?
                    }
                }
                .rows_affected();
                applied.push(n == 1);
            }
            tx.commit().await?;
            Ok::<Vec<bool>, StoreError>(applied)
        })?;
        Ok(applied)
    }

    /// Records a successful attempt. `false` when the claim was lost (another worker took the
    /// row after this claim expired): the row is left to that worker.
    pub async fn mark_sent(
        &self,
        id: &str,
        worker: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let outcome = [(id.to_owned(), DeliveryOutcome::Sent)];
        Ok(self.record_outcomes(worker, &outcome, now).await? == [true])
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up (`failed`) with `None`.
    pub async fn mark_attempt_failed(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let outcome = DeliveryOutcome::Failed {
            error: error.to_owned(),
            retry_at,
        };
        let now = retry_at.unwrap_or(Timestamp::UNIX_EPOCH);
        Ok(self
            .record_outcomes(worker, &[(id.to_owned(), outcome)], now)
            .await?
            == [true])
    }

    /// Deliveries in `state` (all when `None`), newest first.
    pub async fn list_deliveries(
        &self,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.deliveries_before(state, None, limit).await
    }

    /// Up to `limit` deliveries in `state` (all when `None`), newest first, starting after the
    /// delivery `before` (the last one of the previous page; none when it is gone).
    pub async fn deliveries_before(
        &self,
        state: Option<DeliveryState>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let limit = i64::from(limit);
        // One statement per shape, so each can use the `(state, seq)` index.
        let state_is = if state.is_some() {
            "state = $1"
        } else {
            "$1 IS NULL"
        };
        let after = if before.is_some() {
            "seq < (SELECT seq FROM deliveries WHERE id = $2)"
        } else {
            "$2 IS NULL"
        };
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {state_is} AND {after} \
             ORDER BY seq DESC LIMIT $3"
        );
        let rows: Vec<DeliveryRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(state.map(|s| s.as_str()))
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(delivery_record).collect()
    }

    /// One delivery.
    pub async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1");
        let row: Option<DeliveryRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(pool).await)?;
        row.map(delivery_record).transpose()
    }

    /// Puts a failed delivery back in the queue, due now (same id; its age counts from now),
    /// audited. Refused when it would arrive out of order — a later delivery of the same subject
    /// to the same destination was already sent (a PagerDuty trigger after its resolve) — or
    /// when its subscriber is gone.
    pub async fn retry_delivery(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<RetryOutcome, StoreError> {
        let at = now.as_millisecond();
        let Some(before) = self.get_delivery(id).await? else {
            return Ok(RetryOutcome::NotFailed);
        };
        if before.state != DeliveryState::Failed {
            return Ok(RetryOutcome::NotFailed);
        }
        if let Some(sub) = before.recipient.strip_prefix("subscriber:")
            && self.get_subscriber(sub).await?.is_none()
        {
            return Ok(RetryOutcome::RecipientGone);
        }
        // A later delivery of the subject sent, or being sent: this one would arrive after it.
        let later = "SELECT COUNT(*) FROM deliveries WHERE order_key = $1 AND subject = $2 \
                     AND (state = 'sent' OR (state = 'pending' AND claimed_until >= $4)) \
                     AND seq > (SELECT seq FROM deliveries WHERE id = $3)";
        let overtaken: i64 = with_pool!(self, pool => sqlx::query_scalar(later)
            .bind(&before.order_key)
            .bind(&before.subject)
            .bind(id)
            .bind(at)
            .fetch_one(pool)
            .await)?;
        if overtaken > 0 {
            return Ok(RetryOutcome::Overtaken);
        }
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "delivery.retry".into(),
            target: format!("delivery/{id}"),
            before: Some(before.audited()),
            after: None,
        };
        let sql = "UPDATE deliveries SET state = 'pending', next_attempt_at = $1, created_at = $1, \
                   claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND state = 'failed'";
        let retried = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(sql).bind(at).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                insert_audit!(&mut *tx, at, &audit)?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok::<bool, StoreError>(n == 1)
        })?;
        Ok(if retried {
            RetryOutcome::Retried
        } else {
            RetryOutcome::NotFailed
        })
    }

    /// When a maintenance was last announced to subscribers (scheduled or rescheduled), from
    /// the outbox; `None` when no such notice is kept.
    pub async fn last_announcement(
        &self,
        maintenance_id: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        let sql = "SELECT MAX(created_at) FROM notices \
                   WHERE dedup_key LIKE $1 OR dedup_key LIKE $2";
        let at: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(format!("maintenance:{maintenance_id}:scheduled:%"))
            .bind(format!("maintenance:{maintenance_id}:rescheduled:%"))
            .fetch_one(pool)
            .await)?;
        at.map(crate::timestamp).transpose()
    }

    /// Forgets what is done: notices fanned out and deliveries sent or given up, created before
    /// `before`. Returns how many notices and deliveries were deleted.
    pub async fn prune_outbox(&self, before: Timestamp) -> Result<(u64, u64), StoreError> {
        let at = before.as_millisecond();
        let notices = "DELETE FROM notices WHERE fanned_out_at IS NOT NULL AND created_at < $1";
        let deliveries = "DELETE FROM deliveries WHERE state <> 'pending' AND created_at < $1";
        let n = with_pool!(self, pool => sqlx::query(notices).bind(at).execute(pool).await
            .map(|r| r.rows_affected()))?;
        let d = with_pool!(self, pool => sqlx::query(deliveries).bind(at).execute(pool).await
            .map(|r| r.rows_affected()))?;
        Ok((n, d))
    }

    /// Depth and age of the outbox, for `/metrics`.
    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let sql = "SELECT \
            (SELECT COUNT(*) FROM notices WHERE fanned_out_at IS NULL), \
            (SELECT COUNT(*) FROM deliveries WHERE state = 'pending'), \
            (SELECT MIN(created_at) FROM notices WHERE fanned_out_at IS NULL), \
            (SELECT MIN(created_at) FROM deliveries WHERE state = 'pending'), \
            (SELECT COUNT(*) FROM deliveries WHERE state = 'failed')";
        let (unfanned, pending, oldest_notice, oldest_delivery, failed): (
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            i64,
        ) = with_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
        let oldest = match (oldest_notice, oldest_delivery) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(OutboxStats {
            unfanned,
            pending,
            oldest: oldest.map(crate::timestamp).transpose()?,
            failed,
        })
    }

    /// The value of the setting `name`, made by `make` and stored the first time it is asked
    /// for (the first writer wins across replicas).
    pub async fn setting_or_insert(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        let value = make();
        let insert = "INSERT INTO settings (name, value) VALUES ($1, $2) \
                      ON CONFLICT (name) DO NOTHING";
        with_pool!(self, pool => sqlx::query(insert).bind(name).bind(&value).execute(pool).await.map(|_| ()))?;
        let select = "SELECT value FROM settings WHERE name = $1";
        let stored: String =
            with_pool!(self, pool => sqlx::query_scalar(select).bind(name).fetch_one(pool).await)?;
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_destination;

    #[test]
    fn destinations_are_shown_without_url_paths_and_queries() {
        assert_eq!(
            redact_destination("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_destination("http://127.0.0.1:9100/hook?token=abc"),
            "http://127.0.0.1:9100/…"
        );
        assert_eq!(
            redact_destination("https://example.com/"),
            "https://example.com"
        );
        assert_eq!(redact_destination("ops@example.com"), "o…@example.com");
        for shown in [
            "https://hooks.slack.com/…",
            "https://example.com",
            "o…@example.com",
        ] {
            assert_eq!(redact_destination(shown), shown, "idempotent");
        }
    }
}
