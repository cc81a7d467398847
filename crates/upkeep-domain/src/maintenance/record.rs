//! The maintenance entity: a maintenance (one-off, or one occurrence of a recurring window from
//! the configuration) with its timeline, what a new one and an edit carry, and how tenants and
//! checks are written in JSON. The store persists these; the rules that change them are in
//! [`super::rules`].

use jiff::Timestamp;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::{Kind, MaintenanceStatus};
use crate::config::{ChecksMode, TenantSel};

/// A maintenance with its timeline, newest update first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceRecord {
    /// 12 lowercase alphanumerics.
    pub id: String,
    /// `planned` or `emergency`.
    pub kind: Kind,
    pub title: String,
    /// Markdown.
    pub description: Option<String>,
    /// Why (e.g. the CVE an emergency maintenance fixes).
    pub reason: Option<String>,
    /// The scheduled start; the actual start once started early by hand.
    pub starts_at: Timestamp,
    /// The scheduled end; the actual end once ended early by hand.
    pub ends_at: Timestamp,
    pub status: MaintenanceStatus,
    /// Affected component ids.
    pub components: Vec<String>,
    /// Affected tenants: `"all"` or a list of tenant ids.
    #[serde(serialize_with = "serialize_tenants")]
    pub tenants: TenantSel,
    /// `run` (monitors keep probing, results recorded as maintenance) or `skip`.
    #[serde(serialize_with = "serialize_checks")]
    pub checks: ChecksMode,
    /// Whether the window counts as downtime in SLA figures.
    pub counts_as_downtime: bool,
    /// Whether subscribers are notified.
    pub notify_subscribers: bool,
    /// The recurring window this is an occurrence of.
    pub window_id: Option<String>,
    /// `WINDOW_ID@LOCAL_START` for an occurrence of a recurring window.
    pub occurrence_key: Option<String>,
    /// The ICS `SEQUENCE`: it starts at 0 and goes up by one on every reschedule or edit, on a
    /// cancellation and when an early start or end moves the span.
    pub sequence: i64,
    /// When the notice was last measured (creation, or a reschedule to an earlier start).
    pub scheduled_at: Timestamp,
    /// Why pre-flight checks hold the start, while they do.
    pub hold_reason: Option<String>,
    /// The Alertmanager silence created for the window.
    pub silence_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: String,
    /// The timeline, newest first.
    pub updates: Vec<MaintenanceUpdateRecord>,
    /// The rollout it drives, if any. Never serialised with the record: it holds webhook
    /// secrets; the rollout API shows it redacted.
    #[serde(skip)]
    pub rollout: Option<crate::rollout::RolloutSpec>,
    /// Goes up by one with every stored change: the store writes a change only over the
    /// revision it was computed from.
    #[serde(skip)]
    pub revision: i64,
}

/// One entry of a maintenance's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceUpdateRecord {
    pub id: String,
    /// The maintenance's status set by (or current at) this update.
    pub status: MaintenanceStatus,
    /// Markdown; may be empty.
    pub body: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

impl MaintenanceRecord {
    /// The canary tenants of its rollout (first in the slot plan), or none.
    pub fn canary(&self) -> &[String] {
        self.rollout.as_ref().map_or(&[], |r| r.canary.as_slice())
    }
}

fn serialize_tenants<S: Serializer>(tenants: &TenantSel, s: S) -> Result<S::Ok, S::Error> {
    tenants_json(tenants).serialize(s)
}

fn serialize_checks<S: Serializer>(checks: &ChecksMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(checks_str(*checks))
}

/// `"all"` or the list of tenant ids, as stored and as the API writes it.
pub fn tenants_json(tenants: &TenantSel) -> Value {
    match tenants {
        TenantSel::All => Value::String("all".into()),
        TenantSel::List(ids) => json!(ids),
    }
}

/// `run` or `skip`.
pub fn checks_str(checks: ChecksMode) -> &'static str {
    match checks {
        ChecksMode::Run => "run",
        ChecksMode::Skip => "skip",
    }
}

/// A new one-off maintenance. Check it with [`super::rules::validate_new`], the notice policy
/// and the tenant slots first.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMaintenance {
    pub kind: Kind,
    pub title: String,
    pub description: Option<String>,
    pub reason: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub components: Vec<String>,
    pub tenants: TenantSel,
    pub checks: ChecksMode,
    pub counts_as_downtime: bool,
    pub notify_subscribers: bool,
    /// The first update's body (Markdown; may be empty).
    pub message: String,
    /// The rollout it drives, if any.
    pub rollout: Option<crate::rollout::RolloutSpec>,
}

impl NewMaintenance {
    /// A maintenance with the default switches (`docs/decisions.md#maintenance`): every tenant,
    /// checks run, counted as downtime only when it is an emergency, subscribers notified.
    pub fn new(kind: Kind, title: &str, starts_at: Timestamp, ends_at: Timestamp) -> Self {
        Self {
            kind,
            title: title.to_owned(),
            description: None,
            reason: None,
            starts_at,
            ends_at,
            components: Vec::new(),
            tenants: TenantSel::All,
            checks: ChecksMode::Run,
            counts_as_downtime: kind == Kind::Emergency,
            notify_subscribers: true,
            message: String::new(),
            rollout: None,
        }
    }
}

/// A reschedule or edit. `None` leaves a field as it is; `description: Some(None)` removes the
/// description. Check a start moved earlier first with [`super::check_reschedule`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MaintenanceEdit {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub reason: Option<Option<String>>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub components: Option<Vec<String>>,
    pub tenants: Option<TenantSel>,
    pub checks: Option<ChecksMode>,
    pub counts_as_downtime: Option<bool>,
    pub notify_subscribers: Option<bool>,
    /// A message for the timeline (an update with the current status); `None`: no update.
    pub message: Option<String>,
    /// The notice violation an admin forced, recorded in the audit row.
    pub forced: Option<String>,
}
