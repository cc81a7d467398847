//! Availability reports as people read them: a text table, CSV, JSON and a self-contained HTML
//! document with SVG charts (daily availability, budget burn-down, planned versus unplanned
//! downtime per month), for `upkeep report availability` and
//! `GET /api/v1/reports/availability`.
//!
//! The figures come from [`upkeep_engine::reports`] in integer milliseconds and parts per
//! million; this module only formats them (floating point is used for nothing but pixel
//! coordinates of the charts). The HTML needs no network and no script: one `<style>` block and
//! inline SVG, escaped by askama, printable, fit to hand to an auditor.

use std::fmt::Write as _;

use askama::Template;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use upkeep_domain::availability::{Day, Figures, Period};
use upkeep_domain::config::Config;
use upkeep_engine::reports::{AvailabilityQuery, AvailabilityReport, GroupReport, SloReport};

/// What a person asks for: a year, or a period from/to (dates `YYYY-MM-DD` read at midnight in
/// the page's zone, or RFC 3339 instants), optionally one component, one tenant and the weight
/// of partial outages (a ratio such as `0.3`). Without year or period: the current calendar
/// year in the page's zone.
#[derive(Debug, Default, Clone)]
pub struct Ask<'a> {
    pub year: Option<i16>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub component: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub partial_weight: Option<&'a str>,
}

/// Reads an instant: an RFC 3339 timestamp, or a date at local midnight in `config`'s zone.
fn instant(config: &Config, text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| format!("`{text}` is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"))?;
    date.to_zoned(config.page.timezone.clone())
        .map(|z| z.timestamp())
        .map_err(|e| format!("`{text}`: {e}"))
}

/// Reads a ratio between 0 and 1 with up to six decimals into parts per million.
fn ratio_ppm(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a ratio between 0 and 1 (e.g. 0.3)");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 6
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac_ppm: u64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
    let ppm = whole.saturating_mul(1_000_000).saturating_add(frac_ppm);
    if ppm > 1_000_000 {
        return Err(bad());
    }
    u32::try_from(ppm).map_err(|_| bad())
}

/// The engine's query for `ask`, checked against `config`.
pub fn query(config: &Config, ask: &Ask<'_>, now: Timestamp) -> Result<AvailabilityQuery, String> {
    let mut q = match (ask.year, ask.from, ask.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err("give either a year or a period (from/to), not both".into());
        }
        (Some(year), None, None) => {
            if !(1970..=2200).contains(&year) {
                return Err(format!(
                    "{year} is out of range: use a year from 1970 to 2200"
                ));
            }
            AvailabilityQuery::year(config, year).map_err(|e| e.to_string())?
        }
        (None, None, None) => {
            let year = config.page.timezone.to_datetime(now).year();
            AvailabilityQuery::year(config, year).map_err(|e| e.to_string())?
        }
        (None, from, to) => {
            let (Some(from), Some(to)) = (from, to) else {
                return Err("a period needs both from and to".into());
            };
            AvailabilityQuery::range(instant(config, from)?, instant(config, to)?)
        }
    };
    q.component = ask.component.map(str::to_owned);
    q.tenant = ask.tenant.map(str::to_owned);
    if let Some(w) = ask.partial_weight {
        q.partial_weight_ppm = ratio_ppm(w)?;
    }
    q.validate(config)?;
    if q.to.duration_since(q.from) > jiff::SignedDuration::from_hours(24 * MAX_PERIOD_DAYS) {
        return Err(format!(
            "the period is longer than {MAX_PERIOD_DAYS} days; ask for ten years or less"
        ));
    }
    Ok(q)
}

/// Longest period of a report.
pub const MAX_PERIOD_DAYS: i64 = 3_660;
/// Longest period of a report with daily series (the HTML report, `--daily`).
pub const MAX_DAILY_DAYS: i64 = 400;

/// Turns daily series on for `q`, refusing periods too long for them (a row per day per
/// component).
pub fn with_daily(q: &mut AvailabilityQuery) -> Result<(), String> {
    if q.to.duration_since(q.from) > jiff::SignedDuration::from_hours(24 * MAX_DAILY_DAYS) {
        return Err(format!(
            "daily series (and the HTML report) cover at most {MAX_DAILY_DAYS} days; ask for a shorter period"
        ));
    }
    q.daily = true;
    Ok(())
}

/// The engine's query for `ask`, with daily series when `daily` (refused for periods longer
/// than [`MAX_DAILY_DAYS`]): what the API and the console ask the engine.
pub fn query_with_daily(
    config: &Config,
    ask: &Ask<'_>,
    daily: bool,
    now: Timestamp,
) -> Result<AvailabilityQuery, String> {
    let mut q = query(config, ask, now)?;
    q.daily = false;
    if daily {
        with_daily(&mut q)?;
    }
    Ok(q)
}

/// Content-Security-Policy of the HTML report: its own inline style, nothing else.
pub const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `report` rendered in `format` as an HTTP answer that no cache keeps; the HTML report with
/// its own Content-Security-Policy. With `attachment`, a browser saves it as
/// `availability.EXT`.
pub fn response(
    report: &AvailabilityReport,
    format: Format,
    attachment: bool,
) -> Result<axum::response::Response, String> {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let body = render(report, format)?;
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    if format == Format::Html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(REPORT_CSP),
        );
    }
    if attachment {
        let name = format!(
            "attachment; filename=\"availability.{}\"",
            format.extension()
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Html,
}

impl Format {
    /// Parses `table`, `json`, `csv` or `html`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    /// The file name extension of the rendered report.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }

    /// The media type of the rendered report.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Table => "text/plain; charset=utf-8",
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// Renders `report` in `format`.
pub fn render(report: &AvailabilityReport, format: Format) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(report).map_err(|e| e.to_string()),
        Format::Table => Ok(table(report)),
        Format::Csv => Ok(csv(report)),
        Format::Html => html(report).map_err(|e| e.to_string()),
    }
}

/// `ppm` as a percentage with four decimals, truncated: `99.9123%`.
pub fn percent(ppm: i64) -> String {
    let ppm = ppm.clamp(0, 1_000_000);
    format!("{}.{:04}%", ppm / 10_000, ppm % 10_000)
}

/// A duration for people, exact to the millisecond: `8h 45m 36s`, `8h 47m 2.4s`, `0s`.
pub fn duration(ms: i64) -> String {
    let negative = ms < 0;
    let mut ms = ms.unsigned_abs();
    let days = ms / 86_400_000;
    ms %= 86_400_000;
    let hours = ms / 3_600_000;
    ms %= 3_600_000;
    let minutes = ms / 60_000;
    ms %= 60_000;
    let (secs, millis) = (ms / 1000, ms % 1000);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if millis > 0 {
        let frac = format!("{millis:03}");
        parts.push(format!("{secs}.{}s", frac.trim_end_matches('0')));
    } else if secs > 0 || parts.is_empty() {
        parts.push(format!("{secs}s"));
    }
    let text = parts.join(" ");
    if negative { format!("−{text}") } else { text }
}

/// An availability figure: `99.9123%`, or `no data` when nothing was observed.
pub fn availability(ppm: Option<i64>) -> String {
    ppm.map_or_else(|| NO_DATA.to_owned(), percent)
}

/// A coverage for people: like [`percent`], but a little observed time never reads as none
/// (`<0.0001%`); 100 % only when every millisecond was observed (coverage rounds down).
pub fn coverage(f: &Figures) -> String {
    if f.coverage_ppm == 0 && f.observed_ms > 0 {
        "<0.0001%".to_owned()
    } else {
        percent(f.coverage_ppm)
    }
}

/// What a figure reads when nothing was observed: never 100 %.
pub const NO_DATA: &str = "no data";

/// A ratio for an axis or a legend, trailing zeros left out: `99%`, `99.95%`.
fn short_percent(ppm: i64) -> String {
    let p = percent(ppm);
    let (number, _) = p.split_at(p.len() - 1);
    let number = number.trim_end_matches('0').trim_end_matches('.');
    format!("{number}%")
}

fn rows(report: &AvailabilityReport) -> Vec<(&'static str, String, &Figures)> {
    let mut rows: Vec<(&'static str, String, &Figures)> = report
        .components
        .iter()
        .map(|c| ("component", c.name.clone(), &c.figures))
        .collect();
    rows.extend(
        report
            .tenants
            .iter()
            .map(|t| ("tenant", t.name.clone(), &t.figures)),
    );
    rows.push((
        "overall",
        report.overall.name.clone(),
        &report.overall.figures,
    ));
    rows
}

/// The report's zone (UTC when the name is unknown to this build, which config validation
/// rules out).
fn zone(report: &AvailabilityReport) -> TimeZone {
    TimeZone::get(&report.period.timezone).unwrap_or(TimeZone::UTC)
}

fn zoned(ms: i64, tz: &TimeZone) -> Option<Zoned> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_zoned(tz.clone()))
}

/// A local date for people: `1 Jan 2026`.
fn human_date(date: Date) -> String {
    date.strftime("%-d %b %Y").to_string()
}

/// An instant for people in `tz`: `5 Dec 2026, 21:27 CET`.
fn human_instant(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| crate::status::html::local(t, tz))
        .unwrap_or_default()
}

/// An RFC 3339 instant of the report for people in `tz`.
fn human_text_instant(text: &str, tz: &TimeZone) -> String {
    text.parse::<Timestamp>()
        .map(|t| crate::status::html::local(t, tz))
        .unwrap_or_else(|_| text.to_owned())
}

/// `[from, to)` for people: `1 Jan 2026 – 31 Dec 2026` when both ends are local midnights
/// (the end shown is the last day), instants otherwise.
fn human_range(from_ms: i64, to_ms: i64, tz: &TimeZone) -> String {
    let midnight = |z: &Zoned| z.time() == jiff::civil::Time::midnight();
    match (zoned(from_ms, tz), zoned(to_ms, tz)) {
        (Some(a), Some(b)) if midnight(&a) && midnight(&b) => {
            let last = b.date().yesterday().unwrap_or(b.date());
            if last == a.date() {
                human_date(a.date())
            } else {
                format!("{} – {}", human_date(a.date()), human_date(last))
            }
        }
        _ => format!(
            "{} – {}",
            human_instant(from_ms, tz),
            human_instant(to_ms, tz)
        ),
    }
}

/// The report's title: `Availability 2026` for a calendar year, else its dates.
fn title(report: &AvailabilityReport) -> String {
    let p = &report.period;
    let tz = zone(report);
    match (p.year_days, zoned(p.from_ms, &tz)) {
        (Some(_), Some(from)) => format!("Availability {}", from.year()),
        _ => format!("Availability {}", human_range(p.from_ms, p.to_ms, &tz)),
    }
}

/// The period in words: its dates, zone, year length and how far it is measured.
pub(crate) fn period_line(report: &AvailabilityReport) -> String {
    let p = &report.period;
    let tz = zone(report);
    let mut line = format!("{} ({})", human_range(p.from_ms, p.to_ms, &tz), p.timezone);
    if let Some(days) = p.year_days {
        let _ = write!(line, ", a year of {days} days");
    }
    if !p.complete {
        let _ = write!(
            line,
            ", measured to {}",
            human_text_instant(&p.measured_to, &tz)
        );
    }
    line
}

/// What every report says about coverage, in words.
pub(crate) const COVERAGE_NOTE: &str = "Availability is computed over observed time only: time when a \
    monitor of the component judged it up or down, an alert rule on it fired, or an incident \
    declared its status. Coverage is the share of the period observed; the rest (before upkeep \
    watched the component, a push monitor never pinged, a paused monitor, the part of the period \
    still to come) is unobserved and counts neither as up nor as down. With nothing observed \
    there is no figure.";

/// What the SLO budget assumes, in words.
const SLO_NOTE: &str = "The budget is the whole window's; only observed downtime spends it, \
    so unobserved time is assumed to spend nothing. \"Observed\" says how much of the window so \
    far that assumption covers.";

/// The text table.
fn table(report: &AvailabilityReport) -> String {
    let mut out = format!("{}: {}\n", title(report), period_line(report));
    let _ = writeln!(
        out,
        "Partial outages weigh {}; SLA leaves out maintenance that does not count as downtime.",
        percent(i64::from(report.partial_weight_ppm))
    );
    let _ = writeln!(out, "{COVERAGE_NOTE}\n");
    let rows = rows(report);
    let name_width = rows
        .iter()
        .map(|(_, n, _)| n.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>9}  {:>9}  {:>9}  {:>16}  {:>16}  {:>16}",
        "NAME", "COVERAGE", "SLA", "RAW", "UNPLANNED DOWN", "PLANNED DOWN", "UNOBSERVED"
    );
    for (_, name, f) in &rows {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>9}  {:>9}  {:>9}  {:>16}  {:>16}  {:>16}",
            name,
            coverage(f),
            availability(f.sla_ppm),
            availability(f.raw_ppm),
            duration(f.sla_downtime_ms),
            duration(f.planned_downtime_ms),
            duration(f.unobserved_ms),
        );
    }
    if !report.slos.is_empty() {
        let _ = writeln!(out, "\nSLOs ({SLO_NOTE})");
        for s in &report.slos {
            let _ = writeln!(
                out,
                "{}: objective {}, {} window: budget {}, spent {}, left {}; observed {} of the window so far{}{}",
                s.component,
                percent(i64::from(s.status.objective_ppm)),
                s.window,
                duration(s.status.budget_ms),
                duration(s.status.spent_ms),
                duration(s.status.left_ms),
                coverage(&s.measured),
                if s.status.met {
                    ""
                } else {
                    " — OBJECTIVE MISSED"
                },
                if s.firing { " — BURN-RATE ALERT" } else { "" },
            );
        }
    }
    out
}

/// One CSV field: quoted when it must be, and a leading formula character (`=`, `+`, `-`,
/// `@`) neutralised for spreadsheets.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(['=', '+', '-', '@']) {
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV: one row per component, tenant and overall; durations in milliseconds, ratios in ppm;
/// an availability with nothing observed is empty. The coverage columns come last, so
/// readers of the earlier columns are unaffected.
fn csv(report: &AvailabilityReport) -> String {
    let quote = csv_field;
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from(
        "kind,name,from,to,period_ms,sla_ppm,raw_ppm,unplanned_ppm,sla_downtime_ms,downtime_ms,\
         planned_downtime_ms,major_ms,partial_ms,degraded_ms,planned_ms,observed_ms,\
         unobserved_ms,coverage_ppm\n",
    );
    for (kind, name, f) in rows(report) {
        let _ = writeln!(
            out,
            "{kind},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            quote(&name),
            report.period.from,
            report.period.to,
            f.period_ms,
            opt(f.sla_ppm),
            opt(f.raw_ppm),
            opt(f.unplanned_ppm),
            f.sla_downtime_ms,
            f.downtime_ms,
            f.planned_downtime_ms,
            f.major_ms,
            f.partial_ms,
            f.degraded_ms,
            f.planned_ms,
            f.observed_ms,
            f.unobserved_ms,
            f.coverage_ppm,
        );
    }
    out
}

/// One line of the report's table, worded for people (the HTML report's and the console's).
pub(crate) struct Row {
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) coverage: String,
    pub(crate) sla: String,
    pub(crate) raw: String,
    pub(crate) no_data: bool,
    pub(crate) unplanned: String,
    pub(crate) planned: String,
    pub(crate) major: String,
    pub(crate) partial: String,
    pub(crate) observed: String,
    pub(crate) unobserved: String,
}

/// A chart: its title, what its colours mean, and the SVG (escaped; colours as presentation
/// attributes, no `style`).
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) legend: String,
    pub(crate) svg: String,
}

struct SloView {
    component: String,
    objective: String,
    window: String,
    budget: String,
    spent: String,
    left: String,
    observed: String,
    met: bool,
    firing: bool,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    title: String,
    period: String,
    measured: Option<String>,
    coverage: String,
    coverage_note: &'static str,
    slo_note: &'static str,
    weight: String,
    generated: String,
    rows: Vec<Row>,
    slos: Vec<SloView>,
    charts: Vec<Chart>,
}

fn row(kind: &'static str, name: &str, f: &Figures) -> Row {
    Row {
        kind,
        name: name.to_owned(),
        coverage: coverage(f),
        sla: availability(f.sla_ppm),
        raw: availability(f.raw_ppm),
        no_data: f.sla_ppm.is_none(),
        unplanned: duration(f.sla_downtime_ms),
        planned: duration(f.planned_downtime_ms),
        major: duration(f.major_ms),
        partial: duration(f.partial_ms),
        observed: duration(f.observed_ms),
        unobserved: duration(f.unobserved_ms),
    }
}

/// The table's lines: each component, each tenant, then overall.
pub(crate) fn table_rows(report: &AvailabilityReport) -> Vec<Row> {
    rows(report)
        .into_iter()
        .map(|(kind, name, f)| row(kind, &name, f))
        .collect()
}

/// The charts of the report's overall figures (daily availability, downtime per month), drawn
/// when the report has daily series.
pub(crate) fn overall_charts(report: &AvailabilityReport) -> Vec<Chart> {
    charts_of(&report.overall, &report.overall.name, &Axis::of(report))
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Chart geometry (SVG user units; the page keeps charts at least 560 px wide, so text
/// stays legible on a phone, which scrolls them, showing the latest days first).
const W: f64 = 720.0;
const H: f64 = 210.0;
/// Left margin, wide enough for the longest axis label (`99.99%`, `8h 45m 36s`).
const LEFT: f64 = 92.0;
const RIGHT: f64 = 10.0;
/// The plot's top; the margin above holds the "not yet measured" label.
const TOP: f64 = 24.0;
/// The plot's baseline.
const BASE: f64 = 160.0;
/// The coverage strip under the plot.
const STRIP_TOP: f64 = 166.0;
const STRIP_H: f64 = 10.0;
/// Baseline of the time axis' labels.
const LABELS: f64 = 196.0;
const FONT: &str = "font-size=\"12\" fill=\"#57606a\"";

const PPM: i64 = 1_000_000;
const GREEN: &str = "#1a7f37";
const AMBER: &str = "#9a6700";
const RED: &str = "#cf222e";
/// Unobserved time: never green.
const GREY: &str = "#d0d7de";

/// The time axis of a chart: every local day of the report's period (also those after
/// `measured_to`, which are left blank), so a year is always a year wide.
struct Axis {
    days: Vec<Date>,
}

impl Axis {
    fn of(report: &AvailabilityReport) -> Axis {
        let tz = zone(report);
        let p = Period::new(report.period.from_ms, report.period.to_ms);
        Axis {
            days: upkeep_domain::availability::days(p, &tz)
                .map(|d| d.into_iter().map(|(date, _)| date).collect())
                .unwrap_or_default(),
        }
    }

    fn slot(&self) -> f64 {
        (W - LEFT - RIGHT) / self.days.len().max(1) as f64
    }

    fn x(&self, index: usize) -> f64 {
        LEFT + index as f64 * self.slot()
    }

    /// Month names at the first day of each month (day numbers for a period of a month or
    /// less), thinned out so they never overlap.
    fn labels(&self, svg: &mut String) {
        let monthly = self.days.len() > 45;
        let mut last_x = f64::NEG_INFINITY;
        for (i, d) in self.days.iter().enumerate() {
            let text = if monthly {
                if i > 0 && d.day() != 1 {
                    continue;
                }
                if d.month() == 1 || i == 0 {
                    d.strftime("%b %Y").to_string()
                } else {
                    d.strftime("%b").to_string()
                }
            } else {
                if i % 7 != 0 {
                    continue;
                }
                d.strftime("%-d %b").to_string()
            };
            let x = self.x(i);
            let width = text.chars().count() as f64 * 6.6;
            if x < last_x || x + width > W {
                continue;
            }
            last_x = x + width + 6.0;
            let _ = write!(
                svg,
                "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{BASE}\" y2=\"{:.2}\" stroke=\"#d0d7de\"/>\
                 <text x=\"{x:.2}\" y=\"{LABELS}\" {FONT}>{}</text>",
                BASE + 4.0,
                esc(&text)
            );
        }
    }

    /// Where measuring stopped, when the period goes on after it: the rest of the plot is left
    /// blank (white) behind a dashed line, labelled in the margin above the plot.
    fn measured_to(&self, measured_days: usize, svg: &mut String) {
        if measured_days >= self.days.len() {
            return;
        }
        let x = self.x(measured_days);
        let anchor = if x > W - 140.0 { "end" } else { "start" };
        let tx = if anchor == "end" { W - RIGHT } else { x + 4.0 };
        let _ = write!(
            svg,
            "<rect class=\"unmeasured\" x=\"{x:.2}\" y=\"{TOP}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"#ffffff\"/>\
             <line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{:.2}\" y2=\"{BASE}\" stroke=\"#57606a\" stroke-dasharray=\"3 3\"/>\
             <text x=\"{tx:.2}\" y=\"{:.2}\" {FONT} text-anchor=\"{anchor}\">not yet measured →</text>",
            (W - RIGHT - x).max(0.0),
            BASE - TOP,
            TOP - 8.0,
            TOP - 10.0
        );
    }
}

fn svg_open(label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    )
}

/// The value axis: a baseline, a left rule and the two labels, right-aligned inside the
/// left margin.
fn value_axis(svg: &mut String, low: &str, high: &str) {
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{BASE}\" stroke=\"#d0d7de\"/>\
         <line x1=\"{LEFT}\" x2=\"{0}\" y1=\"{BASE}\" y2=\"{BASE}\" stroke=\"#d0d7de\"/>\
         <text x=\"{1}\" y=\"{2}\" {FONT} text-anchor=\"end\">{3}</text>\
         <text x=\"{1}\" y=\"{BASE}\" {FONT} text-anchor=\"end\">{4}</text>",
        W - RIGHT,
        LEFT - 6.0,
        TOP + 10.0,
        esc(high),
        esc(low)
    );
}

/// The coverage strip: under each measured day, how much of it was observed (dark) and not
/// (grey).
fn coverage_strip(svg: &mut String, axis: &Axis, days: &[Day]) {
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{:.2}\" {FONT} text-anchor=\"end\">observed</text>",
        LEFT - 6.0,
        STRIP_TOP + STRIP_H - 1.0
    );
    let w = (axis.slot() - 0.4).max(0.3);
    for (i, d) in days.iter().enumerate() {
        let x = axis.x(i);
        let h = STRIP_H * d.coverage_ppm as f64 / 1_000_000.0;
        let _ = write!(
            svg,
            "<rect x=\"{x:.2}\" y=\"{STRIP_TOP}\" width=\"{w:.2}\" height=\"{STRIP_H}\" fill=\"{GREY}\"/>"
        );
        if h > 0.0 {
            let _ = write!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"#57606a\"><title>{}: {} observed</title></rect>",
                STRIP_TOP + STRIP_H - h,
                human_date(d.date),
                percent(d.coverage_ppm)
            );
        }
    }
}

/// Daily SLA availability over observed time: one bar per measured day, scaled between the
/// worst day (at most 99 %) and 100 %; a day with nothing observed is a grey bar, days after
/// `measured_to` are not drawn.
fn daily_chart(name: &str, axis: &Axis, days: &[Day]) -> Option<Chart> {
    if days.is_empty() {
        return None;
    }
    let worst = days.iter().filter_map(|d| d.sla_ppm).min().unwrap_or(PPM);
    // The axis starts at a round figure at or below the worst day, 99 % at the highest.
    let floor = [990_000, 950_000, 900_000, 800_000, 500_000, 0]
        .into_iter()
        .find(|f| *f <= worst)
        .unwrap_or(0);
    let span = (1_000_000 - floor).max(1) as f64;
    let mut svg = svg_open(&format!("Daily availability of {name}"));
    value_axis(&mut svg, &short_percent(floor), "100%");
    let w = (axis.slot() - 0.4).max(0.3);
    let height = BASE - TOP;
    for (i, d) in days.iter().enumerate() {
        let x = axis.x(i);
        let (h, color, text) = match d.sla_ppm {
            None => (height, GREY, "no data (not observed)".to_owned()),
            Some(ppm) => {
                let h = ((ppm - floor) as f64 / span * height).max(1.0);
                let color = if ppm >= 999_000 {
                    GREEN
                } else if ppm >= 990_000 {
                    AMBER
                } else {
                    RED
                };
                let text = format!(
                    "{} over the {} observed",
                    percent(ppm),
                    duration(d.observed_ms)
                );
                (h, color, text)
            }
        };
        let _ = write!(
            svg,
            "<rect class=\"day\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"{color}\"><title>{}: {}</title></rect>",
            BASE - h,
            human_date(d.date),
            esc(&text)
        );
    }
    coverage_strip(&mut svg, axis, days);
    axis.measured_to(days.len(), &mut svg);
    axis.labels(&mut svg);
    svg.push_str("</svg>");
    Some(Chart {
        title: format!("Daily availability — {name}"),
        legend: "Green at least 99.9 %, amber at least 99 %, red below, over the time observed \
                 that day; grey: nothing observed. The strip underneath shows how much of each \
                 day was observed."
            .into(),
        svg,
    })
}

/// Budget burn-down of an SLO over the report's days: the budget left after each measured
/// day. Days with nothing observed spend nothing by assumption and are drawn grey, dashed.
fn burn_chart(slo: &SloReport, axis: &Axis, days: &[Day]) -> Option<Chart> {
    let budget = slo.status.budget_ms;
    if days.is_empty() || budget <= 0 {
        return None;
    }
    let mut left = budget;
    let mut points = vec![(0usize, left, true)];
    for (i, d) in days.iter().enumerate() {
        left -= d.sla_downtime_ms;
        points.push((i + 1, left, d.observed_ms > 0));
    }
    let min = points.iter().map(|p| p.1).min().unwrap_or(0).min(0);
    let span = (budget - min).max(1) as f64;
    let y = |v: i64| TOP + (budget - v) as f64 / span * (BASE - TOP);
    let mut svg = svg_open(&format!(
        "Error budget of {} over the period",
        slo.component
    ));
    value_axis(&mut svg, &duration(min), &duration(budget));
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{1}\" y1=\"{0:.2}\" y2=\"{0:.2}\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\"/>",
        y(0),
        W - RIGHT
    );
    // One polyline per run of observed (blue) or unobserved (grey, dashed) days.
    let mut i = 1;
    while i < points.len() {
        let observed = points[i].2;
        let mut j = i;
        while j + 1 < points.len() && points[j + 1].2 == observed {
            j += 1;
        }
        let path: Vec<String> = points[i - 1..=j]
            .iter()
            .map(|(k, v, _)| format!("{:.2},{:.2}", axis.x(*k), y(*v)))
            .collect();
        let style = if observed {
            "stroke=\"#0969da\" stroke-width=\"2\""
        } else {
            "stroke=\"#8c959f\" stroke-width=\"2\" stroke-dasharray=\"2 2\""
        };
        let _ = write!(
            svg,
            "<polyline fill=\"none\" {style} points=\"{}\"/>",
            path.join(" ")
        );
        i = j + 1;
    }
    coverage_strip(&mut svg, axis, days);
    axis.measured_to(days.len(), &mut svg);
    axis.labels(&mut svg);
    svg.push_str("</svg>");
    Some(Chart {
        title: format!(
            "Error budget burn-down — {} (objective {})",
            slo.component,
            percent(i64::from(slo.status.objective_ppm))
        ),
        legend: "Budget left after each day (blue). Grey dashed: days with nothing observed, \
                 assumed to spend nothing."
            .into(),
        svg,
    })
}

/// One month of the monthly chart.
struct Month {
    first_day: usize,
    /// Its measured days (up to `measured_to`).
    days: usize,
    label: String,
    unplanned_ms: i64,
    planned_ms: i64,
    observed_ms: i64,
    measured: bool,
}

/// Planned and unplanned downtime per month (stacked bars) over the whole period; a month
/// with nothing observed is a grey bar, months after `measured_to` are not drawn.
fn monthly_chart(name: &str, axis: &Axis, days: &[Day]) -> Option<Chart> {
    let mut months: Vec<Month> = Vec::new();
    for (i, date) in axis.days.iter().enumerate() {
        let key = (date.year(), date.month());
        let new = months.last().is_none_or(|m| {
            axis.days
                .get(m.first_day)
                .is_none_or(|d| (d.year(), d.month()) != key)
        });
        if new {
            months.push(Month {
                first_day: i,
                days: 0,
                label: date.strftime("%b").to_string(),
                unplanned_ms: 0,
                planned_ms: 0,
                observed_ms: 0,
                measured: false,
            });
        }
        let Some(m) = months.last_mut() else { continue };
        if let Some(d) = days.get(i) {
            m.days += 1;
            m.measured = true;
            m.unplanned_ms += d.sla_downtime_ms;
            m.planned_ms += d.planned_ms.min(d.length_ms);
            m.observed_ms += d.observed_ms;
        }
    }
    if days.is_empty() || months.is_empty() {
        return None;
    }
    let max = months
        .iter()
        .map(|m| m.unplanned_ms + m.planned_ms)
        .max()
        .unwrap_or(0)
        .max(60_000);
    let mut svg = svg_open(&format!(
        "Planned and unplanned downtime of {name} per month"
    ));
    value_axis(&mut svg, "0", &duration(max));
    let height = BASE - TOP;
    for m in &months {
        if !m.measured {
            continue;
        }
        let slot = axis.slot() * m.days as f64;
        let x = axis.x(m.first_day) + slot * 0.15;
        let w = slot * 0.7;
        if m.observed_ms == 0 {
            let _ = write!(
                svg,
                "<rect class=\"month\" x=\"{x:.2}\" y=\"{TOP}\" width=\"{w:.2}\" height=\"{height:.2}\" fill=\"{GREY}\"><title>{}: no data (not observed)</title></rect>",
                esc(&m.label)
            );
        } else {
            let scale = |v: i64| v as f64 / max as f64 * height;
            let (hu, hp) = (scale(m.unplanned_ms), scale(m.planned_ms));
            let _ = write!(
                svg,
                "<rect class=\"month\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"{hu:.2}\" fill=\"{RED}\"><title>{}: unplanned {}, {} observed</title></rect>\
                 <rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"{hp:.2}\" fill=\"#0a58ca\"><title>{}: planned {}</title></rect>",
                BASE - hu,
                esc(&m.label),
                esc(&duration(m.unplanned_ms)),
                esc(&duration(m.observed_ms)),
                BASE - hu - hp,
                esc(&m.label),
                esc(&duration(m.planned_ms)),
            );
        }
    }
    coverage_strip(&mut svg, axis, days);
    axis.measured_to(days.len(), &mut svg);
    axis.labels(&mut svg);
    svg.push_str("</svg>");
    Some(Chart {
        title: format!("Downtime per month — {name}"),
        legend: "Unplanned (red) and planned (blue) downtime; grey: a month with nothing \
                 observed."
            .into(),
        svg,
    })
}

fn charts_of(group: &GroupReport, name: &str, axis: &Axis) -> Vec<Chart> {
    [
        daily_chart(name, axis, &group.daily),
        monthly_chart(name, axis, &group.daily),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The overall figure and its coverage in a sentence; no figure when nothing was observed.
pub(crate) fn summary(report: &AvailabilityReport) -> String {
    let o = &report.overall.figures;
    match o.sla_ppm {
        Some(ppm) => format!(
            "Overall {} available (SLA) over the time observed, which is {} of the period.",
            percent(ppm),
            coverage(o)
        ),
        None => "Nothing was observed in this period: there is no availability figure.".into(),
    }
}

/// The self-contained HTML report.
fn html(report: &AvailabilityReport) -> Result<String, askama::Error> {
    let tz = zone(report);
    let axis = Axis::of(report);
    let rows = table_rows(report);
    let mut charts = charts_of(&report.overall, &report.overall.name, &axis);
    for t in &report.tenants {
        charts.extend(charts_of(t, &t.name, &axis));
    }
    for c in &report.components {
        charts.extend(daily_chart(&c.name, &axis, &c.daily));
        if let Some(slo) = report.slos.iter().find(|s| s.component == c.id) {
            charts.extend(burn_chart(slo, &axis, &c.daily));
        }
    }
    let summary = summary(report);
    ReportPage {
        title: title(report),
        period: period_line(report),
        measured: (!report.period.complete).then(|| {
            format!(
                "The period is not over: measured to {}. Days after it are not drawn.",
                human_text_instant(&report.period.measured_to, &tz)
            )
        }),
        coverage: summary,
        coverage_note: COVERAGE_NOTE,
        slo_note: SLO_NOTE,
        weight: percent(i64::from(report.partial_weight_ppm)),
        generated: human_text_instant(&report.generated_at, &tz),
        rows,
        slos: report
            .slos
            .iter()
            .map(|s| SloView {
                component: s.component.clone(),
                objective: percent(i64::from(s.status.objective_ppm)),
                window: format!(
                    "{} ({})",
                    s.window,
                    match (
                        s.window_from.parse::<Timestamp>(),
                        s.window_to.parse::<Timestamp>()
                    ) {
                        (Ok(a), Ok(b)) => human_range(a.as_millisecond(), b.as_millisecond(), &tz),
                        _ => format!("{} – {}", s.window_from, s.window_to),
                    }
                ),
                budget: duration(s.status.budget_ms),
                spent: duration(s.status.spent_ms),
                left: duration(s.status.left_ms),
                observed: coverage(&s.measured),
                met: s.status.met,
                firing: s.firing,
            })
            .collect(),
        charts,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_exactly() {
        assert_eq!(ratio_ppm("0.3"), Ok(300_000));
        assert_eq!(ratio_ppm(".25"), Ok(250_000));
        assert_eq!(ratio_ppm("1"), Ok(1_000_000));
        assert_eq!(ratio_ppm("0.000001"), Ok(1));
        for bad in ["", ".", "1.5", "-0.1", "0.1234567", "abc", "0,3"] {
            assert!(ratio_ppm(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_are_exact_and_readable() {
        assert_eq!(duration(31_536_000), "8h 45m 36s");
        assert_eq!(duration(31_622_400), "8h 47m 2.4s");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(90_061_001), "1d 1h 1m 1.001s");
        assert_eq!(duration(-60_000), "−1m");
    }

    #[test]
    fn a_little_coverage_never_reads_as_none_and_no_data_never_as_100() {
        let f = |observed_ms, period_ms| {
            upkeep_domain::availability::compute(
                Period::new(0, period_ms),
                &upkeep_domain::availability::Timeline::from_levels(
                    Vec::new(),
                    &[(0, observed_ms)],
                ),
                &upkeep_domain::availability::Planned::default(),
                300_000,
            )
        };
        assert_eq!(coverage(&f(1, 31_536_000_000)), "<0.0001%");
        assert_eq!(coverage(&f(0, 31_536_000_000)), "0.0000%");
        assert_eq!(coverage(&f(999, 1000)), "99.9000%");
        assert_eq!(coverage(&f(1000, 1000)), "100.0000%");
        assert_eq!(availability(f(0, 1000).sla_ppm), "no data");
        assert_eq!(availability(f(1, 1000).sla_ppm), "100.0000%");
        assert_eq!(short_percent(990_000), "99%");
        assert_eq!(short_percent(999_500), "99.95%");
    }

    #[test]
    fn percentages_truncate_to_four_decimals() {
        assert_eq!(percent(1_000_000), "100.0000%");
        assert_eq!(percent(999_000), "99.9000%");
        assert_eq!(percent(999_999), "99.9999%");
        assert_eq!(percent(0), "0.0000%");
    }
}
