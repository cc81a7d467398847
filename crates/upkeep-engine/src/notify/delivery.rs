//! Delivery (every replica): claims due deliveries, sends them ([`super::send`]), records the
//! outcome; failures are retried with backoff until `notifications.retry.max_age`.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Channel, Config};
use upkeep_domain::notify::retry::Next;
use upkeep_store::outbox::{DeliveryOutcome, DeliveryRecord, redact_destination, redact_error};
use upkeep_store::{Store, StoreError};

use super::send::{ChannelKind, Content, Outgoing, Senders};
use crate::clock::SharedClock;
use crate::config::LoadedConfig;

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
enum Recipient<'a> {
    /// A configured channel: its URL and credential are filled in at each attempt.
    Channel(&'a Channel),
    /// Send to the stored destination, signing with this secret if any.
    Send(Option<String>),
    /// The subscriber unsubscribed (after the delivery was made): drop it unsent.
    Unsubscribed,
    /// The channel is no longer in the configuration: give the delivery up.
    ChannelRemoved(String),
}

/// The recipient of a delivery and its signing secret, from the configuration's channel or the
/// subscriber's row.
async fn recipient_of<'a>(
    store: &Store,
    config: &'a Config,
    d: &DeliveryRecord,
) -> Result<Recipient<'a>, StoreError> {
    if let Some(id) = d.recipient.strip_prefix("channel:") {
        return Ok(match config.notifications.channels.get(id) {
            Some(channel) => Recipient::Channel(channel),
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
    let channel_kind = channel;
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
    let (destination, content, secret) = match recipient_of(store, config, d).await {
        Ok(Recipient::Channel(channel)) => {
            match content.fill(channel, channel_kind, &d.destination) {
                Ok((destination, content)) => {
                    let secret = match channel {
                        Channel::Webhook { secret, .. } => secret.clone(),
                        _ => None,
                    };
                    (destination, content, secret)
                }
                Err(error) => return give_up(d, label, error),
            }
        }
        Ok(Recipient::Send(secret)) => (d.destination.clone(), content, secret),
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
        destination: &destination,
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
                notifications.retry.next_after(
                    d.created_at,
                    now,
                    attempts,
                    rand::random::<f64>(),
                    e.retry_after,
                )
            };
            let retry_at = match next {
                Next::RetryAt(at) => Some(at),
                Next::GiveUp => None,
            };
            // The stored destination is already redacted; the error may quote the URL the
            // attempt used (a receiver's answer echoing it), which holds the credential.
            let shown = redact_destination(&destination);
            let error = redact_error(&e.message, &destination, &shown);
            let error = match url::Url::parse(&destination) {
                // The path and query as the parsed URL writes them (positions index its
                // own serialisation, not the configured text).
                Ok(u) if u.path().len() > 1 || u.query().is_some() => {
                    error.replace(&u[url::Position::BeforePath..], "/…")
                }
                _ => error,
            };
            if retry_at.is_none() {
                tracing::error!(delivery = %d.id, recipient = %d.recipient, destination = %shown,
                    error = %error, "notification given up");
            } else {
                tracing::warn!(delivery = %d.id, recipient = %d.recipient, destination = %shown,
                    error = %error, attempts, "notification failed; will retry");
            }
            DeliveryOutcome::Failed { error, retry_at }
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
