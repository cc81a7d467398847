//! The probe scheduler: the server's probes of every monitor probed from `server`, and the
//! one writer of their results.
//!
//! - **Probing**: the one probe loop (`schedule::Looper`) probes each monitor at the start of
//!   each of its rounds, with bounded concurrency.
//! - **Batching**: results flow to one writer that applies the debounce rules, keeps the live
//!   view, and writes results, rollups, states and transition events in one transaction per
//!   batch (every `flush_every` or `flush_max` results). A batch that cannot be written is
//!   kept and retried, so a database hiccup loses no transition.
//! - **Reload**: on a configuration change the schedule is rebuilt; monitors that remain keep
//!   their state and phase.
//! - **Push monitors** are not probed: every `push_every` they are judged on their pings
//!   (domain `heartbeat::judge`) and the verdict goes through the same state machine.
//! - **Replicas**: each replica probes and writes only the monitors it owns (`shards::Owned`,
//!   the probe shards it holds); when it gains shards it continues from their stored states,
//!   when it loses some it writes what it has first. Push monitors are judged while `active`
//!   (this process holds the `leader` lease). Every replica refreshes the states of the
//!   monitors it does not write from the database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Config, Monitor, MonitorKind, PushCheck, SERVER_LOCATION};
use upkeep_domain::event::EventSource;
use upkeep_domain::heartbeat::{HeartbeatFacts, judge, next_change};

use super::pings::Arrivals;
use upkeep_domain::monitor_state::{MonitorState, MonitorStatus, Thresholds, Transition};
use upkeep_store::Store;
use upkeep_store::audit::AuditEntry;
use upkeep_store::monitoring::{CheckResult, MonitorEvent, MonitorStateRow};
use upkeep_store::{result_runs, rollup_days};

use super::probe::Prober;
use super::rounds::{self as location_rounds, Added, Judged, LocationView};
use super::schedule::{Assigned, Looper, Probed, sleep_until};
use super::shards::Owned;
use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::periodic::Periodic;
use upkeep_domain::quorum::Verdict;

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Most probes in flight at once.
    pub max_concurrent: usize,
    /// Longest time a result waits before it is written.
    pub flush_every: Duration,
    /// Most results written in one transaction.
    pub flush_max: usize,
    /// How often every push monitor is judged on its pings (a safety net: each is also judged
    /// as soon as its pings are committed on this replica, at most `push_settle` after the
    /// previous such judgement, and just after its deadline).
    pub push_every: Duration,
    /// Shortest time between two judgements of pinged push monitors (longer after a judgement
    /// that took more than a fifth of it): pings committed meanwhile are judged together in
    /// the next one, so a stream of pings over many keys costs a few reads and writes a
    /// second, not one round per committed batch.
    pub push_settle: Duration,
    /// Where the ping writer reports committed pings.
    pub arrivals: Arrivals,
    /// Components whose monitors are not probed now (maintenance with `checks: skip`).
    pub skip: crate::maintenance::SkipList,
    /// Which monitors this replica probes and writes (every one by default).
    pub owned: watch::Receiver<Arc<Owned>>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 1024,
            flush_every: Duration::from_secs(1),
            flush_max: 2_000,
            push_every: Duration::from_secs(10),
            push_settle: Duration::from_millis(200),
            arrivals: Arrivals::default(),
            skip: crate::maintenance::SkipList::default(),
            owned: super::shards::fixed(Owned::everything()),
        }
    }
}

/// The last result of a monitor, as shown by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastResult {
    pub at: Timestamp,
    pub ok: bool,
    pub latency_ms: u32,
    pub status_code: Option<u16>,
    pub failure: Option<String>,
}

/// What the engine knows of one monitor right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorView {
    pub state: MonitorState,
    pub last: Option<LastResult>,
    /// For a monitor probed from several locations: what each location last said (its last
    /// result above is its last judged round).
    pub locations: BTreeMap<String, LocationView>,
}

impl MonitorView {
    fn new(state: MonitorState) -> Self {
        Self {
            state,
            last: None,
            locations: BTreeMap::new(),
        }
    }
}

/// A shared, read-mostly map of every monitor's live state.
pub type LiveStates = Arc<RwLock<HashMap<String, MonitorView>>>;

/// Handle to a running scheduler: the live view and pause/resume.
#[derive(Debug, Clone)]
pub struct MonitorHandle {
    live: LiveStates,
    commands: mpsc::Sender<Command>,
}

#[derive(Debug)]
struct Command {
    monitor_id: String,
    pause: bool,
    /// Who asked, for the audit row written with the change.
    actor: String,
    /// Answered once the change is applied: the transition, if the status changed.
    reply: oneshot::Sender<Option<Transition>>,
}

/// The scheduler has stopped.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the monitoring engine is not running")]
pub struct EngineStopped;

impl MonitorHandle {
    /// The live view of one monitor.
    pub fn view(&self, id: &str) -> Option<MonitorView> {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The live view of every monitor.
    pub fn views(&self) -> HashMap<String, MonitorView> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The status of each of `ids` (`None` for a monitor the engine does not know yet), read
    /// under one lock without copying the views: what a page of a large fleet needs of every
    /// monitor before it looks at the few it shows.
    pub fn statuses<'a, I>(&self, ids: I) -> Vec<Option<MonitorStatus>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        ids.into_iter()
            .map(|id| live.get(id).map(|v| v.state.status))
            .collect()
    }

    /// Pauses (`pause`) or resumes a monitor and waits until the change is applied. Returns
    /// the transition, or `None` when the monitor already was in that state. A paused monitor
    /// is not probed and its state does not change until it is resumed. A change is audited
    /// (`monitor.pause` / `monitor.resume` by `actor`) in the transaction that stores it.
    pub async fn set_paused(
        &self,
        id: &str,
        pause: bool,
        actor: &str,
    ) -> Result<Option<Transition>, EngineStopped> {
        let (reply, answer) = oneshot::channel();
        let cmd = Command {
            monitor_id: id.to_owned(),
            pause,
            actor: actor.to_owned(),
            reply,
        };
        self.commands.send(cmd).await.map_err(|_| EngineStopped)?;
        answer.await.map_err(|_| EngineStopped)
    }
}

/// Whether the scheduler probes this monitor (push monitors are judged on their pings).
fn is_probed(m: &Monitor) -> bool {
    !matches!(m.kind, MonitorKind::Push(_))
}

/// Starts the scheduler. Returns its handle and the future to run under the supervisor; the
/// future ends (after writing every pending result) when `stop` is cancelled.
pub async fn start(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    prober: Prober,
    settings: SchedulerSettings,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) -> Result<(MonitorHandle, impl Future<Output = ()> + Send + 'static), upkeep_store::StoreError> {
    let now = clock.now();
    let mut initial = stored_views(&store).await?;
    for id in config.borrow().config.monitors.keys() {
        initial
            .entry(id.clone())
            .or_insert_with(|| MonitorView::new(MonitorState::new(now)));
    }
    let live: LiveStates = Arc::new(RwLock::new(initial));
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let handle = MonitorHandle {
        live: live.clone(),
        commands: cmd_tx,
    };
    let (result_tx, result_rx) = mpsc::channel::<Probed>(settings.flush_max.max(1) * 2);
    let schedule_live = live.clone();
    let owned = settings.owned.clone();
    let leader = active.clone();
    let writer = Writer {
        store,
        live,
        clock: clock.clone(),
        config: config.clone(),
        settings: settings.clone(),
        active,
        first_seen: HashMap::new(),
        book: location_rounds::Book::default(),
    };
    let task = async move {
        let writer_task = tokio::spawn(writer.run(result_rx, cmd_rx));
        let skip = settings.skip.clone();
        let looper = Looper {
            clock,
            prober,
            max_concurrent: settings.max_concurrent,
            results: result_tx,
            stop,
        };
        let select = |loaded: &Arc<LoadedConfig>| -> Assigned {
            loaded
                .config
                .monitors
                .iter()
                .filter(|(_, m)| is_probed(m) && m.probed_from(SERVER_LOCATION))
                .map(|(id, m)| (id.clone(), Arc::new(m.clone())))
                .collect()
        };
        let may_probe = |id: &str, monitor: &Monitor, round: Timestamp| {
            let paused = schedule_live
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .is_some_and(|v| v.state.status == MonitorStatus::Paused);
            // Monitors probed from several locations are judged by the leader, which probes
            // them from the server too; the others by the holder of their probe shard.
            let mine = if monitor.server_only() {
                owned.borrow().probes(id, round)
            } else {
                *leader.borrow()
            };
            !paused && mine && !skip.contains(&monitor.component)
        };
        looper.run(config, select, may_probe).await;
        // The schedule dropped its sender; the writer drains and returns.
        let _ = writer_task.await;
    };
    Ok((handle, task))
}

/// The stored states as live views (last results are not stored with them).
async fn stored_views(
    store: &Store,
) -> Result<HashMap<String, MonitorView>, upkeep_store::StoreError> {
    Ok(store
        .load_monitor_states()
        .await?
        .into_iter()
        .map(|row| {
            let state = MonitorState {
                status: row.status,
                consecutive_failures: row.consecutive_failures,
                consecutive_successes: row.consecutive_successes,
                changed_at: row.changed_at,
            };
            (row.monitor_id, MonitorView::new(state))
        })
        .collect())
}

/// The shards an ownership view holds now (all of them for a view that owns everything).
fn shard_set(owned: &Owned) -> HashSet<u32> {
    if owned.is_everything() {
        return (0..upkeep_domain::shards::SHARDS).collect();
    }
    owned.shards().map(|(s, _)| s).collect()
}

fn cfg_now(config: &watch::Receiver<Arc<LoadedConfig>>) -> Arc<LoadedConfig> {
    Arc::clone(&config.borrow())
}

/// Whether monitor `id` is probed by the holder of its probe shard (a monitor probed from the
/// server alone); push monitors and those probed from several locations are the leader's.
fn sharded(cfg: &LoadedConfig, id: &str) -> bool {
    cfg.config
        .monitors
        .get(id)
        .is_some_and(|m| is_probed(m) && m.server_only())
}

/// Whether this replica probes and writes monitor `id` by its shards (its live state is the
/// truth here).
fn owns_probed(cfg: &LoadedConfig, owned: &Owned, id: &str) -> bool {
    sharded(cfg, id) && owned.owns(id)
}

/// Which push monitors to judge: all, those of some ping keys, or some monitors.
#[derive(Clone, Copy)]
enum Only<'a> {
    All,
    Keys(&'a HashSet<String>),
    Ids(&'a HashSet<String>),
}

/// The next instant each push monitor's judgement may change without a ping, earliest first:
/// one timer for all of them, so 10,000 monitors cost no busy loop.
#[derive(Default)]
struct Deadlines {
    by_id: HashMap<String, Timestamp>,
    order: BTreeSet<(Timestamp, String)>,
}

impl Deadlines {
    fn set(&mut self, id: &str, at: Option<Timestamp>) {
        if let Some(old) = self.by_id.remove(id) {
            self.order.remove(&(old, id.to_owned()));
        }
        if let Some(at) = at {
            self.by_id.insert(id.to_owned(), at);
            self.order.insert((at, id.to_owned()));
        }
    }

    fn first(&self) -> Option<Timestamp> {
        self.order.first().map(|(at, _)| *at)
    }

    /// Removes and returns the monitors whose deadline has passed at `now`.
    fn take_due(&mut self, now: Timestamp) -> HashSet<String> {
        let mut due = HashSet::new();
        while let Some((at, _)) = self.order.first()
            && *at < now
        {
            if let Some((_, id)) = self.order.pop_first() {
                self.by_id.remove(&id);
                due.insert(id);
            }
        }
        due
    }
}

/// Applies results to states and writes them in batches.
struct Writer {
    store: Store,
    live: LiveStates,
    clock: SharedClock,
    config: watch::Receiver<Arc<LoadedConfig>>,
    settings: SchedulerSettings,
    /// Whether this process holds the monitoring lease (probes, judges pushes, writes).
    active: watch::Receiver<bool>,
    /// Push monitors' first-seen instants as stored (they never change once stored).
    first_seen: HashMap<String, Timestamp>,
    /// The open rounds of monitors probed from several locations.
    book: location_rounds::Book,
}

#[derive(Default)]
struct Batch {
    results: Vec<CheckResult>,
    states: HashMap<String, MonitorStateRow>,
    events: Vec<MonitorEvent>,
    audits: Vec<(Timestamp, AuditEntry)>,
    /// Agents' results judged in this batch, taken off their queue when it is written.
    taken: Vec<i64>,
}

impl Batch {
    /// Adds everything `other` holds to this batch.
    fn absorb(&mut self, other: Batch) {
        self.results.extend(other.results);
        self.states.extend(other.states);
        self.events.extend(other.events);
        self.audits.extend(other.audits);
        self.taken.extend(other.taken);
    }
}

impl Writer {
    async fn run(
        mut self,
        mut results: mpsc::Receiver<Probed>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        let mut batch = Batch::default();
        let mut retry_after: Option<Instant> = None;
        let mut lease_open = true;
        let mut owned = self.settings.owned.clone();
        let mut owned_open = true;
        let mut shards_held = shard_set(&owned.borrow_and_update());
        let mut tick = tokio::time::interval(self.settings.flush_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut push_tick = tokio::time::interval(self.settings.push_every);
        push_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let arrivals = self.settings.arrivals.clone();
        let mut deadlines = Deadlines::default();
        // When pinged monitors may be judged again.
        let mut settled = Instant::now();
        loop {
            let next_deadline = deadlines.first().map(|at| {
                // Just past the instant: a job is late once its grace time has passed.
                let wait = at.duration_since(self.clock.now()) + SignedDuration::from_millis(1);
                Instant::now() + Duration::try_from(wait).unwrap_or_default()
            });
            tokio::select! {
                keys = arrivals.next(), if Instant::now() >= settled => {
                    let began = Instant::now();
                    if *self.active.borrow() {
                        let only = Only::Keys(&keys);
                        self.judge_pushes(&mut batch, only, &mut deadlines).await;
                        self.flush(&mut batch, &mut retry_after).await;
                    }
                    // At least `push_settle`, and four times as long as this judgement took:
                    // judging many keys takes at most a fifth of the time (and of the write
                    // lock the ping writer needs).
                    let took = began.elapsed();
                    settled = Instant::now() + self.settings.push_settle.max(took * 4);
                }
                // Keys reported meanwhile wait in `arrivals` (its wake-up is kept).
                () = tokio::time::sleep_until(settled), if Instant::now() < settled => {}
                () = sleep_until(next_deadline) => {
                    let due = deadlines.take_due(self.clock.now());
                    if *self.active.borrow() {
                        self.judge_pushes(&mut batch, Only::Ids(&due), &mut deadlines).await;
                        self.flush(&mut batch, &mut retry_after).await;
                    }
                }
                changed = self.active.changed(), if lease_open => {
                    lease_open = changed.is_ok();
                    // Taking over from another replica: continue from what it stored.
                    if lease_open && *self.active.borrow_and_update() {
                        self.flush(&mut batch, &mut retry_after).await;
                        let (cfg, mine) = (cfg_now(&self.config), Arc::clone(&owned.borrow()));
                        self.refresh_from_store(|id| !owns_probed(&cfg, &mine, id)).await;
                        self.book.restart();
                        self.load_location_alerts().await;
                    }
                }
                changed = owned.changed(), if owned_open => {
                    owned_open = changed.is_ok();
                    let now_held = shard_set(&owned.borrow_and_update());
                    // Losing shards: write what we have before another replica reads it.
                    // Gaining some: continue from the states their last owner stored.
                    self.flush(&mut batch, &mut retry_after).await;
                    let gained: HashSet<u32> = now_held.difference(&shards_held).copied().collect();
                    if !gained.is_empty() {
                        let cfg = cfg_now(&self.config);
                        let shard = |id: &str| upkeep_domain::shards::shard_of(id, upkeep_domain::shards::SHARDS);
                        self.refresh_from_store(|id| sharded(&cfg, id) && gained.contains(&shard(id))).await;
                    }
                    shards_held = now_held;
                }
                _ = push_tick.tick() => {
                    if *self.active.borrow() {
                        self.judge_pushes(&mut batch, Only::All, &mut deadlines).await;
                    } else {
                        deadlines = Deadlines::default();
                    }
                    // Keep the view of what other replicas write.
                    let active = *self.active.borrow();
                    let (cfg, mine) = (cfg_now(&self.config), Arc::clone(&owned.borrow()));
                    if !(active && mine.is_everything()) {
                        self.refresh_from_store(|id| {
                            let written_here = owns_probed(&cfg, &mine, id) || (active && !sharded(&cfg, id));
                            !written_here
                        })
                        .await;
                    }
                }
                received = results.recv() => match received {
                    Some(p) => {
                        self.apply(p, &mut batch);
                        if batch.results.len() >= self.settings.flush_max {
                            self.flush(&mut batch, &mut retry_after).await;
                        }
                    }
                    None => break,
                },
                Some(cmd) = commands.recv() => {
                    let (reply, transition) = self.command(cmd, &mut batch);
                    // A pause is written at once (with its audit row), not with the next
                    // batch, and answered once written.
                    self.flush(&mut batch, &mut retry_after).await;
                    let _ = reply.send(transition);
                }
                _ = tick.tick() => {
                    if *self.active.borrow() {
                        self.take_agent_results(&mut batch).await;
                        self.settle_rounds(&mut batch);
                    }
                    self.flush(&mut batch, &mut retry_after).await;
                }
            }
        }
        // Last chance on the way out: try once more whatever the back-off says.
        retry_after = None;
        self.flush(&mut batch, &mut retry_after).await;
    }

    fn record(
        &self,
        id: &str,
        view: &MonitorView,
        transition: Option<Transition>,
        reason: &str,
        batch: &mut Batch,
    ) {
        batch.states.insert(
            id.to_owned(),
            MonitorStateRow {
                monitor_id: id.to_owned(),
                status: view.state.status,
                consecutive_failures: view.state.consecutive_failures,
                consecutive_successes: view.state.consecutive_successes,
                changed_at: view.state.changed_at,
                last_check_at: view.last.as_ref().map(|l| l.at),
                paused: view.state.status == MonitorStatus::Paused,
            },
        );
        if let Some(t) = transition {
            metrics::counter!("upkeep_monitor_transitions_total", "to" => t.to.as_str())
                .increment(1);
            tracing::info!(monitor = id, from = %t.from, to = %t.to, reason, "monitor changed state");
            batch.events.push(MonitorEvent {
                source: EventSource::Monitor(id.to_owned()),
                at: t.at,
                from: t.from.into(),
                to: t.to.into(),
                reason: reason.to_owned(),
            });
        }
    }

    fn apply(&mut self, p: Probed, batch: &mut Batch) {
        let cfg = self.config.borrow().clone();
        let Some(monitor) = cfg.config.monitors.get(&p.monitor_id) else {
            return; // removed by a reload while its probe ran
        };
        if monitor.server_only() && !self.settings.owned.borrow().owns(&p.monitor_id) {
            return; // its shard was lost while the probe ran
        }
        metrics::counter!("upkeep_probes_total", "outcome" => if p.outcome.ok { "ok" } else { "failed" })
            .increment(1);
        metrics::histogram!("upkeep_probe_duration_seconds")
            .record(f64::from(p.outcome.latency_ms) / 1000.0);
        if !monitor.server_only() {
            let result = LastResult {
                at: p.at,
                ok: p.outcome.ok,
                latency_ms: p.outcome.latency_ms,
                status_code: p.outcome.status_code,
                failure: p.outcome.failure,
            };
            self.add_location_result(
                &p.monitor_id,
                monitor,
                SERVER_LOCATION,
                result,
                Some(p.round),
                batch,
            );
            if self.judges(&p.monitor_id, monitor) {
                let mut judged = Vec::new();
                self.book
                    .settle_one(&p.monitor_id, monitor, self.clock.now(), &mut judged);
                for j in judged {
                    self.apply_round(j, monitor, batch);
                }
            }
            return;
        }
        let thresholds = Thresholds {
            failure: monitor.failure_threshold,
            recovery: monitor.recovery_threshold,
        };
        let result = LastResult {
            at: p.at,
            ok: p.outcome.ok,
            latency_ms: p.outcome.latency_ms,
            status_code: p.outcome.status_code,
            failure: p.outcome.failure,
        };
        self.observe_result(
            &p.monitor_id,
            result,
            thresholds,
            monitor.interval,
            "checks pass",
            batch,
        );
    }

    /// Applies one result to a monitor's state (unless it is paused) and queues the result,
    /// the new state and any transition for writing. `period` is the time the result stands
    /// for: charged as down time when the monitor is down after it.
    fn observe_result(
        &self,
        id: &str,
        result: LastResult,
        thresholds: Thresholds,
        period: Duration,
        ok_reason: &str,
        batch: &mut Batch,
    ) {
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        let view = live
            .entry(id.to_owned())
            .or_insert_with(|| MonitorView::new(MonitorState::new(result.at)));
        if view.state.status == MonitorStatus::Paused {
            return;
        }
        let transition = view.state.observe(result.ok, result.at, thresholds);
        view.last = Some(result.clone());
        let down_ms = if view.state.status == MonitorStatus::Down {
            i64::try_from(period.as_millis()).unwrap_or(i64::MAX)
        } else {
            0
        };
        let view = view.clone();
        drop(live);
        let reason = result
            .failure
            .clone()
            .unwrap_or_else(|| ok_reason.to_owned());
        self.record(id, &view, transition, &reason, batch);
        batch.results.push(CheckResult {
            monitor_id: id.to_owned(),
            at: result.at,
            ok: result.ok,
            latency_ms: result.latency_ms,
            status_code: result.status_code,
            failure: result.failure,
            location: None,
            down_ms,
        });
    }

    /// Keeps one location's result of a monitor probed from several locations: written as
    /// history (with its location, outside the rollups), and added to its round (the one it
    /// was probed for, `round`, when known).
    fn add_location_result(
        &mut self,
        id: &str,
        monitor: &Monitor,
        location: &str,
        result: LastResult,
        round: Option<Timestamp>,
        batch: &mut Batch,
    ) {
        let now = self.clock.now();
        batch.results.push(CheckResult {
            monitor_id: id.to_owned(),
            at: result.at,
            ok: result.ok,
            latency_ms: result.latency_ms,
            status_code: result.status_code,
            failure: result.failure.clone(),
            location: Some(location.to_owned()),
            down_ms: 0,
        });
        if self.book.add(id, monitor, location, result, round, now) == Added::Late {
            metrics::counter!("upkeep_agent_results_late_total").increment(1);
        }
        self.show_locations(id);
    }

    /// Copies what each location of a monitor last said into the live view.
    fn show_locations(&self, id: &str) {
        let locations = self.book.locations(id);
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = live.get_mut(id) {
            view.locations = locations;
        }
    }

    /// Takes the agents' results waiting in the store for the monitors this writer judges
    /// (they leave the queue in the transaction that writes them). A result for a monitor
    /// not configured, or no longer probed from its location, is taken and dropped.
    async fn take_agent_results(&mut self, batch: &mut Batch) {
        let pending = match self
            .store
            .pending_agent_results(AGENT_RESULTS_PER_TICK)
            .await
        {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read agents' results");
                return;
            }
        };
        let already: HashSet<i64> = batch.taken.iter().copied().collect();
        let cfg = self.config.borrow().clone();
        for row in pending {
            if already.contains(&row.id) {
                continue;
            }
            batch.taken.push(row.id);
            let Some(monitor) = cfg.config.monitors.get(&row.monitor_id) else {
                continue;
            };
            if !monitor.probed_from(&row.location) || monitor.server_only() {
                continue;
            }
            let result = LastResult {
                at: row.at,
                ok: row.ok,
                latency_ms: row.latency_ms,
                status_code: row.status_code,
                failure: row.failure,
            };
            self.add_location_result(
                &row.monitor_id,
                monitor,
                &row.location,
                result,
                row.round,
                batch,
            );
        }
    }

    /// Whether this writer judges the rounds of `monitor` now: while it probes, unless the
    /// monitor is paused or a maintenance skips its checks (then its locations' results are
    /// history only: agents know nothing of pauses and windows).
    fn judges(&self, id: &str, monitor: &Monitor) -> bool {
        let paused = self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .is_some_and(|v| v.state.status == MonitorStatus::Paused);
        *self.active.borrow() && !paused && !self.settings.skip.contains(&monitor.component)
    }

    /// Judges the rounds that can be judged now and applies them.
    fn settle_rounds(&mut self, batch: &mut Batch) {
        if !*self.active.borrow() {
            return;
        }
        let cfg = self.config.borrow().clone();
        let judged_here: HashSet<&str> = cfg
            .config
            .monitors
            .iter()
            .filter(|(id, m)| !m.server_only() && self.judges(id, m))
            .map(|(id, _)| id.as_str())
            .collect();
        let judged = self
            .book
            .settle(&cfg.config, self.clock.now(), |id| judged_here.contains(id));
        for j in judged {
            let Some(monitor) = cfg.config.monitors.get(&j.monitor_id) else {
                continue;
            };
            self.apply_round(j, monitor, batch);
        }
    }

    /// Applies a judged round: a pass or a failure goes through the monitor's state machine
    /// like one result (and is its row in the rollups); enough unknown rounds in a row make it
    /// `unknown`; each location's alert changes are recorded.
    fn apply_round(&self, j: Judged, monitor: &Monitor, batch: &mut Batch) {
        let id = j.monitor_id.as_str();
        if let Some(verdict) = j.verdict {
            metrics::counter!("upkeep_rounds_total", "verdict" => match verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "fail",
                Verdict::Unknown => "unknown",
            })
            .increment(1);
        }
        match j.verdict {
            Some(Verdict::Pass | Verdict::Fail) => {
                let thresholds = Thresholds {
                    failure: monitor.failure_threshold,
                    recovery: monitor.recovery_threshold,
                };
                self.observe_result(
                    id,
                    j.summary,
                    thresholds,
                    monitor.interval,
                    &j.reason,
                    batch,
                );
            }
            Some(Verdict::Unknown) if j.unknown_counts => {
                let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
                let view = live
                    .entry(id.to_owned())
                    .or_insert_with(|| MonitorView::new(MonitorState::new(j.round)));
                let transition = view.state.observe_unknown(j.round);
                let view = view.clone();
                drop(live);
                if transition.is_some() {
                    self.record(id, &view, transition, &j.reason, batch);
                }
            }
            Some(Verdict::Unknown) | None => {}
        }
        for change in j.location_changes {
            batch.events.push(MonitorEvent {
                source: EventSource::Location(format!("{id}@{}", change.location)),
                at: j.round,
                from: change.from,
                to: change.to,
                reason: change.reason,
            });
        }
        self.show_locations(id);
    }

    /// Reads which locations' alerts stand at `warning`, so that a location passing again
    /// after a restart or a takeover resolves its alert.
    async fn load_location_alerts(&mut self) {
        let cfg = self.config.borrow().clone();
        for (id, monitor) in &cfg.config.monitors {
            if monitor.server_only() {
                continue;
            }
            for location in &monitor.locations {
                let source = EventSource::Location(format!("{id}@{location}"));
                match self.store.last_event_state(&source).await {
                    Ok(state) => {
                        let warned = state == Some(upkeep_domain::event::EventState::Warning);
                        self.book.set_warned(id, location, warned);
                    }
                    Err(e) => tracing::warn!(error = %e, %source, "cannot read a location's alert"),
                }
            }
        }
    }

    /// Replaces the live states of the monitors `which` picks with the stored ones (keeping
    /// last results seen here).
    async fn refresh_from_store(&self, which: impl Fn(&str) -> bool) {
        match stored_views(&self.store).await {
            Ok(stored) => {
                let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
                for (id, view) in stored.into_iter().filter(|(id, _)| which(id)) {
                    live.entry(id)
                        .and_modify(|v| v.state = view.state)
                        .or_insert(view);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read monitor states"),
        }
    }

    /// Judges every push monitor on its pings (domain `heartbeat::judge`). Lateness already
    /// includes the grace time, so one late judgement takes the monitor down and one on-time
    /// judgement brings it back (thresholds 1 and 1).
    /// Each judged monitor's next deadline goes to `deadlines`, to be judged again just then.
    async fn judge_pushes(&mut self, batch: &mut Batch, only: Only<'_>, deadlines: &mut Deadlines) {
        let cfg = self.config.borrow().clone();
        let pushes: Vec<(&String, &Monitor, &PushCheck)> = cfg
            .config
            .monitors
            .iter()
            .filter_map(|(id, m)| match &m.kind {
                MonitorKind::Push(p) => Some((id, m, p)),
                _ => None,
            })
            .filter(|(id, _, p)| match only {
                Only::All => true,
                Only::Keys(keys) => keys.contains(&p.key),
                Only::Ids(ids) => ids.contains(*id),
            })
            .collect();
        if pushes.is_empty() {
            return;
        }
        let now = self.clock.now();
        // First-seen instants never change once stored: only monitors not judged yet by this
        // process are looked up (and recorded), all at once.
        let unseen: Vec<String> = pushes
            .iter()
            .filter(|(id, _, _)| !self.first_seen.contains_key(*id))
            .map(|(id, _, _)| (*id).clone())
            .collect();
        if !unseen.is_empty() {
            match self.store.first_seen(&unseen, now).await {
                Ok(seen) => self.first_seen.extend(seen),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot judge push monitors this round");
                    return;
                }
            }
        }
        let keys: Vec<&str> = pushes
            .iter()
            .map(|(_, _, p)| p.key.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let instants = match self.store.heartbeat_instants(&keys).await {
            Ok(instants) => instants,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read pings; push monitors not judged this round");
                return;
            }
        };
        for (id, _, push) in pushes {
            let seen = instants.get(&push.key).copied().unwrap_or_default();
            let facts = HeartbeatFacts {
                last_success: seen.last_success,
                last_failure: seen.last_failure,
                open_start: seen.open_start,
                watched_since: self.first_seen.get(id).copied().unwrap_or(now),
            };
            let verdict = judge(&push.schedule, &facts, now);
            deadlines.set(id, next_change(&push.schedule, &facts, now));
            if verdict.is_ok() && facts.last_success.is_none() && facts.last_failure.is_none() {
                // Never pinged and not yet due: it stays pending, not up.
                continue;
            }
            let result = LastResult {
                at: now,
                ok: verdict.is_ok(),
                latency_ms: 0,
                status_code: None,
                failure: verdict.reason(),
            };
            let thresholds = Thresholds {
                failure: 1,
                recovery: 1,
            };
            let mut judged = Batch::default();
            self.observe_result(
                id,
                result,
                thresholds,
                self.settings.push_every,
                "pings are on time",
                &mut judged,
            );
            // Judged on its pings, a monitor's result is written only when its state changed
            // (the live view is current either way): pings of monitors that stay up write
            // nothing, and the judgement of every push monitor each `push_every` writes the
            // regular results that uptime is counted from.
            if !matches!(only, Only::Keys(_)) || !judged.events.is_empty() {
                batch.absorb(judged);
            }
        }
    }

    /// Applies a pause or resume to the live view and the batch; returns where to answer and
    /// with what.
    fn command(
        &self,
        cmd: Command,
        batch: &mut Batch,
    ) -> (oneshot::Sender<Option<Transition>>, Option<Transition>) {
        let now = self.clock.now();
        let Command {
            monitor_id: id,
            pause,
            actor,
            reply,
        } = cmd;
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        // A monitor not seen yet (added by a reload, or a push monitor never judged) can be
        // paused too.
        let view = live
            .entry(id.clone())
            .or_insert_with(|| MonitorView::new(MonitorState::new(now)));
        let transition = if pause {
            view.state.pause(now)
        } else {
            view.state.resume(now)
        };
        let view = view.clone();
        drop(live);
        let reason = if pause {
            "paused by an operator"
        } else {
            "resumed by an operator"
        };
        self.record(&id, &view, transition, reason, batch);
        if let Some(t) = transition {
            let audit = AuditEntry {
                actor,
                action: if pause {
                    "monitor.pause"
                } else {
                    "monitor.resume"
                }
                .into(),
                target: format!("monitor/{id}"),
                before: Some(serde_json::json!({ "status": t.from.as_str() })),
                after: Some(serde_json::json!({ "status": t.to.as_str() })),
            };
            batch.audits.push((t.at, audit));
        }
        (reply, transition)
    }

    /// Writes the batch in one transaction. On failure the batch is kept and retried at the
    /// next flush (after a pause, so a database outage is not hammered); while it is down the
    /// oldest results beyond [`MAX_PENDING_RESULTS`] are dropped, never states or events.
    async fn flush(&self, batch: &mut Batch, retry_after: &mut Option<Instant>) {
        if batch.results.is_empty()
            && batch.states.is_empty()
            && batch.events.is_empty()
            && batch.audits.is_empty()
            && batch.taken.is_empty()
        {
            return;
        }
        if retry_after.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let states: Vec<MonitorStateRow> = batch.states.values().cloned().collect();
        match self
            .store
            .record_probe_batch(
                &batch.results,
                &states,
                &batch.events,
                &batch.audits,
                &batch.taken,
            )
            .await
        {
            Ok(()) => {
                *batch = Batch::default();
                *retry_after = None;
            }
            Err(e) => {
                tracing::error!(error = %e, results = batch.results.len(), "cannot write probe results; will retry");
                metrics::counter!("upkeep_probe_write_errors_total").increment(1);
                *retry_after = Some(Instant::now() + Duration::from_secs(2));
                if batch.results.len() > MAX_PENDING_RESULTS {
                    let excess = batch.results.len() - MAX_PENDING_RESULTS;
                    batch.results.drain(..excess);
                    metrics::counter!("upkeep_probe_results_dropped_total")
                        .increment(excess as u64);
                }
            }
        }
    }
}

/// Most results held in memory while the database cannot be written.
pub const MAX_PENDING_RESULTS: usize = 200_000;

/// Most agents' results taken off their queue per flush.
const AGENT_RESULTS_PER_TICK: u32 = 5_000;

/// Deletes raw results, minute rollups, locations' hour rollups and pings older than
/// `monitoring.retention` once an hour (the monitors' hour and day rollups stay, and so does
/// each ping key's latest success and failure; locations' hour rollups stay at least as long
/// as the response-time window reads them), until `stop`.
pub async fn prune_results(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    stop: CancellationToken,
) {
    // Every replica prunes: the deletes are idempotent and cheap when nothing is due.
    let mut ticks = Periodic::always("prune-results", Duration::from_secs(3600)).start(stop);
    while ticks.next().await.is_some() {
        prune_once(&store, &cfg_now(&config).config, clock.now()).await;
    }
}

/// Monitors whose hour of results one folding transaction reads and rewrites (~360 rows each
/// at a 10 s interval): short transactions, so probe batches are never held up for long.
const FOLD_MONITORS_PER_TRANSACTION: usize = 64;

/// Most hours one folding pass works through (an upgraded database catches up over passes).
const FOLD_HOURS_PER_PASS: u32 = 6;

/// Folds runs of identical successes into one row each (see `upkeep_store::result_runs`) in
/// every whole UTC hour that ended at least `COMPACT_AFTER_MS` ago, and each monitor's rollups
/// of every UTC day that ended at least `FOLD_AFTER_MS` ago into one row (see
/// `upkeep_store::rollup_days`), every ten minutes, on the replica holding the lease, until
/// `stop`.
pub async fn fold_results(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    lease: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut ticks =
        Periodic::while_held("fold-results", Duration::from_secs(600), lease).start(stop);
    while ticks.next().await.is_some() {
        let cfg = Arc::clone(&config.borrow());
        let done = fold_once(&store, &cfg.config, clock.now()).await;
        if let Ok(folded) = &done
            && folded.deleted > 0
        {
            tracing::debug!(
                rows = folded.rows,
                runs = folded.runs,
                deleted = folded.deleted,
                "folded runs of results"
            );
        }
        ticks.done(done);
        let days = fold_rollup_days_once(&store, clock.now()).await;
        if let Ok(folded) = &days
            && folded.days > 0
        {
            tracing::debug!(
                days = folded.days,
                rows = folded.rows,
                "folded days of rollups"
            );
        }
        ticks.done(days);
    }
}

/// Monitor-days one rollup folding transaction folds (up to 1,465 rows each: minutes, hours and
/// the day): short transactions, so probe batches are never held up for long.
const FOLD_ROLLUP_DAYS_PER_TRANSACTION: usize = 16;

/// Most monitor-days one folding pass works through (an upgraded database, with up to a year
/// of days per monitor, catches up over passes).
const FOLD_ROLLUP_DAYS_PER_PASS: u32 = 4_096;

/// One pass folding whole days of rollups at `now`: the due monitor-days, oldest first, at
/// most [`FOLD_ROLLUP_DAYS_PER_PASS`] of them.
pub async fn fold_rollup_days_once(
    store: &Store,
    now: Timestamp,
) -> Result<rollup_days::FoldedDays, upkeep_store::StoreError> {
    let mut total = rollup_days::FoldedDays::default();
    let due = store
        .rollup_days_to_fold(now, FOLD_ROLLUP_DAYS_PER_PASS)
        .await?;
    for chunk in due.chunks(FOLD_ROLLUP_DAYS_PER_TRANSACTION) {
        total.add(store.fold_rollup_days(chunk).await?);
        // Probe batches wait for the write lock meanwhile: let them in between.
        tokio::task::yield_now().await;
    }
    Ok(total)
}

/// One folding pass at `now`: the hours from the stored cursor on, at most
/// [`FOLD_HOURS_PER_PASS`] of them, the cursor advanced after each whole hour.
pub async fn fold_once(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<result_runs::Folded, upkeep_store::StoreError> {
    let mut total = result_runs::Folded::default();
    let Some(mut hour) = store.next_hour_to_fold().await? else {
        return Ok(total);
    };
    let until = now.as_millisecond() - result_runs::COMPACT_AFTER_MS;
    // The configured monitors with their intervals: a gap longer than twice the interval
    // ends a run; results of monitors no longer configured are left as they are.
    let monitors: Vec<(String, i64)> = config
        .monitors
        .iter()
        .map(|(id, m)| {
            let interval = i64::try_from(m.interval.as_millis()).unwrap_or(i64::MAX);
            (id.clone(), interval)
        })
        .collect();
    for _ in 0..FOLD_HOURS_PER_PASS {
        let end = hour.as_millisecond() + upkeep_store::monitoring::HOUR_MS;
        if end > until {
            break;
        }
        for chunk in monitors.chunks(FOLD_MONITORS_PER_TRANSACTION) {
            total.add(store.fold_hour(chunk, hour).await?);
            // Probe batches wait for the write lock meanwhile: let them in between.
            tokio::task::yield_now().await;
        }
        let Ok(next) = hour.checked_add(SignedDuration::from_hours(1)) else {
            break;
        };
        hour = next;
        store.set_next_hour_to_fold(hour, now).await?;
    }
    Ok(total)
}

/// One pruning pass at `now`; each kind of row is pruned (or its failure logged) on its own.
pub async fn prune_once(store: &Store, config: &Config, now: Timestamp) {
    let Ok(retention) = jiff::SignedDuration::try_from(config.monitoring.retention) else {
        return;
    };
    let Ok(before) = now.checked_sub(retention) else {
        return;
    };
    match store.prune_results(before).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned raw results past retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune raw results; will retry in an hour"),
    }
    match store.prune_pings(before).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned pings past retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune pings; will retry in an hour"),
    }
    // Minute rollups go with the raw results; hour and day rollups are kept for reports.
    match store.prune_minute_rollups(before).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned minute rollups past retention"),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot prune minute rollups; will retry in an hour")
        }
    }
    // Each location's hour rollups go with the located raw results they sum, but never while
    // the response-time window still reads them (a retention shorter than a day).
    let located_before = crate::service::latency::prune_cutoff(before, now);
    match store.prune_location_rollups(located_before).await {
        Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned location rollups past retention"),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot prune location rollups; will retry in an hour")
        }
    }
}
