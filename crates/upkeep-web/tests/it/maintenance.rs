//! The maintenance admin API over real sockets: a server on port 0 over a real SQLite file,
//! driven with reqwest. Covers the notice policy (422 naming the earliest allowed start), the
//! emergency reason, `force` (admin only, audited), rescheduling, updates, completing early,
//! cancelling, and a problem+json answer for unknown ids and illegal transitions; tenant slots
//! (a window that cannot hold every tenant's slot outside business hours is refused, naming the
//! tenants) and a manual start past failing pre-flight checks (admin only, audited).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use jiff::{Timestamp, ToSpan};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
tenants:
  acme: { name: Acme Corp, region: eu }
  globex: { name: Globex, region: eu }
components:
  api: { name: Public API }
  db: { name: Database }
maintenance:
  policy:
    planned: { min_notice: 14d }
    emergency: { min_notice: 0s, require_reason: true }
"#
);

use crate::support;

use support::{TestApp, is_instant, page_config, problem};

impl TestApp {
    async fn schedule(&self, token: &str, body: &Value) -> Value {
        let r = self.post_json("/api/v1/maintenances", token, body).await;
        let status = r.status();
        let value: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{value}");
        value
    }
}

fn in_days(days: i64) -> Timestamp {
    Timestamp::now() + (days * 24).hours()
}

fn text(t: Timestamp) -> String {
    format!("{t:.3}")
}

fn planned(start: Timestamp) -> Value {
    json!({
        "title": "Database upgrade",
        "description": "PostgreSQL 17 → 18.",
        "starts_at": text(start),
        "duration": "2h",
        "components": ["db", "api"],
        "tenants": ["acme"],
        "message": "Scheduled.",
    })
}

#[tokio::test]
async fn the_notice_policy_refuses_short_notice_and_names_the_earliest_start() {
    let app = TestApp::start(CONFIG).await;
    let before = Timestamp::now();
    let body = problem(
        app.post_json("/api/v1/maintenances", &app.editor, &planned(in_days(1)))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "a planned maintenance needs 14 days of notice: the earliest allowed start is "
        ),
        "{detail}"
    );
    assert_eq!(body["type"], "urn:upkeep:problem:notice-policy");
    let earliest: Timestamp = body["earliest_allowed_start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(earliest >= before + (14 * 24).hours(), "{body}");
    assert!(earliest <= Timestamp::now() + (14 * 24).hours(), "{body}");
    assert!(detail.contains(&earliest.to_string()[..16]), "{detail}");

    // Emergency: short notice is fine, but a reason is needed.
    let mut emergency = planned(in_days(0) + 1.hour());
    emergency["kind"] = json!("emergency");
    let body = problem(
        app.post_json("/api/v1/maintenances", &app.editor, &emergency)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["detail"], "an emergency maintenance needs a reason");
    assert!(body.get("earliest_allowed_start").is_none());
    emergency["reason"] = json!("CVE-2026-1234");
    let created = app.schedule(&app.editor, &emergency).await;
    assert_eq!(created["kind"], "emergency");
    assert_eq!(created["reason"], "CVE-2026-1234");
    assert_eq!(created["counts_as_downtime"], true, "emergency default");

    // Force: editors may not, admins may, and the audit log says so.
    let mut forced = planned(in_days(2));
    forced["force"] = json!(true);
    let body = problem(
        app.post_json("/api/v1/maintenances", &app.editor, &forced)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");
    let created = app.schedule(&app.admin, &forced).await;
    let audit = app.store.list_audit(10, None).await.unwrap();
    let entry = audit
        .iter()
        .find(|a| a.target == format!("maintenance/{}", created["id"].as_str().unwrap()))
        .unwrap();
    assert_eq!(entry.action, "maintenance.create");
    assert!(entry.actor.ends_with("(admin token)"), "{}", entry.actor);
    let note = entry.after.as_ref().unwrap()["forced"].as_str().unwrap();
    assert!(note.contains("earliest allowed start"), "{note}");
    // Force on a schedule within the policy records nothing forced.
    let mut fine = planned(in_days(20));
    fine["force"] = json!(true);
    let created = app.schedule(&app.admin, &fine).await;
    let audit = app.store.list_audit(1, None).await.unwrap();
    assert_eq!(
        audit[0].target,
        format!("maintenance/{}", created["id"].as_str().unwrap())
    );
    assert!(audit[0].after.as_ref().unwrap().get("forced").is_none());
}

#[tokio::test]
async fn bad_schedules_are_refused_with_a_reason() {
    let app = TestApp::start(CONFIG).await;
    let start = in_days(15);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"title": "x", "starts_at": text(start), "duration": "1h", "components": ["cache"]}),
            "there is no component `cache`",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "duration": "1h", "components": ["api"],
                   "tenants": ["initech"]}),
            "there is no tenant `initech`",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "ends_at": text(start - 1.hour()),
                   "components": ["api"]}),
            "must come after the start",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "ends_at": text(start + 1.hour()),
                   "duration": "1h", "components": ["api"]}),
            "not both",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "components": ["api"]}),
            "give the end",
        ),
        (
            json!({"title": "x", "starts_at": "tomorrow", "duration": "1h", "components": ["api"]}),
            "RFC 3339",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "duration": "30", "components": ["api"]}),
            "a unit is required",
        ),
        (
            json!({"title": "  ", "starts_at": text(start), "duration": "1h", "components": ["api"]}),
            "1 to 200 characters",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "duration": "1h", "components": []}),
            "at least one affected component",
        ),
        (
            json!({"title": "x", "kind": "urgent", "starts_at": text(start), "duration": "1h",
                   "components": ["api"]}),
            "unknown kind `urgent`",
        ),
        (
            json!({"title": "x", "starts_at": text(start), "duration": "1h", "components": ["api"],
                   "tenants": "some"}),
            "\"all\" or a list",
        ),
    ];
    for (body, expected) in cases {
        let p = problem(
            app.post_json("/api/v1/maintenances", &app.editor, &body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    // Unknown fields are refused, not ignored.
    let p = problem(
        app.post_json(
            "/api/v1/maintenances",
            &app.editor,
            &json!({"title": "x", "starts_at": text(start), "duration": "1h",
                    "components": ["api"], "severity": "high"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("severity"), "{p}");
    // Roles.
    problem(
        app.post_json("/api/v1/maintenances", &app.viewer, &planned(start))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.get("/api/v1/maintenances", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        app.get("/api/v1/maintenances?state=soon", Some(&app.viewer))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let audit = app.store.list_audit(100, None).await.unwrap();
    assert!(audit.iter().all(|a| !a.action.starts_with("maintenance.")));
}

#[tokio::test]
async fn a_maintenance_is_rescheduled_started_completed_early_and_another_cancelled() {
    let app = TestApp::start(CONFIG).await;
    let start = in_days(15);
    let created = app.schedule(&app.editor, &planned(start)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 12);
    assert_eq!(created["kind"], "planned");
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["title"], "Database upgrade");
    assert_eq!(created["components"], json!(["db", "api"]));
    assert_eq!(created["tenants"], json!(["acme"]));
    assert_eq!(created["checks"], "run");
    assert_eq!(created["counts_as_downtime"], false);
    assert_eq!(created["notify_subscribers"], true);
    assert_eq!(created["sequence"], 0);
    assert_eq!(created["starts_at"], text(start));
    assert_eq!(created["ends_at"], text(start + 2.hours()));
    assert!(is_instant(&created["scheduled_at"]), "{created}");
    assert_eq!(created["window_id"], Value::Null);
    assert_eq!(created["hold_reason"], Value::Null);
    assert_eq!(created["updates"].as_array().unwrap().len(), 1);
    assert_eq!(created["updates"][0]["status"], "scheduled");
    assert_eq!(created["updates"][0]["body"], "Scheduled.");

    let shown = app
        .json(&format!("/api/v1/maintenances/{id}"), Some(&app.viewer))
        .await;
    assert_eq!(shown, created);
    let upcoming = app
        .json("/api/v1/maintenances?state=upcoming", Some(&app.viewer))
        .await;
    assert_eq!(upcoming.as_array().unwrap().len(), 1);
    let active = app
        .json("/api/v1/maintenances?state=active", Some(&app.viewer))
        .await;
    assert!(active.as_array().unwrap().is_empty());

    // Later is always allowed and bumps the sequence.
    let path = format!("/api/v1/maintenances/{id}");
    let r = app
        .patch(
            &path,
            &app.editor,
            &json!({"starts_at": text(start + 24.hours()), "duration": "3h",
                    "message": "Moved by a day.", "tenants": "all"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["sequence"], 1);
    assert_eq!(moved["starts_at"], text(start + 24.hours()));
    assert_eq!(moved["ends_at"], text(start + 27.hours()));
    assert_eq!(moved["tenants"], "all");
    assert_eq!(moved["scheduled_at"], created["scheduled_at"]);
    assert_eq!(moved["updates"][0]["body"], "Moved by a day.");
    // Earlier than the notice allows: 422 with the earliest start; force needs an admin.
    let body = problem(
        app.patch(&path, &app.editor, &json!({"starts_at": text(in_days(3))}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(body["earliest_allowed_start"].is_string(), "{body}");
    problem(
        app.patch(
            &path,
            &app.editor,
            &json!({"starts_at": text(in_days(3)), "force": true}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.patch(
            &path,
            &app.editor,
            &json!({"ends_at": text(start - 1.hour())}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Earlier but within the notice: the notice is measured again.
    let r = app
        .patch(&path, &app.editor, &json!({"starts_at": text(start)}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["sequence"], 2);
    assert_ne!(moved["scheduled_at"], created["scheduled_at"]);

    // Start by hand, then the start may no longer move.
    let updates = format!("/api/v1/maintenances/{id}/updates");
    let r = app
        .post_json(
            &updates,
            &app.editor,
            &json!({"status": "in_progress", "body": "Starting now."}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["updates"][0]["body"], "Starting now.");
    assert_eq!(
        started["sequence"], 3,
        "started early: the start moved to now"
    );
    let began: Timestamp = started["starts_at"].as_str().unwrap().parse().unwrap();
    assert!(began <= Timestamp::now() && began > Timestamp::now() - 1.minute());
    let active = app
        .json("/api/v1/maintenances?state=active", Some(&app.viewer))
        .await;
    assert_eq!(active.as_array().unwrap().len(), 1);
    problem(
        app.patch(&path, &app.editor, &json!({"starts_at": text(in_days(30))}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    problem(
        app.post_json(&updates, &app.editor, &json!({"status": "scheduled"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    problem(
        app.post_json(&updates, &app.editor, &json!({"status": "paused"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post_json(&updates, &app.editor, &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Complete early: the end becomes now.
    let r = app
        .post_json(
            &format!("/api/v1/maintenances/{id}/complete"),
            &app.editor,
            &json!({"body": "All done."}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["updates"][0]["body"], "All done.");
    assert_eq!(done["sequence"], 4, "the end moved");
    let ended: Timestamp = done["ends_at"].as_str().unwrap().parse().unwrap();
    assert!(ended <= Timestamp::now() + 1.second());
    // Finished: no more changes.
    for action in ["complete", "cancel"] {
        let p = problem(
            app.send(
                Method::POST,
                &format!("/api/v1/maintenances/{id}/{action}"),
                &app.editor,
            )
            .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("completed"), "{p}");
    }
    problem(
        app.patch(&path, &app.editor, &json!({"title": "New title"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;

    // Another one: cancel while scheduled (empty body allowed); completing it is a conflict.
    let other = app.schedule(&app.editor, &planned(in_days(16))).await;
    let other_id = other["id"].as_str().unwrap();
    problem(
        app.send(
            Method::POST,
            &format!("/api/v1/maintenances/{other_id}/complete"),
            &app.editor,
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/maintenances/{other_id}/cancel"),
            &app.editor,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cancelled: Value = r.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["sequence"], 1);
    assert_eq!(cancelled["ends_at"], other["ends_at"]);

    // Unknown ids.
    for path in [
        "/api/v1/maintenances/aaaaaaaaaaaa",
        "/api/v1/maintenances/not-an-id",
    ] {
        problem(
            app.get(path, Some(&app.viewer)).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    problem(
        app.send(
            Method::POST,
            "/api/v1/maintenances/aaaaaaaaaaaa/cancel",
            &app.editor,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.patch(
            "/api/v1/maintenances/aaaaaaaaaaaa",
            &app.editor,
            &json!({"title": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let all = app.json("/api/v1/maintenances", Some(&app.viewer)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let actions: Vec<String> = app
        .store
        .list_audit(100, None)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|a| a.action)
        .filter(|a| a.starts_with("maintenance."))
        .collect();
    assert_eq!(
        actions,
        [
            "maintenance.create",
            "maintenance.reschedule",
            "maintenance.reschedule",
            "maintenance.start",
            "maintenance.complete",
            "maintenance.create",
            "maintenance.cancel",
        ]
    );
}

#[tokio::test]
async fn the_openapi_document_lists_the_maintenance_routes() {
    let app = TestApp::start(CONFIG).await;
    let doc = app.json("/api/v1/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/maintenances",
        "/api/v1/maintenances/{id}",
        "/api/v1/maintenances/{id}/updates",
        "/api/v1/maintenances/{id}/complete",
        "/api/v1/maintenances/{id}/cancel",
        "/api/v1/maintenances/{id}/start",
        "/api/v1/maintenances/{id}/slots",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(
        paths["/api/v1/maintenances"]["post"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("maintenance"))
    );
    assert!(doc["components"]["schemas"]["MaintenanceView"].is_object());
}

/// Two tenants with the same business hours in different zones, slots outside them.
const SLOTS_CONFIG: &str = r#"
page:
  name: Test Cloud
  url: http://127.0.0.1:8080
  timezone: Europe/Rome
server:
  rate_limit: { per_second: 1000, burst: 1000 }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-18:00" }
  us: { timezone: America/New_York, business_hours: "Mon-Fri 08:00-18:00" }
tenants:
  eu-acme: { name: Acme Corp, region: eu }
  us-beta: { name: Beta Inc, region: us }
components:
  db: { name: Database }
maintenance:
  policy:
    planned: { min_notice: 0s }
    outside_business_hours: true
    tenant_slot: 15m
"#;

fn window(start: &str, end: &str) -> Value {
    json!({
        "title": "Database upgrade",
        "starts_at": start,
        "ends_at": end,
        "components": ["db"],
    })
}

#[tokio::test]
async fn a_window_that_cannot_fit_every_tenant_slot_is_refused_naming_the_tenants() {
    let app = TestApp::start(SLOTS_CONFIG).await;
    // Wednesday 16 January 2030, 09:00-09:30Z: 10:00 in Rome (business hours), 04:00 in New
    // York (not).
    let day = window("2030-01-16T09:00:00Z", "2030-01-16T09:30:00Z");
    let body = problem(
        app.post_json("/api/v1/maintenances", &app.editor, &day)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["type"], "urn:upkeep:problem:tenant-slots");
    assert_eq!(
        body["detail"],
        "the window cannot fit a 15m slot outside business hours for: eu-acme (Acme Corp)"
    );
    assert_eq!(body["tenants_not_fitting"], json!(["eu-acme"]));

    // Only the US tenant: it fits.
    let mut us_only = day.clone();
    us_only["tenants"] = json!(["us-beta"]);
    let created = app.schedule(&app.editor, &us_only).await;
    let id = created["id"].as_str().unwrap();
    let slots = app
        .json(
            &format!("/api/v1/maintenances/{id}/slots"),
            Some(&app.viewer),
        )
        .await;
    assert_eq!(
        slots,
        json!([{
            "tenant": "us-beta", "name": "Beta Inc", "region": "us",
            "timezone": "America/New_York",
            "start": "2030-01-16T09:00:00.000Z", "end": "2030-01-16T09:15:00.000Z",
            "local_start": "2030-01-16T04:00:00-05:00", "local_end": "2030-01-16T04:15:00-05:00",
            "fits": true,
        }])
    );
    // Adding the EU tenant back is a change of tenants: refused the same way.
    let body = problem(
        app.patch(
            &format!("/api/v1/maintenances/{id}"),
            &app.editor,
            &json!({"tenants": "all"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["tenants_not_fitting"], json!(["eu-acme"]));
    // An edit that changes neither times nor tenants is not re-planned.
    let r = app
        .patch(
            &format!("/api/v1/maintenances/{id}"),
            &app.editor,
            &json!({"title": "Database upgrade (US)"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // A night window: 23:00 in Rome, 17:00 in New York (business hours until 23:00Z).
    let night = window("2030-01-16T22:00:00Z", "2030-01-17T00:00:00Z");
    let created = app.schedule(&app.editor, &night).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let slots = app
        .json(
            &format!("/api/v1/maintenances/{id}/slots"),
            Some(&app.viewer),
        )
        .await;
    let slots = slots.as_array().unwrap();
    assert_eq!(slots.len(), 2, "{slots:?}");
    assert_eq!(slots[0]["tenant"], "eu-acme");
    assert_eq!(slots[0]["local_start"], "2030-01-16T23:00:00+01:00");
    assert_eq!(slots[0]["local_end"], "2030-01-16T23:15:00+01:00");
    assert_eq!(slots[1]["tenant"], "us-beta");
    assert_eq!(slots[1]["start"], "2030-01-16T23:00:00.000Z");
    assert_eq!(slots[1]["local_start"], "2030-01-16T18:00:00-05:00");
    assert_eq!(slots[1]["local_end"], "2030-01-16T18:15:00-05:00");
    let end0: Timestamp = slots[0]["end"].as_str().unwrap().parse().unwrap();
    let start1: Timestamp = slots[1]["start"].as_str().unwrap().parse().unwrap();
    assert!(end0 <= start1, "slots overlap: {slots:?}");

    // Rescheduling it into the day is refused; an editor may not force it; an admin may, and
    // the audit log records what was overridden.
    let to_day = json!({"starts_at": "2030-01-16T09:00:00Z", "ends_at": "2030-01-16T09:30:00Z"});
    let body = problem(
        app.patch(&format!("/api/v1/maintenances/{id}"), &app.editor, &to_day)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["tenants_not_fitting"], json!(["eu-acme"]));
    let mut forced = to_day.clone();
    forced["force"] = json!(true);
    problem(
        app.patch(&format!("/api/v1/maintenances/{id}"), &app.editor, &forced)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = app
        .patch(&format!("/api/v1/maintenances/{id}"), &app.admin, &forced)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let audit = app.store.list_audit(1, None).await.unwrap();
    assert_eq!(audit[0].target, format!("maintenance/{id}"));
    let note = audit[0].after.as_ref().unwrap()["forced"].as_str().unwrap();
    assert!(note.contains("eu-acme (Acme Corp)"), "{note}");
    // Its slots: the tenant that does not fit is shown over the whole window.
    let slots = app
        .json(
            &format!("/api/v1/maintenances/{id}/slots"),
            Some(&app.viewer),
        )
        .await;
    assert_eq!(slots[0]["tenant"], "eu-acme");
    assert_eq!(slots[0]["fits"], false);
    assert_eq!(slots[0]["end"], "2030-01-16T09:30:00.000Z");
    assert_eq!(slots[1]["fits"], true);

    // Scheduling with force by an admin is audited too.
    let mut forced = window("2030-01-16T09:00:00Z", "2030-01-16T09:30:00Z");
    forced["force"] = json!(true);
    let created = app.schedule(&app.admin, &forced).await;
    let audit = app.store.list_audit(1, None).await.unwrap();
    assert_eq!(
        audit[0].target,
        format!("maintenance/{}", created["id"].as_str().unwrap())
    );
    assert!(
        audit[0].after.as_ref().unwrap()["forced"]
            .as_str()
            .unwrap()
            .contains("cannot fit a 15m slot")
    );

    // Unknown maintenance.
    problem(
        app.get("/api/v1/maintenances/aaaaaaaaaaaa/slots", Some(&app.viewer))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_held_maintenance_is_started_by_hand_only_by_an_admin_skipping_checks() {
    let app = TestApp::start(SLOTS_CONFIG).await;
    // Started early by hand, a maintenance spans from now: the span limit (31 days by default)
    // holds for that span too.
    let far = window("2030-01-16T22:00:00Z", "2030-01-17T00:00:00Z");
    let far = app.schedule(&app.editor, &far).await;
    let body = problem(
        app.post_json(
            &format!("/api/v1/maintenances/{}/start", far["id"].as_str().unwrap()),
            &app.editor,
            &json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("max_span"),
        "{body}"
    );
    // The coming Sunday at 06:00 UTC: outside both regions' business hours, within 8 days.
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let days = 7 - i64::from(today.weekday().to_monday_zero_offset()) + 6;
    let days = if days > 7 { days - 7 } else { days };
    let soon = today
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .at(6, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    let night = window(
        &soon.to_string(),
        &(soon + jiff::SignedDuration::from_hours(2)).to_string(),
    );
    let created = app.schedule(&app.editor, &night).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let reason = "backups_fresh: backup set db is 30h old (RPO 24h)";
    assert!(
        app.store
            .set_hold_reason(&id, Some(reason), "engine", Timestamp::now())
            .await
            .unwrap()
    );
    let path = format!("/api/v1/maintenances/{id}/start");
    // Held: a plain start is refused, skipping checks needs an admin.
    let body = problem(
        app.post_json(&path, &app.editor, &json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains(reason)
            && body["detail"].as_str().unwrap().contains("skip_checks"),
        "{body}"
    );
    let body = problem(
        app.post_json(&path, &app.editor, &json!({"skip_checks": true}))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");
    problem(
        app.post_json(&path, &app.viewer, &json!({"skip_checks": true}))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let before = Timestamp::now();
    let r = app
        .post_json(
            &path,
            &app.admin,
            &json!({"skip_checks": true, "body": "The backup is being retaken now."}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["status"], "in_progress");
    let starts_at: Timestamp = started["starts_at"].as_str().unwrap().parse().unwrap();
    assert!(
        starts_at >= before - 1.second() && starts_at <= Timestamp::now(),
        "{started}"
    );
    let update = started["updates"][0]["body"].as_str().unwrap();
    assert_eq!(
        update, "Started by hand.\n\nThe backup is being retaken now.",
        "the hold reason is the operator's, never the public timeline's"
    );
    let audit = app.store.list_audit(1, None).await.unwrap();
    assert_eq!(audit[0].action, "maintenance.start");
    assert_eq!(audit[0].target, format!("maintenance/{id}"));
    assert!(
        audit[0].actor.ends_with("(admin token)"),
        "{}",
        audit[0].actor
    );
    // The operator's detail stays in the audit row: the hold it was started through.
    let before = audit[0].before.as_ref().unwrap();
    assert_eq!(before["hold_reason"], reason, "{before}");
    // The public page and JSON say it started, never why it was held.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = app.text(&format!("/maintenance/{id}")).await;
        let json = app.text("/api/v2/scheduled-maintenances.json").await;
        if page.contains("Started by hand.") && json.contains("Started by hand.") {
            for text in [&page, &json] {
                assert!(!text.contains("backup set db"), "{text}");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}\n{json}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Only a scheduled maintenance starts.
    let body = problem(
        app.post_json(&path, &app.admin, &json!({})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("in_progress"),
        "{body}"
    );

    // Without a hold an editor starts it, with an empty body; the timeline says nothing more.
    let created = app.schedule(&app.editor, &night).await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/maintenances/{id}/start"),
            &app.editor,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["updates"][0]["body"], "");
    // Unknown fields and unknown ids.
    problem(
        app.post_json(
            &format!("/api/v1/maintenances/{id}/start"),
            &app.editor,
            &json!({"skip": true}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/maintenances/aaaaaaaaaaaa/start",
            &app.editor,
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// A maintenance cannot span more than `maintenance.policy.max_span` (31 days by default): a
/// window until the year 9999 is refused when made and when its end is moved.
#[tokio::test]
async fn a_maintenance_spans_at_most_max_span() {
    let app = TestApp::start(CONFIG).await;
    let start = in_days(20);
    let body = problem(
        app.post_json(
            "/api/v1/maintenances",
            &app.editor,
            &json!({"title": "Forever", "starts_at": text(start),
                    "ends_at": "9999-01-01T00:00:00Z", "components": ["db"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("maintenance.policy.max_span"),
        "{body}"
    );
    let made = app
        .schedule(
            &app.editor,
            &json!({"title": "Long", "starts_at": text(start),
                    "ends_at": text(start + (31 * 24).hours()), "components": ["db"]}),
        )
        .await;
    let path = format!("/api/v1/maintenances/{}", made["id"].as_str().unwrap());
    let body = problem(
        app.patch(
            &path,
            &app.editor,
            &json!({"ends_at": text(start + (31 * 24 + 1).hours())}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("(4w3d)"),
        "{body}"
    );
}

#[tokio::test]
async fn check_answers_as_scheduling_would_and_writes_nothing() {
    let app = TestApp::start(SLOTS_CONFIG).await;
    let day = window("2030-01-16T09:00:00Z", "2030-01-16T09:30:00Z");
    // The refusal scheduling would give, word for word.
    let checked = problem(
        app.post_json("/api/v1/maintenances/check", &app.editor, &day)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let scheduled = problem(
        app.post_json("/api/v1/maintenances", &app.editor, &day)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(checked, scheduled);
    assert_eq!(checked["tenants_not_fitting"], json!(["eu-acme"]));

    // A window that fits: each tenant's slot, nothing scheduled, nothing audited.
    let night = window("2030-01-16T03:00:00Z", "2030-01-16T04:00:00Z");
    let r = app
        .post_json("/api/v1/maintenances/check", &app.editor, &night)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["starts_at"], "2030-01-16T03:00:00.000Z");
    assert_eq!(answer["forced_notice"], Value::Null);
    let slots: Vec<(&str, &str, bool)> = answer["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["tenant"].as_str().unwrap(),
                s["start"].as_str().unwrap(),
                s["fits"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(slots.len(), 2, "{answer}");
    assert!(slots.iter().all(|(_, _, fits)| *fits), "{answer}");
    let listed = app.json("/api/v1/maintenances", Some(&app.viewer)).await;
    assert_eq!(listed, json!([]));
    let audit = app.store.list_audit(50, None).await.unwrap();
    assert!(
        audit.iter().all(|e| !e.action.starts_with("maintenance.")),
        "{audit:?}"
    );

    // Who may ask: an editor, not a viewer; `force` only an admin, as when scheduling.
    let r = app
        .post_json("/api/v1/maintenances/check", &app.viewer, &night)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut forced = day.clone();
    forced["force"] = json!(true);
    let r = app
        .post_json("/api/v1/maintenances/check", &app.editor, &forced)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .post_json("/api/v1/maintenances/check", &app.admin, &forced)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert!(
        answer["forced_slots"]
            .as_str()
            .unwrap()
            .contains("eu-acme (Acme Corp)"),
        "{answer}"
    );
    assert_eq!(
        app.json("/api/v1/maintenances", Some(&app.viewer)).await,
        json!([])
    );
}
