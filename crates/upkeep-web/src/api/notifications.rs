//! `/api/v1/deliveries`, `/api/v1/outbox` and `/api/v1/alerts`: the notification outbox and the
//! operator alerts it sends. Viewers read; editors put a failed delivery back in the queue and
//! acknowledge alerts (which stops their re-notification).
//!
//! A delivery's content (which for a confirmation mail holds a live token) is never shown.
//! Alert keys contain `:` (`monitor:api-health`); they are one path segment, so a key holding
//! `/` is sent percent-encoded (`%2F`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use upkeep_domain::notify::DeliveryState;
use upkeep_domain::role::Role;
use upkeep_engine::service::notifications::{self as service, NotificationError};
use upkeep_store::alerts::AlertStateRecord;
use upkeep_store::outbox::{DeliveryRecord, redact_destination, redact_error};
use utoipa::{IntoParams, ToSchema};

use super::{TAG_NOTIFICATIONS, instant};
use crate::auth::{Auth, Caller, Editor, Viewer};
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::state::AppState;

/// Most deliveries listed at once.
pub const DELIVERIES_MAX: u32 = 1000;

/// A delivery: one notice (or confirmation mail) to one recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery id, sent on every attempt (receivers dedupe on it).
    pub id: String,
    /// The event, e.g. `incident.opened` or `subscription.confirm`.
    pub event: String,
    /// `channel:ID` or `subscriber:ID`.
    pub recipient: String,
    /// `email`, `webhook`, `slack` or `pagerduty`.
    pub channel: String,
    /// A URL's origin only (its path and query may be a credential, as in Slack's webhook URLs,
    /// and are never shown); an e-mail address in full for `admin` tokens, else redacted to its
    /// first character and domain (`a…@example.com`).
    pub destination: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When it is tried next (while pending).
    pub next_attempt_at: String,
    /// The last attempt's error (the destination in it redacted as in `destination`).
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl DeliveryView {
    /// The delivery as `caller` may see it: e-mail addresses in full only for admins, URLs
    /// always as their origin.
    fn shown(d: DeliveryRecord, caller: &Caller) -> Self {
        Self::shown_to(d, caller.role)
    }

    /// The delivery as someone of `role` may see it (the console's pages show it so too).
    pub(crate) fn shown_to(d: DeliveryRecord, role: Role) -> Self {
        let is_url = url::Url::parse(&d.destination).is_ok_and(|u| u.has_host());
        let destination = if role == Role::Admin && !is_url {
            d.destination.clone()
        } else {
            redact_destination(&d.destination)
        };
        // An error may quote the destination (an HTTP client's error names the URL).
        let last_error = d
            .last_error
            .map(|error| redact_error(&error, &d.destination, &destination));
        Self {
            id: d.id,
            event: d.event,
            recipient: d.recipient,
            channel: d.channel,
            destination,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: instant(d.next_attempt_at),
            last_error,
            created_at: instant(d.created_at),
            sent_at: d.sent_at.map(instant),
        }
    }
}

/// The query of `GET /api/v1/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `pending`, `sent` or `failed`; every state when absent.
    pub state: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// How deep the outbox is.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    /// Deliveries not yet sent nor given up.
    pub pending: i64,
    /// Notices not yet turned into deliveries.
    pub unfanned: i64,
    /// Deliveries given up (retry them with `POST /api/v1/deliveries/{id}/retry`).
    pub failed: i64,
    /// Age of the oldest pending delivery or unfanned notice; `null` when there is none.
    pub oldest_age_seconds: Option<i64>,
}

/// A firing operator alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// `monitor:ID`, `rule:ID`, …
    pub key: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    pub component: Option<String>,
    pub since: String,
    pub summary: String,
    pub detail: String,
    /// Whether a firing notice went out (false while a maintenance holds it back).
    pub notified: bool,
    pub last_notified_at: Option<String>,
    /// Re-notifications sent.
    pub repeats: i64,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
}

impl From<AlertStateRecord> for AlertView {
    fn from(a: AlertStateRecord) -> Self {
        Self {
            key: a.key,
            severity: a.severity.as_str().to_owned(),
            component: a.component,
            since: instant(a.since),
            summary: a.summary,
            detail: a.detail,
            notified: a.notified,
            last_notified_at: a.last_notified_at.map(instant),
            repeats: a.repeats,
            acknowledged_at: a.acknowledged_at.map(instant),
            acknowledged_by: a.acknowledged_by,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/deliveries", tag = TAG_NOTIFICATIONS,
    security(("bearer" = [])), params(DeliveriesQuery),
    responses((status = 200, body = [DeliveryView]), (status = 400, body = Problem),
              (status = 401, body = Problem)))]
/// Deliveries, newest first, optionally in one state.
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Viewer>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, Problem> {
    let wanted = match q.state.as_deref().map(|s| (s, DeliveryState::parse(s))) {
        None => None,
        Some((_, Some(state))) => Some(state),
        Some((other, None)) => {
            return Err(Problem::bad_request(format!(
                "unknown state `{}`: expected pending, sent or failed",
                other.chars().take(50).collect::<String>()
            ))
            .with_type("invalid-query"));
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, DELIVERIES_MAX);
    let list = state.store.list_deliveries(wanted, limit).await?;
    Ok(Json(
        list.into_iter()
            .map(|d| DeliveryView::shown(d, &caller))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/retry", tag = TAG_NOTIFICATIONS,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The delivery's id")),
    responses((status = 200, body = DeliveryView), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
/// Put a failed delivery back in the queue, due now, under the same id. Refused (409) when a
/// later delivery of the same subject to the same destination was sent already (it would
/// arrive out of order) or its subscriber unsubscribed.
pub async fn retry(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeliveryView>, Problem> {
    let d = service::retry_delivery(&state.store, &caller.for_services(), &id, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(Json(DeliveryView::shown(d, &caller)))
}

/// A refusal of [`service`] as the API says it.
fn problem(e: NotificationError) -> Problem {
    match e {
        NotificationError::NoAlert(key) => Problem::not_found(format!(
            "no alert `{key}` fires; `GET /api/v1/alerts` lists the firing ones"
        )),
        NotificationError::NotFailed(id) => Problem::not_found(format!(
            "there is no failed delivery `{id}`; `GET /api/v1/deliveries?state=failed` lists them"
        )),
        e @ (NotificationError::Overtaken | NotificationError::RecipientGone) => {
            Problem::new(StatusCode::CONFLICT, e.to_string())
        }
        NotificationError::Store(e) => e.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/outbox", tag = TAG_NOTIFICATIONS, security(("bearer" = [])),
    responses((status = 200, body = OutboxView), (status = 401, body = Problem)))]
/// How deep and how old the outbox is.
pub async fn outbox(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<OutboxView>, Problem> {
    let stats = state.store.outbox_stats().await?;
    let now = state.clock.now();
    Ok(Json(OutboxView {
        pending: stats.pending,
        unfanned: stats.unfanned,
        failed: stats.failed,
        oldest_age_seconds: stats
            .oldest
            .map(|t| (now.as_millisecond() - t.as_millisecond()).max(0) / 1000),
    }))
}

#[utoipa::path(get, path = "/api/v1/alerts", tag = TAG_NOTIFICATIONS, security(("bearer" = [])),
    responses((status = 200, body = [AlertView]), (status = 401, body = Problem)))]
/// Firing operator alerts, oldest first.
pub async fn alerts(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Vec<AlertView>>, Problem> {
    let list = state.store.alert_states().await?;
    Ok(Json(list.into_iter().map(AlertView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/alerts/{key}/acknowledge", tag = TAG_NOTIFICATIONS,
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The alert's key, e.g. `monitor:api-health`")),
    responses((status = 200, body = AlertView), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
/// Acknowledge a firing alert: it is no longer sent again, and PagerDuty is told. An alert
/// acknowledged before is returned as it is.
pub async fn acknowledge(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<AlertView>, Problem> {
    let a = service::acknowledge_alert(
        &state.store,
        &caller.for_services(),
        &key,
        state.clock.now(),
    )
    .await
    .map_err(problem)?;
    Ok(Json(a.into()))
}
