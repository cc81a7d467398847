//! Range reads for availability and SLO reports (`docs/decisions.md#continuity-numbers`): everything that shaped the
//! components' statuses over `[from, to)`, in a fixed number of queries however many monitors,
//! incidents or maintenances there are.
//!
//! - [`Store::status_history`]: the status changes of every monitor and alert rule (rules are the
//!   `rule:NAME` sources of `monitor_events`) with `at` in `[from, to)`, plus each source's
//!   status at `from` (the target of its last change before `from`). Two queries.
//! - [`Store::incidents_between`]: incidents whose trouble overlaps `[from, to)` (began before
//!   `to`, not resolved before `from`) with their updates in time order. Two queries.
//! - [`Store::maintenances_between`]: maintenances that ran (in progress, verifying or
//!   completed; cancelled ones never count) and overlap `[from, to)`. One query.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::config::TenantSel;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus};

use crate::monitoring::{event_source, event_state};
use crate::{Store, StoreError, with_pool};

/// One status change of a monitor or rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub at_ms: i64,
    /// The state entered.
    pub to: EventState,
}

/// Status changes over a range, by source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusHistory {
    /// Each source's state at `from`, when it had changed before.
    pub initial: HashMap<EventSource, EventState>,
    /// Each source's changes in `[from, to)`, in time (then recording) order.
    pub changes: HashMap<EventSource, Vec<StatusChange>>,
}

/// One update of an incident, reduced to what availability needs.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentStep {
    pub at_ms: i64,
    pub status: IncidentStatus,
    /// The affected components and their declared statuses right after this update.
    pub components: Vec<AffectedComponent>,
}

/// An incident overlapping a range, with its updates oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentHistory {
    pub id: String,
    pub title: String,
    pub started_ms: i64,
    pub created_ms: i64,
    pub resolved_ms: Option<i64>,
    pub steps: Vec<IncidentStep>,
}

/// A maintenance that ran, reduced to what availability needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceSpan {
    pub id: String,
    pub kind: Kind,
    pub status: MaintenanceStatus,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub components: Vec<String>,
    pub tenants: TenantSel,
    pub counts_as_downtime: bool,
    /// Its rollout's canary tenants (first in the slot plan), or none.
    pub canary: Vec<String>,
}

type IncidentRow = (String, String, i64, i64, Option<i64>);
type StepRow = (String, String, String, i64);
type MaintenanceRow = (
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    bool,
    Option<String>,
);

#[derive(Deserialize)]
struct StoredComponent {
    id: String,
    status: String,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// `FROM` clause of the incidents whose trouble overlaps `[$1, $2)`, then `$rest`.
macro_rules! incidents_overlapping {
    ($head:literal, $rest:literal) => {
        concat!(
            $head,
            " FROM incidents WHERE (started_at < $2 OR created_at < $2) \
             AND (resolved_at IS NULL OR resolved_at >= $1)",
            $rest
        )
    };
}

impl Store {
    /// Status changes of every monitor and rule over `[from, to)` and their statuses at `from`.
    pub async fn status_history(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<StatusHistory, StoreError> {
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        let sql = "SELECT e.source, e.to_status FROM monitor_events e \
                   JOIN (SELECT source, MAX(at) AS at FROM monitor_events WHERE at < $1 \
                         GROUP BY source) last \
                   ON e.source = last.source AND e.at = last.at \
                   ORDER BY e.source, e.id";
        let rows: Vec<(String, String)> =
            with_pool!(self, pool => sqlx::query_as(sql).bind(from).fetch_all(pool).await)?;
        let mut history = StatusHistory::default();
        // Of several changes at the same last instant, the one recorded last wins.
        for (source, to) in rows {
            let source = event_source(&source)?;
            let to = event_state(&source, &to)?;
            history.initial.insert(source, to);
        }
        // One row per source with its changes folded into one string (`AT:ID:STATUS,...`):
        // a year of changes over a thousand monitors is a thousand rows to decode instead of
        // hundreds of thousands. `+at` keeps SQLite off the `at` index so that it walks the
        // covering index `(source, at, to_status)` instead (no table lookups, no sort);
        // the order inside each string is not relied on: changes are sorted by (at, id) here.
        // `string_agg` is PostgreSQL's and SQLite's (3.44 and later, bundled).
        let sql = "SELECT source, string_agg(CAST(at AS TEXT) || ':' || CAST(id AS TEXT) \
                   || ':' || to_status, ',') FROM monitor_events \
                   WHERE +at >= $1 AND +at < $2 GROUP BY source";
        let rows: Vec<(String, String)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await)?;
        for (source, folded) in rows {
            let source = event_source(&source)?;
            let mut changes: Vec<(i64, i64, EventState)> = Vec::new();
            for item in folded.split(',') {
                let mut parts = item.splitn(3, ':');
                let (Some(at), Some(id), Some(to)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(corrupt(format_args!("event of `{source}`: `{item}`")));
                };
                let (Ok(at), Ok(id)) = (at.parse::<i64>(), id.parse::<i64>()) else {
                    return Err(corrupt(format_args!("event of `{source}`: `{item}`")));
                };
                changes.push((at, id, event_state(&source, to)?));
            }
            changes.sort_unstable_by_key(|(at, id, _)| (*at, *id));
            history.changes.insert(
                source,
                changes
                    .into_iter()
                    .map(|(at_ms, _, to)| StatusChange { at_ms, to })
                    .collect(),
            );
        }
        Ok(history)
    }

    /// Incidents whose trouble overlaps `[from, to)`, with their updates oldest first, ordered
    /// by start.
    pub async fn incidents_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<IncidentHistory>, StoreError> {
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        let sql = incidents_overlapping!(
            "SELECT id, name, started_at, created_at, resolved_at",
            " ORDER BY started_at, id"
        );
        let rows: Vec<IncidentRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await)?;
        let sql = concat!(
            "SELECT incident_id, status, affected_components, created_at FROM incident_updates \
             WHERE incident_id IN (",
            incidents_overlapping!("SELECT id", ")"),
            " ORDER BY incident_id, seq"
        );
        let steps: Vec<StepRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await)?;
        let mut by_incident: HashMap<String, Vec<IncidentStep>> = HashMap::new();
        for (incident_id, status, components, at_ms) in steps {
            let status = IncidentStatus::parse(&status).ok_or_else(|| {
                corrupt(format_args!(
                    "incident {incident_id}: unknown status `{status}`"
                ))
            })?;
            let stored: Vec<StoredComponent> = serde_json::from_str(&components)
                .map_err(|e| corrupt(format_args!("incident {incident_id}: {e}")))?;
            let components = stored
                .into_iter()
                .map(|c| {
                    ComponentStatus::parse(&c.status)
                        .map(|status| AffectedComponent { id: c.id, status })
                        .ok_or_else(|| {
                            corrupt(format_args!(
                                "incident {incident_id}: unknown component status `{}`",
                                c.status
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            by_incident
                .entry(incident_id)
                .or_default()
                .push(IncidentStep {
                    at_ms,
                    status,
                    components,
                });
        }
        Ok(rows
            .into_iter()
            .map(|(id, title, started_ms, created_ms, resolved_ms)| {
                let mut steps = by_incident.remove(&id).unwrap_or_default();
                // Updates are numbered in order; instants only break ties of clock skew.
                steps.sort_by_key(|s| s.at_ms);
                IncidentHistory {
                    id,
                    title,
                    started_ms,
                    created_ms,
                    resolved_ms,
                    steps,
                }
            })
            .collect())
    }

    /// Maintenances that ran (in progress, verifying or completed) and overlap `[from, to)`,
    /// by start.
    pub async fn maintenances_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<MaintenanceSpan>, StoreError> {
        let sql = "SELECT id, kind, status, starts_at, ends_at, components, tenants, \
                   counts_as_downtime, rollout FROM maintenances \
                   WHERE status IN ('in_progress', 'verifying', 'completed') \
                   AND starts_at < $2 AND ends_at > $1 ORDER BY starts_at, id";
        let rows: Vec<MaintenanceRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(from.as_millisecond())
            .bind(to.as_millisecond())
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(
                |(id, kind, status, starts_ms, ends_ms, components, tenants, counts, rollout)| {
                    let bad = |what: &dyn std::fmt::Display| {
                        corrupt(format_args!("maintenance {id}: {what}"))
                    };
                    let kind = Kind::parse(&kind)
                        .ok_or_else(|| bad(&format_args!("unknown kind `{kind}`")))?;
                    let status = MaintenanceStatus::parse(&status)
                        .ok_or_else(|| bad(&format_args!("unknown status `{status}`")))?;
                    let components: Vec<String> =
                        serde_json::from_str(&components).map_err(|e| bad(&e))?;
                    let tenants = crate::maintenance::parse_tenants(&id, &tenants)?;
                    let canary = match rollout {
                        Some(text) => {
                            serde_json::from_str::<upkeep_domain::rollout::RolloutSpec>(&text)
                                .map_err(|e| bad(&e))?
                                .canary
                        }
                        None => Vec::new(),
                    };
                    Ok(MaintenanceSpan {
                        id,
                        kind,
                        status,
                        starts_ms,
                        ends_ms,
                        components,
                        tenants,
                        counts_as_downtime: counts,
                        canary,
                    })
                },
            )
            .collect()
    }
}
