//! The console's subscribers page (`/admin/subscribers`), through `service::subscribers` as the
//! API's `/api/v1/subscribers`:
//!
//! - `GET /admin/subscribers?q=&after=`: e-mail and webhook subscribers, oldest first, 50 to a
//!   page, searched by address (`q`, any case) and paged by key (`after=MILLIS/ID`, the creation
//!   instant and id of the previous page's last row). The admin's only, as on the API:
//!   addresses are personal data, so other roles are refused with 403.
//! - `POST /admin/subscribers` (`url`, `secret`, `component` repeated, `tenant`): registers a
//!   webhook receiver with the API's checks; `POST /admin/subscribers/{id}/remove` removes a
//!   subscriber and its deliveries not sent yet, after a recent confirmation (`/admin/confirm`).
//!   Both are the admin's, as on the API (`subscriber.create`, `subscriber.delete` in the audit
//!   log); other roles see no forms and are refused with 403.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use upkeep_engine::service::subscribers::{self as service, NewWebhook, SubscriberError};

use upkeep_store::StoreError;
use upkeep_store::users::UserRecord;

use super::admin::needs_confirmation;
use super::monitors::seconds;
use super::pages::{Chrome, chrome, html};
use super::paging;
use super::session::{SignedIn, admin, is_admin, see_other};
use crate::problem::Problem;
use crate::state::AppState;

/// Rows on one page.
pub const PAGE_SIZE: u32 = 50;

/// `?q=&after=`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    /// `MILLIS/ID` of the previous page's last row.
    after: Option<String>,
}

struct Row {
    id: String,
    kind: String,
    address: String,
    components: String,
    tenant: String,
    confirmed: String,
    created: String,
}

/// The webhook form as typed, kept when it is refused.
#[derive(Debug, Default)]
struct WebhookForm {
    url: String,
    tenant: String,
    components: Vec<String>,
}

#[derive(Template)]
#[template(path = "console_subscribers.html")]
struct ListPage {
    chrome: Chrome,
    can_manage: bool,
    q: String,
    rows: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
    form: WebhookForm,
    /// Every component: id, name, ticked in the form.
    components: Vec<(String, String, bool)>,
    tenants: Vec<(String, String)>,
    message: Option<String>,
    tz_name: String,
}

fn list_url(q: &str, after: Option<&(Timestamp, String)>) -> String {
    let after = after.map(|(at, id)| paging::stamp_key(*at, id));
    paging::url(
        "/admin/subscribers",
        &[("q", Some(q)), ("after", after.as_deref())],
    )
}

async fn list_page(
    state: &AppState,
    u: &UserRecord,
    query: ListQuery,
    status: StatusCode,
    form: WebhookForm,
    message: Option<String>,
) -> Response {
    let loaded = state.config.current();
    let config = &loaded.config;
    let tz = &config.page.timezone;
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(service::QUERY_MAX_CHARS)
        .collect();
    let after = query.after.as_deref().and_then(paging::parse_stamp_key);
    let page = match service::search(&state.store, u.role, &q, after.clone(), PAGE_SIZE).await {
        Ok(p) => p,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let name = |id: &String| {
        config
            .components
            .get(id)
            .map_or_else(|| id.clone(), |c| c.name.clone())
    };
    let rows = page
        .subscribers
        .into_iter()
        .map(|s| Row {
            components: if s.components.is_empty() {
                "every component".to_owned()
            } else {
                s.components.iter().map(name).collect::<Vec<_>>().join(", ")
            },
            tenant: s.tenant.unwrap_or_default(),
            confirmed: s
                .confirmed_at
                .map_or_else(|| "pending".to_owned(), |t| seconds(t, tz)),
            created: seconds(s.created_at, tz),
            id: s.id,
            kind: s.kind,
            address: s.address,
        })
        .collect();
    let components = config
        .components
        .iter()
        .map(|(id, c)| (id.clone(), c.name.clone(), form.components.contains(id)))
        .collect();
    let page = ListPage {
        chrome: chrome(state, Some(u)),
        can_manage: is_admin(u),
        next: page.next.as_ref().map(|k| list_url(&q, Some(k))),
        first: after.is_some().then(|| list_url(&q, None)),
        q,
        rows,
        form,
        components,
        tenants: config
            .tenants
            .iter()
            .map(|(id, t)| (id.clone(), t.name.clone()))
            .collect(),
        message,
        tz_name: config.page.timezone_name.clone(),
    };
    html(status, page.render())
}

/// `GET /admin/subscribers`: the admin's, as `GET /api/v1/subscribers` (addresses are personal
/// data); anyone else gets 403.
pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(p) = admin(&session.user, "reading subscribers") {
        return p.into_response();
    }
    list_page(
        &state,
        &session.user,
        query,
        StatusCode::OK,
        WebhookForm::default(),
        None,
    )
    .await
}

/// The page again with why a change was refused, or the problem of a failure.
async fn refused(
    state: &AppState,
    u: &UserRecord,
    form: WebhookForm,
    e: SubscriberError,
) -> Response {
    let (status, message) = match e {
        SubscriberError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        e @ SubscriberError::NotFound(_) => (StatusCode::NOT_FOUND, e.to_string()),
        SubscriberError::Store(StoreError::Conflict(m)) => (StatusCode::CONFLICT, m),
        SubscriberError::Store(e) => return Problem::internal(&e).into_response(),
    };
    list_page(state, u, ListQuery::default(), status, form, Some(message)).await
}

/// `POST /admin/subscribers`: registers a webhook receiver.
pub async fn create(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let caller = match admin(&session.user, "registering a webhook") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let mut new = NewWebhook::default();
    for (k, v) in fields {
        match k.as_str() {
            "url" => new.url = v,
            "secret" if !v.is_empty() => new.secret = Some(v),
            "component" => new.components.push(v),
            "tenant" if !v.trim().is_empty() => new.tenant = Some(v),
            _ => {}
        }
    }
    let kept = WebhookForm {
        url: new.url.clone(),
        tenant: new.tenant.clone().unwrap_or_default(),
        components: new.components.clone(),
    };
    let config = state.config.current();
    let now = state.clock.now();
    match service::create_webhook(&state.store, &config.config, &caller, new, now).await {
        Ok(_) => see_other("/admin/subscribers"),
        Err(e) => refused(&state, &session.user, kept, e).await,
    }
}

/// `POST /admin/subscribers/{id}/remove`: needs a recent confirmation.
pub async fn remove(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let caller = match admin(&session.user, "removing a subscriber") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    if let Some(r) = needs_confirmation(&state, &session, "/admin/subscribers") {
        return r;
    }
    match service::delete(&state.store, &caller, &id, state.clock.now()).await {
        Ok(_) => see_other("/admin/subscribers"),
        Err(e) => refused(&state, &session.user, WebhookForm::default(), e).await,
    }
}
