//! A component's status, derived from what watches it: its monitors and its alert rules, then
//! overridden by an open incident's declared status and by maintenance.
//!
//! The derivation, worst first:
//! - every active monitor of the component down (at least one) → `major_outage`;
//! - some but not all active monitors down, or a `critical` rule firing → `partial_outage`;
//! - a `warning` rule firing → `degraded_performance`;
//! - otherwise → `operational` (`info` rules never change the status; pending and paused
//!   monitors are not active and count for nothing).
//!
//! Overrides: a maintenance covering the component shows `under_maintenance` whatever else is
//! true (the downtime is planned); otherwise an open incident's declared status for the
//! component replaces the derived one, since an operator's word beats a probe's.

use crate::config::Severity;
use crate::monitor_state::MonitorStatus;

/// The statuses of Atlassian Statuspage, ordered from best to worst (maintenance aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentStatus {
    Operational,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
    UnderMaintenance,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
        ComponentStatus::UnderMaintenance,
    ];

    /// The Statuspage enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
            ComponentStatus::UnderMaintenance => "under_maintenance",
        }
    }

    pub fn parse(s: &str) -> Option<ComponentStatus> {
        ComponentStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ComponentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status from the component's monitors and the severities of its firing rules.
pub fn derive(monitors: &[MonitorStatus], firing_rules: &[Severity]) -> ComponentStatus {
    let active = monitors
        .iter()
        .filter(|m| matches!(m, MonitorStatus::Up | MonitorStatus::Down))
        .count();
    let down = monitors
        .iter()
        .filter(|m| **m == MonitorStatus::Down)
        .count();
    let from_monitors = if down == 0 {
        ComponentStatus::Operational
    } else if down == active {
        ComponentStatus::MajorOutage
    } else {
        ComponentStatus::PartialOutage
    };
    let from_rules = firing_rules
        .iter()
        .map(|s| match s {
            Severity::Critical => ComponentStatus::PartialOutage,
            Severity::Warning => ComponentStatus::DegradedPerformance,
            Severity::Info => ComponentStatus::Operational,
        })
        .max()
        .unwrap_or(ComponentStatus::Operational);
    from_monitors.max(from_rules)
}

/// Applies the overrides to a derived status.
pub fn with_overrides(
    derived: ComponentStatus,
    incident: Option<ComponentStatus>,
    under_maintenance: bool,
) -> ComponentStatus {
    if under_maintenance {
        ComponentStatus::UnderMaintenance
    } else {
        incident.unwrap_or(derived)
    }
}

#[cfg(test)]
mod tests {
    use super::ComponentStatus::*;
    use super::*;
    use MonitorStatus::{Down, Paused, Pending, Up};

    #[test]
    fn monitors_decide_between_operational_partial_and_major() {
        assert_eq!(derive(&[], &[]), Operational);
        assert_eq!(derive(&[Up, Up], &[]), Operational);
        assert_eq!(derive(&[Up, Down], &[]), PartialOutage);
        assert_eq!(derive(&[Down, Down], &[]), MajorOutage);
        assert_eq!(
            derive(&[Down, Paused, Pending], &[]),
            MajorOutage,
            "inactive ones do not dilute"
        );
        assert_eq!(derive(&[Pending, Paused], &[]), Operational);
    }

    #[test]
    fn rules_add_by_severity_and_the_worst_wins() {
        assert_eq!(derive(&[Up], &[Severity::Info]), Operational);
        assert_eq!(derive(&[Up], &[Severity::Warning]), DegradedPerformance);
        assert_eq!(
            derive(&[Up], &[Severity::Warning, Severity::Critical]),
            PartialOutage
        );
        assert_eq!(derive(&[Down], &[Severity::Warning]), MajorOutage);
        assert_eq!(derive(&[], &[Severity::Critical]), PartialOutage);
    }

    #[test]
    fn maintenance_beats_incidents_and_incidents_beat_probes() {
        assert_eq!(
            with_overrides(MajorOutage, Some(DegradedPerformance), false),
            DegradedPerformance
        );
        assert_eq!(
            with_overrides(Operational, Some(MajorOutage), false),
            MajorOutage
        );
        assert_eq!(
            with_overrides(MajorOutage, Some(MajorOutage), true),
            UnderMaintenance
        );
        assert_eq!(with_overrides(PartialOutage, None, false), PartialOutage);
        for c in ComponentStatus::ALL {
            assert_eq!(ComponentStatus::parse(c.as_str()), Some(c));
        }
    }
}
