//! upkeep's Alertmanager webhook (`POST /hooks/alertmanager`) against a real Alertmanager
//! (the Debian `prometheus-alertmanager` binary): a critical alert naming the component `api`
//! opens an automatic incident that marks the component as a partial outage, and when the alert
//! resolves, upkeep resolves that incident on its own. Skips loudly when the binary is absent
//! (see `upkeep_store::testing::peer`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, Workspace, admin_token, page_config};

const ALERTMANAGER: &str = "prometheus-alertmanager";

const CONFIG: &str = page_config!(
    r#"
components:
  api: { name: Public API }
  web: { name: Website }
"#
);

/// A running Alertmanager, killed on drop.
struct Alertmanager {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Alertmanager {
    /// Starts Alertmanager with its webhook pointed at upkeep, and waits until it is ready.
    fn start(dir: &Path, upkeep_addr: &str, token: &str) -> Alertmanager {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                r#"
route:
  receiver: upkeep
  group_by: [alertname, component]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: upkeep
    webhook_configs:
      - url: http://{upkeep_addr}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"#
            ),
        )
        .unwrap();
        let storage = dir.join("alertmanager-data");
        std::fs::create_dir_all(&storage).unwrap();
        let log = dir.join("alertmanager.log");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut am = Alertmanager { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = am.child.try_wait().unwrap() {
                panic!("alertmanager exited with {status}:\n{}", am.log());
            }
            if let Some(resp) = http(
                &am.addr,
                "GET /-/ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            ) && status(&resp) == 200
            {
                return am;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager not ready:\n{}",
                am.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /api/v2/alerts` with a JSON array of alerts.
    fn post_alerts(&self, alerts: &serde_json::Value) {
        let body = alerts.to_string();
        let resp = http(
            &self.addr,
            &format!(
                "POST /api/v2/alerts HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
        .expect("alertmanager did not answer");
        assert_eq!(status(&resp), 200, "{resp}\n{}", self.log());
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange with `connection: close`; `None` when nothing listens yet.
fn http(addr: &str, request: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    Some(out)
}

fn status(resp: &str) -> u16 {
    resp.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn incidents(server: &Server, token: &str) -> Vec<serde_json::Value> {
    let resp = server.get("/api/v1/incidents", Some(token));
    assert_eq!(status(&resp), 200, "{resp}");
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str::<serde_json::Value>(body)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn affects_api(incident: &serde_json::Value) -> bool {
    incident["components"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["id"] == "api"))
}

/// Polls upkeep's incidents every 200 ms until `done` holds, for at most 30 s.
fn wait_for(
    server: &Server,
    token: &str,
    am: &Alertmanager,
    what: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> (Vec<serde_json::Value>, Duration) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    loop {
        let list = incidents(server, token);
        if done(&list) {
            return (list, start.elapsed());
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; incidents: {list:#?}\nalertmanager log:\n{}",
            am.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[test]
fn a_real_alertmanager_opens_and_resolves_an_automatic_incident() {
    if upkeep_store::testing::peer::alertmanager().is_none() {
        return;
    }
    let ws = Workspace::with_config(CONFIG);
    let token = admin_token(&ws.db);
    let server = Server::start(&["--config", &ws.config], &ws.db);
    assert!(incidents(&server, &token).is_empty());

    let am = Alertmanager::start(ws.path(), &server.addr, &token);

    // The alert fires: Alertmanager notifies upkeep after group_wait (0 s).
    let now = jiff::Timestamp::now();
    let starts_at = rfc3339(now - jiff::SignedDuration::from_secs(60));
    let labels = serde_json::json!({
        "alertname": "ApiDown",
        "component": "api",
        "severity": "critical",
    });
    am.post_alerts(&serde_json::json!([{
        "labels": labels,
        "annotations": { "summary": "API is down" },
        "startsAt": starts_at,
    }]));
    let (list, opened_after) = wait_for(&server, &token, &am, "an open incident on `api`", |l| {
        l.iter()
            .any(|i| affects_api(i) && i["resolved_at"].is_null())
    });
    eprintln!("alertmanager: incident opened {opened_after:?} after the alert was posted");
    assert_eq!(list.len(), 1, "{list:#?}");
    let incident = &list[0];
    let id = incident["id"].as_str().unwrap().to_owned();
    assert_eq!(incident["auto"], true, "{incident:#}");
    assert_ne!(incident["status"], "resolved", "{incident:#}");
    assert_eq!(
        incident["components"],
        serde_json::json!([{ "id": "api", "status": "partial_outage" }]),
        "{incident:#}"
    );
    let title = incident["title"].as_str().unwrap();
    assert_eq!(title, "Public API is partially down");
    // The alert's name and annotations are the operator's, never public text.
    let first = incident["updates"].as_array().unwrap().last().unwrap();
    let body = first["body"].as_str().unwrap();
    assert!(
        body.starts_with("Public API is partially down.")
            && !body.contains("ApiDown")
            && !body.contains("API is down"),
        "{first:#}"
    );
    // Alertmanager's startsAt is kept as the incident's start.
    let started: jiff::Timestamp = incident["started_at"].as_str().unwrap().parse().unwrap();
    assert!(
        started
            .duration_since(now - jiff::SignedDuration::from_secs(60))
            .abs()
            .as_secs()
            < 2,
        "{incident:#}"
    );

    // The alert resolves: Alertmanager sends the resolved notification at the next
    // group_interval (send_resolved: true), and upkeep closes the incident it opened.
    let resolved_at = jiff::Timestamp::now();
    am.post_alerts(&serde_json::json!([{
        "labels": labels,
        "annotations": { "summary": "API is down" },
        "startsAt": starts_at,
        "endsAt": rfc3339(resolved_at - jiff::SignedDuration::from_secs(1)),
    }]));
    let (list, resolved_after) = wait_for(&server, &token, &am, "the incident resolved", |l| {
        l.iter()
            .any(|i| i["id"] == id.as_str() && !i["resolved_at"].is_null())
    });
    eprintln!("alertmanager: incident resolved {resolved_after:?} after the alert was resolved");
    assert_eq!(list.len(), 1, "a second incident appeared: {list:#?}");
    let incident = &list[0];
    assert_eq!(incident["status"], "resolved", "{incident:#}");
    let latest = &incident["updates"][0];
    assert!(
        latest["body"].as_str().unwrap() == "Recovered: an alert on Public API.",
        "{latest:#}"
    );
    assert_eq!(latest["created_by"], "system:alertmanager", "{latest:#}");
}
