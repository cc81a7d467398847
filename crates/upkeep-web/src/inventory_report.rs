//! The update inventory as people read it, for `upkeep inventory report`: a text table, JSON
//! (the API's shape), CSV and a self-contained HTML document (no script, no network).

use std::fmt::Write as _;

use askama::Template;

use crate::api::inventory::{InventoryView, TargetView};
use crate::reports::{Format, csv_field};

/// Renders the rows in `format`; `generated` says when (RFC 3339).
pub fn render(rows: &[InventoryView], format: Format, generated: &str) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(rows).map_err(|e| e.to_string()),
        Format::Table => Ok(table(rows)),
        Format::Csv => Ok(csv(rows)),
        Format::Html => InventoryPage {
            generated: generated.to_owned(),
            rows: rows.iter().map(Line::of).collect(),
        }
        .render()
        .map_err(|e| e.to_string()),
    }
}

/// `VERSION (N behind, D d)` or `-`.
fn target(t: Option<&TargetView>) -> String {
    match t {
        None => "-".to_owned(),
        Some(t) if t.releases_behind == 0 => t.version.clone(),
        Some(t) => match t.days_behind {
            Some(days) => format!("{} ({} behind, {days} d)", t.version, t.releases_behind),
            None => format!("{} ({} behind)", t.version, t.releases_behind),
        },
    }
}

fn eol(r: &InventoryView) -> String {
    match &r.end_of_life {
        None => "-".to_owned(),
        Some(e) => match (&e.date, e.days_left) {
            (Some(date), Some(days)) if days < 0 => format!("{date} (ended {} d ago)", -days),
            (Some(date), Some(days)) => format!("{date} ({days} d left)"),
            (Some(date), None) => date.clone(),
            (None, _) if e.ended => "ended".to_owned(),
            (None, _) => "none announced".to_owned(),
        },
    }
}

/// One row as text cells (also the console's inventory page's rows).
pub(crate) struct Line {
    pub(crate) item: String,
    pub(crate) place: String,
    pub(crate) chart: String,
    pub(crate) deployed: String,
    pub(crate) app: String,
    pub(crate) state: String,
    pub(crate) patch: String,
    pub(crate) minor: String,
    pub(crate) latest: String,
    pub(crate) eol: String,
    pub(crate) note: String,
}

impl Line {
    pub(crate) fn of(r: &InventoryView) -> Line {
        let mut note = r.note.clone().unwrap_or_default();
        if let Some(e) = &r.index.error {
            let age = r.index.age_seconds.map_or("never read".to_owned(), |s| {
                format!("data {} h old", s / 3600)
            });
            if !note.is_empty() {
                note.push_str("; ");
            }
            let _ = write!(note, "index unreadable ({e}); {age}");
        }
        Line {
            item: r.item.clone(),
            place: r.place.clone().unwrap_or_else(|| "-".to_owned()),
            chart: r.chart.clone(),
            deployed: r.chart_version.clone().unwrap_or_else(|| "-".to_owned()),
            app: r.app_version.clone().unwrap_or_else(|| "-".to_owned()),
            state: r.state.clone(),
            patch: target(r.latest_patch.as_ref()),
            minor: target(r.latest_minor.as_ref()),
            latest: match (&r.latest, &r.successor) {
                (None, Some(s)) => format!("{} {} (successor)", s.chart, s.version),
                (latest, _) => target(latest.as_ref()),
            },
            eol: eol(r),
            note,
        }
    }

    fn cells(&self) -> [&str; 10] {
        [
            &self.item,
            &self.place,
            &self.chart,
            &self.deployed,
            &self.app,
            &self.state,
            &self.patch,
            &self.minor,
            &self.latest,
            &self.eol,
        ]
    }
}

const HEADERS: [&str; 10] = [
    "ITEM",
    "PLACE",
    "CHART",
    "DEPLOYED",
    "APP",
    "STATE",
    "LATEST PATCH",
    "LATEST MINOR",
    "LATEST",
    "END OF LIFE",
];

fn table(rows: &[InventoryView]) -> String {
    let lines: Vec<Line> = rows.iter().map(Line::of).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line.cells()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut write_row = |cells: [&str; 10], note: &str| {
        let mut text = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        let text = text.trim_end();
        let _ = writeln!(out, "{text}");
        if !note.is_empty() {
            let _ = writeln!(out, "    {note}");
        }
    };
    write_row(HEADERS, "");
    for line in &lines {
        write_row(line.cells(), &line.note);
    }
    if lines.is_empty() {
        out.push_str("(no inventory items: declare them under `inventory.items`)\n");
    }
    out
}

fn csv(rows: &[InventoryView]) -> String {
    let mut out = String::from(
        "item,place,chart,chart_version,app_version,state,latest_patch,latest_patch_behind,\
         latest_minor,latest_minor_behind,latest,latest_behind,latest_days_behind,\
         end_of_life,end_of_life_days_left,index_age_seconds,index_error\n",
    );
    let opt = |s: Option<&str>| csv_field(s.unwrap_or(""));
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    for r in rows {
        let t = |t: &Option<TargetView>| {
            (
                opt(t.as_ref().map(|t| t.version.as_str())),
                t.as_ref()
                    .map(|t| t.releases_behind.to_string())
                    .unwrap_or_default(),
            )
        };
        let (patch, patch_n) = t(&r.latest_patch);
        let (minor, minor_n) = t(&r.latest_minor);
        let (latest, latest_n) = t(&r.latest);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{patch},{patch_n},{minor},{minor_n},{latest},{latest_n},{},{},{},{},{}",
            csv_field(&r.item),
            opt(r.place.as_deref()),
            csv_field(&r.chart),
            opt(r.chart_version.as_deref()),
            opt(r.app_version.as_deref()),
            r.state,
            num(r.latest.as_ref().and_then(|t| t.days_behind)),
            opt(r.end_of_life.as_ref().and_then(|e| e.date.as_deref())),
            num(r.end_of_life.as_ref().and_then(|e| e.days_left)),
            num(r.index.age_seconds),
            opt(r.index.error.as_deref()),
        );
    }
    out
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct InventoryPage {
    generated: String,
    rows: Vec<Line>,
}
