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
//! Failures: an unreachable server or a 5xx is retried with the project's backoff
//! (`upkeep_domain::notify::retry`, 1 s doubling to 30 s) while probing goes on into the
//! buffer. A 401 or 403 (token revoked or not an agent token) stops the agent with an error
//! (exit status 2): probing for nobody helps no one, and the buffer is kept on disk. A batch
//! refused with a 4xx for results of monitors no longer assigned (a reload while it waited)
//! is sent again without them; any other refusal sets the batch aside as `rejected-*` (counted
//! as dropped) so one bad batch cannot block the queue.

pub mod buffer;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use upkeep_domain::agent::{self as protocol, AgentResult, Batch};
use upkeep_domain::config::assignment;
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
}

#[derive(Debug, Deserialize)]
struct DefinitionBody {
    id: String,
    definition: String,
}

/// The project's backoff, for the server: 1 s doubling to 30 s, with jitter.
fn backoff(attempts: u32) -> Duration {
    let policy = RetryPolicy {
        initial: Duration::from_secs(1),
        max_interval: Duration::from_secs(30),
        max_age: Duration::MAX,
    };
    let now = jiff::Timestamp::now();
    match policy.next(now, now, attempts, rand::random()) {
        Next::RetryAt(at) => Duration::try_from(at.duration_since(now)).unwrap_or_default(),
        Next::GiveUp => policy.max_interval,
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

    let pull = tokio::spawn(pull_assignments(
        Arc::clone(&settings),
        http.clone(),
        assigned_tx,
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
        let wait = backoff(failures);
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
    }
}

/// Seals the results received into batch files every `seal_every`, and once more when the
/// probe loop ends.
async fn seal_results(
    settings: Arc<AgentSettings>,
    buffer: Arc<Mutex<Buffer>>,
    mut results: mpsc::Receiver<Probed>,
) {
    let mut pending: Vec<AgentResult> = Vec::new();
    let mut tick = tokio::time::interval(settings.seal_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let open = tokio::select! {
            received = results.recv() => match received {
                Some(p) => {
                    pending.push(wire_result(p));
                    if pending.len() < protocol::MAX_RESULTS {
                        continue;
                    }
                    true
                }
                None => false,
            },
            _ = tick.tick() => true,
        };
        if !pending.is_empty() {
            let batch = std::mem::take(&mut pending);
            let sealed = buffer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .seal(&settings.location, batch);
            if let Err(e) = sealed {
                tracing::error!(error = %e, "probe agent: results could not be written to the buffer; they are lost");
            }
        }
        if !open {
            return;
        }
    }
}

/// What the server said to a batch.
enum Sent {
    /// 2xx: stored now or before.
    Taken,
    /// 4xx naming monitors no longer assigned: send again without them.
    Unassigned(Vec<String>),
    /// Any other 4xx: the batch is refused for good.
    Rejected(String),
    /// 401/403.
    TokenRefused(StatusCode),
    /// Unreachable, 5xx, 429: try again later.
    Later(String),
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
        Err(e) => return Sent::Later(format!("the server is unreachable: {e}")),
    };
    let status = r.status();
    if status.is_success() {
        return Sent::Taken;
    }
    if refused(status) {
        return Sent::TokenRefused(status);
    }
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    let detail = body["detail"].as_str().unwrap_or_default().to_owned();
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        if let Some(list) = body["unassigned"].as_array() {
            return Sent::Unassigned(
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            );
        }
        return Sent::Rejected(format!("{status}: {detail}"));
    }
    Sent::Later(format!("the server answered {status}: {detail}"))
}

/// Sends the buffered batches in order, and an empty batch as heartbeat when there is
/// nothing to send.
async fn send_batches(
    settings: Arc<AgentSettings>,
    http: reqwest::Client,
    buffer: Arc<Mutex<Buffer>>,
    fatal: watch::Sender<Option<StatusCode>>,
    stop: CancellationToken,
) {
    let lock = || buffer.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = 0u32;
    let started = tokio::time::Instant::now();
    let mut last_sent = started.checked_sub(protocol::HEARTBEAT).unwrap_or(started);
    loop {
        if stop.is_cancelled() {
            return;
        }
        let next = lock().first();
        let read = next.map(|pending| {
            let stored = lock().read(&pending);
            (pending, stored)
        });
        let heartbeat_due = last_sent.elapsed() >= protocol::HEARTBEAT - Duration::from_secs(1);
        let seq = if read.is_none() && heartbeat_due {
            Some(lock().take_seq())
        } else {
            None
        };
        let (pending, stored) = match (read, seq) {
            (Some((pending, read)), _) => match read {
                Ok(Some(stored)) => (Some(pending), stored),
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "probe agent: a buffered batch cannot be read");
                    if !pause(&stop, Duration::from_secs(5)).await {
                        return;
                    }
                    continue;
                }
            },
            // Nothing to send: a heartbeat (an empty batch, with a number of its own).
            (None, Some(seq)) => match seq {
                Ok(seq) => (
                    None,
                    buffer::StoredBatch {
                        seq,
                        location: settings.location.clone(),
                        results: Vec::new(),
                    },
                ),
                Err(e) => {
                    tracing::error!(error = %e, "probe agent: the buffer's state cannot be written");
                    if !pause(&stop, Duration::from_secs(5)).await {
                        return;
                    }
                    continue;
                }
            },
            (None, None) => {
                if !pause(&stop, Duration::from_millis(250)).await {
                    return;
                }
                continue;
            }
        };
        let batch = Batch {
            seq: stored.seq,
            sent_at: jiff::Timestamp::now(),
            location: stored.location.clone(),
            version: VERSION.to_owned(),
            dropped: lock().dropped(),
            results: stored.results.clone(),
        };
        let sent = tokio::select! {
            () = stop.cancelled() => return,
            sent = post(&settings, &http, &batch) => sent,
        };
        match sent {
            Sent::Taken => {
                failures = 0;
                last_sent = tokio::time::Instant::now();
                if let Some(p) = &pending
                    && let Err(e) = lock().remove(p)
                {
                    tracing::error!(error = %e, "probe agent: a sent batch cannot be deleted; it will be sent again (the server stores it once)");
                }
            }
            Sent::Unassigned(monitors) => {
                tracing::warn!(monitors = ?monitors, seq = batch.seq, "probe agent: results of monitors no longer assigned are dropped from a buffered batch");
                if let Some(p) = &pending {
                    let mut kept = stored.clone();
                    kept.results.retain(|r| !monitors.contains(&r.monitor));
                    let removed = stored.results.len() - kept.results.len();
                    let mut b = lock();
                    match b.rewrite(p, &kept) {
                        Ok(_) => {
                            if removed == 0 {
                                // Nothing matched: the refusal is about something else.
                                let _ = b.set_aside(p);
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "probe agent: a buffered batch cannot be rewritten")
                        }
                    }
                }
            }
            Sent::Rejected(why) => {
                tracing::error!(seq = batch.seq, problem = %why, "probe agent: the server refused a batch; it is set aside as rejected-*");
                if let Some(p) = &pending
                    && let Err(e) = lock().set_aside(p)
                {
                    tracing::error!(error = %e, "probe agent: a refused batch cannot be set aside");
                }
                last_sent = tokio::time::Instant::now();
            }
            Sent::TokenRefused(status) => {
                tracing::error!(
                    status = status.as_u16(),
                    "probe agent: the server refused the token when sending results: it is revoked, unknown, not an agent token, or serves another location; stopping (buffered results are kept)"
                );
                let _ = fatal.send(Some(status));
                return;
            }
            Sent::Later(why) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures);
                let waiting = lock().waiting();
                tracing::warn!(problem = %why, batches_waiting = waiting, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "probe agent: results not sent; they wait in the buffer");
                if !pause(&stop, wait).await {
                    return;
                }
            }
        }
    }
}
