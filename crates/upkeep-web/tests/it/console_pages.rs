//! The console's monitor, alert and delivery pages over real sockets: a viewer sees them with
//! no write controls and is refused when posting anyway; an editor acknowledges and retries
//! (audited under their name); the monitor list pages by key without repeats or gaps; and text
//! typed by anyone stays inert.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;

use jiff::Timestamp;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
use upkeep_domain::config::Severity;
use upkeep_domain::notify::{AlertNotice, AlertState};
use upkeep_domain::role::Role;
use upkeep_engine::service::Caller;
use upkeep_engine::service::user::{self, CreateUser};
use upkeep_store::Store;
use upkeep_store::alerts::AlertChange;
use upkeep_store::outbox::{NewDelivery, new_delivery_id};

use crate::support::TestApp;

const PASSWORD: &str = "correct horse battery";
pub(crate) const HOSTILE: &str = r#"<script>alert(1)</script>"onmouseover="alert(2)"#;

/// A configuration with `n` monitors of two kinds over two components, one with a hostile
/// component name.
fn config(n: usize) -> String {
    let mut c = String::from(
        "\npage:\n  name: Test Cloud\n  url: http://127.0.0.1:8080\n  timezone: Europe/Rome\n\
         server:\n  rate_limit: { per_second: 1000, burst: 1000 }\n\
         components:\n  api: { name: Public API }\n  web: { name: '",
    );
    c.push_str(&HOSTILE.replace('\'', "''"));
    c.push_str("' }\nmonitors:\n");
    for i in 0..n {
        let (component, kind) = if i % 3 == 0 {
            ("web", "tcp: { address: \"127.0.0.1:9\" }")
        } else {
            ("api", "http: { url: \"http://127.0.0.1:9/health\" }")
        };
        let _ = writeln!(c, "  m{i:04}: {{ component: {component}, {kind} }}");
    }
    c
}

pub(crate) async fn seed_user(store: &Store, email: &str, role: Role) {
    let caller = Caller {
        actor: "test".into(),
        may_override: true,
    };
    let new = CreateUser {
        email: email.into(),
        display_name: None,
        role,
        password: PASSWORD.into(),
    };
    user::create(store, &caller, new, Timestamp::now())
        .await
        .unwrap();
}

/// Fires an alert whose text is hostile and queues a delivery that then fails for good.
pub(crate) async fn seed_alert_and_failed_delivery(store: &Store) -> String {
    let now = Timestamp::now();
    let notice = AlertNotice {
        key: "rule:<b>x</b>".into(),
        state: AlertState::Firing,
        severity: Severity::Critical,
        component: Some("api".into()),
        summary: HOSTILE.into(),
        detail: HOSTILE.into(),
        since: now,
        at: now,
    };
    let fire = AlertChange::Fire {
        notice,
        suppressed: false,
        event_id: 1,
    };
    store.apply_alert_changes(&[fire], None, now).await.unwrap();
    let id = new_delivery_id();
    let d = NewDelivery {
        id: id.clone(),
        recipient: "channel:ops".into(),
        channel: "webhook".into(),
        destination: "https://hooks.example/secret/path".into(),
        order_key: "webhook:hooks.example".into(),
        subject: "incident/1".into(),
        content: "{}".into(),
    };
    store
        .enqueue_delivery("incident.opened", &d, now)
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries("test-worker", now, 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .mark_attempt_failed(&id, "test-worker", HOSTILE, None)
            .await
            .unwrap()
    );
    id
}

fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the form; returns the session cookie.
pub(crate) async fn sign_in(app: &TestApp, email: &str) -> String {
    let r = browser()
        .post(app.url("/admin/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("upkeep_admin="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) async fn page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap()
}

/// Asserts that nothing typed by anyone got into `body` as markup.
pub(crate) fn inert(body: &str) {
    assert!(
        !body.contains("<script"),
        "a script tag got through: {body}"
    );
    assert!(
        !body.contains(r#""onmouseover="#),
        "an attribute got through: {body}"
    );
    assert!(!body.contains("style="), "no inline style");
}

#[tokio::test]
async fn a_viewer_sees_every_page_without_write_controls_and_is_refused_when_posting() {
    let app = TestApp::start_seeded(&config(5), |store| async move {
        seed_user(&store, "vic@example.com", Role::Viewer).await;
        seed_alert_and_failed_delivery(&store).await;
    })
    .await;
    let cookie = sign_in(&app, "vic@example.com").await;

    for path in [
        "/admin/monitors",
        "/admin/monitors/m0000",
        "/admin/alerts",
        "/admin/deliveries",
    ] {
        let (status, body) = page(&app, &cookie, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        inert(&body);
        let forms: Vec<&str> = body.matches(r#"<form method="post""#).collect();
        assert_eq!(forms.len(), 1, "{path}: only the sign-out form: {body}");
        assert!(!body.contains("Acknowledge</button>") && !body.contains("Retry</button>"));
        assert!(!body.contains("Pause</button>") && !body.contains("Resume</button>"));
    }
    let (_, alerts) = page(&app, &cookie, "/admin/alerts").await;
    assert!(
        alerts.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{alerts}"
    );
    let (_, deliveries) = page(&app, &cookie, "/admin/deliveries").await;
    assert!(deliveries.contains("incident.opened"), "{deliveries}");
    assert!(
        !deliveries.contains("/secret/path"),
        "a URL is shown as its origin only: {deliveries}"
    );
    let (_, monitors) = page(&app, &cookie, "/admin/monitors?component=web").await;
    assert!(monitors.contains("&#60;script&#62;"), "{monitors}");

    let delivery = app
        .store
        .list_deliveries(None, 10)
        .await
        .unwrap()
        .remove(0)
        .id;
    for path in [
        "/admin/alerts/rule%3A%3Cb%3Ex%3C%2Fb%3E/acknowledge".to_owned(),
        format!("/admin/deliveries/{delivery}/retry"),
        "/admin/monitors/m0000/pause".to_owned(),
        "/admin/monitors/m0000/resume".to_owned(),
    ] {
        let r = post(&app, &cookie, &path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let alert = app
        .store
        .alert_state("rule:<b>x</b>")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.acknowledged_at, None);
    let failed = app.store.get_delivery(&delivery).await.unwrap().unwrap();
    assert_eq!(failed.state.as_str(), "failed");
}

#[tokio::test]
async fn an_editor_acknowledges_an_alert_and_retries_a_delivery_audited_under_their_name() {
    let app = TestApp::start_seeded(&config(2), |store| async move {
        seed_user(&store, "ed@example.com", Role::Editor).await;
        seed_alert_and_failed_delivery(&store).await;
    })
    .await;
    let cookie = sign_in(&app, "ed@example.com").await;
    let (_, body) = page(&app, &cookie, "/admin/alerts").await;
    let action = r#"action="/admin/alerts/rule%3A%3Cb%3Ex%3C%2Fb%3E/acknowledge""#;
    assert!(body.contains(action), "{body}");
    let r = post(
        &app,
        &cookie,
        "/admin/alerts/rule%3A%3Cb%3Ex%3C%2Fb%3E/acknowledge",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/alerts");
    let (_, body) = page(&app, &cookie, "/admin/alerts").await;
    assert!(!body.contains(action), "acknowledged: no button any more");
    assert!(body.contains("ed@example.com"), "{body}");

    let r = post(&app, &cookie, "/admin/alerts/rule%3Anone/acknowledge").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let delivery = app
        .store
        .list_deliveries(None, 10)
        .await
        .unwrap()
        .remove(0)
        .id;
    let (_, body) = page(&app, &cookie, "/admin/deliveries").await;
    assert!(body.contains("Retry</button>"), "{body}");
    let r = post(
        &app,
        &cookie,
        &format!("/admin/deliveries/{delivery}/retry"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let d = app.store.get_delivery(&delivery).await.unwrap().unwrap();
    assert_eq!(d.state.as_str(), "pending");
    let (_, body) = page(&app, &cookie, "/admin/deliveries").await;
    assert!(body.contains("No delivery has failed."), "{body}");
    let r = post(
        &app,
        &cookie,
        &format!("/admin/deliveries/{delivery}/retry"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not failed any more");

    let audit = app.store.list_audit(50, None).await.unwrap();
    for (action, target) in [
        ("alert.acknowledge", "alert/rule:<b>x</b>".to_owned()),
        ("delivery.retry", format!("delivery/{delivery}")),
    ] {
        let e = audit
            .iter()
            .find(|e| e.action == action && e.target == target)
            .unwrap_or_else(|| panic!("no {action} in {audit:?}"));
        assert!(
            e.actor.starts_with("user:") && e.actor.contains("ed@example.com"),
            "{}",
            e.actor
        );
    }

    // An editor sees the pause button only where the monitoring engine runs; without it a
    // pause is answered 503, never carried out half.
    let r = post(&app, &cookie, "/admin/monitors/m0001/pause").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = post(&app, &cookie, "/admin/monitors/nope/pause").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// The ids of the monitor rows of a list page, and its next page's link.
fn rows_and_next(body: &str) -> (Vec<String>, Option<String>) {
    let ids = body
        .split(r#"<td data-label="Monitor"><a href="/admin/monitors/"#)
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    let next = body
        .split(r#"<a href=""#)
        .skip(1)
        .find(|s| s.contains(r#"rel="next""#))
        .map(|s| s.split('"').next().unwrap().replace("&#38;", "&"));
    (ids, next)
}

#[tokio::test]
async fn the_monitor_list_pages_by_key_without_repeats_or_gaps() {
    let n = 137;
    let app = TestApp::start_seeded(&config(n), |store| async move {
        seed_user(&store, "vic@example.com", Role::Viewer).await;
    })
    .await;
    let cookie = sign_in(&app, "vic@example.com").await;
    for (start, expected) in [
        ("/admin/monitors", n),
        ("/admin/monitors?sort=kind", n),
        (
            "/admin/monitors?sort=component&kind=http",
            n - n.div_ceil(3),
        ),
        ("/admin/monitors?q=M00", 100),
    ] {
        let mut seen = Vec::new();
        let mut next = Some(start.to_owned());
        let mut pages = 0;
        while let Some(url) = next {
            let (status, body) = page(&app, &cookie, &url).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            let (ids, n) = rows_and_next(&body);
            assert!(ids.len() <= 50, "{url}");
            seen.extend(ids);
            next = n;
            pages += 1;
            assert!(pages < 10, "{url}: the pages never end");
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{start}: repeats");
        assert_eq!(seen.len(), expected, "{start}: gaps");
        assert_eq!(pages, expected.div_ceil(50).max(1), "{start}");
    }
    // Sorted by kind: every http before every tcp, ids ascending within each.
    let (_, body) = page(&app, &cookie, "/admin/monitors?sort=kind").await;
    let (ids, _) = rows_and_next(&body);
    assert_eq!(ids[0], "m0001");
    assert!(body.find(">http<").unwrap() < body.find(">tcp<").unwrap_or(usize::MAX));
    // A monitor's page.
    let (status, body) = page(&app, &cookie, "/admin/monitors/m0003").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No results yet."), "{body}");
    let (status, _) = page(&app, &cookie, "/admin/monitors/%3Cscript%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn firing_alerts_page_by_since_and_key_without_repeats_or_gaps() {
    let n = 230;
    let app = TestApp::start_seeded(&config(3), |store| async move {
        seed_user(&store, "vic@example.com", Role::Viewer).await;
        // Two alerts share each `since`, so the key breaks the ties across a page's edge.
        let base = Timestamp::now();
        let fires: Vec<AlertChange> = (0..n)
            .map(|i| {
                let since = base - jiff::SignedDuration::from_secs(i64::from(i / 2));
                AlertChange::Fire {
                    notice: AlertNotice {
                        key: format!("rule:r{i:04}"),
                        state: AlertState::Firing,
                        severity: Severity::Warning,
                        component: Some("api".into()),
                        summary: "down".into(),
                        detail: String::new(),
                        since,
                        at: base,
                    },
                    suppressed: false,
                    event_id: i64::from(i) + 1,
                }
            })
            .collect();
        store.apply_alert_changes(&fires, None, base).await.unwrap();
    })
    .await;
    let cookie = sign_in(&app, "vic@example.com").await;
    let mut seen = Vec::new();
    let mut next = Some("/admin/alerts".to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let (status, body) = page(&app, &cookie, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(body.contains("230 firing"), "{body}");
        let keys: Vec<String> = body
            .split(r#"<tr><td data-label="Alert">"#)
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_owned())
            .collect();
        assert!(keys.len() <= 100, "{url}");
        seen.extend(keys);
        next = body
            .split(r#"<a href=""#)
            .skip(1)
            .find(|s| s.contains(r#"rel="next""#))
            .map(|s| s.split('"').next().unwrap().replace("&#38;", "&"));
        pages += 1;
        assert!(pages < 5, "the pages never end");
    }
    assert_eq!(pages, 3);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "repeats");
    assert_eq!(seen.len(), n as usize, "gaps");
    // Oldest first: the last key fired first.
    assert_eq!(seen[0], "rule:r0228");
}

async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn short_notice_is_refused_with_the_earliest_start_then_accepted_and_viewers_cannot_schedule()
{
    let app = TestApp::builder(&config(1))
        .manual_clock("2026-12-05T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ed@example.com", Role::Editor).await;
            seed_user(&store, "vic@example.com", Role::Viewer).await;
        })
        .await;
    let editor = sign_in(&app, "ed@example.com").await;
    let viewer = sign_in(&app, "vic@example.com").await;

    let (status, body) = page(&app, &editor, "/admin/maintenance?month=2026-12").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("December 2026") && body.contains(r#"action="/admin/maintenance""#));
    let (_, body) = page(&app, &viewer, "/admin/maintenance").await;
    assert!(!body.contains(r#"action="/admin/maintenance""#), "{body}");

    let form = [
        ("title", HOSTILE),
        ("kind", "planned"),
        ("starts", "2026-12-05T12:00"),
        ("duration", "60"),
        ("reason", ""),
        ("message", "Database upgrade"),
        ("component", "api"),
    ];
    let r = post_form(&app, &viewer, "/admin/maintenance", &form).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Two hours' notice for a planned maintenance: refused, with the earliest allowed start
    // (14 days on) shown, and the whole minute a minute after it put in the form.
    let r = post_form(&app, &editor, "/admin/maintenance", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    inert(&body);
    assert!(
        body.contains("The earliest allowed start is 19 Dec 2026, 11:00:00 CET."),
        "{body}"
    );
    assert!(body.contains(r#"value="2026-12-19T11:01""#), "{body}");
    assert!(
        app.store
            .list_maintenances(upkeep_store::maintenance::MaintenanceFilter::All, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut again = form;
    again[2] = ("starts", "2026-12-19T11:01");
    let r = post_form(&app, &editor, "/admin/maintenance", &again).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/admin/maintenance/"), "{to}");
    let id = to.trim_start_matches("/admin/maintenance/").to_owned();

    let audit = app.store.list_audit(50, None).await.unwrap();
    let e = audit
        .iter()
        .find(|e| e.action == "maintenance.create")
        .unwrap();
    assert!(e.actor.contains("ed@example.com"), "{}", e.actor);

    // The calendar and the maintenance's page show the title inert; a viewer sees no buttons
    // and is refused when posting.
    let (_, cal) = page(&app, &viewer, "/admin/maintenance?month=2026-12").await;
    inert(&cal);
    assert!(cal.contains(&format!("/admin/maintenance/{id}")), "{cal}");
    let (status, body) = page(&app, &viewer, &to).await;
    assert_eq!(status, StatusCode::OK);
    inert(&body);
    assert_eq!(body.matches(r#"<form method="post""#).count(), 1, "{body}");
    for action in ["start", "cancel", "rollout/pause"] {
        let r = post(&app, &viewer, &format!("{to}/{action}")).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let (_, body) = page(&app, &editor, &to).await;
    assert!(
        body.contains("Start</button>") && body.contains("Cancel</button>"),
        "{body}"
    );
    let r = post_form(
        &app,
        &editor,
        &format!("{to}/cancel"),
        &[("message", "Not needed")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let m = app.store.get_maintenance(&id).await.unwrap().unwrap();
    assert_eq!(m.status.as_str(), "cancelled");
    let r = post(&app, &editor, &format!("{to}/start")).await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a cancelled one does not start"
    );
}

#[tokio::test]
async fn check_answers_with_the_policy_and_the_tenant_slots_and_schedules_nothing() {
    let config = format!(
        "{}regions:\n  utc: {{ timezone: UTC }}\ntenants:\n  acme: {{ name: Acme Corp, region: utc }}\n  \
         globex: {{ name: Globex, region: utc }}\nmaintenance:\n  policy: {{ tenant_slot: 30m }}\n",
        config(1)
    );
    let app = TestApp::builder(&config)
        .manual_clock("2026-12-05T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ed@example.com", Role::Editor).await;
            seed_user(&store, "vic@example.com", Role::Viewer).await;
        })
        .await;
    let editor = sign_in(&app, "ed@example.com").await;
    let (_, body) = page(&app, &editor, "/admin/maintenance").await;
    assert!(body.contains(r#"name="check""#), "{body}");
    let none_scheduled = || async {
        app.store
            .list_maintenances(upkeep_store::maintenance::MaintenanceFilter::All, 10)
            .await
            .unwrap()
            .is_empty()
    };
    let mut form = vec![
        ("title", "Database upgrade"),
        ("kind", "planned"),
        ("starts", "2026-12-05T12:00"),
        ("duration", "60"),
        ("component", "api"),
        ("check", "1"),
    ];

    // Short notice: the same refusal as scheduling, with the earliest allowed start.
    let r = post_form(&app, &editor, "/admin/maintenance", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("The earliest allowed start is"), "{body}");
    assert!(none_scheduled().await);

    // Far enough ahead: allowed, and each tenant's slot in the order it runs (Rome is UTC+1).
    form[2] = ("starts", "2026-12-21T02:00");
    let r = post_form(&app, &editor, "/admin/maintenance", &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Allowed: a planned maintenance from"),
        "{body}"
    );
    assert!(
        body.contains(
            "<li>acme (Acme Corp): 21 Dec 2026, 02:00:00 CET to 21 Dec 2026, 02:30:00 CET</li>"
        ),
        "{body}"
    );
    assert!(
        body.contains(
            "<li>globex (Globex): 21 Dec 2026, 02:30:00 CET to 21 Dec 2026, 03:00:00 CET</li>"
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"value="Database upgrade""#),
        "the form is kept"
    );
    assert!(none_scheduled().await, "a check schedules nothing");

    // Too short to hold both slots: refused, naming who does not fit.
    form[3] = ("duration", "45");
    let r = post_form(&app, &editor, "/admin/maintenance", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("cannot fit a 30m slot for: globex (Globex)"),
        "{body}"
    );
    assert!(none_scheduled().await);

    // Without `check` the allowed window is scheduled; a viewer may not even check.
    form[3] = ("duration", "60");
    form.pop();
    let viewer = sign_in(&app, "vic@example.com").await;
    let mut checked = form.clone();
    checked.push(("check", "1"));
    let r = post_form(&app, &viewer, "/admin/maintenance", &checked).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(&app, &editor, "/admin/maintenance", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!none_scheduled().await);
}
