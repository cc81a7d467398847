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
use jiff::Timestamp;
use upkeep_domain::availability::{Day, Figures};
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

fn rows(report: &AvailabilityReport) -> Vec<(String, String, &Figures)> {
    let mut rows: Vec<(String, String, &Figures)> = report
        .components
        .iter()
        .map(|c| ("component".to_owned(), c.name.clone(), &c.figures))
        .collect();
    rows.extend(
        report
            .tenants
            .iter()
            .map(|t| ("tenant".to_owned(), t.name.clone(), &t.figures)),
    );
    rows.push((
        "overall".to_owned(),
        report.overall.name.clone(),
        &report.overall.figures,
    ));
    rows
}

fn period_line(report: &AvailabilityReport) -> String {
    let p = &report.period;
    let mut line = format!("{} – {} ({})", p.from, p.to, p.timezone);
    if let Some(days) = p.year_days {
        let _ = write!(line, ", a year of {days} days");
    }
    if !p.complete {
        let _ = write!(line, ", measured to {}", p.measured_to);
    }
    line
}

/// The text table.
fn table(report: &AvailabilityReport) -> String {
    let mut out = format!("Availability {}\n", period_line(report));
    let _ = writeln!(
        out,
        "Partial outages weigh {}; SLA leaves out maintenance that does not count as downtime.\n",
        percent(i64::from(report.partial_weight_ppm))
    );
    let rows = rows(report);
    let name_width = rows
        .iter()
        .map(|(_, n, _)| n.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>10}  {:>10}  {:>16}  {:>16}",
        "NAME", "SLA", "RAW", "UNPLANNED DOWN", "PLANNED DOWN"
    );
    for (_, name, f) in &rows {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>10}  {:>10}  {:>16}  {:>16}",
            name,
            percent(f.sla_ppm),
            percent(f.raw_ppm),
            duration(f.sla_downtime_ms),
            duration(f.planned_downtime_ms),
        );
    }
    if !report.slos.is_empty() {
        let _ = writeln!(out, "\nSLOs");
        for s in &report.slos {
            let _ = writeln!(
                out,
                "{}: objective {}, {} window: budget {}, spent {}, left {}{}{}",
                s.component,
                percent(i64::from(s.status.objective_ppm)),
                s.window,
                duration(s.status.budget_ms),
                duration(s.status.spent_ms),
                duration(s.status.left_ms),
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

/// CSV: one row per component, tenant and overall; durations in milliseconds, ratios in ppm.
fn csv(report: &AvailabilityReport) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) || s.starts_with(['=', '+', '-', '@']) {
            // Quoted, and a leading formula character neutralised for spreadsheets.
            let s = if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.to_owned()
            };
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from(
        "kind,name,from,to,period_ms,sla_ppm,raw_ppm,unplanned_ppm,sla_downtime_ms,downtime_ms,\
         planned_downtime_ms,major_ms,partial_ms,degraded_ms,planned_ms\n",
    );
    for (kind, name, f) in rows(report) {
        let _ = writeln!(
            out,
            "{kind},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            quote(&name),
            report.period.from,
            report.period.to,
            f.period_ms,
            f.sla_ppm,
            f.raw_ppm,
            f.unplanned_ppm,
            f.sla_downtime_ms,
            f.downtime_ms,
            f.planned_downtime_ms,
            f.major_ms,
            f.partial_ms,
            f.degraded_ms,
            f.planned_ms,
        );
    }
    out
}

struct Row {
    kind: &'static str,
    name: String,
    sla: String,
    raw: String,
    unplanned: String,
    planned: String,
    major: String,
    partial: String,
}

struct Chart {
    title: String,
    svg: String,
}

struct SloView {
    component: String,
    objective: String,
    window: String,
    budget: String,
    spent: String,
    left: String,
    met: bool,
    firing: bool,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    title: String,
    period: String,
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
        sla: percent(f.sla_ppm),
        raw: percent(f.raw_ppm),
        unplanned: duration(f.sla_downtime_ms),
        planned: duration(f.planned_downtime_ms),
        major: duration(f.major_ms),
        partial: duration(f.partial_ms),
    }
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const PAD: f64 = 36.0;

/// Daily SLA availability: one bar per day, scaled between the worst day (at most 99 %) and
/// 100 %.
fn daily_chart(name: &str, days: &[Day]) -> Option<Chart> {
    if days.is_empty() {
        return None;
    }
    let floor = days
        .iter()
        .map(|d| d.sla_ppm)
        .min()
        .unwrap_or(1_000_000)
        .min(990_000);
    let span = (1_000_000 - floor).max(1) as f64;
    let bar = (W - PAD) / days.len() as f64;
    let mut svg = svg_open(&format!("Daily availability of {name}"));
    axis(&mut svg, &percent(floor), "100%");
    for (i, d) in days.iter().enumerate() {
        let h = ((d.sla_ppm - floor) as f64 / span * (H - 2.0 * 12.0)).max(0.5);
        let x = PAD + i as f64 * bar;
        let color = if d.sla_ppm >= 999_000 {
            "#1a7f37"
        } else if d.sla_ppm >= 990_000 {
            "#9a6700"
        } else {
            "#cf222e"
        };
        let _ = write!(
            svg,
            "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"{color}\"><title>{}: {}</title></rect>",
            H - 12.0 - h,
            (bar - 0.4).max(0.3),
            d.date,
            percent(d.sla_ppm)
        );
    }
    svg.push_str("</svg>");
    Some(Chart {
        title: format!("Daily availability — {name}"),
        svg,
    })
}

/// Budget burn-down of an SLO over the report's days: the budget left after each day.
fn burn_chart(slo: &SloReport, days: &[Day]) -> Option<Chart> {
    let budget = slo.status.budget_ms;
    if days.is_empty() || budget <= 0 {
        return None;
    }
    let mut left = budget;
    let mut points = vec![(0usize, left)];
    for (i, d) in days.iter().enumerate() {
        left -= d.sla_downtime_ms;
        points.push((i + 1, left));
    }
    let min = points.iter().map(|p| p.1).min().unwrap_or(0).min(0);
    let span = (budget - min).max(1) as f64;
    let step = (W - PAD) / days.len() as f64;
    let y = |v: i64| 12.0 + (budget - v) as f64 / span * (H - 24.0);
    let mut svg = svg_open(&format!(
        "Error budget of {} over the period",
        slo.component
    ));
    axis(&mut svg, &duration(min), &duration(budget));
    let path: Vec<String> = points
        .iter()
        .map(|(i, v)| format!("{:.2},{:.2}", PAD + *i as f64 * step, y(*v)))
        .collect();
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" x2=\"{W}\" y1=\"{0:.2}\" y2=\"{0:.2}\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\"/>\
         <polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"{1}\"/></svg>",
        y(0),
        path.join(" ")
    );
    Some(Chart {
        title: format!(
            "Error budget burn-down — {} (objective {})",
            slo.component,
            percent(i64::from(slo.status.objective_ppm))
        ),
        svg,
    })
}

/// Planned and unplanned downtime per month (stacked bars).
fn monthly_chart(name: &str, days: &[Day]) -> Option<Chart> {
    let mut months: Vec<(String, i64, i64)> = Vec::new();
    for d in days {
        let key = d.date.strftime("%Y-%m").to_string();
        let planned = d.planned_ms.min(d.length_ms);
        let unplanned = d.sla_downtime_ms;
        match months.last_mut() {
            Some(m) if m.0 == key => {
                m.1 += unplanned;
                m.2 += planned;
            }
            _ => months.push((key, unplanned, planned)),
        }
    }
    if months.is_empty() {
        return None;
    }
    let max = months
        .iter()
        .map(|m| m.1 + m.2)
        .max()
        .unwrap_or(0)
        .max(60_000);
    let bar = (W - PAD) / months.len() as f64;
    let mut svg = svg_open(&format!(
        "Planned and unplanned downtime of {name} per month"
    ));
    axis(&mut svg, "0", &duration(max));
    for (i, (month, unplanned, planned)) in months.iter().enumerate() {
        let x = PAD + i as f64 * bar + bar * 0.15;
        let scale = |v: i64| v as f64 / max as f64 * (H - 24.0);
        let (hu, hp) = (scale(*unplanned), scale(*planned));
        let _ = write!(
            svg,
            "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{hu:.2}\" fill=\"#cf222e\"><title>{month}: unplanned {}</title></rect>\
             <rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{hp:.2}\" fill=\"#0a58ca\"><title>{month}: planned {}</title></rect>\
             <text x=\"{:.2}\" y=\"{:.2}\" font-size=\"9\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
            H - 12.0 - hu,
            bar * 0.7,
            esc(&duration(*unplanned)),
            H - 12.0 - hu - hp,
            bar * 0.7,
            esc(&duration(*planned)),
            x + bar * 0.35,
            H - 1.0,
            esc(&month[5..]),
        );
    }
    svg.push_str("</svg>");
    Some(Chart {
        title: format!("Planned (blue) and unplanned (red) downtime per month — {name}"),
        svg,
    })
}

fn svg_open(label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    )
}

fn axis(svg: &mut String, low: &str, high: &str) {
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" x2=\"{PAD}\" y1=\"8\" y2=\"{0}\" stroke=\"#d0d7de\"/>\
         <line x1=\"{PAD}\" x2=\"{W}\" y1=\"{0}\" y2=\"{0}\" stroke=\"#d0d7de\"/>\
         <text x=\"{1}\" y=\"16\" font-size=\"9\" text-anchor=\"end\" fill=\"#57606a\">{2}</text>\
         <text x=\"{1}\" y=\"{0}\" font-size=\"9\" text-anchor=\"end\" fill=\"#57606a\">{3}</text>",
        H - 12.0,
        PAD - 3.0,
        esc(high),
        esc(low)
    );
}

fn charts_of(group: &GroupReport, name: &str) -> Vec<Chart> {
    [
        daily_chart(name, &group.daily),
        monthly_chart(name, &group.daily),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The self-contained HTML report.
fn html(report: &AvailabilityReport) -> Result<String, askama::Error> {
    let mut rows: Vec<Row> = report
        .components
        .iter()
        .map(|c| row("component", &c.name, &c.figures))
        .collect();
    rows.extend(
        report
            .tenants
            .iter()
            .map(|t| row("tenant", &t.name, &t.figures)),
    );
    rows.push(row(
        "overall",
        &report.overall.name,
        &report.overall.figures,
    ));
    let mut charts = charts_of(&report.overall, &report.overall.name);
    for t in &report.tenants {
        charts.extend(charts_of(t, &t.name));
    }
    for c in &report.components {
        charts.extend(daily_chart(&c.name, &c.daily));
        if let Some(slo) = report.slos.iter().find(|s| s.component == c.id) {
            charts.extend(burn_chart(slo, &c.daily));
        }
    }
    ReportPage {
        title: format!(
            "Availability report {}",
            report.period.from.get(..10).unwrap_or("")
        ),
        period: period_line(report),
        weight: percent(i64::from(report.partial_weight_ppm)),
        generated: report.generated_at.clone(),
        rows,
        slos: report
            .slos
            .iter()
            .map(|s| SloView {
                component: s.component.clone(),
                objective: percent(i64::from(s.status.objective_ppm)),
                window: format!("{} ({} – {})", s.window, s.window_from, s.window_to),
                budget: duration(s.status.budget_ms),
                spent: duration(s.status.spent_ms),
                left: duration(s.status.left_ms),
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
    fn percentages_truncate_to_four_decimals() {
        assert_eq!(percent(1_000_000), "100.0000%");
        assert_eq!(percent(999_000), "99.9000%");
        assert_eq!(percent(999_999), "99.9999%");
        assert_eq!(percent(0), "0.0000%");
    }
}
