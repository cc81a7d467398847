//! `/api/v1/inventory`: the update inventory (`docs/inventory.md`). Viewers read every item
//! at every place judged against its chart's latest stable release; editors (deploy jobs)
//! report what is deployed with `PUT /api/v1/inventory/{item}/deployed`;
//! `GET /api/v1/maintenances/upgrades` lists the upgrades due in each upcoming maintenance.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use upkeep_domain::inventory::assess::{SuccessorTarget, Target};
use upkeep_domain::inventory::eol::EolStatus;
use upkeep_engine::service::inventory::{
    self as service, InventoryError, InventoryRow, Report, SourceState,
};
use utoipa::ToSchema;

use upkeep_domain::inventory::plan::WindowRef;

use super::{TAG_INVENTORY, TAG_MAINTENANCE, instant};
use crate::auth::{Auth, Editor, Viewer};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::Problem;
use crate::state::AppState;

/// A release to move to and how far behind it a deployment is.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub version: String,
    pub app_version: Option<String>,
    /// Stable releases in this scope newer than the deployed one.
    pub releases_behind: usize,
    /// Days since the first of those was published (`null` when the index gives no dates).
    pub days_behind: Option<i64>,
}

impl From<Target> for TargetView {
    fn from(t: Target) -> Self {
        Self {
            version: t.version,
            app_version: t.app_version,
            releases_behind: t.releases_behind,
            days_behind: t.days_behind,
        }
    }
}

/// The latest stable release of the chart that replaces a deprecated one.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessorView {
    pub chart: String,
    pub version: String,
    pub app_version: Option<String>,
}

impl From<SuccessorTarget> for SuccessorView {
    fn from(s: SuccessorTarget) -> Self {
        Self {
            chart: s.chart,
            version: s.version,
            app_version: s.app_version,
        }
    }
}

/// The end of life of the deployed application version's release cycle.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndOfLifeView {
    pub cycle: String,
    /// `YYYY-MM-DD`; `null` when the file says only that the cycle has ended, or gives no end.
    pub date: Option<String>,
    /// Days from today to that date (negative once past).
    pub days_left: Option<i64>,
    pub ended: bool,
    pub latest: Option<String>,
}

impl From<EolStatus> for EndOfLifeView {
    fn from(e: EolStatus) -> Self {
        Self {
            cycle: e.cycle,
            date: e.date.map(|d| d.to_string()),
            days_left: e.days_left,
            ended: e.ended,
            latest: e.latest,
        }
    }
}

/// The index read a row was judged on.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexView {
    /// The index URL or file, as configured.
    pub location: String,
    /// When it was last read successfully (`null`: never).
    pub read_at: Option<String>,
    pub age_seconds: Option<i64>,
    /// Why the last attempt failed (the last good read is still used).
    pub error: Option<String>,
}

impl From<SourceState> for IndexView {
    fn from(s: SourceState) -> Self {
        Self {
            location: s.location,
            read_at: s.read_at.map(instant),
            age_seconds: s.age_seconds,
            error: s.error,
        }
    }
}

/// One item at one place.
#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryView {
    pub item: String,
    /// Where it is deployed; `null` for an item nothing has been reported for.
    pub place: Option<String>,
    /// The chart the item is bound to there.
    pub chart: String,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    pub reported_at: Option<String>,
    pub reported_by: Option<String>,
    /// `current`, `behind_patch`, `behind_minor`, `behind_major`, `ahead`, `unknown` or
    /// `end_of_life`.
    #[schema(example = "behind_minor")]
    pub state: String,
    /// The latest stable release with the deployed major and minor.
    pub latest_patch: Option<TargetView>,
    /// The latest stable release with the deployed major.
    pub latest_minor: Option<TargetView>,
    /// The latest stable release.
    pub latest: Option<TargetView>,
    pub successor: Option<SuccessorView>,
    pub end_of_life: Option<EndOfLifeView>,
    /// Why the state is `unknown`, or what else to know.
    pub note: Option<String>,
    pub index: IndexView,
}

impl From<InventoryRow> for InventoryView {
    fn from(r: InventoryRow) -> Self {
        let a = r.assessment;
        Self {
            item: r.item,
            place: r.place,
            chart: r.chart,
            chart_version: r.chart_version,
            app_version: r.app_version,
            reported_at: r.reported_at.map(instant),
            reported_by: r.reported_by,
            state: a.state.as_str().to_owned(),
            latest_patch: a.latest_patch.map(Into::into),
            latest_minor: a.latest_minor.map(Into::into),
            latest: a.latest.map(Into::into),
            successor: a.successor.map(Into::into),
            end_of_life: a.end_of_life.map(Into::into),
            note: a.note,
            index: r.index.into(),
        }
    }
}

/// What is deployed of an item at a place.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployedBody {
    /// Where: a cluster, a tenant, an environment (letters, digits, `-`, `_`, `.`).
    #[schema(example = "prod-eu")]
    pub place: String,
    /// The chart version deployed (SemVer; `v1.2.3` and `1.2` are read as Helm reads them).
    #[schema(example = "30.1.0")]
    pub chart_version: String,
    /// The application version it runs.
    #[schema(example = "v3.1.2")]
    pub app_version: Option<String>,
}

/// The stored report.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeployedView {
    pub item: String,
    pub place: String,
    pub chart_version: String,
    pub app_version: Option<String>,
    pub reported_at: String,
    pub reported_by: String,
    /// Whether the versions changed (a change is audited).
    pub changed: bool,
}

fn refusal(e: InventoryError) -> Problem {
    match e {
        InventoryError::UnknownItem(_) => Problem::not_found(e.to_string()),
        InventoryError::Invalid(why) => {
            Problem::unprocessable(why).with_type("invalid-inventory-report")
        }
        InventoryError::Store(e) => e.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/inventory", tag = TAG_INVENTORY, security(("bearer" = [])),
    responses((status = 200, body = [InventoryView]), (status = 401, body = Problem)))]
/// Every item at every place, judged against its chart's latest stable release.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Vec<InventoryView>>, Problem> {
    let loaded = state.config.current();
    let rows = service::list(&state.store, &loaded.config, state.clock.now()).await?;
    Ok(Json(rows.into_iter().map(InventoryView::from).collect()))
}

#[utoipa::path(put, path = "/api/v1/inventory/{item}/deployed", tag = TAG_INVENTORY, security(("bearer" = [])),
    params(("item" = String, Path, description = "The `inventory.items` id")),
    request_body = DeployedBody,
    responses((status = 200, body = DeployedView), (status = 400, body = Problem),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
/// Report what is deployed of an item at a place (a deploy job's call; audited when it
/// changes).
pub async fn deployed(
    State(state): State<AppState>,
    Auth(caller, _): Auth<Editor>,
    ApiPath(item): ApiPath<String>,
    ApiJson(body): ApiJson<DeployedBody>,
) -> Result<Json<DeployedView>, Problem> {
    let loaded = state.config.current();
    let report = Report {
        place: body.place,
        chart_version: body.chart_version,
        app_version: body.app_version,
    };
    let change = service::report_deployed(
        &state.store,
        &loaded.config,
        &caller.for_services(),
        &item,
        &report,
        state.clock.now(),
    )
    .await
    .map_err(refusal)?;
    let d = change.after;
    Ok(Json(DeployedView {
        item: d.item,
        place: d.place,
        chart_version: d.chart_version,
        app_version: d.app_version,
        reported_at: instant(d.reported_at),
        reported_by: d.reported_by,
        changed: change.changed,
    }))
}

/// One inventory upgrade due in a maintenance.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpgradeView {
    pub item: String,
    pub place: String,
    /// The deployed chart version.
    pub from: String,
    /// The latest stable release (or `CHART VERSION` of a successor chart).
    pub to: String,
    /// The state that makes it due.
    #[schema(example = "behind_minor")]
    pub state: String,
}

/// An upcoming maintenance and the upgrades due in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceUpgradesView {
    pub maintenance: String,
    pub title: String,
    pub starts_at: String,
    pub ends_at: String,
    pub upgrades: Vec<UpgradeView>,
}

#[utoipa::path(get, path = "/api/v1/maintenances/upgrades", tag = TAG_MAINTENANCE, security(("bearer" = [])),
    responses((status = 200, body = [MaintenanceUpgradesView]), (status = 401, body = Problem)))]
/// The upcoming (scheduled) maintenances, soonest first, each with the inventory upgrades due
/// in it: an item at a place behind its chart goes to the first upcoming window that covers
/// the place (a tenant's windows for a place named after a tenant, any window otherwise).
pub async fn upgrades(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Vec<MaintenanceUpgradesView>>, Problem> {
    let loaded = state.config.current();
    let now = state.clock.now();
    let upcoming = state
        .store
        .list_maintenances(upkeep_store::maintenance::MaintenanceFilter::Upcoming, 200)
        .await?;
    let windows: Vec<WindowRef<'_>> = upcoming
        .iter()
        .map(|m| WindowRef {
            start: m.starts_at,
            tenants: &m.tenants,
        })
        .collect();
    let due = service::upgrades_due(&state.store, &loaded.config, &windows, now).await?;
    Ok(Json(
        upcoming
            .iter()
            .zip(due)
            .map(|(m, upgrades)| MaintenanceUpgradesView {
                maintenance: m.id.clone(),
                title: m.title.clone(),
                starts_at: instant(m.starts_at),
                ends_at: instant(m.ends_at),
                upgrades: upgrades
                    .into_iter()
                    .map(|u| UpgradeView {
                        item: u.item,
                        place: u.place,
                        from: u.from,
                        to: u.to,
                        state: u.state.as_str().to_owned(),
                    })
                    .collect(),
            })
            .collect(),
    ))
}
