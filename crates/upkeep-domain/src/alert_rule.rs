//! The life of an alert rule: `inactive → pending → firing → inactive`, like Prometheus.
//!
//! The condition must hold continuously for `for` before the alert fires; a pending alert whose
//! condition stops holding goes back to inactive without firing; a firing alert resolves as soon
//! as the condition stops holding. `for: 0s` fires on the first evaluation that holds.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::metrics_text::Sample;
use crate::rule_expr::RuleExpr;

/// The outcome of evaluating a rule's expression against one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub holds: bool,
    /// The value that decided: the first selected sample that holds, else the first selected.
    pub value: Option<f64>,
    /// What was seen, for the event log: "cpu_usage = 83.5 (cpu_usage > 80)".
    pub detail: String,
}

/// Evaluates `expr` against a scrape (or the reason it failed), Prometheus-style: `up` is 1
/// when the scrape succeeded and 0 when it failed; any other metric holds when at least one of
/// its selected series holds; no series (or a failed scrape) means the condition does not hold.
pub fn evaluate(expr: &RuleExpr, scrape: &Result<Vec<Sample>, String>) -> Evaluation {
    if expr.metric == "up" && expr.matchers.is_empty() {
        let value = if scrape.is_ok() { 1.0 } else { 0.0 };
        let seen = match scrape {
            Ok(_) => "the scrape succeeded".to_owned(),
            Err(e) => format!("the scrape failed: {e}"),
        };
        return Evaluation {
            holds: expr.holds(value),
            value: Some(value),
            detail: format!("up = {value} ({seen})"),
        };
    }
    let samples = match scrape {
        Ok(samples) => samples,
        Err(e) => {
            return Evaluation {
                holds: false,
                value: None,
                detail: format!("no data: the scrape failed: {e}"),
            };
        }
    };
    let selected: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == expr.metric && expr.selects(&s.labels))
        .collect();
    let decisive = selected
        .iter()
        .find(|s| expr.holds(s.value))
        .or_else(|| selected.first());
    match decisive {
        Some(s) => Evaluation {
            holds: expr.holds(s.value),
            value: Some(s.value),
            detail: format!("{} = {} ({expr})", s.name, s.value),
        },
        None => Evaluation {
            holds: false,
            value: None,
            detail: format!(
                "no data: the scrape has no series `{}` matching ({expr})",
                expr.metric
            ),
        },
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Pending { since: Timestamp },
    Firing { since: Timestamp },
}

/// A change worth recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertChange {
    /// The condition started to hold.
    Pending,
    /// It held for `for`: the alert fires.
    Firing,
    /// A firing alert's condition no longer holds.
    Resolved,
    /// A pending alert's condition stopped holding before `for` passed.
    Cleared,
}

impl AlertState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending { .. } => "pending",
            AlertState::Firing { .. } => "firing",
        }
    }

    /// Applies one evaluation at `now`.
    pub fn step(
        self,
        holds: bool,
        now: Timestamp,
        for_: Duration,
    ) -> (AlertState, Option<AlertChange>) {
        let fires_at = |since: Timestamp| {
            SignedDuration::try_from(for_)
                .ok()
                .and_then(|d| since.checked_add(d).ok())
                .unwrap_or(Timestamp::MAX)
        };
        match (self, holds) {
            (AlertState::Inactive, false) => (self, None),
            (AlertState::Inactive, true) if for_.is_zero() => {
                (AlertState::Firing { since: now }, Some(AlertChange::Firing))
            }
            (AlertState::Inactive, true) => (
                AlertState::Pending { since: now },
                Some(AlertChange::Pending),
            ),
            (AlertState::Pending { since }, true) if now >= fires_at(since) => {
                (AlertState::Firing { since: now }, Some(AlertChange::Firing))
            }
            (AlertState::Pending { .. }, true) | (AlertState::Firing { .. }, true) => (self, None),
            (AlertState::Pending { .. }, false) => {
                (AlertState::Inactive, Some(AlertChange::Cleared))
            }
            (AlertState::Firing { .. }, false) => {
                (AlertState::Inactive, Some(AlertChange::Resolved))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    const FIVE_MIN: Duration = Duration::from_secs(300);

    #[test]
    fn fires_only_after_holding_for_the_whole_duration() {
        let s = AlertState::Inactive;
        let (s, c) = s.step(true, at(0), FIVE_MIN);
        assert_eq!(c, Some(AlertChange::Pending));
        let (s, c) = s.step(true, at(299), FIVE_MIN);
        assert_eq!((s, c), (AlertState::Pending { since: at(0) }, None));
        let (s, c) = s.step(true, at(300), FIVE_MIN);
        assert_eq!(
            (s, c),
            (
                AlertState::Firing { since: at(300) },
                Some(AlertChange::Firing)
            )
        );
        let (s, c) = s.step(true, at(400), FIVE_MIN);
        assert_eq!(c, None);
        let (s, c) = s.step(false, at(401), FIVE_MIN);
        assert_eq!((s, c), (AlertState::Inactive, Some(AlertChange::Resolved)));
    }

    #[test]
    fn an_interruption_restarts_the_clock() {
        let (s, _) = AlertState::Inactive.step(true, at(0), FIVE_MIN);
        let (s, c) = s.step(false, at(200), FIVE_MIN);
        assert_eq!((s, c), (AlertState::Inactive, Some(AlertChange::Cleared)));
        let (s, _) = s.step(true, at(250), FIVE_MIN);
        let (s, c) = s.step(true, at(500), FIVE_MIN);
        assert_eq!(c, None, "only 250 s since it held again");
        assert_eq!(s.as_str(), "pending");
    }

    fn rule(text: &str) -> RuleExpr {
        RuleExpr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn scrape(text: &str) -> Result<Vec<Sample>, String> {
        crate::metrics_text::parse(text)
    }

    #[test]
    fn seed_rules_evaluate_against_real_expositions() {
        let text = "cpu_usage 83.5\nhttp_errors_rate{job=\"api\"} 0.07\nhttp_errors_rate{job=\"web\"} 0.01\n";
        let e = evaluate(&rule("cpu_usage > 80"), &scrape(text));
        assert!(e.holds);
        assert_eq!(e.value, Some(83.5));
        assert_eq!(e.detail, "cpu_usage = 83.5 (cpu_usage > 80)");
        assert!(evaluate(&rule("http_errors_rate{job=\"api\"} > 0.05"), &scrape(text)).holds);
        assert!(!evaluate(&rule("http_errors_rate{job=\"web\"} > 0.05"), &scrape(text)).holds);
        assert!(
            evaluate(&rule("http_errors_rate > 0.05"), &scrape(text)).holds,
            "any series"
        );
        let missing = evaluate(&rule("memory_usage > 1"), &scrape(text));
        assert!(!missing.holds && missing.detail.starts_with("no data"));
    }

    #[test]
    fn up_is_zero_when_the_scrape_fails() {
        let failed: Result<Vec<Sample>, String> = Err("connection refused".into());
        let e = evaluate(&rule("up == 0"), &failed);
        assert!(e.holds);
        assert_eq!(e.detail, "up = 0 (the scrape failed: connection refused)");
        assert!(!evaluate(&rule("up == 0"), &scrape("x 1\n")).holds);
        assert!(
            !evaluate(&rule("cpu_usage > 80"), &failed).holds,
            "no data is not a firing alert"
        );
    }

    #[test]
    fn zero_for_fires_at_once() {
        let (s, c) = AlertState::Inactive.step(true, at(0), Duration::ZERO);
        assert_eq!(
            (s, c),
            (
                AlertState::Firing { since: at(0) },
                Some(AlertChange::Firing)
            )
        );
    }
}
