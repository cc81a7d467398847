//! Notifications, the pure part: what a notice says ([`Notice`]), who gets it ([`routing`]),
//! when a failed delivery is tried again ([`retry`]), how a webhook body is signed
//! ([`signature`]), the request each chat, pager and push provider documents ([`providers`])
//! and the templated webhook's locked-down rendering ([`template`]), and the one truncation
//! and URL encoding of notification texts ([`text`]).
//!
//! A notice is written to the outbox (`notices`) in the same transaction as the change that
//! causes it, as the JSON of a [`Notice`]; the engine fans it out into one delivery per
//! recipient and renders each delivery's bytes once, so every retry sends the same content under
//! the same delivery id.
//!
//! Two audiences never mix: customer notices ([`Notice::Incident`], [`Notice::Maintenance`],
//! [`Notice::Rollout`]) go to subscribers; operator alerts ([`Notice::Alert`]) go to the configuration's channels by its
//! `routes`.

pub mod providers;
pub mod retry;
pub mod routing;
pub mod signature;
pub mod template;
pub mod text;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::Severity;

/// Something worth telling someone about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// An incident was opened, updated or resolved (customers).
    Incident(IncidentNotice),
    /// A maintenance was scheduled, moved, cancelled, is near, started or ended (customers).
    Maintenance(MaintenanceNotice),
    /// A tenant's own update in a maintenance's rollout started, completed or was rolled back
    /// (customers: that tenant's subscribers only).
    Rollout(RolloutNotice),
    /// An operator alert fired, fires still, was acknowledged or resolved (operators).
    Alert(AlertNotice),
}

/// Who a notice is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Subscribers of the status page.
    Customers,
    /// The configuration's channels, by route.
    Operators,
}

impl Audience {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Customers => "customers",
            Audience::Operators => "operators",
        }
    }
}

impl Notice {
    /// Who the notice is for.
    pub fn audience(&self) -> Audience {
        match self {
            Notice::Incident(_) | Notice::Maintenance(_) | Notice::Rollout(_) => {
                Audience::Customers
            }
            Notice::Alert(_) => Audience::Operators,
        }
    }

    /// The event name used in webhook bodies and logs, e.g. `incident.opened`.
    pub fn event_name(&self) -> String {
        match self {
            Notice::Incident(n) => format!("incident.{}", n.event.as_str()),
            Notice::Maintenance(n) => format!("maintenance.{}", n.event.as_str()),
            Notice::Rollout(n) => format!("rollout.{}", n.event.as_str()),
            Notice::Alert(n) => format!("alert.{}", n.state.as_str()),
        }
    }

    /// The components the notice is about (empty: the whole platform).
    pub fn components(&self) -> Vec<&str> {
        match self {
            Notice::Incident(n) => n.components.iter().map(|c| c.id.as_str()).collect(),
            Notice::Maintenance(n) => n.components.iter().map(String::as_str).collect(),
            Notice::Rollout(n) => n.components.iter().map(String::as_str).collect(),
            Notice::Alert(n) => n.component.iter().map(String::as_str).collect(),
        }
    }

    /// The subject the notice belongs to (`incident/ID`, `maintenance/ID`, `alert/KEY`):
    /// deliveries of one subject to one destination are sent in order. A tenant's update
    /// belongs to its maintenance.
    pub fn subject_key(&self) -> String {
        match self {
            Notice::Incident(n) => format!("incident/{}", n.id),
            Notice::Maintenance(n) => format!("maintenance/{}", n.id),
            Notice::Rollout(n) => format!("maintenance/{}", n.id),
            Notice::Alert(n) => format!("alert/{}", n.key),
        }
    }
}

/// What happened to an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentEvent {
    Opened,
    Updated,
    Resolved,
}

impl IncidentEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentEvent::Opened => "opened",
            IncidentEvent::Updated => "updated",
            IncidentEvent::Resolved => "resolved",
        }
    }
}

/// A component an incident affects, with the status it declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeComponent {
    pub id: String,
    /// Display name (the id when the configuration no longer has it).
    pub name: String,
    /// Statuspage status name (`major_outage`, ...).
    pub status: String,
}

/// An incident as a notice tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentNotice {
    pub event: IncidentEvent,
    pub id: String,
    pub title: String,
    /// `investigating | identified | monitoring | resolved | postmortem`.
    pub status: String,
    /// `none | minor | major | critical`.
    pub impact: String,
    pub components: Vec<NoticeComponent>,
    /// The update's text (Markdown), possibly empty.
    pub body: String,
    /// When the incident started.
    pub started_at: Timestamp,
    /// When this change happened.
    pub at: Timestamp,
}

/// What happened to a maintenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceEvent {
    Scheduled,
    Rescheduled,
    Cancelled,
    Reminder,
    Started,
    Completed,
}

impl MaintenanceEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceEvent::Scheduled => "scheduled",
            MaintenanceEvent::Rescheduled => "rescheduled",
            MaintenanceEvent::Cancelled => "cancelled",
            MaintenanceEvent::Reminder => "reminder",
            MaintenanceEvent::Started => "started",
            MaintenanceEvent::Completed => "completed",
        }
    }
}

/// A maintenance as a notice tells it. Times are instants; each reader sees them in their own
/// zone (a tenant's subscribers in their region's, with their own slot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceNotice {
    pub event: MaintenanceEvent,
    pub id: String,
    pub title: String,
    /// `planned | emergency`.
    pub kind: String,
    /// Markdown description, possibly empty.
    pub description: String,
    /// Why an emergency maintenance is needed, possibly empty.
    pub reason: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// The span before a reschedule.
    pub previous: Option<(Timestamp, Timestamp)>,
    /// Affected component ids.
    pub components: Vec<String>,
    /// Affected tenant ids; `None` = every tenant.
    pub tenants: Option<Vec<String>>,
    /// The rollout's canary tenants, who get the first slots (empty without a rollout).
    #[serde(default)]
    pub canary: Vec<String>,
    /// For a reminder: how long before the start it is sent, in seconds.
    pub lead_seconds: Option<u64>,
    /// When this change happened.
    pub at: Timestamp,
}

/// What happened to one tenant's update in a maintenance's rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutEvent {
    /// Its action started.
    Started,
    /// Its health gate passed: the update is done.
    Completed,
    /// It was reverted after a failed action or gate.
    RolledBack,
}

impl RolloutEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutEvent::Started => "started",
            RolloutEvent::Completed => "completed",
            RolloutEvent::RolledBack => "rolled_back",
        }
    }
}

/// A tenant's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeSlot {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// One tenant's update as a notice tells that tenant's subscribers: what the maintenance is,
/// which tenant, what happened and when. Nothing of how (commands, URLs, gate evidence, hosts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutNotice {
    pub event: RolloutEvent,
    /// The maintenance's id.
    pub id: String,
    /// The maintenance's title.
    pub title: String,
    /// The tenant's id.
    pub tenant: String,
    /// The tenant's display name (filled from the configuration when fanned out).
    #[serde(default)]
    pub tenant_name: String,
    /// The maintenance's affected component ids.
    pub components: Vec<String>,
    /// The tenant's slot.
    pub slot: NoticeSlot,
    /// When this happened.
    pub at: Timestamp,
    /// The same instants in the tenant's zone (filled when fanned out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalTimes>,
}

/// A notice's instants in its reader's zone, as RFC 3339 with the zone's offset
/// (`2026-03-28T03:05:00+01:00`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTimes {
    /// IANA name of the zone.
    pub timezone: String,
    pub at: String,
    pub slot_start: String,
    pub slot_end: String,
}

/// The state an alert notice reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Started failing.
    Firing,
    /// Still failing (a quiet re-notification).
    Repeat,
    /// An operator took it (PagerDuty acknowledge; re-notification stops).
    Acknowledged,
    /// Recovered.
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Repeat => "repeat",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

/// An operator alert: a monitor down, a rule firing, a maintenance held by its pre-flight
/// checks, an SLO burning, a backup past its RPO, a drill overdue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertNotice {
    /// Stable key of the alert (`monitor:api-health`, `rule:HighCPU`, `preflight:MID`, ...):
    /// PagerDuty's dedup key is derived from it.
    pub key: String,
    pub state: AlertState,
    pub severity: Severity,
    /// Component concerned, if any.
    pub component: Option<String>,
    /// One line: what is wrong.
    pub summary: String,
    /// More detail (the failing condition, the check's output), possibly empty.
    pub detail: String,
    /// When the alert started firing.
    pub since: Timestamp,
    /// When this notice was made.
    pub at: Timestamp,
}

/// Where a delivery stands in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not sent yet: due at its next attempt.
    Pending,
    /// The receiver took it.
    Sent,
    /// Given up (a permanent failure, or older than the retry policy allows).
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Sent,
        DeliveryState::Failed,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state stored as `s`, if any.
    pub fn parse(s: &str) -> Option<DeliveryState> {
        DeliveryState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_delivery_state_reads_back_as_written() {
        for state in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).ok(),
                Some(serde_json::Value::from(state.as_str()))
            );
        }
    }

    proptest! {
        #[test]
        fn unknown_delivery_states_are_refused(s in ".{0,10}") {
            prop_assume!(!["pending", "sent", "failed"].contains(&s.as_str()));
            prop_assert_eq!(DeliveryState::parse(&s), None);
        }
    }
}
