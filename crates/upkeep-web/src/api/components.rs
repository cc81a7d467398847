//! `/api/v1/components` and `/api/v1/rules`: each component's status derived from its monitors
//! and firing rules (domain `component_status::derive`), and every alert rule's state.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use upkeep_domain::alert_rule::AlertState;
use upkeep_domain::component_status::derive;
use upkeep_domain::monitor_state::MonitorStatus;
use utoipa::ToSchema;

use super::{TAG_COMPONENTS, instant};
use crate::auth::{Auth, Viewer};
use crate::problem::Problem;
use crate::state::AppState;

/// A component and its derived status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentView {
    pub id: String,
    pub name: String,
    pub group: Option<String>,
    /// `operational`, `degraded_performance`, `partial_outage` or `major_outage`, derived from
    /// the component's monitors and firing rules (incidents and maintenance override it on the
    /// status page).
    pub status: &'static str,
    /// The component's monitors and their status.
    pub monitors: Vec<NamedStatus>,
    /// Names of the rules firing on the component.
    pub firing_rules: Vec<String>,
}

/// A monitor's id and status.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedStatus {
    pub id: String,
    pub status: &'static str,
}

/// An alert rule and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleStateView {
    pub name: String,
    pub component: String,
    pub severity: &'static str,
    pub expr: String,
    /// `inactive`, `pending` or `firing`.
    pub state: &'static str,
    /// Since when it is pending or firing.
    pub since: Option<String>,
    pub last_value: Option<f64>,
    /// What the last evaluation saw.
    pub last_detail: Option<String>,
    pub last_evaluated: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/components", tag = TAG_COMPONENTS, security(("bearer" = [])),
    responses((status = 200, body = [ComponentView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
/// Every component with the status derived from its monitors and rules.
pub async fn list(State(state): State<AppState>, _: Auth<Viewer>) -> Json<Vec<ComponentView>> {
    let loaded = state.config.current();
    let views = state
        .monitors
        .as_ref()
        .map(|m| m.views())
        .unwrap_or_default();
    let rules = state.rules.as_ref().map(|r| r.views()).unwrap_or_default();
    let out = loaded
        .config
        .components
        .iter()
        .map(|(id, c)| {
            let monitors: Vec<(&String, MonitorStatus)> = loaded
                .config
                .monitors
                .iter()
                .filter(|(_, m)| &m.component == id)
                .map(|(mid, _)| {
                    let status = views
                        .get(mid)
                        .map_or(MonitorStatus::Pending, |v| v.state.status);
                    (mid, status)
                })
                .collect();
            let firing: Vec<(&String, _)> = rules
                .iter()
                .filter(|(_, r)| &r.component == id && matches!(r.state, AlertState::Firing { .. }))
                .map(|(name, r)| (name, r.severity))
                .collect();
            let statuses: Vec<MonitorStatus> = monitors.iter().map(|(_, s)| *s).collect();
            let severities: Vec<_> = firing.iter().map(|(_, s)| *s).collect();
            ComponentView {
                id: id.clone(),
                name: c.name.clone(),
                group: c.group.clone(),
                status: derive(&statuses, &severities).as_str(),
                monitors: monitors
                    .into_iter()
                    .map(|(mid, s)| NamedStatus {
                        id: mid.clone(),
                        status: s.as_str(),
                    })
                    .collect(),
                firing_rules: firing.into_iter().map(|(n, _)| n.clone()).collect(),
            }
        })
        .collect();
    Json(out)
}

#[utoipa::path(get, path = "/api/v1/rules", tag = TAG_COMPONENTS, security(("bearer" = [])),
    responses((status = 200, body = [RuleStateView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
/// Every alert rule of the running configuration and its state.
pub async fn rules(State(state): State<AppState>, _: Auth<Viewer>) -> Json<Vec<RuleStateView>> {
    let loaded = state.config.current();
    let views = state.rules.as_ref().map(|r| r.views()).unwrap_or_default();
    let out = loaded
        .config
        .rules
        .iter()
        .map(|rule| {
            let view = views.get(&rule.name);
            let alert = view.map_or(AlertState::Inactive, |v| v.state);
            RuleStateView {
                name: rule.name.clone(),
                component: rule.component.clone(),
                severity: rule.severity.as_str(),
                expr: rule.expr.to_string(),
                state: alert.as_str(),
                since: match alert {
                    AlertState::Pending { since } | AlertState::Firing { since } => {
                        Some(instant(since))
                    }
                    AlertState::Inactive => None,
                },
                last_value: view.and_then(|v| v.last_value).filter(|v| v.is_finite()),
                last_detail: view.and_then(|v| v.last_detail.clone()),
                last_evaluated: view.and_then(|v| v.last_evaluated).map(instant),
            }
        })
        .collect();
    Json(out)
}
