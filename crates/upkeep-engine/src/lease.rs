//! Keeps a named lease for this replica and tells the work that depends on it whether it may
//! run. With SQLite there is one process and the lease is always held after the first renewal;
//! with PostgreSQL exactly one replica holds each lease at a time and another takes over within
//! one lease period when the holder dies.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_store::Store;

use crate::clock::SharedClock;

/// Settings of a [`LeaseKeeper`].
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// How long a lease lasts without renewal; a dead holder's work resumes elsewhere after it.
    pub ttl: Duration,
    /// How often the holder renews (well under `ttl`).
    pub renew_every: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// Renews one lease in the background and publishes whether this replica holds it.
#[derive(Debug)]
pub struct LeaseKeeper {
    held: watch::Receiver<bool>,
}

impl LeaseKeeper {
    /// Starts keeping `name` for `holder`; the returned future must be spawned (it ends, and
    /// releases the lease, when `stop` is cancelled).
    pub fn start(
        store: Store,
        clock: SharedClock,
        name: String,
        holder: String,
        settings: LeaseSettings,
        stop: CancellationToken,
    ) -> (
        LeaseKeeper,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (tx, rx) = watch::channel(false);
        let task = async move {
            loop {
                let held = match store
                    .try_acquire_lease(&name, &holder, settings.ttl, clock.now())
                    .await
                {
                    Ok(held) => held,
                    Err(e) => {
                        tracing::warn!(lease = %name, error = %e, "cannot renew lease; assuming it is lost");
                        false
                    }
                };
                tx.send_if_modified(|old| std::mem::replace(old, held) != held);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(settings.renew_every) => {}
                }
            }
            tx.send_replace(false);
            if let Err(e) = store.release_lease(&name, &holder).await {
                tracing::warn!(lease = %name, error = %e, "cannot release lease; it will expire");
            }
        };
        (LeaseKeeper { held: rx }, task)
    }

    /// Whether this replica holds the lease right now.
    pub fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// A receiver that changes when holdership does.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.held.clone()
    }
}
