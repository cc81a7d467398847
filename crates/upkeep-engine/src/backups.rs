//! Backups against their RPO and drills against their RTO (`docs/decisions.md#backups-and-drills`): the assessment of a
//! backup set shared by the API, the DR readiness page and the CLI ([`assess`]), and the loop
//! that watches every set and alerts operators on each transition ([`run`]).
//!
//! - Every tick (10 s by default) each configured set is assessed; its age and state are
//!   exported on `/metrics` (`upkeep_backup_age_seconds{set}`,
//!   `upkeep_backup_state{set,state}` = 1 for the current state, 0 for the others) on every
//!   replica.
//! - Only the replica holding the monitoring lease records transitions: a change of state is
//!   a `monitor_events` row for `backup:SET` (`ok`, `at_risk`, `breached`, `unknown`), a change
//!   of drill overdue-ness one for `drill:SET` (`ok`, `overdue`), each with an operator alert
//!   in the log (`error` for breached and overdue, `warn` for at risk, `info` on recovery). The
//!   previous state is the last stored event, so restarts and lease hand-overs neither repeat
//!   nor miss an alert. A set never seen before counts as `unknown` / `ok`.
//! - The automatic-incident follower reads only monitor and rule events, so it ignores these.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::backup::{self, BackupState};
use upkeep_domain::config::{Backup, Config};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_store::backups::{BackupRun, DrillRecord};
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::periodic::Periodic;
use crate::transitions::Transitions;

/// Where a backup set stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub id: String,
    pub rpo: Duration,
    pub rto: Duration,
    pub drill_every: Option<Duration>,
    pub state: BackupState,
    /// The last successful run (failed runs never count).
    pub last_backup: Option<BackupRun>,
    /// The age of the last good backup, from its start.
    pub age_ms: Option<i64>,
    /// The age in parts per million of the RPO.
    pub age_rpo_ppm: Option<i64>,
    /// The latest finished drill, counted or not.
    pub last_drill: Option<DrillRecord>,
    /// A drill still running, if any.
    pub open_drill: Option<DrillRecord>,
    /// Whether the latest finished drill counts and its recovery time is within the RTO.
    pub meets_rto: bool,
    /// `drill_every` after the last counted drill; `None` without a cadence or when never
    /// drilled (then due at once).
    pub next_drill_due: Option<Timestamp>,
    pub drill_overdue: bool,
    /// Ready for disaster recovery: backups within the RPO (`ok` or `at_risk`) and, when
    /// drills are expected, the last drill met the RTO and none is overdue.
    pub ready: bool,
}

/// Assesses backup set `id` at `now`.
pub async fn assess(
    store: &Store,
    id: &str,
    set: &Backup,
    now: Timestamp,
) -> Result<Assessment, StoreError> {
    let last_backup = store.last_backup(&set.push_key).await?;
    let started = last_backup.as_ref().map(|r| r.started_at);
    let state = backup::state(set.rpo, started, now);
    let age_ms = backup::age_ms(started, now);
    let last_drill = store.last_finished_drill(id).await?;
    let open_drill = store.open_drill(id).await?;
    let counted = store.last_counted_drill(id).await?;
    let counted_at = counted.as_ref().and_then(|d| d.finished_at);
    let meets_rto = last_drill
        .as_ref()
        .is_some_and(|d| backup::meets_rto(d.recovery_ms, set.rto));
    let drill_overdue = backup::drill_overdue(counted_at, set.drill_every, now);
    let ready = matches!(state, BackupState::Ok | BackupState::AtRisk)
        && (set.drill_every.is_none() || (meets_rto && !drill_overdue));
    Ok(Assessment {
        id: id.to_owned(),
        rpo: set.rpo,
        rto: set.rto,
        drill_every: set.drill_every,
        state,
        age_rpo_ppm: age_ms.map(|a| backup::age_rpo_ppm(a, set.rpo)),
        age_ms,
        last_backup,
        last_drill,
        open_drill,
        meets_rto,
        next_drill_due: backup::next_drill_due(counted_at, set.drill_every),
        drill_overdue,
        ready,
    })
}

/// Assesses every backup set of `config`, in id order.
pub async fn assess_all(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<Assessment>, StoreError> {
    let mut out = Vec::with_capacity(config.backups.len());
    for (id, set) in &config.backups {
        out.push(assess(store, id, set, now).await?);
    }
    Ok(out)
}

/// The event source of a backup set's state.
pub fn state_source(id: &str) -> EventSource {
    EventSource::Backup(id.to_owned())
}

/// The event source of a backup set's drill cadence.
pub fn drill_source(id: &str) -> EventSource {
    EventSource::Drill(id.to_owned())
}

/// Settings of [`run`].
#[derive(Debug, Clone)]
pub struct BackupWatchSettings {
    pub every: Duration,
}

impl Default for BackupWatchSettings {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(10),
        }
    }
}

/// Watches every backup set until `stop`; see the module documentation.
pub async fn run(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    settings: BackupWatchSettings,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    // Gauges on every replica; transitions recorded by the lease holder.
    let mut ticks = Periodic::observing("backups", settings.every, active).start(stop);
    while let Some(turn) = ticks.next().await {
        let cfg = Arc::clone(&config.borrow());
        ticks.done(check(&store, &cfg.config, clock.now(), turn.held).await);
    }
}

/// One pass: assess, export, and (when `record`) store and log transitions. Returns the events
/// recorded.
pub async fn check(
    store: &Store,
    config: &Config,
    now: Timestamp,
    record: bool,
) -> Result<Vec<MonitorEvent>, StoreError> {
    let assessments = assess_all(store, config, now).await?;
    let mut changes = Transitions::new(store, now);
    for a in &assessments {
        export(a);
        if !record {
            continue;
        }
        let (initial, to) = (EventState::Unknown, a.state.into());
        if let Some(e) = changes
            .observe(state_source(&a.id), initial, to, || state_reason(a))
            .await?
        {
            alert_state(a, e.from);
        }
        let to = if a.drill_overdue {
            EventState::Overdue
        } else {
            EventState::Ok
        };
        let drill = changes
            .observe(drill_source(&a.id), EventState::Ok, to, || drill_reason(a))
            .await?;
        if drill.is_some() {
            if a.drill_overdue {
                tracing::error!(set = %a.id, "operator alert: backup set `{}` is overdue for a recovery drill ({})", a.id, drill_reason(a));
            } else {
                tracing::info!(set = %a.id, "operator alert: backup set `{}` is no longer overdue for a recovery drill", a.id);
            }
        }
    }
    changes.record().await
}

fn export(a: &Assessment) {
    let age = a.age_ms.map_or(-1.0, |ms| ms as f64 / 1000.0);
    metrics::gauge!("upkeep_backup_age_seconds", "set" => a.id.clone()).set(age);
    for s in BackupState::ALL {
        let v = if s == a.state { 1.0 } else { 0.0 };
        metrics::gauge!("upkeep_backup_state", "set" => a.id.clone(), "state" => s.as_str()).set(v);
    }
}

fn human(ms: i64) -> String {
    let s = ms / 1000;
    format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
}

fn state_reason(a: &Assessment) -> String {
    let rpo = human(backup::duration_ms(a.rpo));
    match a.age_ms {
        Some(age) => format!(
            "last good backup {} old (RPO {rpo}, {} ppm)",
            human(age),
            a.age_rpo_ppm.unwrap_or(0)
        ),
        None => format!("no successful backup recorded (RPO {rpo})"),
    }
}

fn drill_reason(a: &Assessment) -> String {
    match (a.next_drill_due, a.drill_every) {
        (_, None) => "no drills expected".into(),
        (None, Some(_)) => "never drilled with a validated restore".into(),
        (Some(due), Some(_)) => format!("next drill due {due:.0}"),
    }
}

fn alert_state(a: &Assessment, before: EventState) {
    let reason = state_reason(a);
    match a.state {
        BackupState::Breached => tracing::error!(
            set = %a.id, from = %before,
            "operator alert: backup set `{}` breached its RPO: {reason}", a.id
        ),
        BackupState::AtRisk => tracing::warn!(
            set = %a.id, from = %before,
            "operator alert: backup set `{}` is at risk of breaching its RPO: {reason}", a.id
        ),
        BackupState::Ok => tracing::info!(
            set = %a.id, from = %before,
            "operator alert: backup set `{}` recovered: {reason}", a.id
        ),
        BackupState::Unknown => tracing::warn!(
            set = %a.id, from = %before,
            "operator alert: backup set `{}` has no successful backup: {reason}", a.id
        ),
    }
}
