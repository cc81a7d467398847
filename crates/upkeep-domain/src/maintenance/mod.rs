//! Maintenance windows: the pure rules behind scheduling, rolling tenants through a window,
//! materialising recurring windows and moving a maintenance through its statuses
//! (`docs/decisions.md#maintenance` and `#time`).
//!
//! - [`notice`]: the notice policy. A planned maintenance needs `min_notice` (default 14 days)
//!   between its scheduling and its start and is otherwise refused with the earliest allowed
//!   start; an emergency one may have short notice but needs a reason; a start in the past is
//!   refused; an admin's `force` accepts any violation, which the caller audits. Moving a start
//!   later is always allowed, moving it earlier re-measures the notice from that moment.
//! - [`slots`]: tenant slots. Tenants, sorted by id, each get one slot of `tenant_slot`, placed
//!   greedily one after the other inside the window and, when the policy says so, outside
//!   their region's business hours in their own zone; every tenant that does not fit is named.
//! - [`occurrences`]: recurring windows. Occurrences are computed in the window's local time
//!   (a 02:30 start in a spring-forward gap moves to 03:30, an autumn 02:30 happens once, the
//!   first), last their duration in absolute time and carry a stable key
//!   `WINDOW_ID@LOCAL_START` for the store to upsert on; an edited window changes future
//!   occurrences only.
//! - [`lifecycle`]: `scheduled → in_progress → verifying → completed` (and `cancelled`) as
//!   time passes, with pre-flight checks holding the start and a window missed whole (the
//!   server was down) completing at once.
//!
//! - [`coverage`]: what a maintenance covers and when — the components it lists for its whole
//!   span, a covered tenant's own components during that tenant's slot.
//! - [`record`]: the maintenance entity and its timeline, a new maintenance and an edit.
//! - [`rules`]: changes by hand — what titles, texts and scopes must be, which status changes
//!   a person may make, what an edit or a status change does to the record, which subscriber
//!   notice it causes, and which tenants' slots a window cannot hold.
//!
//! As everywhere in this crate, nothing here reads the clock: "now" is a parameter.

pub mod coverage;
pub mod lifecycle;
pub mod notice;
pub mod occurrences;
pub mod preflight;
pub mod record;
pub mod rules;
pub mod slots;

pub use coverage::Coverage;
pub use lifecycle::{MaintenanceStatus, covers, due_transition};
pub use notice::{Kind, NoticeOutcome, NoticeViolation, check_notice, check_reschedule};
pub use occurrences::{Occurrence, StoredOccurrence, Update, materialise, plan_update};
pub use record::{
    MaintenanceEdit, MaintenanceRecord, MaintenanceUpdateRecord, NewMaintenance, checks_str,
    tenants_json,
};
pub use slots::{Slot, SlotsError, TenantInput, plan_most, plan_slots};
