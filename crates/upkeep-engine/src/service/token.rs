//! API tokens: the use cases the admin API (`/api/v1/tokens`), the command line
//! (`upkeep token ...`) and the console's users page share. The secret is returned once, at
//! creation; the store keeps only its SHA-256 and audits every change.

use jiff::Timestamp;
use upkeep_domain::role::Role;
use upkeep_store::tokens::{CreatedToken, TokenRecord};
use upkeep_store::{Store, StoreError, ids};

use super::Caller;

/// Longest token name, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// Why a token use case refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenServiceError {
    #[error("{0}")]
    Name(String),
    #[error("there is no token `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token name: 1 to 100 characters, no control characters; returned trimmed.
pub fn valid_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(format!("`name` must be 1 to {NAME_MAX_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("`name` must not contain control characters".into());
    }
    Ok(name)
}

/// Creates a token; the secret in the answer is never available again.
pub async fn create(
    store: &Store,
    caller: &Caller,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<CreatedToken, TokenServiceError> {
    let name = valid_name(name).map_err(TokenServiceError::Name)?;
    if role == Role::Agent {
        // A probe agent is known by its token's name: in its event source (`agent:NAME`), its
        // row and its alerts. So the name is an id, and no two valid agent tokens share it.
        if !upkeep_domain::agent::valid_location(name) {
            return Err(TokenServiceError::Name(
                "an agent token's name names the agent: use up to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit (not `server`)".into(),
            ));
        }
        if store.agent_token_named(name, None).await? {
            return Err(TokenServiceError::Name(format!(
                "a valid agent token is already named `{name}`: revoke it first, or pick another name"
            )));
        }
    }
    Ok(store.create_token(name, role, &caller.actor, now).await?)
}

/// Every token, revoked ones included, oldest first.
pub async fn list(store: &Store) -> Result<Vec<TokenRecord>, TokenServiceError> {
    Ok(store.list_tokens().await?)
}

/// Up to `limit` tokens oldest first, after the `(created_at, id)` of `after`.
pub async fn page(
    store: &Store,
    after: Option<(Timestamp, &str)>,
    limit: u32,
) -> Result<Vec<TokenRecord>, TokenServiceError> {
    Ok(store.tokens_after(after, limit).await?)
}

/// Revokes a token: it stops working at once; the record stays for the audit trail. Revoking
/// a revoked token changes nothing.
pub async fn revoke(
    store: &Store,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> Result<TokenRecord, TokenServiceError> {
    if !ids::is_id(id) {
        return Err(TokenServiceError::NotFound(id.to_owned()));
    }
    store
        .revoke_token(id, &caller.actor, now)
        .await?
        .ok_or_else(|| TokenServiceError::NotFound(id.to_owned()))
}
