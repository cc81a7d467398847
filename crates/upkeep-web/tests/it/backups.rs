//! Backups and drills over real sockets: a server on port 0 over a real SQLite file with the
//! real ping writer and a manual clock. Pings with a size make a set `ok`; time past the RPO
//! makes it `breached`; drills start and finish once; the DR readiness page in JSON and HTML;
//! problem+json for every bad request; the watcher's transitions stored as events.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::support;

use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_engine::config::{ConfigSource, load};

use support::{TestApp, problem};

const CONFIG: &str = r#"
page:
  name: Test <Cloud>
  url: http://127.0.0.1:8080
  timezone: Europe/Rome
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
  max_body: 64KB
components:
  db: { name: Database }
backups:
  main-db: { rpo: 6h, rto: 24h, drill_every: 30d, push_key: main-key }
  files: { rpo: 1d, rto: 4h, push_key: files-key }
"#;

async fn start() -> TestApp {
    TestApp::builder(CONFIG)
        .manual_clock("2026-03-01T12:00:00Z")
        .pings()
        .start()
        .await
}

/// What the backups tests ask of the app beyond the shared helpers.
impl TestApp {
    async fn ping(&self, path: &str) -> StatusCode {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn post(&self, path: &str, token: &str, body: Option<&Value>) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap()
    }
}

fn set<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {list}"))
}

#[tokio::test]
async fn backups_against_rpo_and_drills_against_rto() {
    let app = start().await;

    // Nothing yet: unknown, never drilled, not ready.
    let list = app.json("/api/v1/backups", Some(&app.viewer)).await;
    let main = set(&list, "main-db");
    assert_eq!(main["state"], "unknown");
    assert_eq!(main["rpo_ms"], 6 * 3_600_000);
    assert_eq!(main["rto_ms"], 24 * 3_600_000);
    assert_eq!(main["last_backup"], Value::Null);
    assert_eq!(main["drill_overdue"], true, "never drilled with a cadence");
    assert_eq!(main["next_drill_due"], Value::Null);
    assert_eq!(main["ready"], false);
    assert!(main.get("push_key").is_none(), "keys stay secret");

    // A backup run of 10 minutes with its size.
    assert_eq!(app.ping("/ping/main-key/start").await, StatusCode::OK);
    app.advance(600);
    assert_eq!(
        app.ping("/ping/main-key?size=1048576").await,
        StatusCode::OK
    );
    // A bad size is refused before anything is recorded.
    for bad in ["-1", "1.5", "12MB", "99999999999999999999"] {
        assert_eq!(
            app.ping(&format!("/ping/main-key/0?size={bad}")).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let list = app.json("/api/v1/backups", Some(&app.viewer)).await;
    let main = set(&list, "main-db");
    assert_eq!(main["state"], "ok", "{main}");
    assert_eq!(main["last_backup"]["size_bytes"], 1_048_576);
    assert_eq!(main["last_backup"]["duration_ms"], 600_000);
    assert_eq!(
        main["last_backup"]["started_at"],
        "2026-03-01T12:00:00.000Z"
    );
    assert_eq!(main["age_ms"], 600_000, "from the run's start");
    assert_eq!(main["age_rpo_ppm"], 27_777);

    // A failed run does not reset the age; at 80 % of the RPO the set is at risk.
    app.advance(4 * 3600);
    assert_eq!(app.ping("/ping/main-key/1?size=10").await, StatusCode::OK);
    app.advance(50 * 60 - 600); // 4h50m since the start (80.5 %)
    let main = app.json("/api/v1/backups/main-db", Some(&app.viewer)).await;
    assert_eq!(main["state"], "at_risk", "{main}");
    assert_eq!(main["runs"].as_array().unwrap().len(), 2);
    assert_eq!(main["runs"][0]["ok"], false);
    assert_eq!(main["runs"][0]["size_bytes"], 10);
    // Exactly the RPO is still within it; one second more is a breach.
    app.advance(70 * 60);
    assert_eq!(
        app.json("/api/v1/backups/main-db", Some(&app.viewer)).await["state"],
        "at_risk"
    );
    app.advance(1);
    let main = app.json("/api/v1/backups/main-db", Some(&app.viewer)).await;
    assert_eq!(main["state"], "breached");
    assert_eq!(main["age_rpo_ppm"], 1_000_046);

    // The watcher stores the transition once.
    let config = load(
        &ConfigSource::File(app.config_path.clone()),
        Timestamp::now(),
    )
    .unwrap();
    let events = upkeep_engine::backups::check(&app.store, &config.config, app.now(), true)
        .await
        .unwrap();
    let ids: Vec<(EventSource, EventState)> =
        events.iter().map(|e| (e.source.clone(), e.to)).collect();
    let main_db = || "main-db".to_owned();
    assert!(
        ids.contains(&(EventSource::Backup(main_db()), EventState::Breached)),
        "{ids:?}"
    );
    assert!(
        ids.contains(&(EventSource::Drill(main_db()), EventState::Overdue)),
        "{ids:?}"
    );
    let again = upkeep_engine::backups::check(&app.store, &config.config, app.now(), true)
        .await
        .unwrap();
    assert!(again.is_empty(), "no repeated alerts: {again:?}");
    let stored = app
        .store
        .list_monitor_events(Some(&EventSource::Backup(main_db())), 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].from, EventState::Unknown);

    // A fresh backup: ok again.
    assert_eq!(app.ping("/ping/main-key/0?size=2048").await, StatusCode::OK);
    assert_eq!(
        app.json("/api/v1/backups/main-db", Some(&app.viewer)).await["state"],
        "ok"
    );

    // Drills: viewers cannot start one; editors can; unknown sets are 404.
    problem(
        app.post("/api/v1/backups/main-db/drills", &app.viewer, None)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.post("/api/v1/backups/nope/drills", &app.editor, None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/api/v1/backups/nope", Some(&app.viewer)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = app
        .post(
            "/api/v1/backups/main-db/drills",
            &app.editor,
            Some(&json!({ "notes": "restore to staging" })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let drill: Value = r.json().await.unwrap();
    let drill_id = drill["id"].as_str().unwrap().to_owned();
    assert_eq!(drill["finished_at"], Value::Null);
    assert_eq!(
        app.json("/api/v1/backups/main-db", Some(&app.viewer)).await["open_drill"]["id"],
        drill_id.as_str()
    );

    app.advance(3 * 3600);
    let finish = format!("/api/v1/backups/main-db/drills/{drill_id}/finish");
    problem(
        app.post(
            &finish,
            &app.editor,
            Some(&json!({ "outcome": "maybe", "validated": true })),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post(&finish, &app.editor, Some(&json!({ "outcome": "success" })))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post(
            "/api/v1/backups/main-db/drills/zzzzzzzzzzzz/finish",
            &app.editor,
            Some(&json!({ "outcome": "success", "validated": true })),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = app
        .post(
            &finish,
            &app.editor,
            Some(&json!({ "outcome": "success", "validated": true, "notes": "checksums ok" })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["recovery_ms"], 3 * 3_600_000);
    assert_eq!(done["rto_ms"], 24 * 3_600_000);
    assert_eq!(done["meets_rto"], true);
    assert_eq!(done["validated"], true);
    let conflict = problem(
        app.post(
            &finish,
            &app.editor,
            Some(&json!({ "outcome": "failure", "validated": false })),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        conflict["detail"]
            .as_str()
            .unwrap()
            .contains("already finished")
    );

    let main = app.json("/api/v1/backups/main-db", Some(&app.viewer)).await;
    assert_eq!(main["last_drill"]["id"], drill_id.as_str());
    assert_eq!(main["meets_rto"], true);
    assert_eq!(main["drill_overdue"], false);
    assert_eq!(main["next_drill_due"], "2026-03-31T21:00:01.000Z");
    assert_eq!(main["ready"], true, "{main}");

    // A drill that was not validated does not count: finished, but not meeting the RTO.
    let r = app
        .post("/api/v1/backups/main-db/drills", &app.editor, None)
        .await;
    let d2: Value = r.json().await.unwrap();
    app.advance(60);
    let r = app
        .post(
            &format!(
                "/api/v1/backups/main-db/drills/{}/finish",
                d2["id"].as_str().unwrap()
            ),
            &app.editor,
            Some(&json!({ "outcome": "success", "validated": false })),
        )
        .await;
    let d2: Value = r.json().await.unwrap();
    assert_eq!(d2["recovery_ms"], Value::Null);
    assert_eq!(d2["duration_ms"], 60_000);
    assert_eq!(d2["meets_rto"], false);
    let main = app.json("/api/v1/backups/main-db", Some(&app.viewer)).await;
    assert_eq!(main["meets_rto"], false);
    assert_eq!(main["ready"], false);
    assert_eq!(
        main["next_drill_due"], "2026-03-31T21:00:01.000Z",
        "from the counted drill"
    );

    // DR readiness: JSON and HTML, both for viewers only.
    problem(
        app.get("/api/v1/dr-readiness", Some("nope")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let ready = app.json("/api/v1/dr-readiness", Some(&app.viewer)).await;
    assert_eq!(ready["ready"], false);
    assert_eq!(ready["backups"].as_array().unwrap().len(), 2);
    assert_eq!(set(&ready["backups"], "files")["state"], "unknown");
    let r = app
        .get("/api/v1/dr-readiness.html", Some(&app.viewer))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("main-db"), "{html}");
    assert!(html.contains("files"), "{html}");
    assert!(!html.contains("Test <Cloud>"), "escaped");
    assert!(html.contains("Test &#60;Cloud&#62;") || html.contains("Test &lt;Cloud&gt;"));
    assert!(html.contains("Not ready"));
    assert!(
        html.contains("success, not validated"),
        "the last drill: {html}"
    );
    assert!(!html.contains("<script"));

    // The OpenAPI document lists the routes under their tag.
    let doc: Value = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/backups",
        "/api/v1/backups/{id}",
        "/api/v1/backups/{id}/drills",
        "/api/v1/backups/{id}/drills/{drill_id}/finish",
        "/api/v1/dr-readiness",
        "/api/v1/dr-readiness.html",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
