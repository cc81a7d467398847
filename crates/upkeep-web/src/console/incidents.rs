//! The console's incident pages: the list, opening one, posting an update (with a preview of
//! its Markdown, rendered on the server by the status page's renderer: the form's second submit
//! button `preview`), resolving, editing the title, impact and postmortem, and deleting, each
//! through `service::incident` as the API and the command line do. Writing needs the `editor`
//! role and deleting the `admin` role, after a recent re-authentication (`/admin/confirm`): a
//! viewer sees no forms, and the server refuses their posts with 403 whatever they send.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::{AffectedComponent, Impact, IncidentStatus};
use upkeep_domain::role::Role;
use upkeep_engine::service::incident::{self as service, IncidentServiceError};
use upkeep_engine::service::user;
use upkeep_store::incidents::{IncidentChange, IncidentEdit, IncidentRecord, NewIncident};
use upkeep_store::users::UserRecord;

use super::admin::needs_confirmation;
use super::pages::{Chrome, chrome, html};
use super::paging;
use super::session::{SignedIn, can_write, is_admin, refusal, see_other};
use crate::problem::Problem;
use crate::state::AppState;
use crate::status::html::{local, markdown, status_label};

/// A component of the configuration, for the forms.
struct ComponentChoice {
    id: String,
    name: String,
    /// Its status in the incident shown, if affected.
    current: Option<&'static str>,
    /// The status chosen in the form being previewed (empty: unchanged).
    chosen: String,
}

struct UpdateView {
    status: &'static str,
    at: String,
    by: String,
    body_html: String,
}

struct IncidentView {
    id: String,
    title: String,
    status: &'static str,
    impact: &'static str,
    started: String,
    resolved: bool,
    components: Vec<(String, &'static str)>,
    updates: Vec<UpdateView>,
    /// The postmortem as typed (Markdown) and rendered.
    postmortem: Option<(String, String)>,
}

/// An update being previewed: what was typed, kept in the form, and its body rendered.
#[derive(Default)]
struct Draft {
    status: String,
    body: String,
    body_html: String,
}

/// A line of the list: what it shows, without the timeline (whose Markdown only the
/// incident's own page renders).
struct ListRow {
    id: String,
    title: String,
    status: &'static str,
    impact: &'static str,
    started: String,
}

#[derive(Template)]
#[template(path = "console_incidents.html")]
struct ListPage {
    chrome: Chrome,
    can_write: bool,
    incidents: Vec<ListRow>,
    choices: Vec<ComponentChoice>,
    statuses: Vec<(&'static str, &'static str)>,
    impacts: Vec<&'static str>,
    message: Option<String>,
    first: Option<String>,
    next: Option<String>,
}

/// Incidents on one page of the list.
pub const INCIDENTS_PAGE: u32 = 50;

/// `?before=MILLIS/ID`: where a later page of the list starts.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "console_incident.html")]
struct DetailPage {
    chrome: Chrome,
    can_write: bool,
    incident: IncidentView,
    choices: Vec<ComponentChoice>,
    statuses: Vec<(&'static str, &'static str)>,
    incident_statuses: Vec<&'static str>,
    impacts: Vec<&'static str>,
    /// Deleting is the admin's.
    can_delete: bool,
    /// The update being previewed, if any.
    draft: Option<Draft>,
    message: Option<String>,
}

fn component_statuses() -> Vec<(&'static str, &'static str)> {
    ComponentStatus::ALL
        .iter()
        .map(|s| (s.as_str(), status_label(*s)))
        .collect()
}

fn view(state: &AppState, i: &IncidentRecord) -> IncidentView {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let name = |id: &str| {
        loaded
            .config
            .components
            .get(id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    };
    IncidentView {
        id: i.id.clone(),
        title: i.title.clone(),
        status: i.status.as_str(),
        impact: i.impact.as_str(),
        started: local(i.started_at, tz),
        resolved: i.status.is_resolved(),
        components: i
            .components
            .iter()
            .map(|c| (name(&c.id), status_label(c.status)))
            .collect(),
        updates: i
            .updates
            .iter()
            .map(|u| UpdateView {
                status: u.status.as_str(),
                at: local(u.created_at, tz),
                by: u.created_by.clone(),
                body_html: markdown(&u.body),
            })
            .collect(),
        postmortem: i
            .postmortem
            .as_ref()
            .map(|text| (text.clone(), markdown(text))),
    }
}

fn choices(
    state: &AppState,
    current: Option<&IncidentRecord>,
    chosen: &[AffectedComponent],
) -> Vec<ComponentChoice> {
    let loaded = state.config.current();
    loaded
        .config
        .components
        .iter()
        .map(|(id, c)| ComponentChoice {
            id: id.clone(),
            name: c.name.clone(),
            current: current
                .and_then(|i| i.components.iter().find(|a| &a.id == id))
                .map(|a| a.status.as_str()),
            chosen: chosen
                .iter()
                .find(|a| &a.id == id)
                .map(|a| a.status.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect()
}

/// The refusal of a write by someone whose role does not allow it.
fn refused(u: &UserRecord) -> Response {
    refusal(u, Role::Editor, "changing incidents").into_response()
}

/// Fields of the forms: `title`, `body`, `impact`, `status`, and `component.ID` = a status or
/// empty (not affected / unchanged).
type Fields = Vec<(String, String)>;

fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The components named in the form, each with its chosen status; an unknown status is an
/// error a person can act on.
fn affected(fields: &Fields) -> Result<Vec<AffectedComponent>, String> {
    let mut out: BTreeMap<String, ComponentStatus> = BTreeMap::new();
    for (k, v) in fields {
        let Some(id) = k.strip_prefix("component.") else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let status =
            ComponentStatus::parse(v).ok_or_else(|| format!("`{v}` is not a component status"))?;
        out.insert(id.to_owned(), status);
    }
    Ok(out
        .into_iter()
        .map(|(id, status)| AffectedComponent { id, status })
        .collect())
}

/// The impact chosen in the form, if any; an unknown one is an error a person can act on.
fn impact(fields: &Fields) -> Result<Option<Impact>, String> {
    match field(fields, "impact").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Impact::parse(v)
            .map(Some)
            .ok_or_else(|| format!("`{v}` is not an impact")),
    }
}

fn refusal_text(e: &IncidentServiceError) -> Option<String> {
    match e {
        IncidentServiceError::Invalid(e) => Some(e.to_string()),
        IncidentServiceError::NotFound(_) => None,
        IncidentServiceError::Store(_) => None,
    }
}

async fn list_page(
    state: &AppState,
    user: &UserRecord,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    list_page_at(state, user, &ListQuery::default(), status, message).await
}

async fn list_page_at(
    state: &AppState,
    user: &UserRecord,
    query: &ListQuery,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let loaded = state.config.current();
    let tz = &loaded.config.page.timezone;
    let before = query.before.as_deref().and_then(paging::parse_stamp_key);
    let from = before.as_ref().map(|(at, id)| (*at, id.as_str()));
    let mut incidents = match state
        .store
        .incidents_before(from, INCIDENTS_PAGE + 1, false)
        .await
    {
        Ok(list) => list,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let next = paging::cut(&mut incidents, INCIDENTS_PAGE, |i| {
        paging::stamp_key(i.created_at, &i.id)
    })
    .map(|key| paging::url("/admin/incidents", &[("before", Some(&key))]));
    let page = ListPage {
        first: before.is_some().then(|| "/admin/incidents".to_owned()),
        next,
        chrome: chrome(state, Some(user)),
        can_write: can_write(user),
        incidents: incidents
            .into_iter()
            .map(|i| ListRow {
                started: local(i.started_at, tz),
                id: i.id,
                title: i.title,
                status: i.status.as_str(),
                impact: i.impact.as_str(),
            })
            .collect(),
        choices: choices(state, None, &[]),
        statuses: component_statuses(),
        impacts: Impact::ALL.iter().map(|i| i.as_str()).collect(),
        message,
    };
    html(status, page.render())
}

/// `GET /admin/incidents`.
pub async fn list(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    list_page_at(&state, &session.user, &query, StatusCode::OK, None).await
}

/// `POST /admin/incidents`: opens an incident.
pub async fn open(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Form(fields): Form<Fields>,
) -> Response {
    let u = &session.user;
    if !can_write(u) {
        return refused(u);
    }
    let components = match affected(&fields) {
        Ok(c) => c,
        Err(m) => return list_page(&state, u, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await,
    };
    let impact = match impact(&fields) {
        Ok(i) => i,
        Err(m) => return list_page(&state, u, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await,
    };
    let new = NewIncident {
        title: field(&fields, "title").unwrap_or_default().to_owned(),
        status: IncidentStatus::Investigating,
        impact,
        body: field(&fields, "body").unwrap_or_default().to_owned(),
        components,
        started_at: None,
        auto: false,
    };
    let loaded = state.config.current();
    let caller = user::caller(u);
    match service::open(
        &state.store,
        Some(&loaded.config),
        &caller,
        new,
        state.clock.now(),
    )
    .await
    {
        Ok(i) => {
            state.status.poke();
            see_other(&format!("/admin/incidents/{}", i.id))
        }
        Err(e) => match refusal_text(&e) {
            Some(m) => list_page(&state, u, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

async fn detail_page(
    state: &AppState,
    user: &UserRecord,
    id: &str,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    draft_page(state, user, id, status, message, None, &[]).await
}

/// The incident page, with the update being previewed (`draft`, its components `chosen`)
/// kept in the form.
async fn draft_page(
    state: &AppState,
    user: &UserRecord,
    id: &str,
    status: StatusCode,
    message: Option<String>,
    draft: Option<Draft>,
    chosen: &[AffectedComponent],
) -> Response {
    let incident = match state.store.get_incident(id).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Problem::not_found(format!("there is no incident `{id}`")).into_response();
        }
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let page = DetailPage {
        chrome: chrome(state, Some(user)),
        can_write: can_write(user),
        incident: view(state, &incident),
        choices: choices(state, Some(&incident), chosen),
        statuses: component_statuses(),
        incident_statuses: IncidentStatus::ALL.iter().map(|s| s.as_str()).collect(),
        impacts: Impact::ALL.iter().map(|i| i.as_str()).collect(),
        can_delete: is_admin(user),
        draft,
        message,
    };
    html(status, page.render())
}

/// `GET /admin/incidents/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    detail_page(&state, &session.user, &id, StatusCode::OK, None).await
}

/// `POST /admin/incidents/{id}/updates`: posts an update.
pub async fn update(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let u = &session.user;
    if !can_write(u) {
        return refused(u);
    }
    let components = match affected(&fields) {
        Ok(c) => c,
        Err(m) => {
            return detail_page(&state, u, &id, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await;
        }
    };
    let status = match field(&fields, "status").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match IncidentStatus::parse(v) {
            Some(s) => Some(s),
            None => {
                let m = format!("`{v}` is not an incident status");
                return detail_page(&state, u, &id, StatusCode::UNPROCESSABLE_ENTITY, Some(m))
                    .await;
            }
        },
    };
    if field(&fields, "preview").is_some() {
        let typed = field(&fields, "body").unwrap_or_default();
        let draft = Draft {
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            body: typed.to_owned(),
            body_html: markdown(typed),
        };
        return draft_page(
            &state,
            u,
            &id,
            StatusCode::OK,
            None,
            Some(draft),
            &components,
        )
        .await;
    }
    let body = field(&fields, "body")
        .filter(|b| !b.trim().is_empty())
        .map(str::to_owned);
    let change = IncidentChange {
        status,
        body,
        components,
    };
    let loaded = state.config.current();
    let caller = user::caller(u);
    let now = state.clock.now();
    let outcome = service::update(
        &state.store,
        Some(&loaded.config),
        &caller,
        &id,
        &change,
        now,
    )
    .await;
    written(&state, u, &id, outcome).await
}

/// `POST /admin/incidents/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let u = &session.user;
    if !can_write(u) {
        return refused(u);
    }
    let body = field(&fields, "body")
        .filter(|b| !b.trim().is_empty())
        .map(str::to_owned);
    let caller = user::caller(u);
    let outcome = service::resolve(&state.store, &caller, &id, body, state.clock.now()).await;
    written(&state, u, &id, outcome).await
}

/// The answer to a write of incident `id`: 303 to its page once done (and the status page asked
/// to rebuild), 404 when there is no such incident, the page again with the reason when the
/// write was refused.
async fn written(
    state: &AppState,
    u: &UserRecord,
    id: &str,
    outcome: Result<IncidentRecord, IncidentServiceError>,
) -> Response {
    match outcome {
        Ok(i) => {
            state.status.poke();
            see_other(&format!("/admin/incidents/{}", i.id))
        }
        Err(IncidentServiceError::NotFound(_)) => {
            Problem::not_found(format!("there is no incident `{id}`")).into_response()
        }
        Err(e) => match refusal_text(&e) {
            Some(m) => detail_page(state, u, id, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await,
            None => Problem::internal(&e).into_response(),
        },
    }
}

/// `POST /admin/incidents/{id}/edit`: the title, the impact and the postmortem (empty removes
/// it), as `PATCH /api/v1/incidents/{id}`.
pub async fn edit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let u = &session.user;
    if !can_write(u) {
        return refused(u);
    }
    let impact = match impact(&fields) {
        Ok(i) => i,
        Err(m) => {
            return detail_page(&state, u, &id, StatusCode::UNPROCESSABLE_ENTITY, Some(m)).await;
        }
    };
    let postmortem =
        field(&fields, "postmortem").map(|text| (!text.trim().is_empty()).then(|| text.to_owned()));
    let change = IncidentEdit {
        title: field(&fields, "title").map(str::to_owned),
        impact,
        postmortem,
    };
    let caller = user::caller(u);
    let outcome = service::edit(&state.store, &caller, &id, change, state.clock.now()).await;
    written(&state, u, &id, outcome).await
}

/// `POST /admin/incidents/{id}/delete`: the incident and its timeline go (the audit log keeps a
/// copy); admin only, after a recent confirmation.
pub async fn delete(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let u = &session.user;
    if !is_admin(u) {
        return refusal(u, Role::Admin, "deleting an incident").into_response();
    }
    let back = format!("/admin/incidents/{id}");
    if let Some(r) = needs_confirmation(&state, &session, &back) {
        return r;
    }
    let caller = user::caller(u);
    match service::delete(&state.store, &caller, &id, state.clock.now()).await {
        Ok(_) => {
            state.status.poke();
            see_other("/admin/incidents")
        }
        Err(IncidentServiceError::NotFound(_)) => {
            Problem::not_found(format!("there is no incident `{id}`")).into_response()
        }
        Err(e) => Problem::internal(&e).into_response(),
    }
}
