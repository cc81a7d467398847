//! Console users and signing in: the use cases the command line (`upkeep user ...`) and the
//! console (`/admin`) share.
//!
//! - Users: create, list, disable, enable, reset a password. Passwords are checked by the
//!   domain's rule ([`console::check_password`]) and hashed with argon2id at OWASP's parameters
//!   (19 MiB, 2 passes, 1 lane), off the async runtime; they are never logged or stored.
//! - Signing in: [`sign_in`] checks the throttle of the account and of the client address, then
//!   the password; a wrong password, an unknown address and a disabled user get the same answer
//!   after the same work (a password is verified against a stand-in hash when there is no user).
//!   A user with a second factor gets a short session that only [`second_factor`] accepts; it
//!   is swapped for a fresh signed-in session.
//! - Second factor: TOTP enrolment ([`begin_totp`], [`confirm_totp`]) gives ten one-time
//!   recovery codes, each accepted once in place of a code.
//!
//! Every change is audited by the store in the transaction that makes it.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use jiff::Timestamp;
use rand::Rng;
use upkeep_domain::console::{
    self, PasswordError, SECOND_FACTOR_WINDOW, SESSION_ABSOLUTE, SESSION_IDLE, THROTTLE_FORGET,
    ThrottleKind, totp,
};
use upkeep_domain::email::{EmailAddress, EmailError};
use upkeep_domain::role::Role;
use upkeep_store::sessions::{NewSession, Session, SessionLimits, SessionStage};
use upkeep_store::users::{CreateUserError, NewUser, UserRecord};
use upkeep_store::{Store, StoreError};

use super::Caller;

/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 100;
/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;

/// Why a user use case refused.
#[derive(Debug, thiserror::Error)]
pub enum UserServiceError {
    #[error("{0}")]
    Email(EmailError),
    #[error("{0}")]
    Password(PasswordError),
    #[error(
        "a display name has 1 to {DISPLAY_NAME_MAX_CHARS} characters and no control characters"
    )]
    DisplayName,
    #[error("a user's role is viewer, editor or admin (`hook` is for API tokens only)")]
    Role,
    #[error("a user with the e-mail address `{0}` exists already")]
    EmailTaken(String),
    #[error("there is no user `{0}`")]
    NotFound(String),
    #[error("that code is not right; enter the current code from the authenticator app")]
    WrongCode,
    #[error("no second factor is waiting to be confirmed; begin the enrolment again")]
    NothingToConfirm,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user to create, as typed.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub email: String,
    /// The display name; the part of the address before `@` when empty.
    pub display_name: Option<String>,
    pub role: Role,
    pub password: String,
}

/// The lifetimes of a signed-in session.
pub const SIGNED_IN: SessionLimits = SessionLimits {
    idle: SESSION_IDLE,
    absolute: SESSION_ABSOLUTE,
};

const SECOND_FACTOR: SessionLimits = SessionLimits {
    idle: SECOND_FACTOR_WINDOW,
    absolute: SECOND_FACTOR_WINDOW,
};

fn hasher() -> Result<Argon2<'static>, UserServiceError> {
    // OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| UserServiceError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into an argon2id PHC string, on a blocking thread.
pub async fn hash_password(password: &str) -> Result<String, UserServiceError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut bytes = [0u8; 16];
        rand::rng().fill(&mut bytes);
        let salt =
            SaltString::encode_b64(&bytes).map_err(|e| UserServiceError::Hash(e.to_string()))?;
        hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| UserServiceError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| UserServiceError::Hash(e.to_string()))?
}

/// Whether `password` matches the PHC string `hash`, checked on a blocking thread. A hash that
/// does not parse matches nothing.
async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        let Ok(argon) = hasher() else {
            return false;
        };
        argon.verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when there is no user, so that an unknown
/// address costs the same time as a wrong password.
async fn stand_in_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(h) = HASH.get() {
        return h;
    }
    let random: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let made = hash_password(&random).await.unwrap_or_default();
    HASH.get_or_init(|| made)
}

fn check_display_name(name: &str) -> Result<&str, UserServiceError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > DISPLAY_NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(UserServiceError::DisplayName);
    }
    Ok(name)
}

/// Creates a user.
pub async fn create(
    store: &Store,
    caller: &Caller,
    new: CreateUser,
    now: Timestamp,
) -> Result<UserRecord, UserServiceError> {
    let email = EmailAddress::parse(&new.email)
        .map_err(UserServiceError::Email)?
        .to_lowercase();
    if matches!(new.role, Role::Hook | Role::Agent) {
        return Err(UserServiceError::Role);
    }
    console::check_password(&new.password).map_err(UserServiceError::Password)?;
    let display_name = match new.display_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => check_display_name(name)?.to_owned(),
        _ => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let password_hash = hash_password(&new.password).await?;
    let user = NewUser {
        email: email.into_string(),
        display_name,
        role: new.role,
        password_hash,
    };
    match store.create_user(&user, &caller.actor, now).await {
        Ok(record) => Ok(record),
        Err(CreateUserError::EmailTaken(email)) => Err(UserServiceError::EmailTaken(email)),
        Err(CreateUserError::Store(e)) => Err(e.into()),
    }
}

/// Every user, by e-mail address.
pub async fn list(store: &Store) -> Result<Vec<UserRecord>, UserServiceError> {
    Ok(store.list_users().await?)
}

/// Up to `limit` users by e-mail address, after the address `after`.
pub async fn page(
    store: &Store,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<UserRecord>, UserServiceError> {
    Ok(store.users_after(after, limit).await?)
}

/// The user named by `who`: an e-mail address (any case) or an id.
pub async fn find(store: &Store, who: &str) -> Result<UserRecord, UserServiceError> {
    if let Some(found) = store.user_by_email(who).await? {
        return Ok(found.record);
    }
    store
        .get_user(who.trim())
        .await?
        .ok_or_else(|| UserServiceError::NotFound(who.trim().to_owned()))
}

/// Disables a user: they cannot sign in, and their sessions end at once.
pub async fn disable(
    store: &Store,
    caller: &Caller,
    who: &str,
    now: Timestamp,
) -> Result<UserRecord, UserServiceError> {
    let user = find(store, who).await?;
    store
        .disable_user(&user.id, &caller.actor, now)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(who.to_owned()))
}

/// Enables a disabled user.
pub async fn enable(
    store: &Store,
    caller: &Caller,
    who: &str,
    now: Timestamp,
) -> Result<UserRecord, UserServiceError> {
    let user = find(store, who).await?;
    store
        .enable_user(&user.id, &caller.actor, now)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(who.to_owned()))
}

/// Sets a new password; every session of the user ends.
pub async fn reset_password(
    store: &Store,
    caller: &Caller,
    who: &str,
    password: &str,
    now: Timestamp,
) -> Result<UserRecord, UserServiceError> {
    console::check_password(password).map_err(UserServiceError::Password)?;
    let user = find(store, who).await?;
    let hash = hash_password(password).await?;
    store
        .set_user_password(&user.id, &hash, &caller.actor, now)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(who.to_owned()))
}

/// Removes a user's second factor (for a user who lost it and their recovery codes).
pub async fn remove_totp(
    store: &Store,
    caller: &Caller,
    who: &str,
    now: Timestamp,
) -> Result<UserRecord, UserServiceError> {
    let user = find(store, who).await?;
    store
        .remove_user_totp(&user.id, &caller.actor, now)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(who.to_owned()))
}

/// The actor a signed-in user is recorded as in the audit log.
pub fn actor(user: &UserRecord) -> String {
    format!("user:{} ({})", user.id, user.email)
}

/// The caller a signed-in user is: admins may override policies, as admin tokens may.
pub fn caller(user: &UserRecord) -> Caller {
    Caller {
        actor: actor(user),
        may_override: user.role == Role::Admin,
    }
}

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the new session.
    SignedIn(NewSession),
    /// The password was right; the second factor is asked for with this short session.
    SecondFactor(NewSession),
    /// Wrong address, wrong password or a disabled user: one answer for all three.
    Refused,
    /// Too many failures for this account or this client: try again after `until`.
    Locked { until: Timestamp },
}

fn throttle_keys(email: &str, client: &str) -> [String; 2] {
    [
        ThrottleKind::Account.key(email),
        ThrottleKind::Client.key(client),
    ]
}

async fn count_failure(
    store: &Store,
    keys: &[String; 2],
    now: Timestamp,
) -> Result<(), UserServiceError> {
    for (key, kind) in keys
        .iter()
        .zip([ThrottleKind::Account, ThrottleKind::Client])
    {
        store
            .record_login_failure(
                key,
                THROTTLE_FORGET,
                |n| console::throttle_delay(kind, n),
                now,
            )
            .await?;
    }
    // Failures older than the forget period lock nothing: keep the table small, whatever
    // addresses are typed.
    if let Ok(before) = now.checked_sub(THROTTLE_FORGET) {
        store.prune_login_failures(before).await?;
    }
    Ok(())
}

/// Checks an e-mail address and password from `client` (the real client address).
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    client: &str,
    now: Timestamp,
) -> Result<SignIn, UserServiceError> {
    let keys = throttle_keys(email, client);
    let key_refs = [keys[0].as_str(), keys[1].as_str()];
    if let Some(until) = store.login_locked_until(&key_refs, now).await? {
        return Ok(SignIn::Locked { until });
    }
    let found = if password.len() > console::PASSWORD_MAX_BYTES {
        None
    } else {
        store.user_by_email(email).await?
    };
    let ok = match &found {
        Some(user) => verify_password(password, &user.password_hash).await,
        None => {
            verify_password(password, stand_in_hash().await).await;
            false
        }
    };
    let user = match found {
        Some(user) if ok && !user.record.is_disabled() => user,
        _ => {
            count_failure(store, &keys, now).await?;
            return Ok(SignIn::Refused);
        }
    };
    store.clear_login_failures(&keys[0]).await?;
    if user.record.totp_enabled_at.is_some() {
        let pending = store
            .create_session(
                &user.record.id,
                SessionStage::SecondFactor,
                SECOND_FACTOR,
                client,
                now,
            )
            .await?;
        return Ok(SignIn::SecondFactor(pending));
    }
    let session = store
        .create_session(
            &user.record.id,
            SessionStage::SignedIn,
            SIGNED_IN,
            client,
            now,
        )
        .await?;
    Ok(SignIn::SignedIn(session))
}

/// Checks the second factor (a TOTP code or a recovery code) of a session waiting for it; on
/// success the waiting session is replaced by a fresh signed-in one. An expired or unknown
/// waiting session is [`SignIn::Refused`]: the person starts again from the password.
pub async fn second_factor(
    store: &Store,
    pending_token: &str,
    code: &str,
    client: &str,
    now: Timestamp,
) -> Result<SignIn, UserServiceError> {
    let Some(pending) = store.session(pending_token, now).await? else {
        return Ok(SignIn::Refused);
    };
    if pending.stage != SessionStage::SecondFactor {
        return Ok(SignIn::Refused);
    }
    let keys = throttle_keys(&pending.user.email, client);
    let key_refs = [keys[0].as_str(), keys[1].as_str()];
    if let Some(until) = store.login_locked_until(&key_refs, now).await? {
        return Ok(SignIn::Locked { until });
    }
    let Some(creds) = store.user_credentials(&pending.user.id).await? else {
        return Ok(SignIn::Refused);
    };
    let secret = creds
        .totp_secret
        .as_deref()
        .and_then(totp::base32_decode)
        .unwrap_or_default();
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let accepted = if typed.len() == totp::DIGITS as usize {
        match totp::verify(&secret, &typed, now.as_second(), creds.totp_last_step) {
            Some(step) => store.use_totp_step(&creds.record.id, step).await?,
            None => false,
        }
    } else {
        !typed.is_empty()
            && typed.len() <= 64
            && store
                .use_recovery_code(&creds.record.id, &typed, now)
                .await?
    };
    if !accepted {
        count_failure(store, &keys, now).await?;
        return Ok(SignIn::Refused);
    }
    store.clear_login_failures(&keys[0]).await?;
    store.delete_session(&pending.id_sha256).await?;
    let session = store
        .create_session(
            &creds.record.id,
            SessionStage::SignedIn,
            SIGNED_IN,
            client,
            now,
        )
        .await?;
    Ok(SignIn::SignedIn(session))
}

/// The signed-in session whose cookie carries `token`, if it is live; seeing it keeps it alive.
pub async fn session(
    store: &Store,
    token: &str,
    now: Timestamp,
) -> Result<Option<Session>, UserServiceError> {
    session_seen(store, token, now, true).await
}

/// [`session`], keeping the session alive only when `touch` (a person's request, not a page
/// refreshing itself): the idle and absolute limits apply either way.
pub async fn session_seen(
    store: &Store,
    token: &str,
    now: Timestamp,
    touch: bool,
) -> Result<Option<Session>, UserServiceError> {
    Ok(store
        .session_seen(token, now, touch)
        .await?
        .filter(|s| s.stage == SessionStage::SignedIn))
}

/// What a confirmation (re-authentication) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Recorded on the session: destructive actions are allowed for the next 5 minutes.
    Confirmed,
    /// Not the password, nor a current code of the user's second factor.
    Refused,
    /// Too many failures for this account or this client: try again after `until`.
    Locked { until: Timestamp },
}

/// Confirms the signed-in user's password, or a current TOTP code when they have a second
/// factor, and records the instant on the session. Failures count in the sign-in throttle, so
/// a stolen session cannot guess the password faster than the sign-in form can.
pub async fn confirm(
    store: &Store,
    session: &Session,
    secret: &str,
    client: &str,
    now: Timestamp,
) -> Result<Confirmation, UserServiceError> {
    let keys = throttle_keys(&session.user.email, client);
    let key_refs = [keys[0].as_str(), keys[1].as_str()];
    if let Some(until) = store.login_locked_until(&key_refs, now).await? {
        return Ok(Confirmation::Locked { until });
    }
    let Some(creds) = store.user_credentials(&session.user.id).await? else {
        return Ok(Confirmation::Refused);
    };
    let typed: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let totp_on = creds.record.totp_enabled_at.is_some();
    let accepted = if totp_on && typed.len() == totp::DIGITS as usize {
        let key = creds
            .totp_secret
            .as_deref()
            .and_then(totp::base32_decode)
            .unwrap_or_default();
        match totp::verify(&key, &typed, now.as_second(), creds.totp_last_step) {
            Some(step) => store.use_totp_step(&creds.record.id, step).await?,
            None => false,
        }
    } else if secret.len() <= console::PASSWORD_MAX_BYTES {
        verify_password(secret, &creds.password_hash).await
    } else {
        false
    };
    if !accepted {
        count_failure(store, &keys, now).await?;
        return Ok(Confirmation::Refused);
    }
    store.clear_login_failures(&keys[0]).await?;
    if store
        .confirm_session(
            &session.id_sha256,
            &actor(&session.user),
            &session.user.id,
            now,
        )
        .await?
    {
        Ok(Confirmation::Confirmed)
    } else {
        Ok(Confirmation::Refused)
    }
}

/// Whether the session's user confirmed their password or code recently enough for a
/// destructive action.
pub fn recently_confirmed(session: &Session, now: Timestamp) -> bool {
    console::recently_confirmed(session.confirmed_at, now)
}

/// Signs one session out.
pub async fn sign_out(store: &Store, session: &Session) -> Result<(), UserServiceError> {
    store.delete_session(&session.id_sha256).await?;
    Ok(())
}

/// Signs the session's user out of every session they have; returns how many ended.
pub async fn sign_out_everywhere(
    store: &Store,
    session: &Session,
    now: Timestamp,
) -> Result<u64, UserServiceError> {
    Ok(store
        .delete_user_sessions(&session.user.id, &actor(&session.user), now)
        .await?)
}

/// A TOTP secret waiting for its first code.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// Base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code or a password manager.
    pub uri: String,
}

/// Begins enrolling a second factor for `user`: a new secret, kept until confirmed.
pub async fn begin_totp(
    store: &Store,
    user: &UserRecord,
    issuer: &str,
    now: Timestamp,
) -> Result<TotpEnrolment, UserServiceError> {
    let mut bytes = [0u8; totp::SECRET_BYTES];
    rand::rng().fill(&mut bytes);
    let secret = totp::base32_encode(&bytes);
    store
        .begin_user_totp(&user.id, &secret, &actor(user), now)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(user.id.clone()))?;
    let uri = totp::otpauth_uri(issuer, &user.email, &secret);
    Ok(TotpEnrolment { secret, uri })
}

/// Confirms the waiting secret with a current code; returns the recovery codes (shown once).
pub async fn confirm_totp(
    store: &Store,
    user: &UserRecord,
    code: &str,
    now: Timestamp,
) -> Result<Vec<String>, UserServiceError> {
    let creds = store
        .user_credentials(&user.id)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(user.id.clone()))?;
    let secret = match (&creds.totp_secret, creds.record.totp_enabled_at) {
        (Some(secret), None) => totp::base32_decode(secret).unwrap_or_default(),
        _ => return Err(UserServiceError::NothingToConfirm),
    };
    let step =
        totp::verify(&secret, code, now.as_second(), None).ok_or(UserServiceError::WrongCode)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    store
        .enable_user_totp(&user.id, step, &codes, &actor(user), now)
        .await?
        .ok_or_else(|| UserServiceError::NotFound(user.id.clone()))?;
    Ok(codes)
}

/// A recovery code: four groups of four from an alphabet without look-alikes (80 bits).
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_owasp_argon2id_and_verify() {
        let hash = hash_password("correct horse battery")
            .await
            .unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery", &hash).await);
        assert!(!verify_password("correct horse batterY", &hash).await);
        assert!(!verify_password("anything", "not a hash").await);
    }

    #[test]
    fn recovery_codes_have_four_groups_and_differ() {
        let a = new_recovery_code();
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        assert_ne!(a, new_recovery_code());
    }
}
