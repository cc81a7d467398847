//! Monitoring end to end: a real `upkeep serve` probes a real local HTTP target and a closed
//! TCP port, scrapes a real `/metrics`, and reports through the admin API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Server, admin_token};

/// A tiny HTTP target: `/health` answers `status` with `{"status":"ok"}` (or "degraded" when
/// not 200); `/metrics` exposes `cpu_usage` set by the test.
struct Target {
    port: u16,
    status: Arc<AtomicU16>,
    cpu: Arc<AtomicU32>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(200));
        let cpu = Arc::new(AtomicU32::new(50));
        let (s, c) = (status.clone(), cpu.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (s, c) = (s.clone(), c.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]);
                    let (code, body) = if req.starts_with("GET /metrics") {
                        (
                            200,
                            format!(
                                "# TYPE cpu_usage gauge\ncpu_usage {}\n",
                                c.load(Ordering::SeqCst)
                            ),
                        )
                    } else {
                        let code = s.load(Ordering::SeqCst);
                        let word = if code == 200 { "ok" } else { "degraded" };
                        (code, format!("{{\"status\":\"{word}\"}}"))
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Target { port, status, cpu }
    }
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn json(server: &Server, path: &str, token: &str) -> Value {
    let answer = server.get(path, Some(token));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {answer}"))
}

fn post(server: &Server, path: &str, token: &str) -> String {
    server.request(&format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ))
}

/// Polls `check` until it returns `Some`, for at most 20 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn monitor<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap()
}

#[test]
fn monitors_rules_and_component_status_work_end_to_end() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let config = dir.path().join("upkeep.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
page: {{ name: Test, url: "http://127.0.0.1:8080", timezone: UTC }}
components:
  api: {{ name: Public API, group: Platform }}
  db: {{ name: Database, group: Platform }}
monitors:
  api-health:
    component: api
    http: {{ url: "http://127.0.0.1:{port}/health" }}
    interval: 1s
    timeout: 1s
    conditions: ["[STATUS] == 200", "[BODY].status == ok"]
    failure_threshold: 2
    recovery_threshold: 1
  db-port:
    component: db
    tcp: {{ address: "127.0.0.1:{closed}" }}
    interval: 1s
    timeout: 1s
    failure_threshold: 1
  nightly:
    component: db
    push: {{ key: nightly-key, period: 3s, grace: 1s }}
rules:
  - name: HighCPUUsage
    scrape: "http://127.0.0.1:{port}/metrics"
    interval: 1s
    expr: cpu_usage > 80
    for: 0s
    severity: warning
    component: api
"#,
            port = target.port,
            closed = closed_port()
        ),
    )
    .unwrap();
    let token = admin_token(&db);
    let server = Server::start(&["--config", config.to_str().unwrap()], &db);

    // The healthy target is up; the closed port is down.
    eventually("api-health up and db-port down", || {
        let list = json(&server, "/api/v1/monitors", &token);
        (monitor(&list, "api-health")["status"] == "up"
            && monitor(&list, "db-port")["status"] == "down")
            .then_some(())
    });
    let db_port = json(&server, "/api/v1/monitors/db-port", &token);
    let failure = db_port["last_result"]["failure"].as_str().unwrap();
    assert!(failure.contains("refused"), "{failure}");
    let components = json(&server, "/api/v1/components", &token);
    let by_id = |id: &str| {
        components
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("api")["status"], "operational");
    assert_eq!(by_id("db")["status"], "major_outage");

    // The target fails: after two failures the monitor is down, with the reason.
    target.status.store(503, Ordering::SeqCst);
    let down = eventually("api-health down", || {
        let m = json(&server, "/api/v1/monitors/api-health", &token);
        (m["status"] == "down").then_some(m)
    });
    let reason = down["last_result"]["failure"].as_str().unwrap();
    assert!(reason.contains("503"), "{reason}");
    assert_eq!(down["last_result"]["status_code"], 503);
    // The live status leads; its event is stored with the next flush of results.
    eventually("the up -> down event stored", || {
        let events = json(&server, "/api/v1/monitors/api-health/events", &token);
        let first = &events.as_array().unwrap()[0];
        (first["from"] == "up" && first["to"] == "down").then_some(())
    });

    // It recovers; then the CPU rule fires and degrades the component.
    target.status.store(200, Ordering::SeqCst);
    target.cpu.store(93, Ordering::SeqCst);
    eventually("recovery and the rule firing", || {
        let comps = json(&server, "/api/v1/components", &token);
        let api = comps
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "api")
            .unwrap()
            .clone();
        (api["status"] == "degraded_performance").then_some(())
    });
    let rules = json(&server, "/api/v1/rules", &token);
    assert_eq!(rules[0]["state"], "firing");
    assert_eq!(rules[0]["last_value"], 93.0);
    assert_eq!(rules[0]["last_detail"], "cpu_usage = 93 (cpu_usage > 80)");

    // Results and uptime come from the database.
    let results = json(
        &server,
        "/api/v1/monitors/api-health/results?limit=5",
        &token,
    );
    assert!(!results.as_array().unwrap().is_empty());
    let m = json(&server, "/api/v1/monitors/api-health", &token);
    let uptime: f64 = m["uptime"]["24h"].as_str().unwrap().parse().unwrap();
    assert!(
        uptime > 0.0 && uptime < 100.0,
        "some checks failed: {uptime}"
    );

    // Pause and resume, audited.
    let paused = post(&server, "/api/v1/monitors/api-health/pause", &token);
    assert!(
        paused.starts_with("HTTP/1.1 200") && paused.contains("\"status\":\"paused\""),
        "{paused}"
    );
    let resumed = post(&server, "/api/v1/monitors/api-health/resume", &token);
    assert!(resumed.starts_with("HTTP/1.1 200"), "{resumed}");
    let audit = server.get("/api/v1/audit", Some(&token));
    assert!(
        audit.contains("monitor.pause") && audit.contains("monitor.resume"),
        "{audit}"
    );
    let missing = post(&server, "/api/v1/monitors/nope/pause", &token);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[test]
fn a_push_monitor_is_up_while_pings_arrive_and_down_when_they_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let config = dir.path().join("upkeep.yaml");
    std::fs::write(
        &config,
        r#"
page: { name: Test, url: "http://127.0.0.1:8080", timezone: UTC }
components:
  jobs: { name: Jobs }
monitors:
  nightly:
    component: jobs
    push: { key: nightly-key, period: 2s, grace: 1s }
"#,
    )
    .unwrap();
    let token = admin_token(&db);
    let server = Server::start(&["--config", config.to_str().unwrap()], &db);
    let status = || {
        json(&server, "/api/v1/monitors/nightly", &token)["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status(), "pending", "never pinged and not yet due");

    // Pings keep it up.
    let started = Instant::now();
    eventually("up while pinging", || {
        let ping = server.get("/ping/nightly-key", None);
        assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
        (status() == "up").then_some(())
    });
    // Silence: down after period + grace, with the reason.
    let down = eventually("down after the pings stop", || {
        let m = json(&server, "/api/v1/monitors/nightly", &token);
        (m["status"] == "down").then_some(m)
    });
    let reason = down["last_result"]["failure"].as_str().unwrap();
    assert!(
        reason.starts_with("no ping since it was due at"),
        "{reason}"
    );
    assert!(started.elapsed() >= Duration::from_secs(3));
    // A failure ping is down at once on the next judgement, whatever the schedule.
    let fail = server.get("/ping/nightly-key/fail", None);
    assert!(fail.starts_with("HTTP/1.1 200"), "{fail}");
    eventually("up again after successes", || {
        let ok = server.get("/ping/nightly-key", None);
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        (status() == "up").then_some(())
    });
    let events = json(&server, "/api/v1/monitors/nightly/events", &token);
    let transitions: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &transitions[..2],
        &[("pending", "up"), ("up", "down")],
        "{events}"
    );
}

/// Every ping body of `key` stored, in the inbox or moved.
fn stored_bodies(
    runtime: &tokio::runtime::Runtime,
    store: &upkeep_store::Store,
    key: &str,
) -> std::collections::HashSet<String> {
    let pings = runtime.block_on(store.recent_pings(key, 100_000)).unwrap();
    pings.into_iter().map(|p| p.body).collect()
}

/// A ping is acknowledged once durable, wherever it then is: `kill -9` right after a burst of
/// acknowledged pings (some still in the ping inbox, not yet moved into the indexed table)
/// loses none, and the next server moves what the killed one left in the inbox.
#[test]
fn acknowledged_pings_survive_kill_9_in_the_inbox() {
    for (url, db) in crate::cli::database_urls("acknowledged_pings_survive_kill_9_in_the_inbox") {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("upkeep.yaml");
        std::fs::write(
            &config,
            r#"
page: { name: Test, url: "http://127.0.0.1:8080", timezone: UTC }
components:
  jobs: { name: Jobs }
monitors:
  job:
    component: jobs
    push: { key: job-key, period: 1h, grace: 1h }
"#,
        )
        .unwrap();
        let args = ["--config", config.to_str().unwrap()];
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut acked: Vec<String> = Vec::new();
        let mut caught_in_inbox = 0;
        let mut store = None;
        for round in 0..5 {
            let mut server = Server::start(&args, &url);
            let store = store.get_or_insert_with(|| {
                runtime
                    .block_on(upkeep_store::Store::connect(&url, &Default::default()))
                    .unwrap()
            });
            // What the killed server left in the inbox is moved by the next one.
            eventually("the inbox moved at start", || {
                let left = runtime
                    .block_on(upkeep_store::testing::ping_inbox_len(store))
                    .unwrap();
                (left == 0).then_some(())
            });
            for i in 0..100 {
                let body = format!("round {round} ping {i}");
                let answer = server.request(&format!(
                    "POST /ping/job-key HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                ));
                if answer.starts_with("HTTP/1.1 200") {
                    acked.push(body);
                }
            }
            server.signal("KILL");
            server.wait_exit();
            let stored = stored_bodies(&runtime, store, "job-key");
            for body in &acked {
                assert!(
                    stored.contains(body),
                    "acknowledged, then lost: {body} ({url})"
                );
            }
            let in_inbox = runtime
                .block_on(upkeep_store::testing::ping_inbox_len(store))
                .unwrap();
            if in_inbox > 0 {
                caught_in_inbox = in_inbox;
                break;
            }
        }
        assert!(
            caught_in_inbox > 0,
            "no kill caught pings in the inbox ({url})"
        );
        assert!(acked.len() >= 100, "{} acknowledged", acked.len());
        let store = store.unwrap();
        let server = Server::start(&args, &url);
        eventually("the inbox moved after the restart", || {
            let left = runtime
                .block_on(upkeep_store::testing::ping_inbox_len(&store))
                .unwrap();
            (left == 0).then_some(())
        });
        let stored = stored_bodies(&runtime, &store, "job-key");
        assert!(acked.iter().all(|body| stored.contains(body)), "{url}");
        drop(server);
        runtime.block_on(store.close());
        runtime.block_on(db.cleanup());
    }
}
