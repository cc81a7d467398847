//! `/api/v1/tokens`: create, list and revoke API tokens (admin), and `/api/v1/whoami`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_domain::role::Role;
use upkeep_store::ids;
use upkeep_store::tokens::TokenRecord;
use utoipa::ToSchema;

use super::{TAG_TOKENS, instant};
use crate::auth::{Admin, Auth, Viewer};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::Problem;
use crate::state::AppState;

/// A token as listed; the secret is never shown again after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// `viewer`, `editor`, `admin` or `hook`.
    pub role: String,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: instant(t.created_at),
            created_by: t.created_by,
            last_used_at: t.last_used_at.map(instant),
            revoked_at: t.revoked_at.map(instant),
        }
    }
}

/// The body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, e.g. `deploy pipeline` (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// `viewer`, `editor`, `admin` or `hook` (only posts to the Alertmanager hook).
    #[schema(pattern = "^(viewer|editor|admin|hook)$")]
    pub role: String,
}

/// A new token with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    /// Send as `Authorization: Bearer SECRET`. Only a hash is stored: keep it now.
    pub secret: String,
}

/// The caller's own token.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub token_id: String,
    pub name: String,
    pub role: String,
}

/// A token name: 1 to 100 characters, no control characters.
pub fn valid_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("`name` must be 1 to 100 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("`name` must not contain control characters".into());
    }
    Ok(name)
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = TAG_TOKENS, security(("bearer" = [])),
    responses((status = 200, body = [TokenView]), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
/// List every token, revoked ones included.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Admin>,
) -> Result<Json<Vec<TokenView>>, Problem> {
    let tokens = state.store.list_tokens().await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = TAG_TOKENS, security(("bearer" = [])),
    request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
/// Create a token. The response holds its secret, which is never shown again.
pub async fn create(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Admin>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), Problem> {
    let name = valid_name(&body.name).map_err(Problem::unprocessable)?;
    let role: Role = body
        .role
        .parse()
        .map_err(|e: upkeep_domain::role::UnknownRole| Problem::unprocessable(e.to_string()))?;
    let created = state
        .store
        .create_token(name, role, &caller.actor(), state.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: created.record.into(),
            secret: created.secret,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = TAG_TOKENS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 200, body = TokenView), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
/// Revoke a token. It stops working at once; the record stays for the audit trail.
pub async fn revoke(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Admin>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenView>, Problem> {
    if !ids::is_id(&id) {
        return Err(Problem::not_found(format!("there is no token `{id}`")));
    }
    match state
        .store
        .revoke_token(&id, &caller.actor(), state.clock.now())
        .await?
    {
        Some(token) => Ok(Json(token.into())),
        None => Err(Problem::not_found(format!("there is no token `{id}`"))),
    }
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = TAG_TOKENS, security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = Problem, content_type = "application/problem+json")))]
/// The token making this request and its role.
pub async fn whoami(Auth(caller, _): Auth<Viewer>) -> Json<WhoAmI> {
    Json(WhoAmI {
        token_id: caller.token_id,
        name: caller.token_name,
        role: caller.role.to_string(),
    })
}
