//! The HTTP side over real sockets: a server on port 0 over a real SQLite file, driven with
//! reqwest. Covers authentication and roles, problem+json shapes, limits, rate limiting,
//! configuration reload, the audit trail, the OpenAPI document and the operational endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const BASE_CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
  max_body: 64KB
components:
  api: { name: Public API }
"#
);

use crate::support;

use support::{TestApp, page_config, problem};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::start(BASE_CONFIG).await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ready\n");
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "upkeep_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"2xx\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("upkeep_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_fails_while_a_background_task_is_down() {
    let supervisor = upkeep_engine::supervisor::Supervisor::new();
    let app = TestApp::builder(BASE_CONFIG)
        .health(supervisor.health())
        .start()
        .await;
    let token = supervisor.token();
    supervisor.spawn("steady", async move { token.cancelled().await });
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);

    // A task that cannot be rebuilt ends before shutdown: down until the process stops.
    supervisor.spawn("doomed", async {});
    let mut status = StatusCode::OK;
    for _ in 0..200 {
        status = app.get("/readyz", None).await.status();
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body = problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("doomed") && !detail.contains("steady"),
        "{body}"
    );
    supervisor.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::start(BASE_CONFIG).await;
    app.store.close().await;
    let body = problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("database"),
        "{body}"
    );
}

#[tokio::test]
async fn the_admin_api_needs_a_valid_token_with_the_right_role() {
    let app = TestApp::start(BASE_CONFIG).await;

    let r = app.get("/api/v1/tokens", None).await;
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(www.as_deref(), Some("Bearer realm=\"upkeep\""));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );

    let body = problem(
        app.get("/api/v1/tokens", Some("upk_notatoken")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown or revoked")
    );

    let r = app
        .client
        .get(app.url("/api/v1/tokens"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;

    for token in [&app.viewer, &app.editor] {
        let body = problem(
            app.get("/api/v1/tokens", Some(token)).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("admin role"),
            "{body}"
        );
    }
    let r = app.get("/api/v1/tokens", Some(&app.admin)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.to_string().find("upk_").is_none(),
        "no secret is ever listed"
    );

    // Every role reads.
    for (token, role) in [
        (&app.viewer, "viewer"),
        (&app.editor, "editor"),
        (&app.admin, "admin"),
    ] {
        let me: Value = app.json("/api/v1/whoami", Some(token)).await;
        assert_eq!(me["role"], role);
    }
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once_and_changes_are_audited() {
    let app = TestApp::start(BASE_CONFIG).await;
    let r = app
        .post_json(
            "/api/v1/tokens",
            &app.admin,
            &json!({"name": "ci bot", "role": "editor"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/v1/whoami", Some(&secret)).await.status(),
        StatusCode::OK
    );

    let r = app
        .send(Method::DELETE, &format!("/api/v1/tokens/{id}"), &app.admin)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let revoked: Value = r.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    problem(
        app.get("/api/v1/whoami", Some(&secret)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    let r = app
        .send(Method::DELETE, "/api/v1/tokens/nosuchtoken1", &app.admin)
        .await;
    problem(r, StatusCode::NOT_FOUND).await;

    let audit: Value = app.json("/api/v1/audit?limit=2", Some(&app.viewer)).await;
    let rows = audit.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["action"], "token.revoke");
    assert_eq!(rows[1]["action"], "token.create");
    let admin_id = app
        .store
        .authenticate(&app.admin, jiff::Timestamp::now())
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(rows[0]["actor"], format!("token:{admin_id} (admin token)"));
    assert!(rows[0]["before"]["revoked_at"].is_null());
    assert!(rows[0]["after"]["revoked_at"].is_string());
}

#[tokio::test]
async fn malformed_requests_get_problem_documents_never_500() {
    let app = TestApp::start(BASE_CONFIG).await;
    let post = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/v1/tokens"))
            .bearer_auth(&app.admin)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    problem(
        post("{\"name\": ", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let body = problem(
        post("name=x", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
    problem(
        post("{\"name\": 5, \"role\": \"admin\"}", "application/json")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        post(
            "{\"name\": \"x\", \"role\": \"admin\", \"extra\": 1}",
            "application/json",
        )
        .await
        .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let body = problem(
        post("{\"name\": \"x\", \"role\": \"root\"}", "application/json")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("viewer, editor, admin, hook or agent")
    );
    problem(
        post("{\"name\": \"\", \"role\": \"admin\"}", "application/json")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Bigger than server.max_body (64 KB), with and without a declared length.
    let huge = format!(
        "{{\"name\": \"{}\", \"role\": \"admin\"}}",
        "x".repeat(200_000)
    );
    let r = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    let mut chunked = format!(
        "POST /api/v1/tokens HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        app.admin
    )
    .into_bytes();
    for chunk in huge.as_bytes().chunks(8192) {
        chunked.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend(chunk);
        chunked.extend(b"\r\n");
    }
    chunked.extend(b"0\r\n\r\n");
    let answer = raw(&app, chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let answer = raw(&app, b"GARBAGE\r\n\r\n".to_vec()).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );

    problem(
        app.get("/api/v1/audit?limit=abc", Some(&app.viewer)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/audit?limit=100000", Some(&app.viewer))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/audit?bogus=1", Some(&app.viewer)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(app.get("/no/such/page", None).await, StatusCode::NOT_FOUND).await;
    let r = app.client.put(app.url("/healthz")).send().await.unwrap();
    problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    let r = app
        .send(Method::DELETE, "/api/v1/tokens/%ff%fe", &app.admin)
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
}

/// Sends `request` as raw bytes and returns the whole response as text.
async fn raw(app: &TestApp, request: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before the whole body is sent.
    let _ = sock.write_all(&request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_flooding_client_is_limited_and_others_are_still_served() {
    let config = BASE_CONFIG.replace("per_second: 1000, burst: 1000", "per_second: 1, burst: 5");
    let app = TestApp::start(&config).await;
    for i in 0..5 {
        assert_eq!(
            app.get("/healthz", None).await.status(),
            StatusCode::OK,
            "request {i}"
        );
    }
    let r = app.get("/healthz", None).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let body = problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body["retry_after"], retry);
    // Pings have their own quota: a flooded page limit does not refuse them.
    let r = app.get("/ping/no-such-key", None).await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "answered, not rate-limited"
    );
    // Another address is served as usual.
    let other = Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = other.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The flooder recovers after waiting.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reload_applies_a_valid_file_atomically_and_refuses_a_bad_one() {
    let app = TestApp::start(BASE_CONFIG).await;
    let summary: Value = app.json("/api/v1/config", Some(&app.viewer)).await;
    assert_eq!(summary["page_name"], "Test Cloud");
    assert_eq!(summary["components"], 1);
    let first_sha = summary["sha256"].as_str().unwrap().to_owned();

    // Only an admin reloads.
    let r = app
        .send(Method::POST, "/api/v1/config/reload", &app.editor)
        .await;
    problem(r, StatusCode::FORBIDDEN).await;

    // Unchanged file: nothing to record.
    let r = app
        .send(Method::POST, "/api/v1/config/reload", &app.admin)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["changed"], false);

    let changed = BASE_CONFIG.replace("Test Cloud", "Renamed Cloud") + "  db: { name: Database }\n";
    std::fs::write(&app.config_path, &changed).unwrap();
    let r = app
        .send(Method::POST, "/api/v1/config/reload", &app.admin)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["changed"], true);
    assert_eq!(out["previous_sha256"], first_sha);
    let summary: Value = app.json("/api/v1/config", Some(&app.viewer)).await;
    assert_eq!(summary["page_name"], "Renamed Cloud");
    assert_eq!(summary["components"], 2);

    // A broken file: every problem reported with its position, nothing changes.
    let broken = changed.replace("timezone: Europe/Rome", "timezone: Europe/Rom")
        + "  web: { name: Web, bogus: 1 }\n";
    std::fs::write(&app.config_path, &broken).unwrap();
    let r = app
        .send(Method::POST, "/api/v1/config/reload", &app.admin)
        .await;
    let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let errors: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let file = app.config_path.display().to_string();
    assert!(
        errors[0].starts_with(&format!("{file}:5:13: ")),
        "{errors:?}"
    );
    assert!(errors[0].contains("Europe/Rom"), "{errors:?}");
    assert!(errors[1].starts_with(&format!("{file}:12:")), "{errors:?}");
    assert!(errors[1].contains("bogus"), "{errors:?}");
    assert!(body["detail"].as_str().unwrap().contains("unchanged"));
    let summary: Value = app.json("/api/v1/config", Some(&app.viewer)).await;
    assert_eq!(
        summary["page_name"], "Renamed Cloud",
        "the running configuration stays"
    );

    // A missing file is refused the same way.
    std::fs::remove_file(&app.config_path).unwrap();
    let r = app
        .send(Method::POST, "/api/v1/config/reload", &app.admin)
        .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    let audit: Value = app.json("/api/v1/audit", Some(&app.viewer)).await;
    let reloads: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "config.reload")
        .collect();
    assert_eq!(reloads.len(), 1, "one row for the one change: {audit}");
    assert_eq!(reloads[0]["before"]["sha256"], first_sha);
    assert_eq!(reloads[0]["after"]["sha256"], out["sha256"]);
}

#[tokio::test]
async fn the_openapi_document_describes_the_admin_api() {
    let app = TestApp::start(BASE_CONFIG).await;
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    for path in [
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/audit",
        "/api/v1/config",
        "/api/v1/config/reload",
        "/api/v1/whoami",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    assert!(doc["paths"]["/api/v1/tokens"]["post"]["requestBody"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::start(BASE_CONFIG).await;
    for path in ["/healthz", "/no/such/page", "/api/v1/tokens"] {
        let r = app.get(path, None).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_cannot_hold_every_connection() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = BASE_CONFIG.replace("max_body: 64KB", "max_body: 64KB\n  max_connections: 2");
    let app = TestApp::builder(&config)
        .header_timeout(Duration::from_millis(500))
        .start()
        .await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // Two slow-loris connections take both slots: headers never finish.
    let mut loris = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        loris.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third client waits for a slot instead of being served at once...
    let started = Instant::now();
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    // ...and gets one when the slow ones are cut off after the header timeout.
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for mut s in loris {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
        assert!(n.is_ok(), "the server closed the slow connection");
    }
}

/// With `server.metrics_token`, `/metrics` needs the token and `/readyz` tells a stranger only
/// that it is not ready; `/healthz` stays open.
#[tokio::test]
async fn metrics_and_readiness_detail_need_the_metrics_token() {
    const TOKEN: &str = "m3tr1cs-t0ken-7hq2xk9v";
    let config = BASE_CONFIG.replace("server:\n", &format!("server:\n  metrics_token: {TOKEN}\n"));
    let supervisor = upkeep_engine::supervisor::Supervisor::new();
    let app = TestApp::builder(&config)
        .health(supervisor.health())
        .start()
        .await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    problem(app.get("/metrics", None).await, StatusCode::UNAUTHORIZED).await;
    problem(
        app.get("/metrics", Some("m3tr1cs-t0ken-7hq2xk9w")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let r = app.get("/metrics", Some(TOKEN)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("upkeep_http_requests_total")
    );

    supervisor.spawn("doomed-task", async {});
    let mut status = StatusCode::OK;
    for _ in 0..200 {
        status = app.get("/readyz", Some(TOKEN)).await.status();
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = r.text().await.unwrap();
    assert_eq!(text, "not ready\n", "no detail without the token");
    let body = problem(
        app.get("/readyz", Some(TOKEN)).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("doomed-task"),
        "{body}"
    );
    supervisor.shutdown(std::time::Duration::from_secs(2)).await;
}

/// A folded run of successes reads back from the results API as one row standing for its
/// checks, with its last instant and latency range; a failure beside it stays a single check.
#[tokio::test]
async fn results_show_a_folded_run_as_one_row_with_its_checks() {
    use upkeep_store::monitoring::CheckResult;
    let config = "\npage:\n  name: Test\n  url: http://127.0.0.1:8080\n  timezone: UTC\n\
                  components:\n  api: { name: API }\n\
                  monitors:\n  api-health: { component: api, http: { url: \"http://127.0.0.1:9/\" } }\n";
    // 2026-03-01T00:00Z: 100 successes every 30 s, then one failure.
    let base = 1_772_323_200_000_i64;
    let at = |i: i64| jiff::Timestamp::from_millisecond(base + i * 30_000).unwrap();
    let app = TestApp::start_seeded(config, |store| async move {
        let mut results: Vec<CheckResult> = (0..100)
            .map(|i| CheckResult {
                monitor_id: "api-health".into(),
                at: at(i),
                ok: true,
                latency_ms: 10 + u32::try_from(i % 3).unwrap(),
                status_code: Some(200),
                failure: None,
                location: None,
                down_ms: 0,
            })
            .collect();
        results.push(CheckResult {
            monitor_id: "api-health".into(),
            at: at(100),
            ok: false,
            latency_ms: 5,
            status_code: Some(503),
            failure: Some("HTTP 503".into()),
            location: None,
            down_ms: 0,
        });
        store.record_results(&results).await.unwrap();
        let folded = store
            .fold_hour(&[("api-health".to_owned(), 30_000)], at(0))
            .await
            .unwrap();
        assert_eq!(folded.runs, 1);
    })
    .await;
    let rows = app
        .json(
            "/api/v1/monitors/api-health/results?limit=10",
            Some(&app.viewer),
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["ok"], false);
    assert_eq!(rows[0]["checks"], 1);
    assert!(rows[0]["last_at"].is_null() && rows[0]["latency_min_ms"].is_null());
    assert_eq!(rows[1]["checks"], 100);
    assert_eq!(rows[1]["at"], "2026-03-01T00:00:00.000Z");
    assert_eq!(rows[1]["last_at"], "2026-03-01T00:49:30.000Z");
    assert_eq!(
        (
            rows[1]["latency_min_ms"].as_u64(),
            rows[1]["latency_max_ms"].as_u64()
        ),
        (Some(10), Some(12))
    );
    assert_eq!(rows[1]["latency_ms"], 11);
    app.shut_down().await;
}
