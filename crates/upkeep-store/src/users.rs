//! People who sign in to the console: their e-mail (the sign-in name, stored lower-case),
//! display name, role, disabled flag, password hash and second factor.
//!
//! The store never sees a password: it keeps the argon2id PHC string the engine made. Recovery
//! codes are kept as SHA-256 (they are 80 random bits, so a fast hash is enough, as for API
//! tokens). Every change is written with its audit row; the audited object never carries the
//! password hash or the TOTP secret. Disabling a user or changing their password ends their
//! sessions in the same transaction.

use crate::BeginWrite;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use upkeep_domain::role::Role;

use crate::audit::{AuditEntry, insert_audit};
use crate::{Store, StoreError, ids, with_pool};

/// A user as listed and audited: everything but the password hash and the TOTP secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub display_name: String,
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    pub disabled_at: Option<Timestamp>,
    /// When the second factor (TOTP) was enrolled; `None` without one.
    pub totp_enabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub password_changed_at: Timestamp,
}

fn role_name<S: serde::Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

impl UserRecord {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// What checking a sign-in needs besides the record.
#[derive(Clone)]
pub struct UserCredentials {
    pub record: UserRecord,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The base32 TOTP secret, enrolled or waiting for its first code.
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted.
    pub totp_last_step: Option<i64>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// A user to create. `email` must already be checked; it is stored lower-case.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("a user with the e-mail address `{0}` exists already")]
    EmailTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type UserRow = (
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
);

macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "SELECT id, email, display_name, role, disabled_at, totp_enabled_at, created_at, \
             created_by, updated_at, password_changed_at, password_hash, totp_secret, \
             totp_last_step FROM users ",
            $rest
        )
    };
}

fn credentials(row: UserRow) -> Result<UserCredentials, StoreError> {
    let (
        id,
        email,
        display_name,
        role,
        disabled_at,
        totp_enabled_at,
        created_at,
        created_by,
        updated_at,
        password_changed_at,
        password_hash,
        totp_secret,
        totp_last_step,
    ) = row;
    let role = role
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("user {id}: {e}")))?;
    Ok(UserCredentials {
        record: UserRecord {
            id,
            email,
            display_name,
            role,
            disabled_at: disabled_at.map(crate::timestamp).transpose()?,
            totp_enabled_at: totp_enabled_at.map(crate::timestamp).transpose()?,
            created_at: crate::timestamp(created_at)?,
            created_by,
            updated_at: crate::timestamp(updated_at)?,
            password_changed_at: crate::timestamp(password_changed_at)?,
        },
        password_hash,
        totp_secret,
        totp_last_step,
    })
}

/// The hex SHA-256 of a recovery code, as stored. Codes are compared without their dashes and
/// case, so `ABCD-efgh` and `abcdefgh` are the same code.
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

fn audit(actor: &str, action: &str, before: Option<&UserRecord>, after: &UserRecord) -> AuditEntry {
    AuditEntry {
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: format!("user/{}", after.id),
        before: before.map(|b| json!(b)),
        after: Some(json!(after)),
    }
}

/// A change to one user row, applied by [`Store::change_user`].
enum UserChange<'a> {
    Disable,
    Enable,
    Password(&'a str),
    Role(Role),
    DisplayName(&'a str),
    TotpBegin(&'a str),
    TotpEnable { step: i64, codes: &'a [String] },
    TotpRemove,
}

impl Store {
    /// Creates a user and its audit row in one transaction.
    pub async fn create_user(
        &self,
        new: &NewUser,
        actor: &str,
        now: Timestamp,
    ) -> Result<UserRecord, CreateUserError> {
        let record = UserRecord {
            id: ids::new_id(),
            email: new.email.trim().to_lowercase(),
            display_name: new.display_name.clone(),
            role: new.role,
            disabled_at: None,
            totp_enabled_at: None,
            created_at: now,
            created_by: actor.to_owned(),
            updated_at: now,
            password_changed_at: now,
        };
        let entry = audit(actor, "user.create", None, &record);
        let at = now.as_millisecond();
        let result: Result<bool, sqlx::Error> = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let taken: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                .bind(&record.email)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                Ok(false)
            } else {
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, role, password_hash, created_at, \
                     created_by, updated_at, password_changed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $6)",
                )
                .bind(&record.id)
                .bind(&record.email)
                .bind(&record.display_name)
                .bind(record.role.as_str())
                .bind(&new.password_hash)
                .bind(at)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                insert_audit!(&mut *tx, at, &entry)?;
                tx.commit().await.map(|()| true)
            }
        }
        .await);
        match result {
            Ok(true) => Ok(record),
            Ok(false) => Err(CreateUserError::EmailTaken(record.email)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(CreateUserError::EmailTaken(record.email))
            }
            Err(e) => Err(StoreError::from(e).into()),
        }
    }

    /// Every user, by e-mail address.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = select_users!("ORDER BY email");
        let rows: Vec<UserRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|r| credentials(r).map(|c| c.record))
            .collect()
    }

    /// Up to `limit` users by e-mail address, starting after the address `after`.
    pub async fn users_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let sql = select_users!("WHERE email > $1 ORDER BY email LIMIT $2");
        let rows: Vec<UserRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|r| credentials(r).map(|c| c.record))
            .collect()
    }

    /// One user by id, with what checking a sign-in needs.
    pub async fn user_credentials(&self, id: &str) -> Result<Option<UserCredentials>, StoreError> {
        let sql = select_users!("WHERE id = $1");
        let row: Option<UserRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        row.map(credentials).transpose()
    }

    /// One user by e-mail address (any case), with what checking a sign-in needs.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserCredentials>, StoreError> {
        let sql = select_users!("WHERE email = $1");
        let email = email.trim().to_lowercase();
        let row: Option<UserRow> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(&email).fetch_optional(pool).await)?;
        row.map(credentials).transpose()
    }

    /// One user by id.
    pub async fn get_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.user_credentials(id).await?.map(|c| c.record))
    }

    /// Disables a user and ends their sessions. `None` when there is no such user; disabling a
    /// disabled user changes and records nothing.
    pub async fn disable_user(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(id, UserChange::Disable, "user.disable", actor, now)
            .await
    }

    /// Enables a disabled user.
    pub async fn enable_user(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(id, UserChange::Enable, "user.enable", actor, now)
            .await
    }

    /// Replaces a user's password hash and ends every session of theirs.
    pub async fn set_user_password(
        &self,
        id: &str,
        password_hash: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(
            id,
            UserChange::Password(password_hash),
            "user.password",
            actor,
            now,
        )
        .await
    }

    /// Changes a user's role.
    pub async fn set_user_role(
        &self,
        id: &str,
        role: Role,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(id, UserChange::Role(role), "user.role", actor, now)
            .await
    }

    /// Changes a user's display name.
    pub async fn set_user_display_name(
        &self,
        id: &str,
        name: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(id, UserChange::DisplayName(name), "user.rename", actor, now)
            .await
    }

    /// Keeps a new TOTP secret waiting for its first code (replacing one that waited). A user
    /// with an enrolled second factor keeps it: `Conflict`.
    pub async fn begin_user_totp(
        &self,
        id: &str,
        secret: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(
            id,
            UserChange::TotpBegin(secret),
            "user.totp_begin",
            actor,
            now,
        )
        .await
    }

    /// Enrols the waiting TOTP secret, whose code of time step `step` was just checked, with
    /// fresh recovery codes (replacing any earlier ones).
    pub async fn enable_user_totp(
        &self,
        id: &str,
        step: i64,
        recovery_codes: &[String],
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        let change = UserChange::TotpEnable {
            step,
            codes: recovery_codes,
        };
        self.change_user(id, change, "user.totp_enable", actor, now)
            .await
    }

    /// Removes a user's second factor and recovery codes.
    pub async fn remove_user_totp(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.change_user(id, UserChange::TotpRemove, "user.totp_remove", actor, now)
            .await
    }

    /// Records that the TOTP code of time step `step` was used: `false` when that step or a
    /// later one was used already (a code is accepted once).
    pub async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
                   AND totp_enabled_at IS NOT NULL \
                   AND (totp_last_step IS NULL OR totp_last_step < $1)";
        let done = with_pool!(self, pool => sqlx::query(sql).bind(step).bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(done == 1)
    }

    /// Uses one of a user's recovery codes: `false` when it is not one of theirs or was used.
    /// The use is audited.
    pub async fn use_recovery_code(
        &self,
        id: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let hash = recovery_code_hash(code);
        let at = now.as_millisecond();
        let entry = AuditEntry {
            actor: format!("user:{id}"),
            action: "user.recovery_code_use".into(),
            target: format!("user/{id}"),
            before: None,
            after: None,
        };
        let used = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let used = sqlx::query(
                "UPDATE user_recovery_codes SET used_at = $1 \
                 WHERE user_id = $2 AND code_sha256 = $3 AND used_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .bind(&hash)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if used {
                insert_audit!(&mut *tx, at, &entry)?;
            }
            tx.commit().await.map(|()| used)
        })?;
        Ok(used)
    }

    /// How many unused recovery codes a user has left.
    pub async fn recovery_codes_left(&self, id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL";
        let n: i64 =
            with_pool!(self, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await)?;
        Ok(n)
    }

    /// Applies one change to a user row with its audit row; ends the user's sessions when the
    /// change is a disable or a new password. A change that changes nothing records nothing.
    async fn change_user(
        &self,
        id: &str,
        change: UserChange<'_>,
        action: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        let Some(current) = self.user_credentials(id).await? else {
            return Ok(None);
        };
        let before = current.record;
        let mut after = UserRecord {
            updated_at: now,
            ..before.clone()
        };
        let at = now.as_millisecond();
        let ends_sessions = matches!(change, UserChange::Disable | UserChange::Password(_));
        match &change {
            UserChange::Disable if before.disabled_at.is_some() => return Ok(Some(before)),
            UserChange::Disable => after.disabled_at = Some(now),
            UserChange::Enable if before.disabled_at.is_none() => return Ok(Some(before)),
            UserChange::Enable => after.disabled_at = None,
            UserChange::Password(_) => after.password_changed_at = now,
            UserChange::Role(role) if *role == before.role => return Ok(Some(before)),
            UserChange::Role(role) => after.role = *role,
            UserChange::DisplayName(name) if *name == before.display_name => {
                return Ok(Some(before));
            }
            UserChange::DisplayName(name) => after.display_name = (*name).to_owned(),
            UserChange::TotpBegin(_) if before.totp_enabled_at.is_some() => {
                return Err(StoreError::Conflict(
                    "this user has a second factor already: remove it first".into(),
                ));
            }
            UserChange::TotpBegin(_) => {}
            UserChange::TotpEnable { .. } => {
                if before.totp_enabled_at.is_some() || current.totp_secret.is_none() {
                    return Err(StoreError::Conflict(
                        "no second factor is waiting to be enrolled".into(),
                    ));
                }
                after.totp_enabled_at = Some(now);
            }
            UserChange::TotpRemove if current.totp_secret.is_none() => return Ok(Some(before)),
            UserChange::TotpRemove => after.totp_enabled_at = None,
        }
        let entry = audit(actor, action, Some(&before), &after);
        let disabled_at = after.disabled_at.map(|t| t.as_millisecond());
        let totp_enabled_at = after.totp_enabled_at.map(|t| t.as_millisecond());
        let password_changed_at = after.password_changed_at.as_millisecond();
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // The row must still be as read: a concurrent change makes this one a conflict.
            let updated = sqlx::query(
                "UPDATE users SET display_name = $1, role = $2, disabled_at = $3, \
                 totp_enabled_at = $4, updated_at = $5, password_changed_at = $6 \
                 WHERE id = $7 AND updated_at = $8",
            )
            .bind(&after.display_name)
            .bind(after.role.as_str())
            .bind(disabled_at)
            .bind(totp_enabled_at)
            .bind(at)
            .bind(password_changed_at)
            .bind(id)
            .bind(before.updated_at.as_millisecond())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if updated {
                match &change {
                    UserChange::Password(hash) => {
                        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                            .bind(*hash)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    UserChange::TotpBegin(secret) => {
                        sqlx::query(
                            "UPDATE users SET totp_secret = $1, totp_last_step = NULL WHERE id = $2",
                        )
                        .bind(*secret)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    UserChange::TotpEnable { step, codes } => {
                        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2")
                            .bind(*step)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("DELETE FROM user_recovery_codes WHERE user_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        for code in codes.iter() {
                            sqlx::query(
                                "INSERT INTO user_recovery_codes (user_id, code_sha256) \
                                 VALUES ($1, $2)",
                            )
                            .bind(id)
                            .bind(recovery_code_hash(code))
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    UserChange::TotpRemove => {
                        sqlx::query(
                            "UPDATE users SET totp_secret = NULL, totp_last_step = NULL \
                             WHERE id = $1",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("DELETE FROM user_recovery_codes WHERE user_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    _ => {}
                }
                if ends_sessions {
                    sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                insert_audit!(&mut *tx, at, &entry)?;
            }
            tx.commit().await.map(|()| updated)
        })?;
        if changed {
            Ok(Some(after))
        } else {
            Err(StoreError::Conflict(format!(
                "user {id} changed meanwhile: try again"
            )))
        }
    }
}
