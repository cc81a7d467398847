//! Rollouts (`docs/rollouts.md`): a maintenance that drives the work itself, one tenant at a
//! time, behind a health gate. The rules are the domain's (`upkeep_domain::rollout`); here are
//! the parts that act: [`run`] runs one attempt of a step; [`driver`] drives every rollout
//! (lease holder) through the state machine.

pub mod driver;
pub mod run;

pub use run::{Ran, run_step};
