//! Starts background tasks and stops them cleanly.
//!
//! Every task gets the shared [`CancellationToken`]; it must finish its current unit of work
//! (a probe batch, a delivery, a transaction) and return when the token is cancelled. Shutdown
//! waits for all of them up to a grace period, so nothing is left half-written.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Owner of the background tasks of one process.
#[derive(Debug, Clone, Default)]
pub struct Supervisor {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token every task watches; cancelled when shutdown begins.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `task` in the background until it returns. `name` appears in the logs.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::debug!(task = name, "background task starting");
        self.tasks.spawn(async move {
            task.await;
            tracing::debug!(task = name, "background task stopped");
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
