//! API bearer tokens. The secret is shown once, at creation; only its SHA-256 is stored.
//!
//! A fast hash is right here (unlike for passwords, which get argon2): secrets are 256 random
//! bits, so there is nothing to brute-force, and every API request verifies one.

use crate::BeginWrite;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use upkeep_domain::role::Role;

use crate::audit::{AuditEntry, insert_audit};
use crate::{Store, StoreError, ids, with_pool};

/// How often `last_used_at` is refreshed at most, so that authentication is not a write on every
/// request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// The token's role.
    pub fn role(&self) -> Result<Role, StoreError> {
        self.role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("token {}: {e}", self.id)))
    }
}

/// A token just created, with its secret, which is never available again.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub record: TokenRecord,
    pub secret: String,
}

type TokenRow = (
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<i64>,
);

/// `SELECT` of every token column, followed by the rest of the query.
macro_rules! select_tokens {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, role, created_at, created_by, last_used_at, revoked_at FROM api_tokens ",
            $rest
        )
    };
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn token_record(row: TokenRow) -> Result<TokenRecord, StoreError> {
    let (id, name, role, created_at, created_by, last_used_at, revoked_at) = row;
    Ok(TokenRecord {
        id,
        name,
        role,
        created_at: crate::timestamp(created_at)?,
        created_by,
        last_used_at: last_used_at.map(crate::timestamp).transpose()?,
        revoked_at: revoked_at.map(crate::timestamp).transpose()?,
    })
}

impl Store {
    /// Creates a token and its audit row in one transaction.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        now: Timestamp,
    ) -> Result<CreatedToken, StoreError> {
        let secret = ids::new_token_secret();
        let record = TokenRecord {
            id: ids::new_id(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            created_at: now,
            created_by: actor.to_owned(),
            last_used_at: None,
            revoked_at: None,
        };
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "token.create".into(),
            target: format!("token/{}", record.id),
            before: None,
            after: Some(json!(record)),
        };
        let at = now.as_millisecond();
        let hash = secret_hash(&secret);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&record.id)
            .bind(&record.name)
            .bind(&record.role)
            .bind(&hash)
            .bind(at)
            .bind(&record.created_by)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, at, &audit)?;
            tx.commit().await
        })?;
        Ok(CreatedToken { record, secret })
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = select_tokens!("ORDER BY created_at, id");
        let rows: Vec<TokenRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter().map(token_record).collect()
    }

    /// Up to `limit` tokens oldest first, starting after `after`: the `(created_at, id)` of the
    /// last one of the previous page.
    pub async fn tokens_after(
        &self,
        after: Option<(Timestamp, &str)>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = select_tokens!(
            "WHERE $1 IS NULL OR created_at > $1 OR (created_at = $1 AND id > $2) \
             ORDER BY created_at, id LIMIT $3"
        );
        let (at, id) = after.map_or((None, ""), |(at, id)| (Some(at.as_millisecond()), id));
        let rows: Vec<TokenRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(token_record).collect()
    }

    /// One token by id.
    pub async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let sql = select_tokens!("WHERE id = $1");
        let row: Option<TokenRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        row.map(token_record).transpose()
    }

    /// Revokes a token. `None` when no such token exists; revoking a revoked token changes
    /// nothing and records nothing.
    pub async fn revoke_token(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let Some(before) = self.get_token(id).await? else {
            return Ok(None);
        };
        if before.revoked_at.is_some() {
            return Ok(Some(before));
        }
        let after = TokenRecord {
            revoked_at: Some(now),
            ..before.clone()
        };
        let audit = AuditEntry {
            actor: actor.to_owned(),
            action: "token.revoke".into(),
            target: format!("token/{id}"),
            before: Some(json!(before)),
            after: Some(json!(after)),
        };
        let at = now.as_millisecond();
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let revoked = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if revoked {
                insert_audit!(&mut *tx, at, &audit)?;
            }
            tx.commit().await.map(|()| revoked)
        })?;
        if changed {
            Ok(Some(after))
        } else {
            self.get_token(id).await
        }
    }

    /// The active (not revoked) token whose secret is `secret`, if any. Refreshes its
    /// `last_used_at` at most once a minute.
    pub async fn authenticate(
        &self,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let sql = select_tokens!("WHERE secret_sha256 = $1 AND revoked_at IS NULL");
        let hash = secret_hash(secret);
        let row: Option<TokenRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(&hash).fetch_optional(pool).await)?;
        let Some(record) = row.map(token_record).transpose()? else {
            return Ok(None);
        };
        let at = now.as_millisecond();
        let stale = record
            .last_used_at
            .is_none_or(|t| at - t.as_millisecond() >= LAST_USED_RESOLUTION_MS);
        if stale {
            let sql = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2";
            with_pool!(self, pool => sqlx::query(sql).bind(at).bind(&record.id).execute(pool).await.map(|_| ()))?;
        }
        Ok(Some(record))
    }
}
