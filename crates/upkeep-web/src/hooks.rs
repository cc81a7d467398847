//! Incoming alerts: `POST /hooks/alertmanager` takes Alertmanager's webhook payload (version 4)
//! and maps each alert onto a component, opening and resolving automatic incidents through
//! [`upkeep_engine::incidents`].
//!
//! - Authentication: a bearer token with the `hook` role — good for this hook only — or the
//!   `editor` or `admin` role (Alertmanager's `http_config.authorization`).
//! - Work per request is bounded: a payload with more than [`MAX_ALERTS`] alerts is refused
//!   whole (422) before any is applied; Alertmanager's `max_alerts` keeps it below.
//! - Parsing is tolerant: unknown fields (`truncatedAlerts`, `notification_reason`,
//!   `routeLabels`, ...) are ignored. A body that is not JSON → 400, JSON of the wrong shape or
//!   another payload version → 422, both as problem+json.
//! - Each alert names its component by a label (`alertmanager.component_label`, default
//!   `component`); `status` decides (a firing alert's `endsAt` is only an estimate). Severity
//!   comes from the label `severity`: `critical` → `partial_outage`, `warning` or none →
//!   `degraded_performance`; `info` and `none` open nothing.
//! - Deduplication by `fingerprint` (computed from the labels when absent): a firing alert
//!   already open changes nothing; a resolved one closes its incident if automatic and not
//!   taken over by an operator.
//! - A firing alert on a component covered by a maintenance in progress opens no incident, as
//!   a monitor going down would not (the check is inside
//!   [`upkeep_engine::incidents::source_failing`], the one path of every automatic failure);
//!   Alertmanager repeats the alert, and once the window is over it opens the incident.
//! - An alert that cannot be mapped is skipped and reported in the answer, never a 500:
//!   `{"accepted": n, "skipped": [{"fingerprint", "reason"}]}`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use upkeep_domain::config::Severity;
use upkeep_engine::incidents::{
    Failure, alert_label, alert_status, public_body, public_title, source_failing, source_recovered,
};

use crate::auth::{AlertHook, Auth};
use crate::extract::ApiJson;
use crate::problem::Problem;
use crate::state::AppState;

/// The actor of changes made from Alertmanager alerts (automation: no take-over).
pub const ALERTMANAGER_ACTOR: &str = "system:alertmanager";

/// The most alerts one notification may carry (documented with `alertmanager` in
/// `docs/configuration.md`).
pub const MAX_ALERTS: usize = 1_000;

/// Label naming the component when the configuration does not say.
const DEFAULT_COMPONENT_LABEL: &str = "component";

/// The routes of incoming alerts and the OpenAPI document that describes them.
pub fn routes() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(alertmanager))
        .split_for_parts()
}

/// Alertmanager's webhook payload (version 4). Only what upkeep uses is read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub group_key: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub receiver: Option<String>,
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
    #[serde(default)]
    pub truncated_alerts: Option<u64>,
    pub alerts: Vec<Alert>,
}

/// One alert of the payload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// The answer: how many alerts were applied and which were skipped, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Intake {
    pub accepted: usize,
    pub skipped: Vec<Skipped>,
}

/// An alert that was not applied.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub fingerprint: String,
    pub reason: String,
}

/// The alert's fingerprint, or one made from its labels when it has none.
fn fingerprint(alert: &Alert) -> String {
    match alert.fingerprint.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => f.to_owned(),
        _ => {
            let labels: Vec<String> = alert
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("labels:{{{}}}", labels.join(","))
        }
    }
}

/// `startsAt`, when it is a real instant (Alertmanager sends the zero time for unknown).
fn started_at(alert: &Alert) -> Option<jiff::Timestamp> {
    let t: jiff::Timestamp = alert.starts_at.as_deref()?.parse().ok()?;
    (t.as_second() > 0).then_some(t)
}

/// Applies an Alertmanager webhook notification (payload version 4): firing alerts open or
/// join automatic incidents on the component named by the configured label, resolved alerts
/// resolve them.
#[utoipa::path(post, path = "/hooks/alertmanager", tag = "alerts in", security(("bearer" = [])),
    request_body = Payload,
    responses(
        (status = 200, description = "Applied; unmapped alerts are listed as skipped", body = Intake),
        (status = 400, description = "Not JSON", body = crate::problem::Problem),
        (status = 401, description = "No or unknown token", body = crate::problem::Problem),
        (status = 403, description = "The token's role is neither hook, editor nor admin", body = crate::problem::Problem),
        (status = 422, description = "Wrong shape or payload version, or more than 1,000 alerts", body = crate::problem::Problem),
    ))]
async fn alertmanager(
    State(state): State<AppState>,
    Auth(caller, _): Auth<AlertHook>,
    ApiJson(payload): ApiJson<Payload>,
) -> Result<Json<Intake>, Problem> {
    if let Some(version) = payload.version.as_deref()
        && version != "4"
    {
        return Err(Problem::unprocessable(format!(
            "payload version `{version}` is not supported; upkeep reads Alertmanager's version 4"
        ))
        .with_type("invalid-body"));
    }
    if payload.alerts.len() > MAX_ALERTS {
        return Err(Problem::unprocessable(format!(
            "the notification carries {} alerts, more than {MAX_ALERTS}; set `max_alerts` in \
             Alertmanager's webhook configuration",
            payload.alerts.len()
        ))
        .with_type("invalid-body"));
    }
    let loaded = state.config.current();
    let config = &loaded.config;
    let label = config
        .alertmanager
        .as_ref()
        .map_or(DEFAULT_COMPONENT_LABEL, |a| a.component_label.as_str());
    tracing::info!(
        caller = %caller.actor(),
        group = payload.group_key.as_deref().unwrap_or(""),
        status = payload.status.as_deref().unwrap_or(""),
        alerts = payload.alerts.len(),
        truncated = payload.truncated_alerts.unwrap_or(0),
        "alertmanager notification"
    );
    let mut intake = Intake {
        accepted: 0,
        skipped: Vec::new(),
    };
    for alert in &payload.alerts {
        let fingerprint = fingerprint(alert);
        let skip = |reason: String| Skipped {
            fingerprint: fingerprint.clone(),
            reason,
        };
        // A resolution needs only the fingerprint: it closes what the alert opened even when
        // its component label changed or the component left the configuration meanwhile.
        if alert.status == "resolved" {
            let source = format!("alertmanager:{fingerprint}");
            source_recovered(
                &state.store,
                &source,
                "",
                ALERTMANAGER_ACTOR,
                state.clock.now(),
            )
            .await?;
            intake.accepted += 1;
            continue;
        }
        let Some(component_id) = alert.labels.get(label) else {
            intake
                .skipped
                .push(skip(format!("the alert has no `{label}` label")));
            continue;
        };
        let Some(component) = config.components.get(component_id) else {
            intake
                .skipped
                .push(skip(format!("unknown component `{component_id}`")));
            continue;
        };
        let source = format!("alertmanager:{fingerprint}");
        let alertname = alert
            .labels
            .get("alertname")
            .map_or("Alert", String::as_str);
        let now = state.clock.now();
        let outcome = match alert.status.as_str() {
            "firing" => {
                let severity = match alert.labels.get("severity").map(String::as_str) {
                    None | Some("warning") => Severity::Warning,
                    Some("critical" | "page" | "error") => Severity::Critical,
                    Some(other) => {
                        intake.skipped.push(skip(format!(
                            "severity `{other}` does not open incidents (critical or warning do)"
                        )));
                        continue;
                    }
                };
                let summary = alert
                    .annotations
                    .get("summary")
                    .or_else(|| alert.annotations.get("description"))
                    .map_or("", String::as_str);
                // The annotations and the generator URL (Prometheus's address, the PromQL)
                // are the operator's detail: logged, never public.
                let mut detail = format!(
                    "Alertmanager alert `{alertname}` ({}) is firing. {summary}",
                    severity.as_str()
                );
                if let Some(url) = &alert.generator_url {
                    detail.push_str(&format!("\n\nSource: {url}"));
                }
                let status = alert_status(severity);
                let failure = Failure {
                    source,
                    component_id: component_id.clone(),
                    status,
                    label: alert_label(&component.name),
                    title: public_title(&component.name, status),
                    body: public_body(&config.page.public_text.alert, &component.name, status),
                    detail,
                    started_at: started_at(alert),
                    seen_at: now,
                };
                source_failing(&state.store, config, &failure, ALERTMANAGER_ACTOR, now)
                    .await
                    .map(|_| ())
            }
            other => {
                intake
                    .skipped
                    .push(skip(format!("unknown alert status `{other}`")));
                continue;
            }
        };
        outcome?;
        intake.accepted += 1;
    }
    Ok(Json(intake))
}
