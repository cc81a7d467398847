//! Status-page subscribers: e-mail addresses that confirmed a double opt-in, and webhook
//! receivers an admin registered.
//!
//! - A confirmation token is shown once (in the mail) and stored as its SHA-256; it expires.
//! - Subscribing an address that exists never changes what it receives before the new
//!   confirmation is followed: the requested scope waits in `pending_scope`.
//! - Unsubscribing deletes the subscriber and its deliveries not sent (pending or failed), in
//!   one transaction; a delivery fanned out for it afterwards finds no recipient and is not
//!   sent: nothing more goes out once the answer says so.

use crate::BeginWrite;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use upkeep_domain::notify::routing::Scope;

use crate::audit::{AuditEntry, insert_audit};
use crate::{Store, StoreError, ids, with_pool};

/// A subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriberRecord {
    pub id: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// E-mail address (lower case) or URL.
    pub address: String,
    /// Webhook signing secret (never serialised).
    #[serde(skip)]
    pub secret: Option<String>,
    /// Component ids; empty = every component.
    pub components: Vec<String>,
    pub tenant: Option<String>,
    /// `None` until the subscription is confirmed.
    pub confirmed_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl SubscriberRecord {
    /// The record as the audit log keeps it: its address redacted by
    /// [`crate::outbox::redact_destination`] (the audit log is readable by `viewer` tokens; a
    /// webhook URL's path may be its credential, an e-mail address is personal data). The
    /// full address stays in the subscriber's row, for admins.
    pub fn audited(&self) -> serde_json::Value {
        let mut record = self.clone();
        record.address = crate::outbox::redact_destination(&record.address);
        json!(record)
    }

    /// What the subscriber receives.
    pub fn scope(&self) -> Scope {
        Scope {
            components: self.components.clone(),
            tenant: self.tenant.clone(),
        }
    }
}

/// What [`Store::request_subscription`] did; the web answer is the same for every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// A confirmation mail is due to this subscriber with this (plain) token.
    SendConfirmation {
        subscriber: Box<SubscriberRecord>,
        token: String,
        expires_at: Timestamp,
    },
    /// A confirmation was sent recently; nothing is sent again (no mail bombing).
    Throttled,
}

type SubscriberRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    i64,
);

const COLUMNS: &str = "id, kind, address, secret, components, tenant, confirmed_at, created_at";

fn record(row: SubscriberRow) -> Result<SubscriberRecord, StoreError> {
    let (id, kind, address, secret, components, tenant, confirmed, created) = row;
    let components: Vec<String> = serde_json::from_str(&components)
        .map_err(|e| StoreError::Corrupt(format!("subscriber {id}: components: {e}")))?;
    Ok(SubscriberRecord {
        id,
        kind,
        address,
        secret,
        components,
        tenant,
        confirmed_at: confirmed.map(crate::timestamp).transpose()?,
        created_at: crate::timestamp(created)?,
    })
}

/// The stored form of a confirmation token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    hex::encode(bytes)
}

fn scope_json(scope: &Scope) -> String {
    json!({ "components": scope.components, "tenant": scope.tenant }).to_string()
}

impl Store {
    /// Asks to subscribe `address` (lower-cased by the caller) to `scope`: a new subscriber, or
    /// a new confirmation for an existing one (its current scope stays until confirmed).
    /// Within `resend_after` of the last confirmation mail nothing is sent again.
    pub async fn request_subscription(
        &self,
        address: &str,
        scope: &Scope,
        confirm_within_ms: i64,
        resend_after_ms: i64,
        now: Timestamp,
    ) -> Result<SubscribeOutcome, StoreError> {
        let at = now.as_millisecond();
        let token = new_token();
        let hash = token_hash(&token);
        let expires = at.saturating_add(confirm_within_ms);
        let id = ids::new_id();
        let pending = scope_json(scope);
        let components = json!(scope.components).to_string();
        // Insert a new unconfirmed subscriber, or refresh the token of an existing one unless a
        // mail went out within `resend_after`.
        let insert = "INSERT INTO subscribers (id, kind, address, secret, components, tenant, \
            confirmed_at, pending_scope, confirm_token_hash, confirm_expires_at, confirm_sent_at, \
            created_at) VALUES ($1, 'email', $2, NULL, $3, $4, NULL, $5, $6, $7, $8, $8) \
            ON CONFLICT (kind, address) DO UPDATE SET pending_scope = excluded.pending_scope, \
            confirm_token_hash = excluded.confirm_token_hash, \
            confirm_expires_at = excluded.confirm_expires_at, \
            confirm_sent_at = excluded.confirm_sent_at \
            WHERE subscribers.confirm_sent_at IS NULL OR subscribers.confirm_sent_at < $9";
        let changed = with_pool!(self, pool => sqlx::query(insert)
            .bind(&id)
            .bind(address)
            .bind(&components)
            .bind(&scope.tenant)
            .bind(&pending)
            .bind(&hash)
            .bind(expires)
            .bind(at)
            .bind(at.saturating_sub(resend_after_ms))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Ok(SubscribeOutcome::Throttled);
        }
        let sql =
            format!("SELECT {COLUMNS} FROM subscribers WHERE kind = 'email' AND address = $1");
        let row: SubscriberRow = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(address).fetch_one(pool).await)?;
        Ok(SubscribeOutcome::SendConfirmation {
            subscriber: Box::new(record(row)?),
            token,
            expires_at: crate::timestamp(expires)?,
        })
    }

    /// Follows a confirmation link: confirms the subscriber and applies the scope it asked for,
    /// audited (`subscriber.confirm` by `subscriber:ID`) in the same transaction. `None` when the token is unknown, used or expired.
    pub async fn confirm_subscription(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriberRecord>, StoreError> {
        let at = now.as_millisecond();
        let hash = token_hash(token);
        let sql = "SELECT id, pending_scope FROM subscribers \
                   WHERE confirm_token_hash = $1 AND confirm_expires_at >= $2";
        let row: Option<(String, Option<String>)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(&hash)
            .bind(at)
            .fetch_optional(pool)
            .await)?;
        let Some((id, pending)) = row else {
            return Ok(None);
        };
        let scope: Scope = match pending
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>)
        {
            Some(Ok(v)) => Scope {
                components: v["components"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                tenant: v["tenant"].as_str().map(str::to_owned),
            },
            _ => return Ok(None),
        };
        let Some(before) = self.get_subscriber(&id).await? else {
            return Ok(None);
        };
        let after = SubscriberRecord {
            components: scope.components.clone(),
            tenant: scope.tenant.clone(),
            confirmed_at: before.confirmed_at.or(Some(now)),
            ..before.clone()
        };
        let audit = AuditEntry {
            actor: format!("subscriber:{id}"),
            action: "subscriber.confirm".into(),
            target: format!("subscriber/{id}"),
            before: Some(before.audited()),
            after: Some(after.audited()),
        };
        let update = "UPDATE subscribers SET components = $1, tenant = $2, \
                      confirmed_at = COALESCE(confirmed_at, $3), pending_scope = NULL, \
                      confirm_token_hash = NULL, confirm_expires_at = NULL \
                      WHERE id = $4 AND confirm_token_hash = $5";
        let confirmed = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(update)
                .bind(json!(scope.components).to_string())
                .bind(&scope.tenant)
                .bind(at)
                .bind(&id)
                .bind(&hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                insert_audit!(&mut *tx, at, &audit)?;
            }
            tx.commit().await?;
            Ok::<bool, StoreError>(n == 1)
        })?;
        if !confirmed {
            return Ok(None);
        }
        self.get_subscriber(&id).await
    }

    /// One subscriber.
    pub async fn get_subscriber(&self, id: &str) -> Result<Option<SubscriberRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE id = $1");
        let row: Option<SubscriberRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(pool).await)?;
        row.map(record).transpose()
    }

    /// Subscribers, confirmed ones only when `confirmed_only`, by creation.
    pub async fn list_subscribers(
        &self,
        confirmed_only: bool,
        limit: u32,
    ) -> Result<Vec<SubscriberRecord>, StoreError> {
        let filter = if confirmed_only {
            "WHERE confirmed_at IS NOT NULL "
        } else {
            ""
        };
        let sql =
            format!("SELECT {COLUMNS} FROM subscribers {filter}ORDER BY created_at, id LIMIT $1");
        let rows: Vec<SubscriberRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(record).collect()
    }

    /// Subscribers whose address contains `needle` (ASCII letters in any case, every other
    /// character as given, alike on both backends; empty: every one), by creation, after the
    /// key `(created_at, id)` of the previous page's last row when given: keyset pages that
    /// neither repeat nor skip a row when others are added or removed meanwhile.
    ///
    /// The folding is done here only, in SQL: SQLite's `lower()` folds ASCII letters alone,
    /// so PostgreSQL folds them with `translate()` rather than its locale's `lower()`.
    pub async fn search_subscribers(
        &self,
        needle: &str,
        after: Option<(Timestamp, &str)>,
        limit: u32,
    ) -> Result<Vec<SubscriberRecord>, StoreError> {
        let contains = match self.backend() {
            crate::Backend::Sqlite => "instr(lower(address), lower($1)) > 0",
            crate::Backend::Postgres => {
                "strpos(translate(address, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
                 'abcdefghijklmnopqrstuvwxyz'), translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
                 'abcdefghijklmnopqrstuvwxyz')) > 0"
            }
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM subscribers WHERE {contains} \
             AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
             ORDER BY created_at, id LIMIT $4"
        );
        let (at, id) = after.map_or((i64::MIN, ""), |(t, id)| (t.as_millisecond(), id));
        let rows: Vec<SubscriberRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(needle)
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(record).collect()
    }

    /// Registers a webhook subscriber (confirmed at once: an admin made it), audited.
    pub async fn create_webhook_subscriber(
        &self,
        url: &str,
        secret: Option<&str>,
        scope: &Scope,
        actor: &str,
        now: Timestamp,
    ) -> Result<SubscriberRecord, StoreError> {
        let at = now.as_millisecond();
        let r = SubscriberRecord {
            id: ids::new_id(),
            kind: "webhook".into(),
            address: url.to_owned(),
            secret: secret.map(str::to_owned),
            components: scope.components.clone(),
            tenant: scope.tenant.clone(),
            confirmed_at: Some(now),
            created_at: now,
        };
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "subscriber.create".into(),
            target: format!("subscriber/{}", r.id),
            before: None,
            after: Some(r.audited()),
        };
        let sql = "INSERT INTO subscribers (id, kind, address, secret, components, tenant, \
                   confirmed_at, created_at) VALUES ($1, 'webhook', $2, $3, $4, $5, $6, $6)";
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(sql)
                .bind(&r.id)
                .bind(&r.address)
                .bind(&r.secret)
                .bind(json!(r.components).to_string())
                .bind(&r.tenant)
                .bind(at)
                .execute(&mut *tx)
                .await;
            match n {
                Ok(_) => {
                    insert_audit!(&mut *tx, at, &audit)?;
                    tx.commit().await?;
                    Ok::<bool, StoreError>(true)
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
                Err(e) => Err(e.into()),
            }
        })?;
        if !inserted {
            return Err(StoreError::Conflict(format!(
                "a webhook subscriber for {url} exists; delete it first to change it"
            )));
        }
        Ok(r)
    }

    /// Deletes a subscriber and its deliveries not sent yet, in one transaction; audited with
    /// `actor` (`subscriber:ID` for a one-click unsubscribe). `None` when there is none.
    pub async fn delete_subscriber(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<SubscriberRecord>, StoreError> {
        let Some(before) = self.get_subscriber(id).await? else {
            return Ok(None);
        };
        let at = now.as_millisecond();
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "subscriber.delete".into(),
            target: format!("subscriber/{id}"),
            before: Some(before.audited()),
            after: None,
        };
        let recipient = format!("subscriber:{id}");
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM deliveries WHERE recipient = $1 AND state <> 'sent'")
                .bind(&recipient)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("DELETE FROM subscribers WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                insert_audit!(&mut *tx, at, &audit)?;
            }
            tx.commit().await?;
            Ok::<bool, StoreError>(n == 1)
        })?;
        Ok(deleted.then_some(before))
    }

    /// Forgets unconfirmed subscribers whose link expired before `before`.
    pub async fn prune_unconfirmed(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM subscribers WHERE confirmed_at IS NULL AND confirm_expires_at < $1";
        let n = with_pool!(self, pool => sqlx::query(sql)
            .bind(before.as_millisecond())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }
}
