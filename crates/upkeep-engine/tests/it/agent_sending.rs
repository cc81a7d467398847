//! `upkeep agent`'s sending against a scripted server (the real agent, a real HTTP receiver):
//! busy answers are retried (a `Retry-After` honoured) and never lose a batch, a batch
//! refused for its content is moved aside and the queue goes on, a batch too large is split
//! and a single result still too large dropped, a conflict of numbers renumbers the buffer,
//! and a buffer directory that cannot be written keeps the results in memory until it can.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;
use upkeep_domain::agent::{AgentResult, Batch};
use upkeep_engine::agent::buffer::{Buffer, REJECTED_DIR};
use upkeep_engine::agent::{self, AgentError, AgentSettings};
use upkeep_engine::clock::SystemClock;

use crate::receiver::{Answer, Received, Receiver};

const NO_MONITORS: &str = r#"{"location":"eu-1","etag":"\"x\"","components":[],"monitors":[]}"#;

/// The assignments request's answer (`assigned`, then 304 to each poll), or `None` for
/// another request.
fn assignments(req: &Received, assigned: &'static str) -> Option<Answer> {
    if !req.path.starts_with("/api/v1/agent/assignments") {
        return None;
    }
    Some(if req.header("if-none-match").is_some() {
        Answer::Status(304)
    } else {
        Answer::Reply(
            200,
            "etag: \"x\"\r\ncontent-type: application/json",
            assigned,
        )
    })
}

/// A server with no monitors to assign that answers the n-th batch posted (0-based) with
/// `answer(n, batch)`.
async fn answering(answer: impl Fn(usize, &Batch) -> Answer + Send + Sync + 'static) -> Receiver {
    let posts = AtomicUsize::new(0);
    Receiver::start(move |_, req| {
        assignments(req, NO_MONITORS)
            .unwrap_or_else(|| answer(posts.fetch_add(1, Ordering::SeqCst), &batch_of(req)))
    })
    .await
}

fn batch_of(req: &Received) -> Batch {
    serde_json::from_slice(&req.body).unwrap()
}

fn result(monitor: &str) -> AgentResult {
    AgentResult {
        monitor: monitor.into(),
        at: Timestamp::now(),
        ok: true,
        latency_ms: 3,
        status_code: None,
        failure: None,
        round: None,
    }
}

/// Seals batches into the buffer in `dir` before the agent starts.
fn buffered(dir: &Path, batches: &[&[&str]]) {
    let now = u64::try_from(Timestamp::now().as_microsecond()).unwrap();
    let mut buffer = Buffer::open(dir, 1 << 20, Duration::from_secs(3600), now).unwrap();
    for monitors in batches {
        buffer
            .seal("eu-1", monitors.iter().map(|m| result(m)).collect())
            .unwrap();
    }
}

struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), AgentError>>,
}

fn start(server: &Receiver, dir: &Path) -> Running {
    let settings = AgentSettings::new(
        server.url.clone(),
        "secret".into(),
        "eu-1".into(),
        dir.to_owned(),
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn(agent::run(settings, Arc::new(SystemClock), stop.clone()));
    Running { stop, task }
}

impl Running {
    async fn stop(self) {
        assert!(!self.task.is_finished(), "the agent stopped on its own");
        self.stop.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    }
}

/// The batches the server took, in the order it took them.
fn taken_batches(server: &Receiver) -> Vec<Batch> {
    server
        .accepted()
        .iter()
        .filter(|r| r.path == "/api/v1/agent/results")
        .map(batch_of)
        .collect()
}

/// The monitors of the results the server took, in the order it took them.
fn taken(server: &Receiver) -> Vec<String> {
    taken_batches(server)
        .into_iter()
        .flat_map(|b| b.results.into_iter().map(|r| r.monitor))
        .collect()
}

/// Waits until the agent sent a batch counting `dropped` results dropped.
async fn dropped_counted(server: &Receiver, dropped: u64) {
    eventually(
        "the dropped results counted",
        Duration::from_secs(15),
        || taken_batches(server).iter().any(|b| b.dropped == dropped),
    )
    .await;
}

async fn eventually(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn batch_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("batch-"))
        .count()
}

#[tokio::test]
async fn busy_answers_are_retried_and_a_refused_batch_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    buffered(dir.path(), &[&["bad"], &["good"]]);
    let server = answering(|n, batch| match n {
        0 => Answer::Reply(429, "retry-after: 2", ""),
        1 => Answer::Status(404),
        2 => Answer::Status(408),
        3 => Answer::Status(503),
        _ if batch.results.iter().any(|r| r.monitor == "bad") => Answer::Reply(
            422,
            "content-type: application/problem+json",
            r#"{"status":422,"type":"invalid-batch","detail":"result 0 (`bad`): broken"}"#,
        ),
        _ => Answer::Status(200),
    })
    .await;
    let agent = start(&server, dir.path());
    eventually("the good batch taken", Duration::from_secs(30), || {
        taken(&server) == ["good"]
    })
    .await;
    let results: Vec<Received> = server
        .all()
        .into_iter()
        .filter(|r| r.path == "/api/v1/agent/results")
        .collect();
    // Busy answers: the same batch again until it was answered for good.
    let seqs: Vec<u64> = results.iter().map(|r| batch_of(r).seq).collect();
    assert_eq!(
        seqs[..5],
        [seqs[0]; 5],
        "the same batch until it was answered"
    );
    let rejected = std::fs::read_dir(dir.path().join(REJECTED_DIR))
        .unwrap()
        .count();
    assert_eq!(rejected, 1);
    assert_eq!(batch_files(dir.path()), 0);
    // The refused batch's result counts as dropped (in the next batch the agent sends).
    dropped_counted(&server, 1).await;
    agent.stop().await;
}

#[tokio::test]
async fn a_retry_after_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    buffered(dir.path(), &[&["one"]]);
    let server = answering(|n, _| match n {
        0 => Answer::Reply(503, "retry-after: 3", ""),
        _ => Answer::Status(200),
    })
    .await;
    let started = Instant::now();
    let agent = start(&server, dir.path());
    eventually("the batch taken", Duration::from_secs(20), || {
        taken(&server) == ["one"]
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_batch_too_large_is_split_and_a_single_result_still_too_large_dropped() {
    let dir = tempfile::tempdir().unwrap();
    buffered(dir.path(), &[&["a0", "a1", "a2", "huge", "a3"]]);
    let server = answering(|_, batch| {
        if batch.results.len() > 2 || batch.results.iter().any(|r| r.monitor == "huge") {
            Answer::Status(413)
        } else {
            Answer::Status(200)
        }
    })
    .await;
    let agent = start(&server, dir.path());
    eventually("every other result taken", Duration::from_secs(30), || {
        let mut got = taken(&server);
        got.sort();
        got == ["a0", "a1", "a2", "a3"]
    })
    .await;
    eventually("the buffer empty", Duration::from_secs(10), || {
        batch_files(dir.path()) == 0
    })
    .await;
    dropped_counted(&server, 1).await;
    agent.stop().await;
}

#[tokio::test]
async fn a_conflict_of_numbers_renumbers_the_buffer() {
    const NEXT: u64 = 9_000_000_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    buffered(dir.path(), &[&["first"], &["second", "third"]]);
    let server = answering(|_, batch| {
        if batch.seq < NEXT && !batch.results.is_empty() {
            Answer::Reply(
                409,
                "content-type: application/problem+json",
                r#"{"status":409,"type":"seq-conflict","detail":"stored before","next_seq":9000000000000000}"#,
            )
        } else {
            Answer::Status(200)
        }
    })
    .await;
    let agent = start(&server, dir.path());
    eventually("both batches taken", Duration::from_secs(30), || {
        taken(&server) == ["first", "second", "third"]
    })
    .await;
    let seqs: Vec<u64> = taken_batches(&server)
        .into_iter()
        .filter(|b| !b.results.is_empty())
        .map(|b| b.seq)
        .collect();
    assert_eq!(seqs, [NEXT, NEXT + 1]);
    // Later numbers follow on.
    eventually("a heartbeat after", Duration::from_secs(15), || {
        taken_batches(&server).iter().any(|b| b.seq > NEXT + 1)
    })
    .await;
    agent.stop().await;
}

#[tokio::test]
async fn results_wait_in_memory_while_the_buffer_cannot_be_written() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn)
        }
    });
    let yaml = format!(
        "page: {{ name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }}\n\
         components:\n  c: {{ name: C }}\nmonitors:\n  \
         m: {{ component: c, tcp: {{ address: \"{target}\" }}, interval: 1s, timeout: 1s, \
         locations: [eu-1] }}\n"
    );
    let config = upkeep_domain::config::parse("t.yaml", &yaml, &|_| None, Timestamp::now())
        .unwrap_or_else(|e| panic!("{:?}", e.0));
    let assigned = upkeep_engine::service::agents::assignments(&config, "eu-1").unwrap();
    let body = serde_json::json!({
        "location": "eu-1",
        "accepts_round": true,
        "etag": assigned.etag,
        "components": assigned.components,
        "monitors": assigned.monitors.iter()
            .map(|(id, definition)| serde_json::json!({"id": id, "definition": definition}))
            .collect::<Vec<_>>(),
    })
    .to_string();
    let body: &'static str = Box::leak(body.into_boxed_str());
    let server =
        Receiver::start(move |_, req| assignments(req, body).unwrap_or(Answer::Status(200))).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("buffer");
    let agent = start(&server, &data);
    let results_at = |server: &Receiver| -> Vec<Timestamp> {
        taken_batches(server)
            .into_iter()
            .flat_map(|b| b.results.into_iter().map(|r| r.at))
            .collect()
    };
    eventually("the first results", Duration::from_secs(15), || {
        !results_at(&server).is_empty()
    })
    .await;
    // The data directory goes away for 4 s (nothing can be written in it), then comes back.
    std::fs::remove_dir_all(&data).unwrap();
    let gone = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let back = Timestamp::now();
    std::fs::create_dir_all(&data).unwrap();
    // The results probed meanwhile arrive once it can be written again.
    eventually(
        "the results probed while it was gone",
        Duration::from_secs(40),
        || {
            let during = results_at(&server)
                .into_iter()
                .filter(|at| *at > gone && *at < back)
                .count();
            during >= 3
        },
    )
    .await;
    // Each result says the round it was probed for (the server takes rounds).
    let results: Vec<AgentResult> = taken_batches(&server)
        .into_iter()
        .flat_map(|b| b.results)
        .collect();
    let interval = Duration::from_secs(1);
    assert!(
        results.iter().all(|r| r
            .round
            .is_some_and(
                |round| upkeep_domain::rounds::round_start("m", interval, round) == round
                    && round <= r.at
            )),
        "{results:?}"
    );
    agent.stop().await;
}
