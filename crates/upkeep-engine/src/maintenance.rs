//! The maintenance engine: materialises the configuration's recurring windows, moves every
//! maintenance through `scheduled → in_progress → (verifying →) completed` at the right
//! instants, runs pre-flight checks before starts, re-evaluates failures when a window ends and
//! keeps Alertmanager silences in step with windows.
//!
//! - **Once across replicas**: [`run`] works only while `active` (this replica holds the
//!   `monitoring` lease), and every status change is one conditional update in the store
//!   (`WHERE status = from`), so two replicas can never both start or end a window.
//! - **Restarts**: each step compares stored statuses with the clock, so a window that began
//!   while upkeep was down is in progress at the first step after start-up, and one that ended
//!   is completed ([`upkeep_domain::maintenance::due_transition`]) — unless pre-flight checks
//!   held it to its end: then it never happened and is cancelled with the reason.
//! - **Materialisation** (every minute and after each config reload): occurrences of each
//!   window starting within [`MaintenanceSettings::horizon`] are upserted on their key, future
//!   ones the window no longer produces are cancelled, started ones are never touched; windows
//!   removed from the configuration have their future occurrences cancelled.
//! - **Pre-flight checks** (the window's `preflight:`) are judged from
//!   `maintenance.policy.preflight_ahead` before the start, again at the start, every 30 s
//!   while they hold it and every 5 minutes while they pass; a failing check
//!   holds the maintenance in `scheduled` with the reason stored (`hold_reason`) and logged as
//!   an operator alert; once they pass the reason is cleared and the start goes ahead.
//! - **Suppression**: while a maintenance is in progress, failures on its components open no
//!   incident (see [`crate::incidents::under_maintenance`]); a covered tenant's own components
//!   only during that tenant's slot ([`Coverage`]). When it leaves `in_progress`, and when a
//!   tenant's slot ends before it, every monitor of the components it stops covering still down
//!   and every rule still firing is reported at once, so a failure that outlives the window (or
//!   the slot) opens its incident immediately. It goes to `verifying`
//!   while any monitor of its components is not up, and to `completed` when all are.
//! - **`checks: skip`**: while such a maintenance is in progress its components' monitors are
//!   not probed ([`SkipList`], read by the scheduler); with `checks: run` they keep probing and
//!   their results count as planned downtime in the reports.
//! - **Silences**: with `alertmanager.url` configured, a silence over the components (matched
//!   on `alertmanager.component_label`) is created when a maintenance starts, ending at its end,
//!   and expired when it completes early or is cancelled. Alertmanager being unreachable is
//!   retried on later steps; it never holds a window.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::Config;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::maintenance::MaintenanceRecord;
use upkeep_domain::maintenance::preflight::{self, BackupFact, Check, CommandExit, Facts, Outcome};
use upkeep_domain::maintenance::{
    Coverage, MaintenanceStatus, due_transition, materialise, plan_update,
};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_store::maintenance::MaintenanceFilter;
use upkeep_store::{Store, StoreError};

use crate::alertmanager::{SilenceClient, SilenceRequest};
use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::incidents::{self, AUTO_ACTOR, AutoIncidentSettings};
use crate::periodic::Periodic;

/// The components whose monitors are not probed now: those of maintenances in progress with
/// `checks: skip`. Written by the engine, read by the probe scheduler. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SkipList(Arc<std::sync::RwLock<HashSet<String>>>);

impl SkipList {
    /// Whether `component`'s monitors are skipped.
    pub fn contains(&self, component: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(component)
    }

    fn set(&self, components: HashSet<String>) {
        let mut current = self.0.write().unwrap_or_else(|e| e.into_inner());
        if *current != components {
            tracing::info!(components = ?components, "probing skipped for components under maintenance");
            *current = components;
        }
    }
}

/// The table's fingerprint, then the scheduled and the active maintenances read at it.
type Lists = ((i64, i64), Vec<MaintenanceRecord>, Vec<MaintenanceRecord>);

/// What the engine remembers between steps (in memory: only the lease holder steps).
#[derive(Debug, Default)]
pub struct EngineState {
    /// When each maintenance's pre-flight checks were last evaluated.
    checked: std::collections::HashMap<String, Timestamp>,
    /// The scheduled and active maintenances last read, with the table's fingerprint then.
    lists: Option<Lists>,
    /// The sequence each running maintenance had when its silence was last made.
    silenced: std::collections::HashMap<String, i64>,
    /// Evaluations still running, by maintenance.
    pending: std::collections::HashMap<
        String,
        tokio::task::JoinHandle<Result<Vec<Outcome>, StoreError>>,
    >,
    /// Tenant slots whose end was handled: `(maintenance, tenant, slot end)`.
    slots_ended: HashSet<(String, String, Timestamp)>,
    /// Components not probed now.
    pub skip: SkipList,
}

/// How often held pre-flight checks are evaluated again.
const RECHECK_HELD: Duration = Duration::from_secs(30);
/// How often passing pre-flight checks are evaluated again before the start.
const RECHECK_PASSING: Duration = Duration::from_secs(300);

/// The actor of every change the engine makes.
pub const ACTOR: &str = "system:maintenance";

/// Most maintenances looked at per step and per list.
const LIST_LIMIT: u32 = 10_000;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct MaintenanceSettings {
    /// How often statuses are compared with the clock.
    pub tick: Duration,
    /// How far ahead recurring windows are materialised.
    pub horizon: Duration,
    /// How often windows are materialised (also after every reload).
    pub materialise_every: Duration,
    /// How often finished maintenances are checked for silences to expire.
    pub sweep_every: Duration,
    /// Shared with the probe scheduler.
    pub skip: SkipList,
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            horizon: Duration::from_secs(90 * 86_400),
            materialise_every: Duration::from_secs(60),
            sweep_every: Duration::from_secs(10),
            skip: SkipList::default(),
        }
    }
}

/// Runs the engine until `stop` is cancelled.
pub async fn run(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    settings: MaintenanceSettings,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut materialised: Option<(Timestamp, String)> = None;
    let mut swept: Option<Timestamp> = None;
    let mut state = EngineState {
        skip: settings.skip.clone(),
        ..EngineState::default()
    };
    let mut ticks = Periodic::while_held("maintenance", settings.tick, active).start(stop);
    while let Some(turn) = ticks.next().await {
        if turn.resumed {
            // Another replica may have worked: start afresh.
            materialised = None;
            state.skip.set(HashSet::new());
        }
        let loaded = Arc::clone(&config.borrow());
        let now = clock.now();
        let due = materialised.as_ref().is_none_or(|(at, digest)| {
            *digest != loaded.digest || elapsed(*at, now) >= settings.materialise_every
        });
        if due {
            match materialise_all(&store, &loaded.config, now, settings.horizon).await {
                Ok(()) => materialised = Some((now, loaded.digest.clone())),
                Err(e) => tracing::warn!(error = %e, "maintenance: cannot materialise windows"),
            }
        }
        ticks.done(step(&store, &loaded.config, now, &mut state).await);
        if swept.is_none_or(|at| elapsed(at, now) >= settings.sweep_every) {
            if let Err(e) = sweep_silences(&store, &loaded.config, now).await {
                tracing::warn!(error = %e, "maintenance: cannot sweep silences");
            }
            swept = Some(now);
        }
    }
}

fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    to.duration_since(from).try_into().unwrap_or(Duration::ZERO)
}

/// Upserts every window's occurrences within `horizon` and cancels future occurrences of
/// windows no longer configured.
pub async fn materialise_all(
    store: &Store,
    config: &Config,
    now: Timestamp,
    horizon: Duration,
) -> Result<(), StoreError> {
    for window in &config.maintenance.windows {
        let fresh = match materialise(window, now, horizon) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(window = %window.id, error = %e, "maintenance: cannot expand window");
                continue;
            }
        };
        let stored = store.stored_occurrences(&window.id).await?;
        let plan = plan_update(&stored, &fresh, now);
        if plan.is_empty() {
            continue;
        }
        let changes = store
            .apply_occurrence_update(window, &plan, ACTOR, now)
            .await?;
        tracing::info!(
            window = %window.id,
            inserted = changes.inserted.len(),
            rescheduled = changes.rescheduled.len(),
            cancelled = changes.cancelled.len(),
            "maintenance window materialised"
        );
    }
    let configured: HashSet<&str> = config
        .maintenance
        .windows
        .iter()
        .map(|w| w.id.as_str())
        .collect();
    for m in store
        .list_maintenances(MaintenanceFilter::Upcoming, LIST_LIMIT)
        .await?
    {
        let orphan = m
            .window_id
            .as_deref()
            .is_some_and(|w| !configured.contains(w));
        if orphan && m.starts_at > now {
            store
                .cancel_maintenance(
                    &m.id,
                    "The recurring window was removed from the configuration.",
                    ACTOR,
                    now,
                )
                .await?;
        }
    }
    Ok(())
}

/// The pre-flight checks of `m`: its window's, for an occurrence of a configured window.
fn checks_of<'c>(config: &'c Config, m: &MaintenanceRecord) -> &'c [Check] {
    m.window_id
        .as_deref()
        .and_then(|w| config.maintenance.windows.iter().find(|x| x.id == w))
        .map_or(&[], |w| w.preflight.as_slice())
}

/// Whether the pre-flight checks of `m` are due for evaluation at `now`: first at
/// `preflight_ahead` before the start, again at the start, every 30 s while they hold it and
/// every 5 minutes while they pass.
fn checks_due(m: &MaintenanceRecord, last: Option<Timestamp>, now: Timestamp) -> bool {
    let Some(last) = last else {
        return true;
    };
    let since = elapsed(last, now);
    (now >= m.starts_at && last < m.starts_at)
        || (m.hold_reason.is_some() && since >= RECHECK_HELD)
        || since >= RECHECK_PASSING
}

/// Where a maintenance's pre-flight checks stand in this step.
enum Evaluation {
    Done(Vec<Outcome>),
    Running,
    NotDue,
}

/// How long a step waits for checks it started before moving on (they go on in the
/// background and are read at a later step).
const CHECKS_INLINE_WAIT: Duration = Duration::from_secs(2);

/// Starts the checks of `m` when due (in the background, so a slow `command` never holds up
/// other windows) and returns their outcomes once they are known.
async fn evaluate_checks(
    store: &Store,
    config: &Config,
    m: &MaintenanceRecord,
    checks: &[Check],
    now: Timestamp,
    state: &mut EngineState,
) -> Evaluation {
    if !state.pending.contains_key(&m.id) {
        if !checks_due(m, state.checked.get(&m.id).copied(), now) {
            return Evaluation::NotDue;
        }
        state.checked.insert(m.id.clone(), now);
        let (store, config, checks) = (store.clone(), config.clone(), checks.to_vec());
        state.pending.insert(
            m.id.clone(),
            tokio::spawn(async move { run_checks(&store, &config, &checks, now).await }),
        );
    }
    let Some(handle) = state.pending.get_mut(&m.id) else {
        return Evaluation::NotDue;
    };
    // The handle is awaited once: either now (it finished, or finishes within the wait) or at
    // a later step.
    let result = match tokio::time::timeout(CHECKS_INLINE_WAIT, &mut *handle).await {
        Ok(result) => {
            state.pending.remove(&m.id);
            result
        }
        Err(_) => return Evaluation::Running,
    };
    match result {
        Ok(Ok(outcomes)) => Evaluation::Done(outcomes),
        Ok(Err(e)) => {
            tracing::warn!(maintenance = %m.id, error = %e, "pre-flight checks could not be evaluated");
            Evaluation::NotDue
        }
        Err(e) => {
            tracing::warn!(maintenance = %m.id, error = %e, "pre-flight checks panicked");
            Evaluation::NotDue
        }
    }
}

/// The scheduled and the active maintenances: read again only when the table changed since
/// the last step (its fingerprint moves with every change, the engine's own included), so an
/// idle second costs one small query.
async fn lists(
    store: &Store,
    state: &mut EngineState,
) -> Result<(Vec<MaintenanceRecord>, Vec<MaintenanceRecord>), StoreError> {
    let fingerprint = store.maintenances_fingerprint().await?;
    if let Some((seen, upcoming, active)) = &state.lists
        && *seen == fingerprint
    {
        return Ok((upcoming.clone(), active.clone()));
    }
    let upcoming = store
        .list_maintenances(MaintenanceFilter::Upcoming, LIST_LIMIT)
        .await?;
    let active = store
        .list_maintenances(MaintenanceFilter::Active, LIST_LIMIT)
        .await?;
    state.lists = Some((fingerprint, upcoming.clone(), active.clone()));
    Ok((upcoming, active))
}

/// Moves every maintenance whose time has come.
pub async fn step(
    store: &Store,
    config: &Config,
    now: Timestamp,
    state: &mut EngineState,
) -> Result<(), StoreError> {
    let ahead = SignedDuration::try_from(config.maintenance.policy.preflight_ahead)
        .unwrap_or(SignedDuration::ZERO);
    let (upcoming, _) = lists(store, state).await?;
    for m in upcoming {
        let checks = checks_of(config, &m);
        let mut passed = m.hold_reason.is_none();
        let window_open = m.starts_at.checked_sub(ahead).unwrap_or(m.starts_at) <= now;
        if checks.is_empty() {
            passed = true;
            if m.hold_reason.is_some() {
                // The window no longer names checks: nothing holds it.
                store.set_hold_reason(&m.id, None, ACTOR, now).await?;
            }
        } else if window_open && now < m.ends_at {
            match evaluate_checks(store, config, &m, checks, now, state).await {
                Evaluation::Done(outcomes) => {
                    let failing: Vec<String> = outcomes
                        .iter()
                        .filter(|o| !o.passed)
                        .map(|o| format!("{}: {}", o.check, o.detail))
                        .collect();
                    passed = failing.is_empty();
                    let hold = (!passed).then(|| failing.join("; "));
                    let changed = store
                        .set_hold_reason(&m.id, hold.as_deref(), ACTOR, now)
                        .await?;
                    if changed {
                        match &hold {
                            Some(why) => tracing::error!(
                                maintenance = %m.id, title = %m.title, reason = %why,
                                "operator alert: pre-flight checks fail; the maintenance is held"
                            ),
                            None => tracing::info!(maintenance = %m.id, "pre-flight checks pass"),
                        }
                    }
                }
                // A start waits for the checks it is evaluating.
                Evaluation::Running => passed = passed && now < m.starts_at,
                Evaluation::NotDue => {}
            }
        }
        match due_transition(m.status, m.starts_at, m.ends_at, now, passed, false) {
            // Held by its checks until its end: it never happened, so it is cancelled (and so
            // never counts as planned time), with the reason in its timeline.
            Some(MaintenanceStatus::Completed) if m.hold_reason.is_some() => {
                // The reason (a command line, its output) is the operator's: it stays in
                // `hold_reason` and its audit row; the public timeline gets a plain sentence.
                let why = "Cancelled: this maintenance could not start safely before its end.";
                match store.cancel_maintenance(&m.id, why, ACTOR, now).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
                tracing::error!(maintenance = %m.id, title = %m.title,
                    reason = m.hold_reason.as_deref().unwrap_or_default(),
                    "operator alert: maintenance never started: pre-flight checks held it until its end");
            }
            Some(to) => transition(store, config, &m, to, now).await?,
            None => {}
        }
    }
    // Read after the starts above (their writes move the fingerprint).
    let (_, active) = lists(store, state).await?;
    let running: HashSet<&str> = active.iter().map(|m| m.id.as_str()).collect();
    state
        .slots_ended
        .retain(|(id, _, _)| running.contains(id.as_str()));
    for m in &active {
        state.checked.remove(&m.id);
        if m.status == MaintenanceStatus::InProgress {
            let coverage = Coverage::of(config, m);
            // A tenant's slot ended before the window: failures of its own components were
            // held back during the slot and are reported now.
            for (tenant, (_, end)) in coverage.slots() {
                if end <= now
                    && end < m.ends_at
                    && state
                        .slots_ended
                        .insert((m.id.clone(), tenant.to_owned(), end))
                {
                    let own = coverage.tenant_components(tenant);
                    let what = format!("maintenance slot of tenant `{tenant}`");
                    reevaluate(store, config, &own, &what, now).await?;
                }
            }
        }
        let green = components_green(store, config, &m.components).await?;
        if let Some(to) = due_transition(m.status, m.starts_at, m.ends_at, now, true, !green) {
            transition(store, config, m, to, now).await?;
        } else if m.status == MaintenanceStatus::InProgress && m.silence_id.is_none() {
            // Alertmanager was unreachable at the start: try again.
            create_silence(store, config, m, now).await?;
        } else if m.status == MaintenanceStatus::InProgress
            && let Some(silence) = m.silence_id.as_deref()
        {
            // Extended or rescoped while running (its sequence moved): the silence follows.
            let seen = *state.silenced.entry(m.id.clone()).or_insert(m.sequence);
            if seen != m.sequence
                && let Some((client, _)) = silence_client(config)
            {
                match client.expire(silence).await {
                    Ok(()) => {
                        store.set_silence_id(&m.id, None, ACTOR, now).await?;
                        let mut fresh = m.clone();
                        fresh.silence_id = None;
                        create_silence(store, config, &fresh, now).await?;
                        state.silenced.insert(m.id.clone(), m.sequence);
                    }
                    Err(e) => tracing::warn!(maintenance = %m.id, error = %e,
                        "cannot replace the Alertmanager silence of a changed window; retrying"),
                }
            }
        }
    }
    state.skip.set(skipped(config, &active, now));
    Ok(())
}

/// The components whose monitors are not probed at `now`: those a maintenance in progress
/// with `checks: skip` covers then.
fn skipped(config: &Config, active: &[MaintenanceRecord], now: Timestamp) -> HashSet<String> {
    let mut skip = HashSet::new();
    for m in active {
        if m.status == MaintenanceStatus::InProgress
            && m.checks == upkeep_domain::config::ChecksMode::Skip
            && now < m.ends_at
        {
            let coverage = Coverage::of(config, m);
            skip.extend(
                coverage
                    .components()
                    .into_iter()
                    .filter(|c| coverage.covers(c, now)),
            );
        }
    }
    skip
}

/// On the replicas that do not hold the lease, keeps `skip` in step with the stored
/// maintenances every `every`, until `stop`: every replica probes (its probe shards), so every
/// replica skips what a maintenance with `checks: skip` covers. The lease holder's list is
/// kept by [`run`].
pub async fn follow_skip(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    skip: SkipList,
    every: Duration,
    lease: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut ticks = Periodic::observing("maintenance-skip", every, lease).start(stop);
    while let Some(turn) = ticks.next().await {
        if turn.held {
            continue;
        }
        let done = store
            .list_maintenances(MaintenanceFilter::Active, LIST_LIMIT)
            .await
            .map(|active| {
                let loaded = Arc::clone(&config.borrow());
                skip.set(skipped(&loaded.config, &active, clock.now()));
            });
        ticks.done(done);
    }
}

/// Applies one status change; only the replica whose conditional update wins acts on it.
async fn transition(
    store: &Store,
    config: &Config,
    m: &MaintenanceRecord,
    to: MaintenanceStatus,
    now: Timestamp,
) -> Result<(), StoreError> {
    if !store
        .transition_maintenance(&m.id, m.status, to, ACTOR, now)
        .await?
    {
        return Ok(());
    }
    tracing::info!(maintenance = %m.id, title = %m.title, from = %m.status.as_str(),
        to = %to.as_str(), "maintenance status changed");
    if to == MaintenanceStatus::InProgress {
        create_silence(store, config, m, now).await?;
    }
    if m.status == MaintenanceStatus::InProgress && to != MaintenanceStatus::InProgress {
        let components = Coverage::of(config, m).components();
        reevaluate(store, config, &components, "maintenance window", now).await?;
    }
    Ok(())
}

/// Every stored monitor status, by monitor id.
async fn monitor_statuses(store: &Store) -> Result<BTreeMap<String, MonitorStatus>, StoreError> {
    Ok(store
        .load_monitor_states()
        .await?
        .into_iter()
        .map(|s| (s.monitor_id, s.status))
        .collect())
}

/// Whether every monitor of `components` is up (paused ones aside).
async fn components_green(
    store: &Store,
    config: &Config,
    components: &[String],
) -> Result<bool, StoreError> {
    let states = monitor_statuses(store).await?;
    Ok(config
        .monitors
        .iter()
        .filter(|(_, m)| components.contains(&m.component))
        .all(|(id, _)| {
            matches!(
                states.get(id),
                Some(MonitorStatus::Up | MonitorStatus::Paused)
            )
        }))
}

/// At a window's end (or a tenant slot's, `what`): reports every monitor of `components` still
/// down and every rule still firing, so their incidents open now rather than at their next
/// transition.
async fn reevaluate(
    store: &Store,
    config: &Config,
    components: &[String],
    what: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    for state in store.load_monitor_states().await? {
        let Some(monitor) = config.monitors.get(&state.monitor_id) else {
            continue;
        };
        if state.status != MonitorStatus::Down || !components.contains(&monitor.component) {
            continue;
        }
        let reason = format!("still down when the {what} ended");
        if let Some(failure) =
            incidents::monitor_failure(store, config, &state.monitor_id, &reason, now).await?
        {
            incidents::source_failing(store, config, &failure, AUTO_ACTOR, now).await?;
        }
    }
    let settings = AutoIncidentSettings::default();
    for rule in config
        .rules
        .iter()
        .filter(|r| components.contains(&r.component))
    {
        let source = EventSource::Rule(rule.name.clone());
        if store.last_event_state(&source).await? == Some(EventState::Firing) {
            let reason = format!("still firing when the {what} ended");
            if let Some(failure) =
                incidents::rule_failure(config, &settings, &rule.name, &reason, now)
            {
                incidents::source_failing(store, config, &failure, AUTO_ACTOR, now).await?;
            }
        }
    }
    Ok(())
}

/// Gathers what the checks need and judges them (running `command` checks).
async fn run_checks(
    store: &Store,
    config: &Config,
    checks: &[Check],
    now: Timestamp,
) -> Result<Vec<Outcome>, StoreError> {
    let mut facts = Facts::default();
    if checks.iter().any(|c| matches!(c, Check::BackupsFresh)) {
        for (name, backup) in &config.backups {
            let last = store.last_success(&backup.push_key).await?;
            let started = last.map(|p| {
                p.duration_ms
                    .and_then(|d| p.at.checked_sub(SignedDuration::from_millis(d)).ok())
                    .unwrap_or(p.at)
            });
            facts.backups.push(BackupFact {
                name: name.clone(),
                rpo: backup.rpo,
                last_success_started: started,
            });
        }
    }
    if checks
        .iter()
        .any(|c| matches!(c, Check::MonitorsGreen { .. }))
    {
        let states = monitor_statuses(store).await?;
        for (id, m) in &config.monitors {
            let status = states.get(id).copied().unwrap_or(MonitorStatus::Pending);
            facts
                .monitors
                .entry(m.component.clone())
                .or_default()
                .push((id.clone(), status));
        }
    }
    if checks.iter().any(|c| matches!(c, Check::NoOpenIncidents)) {
        facts.open_incidents = store
            .list_incidents(100, true)
            .await?
            .into_iter()
            .map(|i| i.title)
            .collect();
    }
    let mut out = Vec::with_capacity(checks.len());
    for check in checks {
        match preflight::judge(check, &facts, now) {
            Some(o) => out.push(o),
            None => out.push(run_command(check).await),
        }
    }
    Ok(out)
}

/// Runs a `command` check with `sh -c` ([`crate::shell`]), killing it at its timeout.
pub async fn run_command(check: &Check) -> Outcome {
    let Check::Command { run, timeout_ms } = check else {
        return preflight::judge_command(
            check,
            &CommandExit::NotStarted("not a command check".into()),
            "",
        );
    };
    // At most this much of each stream is kept (the outcome shows its tail).
    const KEEP: usize = 64 * 1024;
    let done = crate::shell::run(run, &[], Duration::from_millis(*timeout_ms), KEEP).await;
    let text = match done.exit {
        CommandExit::TimedOut(_) | CommandExit::NotStarted(_) => String::new(),
        CommandExit::Exited(_) => format!("{}{}", done.stdout, done.stderr),
    };
    preflight::judge_command(check, &done.exit, &text)
}

fn silence_client(config: &Config) -> Option<(SilenceClient, String)> {
    let am = config.alertmanager.as_ref()?;
    match SilenceClient::new(&am.url) {
        Ok(c) => Some((c, am.component_label.clone())),
        Err(e) => {
            tracing::warn!(error = %e, "maintenance: bad alertmanager.url");
            None
        }
    }
}

/// Creates the silence of an in-progress maintenance and stores its id (retried on later
/// steps when Alertmanager cannot be reached).
async fn create_silence(
    store: &Store,
    config: &Config,
    m: &MaintenanceRecord,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some((client, label)) = silence_client(config) else {
        return Ok(());
    };
    if m.components.is_empty() || m.ends_at <= now {
        return Ok(());
    }
    let request = SilenceRequest {
        component_label: label,
        components: m.components.clone(),
        starts_at: now,
        ends_at: m.ends_at,
        created_by: "upkeep".into(),
        comment: format!("Maintenance {}: {}", m.id, m.title),
    };
    match client.create(&request).await {
        Ok(id) => {
            store.set_silence_id(&m.id, Some(&id), ACTOR, now).await?;
            tracing::info!(maintenance = %m.id, silence = %id, "Alertmanager silence created");
        }
        Err(e) => {
            tracing::warn!(maintenance = %m.id, error = %e, retry = e.is_retryable(),
                "cannot create the Alertmanager silence");
        }
    }
    Ok(())
}

/// Expires the silences of maintenances that are over (completed early or cancelled); a
/// failure is retried on the next sweep.
pub async fn sweep_silences(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some((client, _)) = silence_client(config) else {
        return Ok(());
    };
    for m in store
        .list_maintenances(MaintenanceFilter::WithSilence, LIST_LIMIT)
        .await?
    {
        let Some(silence) = m.silence_id.as_deref() else {
            continue;
        };
        if m.status.is_terminal() {
            match client.expire(silence).await {
                Ok(()) => {
                    store.set_silence_id(&m.id, None, ACTOR, now).await?;
                    tracing::info!(maintenance = %m.id, silence, "Alertmanager silence expired");
                }
                Err(e) => tracing::warn!(maintenance = %m.id, error = %e,
                    "cannot expire the Alertmanager silence; retrying"),
            }
        }
    }
    Ok(())
}
