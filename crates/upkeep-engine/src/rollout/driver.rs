//! The rollout driver (lease holder, every second): creates the rollout of a maintenance that
//! carries one when the maintenance starts, then, for each rollout not over, asks the state
//! machine (`upkeep_domain::rollout::machine::next`) for the next thing to do and does it —
//! stores a change, runs a step's attempt (stored before it runs, its outcome after), judges a
//! gate — until the machine says wait.
//!
//! Every write carries the fencing token of the `leader` lease as read at the start of the pass:
//! a replica that lost the lease without knowing it yet is refused by the store
//! (`upkeep_store::rollouts::is_fenced`) and stops its pass quietly; the new holder resumes from
//! what is stored. An attempt that was running on the old holder has no outcome and is handled
//! by `on_unknown`, never run again on its own.
//!
//! Operator alerts (`rollout:MAINTENANCE` events, never on a component, so a maintenance's
//! hold-back does not swallow them and no incident opens): `warning` when a gate fails or waits
//! on an operator, `critical` when the rollout halts or a rollback fails, `ok` once it runs
//! normally again or is over.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::Config;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::rollout::gate::{self, Judgement, Sample, SampleKind, Verdict};
use upkeep_domain::rollout::machine::{self, Change, Next, Phase};
use upkeep_domain::rollout::{Outcome, RolloutState, Step, StepContext, TenantState};
use upkeep_store::monitoring::{MonitorEvent, StoredResult};
use upkeep_store::rollouts::{AttemptEnd, AttemptStart, RolloutRecord, Writer, is_fenced};
use upkeep_store::{Store, StoreError};

use super::run::run_step;
use crate::clock::{Clock, SharedClock};
use crate::config::LoadedConfig;
use crate::notify::send::Senders;
use crate::periodic::Periodic;

/// How often the driver looks at rollouts.
pub const EVERY: Duration = Duration::from_secs(1);

/// Most state changes stored for one rollout in one pass (the machine always waits long before:
/// this only bounds a bug).
const MOST_CHANGES_PER_PASS: usize = 64;

/// Runs the driver every [`EVERY`] while this replica holds the leader lease (`lease`), as
/// `holder`, until `stop`.
pub async fn run(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    holder: String,
    lease: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    // Only webhooks are sent (no mail): each request is bounded by its step's timeout.
    let http = match Senders::new(None, Duration::from_secs(30)) {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "rollouts: cannot build the HTTP client");
            stop.cancelled().await;
            return;
        }
    };
    let lease_now = lease.clone();
    let mut ticks = Periodic::while_held("rollouts", EVERY, lease).start(stop);
    while ticks.next().await.is_some() {
        let cfg = Arc::clone(&config.borrow());
        let now = clock.now();
        let token = match store
            .lease_token(upkeep_store::snapshot::LEADER_LEASE, &holder, now)
            .await
        {
            Ok(Some(token)) => token,
            Ok(None) => continue,
            Err(e) => {
                ticks.done(Err::<(), _>(e));
                continue;
            }
        };
        let mut result = drive_once(&store, &cfg.config, clock.as_ref(), &http, token).await;
        // A slot that starts (or a settle time that ends) before the next tick is acted on at
        // its instant, not up to a tick late.
        while let Ok(Some(wake)) = result {
            let Ok(wait) = Duration::try_from(wake.duration_since(clock.now())) else {
                break;
            };
            if wait >= EVERY || !*lease_now.borrow() {
                break;
            }
            tokio::time::sleep(wait).await;
            result = drive_once(&store, &cfg.config, clock.as_ref(), &http, token).await;
        }
        ticks.done(result);
    }
}

/// One pass over every rollout with the fencing token `fence`; `clock` is read before each
/// step (a step's attempt takes time). A pass fenced off by another replica ends quietly.
/// Returns the earliest instant a rollout waits for (a slot's start, a settle time's end).
pub async fn drive_once(
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
    http: &Senders,
    fence: i64,
) -> Result<Option<Timestamp>, StoreError> {
    match pass(store, config, clock, http, fence).await {
        Err(e) if is_fenced(&e) => {
            tracing::info!("rollouts: another replica drives rollouts now; this pass stops");
            Ok(None)
        }
        other => other,
    }
}

async fn pass(
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
    http: &Senders,
    fence: i64,
) -> Result<Option<Timestamp>, StoreError> {
    for id in store.rollouts_to_create().await? {
        match create(store, config, &id, fence, clock.now()).await {
            Ok(()) => {}
            Err(e) if is_fenced(&e) => return Err(e),
            Err(e) => tracing::warn!(maintenance = %id, error = %e, "rollouts: cannot create"),
        }
    }
    let mut rollouts = Vec::new();
    let mut wake: Option<Timestamp> = None;
    for id in store.unfinished_rollouts().await? {
        match drive(store, config, clock, http, fence, &id, &mut wake).await {
            Ok(Some(record)) if !record.state.is_final() => rollouts.push(record),
            Ok(_) => {}
            Err(e) if is_fenced(&e) => return Err(e),
            // One rollout's trouble does not hold the others back.
            Err(e) => tracing::warn!(maintenance = %id, error = %e, "rollouts: pass failed"),
        }
    }
    gauges(&rollouts);
    Ok(wake)
}

/// Creates the rollout of maintenance `id` (started, carrying a rollout): its tenants in
/// rollout order with their slots from the one slot planner (canaries first).
async fn create(
    store: &Store,
    config: &Config,
    id: &str,
    fence: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(m) = store.get_maintenance(id).await? else {
        return Ok(());
    };
    let Some(spec) = m.rollout.clone() else {
        return Ok(());
    };
    // Scheduled with `force`, tenants the window cannot hold get an empty slot at its end, so
    // the machine skips them with the reason.
    let placed = crate::service::rollout::planned_tenants(config, &m, &spec);
    if store
        .create_rollout(id, &spec, &placed, Writer::Driver(fence), now)
        .await?
    {
        tracing::info!(maintenance = %id, tenants = placed.len(), "rollout created");
    }
    Ok(())
}

/// Drives rollout `id` until the machine says wait; returns it as it is then, and lowers `wake`
/// to the instant it waits for, if any.
async fn drive(
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
    http: &Senders,
    fence: i64,
    id: &str,
    wake: &mut Option<Timestamp>,
) -> Result<Option<RolloutRecord>, StoreError> {
    let mut wait_for = |at: Timestamp| {
        *wake = Some(wake.map_or(at, |w| w.min(at)));
    };
    let writer = Writer::Driver(fence);
    for _ in 0..MOST_CHANGES_PER_PASS {
        let Some(record) = store.rollout(id).await? else {
            return Ok(None);
        };
        let Some(m) = store.get_maintenance(id).await? else {
            return Ok(Some(record));
        };
        let now = clock.now();
        let view = record.view(Phase::of(m.status), m.ends_at);
        let result = match machine::next(&view, now) {
            Next::Wait(at) => {
                if let Some(at) = at {
                    wait_for(at);
                }
                return Ok(Some(record));
            }
            Next::Set(change) => {
                let events = alert_events(store, id, &change, None, now).await?;
                store
                    .apply_rollout_change(id, record.revision, writer, &change, None, &events, now)
                    .await
                    .map(drop)
            }
            Next::Run {
                tenant,
                step,
                attempt,
                resumed,
            } => {
                let start = AttemptStart {
                    tenant,
                    step,
                    attempt,
                    resumed,
                };
                attempt_step(store, config, clock, http, writer, &record, &m.id, &start).await
            }
            Next::Judge {
                tenant,
                from,
                until,
                settled,
            } => {
                let monitors = record.spec.gate_monitors(config, &tenant);
                let results = store.gate_results(&monitors, from, until).await?;
                // A run of identical successes (an hour old or more) counts as its checks in
                // the window.
                let samples: Vec<Sample> = results
                    .iter()
                    .flat_map(|r| {
                        let n = usize::try_from(r.checks_within(from, until))
                            .unwrap_or(1)
                            .min(MAX_RUN_SAMPLES);
                        std::iter::repeat_n(sample(r), n)
                    })
                    .collect();
                let Some(judgement) = gate::judge(&record.spec.gate, &monitors, &samples, settled)
                else {
                    wait_for(until);
                    return Ok(Some(record));
                };
                let (tenant_state, rollout_state) = machine::after_verdict(judgement.verdict);
                let change = Change {
                    rollout: rollout_state,
                    tenant: Some((tenant.clone(), tenant_state)),
                    unknown: None,
                    reason: judgement.reason.clone(),
                };
                let events = alert_events(store, id, &change, Some(&judgement), now).await?;
                store
                    .apply_rollout_change(
                        id,
                        record.revision,
                        writer,
                        &change,
                        Some(&judgement),
                        &events,
                        now,
                    )
                    .await
                    .map(drop)
            }
        };
        match result {
            Ok(()) => {}
            // Changed under us (an operator's command): read it again.
            Err(e @ StoreError::Conflict(_)) if !is_fenced(&e) => {
                tracing::debug!(maintenance = %id, error = %e, "rollouts: changed since read; again");
            }
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(maintenance = %id, "rollouts: too many changes in one pass; going on at the next");
    store.rollout(id).await
}

/// Stores the attempt's intent, runs it, stores its outcome and the tenant's state after it.
#[allow(clippy::too_many_arguments)]
async fn attempt_step(
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
    http: &Senders,
    writer: Writer<'_>,
    record: &RolloutRecord,
    maintenance: &str,
    start: &AttemptStart,
) -> Result<(), StoreError> {
    let Some(tenant) = record.tenants.iter().find(|t| t.tenant == start.tenant) else {
        return Err(StoreError::Conflict(format!(
            "the rollout has no tenant `{}`",
            start.tenant
        )));
    };
    let key = store
        .begin_attempt(maintenance, record.revision, writer, start, clock.now())
        .await?;
    let (outcome, detail) = match record.spec.step(start.step) {
        Some(step) => {
            let ctx = StepContext {
                maintenance: maintenance.to_owned(),
                tenant: start.tenant.clone(),
                step: start.step,
                attempt: start.attempt,
                idempotency_key: key,
                slot_start: tenant.slot_start,
                slot_end: tenant.slot_end,
                vars: config
                    .tenants
                    .get(&start.tenant)
                    .map(|t| t.vars.clone())
                    .unwrap_or_default(),
            };
            tracing::info!(maintenance, tenant = %start.tenant, step = %start.step, attempt = start.attempt, resumed = start.resumed, "rollout step starts");
            let ran = run_step(step, &ctx, http, clock.now().as_second()).await;
            (ran.outcome, ran.detail)
        }
        None => (
            Outcome::Failed,
            format!("the rollout has no {}", start.step),
        ),
    };
    tracing::info!(maintenance, tenant = %start.tenant, step = %start.step, attempt = start.attempt, %outcome, "rollout step ended");
    let tenant_state = machine::after_outcome(start.step, outcome);
    let decision = format!(
        "{} attempt {} {outcome}: {detail}",
        start.step, start.attempt
    );
    let now = clock.now();
    let mut events = Vec::new();
    if start.step == Step::Rollback && outcome != Outcome::Succeeded {
        events.push(
            event(
                store,
                maintenance,
                EventState::Critical,
                format!("{}'s rollback {outcome}: {detail}", start.tenant),
                now,
            )
            .await?,
        );
    }
    let end = AttemptEnd {
        tenant: start.tenant.clone(),
        step: start.step,
        attempt: start.attempt,
        outcome,
        detail: Some(detail),
        tenant_state,
        decision,
    };
    // `begin_attempt` moved the revision on by one.
    store
        .finish_attempt(maintenance, record.revision + 1, writer, &end, &events, now)
        .await
        .map(drop)
}

/// Most samples one stored run of successes stands for in a gate's judgement (more than any
/// `min_samples` needs).
const MAX_RUN_SAMPLES: usize = 10_000;

/// What one stored result says about a gate: healthy; an answer that says unhealthy (it has an
/// HTTP status); or no answer at all (a probe error).
fn sample(result: &StoredResult) -> Sample {
    let kind = if result.ok {
        SampleKind::Ok
    } else if result.status_code.is_some() {
        SampleKind::Failed
    } else {
        SampleKind::Error
    };
    let detail = (!result.ok).then(|| match (&result.failure, result.status_code) {
        (Some(failure), _) => failure.clone(),
        (None, Some(code)) => format!("HTTP {code}"),
        (None, None) => "no answer".to_owned(),
    });
    Sample {
        monitor: result.monitor_id.clone(),
        kind,
        detail,
    }
}

/// The operator events (`rollout:MAINTENANCE`) a change causes, to store with it (see the
/// module documentation): the driver's changes, and an operator's command (`Resume`, `Retry`,
/// `Skip`, `Abort` resolve a firing alert with an `ok` event).
pub async fn alert_events(
    store: &Store,
    maintenance: &str,
    change: &Change,
    judgement: Option<&Judgement>,
    now: Timestamp,
) -> Result<Vec<MonitorEvent>, StoreError> {
    let tenant = change.tenant.as_ref().map_or("", |(t, _)| t.as_str());
    let level = match (change.rollout, judgement.map(|j| j.verdict)) {
        (Some(RolloutState::Halted), _) => Some((
            EventState::Critical,
            format!("the rollout halted: {}", change.reason),
        )),
        (_, Some(Verdict::Fail)) => Some((
            EventState::Warning,
            format!("{tenant}'s gate failed: {}", change.reason),
        )),
        (_, Some(Verdict::Inconclusive)) => Some((
            EventState::Warning,
            format!("{tenant}'s gate waits on an operator: {}", change.reason),
        )),
        (Some(RolloutState::Paused), _) => Some((
            EventState::Warning,
            format!("the rollout waits on an operator: {}", change.reason),
        )),
        (Some(RolloutState::Running | RolloutState::Completed | RolloutState::Aborted), _)
            if !matches!(change.tenant, Some((_, TenantState::Failed))) =>
        {
            Some((EventState::Ok, change.reason.clone()))
        }
        _ => None,
    };
    let Some((to, reason)) = level else {
        return Ok(Vec::new());
    };
    let source = EventSource::Rollout(maintenance.to_owned());
    let from = store
        .last_event_state(&source)
        .await?
        .unwrap_or(EventState::Ok);
    if to == EventState::Ok && from == EventState::Ok {
        return Ok(Vec::new());
    }
    Ok(vec![MonitorEvent {
        source,
        at: now,
        from,
        to,
        reason,
    }])
}

/// One operator event of the rollout of `maintenance`.
async fn event(
    store: &Store,
    maintenance: &str,
    to: EventState,
    reason: String,
    now: Timestamp,
) -> Result<MonitorEvent, StoreError> {
    let source = EventSource::Rollout(maintenance.to_owned());
    let from = store
        .last_event_state(&source)
        .await?
        .unwrap_or(EventState::Ok);
    Ok(MonitorEvent {
        source,
        at: now,
        from,
        to,
        reason,
    })
}

/// Whether the alert source `rollout:MAINTENANCE` still exists: its rollout is not over.
pub async fn alert_source_exists(store: &Store, maintenance: &str) -> Result<bool, StoreError> {
    Ok(store
        .rollout(maintenance)
        .await?
        .is_some_and(|r| !r.state.is_final()))
}

/// Rollouts not over and their tenants' steps, by state.
fn gauges(rollouts: &[RolloutRecord]) {
    for state in RolloutState::ALL.iter().filter(|s| !s.is_final()) {
        let n = rollouts.iter().filter(|r| r.state == *state).count();
        metrics::gauge!("upkeep_rollouts", "state" => state.as_str()).set(n as f64);
    }
    for state in TenantState::ALL {
        let n = rollouts
            .iter()
            .flat_map(|r| &r.tenants)
            .filter(|t| t.state == *state)
            .count();
        metrics::gauge!("upkeep_rollout_tenants", "state" => state.as_str()).set(n as f64);
    }
}
