//! The public side of status-page subscriptions: subscribe (double opt-in), confirm and
//! unsubscribe, as server-rendered pages extending the status page's `base.html` (no
//! JavaScript; every value escaped by askama).
//!
//! - `GET /subscribe`: the form — e-mail, components by group, a tenant when public tenants
//!   exist (a tenant with `public: false` is not listed; its id is still accepted).
//! - `POST /subscribe`: the form (`application/x-www-form-urlencoded`, `components` repeated)
//!   or JSON (`{"email", "components", "tenant"}`). A malformed address or an unknown component
//!   or tenant is answered 422 (problem+json for JSON, the form again with the message for the
//!   form). Otherwise the answer is **the same** whether the address is new, waiting for its
//!   confirmation, already confirmed or throttled — `202` with
//!   `{"status":"pending","message":...}` or a "check your inbox" page — so nobody can learn
//!   who subscribed. A confirmation mail is queued in the outbox unless one went to the address
//!   recently (a delay that grows with every mail, from [`RESEND_AFTER_MS`]) or the hourly
//!   budget of confirmation mails is spent ([`crate::confirmation_budget`]).
//! - `GET /subscribe/confirm/{token}` shows a button and changes nothing (mail scanners follow
//!   links); `POST` confirms. An unknown, used or expired token is a 404 page; a token that is
//!   not 48 hex digits is a 404 without a database query.
//! - `GET /unsubscribe/{id}/{token}` shows a button; `POST` (also RFC 8058's one-click target:
//!   any body is accepted) deletes the subscriber and its unsent deliveries. A valid token for
//!   a subscriber already gone gets the same "unsubscribed" page; an invalid token is a 404.
//!
//! These `POST`s carry no bearer token: possession of the link's token is the authentication.
//! `POST /subscribe` is refused (403) when a browser says it comes from another site
//! (`Sec-Fetch-Site: cross-site`, or a foreign `Origin`), so other pages cannot make their
//! visitors' browsers request confirmation mails.
//!
//! Rate limit: on top of the public per-client limit, `POST /subscribe` has its own per-client
//! quota, `server.subscribe_rate_limit`: by default [`SUBSCRIBE_PER_MINUTE`] (6) requests a
//! minute — one every 10 s sustained — with bursts of [`SUBSCRIBE_BURST`] (3); over it the
//! answer is `429` with `Retry-After`. The client is the real one behind trusted proxies
//! ([`crate::listener`]).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use upkeep_domain::config::Config;
use upkeep_domain::email::EmailAddress;
use upkeep_domain::notify::routing::Scope;
use upkeep_engine::notify::links;
use upkeep_store::subscribers::{SubscribeOutcome, SubscriberRecord};
use upkeep_store::{Store, StoreError, ids};

use crate::confirmation_budget::OverBudget;
use crate::extract::body_problem;
use crate::listener::ClientAddr;
use crate::problem::Problem;
use crate::state::AppState;
use crate::status::html::{CSS_VERSION, local};

/// Sustained subscription requests a minute per client address, by default.
pub const SUBSCRIBE_PER_MINUTE: u32 = 6;
/// Subscription requests a client address may make at once, by default.
pub const SUBSCRIBE_BURST: u32 = 3;
/// No second confirmation mail goes to an address within this time of the last one.
pub const RESEND_AFTER_MS: i64 = 10 * 60 * 1000;
/// Length of a confirmation token: 24 random bytes in hex.
const CONFIRM_TOKEN_LEN: usize = 48;
/// Length of an unsubscribe token: 16 bytes of HMAC in hex.
const UNSUBSCRIBE_TOKEN_LEN: usize = 32;

/// What every accepted subscription request is told.
pub const PENDING_MESSAGE: &str =
    "If this address can be subscribed, a confirmation mail is on its way.";

const HTML: &str = "text/html; charset=utf-8";

/// The per-client quota of `POST /subscribe` (`server.subscribe_rate_limit`; see the module
/// documentation).
pub type SubscribeLimiter = crate::rate_limit::MinuteLimiter;

/// The key of unsubscribe links, read from the store once and kept (it never changes).
#[derive(Clone, Default)]
pub struct LinkKeyCache(Arc<tokio::sync::OnceCell<Vec<u8>>>);

impl fmt::Debug for LinkKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.0.initialized();
        f.debug_struct("LinkKeyCache")
            .field("loaded", &loaded)
            .finish_non_exhaustive()
    }
}

impl LinkKeyCache {
    /// The key, loading (or making) it on first use.
    pub async fn get(&self, store: &Store) -> Result<&[u8], StoreError> {
        self.0
            .get_or_try_init(|| links::link_key(store))
            .await
            .map(Vec::as_slice)
    }
}

/// The public subscription routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscribe", get(form).post(submit))
        .route(
            "/subscribe/confirm/{token}",
            get(confirm_page).post(confirm),
        )
        .route(
            "/unsubscribe/{id}/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

// ---------------------------------------------------------------------------------------------
// Templates

struct Check {
    id: String,
    name: String,
    checked: bool,
}

struct Group {
    name: Option<String>,
    components: Vec<Check>,
}

struct TenantOption {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "subscribe.html")]
struct FormPage {
    page_name: String,
    page_url: String,
    css_version: &'static str,
    updated: String,
    tz_name: String,
    error: Option<String>,
    email: String,
    groups: Vec<Group>,
    tenants: Vec<TenantOption>,
}

/// A button that POSTs to `action`.
struct Button {
    action: String,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "subscribe_message.html")]
struct MessagePage {
    page_name: String,
    page_url: String,
    css_version: &'static str,
    updated: String,
    tz_name: String,
    heading: &'static str,
    paragraphs: Vec<String>,
    items: Vec<String>,
    button: Option<Button>,
    subscribe_link: bool,
}

/// What the layout (`base.html`) needs.
struct Layout {
    page_name: String,
    page_url: String,
    updated: String,
    tz_name: String,
}

fn layout(state: &AppState) -> Layout {
    let loaded = state.config.current();
    let page = &loaded.config.page;
    Layout {
        page_name: page.name.clone(),
        page_url: page.url.clone(),
        updated: local(state.clock.now(), &page.timezone),
        tz_name: page.timezone_name.clone(),
    }
}

/// An HTML page that no cache keeps, no search engine lists, and whose address (holding a
/// token) is never sent as a referrer.
pub(crate) fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => {
            let mut resp = (status, body).into_response();
            let headers = resp.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
            resp
        }
        Err(e) => Problem::internal(&e).into_response(),
    }
}

struct Message {
    heading: &'static str,
    paragraphs: Vec<String>,
    items: Vec<String>,
    button: Option<Button>,
    subscribe_link: bool,
}

impl Message {
    fn new(heading: &'static str, text: impl Into<String>) -> Self {
        Self {
            heading,
            paragraphs: vec![text.into()],
            items: Vec::new(),
            button: None,
            subscribe_link: false,
        }
    }
}

fn message(state: &AppState, status: StatusCode, m: Message) -> Response {
    let l = layout(state);
    let page = MessagePage {
        page_name: l.page_name,
        page_url: l.page_url,
        css_version: CSS_VERSION.as_str(),
        updated: l.updated,
        tz_name: l.tz_name,
        heading: m.heading,
        paragraphs: m.paragraphs,
        items: m.items,
        button: m.button,
        subscribe_link: m.subscribe_link,
    };
    html(status, page.render())
}

fn form_page(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    input: &SubscribeInput,
) -> Response {
    let loaded = state.config.current();
    let config = &loaded.config;
    let chosen: BTreeSet<&str> = input.components.iter().map(String::as_str).collect();
    let mut groups: Vec<Group> = Vec::new();
    // A tenant's own components are not offered: the form is public.
    for (id, c) in config.components.iter().filter(|(_, c)| c.tenant.is_none()) {
        let check = Check {
            id: id.clone(),
            name: c.name.clone(),
            checked: chosen.contains(id.as_str()),
        };
        match groups.iter_mut().find(|g| g.name == c.group) {
            Some(g) => g.components.push(check),
            None => groups.push(Group {
                name: c.group.clone(),
                components: vec![check],
            }),
        }
    }
    // Components without a group first, then groups by name.
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    // Only public tenants are listed: the form is no directory of every customer.
    let tenants = config
        .tenants
        .iter()
        .filter(|(_, t)| t.public)
        .map(|(id, t)| TenantOption {
            id: id.clone(),
            name: t.name.clone(),
            selected: input.tenant.as_deref() == Some(id.as_str()),
        })
        .collect();
    let l = layout(state);
    let page = FormPage {
        page_name: l.page_name,
        page_url: l.page_url,
        css_version: CSS_VERSION.as_str(),
        updated: l.updated,
        tz_name: l.tz_name,
        error,
        email: input
            .email
            .chars()
            .take(EmailAddress::MAX_LEN + 10)
            .collect(),
        groups,
        tenants,
    };
    html(status, page.render())
}

// ---------------------------------------------------------------------------------------------
// Subscribing

/// The body of `POST /subscribe` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeInput {
    /// The address to subscribe.
    pub email: String,
    /// Component ids; empty or absent = every component.
    #[serde(default)]
    pub components: Vec<String>,
    /// A tenant id: maintenance notices only when a maintenance covers it.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The answer to every accepted subscription request.
#[derive(Debug, Serialize)]
pub struct Pending {
    pub status: &'static str,
    pub message: &'static str,
}

/// An e-mail address as stored (lower case), or why it is not one.
pub fn normalise_email(raw: &str) -> Result<String, String> {
    EmailAddress::parse(raw)
        .map(|email| email.to_lowercase().into_string())
        .map_err(|why| why.to_string())
}

pub use upkeep_engine::service::subscribers::checked_scope;

fn parse_form(body: &[u8]) -> SubscribeInput {
    let mut input = SubscribeInput::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "email" => input.email = value.into_owned(),
            "components" => input.components.push(value.into_owned()),
            "tenant" => input.tenant = Some(value.into_owned()),
            _ => {}
        }
    }
    input
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(BodyKind::Json),
        "application/x-www-form-urlencoded" => Some(BodyKind::Form),
        _ => None,
    }
}

/// `GET /subscribe`: the form.
async fn form(State(state): State<AppState>) -> Response {
    if !mail_enabled(&state) {
        let mut m = Message::new(
            "E-mail updates are not available",
            "This status page does not send e-mail. To hear about incidents and maintenance, \
             follow its Atom feed (/feed.atom) or RSS feed (/feed.rss), or add its maintenance \
             calendar (/maintenance.ics) to your calendar.",
        );
        m.subscribe_link = false;
        return message(&state, StatusCode::NOT_FOUND, m);
    }
    form_page(&state, StatusCode::OK, None, &SubscribeInput::default())
}

/// Whether a browser says the request comes from another site (`Sec-Fetch-Site: cross-site`,
/// or an `Origin` whose host is not the request's): another site's page posting the form for
/// its visitors, to spread confirmation mails over many addresses. Clients that are not
/// browsers send neither header.
fn cross_site(headers: &HeaderMap, page_url: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    let Some(origin) = header("origin") else {
        return false;
    };
    let Ok(origin) = url::Url::parse(origin) else {
        return true; // `null` (a sandboxed or file page) and garbage
    };
    // The page's public address (behind a proxy that rewrites `Host`), or the host asked for.
    let public = url::Url::parse(page_url).ok().map(|u| u.origin());
    if public.is_some_and(|p| p == origin.origin()) {
        return false;
    }
    let origin_host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return true,
    };
    header("host").is_none_or(|host| !origin_host.eq_ignore_ascii_case(host))
}

/// Whether this page sends mail at all (`notifications.smtp` is set).
fn mail_enabled(state: &AppState) -> bool {
    state.config.current().config.notifications.smtp.is_some()
}

/// `POST /subscribe`: a subscription request (see the module documentation).
async fn submit(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    request: Request,
) -> Response {
    if let Err(wait) = state.subscribe_limiter.check(client) {
        return crate::rate_limit::over_quota(wait).into_response();
    }
    let page_url = state.config.current().config.page.url.clone();
    if cross_site(request.headers(), &page_url) {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "subscription requests must come from this status page's own form",
        )
        .into_response();
    }
    if !mail_enabled(&state) {
        return Problem::not_found(
            "e-mail subscriptions are off on this status page: its configuration has no \
             `notifications.smtp`; follow /feed.atom or /maintenance.ics instead",
        )
        .into_response();
    }
    let kind = body_kind(request.headers());
    let body = match Bytes::from_request(request, &state).await {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is larger than this server accepts".to_owned()
            } else {
                "the request body could not be read".to_owned()
            };
            return Problem::new(status, detail)
                .with_type("invalid-body")
                .into_response();
        }
    };
    let json = match kind {
        Some(BodyKind::Json) => true,
        Some(BodyKind::Form) => false,
        None => {
            return Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the form (`application/x-www-form-urlencoded`) or JSON \
                 (`application/json`: {\"email\": ..., \"components\": [...], \"tenant\": ...})",
            )
            .with_type("invalid-body")
            .into_response();
        }
    };
    let input = if json {
        match serde_json::from_slice::<SubscribeInput>(&body) {
            Ok(input) => input,
            Err(e) => {
                return body_problem(&e, "a subscription request").into_response();
            }
        }
    } else {
        parse_form(&body)
    };
    let loaded = state.config.current();
    let checked = normalise_email(&input.email).and_then(|email| {
        checked_scope(&loaded.config, &input.components, input.tenant.as_deref())
            .map(|scope| (email, scope))
    });
    let (email, scope) = match checked {
        Ok(v) => v,
        Err(why) if json => {
            return Problem::unprocessable(format!("the subscription cannot be made: {why}"))
                .with_type("invalid-subscription")
                .into_response();
        }
        Err(why) => {
            return form_page(&state, StatusCode::UNPROCESSABLE_ENTITY, Some(why), &input);
        }
    };
    if let Err(e) = request_confirmation(&state, &loaded.config, &email, &scope).await {
        return Problem::internal(&e).into_response();
    }
    if json {
        (
            StatusCode::ACCEPTED,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(Pending {
                status: "pending",
                message: PENDING_MESSAGE,
            }),
        )
            .into_response()
    } else {
        let mut m = Message::new("Check your inbox", PENDING_MESSAGE);
        m.paragraphs.push(
            "Follow the link in that mail to confirm the subscription; nothing is sent \
             before you do."
                .into(),
        );
        message(&state, StatusCode::ACCEPTED, m)
    }
}

/// Records the request and queues its confirmation mail unless one went out recently.
async fn request_confirmation(
    state: &AppState,
    config: &Config,
    email: &str,
    scope: &Scope,
) -> Result<(), StoreError> {
    let now = state.clock.now();
    let now_ms = now.as_millisecond();
    let confirm_ms =
        i64::try_from(config.notifications.confirm_within.as_millis()).unwrap_or(i64::MAX);
    let resend_after_ms = state.confirmation_budget.resend_after_ms(email, now_ms);
    let outcome = state
        .store
        .request_subscription(email, scope, confirm_ms, resend_after_ms, now)
        .await?;
    if let SubscribeOutcome::SendConfirmation {
        subscriber,
        token,
        expires_at,
    } = outcome
    {
        if let Err(over) = state.confirmation_budget.spend(email, now_ms) {
            let budget = match over {
                OverBudget::Overall => "per_hour",
                OverBudget::Domain => "per_domain_per_hour",
            };
            metrics::counter!("upkeep_confirmation_mails_refused_total", "budget" => budget)
                .increment(1);
            tracing::warn!(
                domain = crate::confirmation_budget::domain_of(email),
                budget,
                "confirmation mail not sent: server.confirmation_mail_budget is spent"
            );
            return Ok(());
        }
        let request = links::Confirmation {
            subscriber: &subscriber,
            scope,
            token: &token,
            expires_at,
        };
        links::enqueue_confirmation(&state.store, config, &request, now).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Confirming

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn expired(state: &AppState) -> Response {
    let mut m = Message::new(
        "This link has expired or was already used",
        "This link has expired or was already used. Subscribe again.",
    );
    m.subscribe_link = true;
    message(state, StatusCode::NOT_FOUND, m)
}

/// `GET /subscribe/confirm/{token}`: the confirmation button; changes nothing.
async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if !is_hex(&token, CONFIRM_TOKEN_LEN) {
        return expired(&state);
    }
    let mut m = Message::new(
        "Confirm your subscription",
        "Press the button to start receiving updates from this status page.",
    );
    m.button = Some(Button {
        action: format!("/subscribe/confirm/{}", token.to_ascii_lowercase()),
        label: "Confirm subscription",
    });
    message(&state, StatusCode::OK, m)
}

/// What a subscriber receives, for people.
fn scope_items(config: &Config, s: &SubscriberRecord) -> Vec<String> {
    let mut items = Vec::new();
    if s.components.is_empty() {
        items.push("Incidents and maintenance of every component".to_owned());
    } else {
        for id in &s.components {
            let name = config
                .components
                .get(id)
                .map_or(id.as_str(), |c| c.name.as_str());
            items.push(format!("Incidents and maintenance of {name}"));
        }
    }
    if let Some(t) = &s.tenant {
        let name = config
            .tenants
            .get(t)
            .map_or(t.as_str(), |t| t.name.as_str());
        items.push(format!("Maintenance only when it affects {name}"));
    }
    items
}

/// `POST /subscribe/confirm/{token}`: confirms the subscription.
async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if !is_hex(&token, CONFIRM_TOKEN_LEN) {
        return expired(&state);
    }
    let token = token.to_ascii_lowercase();
    match state
        .store
        .confirm_subscription(&token, state.clock.now())
        .await
    {
        Ok(Some(subscriber)) => {
            let loaded = state.config.current();
            let mut m = Message::new(
                "You are subscribed",
                format!(
                    "Updates will be sent to {}. You will receive:",
                    subscriber.address
                ),
            );
            m.items = scope_items(&loaded.config, &subscriber);
            m.paragraphs
                .push("Every mail carries a link to unsubscribe with one click.".to_owned());
            message(&state, StatusCode::OK, m)
        }
        Ok(None) => expired(&state),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Unsubscribing

fn invalid_link(state: &AppState) -> Response {
    let mut m = Message::new(
        "This link is not valid",
        "This unsubscribe link is not valid. Use the link from the latest mail you received.",
    );
    m.subscribe_link = false;
    message(state, StatusCode::NOT_FOUND, m)
}

/// Whether `(id, token)` is a genuine unsubscribe link; `Err` when the key cannot be read.
async fn genuine(state: &AppState, id: &str, token: &str) -> Result<bool, StoreError> {
    if !ids::is_id(id) || !is_hex(token, UNSUBSCRIBE_TOKEN_LEN) {
        return Ok(false);
    }
    let key = state.link_key.get(&state.store).await?;
    Ok(links::unsubscribe_token_valid(key, id, token))
}

/// `GET /unsubscribe/{id}/{token}`: the unsubscribe button; changes nothing.
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path((id, token)): Path<(String, String)>,
) -> Response {
    match genuine(&state, &id, &token).await {
        Ok(true) => {
            let mut m = Message::new(
                "Unsubscribe",
                "Press the button to stop receiving updates from this status page.",
            );
            m.button = Some(Button {
                action: format!("/unsubscribe/{id}/{token}"),
                label: "Unsubscribe",
            });
            message(&state, StatusCode::OK, m)
        }
        Ok(false) => invalid_link(&state),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// `POST /unsubscribe/{id}/{token}` (and RFC 8058 one-click): deletes the subscriber.
async fn unsubscribe(
    State(state): State<AppState>,
    Path((id, token)): Path<(String, String)>,
) -> Response {
    match genuine(&state, &id, &token).await {
        Ok(true) => {}
        Ok(false) => return invalid_link(&state),
        Err(e) => return Problem::internal(&e).into_response(),
    }
    let actor = format!("subscriber:{id}");
    if let Err(e) = state
        .store
        .delete_subscriber(&id, &actor, state.clock.now())
        .await
    {
        return Problem::internal(&e).into_response();
    }
    let mut m = Message::new(
        "You are unsubscribed",
        "You will receive no more updates from this status page.",
    );
    m.subscribe_link = true;
    message(&state, StatusCode::OK, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            normalise_email(" Ann@Example.COM ").as_deref(),
            Ok("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "a@b@c",
            "ann smith@example.com",
            "<script>@x.y",
            "ann@example.com\r\nBcc: x@y.z",
            "ann@.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalise_email(&long).is_err());
    }

    #[test]
    fn repeated_form_fields_are_all_kept() {
        let input = parse_form(b"email=a%40b.c&components=api&components=db&tenant=&submit=x");
        assert_eq!(input.email, "a@b.c");
        assert_eq!(input.components, ["api", "db"]);
        assert_eq!(input.tenant.as_deref(), Some(""));
    }

    #[test]
    fn the_subscribe_limiter_allows_a_burst_then_waits() {
        use std::net::IpAddr;
        use std::time::Duration;
        let limiter = SubscribeLimiter::new(SUBSCRIBE_PER_MINUTE, SUBSCRIBE_BURST);
        let a: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..SUBSCRIBE_BURST {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).err();
        assert!(
            wait.is_some_and(|w| w > Duration::from_secs(5) && w <= Duration::from_secs(10)),
            "{wait:?}"
        );
    }
}
