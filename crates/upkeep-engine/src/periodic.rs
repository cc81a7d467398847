//! The one loop behind upkeep's periodic background work: run a pass every period, on every
//! replica or only while this replica holds a lease, log a failed pass with the task's name and
//! try again at the next tick, and stop when the shutdown token is cancelled.
//!
//! The runner owns the timing, the lease and the cancellation, so every task handles them
//! the same way; the task owns its pass and whatever state it carries between passes:
//!
//! ```ignore
//! let mut ticks = Periodic::while_held("notify-timers", Duration::from_secs(5), lease).start(stop);
//! while let Some(_turn) = ticks.next().await {
//!     let cfg = Arc::clone(&config.borrow());
//!     ticks.done(timers_once(&store, &cfg.config, clock.now()).await);
//! }
//! ```

use std::fmt::Display;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// What the runner tells a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// Whether this replica holds the lease (always `true` without one).
    pub held: bool,
    /// Whether this is the first pass since the task started or since it (re)gained the lease:
    /// state carried between passes should start afresh (another replica may have worked).
    pub resumed: bool,
}

/// How a [`Periodic`] task relates to its lease.
#[derive(Debug, Clone)]
enum Gate {
    /// Every replica runs every pass.
    Always,
    /// Passes run only while the lease is held; the first comes at once on taking it over.
    Held(watch::Receiver<bool>),
    /// Every replica runs every pass and is told whether it holds the lease (to export what
    /// it sees everywhere but record changes on one replica only).
    Observe(watch::Receiver<bool>),
}

/// A periodic background task; see the module documentation.
#[derive(Debug, Clone)]
pub struct Periodic {
    name: &'static str,
    every: Duration,
    gate: Gate,
}

impl Periodic {
    /// Work every replica does, every `every`.
    pub fn always(name: &'static str, every: Duration) -> Self {
        Self {
            name,
            every,
            gate: Gate::Always,
        }
    }

    /// Work done once across replicas: every `every` while `lease` says this replica holds it.
    pub fn while_held(name: &'static str, every: Duration, lease: watch::Receiver<bool>) -> Self {
        Self {
            name,
            every,
            gate: Gate::Held(lease),
        }
    }

    /// Work every replica does, every `every`, knowing whether it holds `lease`
    /// ([`Turn::held`]).
    pub fn observing(name: &'static str, every: Duration, lease: watch::Receiver<bool>) -> Self {
        Self {
            name,
            every,
            gate: Gate::Observe(lease),
        }
    }

    /// The task's name, as logged.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Starts ticking; the task loops over [`Ticks::next`] until it returns `None` (`stop` was
    /// cancelled) and hands each pass's result to [`Ticks::done`].
    pub fn start(self, stop: CancellationToken) -> Ticks {
        let mut interval = tokio::time::interval(self.every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (lease, gated) = match self.gate {
            Gate::Always => (None, false),
            Gate::Held(rx) => (Some(rx), true),
            Gate::Observe(rx) => (Some(rx), false),
        };
        Ticks {
            name: self.name,
            interval,
            lease,
            gated,
            stop,
            was_held: false,
            first: true,
        }
    }
}

/// The turns of a started [`Periodic`] task.
#[derive(Debug)]
pub struct Ticks {
    name: &'static str,
    interval: tokio::time::Interval,
    lease: Option<watch::Receiver<bool>>,
    gated: bool,
    stop: CancellationToken,
    was_held: bool,
    first: bool,
}

impl Ticks {
    /// Waits for the next pass to be due: the next tick (at once for the first), or the moment
    /// this replica takes the lease over. `None` once `stop` is cancelled.
    pub async fn next(&mut self) -> Option<Turn> {
        loop {
            let gated = self.gated;
            let lease_changed = async {
                match self.lease.as_mut() {
                    Some(rx) if gated => rx.changed().await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.stop.cancelled() => return None,
                _ = self.interval.tick() => {}
                changed = lease_changed => {
                    if changed.is_err() {
                        // The lease keeper is gone: the lease is not held again, so nothing
                        // more is done until stopped.
                        self.stop.cancelled().await;
                        return None;
                    }
                    // Taking the lease over runs a pass at once; losing it waits for a tick.
                }
            }
            let held = self.lease.as_mut().is_none_or(|rx| *rx.borrow_and_update());
            if self.gated && !held {
                self.was_held = false;
                continue;
            }
            let turn = Turn {
                held,
                resumed: self.first || (self.gated && !self.was_held),
            };
            self.first = false;
            self.was_held = held;
            return Some(turn);
        }
    }

    /// Takes a pass's result: a failure is logged once, with the task's name; the work is
    /// tried again at the next tick.
    pub fn done<T, E: Display>(&self, result: Result<T, E>) {
        if let Err(e) = result {
            tracing::warn!(task = self.name, error = %e, "{}: pass failed; retrying at the next tick", self.name);
        }
    }
}
