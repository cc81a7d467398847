//! The console's maintenance pages: a month calendar of windows with the scheduling form
//! (`/admin/maintenance`), and one maintenance with its timeline, pre-flight hold, tenants'
//! slots and rollout (`/admin/maintenance/{id}`). Every write goes through
//! `service::maintenance` or `service::rollout`, as the API's; writing needs the `editor` role.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;
use upkeep_domain::maintenance::rules::tenant_label;
use upkeep_domain::maintenance::{Kind, NewMaintenance};
use upkeep_domain::rollout::machine::Command;
use upkeep_engine::service::maintenance::{self as service, MaintenanceError};
use upkeep_engine::service::rollout::{self, RolloutError};
use upkeep_store::users::UserRecord;

use super::monitors::seconds;
use super::pages::{Chrome, chrome, html};
use super::session::{SignedIn, see_other};
use super::session::{can_write, writer};
use crate::problem::Problem;
use crate::state::AppState;

/// Most maintenances read for a calendar month (latest start first).
const CALENDAR_READ: u32 = 2000;

struct Day {
    /// Day of the month; 0 for a cell outside it.
    day: i8,
    today: bool,
    items: Vec<(String, String, &'static str)>,
}

/// The scheduling form's values, kept when it is shown again.
#[derive(Debug, Default, Deserialize)]
pub struct ScheduleForm {
    title: String,
    #[serde(default)]
    kind: String,
    /// `YYYY-MM-DDTHH:MM` in the page's zone.
    starts: String,
    /// Minutes.
    #[serde(default)]
    duration: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
    /// Component ids ticked (`component` fields, repeated).
    #[serde(skip)]
    components: Vec<String>,
    /// Sent by the *Check* button: ask the rules, schedule nothing.
    #[serde(skip)]
    check: bool,
}

impl ScheduleForm {
    /// The form from its fields; `component` may repeat.
    fn from_fields(fields: Vec<(String, String)>) -> Self {
        let mut f = ScheduleForm::default();
        for (k, v) in fields {
            match k.as_str() {
                "title" => f.title = v,
                "kind" => f.kind = v,
                "starts" => f.starts = v,
                "duration" => f.duration = v,
                "reason" => f.reason = v,
                "message" => f.message = v,
                "component" => f.components.push(v),
                "check" => f.check = true,
                _ => {}
            }
        }
        f
    }
}

#[derive(Template)]
#[template(path = "console_maintenances.html")]
struct CalendarPage {
    chrome: Chrome,
    can_write: bool,
    month: String,
    prev: String,
    next: String,
    weeks: Vec<Vec<Day>>,
    form: ScheduleForm,
    /// Every component: id, name, ticked in the form.
    components: Vec<(String, String, bool)>,
    /// The notice policy's answer to the last submission.
    message: Option<String>,
    /// The earliest allowed start, in the form's format, when notice was short.
    earliest: Option<String>,
    /// The rules' answer to a *Check*: the window is allowed, with each tenant's slot.
    allowed: Option<Vec<String>>,
    tz_name: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

fn month_start(q: Option<&str>, today: Date) -> Date {
    q.and_then(|m| Date::strptime("%Y-%m-%d", format!("{m}-01")).ok())
        .unwrap_or_else(|| today.first_of_month())
}

/// What the rules said to the form last submitted, shown above it.
#[derive(Default)]
struct Said {
    /// A refusal.
    message: Option<String>,
    /// The earliest allowed start, in the form's format, when notice was short.
    earliest: Option<String>,
    /// A *Check* the rules allowed: the lines to show.
    allowed: Option<Vec<String>>,
}

async fn calendar_page(
    state: &AppState,
    u: &UserRecord,
    month: Option<&str>,
    status: StatusCode,
    form: ScheduleForm,
    said: Said,
) -> Response {
    let Said {
        message,
        earliest,
        allowed,
    } = said;
    let loaded = state.config.current();
    let tz = loaded.config.page.timezone.clone();
    let today = state.clock.now().to_zoned(tz.clone()).date();
    let first = month_start(month, today);
    // The month's instants in the page's zone; a day before and after would not change what
    // is drawn, so the bounds are the month's own.
    let bound = |d: Date| {
        d.to_zoned(tz.clone())
            .map_or_else(|_| Timestamp::MIN, |z| z.timestamp())
    };
    let (from, to) = (bound(first), bound(first.saturating_add(1.month())));
    let list = match state
        .store
        .maintenances_overlapping(from, to, CALENDAR_READ)
        .await
    {
        Ok(l) => l,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let days = first.days_in_month();
    let lead = first.weekday().to_monday_zero_offset();
    let mut cells: Vec<Day> = (0..lead)
        .map(|_| Day {
            day: 0,
            today: false,
            items: Vec::new(),
        })
        .collect();
    // Each window's first and last local day, worked out once rather than once a day.
    let spans: Vec<(Date, Date)> = list
        .iter()
        .map(|m| {
            (
                m.starts_at.to_zoned(tz.clone()).date(),
                m.ends_at.to_zoned(tz.clone()).date(),
            )
        })
        .collect();
    for d in 1..=days {
        let date = first.with().day(d).build().unwrap_or(first);
        let items = list
            .iter()
            .zip(&spans)
            .filter(|(_, (s, e))| *s <= date && date <= *e)
            .map(|(m, _)| m)
            .rev()
            .map(|m| (m.id.clone(), m.title.clone(), m.status.as_str()))
            .collect();
        cells.push(Day {
            day: d,
            today: date == today,
            items,
        });
    }
    while !cells.len().is_multiple_of(7) {
        cells.push(Day {
            day: 0,
            today: false,
            items: Vec::new(),
        });
    }
    let mut weeks = Vec::new();
    let mut it = cells.into_iter().peekable();
    while it.peek().is_some() {
        weeks.push(it.by_ref().take(7).collect());
    }
    let ym = |d: Date| d.strftime("%Y-%m").to_string();
    let page = CalendarPage {
        chrome: chrome(state, Some(u)),
        can_write: can_write(u),
        month: first.strftime("%B %Y").to_string(),
        prev: ym(first.saturating_sub(1.month())),
        next: ym(first.saturating_add(1.month())),
        weeks,
        components: loaded
            .config
            .components
            .iter()
            .map(|(id, c)| (id.clone(), c.name.clone(), form.components.contains(id)))
            .collect(),
        form,
        message,
        earliest,
        allowed,
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    html(status, page.render())
}

/// `GET /admin/maintenance?month=YYYY-MM`.
pub async fn calendar(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(q): Query<MonthQuery>,
) -> Response {
    let form = ScheduleForm {
        duration: "60".into(),
        ..ScheduleForm::default()
    };
    calendar_page(
        &state,
        &session.user,
        q.month.as_deref(),
        StatusCode::OK,
        form,
        Said::default(),
    )
    .await
}

fn local_input(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// What a submitted scheduling form came to, short of a refusal.
enum Answer {
    /// *Check*: the rules allow the window; the lines to show.
    Allowed(Vec<String>),
    /// Scheduled: the new maintenance's id.
    Scheduled(String),
}

/// `POST /admin/maintenance`: schedules through `service::maintenance::schedule`; a refusal
/// shows the form again with the policy's answer (and the earliest allowed start filled in).
/// With `check` (the *Check* button) it asks `service::maintenance::check` instead — the same
/// rules, nothing written — and shows the answer, each tenant's slot included, above the form.
pub async fn schedule(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let form = ScheduleForm::from_fields(fields);
    let caller = match writer(&session.user, "scheduling a maintenance") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let loaded = state.config.current();
    let tz = loaded.config.page.timezone.clone();
    let refuse = |form: ScheduleForm, message: String, earliest: Option<String>| {
        let state = state.clone();
        let user = session.user.clone();
        async move {
            calendar_page(
                &state,
                &user,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                Said {
                    message: Some(message),
                    earliest,
                    allowed: None,
                },
            )
            .await
        }
    };
    let Some(starts) = DateTime::strptime("%Y-%m-%dT%H:%M", form.starts.trim())
        .ok()
        .and_then(|d| d.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp())
    else {
        return refuse(form, "The start must be a date and time.".into(), None).await;
    };
    let minutes: i64 = match form.duration.trim().parse() {
        Ok(m) if (1..=60 * 24 * 14).contains(&m) => m,
        _ => {
            return refuse(
                form,
                "The duration must be 1 to 20160 minutes.".into(),
                None,
            )
            .await;
        }
    };
    let kind = if form.kind == "emergency" {
        Kind::Emergency
    } else {
        Kind::Planned
    };
    let ends = starts
        .saturating_add(jiff::SignedDuration::from_mins(minutes))
        .unwrap_or(starts);
    let mut new = NewMaintenance::new(kind, &form.title, starts, ends);
    new.reason = Some(form.reason.clone());
    new.message = form.message.clone();
    new.components = form.components.clone();
    let now = state.clock.now();
    let outcome = if form.check {
        // The same rules as scheduling, nothing written: the answer shows above the form.
        service::check(Some(&loaded.config), &caller, &mut new, false, now).map(|checked| {
            let mut lines = vec![format!(
                "Allowed: {} maintenance from {} to {} meets the notice policy{}.",
                kind.with_article(),
                seconds(new.starts_at, &tz),
                seconds(new.ends_at, &tz),
                if checked.slots.is_empty() {
                    ""
                } else {
                    " and holds every tenant's slot"
                }
            )];
            lines.extend(checked.slots.iter().map(|slot| {
                format!(
                    "{}: {} to {}",
                    tenant_label(&loaded.config, &slot.tenant),
                    seconds(slot.start, &tz),
                    seconds(slot.end, &tz)
                )
            }));
            Answer::Allowed(lines)
        })
    } else {
        service::schedule(&state.store, Some(&loaded.config), &caller, new, false, now)
            .await
            .map(|s| Answer::Scheduled(s.record.id))
    };
    match outcome {
        Ok(Answer::Allowed(allowed)) => {
            calendar_page(
                &state,
                &session.user,
                None,
                StatusCode::OK,
                form,
                Said {
                    allowed: Some(allowed),
                    ..Said::default()
                },
            )
            .await
        }
        Ok(Answer::Scheduled(id)) => see_other(&format!("/admin/maintenance/{id}")),
        Err(MaintenanceError::Store(e)) => Problem::internal(&e).into_response(),
        Err(MaintenanceError::Notice(v)) => {
            let earliest = v.earliest_allowed_start().map(|t| {
                // The first whole minute (the form's precision) at least a minute after the
                // earliest start: the operator has that minute to submit it again before the
                // policy's window moves past it.
                let later = t
                    .saturating_add(jiff::SignedDuration::from_mins(1))
                    .unwrap_or(t);
                let whole = jiff::TimestampRound::new()
                    .smallest(jiff::Unit::Minute)
                    .mode(jiff::RoundMode::Ceil);
                let t = later.round(whole).unwrap_or(later);
                local_input(t, &tz)
            });
            let message = match (&v.earliest_allowed_start(), &earliest) {
                (Some(t), Some(_)) => format!(
                    "Refused: {} maintenance needs more notice. The earliest allowed start is {}.",
                    kind.with_article(),
                    seconds(*t, &tz)
                ),
                _ => format!("Refused: {v}."),
            };
            refuse(form, message, earliest).await
        }
        Err(e) => refuse(form, format!("Refused: {e}."), None).await,
    }
}

struct UpdateRow {
    at: String,
    status: &'static str,
    body: String,
    by: String,
}

struct TenantRow {
    tenant: String,
    state: &'static str,
    slot: String,
    decision: String,
}

#[derive(Template)]
#[template(path = "console_maintenance.html")]
struct DetailPage {
    chrome: Chrome,
    can_write: bool,
    id: String,
    title: String,
    kind: &'static str,
    status: &'static str,
    starts: String,
    ends: String,
    reason: String,
    hold_reason: Option<String>,
    updates: Vec<UpdateRow>,
    /// `(state, reason, progress)` when the maintenance drives a rollout.
    rollout: Option<(&'static str, String, String)>,
    tenants: Vec<TenantRow>,
    message: Option<String>,
    tz_name: String,
}

async fn detail_page(
    state: &AppState,
    u: &UserRecord,
    id: &str,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let m = match state.store.get_maintenance(id).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Problem::not_found(format!(
                "there is no maintenance `{}`",
                id.chars().take(80).collect::<String>()
            ))
            .into_response();
        }
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let (rollout, tenants) = match rollout::show(&state.store, &loaded.config, id).await {
        Ok(r) => {
            let p = r.progress();
            let tenants = r
                .tenants
                .iter()
                .map(|t| TenantRow {
                    tenant: t.tenant.clone(),
                    state: t.state.as_str(),
                    slot: format!(
                        "{} – {}",
                        seconds(t.slot_start, tz),
                        seconds(t.slot_end, tz)
                    ),
                    decision: t.decision.clone().unwrap_or_default(),
                })
                .collect();
            (
                Some((
                    r.state.as_str(),
                    r.reason.clone(),
                    format!("{} of {} tenants updated", p.done, p.total),
                )),
                tenants,
            )
        }
        Err(RolloutError::Store(e)) => return Problem::internal(&e).into_response(),
        Err(_) => (None, Vec::new()),
    };
    let page = DetailPage {
        chrome: chrome(state, Some(u)),
        can_write: can_write(u),
        id: m.id.clone(),
        title: m.title.clone(),
        kind: m.kind.as_str(),
        status: m.status.as_str(),
        starts: seconds(m.starts_at, tz),
        ends: seconds(m.ends_at, tz),
        reason: m.reason.clone().unwrap_or_default(),
        hold_reason: m.hold_reason.clone(),
        updates: m
            .updates
            .iter()
            .map(|x| UpdateRow {
                at: seconds(x.created_at, tz),
                status: x.status.as_str(),
                body: x.body.clone(),
                by: x.created_by.clone(),
            })
            .collect(),
        rollout,
        tenants,
        message,
        tz_name: loaded.config.page.timezone_name.clone(),
    };
    html(status, page.render())
}

/// `GET /admin/maintenance/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    detail_page(&state, &session.user, &id, StatusCode::OK, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    message: String,
}

/// `POST /admin/maintenance/{id}/{action}`: `start`, `complete` or `cancel`.
pub async fn act(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<MessageForm>,
) -> Response {
    let caller = match writer(&session.user, "changing a maintenance") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let now = state.clock.now();
    let loaded = state.config.current();
    let done = match action.as_str() {
        "start" => service::start(
            &state.store,
            &caller,
            &id,
            false,
            &form.message,
            Some(&loaded.config),
            now,
        )
        .await
        .map(|_| ()),
        "complete" => service::complete(&state.store, &caller, &id, &form.message, now)
            .await
            .map(|_| ()),
        "cancel" => service::cancel(&state.store, &caller, &id, &form.message, now)
            .await
            .map(|_| ()),
        _ => return Problem::not_found("no such action").into_response(),
    };
    match done {
        Ok(()) => see_other(&format!("/admin/maintenance/{id}")),
        Err(MaintenanceError::Store(e)) => Problem::internal(&e).into_response(),
        Err(e @ MaintenanceError::NotFound(_)) => Problem::not_found(e.to_string()).into_response(),
        Err(e) => {
            detail_page(
                &state,
                &session.user,
                &id,
                StatusCode::CONFLICT,
                Some(e.to_string()),
            )
            .await
        }
    }
}

/// `POST /admin/maintenance/{id}/rollout/{command}`: `pause`, `resume` or `abort`.
pub async fn rollout_command(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, command)): Path<(String, String)>,
) -> Response {
    let caller = match writer(&session.user, "steering a rollout") {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let command = match command.as_str() {
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "abort" => Command::Abort,
        _ => return Problem::not_found("no such rollout command").into_response(),
    };
    let loaded = state.config.current();
    match rollout::command(
        &state.store,
        &loaded.config,
        &caller,
        &id,
        &command,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => see_other(&format!("/admin/maintenance/{id}")),
        Err(RolloutError::Store(e)) => Problem::internal(&e).into_response(),
        Err(e @ RolloutError::NoMaintenance(_)) => {
            Problem::not_found(e.to_string()).into_response()
        }
        Err(e) => {
            detail_page(
                &state,
                &session.user,
                &id,
                StatusCode::CONFLICT,
                Some(e.to_string()),
            )
            .await
        }
    }
}
