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

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use upkeep_domain::component_status::{ComponentStatus, derive, with_overrides};
use upkeep_domain::config::{Config, Severity};
use upkeep_domain::incident::{Impact, IncidentStatus};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_store::incidents::IncidentRecord;

/// How many incidents `incidents.json` lists (the most recent).
pub const RECENT_INCIDENTS: usize = 50;

/// Everything the documents are built from.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub config: &'a Config,
    /// When the running configuration was loaded.
    pub config_loaded_at: Timestamp,
    /// Each monitor's status and when it last changed, by monitor id (missing: pending).
    pub monitors: HashMap<String, (MonitorStatus, Timestamp)>,
    /// `(component id, severity)` of every firing rule.
    pub firing: Vec<(String, Severity)>,
    /// The most recent incidents, newest first (at most [`RECENT_INCIDENTS`] are shown).
    pub recent: Vec<IncidentRecord>,
    /// Every unresolved incident, newest first.
    pub unresolved: Vec<IncidentRecord>,
}

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

/// A deterministic Statuspage-shaped id (12 lowercase alphanumerics) for a config object of
/// `kind` (`page`, `component`, `group`) named `key`: base 36 of a SHA-256 prefix.
pub fn stable_id(kind: &str, key: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::new()
        .chain_update(kind.as_bytes())
        .chain_update([0u8])
        .chain_update(key.as_bytes())
        .finalize();
    let mut n = digest
        .iter()
        .take(16)
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let mut out = [b'0'; 12];
    for slot in out.iter_mut().rev() {
        // `n % 36` is below 36, so the index is in bounds.
        *slot = ALPHABET[(n % 36) as usize];
        n /= 36;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// `t` as ISO 8601 with milliseconds and the offset of `tz`, e.g.
/// `2026-11-22T07:12:00.123+01:00`.
pub fn timestamp(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// Rank for "worst": maintenance counts just above operational, so any real trouble beats it.
fn rank(s: ComponentStatus) -> u8 {
    match s {
        ComponentStatus::Operational => 0,
        ComponentStatus::UnderMaintenance => 1,
        ComponentStatus::DegradedPerformance => 2,
        ComponentStatus::PartialOutage => 3,
        ComponentStatus::MajorOutage => 4,
    }
}

fn worst(a: ComponentStatus, b: ComponentStatus) -> ComponentStatus {
    if rank(b) > rank(a) { b } else { a }
}

/// One config component with what the documents need about it.
struct Resolved<'a> {
    config_id: &'a str,
    id: String,
    name: &'a str,
    description: Option<&'a str>,
    group: Option<&'a str>,
    status: ComponentStatus,
    updated_at: Timestamp,
}

/// Builds every document from `inputs`.
pub fn build(inputs: &Inputs<'_>) -> Result<Documents, serde_json::Error> {
    let config = inputs.config;
    let tz = &config.page.timezone;
    let page_id = stable_id("page", &config.page.url);

    // Worst status declared by an unresolved incident, and its last change, per component.
    let mut declared: HashMap<&str, (ComponentStatus, Timestamp)> = HashMap::new();
    for incident in &inputs.unresolved {
        for c in &incident.components {
            let entry = declared
                .entry(c.id.as_str())
                .or_insert((c.status, incident.updated_at));
            entry.0 = worst(entry.0, c.status);
            entry.1 = entry.1.max(incident.updated_at);
        }
    }

    let resolved: Vec<Resolved<'_>> = config
        .components
        .iter()
        .map(|(cid, c)| {
            let mut updated_at = inputs.config_loaded_at;
            let statuses: Vec<MonitorStatus> = config
                .monitors
                .iter()
                .filter(|(_, m)| &m.component == cid)
                .map(|(mid, _)| match inputs.monitors.get(mid) {
                    Some((status, since)) => {
                        updated_at = updated_at.max(*since);
                        *status
                    }
                    None => MonitorStatus::Pending,
                })
                .collect();
            let severities: Vec<Severity> = inputs
                .firing
                .iter()
                .filter(|(component, _)| component == cid)
                .map(|(_, s)| *s)
                .collect();
            let incident = declared.get(cid.as_str()).map(|(status, at)| {
                updated_at = updated_at.max(*at);
                *status
            });
            Resolved {
                config_id: cid,
                id: stable_id("component", cid),
                name: &c.name,
                description: c.description.as_deref(),
                group: c.group.as_deref(),
                status: with_overrides(derive(&statuses, &severities), incident, false),
                updated_at,
            }
        })
        .collect();

    let components = component_rows(&resolved, &page_id, inputs.config_loaded_at, tz);
    let by_config_id: HashMap<&str, &Resolved<'_>> =
        resolved.iter().map(|r| (r.config_id, r)).collect();

    let rows_by_id: HashMap<&str, &Value> = components
        .iter()
        .filter_map(|row| row["id"].as_str().map(|id| (id, row)))
        .collect();
    let incident_json =
        |i: &IncidentRecord| incident(i, &by_config_id, &rows_by_id, &page_id, config, tz);
    let recent: Vec<Value> = inputs
        .recent
        .iter()
        .take(RECENT_INCIDENTS)
        .map(incident_json)
        .collect();
    let unresolved: Vec<Value> = inputs.unresolved.iter().map(incident_json).collect();

    let indicator = indicator(
        resolved.iter().map(|r| r.status),
        inputs.unresolved.iter().map(|i| i.impact),
    );
    let status = json!({
        "indicator": indicator,
        "description": description(indicator),
    });

    let updated_at = resolved
        .iter()
        .map(|r| r.updated_at)
        .chain(inputs.recent.iter().map(|i| i.updated_at))
        .chain(inputs.unresolved.iter().map(|i| i.updated_at))
        .fold(inputs.config_loaded_at, Timestamp::max);
    let page = json!({
        "id": page_id,
        "name": config.page.name,
        "url": config.page.url,
        "time_zone": config.page.timezone_name,
        "updated_at": timestamp(updated_at, tz),
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

/// The `status.indicator` from the components' statuses and the unresolved incidents' impacts.
pub fn indicator(
    components: impl IntoIterator<Item = ComponentStatus>,
    impacts: impl IntoIterator<Item = Impact>,
) -> &'static str {
    // 0 none, 1 maintenance, 2 minor, 3 major, 4 critical.
    let from_components = components.into_iter().map(|s| match s {
        ComponentStatus::Operational => 0,
        ComponentStatus::UnderMaintenance => 1,
        ComponentStatus::DegradedPerformance => 2,
        ComponentStatus::PartialOutage => 3,
        ComponentStatus::MajorOutage => 4,
    });
    let from_incidents = impacts.into_iter().map(|i| match i {
        Impact::None => 0,
        Impact::Minor => 2,
        Impact::Major => 3,
        Impact::Critical => 4,
    });
    match from_components.chain(from_incidents).max().unwrap_or(0) {
        4 => "critical",
        3 => "major",
        2 => "minor",
        1 => "maintenance",
        _ => "none",
    }
}

/// Statuspage's description of an indicator.
pub fn description(indicator: &str) -> &'static str {
    match indicator {
        "critical" => "Major System Outage",
        "major" => "Partial System Outage",
        "minor" => "Minor Service Outage",
        "maintenance" => "Service Under Maintenance",
        _ => "All Systems Operational",
    }
}

/// A group's status: the worst of its children's.
fn group_status(children: &[&Resolved<'_>]) -> ComponentStatus {
    children
        .iter()
        .map(|c| c.status)
        .fold(ComponentStatus::Operational, worst)
}

/// The `components` list: ungrouped components and groups in the order of their first
/// component, each group row followed by its children.
fn component_rows(
    resolved: &[Resolved<'_>],
    page_id: &str,
    created_at: Timestamp,
    tz: &TimeZone,
) -> Vec<Value> {
    let mut groups: BTreeMap<&str, Vec<&Resolved<'_>>> = BTreeMap::new();
    for r in resolved {
        if let Some(g) = r.group {
            groups.entry(g).or_default().push(r);
        }
    }
    let mut rows = Vec::new();
    let mut position = 0u32;
    let mut next_position = || {
        position += 1;
        position
    };
    let mut emitted_groups: Vec<&str> = Vec::new();
    for r in resolved {
        match r.group {
            None => rows.push(component_row(
                r,
                None,
                next_position(),
                page_id,
                created_at,
                tz,
            )),
            Some(g) if !emitted_groups.contains(&g) => {
                emitted_groups.push(g);
                let children = groups.get(g).map(Vec::as_slice).unwrap_or_default();
                let group_id = stable_id("group", g);
                let updated_at = children
                    .iter()
                    .map(|c| c.updated_at)
                    .fold(created_at, Timestamp::max);
                rows.push(json!({
                    "id": group_id,
                    "name": g,
                    "status": group_status(children).as_str(),
                    "created_at": timestamp(created_at, tz),
                    "updated_at": timestamp(updated_at, tz),
                    "position": next_position(),
                    "description": null,
                    "showcase": false,
                    "group_id": null,
                    "page_id": page_id,
                    "group": true,
                    "only_show_if_degraded": false,
                    "components": children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                }));
                for child in children {
                    rows.push(component_row(
                        child,
                        Some(&group_id),
                        next_position(),
                        page_id,
                        created_at,
                        tz,
                    ));
                }
            }
            Some(_) => {}
        }
    }
    rows
}

fn component_row(
    r: &Resolved<'_>,
    group_id: Option<&str>,
    position: u32,
    page_id: &str,
    created_at: Timestamp,
    tz: &TimeZone,
) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "status": r.status.as_str(),
        "created_at": timestamp(created_at, tz),
        "updated_at": timestamp(r.updated_at, tz),
        "position": position,
        "description": r.description,
        "showcase": true,
        "group_id": group_id,
        "page_id": page_id,
        "group": false,
        "only_show_if_degraded": false,
    })
}

/// One incident in Statuspage's shape.
fn incident(
    i: &IncidentRecord,
    components: &HashMap<&str, &Resolved<'_>>,
    rows: &HashMap<&str, &Value>,
    page_id: &str,
    config: &Config,
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
                    "name": components.get(c.id.as_str()).map_or(c.id.as_str(), |r| r.name),
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
        "shortlink": format!("{}/incidents/{}", config.page.url, i.id),
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
    fn stable_ids_have_the_statuspage_shape_and_do_not_change() {
        let a = stable_id("component", "api");
        assert_eq!(a.len(), 12);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(a, stable_id("component", "api"));
        assert_ne!(a, stable_id("group", "api"));
        assert_ne!(a, stable_id("component", "web"));
    }

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

    #[test]
    fn the_indicator_is_the_worst_of_components_and_incidents() {
        use ComponentStatus::*;
        assert_eq!(indicator([Operational], []), "none");
        assert_eq!(
            indicator([UnderMaintenance, Operational], []),
            "maintenance"
        );
        assert_eq!(
            indicator([UnderMaintenance, DegradedPerformance], []),
            "minor"
        );
        assert_eq!(indicator([PartialOutage], [Impact::Minor]), "major");
        assert_eq!(indicator([Operational], [Impact::Critical]), "critical");
        assert_eq!(indicator([MajorOutage], []), "critical");
        assert_eq!(description("none"), "All Systems Operational");
        assert_eq!(description("major"), "Partial System Outage");
    }
}
