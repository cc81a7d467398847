//! The Atlassian Statuspage v2 JSON documents (`/api/v2/*.json`), built from one set of inputs:
//! the configuration, the live monitor statuses, the firing rules and the stored incidents.
//!
//! This module is pure: it reads no clock and performs no I/O, so the same inputs always give
//! the same bytes (which is what lets the snapshot keep its ETag when nothing changed).
//!
//! Compatibility choices:
//! - ids are 12 lowercase alphanumerics; incidents and updates keep their stored ids, config
//!   objects get [`stable_id`], a hash of their config id (components), their name (groups) or
//!   the page's URL (the page);
//! - an incident's `components` are the same objects as in `components.json`; its
//!   `postmortem_body` (an addition) holds the postmortem's Markdown, if any;
//! - timestamps are ISO 8601 with milliseconds in the page's zone (`page.timezone`);
//! - a group is a row with `group: true` and `components: [child ids]`, placed before its
//!   children, which carry `group_id`; positions count from 1 in the order of the list;
//! - a component's `created_at` is when the configuration defining it was loaded, its
//!   `updated_at` the latest of that, its monitors' last status change and the last update of
//!   an unresolved incident affecting it;
//! - maintenance does not exist yet: every `scheduled_maintenances` list is empty.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::IncidentStatus;
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
    let rows_by_id: HashMap<&str, &Value> = components
        .iter()
        .filter_map(|row| row["id"].as_str().map(|id| (id, row)))
        .collect();
    let incident_json =
        |i: &IncidentRecord| incident(i, &by_key, &rows_by_id, page_id, &model.url, tz);
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
    let no_maintenance = doc(json!({ "page": page, "scheduled_maintenances": [] }))?;
    Ok(Documents {
        summary: doc(json!({
            "page": page,
            "components": components,
            "incidents": unresolved,
            "scheduled_maintenances": [],
            "status": status,
        }))?,
        status: doc(json!({ "page": page, "status": status }))?,
        components: doc(json!({ "page": page, "components": components }))?,
        incidents: doc(json!({ "page": page, "incidents": recent }))?,
        unresolved: doc(json!({ "page": page, "incidents": unresolved }))?,
        scheduled_maintenances: no_maintenance.clone(),
        upcoming_maintenances: no_maintenance.clone(),
        active_maintenances: no_maintenance,
    })
}

/// The `components` list: ungrouped components and groups in the order of their first
/// component, each group row followed by its children.
fn component_rows(model: &Model) -> Vec<Value> {
    let tz = &model.tz;
    let created_at = model.config_loaded_at;
    let mut rows = Vec::new();
    let mut position = 0u32;
    let mut next_position = || {
        position += 1;
        position
    };
    for section in &model.sections {
        match section {
            Section::Single(i) => {
                if let Some(c) = model.components.get(*i) {
                    rows.push(component_row(c, None, next_position(), model));
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
                rows.push(json!({
                    "id": id,
                    "name": name,
                    "status": status.as_str(),
                    "created_at": timestamp(created_at, tz),
                    "updated_at": timestamp(*updated_at, tz),
                    "position": next_position(),
                    "description": null,
                    "showcase": false,
                    "group_id": null,
                    "page_id": model.page_id,
                    "group": true,
                    "only_show_if_degraded": false,
                    "components": children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                }));
                for child in children {
                    rows.push(component_row(child, Some(id), next_position(), model));
                }
            }
        }
    }
    rows
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
        "group_id": group_id,
        "page_id": model.page_id,
        "group": false,
        "only_show_if_degraded": false,
    })
}

/// One incident in Statuspage's shape.
fn incident(
    i: &IncidentRecord,
    components: &HashMap<&str, &ComponentView>,
    rows: &HashMap<&str, &Value>,
    page_id: &str,
    page_url: &str,
    tz: &TimeZone,
) -> Value {
    let ts = |t: Timestamp| timestamp(t, tz);
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
                    "name": components.get(c.id.as_str()).map_or(c.id.as_str(), |r| r.name.as_str()),
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
            "affected_components": affected,
            "deliver_notifications": true,
            "custom_tweet": null,
            "tweet_id": null,
        }));
    }
    updates.reverse();
    // The affected components as `components.json` shows them.
    let affected: Vec<Value> = i
        .components
        .iter()
        .filter_map(|c| components.get(c.id.as_str()))
        .filter_map(|r| rows.get(r.id.as_str()).map(|row| (*row).clone()))
        .collect();
    json!({
        "id": i.id,
        "name": i.title,
        "status": i.status.as_str(),
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "monitoring_at": monitoring_at,
        "resolved_at": i.resolved_at.map(ts),
        "impact": i.impact.as_str(),
        "shortlink": format!("{page_url}/incidents/{}", i.id),
        "started_at": ts(i.started_at),
        "page_id": page_id,
        "incident_updates": updates,
        "components": affected,
        "postmortem_body": i.postmortem,
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
