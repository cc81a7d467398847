//! The Atlassian Statuspage v2 JSON documents (`/api/v2/*.json`), built from one set of inputs:
//! the configuration, the live monitor statuses, the firing rules and the stored incidents.
//!
//! This module is pure: it reads no clock and performs no I/O, so the same inputs always give
//! the same bytes (which is what lets the snapshot keep its ETag when nothing changed).
//!
//! Every object carries the fields real Statuspage pages send, with the same JSON types and
//! the same nulls (pinned against stored Statuspage documents by the web crate's tests;
//! `docs/statuspage.md` lists the choices). In short:
//! - ids are 12 lowercase alphanumerics; incidents and updates keep their stored ids, config
//!   objects get [`stable_id`], a hash of their config id (components), their name (groups) or
//!   the page's URL (the page);
//! - timestamps are ISO 8601 with milliseconds in the page's zone (`page.timezone`);
//! - a group is a row with `group: true` and `components: [child ids]`, children carry
//!   `group_id`; `position` counts from 1 among siblings (the top-level rows, or one group's
//!   children) and the list is ordered by position, as Statuspage orders it;
//! - `start_date` is null (upkeep keeps no start date per component);
//! - an incident's `components` are the same objects as in `components.json`, in its order;
//!   an update's `affected_components` is null when it names no component; `reminder_intervals`
//!   is null; `postmortem_body` (an addition) holds the postmortem's Markdown, if any;
//! - a component's `created_at` is when the configuration defining it was loaded, its
//!   `updated_at` the latest of that, its monitors' last status change and the last update of
//!   an unresolved incident affecting it;
//! - a maintenance whose rollout is under way carries `rollout_progress` (an addition): one
//!   line, "7 of 12 tenants updated", nothing internal.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::IncidentStatus;
use upkeep_domain::maintenance::MaintenanceRecord;
use upkeep_domain::maintenance::MaintenanceStatus;
use upkeep_store::incidents::IncidentRecord;

use super::model::{ComponentView, Model, Section, description, stable_id};

/// How many incidents `incidents.json` lists (the most recent).
pub const RECENT_INCIDENTS: usize = 50;

/// The plain JSON body of each endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    pub summary: Vec<u8>,
    pub status: Vec<u8>,
    pub components: Vec<u8>,
    pub incidents: Vec<u8>,
    pub unresolved: Vec<u8>,
    pub scheduled_maintenances: Vec<u8>,
    pub upcoming_maintenances: Vec<u8>,
    pub active_maintenances: Vec<u8>,
}

/// `t` as ISO 8601 with milliseconds and the offset of `tz`, e.g.
/// `2026-11-22T07:12:00.123+01:00`.
pub fn timestamp(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// Builds every document from `model`.
pub fn build(model: &Model) -> Result<Documents, serde_json::Error> {
    let tz = &model.tz;
    let page_id = model.page_id.as_str();
    let components = component_rows(model);
    let by_key: HashMap<&str, &ComponentView> = model
        .components
        .iter()
        .map(|c| (c.key.as_str(), c))
        .collect();
    let rows_by_id: HashMap<&str, (usize, &Value)> = components
        .iter()
        .enumerate()
        .filter_map(|(at, row)| row["id"].as_str().map(|id| (id, (at, row))))
        .collect();
    let page_of = Page {
        components: by_key,
        rows: rows_by_id,
        page_id,
        page_url: &model.url,
        tz,
    };
    let incident_json = |i: &IncidentRecord| incident(i, &page_of);
    let recent: Vec<Value> = model
        .recent
        .iter()
        .take(RECENT_INCIDENTS)
        .map(incident_json)
        .collect();
    let unresolved: Vec<Value> = model.unresolved.iter().map(incident_json).collect();

    let status = json!({
        "indicator": model.indicator,
        "description": description(model.indicator),
    });
    let page = json!({
        "id": page_id,
        "name": model.name,
        "url": model.url,
        "time_zone": model.tz_name,
        "updated_at": timestamp(model.updated_at, tz),
    });

    let doc = |v: Value| serde_json::to_vec(&v);
    let maint = |m: &MaintenanceRecord| {
        let mut doc = maintenance(m, &page_of);
        // An addition: the progress of its rollout, while under way.
        if let (Some(line), Value::Object(map)) = (model.rollout_line(&m.id), &mut doc) {
            map.insert("rollout_progress".into(), Value::String(line.to_owned()));
        }
        doc
    };
    // Cancelled maintenances have no Statuspage status: they are left out of the JSON (the
    // HTML page and the calendars show them).
    let listed = model
        .maintenances
        .iter()
        .filter(|m| m.status != MaintenanceStatus::Cancelled);
    let upcoming: Vec<Value> = model.upcoming_maintenances().map(maint).collect();
    let active: Vec<Value> = model.active_maintenances().map(maint).collect();
    let mut all: Vec<&MaintenanceRecord> = listed.collect();
    all.sort_by(|a, b| (b.starts_at, &b.id).cmp(&(a.starts_at, &a.id)));
    let all: Vec<Value> = all.into_iter().take(RECENT_INCIDENTS).map(maint).collect();
    let current: Vec<Value> = model
        .active_maintenances()
        .chain(model.upcoming_maintenances())
        .map(maint)
        .collect();
    Ok(Documents {
        summary: doc(json!({
            "page": page,
            "components": components,
            "incidents": unresolved,
            "scheduled_maintenances": current,
            "status": status,
        }))?,
        status: doc(json!({ "page": page, "status": status }))?,
        components: doc(json!({ "page": page, "components": components }))?,
        incidents: doc(json!({ "page": page, "incidents": recent }))?,
        unresolved: doc(json!({ "page": page, "incidents": unresolved }))?,
        scheduled_maintenances: doc(json!({ "page": page, "scheduled_maintenances": all }))?,
        upcoming_maintenances: doc(json!({ "page": page, "scheduled_maintenances": upcoming }))?,
        active_maintenances: doc(json!({ "page": page, "scheduled_maintenances": active }))?,
    })
}

/// The `components` list. Ungrouped components and groups are the top-level rows, in the order
/// of their first component, numbered 1, 2, ...; each group's children are numbered 1, 2, ...
/// among themselves. The list is ordered by position, which is how Statuspage lists them; at
/// equal positions the top-level row comes first, then the children in group order.
fn component_rows(model: &Model) -> Vec<Value> {
    let tz = &model.tz;
    let created_at = model.config_loaded_at;
    // (position, 0 for a top-level row or 1 for a child, top-level position of its section)
    let mut rows: Vec<((u32, u8, u32), Value)> = Vec::new();
    let mut top = 0u32;
    for section in &model.sections {
        match section {
            Section::Single(i) => {
                if let Some(c) = model.components.get(*i) {
                    top += 1;
                    rows.push(((top, 0, top), component_row(c, None, top, model)));
                }
            }
            Section::Group {
                id,
                name,
                status,
                updated_at,
                members,
            } => {
                let children: Vec<&ComponentView> = members
                    .iter()
                    .filter_map(|m| model.components.get(*m))
                    .collect();
                top += 1;
                rows.push((
                    (top, 0, top),
                    json!({
                        "id": id,
                        "name": name,
                        "status": status.as_str(),
                        "created_at": timestamp(created_at, tz),
                        "updated_at": timestamp(*updated_at, tz),
                        "position": top,
                        "description": null,
                        "showcase": false,
                        "start_date": null,
                        "group_id": null,
                        "page_id": model.page_id,
                        "group": true,
                        "only_show_if_degraded": false,
                        "components": children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                    }),
                ));
                for (position, child) in (1u32..).zip(children) {
                    let row = component_row(child, Some(id), position, model);
                    rows.push(((position, 1, top), row));
                }
            }
        }
    }
    rows.sort_by_key(|(order, _)| *order);
    rows.into_iter().map(|(_, row)| row).collect()
}

fn component_row(c: &ComponentView, group_id: Option<&str>, position: u32, model: &Model) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "status": c.status.as_str(),
        "created_at": timestamp(model.config_loaded_at, &model.tz),
        "updated_at": timestamp(c.updated_at, &model.tz),
        "position": position,
        "description": c.description,
        "showcase": true,
        "start_date": null,
        "group_id": group_id,
        "page_id": model.page_id,
        "group": false,
        "only_show_if_degraded": false,
    })
}

/// What the incidents and maintenances of one page are written with.
struct Page<'a> {
    /// The page's components by configuration key.
    components: HashMap<&'a str, &'a ComponentView>,
    /// The rows of `components.json` by id, with their index in that list.
    rows: HashMap<&'a str, (usize, &'a Value)>,
    page_id: &'a str,
    page_url: &'a str,
    tz: &'a TimeZone,
}

impl Page<'_> {
    /// The components named by `keys` as `components.json` shows them, in its order.
    fn affected<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<Value> {
        let mut rows: Vec<(usize, &Value)> = keys
            .filter_map(|c| self.components.get(c))
            .filter_map(|r| self.rows.get(r.id.as_str()).copied())
            .collect();
        rows.sort_by_key(|(at, _)| *at);
        rows.dedup_by_key(|(at, _)| *at);
        rows.into_iter().map(|(_, row)| row.clone()).collect()
    }

    /// The name of the component `key`, or the key of one the page does not show.
    fn name_of<'k>(&'k self, key: &'k str) -> &'k str {
        self.components.get(key).map_or(key, |r| r.name.as_str())
    }
}

/// One incident in Statuspage's shape.
fn incident(i: &IncidentRecord, page: &Page<'_>) -> Value {
    let ts = |t: Timestamp| timestamp(t, page.tz);
    // The updates are stored newest first; `old_status` needs the one before each.
    let chronological: Vec<_> = i.updates.iter().rev().collect();
    let monitoring_at = chronological
        .iter()
        .find(|u| u.status == IncidentStatus::Monitoring)
        .map(|u| ts(u.created_at));
    let mut updates: Vec<Value> = Vec::with_capacity(chronological.len());
    let mut previous: HashMap<&str, ComponentStatus> = HashMap::new();
    for u in &chronological {
        let affected: Vec<Value> = u
            .components
            .iter()
            .map(|c| {
                let old = previous
                    .get(c.id.as_str())
                    .copied()
                    .unwrap_or(ComponentStatus::Operational);
                json!({
                    "code": stable_id("component", &c.id),
                    "name": page.name_of(&c.id),
                    "old_status": old.as_str(),
                    "new_status": c.status.as_str(),
                })
            })
            .collect();
        previous = u
            .components
            .iter()
            .map(|c| (c.id.as_str(), c.status))
            .collect();
        updates.push(json!({
            "id": u.id,
            "status": u.status.as_str(),
            "body": u.body,
            "incident_id": i.id,
            "created_at": ts(u.created_at),
            "updated_at": ts(u.created_at),
            "display_at": ts(u.created_at),
            "affected_components": none_if_empty(affected),
            "deliver_notifications": true,
            "custom_tweet": null,
            "tweet_id": null,
        }));
    }
    updates.reverse();
    let affected = page.affected(i.components.iter().map(|c| c.id.as_str()));
    json!({
        "id": i.id,
        "name": i.title,
        "status": i.status.as_str(),
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "monitoring_at": monitoring_at,
        "resolved_at": i.resolved_at.map(ts),
        "impact": i.impact.as_str(),
        "shortlink": format!("{}/incidents/{}", page.page_url, i.id),
        "started_at": ts(i.started_at),
        "page_id": page.page_id,
        "incident_updates": updates,
        "components": affected,
        "reminder_intervals": null,
        "postmortem_body": i.postmortem,
    })
}

/// An update's `affected_components`: null when it names none, as Statuspage sends it.
fn none_if_empty(list: Vec<Value>) -> Value {
    if list.is_empty() {
        Value::Null
    } else {
        Value::Array(list)
    }
}

/// One maintenance in Statuspage's scheduled-maintenance shape: an incident with
/// `impact: "maintenance"`, `scheduled_for`/`scheduled_until` and the maintenance statuses
/// (`scheduled | in_progress | verifying | completed`).
fn maintenance(m: &MaintenanceRecord, page: &Page<'_>) -> Value {
    let ts = |t: Timestamp| timestamp(t, page.tz);
    let affected = page.affected(m.components.iter().map(String::as_str));
    let codes: Vec<Value> = m
        .components
        .iter()
        .map(|c| {
            json!({
                "code": stable_id("component", c),
                "name": page.name_of(c),
                "old_status": "operational",
                "new_status": "under_maintenance",
            })
        })
        .collect();
    let codes = none_if_empty(codes);
    let chronological: Vec<_> = m.updates.iter().rev().collect();
    // As Statuspage fills them: `monitoring_at` when it first went to verifying, `started_at`
    // when it was announced (its creation), `resolved_at` when it ended.
    let monitoring_at = chronological
        .iter()
        .find(|u| u.status == MaintenanceStatus::Verifying)
        .map(|u| u.created_at);
    let resolved_at = chronological
        .iter()
        .find(|u| u.status.is_terminal())
        .map(|u| u.created_at);
    let updates: Vec<Value> = m
        .updates
        .iter()
        .map(|u| {
            let body = if u.body.is_empty() {
                match u.status {
                    MaintenanceStatus::Scheduled => m.description.clone().unwrap_or_default(),
                    other => format!("Maintenance {}.", other.as_str().replace('_', " ")),
                }
            } else {
                u.body.clone()
            };
            json!({
                "id": u.id,
                "status": u.status.as_str(),
                "body": body,
                "incident_id": m.id,
                "created_at": ts(u.created_at),
                "updated_at": ts(u.created_at),
                "display_at": ts(u.created_at),
                "affected_components": codes,
                "deliver_notifications": m.notify_subscribers,
                "custom_tweet": null,
                "tweet_id": null,
            })
        })
        .collect();
    json!({
        "id": m.id,
        "name": m.title,
        "status": m.status.as_str(),
        "created_at": ts(m.created_at),
        "updated_at": ts(m.updated_at),
        "monitoring_at": monitoring_at.map(ts),
        "resolved_at": resolved_at.map(ts),
        "impact": "maintenance",
        "shortlink": format!("{}/maintenance/{}", page.page_url, m.id),
        "started_at": ts(m.created_at),
        "page_id": page.page_id,
        "incident_updates": updates,
        "components": affected,
        "scheduled_for": ts(m.starts_at),
        "scheduled_until": ts(m.ends_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_carry_milliseconds_and_the_zone_offset() {
        let t: Timestamp = "2026-11-22T06:12:00.123Z".parse().unwrap_or_default();
        let rome = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
        assert_eq!(timestamp(t, &rome), "2026-11-22T07:12:00.123+01:00");
        assert_eq!(
            timestamp(t, &TimeZone::UTC),
            "2026-11-22T06:12:00.123+00:00"
        );
    }
}
