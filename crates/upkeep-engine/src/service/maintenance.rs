//! Maintenance use cases: scheduling (notice policy, tenant slots, an overriding `force`),
//! editing and rescheduling, posting an update, starting by hand (past failing pre-flight
//! checks with `skip_checks`), completing and cancelling. The rules are the domain's
//! ([`upkeep_domain::maintenance::rules`], [`check_notice`], [`check_reschedule`]); each change
//! is written with its audit row by the store. An override (`force`, `skip_checks`) is
//! refused to a caller who may not override, and recorded in the audit row when used.
//!
//! Without a configuration (the command line run without `--config`), component and tenant
//! ids are not checked, no tenant slots are planned and the default notice policy applies.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::{Config, MaintenancePolicy};
use upkeep_domain::maintenance::rules::{
    ChangeRefused, SlotsViolation, apply_edit, slot_plan, slots_violation, validate_new,
    validate_scope, validate_text, validate_title,
};
use upkeep_domain::maintenance::{
    MaintenanceEdit, MaintenanceRecord, MaintenanceStatus, NewMaintenance, NoticeOutcome,
    NoticeViolation, Slot, check_notice, check_reschedule,
};
use upkeep_store::{Store, StoreError};

use super::Caller;

/// An override a caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// `force`: accept a schedule outside the notice policy or the tenant slots.
    Force,
    /// `skip_checks`: start although failing pre-flight checks hold the maintenance.
    SkipChecks,
}

/// Why a maintenance use case refused.
#[derive(Debug)]
pub enum MaintenanceError {
    /// The request breaks a rule; the text says which.
    Invalid(String),
    /// There is no maintenance with this id.
    NotFound(String),
    /// The maintenance's status does not allow the change; the text says why.
    Conflict(String),
    /// Failing pre-flight checks hold the start (`skip_checks` overrides).
    Held { id: String, reason: String },
    /// The caller asked for an override it may not use.
    Forbidden(Override),
    /// The schedule breaks the notice policy (`force` overrides).
    Notice(NoticeViolation),
    /// The window cannot hold its tenants' slots (`force` overrides).
    Slots(SlotsViolation),
    /// The store failed (or another change kept winning: [`StoreError::Conflict`]).
    Store(StoreError),
}

impl fmt::Display for MaintenanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaintenanceError::Invalid(text) | MaintenanceError::Conflict(text) => f.write_str(text),
            MaintenanceError::NotFound(id) => write!(f, "there is no maintenance `{id}`"),
            MaintenanceError::Held { id, reason } => {
                write!(f, "pre-flight checks hold maintenance {id}: {reason}")
            }
            MaintenanceError::Forbidden(Override::Force) => {
                f.write_str("`force` overrides the maintenance notice policy and the tenant slots")
            }
            MaintenanceError::Forbidden(Override::SkipChecks) => {
                f.write_str("`skip_checks` starts a maintenance past failing pre-flight checks")
            }
            MaintenanceError::Notice(violation) => write!(f, "{violation}"),
            MaintenanceError::Slots(violation) => f.write_str(&violation.detail),
            MaintenanceError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MaintenanceError {}

impl From<StoreError> for MaintenanceError {
    fn from(e: StoreError) -> Self {
        MaintenanceError::Store(e)
    }
}

impl From<ChangeRefused> for MaintenanceError {
    fn from(refused: ChangeRefused) -> Self {
        MaintenanceError::Conflict(refused.to_string())
    }
}

/// A maintenance as scheduled, with what an override accepted (also in the audit row).
#[derive(Debug)]
pub struct Scheduled {
    pub record: MaintenanceRecord,
    /// The notice violation `force` accepted.
    pub forced_notice: Option<String>,
    /// The tenants' slots `force` accepted not fitting.
    pub forced_slots: Option<String>,
}

/// What the rules answer for a maintenance about to be scheduled: the overrides `force`
/// accepted, and the tenants' slots in the order they would run.
#[derive(Debug, Default)]
pub struct Checked {
    /// The notice violation `force` accepted.
    pub forced_notice: Option<String>,
    /// The tenants' slots `force` accepted not fitting.
    pub forced_slots: Option<String>,
    /// Each covered tenant's slot when they fit (empty when no tenant is covered or forced).
    pub slots: Vec<Slot>,
}

/// Checks a maintenance as [`schedule`] would, without writing anything: the title is trimmed,
/// a blank reason dropped and a component named twice counted once; then it is checked
/// ([`validate_new`], against `config` when given), against the notice policy and against the
/// tenants' slots, either of which `force` overrides for a caller who may. What a form shows,
/// and `POST /api/v1/maintenances/check` answers, before anything is scheduled.
pub fn check(
    config: Option<&Config>,
    caller: &Caller,
    new: &mut NewMaintenance,
    force: bool,
    now: Timestamp,
) -> Result<Checked, MaintenanceError> {
    allow(caller, Override::Force, force)?;
    new.title = new.title.trim().to_owned();
    new.reason = new.reason.take().filter(|r| !r.trim().is_empty());
    new.components = dedup(std::mem::take(&mut new.components));
    validate_new(new, config).map_err(MaintenanceError::Invalid)?;
    let default_policy;
    let policy = match config {
        Some(c) => &c.maintenance.policy,
        None => {
            default_policy = MaintenancePolicy::default();
            &default_policy
        }
    };
    let forced_notice = forced_notice(check_notice(
        policy,
        new.kind,
        new.reason.as_deref(),
        now,
        new.starts_at,
        force,
    ))?;
    let Some(config) = config else {
        return Ok(Checked {
            forced_notice,
            ..Checked::default()
        });
    };
    let canary = new.rollout.as_ref().map_or(&[][..], |r| &r.canary);
    let plan = slot_plan(config, new.starts_at, new.ends_at, &new.tenants, canary)
        .map_err(MaintenanceError::Invalid)?;
    let (slots, forced_slots) = match plan {
        Ok(slots) => (slots, None),
        Err(violation) if force => (Vec::new(), Some(violation.detail)),
        Err(violation) => return Err(MaintenanceError::Slots(violation)),
    };
    Ok(Checked {
        forced_notice,
        forced_slots,
        slots,
    })
}

/// Schedules a maintenance once [`check`] accepts it (`force` overriding the notice policy and
/// the tenants' slots for a caller who may).
pub async fn schedule(
    store: &Store,
    config: Option<&Config>,
    caller: &Caller,
    mut new: NewMaintenance,
    force: bool,
    now: Timestamp,
) -> Result<Scheduled, MaintenanceError> {
    let checked = check(config, caller, &mut new, force, now)?;
    let forced = join_forced(checked.forced_notice.clone(), checked.forced_slots.clone());
    let record = store
        .create_maintenance(&new, &caller.actor, now, forced.as_deref())
        .await?;
    Ok(Scheduled {
        record,
        forced_notice: checked.forced_notice,
        forced_slots: checked.forced_slots,
    })
}

/// A reschedule or edit as asked: the fields to change ([`MaintenanceEdit::forced`] is set
/// here), or the end as a `duration` from the (new) start.
#[derive(Debug, Clone, Default)]
pub struct EditRequest {
    pub edit: MaintenanceEdit,
    /// The new end as a length from the new (or current) start; give this or `edit.ends_at`.
    pub duration: Option<Duration>,
    /// Accept a start moved earlier than the notice allows, or slots that do not fit.
    pub force: bool,
}

/// Reschedules or edits a maintenance that has not finished. The start moves only while it is
/// scheduled; moving it earlier needs the policy's notice counted from `now`; a change of its
/// times or tenants needs their slots to fit. `force` overrides both for a caller who may. A
/// component named twice counts once.
pub async fn edit(
    store: &Store,
    config: &Config,
    caller: &Caller,
    id: &str,
    request: EditRequest,
    now: Timestamp,
) -> Result<MaintenanceRecord, MaintenanceError> {
    allow(caller, Override::Force, request.force)?;
    let current = found(store.get_maintenance(id).await?, id)?;
    let EditRequest {
        mut edit,
        duration,
        force,
    } = request;
    // A finished maintenance, or a start that can no longer move, is refused first.
    let probe = MaintenanceEdit {
        starts_at: edit.starts_at,
        ..MaintenanceEdit::default()
    };
    apply_edit(&current, &probe, now)?;
    let start = edit.starts_at.unwrap_or(current.starts_at);
    edit.components = edit.components.map(dedup);
    if let Some(d) = duration {
        let end = SignedDuration::try_from(d)
            .ok()
            .and_then(|d| start.checked_add(d).ok())
            .ok_or_else(|| MaintenanceError::Invalid("`duration` is too long".to_owned()))?;
        edit.ends_at = Some(end);
    }
    if let Some(title) = &edit.title {
        edit.title = Some(
            validate_title(title)
                .map_err(MaintenanceError::Invalid)?
                .to_owned(),
        );
    }
    for (field, text) in [
        (
            "description",
            edit.description.as_ref().and_then(Option::as_ref),
        ),
        ("reason", edit.reason.as_ref().and_then(Option::as_ref)),
        ("message", edit.message.as_ref()),
    ] {
        if let Some(text) = text {
            validate_text(field, text).map_err(MaintenanceError::Invalid)?;
        }
    }
    let end = edit.ends_at.unwrap_or(current.ends_at);
    let tenants = edit.tenants.as_ref().unwrap_or(&current.tenants);
    validate_scope(
        start,
        end,
        edit.components.as_deref().unwrap_or(&current.components),
        tenants,
        Some(config),
    )
    .map_err(MaintenanceError::Invalid)?;
    let forced_notice = match edit.starts_at {
        Some(new_start) => forced_notice(check_reschedule(
            &config.maintenance.policy,
            current.kind,
            current.starts_at,
            new_start,
            now,
            force,
        ))?,
        None => None,
    };
    let forced_slots =
        if start != current.starts_at || end != current.ends_at || *tenants != current.tenants {
            check_slots(config, start, end, tenants, current.canary(), force)?
        } else {
            None
        };
    edit.forced = join_forced(forced_notice, forced_slots);
    let record = store
        .reschedule_maintenance(id, &edit, &caller.actor, now)
        .await?;
    found(record, id)
}

/// Posts an update to the timeline: a message, a status change by hand (where the current
/// status allows it) or both.
pub async fn post_update(
    store: &Store,
    caller: &Caller,
    id: &str,
    status: Option<MaintenanceStatus>,
    body: &str,
    now: Timestamp,
) -> Result<MaintenanceRecord, MaintenanceError> {
    validate_text("body", body).map_err(MaintenanceError::Invalid)?;
    if status.is_none() && body.trim().is_empty() {
        return Err(MaintenanceError::Invalid(
            "send a `body`, a `status` or both".to_owned(),
        ));
    }
    let record = store
        .add_maintenance_update(id, status, body, &caller.actor, now)
        .await?;
    found(record, id)
}

/// A maintenance started by hand, with the failing checks `skip_checks` passed over (also
/// written in the timeline, and so in the audit row).
#[derive(Debug)]
pub struct Started {
    pub record: MaintenanceRecord,
    pub skipped_checks: Option<String>,
}

/// Starts a `scheduled` maintenance by hand, now. When failing pre-flight checks hold it, this
/// needs `skip_checks` (for a caller who may override); the public timeline update then says
/// it was started by hand, before `message`, and the checks that were skipped are returned
/// (and audited), never published.
pub async fn start(
    store: &Store,
    caller: &Caller,
    id: &str,
    skip_checks: bool,
    message: &str,
    config: Option<&Config>,
    now: Timestamp,
) -> Result<Started, MaintenanceError> {
    validate_text("body", message).map_err(MaintenanceError::Invalid)?;
    allow(caller, Override::SkipChecks, skip_checks)?;
    let current = found(store.get_maintenance(id).await?, id)?;
    if current.status != MaintenanceStatus::Scheduled {
        return Err(MaintenanceError::Conflict(format!(
            "maintenance {id} is {}: only a scheduled one can be started",
            current.status
        )));
    }
    // Started early, it spans from now: the span limit holds for that span too (only the
    // span: components removed from the configuration since do not stop a start).
    let max_span = config.map_or_else(
        || MaintenancePolicy::default().max_span,
        |c| c.maintenance.policy.max_span,
    );
    let span = current.ends_at.duration_since(now).unsigned_abs();
    if now < current.starts_at && span > max_span {
        return Err(MaintenanceError::Invalid(format!(
            "started now, the maintenance would last {}, longer than \
             `maintenance.policy.max_span` ({}): move its end earlier first",
            upkeep_domain::duration::format_duration(span),
            upkeep_domain::duration::format_duration(max_span)
        )));
    }
    let (text, skipped_checks) = match &current.hold_reason {
        Some(reason) if !skip_checks => {
            return Err(MaintenanceError::Held {
                id: id.to_owned(),
                reason: reason.clone(),
            });
        }
        Some(reason) => {
            // The reason (a command line, its output) is the operator's: it is returned to
            // the caller and kept in the audit row (`before.hold_reason`), never written into
            // the public timeline.
            let mut text = "Started by hand.".to_owned();
            if !message.trim().is_empty() {
                text.push_str("\n\n");
                text.push_str(message);
            }
            (text, Some(reason.clone()))
        }
        None => (message.to_owned(), None),
    };
    validate_text("body", &text).map_err(MaintenanceError::Invalid)?;
    let record = store
        .add_maintenance_update(
            id,
            Some(MaintenanceStatus::InProgress),
            &text,
            &caller.actor,
            now,
        )
        .await?;
    Ok(Started {
        record: found(record, id)?,
        skipped_checks,
    })
}

/// How a maintenance is closed by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Completes an `in_progress` or `verifying` maintenance; before its end, this ends it
    /// early.
    Complete,
    /// Cancels a `scheduled` or `in_progress` maintenance (one in progress ends now).
    Cancel,
}

/// Completes an `in_progress` or `verifying` maintenance; before its end, this ends it early.
pub async fn complete(
    store: &Store,
    caller: &Caller,
    id: &str,
    message: &str,
    now: Timestamp,
) -> Result<MaintenanceRecord, MaintenanceError> {
    close(store, caller, id, Closing::Complete, message, now).await
}

/// Cancels a `scheduled` or `in_progress` maintenance (one in progress ends now).
pub async fn cancel(
    store: &Store,
    caller: &Caller,
    id: &str,
    message: &str,
    now: Timestamp,
) -> Result<MaintenanceRecord, MaintenanceError> {
    close(store, caller, id, Closing::Cancel, message, now).await
}

/// Closes a maintenance by hand, as `how` says, with an optional message.
pub async fn close(
    store: &Store,
    caller: &Caller,
    id: &str,
    how: Closing,
    message: &str,
    now: Timestamp,
) -> Result<MaintenanceRecord, MaintenanceError> {
    validate_text("body", message).map_err(MaintenanceError::Invalid)?;
    let to = match how {
        Closing::Complete => {
            let current = found(store.get_maintenance(id).await?, id)?;
            if !matches!(
                current.status,
                MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
            ) {
                return Err(MaintenanceError::Conflict(format!(
                    "maintenance {id} is {}: only one in progress or verifying can be completed",
                    current.status
                )));
            }
            MaintenanceStatus::Completed
        }
        Closing::Cancel => MaintenanceStatus::Cancelled,
    };
    let record = store
        .add_maintenance_update(id, Some(to), message, &caller.actor, now)
        .await?;
    found(record, id)
}

fn found(
    record: Option<MaintenanceRecord>,
    id: &str,
) -> Result<MaintenanceRecord, MaintenanceError> {
    record.ok_or_else(|| MaintenanceError::NotFound(id.to_owned()))
}

/// The ids in their first order, each once.
fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Refuses an override asked for by a caller who may not use it.
fn allow(caller: &Caller, what: Override, asked: bool) -> Result<(), MaintenanceError> {
    if asked && !caller.may_override {
        return Err(MaintenanceError::Forbidden(what));
    }
    Ok(())
}

/// The violation text to audit, or the refusal.
fn forced_notice(
    outcome: Result<NoticeOutcome, NoticeViolation>,
) -> Result<Option<String>, MaintenanceError> {
    match outcome {
        Ok(NoticeOutcome::Accepted) => Ok(None),
        Ok(NoticeOutcome::Forced { violation }) => Ok(Some(violation.to_string())),
        Err(violation) => Err(MaintenanceError::Notice(violation)),
    }
}

/// Plans the tenant slots of `[start, end)`: a window that cannot hold every tenant's slot is
/// refused unless `force`d, and then the text of what was overridden is returned for the audit.
fn check_slots(
    config: &Config,
    start: Timestamp,
    end: Timestamp,
    sel: &upkeep_domain::config::TenantSel,
    canary: &[String],
    force: bool,
) -> Result<Option<String>, MaintenanceError> {
    match slots_violation(config, start, end, sel, canary).map_err(MaintenanceError::Invalid)? {
        None => Ok(None),
        Some(violation) if force => Ok(Some(violation.detail)),
        Some(violation) => Err(MaintenanceError::Slots(violation)),
    }
}

/// Both overridden violations, for the one `forced` member of the audit row.
fn join_forced(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}
