//! Rollouts: a maintenance that drives the work itself, one tenant at a time, each inside its
//! own slot, behind a health gate, with rollback (`docs/rollouts.md`).
//!
//! - This module: the rollout's specification (`rollout:` of a window, or of a one-off
//!   maintenance in the API), the states of a rollout and of each tenant's step, and what an
//!   action is told (environment of a command, JSON body of a webhook, idempotency key).
//! - [`gate`]: the judgement of a tenant's gate from the results its monitors produced while it
//!   settled, with the evidence kept beside the verdict.
//! - [`notice`]: what a tenant's subscribers are told of their own update.
//! - [`machine`]: the pure state machine: given a rollout as stored and the instant, the one
//!   next thing to do (start a step, judge a gate, skip a tenant whose slot cannot hold the
//!   step, roll back a pause that timed out, halt, complete).
//!
//! As everywhere in this crate, nothing here reads the clock or performs I/O.

pub mod gate;
pub mod machine;
pub mod notice;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Default `settle`: how long the gate's monitors must stay green after the action.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5 * 60);
/// Default action and rollback timeout.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Longest action or rollback timeout.
pub const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Default `gate.min_samples`.
pub const DEFAULT_MIN_SAMPLES: u32 = 3;
/// Default `pause_timeout`.
pub const DEFAULT_PAUSE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Consecutive probe errors of one gate monitor that count as a failure.
pub const ERRORS_AS_FAILURE: u32 = 3;

/// `rollout:` of a window or of a one-off maintenance: validated, defaults filled in. Stored
/// with the maintenance as JSON (durations in milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutSpec {
    /// What updates one tenant.
    pub action: StepSpec,
    /// What reverts one tenant after a failed action or gate; none means the tenant stays
    /// failed.
    pub rollback: Option<StepSpec>,
    /// How long the gate's monitors must stay green after the action, in milliseconds.
    pub settle_ms: u64,
    /// The health gate.
    pub gate: GateSpec,
    /// Tenants that go first, in this order.
    pub canary: Vec<String>,
    /// Failed tenants tolerated before the rollout halts (default 0: halt at the first).
    pub failure_budget: u32,
    /// How long an inconclusive gate waits for an operator before the tenant is rolled back,
    /// in milliseconds.
    pub pause_timeout_ms: u64,
    /// What to do with an attempt whose outcome was never recorded (a crash mid-step).
    pub on_unknown: OnUnknown,
}

impl RolloutSpec {
    /// `settle` as a duration.
    pub fn settle(&self) -> Duration {
        Duration::from_millis(self.settle_ms)
    }

    /// `pause_timeout` as a duration.
    pub fn pause_timeout(&self) -> Duration {
        Duration::from_millis(self.pause_timeout_ms)
    }

    /// The specification as operators and the audit log see it: webhook secrets replaced by
    /// `[redacted]`.
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        for step in ["action", "rollback"] {
            if let Some(webhook) = value
                .get_mut(step)
                .and_then(|s| s.get_mut("run"))
                .and_then(|r| r.get_mut("webhook"))
                .and_then(|w| w.as_object_mut())
            {
                webhook.insert("secret".into(), "[redacted]".into());
            }
        }
        value
    }

    /// The step of this kind, if the rollout has one.
    pub fn step(&self, step: Step) -> Option<&StepSpec> {
        match step {
            Step::Action => Some(&self.action),
            Step::Rollback => self.rollback.as_ref(),
        }
    }

    /// The monitors that gate `tenant`: the listed ones (an id of a `tenant_services` monitor
    /// names that tenant's instance, `TENANT.ID`, when the tenant has one), or else the
    /// tenant's own monitors.
    pub fn gate_monitors(&self, config: &crate::config::Config, tenant: &str) -> Vec<String> {
        match &self.gate.monitors {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    let own = format!("{tenant}.{id}");
                    if config.monitors.contains_key(&own) {
                        own
                    } else {
                        id.clone()
                    }
                })
                .collect(),
            None => config.tenant_monitors(tenant).map(str::to_owned).collect(),
        }
    }
}

/// An action or a rollback: what runs and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// A shell command or a signed webhook.
    pub run: StepRun,
    /// How long one attempt may take, in milliseconds; past it the attempt has failed.
    pub timeout_ms: u64,
}

impl StepSpec {
    /// The timeout as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// How a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepRun {
    /// `sh -c COMMAND`, with the step's environment; exit status 0 is success.
    Command(String),
    /// A POST of the step's JSON body, signed like every webhook, with an `Idempotency-Key`
    /// header; a 2xx answer is success.
    Webhook {
        /// Where to post.
        url: String,
        /// The signing secret (never shown).
        secret: String,
    },
}

/// `gate:`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSpec {
    /// The monitors judged; `None`: the tenant's own monitors.
    pub monitors: Option<Vec<String>>,
    /// Results each monitor must produce during the settle time.
    pub min_samples: u32,
    /// What an inconclusive gate (too few results) does.
    pub no_data: NoData,
}

impl Default for GateSpec {
    fn default() -> Self {
        GateSpec {
            monitors: None,
            min_samples: DEFAULT_MIN_SAMPLES,
            no_data: NoData::Pause,
        }
    }
}

/// `gate.no_data`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoData {
    /// Pause for an operator, then roll back at `pause_timeout`.
    Pause,
    /// Count as a failed gate.
    Fail,
}

/// `on_unknown`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnknown {
    /// Halt the rollout for an operator.
    Halt,
    /// Run the attempt again with the same idempotency key.
    Retry,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and shown name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses a stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The state of a whole rollout.
    RolloutState {
        /// Waiting for its maintenance to start.
        Pending => "pending",
        /// Rolling tenants.
        Running => "running",
        /// Paused by an operator, or by a gate waiting on one.
        Paused => "paused",
        /// Stopped by failures beyond the budget, or by a step of unknown outcome.
        Halted => "halted",
        /// Every tenant reached an end state.
        Completed => "completed",
        /// Stopped by an operator for good.
        Aborted => "aborted",
    }
}

impl RolloutState {
    /// Whether nothing more will happen.
    pub fn is_final(self) -> bool {
        matches!(self, RolloutState::Completed | RolloutState::Aborted)
    }
}

vocabulary! {
    /// The state of one tenant's step.
    TenantState {
        /// Not started.
        Pending => "pending",
        /// Its action runs.
        Acting => "acting",
        /// The action succeeded; its gate's monitors are watched.
        Settling => "settling",
        /// The gate passed.
        Passed => "passed",
        /// The action or the gate failed; a rollback comes next when there is one.
        Failed => "failed",
        /// Its rollback runs.
        RollingBack => "rolling_back",
        /// The rollback succeeded.
        RolledBack => "rolled_back",
        /// The gate was inconclusive: waiting for an operator until `pause_timeout`.
        Paused => "paused",
        /// Not acted on (its slot could not hold the step, or an operator skipped it).
        Skipped => "skipped",
        /// A step's outcome is unknown (a crash mid-step): waiting for an operator.
        Halted => "halted",
    }
}

impl TenantState {
    /// Whether the tenant is done with (nothing more happens to it without an operator).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TenantState::Passed | TenantState::RolledBack | TenantState::Skipped
        )
    }
}

vocabulary! {
    /// Which step an attempt runs.
    Step {
        /// The update.
        Action => "action",
        /// The revert.
        Rollback => "rollback",
    }
}

vocabulary! {
    /// How an attempt ended.
    Outcome {
        /// Exit status 0, or a 2xx answer.
        Succeeded => "succeeded",
        /// Any other exit status or answer, or it could not be started.
        Failed => "failed",
        /// It ran past its timeout and was stopped.
        TimedOut => "timed_out",
        /// upkeep stopped (a crash) before recording the outcome.
        Unknown => "unknown",
    }
}

/// The idempotency key of an attempt: the same for the same maintenance, tenant, step and
/// attempt number, so a receiver can tell a repeat from a new attempt.
pub fn idempotency_key(maintenance: &str, tenant: &str, step: Step, attempt: u32) -> String {
    format!("{maintenance}.{tenant}.{step}.{attempt}")
}

/// What one attempt of a step is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepContext {
    pub maintenance: String,
    pub tenant: String,
    pub step: Step,
    pub attempt: u32,
    pub idempotency_key: String,
    pub slot_start: Timestamp,
    pub slot_end: Timestamp,
    /// The tenant's variables.
    pub vars: BTreeMap<String, String>,
}

impl StepContext {
    /// The environment of a command: `UPKEEP_MAINTENANCE`, `UPKEEP_TENANT`, `UPKEEP_STEP`,
    /// `UPKEEP_ATTEMPT`, `UPKEEP_IDEMPOTENCY_KEY`, `UPKEEP_SLOT_START`, `UPKEEP_SLOT_END`
    /// (RFC 3339) and each variable as `UPKEEP_VAR_<NAME>` (upper case).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("UPKEEP_MAINTENANCE".to_owned(), self.maintenance.clone()),
            ("UPKEEP_TENANT".to_owned(), self.tenant.clone()),
            ("UPKEEP_STEP".to_owned(), self.step.as_str().to_owned()),
            ("UPKEEP_ATTEMPT".to_owned(), self.attempt.to_string()),
            (
                "UPKEEP_IDEMPOTENCY_KEY".to_owned(),
                self.idempotency_key.clone(),
            ),
            ("UPKEEP_SLOT_START".to_owned(), rfc3339(self.slot_start)),
            ("UPKEEP_SLOT_END".to_owned(), rfc3339(self.slot_end)),
        ];
        for (name, value) in &self.vars {
            env.push((
                format!("UPKEEP_VAR_{}", name.to_ascii_uppercase()),
                value.clone(),
            ));
        }
        env
    }

    /// The JSON body of a webhook: the same facts as the environment.
    pub fn webhook_body(&self) -> serde_json::Value {
        serde_json::json!({
            "maintenance": self.maintenance,
            "tenant": self.tenant,
            "step": self.step.as_str(),
            "attempt": self.attempt,
            "idempotency_key": self.idempotency_key,
            "slot": { "start": rfc3339(self.slot_start), "end": rfc3339(self.slot_end) },
            "vars": self.vars,
        })
    }
}

/// An instant as RFC 3339 in UTC with seconds (`2026-12-05T21:00:00Z`).
fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn vocabularies_round_trip_and_refuse_unknown_text() {
        for s in RolloutState::ALL {
            assert_eq!(RolloutState::parse(s.as_str()), Some(*s));
        }
        for s in TenantState::ALL {
            assert_eq!(TenantState::parse(s.as_str()), Some(*s));
        }
        for s in Outcome::ALL {
            assert_eq!(Outcome::parse(s.as_str()), Some(*s));
        }
        assert_eq!(TenantState::parse("Passed"), None);
        assert_eq!(Step::parse("deploy"), None);
    }

    #[test]
    fn the_environment_carries_every_contract_name() {
        let ctx = StepContext {
            maintenance: "m1".into(),
            tenant: "acme".into(),
            step: Step::Rollback,
            attempt: 2,
            idempotency_key: idempotency_key("m1", "acme", Step::Rollback, 2),
            slot_start: "2026-12-05T21:00:00Z".parse().unwrap(),
            slot_end: "2026-12-05T21:15:00Z".parse().unwrap(),
            vars: BTreeMap::from([("host".to_owned(), "acme.example".to_owned())]),
        };
        let env: BTreeMap<String, String> = ctx.environment().into_iter().collect();
        assert_eq!(env["UPKEEP_STEP"], "rollback");
        assert_eq!(env["UPKEEP_ATTEMPT"], "2");
        assert_eq!(env["UPKEEP_IDEMPOTENCY_KEY"], "m1.acme.rollback.2");
        assert_eq!(env["UPKEEP_SLOT_START"], "2026-12-05T21:00:00Z");
        assert_eq!(env["UPKEEP_SLOT_END"], "2026-12-05T21:15:00Z");
        assert_eq!(env["UPKEEP_VAR_HOST"], "acme.example");
        assert_eq!(env["UPKEEP_TENANT"], "acme");
        assert_eq!(ctx.webhook_body()["slot"]["end"], "2026-12-05T21:15:00Z");
    }
}
