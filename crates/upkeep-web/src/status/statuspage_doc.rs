//! The Statuspage v2 documents (`/api/v2/*.json`) in the OpenAPI document: their eight paths
//! and the schema of every object, as [`super::statuspage`] writes them and real Statuspage
//! pages send them (`docs/statuspage.md`). The types here exist only to describe; the web
//! crate's tests validate upkeep's documents and stored real ones against these schemas.
//!
//! A field every real page sends is required; one that only newer pages send (`start_date`,
//! `reminder_intervals`) or that upkeep adds (`postmortem_body`, `rollout_progress`) is not.

#![allow(dead_code)] // Described, never built: the documents are written by `statuspage`.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};

/// The tag of the Statuspage paths.
pub const TAG: &str = "statuspage";

/// The page the document is about.
#[derive(ToSchema)]
struct StatuspagePage {
    /// 12 lowercase alphanumerics.
    id: String,
    name: String,
    url: String,
    /// The page's IANA zone (`page.timezone`).
    time_zone: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum StatuspageIndicator {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

/// The page's overall status.
#[derive(ToSchema)]
struct StatuspageStatus {
    indicator: StatuspageIndicator,
    /// E.g. "All Systems Operational", "Partial System Outage".
    description: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum StatuspageComponentStatus {
    Operational,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
    UnderMaintenance,
}

/// A component, or a group of components (`group: true`, with `components`).
#[derive(ToSchema)]
struct StatuspageComponent {
    id: String,
    name: String,
    status: StatuspageComponentStatus,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// From 1 among siblings: the top-level rows, or one group's children.
    position: u32,
    #[schema(required = true)]
    description: Option<String>,
    showcase: bool,
    /// Null on upkeep's pages.
    #[schema(format = Date)]
    start_date: Option<String>,
    /// The group's id, for a group's child.
    #[schema(required = true)]
    group_id: Option<String>,
    page_id: String,
    group: bool,
    only_show_if_degraded: bool,
    /// A group's children's ids, in their order (groups only).
    components: Option<Vec<String>>,
}

/// A component's status before and after an update.
#[derive(ToSchema)]
struct StatuspageAffectedComponent {
    /// The component's id.
    code: String,
    name: String,
    old_status: StatuspageComponentStatus,
    new_status: StatuspageComponentStatus,
}

/// One update of an incident's or a maintenance's timeline.
#[derive(ToSchema)]
struct StatuspageIncidentUpdate {
    id: String,
    /// The incident's or the maintenance's status from this update on.
    status: String,
    /// Markdown.
    body: String,
    incident_id: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[schema(format = DateTime)]
    display_at: String,
    /// Null when the update names no component.
    #[schema(required = true)]
    affected_components: Option<Vec<StatuspageAffectedComponent>>,
    deliver_notifications: bool,
    #[schema(required = true)]
    custom_tweet: Option<String>,
    #[schema(required = true)]
    tweet_id: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum StatuspageIncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum StatuspageImpact {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

/// An incident, its updates newest first.
#[derive(ToSchema)]
struct StatuspageIncident {
    id: String,
    name: String,
    status: StatuspageIncidentStatus,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[schema(required = true, format = DateTime)]
    monitoring_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    resolved_at: Option<String>,
    impact: StatuspageImpact,
    shortlink: String,
    #[schema(format = DateTime)]
    started_at: String,
    page_id: String,
    incident_updates: Vec<StatuspageIncidentUpdate>,
    /// The affected components as `components.json` shows them, in its order.
    components: Vec<StatuspageComponent>,
    /// Null.
    reminder_intervals: Option<String>,
    /// An upkeep addition: the postmortem's Markdown.
    postmortem_body: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
enum StatuspageMaintenanceStatus {
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

/// A scheduled maintenance (upkeep writes `impact: maintenance`), its updates newest first.
#[derive(ToSchema)]
struct StatuspageScheduledMaintenance {
    id: String,
    name: String,
    status: StatuspageMaintenanceStatus,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// When it first went to verifying.
    #[schema(required = true, format = DateTime)]
    monitoring_at: Option<String>,
    /// When it completed.
    #[schema(required = true, format = DateTime)]
    resolved_at: Option<String>,
    impact: StatuspageImpact,
    shortlink: String,
    /// When it was announced.
    #[schema(format = DateTime)]
    started_at: String,
    page_id: String,
    incident_updates: Vec<StatuspageIncidentUpdate>,
    components: Vec<StatuspageComponent>,
    #[schema(format = DateTime)]
    scheduled_for: String,
    #[schema(format = DateTime)]
    scheduled_until: String,
    /// An upkeep addition while its rollout is under way: "7 of 12 tenants updated".
    rollout_progress: Option<String>,
}

/// `summary.json`.
#[derive(ToSchema)]
struct StatuspageSummary {
    page: StatuspagePage,
    /// Ordered by position.
    components: Vec<StatuspageComponent>,
    /// The unresolved incidents, newest first.
    incidents: Vec<StatuspageIncident>,
    /// In progress, then upcoming.
    scheduled_maintenances: Vec<StatuspageScheduledMaintenance>,
    status: StatuspageStatus,
}

/// `status.json`.
#[derive(ToSchema)]
struct StatuspageStatusDocument {
    page: StatuspagePage,
    status: StatuspageStatus,
}

/// `components.json`.
#[derive(ToSchema)]
struct StatuspageComponents {
    page: StatuspagePage,
    components: Vec<StatuspageComponent>,
}

/// `incidents.json` and `incidents/unresolved.json`.
#[derive(ToSchema)]
struct StatuspageIncidents {
    page: StatuspagePage,
    incidents: Vec<StatuspageIncident>,
}

/// `scheduled-maintenances.json`, `…/upcoming.json` and `…/active.json`.
#[derive(ToSchema)]
struct StatuspageScheduledMaintenances {
    page: StatuspagePage,
    scheduled_maintenances: Vec<StatuspageScheduledMaintenance>,
}

#[derive(OpenApi)]
#[openapi(
    components(schemas(
        StatuspageSummary,
        StatuspageStatusDocument,
        StatuspageComponents,
        StatuspageIncidents,
        StatuspageScheduledMaintenances
    )),
    tags((name = TAG, description = "The public Atlassian Statuspage v2-compatible JSON (no token): \
        what widgets, bots, exporters and aggregators written for Statuspage read"))
)]
struct Doc;

/// Each path: its operation id, what it returns, and the schema of the document.
const PATHS: [(&str, &str, &str, &str); 8] = [
    (
        "/api/v2/summary.json",
        "summary",
        "The page, its status, every component, the unresolved incidents and the maintenances in progress or upcoming",
        "StatuspageSummary",
    ),
    (
        "/api/v2/status.json",
        "status",
        "The page's overall status",
        "StatuspageStatusDocument",
    ),
    (
        "/api/v2/components.json",
        "components",
        "Every component and group, ordered by position",
        "StatuspageComponents",
    ),
    (
        "/api/v2/incidents.json",
        "incidents",
        "The 50 most recent incidents, newest first",
        "StatuspageIncidents",
    ),
    (
        "/api/v2/incidents/unresolved.json",
        "unresolved_incidents",
        "The unresolved incidents, newest first",
        "StatuspageIncidents",
    ),
    (
        "/api/v2/scheduled-maintenances.json",
        "scheduled_maintenances",
        "The 50 most recent maintenances (cancelled ones left out), latest start first",
        "StatuspageScheduledMaintenances",
    ),
    (
        "/api/v2/scheduled-maintenances/upcoming.json",
        "upcoming_maintenances",
        "The maintenances not started yet, soonest first",
        "StatuspageScheduledMaintenances",
    ),
    (
        "/api/v2/scheduled-maintenances/active.json",
        "active_maintenances",
        "The maintenances in progress or verifying",
        "StatuspageScheduledMaintenances",
    ),
];

/// The eight paths and their schemas, to merge into the OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    for (path, id, description, schema) in PATHS {
        let ok = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        );
        let operation = OperationBuilder::new()
            .tag(TAG)
            .operation_id(Some(id))
            .summary(Some(description))
            .response("200", ok)
            .response(
                "304",
                ResponseBuilder::new().description(
                    "Not modified since the `If-None-Match` ETag or `If-Modified-Since`",
                ),
            )
            .build();
        doc.paths
            .paths
            .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
    }
    doc
}
