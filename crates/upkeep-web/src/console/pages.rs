//! The console's pages and forms.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use upkeep_domain::backup::BackupState;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_engine::service::backups::readiness;
use upkeep_engine::service::user::{self, SignIn, UserServiceError};
use upkeep_store::maintenance::MaintenanceFilter;
use upkeep_store::sessions::NewSession;
use upkeep_store::users::UserRecord;

use super::session::{
    COOKIE, SECOND_FACTOR_COOKIE, SignedIn, cookie, secure, see_other, set_cookie,
};
use super::{CSS_VERSION, Client, JS_VERSION};
use crate::problem::Problem;
use crate::state::AppState;
use crate::status::html::{local, status_label};

/// What every console page shows around its content.
pub(super) struct Chrome {
    pub(super) page_name: String,
    pub(super) css_version: &'static str,
    /// The version of the console's script (only the overview loads it).
    pub(super) js_version: &'static str,
    /// The signed-in user (name, role), when there is one.
    pub(super) user: Option<(String, &'static str)>,
}

pub(super) fn chrome(state: &AppState, user: Option<&UserRecord>) -> Chrome {
    Chrome {
        page_name: state.config.current().config.page.name.clone(),
        css_version: CSS_VERSION.as_str(),
        js_version: JS_VERSION.as_str(),
        user: user.map(|u| (u.display_name.clone(), u.role.as_str())),
    }
}

/// An HTML page that no cache keeps, no search engine lists, and whose address is never sent
/// as a referrer (the same as the subscription pages').
pub(super) use crate::subscribe::html;

fn internal(e: &UserServiceError) -> Response {
    Problem::internal(e).into_response()
}

// ---------------------------------------------------------------------------------------------
// Signing in

#[derive(Template)]
#[template(path = "console_login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "console_code.html")]
struct CodePage {
    chrome: Chrome,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: String,
}

/// The one answer to a wrong address, a wrong password and a disabled user.
const REFUSED: &str = "That e-mail address and password do not match an active account.";

fn login_page(
    state: &AppState,
    status: StatusCode,
    email: &str,
    message: Option<String>,
) -> Response {
    let page = LoginPage {
        chrome: chrome(state, None),
        email: email.to_owned(),
        message,
    };
    html(status, page.render())
}

fn locked(state: &AppState, email: &str, until: jiff::Timestamp) -> Response {
    let now = state.clock.now();
    let secs = (until.as_second() - now.as_second()).max(1);
    let message = format!(
        "Too many failed sign-ins for this account or from this address. Try again in {secs} s."
    );
    let mut r = login_page(state, StatusCode::TOO_MANY_REQUESTS, email, Some(message));
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Counts a sign-in step's outcome; a refusal or a lock is logged with the client (never what
/// was typed).
fn record(outcome: &Result<SignIn, UserServiceError>, client: &str) {
    let label = match outcome {
        Ok(SignIn::SignedIn(_)) => "signed_in",
        Ok(SignIn::SecondFactor(_)) => "second_factor",
        Ok(SignIn::Refused) => "refused",
        Ok(SignIn::Locked { .. }) => "locked",
        Err(_) => return,
    };
    metrics::counter!("upkeep_console_sign_ins_total", "outcome" => label).increment(1);
    if matches!(label, "refused" | "locked") {
        tracing::info!(client, outcome = label, "console sign-in refused");
    }
}

/// Sets the session cookie on `r`; it lasts as long as the session made at `now`.
fn with_session(
    state: &AppState,
    mut r: Response,
    s: &NewSession,
    now: jiff::Timestamp,
) -> Response {
    let max_age = (s.expires_at.as_second() - now.as_second()).max(0);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, &s.token, "/admin", max_age, secure(state)),
    );
    r
}

/// `GET /admin/login`: the form (or the console, for someone signed in).
pub async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, COOKIE)
        && let Ok(Some(_)) = user::session(&state.store, token, state.clock.now()).await
    {
        return see_other("/admin");
    }
    login_page(&state, StatusCode::OK, "", None)
}

/// `POST /admin/login`.
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = state.clock.now();
    let outcome = user::sign_in(&state.store, &form.email, &form.password, &client, now).await;
    record(&outcome, &client);
    match outcome {
        Ok(SignIn::SignedIn(s)) => with_session(&state, see_other("/admin"), &s, now),
        Ok(SignIn::SecondFactor(s)) => {
            let mut r = see_other("/admin/login/code");
            let max_age = (s.expires_at.as_second() - now.as_second()).max(0);
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    SECOND_FACTOR_COOKIE,
                    &s.token,
                    "/admin/login",
                    max_age,
                    secure(&state),
                ),
            );
            r
        }
        Ok(SignIn::Refused) => login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &form.email,
            Some(REFUSED.into()),
        ),
        Ok(SignIn::Locked { until }) => locked(&state, &form.email, until),
        Err(e) => internal(&e),
    }
}

/// `GET /admin/login/code`: the second step.
pub async fn code_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if cookie(&headers, SECOND_FACTOR_COOKIE).is_none() {
        return see_other("/admin/login");
    }
    let page = CodePage {
        chrome: chrome(&state, None),
        message: None,
    };
    html(StatusCode::OK, page.render())
}

/// `POST /admin/login/code`.
pub async fn login_code(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let Some(pending) = cookie(&headers, SECOND_FACTOR_COOKIE) else {
        return see_other("/admin/login");
    };
    let now = state.clock.now();
    let code_page = |status, message: String| {
        let page = CodePage {
            chrome: chrome(&state, None),
            message: Some(message),
        };
        html(status, page.render())
    };
    let outcome = user::second_factor(&state.store, pending, &form.code, &client, now).await;
    record(&outcome, &client);
    match outcome {
        Ok(SignIn::SignedIn(s)) => {
            let mut r = with_session(&state, see_other("/admin"), &s, now);
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(SECOND_FACTOR_COOKIE, "", "/admin/login", 0, secure(&state)),
            );
            r
        }
        Ok(SignIn::Locked { until }) => {
            let secs = (until.as_second() - now.as_second()).max(1);
            let mut r = code_page(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many wrong codes. Try again in {secs} s."),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Ok(_) => code_page(
            StatusCode::UNAUTHORIZED,
            "That code is not right, or the sign-in took longer than 5 minutes. Enter the \
             current code from your authenticator app or a recovery code, or sign in again."
                .into(),
        ),
        Err(e) => internal(&e),
    }
}

fn signed_out(state: &AppState) -> Response {
    let mut r = see_other("/admin/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, "", "/admin", 0, secure(state)),
    );
    r
}

/// `POST /admin/logout`.
pub async fn logout(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    match user::sign_out(&state.store, &session).await {
        Ok(()) => signed_out(&state),
        Err(e) => internal(&e),
    }
}

/// `POST /admin/logout-everywhere`: every session of the user ends, this one too.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> Response {
    match user::sign_out_everywhere(&state.store, &session, state.clock.now()).await {
        Ok(_) => signed_out(&state),
        Err(e) => internal(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// The overview

struct ComponentRow {
    name: String,
    group: String,
    status: &'static str,
    class: &'static str,
    since: String,
}

struct IncidentRow {
    id: String,
    title: String,
    status: &'static str,
    impact: &'static str,
    started: String,
    updated: String,
}

struct MaintenanceRow {
    id: String,
    title: String,
    status: &'static str,
    started: String,
    ends: String,
}

/// A maintenance whose start pre-flight checks hold.
struct HeldRow {
    id: String,
    title: String,
    starts: String,
    reason: String,
}

/// A backup set that is not `ok` (at risk, breached, or never backed up), or whose drill is
/// overdue.
struct BackupRow {
    id: String,
    state: &'static str,
    drill_overdue: bool,
    /// Whether drills are expected of it at all.
    drilled: bool,
}

#[derive(Template)]
#[template(path = "console_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    /// `None` while the status has not been computed yet.
    components: Option<Vec<ComponentRow>>,
    incidents: Vec<IncidentRow>,
    maintenances: Vec<MaintenanceRow>,
    held: Vec<HeldRow>,
    /// Firing operator alerts nobody acknowledged.
    unacknowledged: usize,
    backups: Vec<BackupRow>,
    failed_deliveries: i64,
    tz_name: String,
}

/// `GET /admin`: what needs attention now. The page loads the console's script, which fetches
/// it again every 30 s and swaps the content in place; without it the page is complete.
pub async fn overview(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    let loaded = state.config.current();
    let tz = loaded.config.page.timezone.clone();
    let components = state.status.get().map(|snapshot| {
        snapshot
            .model
            .every_component()
            .filter(|c| c.status != ComponentStatus::Operational)
            .map(|c| ComponentRow {
                name: c.name.clone(),
                group: c.group.clone().unwrap_or_default(),
                status: status_label(c.status),
                class: c.status.as_str(),
                since: local(c.updated_at, &tz),
            })
            .collect()
    });
    let incidents = match state.store.list_incidents(200, true).await {
        Ok(list) => list
            .into_iter()
            .map(|i| IncidentRow {
                id: i.id,
                title: i.title,
                status: i.status.as_str(),
                impact: i.impact.as_str(),
                started: local(i.started_at, &tz),
                updated: local(i.updated_at, &tz),
            })
            .collect(),
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let maintenances = match state
        .store
        .list_maintenances(MaintenanceFilter::Active, 200)
        .await
    {
        Ok(list) => list
            .into_iter()
            .map(|m| MaintenanceRow {
                id: m.id,
                title: m.title,
                status: m.status.as_str(),
                started: local(m.starts_at, &tz),
                ends: local(m.ends_at, &tz),
            })
            .collect(),
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let held = match state.store.held_maintenances(500).await {
        Ok(list) => list
            .into_iter()
            .map(|m| HeldRow {
                id: m.id,
                title: m.title,
                starts: local(m.starts_at, &tz),
                reason: m.hold_reason,
            })
            .collect(),
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let unacknowledged = match state.store.alert_states().await {
        Ok(list) => list.iter().filter(|a| a.acknowledged_at.is_none()).count(),
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let backups = match readiness(&state.store, &loaded.config, state.clock.now()).await {
        Ok(r) => r
            .backups
            .into_iter()
            .filter(|a| a.state != BackupState::Ok || a.drill_overdue)
            .map(|a| BackupRow {
                id: a.id,
                state: a.state.as_str(),
                drill_overdue: a.drill_overdue,
                drilled: a.drill_every.is_some(),
            })
            .collect(),
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let failed_deliveries = match state.store.outbox_stats().await {
        Ok(stats) => stats.failed,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let page = OverviewPage {
        chrome: chrome(&state, Some(&session.user)),
        components,
        incidents,
        maintenances,
        held,
        unacknowledged,
        backups,
        failed_deliveries,
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    html(StatusCode::OK, page.render())
}

// ---------------------------------------------------------------------------------------------
// The account and its second factor

#[derive(Template)]
#[template(path = "console_account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    role: &'static str,
    totp_enabled: bool,
    recovery_left: i64,
    sessions: i64,
    /// Enrolment under way: the secret and its URI.
    enrolment: Option<(String, String)>,
    /// Recovery codes just made, shown this once.
    recovery_codes: Vec<String>,
    message: Option<String>,
}

async fn account_page(
    state: &AppState,
    user: &UserRecord,
    status: StatusCode,
    enrolment: Option<(String, String)>,
    recovery_codes: Vec<String>,
    message: Option<String>,
) -> Response {
    let now = state.clock.now();
    let (left, sessions) = match (
        state.store.recovery_codes_left(&user.id).await,
        state.store.count_user_sessions(&user.id, now).await,
    ) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(e), _) | (_, Err(e)) => return Problem::internal(&e).into_response(),
    };
    let page = AccountPage {
        chrome: chrome(state, Some(user)),
        email: user.email.clone(),
        role: user.role.as_str(),
        totp_enabled: user.totp_enabled_at.is_some(),
        recovery_left: left,
        sessions,
        enrolment,
        recovery_codes,
        message,
    };
    html(status, page.render())
}

/// `GET /admin/account`.
pub async fn account(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    account_page(
        &state,
        &session.user,
        StatusCode::OK,
        None,
        Vec::new(),
        None,
    )
    .await
}

/// `POST /admin/account/totp`: begins enrolment; shows the secret and the code form.
pub async fn totp_begin(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    let issuer = state.config.current().config.page.name.clone();
    match user::begin_totp(&state.store, &session.user, &issuer, state.clock.now()).await {
        Ok(e) => {
            account_page(
                &state,
                &session.user,
                StatusCode::OK,
                Some((e.secret, e.uri)),
                Vec::new(),
                None,
            )
            .await
        }
        Err(UserServiceError::Store(upkeep_store::StoreError::Conflict(m))) => {
            account_page(
                &state,
                &session.user,
                StatusCode::CONFLICT,
                None,
                Vec::new(),
                Some(m),
            )
            .await
        }
        Err(e) => internal(&e),
    }
}

/// `POST /admin/account/totp/confirm`: the first code confirms enrolment; the recovery codes
/// are shown this once.
pub async fn totp_confirm(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Form(form): Form<CodeForm>,
) -> Response {
    let now = state.clock.now();
    match user::confirm_totp(&state.store, &session.user, &form.code, now).await {
        Ok(codes) => {
            let user = match state.store.get_user(&session.user.id).await {
                Ok(Some(u)) => u,
                Ok(None) => return see_other("/admin/login"),
                Err(e) => return Problem::internal(&e).into_response(),
            };
            account_page(&state, &user, StatusCode::OK, None, codes, None).await
        }
        Err(e @ (UserServiceError::WrongCode | UserServiceError::NothingToConfirm)) => {
            let enrolment = match state.store.user_credentials(&session.user.id).await {
                Ok(Some(c)) if c.record.totp_enabled_at.is_none() => c.totp_secret.map(|s| {
                    let issuer = state.config.current().config.page.name.clone();
                    let uri =
                        upkeep_domain::console::totp::otpauth_uri(&issuer, &c.record.email, &s);
                    (s, uri)
                }),
                Ok(_) => None,
                Err(e) => return Problem::internal(&e).into_response(),
            };
            account_page(
                &state,
                &session.user,
                StatusCode::UNPROCESSABLE_ENTITY,
                enrolment,
                Vec::new(),
                Some(e.to_string()),
            )
            .await
        }
        Err(e) => internal(&e),
    }
}
