//! The session cookie and the extractor of the signed-in user.
//!
//! The cookie `upkeep_admin` carries the session token: `HttpOnly` (no script reads it),
//! `SameSite=Strict` (no other site's page sends it), `Path=/admin` (the public pages never
//! see it), `Secure` when the page's configured URL is `https://`, and a `Max-Age` of the
//! session's absolute lifetime. Between the password and the second factor a separate
//! short-lived cookie, `upkeep_admin_2fa`, is scoped to `/admin/login`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use upkeep_domain::role::Role;
use upkeep_engine::service::Caller;
use upkeep_engine::service::user;
use upkeep_store::sessions::Session;
use upkeep_store::users::UserRecord;

use crate::problem::Problem;
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "upkeep_admin";
/// The cookie of a sign-in waiting for its second factor.
pub const SECOND_FACTOR_COOKIE: &str = "upkeep_admin_2fa";

/// The value of cookie `name` in `headers`.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value for `name`; `max_age_secs` 0 removes the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: i64,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether cookies must carry `Secure`: the page's configured URL is HTTPS.
pub fn secure(state: &AppState) -> bool {
    state
        .config
        .current()
        .config
        .page
        .url
        .to_ascii_lowercase()
        .starts_with("https://")
}

/// A `303 See Other` to `to`.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The header the overview's script sends when it refreshes the page by itself.
pub const REFRESH_HEADER: &str = "x-upkeep-refresh";

/// Whether the request is a page refreshing itself (`X-Upkeep-Refresh: 1`) rather than a
/// person's: such a request is served but does not keep the session alive, so an overview
/// left open still signs out after the idle limit.
pub fn is_refresh(headers: &HeaderMap) -> bool {
    headers
        .get(REFRESH_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
}

/// The signed-in session of a console request. Without one, the request is sent to the sign-in
/// form (and a stale cookie removed).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(see_other("/admin/login"));
        };
        let touch = !is_refresh(&parts.headers);
        match user::session_seen(&state.store, token, state.clock.now(), touch).await {
            Ok(Some(session)) => Ok(SignedIn(session)),
            Ok(None) => {
                let mut r = see_other("/admin/login");
                r.headers_mut().append(
                    header::SET_COOKIE,
                    set_cookie(COOKIE, "", "/admin", 0, secure(state)),
                );
                Err(r)
            }
            Err(e) => Err(Problem::internal(&e).into_response()),
        }
    }
}

/// Whether `u` may change runtime facts (the API's `editor` role).
pub(super) fn can_write(u: &UserRecord) -> bool {
    u.role.allows(Role::Editor)
}

/// Whether `u` has the API's `admin` role.
pub(super) fn is_admin(u: &UserRecord) -> bool {
    u.role == Role::Admin
}

/// The 403 `u` gets for `what`, which needs `role` or above: the same words on every page.
pub(super) fn refusal(u: &UserRecord, role: Role, what: &str) -> Problem {
    let needed = match role {
        Role::Admin => "the admin role",
        _ => "the editor or admin role",
    };
    Problem::forbidden(format!(
        "{what} needs {needed}; yours is {}",
        u.role.as_str()
    ))
}

/// The caller a write is made as, or the 403 a viewer's write gets.
pub(super) fn writer(u: &UserRecord, what: &str) -> Result<Caller, Problem> {
    if can_write(u) {
        Ok(user::caller(u))
    } else {
        Err(refusal(u, Role::Editor, what))
    }
}

/// The caller an admin's action is made as, or the 403 anyone else gets.
pub(super) fn admin(u: &UserRecord, what: &str) -> Result<Caller, Problem> {
    if is_admin(u) {
        Ok(user::caller(u))
    } else {
        Err(refusal(u, Role::Admin, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_set_with_every_attribute() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; upkeep_admin=tok en; upkeep_admin_2fa=x"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("tok en"));
        assert_eq!(cookie(&h, SECOND_FACTOR_COOKIE), Some("x"));
        assert_eq!(cookie(&h, "b"), None);
        let v = set_cookie(COOKIE, "t", "/admin", 60, true);
        assert_eq!(
            v.to_str().unwrap_or_default(),
            "upkeep_admin=t; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
    }
}
