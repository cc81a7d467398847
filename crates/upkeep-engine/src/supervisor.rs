//! Starts background tasks, keeps them running and stops them cleanly.
//!
//! Every task gets the shared [`CancellationToken`]; it must finish its current unit of work
//! (a probe batch, a delivery, a transaction) and return when the token is cancelled. Shutdown
//! waits for all of them up to a grace period, so nothing is left half-written.
//!
//! A task that ends before shutdown, or panics, is never silently gone: it is logged, counted
//! in `upkeep_task_failures_total{task}`, and shown as down by the [`Health`] view (which makes
//! `/readyz` fail). A task started with [`Supervisor::spawn_restarting`] is started again after
//! a backoff (1 s doubling up to a minute) and is up again once restarted; one started with
//! [`Supervisor::spawn`] (its parts cannot be rebuilt, e.g. the probe scheduler's queue) stays
//! down, so the process is reported unready and an orchestrator replaces it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use upkeep_domain::notify::retry::RetryPolicy;

/// The delays between restarts of a failing task.
const RESTART_BACKOFF: RetryPolicy = RetryPolicy {
    initial: Duration::from_secs(1),
    max_interval: Duration::from_secs(60),
    max_age: Duration::MAX,
};

/// Which background tasks are down right now, and why. Cheap to clone; clones share the view.
#[derive(Debug, Clone, Default)]
pub struct Health {
    down: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

impl Health {
    /// The tasks that are down, by name, with what happened to them.
    pub fn down(&self) -> Vec<(&'static str, String)> {
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.iter().map(|(n, why)| (*n, why.clone())).collect()
    }

    /// Whether every background task is running.
    pub fn all_up(&self) -> bool {
        self.down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    fn mark_down(&self, name: &'static str, why: String) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.insert(name, why);
    }

    fn mark_up(&self, name: &'static str) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        down.remove(name);
    }
}

/// Owner of the background tasks of one process.
#[derive(Debug, Clone, Default)]
pub struct Supervisor {
    token: CancellationToken,
    tasks: TaskTracker,
    health: Health,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token every task watches; cancelled when shutdown begins.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The view of which tasks are down.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Runs `task` in the background until it returns. `name` appears in the logs. Should it
    /// end before shutdown, or panic, it is reported down until the process stops.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::debug!(task = name, "background task starting");
        let (token, health) = (self.token.clone(), self.health.clone());
        self.tasks.spawn(async move {
            let outcome = tokio::spawn(task).await;
            if let Some(why) = failure(&token, outcome) {
                report(name, &why);
                health.mark_down(name, why);
                return;
            }
            tracing::debug!(task = name, "background task stopped");
        });
    }

    /// Runs the task that `make` builds in the background, and builds and runs it again, after
    /// a backoff, whenever it ends before shutdown or panics.
    pub fn spawn_restarting<M, F>(&self, name: &'static str, mut make: M)
    where
        M: FnMut() -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::debug!(task = name, "background task starting");
        let (token, health) = (self.token.clone(), self.health.clone());
        self.tasks.spawn(async move {
            let mut failures = 0;
            loop {
                let started = Instant::now();
                let outcome = tokio::spawn(make()).await;
                let Some(why) = failure(&token, outcome) else {
                    tracing::debug!(task = name, "background task stopped");
                    return;
                };
                report(name, &why);
                health.mark_down(name, why);
                // A task that ran well for a while starts its backoff afresh.
                if started.elapsed() > RESTART_BACKOFF.max_interval {
                    failures = 0;
                }
                failures += 1;
                let delay = RESTART_BACKOFF.ceiling(failures);
                tracing::warn!(
                    task = name,
                    delay_ms = delay.as_millis() as u64,
                    "background task restarting"
                );
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                health.mark_up(name);
            }
        });
    }

    /// Signals every task to stop and waits up to `grace` for them. Returns whether all
    /// finished in time.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.token.cancel();
        self.tasks.close();
        let finished = tokio::time::timeout(grace, self.tasks.wait()).await.is_ok();
        if !finished {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                still_running = self.tasks.len(),
                "background tasks did not stop within the grace period"
            );
        }
        finished
    }
}

/// What went wrong with a task that ended, or `None` when it stopped because it was asked to.
fn failure(
    token: &CancellationToken,
    outcome: Result<(), tokio::task::JoinError>,
) -> Option<String> {
    match outcome {
        Ok(()) if token.is_cancelled() => None,
        Ok(()) => Some("ended before shutdown".to_owned()),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Some(format!("panicked: {message}"))
        }
        Err(e) => Some(e.to_string()),
    }
}

fn report(name: &'static str, why: &str) {
    metrics::counter!("upkeep_task_failures_total", "task" => name).increment(1);
    tracing::error!(task = name, reason = %why, "background task died");
}
