//! `/api/v1/reports/availability` and `/api/v1/slos`: the continuity figures for auditors and
//! dashboards (viewer tokens).
//!
//! The HTML report is a self-contained document (one `<style>` block, inline SVG, no script);
//! it is served with its own Content-Security-Policy that allows that style block and nothing
//! else to load or run.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::TAG_REPORTS;
use crate::auth::{Auth, Viewer};
use crate::extract::ApiQuery;
use crate::problem::Problem;
use crate::reports::{Ask, Format, query_with_daily, response};
use crate::state::AppState;

/// What to report on.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// A calendar year in the page's zone (default: the current one).
    pub year: Option<i16>,
    /// Start of the period: `YYYY-MM-DD` (midnight in the page's zone) or RFC 3339.
    pub from: Option<String>,
    /// End of the period (exclusive), like `from`.
    pub to: Option<String>,
    /// Only this component.
    pub component: Option<String>,
    /// Also the figures of this tenant.
    pub tenant: Option<String>,
    /// Weight of partial outages, a ratio (default 0.3).
    pub partial_weight: Option<String>,
    /// `json` (default), `csv`, `html` or `table`.
    pub format: Option<String>,
    /// Include daily series in JSON (default false; always in HTML).
    pub daily: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/reports/availability", tag = TAG_REPORTS,
    security(("bearer" = [])), params(ReportQuery),
    responses(
        (status = 200, description = "The report in the asked format: JSON (this schema), CSV (one row per \
            component, tenant and overall, with `observed_ms`, `unobserved_ms` and `coverage_ppm` as \
            the last columns and an empty availability where nothing was observed), HTML or a text table",
            body = upkeep_engine::reports::AvailabilityReport, content_type = "application/json"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
/// Availability per component (raw, SLA, unplanned), per tenant and overall for a period, with
/// the SLOs' budgets and burn rates.
///
/// Every figure carries its coverage: `observed_ms` is the time a monitor of the component
/// judged it up or down, an alert rule on it fired or an incident declared its status;
/// `unobserved_ms` the rest of the period (before upkeep watched it, a push monitor never
/// pinged, a paused monitor, the part of the period after `measured_to`); `coverage_ppm` the
/// observed share of the period. `raw_ppm`, `sla_ppm` and `unplanned_ppm` are computed over
/// observed time and are `null` when nothing was observed (never 100 %). Daily series stop at
/// `measured_to`. An SLO's budget is its whole window's and only observed downtime spends it:
/// its `measured` figures say how much of the window so far was observed.
pub async fn availability(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, Problem> {
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f).ok_or_else(|| {
            Problem::bad_request(format!(
                "unknown format `{f}`: use json, csv, html or table"
            ))
        })?,
    };
    let loaded = state.config.current();
    let config = &loaded.config;
    let now = state.clock.now();
    let ask = Ask {
        year: q.year,
        from: q.from.as_deref(),
        to: q.to.as_deref(),
        component: q.component.as_deref(),
        tenant: q.tenant.as_deref(),
        partial_weight: q.partial_weight.as_deref(),
    };
    let engine_query = query_with_daily(
        config,
        &ask,
        format == Format::Html || q.daily.unwrap_or(false),
        now,
    )
    .map_err(Problem::unprocessable)?;
    let report =
        upkeep_engine::reports::availability(&state.store, config, &engine_query, now).await?;
    response(&report, format, false).map_err(|e| Problem::internal(&e))
}

/// Which SLOs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SloQuery {
    /// Only this component's SLO.
    pub component: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/slos", tag = TAG_REPORTS,
    security(("bearer" = [])), params(SloQuery),
    responses(
        (status = 200, description = "Every SLO now: budget, spent, left, burn-rate tiers and the coverage of the window so far",
            body = [upkeep_engine::reports::SloReport], content_type = "application/json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
/// Every configured SLO measured now: its window, budget spent and left, and which burn-rate
/// tiers fire.
pub async fn slos(
    State(state): State<AppState>,
    _: Auth<Viewer>,
    ApiQuery(q): ApiQuery<SloQuery>,
) -> Result<Response, Problem> {
    let loaded = state.config.current();
    let config = &loaded.config;
    if let Some(c) = &q.component
        && !config.slos.contains_key(c)
    {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no SLO is configured for component `{c}`"),
        ));
    }
    let reports = upkeep_engine::reports::slo_status(
        &state.store,
        config,
        q.component.as_deref(),
        upkeep_domain::availability::DEFAULT_PARTIAL_WEIGHT_PPM,
        state.clock.now(),
    )
    .await?;
    Ok(axum::Json(reports).into_response())
}
