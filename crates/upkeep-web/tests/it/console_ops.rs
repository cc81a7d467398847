//! The console's subscribers, backups and audit pages over real sockets: every page renders
//! for a viewer with no write controls and refuses their posts; searches, filters and pages by
//! key neither repeat nor skip; an admin's subscriber changes and an editor's drills take
//! effect and are audited under their name; the console and the API agree on what they show
//! (addresses redacted below `admin`); hostile text stays inert.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use upkeep_domain::notify::routing::Scope;
use upkeep_domain::role::Role;
use upkeep_store::Store;
use upkeep_store::audit::AuditEntry;

use crate::console::{PASSWORD, seed_user};
use crate::console_pages::{HOSTILE, inert, page, sign_in};
use crate::support::{TestApp, page_config};

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
components:
  api: { name: Public API }
  web: { name: Website }
backups:
  main-db: { rpo: 6h, rto: 24h, drill_every: 30d, push_key: main-key }
  files: { rpo: 1d, rto: 4h, push_key: files-key }
"#
);

/// The number of post forms on a page (the sign-out form is one).
fn post_forms(body: &str) -> usize {
    body.matches(r#"<form method="post""#).count()
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.post_form(path, form, &[SAME, ("cookie", cookie)]).await
}

/// `n` webhook subscribers `https://hookI.example.com/p/secretI` made a second apart, an e-mail
/// subscriber and a webhook whose URL (written straight into the store) is hostile.
async fn seed_subscribers(store: &Store, n: usize) {
    let mut at = Timestamp::from_second(1_767_225_600).unwrap();
    for i in 0..n {
        store
            .create_webhook_subscriber(
                &format!("https://hook{i}.example.com/p/secret{i}"),
                None,
                &Scope::default(),
                "test",
                at,
            )
            .await
            .unwrap();
        at += jiff::SignedDuration::from_secs(1);
    }
    store
        .request_subscription("grace@example.com", &Scope::default(), 3_600_000, 0, at)
        .await
        .unwrap();
    store
        .create_webhook_subscriber(
            &format!("https://evil.example/{HOSTILE}"),
            None,
            &Scope::default(),
            "test",
            at,
        )
        .await
        .unwrap();
}

/// The subscriber addresses of a list page, and its next page's link.
fn addresses_and_next(body: &str) -> (Vec<String>, Option<String>) {
    let rows = body
        .split(r#"<td class="uri""#)
        .skip(1)
        .map(|s| {
            let cell = s.split_once('>').unwrap().1;
            cell.split("</td>").next().unwrap().to_owned()
        })
        .collect();
    (rows, next_link(body))
}

fn next_link(body: &str) -> Option<String> {
    body.split(r#"<a href=""#)
        .skip(1)
        .find(|s| s.contains(r#"rel="next""#))
        .map(|s| s.split('"').next().unwrap().replace("&#38;", "&"))
}

/// Every address the list shows from `start` on, following the pages.
async fn walk(app: &TestApp, cookie: &str, start: &str) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut next = Some(start.to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let (status, body) = page(app, cookie, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        inert(&body);
        let (rows, n) = addresses_and_next(&body);
        assert!(rows.len() <= 50, "{url}");
        seen.extend(rows);
        next = n;
        pages += 1;
        assert!(pages < 20, "{url}: the pages never end");
    }
    (seen, pages)
}

#[tokio::test]
async fn a_viewer_reads_every_page_without_write_controls_and_is_refused_when_posting() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "vic@example.com", Role::Viewer).await;
            seed_user(&store, "ed@example.com", Role::Editor).await;
            seed_subscribers(&store, 3).await;
        })
        .await;
    let drill = app
        .store
        .start_drill("main-db", HOSTILE, "test", app.now())
        .await
        .unwrap();
    let viewer = sign_in(&app, "vic@example.com").await;
    for path in ["/admin/backups", "/admin/backups/main-db", "/admin/audit"] {
        let (status, body) = page(&app, &viewer, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        inert(&body);
        assert_eq!(
            post_forms(&body),
            1,
            "{path}: only the sign-out form: {body}"
        );
        for link in ["/admin/backups", "/admin/audit"] {
            assert!(
                body.contains(&format!(r#"<a href="{link}">"#)),
                "{path}: nav {link}"
            );
        }
        assert!(
            !body.contains(r#"<a href="/admin/subscribers">"#),
            "{path}: subscribers are the admin's: {body}"
        );
    }
    let (_, detail) = page(&app, &viewer, "/admin/backups/main-db").await;
    assert!(
        detail.contains("&#60;script&#62;alert(1)"),
        "the drill's notes, escaped: {detail}"
    );
    let (status, _) = page(&app, &viewer, "/admin/backups/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Posting anyway: refused, nothing changes. Subscribers are the admin's, as on the API, so
    // an editor is refused there too.
    let victim = app
        .store
        .list_subscribers(false, 1)
        .await
        .unwrap()
        .remove(0);
    let editor = sign_in(&app, "ed@example.com").await;
    for cookie in [&viewer, &editor] {
        let r = post(
            &app,
            cookie,
            "/admin/subscribers",
            &[("url", "https://new.example/h")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = post(
            &app,
            cookie,
            &format!("/admin/subscribers/{}/remove", victim.id),
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // Reading them too, as `GET /api/v1/subscribers`: addresses are personal data.
    for cookie in [&viewer, &editor] {
        let (status, body) = page(&app, cookie, "/admin/subscribers").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(!body.contains("grace"), "{body}");
    }
    let r = post(
        &app,
        &viewer,
        "/admin/backups/main-db/drills",
        &[("notes", "x")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let finish = format!("/admin/backups/main-db/drills/{}/finish", drill.id);
    let r = post(
        &app,
        &viewer,
        &finish,
        &[("outcome", "success"), ("validated", "yes")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store.list_subscribers(false, 100).await.unwrap().len(),
        5
    );
    assert!(
        app.store
            .get_subscriber(&victim.id)
            .await
            .unwrap()
            .is_some()
    );
    let drills = app.store.list_drills(Some("main-db"), 10).await.unwrap();
    assert_eq!(drills.len(), 1);
    assert!(drills[0].finished_at.is_none());
}

#[tokio::test]
async fn subscribers_are_searched_and_paged_by_key_as_the_api_lists_them() {
    let n = 120;
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "vic@example.com", Role::Viewer).await;
        seed_user(&store, "ada@example.com", Role::Admin).await;
        seed_subscribers(&store, n).await;
    })
    .await;
    let admin = sign_in(&app, "ada@example.com").await;

    // Every subscriber once, in the API's order, whole for an admin.
    let api = app.json("/api/v1/subscribers", Some(&app.admin)).await;
    let api_addresses: Vec<String> = api
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["address"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(api_addresses.len(), n + 2);
    let (seen, pages) = walk(&app, &admin, "/admin/subscribers").await;
    assert_eq!(pages, (n + 2).div_ceil(50));
    let unescaped: Vec<String> = seen
        .iter()
        .map(|a| {
            a.replace("&#60;", "<")
                .replace("&#62;", ">")
                .replace("&#34;", "\"")
        })
        .collect();
    assert_eq!(unescaped, api_addresses, "the console and the API agree");

    // Searching: ASCII letters in any case, in whole addresses.
    let (seen, _) = walk(&app, &admin, "/admin/subscribers?q=HOOK1").await;
    let expected = (0..n).filter(|i| i.to_string().starts_with('1')).count();
    assert_eq!(seen.len(), expected, "{seen:?}");
    assert!(seen.iter().all(|a| a.contains("hook1")));
    let (seen, _) = walk(&app, &admin, "/admin/subscribers?q=secret7").await;
    assert_eq!(
        seen.len(),
        (0..n).filter(|i| i.to_string().starts_with('7')).count()
    );
    let (seen, _) = walk(&app, &admin, "/admin/subscribers?q=GRACE").await;
    assert_eq!(seen, ["grace@example.com"]);

    // A row removed between two pages neither shifts nor repeats the rest.
    let (_, first) = page(&app, &admin, "/admin/subscribers").await;
    let (first_rows, next) = addresses_and_next(&first);
    let gone = app
        .store
        .list_subscribers(false, 1)
        .await
        .unwrap()
        .remove(0);
    app.store
        .delete_subscriber(&gone.id, "test", Timestamp::now())
        .await
        .unwrap();
    let (_, second) = page(&app, &admin, &next.unwrap()).await;
    let (second_rows, _) = addresses_and_next(&second);
    assert_eq!(second_rows[0], api_addresses[50]);
    let all: BTreeSet<&String> = first_rows.iter().chain(&second_rows).collect();
    assert_eq!(all.len(), 100);

    // The hostile URL is shown whole to an admin, escaped.
    let (_, last) = page(&app, &admin, "/admin/subscribers?q=evil").await;
    assert!(last.contains("&#60;script&#62;"), "{last}");
    inert(&last);

    // Letters beyond ASCII are found as typed (the store folds ASCII letters only).
    app.store
        .create_webhook_subscriber(
            "https://hooks.example.org/Über",
            None,
            &Scope::default(),
            "test",
            Timestamp::now(),
        )
        .await
        .unwrap();
    let (seen, _) = walk(&app, &admin, "/admin/subscribers?q=%C3%9CBER").await;
    assert_eq!(seen, ["https://hooks.example.org/Über"]);
}

#[tokio::test]
async fn an_admin_adds_a_webhook_as_the_api_does_and_removes_a_subscriber_after_confirming() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ada@example.com", Role::Admin).await;
        })
        .await;
    let admin = sign_in(&app, "ada@example.com").await;
    let (_, body) = page(&app, &admin, "/admin/subscribers").await;
    assert!(body.contains(r#"action="/admin/subscribers""#), "{body}");

    // The API's checks, in the API's words.
    for (url, extra) in [
        ("ftp://hooks.example.com/x", None),
        ("https://user:pw@hooks.example.com/x", None),
        ("https://hooks.example.com/x", Some(("component", "nope"))),
    ] {
        let mut form = vec![("url", url)];
        let mut body = json!({ "url": url });
        if let Some((k, v)) = extra {
            form.push((k, v));
            body["components"] = json!([v]);
        }
        let r = post(&app, &admin, "/admin/subscribers", &form).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let page_text = r.text().await.unwrap();
        let api = app
            .post_json("/api/v1/subscribers", &app.admin, &body)
            .await;
        assert_eq!(api.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = api.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(page_text.contains(detail), "{detail} in {page_text}");
        assert!(
            page_text.contains(&format!(r#"value="{url}""#)),
            "the URL is kept"
        );
    }
    assert!(
        app.store
            .list_subscribers(false, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let url = "https://hooks.example.com/upkeep?x=<b>";
    let r = post(
        &app,
        &admin,
        "/admin/subscribers",
        &[("url", url), ("secret", "s3cret"), ("component", "api")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/subscribers");
    let made = app.json("/api/v1/subscribers", Some(&app.admin)).await;
    assert_eq!(made.as_array().unwrap().len(), 1, "{made}");
    assert_eq!(
        made[0]["address"],
        "https://hooks.example.com/upkeep?x=%3Cb%3E"
    );
    assert_eq!(made[0]["components"], json!(["api"]));
    let id = made[0]["id"].as_str().unwrap().to_owned();
    let stored = app.store.get_subscriber(&id).await.unwrap().unwrap();
    assert_eq!(stored.secret.as_deref(), Some("s3cret"));
    // The same URL again: 409 on both.
    let r = post(&app, &admin, "/admin/subscribers", &[("url", url)]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let api = app
        .post_json("/api/v1/subscribers", &app.admin, &json!({ "url": url }))
        .await;
    assert_eq!(api.status(), StatusCode::CONFLICT);

    // Removing needs a recent confirmation, then is done and audited as the API's delete.
    let remove = format!("/admin/subscribers/{id}/remove");
    let r = post(&app, &admin, &remove, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION],
        "/admin/confirm?next=%2Fadmin%2Fsubscribers"
    );
    assert!(app.store.get_subscriber(&id).await.unwrap().is_some());
    let r = post(
        &app,
        &admin,
        "/admin/confirm",
        &[("secret", PASSWORD), ("next", "/admin/subscribers")],
    )
    .await;
    assert_eq!(r.headers()[LOCATION], "/admin/subscribers");
    let r = post(&app, &admin, &remove, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/subscribers");
    assert!(app.store.get_subscriber(&id).await.unwrap().is_none());
    let r = post(&app, &admin, &remove, &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "gone");
    let api = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/subscribers/{id}"),
            &app.admin,
        )
        .await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND, "the API agrees");

    let audit = app.store.list_audit(50, None).await.unwrap();
    for action in ["subscriber.create", "subscriber.delete"] {
        let e = audit
            .iter()
            .find(|e| e.action == action && e.target == format!("subscriber/{id}"))
            .unwrap_or_else(|| panic!("no {action} in {audit:?}"));
        assert!(
            e.actor.starts_with("user:") && e.actor.contains("ada@example.com"),
            "{}",
            e.actor
        );
        let row = e.after.as_ref().or(e.before.as_ref()).unwrap();
        assert_eq!(
            row["address"], "https://hooks.example.com/…",
            "audited redacted"
        );
    }
}

/// The value of the `state` cell of set `id` on the readiness page.
fn state_of(body: &str, id: &str) -> String {
    let row = body
        .split(&format!(r#"<a href="/admin/backups/{id}">"#))
        .nth(1)
        .unwrap_or_else(|| panic!("no {id} in {body}"));
    row.split(r#"<td class="b-"#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn backups_show_dr_readiness_as_the_api_and_an_editor_runs_a_drill() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-01T12:00:00Z")
        .pings()
        .start_seeded(|store| async move {
            seed_user(&store, "ed@example.com", Role::Editor).await;
            seed_user(&store, "vic@example.com", Role::Viewer).await;
        })
        .await;
    let ping = |path: &'static str| {
        let url = app.url(path);
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(ping("/ping/main-key/start").await, StatusCode::OK);
    app.advance(600);
    assert_eq!(ping("/ping/main-key?size=1048576").await, StatusCode::OK);
    app.advance(2 * 86_400); // files never backed up; main-db past its RPO
    assert_eq!(ping("/ping/main-key/start").await, StatusCode::OK);
    app.advance(60);
    assert_eq!(
        ping("/ping/main-key/1").await,
        StatusCode::OK,
        "a failed run"
    );
    let viewer = sign_in(&app, "vic@example.com").await;

    // Sessions end after 30 idle minutes: whoever reads after the clock moved signs in again.
    let check = |viewer: String, expect: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let api = app.json("/api/v1/dr-readiness", Some(&app.viewer)).await;
            let (status, body) = page(app, &viewer, "/admin/backups").await;
            assert_eq!(status, StatusCode::OK);
            for (id, state) in expect {
                let set = api["backups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["id"] == id)
                    .unwrap();
                assert_eq!(set["state"], state, "{api}");
                assert_eq!(state_of(&body, id), state, "{body}");
            }
            let ready = if api["ready"] == true {
                "Ready:"
            } else {
                "Not ready:"
            };
            assert!(body.contains(ready), "{body}");
            body
        }
    };
    let body = check(viewer, vec![("main-db", "breached"), ("files", "unknown")]).await;
    assert!(body.contains("now (never drilled)"), "{body}");

    // A good backup, then 80 % of the RPO: at risk.
    assert_eq!(ping("/ping/main-key/start").await, StatusCode::OK);
    app.advance(60);
    assert_eq!(ping("/ping/main-key").await, StatusCode::OK);
    app.advance(5 * 3600 - 60);
    let editor = sign_in(&app, "ed@example.com").await;
    let viewer = sign_in(&app, "vic@example.com").await;
    check(
        viewer.clone(),
        vec![("main-db", "at_risk"), ("files", "unknown")],
    )
    .await;
    let (_, detail) = page(&app, &viewer, "/admin/backups/main-db").await;
    assert!(
        detail.contains("failed</td>") && detail.contains("ok</td>"),
        "runs: {detail}"
    );

    // An editor starts a drill (hostile notes kept inert) and finishes it; the API sees it.
    let (_, detail) = page(&app, &editor, "/admin/backups/main-db").await;
    assert!(detail.contains("Start a drill</button>"), "{detail}");
    let r = post(
        &app,
        &editor,
        "/admin/backups/main-db/drills",
        &[("notes", HOSTILE)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/backups/main-db");
    let api = app.json("/api/v1/backups/main-db", Some(&app.viewer)).await;
    let drill = api["open_drill"]["id"].as_str().unwrap().to_owned();
    assert_eq!(api["open_drill"]["notes"], HOSTILE);
    assert!(
        api["open_drill"]["started_by"]
            .as_str()
            .unwrap()
            .contains("ed@example.com")
    );
    let (_, detail) = page(&app, &editor, "/admin/backups/main-db").await;
    inert(&detail);
    assert!(detail.contains("Finish drill</button>"), "{detail}");
    let finish = format!("/admin/backups/main-db/drills/{drill}/finish");
    let r = post(&app, &editor, &finish, &[("outcome", "maybe")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("unknown outcome"));
    let r = post(
        &app,
        &editor,
        "/admin/backups/main-db/drills/nope/finish",
        &[("outcome", "success")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(&app, &editor, "/admin/backups/nope/drills", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.advance(3600);
    let editor = sign_in(&app, "ed@example.com").await;
    let viewer = sign_in(&app, "vic@example.com").await;
    let r = post(
        &app,
        &editor,
        &finish,
        &[
            ("outcome", "success"),
            ("validated", "yes"),
            ("notes", "restored"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let api = app.json("/api/v1/backups/main-db", Some(&app.viewer)).await;
    assert_eq!(api["open_drill"], Value::Null);
    assert_eq!(api["last_drill"]["recovery_ms"], 3_600_000);
    assert_eq!(api["last_drill"]["meets_rto"], true);
    assert_eq!(api["drill_overdue"], false);
    let (_, detail) = page(&app, &viewer, "/admin/backups/main-db").await;
    assert!(detail.contains("1h 00m (meets RTO)"), "{detail}");
    // Once only: the second finish is refused (409) on the page as on the API.
    let r = post(&app, &editor, &finish, &[("outcome", "failure")]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let api = app
        .post_json(
            &format!("/api/v1/backups/main-db/drills/{drill}/finish"),
            &app.editor,
            &json!({ "outcome": "failure", "validated": false }),
        )
        .await;
    assert_eq!(api.status(), StatusCode::CONFLICT);
    let audit = app.store.list_audit(50, None).await.unwrap();
    for action in ["drill.start", "drill.finish"] {
        let e = audit.iter().find(|e| e.action == action).unwrap();
        assert!(e.actor.contains("ed@example.com"), "{}", e.actor);
    }
}

/// The ids of the rows of an audit page.
fn audit_ids(body: &str) -> Vec<i64> {
    body.split(r##"<tr><td data-label="#">"##)
        .skip(1)
        .map(|s| s.split("</td>").next().unwrap().parse().unwrap())
        .collect()
}

async fn audit_walk(app: &TestApp, cookie: &str, start: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut next = Some(start.to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let (status, body) = page(app, cookie, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        inert(&body);
        seen.extend(audit_ids(&body));
        next = next_link(&body);
        pages += 1;
        assert!(pages < 20, "{url}: the pages never end");
    }
    seen
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_who_what_and_when_and_paged_by_key() {
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "vic@example.com", Role::Viewer).await;
        seed_user(&store, "ada@example.com", Role::Admin).await;
        // 130 rows an hour apart from 1 March 00:00 UTC, by two actors and of two kinds.
        let start = Timestamp::from_second(1_772_323_200).unwrap(); // 2026-03-01T00:00:00Z
        for i in 0..130 {
            let (actor, action, target, after) = if i % 2 == 0 {
                (
                    "user:1 (ada@example.com)",
                    "subscriber.delete",
                    format!("subscriber/{i}"),
                    json!({ "address": format!("person{i}@example.org"), "note": HOSTILE }),
                )
            } else {
                (
                    "token:7 (deploy)",
                    "token.create",
                    format!("token/{i}"),
                    json!({ "name": HOSTILE }),
                )
            };
            let entry = AuditEntry {
                actor: actor.into(),
                action: action.into(),
                target,
                before: None,
                after: Some(after),
            };
            store
                .record_audit(&entry, start + jiff::SignedDuration::from_hours(i))
                .await
                .unwrap();
        }
    })
    .await;
    let viewer = sign_in(&app, "vic@example.com").await;
    let admin = sign_in(&app, "ada@example.com").await;
    let all = app.store.list_audit(500, None).await.unwrap();

    let seen = audit_walk(&app, &viewer, "/admin/audit").await;
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    assert_eq!(seen, ids, "every row once, newest first");

    let seen = audit_walk(
        &app,
        &viewer,
        "/admin/audit?who=ADA%40example&what=subscriber.",
    )
    .await;
    let expected: Vec<i64> = all
        .iter()
        .filter(|r| r.action == "subscriber.delete" && r.actor.contains("ada@"))
        .map(|r| r.id)
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 65);

    // Days in the page's zone (Europe/Rome, UTC+1): 2 March runs 1 March 23:00Z to 2 March
    // 23:00Z, both ends included by the form's days.
    let seen = audit_walk(
        &app,
        &viewer,
        "/admin/audit?what=token.&from=2026-03-02&to=2026-03-02",
    )
    .await;
    let day_start = "2026-03-01T23:00:00Z".parse::<Timestamp>().unwrap();
    let day_end = "2026-03-02T23:00:00Z".parse::<Timestamp>().unwrap();
    let expected: Vec<i64> = all
        .iter()
        .filter(|r| r.action == "token.create" && r.at >= day_start && r.at < day_end)
        .map(|r| r.id)
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 12);
    let (status, body) = page(&app, &viewer, "/admin/audit?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("YYYY-MM-DD"), "{body}");
    inert(&body);

    // The console and the API show a viewer the same rows, addresses redacted alike; an admin
    // sees them whole.
    let api = app.json("/api/v1/audit?limit=50", Some(&app.viewer)).await;
    let (_, body) = page(&app, &viewer, "/admin/audit").await;
    assert_eq!(
        audit_ids(&body),
        api.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    );
    let shown = api
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "subscriber.delete")
        .unwrap();
    let address = shown["after"]["address"].as_str().unwrap();
    assert!(address.ends_with("…@example.org"), "{address}");
    assert!(body.contains(address), "{body}");
    assert!(!body.contains("person128@"), "{body}");
    let (_, body) = page(&app, &admin, "/admin/audit").await;
    assert!(body.contains("person128@example.org"), "{body}");
    inert(&body);
}
