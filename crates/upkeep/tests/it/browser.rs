//! The status page in a real browser: a real `upkeep serve` probes a local HTTP target; headless
//! Chromium (Debian's `chromium`, installed by `scripts/test-deps.sh`) loads the page while the
//! target is healthy, while it fails and after it recovers. The page must name the components,
//! turn red with the automatic incident while the target fails, and green again with the
//! incident resolved. Screenshots (desktop and phone widths) are saved under
//! `target/test-artifacts/` for people to look at.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Server, admin_token};

const CHROMIUM: &str = "chromium";

/// A local HTTP target answering every request with the status the test sets.
fn target() -> (u16, Arc<AtomicU16>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let status = Arc::new(AtomicU16::new(200));
    let s = status.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let code = s.load(Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
            });
        }
    });
    (port, status)
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with the flags this sandbox needs and `args`; returns stdout.
fn chromium(profile: &Path, args: &[&str]) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The page's DOM as Chromium built it.
pub(crate) fn dom(profile: &Path, url: &str) -> String {
    chromium(profile, &["--dump-dom", url])
}

pub(crate) fn screenshot(profile: &Path, url: &str, name: &str, size: &str) {
    let file = artifacts().join(name);
    let _ = std::fs::remove_file(&file);
    chromium(
        profile,
        &[
            &format!("--screenshot={}", file.display()),
            &format!("--window-size={size}"),
            url,
        ],
    );
    let png = std::fs::read(&file).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "no screenshot at {}",
        file.display()
    );
}

fn summary(server: &Server) -> Value {
    let answer = server.get("/api/v2/summary.json", None);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_page_turns_red_with_an_incident_and_green_again_in_a_browser() {
    if upkeep_store::testing::peer::chromium().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, status) = target();
    let config = dir.path().join("upkeep.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
page: {{ name: Browser Cloud, url: "http://127.0.0.1", timezone: Europe/Rome }}
server: {{ rate_limit: {{ per_second: 0 }} }}
components:
  api: {{ name: Public API, group: Core, description: The REST API }}
  site: {{ name: Website }}
monitors:
  api-health:
    component: api
    http: {{ url: "http://127.0.0.1:{port}/health" }}
    interval: 1s
    timeout: 1s
    failure_threshold: 1
    recovery_threshold: 1
"#
        ),
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let token = admin_token(&db);
    let server = Server::start(&["--config", config.to_str().unwrap()], &db);
    let url = format!("http://{}/", server.addr);
    let profile = dir.path().join("chromium");

    // Healthy: the monitor is up and the page says so.
    eventually("the monitor to come up", || {
        let list = server.get("/api/v1/monitors/api-health", Some(&token));
        list.contains("\"status\":\"up\"").then_some(())
    });
    let page = eventually("a green page", || {
        let d = dom(&profile, &url);
        d.contains("All Systems Operational").then_some(d)
    });
    for needle in [
        "<title>Browser Cloud status</title>",
        "Public API",
        "Website",
        "The REST API",
        "Core",
    ] {
        assert!(page.contains(needle), "{needle:?} missing from the page");
    }
    assert!(!page.contains("Active incidents"));
    screenshot(&profile, &url, "status-green.png", "1200,1400");

    // The target fails: the automatic incident opens and the page turns red.
    status.store(503, Ordering::SeqCst);
    let incident = eventually("the automatic incident", || {
        let s = summary(&server);
        let i = s["incidents"].as_array()?.first()?.clone();
        (s["status"]["indicator"] != "none").then_some(i)
    });
    let title = incident["name"].as_str().unwrap().to_owned();
    let page = eventually("a red page", || {
        let d = dom(&profile, &url);
        d.contains("Active incidents").then_some(d)
    });
    assert!(
        page.contains("class=\"banner i-critical\""),
        "banner not red"
    );
    assert!(page.contains("Major System Outage"));
    assert!(page.contains("Major outage"), "the component's status");
    let escaped_title = title.replace('&', "&amp;").replace('<', "&lt;");
    assert!(page.contains(&escaped_title), "{title:?} not on the page");
    assert!(page.contains(&format!("/incidents/{}", incident["id"].as_str().unwrap())));
    screenshot(&profile, &url, "status-red.png", "1200,1400");
    screenshot(&profile, &url, "status-red-phone.png", "390,1400");
    let incident_url = format!("{url}incidents/{}", incident["id"].as_str().unwrap());
    let incident_page = dom(&profile, &incident_url);
    assert!(incident_page.contains("investigating"), "{incident_page}");
    screenshot(&profile, &incident_url, "incident.png", "1200,1000");

    // The target recovers: the incident resolves itself and the page is green again.
    status.store(200, Ordering::SeqCst);
    eventually("the incident to resolve", || {
        let s = summary(&server);
        (s["status"]["indicator"] == "none" && s["incidents"] == Value::Array(vec![])).then_some(())
    });
    let page = eventually("a green page again", || {
        let d = dom(&profile, &url);
        d.contains("All Systems Operational").then_some(d)
    });
    assert!(!page.contains("Active incidents"));
    // Today's bar of the probed component carries what the probes saw (failures included).
    eventually("today's bar to show the failure", || {
        let d = dom(&profile, &url);
        let api = d
            .split("id=\"c-api\"")
            .nth(1)?
            .split("</ol>")
            .next()?
            .to_owned();
        let today = api.rsplit("<li class=\"").next()?.to_owned();
        (!today.starts_with("d-none") && !today.starts_with("d-up")).then_some(())
    });
    let history = dom(&profile, &format!("{url}history"));
    assert!(history.contains(&escaped_title) && history.contains("resolved"));
    screenshot(&profile, &url, "status-green-again.png", "1200,1400");
}

/// The yearly availability report as an auditor opens it, in Chromium at desktop and phone
/// widths: `upkeep report availability --format html` over a database where one component
/// has been watched for the last 40 days (with an hour's outage) and another never. The page
/// is titled with its year, writes dates for people, draws nothing after today, greys out
/// the days nobody watched and never calls them 100 %. Screenshots go to
/// `target/test-artifacts/report-desktop.png` and `report-phone.png`.
#[test]
fn the_availability_report_reads_well_in_a_browser() {
    use jiff::{SignedDuration, Timestamp};
    use upkeep_domain::event::{EventSource, EventState};
    use upkeep_store::monitoring::MonitorEvent;

    if upkeep_store::testing::peer::chromium().is_none() {
        return;
    }
    let ws = support::Workspace::with_config(support::page_config!(
        r#"
components:
  api: { name: Public API }
  db: { name: Database }
monitors:
  api-port: { component: api, tcp: { address: "127.0.0.1:9" } }
  db-port: { component: db, tcp: { address: "127.0.0.1:9" } }
slos:
  api: { objective: 99.9 }
"#
    ));
    support::ok(support::upkeep(&["migrate", "--database", &ws.db]));
    let now = Timestamp::now();
    let ago = |hours: i64| now - SignedDuration::from_hours(hours);
    let event = |at: Timestamp, from: &str, to: &str| MonitorEvent {
        source: EventSource::parse("api-port").unwrap(),
        at,
        from: EventState::parse(from).unwrap(),
        to: EventState::parse(to).unwrap(),
        reason: "test".into(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = upkeep_store::Store::connect(&ws.db, &upkeep_store::ConnectOptions::default())
            .await
            .unwrap();
        store
            .record_monitor_events(&[
                event(ago(40 * 24), "pending", "up"),
                event(ago(10 * 24), "up", "down"),
                event(ago(10 * 24 - 1), "down", "up"),
            ])
            .await
            .unwrap();
        store.close().await;
    });
    let tz = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
    let today = now.to_zoned(tz.clone()).date();
    let year = today.year();
    let out = ws.path().join("report.html");
    support::ok(support::upkeep(&[
        "report",
        "availability",
        "--year",
        &year.to_string(),
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
        "--config",
        &ws.config,
        "--database",
        &ws.db,
    ]));
    let url = format!("file://{}", out.display());
    let profile = ws.path().join("chromium");
    let page = dom(&profile, &url);

    assert!(
        page.contains(&format!("<title>Availability {year}</title>")),
        "no year in the title"
    );
    assert!(
        page.contains(&format!("1 Jan {year} – 31 Dec {year}")),
        "{page}"
    );
    assert!(!page.contains("T00:00:00.000+"), "machine dates for people");
    // The component nobody watched: no figure, never 100 %.
    let db_row = page.split("<td>Database</td>").nth(1).unwrap();
    let db_row = db_row.split("</tr>").next().unwrap();
    assert!(db_row.contains("no data"), "{db_row}");
    assert!(!db_row.contains("100.0000%"), "{db_row}");
    // One bar per day up to today, none after; the days before the watch began are grey.
    let api_chart = page
        .split("aria-label=\"Daily availability of Public API\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    let bars: Vec<&str> = api_chart.split("<rect class=\"day\"").skip(1).collect();
    let elapsed_days = usize::try_from(today.day_of_year()).unwrap();
    assert_eq!(bars.len(), elapsed_days, "a bar per day up to today");
    let grey = bars
        .iter()
        .filter(|b| b.contains("fill=\"#d0d7de\""))
        .count();
    let green = bars
        .iter()
        .filter(|b| b.contains("fill=\"#1a7f37\""))
        .count();
    assert!(
        (elapsed_days.saturating_sub(41)..=elapsed_days.saturating_sub(39)).contains(&grey),
        "{grey} grey bars of {elapsed_days}"
    );
    assert!(green >= 38, "{green} green days");
    assert_eq!(
        page.matches("not yet measured").count() > 0,
        today.day_of_year() < today.days_in_year(),
        "the rest of the year is marked as not measured"
    );

    for (name, size) in [
        ("report-desktop.png", "1280,2400"),
        ("report-phone.png", "390,3600"),
    ] {
        screenshot(&profile, &url, name, size);
    }
}
