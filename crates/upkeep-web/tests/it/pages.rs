//! The HTML status page, the history and incident pages, the feeds and the badges over real
//! sockets: structure read back with an HTML5 parser (html5ever, through `scraper`), hostile
//! text in every field an operator or an alert can fill, conditional and compressed answers,
//! uptime bars from stored results, and the feeds read by a real feed parser (Python's
//! feedparser, set up by `scripts/test.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::support;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::{Value, json};
use support::{TestApp, problem};
use upkeep_store::monitoring::CheckResult;

const CONFIG: &str = r#"
page:
  name: Test Cloud
  url: http://status.example.test
  timezone: Europe/Rome
server:
  rate_limit: { per_second: 1000, burst: 1000 }
components:
  api: { name: Public API, group: Core, description: "The <b onclick=alert(1)>REST</b> API" }
  db: { name: Database, group: Core }
  web: { name: Website }
monitors:
  api-http:
    component: api
    http: { url: "http://127.0.0.1:9/never" }
    interval: 1h
"#;

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

/// Polls `path` until its body contains `needle` (the snapshot rebuilds right after a write).
async fn wait_for(app: &TestApp, path: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = app.text(path).await;
        if body.contains(needle) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {needle:?}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open(app: &TestApp, title: &str, body: &str, status: &str) -> String {
    let r = app
        .post_json(
            "/api/v1/incidents",
            &app.editor,
            &json!({
                "title": title,
                "body": body,
                "components": [{ "id": "api", "status": status }],
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Asserts `html` holds no way to run script: no script elements, no event-handler attributes,
/// no `javascript:`/`data:`/`vbscript:` URLs, no frames or objects.
fn assert_inert(html: &str, context: &str) {
    let doc = Html::parse_document(html);
    for tag in [
        "script", "iframe", "object", "embed", "frame", "base", "form",
    ] {
        assert!(
            doc.select(&sel(tag)).next().is_none(),
            "{context}: a <{tag}> element got through"
        );
    }
    for el in doc.select(&sel("*")) {
        for (name, value) in el.value().attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "{context}: event handler attribute {name}={value:?} on <{}>",
                el.value().name()
            );
            if matches!(
                name,
                "href" | "src" | "action" | "formaction" | "xlink:href"
            ) {
                let v: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                for scheme in ["javascript:", "data:", "vbscript:"] {
                    assert!(
                        !v.starts_with(scheme),
                        "{context}: {name}={value:?} on <{}>",
                        el.value().name()
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_page_shows_groups_components_bars_and_the_active_incident() {
    let app = TestApp::start(CONFIG).await;
    let html = app.text("/").await;
    let doc = Html::parse_document(&html);
    assert_eq!(
        doc.select(&sel("title")).next().unwrap().inner_html(),
        "Test Cloud status"
    );
    assert!(doc.select(&sel("meta[name=viewport]")).next().is_some());
    assert!(doc.select(&sel("html[lang=en]")).next().is_some());
    let banner = doc.select(&sel(".banner")).next().unwrap();
    assert!(banner.value().classes().any(|c| c == "i-none"), "{html}");
    assert!(banner.text().any(|t| t.contains("All Systems Operational")));
    let groups: Vec<String> = doc
        .select(&sel("section.group > h3 > span:first-child"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(groups, ["Core"]);
    let names: Vec<String> = doc
        .select(&sel(".component .name"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(names, ["Public API", "Database", "Website"]);
    for c in doc.select(&sel(".component")) {
        assert_eq!(c.select(&sel("ol.bars > li")).count(), 90, "90 days a bar");
    }
    assert!(
        doc.select(&sel(".card.impact-major, .card.impact-minor"))
            .next()
            .is_none(),
        "no incident yet"
    );

    let id = open(&app, "API errors", "We are **looking**.", "partial_outage").await;
    let html = wait_for(&app, "/", "API errors").await;
    let doc = Html::parse_document(&html);
    let banner = doc.select(&sel(".banner")).next().unwrap();
    assert!(banner.value().classes().any(|c| c == "i-major"), "{html}");
    let card = doc.select(&sel("#active-h + article")).next().unwrap();
    let link = card.select(&sel("h3 a")).next().unwrap();
    assert_eq!(
        link.value().attr("href"),
        Some(&*format!("/incidents/{id}"))
    );
    assert!(card.inner_html().contains("<strong>looking</strong>"));
    let api = doc.select(&sel("#c-api .status")).next().unwrap();
    assert_eq!(api.text().collect::<String>(), "Partial outage");
    let core = doc
        .select(&sel("section.group > h3 .status"))
        .next()
        .unwrap();
    assert_eq!(core.text().collect::<String>(), "Partial outage");

    // The incident's own page and the history list it.
    let page = app.text(&format!("/incidents/{id}")).await;
    assert!(
        page.contains("<title>API errors — Test Cloud</title>"),
        "{page}"
    );
    assert!(page.contains("Affected: Public API"));
    // The history is rebuilt in the background too.
    wait_for(&app, "/history", &format!("/incidents/{id}")).await;
}

#[tokio::test]
async fn hostile_text_is_shown_as_text_and_never_runs() {
    let app = TestApp::start(CONFIG).await;
    let title = r#"<script>alert(1)</script>"><img src=x onerror=alert(2)><svg onload=alert(3)>"#;
    let body = concat!(
        "[click](javascript:alert(1)) [two](JAVASCRIPT:alert(2)) [three]( javascript:alert(3))\n\n",
        "<a href=\"javascript:alert(4)\">four</a> <a href=\"data:text/html,<script>alert(5)</script>\">five</a>\n\n",
        "<img src=x onerror=alert(6)> <p onmouseover=\"alert(7)\">seven</p>\n\n",
        "<iframe src=\"https://evil.example\"></iframe><script>alert(8)</script>\n\n",
        "\" onfocus=\"alert(9)\" autofocus=\"\n\n",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(10)>",
    );
    let id = open(&app, title, body, "major_outage").await;
    let edit = app
        .client
        .patch(app.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(&app.editor)
        .json(&json!({ "postmortem": "<script>alert(11)</script>[x](javascript:alert(12))" }))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), StatusCode::OK);

    let index = wait_for(&app, "/", "alert(2)").await;
    let incident = wait_for(&app, &format!("/incidents/{id}"), "Postmortem").await;
    let history = app.text("/history").await;
    let badge = app.text("/badge/api.svg").await;
    for (context, html) in [
        ("/", &index),
        ("/incidents/{id}", &incident),
        ("/history", &history),
        ("/badge/api.svg", &badge),
    ] {
        assert_inert(html, context);
    }
    // The title is shown to readers as the text that was typed.
    let doc = Html::parse_document(&incident);
    let h2: String = doc.select(&sel("h2")).next().unwrap().text().collect();
    assert_eq!(h2, title);
    // The component description from the configuration is escaped too.
    let desc: String = Html::parse_document(&index)
        .select(&sel("#c-api .desc"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(desc, "The <b onclick=alert(1)>REST</b> API");
    // The policy forbids script of any origin even if markup got through.
    let r = app.get("/", None).await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") || csp.contains("script-src 'none'"));
    assert!(!csp.contains("unsafe-inline"));
}

#[tokio::test]
async fn pages_revalidate_and_come_compressed() {
    let app = TestApp::start(CONFIG).await;
    let r = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(r.headers()["cache-control"], "public, max-age=10");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.headers().contains_key("last-modified"));
    let compressed = r.bytes().await.unwrap();
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &compressed[..], &mut plain).unwrap();
    assert!(String::from_utf8(plain).unwrap().contains("Test Cloud"));

    let again = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "br")
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // The stylesheet the page names is served and cacheable for a year.
    let html = app.text("/").await;
    let href = Html::parse_document(&html)
        .select(&sel("link[rel=stylesheet]"))
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_owned();
    assert!(href.starts_with("/static/status.css?v="));
    let css = app.get(&href, None).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn bars_and_badges_show_the_uptime_the_probes_saw() {
    // Yesterday (in the page's zone): one check down for 1 % of the day.
    let tz = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
    let now = jiff::Timestamp::now();
    let yesterday = tz.to_datetime(now).date().yesterday().unwrap();
    let noon = yesterday
        .at(12, 0, 0, 0)
        .to_zoned(tz.clone())
        .unwrap()
        .timestamp();
    let day_ms = crate_day_ms(yesterday, &tz);
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        store
            .record_results(&[
                CheckResult {
                    monitor_id: "api-http".into(),
                    at: noon,
                    ok: false,
                    latency_ms: 10,
                    status_code: Some(500),
                    failure: Some("status 500".into()),
                    location: None,
                    down_ms: day_ms / 100,
                },
                CheckResult {
                    monitor_id: "api-http".into(),
                    at: noon + jiff::SignedDuration::from_mins(1),
                    ok: true,
                    latency_ms: 10,
                    status_code: Some(200),
                    failure: None,
                    location: None,
                    down_ms: 0,
                },
            ])
            .await
            .unwrap();
    })
    .await;

    let html = app.text("/").await;
    let doc = Html::parse_document(&html);
    let bars: Vec<_> = doc.select(&sel("#c-api ol.bars > li")).collect();
    assert_eq!(bars.len(), 90);
    let y = bars[88];
    assert!(y.value().classes().any(|c| c == "d-minor"), "{}", y.html());
    let tip: String = y.text().collect();
    assert!(
        tip.contains(&yesterday.strftime("%-d %b %Y").to_string()) && tip.contains("99% uptime"),
        "{tip}"
    );
    assert!(
        bars[0].value().classes().any(|c| c == "d-none"),
        "no data long ago"
    );
    let axis: String = doc
        .select(&sel("#c-api .axis"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(axis.contains("99% uptime"), "{axis}");

    let r = app.get("/badge/api.svg", None).await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(
        svg.contains("Public API") && svg.contains("operational · 99%"),
        "{svg}"
    );
    // Components without results say what they are without a made-up figure.
    let web = app.text("/badge/web.svg").await;
    assert!(web.contains(">operational</text>"), "{web}");

    problem(
        app.get("/badge/nope.svg", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.get("/badge/api.png", None).await, StatusCode::NOT_FOUND).await;
}

fn crate_day_ms(day: jiff::civil::Date, tz: &jiff::tz::TimeZone) -> i64 {
    let start = day.to_zoned(tz.clone()).unwrap().timestamp();
    let end = day
        .tomorrow()
        .unwrap()
        .to_zoned(tz.clone())
        .unwrap()
        .timestamp();
    end.as_millisecond() - start.as_millisecond()
}

#[tokio::test]
async fn incidents_older_than_the_snapshot_render_on_demand() {
    let app = TestApp::start(CONFIG).await;
    let first = open(&app, "The oldest one", "long ago", "degraded_performance").await;
    for n in 0..52 {
        open(&app, &format!("Incident {n}"), "", "degraded_performance").await;
    }
    let page = wait_for(&app, &format!("/incidents/{first}"), "The oldest one").await;
    assert!(page.contains("long ago"));
    problem(
        app.get("/incidents/zzzzzzzzzzzz", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/incidents/..%2F..%2Fetc", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn pages_of_older_incidents_are_kept_by_revision() {
    use std::sync::Arc;
    use upkeep_web::status::revision_key;
    use upkeep_web::status::snapshot::Body;
    let app = TestApp::start(CONFIG).await;
    let first = open(&app, "The oldest one", "long ago", "degraded_performance").await;
    let resolved = app
        .post_json(
            &format!("/api/v1/incidents/{first}/resolve"),
            &app.editor,
            &json!({ "body": "Fixed." }),
        )
        .await;
    assert_eq!(resolved.status(), StatusCode::OK);
    for n in 0..52 {
        open(&app, &format!("Incident {n}"), "", "degraded_performance").await;
    }
    wait_for(&app, &format!("/incidents/{first}"), "The oldest one").await;
    let path = format!("/incidents/{first}");
    // A snapshot built before the last incidents still holds the oldest one's page: wait for
    // one that does not.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .state
        .status
        .get()
        .is_none_or(|s| s.body(&path).is_some())
    {
        assert!(
            Instant::now() < deadline,
            "the snapshot kept the oldest incident's page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at = app
        .store
        .get_incident(&first)
        .await
        .unwrap()
        .unwrap()
        .updated_at;
    let key = revision_key(&path, at);
    // The page rendered on request is kept by the snapshot, and served from it the next
    // time: a planted body comes back (while no rebuild replaced the snapshot).
    let mut served_from_cache = false;
    for _ in 0..100 {
        let snapshot = app.state.status.get().unwrap();
        assert!(snapshot.body(&path).is_none(), "older than the snapshot");
        let page = app.text(&path).await;
        assert!(page.contains("long ago"), "{page}");
        let Some(kept) = snapshot.rendered(&key) else {
            continue; // a rebuild came in between
        };
        assert_eq!(
            kept.plain.as_ref(),
            page.as_bytes(),
            "the kept page is the page"
        );
        let planted = Body::new(b"kept page", "text/html; charset=utf-8", at).unwrap();
        snapshot.keep_rendered(key.clone(), Arc::new(planted));
        let again = app.text(&path).await;
        let same = app
            .state
            .status
            .get()
            .is_some_and(|now| Arc::ptr_eq(&now, &snapshot));
        if same {
            assert_eq!(again, "kept page");
            served_from_cache = true;
            break;
        }
    }
    assert!(
        served_from_cache,
        "the second request was never served from the cache"
    );
    // A new revision of the incident is a new page, not the kept one.
    let r = app
        .post_json(
            &format!("/api/v1/incidents/{first}/updates"),
            &app.editor,
            &json!({ "status": "identified", "body": "Found it at last." }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = wait_for(&app, &path, "Found it at last.").await;
    assert!(page.contains("long ago"));
}

#[tokio::test]
async fn feeds_read_by_a_real_feed_parser() {
    let Some(python) = upkeep_store::testing::peer::python(&["feedparser"]) else {
        return;
    };
    let app = TestApp::start(CONFIG).await;
    let a = open(
        &app,
        "Database slow",
        "Looking <b>into</b> it & more",
        "degraded_performance",
    )
    .await;
    let b = open(&app, "API down", "All requests fail", "major_outage").await;
    let resolved = app
        .post_json(
            &format!("/api/v1/incidents/{a}/resolve"),
            &app.editor,
            &json!({ "body": "Fixed." }),
        )
        .await;
    assert_eq!(resolved.status(), StatusCode::OK);
    wait_for(&app, "/feed.atom", "Database slow (resolved)").await;

    let dir = tempfile::tempdir().unwrap();
    for (path, name, version) in [
        ("/feed.atom", "feed.atom", "atom10"),
        ("/feed.rss", "feed.rss", "rss20"),
    ] {
        let r = app.get(path, None).await;
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.contains("xml"), "{ct}");
        let file = dir.path().join(name);
        std::fs::write(&file, r.bytes().await.unwrap()).unwrap();
        let out = std::process::Command::new(&python)
            .arg("-c")
            .arg(
                r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
print(json.dumps({
  "version": d.version, "bozo": d.bozo, "bozo_exception": str(d.get("bozo_exception", "")),
  "title": d.feed.get("title"),
  "entries": [{"id": e.get("id"), "title": e.get("title"), "link": e.get("link"),
               "updated": e.get("updated") or e.get("published"),
               "summary": e.get("summary", "")} for e in d.entries],
}))
"#,
            )
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(parsed["version"], version, "{parsed}");
        assert_eq!(parsed["bozo"], false, "{parsed}");
        assert_eq!(parsed["title"], "Test Cloud status");
        let entries = parsed["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{parsed}");
        // Most recently changed first, ids stable permalinks, titles with the current status.
        let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                format!("http://status.example.test/incidents/{a}"),
                format!("http://status.example.test/incidents/{b}"),
            ]
        );
        assert_eq!(entries[0]["title"], "Database slow (resolved)");
        assert_eq!(entries[1]["title"], "API down (investigating)");
        assert_eq!(entries[0]["link"], ids[0]);
        assert!(entries[0]["updated"].is_string());
        let summary = entries[0]["summary"].as_str().unwrap();
        assert!(summary.contains("Fixed."), "{summary}");
        assert!(!summary.contains("<script"), "{summary}");
    }
}

/// The snapshot's fixed paths are answered before the router (a plain `GET`); the router still
/// answers a `HEAD` of them and a `GET` with a token. All must look the same to a client:
/// same headers (the security headers too), same validators, the same 304, counted in the same
/// metrics.
#[tokio::test]
async fn prepared_answers_match_the_routers() {
    let app = TestApp::start(CONFIG).await;
    let token = app.editor.clone();
    for path in [
        "/",
        "/api/v2/summary.json",
        "/feed.atom",
        "/static/status.css",
    ] {
        for encoding in ["br", "gzip", "identity"] {
            let request = |method: Method| {
                app.client
                    .request(method, app.url(path))
                    .header("accept-encoding", encoding)
            };
            let prepared = request(Method::GET).send().await.unwrap();
            let routed = request(Method::HEAD).send().await.unwrap();
            let with_token = request(Method::GET)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(prepared.status(), StatusCode::OK, "{path} {encoding}");
            let names = |r: &reqwest::Response| {
                let mut names: Vec<(String, String)> = r
                    .headers()
                    .iter()
                    .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length"))
                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                    .collect();
                names.sort();
                names
            };
            assert_eq!(
                names(&prepared),
                names(&routed),
                "{path} {encoding}: GET vs HEAD"
            );
            assert_eq!(
                names(&prepared),
                names(&with_token),
                "{path} {encoding}: with a token"
            );
            for header in [
                "content-security-policy",
                "x-content-type-options",
                "x-frame-options",
                "referrer-policy",
                "etag",
                "last-modified",
                "cache-control",
                "vary",
            ] {
                assert!(
                    prepared.headers().contains_key(header),
                    "{path}: no {header}"
                );
            }
            let etag = prepared.headers()["etag"].clone();
            let body = prepared.bytes().await.unwrap();
            assert!(!body.is_empty());
            let again = request(Method::GET)
                .header("if-none-match", etag.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                again.status(),
                StatusCode::NOT_MODIFIED,
                "{path} {encoding}"
            );
            assert_eq!(again.headers()["etag"], etag);
            assert!(again.headers().contains_key("content-security-policy"));
            assert!(again.bytes().await.unwrap().is_empty());
        }
    }
    let metrics = app.text("/metrics").await;
    for series in [
        "upkeep_http_requests_total{method=\"GET\",route=\"/\",status=\"2xx\"}",
        "upkeep_http_requests_total{method=\"GET\",route=\"/\",status=\"3xx\"}",
        "upkeep_http_requests_total{method=\"GET\",route=\"/api/v2/summary.json\",status=\"3xx\"}",
        "upkeep_http_request_duration_seconds_count{route=\"/api/v2/summary.json\"}",
    ] {
        let count: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
            .trim()
            .parse()
            .unwrap();
        assert!(count >= 3.0, "{series} {count}");
    }
}

/// Reads one whole answer to a plain `GET` (a `content-length` body, or none for a 304) off
/// `stream`; `None` when the server closed the connection first.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + length {
                return Some(head);
            }
        }
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A connection whose reads are answered below hyper keeps hyper's rules: a request head must
/// be whole within the header read timeout, which also bounds an idle keep-alive connection
/// and starts again with each request; graceful shutdown closes an idle connection.
#[tokio::test]
async fn plain_reads_keep_the_header_timeout_and_end_at_shutdown() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::builder(CONFIG)
        .header_timeout(Duration::from_millis(500))
        .start()
        .await;
    assert_eq!(app.get("/", None).await.status(), StatusCode::OK);
    let addr = app.base.trim_start_matches("http://").to_owned();
    let request = b"GET /api/v2/summary.json HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();

    // A head that takes 300 ms of the 500 is answered; so is the next, sent after 300 ms more
    // of idling, 600 ms after the connection opened.
    stream.write_all(&request[..20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&request[20..]).await.unwrap();
    let head = read_answer(&mut stream).await.expect("answered");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(request).await.unwrap();
    let head = read_answer(&mut stream)
        .await
        .expect("answered after idling");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");

    // A head left unfinished is cut off at the timeout.
    let started = Instant::now();
    stream.write_all(&request[..20]).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(3), read_answer(&mut stream)).await;
    assert_eq!(closed, Ok(None), "closed, not answered");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );

    // Shutdown closes an idle connection that was answered below hyper.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    assert!(read_answer(&mut stream).await.is_some());
    let started = Instant::now();
    app.stop.cancel();
    let closed = tokio::time::timeout(Duration::from_secs(3), read_answer(&mut stream)).await;
    assert_eq!(closed, Ok(None), "closed at shutdown");
    assert!(started.elapsed() < Duration::from_millis(400));
}

/// The response time per location under a component rebuilds the snapshot only when a figure
/// the page shows changes: a minute's new checks that leave every rounded mean as it was
/// publish no new snapshot; one that moves a mean does, with the new figure.
#[tokio::test]
async fn a_day_s_new_checks_rebuild_the_page_only_when_a_shown_figure_changes() {
    use std::sync::Arc;
    use upkeep_web::status::rebuild;
    const LATENCY: &str = r#"
page: { name: Latency, url: "http://status.example.test", timezone: UTC }
components:
  web: { name: Website, show_latency: true }
monitors:
  web-health:
    component: web
    http: { url: "http://127.0.0.1:9/never" }
    interval: 1h
    locations: [server, eu-1]
"#;
    /// A check of web-health from eu-1 `minute` minutes after 2026-12-06T10:00Z.
    fn eu(minute: i64, latency_ms: u32) -> CheckResult {
        CheckResult {
            monitor_id: "web-health".into(),
            at: jiff::Timestamp::from_second(1_796_551_200 + minute * 60).unwrap(),
            ok: true,
            latency_ms,
            status_code: Some(200),
            failure: None,
            location: Some("eu-1".into()),
            down_ms: 0,
        }
    }
    // Read by the first build: one check of 40 ms.
    let app = TestApp::builder(LATENCY)
        .manual_clock("2026-12-06T10:30:00Z")
        .start_seeded(|store| async move {
            store.record_results(&[eu(5, 40)]).await.unwrap();
        })
        .await;
    let shows = |snapshot: &upkeep_web::status::snapshot::Snapshot, figure: &str| {
        let page = snapshot.body("/").unwrap();
        String::from_utf8_lossy(&page.plain)
            .contains(&format!("<li>eu-1 <strong>{figure}</strong></li>"))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let current = rebuild(&app.state).await.unwrap();
        if shows(&current, "40 ms") {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed eu-1's 40 ms"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // A minute on: a second check of 40 ms changes the day's totals, not the mean shown.
    app.store.record_results(&[eu(10, 40)]).await.unwrap();
    app.advance(61);
    let same = rebuild(&app.state).await.unwrap();
    assert!(
        Arc::ptr_eq(&same, &first),
        "a read that changed no shown figure published a new snapshot"
    );
    assert!(shows(&same, "40 ms"));

    // Another minute: a check of 100 ms moves the mean to 60 ms, which the page shows.
    app.store.record_results(&[eu(15, 100)]).await.unwrap();
    app.advance(61);
    let changed = rebuild(&app.state).await.unwrap();
    assert!(
        !Arc::ptr_eq(&changed, &first),
        "the new figure was not published"
    );
    assert!(shows(&changed, "60 ms"), "the page shows the new mean");
}
