//! Notifications through a real `upkeep serve`, with real receivers:
//! - a customer subscribes with the public form's JSON, gets the confirmation mail from a real
//!   SMTP server (aiosmtpd, `scripts/smtp_sink.py`), receives nothing before confirming,
//!   confirms through the link, then gets the incident and maintenance mails (the maintenance
//!   in their tenant's zone with their own slot), and a one-click unsubscribe (RFC 8058) stops
//!   them;
//! - `kill -9` while hundreds of webhook deliveries are in flight, then a restart: every
//!   delivery id stored as sent reached the receiver, none was lost; duplicates are counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::receiver;
use crate::support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use receiver::{Answer, Receiver};
use support::{Server, admin_token, repo_file};

/// The SMTP sink, killed on drop.
pub(crate) struct Smtp {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    /// The sink, or `None` when the test is skipped for want of aiosmtpd.
    pub(crate) fn start(dir: &Path) -> Option<Smtp> {
        let python = upkeep_store::testing::peer::python(&["aiosmtpd"])?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        let mut child = Command::new(&python)
            .arg(repo_file("scripts/smtp_sink.py"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(&mail)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python runs the SMTP sink");
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0_u8; 6];
        std::io::Read::read_exact(&mut out, &mut buf).expect("the SMTP sink did not start");
        assert_eq!(&buf, b"ready\n");
        Some(Smtp {
            child,
            port,
            dir: mail,
        })
    }

    /// The raw messages received so far, in order.
    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.ok()?.path();
                let n = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "eml").then_some((n, p))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| std::fs::read(p).unwrap())
            .collect()
    }

    /// Waits until `n` messages arrived; returns them all.
    pub(crate) fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} mails arrived",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub(crate) struct Mail {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
    pub(crate) headers: HashMap<String, String>,
}

pub(crate) fn parse_mail(raw: &[u8]) -> Mail {
    let m = MessageParser::default()
        .parse(raw)
        .expect("a mail that does not parse");
    let headers = m
        .headers()
        .iter()
        .filter_map(|h| {
            let raw = m.header_raw(h.name())?;
            Some((h.name().to_ascii_lowercase(), raw.trim().to_owned()))
        })
        .collect();
    Mail {
        to: m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        subject: m.subject().unwrap_or_default().to_owned(),
        text: m.body_text(0).unwrap_or_default().into_owned(),
        html: m.body_html(0).unwrap_or_default().into_owned(),
        headers,
    }
}

/// The path of the first link in `text` that starts with `prefix` (after the host).
pub(crate) fn link_path(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '"' || c == ')')
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn config(smtp_port: u16) -> String {
    format!(
        r#"
page: {{ name: Acme Cloud, url: "https://status.acme.example", timezone: Europe/Rome }}
regions:
  eu: {{ timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }}
  us: {{ timezone: America/New_York, business_hours: "Mon-Fri 08:00-18:00" }}
tenants:
  acme: {{ name: Acme Corp, region: eu }}
  globex: {{ name: Globex, region: us }}
components:
  api: {{ name: Public API }}
  db: {{ name: Database }}
maintenance:
  policy:
    planned: {{ min_notice: 1d }}
    emergency: {{ min_notice: 0s, require_reason: true }}
    tenant_slot: 15m
notifications:
  smtp: {{ host: 127.0.0.1, port: {smtp_port}, from: "status@acme.example" }}
  delivery_timeout: 2s
"#
    )
}

pub(crate) async fn post_json(
    c: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = c.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_subscribes_confirms_gets_their_mails_and_unsubscribes() {
    let dir = tempfile::tempdir().unwrap();
    let Some(smtp) = Smtp::start(dir.path()) else {
        return;
    };
    let config_path = dir.path().join("upkeep.yaml");
    std::fs::write(&config_path, config(smtp.port)).unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let token = admin_token(&db);
    let server = Server::start(&["--config", config_path.to_str().unwrap()], &db);
    let base = format!("http://{}", server.addr);
    let c = http();

    // Subscribe (Globex's maintenance, every component).
    let (status, answer) = post_json(
        &c,
        format!("{base}/subscribe"),
        None,
        serde_json::json!({ "email": "Alice@Globex.example", "tenant": "globex" }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let mails = smtp.wait_for(1);
    let confirm = parse_mail(&mails[0]);
    assert_eq!(confirm.to, "alice@globex.example");
    assert!(
        confirm.subject.to_lowercase().contains("confirm"),
        "{}",
        confirm.subject
    );
    assert!(!confirm.html.is_empty() && !confirm.text.is_empty());
    let confirm_path = link_path(&confirm.text, "/subscribe/confirm/");

    // Before confirming: an incident sends nothing to the address.
    let incident = serde_json::json!({
        "title": "API errors",
        "status": "investigating",
        "body": "We are looking into elevated error rates.",
        "components": [{ "id": "api", "status": "major_outage" }],
    });
    let (status, _) = post_json(
        &c,
        format!("{base}/api/v1/incidents"),
        Some(&token),
        incident.clone(),
    )
    .await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        smtp.messages().len(),
        1,
        "a mail before the subscription was confirmed"
    );

    // GET shows a button and changes nothing; POST confirms.
    let page = c.get(format!("{base}{confirm_path}")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let confirmed = c
        .post(format!("{base}{confirm_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status().as_u16(), 200);
    let again = c
        .post(format!("{base}{confirm_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status().as_u16(),
        404,
        "a confirmation link works once"
    );

    // An incident now reaches the subscriber, with both parts and the unsubscribe headers.
    let (status, _) = post_json(
        &c,
        format!("{base}/api/v1/incidents"),
        Some(&token),
        incident,
    )
    .await;
    assert_eq!(status, 201);
    let mails = smtp.wait_for(2);
    let mail = parse_mail(&mails[1]);
    assert_eq!(mail.to, "alice@globex.example");
    assert!(mail.subject.contains("API errors"), "{}", mail.subject);
    assert!(mail.text.contains("elevated error rates"), "{}", mail.text);
    assert!(mail.html.contains("elevated error rates"), "{}", mail.html);
    let list_unsubscribe = mail
        .headers
        .get("list-unsubscribe")
        .cloned()
        .unwrap_or_default();
    assert!(
        list_unsubscribe.contains("/unsubscribe/"),
        "{:?}",
        mail.headers
    );
    assert_eq!(
        mail.headers
            .get("list-unsubscribe-post")
            .map(String::as_str),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(
        mail.headers.contains_key("upkeep-delivery"),
        "{:?}",
        mail.headers
    );

    // An emergency maintenance: the mail states Globex's own slot in New York time.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(3);
    let start = jiff::Timestamp::from_second(start.as_second() / 3600 * 3600).unwrap();
    let end = start + jiff::SignedDuration::from_hours(1);
    let (status, m) = post_json(
        &c,
        format!("{base}/api/v1/maintenances"),
        Some(&token),
        serde_json::json!({
            "kind": "emergency",
            "title": "Database failover",
            "reason": "CVE-2026-1234",
            "starts_at": start.to_string(),
            "ends_at": end.to_string(),
            "components": ["db"],
            "tenants": "all",
        }),
    )
    .await;
    assert_eq!(status, 201, "{m}");
    let mails = smtp.wait_for(3);
    let mail = parse_mail(&mails[2]);
    assert!(
        mail.subject.contains("Database failover"),
        "{}",
        mail.subject
    );
    // Tenants in id order: acme first, globex second.
    let slot = start + jiff::SignedDuration::from_mins(15);
    let ny = slot.to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap());
    let hhmm = ny.strftime("%H:%M").to_string();
    assert!(
        mail.text.contains(&hhmm),
        "slot {hhmm} not in:\n{}",
        mail.text
    );
    assert!(mail.text.contains("America/New_York"), "{}", mail.text);
    assert!(mail.text.contains("Globex"), "{}", mail.text);
    assert!(
        mail.text.contains("/tenants/globex/maintenance.ics"),
        "the tenant's own calendar: {}",
        mail.text
    );

    // One-click unsubscribe (RFC 8058), then nothing more.
    let unsubscribe = link_path(&list_unsubscribe, "/unsubscribe/");
    let resp = c
        .post(format!("{base}{unsubscribe}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = post_json(
        &c,
        format!("{base}/api/v1/incidents"),
        Some(&token),
        serde_json::json!({
            "title": "Another one",
            "status": "investigating",
            "body": "x",
            "components": [{ "id": "db", "status": "partial_outage" }],
        }),
    )
    .await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 3, "a mail after unsubscribing");
}

/// The configuration of the crash tests: quick retries, no rate limit for the test's bursts.
const CRASH_CONFIG: &str = r#"
page: { name: Acme Cloud, url: "https://status.acme.example", timezone: Europe/Rome }
server:
  rate_limit: { per_second: 0 }
components:
  api: { name: Public API }
notifications:
  delivery_timeout: 1s
  retry: { initial: 1s, max_interval: 2s }
"#;

/// A receiver that is down (503) until the returned gate opens, then takes its time (20 ms a
/// request), so a kill lands in the middle of the backlog.
async fn gated_receiver() -> (Receiver, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = std::sync::Arc::clone(&open);
    let rx = Receiver::start(move |_, _| {
        if !gate.load(std::sync::atomic::Ordering::SeqCst) {
            return Answer::Status(503);
        }
        std::thread::sleep(Duration::from_millis(20));
        Answer::Status(200)
    })
    .await;
    (rx, open)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_while_delivering_loses_no_notification() {
    const INCIDENTS: usize = 150; // two notices each: opened, resolved
    let dir = tempfile::tempdir().unwrap();
    let (rx, open) = gated_receiver().await;
    let config_path = dir.path().join("upkeep.yaml");
    std::fs::write(&config_path, CRASH_CONFIG).unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let token = admin_token(&db);
    let args = ["--config", config_path.to_str().unwrap()];
    let server = Server::start(&args, &db);
    let base = format!("http://{}", server.addr);
    let c = http();
    let (status, sub) = post_json(
        &c,
        format!("{base}/api/v1/subscribers"),
        Some(&token),
        serde_json::json!({ "url": format!("{}/hook", rx.url), "secret": "s3cret" }),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    for i in 0..INCIDENTS {
        let (status, incident) = post_json(
            &c,
            format!("{base}/api/v1/incidents"),
            Some(&token),
            serde_json::json!({
                "title": format!("Incident {i}"),
                "status": "investigating",
                "body": "x",
                "components": [{ "id": "api", "status": "major_outage" }],
            }),
        )
        .await;
        assert_eq!(status, 201, "{incident}");
        let id = incident["id"].as_str().unwrap();
        let (status, _) = post_json(
            &c,
            format!("{base}/api/v1/incidents/{id}/updates"),
            Some(&token),
            serde_json::json!({ "status": "resolved", "body": "fixed" }),
        )
        .await;
        assert!(status == 200 || status == 201, "{status}");
    }
    // Kill -9 once a third has arrived.
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.accepted().len() < INCIDENTS * 2 / 3 {
        assert!(Instant::now() < deadline, "deliveries did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.signal("KILL");
    drop(server);
    let at_kill = rx.accepted().len();
    assert!(
        at_kill < INCIDENTS * 2,
        "everything arrived before the kill: test proves nothing"
    );

    // Restart and wait until the outbox is empty.
    let server = Server::start(&args, &db);
    let base = format!("http://{}", server.addr);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let stats: serde_json::Value = c
            .get(format!("{base}/api/v1/outbox"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["pending"] == 0 && stats["unfanned"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not drain: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sent: Vec<serde_json::Value> = c
        .get(format!("{base}/api/v1/deliveries?state=sent&limit=1000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected: HashSet<String> = sent
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(expected.len(), INCIDENTS * 2, "one delivery per notice");
    let mut arrived: HashMap<String, usize> = HashMap::new();
    for r in rx.accepted() {
        *arrived
            .entry(r.header("upkeep-delivery").unwrap().to_owned())
            .or_default() += 1;
    }
    let lost: Vec<&String> = expected
        .iter()
        .filter(|id| !arrived.contains_key(*id))
        .collect();
    let twice = arrived.values().filter(|n| **n > 1).count();
    eprintln!(
        "kill -9 after {at_kill} of {} deliveries: lost {}, arrived more than once {twice}",
        INCIDENTS * 2,
        lost.len()
    );
    assert!(lost.is_empty(), "lost deliveries: {lost:?}");
    // Only deliveries in flight at the kill (at most one batch) can arrive twice.
    assert!(twice <= 32, "{twice} duplicates");
    let unknown: Vec<&String> = arrived
        .keys()
        .filter(|id| !expected.contains(*id))
        .collect();
    assert!(unknown.is_empty(), "ids not in the outbox: {unknown:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_monitor_going_down_pages_pagerduty_and_chat_by_severity() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(|_, _| Answer::Status(202)).await;
    // A closed port: the monitors fail at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let config_path = dir.path().join("upkeep.yaml");
    std::fs::write(
        &config_path,
        format!(
            r#"
page: {{ name: Acme Cloud, url: "https://status.acme.example", timezone: Europe/Rome }}
components:
  api: {{ name: Public API }}
  db: {{ name: Database }}
monitors:
  api-port: {{ component: api, tcp: {{ address: "{closed_addr}" }}, interval: 1s, failure_threshold: 1 }}
  db-port: {{ component: db, tcp: {{ address: "{closed_addr}" }}, interval: 1s, failure_threshold: 1, severity: warning }}
notifications:
  channels:
    pager: {{ pagerduty: {{ routing_key: R0UT1NG, url: "{url}/pd" }} }}
    chat: {{ slack: {{ url: "{url}/slack" }} }}
  routes:
    - {{ severity: critical, channels: [pager, chat] }}
    - {{ severity: warning, channels: [chat] }}
"#,
            url = rx.url
        ),
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let _server = Server::start(&["--config", config_path.to_str().unwrap()], &db);
    let deadline = Instant::now() + Duration::from_secs(30);
    while rx.accepted().len() < 3 {
        assert!(Instant::now() < deadline, "got {:?}", rx.accepted());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.accepted();
    let pd: Vec<serde_json::Value> = got
        .iter()
        .filter(|r| r.path == "/pd")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(pd.len(), 1, "only the critical monitor pages: {pd:?}");
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["dedup_key"], "upkeep/monitor:api-port");
    let slack = got.iter().filter(|r| r.path == "/slack").count();
    assert_eq!(slack, 2, "both alerts reach the chat");
}

/// Two replicas on one PostgreSQL database: both deliver (claims keep them apart); the lease
/// holder is killed with `kill -9` mid-backlog; the survivor finishes every delivery, takes the
/// lease over and fans out what happens next.
#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_replica_killed_mid_delivery_leaves_the_other_to_finish() {
    let Some(base_url) = upkeep_store::testing::postgres_url("replica_killed_mid_delivery") else {
        return;
    };
    const INCIDENTS: usize = 100;
    let pg = upkeep_store::testing::TestDatabase::postgres(&base_url).await;
    let db = pg.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (rx, open) = gated_receiver().await;
    let config_path = dir.path().join("upkeep.yaml");
    std::fs::write(&config_path, CRASH_CONFIG).unwrap();
    let token = admin_token(&db);
    let args = ["--config", config_path.to_str().unwrap()];
    let first = Server::start(&args, &db);
    let second = Server::start(&args, &db);
    let (a, b) = (
        format!("http://{}", first.addr),
        format!("http://{}", second.addr),
    );
    let c = http();
    let (status, sub) = post_json(
        &c,
        format!("{a}/api/v1/subscribers"),
        Some(&token),
        serde_json::json!({ "url": format!("{}/hook", rx.url) }),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    let incident = |i: usize| {
        serde_json::json!({
            "title": format!("Incident {i}"),
            "status": "investigating",
            "body": "x",
            "components": [{ "id": "api", "status": "major_outage" }],
        })
    };
    for i in 0..INCIDENTS {
        // Half the changes through each replica.
        let base = if i % 2 == 0 { &a } else { &b };
        let (status, _) = post_json(
            &c,
            format!("{base}/api/v1/incidents"),
            Some(&token),
            incident(i),
        )
        .await;
        assert_eq!(status, 201);
    }
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.accepted().len() < INCIDENTS / 3 {
        assert!(Instant::now() < deadline, "deliveries did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The first replica started first and holds the lease.
    first.signal("KILL");
    drop(first);
    let at_kill = rx.accepted().len();
    assert!(at_kill < INCIDENTS, "everything arrived before the kill");

    // The survivor takes the lease over and fans out a new incident too.
    let (status, _) = post_json(
        &c,
        format!("{b}/api/v1/incidents"),
        Some(&token),
        incident(INCIDENTS),
    )
    .await;
    assert_eq!(status, 201);
    let deadline = Instant::now() + Duration::from_secs(90);
    let sent = loop {
        let sent: Vec<serde_json::Value> = c
            .get(format!("{b}/api/v1/deliveries?state=sent&limit=1000"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if sent.len() == INCIDENTS + 1 {
            break sent;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} delivered after the kill",
            sent.len(),
            INCIDENTS + 1
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut arrived: HashMap<String, usize> = HashMap::new();
    for r in rx.accepted() {
        *arrived
            .entry(r.header("upkeep-delivery").unwrap().to_owned())
            .or_default() += 1;
    }
    let lost: Vec<&str> = sent
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .filter(|id| !arrived.contains_key(*id))
        .collect();
    let twice = arrived.values().filter(|n| **n > 1).count();
    eprintln!(
        "replica killed after {at_kill} of {} deliveries: lost {}, arrived more than once {twice}",
        INCIDENTS + 1,
        lost.len()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    drop(second);
    pg.cleanup().await;
}
