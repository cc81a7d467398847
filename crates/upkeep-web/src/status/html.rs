//! The HTML status pages — `/`, `/history`, `/incidents/{id}` — and the SVG badges, rendered
//! from the [`Model`] with askama templates (`crates/upkeep-web/templates/`).
//!
//! Safety: templates escape every value; the only unescaped HTML is Markdown that went through
//! [`markdown`], which renders with pulldown-cmark and then keeps only ammonia's allow-list of
//! tags and attributes, with links limited to `http`, `https` and `mailto` and images removed.
//! Nothing an operator or an attacker types can run as script; the Content-Security-Policy
//! (no script sources at all) is a second wall.
//!
//! No JavaScript: a bar's day (uptime and incidents) shows on hover and on focus (tap), with CSS.
//! Under 640 px wide the bars show the last 30 days.

use askama::Template;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::Impact;
use upkeep_domain::maintenance::MaintenanceRecord;
use upkeep_domain::maintenance::MaintenanceStatus;
use upkeep_store::incidents::IncidentRecord;

use super::model::{Model, Section, description};
use super::uptime::{self, DayUptime};

/// The page's stylesheet, served at `/static/status.css`.
pub const CSS: &str = include_str!("../../static/status.css");

/// A short hash of [`CSS`], appended to its URL so browsers may cache it for a year.
pub static CSS_VERSION: LazyLock<String> = LazyLock::new(|| asset_version(CSS));

/// A short hash of a static asset's text (12 hex digits), appended to its URL so that browsers
/// may cache it for a year and fetch it again when it changes.
pub fn asset_version(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Renders Markdown to HTML that is safe to embed (see the module documentation).
pub fn markdown(text: &str) -> String {
    upkeep_domain::markdown::to_safe_html(text)
}

/// `t` for people, in `tz`: `22 Nov 2026, 08:12 CET`.
pub fn local(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%-d %b %Y, %H:%M %Z")
        .to_string()
}

/// `t` for machines (`<time datetime>`): RFC 3339 in UTC.
fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A component status for people.
pub fn status_label(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "Operational",
        ComponentStatus::DegradedPerformance => "Degraded performance",
        ComponentStatus::PartialOutage => "Partial outage",
        ComponentStatus::MajorOutage => "Major outage",
        ComponentStatus::UnderMaintenance => "Under maintenance",
    }
}

fn impact_label(i: Impact) -> &'static str {
    match i {
        Impact::None => "No impact",
        Impact::Minor => "Minor",
        Impact::Major => "Major",
        Impact::Critical => "Critical",
    }
}

/// What the shared layout needs.
struct Layout {
    page_name: String,
    page_url: String,
    tz_name: String,
    updated: String,
    css_version: &'static str,
}

impl Layout {
    fn of(m: &Model) -> Layout {
        Layout {
            page_name: m.name.clone(),
            page_url: m.url.clone(),
            tz_name: m.tz_name.clone(),
            updated: local(m.updated_at, &m.tz),
            css_version: CSS_VERSION.as_str(),
        }
    }
}

struct UpdateView {
    status: &'static str,
    at: String,
    at_iso: String,
    body_html: String,
}

struct IncidentView {
    id: String,
    title: String,
    impact: &'static str,
    impact_label: &'static str,
    status: &'static str,
    started: String,
    started_iso: String,
    resolved: Option<String>,
    components: String,
    updates: Vec<UpdateView>,
    postmortem_html: Option<String>,
}

impl IncidentView {
    fn of(i: &IncidentRecord, m: &Model) -> IncidentView {
        let names: Vec<&str> = i
            .components
            .iter()
            .filter(|c| m.shows(&c.id))
            .map(|c| {
                m.component(&c.id)
                    .map_or(c.id.as_str(), |v| v.name.as_str())
            })
            .collect();
        IncidentView {
            id: i.id.clone(),
            title: i.title.clone(),
            impact: i.impact.as_str(),
            impact_label: impact_label(i.impact),
            status: i.status.as_str(),
            started: local(i.started_at, &m.tz),
            started_iso: iso(i.started_at),
            resolved: i.resolved_at.map(|t| local(t, &m.tz)),
            components: names.join(", "),
            updates: i
                .updates
                .iter()
                .map(|u| UpdateView {
                    status: u.status.as_str(),
                    at: local(u.created_at, &m.tz),
                    at_iso: iso(u.created_at),
                    body_html: markdown(&u.body),
                })
                .collect(),
            postmortem_html: i.postmortem.as_deref().map(markdown),
        }
    }
}

struct Bar {
    class: &'static str,
    date: String,
    uptime: String,
    incidents: Vec<(String, String)>,
}

/// The colour class of a day: by its uptime, or "no data".
fn day_class(d: &DayUptime) -> &'static str {
    match d.uptime_ppm {
        None => "none",
        Some(p) if p >= 999_000 && d.incidents.is_empty() => "up",
        Some(p) if p >= 999_000 => "minor",
        Some(p) if p >= 990_000 => "minor",
        Some(p) if p >= 950_000 => "major",
        Some(_) => "critical",
    }
}

struct ComponentRowView {
    key: String,
    name: String,
    description: Option<String>,
    status: &'static str,
    status_label: &'static str,
    uptime: String,
    bars: Vec<Bar>,
    /// The mean response time over the last day per location, `(location, ms)`; empty unless
    /// the component has `show_latency`.
    latency: Vec<(String, u64)>,
}

struct SectionView {
    name: Option<String>,
    status: &'static str,
    status_label: &'static str,
    components: Vec<ComponentRowView>,
}

/// A maintenance as the pages show it.
struct MaintenanceView {
    id: String,
    title: String,
    kind: &'static str,
    status: &'static str,
    starts: String,
    starts_iso: String,
    ends: String,
    ends_iso: String,
    components: String,
    body_html: String,
    updates: Vec<UpdateView>,
    /// The rollout's progress while under way ("7 of 12 tenants updated"), or empty.
    progress: String,
    /// The slot of the page's tenant, on a tenant's page.
    slot: Option<SlotView>,
}

/// A tenant's slot, in its region's zone.
struct SlotView {
    start: String,
    start_iso: String,
    end: String,
    end_iso: String,
}

impl MaintenanceView {
    fn of(r: &MaintenanceRecord, m: &Model) -> MaintenanceView {
        let names: Vec<&str> = r
            .components
            .iter()
            .filter(|c| m.shows(c))
            .map(|c| m.component(c).map_or(c.as_str(), |v| v.name.as_str()))
            .collect();
        let zone = m.tenant_zone();
        let slot = m.tenant_slot(&r.id).map(|(start, end)| SlotView {
            start: local(start, &zone),
            start_iso: iso(start),
            end: local(end, &zone),
            end_iso: iso(end),
        });
        MaintenanceView {
            slot,
            id: r.id.clone(),
            title: r.title.clone(),
            kind: r.kind.as_str(),
            status: maintenance_label(r.status),
            starts: local(r.starts_at, &m.tz),
            starts_iso: iso(r.starts_at),
            ends: local(r.ends_at, &m.tz),
            ends_iso: iso(r.ends_at),
            components: names.join(", "),
            body_html: markdown(r.description.as_deref().unwrap_or_default()),
            progress: m.rollout_line(&r.id).unwrap_or_default().to_owned(),
            updates: r
                .updates
                .iter()
                .filter(|u| !u.body.is_empty())
                .map(|u| UpdateView {
                    status: maintenance_label(u.status),
                    at: local(u.created_at, &m.tz),
                    at_iso: iso(u.created_at),
                    body_html: markdown(&u.body),
                })
                .collect(),
        }
    }
}

fn maintenance_label(s: MaintenanceStatus) -> &'static str {
    match s {
        MaintenanceStatus::Scheduled => "scheduled",
        MaintenanceStatus::InProgress => "in progress",
        MaintenanceStatus::Verifying => "verifying",
        MaintenanceStatus::Completed => "completed",
        MaintenanceStatus::Cancelled => "cancelled",
    }
}

/// How many upcoming maintenances the front page lists (the calendar has them all).
const UPCOMING_ON_PAGE: usize = 5;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    page_name: String,
    page_url: String,
    tz_name: String,
    updated: String,
    css_version: &'static str,
    indicator: &'static str,
    banner_text: &'static str,
    active: Vec<IncidentView>,
    maintenance: Vec<MaintenanceView>,
    more_upcoming: usize,
    sections: Vec<SectionView>,
}

#[derive(Template)]
#[template(path = "tenant.html")]
struct TenantPage {
    page_name: String,
    page_url: String,
    tz_name: String,
    updated: String,
    css_version: &'static str,
    tenant_id: String,
    tenant_name: String,
    tenant_tz: String,
    indicator: &'static str,
    banner_text: &'static str,
    active: Vec<IncidentView>,
    maintenance: Vec<MaintenanceView>,
    more_upcoming: usize,
    sections: Vec<SectionView>,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    page_name: String,
    page_url: String,
    tz_name: String,
    updated: String,
    css_version: &'static str,
    months: Vec<Month>,
    maintenance: Vec<MaintenanceView>,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenancePage {
    page_name: String,
    page_url: String,
    tz_name: String,
    updated: String,
    css_version: &'static str,
    w: MaintenanceView,
}

struct Month {
    name: String,
    incidents: Vec<IncidentView>,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    page_name: String,
    page_url: String,
    tz_name: String,
    updated: String,
    css_version: &'static str,
    i: IncidentView,
}

#[derive(Template)]
#[template(path = "badge.svg")]
struct Badge<'a> {
    width: u32,
    left: u32,
    right: u32,
    left_mid: u32,
    right_mid: u32,
    label: &'a str,
    value: &'a str,
    color: &'static str,
}

fn component_row(c: &super::model::ComponentView) -> ComponentRowView {
    ComponentRowView {
        key: c.key.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        status: c.status.as_str(),
        status_label: status_label(c.status),
        uptime: uptime::uptime_over(&c.days, uptime::DAYS).map_or_else(
            || "No data".to_owned(),
            |p| format!("{} uptime", uptime::percent(p)),
        ),
        bars: c
            .days
            .iter()
            .map(|d| Bar {
                class: day_class(d),
                date: d.date.strftime("%-d %b %Y").to_string(),
                uptime: d.uptime_ppm.map_or_else(
                    || "No data".to_owned(),
                    |p| format!("{} uptime", uptime::percent(p)),
                ),
                incidents: d.incidents.clone(),
            })
            .collect(),
        latency: c.latency.clone(),
    }
}

/// `/`: banner, active incidents, maintenance, components with their bars.
pub fn index(m: &Model) -> Result<String, askama::Error> {
    let (maintenance, more_upcoming) = front_maintenance(m);
    let layout = Layout::of(m);
    IndexPage {
        page_name: layout.page_name,
        page_url: layout.page_url,
        tz_name: layout.tz_name,
        updated: layout.updated,
        css_version: layout.css_version,
        indicator: m.indicator,
        banner_text: description(m.indicator),
        active: m
            .unresolved
            .iter()
            .map(|i| IncidentView::of(i, m))
            .collect(),
        maintenance,
        more_upcoming,
        sections: section_views(m),
    }
    .render()
}

/// `/tenants/{id}`: the page of the tenant `m` is scoped to ([`Model::for_tenant`]): its own
/// components and the shared ones, the incidents on them, the maintenance covering it with its
/// slot in its region's zone. `None` for a model of no tenant.
pub fn tenant(m: &Model) -> Option<Result<String, askama::Error>> {
    let tenant_id = m.tenant.clone()?;
    let tenant = m.tenants.get(&tenant_id)?;
    let tenant_tz = m
        .regions
        .get(&tenant.region)
        .map_or_else(|| m.tz_name.clone(), |r| r.timezone_name.clone());
    let (maintenance, more_upcoming) = front_maintenance(m);
    let layout = Layout::of(m);
    Some(
        TenantPage {
            page_name: layout.page_name,
            page_url: layout.page_url,
            tz_name: layout.tz_name,
            updated: layout.updated,
            css_version: layout.css_version,
            tenant_id,
            tenant_name: tenant.name.clone(),
            tenant_tz,
            indicator: m.indicator,
            banner_text: description(m.indicator),
            active: m
                .unresolved
                .iter()
                .map(|i| IncidentView::of(i, m))
                .collect(),
            maintenance,
            more_upcoming,
            sections: section_views(m),
        }
        .render(),
    )
}

/// The maintenance a front page lists (active, then the first upcoming ones), and how many
/// more are upcoming.
fn front_maintenance(m: &Model) -> (Vec<MaintenanceView>, usize) {
    let upcoming: Vec<&MaintenanceRecord> = m.upcoming_maintenances().collect();
    let maintenance = m
        .active_maintenances()
        .chain(upcoming.iter().take(UPCOMING_ON_PAGE).copied())
        .map(|r| MaintenanceView::of(r, m))
        .collect();
    (maintenance, upcoming.len().saturating_sub(UPCOMING_ON_PAGE))
}

/// The component sections of a front page.
fn section_views(m: &Model) -> Vec<SectionView> {
    m.sections
        .iter()
        .map(|s| match s {
            Section::Single(i) => SectionView {
                name: None,
                status: "",
                status_label: "",
                components: m
                    .components
                    .get(*i)
                    .map(component_row)
                    .into_iter()
                    .collect(),
            },
            Section::Group {
                name,
                status,
                members,
                ..
            } => SectionView {
                name: Some(name.clone()),
                status: status.as_str(),
                status_label: status_label(*status),
                components: members
                    .iter()
                    .filter_map(|i| m.components.get(*i))
                    .map(component_row)
                    .collect(),
            },
        })
        .collect()
}

/// `/history`: the recent incidents by month of their start, newest first.
pub fn history(m: &Model) -> Result<String, askama::Error> {
    let layout = Layout::of(m);
    let mut months: Vec<Month> = Vec::new();
    for i in &m.recent {
        let name = i
            .started_at
            .to_zoned(m.tz.clone())
            .strftime("%B %Y")
            .to_string();
        let view = IncidentView::of(i, m);
        match months.last_mut() {
            Some(last) if last.name == name => last.incidents.push(view),
            _ => months.push(Month {
                name,
                incidents: vec![view],
            }),
        }
    }
    HistoryPage {
        page_name: layout.page_name,
        page_url: layout.page_url,
        tz_name: layout.tz_name,
        updated: layout.updated,
        css_version: layout.css_version,
        months,
        maintenance: m
            .past_maintenances()
            .take(20)
            .map(|r| MaintenanceView::of(r, m))
            .collect(),
    }
    .render()
}

/// `/incidents/{id}`.
pub fn incident(m: &Model, i: &IncidentRecord) -> Result<String, askama::Error> {
    let layout = Layout::of(m);
    IncidentPage {
        page_name: layout.page_name,
        page_url: layout.page_url,
        tz_name: layout.tz_name,
        updated: layout.updated,
        css_version: layout.css_version,
        i: IncidentView::of(i, m),
    }
    .render()
}

/// `/maintenance/{id}`.
pub fn maintenance(m: &Model, r: &MaintenanceRecord) -> Result<String, askama::Error> {
    let layout = Layout::of(m);
    MaintenancePage {
        page_name: layout.page_name,
        page_url: layout.page_url,
        tz_name: layout.tz_name,
        updated: layout.updated,
        css_version: layout.css_version,
        w: MaintenanceView::of(r, m),
    }
    .render()
}

/// Approximate width in pixels of `text` in 11 px Verdana (as badge renderers estimate it).
fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '!' | '\'' | '|' => 4,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' => 5,
            'm' | 'w' | 'M' | 'W' | '%' => 10,
            c if c.is_ascii_uppercase() => 8,
            _ => 7,
        })
        .sum()
}

/// `/badge/{component}.svg`: the component's name, status and 30-day uptime.
pub fn badge(c: &super::model::ComponentView) -> Result<String, askama::Error> {
    let value = match uptime::uptime_over(&c.days, uptime::BADGE_DAYS) {
        Some(p) => format!(
            "{} · {}",
            status_label(c.status).to_lowercase(),
            uptime::percent(p)
        ),
        None => status_label(c.status).to_lowercase(),
    };
    let color = match c.status {
        ComponentStatus::Operational => "#1a7f37",
        ComponentStatus::UnderMaintenance => "#0a58ca",
        ComponentStatus::DegradedPerformance => "#9a6700",
        ComponentStatus::PartialOutage => "#bc4c00",
        ComponentStatus::MajorOutage => "#cf222e",
    };
    let left = text_width(&c.name) + 12;
    let right = text_width(&value) + 12;
    Badge {
        width: left + right,
        left,
        right,
        left_mid: left / 2,
        right_mid: left + right / 2,
        label: &c.name,
        value: &value,
        color,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_formatting_and_drops_script() {
        let html = markdown("**Fixed** the [status](https://example.com) page");
        assert!(html.contains("<strong>Fixed</strong>"), "{html}");
        assert!(html.contains(r#"href="https://example.com""#), "{html}");
        assert!(html.contains("noopener"), "{html}");

        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<p onclick=\"alert(1)\">x</p>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg><script>alert(1)</script></svg>",
            "[x](JaVaScRiPt:alert(1))",
            "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
            "<style>body{display:none}</style>",
        ] {
            let html = markdown(hostile).to_ascii_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onclick",
                "javascript:",
                "<iframe",
                "data:text",
                "<style",
                "<img",
            ] {
                assert!(!html.contains(bad), "{hostile:?} rendered as {html:?}");
            }
        }
    }

    #[test]
    fn local_times_use_the_zone_abbreviation() {
        let t: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap_or_default();
        let rome = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
        assert_eq!(local(t, &rome), "1 Jul 2026, 12:00 CEST");
    }
}
