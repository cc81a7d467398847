//! Timers (lease holder): maintenance reminders, re-notification of alerts still firing,
//! held-back alerts whose window ended, expired unconfirmed subscriptions, outbox gauges; and
//! pruning of the outbox.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::Config;
use upkeep_domain::event::EventSource;
use upkeep_domain::maintenance::MaintenanceStatus;
use upkeep_domain::notify::{AlertState, MaintenanceEvent, MaintenanceNotice, Notice};
use upkeep_store::alerts::AlertChange;
use upkeep_store::maintenance::MaintenanceFilter;
use upkeep_store::{Store, StoreError};

use super::alerts::covered;
use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::periodic::Periodic;

/// The reminder due for a maintenance at `now`, if any: the shortest configured lead whose
/// moment has passed before the start, unless the maintenance was announced after that moment
/// (a short-notice maintenance is not "reminded" right after its announcement).
pub fn due_reminder(
    reminders: &[Duration],
    starts_at: Timestamp,
    announced_at: Timestamp,
    now: Timestamp,
) -> Option<Duration> {
    if now >= starts_at {
        return None;
    }
    reminders
        .iter()
        .copied()
        .filter(|lead| {
            let lead = SignedDuration::try_from(*lead).unwrap_or(SignedDuration::MAX);
            starts_at
                .checked_sub(lead)
                .is_ok_and(|moment| moment <= now && announced_at < moment)
        })
        .min()
}

/// One pass of the timers.
pub async fn timers_once(store: &Store, config: &Config, now: Timestamp) -> Result<(), StoreError> {
    // Reminders.
    for m in store
        .list_maintenances(MaintenanceFilter::Upcoming, 1000)
        .await?
    {
        if !m.notify_subscribers || m.status != MaintenanceStatus::Scheduled {
            continue;
        }
        let reminders = &config.maintenance.policy.reminders;
        if due_reminder(reminders, m.starts_at, m.scheduled_at, now).is_none() {
            continue;
        }
        // Announced when last scheduled or moved (a postponed maintenance gets no "starts in
        // 3 days" reminder 90 minutes before its new start).
        let announced = match store.last_announcement(&m.id).await? {
            Some(at) => at.max(m.scheduled_at),
            None => m.scheduled_at,
        };
        let Some(lead) = due_reminder(reminders, m.starts_at, announced, now) else {
            continue;
        };
        let key = format!(
            "maintenance:{}:reminder:{}:{}",
            m.id,
            lead.as_secs(),
            m.starts_at.as_millisecond()
        );
        let notice = Notice::Maintenance(MaintenanceNotice {
            event: MaintenanceEvent::Reminder,
            id: m.id.clone(),
            title: m.title.clone(),
            kind: m.kind.as_str().to_owned(),
            description: m.description.clone().unwrap_or_default(),
            reason: m.reason.clone().unwrap_or_default(),
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            previous: None,
            components: m.components.clone(),
            tenants: match &m.tenants {
                upkeep_domain::config::TenantSel::All => None,
                upkeep_domain::config::TenantSel::List(ids) => Some(ids.clone()),
            },
            canary: m.canary().to_vec(),
            lead_seconds: Some(lead.as_secs()),
            at: now,
        });
        if store.enqueue_notice(&key, &notice, now).await? {
            tracing::info!(maintenance = %m.id, lead_s = lead.as_secs(), "maintenance reminder queued");
        }
    }
    // Alerts held back by a maintenance, and re-notification of those still firing.
    let every = config.notifications.renotify_every;
    for alert in store.alert_states().await? {
        if !alert_source_exists(store, config, &alert.key).await? {
            let detail = "its source is no longer in the configuration".to_owned();
            let change = AlertChange::Resolve {
                key: alert.key.clone(),
                at: now,
                detail,
                // Unique per resolution (the key may come back and go again).
                event_id: now.as_millisecond(),
            };
            store.apply_alert_changes(&[change], None, now).await?;
            tracing::info!(alert = %alert.key, "alert resolved: its source was removed");
            continue;
        }
        if covered(store, config, alert.component.as_deref(), now).await? {
            continue;
        }
        if !alert.notified {
            if alert.acknowledged_at.is_some() {
                // An operator took it during the window: nobody is paged for it, now or when
                // it resolves.
                continue;
            }
            if store
                .notify_alert_again(&alert, AlertState::Firing, now)
                .await?
            {
                tracing::warn!(alert = %alert.key, "alert still firing after its maintenance: notified");
            }
            continue;
        }
        if every.is_zero() || alert.acknowledged_at.is_some() {
            continue;
        }
        let every = SignedDuration::try_from(every).unwrap_or(SignedDuration::MAX);
        let due = alert
            .last_notified_at
            .is_none_or(|last| now.duration_since(last) >= every);
        if due {
            store
                .notify_alert_again(&alert, AlertState::Repeat, now)
                .await?;
        }
    }
    store.prune_unconfirmed(now).await?;
    export_gauges(store, now).await
}

async fn export_gauges(store: &Store, now: Timestamp) -> Result<(), StoreError> {
    let stats = store.outbox_stats().await?;
    metrics::gauge!("upkeep_outbox_pending").set(stats.pending as f64);
    metrics::gauge!("upkeep_outbox_unfanned").set(stats.unfanned as f64);
    metrics::gauge!("upkeep_outbox_failed").set(stats.failed as f64);
    let age = stats
        .oldest
        .map_or(0.0, |t| now.duration_since(t).as_secs_f64().max(0.0));
    metrics::gauge!("upkeep_outbox_oldest_age_seconds").set(age);
    Ok(())
}

/// Whether an alert's source still exists: a configured monitor, rule, SLO or backup set, or a
/// maintenance still scheduled (pre-flight holds), a rollout not over.
async fn alert_source_exists(
    store: &Store,
    config: &Config,
    key: &str,
) -> Result<bool, StoreError> {
    let Some(source) = EventSource::parse_key(key) else {
        return Ok(false);
    };
    // Leveled sources carry `#SEVERITY`; rule names may hold `#` themselves.
    let unleveled = |id: &str| id.rsplit_once('#').map_or(id, |(id, _)| id).to_owned();
    Ok(match &source {
        EventSource::Monitor(id) => config.monitors.contains_key(&unleveled(id)),
        EventSource::Rule(name) => config.rules.iter().any(|r| r.name == *name),
        EventSource::Slo(id) => config.slos.contains_key(&unleveled(id)),
        EventSource::Backup(id) | EventSource::Drill(id) => {
            config.backups.contains_key(&unleveled(id))
        }
        EventSource::Preflight(id) => store
            .get_maintenance(id)
            .await?
            .is_some_and(|m| m.status == MaintenanceStatus::Scheduled),
        EventSource::Rollout(id) => {
            crate::rollout::driver::alert_source_exists(store, &unleveled(id)).await?
        }
        EventSource::Inventory(id) => {
            let at = unleveled(id);
            let item = at.split_once('@').map_or(at.as_str(), |(item, _)| item);
            config.inventory.items.contains_key(item)
        }
        // An agent is known by its token, not the configuration: its alert stands until the
        // agent is heard from again or its token is revoked (the watcher then records `ok`).
        EventSource::Agent(_) => true,
        EventSource::Location(id) => {
            let at = unleveled(id);
            at.split_once('@').is_some_and(|(monitor, location)| {
                config
                    .monitors
                    .get(monitor)
                    .is_some_and(|m| m.probed_from(location))
            })
        }
    })
}

/// Runs the timers every few seconds while `active`, until `stop`.
pub async fn timers(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let every = Duration::from_secs(5);
    let mut ticks = Periodic::while_held("notify-timers", every, active).start(stop);
    while ticks.next().await.is_some() {
        let cfg = Arc::clone(&config.borrow());
        ticks.done(timers_once(&store, &cfg.config, clock.now()).await);
    }
}

/// Where pruning of the outbox cuts at `now`: `notifications.retention` back, but never less
/// than the longest reminder lead and a day (a reminder's notice must outlive its moment, or
/// it would be written again).
pub fn prune_cutoff(config: &Config, now: Timestamp) -> Timestamp {
    let longest_lead = config
        .maintenance
        .policy
        .reminders
        .iter()
        .max()
        .copied()
        .unwrap_or_default();
    let keep = config
        .notifications
        .retention
        .max(longest_lead.saturating_add(Duration::from_secs(86_400)));
    now.checked_sub(SignedDuration::try_from(keep).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MIN)
}

/// Prunes the outbox every hour while `active`, until `stop`.
pub async fn prune(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let every = Duration::from_secs(3600);
    let mut ticks = Periodic::while_held("notify-prune", every, active).start(stop);
    while ticks.next().await.is_some() {
        let now = clock.now();
        let cutoff = prune_cutoff(&config.borrow().config, now);
        // Probe agents' batch records and the queued results no round will judge.
        let loaded = Arc::clone(&config.borrow());
        let agents = crate::service::agents::prune(&store, &loaded.config, now).await;
        match agents {
            Ok(p) if p == Default::default() => {}
            Ok(p) => tracing::info!(
                batches = p.batches,
                old_results = p.old_results,
                unassigned_results = p.unassigned_results,
                "probe agents: old batch records and queued results pruned"
            ),
            Err(e) => tracing::warn!(error = %e, "probe agents: records not pruned"),
        }
        let pruned = store.prune_outbox(cutoff).await;
        if let Ok((notices, deliveries)) = pruned
            && notices + deliveries > 0
        {
            tracing::info!(notices, deliveries, "notifications: outbox pruned");
        }
        ticks.done(pruned);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{config, ts};
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn reminders_pick_the_shortest_lead_due_and_respect_the_announcement() {
        let leads = [Duration::from_secs(72 * H), Duration::from_secs(H)];
        let start = ts("2026-03-10T20:00:00Z");
        let announced = ts("2026-02-01T00:00:00Z");
        let at = |h: i64| start - SignedDuration::from_hours(h);
        assert_eq!(due_reminder(&leads, start, announced, at(73)), None);
        assert_eq!(
            due_reminder(&leads, start, announced, at(72)),
            Some(leads[0])
        );
        assert_eq!(
            due_reminder(&leads, start, announced, at(2)),
            Some(leads[0])
        );
        assert_eq!(
            due_reminder(&leads, start, announced, at(1)),
            Some(leads[1])
        );
        assert_eq!(due_reminder(&leads, start, announced, start), None);
        // Announced 2 h ahead: only the 1 h reminder ever.
        let late = at(2);
        assert_eq!(due_reminder(&leads, start, late, at(2)), None);
        assert_eq!(due_reminder(&leads, start, late, at(1)), Some(leads[1]));
        // No reminders configured.
        assert_eq!(due_reminder(&[], start, announced, at(1)), None);
    }

    #[test]
    fn pruning_keeps_the_retention_and_every_reminder_s_notice() {
        let mut cfg = config();
        let now = ts("2026-06-01T00:00:00Z");
        assert_eq!(prune_cutoff(&cfg, now), ts("2026-05-02T00:00:00Z"));
        cfg.maintenance.policy.reminders = vec![Duration::from_secs(45 * 86_400)];
        assert_eq!(prune_cutoff(&cfg, now), ts("2026-04-16T00:00:00Z"));
    }
}
