//! Operator alerts as notified (`alert_states`): which alerts fire, since when, whether anyone
//! was told (an alert on a component under maintenance is held back until the window ends),
//! when it was last sent, and who acknowledged it.
//!
//! The engine follows the operator event log (`monitor_events`) and applies what it reads with
//! [`Store::apply_alert_changes`]: the states, their notices and the follower's cursor in one
//! transaction, so an event is turned into notices exactly once.

use crate::BeginWrite;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use upkeep_domain::config::Severity;
use upkeep_domain::notify::{AlertNotice, AlertState, Notice};

use crate::audit::{AuditEntry, insert_audit};
use crate::outbox::insert_notice;
use crate::{Store, StoreError, with_pool};

/// A firing alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertStateRecord {
    pub key: String,
    pub severity: Severity,
    pub component: Option<String>,
    pub since: Timestamp,
    pub summary: String,
    pub detail: String,
    /// Whether a firing notice went out (false while a maintenance holds it back).
    pub notified: bool,
    pub last_notified_at: Option<Timestamp>,
    /// Re-notifications sent.
    pub repeats: i64,
    pub acknowledged_at: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
}

impl AlertStateRecord {
    /// The notice of this alert in `state` at `at`.
    pub fn notice(&self, state: AlertState, at: Timestamp) -> AlertNotice {
        AlertNotice {
            key: self.key.clone(),
            state,
            severity: self.severity,
            component: self.component.clone(),
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            since: self.since,
            at,
        }
    }
}

/// One change read from the operator event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertChange {
    /// The alert fires (`notice.state` is firing); `suppressed`: a maintenance covers it, so it
    /// is recorded but nobody is told yet.
    Fire {
        notice: AlertNotice,
        suppressed: bool,
        event_id: i64,
    },
    /// The alert recovered.
    Resolve {
        key: String,
        at: Timestamp,
        detail: String,
        event_id: i64,
    },
}

type StateRow = (
    String,
    String,
    Option<String>,
    i64,
    String,
    String,
    bool,
    Option<i64>,
    i64,
    Option<i64>,
    Option<String>,
);

const COLUMNS: &str = "key, severity, component, since, summary, detail, notified, \
    last_notified_at, repeats, acknowledged_at, acknowledged_by";

fn record(row: StateRow) -> Result<AlertStateRecord, StoreError> {
    let (key, severity, component, since, summary, detail, notified, last, repeats, ack, by) = row;
    let severity = Severity::ALL
        .iter()
        .find(|(name, _)| *name == severity)
        .map(|(_, s)| *s)
        .ok_or_else(|| StoreError::Corrupt(format!("alert {key}: severity `{severity}`")))?;
    Ok(AlertStateRecord {
        key,
        severity,
        component,
        since: crate::timestamp(since)?,
        summary,
        detail,
        notified,
        last_notified_at: last.map(crate::timestamp).transpose()?,
        repeats,
        acknowledged_at: ack.map(crate::timestamp).transpose()?,
        acknowledged_by: by,
    })
}

macro_rules! state_of {
    ($exec:expr, $key:expr) => {{
        let sql = "SELECT key, severity, component, since, summary, detail, notified, \
                   last_notified_at, repeats, acknowledged_at, acknowledged_by \
                   FROM alert_states WHERE key = $1";
        sqlx::query_as::<_, StateRow>(sql)
            .bind($key)
            .fetch_optional($exec)
            .await
    }};
}

impl Store {
    /// Applies changes read from the event log and moves the follower's `cursor` (name,
    /// position) forward, in one transaction. A firing alert already firing only refreshes its
    /// text; a resolved one is forgotten, with a resolved notice when a firing one went out.
    pub async fn apply_alert_changes(
        &self,
        changes: &[AlertChange],
        cursor: Option<(&str, crate::incidents::EventPosition)>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let at = now.as_millisecond();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for change in changes {
                match change {
                    AlertChange::Fire { notice, suppressed, event_id } => {
                        let existing = state_of!(&mut *tx, &notice.key)?;
                        if existing.is_some() {
                            sqlx::query(
                                "UPDATE alert_states SET summary = $1, detail = $2 WHERE key = $3",
                            )
                            .bind(&notice.summary)
                            .bind(&notice.detail)
                            .bind(&notice.key)
                            .execute(&mut *tx)
                            .await?;
                            continue;
                        }
                        let notified = !suppressed;
                        sqlx::query(
                            "INSERT INTO alert_states (key, severity, component, firing, since, \
                             summary, detail, notified, last_notified_at, repeats) \
                             VALUES ($1, $2, $3, TRUE, $4, $5, $6, $7, $8, 0)",
                        )
                        .bind(&notice.key)
                        .bind(notice.severity.as_str())
                        .bind(&notice.component)
                        .bind(notice.since.as_millisecond())
                        .bind(&notice.summary)
                        .bind(&notice.detail)
                        .bind(notified)
                        .bind(notified.then_some(at))
                        .execute(&mut *tx)
                        .await?;
                        if notified {
                            let key = format!("alert:{}:{event_id}:firing", notice.key);
                            insert_notice!(&mut *tx, at, &key, &Notice::Alert(notice.clone()))?;
                        }
                    }
                    AlertChange::Resolve { key, at: resolved_at, detail, event_id } => {
                        let Some(row) = state_of!(&mut *tx, key)? else {
                            continue;
                        };
                        let state = record(row)?;
                        sqlx::query("DELETE FROM alert_states WHERE key = $1")
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                        if state.notified {
                            let mut notice = state.notice(AlertState::Resolved, *resolved_at);
                            notice.detail.clone_from(detail);
                            let dedup = format!("alert:{key}:{event_id}:resolved");
                            insert_notice!(&mut *tx, at, &dedup, &Notice::Alert(notice))?;
                        }
                    }
                }
            }
            if let Some((name, position)) = cursor {
                // Forward only: a replica that held the lease a moment too long cannot move it
                // back and replay events.
                sqlx::query(
                    "INSERT INTO cursors (name, xid, position, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO UPDATE SET xid = excluded.xid, \
                     position = excluded.position, updated_at = excluded.updated_at \
                     WHERE (cursors.xid, cursors.position) < (excluded.xid, excluded.position)",
                )
                .bind(name)
                .bind(position.xid)
                .bind(position.id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })?;
        Ok(())
    }

    /// One firing alert.
    pub async fn alert_state(&self, key: &str) -> Result<Option<AlertStateRecord>, StoreError> {
        let row = with_pool!(self, pool => state_of!(pool, key))?;
        row.map(record).transpose()
    }

    /// One page of firing alerts, oldest first: at most `limit` after `after` (the `since` and
    /// key of the previous page's last alert), and how many fire in all.
    pub async fn alert_states_page(
        &self,
        after: Option<(Timestamp, &str)>,
        limit: u32,
    ) -> Result<(Vec<AlertStateRecord>, i64), StoreError> {
        let limit = i64::from(limit);
        let rows: Vec<StateRow> = match after {
            None => {
                let sql =
                    format!("SELECT {COLUMNS} FROM alert_states ORDER BY since, key LIMIT $1");
                with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(limit).fetch_all(pool).await)?
            }
            Some((since, key)) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM alert_states WHERE since > $1 OR (since = $1 AND key > $2) \
                     ORDER BY since, key LIMIT $3"
                );
                with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(since.as_millisecond()).bind(key).bind(limit).fetch_all(pool).await)?
            }
        };
        let total: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM alert_states").fetch_one(pool).await)?;
        Ok((
            rows.into_iter().map(record).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// Firing alerts, oldest first.
    pub async fn alert_states(&self) -> Result<Vec<AlertStateRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM alert_states ORDER BY since, key");
        let rows: Vec<StateRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await)?;
        rows.into_iter().map(record).collect()
    }

    /// Sends an alert again (`state`: a first firing notice once a maintenance no longer holds
    /// it back, or a repeat), if it is still as `seen` (same `last_notified_at`), in one
    /// transaction. `false` when it changed meanwhile (another replica sent it, it resolved).
    pub async fn notify_alert_again(
        &self,
        seen: &AlertStateRecord,
        state: AlertState,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let at = now.as_millisecond();
        let repeat = i64::from(state == AlertState::Repeat);
        let last = seen.last_notified_at.map(|t| t.as_millisecond());
        let notice = Notice::Alert(seen.notice(state, now));
        let dedup = format!("alert:{}:{}:{}", seen.key, state.as_str(), at);
        let sent = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // A repeat never follows an acknowledgement that committed meanwhile.
            let n = sqlx::query(
                "UPDATE alert_states SET notified = TRUE, last_notified_at = $1, \
                 repeats = repeats + $2 WHERE key = $3 AND \
                 ((last_notified_at IS NULL AND $4 IS NULL) OR last_notified_at = $4) \
                 AND ($2 = 0 OR acknowledged_at IS NULL)",
            )
            .bind(at)
            .bind(repeat)
            .bind(&seen.key)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                insert_notice!(&mut *tx, at, &dedup, &notice)?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok::<bool, StoreError>(n == 1)
        })?;
        Ok(sent)
    }

    /// An operator takes a firing alert: re-notification stops and PagerDuty is told
    /// (acknowledge). Audited. `None` when no such alert fires; an alert acknowledged before is
    /// returned as it is.
    pub async fn acknowledge_alert(
        &self,
        key: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<AlertStateRecord>, StoreError> {
        let at = now.as_millisecond();
        let done = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let Some(row) = state_of!(&mut *tx, key)? else {
                return Ok(None);
            };
            let mut state = record(row)?;
            if state.acknowledged_at.is_some() {
                return Ok(Some(state));
            }
            let n = sqlx::query(
                "UPDATE alert_states SET acknowledged_at = $1, acknowledged_by = $2 \
                 WHERE key = $3 AND acknowledged_at IS NULL",
            )
            .bind(at)
            .bind(actor)
            .bind(key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                // Another acknowledgement got there first.
                tx.rollback().await?;
                return self.alert_state(key).await;
            }
            state.acknowledged_at = Some(now);
            state.acknowledged_by = Some(actor.to_owned());
            let audit = AuditEntry {
                actor: actor.to_owned(),
                action: "alert.acknowledge".into(),
                target: format!("alert/{key}"),
                before: None,
                after: Some(json!(state)),
            };
            insert_audit!(&mut *tx, at, &audit)?;
            if state.notified {
                let dedup = format!("alert:{key}:acknowledged:{at}");
                let notice = Notice::Alert(state.notice(AlertState::Acknowledged, now));
                insert_notice!(&mut *tx, at, &dedup, &notice)?;
            }
            tx.commit().await?;
            Ok::<Option<AlertStateRecord>, StoreError>(Some(state))
        })?;
        Ok(done)
    }
}
