//! Automatic incidents: opened when a monitor goes down or an alert rule fires (or when
//! Alertmanager reports a firing alert, through the web crate's hook), resolved when every
//! source that holds them open has recovered — unless an operator took the incident over.
//!
//! - **Sources**: each failing thing is a source (`monitor:ID`, `rule:NAME`,
//!   `alertmanager:FINGERPRINT`) attached to one incident in the store
//!   (`incident_sources`). A source already attached to an unresolved incident changes nothing
//!   (deduplication); a failing source on a component that already has an unresolved automatic
//!   incident joins it with an update instead of opening a second one.
//! - **Component status**: a monitor down on a component whose monitors are all down →
//!   `major_outage`, otherwise `partial_outage`; a critical rule → `partial_outage`, a warning
//!   rule → `degraded_performance`. A joining source never lowers what the incident declares.
//! - **Ownership**: updates written by automation carry an actor starting with `system:`
//!   ([`AUTO_ACTOR`] here). Once anyone else has posted an update, an operator owns the incident:
//!   recoveries are noted in its timeline but it is never resolved automatically.
//! - **Following events**: [`run`] follows `monitor_events` by id from a cursor stored in the
//!   database (`cursors`), saved after each event that changed something and after the rest of
//!   a batch, so a restart skips no transition, and a crash makes it handle again only events
//!   that changed nothing. On a database it never followed it starts [`AutoIncidentSettings::history`]
//!   back, not from the beginning of time. It works only while `active` (this replica holds the
//!   monitoring lease), so replicas do not open the same incident twice.
//!
//! - **Two texts**: what automation writes into an incident is public (the status page, its
//!   feeds and JSON, subscriber mails), so it is a plain sentence naming the component
//!   ([`public_body`]) and never the failure's own words — a probe's error names internal hosts
//!   and ports, an alert's annotations its PromQL and Prometheus. Those are the operator's
//!   detail ([`Failure::detail`]): logged here, and kept where operators read them (the
//!   monitor's events in the admin API and operator alerts; Alertmanager's own alert).
//!
//! Changes are serialised within the process (one mutex) and across processes sharing the
//! database (a lease row used as a lock), so the follower of one replica and the Alertmanager
//! hook of another cannot both open an incident for the same component at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::config::{Config, Severity};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::incident::{
    AffectedComponent, BODY_MAX_CHARS, IncidentStatus, TITLE_MAX_CHARS, all_operational,
    default_impact,
};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_store::incidents::{
    IncidentChange, IncidentEdit, IncidentRecord, IncidentSource, NewIncident,
};
use upkeep_store::monitoring::StoredMonitorEvent;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::follower::{EventFollower, Position};
use crate::periodic::Periodic;

/// The actor of every change the event follower makes.
pub const AUTO_ACTOR: &str = "system:auto";

/// The name of the follower's cursor over `monitor_events`.
pub const CURSOR: &str = "auto-incidents:monitor_events";

/// Serialises every automatic change made by this process.
static CHANGES: Mutex<()> = Mutex::const_new(());

/// Whether `actor` is automation (its changes do not take an incident over).
pub fn is_automatic_actor(actor: &str) -> bool {
    actor.starts_with("system:")
}

/// Whether an operator has posted an update to the incident (and so owns it).
pub fn taken_over(incident: &IncidentRecord) -> bool {
    incident
        .updates
        .iter()
        .any(|u| !is_automatic_actor(&u.created_by))
}

/// Settings of the event follower.
#[derive(Debug, Clone)]
pub struct AutoIncidentSettings {
    /// How often new events are looked for.
    pub poll_every: Duration,
    /// Most events handled per poll.
    pub batch: u32,
    /// Severities of alert rules that open incidents (monitors always do).
    pub rule_severities: Vec<Severity>,
    /// On a database never followed, how far back events are still handled.
    pub history: Duration,
}

impl Default for AutoIncidentSettings {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(1),
            batch: 500,
            rule_severities: vec![Severity::Critical, Severity::Warning],
            history: Duration::from_secs(600),
        }
    }
}

/// Something failing, as automation reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `monitor:ID`, `rule:NAME`, `alertmanager:FINGERPRINT`.
    pub source: String,
    pub component_id: String,
    /// The status the source asks for on its component.
    pub status: ComponentStatus,
    /// How the source is named in (public) updates: never more than the component's name.
    pub label: String,
    /// The (public) title of the incident if this opens one.
    pub title: String,
    /// What is wrong, for the public (Markdown): see [`public_body`].
    pub body: String,
    /// What is wrong, for operators (the probe's error, the alert's annotations): logged,
    /// never written into the incident.
    pub detail: String,
    /// When the trouble began, if known.
    pub started_at: Option<Timestamp>,
    /// When the failure was seen (the event's instant, or when an alert arrived): a
    /// maintenance in progress covering the component at that instant holds the incident back.
    pub seen_at: Timestamp,
}

/// What a failure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Opened this incident.
    Opened(String),
    /// Joined the open automatic incident of its component.
    Joined(String),
    /// The source already holds this incident open: nothing changed.
    AlreadyOpen(String),
    /// A maintenance in progress covers the component: no incident (the failure is
    /// re-evaluated when the window ends).
    UnderMaintenance,
}

/// What a recovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryOutcome {
    /// The source held no incident open.
    NotAttached,
    /// It was the last failing source: the incident is resolved.
    Resolved(String),
    /// Other sources still fail: the incident stays open, with an update.
    StillFailing(String),
    /// An operator owns the incident: the recovery is noted, the incident stays open.
    TakenOver(String),
    /// The incident was already resolved (or deleted) by someone else.
    AlreadyClosed(String),
}

/// A title the domain accepts: no control characters, at most [`TITLE_MAX_CHARS`].
fn clean_title(title: &str) -> String {
    let t: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(TITLE_MAX_CHARS)
        .collect();
    let t = t.trim();
    if t.is_empty() {
        "Automatic incident".to_owned()
    } else {
        t.to_owned()
    }
}

/// A body the domain accepts: at most [`BODY_MAX_CHARS`].
fn clean_body(body: &str) -> String {
    body.chars().take(BODY_MAX_CHARS).collect()
}

/// The worse of two outage statuses (maintenance is not an outage and gives way).
fn worse(a: ComponentStatus, b: ComponentStatus) -> ComponentStatus {
    match (a, b) {
        (ComponentStatus::UnderMaintenance, x) | (x, ComponentStatus::UnderMaintenance) => x,
        (a, b) => a.max(b),
    }
}

/// Reports a failing source: opens an automatic incident, joins the open one of its component,
/// or does nothing when the source already holds an incident open or a maintenance in progress
/// covers its component at [`Failure::seen_at`]. Every automatic path (the event follower, the
/// end of a maintenance window, the Alertmanager hook) reports failures here.
pub async fn source_failing(
    store: &Store,
    config: &Config,
    failure: &Failure,
    actor: &str,
    now: Timestamp,
) -> Result<FailureOutcome, StoreError> {
    exclusively(store, failing_locked(store, config, failure, actor, now)).await
}

/// Runs `change` alone: no other automatic incident change runs meanwhile in this process
/// or, through the database lock, in any other replica.
async fn exclusively<T>(
    store: &Store,
    change: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let _guard = CHANGES.lock().await;
    let lock = DbLock::acquire(store).await?;
    let outcome = change.await;
    lock.release().await;
    outcome
}

/// The name of the lease used as a lock around automatic incident changes across replicas.
const AUTOMATION_LOCK: &str = "lock:incident-automation";
/// How long the lock is held at most if its holder dies mid-change.
const AUTOMATION_LOCK_TTL: Duration = Duration::from_secs(30);

/// A lock over automatic incident changes shared by every process on the database (a lease
/// row taken with a conditional upsert): the monitor-event follower of one replica and the
/// Alertmanager hook of another can never both open an incident for the same component.
/// Waits while another process holds it; a holder that died releases it after
/// [`AUTOMATION_LOCK_TTL`]. Leases compare real time, so this uses the system clock.
struct DbLock {
    store: Store,
    holder: String,
    released: bool,
}

impl DbLock {
    async fn acquire(store: &Store) -> Result<DbLock, StoreError> {
        let holder = upkeep_store::ids::new_id();
        let mut wait = Duration::from_millis(5);
        loop {
            if store
                .try_acquire_lease(
                    AUTOMATION_LOCK,
                    &holder,
                    AUTOMATION_LOCK_TTL,
                    Timestamp::now(),
                )
                .await?
            {
                return Ok(DbLock {
                    store: store.clone(),
                    holder,
                    released: false,
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(100));
        }
    }

    async fn release(mut self) {
        self.released = true;
        if let Err(e) = self
            .store
            .release_lease(AUTOMATION_LOCK, &self.holder)
            .await
        {
            tracing::warn!(error = %e, "cannot release the incident automation lock; it expires by itself");
        }
    }
}

impl Drop for DbLock {
    /// A change cut short (a request that timed out, a client that went away) still releases
    /// the lock, in the background, instead of holding every replica back until it expires.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let (store, holder) = (self.store.clone(), std::mem::take(&mut self.holder));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = store.release_lease(AUTOMATION_LOCK, &holder).await;
            });
        }
    }
}

async fn failing_locked(
    store: &Store,
    config: &Config,
    failure: &Failure,
    actor: &str,
    now: Timestamp,
) -> Result<FailureOutcome, StoreError> {
    if under_maintenance(store, config, &failure.component_id, failure.seen_at).await? {
        tracing::info!(source = %failure.source, component = %failure.component_id,
            "failure during maintenance: no incident (re-evaluated when the window ends)");
        return Ok(FailureOutcome::UnderMaintenance);
    }
    if let Some(attached) = store.incident_source(&failure.source).await? {
        match store.get_incident(&attached.incident_id).await? {
            Some(open) if !open.status.is_resolved() => {
                return Ok(FailureOutcome::AlreadyOpen(open.id));
            }
            // Resolved or deleted by hand while failing: this is a new failure.
            _ => {
                store.detach_incident_source(&failure.source).await?;
            }
        }
    }
    let body = clean_body(&failure.body);
    let attach = |incident_id: &str| IncidentSource {
        source: failure.source.clone(),
        incident_id: incident_id.to_owned(),
        component_id: failure.component_id.clone(),
        status: failure.status,
        label: failure.label.clone(),
        since: now,
    };
    if let Some(open) = store.open_auto_incident_for(&failure.component_id).await? {
        let declared = open
            .components
            .iter()
            .find(|c| c.id == failure.component_id)
            .map_or(failure.status, |c| worse(c.status, failure.status));
        let change = IncidentChange {
            status: None,
            body: Some(clean_body(&format!(
                "Also failing: {}. {body}",
                failure.label
            ))),
            components: vec![AffectedComponent {
                id: failure.component_id.clone(),
                status: declared,
            }],
        };
        store
            .add_incident_update(&open.id, &change, actor, now)
            .await?;
        // A joining source may make the component worse: the incident's impact follows.
        let mut components = open.components.clone();
        match components.iter_mut().find(|c| c.id == failure.component_id) {
            Some(c) => c.status = declared,
            None => components.push(AffectedComponent {
                id: failure.component_id.clone(),
                status: declared,
            }),
        }
        let impact = default_impact(&components);
        if impact > open.impact {
            let edit = IncidentEdit {
                impact: Some(impact),
                ..IncidentEdit::default()
            };
            store.edit_incident(&open.id, &edit, actor, now).await?;
        }
        store.attach_incident_source(&attach(&open.id)).await?;
        tracing::info!(incident = %open.id, source = %failure.source, detail = %failure.detail,
            "failing source joined an automatic incident");
        return Ok(FailureOutcome::Joined(open.id));
    }
    let new = NewIncident {
        title: clean_title(&failure.title),
        status: IncidentStatus::Investigating,
        impact: None,
        body,
        components: vec![AffectedComponent {
            id: failure.component_id.clone(),
            status: failure.status,
        }],
        started_at: failure.started_at.filter(|t| *t <= now),
        auto: true,
    };
    let created = store.create_incident(&new, actor, now).await?;
    store.attach_incident_source(&attach(&created.id)).await?;
    tracing::warn!(incident = %created.id, source = %failure.source, title = %created.title,
        detail = %failure.detail, "automatic incident opened");
    Ok(FailureOutcome::Opened(created.id))
}

/// Reports that a source recovered: resolves its incident when it was the last failing source
/// and no operator took it over; otherwise notes the recovery in the timeline. `detail` is
/// added to that public note: a plain sentence or nothing, never internal detail.
pub async fn source_recovered(
    store: &Store,
    source: &str,
    detail: &str,
    actor: &str,
    now: Timestamp,
) -> Result<RecoveryOutcome, StoreError> {
    // Most recoveries are of sources that hold no incident (every monitor's first success
    // after it was pending, one whose failure opened none): they change nothing, so they take
    // no lock, whose two writes would each wait for the database's write lock. Reading first is
    // equivalent to a locked read that came before a concurrent attachment.
    if store.incident_source(source).await?.is_none() {
        return Ok(RecoveryOutcome::NotAttached);
    }
    exclusively(store, recovered_locked(store, source, detail, actor, now)).await
}

async fn recovered_locked(
    store: &Store,
    source: &str,
    detail: &str,
    actor: &str,
    now: Timestamp,
) -> Result<RecoveryOutcome, StoreError> {
    let Some(attached) = store.incident_source(source).await? else {
        return Ok(RecoveryOutcome::NotAttached);
    };
    // The source is detached only once its recovery is written: if writing fails, a retry of
    // the same event (or of Alertmanager's webhook) finds it still attached and tries again.
    let outcome = write_recovery(store, source, &attached, detail, actor, now).await?;
    store.detach_incident_source(source).await?;
    Ok(outcome)
}

async fn write_recovery(
    store: &Store,
    source: &str,
    attached: &upkeep_store::incidents::IncidentSource,
    detail: &str,
    actor: &str,
    now: Timestamp,
) -> Result<RecoveryOutcome, StoreError> {
    let id = attached.incident_id.clone();
    let Some(incident) = store.get_incident(&id).await? else {
        return Ok(RecoveryOutcome::AlreadyClosed(id));
    };
    if incident.status.is_resolved() {
        return Ok(RecoveryOutcome::AlreadyClosed(id));
    }
    let remaining: Vec<_> = store
        .incident_sources(&id)
        .await?
        .into_iter()
        .filter(|s| s.source != source)
        .collect();
    let recovered = format!("Recovered: {}. {detail}", attached.label)
        .trim_end()
        .to_owned();
    if taken_over(&incident) {
        let change = IncidentChange {
            body: Some(clean_body(&format!(
                "{recovered} An operator is handling this incident, so it stays open."
            ))),
            ..IncidentChange::default()
        };
        store.add_incident_update(&id, &change, actor, now).await?;
        return Ok(RecoveryOutcome::TakenOver(id));
    }
    if remaining.is_empty() {
        let change = IncidentChange {
            status: Some(IncidentStatus::Resolved),
            body: Some(clean_body(&recovered)),
            components: all_operational(&incident.components),
        };
        store.add_incident_update(&id, &change, actor, now).await?;
        tracing::info!(incident = %id, source, "automatic incident resolved");
        return Ok(RecoveryOutcome::Resolved(id));
    }
    // What the component still suffers from the sources that still fail on it.
    let still = remaining
        .iter()
        .filter(|s| s.component_id == attached.component_id)
        .map(|s| s.status)
        .fold(ComponentStatus::Operational, worse);
    let names: Vec<&str> = remaining.iter().map(|s| s.label.as_str()).collect();
    let change = IncidentChange {
        status: None,
        body: Some(clean_body(&format!(
            "{recovered} Still failing: {}.",
            names.join(", ")
        ))),
        components: vec![AffectedComponent {
            id: attached.component_id.clone(),
            status: still,
        }],
    };
    store.add_incident_update(&id, &change, actor, now).await?;
    Ok(RecoveryOutcome::StillFailing(id))
}

/// Follows `monitor_events` and opens and resolves incidents, while `active`, until `stop`.
pub async fn run(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    settings: AutoIncidentSettings,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let every = settings.poll_every;
    let mut ticks = Periodic::while_held("auto-incidents", every, active.clone()).start(stop);
    while ticks.next().await.is_some() {
        let cfg = Arc::clone(&config.borrow());
        ticks.done(follow(&store, &cfg.config, &clock, &settings, &active).await);
    }
}

/// Handles the events recorded since the stored cursor, saving it after each one that changed
/// something and once after the rest. Returns how many were handled.
async fn follow(
    store: &Store,
    config: &Config,
    clock: &SharedClock,
    settings: &AutoIncidentSettings,
    active: &watch::Receiver<bool>,
) -> Result<usize, StoreError> {
    let now = clock.now();
    let follower = EventFollower::new(CURSOR, settings.batch);
    let history = SignedDuration::try_from(settings.history).unwrap_or(SignedDuration::ZERO);
    let cursor = match follower.position(store, now, history).await? {
        Position::Saved(position) => position,
        Position::Fresh(position) => {
            follower.save(store, position, now).await?;
            position
        }
    };
    let mut handled = 0;
    // Where the cursor is saved, and the last event handled: events that change nothing
    // (most are: every monitor's first success) are saved together with the next one that
    // does, at the end of the batch or before an error, not each in its own write. Only a
    // crash makes them handled again, under the configuration they were handled with.
    let mut saved = cursor;
    let mut last = cursor;
    for (position, event) in follower.read(store, cursor).await? {
        // The lease may be lost mid-batch: the new holder continues from the cursor.
        if !*active.borrow() {
            break;
        }
        let changed = match handle(store, config, settings, &event, clock.now()).await {
            Ok(changed) => changed,
            Err(e) => {
                // What was handled stays handled: a configuration reloaded before the retry
                // could make the skipped events act.
                if last != saved && *active.borrow() {
                    follower.save(store, last, clock.now()).await?;
                }
                return Err(e);
            }
        };
        last = position;
        if changed {
            follower.save(store, position, clock.now()).await?;
            saved = position;
        }
        handled += 1;
    }
    // Not after losing the lease: the new holder's cursor may be ahead by now.
    if last != saved && *active.borrow() {
        follower.save(store, last, clock.now()).await?;
    }
    Ok(handled)
}

/// The status a down monitor asks for: `major_outage` when every monitor of its component is
/// down, `partial_outage` otherwise.
async fn monitor_down_status(
    store: &Store,
    config: &Config,
    monitor_id: &str,
    component: &str,
) -> Result<ComponentStatus, StoreError> {
    let states: HashMap<String, MonitorStatus> = store
        .load_monitor_states()
        .await?
        .into_iter()
        .map(|s| (s.monitor_id, s.status))
        .collect();
    let all_down = config
        .monitors
        .iter()
        .filter(|(_, m)| m.component == component)
        .all(|(id, _)| id == monitor_id || states.get(id) == Some(&MonitorStatus::Down));
    Ok(if all_down {
        ComponentStatus::MajorOutage
    } else {
        ComponentStatus::PartialOutage
    })
}

/// The component status an alert of this severity asks for.
pub fn alert_status(severity: Severity) -> ComponentStatus {
    match severity {
        Severity::Critical => ComponentStatus::PartialOutage,
        Severity::Warning | Severity::Info => ComponentStatus::DegradedPerformance,
    }
}

/// The failure a firing rule reports, or `None` when the rule is unknown or its severity opens
/// no incident.
pub fn rule_failure(
    config: &Config,
    settings: &AutoIncidentSettings,
    name: &str,
    reason: &str,
    at: Timestamp,
) -> Option<Failure> {
    let rule = config.rules.iter().find(|r| r.name == name)?;
    if !settings.rule_severities.contains(&rule.severity) {
        return None;
    }
    let component = component_name(config, &rule.component);
    let status = alert_status(rule.severity);
    Some(Failure {
        source: EventSource::Rule(name.to_owned()).key(),
        component_id: rule.component.clone(),
        status,
        label: alert_label(&component),
        title: public_title(&component, status),
        body: public_body(&config.page.public_text.alert, &component, status),
        detail: format!(
            "Alert rule `{name}` ({}) is firing: {reason}",
            rule.severity.as_str()
        ),
        started_at: Some(at),
        seen_at: at,
    })
}

/// The failure a down monitor reports, or `None` when the monitor is unknown.
pub async fn monitor_failure(
    store: &Store,
    config: &Config,
    id: &str,
    reason: &str,
    at: Timestamp,
) -> Result<Option<Failure>, StoreError> {
    let Some(monitor) = config.monitors.get(id) else {
        return Ok(None);
    };
    let status = monitor_down_status(store, config, id, &monitor.component).await?;
    let name = component_name(config, &monitor.component);
    Ok(Some(Failure {
        source: EventSource::Monitor(id.to_owned()).key(),
        component_id: monitor.component.clone(),
        status,
        label: format!("a check of {name}"),
        title: public_title(&name, status),
        body: public_body(&config.page.public_text.monitor, &name, status),
        detail: format!("Monitor `{id}` is down: {reason}"),
        started_at: Some(at),
        seen_at: at,
    }))
}

/// The public title of an automatic incident on `component`.
pub fn public_title(component: &str, status: ComponentStatus) -> String {
    match status {
        ComponentStatus::MajorOutage => format!("{component} is down"),
        ComponentStatus::PartialOutage => format!("{component} is partially down"),
        _ => format!("{component} is degraded"),
    }
}

/// The public first update of an automatic incident on `component`: `template` (one of
/// `page.public_text`, by default a plain sentence that names the component and nothing
/// internal) with the component's name and what it suffers.
pub fn public_body(template: &str, component: &str, status: ComponentStatus) -> String {
    let what = match status {
        ComponentStatus::MajorOutage => "down",
        ComponentStatus::PartialOutage => "partially down",
        _ => "degraded",
    };
    upkeep_domain::config::PublicText::render(template, component, what)
}

/// How an alert (a rule's or Alertmanager's) on `component` is named in public updates.
pub fn alert_label(component: &str) -> String {
    format!("an alert on {component}")
}

fn component_name(config: &Config, id: &str) -> String {
    config
        .components
        .get(id)
        .map_or_else(|| id.to_owned(), |c| c.name.clone())
}

/// Whether a maintenance in progress covers `component` at `at` (a tenant's own component
/// only during its tenant's slot, [`upkeep_domain::maintenance::Coverage`]): its failures then
/// open no incident (they are re-evaluated when the window or the slot ends).
pub async fn under_maintenance(
    store: &Store,
    config: &Config,
    component: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    use upkeep_domain::maintenance::{Coverage, MaintenanceStatus};
    use upkeep_store::maintenance::MaintenanceFilter;
    Ok(store
        .list_maintenances(MaintenanceFilter::Active, 1000)
        .await?
        .iter()
        .any(|m| {
            m.status == MaintenanceStatus::InProgress
                && Coverage::of(config, m).covers(component, at)
        }))
}

/// Handles one monitor or rule transition.
async fn handle(
    store: &Store,
    config: &Config,
    settings: &AutoIncidentSettings,
    event: &StoredMonitorEvent,
    now: Timestamp,
) -> Result<bool, StoreError> {
    // Whether the event may have changed an incident (only a recovery of a source that holds
    // none, and the transitions that open nothing, certainly did not).
    let changed = match (&event.source, event.from, event.to) {
        (EventSource::Rule(name), _, EventState::Firing) => {
            match rule_failure(config, settings, name, &event.reason, event.at) {
                Some(failure) => {
                    source_failing(store, config, &failure, AUTO_ACTOR, now).await?;
                    true
                }
                None => false,
            }
        }
        (EventSource::Rule(_), EventState::Firing, _) => {
            tracing::info!(source = %event.source.key(), reason = %event.reason, "alert rule no longer firing");
            source_recovered(store, &event.source.key(), "", AUTO_ACTOR, now).await?
                != RecoveryOutcome::NotAttached
        }
        (EventSource::Monitor(id), _, EventState::Down) => {
            match monitor_failure(store, config, id, &event.reason, event.at).await? {
                Some(failure) => {
                    source_failing(store, config, &failure, AUTO_ACTOR, now).await?;
                    true
                }
                None => false,
            }
        }
        (EventSource::Monitor(_), _, EventState::Up) => {
            tracing::info!(source = %event.source.key(), reason = %event.reason, "monitor up again");
            source_recovered(store, &event.source.key(), "", AUTO_ACTOR, now).await?
                != RecoveryOutcome::NotAttached
        }
        // Other transitions of monitors and rules, and the other sources, open no incident.
        _ => false,
    };
    Ok(changed)
}
