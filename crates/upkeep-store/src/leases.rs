//! Leases: how replicas sharing one PostgreSQL database agree on who runs a piece of background
//! work (a scheduler, a delivery worker, a shard of probes).
//!
//! A lease is a row `(name, holder, expires_at)`. Taking or renewing it is one conditional
//! upsert, atomic on both backends: it succeeds when the row is absent, expired, or already held
//! by the caller. A holder renews well before expiry; if it dies, another replica takes over once
//! the lease expires, so no work is lost for longer than one lease period and no two replicas
//! hold the same lease at once (as long as the clocks of the replicas agree to within the
//! renewal margin).

use std::time::Duration;

use jiff::Timestamp;

use crate::{Store, StoreError, with_pool};

impl Store {
    /// Takes or renews the lease `name` for `holder` until `now + ttl`. Returns whether the
    /// caller holds it now.
    pub async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let now_ms = now.as_millisecond();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let expires = now_ms.saturating_add(ttl_ms);
        // The fencing token (`lease_token`) goes up when the holder changes.
        let sql = "INSERT INTO leases (name, holder, expires_at, token) VALUES ($1, $2, $3, 1) \
                   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                   expires_at = excluded.expires_at, \
                   token = CASE WHEN leases.holder = excluded.holder THEN leases.token \
                   ELSE leases.token + 1 END \
                   WHERE leases.holder = excluded.holder OR leases.expires_at <= $4";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(name)
            .bind(holder)
            .bind(expires)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Gives the lease up at once (on clean shutdown), if `holder` holds it. The row stays
    /// (expired), so the fencing token never goes back.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let sql = "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2";
        with_pool!(self, pool => sqlx::query(sql).bind(name).bind(holder).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Who holds the lease `name` at `now`, if anyone.
    pub async fn lease_holder(
        &self,
        name: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT holder FROM leases WHERE name = $1 AND expires_at > $2";
        let holder: Option<String> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(name)
            .bind(now.as_millisecond())
            .fetch_optional(pool)
            .await)?;
        Ok(holder)
    }
}

/// A lease as stored: who holds it until when, and its fencing token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub name: String,
    pub holder: String,
    pub token: i64,
    /// When the lease runs out unless renewed.
    pub expires_at: Timestamp,
}

impl Store {
    /// The leases whose names start with `prefix` (no `%` or `_` in it) that are held at `now`,
    /// by name.
    pub async fn live_leases(
        &self,
        prefix: &str,
        now: Timestamp,
    ) -> Result<Vec<LeaseRow>, StoreError> {
        let sql = "SELECT name, holder, token, expires_at FROM leases \
                   WHERE name LIKE $1 AND expires_at > $2 ORDER BY name";
        let rows: Vec<(String, String, i64, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(format!("{prefix}%"))
            .bind(now.as_millisecond())
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(name, holder, token, expires_at)| {
                Ok(LeaseRow {
                    name,
                    holder,
                    token,
                    expires_at: crate::timestamp(expires_at)?,
                })
            })
            .collect()
    }

    /// Renews, until `now + ttl`, every lease whose name starts with `prefix` (no `%` or `_`
    /// in it) that `holder` holds at `now`, in one statement; returns their names. A lease of
    /// `holder`'s that has already expired is not renewed (take it again).
    pub async fn renew_leases(
        &self,
        prefix: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        let now_ms = now.as_millisecond();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let sql = "UPDATE leases SET expires_at = $1 \
                   WHERE name LIKE $2 AND holder = $3 AND expires_at > $4 RETURNING name";
        let names: Vec<String> = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(now_ms.saturating_add(ttl_ms))
            .bind(format!("{prefix}%"))
            .bind(holder)
            .bind(now_ms)
            .fetch_all(pool)
            .await)?;
        Ok(names)
    }

    /// Deletes the leases whose names start with `prefix` that expired before `before`: for
    /// per-process leases (a replica's membership) whose names are never taken again, so their
    /// fencing tokens need not be kept. Returns how many went.
    pub async fn delete_expired_leases(
        &self,
        prefix: &str,
        before: Timestamp,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM leases WHERE name LIKE $1 AND expires_at < $2";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(format!("{prefix}%"))
            .bind(before.as_millisecond())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(done)
    }
}
