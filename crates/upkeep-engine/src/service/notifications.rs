//! Operator alerts and notification deliveries: acknowledging a firing alert
//! ([`acknowledge_alert`], the API's `POST /api/v1/alerts/{key}/acknowledge` and the console's
//! alerts page) and putting a failed delivery back in the queue ([`retry_delivery`], the API's
//! `POST /api/v1/deliveries/{id}/retry` and the console's deliveries page). Both are audited by
//! the store in the transaction that makes the change.

use jiff::Timestamp;
use upkeep_store::alerts::AlertStateRecord;
use upkeep_store::outbox::{DeliveryRecord, RetryOutcome};
use upkeep_store::{Store, StoreError};

use super::Caller;

/// Longest delivery id or alert key looked up.
pub const KEY_MAX_LEN: usize = 512;

/// Why acknowledging or retrying refused.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// No such alert fires.
    #[error("no alert `{0}` fires")]
    NoAlert(String),
    /// No such failed delivery.
    #[error("there is no failed delivery `{0}`")]
    NotFailed(String),
    /// A later delivery of the same subject reached the destination already.
    #[error(
        "a later notification of the same subject reached this destination already; sending this one now would deliver them out of order"
    )]
    Overtaken,
    /// The delivery's subscriber unsubscribed.
    #[error("the subscriber of this delivery has unsubscribed")]
    RecipientGone,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn shown(key: &str) -> String {
    key.chars().take(80).collect()
}

/// Acknowledges the firing alert `key`: it is no longer sent again, and PagerDuty is told. An
/// alert acknowledged before is returned as it is.
pub async fn acknowledge_alert(
    store: &Store,
    caller: &Caller,
    key: &str,
    now: Timestamp,
) -> Result<AlertStateRecord, NotificationError> {
    if key.len() > KEY_MAX_LEN {
        return Err(NotificationError::NoAlert(shown(key)));
    }
    store
        .acknowledge_alert(key, &caller.actor, now)
        .await?
        .ok_or_else(|| NotificationError::NoAlert(shown(key)))
}

/// Puts the failed delivery `id` back in the queue, due now, under the same id. Refused when a
/// later delivery of the same subject to the same destination was sent already (it would arrive
/// out of order) or its subscriber unsubscribed.
pub async fn retry_delivery(
    store: &Store,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> Result<DeliveryRecord, NotificationError> {
    if id.len() > KEY_MAX_LEN {
        return Err(NotificationError::NotFailed(shown(id)));
    }
    match store.retry_delivery(id, &caller.actor, now).await? {
        RetryOutcome::Retried => {}
        RetryOutcome::NotFailed => return Err(NotificationError::NotFailed(shown(id))),
        RetryOutcome::Overtaken => return Err(NotificationError::Overtaken),
        RetryOutcome::RecipientGone => return Err(NotificationError::RecipientGone),
    }
    store
        .get_delivery(id)
        .await?
        .ok_or_else(|| NotificationError::NotFailed(shown(id)))
}
