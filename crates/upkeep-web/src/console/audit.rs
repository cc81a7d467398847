//! The console's audit log (`GET /admin/audit`): who changed what, when, newest first, read
//! through `service::audit::list` as `GET /api/v1/audit` reads it (subscribers' addresses and
//! delivery destinations redacted below `admin`). The form (a GET, so a filtered log is a link)
//! narrows by who (`who`: text in the actor, any case), what (`what`: the start of the action,
//! `subscriber.` or `token.revoke`) and when (`from` and `to`: days in the page's zone, both
//! included); pages follow by key (`before`: the id of the previous page's last row).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use upkeep_engine::service::audit as service;
use upkeep_store::audit::AuditFilter;

use super::monitors::seconds;
use super::pages::{Chrome, chrome, html};
use super::paging;
use super::session::SignedIn;
use crate::problem::Problem;
use crate::state::AppState;

/// Rows on one page.
pub const PAGE_SIZE: u32 = 50;
/// Longest filter text kept from a query.
const QUERY_MAX: usize = 200;

/// `?who=&what=&from=&to=&before=`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    who: Option<String>,
    what: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

struct Row {
    id: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditPage {
    chrome: Chrome,
    who: String,
    what: String,
    from: String,
    to: String,
    rows: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
    message: Option<String>,
    tz_name: String,
}

fn clip(s: Option<String>) -> String {
    s.map(|s| s.trim().chars().take(QUERY_MAX).collect())
        .unwrap_or_default()
}

/// The query string of the log's filters, with `before` when given.
fn audit_url(who: &str, what: &str, from: &str, to: &str, before: Option<i64>) -> String {
    let before = before.map(|b| b.to_string());
    paging::url(
        "/admin/audit",
        &[
            ("who", Some(who)),
            ("what", Some(what)),
            ("from", Some(from)),
            ("to", Some(to)),
            ("before", before.as_deref()),
        ],
    )
}

/// The start of day `text` (`YYYY-MM-DD`) in `tz`, of the day after it when `next_day`; `None`
/// for no text, the refusal for a text that is no day.
fn day_start(
    text: &str,
    field: &str,
    tz: &TimeZone,
    next_day: bool,
) -> Result<Option<Timestamp>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let refused = || format!("`{field}` must be a day as YYYY-MM-DD, not `{text}`");
    let day: Date = text.parse().map_err(|_| refused())?;
    let day = if next_day {
        day.tomorrow().map_err(|_| refused())?
    } else {
        day
    };
    day.to_zoned(tz.clone())
        .map(|z| Some(z.timestamp()))
        .map_err(|_| refused())
}

fn shown(v: Option<&serde_json::Value>) -> String {
    v.map(serde_json::Value::to_string).unwrap_or_default()
}

/// `GET /admin/audit`.
pub async fn audit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<AuditQuery>,
) -> Response {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let (who, what) = (clip(query.who), clip(query.what));
    let (from, to) = (clip(query.from), clip(query.to));
    let mut page = AuditPage {
        chrome: chrome(&state, Some(&session.user)),
        who,
        what,
        from,
        to,
        rows: Vec::new(),
        next: None,
        first: None,
        message: None,
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    let before = match clip(query.before) {
        b if b.is_empty() => Ok(None),
        b => b
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("`before` must be a row id, not `{b}`")),
    };
    let bounds = (
        day_start(&page.from, "from", tz, false),
        day_start(&page.to, "to", tz, true),
        before,
    );
    let (from, until, before) = match bounds {
        (Ok(f), Ok(u), Ok(b)) => (f, u, b),
        (Err(m), _, _) | (_, Err(m), _) | (_, _, Err(m)) => {
            page.message = Some(m);
            return html(StatusCode::BAD_REQUEST, page.render());
        }
    };
    let filter = AuditFilter {
        actor: page.who.clone(),
        action_prefix: page.what.clone(),
        from,
        until,
    };
    let role = session.user.role;
    let mut rows = match service::list(&state.store, role, &filter, PAGE_SIZE + 1, before).await {
        Ok(rows) => rows,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    page.next = paging::cut(&mut rows, PAGE_SIZE, |r| r.id)
        .map(|id| audit_url(&page.who, &page.what, &page.from, &page.to, Some(id)));
    if before.is_some() {
        page.first = Some(audit_url(&page.who, &page.what, &page.from, &page.to, None));
    }
    page.rows = rows
        .into_iter()
        .map(|r| Row {
            id: r.id,
            at: seconds(r.at, tz),
            before: shown(r.before.as_ref()),
            after: shown(r.after.as_ref()),
            actor: r.actor,
            action: r.action,
            target: r.target,
        })
        .collect();
    html(StatusCode::OK, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_in_the_page_zone_and_the_last_day_is_included() {
        let tz = TimeZone::get("Europe/Paris").unwrap_or(TimeZone::UTC);
        let from = day_start("2026-03-02", "from", &tz, false);
        let until = day_start("2026-03-02", "to", &tz, true);
        assert_eq!(
            from.map(|t| t.map(|t| t.to_string())),
            Ok(Some("2026-03-01T23:00:00Z".to_owned()))
        );
        assert_eq!(
            until.map(|t| t.map(|t| t.to_string())),
            Ok(Some("2026-03-02T23:00:00Z".to_owned()))
        );
        assert_eq!(day_start("", "from", &tz, false), Ok(None));
        assert!(day_start("2 March", "from", &tz, false).is_err());
    }

    #[test]
    fn page_links_keep_the_filters() {
        assert_eq!(
            audit_url("ada", "token.", "2026-03-01", "", Some(41)),
            "/admin/audit?who=ada&what=token.&from=2026-03-01&before=41"
        );
        assert_eq!(audit_url("", "", "", "", None), "/admin/audit");
    }
}
