//! Probe agents end to end: a real `upkeep serve` and a real `upkeep agent` (both the built
//! binary), a loopback HTTP target, the SQLite file read back. Batches land once, refusals store
//! nothing, a revoked token is refused, the buffer carries results over a server outage and a
//! `kill -9` of the agent, a reload reaches the agent within seconds, and a silent agent is
//! flagged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{BIN, Server, Workspace, admin_token, text, upkeep};

/// A loopback HTTP target answering 200 to everything.
fn target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            });
        }
    });
    port
}

/// A free loopback port for a server that is stopped and started again on it.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(target: u16, extra: &str) -> String {
    format!(
        r#"
page: {{ name: Agents, url: "http://127.0.0.1:8080", timezone: UTC }}
components:
  web: {{ name: Web }}
monitors:
  web-eu:
    component: web
    http: {{ url: "http://127.0.0.1:{target}/health", headers: {{ Authorization: "Bearer target-secret" }} }}
    interval: 2s
    timeout: 1s
    locations: [server, eu-1]
  web-us:
    component: web
    http: {{ url: "http://127.0.0.1:{target}/us" }}
    interval: 2s
    locations: [us-1]
{extra}"#
    )
}

pub(crate) fn agent_token(db: &str, name: &str) -> String {
    let out = upkeep(&[
        "token",
        "create",
        "--role",
        "agent",
        "--name",
        name,
        "--database",
        db,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// One number from the database (read-only, beside the running server).
fn count(db: &str, sql: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("{db}?mode=ro");
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    })
}

/// An HTTP exchange: status line code and body.
pub(crate) fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
    extra: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // A body over the limit may be refused before it is all read.
    let _ = s.write_all(body.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// A running `upkeep agent`, killed on drop.
pub(crate) struct Agent {
    child: Child,
}

impl Agent {
    fn start(server: &str, token: &str, location: &str, dir: &Path) -> Agent {
        Agent::start_in(None, server, token, location, dir)
    }

    /// [`Agent::start`] on a test host: in network namespace `namespace` when given.
    pub(crate) fn start_in(
        namespace: Option<&str>,
        server: &str,
        token: &str,
        location: &str,
        dir: &Path,
    ) -> Agent {
        let mut command = match namespace {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, BIN]);
                c
            }
            None => Command::new(BIN),
        };
        let mut child = command
            .args([
                "agent",
                "--server",
                &format!("http://{server}"),
                "--location",
                location,
            ])
            .arg("--data-dir")
            .arg(dir)
            .env("UPKEEP_AGENT_TOKEN", token)
            .env("UPKEEP_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("agent: {line}");
            }
        });
        Agent { child }
    }

    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the agent did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until `check` holds, or fails naming `what`.
pub(crate) fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn batch_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("batch-"))
                .collect()
        })
        .unwrap_or_default()
}

/// `select` over the results from location eu-1 that pass `filter`: queued (`agent_results`)
/// or already taken by the monitors' writer into the results (`check_results`, with their
/// location), read in one statement.
fn eu(select: &str, filter: &str) -> String {
    format!(
        "{select} FROM (SELECT monitor_id, at FROM agent_results WHERE location = 'eu-1' \
         UNION ALL SELECT monitor_id, at FROM check_results WHERE location = 'eu-1') r \
         WHERE {filter}"
    )
}

/// How many results came from eu-1, and how many distinct (monitor, instant) among them.
fn eu_counts(db: &str) -> (i64, i64) {
    (
        count(db, &eu("SELECT COUNT(*)", "1 = 1")),
        count(
            db,
            &eu("SELECT COUNT(DISTINCT monitor_id || '@' || at)", "1 = 1"),
        ),
    )
}

fn now_rfc3339(offset_ms: i64) -> String {
    let ms = jiff::Timestamp::now().as_millisecond() + offset_ms;
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

fn batch(seq: u64, monitor: &str, at: &str) -> String {
    json!({
        "seq": seq, "sent_at": now_rfc3339(0), "location": "eu-1", "version": "test",
        "results": [{"monitor": monitor, "at": at, "ok": true, "latency_ms": 5, "status_code": 200, "failure": null}]
    })
    .to_string()
}

#[test]
fn batches_are_stored_once_and_every_refusal_stores_nothing() {
    let port = target();
    let ws = Workspace::with_config(&config(port, ""));
    let admin = admin_token(&ws.db);
    let token = agent_token(&ws.db, "probe-eu");
    // An agent is known by its token's name: a second valid agent token may not take it.
    let out = upkeep(&[
        "token",
        "create",
        "--role",
        "agent",
        "--name",
        "probe-eu",
        "--database",
        &ws.db,
    ]);
    assert!(!out.status.success());
    let server = Server::start(&["--config", &ws.config], &ws.db);
    let addr = server.addr.clone();

    // Assignments: agent tokens only (they carry secrets); the location's monitors only.
    let path = "/api/v1/agent/assignments?location=eu-1";
    let (code, _) = call(&addr, "GET", path, &admin, "", "");
    assert_eq!(code, 403);
    let (code, body) = call(&addr, "GET", path, &token, "", "");
    assert_eq!(code, 200, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = view["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["web-eu"]);
    assert!(
        view["monitors"][0]["definition"]
            .as_str()
            .unwrap()
            .contains("target-secret")
    );
    let etag = view["etag"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (code, _) = call(
        &addr,
        "GET",
        &format!("{path}&wait=1"),
        &token,
        "",
        &format!("if-none-match: {etag}\r\n"),
    );
    assert_eq!(code, 304);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let (code, _) = call(
        &addr,
        "GET",
        "/api/v1/agent/assignments?location=server",
        &token,
        "",
        "",
    );
    assert_eq!(code, 422);
    // A token serves the location it was first used for: another one's secrets are not its.
    let (code, answer) = call(
        &addr,
        "GET",
        "/api/v1/agent/assignments?location=us-1",
        &token,
        "",
        "",
    );
    assert_eq!(code, 403, "{answer}");
    assert!(answer.contains("serves location `eu-1`"), "{answer}");
    let as_us = json!({
        "seq": 7, "sent_at": now_rfc3339(0), "location": "us-1", "version": "test",
        "results": [{"monitor": "web-us", "at": now_rfc3339(-1_000), "ok": false, "latency_ms": 5, "status_code": 500, "failure": "forged"}]
    })
    .to_string();
    let (code, answer) = call(&addr, "POST", "/api/v1/agent/results", &token, &as_us, "");
    assert_eq!(code, 403, "{answer}");
    assert_eq!(
        count(&ws.db, "SELECT COUNT(*) FROM agent_batches"),
        0,
        "nothing stored"
    );
    // An agent token reads nothing else.
    let (code, _) = call(&addr, "GET", "/api/v1/monitors", &token, "", "");
    assert_eq!(code, 403);

    // A batch, then the same batch again: stored once, the second answer says so.
    let results = "/api/v1/agent/results";
    let one = batch(1, "web-eu", &now_rfc3339(-1_000));
    let (code, body) = call(&addr, "POST", results, &token, &one, "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["outcome"],
        "stored"
    );
    let (code, body) = call(&addr, "POST", results, &token, &one, "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["outcome"],
        "duplicate"
    );
    assert_eq!(eu_counts(&ws.db).0, 1);

    // Refusals: each a problem+json 4xx, nothing stored.
    let far_future = now_rfc3339(10 * 60_000);
    let too_old = now_rfc3339(-25 * 3_600_000);
    let mut bad_status: Value = serde_json::from_str(&batch(7, "web-eu", &now_rfc3339(0))).unwrap();
    bad_status["results"][0]["status_code"] = json!(1000);
    let mut bad_latency: Value =
        serde_json::from_str(&batch(8, "web-eu", &now_rfc3339(0))).unwrap();
    bad_latency["results"][0]["latency_ms"] = json!(-5);
    let forged = json!({"seq": 9, "sent_at": now_rfc3339(0), "location": "eu-1", "version": "x",
        "results": [], "admin": true})
    .to_string();
    let big = format!(
        "{{\"seq\":10,\"sent_at\":\"{}\",\"location\":\"eu-1\",\"version\":\"x\",\"results\":[],\"pad\":\"{}\"}}",
        now_rfc3339(0),
        "x".repeat(1024 * 1024)
    );
    let cases: Vec<(&str, String, u16)> = vec![
        ("unassigned monitor", batch(2, "web-us", &now_rfc3339(0)), 422),
        ("unknown monitor", batch(3, "nope", &now_rfc3339(0)), 422),
        ("far future", batch(4, "web-eu", &far_future), 422),
        ("older than the buffer", batch(5, "web-eu", &too_old), 422),
        ("malformed", "{\"seq\": 6, ".to_owned(), 400),
        ("bad status code", bad_status.to_string(), 422),
        ("negative latency", bad_latency.to_string(), 400),
        ("unknown field", forged, 400),
        ("oversized", big, 413),
        ("too many results", json!({"seq": 13, "sent_at": now_rfc3339(0), "location": "eu-1", "version": "x",
            "results": vec![json!({"monitor": "web-eu", "at": now_rfc3339(0), "ok": true, "latency_ms": 1}); 2001]}).to_string(), 422),
    ];
    for (what, body, status) in cases {
        let (code, answer) = call(&addr, "POST", results, &token, &body, "");
        assert_eq!(code, status, "{what}: {answer}");
        let problem: Value =
            serde_json::from_str(&answer).unwrap_or_else(|_| panic!("{what}: {answer}"));
        assert_eq!(problem["status"], status, "{what}");
    }
    let (code, answer) = call(
        &addr,
        "POST",
        results,
        &token,
        &batch(2, "web-us", &now_rfc3339(0)),
        "",
    );
    assert_eq!(code, 422);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["unassigned"],
        json!(["web-us"])
    );
    // Other roles may not post results.
    let (code, _) = call(
        &addr,
        "POST",
        results,
        &admin,
        &batch(11, "web-eu", &now_rfc3339(0)),
        "",
    );
    assert_eq!(code, 403);
    assert_eq!(eu_counts(&ws.db).0, 1);
    assert_eq!(count(&ws.db, "SELECT COUNT(*) FROM agent_batches"), 1);

    // The agent as viewers see it.
    let (code, body) = call(&addr, "GET", "/api/v1/agents", &admin, "", "");
    assert_eq!(code, 200, "{body}");
    let agents: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(agents[0]["name"], "probe-eu");
    assert_eq!(agents[0]["location"], "eu-1");
    assert_eq!(agents[0]["version"], "test");
    assert_eq!(agents[0]["state"], "ok");

    // A revoked token: 401, nothing stored.
    let id = text(&upkeep(&["token", "list", "--database", &ws.db]).stdout)
        .lines()
        .find(|l| l.ends_with("probe-eu"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(
        upkeep(&["token", "revoke", &id, "--database", &ws.db])
            .status
            .success()
    );
    let (code, _) = call(
        &addr,
        "POST",
        results,
        &token,
        &batch(12, "web-eu", &now_rfc3339(0)),
        "",
    );
    assert_eq!(code, 401);
    assert_eq!(eu_counts(&ws.db).0, 1);
    // An agent started with it says so and stops with status 2.
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&addr, &token, "eu-1", dir.path());
    assert_eq!(agent.wait_exit(Duration::from_secs(15)), Some(2));
}

#[test]
fn the_buffer_carries_results_over_an_outage_and_a_kill_9() {
    let port = target();
    let ws = Workspace::with_config(&config(port, ""));
    let token = agent_token(&ws.db, "probe-eu");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = Server::start_on(&listen, &["--config", &ws.config], &ws.db);
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("buffer");
    let mut agent = Agent::start(&listen, &token, "eu-1", &buffer);
    eventually(Duration::from_secs(20), "the agent's first results", || {
        count(&ws.db, &eu("SELECT COUNT(*)", "monitor_id = 'web-eu'")) >= 2
    });

    // The server stops for 20 s; the agent keeps probing into its buffer.
    server.signal("TERM");
    assert_eq!(server.wait_exit(), Some(0));
    let before = eu_counts(&ws.db).0;
    std::thread::sleep(Duration::from_secs(20));
    let waiting = batch_files(&buffer);
    assert!(
        waiting.len() >= 5,
        "buffered while the server was down: {waiting:?}"
    );
    let server = Server::start_on(&listen, &["--config", &ws.config], &ws.db);
    eventually(Duration::from_secs(60), "the buffer to be sent", || {
        waiting.iter().all(|f| !buffer.join(f).exists())
    });
    let after = eu_counts(&ws.db).0;
    // 20 s at a 2 s interval: about ten results buffered, all of them arrived.
    assert!(after - before >= 9, "{before} → {after}");
    let (all, distinct) = eu_counts(&ws.db);
    assert_eq!(distinct, all, "a result stored twice");

    // The server stops again; the agent is killed with SIGKILL while it buffers.
    drop(server);
    std::thread::sleep(Duration::from_secs(6));
    agent.kill9();
    let left = batch_files(&buffer);
    assert!(!left.is_empty());
    for f in &left {
        let stored: Value = serde_json::from_slice(&std::fs::read(buffer.join(f)).unwrap())
            .unwrap_or_else(|e| panic!("{f} is not whole: {e}"));
        assert!(!stored["results"].as_array().unwrap().is_empty(), "{f}");
    }
    let before = eu_counts(&ws.db).0;
    let _server = Server::start_on(&listen, &["--config", &ws.config], &ws.db);
    let _agent = Agent::start(&listen, &token, "eu-1", &buffer);
    eventually(
        Duration::from_secs(60),
        "the buffer left by the killed agent to be sent",
        || left.iter().all(|f| !buffer.join(f).exists()),
    );
    let buffered: i64 = left
        .iter()
        .filter_map(|f| {
            f.trim_end_matches(".json")
                .rsplit('-')
                .next()?
                .parse::<i64>()
                .ok()
        })
        .sum();
    assert!(eu_counts(&ws.db).0 - before >= buffered);
    let (all, distinct) = eu_counts(&ws.db);
    assert_eq!(distinct, all, "a result stored twice");
    // Results are probed at the monitor's rounds (every 2 s from a phase fixed by its id, the
    // same on the server): each `at` falls within its round's first second.
    let phase = upkeep_domain::rounds::phase_ms("web-eu", Duration::from_secs(2));
    let late = count(
        &ws.db,
        &eu(
            "SELECT COUNT(*)",
            &format!("monitor_id = 'web-eu' AND ((at - {phase}) % 2000 + 2000) % 2000 >= 1000"),
        ),
    );
    assert_eq!(late, 0);
}

#[test]
fn a_reload_reaches_the_agent_within_seconds_and_a_silent_agent_is_flagged() {
    let port = target();
    let ws = Workspace::with_config(&config(port, ""));
    let admin = admin_token(&ws.db);
    let token = agent_token(&ws.db, "probe-eu");
    let server = Server::start(&["--config", &ws.config], &ws.db);
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&server.addr, &token, "eu-1", dir.path());
    eventually(Duration::from_secs(20), "the agent's first results", || {
        count(&ws.db, &eu("SELECT COUNT(*)", "monitor_id = 'web-eu'")) >= 1
    });
    let added = "  web-new:\n    component: web\n    tcp: { address: \"127.0.0.1:PORT\" }\n    interval: 2s\n    locations: [eu-1]\n"
        .replace("PORT", &port.to_string());
    let yaml = config(port, "").replace("  web-us:", &format!("{added}  web-us:"));
    ws.write_config(&yaml);
    let reloaded = Instant::now();
    server.signal("HUP");
    eventually(
        Duration::from_secs(15),
        "results of the monitor added by the reload",
        || count(&ws.db, &eu("SELECT COUNT(*)", "monitor_id = 'web-new'")) >= 1,
    );
    // The long poll answered at once: the new monitor's first round came within its interval.
    assert!(
        reloaded.elapsed() < Duration::from_secs(8),
        "{:?}",
        reloaded.elapsed()
    );

    // The agent stops: after three heartbeats (30 s) the watch records a warning.
    agent.kill9();
    let flagged = "SELECT COUNT(*) FROM monitor_events WHERE source = 'agent:probe-eu' AND to_status = 'warning'";
    eventually(Duration::from_secs(60), "the silent agent flagged", || {
        count(&ws.db, flagged) == 1
    });
    let (_, body) = call(&server.addr, "GET", "/api/v1/agents", &admin, "", "");
    let agents: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(agents[0]["state"], "warning", "{body}");
    assert!(
        agents[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not heard from"),
        "{body}"
    );
    // Back: `ok` again.
    let _agent = Agent::start(&server.addr, &token, "eu-1", dir.path());
    let back =
        "SELECT COUNT(*) FROM monitor_events WHERE source = 'agent:probe-eu' AND to_status = 'ok'";
    eventually(Duration::from_secs(30), "the agent back", || {
        count(&ws.db, back) == 1
    });
}

/// One exchange with `server` for a request read from an agent: sent with `connection: close`,
/// the whole answer read back.
fn forward(server: &str, request: &[u8]) -> Vec<u8> {
    let line_end = request
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(request.len());
    let mut sent = request[..line_end + 2].to_vec();
    sent.extend_from_slice(b"connection: close\r\n");
    sent.extend_from_slice(&request[line_end + 2..]);
    let mut up = TcpStream::connect(server).unwrap();
    up.write_all(&sent).unwrap();
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    answer
}

/// One HTTP/1.1 request read from `s` (its head and its `content-length` body).
fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
        request.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
        request.extend_from_slice(&buf[..n]);
    }
    Some(request)
}

/// What a [`LosingProxy`] saw of the agent's batches: each body, and the status the agent got
/// (0: the answer was lost).
type Posts = std::sync::Arc<std::sync::Mutex<Vec<(Value, u16)>>>;

/// A proxy between an agent and the server that loses the answer to the agent's first batch
/// (the server stores it; the agent sees the connection drop) and holds the agent's first
/// request for assignments (which tells it that the server takes rounds) until then. The
/// agent retries that batch once it knows: with its rounds, where its first post had none.
struct LosingProxy {
    addr: String,
    posts: Posts,
}

impl LosingProxy {
    fn start(server: &str) -> LosingProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let posts: Posts = Arc::default();
        let first_lost = Arc::new(AtomicBool::new(false));
        let told: Arc<Mutex<Option<Instant>>> = Arc::default();
        let server = server.to_owned();
        let seen = Arc::clone(&posts);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let (server, seen, first_lost, told) = (
                    server.clone(),
                    Arc::clone(&seen),
                    Arc::clone(&first_lost),
                    Arc::clone(&told),
                );
                std::thread::spawn(move || {
                    let Some(request) = read_request(&mut client) else {
                        return;
                    };
                    let path = String::from_utf8_lossy(&request)
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    if path.starts_with("/api/v1/agent/assignments") {
                        while !first_lost.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        let answer = forward(&server, &request);
                        let _ = client.write_all(&answer);
                        let mut told = told.lock().unwrap();
                        if told.is_none() && answer.starts_with(b"HTTP/1.1 200") {
                            *told = Some(Instant::now());
                        }
                        return;
                    }
                    let start = request
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(request.len(), |at| at + 4);
                    let body: Value = serde_json::from_slice(&request[start..]).unwrap_or_default();
                    if !first_lost.load(Ordering::SeqCst) {
                        // Stored by the server; the agent never hears it.
                        forward(&server, &request);
                        seen.lock().unwrap().push((body, 0));
                        first_lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // Until the agent has taken in the assignments: come back later.
                    let known = told
                        .lock()
                        .unwrap()
                        .is_some_and(|at| at.elapsed() > Duration::from_millis(300));
                    let answer = if known {
                        forward(&server, &request)
                    } else {
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
                    };
                    let status = String::from_utf8_lossy(&answer)
                        .split_whitespace()
                        .nth(1)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    seen.lock().unwrap().push((body, status));
                    let _ = client.write_all(&answer);
                });
            }
        });
        LosingProxy { addr, posts }
    }

    /// The statuses the agent got for the batches holding a result of `monitor` at `at`.
    fn answers_holding(&self, monitor: &str, at: jiff::Timestamp) -> Vec<(u16, bool)> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(body, status)| {
                let result = body["results"].as_array()?.iter().find(|r| {
                    r["monitor"] == monitor
                        && r["at"].as_str().and_then(|a| a.parse().ok()) == Some(at)
                })?;
                Some((*status, !result["round"].is_null()))
            })
            .collect()
    }
}

#[test]
fn a_batch_retried_after_a_lost_answer_is_stored_once() {
    use upkeep_domain::agent::AgentResult;
    use upkeep_engine::agent::buffer::Buffer;

    let port = target();
    let ws = Workspace::with_config(&config(port, ""));
    let token = agent_token(&ws.db, "probe-eu");
    let server = Server::start(&["--config", &ws.config], &ws.db);
    let proxy = LosingProxy::start(&server.addr);

    // A batch waiting in the agent's buffer: one result, claiming its round.
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    let at = jiff::Timestamp::from_millisecond(now.as_millisecond() - 1_000).unwrap();
    let round = upkeep_domain::rounds::round_start("web-eu", Duration::from_secs(2), at);
    let micros = u64::try_from(now.as_microsecond()).unwrap();
    let mut buffer = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), micros).unwrap();
    buffer
        .seal(
            "eu-1",
            vec![AgentResult {
                monitor: "web-eu".into(),
                at,
                ok: true,
                latency_ms: 4,
                status_code: Some(200),
                failure: None,
                round: Some(round),
            }],
        )
        .unwrap();
    drop(buffer);

    let _agent = Agent::start(&proxy.addr, &token, "eu-1", dir.path());
    eventually(
        Duration::from_secs(30),
        "an answer reaching the agent for a post of the batch",
        || {
            proxy
                .answers_holding("web-eu", at)
                .iter()
                .any(|(status, _)| (200..300).contains(status))
        },
    );
    let answers = proxy.answers_holding("web-eu", at);
    // Its first post went without rounds (the agent did not know yet) and its answer was
    // lost; the retry carried them.
    assert_eq!(answers.first(), Some(&(0, false)), "{answers:?}");
    assert!(answers.iter().any(|&(_, rounds)| rounds), "{answers:?}");
    assert!(
        answers.iter().all(|&(status, _)| status != 409),
        "the retry was taken for another batch: {answers:?}"
    );
    // Stored once: queued or judged, one row of that probe from eu-1.
    let ms = at.as_millisecond();
    let stored = || {
        count(
            &ws.db,
            &eu(
                "SELECT COUNT(*)",
                &format!("monitor_id = 'web-eu' AND at = {ms}"),
            ),
        )
    };
    assert_eq!(stored(), 1);
    // And stays so: nothing of it is still waiting to be sent again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(stored(), 1);
    let (all, distinct) = eu_counts(&ws.db);
    assert_eq!(distinct, all, "a result stored twice");
}
