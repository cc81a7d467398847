//! `/api/v1/tokens`: create, list and revoke API tokens (admin), and `/api/v1/whoami`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_domain::role::Role;
use upkeep_engine::service::token::{self, TokenServiceError};
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

fn problem(e: TokenServiceError) -> Problem {
    match e {
        TokenServiceError::Name(m) => Problem::unprocessable(m),
        TokenServiceError::NotFound(_) => Problem::not_found(e.to_string()),
        TokenServiceError::Store(e) => e.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = TAG_TOKENS, security(("bearer" = [])),
    responses((status = 200, body = [TokenView]), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")))]
/// List every token, revoked ones included.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Admin>,
) -> Result<Json<Vec<TokenView>>, Problem> {
    let tokens = token::list(&state.store).await.map_err(problem)?;
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
    let role: Role = body
        .role
        .parse()
        .map_err(|e: upkeep_domain::role::UnknownRole| Problem::unprocessable(e.to_string()))?;
    let created = token::create(
        &state.store,
        &caller.for_services(),
        &body.name,
        role,
        state.clock.now(),
    )
    .await
    .map_err(problem)?;
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
    token::revoke(&state.store, &caller.for_services(), &id, state.clock.now())
        .await
        .map(|t| Json(t.into()))
        .map_err(problem)
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
