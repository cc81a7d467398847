//! Links in subscriber mails and the confirmation mail of a subscription.
//!
//! - Confirmation: `{page}/subscribe/confirm/{TOKEN}` — a random token shown once, stored
//!   hashed ([`upkeep_store::subscribers`]), expiring after `notifications.confirm_within`.
//! - Unsubscribe: `{page}/unsubscribe/{SUBSCRIBER_ID}/{TOKEN}` — TOKEN is an HMAC of the id
//!   under a key made once per database (`settings.link_key`), so every mail of a subscriber
//!   carries a working link without a per-link secret being stored.
//!
//! Both pages change nothing on `GET` (mail scanners follow links); they show a button that
//! `POST`s. The unsubscribe `POST` is also RFC 8058's one-click target of `List-Unsubscribe`.

use jiff::Timestamp;
use upkeep_domain::config::Config;
use upkeep_domain::notify::routing::Scope;
use upkeep_domain::notify::signature::{link_token, link_token_valid};
use upkeep_store::outbox::NewDelivery;
use upkeep_store::subscribers::SubscriberRecord;
use upkeep_store::{Store, StoreError};

use super::render::{self, Reader, Site};
use super::send::Content;

const UNSUBSCRIBE: &str = "unsubscribe";

/// The key of link tokens, made on first use and shared by every replica.
pub async fn link_key(store: &Store) -> Result<Vec<u8>, StoreError> {
    let hex_key = store
        .setting_or_insert("link_key", || {
            use rand::Rng;
            let bytes: [u8; 32] = rand::rng().random();
            hex::encode(bytes)
        })
        .await?;
    hex::decode(&hex_key).map_err(|e| StoreError::Corrupt(format!("settings.link_key: {e}")))
}

/// The one-click unsubscribe URL of a subscriber.
pub fn unsubscribe_url(page_url: &str, key: &[u8], subscriber_id: &str) -> String {
    format!(
        "{page_url}/unsubscribe/{subscriber_id}/{}",
        link_token(key, UNSUBSCRIBE, subscriber_id)
    )
}

/// Whether `token` is the unsubscribe token of `subscriber_id`.
pub fn unsubscribe_token_valid(key: &[u8], subscriber_id: &str, token: &str) -> bool {
    link_token_valid(key, UNSUBSCRIBE, subscriber_id, token)
}

/// The confirmation URL for a token.
pub fn confirm_url(page_url: &str, token: &str) -> String {
    format!("{page_url}/subscribe/confirm/{token}")
}

/// The event name of confirmation deliveries (their stored copy is dropped once sent).
pub const CONFIRM_EVENT: &str = "subscription.confirm";

/// A subscription request awaiting its confirmation mail.
pub struct Confirmation<'a> {
    pub subscriber: &'a SubscriberRecord,
    /// What the request asks for (an existing subscriber keeps its current scope until it
    /// confirms, so the mail must describe this one).
    pub scope: &'a Scope,
    /// The plain token (stored only hashed).
    pub token: &'a str,
    pub expires_at: Timestamp,
}

/// Queues the confirmation mail of a subscription request in the outbox (retried like any
/// delivery). Returns the delivery id.
pub async fn enqueue_confirmation(
    store: &Store,
    config: &Config,
    request: &Confirmation<'_>,
    now: Timestamp,
) -> Result<String, StoreError> {
    let site = Site {
        name: &config.page.name,
        url: &config.page.url,
    };
    let names = super::component_names(config);
    let tenant = request.scope.tenant.as_deref();
    let (zone, zone_name) = super::reader_zone(config, tenant);
    let reader = Reader {
        zone: &zone,
        zone_name: &zone_name,
        tenant_name: tenant
            .and_then(|t| config.tenants.get(t))
            .map(|t| t.name.as_str()),
        tenant_id: tenant,
        slot: None,
        unsubscribe_url: None,
        component_names: &names,
    };
    let email = render::confirmation_email(
        &site,
        &reader,
        &confirm_url(&config.page.url, request.token),
        request.expires_at,
        request.scope,
    );
    let content = Content::Email {
        subject: email.subject,
        text: email.text,
        html: email.html,
        unsubscribe: None,
    };
    let subscriber = request.subscriber;
    let delivery = NewDelivery {
        id: upkeep_store::outbox::new_delivery_id(),
        recipient: format!("subscriber:{}", subscriber.id),
        channel: "email".into(),
        destination: subscriber.address.clone(),
        order_key: format!("subscriber:{}", subscriber.id),
        subject: CONFIRM_EVENT.to_owned(),
        content: serde_json::to_string(&content).unwrap_or_default(),
    };
    store.enqueue_delivery(CONFIRM_EVENT, &delivery, now).await
}
