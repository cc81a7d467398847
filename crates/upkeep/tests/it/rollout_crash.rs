//! Rollouts survive `kill -9`: the real binary, a real deploy script that records each run with
//! its idempotency key, a real HTTP target its gate probes, SQLite and PostgreSQL.
//!
//! - Killed during an action (`on_unknown: halt`): after the restart the action is not run again;
//!   the tenant is `halted` until an operator retries it, which runs attempt 2 (a new key).
//! - Killed during settling: after the restart the gate is judged and the rollout completes; the
//!   action ran once.
//! - Two PostgreSQL replicas, the driving one killed during an action (`on_unknown: retry`): the
//!   other takes the lease over and runs the attempt again with the same key, then completes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, admin_token};

/// A local HTTP target that always answers 200 (the tenant's service, healthy).
fn healthy_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    addr
}

struct Rig {
    dir: tempfile::TempDir,
    config: String,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let target = healthy_target();
        let config = dir.path().join("upkeep.yaml");
        std::fs::write(
            &config,
            format!(
                r#"
page: {{ name: Test Cloud, url: "http://127.0.0.1:8080", timezone: Europe/Rome }}
regions:
  eu: {{ timezone: Europe/Rome }}
tenants:
  acme: {{ name: Acme Corp, region: eu, vars: {{ host: acme.example }} }}
components:
  api: {{ name: API }}
monitors:
  api-health:
    component: api
    http: {{ url: "http://{target}/health" }}
    interval: 1s
    timeout: 1s
"#
            ),
        )
        .unwrap();
        Rig {
            config: config.to_str().unwrap().to_owned(),
            dir,
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("runs.log")
    }

    /// A deploy script that records `STEP KEY` and then takes `seconds`.
    fn script(&self, seconds: u32) -> String {
        let path = self.dir.path().join("deploy.sh");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"$UPKEEP_STEP $UPKEEP_IDEMPOTENCY_KEY $UPKEEP_VAR_HOST\" >> '{}'\nsleep {seconds}\n",
                self.log().display()
            ),
        )
        .unwrap();
        format!("sh '{}'", path.display())
    }

    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn serve(&self, db: &str) -> Server {
        Server::start(&["--config", &self.config], db)
    }
}

fn send(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let response = server.request(&format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// Schedules an emergency maintenance starting in two seconds whose rollout runs `command`.
fn schedule(server: &Server, token: &str, command: &str, settle: &str, on_unknown: &str) -> String {
    let now = jiff::Timestamp::now();
    let body = json!({
        "kind": "emergency",
        "reason": "CVE-2026-0001",
        "title": "Patch",
        "starts_at": (now + jiff::SignedDuration::from_secs(2)).to_string(),
        "ends_at": (now + jiff::SignedDuration::from_secs(1800)).to_string(),
        "components": ["api"],
        "tenants": ["acme"],
        "rollout": {
            "action": { "command": command, "timeout": "2m" },
            "settle": settle,
            "gate": { "monitors": ["api-health"], "min_samples": 1 },
            "on_unknown": on_unknown,
        },
    });
    let (status, created) = send(server, "POST", "/api/v1/maintenances", token, Some(&body));
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

fn rollout(server: &Server, token: &str, id: &str) -> Value {
    let (status, body) = send(
        server,
        "GET",
        &format!("/api/v1/maintenances/{id}/rollout"),
        token,
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the rollout (read through `server`) satisfies `done`.
fn wait_rollout(
    server: &Server,
    token: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = rollout(server, token, id);
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "rollout never {what}: {r:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tenant_state(r: &Value) -> &str {
    r["tenants"][0]["state"].as_str().unwrap_or("")
}

fn wait_runs(rig: &Rig, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig.runs().len() < n {
        assert!(
            Instant::now() < deadline,
            "the script ran {} times",
            rig.runs().len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The databases these tests run on: SQLite, and PostgreSQL when configured.
fn databases(test: &str) -> Vec<(String, Option<upkeep_store::testing::TestDatabase>)> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut all = vec![(String::new(), None)];
    if let Some(url) = upkeep_store::testing::postgres_url(test) {
        let pg = runtime.block_on(upkeep_store::testing::TestDatabase::postgres(&url));
        all.push((pg.url.clone(), Some(pg)));
    }
    all
}

fn cleanup(pg: Option<upkeep_store::testing::TestDatabase>) {
    if let Some(pg) = pg {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(pg.cleanup());
    }
}

#[test]
fn killed_during_an_action_the_step_is_not_run_again_until_an_operator_retries() {
    for (url, pg) in databases("rollout_killed_during_an_action") {
        let rig = Rig::new();
        let db = if url.is_empty() {
            format!("sqlite://{}", rig.dir.path().join("upkeep.db").display())
        } else {
            url.clone()
        };
        let token = admin_token(&db);
        let mut server = rig.serve(&db);
        let id = schedule(&server, &token, &rig.script(5), "2s", "halt");
        wait_runs(&rig, 1);
        server.signal("KILL");
        server.wait_exit();
        drop(server);

        let server = rig.serve(&db);
        let r = wait_rollout(&server, &token, &id, "halted", |r| {
            tenant_state(r) == "halted"
        });
        assert_eq!(r["state"], "halted", "{r:#}");
        std::thread::sleep(Duration::from_secs(6));
        assert_eq!(
            rig.runs().len(),
            1,
            "the action ran again: {:?}",
            rig.runs()
        );
        let attempts = &r["tenants"][0]["attempts"];
        assert_eq!(attempts[0]["outcome"], "unknown", "{r:#}");

        let (status, body) = send(
            &server,
            "POST",
            &format!("/api/v1/maintenances/{id}/rollout/tenants/acme/retry"),
            &token,
            None,
        );
        assert_eq!(status, 200, "{body}");
        let r = wait_rollout(&server, &token, &id, "completed", |r| {
            r["state"] == "completed"
        });
        assert_eq!(tenant_state(&r), "passed", "{r:#}");
        let runs = rig.runs();
        assert_eq!(
            runs,
            vec![
                format!("action {id}.acme.action.1 acme.example"),
                format!("action {id}.acme.action.2 acme.example"),
            ]
        );
        drop(server);
        cleanup(pg);
    }
}

#[test]
fn killed_while_settling_the_rollout_resumes_and_completes_without_repeating_the_action() {
    for (url, pg) in databases("rollout_killed_while_settling") {
        let rig = Rig::new();
        let db = if url.is_empty() {
            format!("sqlite://{}", rig.dir.path().join("upkeep.db").display())
        } else {
            url.clone()
        };
        let token = admin_token(&db);
        let mut server = rig.serve(&db);
        let id = schedule(&server, &token, &rig.script(0), "20s", "halt");
        wait_rollout(&server, &token, &id, "settling", |r| {
            tenant_state(r) == "settling"
        });
        server.signal("KILL");
        server.wait_exit();
        drop(server);

        let server = rig.serve(&db);
        let r = wait_rollout(&server, &token, &id, "completed", |r| {
            r["state"] == "completed"
        });
        assert_eq!(tenant_state(&r), "passed", "{r:#}");
        assert_eq!(
            rig.runs(),
            vec![format!("action {id}.acme.action.1 acme.example")]
        );
        drop(server);
        cleanup(pg);
    }
}

#[test]
fn the_driving_postgres_replica_killed_mid_action_the_other_finishes_with_the_same_key() {
    let Some(url) = upkeep_store::testing::postgres_url("rollout_replica_killed") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pg = runtime.block_on(upkeep_store::testing::TestDatabase::postgres(&url));
    let rig = Rig::new();
    let token = admin_token(&pg.url);
    let mut first = rig.serve(&pg.url);
    let second = rig.serve(&pg.url);
    let id = schedule(&first, &token, &rig.script(5), "2s", "retry");
    wait_runs(&rig, 1);
    // The first replica started first and holds the lease: it drives the rollout.
    first.signal("KILL");
    first.wait_exit();
    drop(first);
    let r = wait_rollout(&second, &token, &id, "completed", |r| {
        r["state"] == "completed"
    });
    assert_eq!(tenant_state(&r), "passed", "{r:#}");
    let key = format!("action {id}.acme.action.1 acme.example");
    assert_eq!(
        rig.runs(),
        vec![key.clone(), key],
        "run again with the same key"
    );
    assert_eq!(r["tenants"][0]["attempts"][0]["runs"], 2, "{r:#}");
    drop(second);
    runtime.block_on(pg.cleanup());
}
