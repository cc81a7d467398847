//! The console's availability reports page (`GET /admin/reports`): a year or a period, one
//! component or all, optionally a tenant, asked as `GET /api/v1/reports/availability` asks
//! ([`crate::reports::query_with_daily`], [`upkeep_engine::reports::availability`]); the
//! figures with their observed and unobserved time and coverage, the charts of the HTML report
//! (inline SVG with presentation attributes, no `style`), and the same report as CSV or HTML to
//! download (`GET /admin/reports/download?format=csv|html&...`, rendered by
//! [`crate::reports::response`] as the API renders it). Every role reads it.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use upkeep_engine::reports::AvailabilityReport;

use super::pages::{Chrome, chrome, html};
use super::session::SignedIn;
use crate::problem::Problem;
use crate::reports::{self, Ask, Chart, Format, MAX_DAILY_DAYS, Row};
use crate::state::AppState;

/// The form's fields, as query parameters; an empty field is no field.
#[derive(Debug, Default, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    year: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    component: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    partial_weight: String,
    /// Only for the download: `csv` or `html`.
    #[serde(default)]
    format: String,
}

fn given(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

impl ReportForm {
    /// What is asked, or why it cannot be read.
    fn ask(&self) -> Result<Ask<'_>, String> {
        let year = match given(&self.year) {
            None => None,
            Some(y) => Some(
                y.parse::<i16>()
                    .map_err(|_| format!("`{y}` is not a year"))?,
            ),
        };
        Ok(Ask {
            year,
            from: given(&self.from),
            to: given(&self.to),
            component: given(&self.component),
            tenant: given(&self.tenant),
            partial_weight: given(&self.partial_weight),
        })
    }

    /// The query string of this selection (empty fields left out), with `format` when given.
    fn query_string(&self, format: Option<&str>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("year", &self.year),
            ("from", &self.from),
            ("to", &self.to),
            ("component", &self.component),
            ("tenant", &self.tenant),
            ("partial_weight", &self.partial_weight),
        ] {
            if let Some(v) = given(v) {
                q.append_pair(k, v);
            }
        }
        if let Some(f) = format {
            q.append_pair("format", f);
        }
        q.finish()
    }
}

/// Why a report could not be made: the person's to fix (422), or the server's.
enum Failure {
    Asked(String),
    Store(upkeep_store::StoreError),
}

/// Whether a report is asked with daily series.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Daily {
    /// When the period allows them (the page: charts for periods up to [`MAX_DAILY_DAYS`]).
    IfShortEnough,
    /// Always; a longer period is refused (the HTML report, as the API refuses it).
    Required,
    No,
}

/// The report asked by `form`.
async fn report_of(
    state: &AppState,
    form: &ReportForm,
    daily: Daily,
) -> Result<AvailabilityReport, Failure> {
    let loaded = state.config.current();
    let config = &loaded.config;
    let now = state.clock.now();
    let ask = form.ask().map_err(Failure::Asked)?;
    let mut q = reports::query_with_daily(config, &ask, daily == Daily::Required, now)
        .map_err(Failure::Asked)?;
    if daily == Daily::IfShortEnough {
        // A longer period is shown without charts.
        let _too_long = reports::with_daily(&mut q);
    }
    upkeep_engine::reports::availability(&state.store, config, &q, now)
        .await
        .map_err(Failure::Store)
}

#[derive(Template)]
#[template(path = "console_reports.html")]
struct ReportsPage {
    chrome: Chrome,
    form: ReportForm,
    /// `(id, name)` of each component and tenant, for the selects.
    components: Vec<(String, String)>,
    tenants: Vec<(String, String)>,
    message: Option<String>,
    /// The report: its title line, coverage summary, lines and charts.
    period: Option<String>,
    summary: Option<String>,
    rows: Vec<Row>,
    charts: Vec<Chart>,
    /// Whether the period was too long for daily charts (more than [`MAX_DAILY_DAYS`]).
    no_charts: bool,
    csv_url: String,
    html_url: String,
    coverage_note: &'static str,
    max_daily_days: i64,
}

/// `GET /admin/reports`: the form, and the report it asks for.
pub async fn page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Query(form): Query<ReportForm>,
) -> Response {
    let loaded = state.config.current();
    let config = &loaded.config;
    let mut status = StatusCode::OK;
    let mut message = None;
    let mut period = None;
    let mut summary = None;
    let mut rows = Vec::new();
    let mut charts = Vec::new();
    let mut no_charts = false;
    match report_of(&state, &form, Daily::IfShortEnough).await {
        Ok(report) => {
            period = Some(reports::period_line(&report));
            summary = Some(reports::summary(&report));
            rows = reports::table_rows(&report);
            charts = reports::overall_charts(&report);
            no_charts = report.overall.daily.is_empty();
        }
        Err(Failure::Asked(m)) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            message = Some(m);
        }
        Err(Failure::Store(e)) => return Problem::internal(&e).into_response(),
    }
    let page = ReportsPage {
        chrome: chrome(&state, Some(&session.user)),
        components: config
            .components
            .iter()
            .map(|(id, c)| (id.clone(), c.name.clone()))
            .collect(),
        tenants: config
            .tenants
            .iter()
            .map(|(id, t)| (id.clone(), t.name.clone()))
            .collect(),
        csv_url: format!("/admin/reports/download?{}", form.query_string(Some("csv"))),
        html_url: format!(
            "/admin/reports/download?{}",
            form.query_string(Some("html"))
        ),
        form,
        message,
        period,
        summary,
        rows,
        charts,
        no_charts,
        coverage_note: reports::COVERAGE_NOTE,
        max_daily_days: MAX_DAILY_DAYS,
    };
    html(status, page.render())
}

/// `GET /admin/reports/download?format=csv|html&...`: the report as `upkeep report` and the
/// API render it, as a file to save.
pub async fn download(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    Query(form): Query<ReportForm>,
) -> Response {
    let format = match Format::parse(&form.format) {
        Some(f @ (Format::Csv | Format::Html)) => f,
        _ => {
            return Problem::bad_request(format!(
                "unknown format `{}`: use csv or html",
                form.format
            ))
            .into_response();
        }
    };
    let daily = if format == Format::Html {
        Daily::Required
    } else {
        Daily::No
    };
    let report = match report_of(&state, &form, daily).await {
        Ok(r) => r,
        Err(Failure::Asked(m)) => return Problem::unprocessable(m).into_response(),
        Err(Failure::Store(e)) => return Problem::internal(&e).into_response(),
    };
    match reports::response(&report, format, true) {
        Ok(r) => r,
        Err(e) => Problem::internal(&e).into_response(),
    }
}
