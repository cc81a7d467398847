//! The rollout admin API over real sockets: a server on port 0 over a real SQLite file, driven
//! with reqwest. Covers the plan before start (pending, canaries first), the operators'
//! commands and their refusals (409 problem documents), roles, a rollout in
//! `POST /api/v1/maintenances` (422 naming every problem), webhook secrets never shown (the
//! maintenance, the rollout, the audit log), and the progress line on the public page. Running
//! states are written with the store's own calls, as the driver writes them.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::{Duration, Instant};

use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};
use upkeep_domain::rollout::machine::Change;
use upkeep_domain::rollout::{Outcome, RolloutState, Step, TenantState};
use upkeep_store::rollouts::{AttemptEnd, AttemptStart, PlannedTenant, Writer};

use crate::support;
use support::{TestApp, is_instant, page_config, problem};

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
tenants:
  acme: { name: Acme Corp, region: eu, vars: { host: "acme.internal.example" } }
  globex: { name: Globex, region: eu }
  initech: { name: Initech, region: eu }
components:
  app: { name: Workspace }
monitors:
  app-health: { component: app, http: { url: "http://127.0.0.1:9/health" }, interval: 30s }
maintenance:
  policy:
    planned: { min_notice: 0s }
    tenant_slot: 15m
"#
);

const SECRET: &str = "s3cr3t-webhook-signing-key";

fn text(t: Timestamp) -> String {
    format!("{t:.3}")
}

/// A window starting in a week at the top of an hour, two hours long.
fn start() -> Timestamp {
    let t = Timestamp::now() + (7 * 24).hours();
    Timestamp::from_second(t.as_second() - t.as_second() % 3600).unwrap()
}

fn maintenance(rollout: Option<Value>) -> Value {
    let mut body = json!({
        "title": "Workspace 4.2",
        "starts_at": text(start()),
        "duration": "2h",
        "components": ["app"],
    });
    if let Some(r) = rollout {
        body["rollout"] = r;
    }
    body
}

fn rollout() -> Value {
    json!({
        "action": { "webhook": { "url": "https://deploy.internal.example/hook", "secret": SECRET }, "timeout": "10m" },
        "rollback": { "command": "./rollback.sh", "timeout": "5m" },
        "settle": "2m",
        "canary": ["globex"],
    })
}

impl TestApp {
    async fn create(&self, body: &Value) -> Value {
        let r = self
            .post_json("/api/v1/maintenances", &self.editor, body)
            .await;
        let status = r.status();
        let value: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{value}");
        value
    }

    async fn command(&self, id: &str, what: &str, token: &str) -> reqwest::Response {
        self.post_json(
            &format!("/api/v1/maintenances/{id}/rollout/{what}"),
            token,
            &json!({}),
        )
        .await
    }

    async fn ok_command(&self, id: &str, what: &str) -> Value {
        let r = self.command(id, what, &self.editor).await;
        let status = r.status();
        let value: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{what}: {value}");
        value
    }

    async fn refused(&self, id: &str, what: &str, status: StatusCode) -> String {
        let body = problem(self.command(id, what, &self.editor).await, status).await;
        body["detail"].as_str().unwrap().to_owned()
    }
}

fn states(doc: &Value) -> Vec<(String, String)> {
    doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenant"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn before_start_the_rollout_shows_its_plan_and_may_be_paused_or_aborted() {
    let app = TestApp::start(CONFIG).await;
    let m = app.create(&maintenance(Some(rollout()))).await;
    let id = m["id"].as_str().unwrap();
    let path = format!("/api/v1/maintenances/{id}/rollout");

    let doc = app.json(&path, Some(&app.viewer)).await;
    assert_eq!(doc["state"], "pending", "{doc}");
    assert_eq!(doc["maintenance_id"], id);
    assert_eq!(doc["progress"], json!({"done": 0, "total": 3}));
    // Canaries first, then slot order; one 15-minute slot each, back to back from the start.
    let tenants = doc["tenants"].as_array().unwrap();
    let order: Vec<&str> = tenants
        .iter()
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["globex", "acme", "initech"]);
    assert_eq!(tenants[0]["slot"]["start"], text(start()));
    assert_eq!(tenants[0]["slot"]["end"], text(start() + 15.minutes()));
    assert_eq!(tenants[1]["slot"]["start"], text(start() + 15.minutes()));
    for t in tenants {
        assert_eq!(t["state"], "pending");
        assert_eq!(t["attempts"], json!([]));
        assert!(t["decision"].is_null() && t["evidence"].is_null(), "{t}");
        assert!(is_instant(&t["slot"]["start"]) && is_instant(&t["slot"]["end"]));
    }
    assert_eq!(
        doc["spec"]["action"]["run"]["webhook"]["secret"],
        "[redacted]"
    );
    assert_eq!(doc["spec"]["settle_ms"], 120_000);

    // Reading needs a token; commanding needs an editor.
    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .client
        .post(app.url(&format!("{path}/pause")))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    problem(
        app.command(id, "pause", &app.viewer).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.command(id, "tenants/acme/skip", &app.viewer).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Tenants cannot be retried or skipped before the rollout started; an unknown one is 404.
    let detail = app
        .refused(id, "tenants/acme/retry", StatusCode::CONFLICT)
        .await;
    assert!(detail.contains("has not started"), "{detail}");
    app.refused(id, "tenants/acme/skip", StatusCode::CONFLICT)
        .await;
    let detail = app
        .refused(id, "tenants/nobody/skip", StatusCode::NOT_FOUND)
        .await;
    assert!(detail.contains("`nobody`"), "{detail}");
    // Nothing was stored by the refusals.
    assert!(app.store.rollout(id).await.unwrap().is_none());

    // Pause stores the rollout with the plan, paused; resume waits for the maintenance.
    let doc = app.ok_command(id, "pause").await;
    assert_eq!(doc["state"], "paused", "{doc}");
    assert_eq!(doc["reason"], "paused by an operator");
    assert_eq!(states(&doc)[0].0, "globex");
    assert_eq!(
        app.refused(id, "pause", StatusCode::CONFLICT).await,
        "the rollout is paused, not running"
    );
    let doc = app.ok_command(id, "resume").await;
    assert_eq!(doc["state"], "pending", "{doc}");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("waiting for the maintenance to start"),
        "{doc}"
    );
    let doc = app.ok_command(id, "abort").await;
    assert_eq!(doc["state"], "aborted");
    assert_eq!(
        app.refused(id, "resume", StatusCode::CONFLICT).await,
        "the rollout is aborted"
    );
    assert_eq!(app.json(&path, Some(&app.viewer)).await["state"], "aborted");

    // Audited as the editor, secrets redacted.
    let audit = app.store.list_audit(20, None).await.unwrap();
    let rows: Vec<_> = audit
        .iter()
        .filter(|a| a.target == format!("maintenance/{id}/rollout"))
        .collect();
    assert_eq!(rows.len(), 4, "create, pause, resume, abort");
    assert!(rows.iter().all(|a| a.actor.ends_with("(editor token)")));
    assert_eq!(rows[3].action, "rollout.create");
    assert_eq!(rows[0].after.as_ref().unwrap()["state"], "aborted");

    // A maintenance without a rollout, and one that does not exist: 404.
    let plain = app.create(&maintenance(None)).await;
    let plain = plain["id"].as_str().unwrap();
    let body = problem(
        app.get(
            &format!("/api/v1/maintenances/{plain}/rollout"),
            Some(&app.viewer),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("drives no rollout"),
        "{body}"
    );
    app.refused(plain, "pause", StatusCode::NOT_FOUND).await;
    problem(
        app.get(
            "/api/v1/maintenances/000000000000/rollout",
            Some(&app.viewer),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/api/v1/maintenances/..%2F/rollout", Some(&app.viewer))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// Starts maintenance `id` by hand.
async fn start_now(app: &TestApp, id: &str) {
    let r = app
        .post_json(
            &format!("/api/v1/maintenances/{id}/start"),
            &app.editor,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Stores the rollout of maintenance `id` as the driver would when it starts, running.
async fn started(app: &TestApp, id: &str) -> i64 {
    let plan = app
        .json(
            &format!("/api/v1/maintenances/{id}/rollout"),
            Some(&app.viewer),
        )
        .await;
    let tenants: Vec<PlannedTenant> = plan["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| PlannedTenant {
            tenant: t["tenant"].as_str().unwrap().to_owned(),
            slot_start: t["slot"]["start"].as_str().unwrap().parse().unwrap(),
            slot_end: t["slot"]["end"].as_str().unwrap().parse().unwrap(),
        })
        .collect();
    let record = app.store.get_maintenance(id).await.unwrap().unwrap();
    let spec = record.rollout.unwrap();
    let now = Timestamp::now();
    let driver = Writer::Driver(1);
    assert!(
        app.store
            .create_rollout(id, &spec, &tenants, driver, now)
            .await
            .unwrap()
    );
    let change = Change {
        rollout: Some(RolloutState::Running),
        reason: "the maintenance started".into(),
        ..Change::default()
    };
    let r = app
        .store
        .apply_rollout_change(id, 0, driver, &change, None, &[], now)
        .await
        .unwrap();
    r.revision
}

/// Runs one attempt of `step` for `tenant` to `outcome`, as the driver does.
async fn attempt(app: &TestApp, id: &str, tenant: &str, step: Step, n: u32, outcome: Outcome) {
    let driver = Writer::Driver(1);
    let revision = app.store.rollout(id).await.unwrap().unwrap().revision;
    let start = AttemptStart {
        tenant: tenant.into(),
        step,
        attempt: n,
        resumed: false,
    };
    app.store
        .begin_attempt(id, revision, driver, &start, Timestamp::now())
        .await
        .unwrap();
    let revision = app.store.rollout(id).await.unwrap().unwrap().revision;
    let end = AttemptEnd {
        tenant: tenant.into(),
        step,
        attempt: n,
        outcome,
        detail: Some(format!("{step} said {outcome}")),
        tenant_state: upkeep_domain::rollout::machine::after_outcome(step, outcome),
        decision: format!("{step} attempt {n} {outcome}"),
    };
    app.store
        .finish_attempt(id, revision, driver, &end, &[], Timestamp::now())
        .await
        .unwrap();
}

async fn set(
    app: &TestApp,
    id: &str,
    rollout: Option<RolloutState>,
    tenant: Option<(&str, TenantState)>,
) {
    let revision = app.store.rollout(id).await.unwrap().unwrap().revision;
    let change = Change {
        rollout,
        tenant: tenant.map(|(t, s)| (t.to_owned(), s)),
        reason: "set by the test".into(),
        ..Change::default()
    };
    app.store
        .apply_rollout_change(
            id,
            revision,
            Writer::Driver(1),
            &change,
            None,
            &[],
            Timestamp::now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn operators_pause_resume_retry_skip_and_abort_a_running_rollout() {
    let app = TestApp::start(CONFIG).await;
    let m = app.create(&maintenance(Some(rollout()))).await;
    let id = m["id"].as_str().unwrap();
    let path = format!("/api/v1/maintenances/{id}/rollout");
    start_now(&app, id).await;
    started(&app, id).await;

    // The canary passed; acme's action failed, its rollback succeeded; the rollout halted.
    attempt(&app, id, "globex", Step::Action, 1, Outcome::Succeeded).await;
    set(&app, id, None, Some(("globex", TenantState::Passed))).await;
    attempt(&app, id, "acme", Step::Action, 1, Outcome::Failed).await;
    attempt(&app, id, "acme", Step::Rollback, 1, Outcome::Succeeded).await;
    set(&app, id, Some(RolloutState::Halted), None).await;

    let doc = app.json(&path, Some(&app.viewer)).await;
    assert_eq!(doc["state"], "halted", "{doc}");
    assert_eq!(doc["reason"], "set by the test");
    assert_eq!(doc["progress"], json!({"done": 1, "total": 3}));
    assert_eq!(
        states(&doc),
        [
            ("globex".to_owned(), "passed".to_owned()),
            ("acme".to_owned(), "rolled_back".to_owned()),
            ("initech".to_owned(), "pending".to_owned()),
        ]
    );
    let acme = &doc["tenants"][1];
    let attempts = acme["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{acme}");
    assert_eq!(attempts[0]["step"], "action");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(
        attempts[0]["idempotency_key"],
        format!("{id}.acme.action.1")
    );
    assert_eq!(attempts[0]["runs"], 1);
    // What a step printed is for editors and admins: a script may print what a viewer should
    // not read.
    assert!(attempts[0]["detail"].is_null(), "{acme}");
    let as_editor = app.json(&path, Some(&app.editor)).await;
    assert_eq!(
        as_editor["tenants"][1]["attempts"][0]["detail"],
        "action said failed"
    );
    assert!(is_instant(&attempts[0]["started_at"]) && is_instant(&attempts[0]["finished_at"]));
    assert_eq!(attempts[1]["step"], "rollback");
    assert_eq!(acme["decision"], "rollback attempt 1 succeeded");

    // Refusals say why, as 409 problem documents.
    let detail = app
        .refused(id, "tenants/globex/retry", StatusCode::CONFLICT)
        .await;
    assert_eq!(detail, "globex is passed: nothing to retry");
    let detail = app
        .refused(id, "tenants/acme/skip", StatusCode::CONFLICT)
        .await;
    assert_eq!(detail, "acme is rolled_back: it cannot be skipped now");
    app.refused(id, "tenants/nobody/retry", StatusCode::NOT_FOUND)
        .await;
    app.refused(id, "pause", StatusCode::CONFLICT).await;

    // Retry acme: pending again, the rollout runs.
    let doc = app.ok_command(id, "tenants/acme/retry").await;
    assert_eq!(doc["state"], "running", "{doc}");
    assert_eq!(states(&doc)[1].1, "pending");
    assert_eq!(doc["tenants"][1]["decision"], "acme retried by an operator");
    // Its old attempts stay.
    assert_eq!(doc["tenants"][1]["attempts"].as_array().unwrap().len(), 2);

    // Pause and resume.
    assert_eq!(app.ok_command(id, "pause").await["state"], "paused");
    assert_eq!(app.ok_command(id, "resume").await["state"], "running");

    // A tenant in flight cannot be skipped; a pending one can.
    let revision = app.store.rollout(id).await.unwrap().unwrap().revision;
    let start = AttemptStart {
        tenant: "acme".into(),
        step: Step::Action,
        attempt: 2,
        resumed: false,
    };
    app.store
        .begin_attempt(id, revision, Writer::Driver(1), &start, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        app.refused(id, "tenants/acme/skip", StatusCode::CONFLICT)
            .await,
        "acme is acting: it cannot be skipped now"
    );
    let doc = app.ok_command(id, "tenants/initech/skip").await;
    assert_eq!(states(&doc)[2].1, "skipped");
    assert_eq!(doc["tenants"][1]["attempts"][2]["outcome"], Value::Null);
    assert_eq!(doc["tenants"][1]["attempts"][2]["finished_at"], Value::Null);

    // Abort, then nothing more.
    assert_eq!(app.ok_command(id, "abort").await["state"], "aborted");
    assert_eq!(
        app.refused(id, "abort", StatusCode::CONFLICT).await,
        "the rollout is aborted"
    );

    // Every command is in the audit log as the editor, never with the secret.
    let audit = app.json("/api/v1/audit?limit=100", Some(&app.viewer)).await;
    let text = audit.to_string();
    assert!(!text.contains(SECRET), "{text}");
    let ours: Vec<&Value> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .unwrap()
        .iter()
        .filter(|a| {
            a["actor"]
                .as_str()
                .unwrap_or("")
                .ends_with("(editor token)")
        })
        .filter(|a| a["action"] == "rollout.change")
        .collect();
    assert_eq!(ours.len(), 5, "retry, pause, resume, skip, abort");
}

#[tokio::test]
async fn a_bad_rollout_is_refused_naming_every_problem() {
    let app = TestApp::start(CONFIG).await;
    let post = |rollout: Value| {
        let app = &app;
        async move {
            let body = problem(
                app.post_json(
                    "/api/v1/maintenances",
                    &app.editor,
                    &maintenance(Some(rollout)),
                )
                .await,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
            let errors: Vec<String> = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect();
            (body["detail"].as_str().unwrap().to_owned(), errors)
        }
    };
    let (detail, errors) = post(json!({ "settle": "5m" })).await;
    assert!(detail.starts_with("`rollout`: "), "{detail}");
    assert!(errors.iter().any(|e| e.contains("action")), "{errors:?}");

    let (_, errors) = post(json!({
        "action": { "command": "./deploy.sh", "timeout": "1h" },
        "canary": ["acme", "umbrella"],
        "gate": { "monitors": ["app-healht"] },
    }))
    .await;
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(has("unknown tenant `umbrella`"), "{errors:?}");
    assert!(has("unknown monitor `app-healht`"), "{errors:?}");
    assert!(has("did you mean `app-health`"), "{errors:?}");
    assert!(has("longer than a tenant slot"), "{errors:?}");
    assert_eq!(errors.len(), 3, "{errors:?}");

    // A canary the maintenance does not cover.
    let mut body = maintenance(Some(json!({
        "action": { "command": "./deploy.sh", "timeout": "5m" },
        "canary": ["globex"],
    })));
    body["tenants"] = json!(["acme"]);
    let p = problem(
        app.post_json("/api/v1/maintenances", &app.editor, &body)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("canary `globex` is not a tenant this window covers"),
        "{p}"
    );

    // Not an object at all.
    let (_, errors) = post(json!("deploy everything")).await;
    assert!(!errors.is_empty());
    // Nothing was scheduled.
    let list = app.json("/api/v1/maintenances", Some(&app.viewer)).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn webhook_secrets_are_never_shown() {
    let app = TestApp::start(CONFIG).await;
    let m = app.create(&maintenance(Some(rollout()))).await;
    let id = m["id"].as_str().unwrap();
    assert!(!m.to_string().contains(SECRET), "{m}");
    assert_eq!(
        m["rollout"]["action"]["run"]["webhook"]["secret"],
        "[redacted]"
    );
    assert_eq!(
        m["rollout"]["action"]["run"]["webhook"]["url"],
        "https://deploy.internal.example/hook"
    );
    assert_eq!(m["rollout"]["rollback"]["run"]["command"], "./rollback.sh");
    app.ok_command(id, "pause").await;
    for path in [
        format!("/api/v1/maintenances/{id}"),
        "/api/v1/maintenances".to_owned(),
        format!("/api/v1/maintenances/{id}/rollout"),
        "/api/v1/audit?limit=100".to_owned(),
    ] {
        let body = app.get(&path, Some(&app.admin)).await.text().await.unwrap();
        assert!(!body.contains(SECRET), "{path}: {body}");
    }
    // A maintenance without a rollout shows null.
    let plain = app.create(&maintenance(None)).await;
    assert!(plain["rollout"].is_null(), "{plain}");
}

#[tokio::test]
async fn the_public_page_shows_the_progress_and_nothing_internal() {
    let app = TestApp::start(CONFIG).await;
    let m = app.create(&maintenance(Some(rollout()))).await;
    let id = m["id"].as_str().unwrap();
    start_now(&app, id).await;
    started(&app, id).await;
    attempt(&app, id, "globex", Step::Action, 1, Outcome::Succeeded).await;
    set(&app, id, None, Some(("globex", TenantState::Passed))).await;

    let line = "1 of 3 tenants updated";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = app.text("/").await;
        let json = app.text("/api/v2/scheduled-maintenances.json").await;
        if page.contains(line) && json.contains(line) {
            let summary = app.text("/api/v2/summary.json").await;
            assert!(summary.contains(line), "{summary}");
            let one = app.text(&format!("/maintenance/{id}")).await;
            assert!(one.contains(line), "{one}");
            for body in [&page, &json, &summary, &one] {
                for secret in [
                    SECRET,
                    "deploy.internal.example",
                    "rollback.sh",
                    "acme.internal.example",
                    "action said",
                ] {
                    assert!(!body.contains(secret), "{secret} shown: {body}");
                }
            }
            let doc: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(doc["scheduled_maintenances"][0]["rollout_progress"], line);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the progress never showed:\n{page}\n{json}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_rollout_routes() {
    let app = TestApp::start(CONFIG).await;
    let doc = app.json("/api/v1/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/maintenances/{id}/rollout", "get"),
        ("/api/v1/maintenances/{id}/rollout/pause", "post"),
        ("/api/v1/maintenances/{id}/rollout/resume", "post"),
        ("/api/v1/maintenances/{id}/rollout/abort", "post"),
        (
            "/api/v1/maintenances/{id}/rollout/tenants/{tenant}/retry",
            "post",
        ),
        (
            "/api/v1/maintenances/{id}/rollout/tenants/{tenant}/skip",
            "post",
        ),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    assert!(doc["components"]["schemas"]["RolloutDocument"].is_object());
    assert!(
        doc["components"]["schemas"]["NewMaintenanceBody"]["properties"]["rollout"].is_object()
    );
}

#[tokio::test]
async fn odd_rollout_objects_are_refused_never_a_server_error() {
    let app = TestApp::start(CONFIG).await;
    let deep = (0..120).fold(json!(1), |v, _| json!({ "a": v }));
    for rollout in [
        json!([]),
        json!(5),
        json!(true),
        json!({}),
        json!({ "action": null }),
        json!({ "action": { "command": "" } }),
        json!({ "action": { "command": "x", "timeout": "99999999999999999999d" } }),
        json!({ "action": { "command": "x", "timeout": "-5m" } }),
        json!({ "action": { "command": "x", "webhook": { "url": "http://x", "secret": "0123456789abcdef" } } }),
        json!({ "action": { "webhook": { "url": "not a url", "secret": "short" } } }),
        json!({ "action": { "command": "x" }, "failure_budget": -1, "on_unknown": "maybe" }),
        json!({ "action": { "command": "x" }, "gate": { "monitors": "app-health", "min_samples": 0 } }),
        json!({ "action": { "command": "x" }, "canary": ["acme", "acme"], "\u{0}\"key": "\n\t\\" }),
        json!({ "action": { "command": "x: y\n- z", "timeout": "5m" }, "settle": "1e9s" }),
        deep,
    ] {
        let r = app
            .post_json(
                "/api/v1/maintenances",
                &app.editor,
                &maintenance(Some(rollout.clone())),
            )
            .await;
        assert!(
            r.status().is_client_error() || r.status() == StatusCode::CREATED,
            "{rollout}: {}",
            r.status()
        );
    }
}
