//! The rules of changing a maintenance by hand, shared by every caller (the admin API, the
//! command line, the engine): what a title, a text and a scope must be, which status changes a
//! person may make, what an edit or a status change does to the record, and which subscriber
//! notice a change causes. The store writes the results; nothing here performs I/O.
//!
//! - `sequence` (the ICS `SEQUENCE`) goes up by one on every reschedule or edit that changes
//!   something, on a cancellation and when an early start or end moves the span.
//! - `scheduled_at` becomes the change's instant when a reschedule moves the start earlier (the
//!   notice is measured again from then).
//! - Starting a maintenance by hand before its start sets `starts_at` to that moment; ending
//!   one early (completing or cancelling it once started, before its end) sets `ends_at` to
//!   that moment. A finished maintenance (`completed`, `cancelled`) is never changed again.

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;

use super::record::{MaintenanceEdit, MaintenanceRecord, NewMaintenance};
use super::{MaintenanceStatus, Slot, SlotsError, TenantInput, plan_most, plan_slots};
use crate::config::{Config, TenantSel};
use crate::duration::format_duration;
use crate::notify::{MaintenanceEvent, MaintenanceNotice, Notice};

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, reason or update body, in characters.
pub const TEXT_MAX_CHARS: usize = 20_000;

/// Whether a person may move a maintenance from `from` to `to`: start it
/// (`scheduled → in_progress`), verify it (`in_progress → verifying`, `verifying →
/// in_progress`), complete it (`in_progress | verifying → completed`) or cancel it (`scheduled |
/// in_progress → cancelled`). Finished ones never move.
pub fn manual_transition_allowed(from: MaintenanceStatus, to: MaintenanceStatus) -> bool {
    use MaintenanceStatus::*;
    matches!(
        (from, to),
        (Scheduled, InProgress)
            | (Scheduled, Cancelled)
            | (InProgress, Verifying)
            | (InProgress, Completed)
            | (InProgress, Cancelled)
            | (Verifying, InProgress)
            | (Verifying, Completed)
    )
}

/// Checks a title: 1 to [`TITLE_MAX_CHARS`] characters once trimmed, no control characters.
/// Returns it trimmed.
pub fn validate_title(title: &str) -> Result<&str, String> {
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > TITLE_MAX_CHARS {
        return Err(format!(
            "a maintenance title has 1 to {TITLE_MAX_CHARS} characters (this one has {chars})"
        ));
    }
    if title.chars().any(char::is_control) {
        return Err("a maintenance title must not contain control characters".to_owned());
    }
    Ok(title)
}

/// Checks a Markdown text (`field` names it in the message): at most [`TEXT_MAX_CHARS`].
pub fn validate_text(field: &str, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > TEXT_MAX_CHARS {
        return Err(format!(
            "`{field}` has at most {TEXT_MAX_CHARS} characters (this one has {chars})"
        ));
    }
    Ok(())
}

/// Checks the span (the end after the start, at most `maintenance.policy.max_span` later, the
/// default policy's without `config`) and the affected components and tenants: at least one
/// component, each known to `config` when one is given, and every listed tenant known.
pub fn validate_scope(
    starts_at: Timestamp,
    ends_at: Timestamp,
    components: &[String],
    tenants: &TenantSel,
    config: Option<&Config>,
) -> Result<(), String> {
    if ends_at <= starts_at {
        return Err(format!(
            "the end ({ends_at}) must come after the start ({starts_at})"
        ));
    }
    let max_span = config.map_or_else(
        || crate::config::MaintenancePolicy::default().max_span,
        |c| c.maintenance.policy.max_span,
    );
    let span = ends_at.duration_since(starts_at);
    if span.unsigned_abs() > max_span {
        return Err(format!(
            "the maintenance would last {}, longer than `maintenance.policy.max_span` ({}); \
             shorten it, split it, or raise the limit",
            crate::duration::format_duration(span.unsigned_abs()),
            crate::duration::format_duration(max_span)
        ));
    }
    if components.is_empty() {
        return Err("name at least one affected component".to_owned());
    }
    let Some(config) = config else {
        return Ok(());
    };
    let list = |ids: Vec<&String>| {
        ids.into_iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for c in components {
        if !config.components.contains_key(c) {
            return Err(format!(
                "there is no component `{c}` in the configuration; known components: {}",
                list(config.components.keys().collect())
            ));
        }
    }
    if let TenantSel::List(ids) = tenants {
        if ids.is_empty() {
            return Err("name at least one tenant, or `all`".to_owned());
        }
        for t in ids {
            if !config.tenants.contains_key(t) {
                let known = if config.tenants.is_empty() {
                    "none are configured".to_owned()
                } else {
                    format!("known tenants: {}", list(config.tenants.keys().collect()))
                };
                return Err(format!(
                    "there is no tenant `{t}` in the configuration; {known}"
                ));
            }
        }
    }
    Ok(())
}

/// Checks a new maintenance with [`validate_title`], [`validate_text`] and
/// [`validate_scope`]. The notice policy is checked apart, because `force` overrides it.
pub fn validate_new(new: &NewMaintenance, config: Option<&Config>) -> Result<(), String> {
    validate_title(&new.title)?;
    if let Some(d) = &new.description {
        validate_text("description", d)?;
    }
    if let Some(r) = &new.reason {
        validate_text("reason", r)?;
    }
    validate_text("message", &new.message)?;
    validate_scope(
        new.starts_at,
        new.ends_at,
        &new.components,
        &new.tenants,
        config,
    )
}

/// Why a change by hand cannot be made to a maintenance as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefused {
    /// It is `completed` or `cancelled`.
    Finished {
        id: String,
        status: MaintenanceStatus,
    },
    /// It has started: its start can no longer move.
    StartFixed {
        id: String,
        status: MaintenanceStatus,
    },
    /// A person may not move it from `from` to `to` ([`manual_transition_allowed`]).
    Transition {
        id: String,
        from: MaintenanceStatus,
        to: MaintenanceStatus,
    },
}

impl fmt::Display for ChangeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeRefused::Finished { id, status } => {
                write!(
                    f,
                    "maintenance {id} is {status} and can no longer be changed"
                )
            }
            ChangeRefused::StartFixed { id, status } => write!(
                f,
                "maintenance {id} is {status} and its start can no longer move; change its end \
                 or complete it"
            ),
            ChangeRefused::Transition { id, from, to } => {
                write!(f, "maintenance {id} is {from} and cannot become {to}")
            }
        }
    }
}

impl std::error::Error for ChangeRefused {}

/// The maintenance after a reschedule or edit made at `now`, its timeline and revision left
/// as they were (the store adds the update and the revision). `None` when the edit changes
/// nothing and says nothing: nothing is recorded then.
pub fn apply_edit(
    before: &MaintenanceRecord,
    edit: &MaintenanceEdit,
    now: Timestamp,
) -> Result<Option<MaintenanceRecord>, ChangeRefused> {
    if before.status.is_terminal() {
        return Err(ChangeRefused::Finished {
            id: before.id.clone(),
            status: before.status,
        });
    }
    let mut after = before.clone();
    if let Some(start) = edit.starts_at {
        if start != before.starts_at && before.status != MaintenanceStatus::Scheduled {
            return Err(ChangeRefused::StartFixed {
                id: before.id.clone(),
                status: before.status,
            });
        }
        after.starts_at = start;
        if start < before.starts_at {
            after.scheduled_at = now;
        }
    }
    if let Some(end) = edit.ends_at {
        after.ends_at = end;
    }
    if let Some(title) = &edit.title {
        after.title.clone_from(title);
    }
    if let Some(description) = &edit.description {
        after.description.clone_from(description);
    }
    if let Some(reason) = &edit.reason {
        after.reason.clone_from(reason);
    }
    if let Some(components) = &edit.components {
        after.components.clone_from(components);
    }
    if let Some(tenants) = &edit.tenants {
        after.tenants = tenants.clone();
    }
    if let Some(checks) = edit.checks {
        after.checks = checks;
    }
    if let Some(v) = edit.counts_as_downtime {
        after.counts_as_downtime = v;
    }
    if let Some(v) = edit.notify_subscribers {
        after.notify_subscribers = v;
    }
    if after == *before {
        after.updated_at = now;
        return Ok(edit.message.is_some().then_some(after));
    }
    after.sequence += 1;
    after.updated_at = now;
    Ok(Some(after))
}

/// The maintenance after an update by hand at `now` that sets its status to `to` (the same
/// status: a message only), its timeline and revision left as they were. Starting before the
/// start sets `starts_at` to `now`, ending early sets `ends_at` to `now`; those and cancelling
/// bump `sequence`.
pub fn apply_status(
    before: &MaintenanceRecord,
    to: MaintenanceStatus,
    now: Timestamp,
) -> Result<MaintenanceRecord, ChangeRefused> {
    if to != before.status && !manual_transition_allowed(before.status, to) {
        return Err(ChangeRefused::Transition {
            id: before.id.clone(),
            from: before.status,
            to,
        });
    }
    if to == before.status && before.status.is_terminal() {
        return Err(ChangeRefused::Finished {
            id: before.id.clone(),
            status: before.status,
        });
    }
    let mut after = before.clone();
    after.status = to;
    let ends_early = matches!(
        to,
        MaintenanceStatus::Completed | MaintenanceStatus::Cancelled
    ) && before.status != MaintenanceStatus::Scheduled
        && now < before.ends_at;
    if ends_early {
        after.ends_at = now;
    }
    if to == MaintenanceStatus::InProgress
        && before.status == MaintenanceStatus::Scheduled
        && now < before.starts_at
    {
        after.starts_at = now;
    }
    if after.starts_at > after.ends_at {
        after.starts_at = after.ends_at;
    }
    if to == MaintenanceStatus::Cancelled
        || after.ends_at != before.ends_at
        || after.starts_at != before.starts_at
    {
        after.sequence += 1;
    }
    after.updated_at = now;
    Ok(after)
}

/// The subscriber notice of a maintenance change, if it needs one: scheduled when created,
/// rescheduled when a scheduled one's span moves, started, completed, cancelled. Nothing when
/// the maintenance does not notify subscribers. Keyed by the change's revision (`after`'s).
pub fn maintenance_notice(
    before: Option<&MaintenanceRecord>,
    after: &MaintenanceRecord,
    now: Timestamp,
) -> Option<(String, Notice)> {
    if !after.notify_subscribers {
        return None;
    }
    let mut previous = None;
    let event = match before {
        None if after.status == MaintenanceStatus::Scheduled => MaintenanceEvent::Scheduled,
        None => return None,
        Some(b) if b.status != after.status => match after.status {
            MaintenanceStatus::InProgress => MaintenanceEvent::Started,
            MaintenanceStatus::Completed => MaintenanceEvent::Completed,
            MaintenanceStatus::Cancelled => MaintenanceEvent::Cancelled,
            MaintenanceStatus::Scheduled | MaintenanceStatus::Verifying => return None,
        },
        Some(b)
            if (b.starts_at, b.ends_at) != (after.starts_at, after.ends_at)
                && !after.status.is_terminal() =>
        {
            previous = Some((b.starts_at, b.ends_at));
            MaintenanceEvent::Rescheduled
        }
        Some(_) => return None,
    };
    let notice = Notice::Maintenance(MaintenanceNotice {
        event,
        id: after.id.clone(),
        title: after.title.clone(),
        kind: after.kind.as_str().to_owned(),
        description: after.description.clone().unwrap_or_default(),
        reason: after.reason.clone().unwrap_or_default(),
        starts_at: after.starts_at,
        ends_at: after.ends_at,
        previous,
        components: after.components.clone(),
        tenants: match &after.tenants {
            TenantSel::All => None,
            TenantSel::List(ids) => Some(ids.clone()),
        },
        canary: after.canary().to_vec(),
        lead_seconds: None,
        at: now,
    });
    let key = format!(
        "maintenance:{}:{}:{}",
        after.id,
        event.as_str(),
        after.revision
    );
    Some((key, notice))
}

/// A configured tenant a maintenance covers, with what its slot needs and how it is shown.
#[derive(Debug, Clone)]
pub struct CoveredTenant {
    /// Its id, zone and business hours.
    pub input: TenantInput,
    /// Its display name.
    pub name: String,
    /// Its region's id.
    pub region: String,
    /// Its region's zone (IANA name).
    pub timezone: String,
}

/// The configured tenants `sel` covers, in id order. Unknown ids (a tenant removed from the
/// configuration since) are left out.
pub fn covered_tenants(config: &Config, sel: &TenantSel) -> Vec<CoveredTenant> {
    let ids: BTreeSet<&String> = match sel {
        TenantSel::All => config.tenants.keys().collect(),
        TenantSel::List(ids) => ids.iter().collect(),
    };
    ids.into_iter()
        .filter_map(|id| {
            let tenant = config.tenants.get(id)?;
            let region = config.regions.get(&tenant.region)?;
            Some(CoveredTenant {
                input: TenantInput {
                    id: id.clone(),
                    zone: region.timezone.clone(),
                    business_hours: region.business_hours.clone(),
                },
                name: tenant.name.clone(),
                region: tenant.region.clone(),
                timezone: region.timezone_name.clone(),
            })
        })
        .collect()
}

/// A tenant as messages name it: `beta (Beta Inc)`, or the bare id when it is not configured.
pub fn tenant_label(config: &Config, id: &str) -> String {
    match config.tenants.get(id) {
        Some(t) => format!("{id} ({})", t.name),
        None => id.to_owned(),
    }
}

/// Tenants whose slots a window cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsViolation {
    /// What does not fit: "the window cannot fit a 15m slot outside business hours for: beta
    /// (Beta Inc), gamma (Gamma)".
    pub detail: String,
    /// The ids of the tenants that do not fit, in order.
    pub tenants: Vec<String>,
}

/// Plans the tenant slots of `[start, end)` for `sel` under the configuration's policy: `None`
/// when every covered tenant's slot fits (or none is covered), else what does not fit. An
/// impossible plan (a zero slot length) is an `Err` with its message.
pub fn slots_violation(
    config: &Config,
    start: Timestamp,
    end: Timestamp,
    sel: &TenantSel,
    canary: &[String],
) -> Result<Option<SlotsViolation>, String> {
    Ok(slot_plan(config, start, end, sel, canary)?.err())
}

/// The tenant slots of `[start, end)` for `sel` under the configuration's policy, in the order
/// they run (empty when no tenant is covered), or what does not fit; an impossible plan (a zero
/// slot length) is an `Err` with its message.
pub fn slot_plan(
    config: &Config,
    start: Timestamp,
    end: Timestamp,
    sel: &TenantSel,
    canary: &[String],
) -> Result<Result<Vec<Slot>, SlotsViolation>, String> {
    let inputs: Vec<TenantInput> = covered_tenants(config, sel)
        .into_iter()
        .map(|c| c.input)
        .collect();
    if inputs.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let policy = &config.maintenance.policy;
    match plan_slots(
        start,
        end,
        &inputs,
        policy.tenant_slot,
        policy.outside_business_hours,
        canary,
    ) {
        Ok(plan) => Ok(Ok(plan)),
        Err(SlotsError::DoesNotFit { tenants }) => {
            let names: Vec<String> = tenants.iter().map(|id| tenant_label(config, id)).collect();
            let detail = format!(
                "the window cannot fit a {} slot{} for: {}",
                format_duration(policy.tenant_slot),
                if policy.outside_business_hours {
                    " outside business hours"
                } else {
                    ""
                },
                names.join(", ")
            );
            Ok(Err(SlotsViolation { detail, tenants }))
        }
        Err(other) => Err(other.to_string()),
    }
}

/// The slots of the most tenants that fit in `[start, end)` and the ids of the fewest that do
/// not ([`plan_most`]), for showing a plan an admin forced past. An impossible plan (a zero slot length, a tenant listed twice) is an error.
pub fn plan_fitting(
    config: &Config,
    start: Timestamp,
    end: Timestamp,
    inputs: &[TenantInput],
    canary: &[String],
) -> Result<(Vec<Slot>, Vec<String>), SlotsError> {
    let policy = &config.maintenance.policy;
    plan_most(
        start,
        end,
        inputs,
        policy.tenant_slot,
        policy.outside_business_hours,
        canary,
    )
}
