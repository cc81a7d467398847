//! `/api/v1/subscribers`: who receives status-page updates. Viewers list them; admins register
//! webhook receivers and delete subscribers (e-mail subscribers come in through the public
//! double opt-in at `/subscribe`).
//!
//! No answer ever carries a webhook's signing secret nor a confirmation token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_engine::service::subscribers::{self as service, NewWebhook, SubscriberError};
use upkeep_store::subscribers::SubscriberRecord;
use utoipa::{IntoParams, ToSchema};

use super::{TAG_SUBSCRIBERS, instant};
use crate::auth::{Admin, Auth};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::state::AppState;

/// Most subscribers listed at once.
pub const LIST_MAX: u32 = 10_000;

/// A subscriber, without its secret or tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberView {
    pub id: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// The e-mail address (lower case) or the webhook URL.
    pub address: String,
    /// Component ids; empty = every component.
    pub components: Vec<String>,
    /// The tenant whose maintenance it hears about; `null` = every maintenance.
    pub tenant: Option<String>,
    /// Whether the subscription is confirmed (webhooks are confirmed when created).
    pub confirmed: bool,
    pub confirmed_at: Option<String>,
    pub created_at: String,
}

impl From<SubscriberRecord> for SubscriberView {
    fn from(s: SubscriberRecord) -> Self {
        Self {
            id: s.id,
            kind: s.kind,
            address: s.address,
            components: s.components,
            tenant: s.tenant,
            confirmed: s.confirmed_at.is_some(),
            confirmed_at: s.confirmed_at.map(instant),
            created_at: instant(s.created_at),
        }
    }
}

/// The query of `GET /api/v1/subscribers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only confirmed subscribers (default false: pending ones too).
    #[serde(default)]
    pub confirmed: bool,
    /// At most this many (default 1000, at most 10,000), oldest first.
    pub limit: Option<u32>,
}

/// The body of `POST /api/v1/subscribers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where updates are POSTed: an `http` or `https` URL.
    pub url: String,
    /// The signing secret of the `Upkeep-Signature` header; omit for unsigned deliveries.
    pub secret: Option<String>,
    /// Component ids; empty or absent = every component.
    #[serde(default)]
    pub components: Vec<String>,
    /// A tenant id: maintenance notices only when a maintenance covers it.
    pub tenant: Option<String>,
}

/// The API's words for a refusal of `service::subscribers`.
fn refusal(e: SubscriberError, id: &str) -> Problem {
    match e {
        SubscriberError::Invalid(m) => Problem::unprocessable(m).with_type("invalid-subscriber"),
        SubscriberError::NotFound(_) => Problem::not_found(format!(
            "there is no subscriber `{id}`; `GET /api/v1/subscribers` lists them"
        )),
        SubscriberError::Store(e) => e.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/subscribers", tag = TAG_SUBSCRIBERS, security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = [SubscriberView]), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
/// E-mail and webhook subscribers, oldest first (admin: addresses are personal data and
/// webhook URLs may carry credentials). Secrets and tokens are never shown.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Admin>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<SubscriberView>>, Problem> {
    let limit = q.limit.unwrap_or(1000).clamp(1, LIST_MAX);
    let all = state.store.list_subscribers(q.confirmed, limit).await?;
    Ok(Json(all.into_iter().map(SubscriberView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/subscribers", tag = TAG_SUBSCRIBERS, security(("bearer" = [])),
    request_body = CreateWebhook,
    responses((status = 201, body = SubscriberView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
/// Register a webhook receiver (confirmed at once). 409 when one exists for this URL.
pub async fn create(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Admin>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<SubscriberView>), Problem> {
    let loaded = state.config.current();
    let new = NewWebhook {
        url: body.url,
        secret: body.secret,
        components: body.components,
        tenant: body.tenant,
    };
    let made = service::create_webhook(
        &state.store,
        &loaded.config,
        &caller.for_services(),
        new,
        state.clock.now(),
    )
    .await
    .map_err(|e| refusal(e, ""))?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

#[utoipa::path(delete, path = "/api/v1/subscribers/{id}", tag = TAG_SUBSCRIBERS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The subscriber's id")),
    responses((status = 204, description = "Deleted, with its deliveries not sent yet"),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
/// Delete a subscriber and its deliveries not sent yet.
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Admin>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    service::delete(&state.store, &caller.for_services(), &id, state.clock.now())
        .await
        .map_err(|e| refusal(e, &id))?;
    Ok(StatusCode::NO_CONTENT)
}
