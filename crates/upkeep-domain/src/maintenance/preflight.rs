//! Pre-flight checks (`docs/decisions.md#maintenance`: backups fresh,
//! monitors green, no open incident, or any command): what a maintenance verifies before it may start.
//!
//! - `backups_fresh`: every configured backup set's last successful run started within its RPO
//!   (a set that never succeeded fails the check).
//! - `monitors_green`: every monitor of the named components (all components when none are
//!   named) is up; a pending or down monitor fails it, a paused one is ignored.
//! - `no_open_incidents`: no unresolved incident.
//! - `command`: a shell command exits 0 within its timeout (run by the engine; judged here
//!   from its exit).
//!
//! [`judge`] decides the first three from [`Facts`] gathered by the engine; all of them give an
//! [`Outcome`] whose `detail` says, for a person, what passed or what is wrong.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::monitor_state::MonitorStatus;

/// Longest a `command` check may be given to run.
pub const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(3600);
/// A `command` check's timeout when none is given.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One pre-flight check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    BackupsFresh,
    MonitorsGreen {
        /// Component ids; empty means every component.
        #[serde(default)]
        components: Vec<String>,
    },
    NoOpenIncidents,
    Command {
        /// Run with `sh -c`.
        run: String,
        /// Milliseconds.
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
}

fn default_timeout_ms() -> u64 {
    DEFAULT_COMMAND_TIMEOUT.as_millis() as u64
}

impl Check {
    /// A short name for lists and logs.
    pub fn label(&self) -> String {
        match self {
            Check::BackupsFresh => "backups_fresh".into(),
            Check::MonitorsGreen { components } if components.is_empty() => "monitors_green".into(),
            Check::MonitorsGreen { components } => {
                format!("monitors_green({})", components.join(", "))
            }
            Check::NoOpenIncidents => "no_open_incidents".into(),
            Check::Command { run, .. } => format!("command `{run}`"),
        }
    }

    /// Problems with the check itself (unknown components, empty command, bad timeout).
    pub fn validate(&self, known_component: impl Fn(&str) -> bool) -> Result<(), String> {
        match self {
            Check::MonitorsGreen { components } => {
                match components.iter().find(|c| !known_component(c)) {
                    Some(c) => Err(format!("monitors_green names unknown component `{c}`")),
                    None => Ok(()),
                }
            }
            Check::Command { run, timeout_ms } => {
                if run.trim().is_empty() {
                    Err("a command check needs a command to run".into())
                } else if *timeout_ms == 0
                    || u128::from(*timeout_ms) > MAX_COMMAND_TIMEOUT.as_millis()
                {
                    Err(format!(
                        "a command check's timeout must be between 1 ms and {} s",
                        MAX_COMMAND_TIMEOUT.as_secs()
                    ))
                } else {
                    Ok(())
                }
            }
            Check::BackupsFresh | Check::NoOpenIncidents => Ok(()),
        }
    }
}

/// A backup set as the `backups_fresh` check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFact {
    pub name: String,
    pub rpo: Duration,
    /// When the last successful run started.
    pub last_success_started: Option<Timestamp>,
}

/// What the engine knows when it judges checks.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub backups: Vec<BackupFact>,
    /// Every monitor's status, grouped by component id: `(monitor id, status)`.
    pub monitors: BTreeMap<String, Vec<(String, MonitorStatus)>>,
    /// Titles of the unresolved incidents.
    pub open_incidents: Vec<String>,
}

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub check: String,
    pub passed: bool,
    pub detail: String,
}

/// Judges `check` from `facts` at `now`; `None` for a `command`, which must be run.
pub fn judge(check: &Check, facts: &Facts, now: Timestamp) -> Option<Outcome> {
    let (passed, detail) = match check {
        Check::BackupsFresh => {
            let stale: Vec<String> = facts
                .backups
                .iter()
                .filter_map(|b| match b.last_success_started {
                    None => Some(format!("{} has never succeeded", b.name)),
                    Some(at) => {
                        let age = now.duration_since(at);
                        let rpo = jiff::SignedDuration::try_from(b.rpo)
                            .unwrap_or(jiff::SignedDuration::MAX);
                        (age > rpo).then(|| {
                            format!(
                                "{} is {} old (RPO {})",
                                b.name,
                                crate::duration::format_duration(age.unsigned_abs()),
                                crate::duration::format_duration(b.rpo)
                            )
                        })
                    }
                })
                .collect();
            if stale.is_empty() {
                (
                    true,
                    format!("{} backup set(s) within their RPO", facts.backups.len()),
                )
            } else {
                (false, stale.join("; "))
            }
        }
        Check::MonitorsGreen { components } => {
            let wanted: Vec<&String> = if components.is_empty() {
                facts.monitors.keys().collect()
            } else {
                components.iter().collect()
            };
            let mut bad = Vec::new();
            let mut counted = 0usize;
            for c in wanted {
                for (monitor, status) in facts.monitors.get(c).into_iter().flatten() {
                    match status {
                        MonitorStatus::Up => counted += 1,
                        MonitorStatus::Paused => {}
                        other => bad.push(format!("{monitor} ({c}) is {}", other.as_str())),
                    }
                }
            }
            if bad.is_empty() {
                (true, format!("{counted} monitor(s) up"))
            } else {
                (false, bad.join("; "))
            }
        }
        Check::NoOpenIncidents => {
            if facts.open_incidents.is_empty() {
                (true, "no open incident".to_owned())
            } else {
                (
                    false,
                    format!(
                        "{} open incident(s): {}",
                        facts.open_incidents.len(),
                        facts.open_incidents.join("; ")
                    ),
                )
            }
        }
        Check::Command { .. } => return None,
    };
    Some(Outcome {
        check: check.label(),
        passed,
        detail,
    })
}

/// How a `command` check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandExit {
    /// The exit code, or `None` when a signal ended it.
    Exited(Option<i32>),
    TimedOut(Duration),
    /// It could not be started.
    NotStarted(String),
}

/// The outcome of a `command` check that ended with `exit`; `output` is the tail of what it
/// printed.
pub fn judge_command(check: &Check, exit: &CommandExit, output: &str) -> Outcome {
    let tail: String = {
        let t = output.trim();
        let start = t.char_indices().rev().nth(299).map_or(0, |(i, _)| i);
        t[start..].to_owned()
    };
    let with_output = |s: String| {
        if tail.is_empty() {
            s
        } else {
            format!("{s}: {tail}")
        }
    };
    let (passed, detail) = match exit {
        CommandExit::Exited(Some(0)) => (true, "exited 0".to_owned()),
        CommandExit::Exited(Some(code)) => (false, with_output(format!("exited {code}"))),
        CommandExit::Exited(None) => (false, with_output("killed by a signal".to_owned())),
        CommandExit::TimedOut(after) => (
            false,
            with_output(format!(
                "did not finish within {}",
                crate::duration::format_duration(*after)
            )),
        ),
        CommandExit::NotStarted(why) => (false, format!("could not start: {why}")),
    };
    Outcome {
        check: check.label(),
        passed,
        detail,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn checks_read_and_write_as_tagged_json() {
        let checks: Vec<Check> = serde_json::from_str(
            r#"[{"type":"backups_fresh"},{"type":"monitors_green","components":["api"]},
                {"type":"no_open_incidents"},{"type":"command","run":"true"}]"#,
        )
        .unwrap();
        assert_eq!(
            checks[1],
            Check::MonitorsGreen {
                components: vec!["api".into()]
            }
        );
        assert_eq!(
            checks[3],
            Check::Command {
                run: "true".into(),
                timeout_ms: 60_000
            }
        );
        assert!(serde_json::from_str::<Check>(r#"{"type":"reboot"}"#).is_err());
        assert!(
            serde_json::from_str::<Check>(r#"{"type":"command","run":"x","extra":1}"#).is_err()
        );
    }

    #[test]
    fn backups_are_fresh_up_to_their_rpo_exactly() {
        let now = t("2026-11-22T12:00:00Z");
        let facts = |started: Option<&str>| Facts {
            backups: vec![BackupFact {
                name: "db".into(),
                rpo: Duration::from_secs(6 * 3600),
                last_success_started: started.map(t),
            }],
            ..Facts::default()
        };
        let ok = judge(
            &Check::BackupsFresh,
            &facts(Some("2026-11-22T06:00:00Z")),
            now,
        )
        .unwrap();
        assert!(ok.passed, "{ok:?}");
        let stale = judge(
            &Check::BackupsFresh,
            &facts(Some("2026-11-22T05:59:59Z")),
            now,
        )
        .unwrap();
        assert!(!stale.passed);
        assert!(
            stale.detail.contains("db is 6h1s old (RPO 6h)"),
            "{}",
            stale.detail
        );
        let never = judge(&Check::BackupsFresh, &facts(None), now).unwrap();
        assert_eq!(never.detail, "db has never succeeded");
    }

    #[test]
    fn monitors_green_names_what_is_not_up() {
        let mut facts = Facts::default();
        facts.monitors.insert(
            "api".into(),
            vec![
                ("api-http".into(), MonitorStatus::Up),
                ("api-tcp".into(), MonitorStatus::Paused),
            ],
        );
        facts
            .monitors
            .insert("db".into(), vec![("db-port".into(), MonitorStatus::Down)]);
        let now = t("2026-11-22T12:00:00Z");
        let api = Check::MonitorsGreen {
            components: vec!["api".into()],
        };
        assert!(judge(&api, &facts, now).unwrap().passed);
        let all = judge(&Check::MonitorsGreen { components: vec![] }, &facts, now).unwrap();
        assert!(!all.passed);
        assert_eq!(all.detail, "db-port (db) is down");
    }

    #[test]
    fn open_incidents_hold_the_start() {
        let facts = Facts {
            open_incidents: vec!["API errors".into()],
            ..Facts::default()
        };
        let o = judge(&Check::NoOpenIncidents, &facts, t("2026-11-22T12:00:00Z")).unwrap();
        assert!(!o.passed);
        assert_eq!(o.detail, "1 open incident(s): API errors");
    }

    #[test]
    fn commands_pass_only_on_exit_zero() {
        let c = Check::Command {
            run: "kubectl get pods".into(),
            timeout_ms: 1000,
        };
        assert!(judge(&c, &Facts::default(), t("2026-11-22T12:00:00Z")).is_none());
        assert!(judge_command(&c, &CommandExit::Exited(Some(0)), "").passed);
        let failed = judge_command(&c, &CommandExit::Exited(Some(2)), "only 1 replica\n");
        assert_eq!(failed.detail, "exited 2: only 1 replica");
        let slow = judge_command(&c, &CommandExit::TimedOut(Duration::from_secs(1)), "");
        assert!(!slow.passed && slow.detail.contains("did not finish within 1s"));
        assert!(c.validate(|_| true).is_ok());
        assert!(
            Check::Command {
                run: " ".into(),
                timeout_ms: 1
            }
            .validate(|_| true)
            .is_err()
        );
        assert!(
            Check::MonitorsGreen {
                components: vec!["x".into()]
            }
            .validate(|c| c == "api")
            .is_err()
        );
    }
}
