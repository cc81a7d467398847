//! Push pings over real sockets: a server on port 0 over a real SQLite file with the real ping
//! writer (group commit), driven with reqwest; every acknowledged ping is read back through the
//! store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use upkeep_store::monitoring::{PING_BODY_MAX, PingKind};

use crate::support::TestApp;

const CONFIG: &str = r#"
page:
  name: Test Cloud
  url: http://127.0.0.1:8080
  timezone: Europe/Rome
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
  max_connections_per_client: 0
  max_body: 64KB
components:
  jobs: { name: Jobs }
monitors:
  nightly:
    component: jobs
    push: { key: job-key, period: 1d, grace: 1h }
backups:
  main-db: { rpo: 6h, rto: 24h, push_key: backup-key }
"#;

const RID_A: &str = "6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6f";
const RID_B: &str = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";

async fn start() -> TestApp {
    TestApp::builder(CONFIG)
        .manual_clock("2026-03-01T12:00:00Z")
        .pings()
        .start()
        .await
}

/// Unauthenticated requests with a body, answered as (status, content type, text).
impl TestApp {
    async fn push(&self, method: Method, path: &str, body: &str) -> (StatusCode, String, String) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, r.text().await.unwrap())
    }

    async fn push_get(&self, path: &str) -> (StatusCode, String, String) {
        self.push(Method::GET, path, "").await
    }
}

#[tokio::test]
async fn every_kind_of_ping_is_acknowledged_and_stored() {
    let app = start().await;
    let cases: [(Method, &str, PingKind, Option<u8>); 8] = [
        (Method::GET, "/ping/job-key", PingKind::Success, None),
        (Method::POST, "/ping/job-key/start", PingKind::Start, None),
        (Method::HEAD, "/ping/job-key/fail", PingKind::Fail, None),
        (Method::POST, "/ping/job-key/log", PingKind::Log, None),
        (Method::GET, "/ping/job-key/0", PingKind::Success, Some(0)),
        (Method::POST, "/ping/job-key/3", PingKind::Fail, Some(3)),
        (Method::GET, "/ping/job-key/255", PingKind::Fail, Some(255)),
        (Method::HEAD, "/ping/backup-key", PingKind::Success, None),
    ];
    for (method, path, kind, exit_code) in cases {
        app.clock().advance(SignedDuration::from_secs(1));
        let head = method == Method::HEAD;
        let (status, ct, body) = app.push(method.clone(), path, "").await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {body}");
        assert!(ct.starts_with("text/plain"), "{ct}");
        assert_eq!(body, if head { "" } else { "OK\n" });
        // Acknowledged means stored: read it back at once.
        let key = path.split('/').nth(2).unwrap();
        let last = app.store.last_ping(key).await.unwrap().unwrap();
        assert_eq!((last.kind, last.exit_code), (kind, exit_code), "{path}");
        assert_eq!(last.at, app.now());
    }
    assert_eq!(app.store.count_pings(Some("job-key")).await.unwrap(), 7);
    assert_eq!(app.store.count_pings(Some("backup-key")).await.unwrap(), 1);
    app.shut_down().await;
}

#[tokio::test]
async fn unknown_keys_get_one_identical_404_and_bad_requests_a_400() {
    let app = start().await;
    let (s1, ct, b1) = app.push_get("/ping/no-such-key").await;
    let (s2, _, b2) = app.push_get("/ping/job-key-2/start").await;
    let (s3, _, b3) = app.push(Method::POST, "/ping/JOB-KEY/7", "log").await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND
        )
    );
    assert_eq!(ct, "application/problem+json");
    assert_eq!(b1, b2);
    assert_eq!(b1, b3);
    assert!(!b1.contains("no-such-key"));

    // Malformed requests are refused before the key is looked at: same answer for any key.
    for key in ["job-key", "no-such-key"] {
        for bad in ["256", "-1", "abc", "1.5", "success"] {
            let (status, ct, body) = app.push_get(&format!("/ping/{key}/{bad}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
            assert_eq!(ct, "application/problem+json");
            let problem: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(problem["status"], 400);
        }
        for rid in [
            "nope",
            "6f1c1f0e8f5e4b8a9d3c1a2b3c4d5e6f",
            "6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6z",
        ] {
            let (status, _, body) = app.push_get(&format!("/ping/{key}/start?rid={rid}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{rid}");
            assert!(body.contains("UUID"), "{body}");
        }
    }
    assert_eq!(app.store.count_pings(None).await.unwrap(), 0);
    app.shut_down().await;
}

#[tokio::test]
async fn post_bodies_are_kept_as_the_log_and_cut_at_10_kb() {
    let app = start().await;
    let (status, _, _) = app
        .push(Method::POST, "/ping/job-key/fail", "disk full\n")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.store.last_ping("job-key").await.unwrap().unwrap().body,
        "disk full\n"
    );

    let long: String = (0..50_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let (status, _, body) = app.push(Method::POST, "/ping/job-key/1", &long).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = app.store.last_ping("job-key").await.unwrap().unwrap();
    assert_eq!(stored.body.len(), PING_BODY_MAX);
    assert_eq!(stored.body, long[..PING_BODY_MAX]);
    assert_eq!(stored.exit_code, Some(1));
    app.shut_down().await;
}

#[tokio::test]
async fn run_ids_pair_starts_with_ends_and_log_changes_nothing() {
    let app = start().await;
    let t0 = app.now();
    assert_eq!(
        app.push_get(&format!("/ping/job-key/start?rid={RID_A}"))
            .await
            .0,
        StatusCode::OK
    );
    app.clock().advance(SignedDuration::from_secs(10));
    // The id is case-insensitive.
    let upper = RID_B.to_uppercase();
    assert_eq!(
        app.push_get(&format!("/ping/job-key/start?rid={upper}"))
            .await
            .0,
        StatusCode::OK
    );
    app.clock().advance(SignedDuration::from_secs(5));
    // A log in between changes nothing: both runs stay open.
    assert_eq!(
        app.push(Method::POST, "/ping/job-key/log", "halfway")
            .await
            .0,
        StatusCode::OK
    );
    let open = app.store.open_start("job-key").await.unwrap().unwrap();
    assert_eq!(open.rid.as_deref(), Some(RID_B));
    assert!(app.store.last_success("job-key").await.unwrap().is_none());

    app.clock().advance(SignedDuration::from_secs(45));
    assert_eq!(
        app.push_get(&format!("/ping/job-key/0?rid={RID_A}"))
            .await
            .0,
        StatusCode::OK
    );
    let end_a = app.store.last_ping("job-key").await.unwrap().unwrap();
    assert_eq!(end_a.duration_ms, Some(60_000), "A ran from t0 to t0+60s");
    assert_eq!(end_a.rid.as_deref(), Some(RID_A));

    app.clock().advance(SignedDuration::from_secs(30));
    assert_eq!(
        app.push_get(&format!("/ping/job-key/fail?rid={RID_B}"))
            .await
            .0,
        StatusCode::OK
    );
    let end_b = app.store.last_ping("job-key").await.unwrap().unwrap();
    assert_eq!(
        end_b.duration_ms,
        Some(80_000),
        "B ran from t0+10s to t0+90s"
    );
    assert!(app.store.open_start("job-key").await.unwrap().is_none());

    // Without ids: the latest open start.
    assert_eq!(app.push_get("/ping/job-key/start").await.0, StatusCode::OK);
    app.clock().advance(SignedDuration::from_secs(7));
    assert_eq!(app.push_get("/ping/job-key").await.0, StatusCode::OK);
    let plain = app.store.last_success("job-key").await.unwrap().unwrap();
    assert_eq!(plain.duration_ms, Some(7_000));
    assert_eq!(plain.at, t0 + SignedDuration::from_secs(97));
    app.shut_down().await;
}

#[tokio::test]
async fn two_thousand_concurrent_pings_are_all_acknowledged_and_stored() {
    let app = start().await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..2_000 {
        let client = app.client.clone();
        let url = match i % 4 {
            0 => format!("{}/ping/job-key", app.base),
            1 => format!("{}/ping/job-key/start", app.base),
            2 => format!("{}/ping/backup-key/0", app.base),
            _ => format!("{}/ping/backup-key/log", app.base),
        };
        calls.spawn(async move {
            let r = client.post(url).body("x").send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        });
    }
    let mut acknowledged = 0;
    while let Some(answer) = calls.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!((status, body.as_str()), (StatusCode::OK, "OK\n"));
        acknowledged += 1;
    }
    assert_eq!(acknowledged, 2_000);
    assert_eq!(app.store.count_pings(None).await.unwrap(), 2_000);
    assert_eq!(app.store.count_pings(Some("job-key")).await.unwrap(), 1_000);
    app.shut_down().await;
}

#[tokio::test]
async fn without_a_running_writer_pings_are_refused_with_503() {
    let app = TestApp::start(CONFIG).await;
    let r = app.get("/ping/job-key", None).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
}

/// Guessing keys: unknown keys have their own tight per-client budget (burst 10, then 6 a
/// minute by default); over it every guess is answered 429, so a guesser learns nothing more,
/// while the same client's known key and another client's guesses are unaffected.
#[tokio::test]
async fn guessing_keys_is_limited_per_client_without_blocking_real_jobs() {
    let app = start().await;
    let mut refused_after = None;
    for i in 0..30 {
        let (status, _, _) = app.push_get(&format!("/ping/guess-{i:04}")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused_after = Some(i);
            break;
        }
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {i}");
    }
    assert_eq!(refused_after, Some(10), "the burst is 10 misses");
    let r = app
        .client
        .get(format!("{}/ping/guess-9999", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    // The real job on the same address still reports.
    let (status, _, _) = app.push_get("/ping/job-key").await;
    assert_eq!(status, StatusCode::OK);
    // Another client has its own budget.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = other
        .get(format!("{}/ping/guess-0000", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.shut_down().await;
}

/// The value of one series in `/metrics` (0 when absent).
async fn series(app: &TestApp, name: &str) -> f64 {
    let metrics = app.text("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// A status, the headers but `date` and `content-length` (sorted), and the body.
async fn answer(r: reqwest::Response) -> (StatusCode, Vec<(String, String)>, String) {
    let mut headers: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (r.status(), headers, r.text().await.unwrap())
}

/// A plain heartbeat (`GET /ping/{key}`, no query, no body) is answered before the router: with
/// the same status, headers and body as the route's answer to the same ping sent with a query
/// or a body, stored the same and counted in the same series; an unknown key is the route's
/// one 404; over the ping quota, the route's 429.
#[tokio::test]
async fn plain_heartbeats_are_answered_as_the_route_answers_them() {
    let app = start().await;
    let ok = "upkeep_http_requests_total{method=\"GET\",route=\"/ping/{key}\",status=\"2xx\"}";
    let before = series(&app, ok).await;
    let get = |path: &str| app.client.get(app.url(path)).send();
    let plain = answer(get("/ping/job-key").await.unwrap()).await;
    let with_query = answer(get(&format!("/ping/job-key?rid={RID_A}")).await.unwrap()).await;
    let posted = app
        .client
        .post(app.url("/ping/job-key"))
        .body("a log line")
        .send()
        .await
        .unwrap();
    let posted = answer(posted).await;
    assert_eq!(plain.0, StatusCode::OK);
    assert_eq!(plain.2, "OK\n");
    assert_eq!(plain, with_query);
    assert_eq!(plain, posted);
    for header in [
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(plain.1.iter().any(|(n, _)| n == header), "no {header}");
    }
    assert_eq!(app.store.count_pings(Some("job-key")).await.unwrap(), 3);
    let last = app.store.last_ping("job-key").await.unwrap().unwrap();
    assert_eq!((last.kind, last.at), (PingKind::Success, app.now()));
    // Both GETs are counted (other tests of this process may add more).
    assert!(series(&app, ok).await >= before + 2.0);

    let unknown = answer(get("/ping/no-such-key").await.unwrap()).await;
    let unknown_posted = answer(
        app.client
            .post(app.url("/ping/no-such-key"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    assert_eq!(unknown, unknown_posted);
    app.shut_down().await;

    // With a ping quota of a burst of 2: the third plain heartbeat is the route's 429.
    let limited = CONFIG.replace(
        "ping_rate_limit: { per_second: 0 }",
        "ping_rate_limit: { per_second: 1, burst: 2 }",
    );
    let app = TestApp::builder(&limited)
        .manual_clock("2026-03-01T12:00:00Z")
        .pings()
        .start()
        .await;
    let get = |path: &str| app.client.get(app.url(path)).send();
    for _ in 0..2 {
        assert_eq!(get("/ping/job-key").await.unwrap().status(), StatusCode::OK);
    }
    let refused = get("/ping/job-key").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(app.store.count_pings(Some("job-key")).await.unwrap(), 2);
    app.shut_down().await;
}
