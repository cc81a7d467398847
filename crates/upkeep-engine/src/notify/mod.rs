//! Notifications: the outbox's workers (`docs/notifications.md`).
//!
//! - [`fan_out`] (lease holder): each notice written by a change becomes one delivery per
//!   recipient — confirmed subscribers whose scope covers it for customer notices, the routed
//!   channels for operator alerts — rendered once ([`render`]) and stored with its delivery id.
//! - [`follow_alerts`] (lease holder): the operator event log (`monitor_events`: monitors,
//!   rules, pre-flight holds, SLO burn, backups, drills) becomes firing and resolved alerts; an
//!   alert on a component under maintenance is recorded but held back.
//! - [`timers`] (lease holder): maintenance reminders, re-notification of alerts still firing,
//!   held-back alerts whose window ended, expired unconfirmed subscriptions, outbox gauges.
//! - [`deliver`] (every replica): claims due deliveries, sends them ([`send`]), records the
//!   outcome; failures are retried with backoff until `notifications.retry.max_age`.

pub mod links;
pub mod render;
pub mod send;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Channel, Config, Severity};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::maintenance::MaintenanceStatus;
use upkeep_domain::maintenance::slots::maintenance_slots;
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_domain::notify::retry::Next;
use upkeep_domain::notify::routing::{channels_for, subscriber_wants};
use upkeep_domain::notify::{
    AlertNotice, AlertState, Audience, MaintenanceEvent, MaintenanceNotice, Notice,
};
use upkeep_store::alerts::AlertChange;
use upkeep_store::maintenance::MaintenanceFilter;
use upkeep_store::monitoring::StoredMonitorEvent;
use upkeep_store::outbox::{
    DeliveryOutcome, DeliveryRecord, NewDelivery, StoredNotice, new_delivery_id, redact_destination,
};
use upkeep_store::subscribers::SubscriberRecord;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::follower::{EventFollower, Position};
use crate::periodic::Periodic;
use render::{Reader, Site};
use send::{ChannelKind, Content, Outgoing, Senders};

/// The follower's cursor over `monitor_events`.
pub const ALERT_CURSOR: &str = "notify:monitor_events";

/// Display names of the configured components, by id.
pub fn component_names(config: &Config) -> BTreeMap<String, String> {
    config
        .components
        .iter()
        .map(|(id, c)| (id.clone(), c.name.clone()))
        .collect()
}

/// The zone a reader sees times in: their tenant's region's, else the page's.
pub fn reader_zone(config: &Config, tenant: Option<&str>) -> (TimeZone, String) {
    tenant
        .and_then(|t| config.tenants.get(t))
        .and_then(|t| config.regions.get(&t.region))
        .map(|r| (r.timezone.clone(), r.timezone_name.clone()))
        .unwrap_or_else(|| {
            (
                config.page.timezone.clone(),
                config.page.timezone_name.clone(),
            )
        })
}

/// A tenant's own slot in a maintenance, when the policy can place every tenant (the same plan
/// as the tenant's calendar).
fn tenant_slot(
    config: &Config,
    m: &MaintenanceNotice,
    tenant: &str,
) -> Option<(Timestamp, Timestamp)> {
    let covered: Vec<&String> = match &m.tenants {
        None => config.tenants.keys().collect(),
        Some(list) => list.iter().collect(),
    };
    let slots = maintenance_slots(
        &config.tenants,
        &config.regions,
        &config.maintenance.policy,
        &covered,
        m.starts_at,
        m.ends_at,
    )
    .ok()?;
    slots
        .into_iter()
        .find(|s| s.tenant == tenant)
        .map(|s| (s.start, s.end))
}

// ---------------------------------------------------------------------------------------------
// Fan-out
// ---------------------------------------------------------------------------------------------

/// Everything fan-out needs besides the notice.
pub struct FanOutContext<'a> {
    pub config: &'a Config,
    pub link_key: &'a [u8],
    /// Confirmed subscribers.
    pub subscribers: &'a [SubscriberRecord],
}

/// The deliveries of one notice.
pub fn deliveries_for(ctx: &FanOutContext<'_>, stored: &StoredNotice) -> Vec<NewDelivery> {
    let config = ctx.config;
    let site = Site {
        name: &config.page.name,
        url: &config.page.url,
    };
    let names = component_names(config);
    let named = with_names(&stored.notice, config);
    let notice = &named;
    let subject = notice.subject_key();
    let mut out = Vec::new();
    let json = |c: &Content| serde_json::to_string(c).unwrap_or_default();
    match notice {
        Notice::Incident(_) | Notice::Maintenance(_) => {
            for sub in ctx.subscribers {
                let confirmed_in_time = sub.confirmed_at.is_some_and(|t| t <= stored.created_at);
                if !confirmed_in_time || !subscriber_wants(&sub.scope(), notice) {
                    continue;
                }
                let recipient = format!("subscriber:{}", sub.id);
                // One destination, one queue: a subscriber's notifications arrive in order, one
                // at a time (a slow or down receiver holds only its own).
                let order_key = recipient.clone();
                let id = new_delivery_id();
                let (content, channel) = if sub.kind == "webhook" {
                    let body = render::webhook_body(&site, &id, &for_subscriber(notice, sub));
                    (Content::Json { body }, ChannelKind::Webhook)
                } else {
                    let (zone, zone_name) = reader_zone(config, sub.tenant.as_deref());
                    let slot = match (notice, &sub.tenant) {
                        (Notice::Maintenance(m), Some(t)) => tenant_slot(config, m, t),
                        _ => None,
                    };
                    let unsubscribe =
                        links::unsubscribe_url(&config.page.url, ctx.link_key, &sub.id);
                    let reader = Reader {
                        zone: &zone,
                        zone_name: &zone_name,
                        tenant_name: sub
                            .tenant
                            .as_deref()
                            .and_then(|t| config.tenants.get(t))
                            .map(|t| t.name.as_str()),
                        tenant_id: sub.tenant.as_deref(),
                        slot,
                        unsubscribe_url: Some(&unsubscribe),
                        component_names: &names,
                    };
                    let email = render::notice_email(&site, &reader, notice);
                    (
                        Content::Email {
                            subject: email.subject,
                            text: email.text,
                            html: email.html,
                            unsubscribe: Some(unsubscribe.clone()),
                        },
                        ChannelKind::Email,
                    )
                };
                out.push(NewDelivery {
                    id,
                    recipient,
                    channel: channel.as_str().into(),
                    destination: sub.address.clone(),
                    order_key,
                    subject: subject.clone(),
                    content: json(&content),
                });
            }
        }
        Notice::Alert(alert) => {
            let routes = &config.notifications.routes;
            for channel_id in channels_for(routes, alert.severity, alert.component.as_deref()) {
                let Some(channel) = config.notifications.channels.get(&channel_id) else {
                    continue;
                };
                let recipient = format!("channel:{channel_id}");
                let order_key = recipient.clone();
                match channel {
                    Channel::Email(addresses) => {
                        let reader = Reader {
                            zone: &config.page.timezone,
                            zone_name: &config.page.timezone_name,
                            tenant_name: None,
                            tenant_id: None,
                            slot: None,
                            unsubscribe_url: None,
                            component_names: &names,
                        };
                        let email = render::notice_email(&site, &reader, notice);
                        let content = Content::Email {
                            subject: email.subject,
                            text: email.text,
                            html: email.html,
                            unsubscribe: None,
                        };
                        for address in addresses {
                            out.push(NewDelivery {
                                id: new_delivery_id(),
                                recipient: recipient.clone(),
                                channel: ChannelKind::Email.as_str().into(),
                                destination: address.to_string(),
                                order_key: format!("{order_key}:{address}"),
                                subject: subject.clone(),
                                content: json(&content),
                            });
                        }
                    }
                    Channel::Webhook { url, .. } => {
                        let id = new_delivery_id();
                        let body = render::webhook_body(&site, &id, notice);
                        out.push(NewDelivery {
                            id,
                            recipient,
                            channel: ChannelKind::Webhook.as_str().into(),
                            destination: url.clone(),
                            order_key,
                            subject: subject.clone(),
                            content: json(&Content::Json { body }),
                        });
                    }
                    Channel::Slack { url } => {
                        let body = render::slack_body(&site, &config.page.timezone, notice);
                        out.push(NewDelivery {
                            id: new_delivery_id(),
                            recipient,
                            channel: ChannelKind::Slack.as_str().into(),
                            destination: url.clone(),
                            order_key,
                            subject: subject.clone(),
                            content: json(&Content::Json { body }),
                        });
                    }
                    Channel::PagerDuty { routing_key, url } => {
                        let body = render::pagerduty_body(&site, routing_key, alert);
                        out.push(NewDelivery {
                            id: new_delivery_id(),
                            recipient,
                            channel: ChannelKind::PagerDuty.as_str().into(),
                            destination: url.clone(),
                            order_key,
                            subject: subject.clone(),
                            content: json(&Content::Json { body }),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The notice as one subscriber's webhook sees it: a tenant's subscriber sees only its own
/// tenant in a maintenance's list (other customers are not named to it).
fn for_subscriber(notice: &Notice, sub: &SubscriberRecord) -> Notice {
    match (notice, &sub.tenant) {
        (Notice::Maintenance(m), Some(tenant)) => {
            let mut m = m.clone();
            m.tenants = Some(vec![tenant.clone()]);
            Notice::Maintenance(m)
        }
        _ => notice.clone(),
    }
}

/// The notice with its components' display names from the configuration.
fn with_names(notice: &Notice, config: &Config) -> Notice {
    let mut notice = notice.clone();
    if let Notice::Incident(i) = &mut notice {
        for c in &mut i.components {
            if let Some(component) = config.components.get(&c.id) {
                c.name.clone_from(&component.name);
            }
        }
    }
    notice
}

/// Subscribers rendered and written per transaction at fan-out.
const FAN_OUT_CHUNK: usize = 500;

/// Fans out the notices waiting, oldest first. Returns how many notices were handled.
pub async fn fan_out_once(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let notices = store.unfanned_notices(200).await?;
    if notices.is_empty() {
        return Ok(0);
    }
    let link_key = links::link_key(store).await?;
    let subscribers = store.list_subscribers(true, u32::MAX).await?;
    for stored in &notices {
        // Subscribers in chunks: each chunk's mails are rendered and written together, so
        // memory and transactions stay small however many subscribers there are.
        let chunks: Vec<&[SubscriberRecord]> = match stored.notice.audience() {
            Audience::Customers if !subscribers.is_empty() => {
                subscribers.chunks(FAN_OUT_CHUNK).collect()
            }
            _ => vec![&[]],
        };
        let last = chunks.len() - 1;
        let mut made = 0;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let ctx = FanOutContext {
                config,
                link_key: &link_key,
                subscribers: chunk,
            };
            let deliveries = deliveries_for(&ctx, stored);
            made += store
                .fan_out(
                    stored.id,
                    &stored.notice.event_name(),
                    &deliveries,
                    i == last,
                    now,
                )
                .await?;
        }
        tracing::debug!(notice = %stored.dedup_key, deliveries = made, "notice fanned out");
    }
    Ok(notices.len())
}

/// Fans out notices while `active`, until `stop`.
pub async fn fan_out(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let every = Duration::from_millis(200);
    let mut ticks = Periodic::while_held("notify-fan-out", every, active).start(stop);
    while ticks.next().await.is_some() {
        let cfg = Arc::clone(&config.borrow());
        let pass = async {
            // A full page means more are waiting.
            while fan_out_once(&store, &cfg.config, clock.now()).await? >= 200 {}
            Ok::<_, StoreError>(())
        };
        ticks.done(pass.await);
    }
}

// ---------------------------------------------------------------------------------------------
// Operator alerts from the event log
// ---------------------------------------------------------------------------------------------

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
    match &event.source {
        EventSource::Rule(name) => {
            if event.to == EventState::Firing {
                let rule = config.rules.iter().find(|r| r.name == *name)?;
                let summary = format!("alert rule `{name}` is firing on {}", rule.component);
                Some((
                    Vec::new(),
                    Some(fire(
                        key.clone(),
                        rule.severity,
                        Some(rule.component.clone()),
                        summary,
                    )),
                ))
            } else if event.from == EventState::Firing {
                Some((vec![key.clone()], None))
            } else {
                None
            }
        }
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
        EventSource::Monitor(id) => {
            if event.to == EventState::Down {
                let m = config.monitors.get(id)?;
                let summary = format!("monitor `{id}` is down ({})", m.component);
                Some((
                    Vec::new(),
                    Some(fire(
                        key.clone(),
                        m.severity,
                        Some(m.component.clone()),
                        summary,
                    )),
                ))
            } else if event.from == EventState::Down {
                Some((vec![key.clone()], None))
            } else {
                None
            }
        }
    }
}

/// Whether a component is covered by a maintenance in progress.
async fn covered(
    store: &Store,
    component: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    match component {
        Some(c) => crate::incidents::under_maintenance(store, c, now).await,
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
                let suppressed = covered(store, notice.component.as_deref(), now).await?;
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
            let suppressed = covered(store, notice.component.as_deref(), event.at).await?;
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

// ---------------------------------------------------------------------------------------------
// Timers: reminders, re-notification, held-back alerts, gauges
// ---------------------------------------------------------------------------------------------

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
        if covered(store, alert.component.as_deref(), now).await? {
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
/// maintenance still scheduled (pre-flight holds).
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
        EventSource::Monitor(id) => config.monitors.contains_key(id),
        EventSource::Rule(name) => config.rules.iter().any(|r| r.name == *name),
        EventSource::Slo(id) => config.slos.contains_key(&unleveled(id)),
        EventSource::Backup(id) | EventSource::Drill(id) => {
            config.backups.contains_key(&unleveled(id))
        }
        EventSource::Preflight(id) => store
            .get_maintenance(id)
            .await?
            .is_some_and(|m| m.status == MaintenanceStatus::Scheduled),
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
        let cutoff = prune_cutoff(&config.borrow().config, clock.now());
        let pruned = store.prune_outbox(cutoff).await;
        if let Ok((notices, deliveries)) = pruned
            && notices + deliveries > 0
        {
            tracing::info!(notices, deliveries, "notifications: outbox pruned");
        }
        ticks.done(pruned);
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// How the delivery worker runs.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// This worker's name in claims (unique per process).
    pub worker: String,
    /// Most deliveries in flight at once (and claimed at once).
    pub batch: u32,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            worker: format!("{}-{}", std::process::id(), upkeep_store::ids::new_id()),
            batch: 32,
        }
    }
}

/// Who a delivery goes to, as it stands now.
enum Recipient {
    /// Send, signing with this secret if any.
    Send(Option<String>),
    /// The subscriber unsubscribed (after the delivery was made): drop it unsent.
    Unsubscribed,
    /// The channel is no longer in the configuration: give the delivery up.
    ChannelRemoved(String),
}

/// The recipient of a delivery and its signing secret, from the configuration's channel or the
/// subscriber's row.
async fn recipient_of(
    store: &Store,
    config: &Config,
    d: &DeliveryRecord,
) -> Result<Recipient, StoreError> {
    if let Some(id) = d.recipient.strip_prefix("channel:") {
        return Ok(match config.notifications.channels.get(id) {
            Some(Channel::Webhook { secret, .. }) => Recipient::Send(secret.clone()),
            Some(_) => Recipient::Send(None),
            None => Recipient::ChannelRemoved(id.to_owned()),
        });
    }
    if let Some(id) = d.recipient.strip_prefix("subscriber:") {
        return Ok(match store.get_subscriber(id).await? {
            Some(s) => Recipient::Send(s.secret),
            None => Recipient::Unsubscribed,
        });
    }
    Ok(Recipient::Send(None))
}

/// A finished attempt, to be recorded.
#[derive(Clone, Debug)]
pub struct Attempted {
    pub id: String,
    pub outcome: DeliveryOutcome,
    /// The channel, for metrics.
    pub channel: &'static str,
}

fn give_up(d: &DeliveryRecord, channel: &'static str, error: impl Into<String>) -> Attempted {
    Attempted {
        id: d.id.clone(),
        outcome: DeliveryOutcome::Failed {
            error: error.into(),
            retry_at: None,
        },
        channel,
    }
}

/// Makes one attempt at a claimed delivery and says how it ended (the caller records it).
/// `claimed_at`: when the claim was taken; an attempt that could not start within one time
/// limit of it is put back instead of sent, so it always ends inside the claim (four time
/// limits) and no other worker can take the delivery while it is in flight.
async fn attempt(
    store: &Store,
    config: &Config,
    senders: &Senders,
    d: &DeliveryRecord,
    clock: &SharedClock,
    claimed_at: Timestamp,
) -> Attempted {
    let notifications = &config.notifications;
    let Some(channel) = ChannelKind::parse(&d.channel) else {
        return give_up(d, "unknown", "unknown channel");
    };
    let label = channel.as_str();
    let content: Content = match serde_json::from_str(&d.content) {
        Ok(c) => c,
        Err(e) => return give_up(d, label, format!("stored content is unreadable: {e}")),
    };
    // Older than the retry policy allows (its attempts kept dying with their worker): give up.
    let max_age =
        SignedDuration::try_from(notifications.retry.max_age).unwrap_or(SignedDuration::MAX);
    if clock.now().duration_since(d.created_at) >= max_age {
        return give_up(d, label, "given up: older than notifications.retry.max_age");
    }
    let secret = match recipient_of(store, config, d).await {
        Ok(Recipient::Send(secret)) => secret,
        Ok(Recipient::Unsubscribed) => {
            tracing::info!(delivery = %d.id, recipient = %d.recipient, "subscriber gone: not sent");
            return Attempted {
                id: d.id.clone(),
                outcome: DeliveryOutcome::Dropped,
                channel: label,
            };
        }
        Ok(Recipient::ChannelRemoved(id)) => {
            return give_up(
                d,
                label,
                format!("channel `{id}` is no longer in the configuration"),
            );
        }
        Err(e) => {
            // Not sent; tried again shortly.
            return Attempted {
                id: d.id.clone(),
                outcome: DeliveryOutcome::Failed {
                    error: format!("cannot read the recipient: {e}"),
                    retry_at: Some(clock.now() + SignedDuration::from_secs(5)),
                },
                channel: label,
            };
        }
    };
    let limit =
        SignedDuration::try_from(notifications.delivery_timeout).unwrap_or(SignedDuration::MAX);
    if clock.now().duration_since(claimed_at) > limit {
        return Attempted {
            id: d.id.clone(),
            outcome: DeliveryOutcome::Failed {
                error: "not attempted: the claim was too old to finish the attempt inside it"
                    .into(),
                retry_at: Some(clock.now()),
            },
            channel: label,
        };
    }
    let out = Outgoing {
        delivery_id: &d.id,
        event: &d.event,
        channel,
        destination: &d.destination,
        content: &content,
        secret: secret.as_deref(),
    };
    let result = senders.send(&out, clock.now().as_second()).await;
    let now = clock.now();
    let outcome = match result {
        Ok(()) => DeliveryOutcome::Sent,
        Err(e) => {
            metrics::counter!("upkeep_notification_failures_total", "channel" => label)
                .increment(1);
            let attempts = u32::try_from(d.attempts).unwrap_or(u32::MAX);
            let next = if e.permanent {
                Next::GiveUp
            } else {
                notifications
                    .retry
                    .next(d.created_at, now, attempts, rand::random::<f64>())
            };
            let retry_at = match next {
                Next::RetryAt(at) => Some(at),
                Next::GiveUp => None,
            };
            let shown = redact_destination(&d.destination);
            if retry_at.is_none() {
                tracing::error!(delivery = %d.id, recipient = %d.recipient, destination = %shown,
                    error = %e.message, "notification given up");
            } else {
                tracing::warn!(delivery = %d.id, recipient = %d.recipient, destination = %shown,
                    error = %e.message, attempts, "notification failed; will retry");
            }
            DeliveryOutcome::Failed {
                error: e.message,
                retry_at,
            }
        }
    };
    Attempted {
        id: d.id.clone(),
        outcome,
        channel: label,
    }
}

/// Records finished attempts in one transaction, counting what was sent. An outcome whose
/// claim was lost is not applied (the delivery belongs to another worker by then).
async fn record(
    store: &Store,
    worker: &str,
    done: Vec<Attempted>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let outcomes: Vec<(String, DeliveryOutcome)> = done
        .iter()
        .map(|a| (a.id.clone(), a.outcome.clone()))
        .collect();
    let applied = store.record_outcomes(worker, &outcomes, now).await?;
    for (a, applied) in done.iter().zip(applied) {
        if !applied {
            tracing::warn!(delivery = %a.id,
                "an attempt ended after this worker's claim: another worker may send it again");
        } else if a.outcome == DeliveryOutcome::Sent {
            metrics::counter!("upkeep_notifications_sent_total", "channel" => a.channel)
                .increment(1);
        }
    }
    Ok(())
}

/// Records a group of outcomes, retrying while the database is away (the claims outlive a
/// short outage). A group that keeps failing is recorded one outcome at a time, so one that
/// cannot be written (whatever the reason) holds back nothing else; it is logged and its
/// delivery comes back when its claim expires.
async fn record_group(store: &Store, worker: &str, attempts: Vec<Attempted>, clock: &SharedClock) {
    for _ in 0..3 {
        match record(store, worker, attempts.clone(), clock.now()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: cannot record outcomes; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    for a in attempts {
        let id = a.id.clone();
        if let Err(e) = record(store, worker, vec![a], clock.now()).await {
            tracing::error!(delivery = %id, error = %e,
                "notifications: cannot record an outcome; the delivery will be tried again");
        }
    }
}

/// The claim on a delivery: longer than the slowest attempt with room to record the outcome.
/// An attempt starts within one time limit of its claim (or is put back) and takes at most two
/// (a whole SMTP attempt), so four time limits leave one for the outcome's write.
fn claim_ms(config: &Config) -> i64 {
    let claim = config.notifications.delivery_timeout.saturating_mul(4);
    i64::try_from(claim.as_millis()).unwrap_or(i64::MAX)
}

/// Claims one round of due deliveries, sends them at once and records their outcomes together.
/// Returns how many were claimed. (The server runs [`deliver`], which keeps a pipeline full
/// instead of waiting for a round's slowest delivery.)
pub async fn deliver_once(
    store: &Store,
    config: &Arc<LoadedConfig>,
    senders: &Senders,
    settings: &DeliverySettings,
    clock: &SharedClock,
) -> Result<usize, StoreError> {
    let claimed_at = clock.now();
    let batch = store
        .claim_deliveries(
            &settings.worker,
            claimed_at,
            claim_ms(&config.config),
            settings.batch,
        )
        .await?;
    let n = batch.len();
    let mut set = JoinSet::new();
    for d in batch {
        let (store, config, senders, clock) = (
            store.clone(),
            Arc::clone(config),
            senders.clone(),
            clock.clone(),
        );
        set.spawn(async move {
            attempt(&store, &config.config, &senders, &d, &clock, claimed_at).await
        });
    }
    let mut done = Vec::with_capacity(n);
    while let Some(finished) = set.join_next().await {
        match finished {
            Ok(a) => done.push(a),
            Err(e) => tracing::error!(error = %e, "notifications: a delivery task failed"),
        }
    }
    record_group(store, &settings.worker, done, clock).await;
    Ok(n)
}

/// Delivers until `stop` (every replica runs it; claims keep them apart).
///
/// A pipeline: up to `settings.batch` attempts are in flight; as soon as some finish, as many
/// new deliveries are claimed, so one slow receiver holds one slot, not the others. Finished
/// attempts go to one writer task that records whatever has finished in one transaction
/// (group commit). On `stop`, no more is claimed and what is in flight finishes and is
/// recorded.
pub async fn deliver(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    settings: DeliverySettings,
    stop: CancellationToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.batch.max(1) as usize));
    // Each finished attempt travels with its slot: a slot is free again only once the outcome
    // is recorded, so at most `batch` deliveries are ever sent-but-unrecorded (the ones a crash
    // can repeat).
    type Finished = (Attempted, tokio::sync::OwnedSemaphorePermit);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Finished>();
    // Rung after each recorded group: a delivery queued behind one in flight may be due now.
    let recorded = Arc::new(tokio::sync::Notify::new());
    let writer = {
        let (store, clock, worker) = (store.clone(), clock.clone(), settings.worker.clone());
        let recorded = Arc::clone(&recorded);
        tokio::spawn(async move {
            while let Some(first) = done_rx.recv().await {
                let mut group = vec![first];
                while group.len() < 512 {
                    match done_rx.try_recv() {
                        Ok(f) => group.push(f),
                        Err(_) => break,
                    }
                }
                let attempts: Vec<Attempted> = group.iter().map(|(a, _)| a.clone()).collect();
                record_group(&store, &worker, attempts, &clock).await;
                drop(group);
                recorded.notify_one();
            }
        })
    };
    let mut senders: Option<(String, Senders)> = None;
    loop {
        // Wait for a free slot (or the stop).
        let first = tokio::select! {
            () = stop.cancelled() => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let cfg = Arc::clone(&config.borrow());
        // Rebuild the senders when the SMTP settings or the time limit change.
        let n = &cfg.config.notifications;
        let smtp_key = format!("{:?} {:?}", n.smtp, n.delivery_timeout);
        if senders.as_ref().is_none_or(|(k, _)| *k != smtp_key) {
            match Senders::new(n.smtp.as_ref(), n.delivery_timeout) {
                Ok(s) => senders = Some((smtp_key, s)),
                Err(e) => {
                    drop(first);
                    tracing::error!(error = %e, "notifications: cannot set up sending; retrying");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                    continue;
                }
            }
        }
        let Some((_, sending)) = senders.as_ref() else {
            continue;
        };
        // While others are in flight, give their slots a moment to come back, so claims are
        // made in groups rather than one row per transaction.
        if slots.available_permits() + 1 < settings.batch.max(1) as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let free = u32::try_from(slots.available_permits()).unwrap_or(0) + 1;
        let claimed_at = clock.now();
        let claimed = store
            .claim_deliveries(&settings.worker, claimed_at, claim_ms(&cfg.config), free)
            .await;
        let batch = match claimed {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: cannot claim deliveries; retrying");
                Vec::new()
            }
        };
        if batch.is_empty() {
            drop(first);
            // Nothing due: look again when an attempt in flight is recorded (the next of its
            // destination's queue may be due then), or in a moment.
            tokio::select! {
                () = stop.cancelled() => break,
                () = recorded.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            continue;
        }
        let mut first = Some(first);
        for d in batch {
            let permit = match first.take() {
                Some(p) => p,
                None => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(p) => p,
                    // Cannot happen (we claimed no more than the free slots); wait for one.
                    Err(_) => match Arc::clone(&slots).acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                },
            };
            let (store, cfg, sending, clock, done_tx) = (
                store.clone(),
                Arc::clone(&cfg),
                sending.clone(),
                clock.clone(),
                done_tx.clone(),
            );
            tokio::spawn(async move {
                let attempted =
                    attempt(&store, &cfg.config, &sending, &d, &clock, claimed_at).await;
                let _ = done_tx.send((attempted, permit));
            });
        }
    }
    // Let what is in flight finish (each attempt is bounded by its time limit) and be recorded.
    let _ = slots.acquire_many(settings.batch.max(1)).await;
    drop(done_tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

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

    fn config() -> Config {
        upkeep_domain::config::parse(
            "t.yaml",
            r#"
page: { name: T, url: "https://s.example", timezone: UTC }
components: { api: { name: API } }
monitors:
  m: { component: api, tcp: { address: "127.0.0.1:9" }, severity: warning }
rules:
  - { name: HighCPU, scrape: "http://127.0.0.1:9/metrics", expr: cpu > 1, severity: critical, component: api }
backups:
  nightly: { rpo: 6h, rto: 1h, push_key: k1 }
"#,
            &|_| None,
            ts("2026-01-01T00:00:00Z"),
        )
        .unwrap_or_else(|e| panic!("{:?}", e.0))
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
    }
}
