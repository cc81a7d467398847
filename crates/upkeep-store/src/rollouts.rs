//! Rollouts as stored (`docs/rollouts.md`): the rollout of a maintenance, each tenant's step and
//! every attempt.
//!
//! Invariants:
//! - Every change is one transaction with its audit row (and the operator events it causes):
//!   a rollout's state, a tenant's state with its decision and evidence, an attempt's intent or
//!   outcome.
//! - Every change is conditional on the `revision` it was computed from (a change from a stale
//!   read is a [`StoreError::Conflict`]), and a change by the replica driving rollouts also on
//!   its fencing token: the token of the `leader` lease when it was read ([`Store::lease_token`]).
//!   The rollout keeps the highest token that wrote to it; a write with a lower one (a replica
//!   that lost the lease and does not know yet) is refused with a conflict ([`is_fenced`]).
//! - An attempt is stored before it runs (no outcome) and its outcome after: an attempt without
//!   an outcome means upkeep stopped during it.
//! - A tenant's subscribers are told of their own update in the transaction of the change that
//!   causes it ([`upkeep_domain::rollout::notice`]): a new action attempt (started), the tenant
//!   becoming `passed` (completed) or `rolled_back`; keyed per maintenance, tenant, event and
//!   action attempt, so a notice is never written twice.

use crate::BeginWrite;
use jiff::Timestamp;
use serde_json::json;
use upkeep_domain::rollout::gate::Judgement;
use upkeep_domain::rollout::machine::{AttemptView, Change, Phase, RolloutView, TenantView};
use upkeep_domain::rollout::{
    Outcome, RolloutSpec, RolloutState, Step, TenantState, idempotency_key,
};

use upkeep_domain::rollout::notice::{self, TenantUpdate};

use crate::audit::{AuditEntry, insert_audit};
use crate::monitoring::{MonitorEvent, write_events};
use crate::outbox::insert_notice;
use crate::{Store, StoreError, with_pool};

/// The message of the [`StoreError::Conflict`] a fenced-off write gets.
pub const FENCED: &str = "fenced: another replica drives this rollout now";

/// Whether `error` is a write refused by the fencing token.
pub fn is_fenced(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict(message) if message == FENCED)
}

/// A rollout with its tenants and their attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutRecord {
    pub maintenance_id: String,
    pub state: RolloutState,
    pub spec: RolloutSpec,
    /// Why it is in its state.
    pub reason: String,
    /// Goes up with every stored change.
    pub revision: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// In rollout order.
    pub tenants: Vec<RolloutTenant>,
}

/// One tenant's step.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutTenant {
    pub tenant: String,
    pub state: TenantState,
    pub slot_start: Timestamp,
    pub slot_end: Timestamp,
    /// When it entered its state.
    pub since: Timestamp,
    /// The last decision about it, in a sentence.
    pub decision: Option<String>,
    /// The last gate judgement, with its evidence.
    pub evidence: Option<Judgement>,
    /// Oldest first.
    pub attempts: Vec<Attempt>,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub step: Step,
    pub attempt: u32,
    pub idempotency_key: String,
    pub started_at: Timestamp,
    /// How many times it was started (more than one only under `on_unknown: retry`).
    pub runs: u32,
    pub finished_at: Option<Timestamp>,
    pub outcome: Option<Outcome>,
    /// What it printed or answered (its tail), or why it failed to start.
    pub detail: Option<String>,
}

impl RolloutRecord {
    /// The view the state machine reads, for a maintenance in `phase` ending at `window_end`.
    pub fn view(&self, phase: Phase, window_end: Timestamp) -> RolloutView {
        RolloutView {
            maintenance: self.maintenance_id.clone(),
            state: self.state,
            spec: self.spec.clone(),
            phase,
            window_end,
            tenants: self
                .tenants
                .iter()
                .map(|t| TenantView {
                    tenant: t.tenant.clone(),
                    state: t.state,
                    slot_start: t.slot_start,
                    slot_end: t.slot_end,
                    since: t.since,
                    attempts: t
                        .attempts
                        .iter()
                        .map(|a| AttemptView {
                            step: a.step,
                            attempt: a.attempt,
                            outcome: a.outcome,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A tenant's place in a new rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTenant {
    pub tenant: String,
    pub slot_start: Timestamp,
    pub slot_end: Timestamp,
}

/// The attempt a driver is about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptStart {
    pub tenant: String,
    pub step: Step,
    pub attempt: u32,
    /// Started before (a crash left it without outcome) and run again with the same key.
    pub resumed: bool,
}

/// An attempt's outcome and what it does to the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    pub tenant: String,
    pub step: Step,
    pub attempt: u32,
    pub outcome: Outcome,
    pub detail: Option<String>,
    /// The tenant's state after it ([`upkeep_domain::rollout::machine::after_outcome`]).
    pub tenant_state: TenantState,
    /// The decision shown for the tenant.
    pub decision: String,
}

/// Who writes: the driver with its fencing token, or a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer<'a> {
    /// The replica driving rollouts, with the token of its lease.
    Driver(i64),
    /// An operator (`token:ID (NAME)`, `cli:USER`).
    Person(&'a str),
}

impl Writer<'_> {
    fn actor(&self) -> &str {
        match self {
            Writer::Driver(_) => "system",
            Writer::Person(actor) => actor,
        }
    }

    fn fence(&self) -> Option<i64> {
        match self {
            Writer::Driver(token) => Some(*token),
            Writer::Person(_) => None,
        }
    }
}

type RolloutRow = (String, String, String, String, i64, i64, i64);
type TenantRow = (
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
);
type AttemptRow = (
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("rollout {id}: {what}"))
}

fn count(id: &str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(id, format_args!("bad count {n}")))
}

/// Fence check, then the revision bump: evaluates to `Result<(), StoreError>` inside `$tx`.
macro_rules! claim {
    ($tx:ident, $id:expr, $revision:expr, $writer:expr, $now_ms:expr) => {{
        let id: &str = $id;
        let mut result: Result<(), StoreError> = Ok(());
        if let Some(token) = $writer.fence() {
            let fenced = sqlx::query(
                "UPDATE rollouts SET fence = $1 WHERE maintenance_id = $2 AND fence <= $1",
            )
            .bind(token)
            .bind(id)
            .execute(&mut *$tx)
            .await
            .map(|done| done.rows_affected());
            match fenced {
                Ok(1) => {}
                Ok(_) => result = Err(StoreError::Conflict(FENCED.to_owned())),
                Err(e) => result = Err(e.into()),
            }
        }
        if result.is_ok() {
            let bumped = sqlx::query(
                "UPDATE rollouts SET revision = revision + 1, updated_at = $1 \
                 WHERE maintenance_id = $2 AND revision = $3",
            )
            .bind($now_ms)
            .bind(id)
            .bind($revision)
            .execute(&mut *$tx)
            .await
            .map(|done| done.rows_affected());
            match bumped {
                Ok(1) => {}
                Ok(_) => {
                    result = Err(StoreError::Conflict(format!(
                        "rollout {id} changed since it was read"
                    )))
                }
                Err(e) => result = Err(e.into()),
            }
        }
        result
    }};
}

/// Writes the notice of `event` (`Option<RolloutEvent>`) about `tenant`'s update at `now`
/// inside `$tx`, from the maintenance and the tenant's step as stored in it: evaluates to
/// `Result<(), StoreError>`.
macro_rules! tenant_notice {
    ($tx:ident, $id:expr, $tenant:expr, $event:expr, $now:expr) => {{
        let now: Timestamp = $now;
        let id: &str = $id;
        let tenant: &str = $tenant;
        let event: Option<upkeep_domain::notify::RolloutEvent> = $event;
        let mut result: Result<(), StoreError> = Ok(());
        if let Some(event) = event {
            let facts: Result<Option<(String, String, bool, i64, i64, i64)>, sqlx::Error> =
                sqlx::query_as(
                    "SELECT m.title, m.components, m.notify_subscribers, t.slot_start, \
                     t.slot_end, COALESCE((SELECT MAX(a.attempt) FROM rollout_attempts a \
                     WHERE a.maintenance_id = t.maintenance_id AND a.tenant = t.tenant \
                     AND a.step = 'action'), 0) \
                     FROM maintenances m JOIN rollout_tenants t ON t.maintenance_id = m.id \
                     WHERE m.id = $1 AND t.tenant = $2",
                )
                .bind(id)
                .bind(tenant)
                .fetch_optional(&mut *$tx)
                .await;
            result = match facts {
                Err(e) => Err(e.into()),
                Ok(None) => Ok(()),
                Ok(Some((title, components, notify_subscribers, start, end, attempt))) => {
                    match update_facts(
                        id,
                        tenant,
                        title,
                        &components,
                        notify_subscribers,
                        (start, end),
                        attempt,
                    ) {
                        Err(e) => Err(e),
                        Ok(update) => match notice::tenant_notice(&update, event, now) {
                            Some((key, notice)) => {
                                insert_notice!(&mut *$tx, now.as_millisecond(), &key, &notice)
                                    .map(drop)
                                    .map_err(StoreError::from)
                            }
                            None => Ok(()),
                        },
                    }
                }
            };
        }
        result
    }};
}

/// The facts of a tenant's update from their stored form.
fn update_facts(
    id: &str,
    tenant: &str,
    title: String,
    components: &str,
    notify_subscribers: bool,
    (start, end): (i64, i64),
    attempt: i64,
) -> Result<TenantUpdate, StoreError> {
    Ok(TenantUpdate {
        maintenance: id.to_owned(),
        title,
        components: serde_json::from_str(components).map_err(|e| corrupt(id, e))?,
        notify_subscribers,
        tenant: tenant.to_owned(),
        slot_start: crate::timestamp(start)?,
        slot_end: crate::timestamp(end)?,
        action_attempt: count(id, attempt)?,
    })
}

/// Records the outcome of an attempt still open (no outcome yet) inside `$tx`: evaluates to
/// `Result<u64, sqlx::Error>`, the number of attempts closed (0 or 1).
macro_rules! close_attempt {
    ($tx:ident, $id:expr, $tenant:expr, $step:expr, $attempt:expr, $outcome:expr, $detail:expr, $now_ms:expr) => {{
        let (step, outcome): (Step, Outcome) = ($step, $outcome);
        let detail: Option<&str> = $detail;
        sqlx::query(
            "UPDATE rollout_attempts SET outcome = $1, finished_at = $2, detail = $3 \
             WHERE maintenance_id = $4 AND tenant = $5 AND step = $6 AND attempt = $7 \
             AND outcome IS NULL",
        )
        .bind(outcome.as_str())
        .bind($now_ms)
        .bind(detail)
        .bind($id)
        .bind($tenant)
        .bind(step.as_str())
        .bind(i64::from($attempt))
        .execute(&mut *$tx)
        .await
        .map(|done| done.rows_affected())
    }};
}

impl Store {
    /// The fencing token of lease `name` if `holder` holds it at `now`.
    pub async fn lease_token(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT token FROM leases WHERE name = $1 AND holder = $2 AND expires_at > $3";
        let token: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(name)
            .bind(holder)
            .bind(now.as_millisecond())
            .fetch_optional(pool)
            .await)?;
        Ok(token)
    }

    /// Starts the rollout of maintenance `maintenance_id` with `tenants` in rollout order, in
    /// state `pending`, unless it exists. Returns whether this call created it.
    pub async fn create_rollout(
        &self,
        maintenance_id: &str,
        spec: &RolloutSpec,
        tenants: &[PlannedTenant],
        writer: Writer<'_>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let now_ms = now.as_millisecond();
        let spec_text = serde_json::to_string(spec).map_err(|e| corrupt(maintenance_id, e))?;
        let audit = AuditEntry {
            actor: writer.actor().to_owned(),
            action: "rollout.create".into(),
            target: format!("maintenance/{maintenance_id}/rollout"),
            before: None,
            after: Some(json!({
                "state": RolloutState::Pending.as_str(),
                "spec": spec.redacted(),
                "tenants": tenants.iter().map(|t| json!({
                    "tenant": t.tenant,
                    "slot": { "start": t.slot_start.to_string(), "end": t.slot_end.to_string() },
                })).collect::<Vec<_>>(),
            })),
        };
        let fence = writer.fence().unwrap_or(0);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO rollouts (maintenance_id, state, spec, reason, fence, revision, \
                 created_at, updated_at) VALUES ($1, $2, $3, '', $4, 0, $5, $5) \
                 ON CONFLICT (maintenance_id) DO NOTHING",
            )
            .bind(maintenance_id)
            .bind(RolloutState::Pending.as_str())
            .bind(&spec_text)
            .bind(fence)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                for (position, t) in tenants.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO rollout_tenants (maintenance_id, tenant, position, state, \
                         slot_start, slot_end, since) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(maintenance_id)
                    .bind(&t.tenant)
                    .bind(position as i64)
                    .bind(TenantState::Pending.as_str())
                    .bind(t.slot_start.as_millisecond())
                    .bind(t.slot_end.as_millisecond())
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                insert_audit!(&mut *tx, now_ms, &audit)?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(inserted)
        })
    }

    /// The rollout of maintenance `maintenance_id`, if it has started.
    pub async fn rollout(&self, maintenance_id: &str) -> Result<Option<RolloutRecord>, StoreError> {
        let row: Option<RolloutRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT maintenance_id, state, spec, reason, revision, created_at, updated_at \
             FROM rollouts WHERE maintenance_id = $1",
        )
        .bind(maintenance_id)
        .fetch_optional(pool)
        .await)?;
        let Some((id, state, spec, reason, revision, created_at, updated_at)) = row else {
            return Ok(None);
        };
        let tenants: Vec<TenantRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT tenant, state, slot_start, slot_end, since, decision, evidence \
             FROM rollout_tenants WHERE maintenance_id = $1 ORDER BY position",
        )
        .bind(maintenance_id)
        .fetch_all(pool)
        .await)?;
        let attempts: Vec<AttemptRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT tenant, step, attempt, idempotency_key, started_at, runs, finished_at, \
             outcome, detail FROM rollout_attempts WHERE maintenance_id = $1 \
             ORDER BY started_at, step, attempt",
        )
        .bind(maintenance_id)
        .fetch_all(pool)
        .await)?;
        let mut record = RolloutRecord {
            state: RolloutState::parse(&state)
                .ok_or_else(|| corrupt(&id, format_args!("unknown state `{state}`")))?,
            spec: serde_json::from_str(&spec).map_err(|e| corrupt(&id, e))?,
            reason,
            revision,
            created_at: crate::timestamp(created_at)?,
            updated_at: crate::timestamp(updated_at)?,
            tenants: Vec::with_capacity(tenants.len()),
            maintenance_id: id.clone(),
        };
        for (tenant, state, slot_start, slot_end, since, decision, evidence) in tenants {
            record.tenants.push(RolloutTenant {
                state: TenantState::parse(&state).ok_or_else(|| {
                    corrupt(&id, format_args!("{tenant}: unknown state `{state}`"))
                })?,
                slot_start: crate::timestamp(slot_start)?,
                slot_end: crate::timestamp(slot_end)?,
                since: crate::timestamp(since)?,
                decision,
                evidence: match evidence {
                    Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt(&id, e))?),
                    None => None,
                },
                attempts: Vec::new(),
                tenant,
            });
        }
        for (tenant, step, attempt, key, started_at, runs, finished_at, outcome, detail) in attempts
        {
            let attempt =
                Attempt {
                    step: Step::parse(&step)
                        .ok_or_else(|| corrupt(&id, format_args!("unknown step `{step}`")))?,
                    attempt: count(&id, attempt)?,
                    idempotency_key: key,
                    started_at: crate::timestamp(started_at)?,
                    runs: count(&id, runs)?,
                    finished_at: finished_at.map(crate::timestamp).transpose()?,
                    outcome: match outcome {
                        Some(text) => Some(Outcome::parse(&text).ok_or_else(|| {
                            corrupt(&id, format_args!("unknown outcome `{text}`"))
                        })?),
                        None => None,
                    },
                    detail,
                };
            match record.tenants.iter_mut().find(|t| t.tenant == tenant) {
                Some(t) => t.attempts.push(attempt),
                None => {
                    return Err(corrupt(
                        &id,
                        format_args!("attempt of unknown tenant `{tenant}`"),
                    ));
                }
            }
        }
        Ok(Some(record))
    }

    /// The results of `monitors` in `[from, until)`, oldest first: what a gate is judged on.
    pub async fn gate_results(
        &self,
        monitors: &[String],
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<crate::monitoring::StoredResult>, StoreError> {
        let mut all = Vec::new();
        for monitor in monitors {
            all.extend(self.results_between(monitor, from, until).await?);
        }
        all.sort_by_key(|r| (r.at, r.id));
        Ok(all)
    }

    /// The maintenances whose rollout is not over (`completed` or `aborted`), by id.
    pub async fn unfinished_rollouts(&self) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT maintenance_id FROM rollouts WHERE state NOT IN ('completed', 'aborted') \
             ORDER BY maintenance_id",
        )
        .fetch_all(pool)
        .await)?;
        Ok(ids)
    }

    /// The maintenances that carry a rollout, have started (in progress, verifying or
    /// completed, or cancelled) and have no rollout row yet, by id: those whose rollout the
    /// driver creates.
    pub async fn rollouts_to_create(&self) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT m.id FROM maintenances m LEFT JOIN rollouts r ON r.maintenance_id = m.id \
             WHERE m.rollout IS NOT NULL AND r.maintenance_id IS NULL \
             AND m.status IN ('in_progress', 'verifying', 'completed') ORDER BY m.id",
        )
        .fetch_all(pool)
        .await)?;
        Ok(ids)
    }

    /// Stores `change` (computed from `revision`), with `evidence` for the tenant it changes, its
    /// audit row and `events`, in one transaction. Returns the rollout as it is now.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_rollout_change(
        &self,
        maintenance_id: &str,
        revision: i64,
        writer: Writer<'_>,
        change: &Change,
        evidence: Option<&Judgement>,
        events: &[MonitorEvent],
        now: Timestamp,
    ) -> Result<RolloutRecord, StoreError> {
        let now_ms = now.as_millisecond();
        let evidence_text = evidence
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt(maintenance_id, e))?;
        let audit = AuditEntry {
            actor: writer.actor().to_owned(),
            action: "rollout.change".into(),
            target: format!("maintenance/{maintenance_id}/rollout"),
            before: None,
            after: Some(json!({
                "state": change.rollout.map(RolloutState::as_str),
                "tenant": change.tenant.as_ref().map(|(t, s)| json!({ "tenant": t, "state": s.as_str() })),
                "unknown_attempt": change.unknown.as_ref().map(|(t, step, n)| json!({
                    "tenant": t, "step": step.as_str(), "attempt": n,
                })),
                "reason": change.reason,
                "evidence": evidence,
            })),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            claim!(tx, maintenance_id, revision, writer, now_ms)?;
            if let Some(state) = change.rollout {
                sqlx::query("UPDATE rollouts SET state = $1, reason = $2 WHERE maintenance_id = $3")
                    .bind(state.as_str())
                    .bind(&change.reason)
                    .bind(maintenance_id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some((tenant, state)) = &change.tenant {
                let done = sqlx::query(
                    "UPDATE rollout_tenants SET state = $1, since = $2, decision = $3, \
                     evidence = COALESCE($4, evidence) WHERE maintenance_id = $5 AND tenant = $6",
                )
                .bind(state.as_str())
                .bind(now_ms)
                .bind(&change.reason)
                .bind(&evidence_text)
                .bind(maintenance_id)
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict(format!("the rollout has no tenant `{tenant}`")));
                }
                tenant_notice!(tx, maintenance_id, tenant, notice::on_state(*state), now)?;
            }
            if let Some((tenant, step, attempt)) = &change.unknown {
                close_attempt!(
                    tx,
                    maintenance_id,
                    tenant,
                    *step,
                    *attempt,
                    Outcome::Unknown,
                    Some(change.reason.as_str()),
                    now_ms
                )?;
            }
            insert_audit!(&mut *tx, now_ms, &audit)?;
            write_events!(tx, events)?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.rollout(maintenance_id)
            .await?
            .ok_or_else(|| corrupt(maintenance_id, "vanished"))
    }

    /// Stores the intent of an attempt before it runs (a resumed one counts one more run), and
    /// the tenant's move to `acting` or `rolling_back`, in one transaction. Returns the
    /// attempt's idempotency key.
    pub async fn begin_attempt(
        &self,
        maintenance_id: &str,
        revision: i64,
        writer: Writer<'_>,
        start: &AttemptStart,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let now_ms = now.as_millisecond();
        let key = idempotency_key(maintenance_id, &start.tenant, start.step, start.attempt);
        let state = match start.step {
            Step::Action => TenantState::Acting,
            Step::Rollback => TenantState::RollingBack,
        };
        let audit = AuditEntry {
            actor: writer.actor().to_owned(),
            action: "rollout.attempt".into(),
            target: format!("maintenance/{maintenance_id}/rollout"),
            before: None,
            after: Some(json!({
                "tenant": start.tenant, "step": start.step.as_str(), "attempt": start.attempt,
                "idempotency_key": key, "resumed": start.resumed,
            })),
        };
        let decision = format!(
            "{} attempt {} {}",
            start.step,
            start.attempt,
            if start.resumed {
                "run again (same idempotency key)"
            } else {
                "started"
            }
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            claim!(tx, maintenance_id, revision, writer, now_ms)?;
            if start.resumed {
                sqlx::query(
                    "UPDATE rollout_attempts SET runs = runs + 1 WHERE maintenance_id = $1 \
                     AND tenant = $2 AND step = $3 AND attempt = $4 AND outcome IS NULL",
                )
                .bind(maintenance_id)
                .bind(&start.tenant)
                .bind(start.step.as_str())
                .bind(i64::from(start.attempt))
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO rollout_attempts (maintenance_id, tenant, step, attempt, \
                     idempotency_key, started_at, runs) VALUES ($1, $2, $3, $4, $5, $6, 1)",
                )
                .bind(maintenance_id)
                .bind(&start.tenant)
                .bind(start.step.as_str())
                .bind(i64::from(start.attempt))
                .bind(&key)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE rollout_tenants SET state = $1, since = $2, decision = $3 \
                 WHERE maintenance_id = $4 AND tenant = $5",
            )
            .bind(state.as_str())
            .bind(now_ms)
            .bind(&decision)
            .bind(maintenance_id)
            .bind(&start.tenant)
            .execute(&mut *tx)
            .await?;
            let event = notice::on_start(start.step, start.resumed);
            tenant_notice!(tx, maintenance_id, &start.tenant, event, now)?;
            insert_audit!(&mut *tx, now_ms, &audit)?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(key)
    }

    /// Stores an attempt's outcome and the tenant's state after it (with `events`), in one
    /// transaction. Returns the rollout as it is now.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_attempt(
        &self,
        maintenance_id: &str,
        revision: i64,
        writer: Writer<'_>,
        end: &AttemptEnd,
        events: &[MonitorEvent],
        now: Timestamp,
    ) -> Result<RolloutRecord, StoreError> {
        let now_ms = now.as_millisecond();
        let audit = AuditEntry {
            actor: writer.actor().to_owned(),
            action: "rollout.outcome".into(),
            target: format!("maintenance/{maintenance_id}/rollout"),
            before: None,
            after: Some(json!({
                "tenant": end.tenant, "step": end.step.as_str(), "attempt": end.attempt,
                "outcome": end.outcome.as_str(), "detail": end.detail,
                "tenant_state": end.tenant_state.as_str(),
            })),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            claim!(tx, maintenance_id, revision, writer, now_ms)?;
            let closed = close_attempt!(
                tx,
                maintenance_id,
                &end.tenant,
                end.step,
                end.attempt,
                end.outcome,
                end.detail.as_deref(),
                now_ms
            )?;
            if closed != 1 {
                return Err(StoreError::Conflict(format!(
                    "{} attempt {} of {} has no open row",
                    end.step, end.attempt, end.tenant
                )));
            }
            sqlx::query(
                "UPDATE rollout_tenants SET state = $1, since = $2, decision = $3 \
                 WHERE maintenance_id = $4 AND tenant = $5",
            )
            .bind(end.tenant_state.as_str())
            .bind(now_ms)
            .bind(&end.decision)
            .bind(maintenance_id)
            .bind(&end.tenant)
            .execute(&mut *tx)
            .await?;
            let event = notice::on_state(end.tenant_state);
            tenant_notice!(tx, maintenance_id, &end.tenant, event, now)?;
            insert_audit!(&mut *tx, now_ms, &audit)?;
            write_events!(tx, events)?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.rollout(maintenance_id)
            .await?
            .ok_or_else(|| corrupt(maintenance_id, "vanished"))
    }
}
