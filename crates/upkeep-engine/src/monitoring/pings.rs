//! Heartbeat intake: pings from `/ping/{key}` are written in batches (group commit) and each
//! request is acknowledged only once its ping is durable.
//!
//! [`PingWriter`] is a cheap handle: [`PingWriter::record`] queues the ping and waits. One
//! background task ([`PingWriter::start`], run under the supervisor) takes everything queued
//! — up to [`MAX_BATCH`] pings — writes it with [`Store::record_pings`] in one transaction, and
//! only after the commit answers each waiting caller. While one batch commits the next one
//! gathers, so under load a batch holds many pings and costs one `fsync` (this is how heartbeat
//! bursts at the top of the minute are absorbed without relaxing durability); at rest a ping is
//! written at once, with no added delay. On stop the task commits what is already queued before
//! returning; later calls fail with [`PingError::Stopped`].
//!
//! The writer keeps a database connection of its own ([`Store::writer_connection`]), so a batch
//! is as few round trips as possible; after a failed batch (whose callers all get
//! [`PingError::Store`]) it takes a fresh one.
//!
//! Batches go to the ping inbox, a table with no index per key, so that a commit of pings of
//! many keys stays a few appended pages. The same writer moves the inbox into the indexed
//! `pings` table every [`MOVE_EVERY`] (sooner after [`MOVE_AFTER`] pings), sorted by key, in one
//! transaction ([`WriterConnection::move_pings`]), and once more when it stops; readers read
//! both tables.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use upkeep_store::Store;
use upkeep_store::monitoring::{Ping, StoredPing, WriterConnection};

/// Most pings written in one transaction.
pub const MAX_BATCH: usize = 1_000;

/// Pings that may wait for the writer; callers beyond this wait for room (back-pressure).
pub const QUEUE_CAPACITY: usize = 16_384;

/// How often the writer moves the ping inbox into `pings`.
pub const MOVE_EVERY: Duration = Duration::from_secs(1);

/// Pings written since the last move after which the writer moves at once: bounds the inbox,
/// which readers of a key scan.
pub const MOVE_AFTER: usize = 20_000;

/// Why a ping was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PingError {
    /// The writer is not running (not started, or shutting down).
    #[error("the ping writer is not running")]
    Stopped,
    /// The batch holding the ping could not be committed.
    #[error("recording pings failed: {0}")]
    Store(Arc<str>),
}

struct Request {
    ping: Ping,
    reply: oneshot::Sender<Result<StoredPing, PingError>>,
}

/// Handle to the ping writer. Cheap to clone; every clone feeds the same writer.
#[derive(Debug, Clone)]
pub struct PingWriter {
    tx: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").field("ping", &self.ping).finish()
    }
}

/// The keys of pings committed since the watcher last looked, and a wake-up: how the ping
/// writer tells the push monitors' judge (on the same replica) to judge those monitors at once.
#[derive(Debug, Clone, Default)]
pub struct Arrivals(Arc<(std::sync::Mutex<HashSet<String>>, Notify)>);

impl Arrivals {
    /// Reports keys whose pings were committed.
    pub fn report<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let (keys_seen, wake) = &*self.0;
        keys_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(keys.into_iter().map(str::to_owned));
        // Keeps a permit when nobody waits: no report is missed.
        wake.notify_one();
    }

    /// Waits for reports and takes the keys reported.
    pub async fn next(&self) -> HashSet<String> {
        let (keys_seen, wake) = &*self.0;
        loop {
            wake.notified().await;
            let keys = std::mem::take(&mut *keys_seen.lock().unwrap_or_else(|e| e.into_inner()));
            if !keys.is_empty() {
                return keys;
            }
        }
    }
}

impl PingWriter {
    /// A writer over `store` and the task that runs it, for the supervisor to spawn. The task
    /// returns once `stop` is cancelled and everything queued by then is committed (or when
    /// every handle is dropped).
    pub fn start(
        store: Store,
        stop: CancellationToken,
    ) -> (PingWriter, impl Future<Output = ()> + Send + 'static) {
        Self::start_reporting(store, stop, Arrivals::default())
    }

    /// [`start`](Self::start), reporting the keys of every committed batch to `arrivals`.
    pub fn start_reporting(
        store: Store,
        stop: CancellationToken,
        arrivals: Arrivals,
    ) -> (PingWriter, impl Future<Output = ()> + Send + 'static) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        (PingWriter { tx }, run(store, rx, stop, arrivals))
    }

    /// A handle to no writer: every [`record`](Self::record) fails with
    /// [`PingError::Stopped`]. For HTTP states built without the background side.
    pub fn stopped() -> PingWriter {
        let (tx, _rx) = mpsc::channel(1);
        PingWriter { tx }
    }

    /// Records `ping`; returns once it is committed.
    pub async fn record(&self, ping: Ping) -> Result<StoredPing, PingError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { ping, reply })
            .await
            .map_err(|_| PingError::Stopped)?;
        // A dropped reply means the writer stopped before answering; its batch may or may not
        // have committed, so the caller is told it failed (a retry is harmless).
        answer.await.map_err(|_| PingError::Stopped)?
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Request>,
    stop: CancellationToken,
    arrivals: Arrivals,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    let mut conn: Option<WriterConnection> = None;
    // Pings left in the inbox by an earlier run are moved at once.
    let mut next_move = tokio::time::Instant::now();
    let mut written = 0usize;
    loop {
        let received = tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, MAX_BATCH) => Some(n),
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(next_move) => None,
        };
        if received == Some(0) {
            // Every handle dropped and the queue is empty.
            move_pings(&store, &mut conn).await;
            return;
        }
        if received.is_some() {
            written += commit(&store, &mut conn, &mut batch, &arrivals).await;
        }
        if written >= MOVE_AFTER || tokio::time::Instant::now() >= next_move {
            move_pings(&store, &mut conn).await;
            written = 0;
            next_move = tokio::time::Instant::now() + MOVE_EVERY;
        }
    }
    // Stopping: take no more, commit what is queued, and move the inbox.
    rx.close();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&store, &mut conn, &mut batch, &arrivals).await;
    }
    move_pings(&store, &mut conn).await;
}

/// The writer's own connection, taken from the pool when missing.
async fn connection<'c>(
    store: &Store,
    conn: &'c mut Option<WriterConnection>,
) -> Result<&'c mut WriterConnection, upkeep_store::StoreError> {
    let held = match conn.take() {
        Some(c) => c,
        None => store.writer_connection().await?,
    };
    Ok(conn.insert(held))
}

/// Moves the ping inbox into `pings` on the writer's connection (taken from the pool when
/// missing, given back after an error). A failed move leaves the pings in the inbox, where
/// readers find them, for the next one.
async fn move_pings(store: &Store, conn: &mut Option<WriterConnection>) {
    let started = Instant::now();
    let result = match connection(store, conn).await {
        Ok(c) => c.move_pings().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(0) => {}
        Ok(moved) => {
            metrics::histogram!("upkeep_ping_move_size").record(moved as f64);
            metrics::histogram!("upkeep_ping_move_seconds").record(started.elapsed().as_secs_f64());
        }
        Err(e) => {
            *conn = None;
            tracing::warn!(error = %e, "moving the ping inbox failed; retried in a second");
        }
    }
}

/// Writes `batch` in one transaction on the writer's own connection `conn` (taken from the
/// pool when missing, given back after an error) and answers every caller; leaves `batch`
/// empty. Returns how many pings were written.
async fn commit(
    store: &Store,
    conn: &mut Option<WriterConnection>,
    batch: &mut Vec<Request>,
    arrivals: &Arrivals,
) -> usize {
    let started = Instant::now();
    let (pings, replies): (Vec<Ping>, Vec<_>) = batch.drain(..).map(|r| (r.ping, r.reply)).unzip();
    let result = match connection(store, conn).await {
        Ok(c) => c.record_pings(&pings).await,
        Err(e) => Err(e),
    };
    if result.is_err() {
        *conn = None;
    }
    metrics::histogram!("upkeep_ping_batch_size").record(pings.len() as f64);
    metrics::histogram!("upkeep_ping_commit_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(stored) if stored.len() == replies.len() => {
            arrivals.report(pings.iter().map(|p| p.key.as_str()));
            for (reply, stored) in replies.into_iter().zip(stored) {
                let _ = reply.send(Ok(stored));
            }
            pings.len()
        }
        Ok(stored) => {
            let e = PingError::Store(
                format!("{} pings stored for {} sent", stored.len(), replies.len()).into(),
            );
            tracing::error!(error = %e, "ping batch");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            0
        }
        Err(e) => {
            tracing::error!(error = %e, pings = replies.len(), "a batch of pings could not be recorded");
            let e = PingError::Store(e.to_string().into());
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            0
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use jiff::Timestamp;
    use upkeep_store::monitoring::PingKind;
    use upkeep_store::testing::{TestDatabase, ping_inbox_len};

    use super::*;

    fn ping(key: &str, kind: PingKind) -> Ping {
        Ping {
            key: key.into(),
            at: Timestamp::now(),
            kind,
            exit_code: None,
            rid: None,
            body: String::new(),
        }
    }

    #[tokio::test]
    async fn concurrent_pings_are_batched_and_all_acknowledged_after_commit() {
        let db = TestDatabase::sqlite();
        let store = db.store().await;
        let stop = CancellationToken::new();
        let (writer, task) = PingWriter::start(store.clone(), stop.clone());
        let task = tokio::spawn(task);
        let mut calls = Vec::new();
        for i in 0..500 {
            let writer = writer.clone();
            calls.push(tokio::spawn(async move {
                writer
                    .record(ping(&format!("k{}", i % 7), PingKind::Success))
                    .await
            }));
        }
        let mut ids = Vec::new();
        for call in calls {
            ids.push(call.await.unwrap().unwrap().id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 500);
        assert_eq!(store.count_pings(None).await.unwrap(), 500);

        stop.cancel();
        task.await.unwrap();
        assert!(matches!(
            writer.record(ping("k0", PingKind::Start)).await,
            Err(PingError::Stopped)
        ));
        assert!(matches!(
            PingWriter::stopped()
                .record(ping("k0", PingKind::Log))
                .await,
            Err(PingError::Stopped)
        ));
    }

    #[tokio::test]
    async fn stopping_commits_what_is_queued() {
        let db = TestDatabase::sqlite();
        let store = db.store().await;
        let stop = CancellationToken::new();
        let (writer, task) = PingWriter::start(store.clone(), stop.clone());
        // Queue pings before the task runs at all, then stop it: they are still committed.
        let mut calls = Vec::new();
        for _ in 0..50 {
            let writer = writer.clone();
            calls.push(tokio::spawn(async move {
                writer.record(ping("q", PingKind::Success)).await
            }));
        }
        tokio::task::yield_now().await;
        while writer.tx.capacity() > QUEUE_CAPACITY - 50 {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        task.await;
        for call in calls {
            assert!(call.await.unwrap().is_ok());
        }
        assert_eq!(store.count_pings(Some("q")).await.unwrap(), 50);
        assert_eq!(ping_inbox_len(&store).await.unwrap(), 0, "moved on stop");
    }

    #[tokio::test]
    async fn the_writer_moves_the_inbox_into_pings_while_running() {
        let db = TestDatabase::sqlite();
        let store = db.store().await;
        let stop = CancellationToken::new();
        let (writer, task) = PingWriter::start(store.clone(), stop.clone());
        let task = tokio::spawn(task);
        // Recorded beside the writer (as the self-backup records its pings): moved too.
        store
            .record_pings(&[ping("left", PingKind::Success)])
            .await
            .unwrap();
        for _ in 0..20 {
            writer.record(ping("w", PingKind::Success)).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while ping_inbox_len(&store).await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "the inbox was not moved");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(store.count_pings(Some("w")).await.unwrap(), 20);
        assert_eq!(store.count_pings(Some("left")).await.unwrap(), 1);
        assert!(store.last_success("w").await.unwrap().is_some());
        stop.cancel();
        task.await.unwrap();
    }
}
