//! The admin API under `/api/v1`: bearer tokens with roles, problem+json errors, an OpenAPI
//! document generated from these handlers. Later capabilities add their modules here
//! (incidents, maintenance, subscribers, backups, drills, reports).

pub mod audit;
pub mod backups;
pub mod components;
pub mod config;
pub mod incidents;
pub mod maintenance;
pub mod monitors;
pub mod notifications;
pub mod reports;
pub mod rollout;
pub mod subscribers;
pub mod tokens;

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
pub const TAG_INCIDENTS: &str = "incidents";
pub const TAG_MAINTENANCE: &str = "maintenance";
pub const TAG_BACKUPS: &str = "backups";
pub const TAG_REPORTS: &str = "reports";
pub const TAG_SUBSCRIBERS: &str = "subscribers";
pub const TAG_NOTIFICATIONS: &str = "notifications";
pub const TAG_ROLLOUTS: &str = "rollouts";

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
        (name = TAG_INCIDENTS, description = "Incidents, their timeline of updates and affected components"),
        (name = TAG_MAINTENANCE, description = "Maintenance windows: schedule, reschedule, update, complete, cancel"),
        (name = TAG_BACKUPS, description = "Backup sets against their RPO, recovery drills against their RTO, DR readiness"),
        (name = TAG_REPORTS, description = "Availability against the reference year, SLO budgets and burn rates"),
        (name = TAG_SUBSCRIBERS, description = "Status-page subscribers: e-mail (double opt-in at /subscribe) and webhooks (admin)"),
        (name = TAG_NOTIFICATIONS, description = "The notification outbox's deliveries and the firing operator alerts"),
        (name = TAG_ROLLOUTS, description = "A maintenance's rollout: tenants updated one at a time behind a health gate; pause, resume, abort, retry or skip a tenant"),
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
        .split_for_parts()
}

/// An instant as the API writes it: RFC 3339 in UTC with milliseconds.
pub fn instant(t: jiff::Timestamp) -> String {
    format!("{t:.3}")
}
