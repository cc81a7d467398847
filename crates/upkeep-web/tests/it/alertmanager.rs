//! The Alertmanager intake over real sockets: a version 4 webhook payload shaped like the one in
//! Alertmanager's documentation opens and resolves automatic incidents; repeated notifications
//! change nothing; unmappable alerts are skipped and reported; roles and malformed bodies are
//! answered with problem+json.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use reqwest::StatusCode;
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

use support::{TestApp, page_config, problem};

/// An alert as Alertmanager sends it.
fn alert(status: &str, fingerprint: &str, labels: Value, ends_at: &str) -> Value {
    json!({
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": "CPU usage above 80% for 5 minutes",
            "description": "cpu_usage is 93 on api-1",
            "runbook_url": "https://runbooks.example/cpu"
        },
        "startsAt": "2026-11-22T05:58:12.345Z",
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=cpu_usage+%3E+80&g0.tab=1",
        "fingerprint": fingerprint
    })
}

/// A version 4 payload in the shape of Alertmanager's documentation (webhook_config).
fn payload(status: &str, alerts: Vec<Value>) -> Value {
    json!({
        "version": "4",
        "groupKey": "{}/{severity=~\"critical|warning\"}:{alertname=\"HighCPUUsage\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "upkeep",
        "groupLabels": { "alertname": "HighCPUUsage" },
        "commonLabels": { "alertname": "HighCPUUsage", "job": "node" },
        "commonAnnotations": { "summary": "CPU usage above 80% for 5 minutes" },
        "externalURL": "http://alertmanager.example:9093",
        "notification_reason": "group_interval",
        "routeLabels": { "team": "platform" },
        "alerts": alerts
    })
}

const NO_END: &str = "0001-01-01T00:00:00Z";

fn first_notification() -> Value {
    payload(
        "firing",
        vec![
            // endsAt in the past on a firing alert: an estimate, `status` decides.
            alert(
                "firing",
                "a1b2c3d4e5f60001",
                json!({"alertname": "HighCPUUsage", "severity": "critical", "component": "api", "instance": "api-1"}),
                "2026-11-22T06:03:12.345Z",
            ),
            alert(
                "firing",
                "a1b2c3d4e5f60002",
                json!({"alertname": "SlowPages", "severity": "warning", "component": "web"}),
                NO_END,
            ),
            // Resolved but never seen firing: accepted, nothing to close.
            alert(
                "resolved",
                "a1b2c3d4e5f60003",
                json!({"alertname": "DiskFull", "severity": "critical", "component": "api"}),
                "2026-11-22T06:01:00Z",
            ),
            alert(
                "firing",
                "a1b2c3d4e5f60004",
                json!({"alertname": "MongoDown", "severity": "critical", "component": "db"}),
                NO_END,
            ),
            alert(
                "firing",
                "a1b2c3d4e5f60005",
                json!({"alertname": "Watchdog", "severity": "critical"}),
                NO_END,
            ),
            alert(
                "firing",
                "a1b2c3d4e5f60006",
                json!({"alertname": "Chatty", "severity": "info", "component": "api"}),
                NO_END,
            ),
        ],
    )
}

fn by_title<'a>(incidents: &'a [Value], title: &str) -> &'a Value {
    incidents
        .iter()
        .find(|i| i["title"] == title)
        .unwrap_or_else(|| panic!("no incident `{title}` in {incidents:#?}"))
}

const HOOK: &str = "/hooks/alertmanager";

#[tokio::test]
async fn firing_and_resolved_alerts_open_and_close_incidents() {
    let app = TestApp::start(BASE_CONFIG).await;

    let resp = app
        .post_json(HOOK, &app.editor, &first_notification())
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let intake: Value = resp.json().await.unwrap();
    assert_eq!(intake["accepted"], 3, "{intake}");
    let skipped = intake["skipped"].as_array().unwrap();
    let reasons: Vec<(&str, &str)> = skipped
        .iter()
        .map(|s| {
            (
                s["fingerprint"].as_str().unwrap(),
                s["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{intake}");
    assert_eq!(reasons[0].0, "a1b2c3d4e5f60004");
    assert!(reasons[0].1.contains("unknown component `db`"));
    assert_eq!(reasons[1].0, "a1b2c3d4e5f60005");
    assert!(reasons[1].1.contains("no `component` label"));
    assert_eq!(reasons[2].0, "a1b2c3d4e5f60006");
    assert!(reasons[2].1.contains("severity `info`"));

    let list = app.json("/api/v1/incidents", Some(&app.viewer)).await;
    let incidents = list["incidents"]
        .as_array()
        .or(list.as_array())
        .unwrap()
        .clone();
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
    let stored = app.store.list_incidents(10, true).await.unwrap();
    assert_eq!(stored.len(), 2);
    let api = stored
        .iter()
        .find(|i| i.title == "Public API is partially down")
        .unwrap();
    assert!(api.auto);
    assert_eq!(api.created_by, "system:alertmanager");
    assert_eq!(api.components[0].id, "api");
    assert_eq!(api.components[0].status.as_str(), "partial_outage");
    assert_eq!(
        api.started_at,
        "2026-11-22T05:58:12.345Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
    );
    // The annotations and the generator URL are the operator's, never public text.
    let body = &api.updates[0].body;
    assert!(body.starts_with("Public API is partially down."), "{body}");
    for internal in [
        "CPU usage",
        "prometheus.example",
        "9090",
        "cpu_usage",
        "HighCPUUsage",
    ] {
        assert!(!body.contains(internal), "{internal} in {body}");
    }
    let web = stored
        .iter()
        .find(|i| i.title == "Website is degraded")
        .unwrap();
    assert_eq!(web.components[0].status.as_str(), "degraded_performance");
    let _ = by_title(&incidents, "Website is degraded");

    // Alertmanager repeats the notification (group_interval): nothing new.
    let again = app
        .post_json(HOOK, &app.editor, &first_notification())
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let all = app.store.list_incidents(10, false).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|i| i.updates.len() == 1), "{all:#?}");

    // An operator takes the website incident over.
    let resp = app
        .post_json(
            &format!("/api/v1/incidents/{}/updates", web.id),
            &app.editor,
            &json!({"status": "identified", "body": "A slow CDN edge; failing over."}),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());

    // Both resolve.
    let resolved = payload(
        "resolved",
        vec![
            alert(
                "resolved",
                "a1b2c3d4e5f60001",
                json!({"alertname": "HighCPUUsage", "severity": "critical", "component": "api", "instance": "api-1"}),
                "2026-11-22T06:20:00Z",
            ),
            alert(
                "resolved",
                "a1b2c3d4e5f60002",
                json!({"alertname": "SlowPages", "severity": "warning", "component": "web"}),
                "2026-11-22T06:20:00Z",
            ),
        ],
    );
    let resp = app.post_json(HOOK, &app.editor, &resolved).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let intake: Value = resp.json().await.unwrap();
    assert_eq!(intake, json!({"accepted": 2, "skipped": []}));

    let api_now = app.store.get_incident(&api.id).await.unwrap().unwrap();
    assert_eq!(api_now.status.as_str(), "resolved");
    assert!(
        api_now.updates[0]
            .body
            .starts_with("Recovered: an alert on Public API.")
    );
    assert_eq!(api_now.components[0].status.as_str(), "operational");
    let web_now = app.store.get_incident(&web.id).await.unwrap().unwrap();
    assert_eq!(
        web_now.status.as_str(),
        "identified",
        "the operator owns it"
    );
    assert!(web_now.resolved_at.is_none());

    // The same alert firing again later is a new incident.
    let resp = app
        .post_json(HOOK, &app.editor, &first_notification())
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let open = app.store.list_incidents(10, true).await.unwrap();
    assert_eq!(
        open.len(),
        2,
        "the website incident (still open) and a new API one"
    );
}

#[tokio::test]
async fn the_component_label_is_configurable() {
    let config = format!(
        "{BASE_CONFIG}alertmanager:\n  url: http://127.0.0.1:9093\n  component_label: service\n"
    );
    let app = TestApp::start(&config).await;
    let body = payload(
        "firing",
        vec![
            alert(
                "firing",
                "f1",
                json!({"alertname": "Down", "service": "api"}),
                NO_END,
            ),
            alert(
                "firing",
                "f2",
                json!({"alertname": "Down", "component": "api"}),
                NO_END,
            ),
        ],
    );
    let resp = app.post_json(HOOK, &app.editor, &body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let intake: Value = resp.json().await.unwrap();
    assert_eq!(intake["accepted"], 1, "{intake}");
    assert_eq!(intake["skipped"][0]["fingerprint"], "f2");
    assert!(
        intake["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("`service`")
    );
    let open = app.store.list_incidents(10, true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].components[0].status.as_str(),
        "degraded_performance",
        "no severity label: warning"
    );
}

#[tokio::test]
async fn the_hook_needs_an_editor_token() {
    let app = TestApp::start(BASE_CONFIG).await;
    let resp = app
        .client
        .post(app.url(HOOK))
        .json(&first_notification())
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNAUTHORIZED).await;
    let resp = app
        .post_json(HOOK, &app.viewer, &first_notification())
        .await;
    problem(resp, StatusCode::FORBIDDEN).await;
    let resp = app
        .post_json(HOOK, "not-a-token", &first_notification())
        .await;
    problem(resp, StatusCode::UNAUTHORIZED).await;
    assert!(
        app.store
            .list_incidents(10, false)
            .await
            .unwrap()
            .is_empty()
    );
    let resp = app.post_json(HOOK, &app.admin, &first_notification()).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_payloads_are_problems() {
    let app = TestApp::start(BASE_CONFIG).await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url(HOOK))
            .bearer_auth(&app.editor)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    problem(
        raw("{not json", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        raw("{\"version\": \"4\"}", "application/json")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        raw("{\"version\": \"4\", \"alerts\": {}}", "application/json")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        raw(
            "{\"version\": \"4\", \"alerts\": [{\"labels\": {}}]}",
            "application/json",
        )
        .await
        .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let old = problem(
        raw("{\"version\": \"3\", \"alerts\": []}", "application/json")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(old["detail"].as_str().unwrap().contains("version"));
    problem(
        raw("{}", "text/plain").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    // An alert with an unknown status is skipped, not an error.
    let body = payload(
        "firing",
        vec![alert("silenced", "s1", json!({"component": "api"}), NO_END)],
    );
    let resp = app.post_json(HOOK, &app.editor, &body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let intake: Value = resp.json().await.unwrap();
    assert_eq!(intake["accepted"], 0);
    assert!(
        intake["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("silenced")
    );
    assert!(
        app.store
            .list_incidents(10, false)
            .await
            .unwrap()
            .is_empty()
    );
}

/// An alert firing on a component while a maintenance is in progress there opens no public
/// incident (as a monitor going down would not); once the window is over, the same alert,
/// still firing, opens one.
#[tokio::test]
async fn an_alert_during_a_maintenance_opens_no_incident_until_the_window_ends() {
    use upkeep_domain::maintenance::{Kind, MaintenanceStatus};
    use upkeep_store::maintenance::NewMaintenance;

    let app = TestApp::start(BASE_CONFIG).await;
    let now = jiff::Timestamp::now();
    let mut new = NewMaintenance::new(
        Kind::Planned,
        "Database upgrade",
        now - jiff::SignedDuration::from_mins(5),
        now + jiff::SignedDuration::from_hours(1),
    );
    new.components = vec!["api".into()];
    let m = app
        .store
        .create_maintenance(&new, "test", now, None)
        .await
        .unwrap();
    assert!(
        app.store
            .transition_maintenance(
                &m.id,
                MaintenanceStatus::Scheduled,
                MaintenanceStatus::InProgress,
                "test",
                now,
            )
            .await
            .unwrap()
    );
    let firing = payload(
        "firing",
        vec![alert(
            "firing",
            "maint0001",
            json!({"alertname": "HighCPUUsage", "severity": "critical", "component": "api"}),
            NO_END,
        )],
    );

    let resp = app.post_json(HOOK, &app.editor, &firing).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let intake: Value = resp.json().await.unwrap();
    assert_eq!(intake["accepted"], 1, "{intake}");
    assert!(
        app.store.list_incidents(10, true).await.unwrap().is_empty(),
        "no incident while the maintenance is in progress"
    );

    let done = app
        .store
        .complete_maintenance(&m.id, "", "test", jiff::Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, MaintenanceStatus::Completed);
    // Alertmanager repeats a firing alert; after the window it opens the incident.
    let resp = app.post_json(HOOK, &app.editor, &firing).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let open = app.store.list_incidents(10, true).await.unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0].title, "Public API is partially down");
    assert_eq!(open[0].components[0].id, "api");
}

/// `page.public_text.alert` words the public first update of an alert's incident.
#[tokio::test]
async fn the_public_text_of_an_alert_follows_its_template() {
    let config = "\npage:\n  name: Test Cloud\n  url: http://127.0.0.1:8080\n  timezone: Europe/Rome\n  public_text:\n    alert: \"Trouble with {component} ({status}); our engineers are on it.\"\ncomponents:\n  api: { name: Public API }\n";
    let app = TestApp::start(config).await;
    let firing = payload(
        "firing",
        vec![alert(
            "firing",
            "a1b2c3d4e5f60009",
            json!({"alertname": "HighCPUUsage", "severity": "critical", "component": "api"}),
            "0001-01-01T00:00:00Z",
        )],
    );
    let r = app.post_json(HOOK, &app.editor, &firing).await;
    assert_eq!(r.status(), StatusCode::OK);
    let open = app.store.list_incidents(10, true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].updates[0].body,
        "Trouble with Public API (partially down); our engineers are on it."
    );
}

#[tokio::test]
async fn a_hook_token_posts_alerts_and_nothing_else() {
    let app = TestApp::start(BASE_CONFIG).await;
    let resp = app
        .post_json(
            "/api/v1/tokens",
            &app.admin,
            &json!({ "name": "alertmanager", "role": "hook" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["token"]["role"], "hook");
    let hook = created["secret"].as_str().unwrap().to_owned();

    let resp = app.post_json(HOOK, &hook, &first_notification()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        !app.store
            .list_incidents(10, false)
            .await
            .unwrap()
            .is_empty()
    );

    // Nothing else: not reading, not writing.
    for path in ["/api/v1/incidents", "/api/v1/whoami", "/api/v1/audit"] {
        let resp = app.get(path, Some(&hook)).await;
        let p = problem(resp, StatusCode::FORBIDDEN).await;
        assert!(p["detail"].as_str().unwrap().contains("hook role"), "{p}");
    }
    let resp = app
        .post_json(
            "/api/v1/incidents",
            &hook,
            &json!({ "title": "x", "status": "investigating", "impact": "minor", "components": {} }),
        )
        .await;
    problem(resp, StatusCode::FORBIDDEN).await;
    let resp = app
        .post_json(
            "/api/v1/tokens",
            &hook,
            &json!({ "name": "escalate", "role": "admin" }),
        )
        .await;
    problem(resp, StatusCode::FORBIDDEN).await;

    // Editors still post alerts.
    let resp = app
        .post_json(HOOK, &app.editor, &first_notification())
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_notification_with_too_many_alerts_is_refused_whole() {
    let app = TestApp::start(BASE_CONFIG).await;
    let firing = json!({ "status": "firing", "labels": { "component": "api" } });
    let too_many = payload(
        "firing",
        vec![firing.clone(); upkeep_web::hooks::MAX_ALERTS + 1],
    );
    let resp = app.post_json(HOOK, &app.editor, &too_many).await;
    let p = problem(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        p["detail"].as_str().unwrap().contains("more than 1000"),
        "{p}"
    );
    assert!(
        app.store
            .list_incidents(10, false)
            .await
            .unwrap()
            .is_empty()
    );

    let at_most = payload("firing", vec![firing; 2]);
    let resp = app.post_json(HOOK, &app.editor, &at_most).await;
    assert_eq!(resp.status(), StatusCode::OK);
}
