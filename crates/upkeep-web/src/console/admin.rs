//! Re-authentication and the users and tokens page.
//!
//! - `/admin/confirm`: the signed-in user confirms their password (or a current code of their
//!   second factor) and is sent back to where they were: only to a path under `/admin`, so the
//!   form is no open redirect. The instant is kept on the session in the store; destructive
//!   actions (revoking a token, disabling a user) need one within the last 5 minutes, and send
//!   the user to the form otherwise.
//! - `/admin/users` (admin only; other roles are refused with 403, reading or writing): users
//!   and API tokens, through `service::user` and `service::token` as the command line and the
//!   API do. A new token's secret is shown once.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use upkeep_domain::role::Role;
use upkeep_engine::service::token::{self, TokenServiceError};
use upkeep_engine::service::user::{self, Confirmation, CreateUser, UserServiceError};
use upkeep_store::sessions::Session;
use upkeep_store::users::UserRecord;

use super::Client;
use super::pages::{Chrome, chrome, html};
use super::paging;
use super::session::{SignedIn, is_admin, refusal, see_other};
use crate::problem::Problem;
use crate::state::AppState;
use crate::status::html::local;

// ---------------------------------------------------------------------------------------------
// Re-authentication

/// Where the confirmation form may send the user back to: a path under `/admin` of this site,
/// with nothing that a browser could read as another host (`//`, `\`, a scheme) or as a
/// different path than the one checked (`..`, escapes, control characters). Anything else is
/// `None`, and the form sends the user to `/admin`.
pub fn safe_next(next: &str) -> Option<&str> {
    let path_ok = next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?");
    let chars_ok = next.len() <= 512
        && next
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~?&=+,:@!*'();%".contains(&b));
    let lower = next.to_ascii_lowercase();
    let shape_ok = !next.contains("//")
        && !next.contains("..")
        && !["%2e", "%2f", "%5c", "%0"]
            .iter()
            .any(|e| lower.contains(e));
    (path_ok && chars_ok && shape_ok).then_some(next)
}

/// The answer to a destructive action without a recent confirmation: 303 to the form, which
/// comes back to `back`.
pub(super) fn confirm_first(back: &str) -> Response {
    let back = safe_next(back).unwrap_or("/admin");
    let encoded: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    see_other(&format!("/admin/confirm?next={encoded}"))
}

/// `None` when the session's confirmation is recent enough; otherwise the redirect to the form.
pub(super) fn needs_confirmation(
    state: &AppState,
    session: &Session,
    back: &str,
) -> Option<Response> {
    (!user::recently_confirmed(session, state.clock.now())).then(|| confirm_first(back))
}

#[derive(Template)]
#[template(path = "console_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    next: String,
    totp: bool,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    secret: String,
    #[serde(default)]
    next: String,
}

fn confirm_page(
    state: &AppState,
    user: &UserRecord,
    status: StatusCode,
    next: &str,
    message: Option<String>,
) -> Response {
    let page = ConfirmPage {
        chrome: chrome(state, Some(user)),
        next: safe_next(next).unwrap_or("/admin").to_owned(),
        totp: user.totp_enabled_at.is_some(),
        message,
    };
    html(status, page.render())
}

/// `GET /admin/confirm?next=PATH`.
pub async fn confirm_form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(q): Query<NextQuery>,
) -> Response {
    confirm_page(&state, &session.user, StatusCode::OK, &q.next, None)
}

/// `POST /admin/confirm`: 303 back to `next` (a path under `/admin`) once confirmed.
pub async fn confirm(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Client(client): Client,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let now = state.clock.now();
    match user::confirm(&state.store, &session, &form.secret, &client, now).await {
        Ok(Confirmation::Confirmed) => see_other(safe_next(&form.next).unwrap_or("/admin")),
        Ok(Confirmation::Refused) => {
            tracing::info!(client, "console confirmation refused");
            confirm_page(
                &state,
                &session.user,
                StatusCode::UNAUTHORIZED,
                &form.next,
                Some("That is not your password or a current code.".into()),
            )
        }
        Ok(Confirmation::Locked { until }) => {
            let secs = (until.as_second() - now.as_second()).max(1);
            let mut r = confirm_page(
                &state,
                &session.user,
                StatusCode::TOO_MANY_REQUESTS,
                &form.next,
                Some(format!("Too many failed attempts. Try again in {secs} s.")),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(e) => Problem::internal(&e).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Users and tokens

struct UserRow {
    id: String,
    email: String,
    name: String,
    role: &'static str,
    disabled: bool,
    totp: bool,
    created: String,
    me: bool,
}

struct TokenRow {
    id: String,
    name: String,
    role: String,
    created: String,
    created_by: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "console_users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    user_roles: Vec<&'static str>,
    token_roles: Vec<&'static str>,
    /// A token just created: (name, secret), shown this once.
    created_token: Option<(String, String)>,
    message: Option<String>,
    /// The next page of users, of tokens, and the first page when on a later one.
    users_next: Option<String>,
    tokens_next: Option<String>,
    first: Option<String>,
}

/// Users and tokens on one page each.
pub const USERS_PAGE: u32 = 100;

/// `?users_after=EMAIL&tokens_after=MILLIS/ID`: where later pages of each list start.
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    users_after: Option<String>,
    tokens_after: Option<String>,
}

/// The refusal of anyone but an admin.
fn refused(u: &UserRecord) -> Response {
    refusal(u, Role::Admin, "managing users and tokens").into_response()
}

async fn users_page(
    state: &AppState,
    me: &UserRecord,
    status: StatusCode,
    created_token: Option<(String, String)>,
    message: Option<String>,
) -> Response {
    let first = UsersQuery::default();
    users_page_at(state, me, &first, status, created_token, message).await
}

async fn users_page_at(
    state: &AppState,
    me: &UserRecord,
    query: &UsersQuery,
    status: StatusCode,
    created_token: Option<(String, String)>,
    message: Option<String>,
) -> Response {
    let tz = state.config.current().config.page.timezone.clone();
    let users_after = paging::plain_key(query.users_after.as_deref());
    let tokens_after = query
        .tokens_after
        .as_deref()
        .and_then(paging::parse_stamp_key);
    let (mut users, mut tokens) = match (
        user::page(&state.store, users_after.as_deref(), USERS_PAGE + 1).await,
        token::page(
            &state.store,
            tokens_after.as_ref().map(|(at, id)| (*at, id.as_str())),
            USERS_PAGE + 1,
        )
        .await,
    ) {
        (Ok(u), Ok(t)) => (u, t),
        (Err(e), _) => return Problem::internal(&e).into_response(),
        (_, Err(e)) => return Problem::internal(&e).into_response(),
    };
    let here_tokens = query.tokens_after.as_deref();
    let here_users = query.users_after.as_deref();
    let users_next = paging::cut(&mut users, USERS_PAGE, |u| u.email.clone()).map(|e| {
        paging::url(
            "/admin/users",
            &[("users_after", Some(&e)), ("tokens_after", here_tokens)],
        )
    });
    let tokens_next = paging::cut(&mut tokens, USERS_PAGE, |t| {
        paging::stamp_key(t.created_at, &t.id)
    })
    .map(|k| {
        paging::url(
            "/admin/users",
            &[("users_after", here_users), ("tokens_after", Some(&k))],
        )
    });
    let first =
        (users_after.is_some() || tokens_after.is_some()).then(|| "/admin/users".to_owned());
    let page = UsersPage {
        chrome: chrome(state, Some(me)),
        users: users
            .into_iter()
            .map(|u| UserRow {
                me: u.id == me.id,
                id: u.id,
                email: u.email,
                name: u.display_name,
                role: u.role.as_str(),
                disabled: u.disabled_at.is_some(),
                totp: u.totp_enabled_at.is_some(),
                created: local(u.created_at, &tz),
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                role: t.role,
                created: local(t.created_at, &tz),
                created_by: t.created_by,
                last_used: t
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), |at| local(at, &tz)),
                revoked: t.revoked_at.map(|at| local(at, &tz)),
            })
            .collect(),
        user_roles: vec!["viewer", "editor", "admin"],
        token_roles: vec!["viewer", "editor", "admin", "hook", "agent"],
        created_token,
        message,
        users_next,
        tokens_next,
        first,
    };
    html(status, page.render())
}

fn user_refusal(e: &UserServiceError) -> Option<(StatusCode, String)> {
    match e {
        UserServiceError::Store(_) | UserServiceError::Hash(_) => None,
        UserServiceError::NotFound(_) => Some((StatusCode::NOT_FOUND, e.to_string())),
        UserServiceError::EmailTaken(_) => Some((StatusCode::CONFLICT, e.to_string())),
        _ => Some((StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    }
}

fn token_refusal(e: &TokenServiceError) -> Option<(StatusCode, String)> {
    match e {
        TokenServiceError::Store(_) => None,
        TokenServiceError::NotFound(_) => Some((StatusCode::NOT_FOUND, e.to_string())),
        TokenServiceError::Name(m) => Some((StatusCode::UNPROCESSABLE_ENTITY, m.clone())),
    }
}

/// `GET /admin/users`.
pub async fn users(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<UsersQuery>,
) -> Response {
    if !is_admin(&session.user) {
        return refused(&session.user);
    }
    users_page_at(&state, &session.user, &query, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    email: String,
    #[serde(default)]
    name: String,
    role: String,
    password: String,
    password_again: String,
}

/// `POST /admin/users`: creates a user; the password is typed twice.
pub async fn create_user(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Form(form): Form<NewUserForm>,
) -> Response {
    let me = &session.user;
    if !is_admin(me) {
        return refused(me);
    }
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    if form.password != form.password_again {
        let m = "The two passwords differ; type the same password twice.".to_owned();
        return users_page(&state, me, unprocessable, None, Some(m)).await;
    }
    let Ok(role) = form.role.parse::<Role>() else {
        let m = UserServiceError::Role.to_string();
        return users_page(&state, me, unprocessable, None, Some(m)).await;
    };
    let new = CreateUser {
        email: form.email,
        display_name: Some(form.name),
        role,
        password: form.password,
    };
    match user::create(&state.store, &user::caller(me), new, state.clock.now()).await {
        Ok(_) => see_other("/admin/users"),
        Err(e) => match user_refusal(&e) {
            Some((status, m)) => users_page(&state, me, status, None, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

/// `POST /admin/users/{id}/disable`: needs a recent confirmation; the user's sessions end.
pub async fn disable_user(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let me = &session.user;
    if !is_admin(me) {
        return refused(me);
    }
    if let Some(r) = needs_confirmation(&state, &session, "/admin/users") {
        return r;
    }
    if id == me.id {
        let m = "You cannot disable your own account; another admin can.".to_owned();
        return users_page(&state, me, StatusCode::CONFLICT, None, Some(m)).await;
    }
    let now = state.clock.now();
    match user::disable(&state.store, &user::caller(me), &id, now).await {
        Ok(_) => see_other("/admin/users"),
        Err(e) => match user_refusal(&e) {
            Some((status, m)) => users_page(&state, me, status, None, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

/// `POST /admin/users/{id}/enable`.
pub async fn enable_user(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let me = &session.user;
    if !is_admin(me) {
        return refused(me);
    }
    match user::enable(&state.store, &user::caller(me), &id, state.clock.now()).await {
        Ok(_) => see_other("/admin/users"),
        Err(e) => match user_refusal(&e) {
            Some((status, m)) => users_page(&state, me, status, None, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    name: String,
    role: String,
}

/// `POST /admin/tokens`: creates a token and shows its secret this once.
pub async fn create_token(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Form(form): Form<NewTokenForm>,
) -> Response {
    let me = &session.user;
    if !is_admin(me) {
        return refused(me);
    }
    let Ok(role) = form.role.parse::<Role>() else {
        let m = format!("`{}` is not a role", form.role);
        return users_page(&state, me, StatusCode::UNPROCESSABLE_ENTITY, None, Some(m)).await;
    };
    let now = state.clock.now();
    match token::create(&state.store, &user::caller(me), &form.name, role, now).await {
        Ok(created) => {
            let shown = Some((created.record.name, created.secret));
            users_page(&state, me, StatusCode::CREATED, shown, None).await
        }
        Err(e) => match token_refusal(&e) {
            Some((status, m)) => users_page(&state, me, status, None, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

/// `POST /admin/tokens/{id}/revoke`: needs a recent confirmation.
pub async fn revoke_token(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let me = &session.user;
    if !is_admin(me) {
        return refused(me);
    }
    if let Some(r) = needs_confirmation(&state, &session, "/admin/users") {
        return r;
    }
    match token::revoke(&state.store, &user::caller(me), &id, state.clock.now()).await {
        Ok(_) => see_other("/admin/users"),
        Err(e) => match token_refusal(&e) {
            Some((status, m)) => users_page(&state, me, status, None, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_under_admin_are_followed() {
        for ok in ["/admin", "/admin/users", "/admin/audit?who=ada&before=10"] {
            assert_eq!(safe_next(ok), Some(ok));
        }
        for bad in [
            "",
            "/",
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil.example",
            "/admin\\evil",
            "/administrator",
            "/admin/../login",
            "/admin/%2e%2e/x",
            "/admin/\nx",
            "javascript:alert(1)",
            "/status",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
