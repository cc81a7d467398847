//! The incident admin API over real sockets: a server on port 0 over a real SQLite file, driven
//! with reqwest. Covers roles, the life of an incident (open, update, edit, resolve, reopen,
//! delete), the audit trail and a problem+json answer for every kind of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const BASE_CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
  max_body: 64KB
components:
  api: { name: Public API }
  web: { name: Website }
"#
);

use crate::support;

use support::{TestApp, is_instant, page_config, problem};

impl TestApp {
    async fn request_raw(&self, method: Method, path: &str, token: &str, body: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Opens an incident as the editor and returns it.
    async fn open(&self, body: &Value) -> Value {
        let r = self
            .post_json("/api/v1/incidents", &self.editor, body)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.unwrap()
    }
}

#[tokio::test]
async fn an_incident_lives_from_opening_to_deletion() {
    let app = TestApp::start(BASE_CONFIG).await;

    // Viewers read but cannot open.
    let body = json!({
        "title": "API errors",
        "body": "We are **investigating** elevated errors.",
        "components": [{ "id": "api", "status": "major_outage" }],
    });
    problem(
        app.post_json("/api/v1/incidents", &app.viewer, &body).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.get("/api/v1/incidents", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    let created = app.open(&body).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 12);
    assert_eq!(created["title"], "API errors");
    assert_eq!(created["status"], "investigating");
    assert_eq!(created["impact"], "critical", "from the worst component");
    assert_eq!(
        created["components"],
        json!([{ "id": "api", "status": "major_outage" }])
    );
    assert!(is_instant(&created["created_at"]), "{created}");
    assert!(is_instant(&created["started_at"]), "{created}");
    assert_eq!(created["resolved_at"], Value::Null);
    assert_eq!(created["auto"], false);
    let by = created["created_by"].as_str().unwrap();
    assert!(
        by.starts_with("token:") && by.ends_with("(editor token)"),
        "{by}"
    );
    assert_eq!(created["updates"].as_array().unwrap().len(), 1);

    // The viewer reads it and the list.
    let shown = app
        .json(&format!("/api/v1/incidents/{id}"), Some(&app.viewer))
        .await;
    assert_eq!(shown, created);
    let listed = app.json("/api/v1/incidents", Some(&app.viewer)).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // An update.
    let r = app
        .post_json(
            &format!("/api/v1/incidents/{id}/updates"),
            &app.editor,
            &json!({
                "status": "identified",
                "body": "A bad deploy.",
                "components": [{ "id": "web", "status": "degraded_performance" }],
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["status"], "identified");
    assert_eq!(
        updated["components"],
        json!([
            { "id": "api", "status": "major_outage" },
            { "id": "web", "status": "degraded_performance" },
        ])
    );
    assert_eq!(updated["updates"][0]["body"], "A bad deploy.");
    assert_eq!(updated["updates"][0]["status"], "identified");
    assert_eq!(updated["updates"][1]["status"], "investigating");

    // Edit.
    let r = app
        .request_json(
            Method::PATCH,
            &format!("/api/v1/incidents/{id}"),
            &app.editor,
            &json!({ "title": "API errors after deploy", "impact": "major", "postmortem": "# Why" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["title"], "API errors after deploy");
    assert_eq!(edited["impact"], "major");
    assert_eq!(edited["postmortem"], "# Why");
    let r = app
        .request_json(
            Method::PATCH,
            &format!("/api/v1/incidents/{id}"),
            &app.editor,
            &json!({ "postmortem": null }),
        )
        .await;
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["postmortem"], Value::Null);

    // Resolve with an empty body, then with a message on a reopened incident.
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.editor,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let resolved: Value = r.json().await.unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert!(is_instant(&resolved["resolved_at"]), "{resolved}");
    assert_eq!(
        resolved["components"],
        json!([
            { "id": "api", "status": "operational" },
            { "id": "web", "status": "operational" },
        ])
    );
    let unresolved = app
        .json("/api/v1/incidents?unresolved=true", Some(&app.viewer))
        .await;
    assert_eq!(unresolved, json!([]));

    let r = app
        .post_json(
            &format!("/api/v1/incidents/{id}/updates"),
            &app.editor,
            &json!({ "status": "investigating", "body": "It is back." }),
        )
        .await;
    let reopened: Value = r.json().await.unwrap();
    assert_eq!(reopened["resolved_at"], Value::Null);
    let unresolved = app
        .json(
            "/api/v1/incidents?unresolved=true&limit=5",
            Some(&app.viewer),
        )
        .await;
    assert_eq!(unresolved.as_array().unwrap().len(), 1);

    let r = app
        .post_json(
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.editor,
            &json!({ "body": "Fixed for good." }),
        )
        .await;
    let resolved: Value = r.json().await.unwrap();
    assert_eq!(resolved["updates"][0]["body"], "Fixed for good.");
    assert_eq!(resolved["updates"].as_array().unwrap().len(), 5);

    // Only an admin deletes.
    let path = format!("/api/v1/incidents/{id}");
    problem(
        app.send(Method::DELETE, &path, &app.editor).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = app.send(Method::DELETE, &path, &app.admin).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&path, Some(&app.viewer)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.send(Method::DELETE, &path, &app.admin).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Every change is in the audit log, newest first.
    let audit = app.json("/api/v1/audit", Some(&app.viewer)).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == format!("incident/{id}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "incident.delete",
            "incident.update",
            "incident.update",
            "incident.update",
            "incident.edit",
            "incident.edit",
            "incident.update",
            "incident.create",
        ]
    );
}

#[tokio::test]
async fn every_bad_input_is_a_problem() {
    let app = TestApp::start(BASE_CONFIG).await;
    let open = |body: Value| {
        let app = &app;
        async move { app.post_json("/api/v1/incidents", &app.editor, &body).await }
    };

    // Malformed JSON → 400; unknown field → 422.
    let r = app
        .request_raw(
            Method::POST,
            "/api/v1/incidents",
            &app.editor,
            "{\"title\": ",
        )
        .await;
    problem(r, StatusCode::BAD_REQUEST).await;
    let p = problem(
        open(json!({ "title": "x", "severity": "high" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("severity"), "{p}");
    let p = problem(
        open(json!({ "title": "x", "components": [{ "id": "api", "status": "major_outage", "x": 1 }] }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains('x'), "{p}");

    // Unknown component → 422 naming it and the known ones.
    let p = problem(
        open(json!({ "title": "x", "components": [{ "id": "db", "status": "major_outage" }] }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("`db`") && detail.contains("`api`") && detail.contains("`web`"),
        "{p}"
    );

    // Empty or long title, long body, bad enum values, bad started_at.
    for body in [
        json!({ "title": "   " }),
        json!({ "title": "x".repeat(201) }),
        json!({ "title": "x", "body": "y".repeat(20_001) }),
        json!({ "title": "x", "status": "on_fire" }),
        json!({ "title": "x", "impact": "huge" }),
        json!({ "title": "x", "components": [{ "id": "api", "status": "down" }] }),
        json!({ "title": "x", "components": [{ "id": "api", "status": "major_outage" }, { "id": "api", "status": "operational" }] }),
        json!({ "title": "x", "started_at": "yesterday" }),
        json!({ "body": "no title" }),
    ] {
        problem(open(body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(
        app.json("/api/v1/incidents", Some(&app.viewer)).await,
        json!([]),
        "nothing was created"
    );

    // Unknown ids → 404 on every route.
    for id in ["nosuchincid1", "not-an-id"] {
        let path = format!("/api/v1/incidents/{id}");
        problem(
            app.get(&path, Some(&app.viewer)).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        let r = app
            .post_json(
                &format!("{path}/updates"),
                &app.editor,
                &json!({ "body": "x" }),
            )
            .await;
        problem(r, StatusCode::NOT_FOUND).await;
        let r = app
            .send(Method::POST, &format!("{path}/resolve"), &app.editor)
            .await;
        problem(r, StatusCode::NOT_FOUND).await;
        let r = app
            .request_json(Method::PATCH, &path, &app.editor, &json!({ "title": "y" }))
            .await;
        problem(r, StatusCode::NOT_FOUND).await;
    }

    // Bad updates, edits and resolutions of an existing incident.
    let created = app.open(&json!({ "title": "real" })).await;
    let id = created["id"].as_str().unwrap();
    let updates = format!("/api/v1/incidents/{id}/updates");
    for body in [
        json!({}),
        json!({ "status": "bogus" }),
        json!({ "components": [{ "id": "nope", "status": "operational" }] }),
        json!({ "body": "x", "title": "y" }),
    ] {
        problem(
            app.post_json(&updates, &app.editor, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    problem(
        app.request_raw(Method::POST, &updates, &app.editor, "not json")
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.post_json(&updates, &app.viewer, &json!({ "body": "x" }))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let path = format!("/api/v1/incidents/{id}");
    for body in [
        json!({}),
        json!({ "title": "" }),
        json!({ "impact": "bad" }),
        json!({ "status": "resolved" }),
    ] {
        problem(
            app.request_json(Method::PATCH, &path, &app.editor, &body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let resolve = format!("{path}/resolve");
    problem(
        app.request_raw(Method::POST, &resolve, &app.editor, "{")
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.request_raw(Method::POST, &resolve, &app.editor, "{\"status\": \"x\"}")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get("/api/v1/incidents?limit=0", Some(&app.viewer))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/incidents?resolved=yes", Some(&app.viewer))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // The incident is untouched by all of that.
    let shown = app.json(&path, Some(&app.viewer)).await;
    assert_eq!(shown, created);
}

#[tokio::test]
async fn the_openapi_document_lists_the_incident_routes() {
    let app = TestApp::start(BASE_CONFIG).await;
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status(), StatusCode::OK, "openapi path");
    let doc: Value = r.json().await.unwrap();
    let paths = &doc["paths"];
    for p in [
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/updates",
        "/api/v1/incidents/{id}/resolve",
    ] {
        assert!(paths[p].is_object(), "{p} missing");
    }
    assert!(paths["/api/v1/incidents/{id}"]["delete"].is_object());
    assert!(paths["/api/v1/incidents/{id}"]["patch"].is_object());
}
