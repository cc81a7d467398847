//! `/api/v1/maintenances`: schedule maintenance windows, reschedule and edit them, post updates
//! to their timeline, complete (end early) and cancel them. Viewers read; editors write; only an
//! admin may `force` a schedule past the notice policy, and the audit log records the violation
//! that was overridden.
//!
//! Components and tenants must exist in the running configuration. The notice policy is the
//! configuration's `maintenance.policy` ([`upkeep_domain::maintenance::check_notice`]): a
//! violation is a 422 whose detail says what is wrong and, for short notice, names the earliest
//! allowed start (also given as the `earliest_allowed_start` member of the problem document).
//!
//! Tenant slots (`docs/decisions.md#maintenance`): scheduling, and any change of a maintenance's times
//! or tenants, plans one `tenant_slot` per covered tenant with
//! [`upkeep_domain::maintenance::plan_slots`] (outside each tenant's business hours, in its
//! region's zone, when the policy says so). A window that no arrangement of slots can hold them
//! all in is a 422 (`urn:upkeep:problem:tenant-slots`) naming the fewest tenants that cannot
//! fit, also listed by id in `tenants_not_fitting`; an admin's `force` accepts it and the audit log records it.
//! `GET .../{id}/slots` shows the plan.
//!
//! `POST .../{id}/start` starts a scheduled maintenance by hand now. When pre-flight checks hold
//! it (`hold_reason`), it needs `skip_checks: true`, which is for admins only; the public
//! timeline says only that it was started by hand, and the audit row of the start keeps the
//! failing checks that were skipped (its `before.hold_reason`).
//!
//! A one-off maintenance may carry `rollout` (`docs/rollouts.md`): the same object as a window's
//! `rollout:`, read by the configuration's own reader
//! ([`upkeep_domain::config::decode_rollout_json`]); a bad one is a 422 listing every problem.
//! The views show it with webhook secrets redacted; its progress is under `.../{id}/rollout`
//! ([`super::rollout`]).
//!
//! The rules live in the maintenance service ([`upkeep_engine::service::maintenance`]), which
//! the command line calls too; here: `bodies` (views, request bodies and their parsing),
//! `refusal` (the service's errors as problem documents) and `handlers`.

mod bodies;
mod handlers;
mod refusal;

pub use bodies::{
    ClosingBody, EditMaintenanceBody, ListQuery, MaintenanceUpdateBody, MaintenanceUpdateView,
    MaintenanceView, NewMaintenanceBody, StartBody, TenantSlotView,
};
pub use handlers::*;
pub use refusal::Refusal;
