//! What a tenant's subscribers are told of their own update (`docs/notifications.md`): it
//! started (each new action attempt; a resumed one is the same attempt), it completed (the
//! gate passed) or it was rolled back. Nothing when the maintenance does not notify
//! subscribers. The store writes the notice in the transaction of the change that causes it,
//! keyed by maintenance, tenant, event and action attempt, so it is never written twice.

use jiff::Timestamp;

use super::{Step, TenantState};
use crate::notify::{Notice, NoticeSlot, RolloutEvent, RolloutNotice};

/// The event an attempt's start tells, if any: a new action attempt.
pub fn on_start(step: Step, resumed: bool) -> Option<RolloutEvent> {
    (step == Step::Action && !resumed).then_some(RolloutEvent::Started)
}

/// The event a tenant's move to `state` tells, if any.
pub fn on_state(state: TenantState) -> Option<RolloutEvent> {
    match state {
        TenantState::Passed => Some(RolloutEvent::Completed),
        TenantState::RolledBack => Some(RolloutEvent::RolledBack),
        _ => None,
    }
}

/// The facts of one tenant's update, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantUpdate {
    pub maintenance: String,
    pub title: String,
    pub components: Vec<String>,
    pub notify_subscribers: bool,
    pub tenant: String,
    pub slot_start: Timestamp,
    pub slot_end: Timestamp,
    /// The number of the tenant's last action attempt.
    pub action_attempt: u32,
}

/// The notice of `event` for `update` at `at` with its outbox key, or `None` when the
/// maintenance does not notify subscribers.
pub fn tenant_notice(
    update: &TenantUpdate,
    event: RolloutEvent,
    at: Timestamp,
) -> Option<(String, Notice)> {
    if !update.notify_subscribers {
        return None;
    }
    let key = format!(
        "rollout/{}/{}/{}/{}",
        update.maintenance,
        update.tenant,
        event.as_str(),
        update.action_attempt
    );
    let notice = Notice::Rollout(RolloutNotice {
        event,
        id: update.maintenance.clone(),
        title: update.title.clone(),
        tenant: update.tenant.clone(),
        tenant_name: update.tenant.clone(),
        components: update.components.clone(),
        slot: NoticeSlot {
            start: update.slot_start,
            end: update.slot_end,
        },
        at,
        local: None,
    });
    Some((key, notice))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn update(notify: bool) -> TenantUpdate {
        TenantUpdate {
            maintenance: "m1".into(),
            title: "Nightly".into(),
            components: vec!["core".into()],
            notify_subscribers: notify,
            tenant: "acme".into(),
            slot_start: "2026-03-28T02:00:00Z".parse().unwrap(),
            slot_end: "2026-03-28T02:04:00Z".parse().unwrap(),
            action_attempt: 2,
        }
    }

    #[test]
    fn only_new_action_attempts_and_end_states_tell_subscribers() {
        assert_eq!(on_start(Step::Action, false), Some(RolloutEvent::Started));
        assert_eq!(on_start(Step::Action, true), None);
        assert_eq!(on_start(Step::Rollback, false), None);
        assert_eq!(on_state(TenantState::Passed), Some(RolloutEvent::Completed));
        assert_eq!(
            on_state(TenantState::RolledBack),
            Some(RolloutEvent::RolledBack)
        );
        for state in TenantState::ALL {
            if !matches!(state, TenantState::Passed | TenantState::RolledBack) {
                assert_eq!(on_state(*state), None, "{state}");
            }
        }
    }

    #[test]
    fn the_notice_is_keyed_per_tenant_event_and_attempt_and_respects_the_switch() {
        let at = "2026-03-28T02:01:00Z".parse().unwrap();
        let (key, notice) = tenant_notice(&update(true), RolloutEvent::RolledBack, at).unwrap();
        assert_eq!(key, "rollout/m1/acme/rolled_back/2");
        assert_eq!(notice.event_name(), "rollout.rolled_back");
        assert_eq!(notice.subject_key(), "maintenance/m1");
        assert_eq!(notice.components(), ["core"]);
        assert!(tenant_notice(&update(false), RolloutEvent::Started, at).is_none());
    }
}
