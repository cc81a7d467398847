//! Incidents: their status and impact (the Statuspage enum values), the components they affect,
//! and the rules every change must follow, whoever makes it (API, CLI, or later the automatic
//! opening on a failing monitor).
//!
//! Rules:
//! - a title is 1 to 200 characters, an update's body at most 20,000 (Markdown);
//! - an update changes at least one of status, body and affected components;
//! - affected components must exist in the configuration (the caller passes the known ids);
//! - `resolved_at` is set when the status becomes `resolved` or `postmortem` and cleared when the
//!   incident is reopened ([`resolved_at`]);
//! - an impact not given defaults from the worst affected component status ([`default_impact`]).

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;
use serde::{Serialize, Serializer};

use crate::component_status::ComponentStatus;

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest update body, in characters.
pub const BODY_MAX_CHARS: usize = 20_000;

/// Where an incident stands (Statuspage's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
        IncidentStatus::Postmortem,
    ];

    /// The Statuspage enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Postmortem => "postmortem",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the incident is over (`resolved` or `postmortem`).
    pub fn is_resolved(self) -> bool {
        matches!(self, IncidentStatus::Resolved | IncidentStatus::Postmortem)
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad an incident is (Statuspage's values), ordered from least to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub const ALL: [Impact; 4] = [Impact::None, Impact::Minor, Impact::Major, Impact::Critical];

    /// The Statuspage enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Impact> {
        Impact::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A component an incident affects, with the status the incident declares for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedComponent {
    /// The component's id in the configuration.
    pub id: String,
    pub status: ComponentStatus,
}

impl Serialize for AffectedComponent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("AffectedComponent", 2)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("status", self.status.as_str())?;
        st.end()
    }
}

/// Why an incident or an update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("the title must be 1 to {TITLE_MAX_CHARS} characters (it has {0})")]
    TitleLength(usize),
    #[error("the title must not contain control characters")]
    TitleControl,
    #[error("the body must be at most {BODY_MAX_CHARS} characters (it has {0})")]
    BodyTooLong(usize),
    #[error("an update must change at least one of status, body and components")]
    EmptyUpdate,
    #[error("component `{0}` is listed more than once")]
    DuplicateComponent(String),
    #[error("unknown component(s) {}; known components: {}", quoted(.unknown), quoted(.known))]
    UnknownComponents {
        unknown: Vec<String>,
        known: Vec<String>,
    },
}

fn quoted(ids: &[String]) -> String {
    if ids.is_empty() {
        return "(none)".to_owned();
    }
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a title and returns it trimmed.
pub fn validate_title(title: &str) -> Result<&str, IncidentError> {
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > TITLE_MAX_CHARS {
        return Err(IncidentError::TitleLength(chars));
    }
    if title.chars().any(char::is_control) {
        return Err(IncidentError::TitleControl);
    }
    Ok(title)
}

/// Checks an update's body (Markdown; empty is allowed).
pub fn validate_body(body: &str) -> Result<(), IncidentError> {
    let chars = body.chars().count();
    if chars > BODY_MAX_CHARS {
        return Err(IncidentError::BodyTooLong(chars));
    }
    Ok(())
}

/// Checks that every component is listed once and, when `known` is given, exists in the
/// configuration. Without `known` (the CLI run without a configuration file) only duplicates
/// are checked.
pub fn validate_components(
    components: &[AffectedComponent],
    known: Option<&BTreeSet<String>>,
) -> Result<(), IncidentError> {
    let mut seen = BTreeSet::new();
    for c in components {
        if !seen.insert(c.id.as_str()) {
            return Err(IncidentError::DuplicateComponent(c.id.clone()));
        }
    }
    if let Some(known) = known {
        let unknown: Vec<String> = components
            .iter()
            .filter(|c| !known.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(IncidentError::UnknownComponents {
                unknown,
                known: known.iter().cloned().collect(),
            });
        }
    }
    Ok(())
}

/// Checks a new incident: its title (returned trimmed), its first update's body and its
/// affected components.
pub fn validate_new<'a>(
    title: &'a str,
    body: &str,
    components: &[AffectedComponent],
    known: Option<&BTreeSet<String>>,
) -> Result<&'a str, IncidentError> {
    let title = validate_title(title)?;
    validate_body(body)?;
    validate_components(components, known)?;
    Ok(title)
}

/// Checks an update: it must change something, its body must fit, its components must exist.
pub fn validate_update(
    status: Option<IncidentStatus>,
    body: Option<&str>,
    components: &[AffectedComponent],
    known: Option<&BTreeSet<String>>,
) -> Result<(), IncidentError> {
    if status.is_none() && body.is_none() && components.is_empty() {
        return Err(IncidentError::EmptyUpdate);
    }
    if let Some(body) = body {
        validate_body(body)?;
    }
    validate_components(components, known)
}

/// The impact of an incident whose impact was not given: from the worst affected component
/// status (`major_outage` → critical, `partial_outage` → major, `degraded_performance` → minor,
/// anything else → none).
pub fn default_impact(components: &[AffectedComponent]) -> Impact {
    components
        .iter()
        .map(|c| match c.status {
            ComponentStatus::MajorOutage => Impact::Critical,
            ComponentStatus::PartialOutage => Impact::Major,
            ComponentStatus::DegradedPerformance => Impact::Minor,
            ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Impact::None,
        })
        .max()
        .unwrap_or(Impact::None)
}

/// When the incident was resolved after a change to `status` at `now`: kept if it was already
/// resolved, `now` if it becomes resolved (or postmortem), cleared if it is reopened.
pub fn resolved_at(
    current: Option<Timestamp>,
    status: IncidentStatus,
    now: Timestamp,
) -> Option<Timestamp> {
    if status.is_resolved() {
        Some(current.unwrap_or(now))
    } else {
        None
    }
}

/// The affected components after an update: each component in `changes` takes its new status
/// (and is added if it was not affected yet); the others keep theirs. Order: current ones first,
/// then the new ones in the order given.
pub fn merge_components(
    current: &[AffectedComponent],
    changes: &[AffectedComponent],
) -> Vec<AffectedComponent> {
    let mut out: Vec<AffectedComponent> = current.to_vec();
    for change in changes {
        match out.iter_mut().find(|c| c.id == change.id) {
            Some(c) => c.status = change.status,
            None => out.push(change.clone()),
        }
    }
    out
}

/// Every affected component set back to `operational`: what resolving through the shortcut
/// declares.
pub fn all_operational(current: &[AffectedComponent]) -> Vec<AffectedComponent> {
    current
        .iter()
        .map(|c| AffectedComponent {
            id: c.id.clone(),
            status: ComponentStatus::Operational,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ComponentStatus::*;

    fn c(id: &str, status: ComponentStatus) -> AffectedComponent {
        AffectedComponent {
            id: id.into(),
            status,
        }
    }

    fn known() -> BTreeSet<String> {
        ["api", "web"].into_iter().map(String::from).collect()
    }

    #[test]
    fn enum_values_round_trip_with_the_statuspage_names() {
        for s in IncidentStatus::ALL {
            assert_eq!(IncidentStatus::parse(s.as_str()), Some(s));
        }
        for i in Impact::ALL {
            assert_eq!(Impact::parse(i.as_str()), Some(i));
        }
        assert_eq!(IncidentStatus::parse("Resolved"), None);
        assert_eq!(Impact::parse("maintenance"), None);
        assert_eq!(
            serde_json::to_value(IncidentStatus::Postmortem).unwrap(),
            "postmortem"
        );
        assert_eq!(serde_json::to_value(Impact::Critical).unwrap(), "critical");
        assert_eq!(
            serde_json::to_value(c("api", MajorOutage)).unwrap(),
            serde_json::json!({"id": "api", "status": "major_outage"})
        );
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(validate_title("  API down "), Ok("API down"));
        assert_eq!(validate_title("   "), Err(IncidentError::TitleLength(0)));
        assert!(validate_title(&"x".repeat(200)).is_ok());
        assert_eq!(
            validate_title(&"é".repeat(201)),
            Err(IncidentError::TitleLength(201))
        );
        assert_eq!(validate_title("a\nb"), Err(IncidentError::TitleControl));
    }

    #[test]
    fn bodies_are_bounded_in_characters() {
        assert!(validate_body("").is_ok());
        assert!(validate_body(&"é".repeat(20_000)).is_ok());
        assert_eq!(
            validate_body(&"x".repeat(20_001)),
            Err(IncidentError::BodyTooLong(20_001))
        );
    }

    #[test]
    fn components_must_exist_when_the_configuration_is_known() {
        let k = known();
        assert!(validate_components(&[c("api", MajorOutage)], Some(&k)).is_ok());
        let err = validate_components(&[c("api", MajorOutage), c("db", Operational)], Some(&k))
            .unwrap_err();
        assert_eq!(
            err,
            IncidentError::UnknownComponents {
                unknown: vec!["db".into()],
                known: vec!["api".into(), "web".into()],
            }
        );
        assert_eq!(
            err.to_string(),
            "unknown component(s) `db`; known components: `api`, `web`"
        );
        assert!(validate_components(&[c("db", Operational)], None).is_ok());
        assert_eq!(
            validate_components(&[c("api", MajorOutage), c("api", Operational)], None),
            Err(IncidentError::DuplicateComponent("api".into()))
        );
    }

    #[test]
    fn new_incidents_and_updates_are_validated() {
        let k = known();
        assert_eq!(
            validate_new(" Outage ", "", &[c("web", PartialOutage)], Some(&k)),
            Ok("Outage")
        );
        assert!(validate_new("", "x", &[], Some(&k)).is_err());
        assert_eq!(
            validate_update(None, None, &[], Some(&k)),
            Err(IncidentError::EmptyUpdate)
        );
        assert!(validate_update(Some(IncidentStatus::Identified), None, &[], Some(&k)).is_ok());
        assert!(validate_update(None, Some("found it"), &[], Some(&k)).is_ok());
        assert!(validate_update(None, None, &[c("api", Operational)], Some(&k)).is_ok());
        assert!(validate_update(None, None, &[c("nope", Operational)], Some(&k)).is_err());
        assert!(validate_update(None, Some(&"x".repeat(20_001)), &[], None).is_err());
    }

    #[test]
    fn impact_defaults_from_the_worst_component() {
        assert_eq!(default_impact(&[]), Impact::None);
        assert_eq!(
            default_impact(&[c("a", Operational), c("b", UnderMaintenance)]),
            Impact::None
        );
        assert_eq!(
            default_impact(&[c("a", DegradedPerformance)]),
            Impact::Minor
        );
        assert_eq!(
            default_impact(&[c("a", DegradedPerformance), c("b", PartialOutage)]),
            Impact::Major
        );
        assert_eq!(
            default_impact(&[c("a", MajorOutage), c("b", PartialOutage)]),
            Impact::Critical
        );
    }

    #[test]
    fn resolved_at_is_set_kept_and_cleared_on_reopening() {
        let t1 = Timestamp::from_second(1_000).unwrap();
        let t2 = Timestamp::from_second(2_000).unwrap();
        assert_eq!(resolved_at(None, IncidentStatus::Identified, t1), None);
        assert_eq!(resolved_at(None, IncidentStatus::Resolved, t1), Some(t1));
        assert_eq!(
            resolved_at(Some(t1), IncidentStatus::Postmortem, t2),
            Some(t1),
            "a postmortem after resolution keeps the resolution time"
        );
        assert_eq!(resolved_at(None, IncidentStatus::Postmortem, t2), Some(t2));
        assert_eq!(
            resolved_at(Some(t1), IncidentStatus::Investigating, t2),
            None,
            "reopened"
        );
    }

    #[test]
    fn updates_merge_component_statuses() {
        let current = vec![c("api", MajorOutage), c("web", DegradedPerformance)];
        let merged = merge_components(&current, &[c("web", Operational), c("db", PartialOutage)]);
        assert_eq!(
            merged,
            vec![
                c("api", MajorOutage),
                c("web", Operational),
                c("db", PartialOutage)
            ]
        );
        assert_eq!(
            all_operational(&current),
            vec![c("api", Operational), c("web", Operational)]
        );
    }
}
