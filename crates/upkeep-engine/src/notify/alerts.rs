//! Operator alerts (lease holder): the operator event log (`monitor_events`: monitors, rules,
//! pre-flight holds, rollouts, SLO burn, backups, drills, inventory policies) becomes firing and resolved alerts; an alert on
//! a component under maintenance is recorded but held back.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Config, Severity};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_domain::notify::{AlertNotice, AlertState};
use upkeep_store::alerts::AlertChange;
use upkeep_store::monitoring::StoredMonitorEvent;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::follower::{EventFollower, Position};
use crate::periodic::Periodic;

/// The follower's cursor over `monitor_events`.
pub const ALERT_CURSOR: &str = "notify:monitor_events";

/// What an operator event means for alerting: the alert keys it resolves and the alert it
/// fires, if any. `None` when the event is not an alert source (or not configured any more).
pub fn alert_change_of(
    config: &Config,
    event: &StoredMonitorEvent,
) -> Option<(Vec<String>, Option<AlertNotice>)> {
    let key = event.source.key();
    let fire =
        |key: String, severity: Severity, component: Option<String>, summary: String| AlertNotice {
            key,
            state: AlertState::Firing,
            severity,
            component,
            summary,
            detail: event.reason.clone(),
            since: event.at,
            at: event.at,
        };
    // Sources with levels (SLO burn, backups, drills): one key per severity, so an escalation
    // pages again and a de-escalation resolves the higher one.
    let leveled = |severity: Option<Severity>, what: String, component| {
        let keys: Vec<String> = Severity::ALL
            .iter()
            .filter(|(_, s)| Some(*s) != severity)
            .map(|(name, _)| format!("{key}#{name}"))
            .collect();
        let firing = severity.map(|s| fire(format!("{key}#{}", s.as_str()), s, component, what));
        Some((keys, firing))
    };
    // Sources that are on or off (a rule firing, a monitor down): entering the state fires
    // (when the source is still configured), leaving it resolves, other changes mean nothing.
    let switch = |on: EventState, what: &dyn Fn() -> Option<(Severity, String, String)>| {
        if event.to == on {
            let (severity, component, summary) = what()?;
            Some((
                Vec::new(),
                Some(fire(key.clone(), severity, Some(component), summary)),
            ))
        } else if event.from == on {
            Some((vec![key.clone()], None))
        } else {
            None
        }
    };
    match &event.source {
        EventSource::Rule(name) => switch(EventState::Firing, &|| {
            let rule = config.rules.iter().find(|r| r.name == *name)?;
            let summary = format!("alert rule `{name}` is firing on {}", rule.component);
            Some((rule.severity, rule.component.clone(), summary))
        }),
        EventSource::Preflight(mid) => match event.to {
            EventState::Held => Some((
                Vec::new(),
                Some(fire(
                    key.clone(),
                    Severity::Warning,
                    None,
                    format!("pre-flight checks hold maintenance {mid}"),
                )),
            )),
            _ => Some((vec![key.clone()], None)),
        },
        EventSource::Slo(component) => {
            let what = format!(
                "SLO of `{component}` is burning its error budget ({})",
                event.to
            );
            leveled(event.to.severity(), what, Some(component.clone()))
        }
        EventSource::Backup(set) => {
            let severity = match event.to {
                EventState::Breached | EventState::Unknown => Some(Severity::Critical),
                EventState::AtRisk => Some(Severity::Warning),
                _ => None,
            };
            let what = format!(
                "backup set `{set}` is {}",
                event.to.as_str().replace('_', " ")
            );
            leveled(severity, what, None)
        }
        EventSource::Drill(set) => {
            let severity = (event.to == EventState::Overdue).then_some(Severity::Warning);
            let what = format!("recovery drill of backup set `{set}` is overdue");
            leveled(severity, what, None)
        }
        // Never on a component: a rollout runs inside its maintenance, whose hold-back of
        // component alerts must not swallow it.
        EventSource::Rollout(mid) => {
            let what = format!(
                "rollout of maintenance {mid} needs attention ({})",
                event.to
            );
            leveled(event.to.severity(), what, None)
        }
        EventSource::Inventory(at) => {
            let (item, place) = at.split_once('@').unwrap_or((at.as_str(), ""));
            let what = format!(
                "inventory item `{item}` at {place} breaks the update policy ({})",
                event.to
            );
            leveled(event.to.severity(), what, None)
        }
        EventSource::Agent(name) => {
            let what = format!("probe agent `{name}` needs attention ({})", event.to);
            leveled(event.to.severity(), what, None)
        }
        // On the monitor's component: a maintenance's hold-back covers it as it covers the
        // monitor's own alert.
        EventSource::Location(at) => {
            let (monitor, location) = at.split_once('@').unwrap_or((at.as_str(), ""));
            let what = format!(
                "monitor `{monitor}` fails from {location}, below its quorum ({})",
                event.to
            );
            let component = config.monitors.get(monitor).map(|m| m.component.clone());
            leveled(event.to.severity(), what, component)
        }
        // Down fires the monitor's alert; unknown (too few locations report) a warning of its
        // own, `monitor:ID#unknown`, resolved when a quorum reports again.
        EventSource::Monitor(id) if event.to == EventState::Unknown => {
            let m = config.monitors.get(id)?;
            let summary = format!(
                "monitor `{id}` cannot be judged: too few of its locations report ({})",
                m.component
            );
            Some((
                Vec::new(),
                Some(fire(
                    format!("{key}#unknown"),
                    Severity::Warning,
                    Some(m.component.clone()),
                    summary,
                )),
            ))
        }
        EventSource::Monitor(id) if event.from == EventState::Unknown => {
            let mut change = switch(EventState::Down, &|| {
                let m = config.monitors.get(id)?;
                let summary = format!("monitor `{id}` is down ({})", m.component);
                Some((m.severity, m.component.clone(), summary))
            })
            .unwrap_or_default();
            change.0.push(format!("{key}#unknown"));
            Some(change)
        }
        EventSource::Monitor(id) => switch(EventState::Down, &|| {
            let m = config.monitors.get(id)?;
            let summary = format!("monitor `{id}` is down ({})", m.component);
            Some((m.severity, m.component.clone(), summary))
        }),
    }
}

/// Whether a component is covered by a maintenance in progress.
pub(super) async fn covered(
    store: &Store,
    config: &Config,
    component: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    match component {
        Some(c) => crate::incidents::under_maintenance(store, config, c, now).await,
        None => Ok(false),
    }
}

/// The alert follower's view of the event log.
const ALERT_FOLLOWER: EventFollower = EventFollower::new(ALERT_CURSOR, 500);

/// Reads the settled operator events after the cursor and applies them, moving the cursor in
/// the same transaction. Returns how many were read.
pub async fn follow_alerts_once(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let cursor = match ALERT_FOLLOWER
        .position(store, now, SignedDuration::ZERO)
        .await?
    {
        Position::Saved(c) => c,
        Position::Fresh(start) => {
            // A database never followed: start at its present, not at the beginning of time,
            // but with the monitors that are down now (they would otherwise page only after
            // they recover and fail again).
            let mut changes = Vec::new();
            for state in store.load_monitor_states().await? {
                let Some(m) = config.monitors.get(&state.monitor_id) else {
                    continue;
                };
                if state.status != MonitorStatus::Down || state.paused {
                    continue;
                }
                let notice = AlertNotice {
                    key: EventSource::Monitor(state.monitor_id.clone()).key(),
                    state: AlertState::Firing,
                    severity: m.severity,
                    component: Some(m.component.clone()),
                    summary: format!("monitor `{}` is down ({})", state.monitor_id, m.component),
                    detail: "down when notifications started".to_owned(),
                    since: state.changed_at,
                    at: now,
                };
                let suppressed = covered(store, config, notice.component.as_deref(), now).await?;
                changes.push(AlertChange::Fire {
                    notice,
                    suppressed,
                    event_id: start.id,
                });
            }
            store
                .apply_alert_changes(&changes, Some((ALERT_CURSOR, start)), now)
                .await?;
            start
        }
    };
    let events = ALERT_FOLLOWER.read(store, cursor).await?;
    let Some(last) = events.last().map(|(position, _)| *position) else {
        return Ok(0);
    };
    let mut changes = Vec::new();
    for (_, event) in &events {
        let Some((resolve, fire)) = alert_change_of(config, event) else {
            continue;
        };
        for key in resolve {
            changes.push(AlertChange::Resolve {
                key,
                at: event.at,
                detail: event.reason.clone(),
                event_id: event.id,
            });
        }
        if let Some(notice) = fire {
            let suppressed = covered(store, config, notice.component.as_deref(), event.at).await?;
            if suppressed {
                tracing::info!(alert = %notice.key, "alert during maintenance: held back until the window ends");
            }
            changes.push(AlertChange::Fire {
                notice,
                suppressed,
                event_id: event.id,
            });
        }
    }
    store
        .apply_alert_changes(&changes, Some((ALERT_CURSOR, last)), now)
        .await?;
    Ok(events.len())
}

/// Follows the operator event log while `active`, until `stop`.
pub async fn follow_alerts(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let every = Duration::from_millis(500);
    let mut ticks = Periodic::while_held("notify-alerts", every, active).start(stop);
    while ticks.next().await.is_some() {
        let cfg = Arc::clone(&config.borrow());
        ticks.done(follow_alerts_once(&store, &cfg.config, clock.now()).await);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{config, ts};
    use super::*;

    fn event(source: &str, from: &str, to: &str) -> StoredMonitorEvent {
        StoredMonitorEvent {
            id: 7,
            source: EventSource::parse(source).unwrap(),
            at: ts("2026-03-10T20:00:00Z"),
            from: EventState::parse(from).unwrap(),
            to: EventState::parse(to).unwrap(),
            reason: "why".into(),
        }
    }

    #[test]
    fn operator_events_become_alerts_with_their_severity() {
        let cfg = config();
        let (resolve, fire) = alert_change_of(&cfg, &event("m", "up", "down")).unwrap();
        assert!(resolve.is_empty());
        let fire = fire.unwrap();
        assert_eq!(
            (fire.key.as_str(), fire.severity),
            ("monitor:m", Severity::Warning)
        );
        assert_eq!(fire.component.as_deref(), Some("api"));
        let (resolve, fire) = alert_change_of(&cfg, &event("m", "down", "up")).unwrap();
        assert_eq!((resolve, fire), (vec!["monitor:m".to_owned()], None));
        // Pending → up is no alert change; an unknown monitor going down neither.
        assert!(alert_change_of(&cfg, &event("m", "pending", "up")).is_none());
        assert!(alert_change_of(&cfg, &event("gone", "up", "down")).is_none());
        let (_, fire) = alert_change_of(&cfg, &event("rule:HighCPU", "pending", "firing")).unwrap();
        assert_eq!(fire.unwrap().severity, Severity::Critical);
        let (resolve, _) =
            alert_change_of(&cfg, &event("rule:HighCPU", "firing", "inactive")).unwrap();
        assert_eq!(resolve, vec!["rule:HighCPU".to_owned()]);
    }

    #[test]
    fn inventory_policies_fire_by_severity_and_clear() {
        let cfg = config();
        let (resolve, fire) =
            alert_change_of(&cfg, &event("inventory:traefik@prod-eu", "ok", "critical")).unwrap();
        let fire = fire.unwrap();
        assert_eq!(
            (fire.key.as_str(), fire.severity, fire.component),
            (
                "inventory:traefik@prod-eu#critical",
                Severity::Critical,
                None
            )
        );
        assert!(
            fire.summary.contains("`traefik` at prod-eu"),
            "{}",
            fire.summary
        );
        assert_eq!(resolve.len(), 2, "the other levels resolve: {resolve:?}");
        let (resolve, fire) =
            alert_change_of(&cfg, &event("inventory:traefik@prod-eu", "critical", "ok")).unwrap();
        assert_eq!(fire, None);
        assert!(resolve.contains(&"inventory:traefik@prod-eu#critical".to_owned()));
    }

    #[test]
    fn leveled_sources_page_again_on_escalation_and_resolve_the_rest() {
        let cfg = config();
        let (resolve, fire) =
            alert_change_of(&cfg, &event("backup:nightly", "ok", "at_risk")).unwrap();
        let fire = fire.unwrap();
        assert_eq!(
            (fire.key.as_str(), fire.severity),
            ("backup:nightly#warning", Severity::Warning)
        );
        assert!(resolve.contains(&"backup:nightly#critical".to_owned()));
        assert!(!resolve.contains(&"backup:nightly#warning".to_owned()));
        let (resolve, fire) =
            alert_change_of(&cfg, &event("backup:nightly", "at_risk", "breached")).unwrap();
        assert_eq!(fire.unwrap().key, "backup:nightly#critical");
        assert!(resolve.contains(&"backup:nightly#warning".to_owned()));
        let (resolve, fire) =
            alert_change_of(&cfg, &event("backup:nightly", "breached", "ok")).unwrap();
        assert!(fire.is_none());
        assert_eq!(resolve.len(), 3);
        let (_, fire) = alert_change_of(&cfg, &event("preflight:abc", "ok", "held")).unwrap();
        assert_eq!(fire.unwrap().key, "preflight:abc");
        let (_, fire) = alert_change_of(&cfg, &event("slo:api", "ok", "critical")).unwrap();
        assert_eq!(fire.unwrap().key, "slo:api#critical");
        // A rollout's alerts are on no component: never held back by its own maintenance.
        let (_, fire) = alert_change_of(&cfg, &event("rollout:m1", "warning", "critical")).unwrap();
        let fire = fire.unwrap();
        assert_eq!(
            (fire.key.as_str(), fire.severity, fire.component),
            ("rollout:m1#critical", Severity::Critical, None)
        );
        let (resolve, fire) =
            alert_change_of(&cfg, &event("rollout:m1", "critical", "ok")).unwrap();
        assert!(fire.is_none());
        assert!(resolve.contains(&"rollout:m1#critical".to_owned()));
    }
}
