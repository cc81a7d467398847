//! The admin API under `/api/v1`: bearer tokens with roles, problem+json errors, an OpenAPI
//! document generated from these handlers. Later capabilities add their modules here
//! (incidents, maintenance, subscribers, backups, drills, reports).

pub mod agents;
pub mod audit;
pub mod backups;
pub mod components;
pub mod config;
pub mod incidents;
pub mod inventory;
pub mod maintenance;
pub mod monitors;
pub mod notifications;
pub mod reports;
pub mod rollout;
pub mod subscribers;
pub mod tokens;

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The tag under which every route of a module is listed.
pub const TAG_TOKENS: &str = "tokens";
pub const TAG_AUDIT: &str = "audit";
pub const TAG_CONFIG: &str = "config";
pub const TAG_MONITORS: &str = "monitors";
pub const TAG_COMPONENTS: &str = "components";
pub const TAG_INCIDENTS: &str = "incidents";
pub const TAG_MAINTENANCE: &str = "maintenance";
pub const TAG_BACKUPS: &str = "backups";
pub const TAG_REPORTS: &str = "reports";
pub const TAG_SUBSCRIBERS: &str = "subscribers";
pub const TAG_NOTIFICATIONS: &str = "notifications";
pub const TAG_ROLLOUTS: &str = "rollouts";
pub const TAG_INVENTORY: &str = "inventory";
pub const TAG_AGENTS: &str = "agents";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "upkeep admin API",
        description = "Manage upkeep's runtime facts. Authenticate with `Authorization: Bearer TOKEN` \
                       (create tokens with `upkeep token create`). Errors are `application/problem+json`.",
    ),
    modifiers(&BearerSecurity),
    components(schemas(crate::problem::Problem)),
    tags(
        (name = TAG_TOKENS, description = "API tokens (admin)"),
        (name = TAG_AUDIT, description = "The audit log of every change"),
        (name = TAG_CONFIG, description = "The running configuration and its reloads"),
        (name = TAG_MONITORS, description = "Monitors, their state, results and uptime"),
        (name = TAG_COMPONENTS, description = "Components, their status derived from monitors and alert rules, and the rules"),
        (name = TAG_INCIDENTS, description = "Incidents, their timeline of updates and affected components"),
        (name = TAG_MAINTENANCE, description = "Maintenance windows: schedule, reschedule, update, complete, cancel"),
        (name = TAG_BACKUPS, description = "Backup sets against their RPO, recovery drills against their RTO, DR readiness"),
        (name = TAG_REPORTS, description = "Availability against the reference year, SLO budgets and burn rates"),
        (name = TAG_SUBSCRIBERS, description = "Status-page subscribers: e-mail (double opt-in at /subscribe) and webhooks (admin)"),
        (name = TAG_NOTIFICATIONS, description = "The notification outbox's deliveries and the firing operator alerts"),
        (name = TAG_ROLLOUTS, description = "A maintenance's rollout: tenants updated one at a time behind a health gate; pause, resume, abort, retry or skip a tenant"),
        (name = TAG_INVENTORY, description = "The update inventory: what is deployed where, against the latest stable release of its chart"),
        (name = TAG_AGENTS, description = "Probe agents: their assignments and results (agent tokens only), and the agents as last heard from"),
    )
)]
struct ApiDoc;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin routes and the OpenAPI document that describes them.
pub fn routes() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tokens::whoami))
        .routes(routes!(audit::list))
        .routes(routes!(config::show))
        .routes(routes!(config::reload))
        .routes(routes!(components::list))
        .routes(routes!(components::rules))
        .routes(routes!(monitors::list))
        .routes(routes!(monitors::show))
        .routes(routes!(monitors::results))
        .routes(routes!(monitors::events))
        .routes(routes!(monitors::pause))
        .routes(routes!(monitors::resume))
        .routes(routes!(incidents::list, incidents::create))
        .routes(routes!(incidents::show, incidents::edit, incidents::delete))
        .routes(routes!(incidents::add_update))
        .routes(routes!(incidents::resolve))
        .routes(routes!(maintenance::list, maintenance::create))
        .routes(routes!(maintenance::check))
        .routes(routes!(maintenance::show, maintenance::edit))
        .routes(routes!(maintenance::add_update))
        .routes(routes!(maintenance::complete))
        .routes(routes!(maintenance::cancel))
        .routes(routes!(maintenance::start))
        .routes(routes!(maintenance::slots))
        .routes(routes!(rollout::show))
        .routes(routes!(rollout::pause))
        .routes(routes!(rollout::resume))
        .routes(routes!(rollout::abort))
        .routes(routes!(rollout::retry))
        .routes(routes!(rollout::skip))
        .routes(routes!(backups::list))
        .routes(routes!(backups::show))
        .routes(routes!(backups::start_drill))
        .routes(routes!(backups::finish_drill))
        .routes(routes!(backups::readiness))
        .routes(routes!(backups::readiness_html))
        .routes(routes!(reports::availability))
        .routes(routes!(reports::slos))
        .routes(routes!(subscribers::list, subscribers::create))
        .routes(routes!(subscribers::delete))
        .routes(routes!(notifications::deliveries))
        .routes(routes!(notifications::retry))
        .routes(routes!(notifications::outbox))
        .routes(routes!(notifications::alerts))
        .routes(routes!(notifications::acknowledge))
        .routes(routes!(inventory::list))
        .routes(routes!(inventory::deployed))
        .routes(routes!(inventory::upgrades))
        .routes(routes!(agents::assignments))
        .routes(routes!(agents::results))
        .routes(routes!(agents::list))
        .split_for_parts()
}

/// Makes the whole document (these routes and any merged into it) valid OpenAPI 3.1: unique
/// operation ids and a description on every response.
pub fn finish_document(doc: &mut utoipa::openapi::OpenApi) {
    name_operations(doc);
    describe_responses(doc);
}

/// The operations of a path item, in a fixed order.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
        &mut item.query,
    ]
    .into_iter()
    .flatten()
}

/// Makes every `operationId` unique, as OpenAPI requires and client generators name their
/// functions by it: the handler's name (`list`, `show`, ...) prefixed by its tag
/// (`incidents_list`, `maintenance_show`, `rollouts_show`).
fn name_operations(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let (Some(id), Some(tag)) = (
                &operation.operation_id,
                operation.tags.as_ref().and_then(|t| t.first()),
            ) else {
                continue;
            };
            let prefix: String = tag
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            if !id.starts_with(&format!("{prefix}_")) {
                operation.operation_id = Some(format!("{prefix}_{id}"));
            }
        }
    }
}

/// Gives every response that the handlers' annotations leave undescribed the `description`
/// OpenAPI requires: what the status means in this API (errors are problem+json), so the
/// annotations need only say what differs.
fn describe_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = status_description(status);
                }
            }
        }
    }
}

/// What a response status means in this API.
fn status_description(status: &str) -> String {
    let meaning = match status {
        "400" => "The request does not parse (problem+json)",
        "401" => "No valid bearer token (problem+json)",
        "403" => "The token's role does not allow this (problem+json)",
        "404" => "No such object (problem+json)",
        "409" => "The object's state does not allow this, or it changed meanwhile (problem+json)",
        "413" => "The body is larger than server.max_body (problem+json)",
        "422" => "The request parses but breaks a rule; `detail` says which (problem+json)",
        "429" => "Too many requests (problem+json)",
        "503" => "Not available now; try again later (problem+json)",
        other => {
            return other
                .parse::<u16>()
                .ok()
                .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                .and_then(|code| code.canonical_reason())
                .unwrap_or("Response")
                .to_owned();
        }
    };
    meaning.to_owned()
}

/// An instant as the API writes it: RFC 3339 in UTC with milliseconds.
pub fn instant(t: jiff::Timestamp) -> String {
    format!("{t:.3}")
}
