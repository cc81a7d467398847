//! The rollout state machine, pure: [`next`] reads a rollout as stored and the instant and says
//! the one next thing to do; the engine performs it (a step's attempt, a gate's judgement) and
//! stores the result, each change with its audit row and event in one transaction, then asks
//! again. Operators' commands ([`command`]) are checked here too.
//!
//! Order and timing. Tenants go one at a time in rollout order (canaries first, then slot
//! order). A tenant's step starts only inside its slot and only when the window has time left
//! for the step's timeout plus the settle time; otherwise the tenant is skipped, never started
//! late. A window that ended (or was cancelled) skips the tenants not yet started; a step in
//! flight is finished (judged, rolled back).
//!
//! Failure. A failed action or gate makes the tenant `failed`; its rollback runs once when the
//! rollout has one. A tenant that failed (rolled back or not) counts against `failure_budget`:
//! past it the rollout halts before the next tenant starts. An inconclusive gate pauses the
//! rollout and the tenant until an operator decides or `pause_timeout` passes, which fails the
//! tenant (and so rolls it back).
//!
//! Crashes. An attempt is stored before it runs and its outcome after; the engine asks [`next`]
//! only between attempts, so an attempt without an outcome means upkeep stopped during it. It
//! is never run again on its own: `on_unknown: halt` records it as unknown and halts for an
//! operator; `on_unknown: retry` runs it again with the same attempt number and idempotency key.
//!
//! An operator's pause stops new tenants from starting; a step in flight still finishes.
//!
//! `settle: 0s` turns the gate off on purpose: a tenant passes on its action's success alone
//! (the decision says so). Any other settle time is judged by [`super::gate`], where no data is
//! never success.

use jiff::{SignedDuration, Timestamp};

use super::gate::Verdict;
use super::{Outcome, RolloutSpec, RolloutState, Step, TenantState};
use crate::maintenance::MaintenanceStatus;

/// Where the rollout's maintenance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet (or held by pre-flight checks).
    Ahead,
    /// In progress.
    Open,
    /// Ended (verifying or completed).
    Over,
    /// Cancelled.
    Cancelled,
}

impl Phase {
    /// The phase of a maintenance in `status`.
    pub fn of(status: MaintenanceStatus) -> Phase {
        match status {
            MaintenanceStatus::Scheduled => Phase::Ahead,
            MaintenanceStatus::InProgress => Phase::Open,
            MaintenanceStatus::Verifying | MaintenanceStatus::Completed => Phase::Over,
            MaintenanceStatus::Cancelled => Phase::Cancelled,
        }
    }
}

/// A rollout as stored, with its maintenance's span and phase.
#[derive(Debug, Clone)]
pub struct RolloutView {
    pub maintenance: String,
    pub state: RolloutState,
    pub spec: RolloutSpec,
    pub phase: Phase,
    /// The maintenance's end.
    pub window_end: Timestamp,
    /// Every tenant, in rollout order.
    pub tenants: Vec<TenantView>,
}

/// One tenant's step as stored.
#[derive(Debug, Clone)]
pub struct TenantView {
    pub tenant: String,
    pub state: TenantState,
    pub slot_start: Timestamp,
    pub slot_end: Timestamp,
    /// When the tenant entered its state (a settle time or a pause counts from here).
    pub since: Timestamp,
    /// Its attempts, oldest first.
    pub attempts: Vec<AttemptView>,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptView {
    pub step: Step,
    /// 1, 2, ... per step.
    pub attempt: u32,
    /// `None` until recorded; while so, the attempt runs (or upkeep stopped during it).
    pub outcome: Option<Outcome>,
}

impl TenantView {
    /// The last attempt of `step`.
    fn last(&self, step: Step) -> Option<&AttemptView> {
        self.attempts.iter().rev().find(|a| a.step == step)
    }

    /// The number the next attempt of `step` gets.
    fn next_attempt(&self, step: Step) -> u32 {
        self.last(step).map_or(1, |a| a.attempt + 1)
    }

    /// Whether a rollback was tried after the last action.
    fn rolled_back_since_action(&self) -> bool {
        let action = self.attempts.iter().rposition(|a| a.step == Step::Action);
        let rollback = self.attempts.iter().rposition(|a| a.step == Step::Rollback);
        match (action, rollback) {
            (Some(a), Some(r)) => r > a,
            (None, Some(_)) => true,
            _ => false,
        }
    }

    /// Whether the rollout is done with this tenant.
    fn is_done(&self, spec: &RolloutSpec) -> bool {
        match self.state {
            TenantState::Failed => spec.rollback.is_none() || self.rolled_back_since_action(),
            state => state.is_final(),
        }
    }

    /// Whether this tenant counts against the failure budget.
    fn counts_as_failure(&self) -> bool {
        matches!(self.state, TenantState::Failed | TenantState::RolledBack)
    }
}

/// The one next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing until `Some(instant)`, or until an operator acts (`None`).
    Wait(Option<Timestamp>),
    /// Store these state changes (one transaction).
    Set(Change),
    /// Run an attempt of `step` for `tenant`: store it (the tenant becomes `acting` or
    /// `rolling_back`), run it, store its outcome with [`after_outcome`]. `resumed`: the
    /// attempt was stored before a crash and is run again with the same idempotency key.
    Run {
        tenant: String,
        step: Step,
        attempt: u32,
        resumed: bool,
    },
    /// Judge `tenant`'s gate over the results in `[from, until)`; `settled` when the settle
    /// time is over. Store the verdict with [`after_verdict`], or wait when there is none yet.
    Judge {
        tenant: String,
        from: Timestamp,
        until: Timestamp,
        settled: bool,
    },
}

/// State changes stored together, with the reason shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    /// The rollout's new state.
    pub rollout: Option<RolloutState>,
    /// A tenant's new state.
    pub tenant: Option<(String, TenantState)>,
    /// An attempt left without outcome, now recorded as [`Outcome::Unknown`].
    pub unknown: Option<(String, Step, u32)>,
    /// Why, in a sentence.
    pub reason: String,
}

fn set(change: Change) -> Next {
    Next::Set(change)
}

/// The next thing to do with `rollout` at `now`.
pub fn next(rollout: &RolloutView, now: Timestamp) -> Next {
    let spec = &rollout.spec;
    match rollout.state {
        RolloutState::Completed | RolloutState::Aborted | RolloutState::Halted => {
            return Next::Wait(None);
        }
        RolloutState::Pending => {
            return match rollout.phase {
                Phase::Ahead => Next::Wait(None),
                Phase::Open => set(Change {
                    rollout: Some(RolloutState::Running),
                    reason: "the maintenance started".into(),
                    ..Change::default()
                }),
                Phase::Cancelled => set(Change {
                    rollout: Some(RolloutState::Aborted),
                    reason: "the maintenance was cancelled before it started".into(),
                    ..Change::default()
                }),
                // Ended without ever running (upkeep was down for the whole window): run to
                // record that every tenant is skipped.
                Phase::Over => set(Change {
                    rollout: Some(RolloutState::Running),
                    reason: "the maintenance ended before the rollout ran".into(),
                    ..Change::default()
                }),
            };
        }
        RolloutState::Running | RolloutState::Paused => {}
    }

    let Some(current) = rollout.tenants.iter().find(|t| !t.is_done(spec)) else {
        return set(Change {
            rollout: Some(RolloutState::Completed),
            reason: completed_reason(rollout),
            ..Change::default()
        });
    };
    let tenant = current.tenant.clone();
    match current.state {
        TenantState::Pending => {
            let failures = rollout
                .tenants
                .iter()
                .filter(|t| t.counts_as_failure())
                .count();
            if failures > spec.failure_budget as usize {
                return set(Change {
                    rollout: Some(RolloutState::Halted),
                    reason: format!(
                        "{failures} tenant{} failed, more than the failure budget of {}",
                        if failures == 1 { "" } else { "s" },
                        spec.failure_budget
                    ),
                    ..Change::default()
                });
            }
            if rollout.state == RolloutState::Paused {
                return Next::Wait(None);
            }
            if let Some(reason) = cannot_start(rollout, current, now) {
                return set(Change {
                    tenant: Some((tenant, TenantState::Skipped)),
                    reason,
                    ..Change::default()
                });
            }
            if now < current.slot_start {
                return Next::Wait(Some(current.slot_start));
            }
            Next::Run {
                step: Step::Action,
                attempt: current.next_attempt(Step::Action),
                tenant,
                resumed: false,
            }
        }
        TenantState::Acting => open_attempt(rollout, current, Step::Action),
        TenantState::RollingBack => open_attempt(rollout, current, Step::Rollback),
        TenantState::Settling if spec.settle_ms == 0 => set(Change {
            tenant: Some((tenant, TenantState::Passed)),
            reason: "passed on the action's success alone: `settle: 0s` turns the gate off".into(),
            ..Change::default()
        }),
        TenantState::Settling => {
            let until = current.since + SignedDuration::from_millis(spec.settle_ms as i64);
            Next::Judge {
                tenant,
                from: current.since,
                until,
                settled: now >= until,
            }
        }
        TenantState::Failed => Next::Run {
            step: Step::Rollback,
            attempt: current.next_attempt(Step::Rollback),
            tenant,
            resumed: false,
        },
        TenantState::Paused => {
            let deadline =
                current.since + SignedDuration::from_millis(spec.pause_timeout_ms as i64);
            if now >= deadline {
                set(Change {
                    rollout: Some(RolloutState::Running),
                    tenant: Some((tenant, TenantState::Failed)),
                    reason: format!(
                        "no operator decided within the pause timeout of {}",
                        crate::duration::format_duration(spec.pause_timeout())
                    ),
                    ..Change::default()
                })
            } else if rollout.state == RolloutState::Paused {
                Next::Wait(Some(deadline))
            } else {
                set(Change {
                    rollout: Some(RolloutState::Paused),
                    reason: format!("{tenant}'s gate waits on an operator"),
                    ..Change::default()
                })
            }
        }
        TenantState::Halted => set(Change {
            rollout: Some(RolloutState::Halted),
            reason: format!("{tenant}'s step has an unknown outcome"),
            ..Change::default()
        }),
        // Done states are filtered out above.
        TenantState::Passed | TenantState::RolledBack | TenantState::Skipped => Next::Wait(None),
    }
}

/// Why `tenant` cannot start at `now`, if it cannot.
fn cannot_start(rollout: &RolloutView, tenant: &TenantView, now: Timestamp) -> Option<String> {
    match rollout.phase {
        Phase::Cancelled => return Some("not started: the maintenance was cancelled".into()),
        Phase::Over => return Some("not started: the maintenance ended first".into()),
        Phase::Ahead | Phase::Open => {}
    }
    if now >= tenant.slot_end {
        return Some(format!(
            "not started: its slot ended at {} before it could start",
            tenant.slot_end
        ));
    }
    let start = now.max(tenant.slot_start);
    let needs = SignedDuration::from_millis(
        (rollout.spec.action.timeout_ms + rollout.spec.settle_ms) as i64,
    );
    if start + needs > rollout.window_end {
        return Some(format!(
            "not started: the window has less time left than the action's timeout plus the \
             settle time ({})",
            crate::duration::format_duration(needs.unsigned_abs())
        ));
    }
    None
}

/// A tenant in `acting` or `rolling_back`: its last attempt of `step` has no outcome (upkeep
/// stopped during it), or — never written so, but read defensively — has one.
fn open_attempt(rollout: &RolloutView, tenant: &TenantView, step: Step) -> Next {
    let name = tenant.tenant.clone();
    match tenant.last(step) {
        Some(attempt) if attempt.outcome.is_none() => match rollout.spec.on_unknown {
            super::OnUnknown::Retry => Next::Run {
                tenant: name,
                step,
                attempt: attempt.attempt,
                resumed: true,
            },
            super::OnUnknown::Halt => set(Change {
                rollout: Some(RolloutState::Halted),
                tenant: Some((name.clone(), TenantState::Halted)),
                unknown: Some((name, step, attempt.attempt)),
                reason: format!(
                    "upkeep stopped during {step} attempt {}: its outcome is unknown, so it \
                     is not run again; retry or skip it",
                    attempt.attempt
                ),
            }),
        },
        Some(attempt) => set(Change {
            tenant: Some((
                name,
                after_outcome(step, attempt.outcome.unwrap_or(Outcome::Unknown)),
            )),
            reason: format!(
                "{step} attempt {} {}",
                attempt.attempt,
                attempt.outcome.unwrap_or(Outcome::Unknown)
            ),
            ..Change::default()
        }),
        None => set(Change {
            tenant: Some((name, TenantState::Pending)),
            reason: format!("no {step} attempt was stored"),
            ..Change::default()
        }),
    }
}

fn completed_reason(rollout: &RolloutView) -> String {
    let count = |state: TenantState| rollout.tenants.iter().filter(|t| t.state == state).count();
    format!(
        "{} of {} tenants updated ({} rolled back, {} failed, {} skipped)",
        count(TenantState::Passed),
        rollout.tenants.len(),
        count(TenantState::RolledBack),
        count(TenantState::Failed),
        count(TenantState::Skipped)
    )
}

/// The tenant's state once an attempt of `step` ended with `outcome`.
pub fn after_outcome(step: Step, outcome: Outcome) -> TenantState {
    match (step, outcome) {
        (Step::Action, Outcome::Succeeded) => TenantState::Settling,
        (Step::Action, _) => TenantState::Failed,
        (Step::Rollback, Outcome::Succeeded) => TenantState::RolledBack,
        (Step::Rollback, Outcome::Unknown) => TenantState::Halted,
        (Step::Rollback, _) => TenantState::Failed,
    }
}

/// The tenant's and the rollout's state after a gate's verdict.
pub fn after_verdict(verdict: Verdict) -> (TenantState, Option<RolloutState>) {
    match verdict {
        Verdict::Pass => (TenantState::Passed, None),
        Verdict::Fail => (TenantState::Failed, None),
        Verdict::Inconclusive => (TenantState::Paused, Some(RolloutState::Paused)),
    }
}

/// An operator's command on a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    Abort,
    Retry(String),
    Skip(String),
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the rollout has no tenant `{0}`")]
    UnknownTenant(String),
    #[error("{0}")]
    NotNow(String),
}

/// What an operator's command changes, or why it is refused. A resumed gate pause and a retried
/// tenant start afresh: the tenant settles again from `now`, or goes back to `pending` (its next
/// attempt gets a new number and a new idempotency key).
pub fn command(
    rollout: &RolloutView,
    command: &Command,
    now: Timestamp,
) -> Result<Change, Refused> {
    use RolloutState as R;
    use TenantState as T;
    let state = rollout.state;
    if state.is_final() {
        return Err(Refused::NotNow(format!("the rollout is {state}")));
    }
    let find = |id: &str| {
        rollout
            .tenants
            .iter()
            .find(|t| t.tenant == id)
            .ok_or_else(|| Refused::UnknownTenant(id.to_owned()))
    };
    match command {
        Command::Pause => match state {
            R::Pending | R::Running => Ok(Change {
                rollout: Some(R::Paused),
                reason: "paused by an operator".into(),
                ..Change::default()
            }),
            _ => Err(Refused::NotNow(format!(
                "the rollout is {state}, not running"
            ))),
        },
        Command::Resume => {
            if !matches!(state, R::Paused | R::Halted) {
                return Err(Refused::NotNow(format!(
                    "the rollout is {state}, not paused or halted"
                )));
            }
            if let Some(t) = rollout.tenants.iter().find(|t| t.state == T::Halted) {
                return Err(Refused::NotNow(format!(
                    "{}'s step has an unknown outcome: retry or skip that tenant",
                    t.tenant
                )));
            }
            let paused = rollout.tenants.iter().find(|t| t.state == T::Paused);
            Ok(Change {
                rollout: Some(R::Running),
                tenant: paused.map(|t| (t.tenant.clone(), T::Settling)),
                reason: match paused {
                    Some(t) => format!(
                        "resumed by an operator: {}'s gate is judged again",
                        t.tenant
                    ),
                    None => "resumed by an operator".into(),
                },
                ..Change::default()
            })
        }
        Command::Abort => Ok(Change {
            rollout: Some(R::Aborted),
            reason: "aborted by an operator".into(),
            ..Change::default()
        }),
        Command::Retry(id) => {
            let t = find(id)?;
            if !matches!(
                t.state,
                T::Failed | T::RolledBack | T::Paused | T::Halted | T::Skipped
            ) {
                return Err(Refused::NotNow(format!(
                    "{id} is {}: nothing to retry",
                    t.state
                )));
            }
            if now >= t.slot_end {
                return Err(Refused::NotNow(format!(
                    "{id}'s slot ended at {}: a step never starts outside its slot",
                    t.slot_end
                )));
            }
            Ok(Change {
                rollout: Some(R::Running),
                tenant: Some((id.clone(), T::Pending)),
                reason: format!("{id} retried by an operator"),
                ..Change::default()
            })
        }
        Command::Skip(id) => {
            let t = find(id)?;
            if matches!(t.state, T::Acting | T::RollingBack) || t.state.is_final() {
                return Err(Refused::NotNow(format!(
                    "{id} is {}: it cannot be skipped now",
                    t.state
                )));
            }
            let others_hold = rollout
                .tenants
                .iter()
                .any(|o| o.tenant != *id && matches!(o.state, T::Paused | T::Halted));
            Ok(Change {
                rollout: (matches!(state, R::Halted | R::Paused) && !others_hold)
                    .then_some(R::Running),
                tenant: Some((id.clone(), T::Skipped)),
                reason: format!("{id} skipped by an operator"),
                ..Change::default()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::rollout::{GateSpec, OnUnknown, StepRun, StepSpec};

    const MIN: i64 = 60_000;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + minutes * MIN).unwrap()
    }

    fn step() -> StepSpec {
        StepSpec {
            run: StepRun::Command("true".into()),
            timeout_ms: 5 * MIN as u64,
        }
    }

    fn spec() -> RolloutSpec {
        RolloutSpec {
            action: step(),
            rollback: Some(step()),
            settle_ms: 5 * MIN as u64,
            gate: GateSpec::default(),
            canary: vec![],
            failure_budget: 0,
            pause_timeout_ms: 30 * MIN as u64,
            on_unknown: OnUnknown::Halt,
        }
    }

    fn tenant(id: &str, slot: i64, state: TenantState) -> TenantView {
        TenantView {
            tenant: id.into(),
            state,
            slot_start: at(slot),
            slot_end: at(slot + 15),
            since: at(slot),
            attempts: vec![],
        }
    }

    /// A running rollout in a window [0, 60) with three 15-minute slots.
    fn view(states: [TenantState; 3]) -> RolloutView {
        RolloutView {
            maintenance: "m1".into(),
            state: RolloutState::Running,
            spec: spec(),
            phase: Phase::Open,
            window_end: at(60),
            tenants: vec![
                tenant("a", 0, states[0]),
                tenant("b", 15, states[1]),
                tenant("c", 30, states[2]),
            ],
        }
    }

    fn attempt(step: Step, attempt: u32, outcome: Option<Outcome>) -> AttemptView {
        AttemptView {
            step,
            attempt,
            outcome,
        }
    }

    use TenantState as T;

    #[test]
    fn a_pending_rollout_runs_when_its_window_opens_and_aborts_when_cancelled() {
        let mut v = view([T::Pending; 3]);
        v.state = RolloutState::Pending;
        v.phase = Phase::Ahead;
        assert_eq!(next(&v, at(0)), Next::Wait(None));
        v.phase = Phase::Open;
        assert!(matches!(
            next(&v, at(0)),
            Next::Set(Change {
                rollout: Some(RolloutState::Running),
                ..
            })
        ));
        v.phase = Phase::Cancelled;
        assert!(matches!(
            next(&v, at(0)),
            Next::Set(Change {
                rollout: Some(RolloutState::Aborted),
                ..
            })
        ));
    }

    #[test]
    fn a_step_starts_only_inside_its_slot() {
        let mut v = view([T::Passed, T::Pending, T::Pending]);
        assert_eq!(next(&v, at(10)), Next::Wait(Some(at(15))));
        assert_eq!(
            next(&v, at(15)),
            Next::Run {
                tenant: "b".into(),
                step: Step::Action,
                attempt: 1,
                resumed: false
            }
        );
        // Its slot is over: skipped, not started late.
        let Next::Set(change) = next(&v, at(30)) else {
            panic!()
        };
        assert_eq!(change.tenant, Some(("b".into(), T::Skipped)));
        // The window has no room for timeout + settle (10 min) after minute 52.
        v.tenants[1] = tenant("b", 45, T::Pending);
        v.tenants[2] = tenant("c", 50, T::Pending);
        let Next::Set(change) = next(&v, at(52)) else {
            panic!()
        };
        assert_eq!(change.tenant, Some(("b".into(), T::Skipped)));
        assert!(
            change.reason.contains("less time left"),
            "{}",
            change.reason
        );
    }

    #[test]
    fn a_failure_rolls_back_once_then_halts_before_the_next_tenant() {
        let mut v = view([T::Passed, T::Failed, T::Pending]);
        v.tenants[1].attempts = vec![attempt(Step::Action, 1, Some(Outcome::Failed))];
        assert_eq!(
            next(&v, at(20)),
            Next::Run {
                tenant: "b".into(),
                step: Step::Rollback,
                attempt: 1,
                resumed: false
            }
        );
        // The rollback failed too: the tenant stays failed, counted, and the rollout halts.
        v.tenants[1]
            .attempts
            .push(attempt(Step::Rollback, 1, Some(Outcome::Failed)));
        let Next::Set(change) = next(&v, at(31)) else {
            panic!()
        };
        assert_eq!(change.rollout, Some(RolloutState::Halted));
        assert_eq!(change.tenant, None);
        // With a budget of one, the third tenant goes on.
        v.spec.failure_budget = 1;
        assert!(matches!(
            next(&v, at(31)),
            Next::Run {
                step: Step::Action,
                ..
            }
        ));
    }

    #[test]
    fn an_attempt_of_unknown_outcome_is_never_run_again_on_its_own() {
        let mut v = view([T::Acting, T::Pending, T::Pending]);
        v.tenants[0].attempts = vec![attempt(Step::Action, 1, None)];
        let Next::Set(change) = next(&v, at(3)) else {
            panic!()
        };
        assert_eq!(change.unknown, Some(("a".into(), Step::Action, 1)));
        assert_eq!(change.tenant, Some(("a".into(), T::Halted)));
        assert_eq!(change.rollout, Some(RolloutState::Halted));
        v.spec.on_unknown = OnUnknown::Retry;
        assert_eq!(
            next(&v, at(3)),
            Next::Run {
                tenant: "a".into(),
                step: Step::Action,
                attempt: 1,
                resumed: true
            }
        );
    }

    #[test]
    fn settling_is_judged_over_the_settle_time() {
        let mut v = view([T::Settling, T::Pending, T::Pending]);
        v.tenants[0].since = at(2);
        assert_eq!(
            next(&v, at(4)),
            Next::Judge {
                tenant: "a".into(),
                from: at(2),
                until: at(7),
                settled: false
            }
        );
        assert!(matches!(next(&v, at(7)), Next::Judge { settled: true, .. }));
        v.spec.settle_ms = 0;
        let Next::Set(change) = next(&v, at(2)) else {
            panic!()
        };
        assert_eq!(change.tenant, Some(("a".into(), T::Passed)));
        assert!(
            change.reason.contains("turns the gate off"),
            "{}",
            change.reason
        );
        assert_eq!(
            after_verdict(Verdict::Inconclusive),
            (T::Paused, Some(RolloutState::Paused))
        );
    }

    #[test]
    fn a_pause_without_an_operator_fails_the_tenant_at_its_deadline() {
        let mut v = view([T::Paused, T::Pending, T::Pending]);
        v.state = RolloutState::Paused;
        v.tenants[0].since = at(7);
        assert_eq!(next(&v, at(20)), Next::Wait(Some(at(37))));
        let Next::Set(change) = next(&v, at(37)) else {
            panic!()
        };
        assert_eq!(change.tenant, Some(("a".into(), T::Failed)));
        assert_eq!(change.rollout, Some(RolloutState::Running));
    }

    #[test]
    fn done_when_every_tenant_is_done() {
        let v = view([T::Passed, T::RolledBack, T::Skipped]);
        let Next::Set(change) = next(&v, at(59)) else {
            panic!()
        };
        assert_eq!(change.rollout, Some(RolloutState::Completed));
        assert_eq!(
            change.reason,
            "1 of 3 tenants updated (1 rolled back, 0 failed, 1 skipped)"
        );
    }

    #[test]
    fn operators_commands_are_checked() {
        let mut v = view([T::Halted, T::Pending, T::Pending]);
        v.state = RolloutState::Halted;
        assert!(matches!(
            command(&v, &Command::Resume, at(3)),
            Err(Refused::NotNow(_))
        ));
        let retry = command(&v, &Command::Retry("a".into()), at(3)).unwrap();
        assert_eq!(retry.tenant, Some(("a".into(), T::Pending)));
        assert_eq!(retry.rollout, Some(RolloutState::Running));
        assert!(matches!(
            command(&v, &Command::Retry("a".into()), at(16)),
            Err(Refused::NotNow(_))
        ));
        assert_eq!(
            command(&v, &Command::Skip("zz".into()), at(3)),
            Err(Refused::UnknownTenant("zz".into()))
        );
        let skip = command(&v, &Command::Skip("a".into()), at(3)).unwrap();
        assert_eq!(skip.rollout, Some(RolloutState::Running));
        v.state = RolloutState::Completed;
        assert!(command(&v, &Command::Abort, at(3)).is_err());
    }
}
