//! The one probe loop, shared by the server's scheduler and `upkeep agent`.
//!
//! - **Rounds**: each monitor is probed at the start of each of its rounds
//!   (`upkeep_domain::rounds`: `k × interval + phase`, a stable hash of its id), so every
//!   process probing a monitor probes it in the same round, and 10,000 monitors with the same
//!   interval spread over it. A result's `at` is never before its round's start.
//! - **Bounded concurrency**: at most `max_concurrent` probes run at once; each probe is bounded
//!   by its own timeout, so a hanging target holds one slot for at most its timeout.
//! - **No bursts**: a loop that fell more than an interval behind skips the missed rounds.
//! - **Reload**: when the set of monitors changes, monitors that keep their interval keep their
//!   next round; new or changed ones start at their next round.
//! - **Lag** (actual start − round start) is exported as `upkeep_probe_lag_seconds`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::Monitor;
use upkeep_domain::rounds;

use super::probe::{ProbeOutcome, Prober};
use crate::clock::SharedClock;

/// The monitors one loop probes, by id.
pub type Assigned = HashMap<String, Arc<Monitor>>;

/// A probe result on its way to whoever stores or sends it.
#[derive(Debug)]
pub struct Probed {
    pub monitor_id: String,
    /// When the probe started (never before its round's start).
    pub at: Timestamp,
    /// The start of the round it was made for.
    pub round: Timestamp,
    pub outcome: ProbeOutcome,
}

/// Entry of the timing heap: when, the round's start, and which monitor.
type Due = Reverse<(Instant, Timestamp, String)>;

/// Everything the loop needs besides what it probes.
pub struct Looper {
    pub clock: SharedClock,
    pub prober: Prober,
    pub max_concurrent: usize,
    pub results: mpsc::Sender<Probed>,
    pub stop: CancellationToken,
}

/// The tokio instant at which the wall clock reads `at`.
fn instant_of(clock: &SharedClock, at: Timestamp) -> Instant {
    let wait = at.duration_since(clock.now());
    Instant::now() + Duration::try_from(wait).unwrap_or_default()
}

/// Rebuilds the timing heap. `next` is the source of truth (each monitor's next round and
/// when it is due); heap entries that do not match it are stale and skipped.
fn plan(
    clock: &SharedClock,
    assigned: Assigned,
    heap: &mut BinaryHeap<Due>,
    monitors: &mut Assigned,
    next: &mut HashMap<String, (Instant, Timestamp)>,
) {
    let now = clock.now();
    let previous = std::mem::replace(monitors, assigned);
    let mut kept = HashMap::new();
    heap.clear();
    for (id, m) in monitors.iter() {
        let unchanged = previous.get(id).is_some_and(|p| p.interval == m.interval);
        let due = match next.get(id) {
            Some(due) if unchanged => *due,
            _ => {
                let round = rounds::next_round_start(id, m.interval, now);
                (instant_of(clock, round), round)
            }
        };
        kept.insert(id.clone(), due);
        heap.push(Reverse((due.0, due.1, id.clone())));
    }
    *next = kept;
    tracing::info!(monitors = monitors.len(), "probe schedule planned");
}

impl Looper {
    /// Probes the monitors `select` picks from `source` until `stop`, each at the start of
    /// each of its rounds when `may_probe` allows that round then (asked at each round, and
    /// again once a probe slot is free: the shard, a pause, a maintenance skip). Waits for the
    /// probes in flight before it returns.
    pub async fn run<S, F, G>(self, mut source: watch::Receiver<S>, select: F, may_probe: G)
    where
        S: Send + Sync,
        F: Fn(&S) -> Assigned,
        G: Fn(&str, &Monitor, Timestamp) -> bool,
    {
        let Looper {
            clock,
            prober,
            max_concurrent,
            results,
            stop,
        } = self;
        let max_concurrent = max_concurrent.max(1);
        let slots = Arc::new(Semaphore::new(max_concurrent));
        let mut monitors = Assigned::new();
        let mut next = HashMap::new();
        let mut heap: BinaryHeap<Due> = BinaryHeap::new();
        let first = select(&source.borrow_and_update());
        plan(&clock, first, &mut heap, &mut monitors, &mut next);
        loop {
            let wake = heap.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                () = stop.cancelled() => break,
                changed = source.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let assigned = select(&source.borrow_and_update());
                    plan(&clock, assigned, &mut heap, &mut monitors, &mut next);
                }
                () = sleep_until(wake) => {
                    let now = Instant::now();
                    while let Some(Reverse((due, _, _))) = heap.peek() {
                        if *due > now {
                            break;
                        }
                        let Some(Reverse((due, round, id))) = heap.pop() else { break };
                        if next.get(&id) != Some(&(due, round)) {
                            continue; // stale entry
                        }
                        let Some(monitor) = monitors.get(&id).cloned() else { continue };
                        // The next round; if the loop fell more than an interval behind, the
                        // round after now instead of a burst of missed ones.
                        let interval = jiff::SignedDuration::try_from(monitor.interval)
                            .unwrap_or(jiff::SignedDuration::MAX);
                        let mut following = (due + monitor.interval, round.saturating_add(interval).unwrap_or(round));
                        if following.0 <= now {
                            let r = rounds::next_round_start(&id, monitor.interval, clock.now());
                            following = (instant_of(&clock, r), r);
                        }
                        next.insert(id.clone(), following);
                        heap.push(Reverse((following.0, following.1, id.clone())));
                        if !may_probe(&id, &monitor, round) {
                            continue;
                        }
                        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { break };
                        if !may_probe(&id, &monitor, round) {
                            continue; // the shard was lost while waiting for a slot
                        }
                        // Looked up at each use: a handle taken before the recorder is
                        // installed would record nowhere.
                        metrics::histogram!("upkeep_probe_lag_seconds")
                            .record(Instant::now().saturating_duration_since(due).as_secs_f64());
                        let prober = prober.clone();
                        let results = results.clone();
                        let at = clock.now().max(round);
                        tokio::spawn(async move {
                            let outcome = prober.probe(&monitor).await;
                            drop(slot);
                            let _ = results.send(Probed { monitor_id: id, at, round, outcome }).await;
                        });
                    }
                }
            }
        }
        // Let probes in flight finish (each is bounded by its timeout) so their results are kept.
        let _ = slots
            .acquire_many(u32::try_from(max_concurrent).unwrap_or(u32::MAX))
            .await;
    }
}

/// Sleeps until `at`, or forever.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
