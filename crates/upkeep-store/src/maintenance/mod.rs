//! Maintenance windows: the maintenance row (a one-off maintenance, or one occurrence of a
//! recurring window from the configuration) and its timeline of updates
//! (`docs/decisions.md#maintenance`). The entity and the rules that change it are the domain's
//! ([`upkeep_domain::maintenance::record`], [`upkeep_domain::maintenance::rules`]); the
//! maintenance service checks a change against the policy and the configuration; this module
//! stores it.
//!
//! - `rows`: the columns and how a row becomes a [`MaintenanceRecord`].
//! - `read`: one maintenance, lists by [`MaintenanceFilter`], the change fingerprint.
//! - `changes`: each change written with its audit row
//!   (`maintenance.create|reschedule|update|start|verify|complete|cancel|hold|silence`), its
//!   subscriber notice and its operator event in one transaction.
//! - `occurrences`: occurrences of recurring windows, keyed by `occurrence_key`
//!   (`WINDOW_ID@LOCAL_START`) and inserted with `ON CONFLICT (occurrence_key) DO NOTHING`, so
//!   materialising twice, or from two replicas, stores each occurrence once.
//!
//! Status changes by time ([`Store::transition_maintenance`]) are one conditional `UPDATE ...
//! WHERE status = FROM`, so across replicas exactly one caller wins each transition. Other
//! concurrent changes to one maintenance are serialised optimistically: each bumps a revision
//! and is computed again on a clash ([`crate::retry`]).

mod changes;
mod occurrences;
mod read;
mod rows;
pub(crate) use rows::parse_tenants;

pub use changes::preflight_source;
pub use upkeep_domain::maintenance::{
    MaintenanceEdit, MaintenanceRecord, MaintenanceUpdateRecord, NewMaintenance,
};

/// Which maintenances [`Store::list_maintenances`](crate::Store::list_maintenances) returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceFilter {
    /// `scheduled` ones (including those whose start is held or overdue), soonest first.
    Upcoming,
    /// `in_progress` and `verifying` ones, by start.
    Active,
    /// Every one, latest start first.
    All,
    /// `completed` and `cancelled` ones, most recently changed first.
    Finished,
    /// Cancelled occurrences of recurring windows, latest start first (the calendars mark
    /// them in their series).
    CancelledOccurrences,
    /// Those holding an Alertmanager silence, by start.
    WithSilence,
    /// `scheduled` one-off maintenances (not occurrences of a window), soonest first.
    UpcomingOneOff,
}

/// A `scheduled` maintenance whose start pre-flight checks hold, as
/// [`Store::held_maintenances`](crate::Store::held_maintenances) reads it (no timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMaintenance {
    pub id: String,
    pub title: String,
    pub starts_at: jiff::Timestamp,
    /// Why the start is held.
    pub hold_reason: String,
}

/// What [`Store::apply_occurrence_update`](crate::Store::apply_occurrence_update) changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OccurrenceChanges {
    /// Occurrences stored by this call (not those another call stored first).
    pub inserted: Vec<MaintenanceRecord>,
    /// Future occurrences moved to new times.
    pub rescheduled: Vec<MaintenanceRecord>,
    /// Future occurrences the window no longer produces, now cancelled.
    pub cancelled: Vec<MaintenanceRecord>,
}
