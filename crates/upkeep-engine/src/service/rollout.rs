//! Rollout use cases (`docs/rollouts.md`): show a maintenance's rollout, and an operator's
//! commands on it (pause, resume, abort, retry or skip a tenant). The rules are the state
//! machine's ([`machine::command`]); each change is stored with its audit row and the operator
//! events it causes ([`alert_events`], the driver's one function) by the store
//! ([`Store::apply_rollout_change`]), computed again from the new row when another change got
//! there first ([`upkeep_store::retry::on_clash`]).
//!
//! The rollout's row is made when its maintenance starts. Before that, [`show`] shows the plan
//! (state `pending`, every tenant with its planned slot, canaries first) and `pause` and `abort`
//! still work: they make the row first, with the planned tenants, then store the command, so
//! the rollout starts paused (or never). A tenant cannot be retried or skipped before the
//! rollout started. A `resume` before the maintenance started puts the rollout back to
//! `pending`: it waits for its maintenance, never runs ahead of it.

use std::fmt;

use jiff::Timestamp;
use upkeep_domain::config::{Config, TenantSel};
use upkeep_domain::maintenance::MaintenanceRecord;
use upkeep_domain::maintenance::slots::{SlotsError, maintenance_slots};
use upkeep_domain::rollout::gate::Judgement;
use upkeep_domain::rollout::machine::{
    self, Change, Command, Phase, Refused, RolloutView, TenantView,
};
use upkeep_domain::rollout::{RolloutSpec, RolloutState, TenantState};
use upkeep_store::retry::{Attempt as Try, on_clash};
use upkeep_store::rollouts::{Attempt, PlannedTenant, RolloutRecord, Writer};
use upkeep_store::{Store, StoreError};

use super::Caller;
use crate::rollout::driver::alert_events;

/// Why a rollout use case refused.
#[derive(Debug)]
pub enum RolloutError {
    /// There is no maintenance with this id.
    NoMaintenance(String),
    /// The maintenance drives no rollout.
    NoRollout(String),
    /// The rollout has no such tenant.
    UnknownTenant(String),
    /// The command does not apply to the rollout as it is; the text says why.
    NotNow(String),
    /// The store failed (or another change kept winning: [`StoreError::Conflict`]).
    Store(StoreError),
}

impl fmt::Display for RolloutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RolloutError::NoMaintenance(id) => write!(f, "there is no maintenance `{id}`"),
            RolloutError::NoRollout(id) => write!(f, "maintenance {id} drives no rollout"),
            RolloutError::UnknownTenant(t) => write!(f, "the rollout has no tenant `{t}`"),
            RolloutError::NotNow(text) => f.write_str(text),
            RolloutError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RolloutError {}

impl From<StoreError> for RolloutError {
    fn from(e: StoreError) -> Self {
        RolloutError::Store(e)
    }
}

impl From<Refused> for RolloutError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::UnknownTenant(t) => RolloutError::UnknownTenant(t),
            Refused::NotNow(text) => RolloutError::NotNow(text),
        }
    }
}

/// A rollout as operators see it: stored, or (before its maintenance started) as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutShow {
    pub maintenance_id: String,
    pub state: RolloutState,
    /// Why it is in its state.
    pub reason: String,
    /// The specification, secrets included: show it with [`RolloutSpec::redacted`].
    pub spec: RolloutSpec,
    /// Whether the rollout has been stored (its maintenance started, or an operator paused or
    /// aborted it before); `false`: the tenants are the plan.
    pub stored: bool,
    /// In rollout order: canaries first, then slot order.
    pub tenants: Vec<TenantShow>,
}

/// One tenant of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantShow {
    pub tenant: String,
    pub state: TenantState,
    pub slot_start: Timestamp,
    pub slot_end: Timestamp,
    /// Oldest first.
    pub attempts: Vec<Attempt>,
    /// The last decision about it, in a sentence.
    pub decision: Option<String>,
    /// The last gate judgement, with its evidence.
    pub evidence: Option<Judgement>,
}

/// How far a rollout got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tenants updated: their gate passed.
    pub done: usize,
    /// Every tenant of the rollout.
    pub total: usize,
}

impl RolloutShow {
    /// Tenants updated out of all.
    pub fn progress(&self) -> Progress {
        progress(self.tenants.iter().map(|t| t.state))
    }
}

/// Tenants updated (gate passed) out of all, from each tenant's state.
pub fn progress(states: impl IntoIterator<Item = TenantState>) -> Progress {
    let mut p = Progress { done: 0, total: 0 };
    for state in states {
        p.total += 1;
        if state == TenantState::Passed {
            p.done += 1;
        }
    }
    p
}

impl From<RolloutRecord> for RolloutShow {
    fn from(r: RolloutRecord) -> Self {
        RolloutShow {
            maintenance_id: r.maintenance_id,
            state: r.state,
            reason: r.reason,
            spec: r.spec,
            stored: true,
            tenants: r
                .tenants
                .into_iter()
                .map(|t| TenantShow {
                    tenant: t.tenant,
                    state: t.state,
                    slot_start: t.slot_start,
                    slot_end: t.slot_end,
                    attempts: t.attempts,
                    decision: t.decision,
                    evidence: t.evidence,
                })
                .collect(),
        }
    }
}

/// The rollout of maintenance `id`: as stored, or before it is (its maintenance not started
/// yet), in state `pending` with every tenant's planned slot (`aborted` when the maintenance
/// was cancelled first).
pub async fn show(store: &Store, config: &Config, id: &str) -> Result<RolloutShow, RolloutError> {
    let (m, spec) = maintenance_with_rollout(store, id).await?;
    if let Some(record) = store.rollout(id).await? {
        return Ok(record.into());
    }
    let (state, reason) = unstored_state(&m);
    Ok(RolloutShow {
        maintenance_id: m.id.clone(),
        state,
        reason: reason.to_owned(),
        tenants: planned_tenants(config, &m, &spec)
            .into_iter()
            .map(|t| TenantShow {
                tenant: t.tenant,
                state: TenantState::Pending,
                slot_start: t.slot_start,
                slot_end: t.slot_end,
                attempts: Vec::new(),
                decision: None,
                evidence: None,
            })
            .collect(),
        spec,
        stored: false,
    })
}

/// Applies an operator's `command` to the rollout of maintenance `id` and returns the rollout
/// as it is then. Before the rollout is stored, `pause` and `abort` store it first (with the
/// planned tenants, as `caller`), and `retry` and `skip` are refused.
pub async fn command(
    store: &Store,
    config: &Config,
    caller: &Caller,
    id: &str,
    command: &Command,
    now: Timestamp,
) -> Result<RolloutShow, RolloutError> {
    let writer = Writer::Person(&caller.actor);
    let target = format!("the rollout of maintenance {id}");
    let outcome = on_clash(&target, || async move {
        let (m, spec) = match maintenance_with_rollout(store, id).await {
            Ok(found) => found,
            Err(RolloutError::Store(e)) => return Err(e),
            Err(refused) => return Ok(Try::Done(Err(refused))),
        };
        let phase = Phase::of(m.status);
        let record = match store.rollout(id).await? {
            Some(record) => record,
            None => {
                if let Err(refused) = check_unstored(&m, &spec, config, command, now) {
                    return Ok(Try::Done(Err(refused)));
                }
                let tenants = planned_tenants(config, &m, &spec);
                store
                    .create_rollout(id, &spec, &tenants, writer, now)
                    .await?;
                match store.rollout(id).await? {
                    Some(record) => record,
                    None => return Ok(Try::Clashed),
                }
            }
        };
        let view = record.view(phase, m.ends_at);
        let change = match machine::command(&view, command, now) {
            Ok(change) => waiting_for_start(change, phase),
            Err(refused) => return Ok(Try::Done(Err(refused.into()))),
        };
        let events = alert_events(store, id, &change, None, now).await?;
        match store
            .apply_rollout_change(id, record.revision, writer, &change, None, &events, now)
            .await
        {
            Ok(record) => Ok(Try::Done(Ok(record))),
            Err(StoreError::Conflict(_)) => Ok(Try::Clashed),
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(outcome?.into())
}

/// The tenants of the rollout of `m` in rollout order with their slots, from the one slot
/// planner ([`maintenance_slots`], canaries first): the canaries, then the others in slot
/// order. When the window cannot hold every tenant (scheduled with `force`), the tenants left
/// out come last with an empty slot at the window's end, so the rollout skips them.
pub fn planned_tenants(
    config: &Config,
    m: &MaintenanceRecord,
    spec: &RolloutSpec,
) -> Vec<PlannedTenant> {
    let covered: Vec<&String> = match &m.tenants {
        TenantSel::All => config.tenants.keys().collect(),
        TenantSel::List(list) => list.iter().collect(),
    };
    let plan = |covered: &[&String]| {
        maintenance_slots(
            &config.tenants,
            &config.regions,
            &config.maintenance.policy,
            covered,
            m.starts_at,
            m.ends_at,
            &spec.canary,
        )
    };
    let empty = |t: &String| PlannedTenant {
        tenant: t.clone(),
        slot_start: m.ends_at,
        slot_end: m.ends_at,
    };
    let mut left_out: Vec<PlannedTenant> = Vec::new();
    let slots = match plan(&covered) {
        Ok(slots) => slots,
        Err(SlotsError::DoesNotFit { tenants }) => {
            let rest: Vec<&String> = covered
                .iter()
                .copied()
                .filter(|t| !tenants.contains(t))
                .collect();
            left_out.extend(tenants.iter().map(empty));
            plan(&rest).unwrap_or_default()
        }
        Err(_) => {
            left_out.extend(covered.iter().copied().map(empty));
            Vec::new()
        }
    };
    let mut placed: Vec<PlannedTenant> = slots
        .into_iter()
        .map(|s| PlannedTenant {
            tenant: s.tenant,
            slot_start: s.start,
            slot_end: s.end,
        })
        .collect();
    let canary = |t: &str| {
        spec.canary
            .iter()
            .position(|c| c == t)
            .unwrap_or(usize::MAX)
    };
    placed.sort_by(|a, b| {
        (canary(&a.tenant), a.slot_start, &a.tenant).cmp(&(
            canary(&b.tenant),
            b.slot_start,
            &b.tenant,
        ))
    });
    placed.extend(left_out);
    placed
}

/// The maintenance `id` and its rollout's specification.
async fn maintenance_with_rollout(
    store: &Store,
    id: &str,
) -> Result<(MaintenanceRecord, RolloutSpec), RolloutError> {
    let m = store
        .get_maintenance(id)
        .await?
        .ok_or_else(|| RolloutError::NoMaintenance(id.to_owned()))?;
    let spec = m
        .rollout
        .clone()
        .ok_or_else(|| RolloutError::NoRollout(id.to_owned()))?;
    Ok((m, spec))
}

/// The state of a rollout not stored yet, by its maintenance's phase.
fn unstored_state(m: &MaintenanceRecord) -> (RolloutState, &'static str) {
    match Phase::of(m.status) {
        Phase::Ahead => (
            RolloutState::Pending,
            "waiting for the maintenance to start",
        ),
        Phase::Open | Phase::Over => (RolloutState::Pending, "the maintenance started"),
        Phase::Cancelled => (
            RolloutState::Aborted,
            "the maintenance was cancelled before it started",
        ),
    }
}

/// Checks `command` against a rollout not stored yet: the machine's rules on its state, and no
/// tenant is retried or skipped before the rollout started.
fn check_unstored(
    m: &MaintenanceRecord,
    spec: &RolloutSpec,
    config: &Config,
    command: &Command,
    now: Timestamp,
) -> Result<(), RolloutError> {
    let (state, _) = unstored_state(m);
    let tenants = planned_tenants(config, m, spec);
    if let Command::Retry(t) | Command::Skip(t) = command {
        if !tenants.iter().any(|p| &p.tenant == t) {
            return Err(RolloutError::UnknownTenant(t.clone()));
        }
        return Err(RolloutError::NotNow(format!(
            "the rollout has not started: {t} can be retried or skipped once it has (pause or \
             abort the rollout instead)"
        )));
    }
    let view = RolloutView {
        maintenance: m.id.clone(),
        state,
        spec: spec.clone(),
        phase: Phase::of(m.status),
        window_end: m.ends_at,
        tenants: tenants
            .into_iter()
            .map(|t| TenantView {
                tenant: t.tenant,
                state: TenantState::Pending,
                slot_start: t.slot_start,
                slot_end: t.slot_end,
                since: now,
                attempts: Vec::new(),
            })
            .collect(),
    };
    machine::command(&view, command, now)?;
    Ok(())
}

/// A rollout resumed before its maintenance started waits for it (`pending`), rather than
/// `running` ahead of it.
fn waiting_for_start(mut change: Change, phase: Phase) -> Change {
    if phase == Phase::Ahead && change.rollout == Some(RolloutState::Running) {
        change.rollout = Some(RolloutState::Pending);
        change.reason = format!("{}; waiting for the maintenance to start", change.reason);
    }
    change
}
