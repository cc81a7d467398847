//! `/api/v1/inventory` over real sockets: a deploy job reports what is deployed (editor),
//! viewers read each item and place judged against a real-shaped local `index.yaml`; bad
//! reports are problem+json; the routes are in the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use upkeep_engine::inventory::{Fetcher, refresh};

use crate::console_pages;
use crate::support::{TestApp, is_instant, problem};
use upkeep_domain::role::Role;

const INDEX: &str = r#"apiVersion: v1
entries:
  traefik:
  - apiVersion: v2
    appVersion: v3.1.2
    created: "2026-02-01T00:00:00Z"
    name: traefik
    urls: [https://example.invalid/traefik-30.1.0.tgz]
    version: 30.1.0
  - appVersion: v3.1.0
    created: "2026-01-01T00:00:00Z"
    name: traefik
    version: v30.0
  - appVersion: v3.2.0-rc.1
    created: "2026-02-10T00:00:00Z"
    name: traefik
    version: 31.0.0-rc.1
generated: "2026-02-10T00:00:00Z"
"#;

#[tokio::test]
async fn deploy_jobs_report_and_viewers_read_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index.yaml");
    std::fs::write(&index, INDEX).unwrap();
    let config = format!(
        "page: {{ name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }}\n\
         server: {{ rate_limit: {{ per_second: 0 }} }}\n\
         components: {{ edge: {{ name: Edge }} }}\n\
         inventory:\n  items:\n    traefik: {{ helm: {{ index: \"{}\", chart: traefik }} }}\n\
         \x20 policies:\n    - {{ max_behind: patch, severity: warning }}\n",
        index.display()
    );
    let app = TestApp::builder(&config)
        .manual_clock("2026-03-01T12:00:00Z")
        .start()
        .await;
    let fetcher = Fetcher::new(Duration::from_secs(5)).unwrap();
    refresh(
        &app.store,
        &app.state.config.current(),
        &fetcher,
        app.now(),
        true,
    )
    .await
    .unwrap();

    let list = app.json("/api/v1/inventory", Some(&app.viewer)).await;
    assert_eq!(list[0]["state"], "unknown", "{list}");
    assert_eq!(list[0]["place"], Value::Null);

    let put = |body: Value, token: String| {
        let app = &app;
        async move {
            app.request_json(
                Method::PUT,
                "/api/v1/inventory/traefik/deployed",
                &token,
                &body,
            )
            .await
        }
    };
    let r = put(
        json!({"place": "prod-eu", "chart_version": "30.0.0", "app_version": "v3.1.0"}),
        app.editor.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["changed"], true);
    assert!(is_instant(&stored["reported_at"]));

    let list = app.json("/api/v1/inventory", Some(&app.viewer)).await;
    let row = &list[0];
    assert_eq!(row["place"], "prod-eu", "{list}");
    assert_eq!(row["state"], "behind_minor");
    assert_eq!(row["latest"]["version"], "30.1.0");
    assert_eq!(row["latest"]["releases_behind"], 1);
    assert_eq!(row["latest"]["days_behind"], 28);
    assert_eq!(row["latest_patch"]["version"], "30.0.0");
    assert_eq!(row["latest_patch"]["releases_behind"], 0);
    assert_eq!(row["index"]["error"], Value::Null);
    assert!(is_instant(&row["index"]["read_at"]));

    // The console shows the same rows, worded as the report words them.
    console_pages::seed_user(&app.store, "viewer@example.com", Role::Viewer).await;
    let cookie = console_pages::sign_in(&app, "viewer@example.com").await;
    let (status, body) = console_pages::page(&app, &cookie, "/admin/inventory").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        r#"<td data-label="Item">traefik</td><td data-label="Place">prod-eu</td>"#,
        "behind_minor",
        "30.1.0 (1 behind, 28 d)",
        "<a href=\"/admin/inventory\">Inventory</a>",
    ] {
        assert!(body.contains(text), "no {text} in {body}");
    }

    // Viewers may not report; bad reports are problems a person can act on.
    let r = put(
        json!({"place": "prod-eu", "chart_version": "30.1.0"}),
        app.viewer.clone(),
    )
    .await;
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .request_json(
            Method::PUT,
            "/api/v1/inventory/nginx/deployed",
            &app.editor,
            &json!({"place": "prod-eu", "chart_version": "1.0.0"}),
        )
        .await;
    let p = problem(r, StatusCode::NOT_FOUND).await;
    assert!(
        p["detail"].as_str().unwrap().contains("inventory.items"),
        "{p}"
    );
    let r = put(
        json!({"place": "prod-eu", "chart_version": "latest"}),
        app.editor.clone(),
    )
    .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("not a semantic version"),
        "{p}"
    );
    let r = put(
        json!({"place": "", "chart_version": "1.0.0"}),
        app.editor.clone(),
    )
    .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = put(
        json!({"place": "x", "chart_version": "1.0.0", "cluster": "y"}),
        app.editor.clone(),
    )
    .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .client
        .put(app.url("/api/v1/inventory/traefik/deployed"))
        .bearer_auth(&app.editor)
        .header("content-type", "application/json")
        .body("{\"place\": ")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::BAD_REQUEST).await;

    // The change is audited.
    let audit = app.json("/api/v1/audit", Some(&app.viewer)).await;
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "inventory.deployed")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(entry["target"], "inventory/traefik/prod-eu");

    // The upgrades due in the next maintenance.
    let r = app
        .post_json(
            "/api/v1/maintenances",
            &app.editor,
            &json!({"title": "Edge upgrades", "starts_at": "2026-04-04T22:00:00Z", "duration": "2h", "components": ["edge"], "message": "Scheduled."}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let plan = app
        .json("/api/v1/maintenances/upgrades", Some(&app.viewer))
        .await;
    assert_eq!(plan[0]["title"], "Edge upgrades", "{plan}");
    assert_eq!(
        plan[0]["upgrades"],
        json!([{"item": "traefik", "place": "prod-eu", "from": "30.0.0", "to": "30.1.0", "state": "behind_minor"}])
    );

    let doc = app.json("/api/v1/openapi.json", None).await;
    assert!(doc["paths"]["/api/v1/inventory"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/inventory/{item}/deployed"]["put"].is_object());
    assert!(doc["paths"]["/api/v1/maintenances/upgrades"]["get"].is_object());
}
