//! Fan-out (lease holder): each notice written by a change becomes one delivery per recipient —
//! confirmed subscribers whose scope covers it for customer notices, the routed channels for
//! operator alerts — rendered once ([`super::render`]) and stored with its delivery id.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Channel, Config};
use upkeep_domain::maintenance::slots::maintenance_slots;
use upkeep_domain::notify::routing::{channels_for, subscriber_wants};
use upkeep_domain::notify::{Audience, MaintenanceNotice, Notice};
use upkeep_domain::notify::{providers, template};
use upkeep_store::outbox::{NewDelivery, StoredNotice, new_delivery_id, redact_destination};
use upkeep_store::subscribers::SubscriberRecord;
use upkeep_store::{Store, StoreError};

use super::render::{self, Reader, Site};
use super::send::{ChannelKind, Content};
use super::{component_names, links, reader_zone};
use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::periodic::Periodic;

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
        &m.canary,
    )
    .ok()?;
    slots
        .into_iter()
        .find(|s| s.tenant == tenant)
        .map(|s| (s.start, s.end))
}

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
        Notice::Incident(_) | Notice::Maintenance(_) | Notice::Rollout(_) => {
            for sub in ctx.subscribers {
                let confirmed_in_time = sub.confirmed_at.is_some_and(|t| t <= stored.created_at);
                if !confirmed_in_time || !subscriber_wants(&sub.scope(), notice, &config.components)
                {
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
                            destination: redact_destination(url),
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
                            destination: redact_destination(url),
                            order_key,
                            subject: subject.clone(),
                            content: json(&Content::Json { body }),
                        });
                    }
                    Channel::Provider(provider) => {
                        let id = new_delivery_id();
                        let message =
                            render::alert_message(&site, &config.page.timezone, &id, alert);
                        // The request is made again at each attempt, with the credential the
                        // configuration holds then: only the message and where it goes, shown
                        // as an origin, are stored.
                        let url = providers::request(provider, &message).url;
                        out.push(NewDelivery {
                            id,
                            recipient,
                            channel: ChannelKind::Provider(provider.kind()).as_str().into(),
                            destination: redact_destination(&url),
                            order_key,
                            subject: subject.clone(),
                            content: json(&Content::Message { message }),
                        });
                    }
                    Channel::CustomWebhook(hook) => {
                        let id = new_delivery_id();
                        let message =
                            render::alert_message(&site, &config.page.timezone, &id, alert);
                        // A template that fails for this alert makes a delivery that fails at
                        // once with the reason (shown with the failed deliveries), so the
                        // failure is seen rather than silently dropped.
                        let (destination, content) = match template::render(hook, &message) {
                            Ok(request) => (
                                redact_destination(&request.url),
                                Content::Message { message },
                            ),
                            // No URL to show: the template's source may hold a secret.
                            Err(err) => (
                                "about:invalid".to_owned(),
                                Content::Unsendable {
                                    error: format!("custom_webhook: {err}"),
                                },
                            ),
                        };
                        out.push(NewDelivery {
                            id,
                            recipient,
                            channel: ChannelKind::CustomWebhook.as_str().into(),
                            destination,
                            order_key,
                            subject: subject.clone(),
                            content: json(&content),
                        });
                    }
                    Channel::PagerDuty { url, .. } => {
                        // The routing key is put in at each attempt (`Content::fill`).
                        let body = render::pagerduty_body(&site, "", alert);
                        out.push(NewDelivery {
                            id: new_delivery_id(),
                            recipient,
                            channel: ChannelKind::PagerDuty.as_str().into(),
                            destination: redact_destination(url),
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

/// The notice with its components' (or its tenant's) display names from the configuration;
/// a tenant's update also with its instants in the tenant's zone.
fn with_names(notice: &Notice, config: &Config) -> Notice {
    let mut notice = notice.clone();
    match &mut notice {
        Notice::Incident(i) => {
            for c in &mut i.components {
                if let Some(component) = config.components.get(&c.id) {
                    c.name.clone_from(&component.name);
                }
            }
        }
        Notice::Rollout(r) => {
            if let Some(tenant) = config.tenants.get(&r.tenant) {
                r.tenant_name.clone_from(&tenant.name);
            }
            let (zone, zone_name) = reader_zone(config, Some(&r.tenant));
            r.local = Some(render::local_times(r, &zone, &zone_name));
        }
        Notice::Maintenance(_) | Notice::Alert(_) => {}
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
