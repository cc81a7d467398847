//! Console sessions and the sign-in throttle.
//!
//! A session is a 256-bit random token carried by the browser's cookie; only its SHA-256 is
//! stored, so a copy of the database signs nobody in. A session ends at its absolute expiry, or
//! when it has not been seen for its idle timeout, or when it is deleted (sign-out, sign-out
//! everywhere, a disabled user, a new password). Sessions live in the database, so every replica
//! knows them and they survive a restart.
//!
//! The throttle counts failed sign-ins per key (`account:EMAIL`, `client:ADDRESS`) and keeps the
//! instant before which the next attempt is refused; the delay itself is the caller's rule.

use crate::BeginWrite;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, insert_audit};
use crate::users::UserRecord;
use crate::{Store, StoreError, ids, with_pool};

/// How far a session's `last_seen_at` may lag: seeing a session is a write at most this often.
const LAST_SEEN_RESOLUTION_MS: i64 = 15_000;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the second factor is still to come.
    SecondFactor,
    /// Signed in.
    SignedIn,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::SecondFactor => "second_factor",
            SessionStage::SignedIn => "signed_in",
        }
    }

    fn parse(s: &str) -> Result<SessionStage, StoreError> {
        match s {
            "second_factor" => Ok(SessionStage::SecondFactor),
            "signed_in" => Ok(SessionStage::SignedIn),
            other => Err(StoreError::Corrupt(format!("session stage `{other}`"))),
        }
    }
}

/// The lifetimes of a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// The session ends when it has not been used for this long.
    pub idle: SignedDuration,
    /// The session ends this long after it began, used or not.
    pub absolute: SignedDuration,
}

/// A live session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The SHA-256 of the token, hex: names the session in the store (never the token).
    pub id_sha256: String,
    pub stage: SessionStage,
    pub user: UserRecord,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub client: String,
    /// When the user last confirmed their password or second factor in this session (before a
    /// destructive action); `None` until they do.
    pub confirmed_at: Option<Timestamp>,
}

/// A session just made, with its token, which is never available again.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub id_sha256: String,
    pub expires_at: Timestamp,
}

/// The hex SHA-256 of a session token.
pub fn session_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

type SessionRow = (
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    Option<i64>,
);

impl Store {
    /// Starts a session for `user_id` and returns its token. Sessions found expired are
    /// removed on the way. A session that reaches `signed_in` is audited as a sign-in.
    pub async fn create_session(
        &self,
        user_id: &str,
        stage: SessionStage,
        limits: SessionLimits,
        client: &str,
        now: Timestamp,
    ) -> Result<NewSession, StoreError> {
        let token = ids::new_session_token();
        let id_sha256 = session_hash(&token);
        let at = now.as_millisecond();
        let idle_ms = i64::try_from(limits.idle.as_millis()).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(limits.absolute).unwrap_or(now);
        let expires_ms = expires_at.as_millisecond();
        let entry = AuditEntry {
            actor: format!("user:{user_id}"),
            action: "session.sign_in".into(),
            target: format!("user/{user_id}"),
            before: None,
            after: Some(json!({ "client": client, "expires_at": expires_at })),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "DELETE FROM console_sessions WHERE expires_at <= $1 \
                 OR last_seen_at + idle_timeout_ms <= $1",
            )
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO console_sessions (id_sha256, user_id, stage, created_at, \
                 last_seen_at, idle_timeout_ms, expires_at, client) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
            )
            .bind(&id_sha256)
            .bind(user_id)
            .bind(stage.as_str())
            .bind(at)
            .bind(idle_ms)
            .bind(expires_ms)
            .bind(client)
            .execute(&mut *tx)
            .await?;
            if stage == SessionStage::SignedIn {
                insert_audit!(&mut *tx, at, &entry)?;
            }
            tx.commit().await
        })?;
        Ok(NewSession {
            token,
            id_sha256,
            expires_at,
        })
    }

    /// The live session whose token is `token`, with its user: `None` when there is none, it
    /// has expired (idle or absolute) or its user is disabled. Seeing it refreshes its idle
    /// timer (written at most every 15 s).
    pub async fn session(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        self.session_seen(token, now, true).await
    }

    /// [`Store::session`], refreshing the idle timer only when `touch`: a request that no
    /// person made (the overview refreshing itself) checks the session without keeping it alive.
    pub async fn session_seen(
        &self,
        token: &str,
        now: Timestamp,
        touch: bool,
    ) -> Result<Option<Session>, StoreError> {
        let hash = session_hash(token);
        let at = now.as_millisecond();
        let sql = "SELECT id_sha256, user_id, stage, created_at, last_seen_at, idle_timeout_ms, \
                   expires_at, client, confirmed_at FROM console_sessions WHERE id_sha256 = $1";
        let row: Option<SessionRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(&hash).fetch_optional(pool).await)?;
        let Some((
            id_sha256,
            user_id,
            stage,
            created_at,
            last_seen_at,
            idle_ms,
            expires_at,
            client,
            confirmed_at,
        )) = row
        else {
            return Ok(None);
        };
        if expires_at <= at || last_seen_at.saturating_add(idle_ms) <= at {
            return Ok(None);
        }
        let Some(user) = self.get_user(&user_id).await? else {
            return Ok(None);
        };
        if user.is_disabled() {
            return Ok(None);
        }
        let mut seen = last_seen_at;
        if touch && at - last_seen_at >= LAST_SEEN_RESOLUTION_MS {
            let sql = "UPDATE console_sessions SET last_seen_at = $1 \
                       WHERE id_sha256 = $2 AND last_seen_at < $1";
            with_pool!(self, pool => sqlx::query(sql).bind(at).bind(&hash).execute(pool).await.map(|_| ()))?;
            seen = at;
        }
        Ok(Some(Session {
            id_sha256,
            stage: SessionStage::parse(&stage)?,
            user,
            created_at: crate::timestamp(created_at)?,
            last_seen_at: crate::timestamp(seen)?,
            expires_at: crate::timestamp(expires_at)?,
            client,
            confirmed_at: confirmed_at.map(crate::timestamp).transpose()?,
        }))
    }

    /// Records that the session's user confirmed their password or second factor at `now`,
    /// audited as `session.confirm`. `false` when the session is gone.
    pub async fn confirm_session(
        &self,
        id_sha256: &str,
        actor: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let at = now.as_millisecond();
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: "session.confirm".into(),
            target: format!("user/{user_id}"),
            before: None,
            after: Some(json!({ "confirmed_at": now })),
        };
        let done = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE console_sessions SET confirmed_at = $1 WHERE id_sha256 = $2 \
                 AND stage = 'signed_in'",
            )
            .bind(at)
            .bind(id_sha256)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if done {
                insert_audit!(&mut *tx, at, &entry)?;
            }
            tx.commit().await.map(|()| done)
        })?;
        Ok(done)
    }

    /// Ends one session (sign-out). `false` when there was none.
    pub async fn delete_session(&self, id_sha256: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM console_sessions WHERE id_sha256 = $1";
        let done = with_pool!(self, pool => sqlx::query(sql).bind(id_sha256).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// Ends every session of a user (sign-out everywhere), audited; returns how many ended.
    pub async fn delete_user_sessions(
        &self,
        user_id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let at = now.as_millisecond();
        let ended = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ended = sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let entry = AuditEntry {
                actor: actor.to_owned(),
                action: "session.sign_out_everywhere".into(),
                target: format!("user/{user_id}"),
                before: Some(json!({ "sessions": ended })),
                after: Some(json!({ "sessions": 0 })),
            };
            insert_audit!(&mut *tx, at, &entry)?;
            tx.commit().await.map(|()| ended)
        })?;
        Ok(ended)
    }

    /// How many live sessions a user has.
    pub async fn count_user_sessions(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM console_sessions WHERE user_id = $1 \
                   AND expires_at > $2 AND last_seen_at + idle_timeout_ms > $2";
        let at = now.as_millisecond();
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(user_id)
            .bind(at)
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }

    /// The latest instant before which any of `keys` refuses a sign-in attempt, if one is
    /// later than `now`.
    pub async fn login_locked_until(
        &self,
        keys: &[&str],
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let at = now.as_millisecond();
        let mut latest: Option<i64> = None;
        for key in keys {
            let sql = "SELECT locked_until FROM login_throttle WHERE key = $1";
            let until: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(sql)
                .bind(*key)
                .fetch_optional(pool)
                .await)?;
            if let Some(until) = until.filter(|u| *u > at) {
                latest = Some(latest.map_or(until, |l| l.max(until)));
            }
        }
        latest.map(crate::timestamp).transpose()
    }

    /// Counts a failed sign-in against `key`: the count starts again after `forget` without a
    /// failure; the key is then locked for `delay(count)`. Returns the new count.
    pub async fn record_login_failure(
        &self,
        key: &str,
        forget: SignedDuration,
        delay: impl Fn(i64) -> SignedDuration,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let at = now.as_millisecond();
        let forget_ms = i64::try_from(forget.as_millis()).unwrap_or(i64::MAX);
        // SQLite's write transaction holds the database lock already; PostgreSQL locks the row.
        let read = match self.backend() {
            crate::Backend::Sqlite => {
                "SELECT failures, last_failure_at FROM login_throttle WHERE key = $1"
            }
            crate::Backend::Postgres => {
                "SELECT failures, last_failure_at FROM login_throttle WHERE key = $1 FOR UPDATE"
            }
        };
        let failures = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(i64, i64)> = sqlx::query_as(read)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            let failures = match row {
                Some((n, last)) if at.saturating_sub(last) < forget_ms => n + 1,
                _ => 1,
            };
            let wait_ms = i64::try_from(delay(failures).as_millis()).unwrap_or(i64::MAX);
            sqlx::query(
                "INSERT INTO login_throttle (key, failures, last_failure_at, locked_until) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET \
                 failures = excluded.failures, last_failure_at = excluded.last_failure_at, \
                 locked_until = excluded.locked_until",
            )
            .bind(key)
            .bind(failures)
            .bind(at)
            .bind(at.saturating_add(wait_ms))
            .execute(&mut *tx)
            .await?;
            tx.commit().await.map(|()| failures)
        })?;
        Ok(failures)
    }

    /// Forgets the failures counted against `key` (after a successful sign-in).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM login_throttle WHERE key = $1";
        with_pool!(self, pool => sqlx::query(sql).bind(key).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Removes throttle rows whose last failure is older than `before`.
    pub async fn prune_login_failures(&self, before: Timestamp) -> Result<u64, StoreError> {
        let sql = "DELETE FROM login_throttle WHERE last_failure_at < $1";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(before.as_millisecond())
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))?;
        Ok(done)
    }
}
