//! The console's alert and delivery pages: firing operator alerts with acknowledge
//! (`/admin/alerts`) and failed notification deliveries with retry (`/admin/deliveries`), each
//! write through `service::notifications` as the API's. Writing needs the `editor` role: a
//! viewer sees no buttons, and the server refuses their posts with 403.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use upkeep_domain::notify::DeliveryState;
use upkeep_engine::service::notifications::{self as service, NotificationError};
use upkeep_store::users::UserRecord;

use super::monitors::seconds;
use super::pages::{Chrome, chrome, html};
use super::paging;
use super::session::{SignedIn, see_other};
use super::session::{can_write, writer};
use crate::api::notifications::DeliveryView;
use crate::problem::Problem;
use crate::state::AppState;

/// Failed deliveries on one page, newest first.
pub const DELIVERIES_PAGE: u32 = 100;
/// Firing alerts on one page; the next page starts after the last one's `since` and key.
pub const ALERTS_PAGE: u32 = 100;

struct AlertRow {
    key: String,
    severity: &'static str,
    component: String,
    since: String,
    summary: String,
    detail: String,
    notified: bool,
    repeats: i64,
    /// `(when, by whom)` once acknowledged.
    acknowledged: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "console_alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    can_write: bool,
    alerts: Vec<AlertRow>,
    /// How many alerts fire in all.
    total: i64,
    /// The next page's address, when there is one.
    next: Option<String>,
    /// The first page's address, on a later page.
    first: Option<String>,
    message: Option<String>,
    tz_name: String,
}

/// `?after=SINCE_MS/KEY`: where a later page of alerts starts.
#[derive(Debug, Default, Deserialize)]
pub struct AlertsQuery {
    after: Option<String>,
}

async fn alerts_page(
    state: &AppState,
    u: &UserRecord,
    after: Option<&str>,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let after = after.and_then(paging::parse_stamp_key);
    let after = after.as_ref().map(|(since, key)| (*since, key.as_str()));
    let (mut list, total) = match state.store.alert_states_page(after, ALERTS_PAGE + 1).await {
        Ok(l) => l,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let next = paging::cut(&mut list, ALERTS_PAGE, |a| {
        paging::stamp_key(a.since, &a.key)
    })
    .map(|after| paging::url("/admin/alerts", &[("after", Some(&after))]));
    let page = AlertsPage {
        total,
        next,
        first: after.is_some().then(|| "/admin/alerts".to_owned()),
        chrome: chrome(state, Some(u)),
        can_write: can_write(u),
        alerts: list
            .into_iter()
            .map(|a| AlertRow {
                key: a.key,
                severity: a.severity.as_str(),
                component: a.component.unwrap_or_default(),
                since: seconds(a.since, tz),
                summary: a.summary,
                detail: a.detail,
                notified: a.notified,
                repeats: a.repeats,
                acknowledged: a
                    .acknowledged_at
                    .map(|t| (seconds(t, tz), a.acknowledged_by.unwrap_or_default())),
            })
            .collect(),
        message,
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    html(status, page.render())
}

/// `GET /admin/alerts`: firing operator alerts, oldest first, a page at a time.
pub async fn alerts(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(q): Query<AlertsQuery>,
) -> Response {
    alerts_page(
        &state,
        &session.user,
        q.after.as_deref(),
        StatusCode::OK,
        None,
    )
    .await
}

/// `POST /admin/alerts/{key}/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
) -> Response {
    let caller = match writer(&session.user, "acknowledging an alert") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    match service::acknowledge_alert(&state.store, &caller, &key, state.clock.now()).await {
        Ok(_) => see_other("/admin/alerts"),
        Err(NotificationError::Store(e)) => Problem::internal(&e).into_response(),
        Err(e) => {
            alerts_page(
                &state,
                &session.user,
                None,
                StatusCode::NOT_FOUND,
                Some(e.to_string()),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "console_deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    can_write: bool,
    deliveries: Vec<DeliveryView>,
    message: Option<String>,
    first: Option<String>,
    next: Option<String>,
}

/// `?before=ID`: a later page of failed deliveries starts after the delivery `ID`.
#[derive(Debug, Default, Deserialize)]
pub struct DeliveriesQuery {
    before: Option<String>,
}

async fn deliveries_page(
    state: &AppState,
    u: &UserRecord,
    before: Option<&str>,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let before = paging::plain_key(before);
    let mut list = match state
        .store
        .deliveries_before(
            Some(DeliveryState::Failed),
            before.as_deref(),
            DELIVERIES_PAGE + 1,
        )
        .await
    {
        Ok(l) => l,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let next = paging::cut(&mut list, DELIVERIES_PAGE, |d| d.id.clone())
        .map(|id| paging::url("/admin/deliveries", &[("before", Some(&id))]));
    let page = DeliveriesPage {
        first: before.is_some().then(|| "/admin/deliveries".to_owned()),
        next,
        chrome: chrome(state, Some(u)),
        can_write: can_write(u),
        deliveries: list
            .into_iter()
            .map(|d| DeliveryView::shown_to(d, u.role))
            .collect(),
        message,
    };
    html(status, page.render())
}

/// `GET /admin/deliveries`: failed deliveries, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<DeliveriesQuery>,
) -> Response {
    deliveries_page(
        &state,
        &session.user,
        query.before.as_deref(),
        StatusCode::OK,
        None,
    )
    .await
}

/// `POST /admin/deliveries/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let caller = match writer(&session.user, "retrying a delivery") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    match service::retry_delivery(&state.store, &caller, &id, state.clock.now()).await {
        Ok(_) => see_other("/admin/deliveries"),
        Err(NotificationError::Store(e)) => Problem::internal(&e).into_response(),
        Err(e @ NotificationError::NotFailed(_)) => {
            deliveries_page(
                &state,
                &session.user,
                None,
                StatusCode::NOT_FOUND,
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => {
            deliveries_page(
                &state,
                &session.user,
                None,
                StatusCode::CONFLICT,
                Some(e.to_string()),
            )
            .await
        }
    }
}
