//! `upkeep agent`: probes from another network, reports to the server (docs/agents.md).
//!
//! Outbound connections only. Three tasks:
//! - **assignments**: long-polls `GET /api/v1/agent/assignments` (`If-None-Match`, `wait=30`)
//!   and decodes each definition with the server's own monitor reader
//!   (`upkeep_domain::config::assignment::decode`); the definitions (and their secrets) stay in
//!   memory;
//! - **probes**: the one probe loop ([`crate::monitoring::schedule::Looper`]), rounds aligned
//!   with the server's and other agents';
//! - **batches**: results are sealed every second into the durable [`buffer::Buffer`] and sent
//!   in order; a batch file is deleted only after a 2xx. With nothing to send, an empty batch
//!   every [`HEARTBEAT`](upkeep_domain::agent::HEARTBEAT) is the agent's heartbeat.
//!
//! Answers (what each status means is [`classify`]): 401 and 403 (the token is revoked, not
//! an agent token, or serves another location) stop the agent with an error (exit status 2):
//! probing for nobody helps no one, and the buffer is kept on disk. An unreachable server,
//! 404, 408, 425, 429 and 5xx keep the batch and retry it with the project's backoff
//! (`upkeep_domain::notify::retry`, 1 s doubling to 30 s; a 429's or 503's `Retry-After`
//! honoured) while probing goes on into the buffer. 413 (a proxy's body limit) splits the
//! batch in halves; a single result still refused is dropped (counted). 409 (another batch
//! was stored under this number: the data directory was lost) numbers the buffered batches
//! again from the server's next free number. A batch refused for results of monitors no
//! longer assigned (a reload while it waited) is sent again without them; any other refusal
//! of its content (400, 422) moves it to `rejected/` (bounded, counted as dropped) so one bad
//! batch cannot block the queue.
//!
//! Local I/O (the buffer's directory not writable, a full disk) never spins: results wait in
//! memory (within the buffer's bounds) while writes are retried with the same backoff, and
//! the failure is logged when it starts and when it ends.

pub mod buffer;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use upkeep_domain::agent::{self as protocol, AgentResult, Batch};
use upkeep_domain::config::assignment;
use upkeep_domain::notify::providers::retry_after;
use upkeep_domain::notify::retry::{Next, RetryPolicy};

use crate::clock::SharedClock;
use crate::monitoring::probe::Prober;
use crate::monitoring::schedule::{Assigned, Looper, Probed};
use buffer::Buffer;

/// The agent's version, sent with each batch.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const USER_AGENT: &str = concat!("upkeep/", env!("CARGO_PKG_VERSION"));

/// Default bound of the buffer on disk.
pub const DEFAULT_MAX_BUFFER_BYTES: u64 = 256 * 1024 * 1024;

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The server's base URL (`http://host:port`).
    pub server: String,
    pub token: String,
    pub location: String,
    pub data_dir: PathBuf,
    pub max_buffer_bytes: u64,
    /// Results older than this are dropped from the buffer (at most the server's limit).
    pub max_age: Duration,
    /// How often results are sealed into a batch.
    pub seal_every: Duration,
    pub max_concurrent: usize,
}

impl AgentSettings {
    pub fn new(server: String, token: String, location: String, data_dir: PathBuf) -> Self {
        AgentSettings {
            server: server.trim_end_matches('/').to_owned(),
            token,
            location,
            data_dir,
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            // A margin under the server's limit: a batch sent just before its end still lands.
            max_age: protocol::MAX_AGE - Duration::from_secs(600),
            seal_every: Duration::from_secs(1),
            max_concurrent: 256,
        }
    }
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "the server refused the agent's token ({0}): it is revoked, unknown, or not an `agent` token; create one with `upkeep token create --role agent --name NAME`"
    )]
    Refused(StatusCode),
    #[error(
        "`--location` {0:?} is not a location id (letters, digits, `-`, `_`, `.`; not `server`)"
    )]
    Location(String),
    #[error("the buffer directory {dir}: {source}")]
    Buffer { dir: String, source: std::io::Error },
    #[error("{0}")]
    Setup(String),
}

/// The answer of `GET /api/v1/agent/assignments`.
#[derive(Debug, Deserialize)]
struct AssignmentsBody {
    components: BTreeSet<String>,
    monitors: Vec<DefinitionBody>,
    /// Whether the server takes each result's `round` (older servers refuse the field).
    #[serde(default)]
    accepts_round: bool,
}

#[derive(Debug, Deserialize)]
struct DefinitionBody {
    id: String,
    definition: String,
}

/// The longest wait a server's `Retry-After` is honoured for: the buffer holds the results
/// meanwhile, and a server back sooner should not wait for a long-promised retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Results kept in memory at most, in bytes of their wire form (estimated), while the buffer
/// cannot be written (the smaller of this and the buffer's own bound).
const MAX_IN_MEMORY_BYTES: u64 = 32 * 1024 * 1024;

/// The project's backoff, for the server and the buffer: 1 s doubling to 30 s, with jitter;
/// `asked` (a server's `Retry-After`, at most [`MAX_RETRY_AFTER`]) replaces it above its floor.
fn backoff(attempts: u32, asked: Option<Duration>) -> Duration {
    let policy = RetryPolicy {
        initial: Duration::from_secs(1),
        max_interval: Duration::from_secs(30),
        max_age: Duration::MAX,
    };
    let now = jiff::Timestamp::now();
    let asked = asked.map(|w| w.min(MAX_RETRY_AFTER));
    match policy.next_after(now, now, attempts, rand::random(), asked) {
        Next::RetryAt(at) => Duration::try_from(at.duration_since(now)).unwrap_or_default(),
        Next::GiveUp => policy.max_interval,
    }
}

/// A local operation that may fail for a while (the buffer's directory not writable, a full
/// disk): counts the failures in a row for the backoff, and says when a failing spell starts
/// and ends, so each is logged once rather than at every attempt.
#[derive(Debug, Default)]
struct Trouble {
    failures: u32,
}

impl Trouble {
    /// One more failure; `true` when it starts a failing spell.
    fn failed(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.failures == 1
    }

    /// A success; `true` when it ends a failing spell.
    fn recovered(&mut self) -> bool {
        std::mem::take(&mut self.failures) > 0
    }

    /// How long to wait before the next attempt.
    fn wait(&self) -> Duration {
        backoff(self.failures.max(1), None)
    }
}

/// Logs a local I/O failure when its spell starts (`error`, then quiet until it ends).
fn io_failed(trouble: &mut Trouble, what: &str, e: &std::io::Error) -> Duration {
    if trouble.failed() {
        tracing::error!(error = %e, "probe agent: {what}; retrying with backoff (logged again when it works)");
    }
    trouble.wait()
}

/// Logs the end of a failing spell of local I/O.
fn io_recovered(trouble: &mut Trouble, what: &str) {
    if trouble.recovered() {
        tracing::info!("probe agent: {what} works again");
    }
}

/// Sleeps `wait` unless `stop` comes first; returns whether to go on.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

fn refused(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

/// Runs the agent until `stop` (or a refused token).
pub async fn run(
    settings: AgentSettings,
    clock: SharedClock,
    stop: CancellationToken,
) -> Result<(), AgentError> {
    if !protocol::valid_location(&settings.location) {
        return Err(AgentError::Location(settings.location));
    }
    let now_micros = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let buffer = Buffer::open(
        &settings.data_dir,
        settings.max_buffer_bytes,
        settings.max_age,
        now_micros,
    )
    .map_err(|source| AgentError::Buffer {
        dir: settings.data_dir.display().to_string(),
        source,
    })?;
    let waiting = buffer.waiting();
    tracing::info!(
        server = %settings.server,
        location = %settings.location,
        data_dir = %settings.data_dir.display(),
        batches_waiting = waiting,
        "probe agent started"
    );
    let buffer = Arc::new(Mutex::new(buffer));
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| AgentError::Setup(format!("cannot build the HTTP client: {e}")))?;
    let prober = Prober::new().map_err(|e| AgentError::Setup(e.to_string()))?;
    let settings = Arc::new(settings);
    // A refused token stops everything; `fatal` carries its status.
    let halt = stop.child_token();
    let (fatal_tx, mut fatal_rx) = watch::channel(None::<StatusCode>);
    let (assigned_tx, assigned_rx) = watch::channel(Assigned::new());
    let (results_tx, results_rx) = mpsc::channel::<Probed>(4096);

    // Whether the server takes results' rounds: told with the assignments.
    let rounds = Arc::new(AtomicBool::new(false));
    let pull = tokio::spawn(pull_assignments(
        Arc::clone(&settings),
        http.clone(),
        assigned_tx,
        Arc::clone(&rounds),
        fatal_tx.clone(),
        halt.clone(),
    ));
    let looper = Looper {
        clock,
        prober,
        max_concurrent: settings.max_concurrent,
        results: results_tx,
        stop: halt.clone(),
    };
    let probes = tokio::spawn(looper.run(assigned_rx, Assigned::clone, |_, _, _| true));
    let seal = tokio::spawn(seal_results(
        Arc::clone(&settings),
        Arc::clone(&buffer),
        results_rx,
    ));
    let send = tokio::spawn(send_batches(
        Arc::clone(&settings),
        http,
        Arc::clone(&buffer),
        rounds,
        fatal_tx,
        halt.clone(),
    ));
    let refused_with = tokio::select! {
        () = halt.cancelled() => None,
        changed = fatal_rx.wait_for(Option::is_some) => changed.ok().and_then(|s| *s),
    };
    halt.cancel();
    let _ = pull.await;
    // The loop waits for its probes in flight; then the sealer writes their results.
    let _ = probes.await;
    let _ = seal.await;
    let _ = send.await;
    tracing::info!("probe agent stopped; results not yet sent stay in the buffer");
    match refused_with {
        Some(status) => Err(AgentError::Refused(status)),
        None => Ok(()),
    }
}

/// Long-polls the assignments and publishes each new set of monitors.
async fn pull_assignments(
    settings: Arc<AgentSettings>,
    http: reqwest::Client,
    assigned: watch::Sender<Assigned>,
    rounds: Arc<AtomicBool>,
    fatal: watch::Sender<Option<StatusCode>>,
    stop: CancellationToken,
) {
    let url = format!("{}/api/v1/agent/assignments", settings.server);
    let wait = protocol::MAX_WAIT.as_secs().to_string();
    let mut etag: Option<String> = None;
    let mut failures = 0u32;
    loop {
        let mut request = http
            .get(&url)
            .query(&[("location", settings.location.as_str()), ("wait", &wait)])
            .bearer_auth(&settings.token)
            .timeout(protocol::MAX_WAIT + Duration::from_secs(15));
        if let Some(tag) = &etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        let asked = tokio::time::Instant::now();
        let answer = tokio::select! {
            () = stop.cancelled() => return,
            answer = request.send() => answer,
        };
        let problem = match answer {
            Ok(r) if r.status() == StatusCode::NOT_MODIFIED => {
                failures = 0;
                // A server that cannot hold the poll (it is stopping, or its request timeout
                // is short) answers at once: ask again a second later, not in a tight loop.
                let again = asked + Duration::from_secs(1);
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(again) => {}
                }
                continue;
            }
            Ok(r) if refused(r.status()) => {
                let status = r.status();
                tracing::error!(
                    status = status.as_u16(),
                    "probe agent: the server refused the token when asked for assignments: it is revoked, unknown, not an agent token, or serves another location; stopping"
                );
                let _ = fatal.send(Some(status));
                return;
            }
            Ok(r) if r.status().is_success() => {
                let tag = r
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match r.json::<AssignmentsBody>().await {
                    Ok(body) => {
                        failures = 0;
                        etag = tag;
                        rounds.store(body.accepts_round, Ordering::Relaxed);
                        let _ = assigned.send(decode_assignments(&body));
                        continue;
                    }
                    Err(e) => format!("the assignments do not parse: {e}"),
                }
            }
            Ok(r) => {
                let status = r.status();
                let detail = r.text().await.unwrap_or_default();
                format!(
                    "the server answered {status}: {}",
                    detail.chars().take(300).collect::<String>()
                )
            }
            Err(e) => format!("the server is unreachable: {e}"),
        };
        failures = failures.saturating_add(1);
        let wait = backoff(failures, None);
        tracing::warn!(problem = %problem, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "probe agent: assignments not read; probing goes on with the last ones");
        if !pause(&stop, wait).await {
            return;
        }
    }
}

/// Decodes each definition with the server's monitor reader; one that does not decode is
/// skipped (logged), the others run.
fn decode_assignments(body: &AssignmentsBody) -> Assigned {
    let mut out: Assigned = HashMap::new();
    for d in &body.monitors {
        match assignment::decode(&d.id, &d.definition, &body.components) {
            Ok(monitor) => {
                out.insert(d.id.clone(), Arc::new(monitor));
            }
            Err(problems) => {
                tracing::error!(monitor = %d.id, problems = %problems, "probe agent: a monitor's definition cannot be read by this version; it is not probed");
            }
        }
    }
    tracing::info!(monitors = out.len(), "probe agent: assignments received");
    out
}

fn wire_result(p: Probed) -> AgentResult {
    AgentResult {
        monitor: p.monitor_id,
        at: p.at,
        ok: p.outcome.ok,
        latency_ms: u64::from(p.outcome.latency_ms),
        status_code: p.outcome.status_code,
        failure: if p.outcome.ok {
            None
        } else {
            Some(
                p.outcome
                    .failure
                    .unwrap_or_else(|| "failed".to_owned())
                    .chars()
                    .take(protocol::MAX_FAILURE_CHARS)
                    .collect(),
            )
        },
        round: Some(p.round),
    }
}

/// A result's size in a batch file, roughly (its fields plus the JSON around them).
fn wire_bytes(r: &AgentResult) -> u64 {
    let text = r.monitor.len() + r.failure.as_ref().map_or(0, String::len);
    160 + text as u64
}

/// Results received and not yet sealed into a batch file: normally a second's worth; while
/// the buffer cannot be written, all of them, within `max_bytes` and `max_age` (beyond them
/// the oldest are dropped and counted, as the buffer drops its oldest batches).
#[derive(Debug, Default)]
struct Unsealed {
    results: std::collections::VecDeque<AgentResult>,
    bytes: u64,
}

impl Unsealed {
    fn push(&mut self, r: AgentResult) {
        self.bytes = self.bytes.saturating_add(wire_bytes(&r));
        self.results.push_back(r);
    }

    /// Drops the oldest results beyond the bounds; returns how many.
    fn bound(&mut self, max_bytes: u64, max_age: Duration, now: jiff::Timestamp) -> u64 {
        let oldest = now
            .checked_sub(
                jiff::SignedDuration::try_from(max_age).unwrap_or(jiff::SignedDuration::MAX),
            )
            .unwrap_or(jiff::Timestamp::MIN);
        let mut dropped = 0;
        while let Some(first) = self.results.front() {
            if self.bytes <= max_bytes && first.at >= oldest {
                break;
            }
            self.bytes = self.bytes.saturating_sub(wire_bytes(first));
            self.results.pop_front();
            dropped += 1;
        }
        dropped
    }

    /// The oldest results, at most a batch's worth (without taking them).
    fn next_batch(&self) -> Vec<AgentResult> {
        self.results
            .iter()
            .take(protocol::MAX_RESULTS)
            .cloned()
            .collect()
    }

    /// Forgets the `n` oldest results (sealed).
    fn sealed(&mut self, n: usize) {
        for r in self.results.drain(..n.min(self.results.len())) {
            self.bytes = self.bytes.saturating_sub(wire_bytes(&r));
        }
    }
}

/// Seals the results received into batch files every `seal_every`, and once more when the
/// probe loop ends. While the buffer cannot be written, results wait in memory (bounded) and
/// writing is retried with backoff.
async fn seal_results(
    settings: Arc<AgentSettings>,
    buffer: Arc<Mutex<Buffer>>,
    mut results: mpsc::Receiver<Probed>,
) {
    let lock = || buffer.lock().unwrap_or_else(|e| e.into_inner());
    let max_bytes = settings.max_buffer_bytes.min(MAX_IN_MEMORY_BYTES);
    let mut unsealed = Unsealed::default();
    let mut trouble = Trouble::default();
    let mut retry_at = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(settings.seal_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let open = tokio::select! {
            received = results.recv() => match received {
                Some(p) => {
                    unsealed.push(wire_result(p));
                    if unsealed.results.len() < protocol::MAX_RESULTS {
                        continue;
                    }
                    true
                }
                None => false,
            },
            _ = tick.tick() => true,
        };
        // On the way out, one last attempt whatever the backoff says.
        if !open || tokio::time::Instant::now() >= retry_at {
            while !unsealed.results.is_empty() {
                let batch = unsealed.next_batch();
                let count = batch.len();
                let sealed = lock().seal(&settings.location, batch);
                match sealed {
                    Ok(_) => {
                        unsealed.sealed(count);
                        io_recovered(&mut trouble, "writing the buffer");
                    }
                    Err(e) => {
                        let wait = io_failed(
                            &mut trouble,
                            "results cannot be written to the buffer; they wait in memory",
                            &e,
                        );
                        retry_at = tokio::time::Instant::now() + wait;
                        break;
                    }
                }
            }
        }
        let dropped = unsealed.bound(max_bytes, settings.max_age, jiff::Timestamp::now());
        if dropped > 0 {
            tracing::warn!(
                results = dropped,
                "probe agent: results waiting in memory for the buffer dropped, oldest first (at most {max_bytes} bytes)"
            );
            // Not written now, the total is written with the next state.
            let _ = lock().count_dropped(dropped);
        }
        if !open {
            if !unsealed.results.is_empty() {
                tracing::error!(
                    results = unsealed.results.len(),
                    "probe agent: stopping with results the buffer could not take; they are lost"
                );
            }
            return;
        }
    }
}

/// What an answer's status means for a batch (docs/agents.md, "Sending").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// 2xx: stored now or before.
    Taken,
    /// 401, 403: the token is refused; the agent stops.
    TokenRefused,
    /// Unreachable, 404, 408, 425, 429, 5xx (and anything unexpected): try again later.
    Later,
    /// 413: too large for the server or a proxy before it; split it.
    TooLarge,
    /// 409: the number was used before for other content.
    Conflict,
    /// Any other 4xx: the server refused the batch's content.
    Refused,
}

fn classify(status: StatusCode) -> Class {
    match status.as_u16() {
        200..=299 => Class::Taken,
        401 | 403 => Class::TokenRefused,
        404 | 408 | 425 | 429 => Class::Later,
        409 => Class::Conflict,
        413 => Class::TooLarge,
        400..=499 => Class::Refused,
        _ => Class::Later,
    }
}

/// What the server said to a batch.
#[derive(Debug)]
enum Sent {
    Taken,
    /// 422 naming monitors no longer assigned: send again without them.
    Unassigned(Vec<String>),
    /// The batch is refused for good, with the problem's detail.
    Rejected(String),
    TokenRefused(StatusCode),
    TooLarge,
    /// Another batch was stored under this number: number again from this one.
    Renumber(u64),
    /// Try again later, after `wait` when the server said how long (`Retry-After`).
    Later {
        why: String,
        wait: Option<Duration>,
    },
}

async fn post(settings: &AgentSettings, http: &reqwest::Client, batch: &Batch) -> Sent {
    let url = format!("{}/api/v1/agent/results", settings.server);
    let answer = http
        .post(&url)
        .bearer_auth(&settings.token)
        .json(batch)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let r = match answer {
        Ok(r) => r,
        Err(e) => {
            return Sent::Later {
                why: format!("the server is unreachable: {e}"),
                wait: None,
            };
        }
    };
    let status = r.status();
    let class = classify(status);
    match class {
        Class::Taken => return Sent::Taken,
        Class::TokenRefused => return Sent::TokenRefused(status),
        Class::TooLarge => return Sent::TooLarge,
        Class::Later | Class::Conflict | Class::Refused => {}
    }
    let header = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = r.bytes().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let detail: String = body["detail"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    match class {
        Class::Conflict => match body["next_seq"].as_u64() {
            Some(next) => Sent::Renumber(next),
            None => Sent::Rejected(format!("{status}: {detail}")),
        },
        Class::Refused => match body["unassigned"].as_array() {
            Some(list) => Sent::Unassigned(
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            None => Sent::Rejected(format!("{status}: {detail}")),
        },
        _ => {
            let busy = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            let wait = busy
                .then(|| retry_after(header.as_deref(), &bytes, jiff::Timestamp::now()))
                .flatten();
            Sent::Later {
                why: format!("the server answered {status}: {detail}"),
                wait,
            }
        }
    }
}

/// Sends the buffered batches in order, and an empty batch as heartbeat when there is
/// nothing to send.
async fn send_batches(
    settings: Arc<AgentSettings>,
    http: reqwest::Client,
    buffer: Arc<Mutex<Buffer>>,
    rounds: Arc<AtomicBool>,
    fatal: watch::Sender<Option<StatusCode>>,
    stop: CancellationToken,
) {
    let lock = || buffer.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = 0u32;
    let mut trouble = Trouble::default();
    let started = tokio::time::Instant::now();
    let mut last_sent = started.checked_sub(protocol::HEARTBEAT).unwrap_or(started);
    loop {
        if stop.is_cancelled() {
            return;
        }
        let next = lock().first();
        let heartbeat_due = last_sent.elapsed() >= protocol::HEARTBEAT - Duration::from_secs(1);
        let (pending, stored) = match next {
            Some(pending) => {
                let read = lock().read(&pending);
                match read {
                    Ok(Some(stored)) => (Some(pending), stored),
                    Ok(None) => continue, // unreadable: set aside
                    Err(e) => {
                        let wait = io_failed(&mut trouble, "a buffered batch cannot be read", &e);
                        if !pause(&stop, wait).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            None if heartbeat_due => {
                // Nothing to send: a heartbeat (an empty batch, with a number of its own).
                let seq = lock().heartbeat_seq();
                let empty = buffer::StoredBatch {
                    seq,
                    location: settings.location.clone(),
                    results: Vec::new(),
                    split_seq: None,
                };
                (None, empty)
            }
            None => {
                if !pause(&stop, Duration::from_millis(250)).await {
                    return;
                }
                continue;
            }
        };
        if let Some(p) = pending.as_ref().filter(|_| stored.split_interrupted()) {
            tracing::info!(
                seq = stored.seq,
                "probe agent: finishing the split of a batch that a stop interrupted"
            );
            let done = lock().split(p, &stored);
            if let Err(e) = done {
                let wait = io_failed(&mut trouble, "the buffer cannot be changed", &e);
                if !pause(&stop, wait).await {
                    return;
                }
            }
            continue;
        }
        let dropped = lock().dropped();
        let mut results = stored.results.clone();
        if !rounds.load(Ordering::Relaxed) {
            // A server that does not take rounds judges results by their instants.
            for r in &mut results {
                r.round = None;
            }
        }
        let batch = Batch {
            seq: stored.seq,
            sent_at: jiff::Timestamp::now(),
            location: stored.location.clone(),
            version: VERSION.to_owned(),
            dropped,
            results,
        };
        let sent = tokio::select! {
            () = stop.cancelled() => return,
            sent = post(&settings, &http, &batch) => sent,
        };
        let sent = match sent {
            // Something before the server refuses every body: nothing to split, wait.
            Sent::TooLarge if pending.is_none() => Sent::Later {
                why: "an empty batch is refused as too large (413): something before the server refuses bodies".to_owned(),
                wait: None,
            },
            sent => sent,
        };
        let sent = match sent {
            Sent::TokenRefused(status) => {
                tracing::error!(
                    status = status.as_u16(),
                    "probe agent: the server refused the token when sending results: it is revoked, unknown, not an agent token, or serves another location; stopping (buffered results are kept)"
                );
                let _ = fatal.send(Some(status));
                return;
            }
            Sent::Later { why, wait } => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures, wait);
                let waiting = lock().waiting();
                tracing::warn!(problem = %why, batches_waiting = waiting, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "probe agent: results not sent; they wait in the buffer");
                if !pause(&stop, wait).await {
                    return;
                }
                continue;
            }
            answered => answered,
        };
        failures = 0;
        if matches!(sent, Sent::Taken | Sent::Rejected(_)) {
            last_sent = tokio::time::Instant::now();
        }
        let done = answer_locally(&buffer, sent, pending.as_ref(), &stored);
        match done {
            Ok(()) => io_recovered(&mut trouble, "changing the buffer"),
            Err(e) => {
                // A sent batch not deleted is sent again (the server stores it once).
                let wait = io_failed(&mut trouble, "the buffer cannot be changed", &e);
                if !pause(&stop, wait).await {
                    return;
                }
            }
        }
    }
}

/// The buffer's change an answer calls for: a batch taken is deleted, one refused for good
/// moved aside, one too large split, the batches numbered again after a conflict.
/// `pending` is the batch's file (`None` for a heartbeat).
fn answer_locally(
    buffer: &Mutex<Buffer>,
    sent: Sent,
    pending: Option<&buffer::Pending>,
    stored: &buffer::StoredBatch,
) -> std::io::Result<()> {
    let mut b = buffer.lock().unwrap_or_else(|e| e.into_inner());
    let seq = stored.seq;
    match (sent, pending) {
        (Sent::Renumber(next), _) => {
            tracing::warn!(
                seq,
                next_seq = next,
                batches_waiting = b.waiting(),
                "probe agent: the server holds other batches under this agent's numbers (its data directory was lost?); the buffered batches are numbered again from the server's next free number"
            );
            b.renumber(next)
        }
        (Sent::Rejected(why), pending) => {
            tracing::error!(seq, results = stored.results.len(), problem = %why, "probe agent: the server refused a batch; it is moved to rejected/ in the data directory and the next one is sent");
            pending.map_or(Ok(()), |p| b.set_aside(p))
        }
        (_, None) | (Sent::TokenRefused(_) | Sent::Later { .. }, _) => Ok(()),
        (Sent::Taken, Some(p)) => b.remove(p),
        (Sent::Unassigned(monitors), Some(p)) => {
            tracing::warn!(monitors = ?monitors, seq, "probe agent: results of monitors no longer assigned are dropped from a buffered batch");
            let mut kept = stored.clone();
            kept.results.retain(|r| !monitors.contains(&r.monitor));
            if kept.results.len() == stored.results.len() {
                // Nothing matched: the refusal is about something else.
                b.set_aside(p)
            } else {
                b.rewrite(p, &kept).map(|_| ())
            }
        }
        (Sent::TooLarge, Some(p)) if stored.results.len() > 1 => {
            tracing::warn!(
                seq,
                results = stored.results.len(),
                "probe agent: a batch is too large for the server or a proxy before it (413); it is split in halves"
            );
            b.split(p, stored)
        }
        (Sent::TooLarge, Some(p)) => {
            tracing::warn!(seq, monitor = ?stored.results.first().map(|r| &r.monitor), "probe agent: a single result is too large for the server or a proxy before it (413); it is dropped (counted as dropped)");
            b.drop_batch(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_stops_the_agent_and_only_content_refusals_set_a_batch_aside() {
        let class = |code: u16| classify(StatusCode::from_u16(code).unwrap_or_default());
        assert_eq!(class(200), Class::Taken);
        assert_eq!(class(204), Class::Taken);
        assert_eq!(class(401), Class::TokenRefused);
        assert_eq!(class(403), Class::TokenRefused);
        for busy in [404, 408, 425, 429, 500, 502, 503, 504, 302] {
            assert_eq!(class(busy), Class::Later, "{busy}");
        }
        assert_eq!(class(409), Class::Conflict);
        assert_eq!(class(413), Class::TooLarge);
        for refused in [400, 405, 410, 415, 422] {
            assert_eq!(class(refused), Class::Refused, "{refused}");
        }
    }

    #[test]
    fn a_failing_spell_is_reported_once_and_backs_off() {
        let mut t = Trouble::default();
        assert!(!t.recovered());
        assert!(t.failed());
        assert!(!t.failed());
        assert!(!t.failed());
        assert!(t.wait() >= Duration::from_secs(2), "{:?}", t.wait());
        assert!(t.recovered());
        assert!(!t.recovered());
    }

    #[test]
    fn a_servers_retry_after_is_honoured_within_bounds() {
        let asked = backoff(1, Some(Duration::from_secs(7)));
        assert_eq!(asked, Duration::from_secs(7));
        assert_eq!(
            backoff(1, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
        assert!(backoff(1, None) <= Duration::from_secs(1));
    }

    #[test]
    fn results_waiting_in_memory_are_bounded_oldest_first() {
        let now = jiff::Timestamp::now();
        let result = |n: i64| AgentResult {
            monitor: format!("m{n}"),
            at: now - jiff::SignedDuration::from_secs(100 - n),
            ok: true,
            latency_ms: 1,
            status_code: None,
            failure: None,
            round: None,
        };
        let mut u = Unsealed::default();
        for n in 0..10 {
            u.push(result(n));
        }
        let each = wire_bytes(&result(0));
        assert_eq!(u.bound(each * 10, Duration::from_secs(3600), now), 0);
        assert_eq!(u.bound(each * 6, Duration::from_secs(3600), now), 4);
        assert_eq!(u.results.front().map(|r| r.monitor.as_str()), Some("m4"));
        // Older than the buffer keeps results: dropped too.
        assert_eq!(u.bound(each * 10, Duration::from_secs(94), now), 2);
        assert_eq!(u.next_batch().len(), 4);
        u.sealed(3);
        assert_eq!((u.results.len(), u.bytes), (1, each));
    }
}
