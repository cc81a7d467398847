//! The operator event log's vocabulary: where an event comes from ([`EventSource`]) and the
//! state it records ([`EventState`]).
//!
//! Every change that operators are alerted on, that opens incidents or that availability reports
//! read is one event: a monitor going down, an alert rule firing, an SLO burning its budget, a
//! backup set at risk, a drill overdue, a maintenance held by its pre-flight checks. The engine
//! and the web crate work with these enums only; their text forms ([`EventSource::as_str`],
//! [`EventState::as_str`]) and the parsers back from text exist for the store, which writes and
//! reads them.
//!
//! Decisions:
//! - The stored text of a source is the bare id for a monitor and `KIND:ID` for every other
//!   source (`rule:NAME`, `slo:COMPONENT`, `backup:SET`, `drill:SET`, `preflight:MAINTENANCE`, `rollout:MAINTENANCE`,
//!   `inventory:ITEM@PLACE`, `agent:NAME`, `location:MONITOR@LOCATION`).
//!   Monitor ids never hold `:` (configuration ids are letters, digits, `-`, `_` and `.`), so a
//!   text with a `:` and an unknown kind is refused rather than read as a monitor; rule names
//!   may hold anything, `:` included (only the first `:` separates the kind).
//! - The states of all sources share one enum: a source records only the states of its kind
//!   ([`EventSource::admits`]), and the same word means the same thing everywhere (`pending`
//!   for a monitor not yet judged and for a rule whose condition has not held long enough).

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::alert_rule::AlertState;
use crate::backup::BackupState;
use crate::config::Severity;
use crate::monitor_state::MonitorStatus;

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventSource {
    /// A monitor, by id.
    Monitor(String),
    /// An alert rule, by name.
    Rule(String),
    /// The SLO of a component (burn-rate alerts), by component id.
    Slo(String),
    /// A backup set's recovery point (RPO), by set id.
    Backup(String),
    /// A backup set's drill cadence, by set id.
    Drill(String),
    /// A maintenance's pre-flight hold, by maintenance id.
    Preflight(String),
    /// A maintenance's rollout, by maintenance id: `warning` while it waits on an operator or
    /// after a failed gate, `critical` when it halts or a rollback fails, `ok` otherwise.
    Rollout(String),
    /// An inventory item at a place, as `ITEM@PLACE`: `ok` while it keeps the inventory's
    /// policies, else the severity of the most severe policy it breaks.
    Inventory(String),
    /// A probe agent, by name: `warning` while it is not heard from (three heartbeats missed)
    /// or its clock is off, `ok` otherwise.
    Agent(String),
    /// One location of a multi-location monitor, as `MONITOR@LOCATION`: `warning` while that
    /// location fails or sends nothing and the monitor's quorum still holds, `ok` otherwise.
    Location(String),
}

impl EventSource {
    /// The source's kind: `monitor`, `rule`, `slo`, `backup`, `drill`, `preflight`,
    /// `rollout` or `inventory`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventSource::Monitor(_) => "monitor",
            EventSource::Rule(_) => "rule",
            EventSource::Slo(_) => "slo",
            EventSource::Backup(_) => "backup",
            EventSource::Drill(_) => "drill",
            EventSource::Preflight(_) => "preflight",
            EventSource::Rollout(_) => "rollout",
            EventSource::Inventory(_) => "inventory",
            EventSource::Agent(_) => "agent",
            EventSource::Location(_) => "location",
        }
    }

    /// The id within its kind (monitor id, rule name, component, backup set, maintenance id).
    pub fn id(&self) -> &str {
        match self {
            EventSource::Monitor(id)
            | EventSource::Rule(id)
            | EventSource::Slo(id)
            | EventSource::Backup(id)
            | EventSource::Drill(id)
            | EventSource::Preflight(id)
            | EventSource::Rollout(id)
            | EventSource::Inventory(id)
            | EventSource::Agent(id)
            | EventSource::Location(id) => id,
        }
    }

    /// The stored text: the bare id of a monitor, `KIND:ID` of the others.
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            EventSource::Monitor(id) => Cow::Borrowed(id),
            other => Cow::Owned(format!("{}:{}", other.kind(), other.id())),
        }
    }

    /// The source stored as `s`, or `None` when `s` is empty or names an unknown kind.
    pub fn parse(s: &str) -> Option<EventSource> {
        match s.split_once(':') {
            None if s.is_empty() => None,
            None => Some(EventSource::Monitor(s.to_owned())),
            Some((kind, id)) => {
                let make = match kind {
                    "rule" => EventSource::Rule,
                    "slo" => EventSource::Slo,
                    "backup" => EventSource::Backup,
                    "drill" => EventSource::Drill,
                    "preflight" => EventSource::Preflight,
                    "rollout" => EventSource::Rollout,
                    "inventory" => EventSource::Inventory,
                    "agent" => EventSource::Agent,
                    "location" => EventSource::Location,
                    _ => return None,
                };
                Some(make(id.to_owned()))
            }
        }
    }

    /// The source as operator alerts and incidents name it: `KIND:ID` for every kind,
    /// monitors included (`monitor:ID`).
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind(), self.id())
    }

    /// The source named `KIND:ID` (see [`EventSource::key`]), if its kind is known.
    pub fn parse_key(s: &str) -> Option<EventSource> {
        match s.split_once(':')? {
            ("monitor", id) => Some(EventSource::Monitor(id.to_owned())),
            _ => EventSource::parse(s),
        }
    }

    /// Whether this kind of source records `state`.
    pub fn admits(&self, state: EventState) -> bool {
        use EventState as S;
        match self {
            EventSource::Monitor(_) => {
                matches!(state, S::Pending | S::Up | S::Down | S::Paused | S::Unknown)
            }
            EventSource::Rule(_) => matches!(state, S::Inactive | S::Pending | S::Firing),
            EventSource::Slo(_) => matches!(state, S::Ok | S::Info | S::Warning | S::Critical),
            EventSource::Backup(_) => {
                matches!(state, S::Ok | S::AtRisk | S::Breached | S::Unknown)
            }
            EventSource::Drill(_) => matches!(state, S::Ok | S::Overdue),
            EventSource::Preflight(_) => matches!(state, S::Ok | S::Held),
            EventSource::Rollout(_) => matches!(state, S::Ok | S::Warning | S::Critical),
            EventSource::Inventory(_) => {
                matches!(state, S::Ok | S::Info | S::Warning | S::Critical)
            }
            EventSource::Agent(_) | EventSource::Location(_) => {
                matches!(state, S::Ok | S::Warning)
            }
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl Serialize for EventSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_str())
    }
}

/// The state an event records (the state its source entered, or left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventState {
    /// A monitor not judged yet; a rule whose condition holds but not yet for its `for`.
    Pending,
    /// A monitor that answers.
    Up,
    /// A monitor that does not.
    Down,
    /// A monitor paused by an operator.
    Paused,
    /// A rule whose condition does not hold.
    Inactive,
    /// A rule whose condition has held for its `for`.
    Firing,
    /// Nothing to report: an SLO within budget, a backup set within its RPO, drills on time,
    /// a maintenance not held.
    Ok,
    /// An SLO burning at the `info` tier.
    Info,
    /// An SLO burning at the `warning` tier.
    Warning,
    /// An SLO burning at the `critical` tier.
    Critical,
    /// A backup set close to its RPO.
    AtRisk,
    /// A backup set past its RPO.
    Breached,
    /// A backup set never backed up (or whose runs cannot be read).
    Unknown,
    /// A backup set overdue for a recovery drill.
    Overdue,
    /// A maintenance whose pre-flight checks hold its start.
    Held,
}

impl EventState {
    pub const ALL: [EventState; 15] = [
        EventState::Pending,
        EventState::Up,
        EventState::Down,
        EventState::Paused,
        EventState::Inactive,
        EventState::Firing,
        EventState::Ok,
        EventState::Info,
        EventState::Warning,
        EventState::Critical,
        EventState::AtRisk,
        EventState::Breached,
        EventState::Unknown,
        EventState::Overdue,
        EventState::Held,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Pending => "pending",
            EventState::Up => "up",
            EventState::Down => "down",
            EventState::Paused => "paused",
            EventState::Inactive => "inactive",
            EventState::Firing => "firing",
            EventState::Ok => "ok",
            EventState::Info => "info",
            EventState::Warning => "warning",
            EventState::Critical => "critical",
            EventState::AtRisk => "at_risk",
            EventState::Breached => "breached",
            EventState::Unknown => "unknown",
            EventState::Overdue => "overdue",
            EventState::Held => "held",
        }
    }

    /// The state stored as `s`, if any.
    pub fn parse(s: &str) -> Option<EventState> {
        EventState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    /// The state of an SLO burning at `severity`.
    pub fn of_severity(severity: Severity) -> EventState {
        match severity {
            Severity::Info => EventState::Info,
            Severity::Warning => EventState::Warning,
            Severity::Critical => EventState::Critical,
        }
    }

    /// The burn tier of an SLO's state (`None`: `ok`, or not an SLO state).
    pub fn severity(self) -> Option<Severity> {
        match self {
            EventState::Info => Some(Severity::Info),
            EventState::Warning => Some(Severity::Warning),
            EventState::Critical => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The monitor status this state names, if it is one.
    pub fn monitor_status(self) -> Option<MonitorStatus> {
        match self {
            EventState::Pending => Some(MonitorStatus::Pending),
            EventState::Up => Some(MonitorStatus::Up),
            EventState::Down => Some(MonitorStatus::Down),
            EventState::Paused => Some(MonitorStatus::Paused),
            EventState::Unknown => Some(MonitorStatus::Unknown),
            _ => None,
        }
    }
}

impl From<MonitorStatus> for EventState {
    fn from(status: MonitorStatus) -> EventState {
        match status {
            MonitorStatus::Pending => EventState::Pending,
            MonitorStatus::Up => EventState::Up,
            MonitorStatus::Down => EventState::Down,
            MonitorStatus::Paused => EventState::Paused,
            MonitorStatus::Unknown => EventState::Unknown,
        }
    }
}

impl From<AlertState> for EventState {
    fn from(state: AlertState) -> EventState {
        match state {
            AlertState::Inactive => EventState::Inactive,
            AlertState::Pending { .. } => EventState::Pending,
            AlertState::Firing { .. } => EventState::Firing,
        }
    }
}

impl From<BackupState> for EventState {
    fn from(state: BackupState) -> EventState {
        match state {
            BackupState::Ok => EventState::Ok,
            BackupState::AtRisk => EventState::AtRisk,
            BackupState::Breached => EventState::Breached,
            BackupState::Unknown => EventState::Unknown,
        }
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn any_source() -> impl Strategy<Value = EventSource> {
        // Monitor ids as the configuration allows them; the other ids may hold anything.
        let monitor = "[a-z0-9][a-z0-9._-]{0,20}".prop_map(EventSource::Monitor);
        let text = ".{0,30}";
        prop_oneof![
            monitor,
            text.prop_map(EventSource::Rule),
            text.prop_map(EventSource::Slo),
            text.prop_map(EventSource::Backup),
            text.prop_map(EventSource::Drill),
            text.prop_map(EventSource::Preflight),
            text.prop_map(EventSource::Rollout),
        ]
    }

    proptest! {
        #[test]
        fn every_source_reads_back_as_written(source in any_source()) {
            prop_assert_eq!(EventSource::parse(&source.as_str()), Some(source));
        }

        #[test]
        fn every_key_reads_back_as_written(source in any_source()) {
            prop_assert_eq!(EventSource::parse_key(&source.key()), Some(source));
        }

        #[test]
        fn unknown_kinds_are_refused(kind in "[a-z_]{1,12}", id in ".{0,20}") {
            prop_assume!(!["rule", "slo", "backup", "drill", "preflight", "rollout"].contains(&kind.as_str()));
            prop_assert_eq!(EventSource::parse(&format!("{kind}:{id}")), None);
        }

        #[test]
        fn unknown_states_are_refused(s in ".{0,12}") {
            prop_assume!(EventState::ALL.iter().all(|state| state.as_str() != s));
            prop_assert_eq!(EventState::parse(&s), None);
        }
    }

    #[test]
    fn every_state_reads_back_as_written() {
        for state in EventState::ALL {
            assert_eq!(EventState::parse(state.as_str()), Some(state));
        }
        assert_eq!(EventState::parse("Firing"), None);
        assert_eq!(EventState::parse(""), None);
    }

    #[test]
    fn stored_texts_are_those_of_the_event_log() {
        let cases = [
            ("api", EventSource::Monitor("api".into())),
            ("rule:HighCPU", EventSource::Rule("HighCPU".into())),
            ("rule:a:b#c", EventSource::Rule("a:b#c".into())),
            ("slo:api", EventSource::Slo("api".into())),
            ("backup:nightly", EventSource::Backup("nightly".into())),
            ("drill:nightly", EventSource::Drill("nightly".into())),
            ("preflight:01J", EventSource::Preflight("01J".into())),
        ];
        for (text, source) in cases {
            assert_eq!(EventSource::parse(text), Some(source.clone()), "{text}");
            assert_eq!(source.as_str(), text);
        }
        assert_eq!(EventSource::Monitor("api".into()).key(), "monitor:api");
        assert_eq!(EventSource::parse_key("api"), None);
        assert_eq!(EventSource::parse(""), None);
        assert_eq!(EventSource::parse("alertmanager:abc"), None);
        assert_eq!(
            serde_json::to_string(&EventSource::Rule("x".into())).unwrap(),
            "\"rule:x\""
        );
        assert_eq!(
            serde_json::to_string(&EventState::AtRisk).unwrap(),
            "\"at_risk\""
        );
    }

    #[test]
    fn the_states_of_other_types_keep_their_words() {
        for status in MonitorStatus::ALL {
            let state = EventState::from(status);
            assert_eq!(state.as_str(), status.as_str());
            assert_eq!(state.monitor_status(), Some(status));
        }
        for backup in BackupState::ALL {
            assert_eq!(EventState::from(backup).as_str(), backup.as_str());
        }
        for (name, severity) in Severity::ALL {
            let state = EventState::of_severity(severity);
            assert_eq!(state.as_str(), name);
            assert_eq!(state.severity(), Some(severity));
        }
    }

    #[test]
    fn each_kind_admits_its_own_states() {
        let monitor = EventSource::Monitor("m".into());
        assert!(monitor.admits(EventState::Down));
        assert!(!monitor.admits(EventState::Firing));
        let rule = EventSource::Rule("r".into());
        assert!(rule.admits(EventState::Pending) && rule.admits(EventState::Firing));
        assert!(!rule.admits(EventState::Up));
        assert!(EventSource::Preflight("p".into()).admits(EventState::Held));
        assert!(!EventSource::Drill("d".into()).admits(EventState::Held));
    }
}
