//! Response time per location end to end, on SQLite and PostgreSQL: a real `upkeep serve`,
//! batches posted with agent tokens from two locations at different latencies, the server's
//! own probes from `server`. The API gives each location's checks and mean over the last day;
//! the public page shows them under a component with `show_latency` (once a reload turns it
//! on) and never under one without it; nothing but location names and figures reaches the
//! page (no host, URL or failure text). The console's monitor page shows the same figures,
//! and headless Chromium finds the line in the page it builds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::agent::{agent_token, call, eventually};
use crate::browser;
use crate::console_replicas::{client, create_ada, get, sign_in};
use crate::support::{Server, Workspace, admin_token};

/// Hosts that only the monitors' definitions and failures name: never on the public page.
const HIDDEN: [&str; 4] = [
    "probe-target.internal.invalid",
    "db-host.internal.invalid",
    "secret-backend",
    "/health",
];

fn config(show_latency: bool) -> String {
    format!(
        r#"
page: {{ name: Latency, url: "http://127.0.0.1:8080", timezone: UTC }}
components:
  web: {{ name: Web, show_latency: {show_latency} }}
  db: {{ name: Database }}
monitors:
  web-health:
    component: web
    http: {{ url: "http://probe-target.internal.invalid/health" }}
    interval: 2s
    timeout: 1s
    locations: [server, eu-1, us-1]
  db-port:
    component: db
    tcp: {{ address: "db-host.internal.invalid:5432" }}
    interval: 2s
    timeout: 1s
    locations: [server, eu-1]
"#
    )
}

/// An RFC 3339 instant `ago_ms` before now.
fn ago(ago_ms: i64) -> String {
    let ms = jiff::Timestamp::now().as_millisecond() - ago_ms;
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// A batch from `location`: `(monitor, latency, failure)` results a second apart.
fn batch(location: &str, results: &[(&str, u32, Option<&str>)]) -> String {
    let results: Vec<Value> = results
        .iter()
        .enumerate()
        .map(|(i, (monitor, latency, failure))| {
            let i = i64::try_from(i).unwrap();
            json!({"monitor": monitor, "at": ago(5_000 - i * 1_000), "ok": failure.is_none(),
                   "latency_ms": latency, "status_code": failure.is_none().then_some(200),
                   "failure": failure})
        })
        .collect();
    json!({"seq": 1, "sent_at": ago(0), "location": location, "version": "test",
           "results": results})
    .to_string()
}

/// `location`'s `latency_24h` in a monitor's summary.
fn latency_of<'a>(monitor: &'a Value, location: &str) -> &'a Value {
    let locations = monitor["locations"].as_array().unwrap();
    let found = locations.iter().find(|l| l["location"] == location);
    &found.unwrap_or_else(|| panic!("no {location} in {monitor}"))["latency_24h"]
}

/// What a real browser makes of the page at `url`: the latency list in its DOM, and a phone-width
/// screenshot under `target/test-artifacts/` (skipped without Chromium).
fn in_a_browser(url: &str) {
    if upkeep_store::testing::peer::chromium().is_none() {
        return;
    }
    let profile = tempfile::tempdir().unwrap();
    let dom = browser::dom(profile.path(), url);
    let web = dom.split("id=\"c-web\"").nth(1).unwrap_or_default();
    assert!(
        web.contains("Response time, last 24 h:")
            && web.contains("<li>eu-1 <strong>50 ms</strong></li>")
            && web.contains("<li>us-1 <strong>130 ms</strong></li>"),
        "{dom}"
    );
    browser::screenshot(profile.path(), url, "status-latency-phone.png", "375,900");
}

fn scenario(db: &str, ws: &Workspace, browser: bool) {
    let admin = admin_token(db);
    let eu = agent_token(db, "probe-eu");
    let us = agent_token(db, "probe-us");
    create_ada(db);
    let server = Server::start(&["--config", &ws.config], db);
    let addr = server.addr.clone();
    let post = |token: &str, body: String| {
        let (code, answer) = call(&addr, "POST", "/api/v1/agent/results", token, &body, "");
        assert_eq!(code, 200, "{answer}");
    };
    // eu-1: 40 and 60 ms (mean 50); us-1: 120 ms and a 140 ms failure (mean 130).
    post(
        &eu,
        batch(
            "eu-1",
            &[
                ("web-health", 40, None),
                ("web-health", 60, None),
                ("db-port", 70, None),
            ],
        ),
    );
    post(
        &us,
        batch(
            "us-1",
            &[
                ("web-health", 120, None),
                (
                    "web-health",
                    140,
                    Some("refused by secret-backend at http://probe-target.internal.invalid"),
                ),
            ],
        ),
    );

    // The API: each location's checks, failures, mean and highest latency.
    eventually(
        Duration::from_secs(30),
        "both locations' results in the API",
        || {
            let (code, body) = call(&addr, "GET", "/api/v1/monitors/web-health", &admin, "", "");
            assert_eq!(code, 200, "{body}");
            let m: Value = serde_json::from_str(&body).unwrap();
            latency_of(&m, "eu-1")["checks"] == 2 && latency_of(&m, "us-1")["checks"] == 2
        },
    );
    let (_, body) = call(&addr, "GET", "/api/v1/monitors/web-health", &admin, "", "");
    let m: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        latency_of(&m, "eu-1"),
        &json!({"checks": 2, "failures": 0, "mean_ms": 50, "max_ms": 60}),
        "{body}"
    );
    assert_eq!(
        latency_of(&m, "us-1"),
        &json!({"checks": 2, "failures": 1, "mean_ms": 130, "max_ms": 140}),
        "{body}"
    );
    // The list says the same.
    let (_, body) = call(&addr, "GET", "/api/v1/monitors", &admin, "", "");
    let all: Value = serde_json::from_str(&body).unwrap();
    let listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "web-health")
        .unwrap();
    assert_eq!(latency_of(listed, "eu-1")["mean_ms"], 50, "{body}");
    assert_eq!(latency_of(listed, "us-1")["mean_ms"], 130, "{body}");

    // The console's monitor page: each location's mean and highest latency.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, _, console) = runtime.block_on(async {
        let http = client();
        let cookie = sign_in(&http, &server, "ada@example.com").await;
        get(&http, &server, &cookie, "/admin/monitors/web-health").await
    });
    assert_eq!(status, reqwest::StatusCode::OK, "{console}");
    for (location, mean, max) in [("eu-1", 50, 60), ("us-1", 130, 140)] {
        let row = console
            .split(&format!("data-label=\"Location\">{location}</th>"))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("no row of {location}: {console}"));
        assert!(
            row.contains(&format!("<td data-label=\"Mean, 24 h\">{mean} ms</td>"))
                && row.contains(&format!("<td data-label=\"Max, 24 h\">{max} ms</td>")),
            "{row}"
        );
    }

    // The page: no component shows its response time before `show_latency`.
    eventually(Duration::from_secs(30), "the server's own probes", || {
        let (_, body) = call(&addr, "GET", "/api/v1/monitors/web-health", &admin, "", "");
        let m: Value = serde_json::from_str(&body).unwrap();
        latency_of(&m, "server")["checks"].as_u64() > Some(0)
    });
    let page = server.get("/", None);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(!page.contains("Response time"), "{page}");

    // A reload turns it on for `web`: its locations with their means; `db` shows none.
    ws.write_config(&config(true));
    server.signal("HUP");
    eventually(
        Duration::from_secs(30),
        "the response time on the page",
        || server.get("/", None).contains("Response time, last 24 h"),
    );
    let page = server.get("/", None);
    let web = page.split("id=\"c-web\"").nth(1).unwrap();
    let web = web.split("id=\"c-db\"").next().unwrap();
    assert!(
        web.contains("<li>eu-1 <strong>50 ms</strong></li>"),
        "{web}"
    );
    assert!(
        web.contains("<li>us-1 <strong>130 ms</strong></li>"),
        "{web}"
    );
    assert!(web.contains("<li>server <strong>"), "{web}");
    assert!(web.contains("aria-labelledby=\"latency-web\""), "{web}");
    assert_eq!(page.matches("Response time").count(), 1, "{page}");
    // db's block: up to the next component's.
    let db = page.split("id=\"c-db\"").nth(1).unwrap();
    let db = db.split("<div class=\"component\"").next().unwrap();
    assert!(
        !db.contains("class=\"latency\"") && !db.contains(" ms</strong>"),
        "db's figures stay off the page: {db}"
    );
    for hidden in HIDDEN {
        assert!(!page.contains(hidden), "{hidden} on the page: {page}");
    }
    if browser {
        in_a_browser(&format!("http://{addr}/"));
    }
    // The Statuspage documents gain no field.
    let summary = server.get("/api/v2/summary.json", None);
    assert!(
        !summary.contains("latency") && !summary.contains("eu-1"),
        "{summary}"
    );
}

#[test]
fn each_location_s_response_time_reaches_the_api_and_the_page_on_sqlite() {
    let ws = Workspace::with_config(&config(false));
    scenario(&ws.db, &ws, true);
}

#[test]
fn each_location_s_response_time_reaches_the_api_and_the_page_on_postgres() {
    let test = "each_location_s_response_time_reaches_the_api_and_the_page_on_postgres";
    let Some(url) = upkeep_store::testing::postgres_url(test) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pg = runtime.block_on(upkeep_store::testing::TestDatabase::postgres(&url));
    let ws = Workspace::with_config(&config(false));
    scenario(&pg.url, &ws, false);
    runtime.block_on(pg.cleanup());
}
