//! The operators' console under `/admin`: server-rendered pages (askama, working without
//! JavaScript, the same strict Content-Security-Policy as the status page) over the same
//! services the API and the command line call.
//!
//! - Signing in: `GET /admin/login` (fields `email`, `password`) → `POST /admin/login` → 303 to
//!   `/admin` with the session cookie ([`session`]); a user with a second factor passes by
//!   `/admin/login/code` first. `POST /admin/logout` and `POST /admin/logout-everywhere`.
//! - `GET /admin`: what needs attention now (components not operational, open incidents,
//!   maintenance in progress, maintenances held by pre-flight checks, unacknowledged alerts,
//!   failed deliveries, backups at risk or breached and drills overdue), refreshed in place
//!   every 30 s by the one script [`JS`] (the page is complete without it).
//! - `/admin/incidents`: the list, opening one, posting an update (with a server-rendered
//!   Markdown preview), resolving, editing title, impact and postmortem, deleting after a
//!   confirmation ([`incidents`]; writing needs the `editor` role, deleting `admin`).
//! - `GET /admin/reports`: availability reports with their charts and CSV and HTML downloads
//!   ([`reports`]).
//! - `/admin/config`: what configuration is loaded, and reloading it, every problem of a
//!   refused reload as `FILE:LINE:COLUMN: message` (admin only) ([`config`]).
//! - `/admin/monitors`: the fleet, searched, filtered and paged by key; one monitor with its
//!   results, latency chart and state changes; pause and resume ([`monitors`]).
//! - `/admin/alerts` and `/admin/deliveries`: firing alerts with acknowledge, failed deliveries
//!   with retry ([`notifications`]).
//! - `/admin/maintenance`: a month calendar with the scheduling form; one maintenance with its
//!   timeline, hold, tenants and rollout; start, complete, cancel; rollout pause, resume,
//!   abort ([`maintenance`]).
//! - `GET /admin/inventory`: the update inventory, read-only ([`inventory`]).
//! - `GET /admin/agents`: probe agents — location, version, last contact, clock offset,
//!   state — read-only ([`agents`]).
//! - `/admin/subscribers`: subscribers searched by address and paged by key, addresses
//!   redacted below `admin`; registering a webhook and removing a subscriber (admin, as on the
//!   API; removing asks for a confirmation) ([`subscribers`]).
//! - `/admin/backups`: DR readiness (each set against its RPO and RTO, drills due or overdue);
//!   one set with its runs and drills; starting and finishing a drill ([`backups`]).
//! - `GET /admin/audit`: the audit log, filtered by who, what and when and paged by key;
//!   addresses redacted below `admin` as the API redacts them ([`audit`]).
//! - `/admin/confirm`: re-authentication before destructive actions; `/admin/users`: users and
//!   API tokens (admin only) ([`admin`]).
//! - `GET /admin/account`: the signed-in user and their second factor (TOTP enrolment, with
//!   recovery codes shown once).
//!
//! Every unsafe request is checked by [`csrf::guard`]; sign-in attempts are throttled per
//! account and per client address by `service::user` (docs/console.md).

mod admin;
mod agents;
mod audit;
mod backups;
mod config;
pub mod csrf;
mod incidents;
mod inventory;
mod maintenance;
mod monitors;
mod notifications;
mod pages;
mod paging;
mod reports;
pub mod session;
mod subscribers;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::listener::ClientAddr;
use crate::state::AppState;

/// The console's stylesheet, served at `/admin/static/console.css`.
pub const CSS: &str = include_str!("../../static/console.css");

/// A short hash of [`CSS`], appended to its URL so browsers may cache it for a year.
pub static CSS_VERSION: LazyLock<String> =
    LazyLock::new(|| crate::status::html::asset_version(CSS));

/// The console's only script, served at `/admin/static/console.js`: it refreshes the overview
/// in place (every page works without it).
pub const JS: &str = include_str!("../../static/console.js");

/// A short hash of [`JS`], appended to its URL like [`CSS_VERSION`].
pub static JS_VERSION: LazyLock<String> = LazyLock::new(|| crate::status::html::asset_version(JS));

/// The console's routes, behind the cross-site request guard.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/login", get(pages::login_form).post(pages::login))
        .route(
            "/admin/login/code",
            get(pages::code_form).post(pages::login_code),
        )
        .route("/admin/logout", post(pages::logout))
        .route("/admin/logout-everywhere", post(pages::logout_everywhere))
        .route("/admin/account", get(pages::account))
        .route("/admin/account/totp", post(pages::totp_begin))
        .route("/admin/account/totp/confirm", post(pages::totp_confirm))
        .route(
            "/admin/incidents",
            get(incidents::list).post(incidents::open),
        )
        .route("/admin/incidents/{id}", get(incidents::detail))
        .route("/admin/incidents/{id}/updates", post(incidents::update))
        .route("/admin/incidents/{id}/resolve", post(incidents::resolve))
        .route("/admin/incidents/{id}/edit", post(incidents::edit))
        .route("/admin/incidents/{id}/delete", post(incidents::delete))
        .route("/admin/monitors", get(monitors::list))
        .route("/admin/monitors/{id}", get(monitors::detail))
        .route("/admin/monitors/{id}/pause", post(monitors::pause))
        .route("/admin/monitors/{id}/resume", post(monitors::resume))
        .route("/admin/alerts", get(notifications::alerts))
        .route("/admin/inventory", get(inventory::inventory))
        .route("/admin/agents", get(agents::agents))
        .route(
            "/admin/subscribers",
            get(subscribers::list).post(subscribers::create),
        )
        .route("/admin/subscribers/{id}/remove", post(subscribers::remove))
        .route("/admin/audit", get(audit::audit))
        .route("/admin/backups", get(backups::readiness))
        .route("/admin/backups/{id}", get(backups::detail))
        .route("/admin/backups/{id}/drills", post(backups::start_drill))
        .route(
            "/admin/backups/{id}/drills/{drill}/finish",
            post(backups::finish_drill),
        )
        .route(
            "/admin/alerts/{key}/acknowledge",
            post(notifications::acknowledge),
        )
        .route("/admin/deliveries", get(notifications::deliveries))
        .route("/admin/deliveries/{id}/retry", post(notifications::retry))
        .route(
            "/admin/maintenance",
            get(maintenance::calendar).post(maintenance::schedule),
        )
        .route("/admin/maintenance/{id}", get(maintenance::detail))
        .route("/admin/maintenance/{id}/{action}", post(maintenance::act))
        .route(
            "/admin/maintenance/{id}/rollout/{command}",
            post(maintenance::rollout_command),
        )
        .route(
            "/admin/confirm",
            get(admin::confirm_form).post(admin::confirm),
        )
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}/disable", post(admin::disable_user))
        .route("/admin/users/{id}/enable", post(admin::enable_user))
        .route("/admin/tokens", post(admin::create_token))
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/admin/reports", get(reports::page))
        .route("/admin/reports/download", get(reports::download))
        .route("/admin/config", get(config::show))
        .route("/admin/config/reload", post(config::reload))
        .route("/admin/static/console.css", get(css))
        .route("/admin/static/console.js", get(js))
        .layer(axum::middleware::from_fn_with_state(state, csrf::guard))
        .layer(axum::middleware::from_fn(compress))
}

/// Compresses what the console sends (br, then gzip, as the client allows, with
/// `Vary: Accept-Encoding`), at the quality of the status page's bodies rendered on request.
///
/// A console page can show a secret beside text a user typed — the mix a compression side
/// channel (BREACH) feeds on — but such an attack needs requests sent from another site with
/// the victim's session, and the session cookie is `SameSite=Strict` and cross-site posts are
/// refused ([`csrf::guard`]); docs/console.md.
async fn compress(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use crate::status::{Coding, negotiate, snapshot};
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let coding = negotiate(accept);
    let mut resp = next.run(req).await;
    let textual = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/"));
    if !textual || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    // Also on identity answers: a cache keeping the year-long assets must key them by coding.
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if coding == Coding::Identity {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let plain = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return crate::problem::Problem::internal(&e).into_response(),
    };
    let (packed, name) = match coding {
        Coding::Brotli => (snapshot::brotli(&plain, snapshot::ON_REQUEST_BROTLI), "br"),
        _ => (snapshot::gzip(&plain, snapshot::ON_REQUEST_GZIP), "gzip"),
    };
    let packed = match packed {
        Ok(p) => p,
        Err(e) => return crate::problem::Problem::internal(&e).into_response(),
    };
    let h = &mut parts.headers;
    h.remove(header::CONTENT_LENGTH);
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    Response::from_parts(parts, axum::body::Body::from(packed))
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

/// A static asset of the console, cached for a year (its URL carries its version).
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}

/// The real client address of a request (see [`crate::listener`]), keyed like the rate limits
/// (an IPv6 client by its /64): what the sign-in throttle counts per client.
#[derive(Debug, Clone)]
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let client = parts
            .extensions
            .get::<axum::extract::ConnectInfo<ClientAddr>>()
            .map(|info| crate::rate_limit::client_key(info.0.0).to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(Client(client))
    }
}
