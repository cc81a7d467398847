//! The console's availability reports, configuration page, incident editing and overview over
//! real sockets: each page renders for the roles that may read it; the report's downloads are
//! the API's own bytes; a reload of a broken file on disk is refused with every problem as
//! FILE:LINE:COLUMN and changes nothing, and the fixed file reloads (audited); an incident is
//! edited (audited), an update previewed (hostile HTML inert, nothing posted), and deleted only
//! by an admin after re-authentication; the overview counts what needs attention and loads its
//! refresh script from the binary; viewers see no controls and are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::json;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_domain::role::Role;
use upkeep_store::incidents::NewIncident;

use crate::console::{PASSWORD, location, seed_user, set_cookie};
use crate::console_pages::seed_alert_and_failed_delivery;
use crate::support::{TestApp, page_config};

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");
const HOSTILE: &str = r#"<script>alert(1)</script><img src=x onerror="alert(2)">"#;

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
components:
  api: { name: Public API }
  web: { name: Website }
regions:
  eu: { timezone: UTC }
tenants:
  acme: { name: Acme Corp, region: eu }
monitors:
  api-health: { component: api, http: { url: "http://127.0.0.1:9/health" } }
backups:
  main-db: { rpo: 6h, rto: 24h, drill_every: 30d, push_key: main-key }
"#
);

/// Starts the app with an admin, an editor and a viewer.
async fn start() -> TestApp {
    TestApp::builder(CONFIG)
        .start_seeded(|store| async move {
            seed_user(&store, "ada@example.com", Role::Admin).await;
            seed_user(&store, "ed@example.com", Role::Editor).await;
            seed_user(&store, "vi@example.com", Role::Viewer).await;
        })
        .await
}

async fn cookie(app: &TestApp, email: &str) -> String {
    let r = app.sign_in(email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    set_cookie(r.headers(), "upkeep_admin").0
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let r = app.get_with_cookie(path, cookie).await;
    (r.status(), r.text().await.unwrap())
}

/// The page's `<main>`, where each page's own content is.
fn main_of(html: &str) -> &str {
    let start = html.find("<main").expect("a main element");
    let end = html.find("</main>").expect("the end of main");
    &html[start..end]
}

#[tokio::test]
async fn the_reports_page_shows_the_figures_a_chart_and_the_apis_own_downloads() {
    let app = start().await;
    let viewer = cookie(&app, "vi@example.com").await;
    let year = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
        .year();
    let (status, html) = page(&app, &format!("/admin/reports?year={year}"), &viewer).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let main = main_of(&html);
    assert!(
        main.contains("Public API") && main.contains("Website"),
        "{main}"
    );
    assert!(
        main.contains("Coverage") && main.contains("Unobserved"),
        "{main}"
    );
    assert!(
        main.contains("no data"),
        "nothing observed is never 100 %: {main}"
    );
    assert!(
        main.contains("<svg"),
        "a chart is drawn on the server: {main}"
    );
    assert!(
        !main.contains("style="),
        "no inline style under the CSP: {main}"
    );
    assert!(!html.contains("<script"), "the report page runs no script");
    assert!(
        html.contains(r#"href="/admin/reports""#),
        "the nav links to it"
    );

    // The downloads are what the API answers to the same question, byte for byte.
    let csv_link = format!("/admin/reports/download?year={year}&#38;format=csv");
    assert!(main.contains(&csv_link), "{main}");
    let csv = app
        .get_with_cookie(
            &format!("/admin/reports/download?year={year}&format=csv"),
            &viewer,
        )
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        csv.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("availability.csv")
    );
    let csv = csv.text().await.unwrap();
    let api = app
        .get(
            &format!("/api/v1/reports/availability?year={year}&format=csv"),
            Some(&app.viewer),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv, api);
    assert!(csv.starts_with("kind,name,") && csv.contains(",unobserved_ms,coverage_ppm\n"));

    let report = app
        .get_with_cookie(
            &format!("/admin/reports/download?year={year}&format=html&component=api"),
            &viewer,
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    let csp = report.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let report = report.text().await.unwrap();
    assert!(report.contains("Public API") && !report.contains("Website"));

    // A question that cannot be answered is said on the page, not as a server error.
    let (status, html) = page(&app, "/admin/reports?year=1800", &viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("out of range"), "{html}");
    let (status, html) = page(&app, "/admin/reports?year=%3Cb%3E", &viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("`&#60;b&#62;` is not a year"), "{html}");
    let r = app
        .get_with_cookie("/admin/reports/download?format=exe", &viewer)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Signed out, nothing.
    let r = app
        .client
        .get(app.url("/admin/reports"))
        .send()
        .await
        .unwrap();
    assert!(r.url().path().starts_with("/admin/login"), "{}", r.url());
}

#[tokio::test]
async fn a_broken_file_is_refused_with_every_problem_and_the_fixed_one_reloads() {
    let app = start().await;
    let admin = cookie(&app, "ada@example.com").await;
    let path = app.config_path.display().to_string();
    let (status, html) = page(&app, "/admin/config", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(&path), "{main}");
    assert!(main.contains("<dt>Components</dt><dd>2</dd>"), "{main}");
    assert!(main.contains("<dt>Monitors</dt><dd>1</dd>"), "{main}");
    assert!(main.contains("<dt>Tenants</dt><dd>1</dd>"), "{main}");
    assert!(html.contains(r#"href="/admin/config""#));
    let before = app.json("/api/v1/config", Some(&app.viewer)).await;

    // Two problems: a monitor of an unknown component and an RPO that is no duration.
    let broken = CONFIG
        .replace("component: api,", "component: nope,")
        .replace("rpo: 6h", "rpo: later");
    std::fs::write(&app.config_path, &broken).unwrap();
    let r = app
        .post_form("/admin/config/reload", &[], &[SAME, ("cookie", &admin)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    let problems: Vec<&str> = html
        .split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .filter(|s| s.starts_with(&format!("{path}:")))
        .collect();
    assert!(problems.len() >= 2, "every problem is listed: {html}");
    for p in &problems {
        let mut parts = p[path.len() + 1..].splitn(3, ':');
        let line = parts.next().unwrap();
        let column = parts.next().unwrap();
        assert!(
            line.parse::<u32>().is_ok() && column.parse::<u32>().is_ok(),
            "FILE:LINE:COLUMN: message, got {p}"
        );
    }
    assert!(problems.iter().any(|p| p.contains("nope")), "{problems:?}");
    let after = app.json("/api/v1/config", Some(&app.viewer)).await;
    assert_eq!(after["sha256"], before["sha256"], "nothing changed");

    // Fixed (and with one more component), it reloads, audited under the admin's name.
    let fixed = CONFIG.replace(
        "  web: { name: Website }",
        "  web: { name: Website }\n  db: { name: Database }",
    );
    std::fs::write(&app.config_path, &fixed).unwrap();
    let r = app
        .post_form("/admin/config/reload", &[], &[SAME, ("cookie", &admin)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("the configuration changed"), "{html}");
    assert!(html.contains("<dt>Components</dt><dd>3</dd>"), "{html}");
    let after = app.json("/api/v1/config", Some(&app.viewer)).await;
    assert_ne!(after["sha256"], before["sha256"]);
    assert_eq!(after["components"], 3);
    let audit = app.store.list_audit(50, None).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.action == "config.reload")
        .expect("the reload is audited");
    assert!(row.actor.contains("ada@example.com"), "{}", row.actor);

    // Editors and viewers neither read the page nor reload, nor see the link.
    for who in ["ed@example.com", "vi@example.com"] {
        let c = cookie(&app, who).await;
        let (status, _) = page(&app, "/admin/config", &c).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
        let r = app
            .post_form("/admin/config/reload", &[], &[SAME, ("cookie", &c)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who}");
        let (_, html) = page(&app, "/admin", &c).await;
        assert!(!html.contains(r#"href="/admin/config""#), "{who}");
    }
}

async fn open_incident(app: &TestApp) -> String {
    let new = NewIncident {
        title: "API errors".into(),
        status: IncidentStatus::Investigating,
        impact: None,
        body: "Looking into it.".into(),
        components: vec![AffectedComponent {
            id: "api".into(),
            status: ComponentStatus::PartialOutage,
        }],
        started_at: None,
        auto: false,
    };
    app.store
        .create_incident(&new, "test", Timestamp::now())
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn incidents_are_edited_previewed_and_deleted_only_after_confirmation() {
    let app = start().await;
    let id = open_incident(&app).await;
    let detail = format!("/admin/incidents/{id}");
    let editor = cookie(&app, "ed@example.com").await;

    // Edit: title, impact and a postmortem, as PATCH does; audited under the editor's name.
    let postmortem = format!("## Root cause\n\nA bad deploy. {HOSTILE}");
    let r = app
        .post_form(
            &format!("{detail}/edit"),
            &[
                ("title", "  API errors on EU  "),
                ("impact", "major"),
                ("postmortem", &postmortem),
            ],
            &[SAME, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), detail);
    let stored = app.store.get_incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.title, "API errors on EU");
    assert_eq!(stored.impact.as_str(), "major");
    assert_eq!(stored.postmortem.as_deref(), Some(postmortem.as_str()));
    assert_eq!(stored.updates.len(), 1, "the timeline is unchanged");
    let audit = app.store.list_audit(50, None).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.action == "incident.edit")
        .expect("the edit is audited");
    assert!(row.actor.contains("ed@example.com"), "{}", row.actor);
    let (_, html) = page(&app, &detail, &editor).await;
    assert!(html.contains("<h2>Root cause</h2>"), "{html}");
    assert!(
        !html.contains("<script>alert(1)") && !html.contains("<img src"),
        "{html}"
    );

    // A bad edit is said on the page and changes nothing.
    let r = app
        .post_form(
            &format!("{detail}/edit"),
            &[("title", " "), ("impact", "major")],
            &[SAME, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Preview: the Markdown rendered by the status page's renderer, the hostile HTML inert,
    // the form kept, nothing posted.
    let body = format!("**Fixed** the *cache*. {HOSTILE}");
    let r = app
        .post_form(
            &format!("{detail}/updates"),
            &[
                ("status", "monitoring"),
                ("component.api", "degraded_performance"),
                ("body", &body),
                ("preview", "1"),
            ],
            &[SAME, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let main = main_of(&html);
    let expected = upkeep_web::status::html::markdown(&body);
    assert!(
        main.contains(&expected),
        "the public page's rendering: {main}"
    );
    assert!(main.contains("<strong>Fixed</strong>"), "{main}");
    assert!(
        !main.contains("<script>alert(1)") && !main.contains("<img"),
        "{main}"
    );
    assert!(
        main.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "the typed text is kept, escaped, in the form: {main}"
    );
    assert!(
        main.contains(r#"<option value="monitoring" selected>"#),
        "{main}"
    );
    assert!(
        main.contains(r#"<option value="degraded_performance" selected>"#),
        "{main}"
    );
    let stored = app.store.get_incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.updates.len(), 1, "a preview posts nothing");
    // Posting the same form without `preview` posts it.
    let r = app
        .post_form(
            &format!("{detail}/updates"),
            &[("status", "monitoring"), ("body", &body)],
            &[SAME, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = app.store.get_incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.updates.len(), 2);

    // Viewers see no controls and are refused whatever they post.
    let viewer = cookie(&app, "vi@example.com").await;
    let (status, html) = page(&app, &detail, &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("/edit\"")
            && !html.contains("/delete\"")
            && !html.contains("<form method=\"post\" action=\"/admin/incidents"),
        "{html}"
    );
    for (path, form) in [
        (format!("{detail}/edit"), vec![("title", "pwned")]),
        (
            format!("{detail}/updates"),
            vec![("body", "x"), ("preview", "1")],
        ),
        (format!("{detail}/delete"), vec![]),
    ] {
        let r = app
            .post_form(&path, &form, &[SAME, ("cookie", &viewer)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Editors edit but do not delete, and see no delete button.
    let (_, html) = page(&app, &detail, &editor).await;
    assert!(
        html.contains("/edit\"") && !html.contains("/delete\""),
        "{html}"
    );
    let r = app
        .post_form(
            &format!("{detail}/delete"),
            &[],
            &[SAME, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // An admin deletes, after confirming their password.
    let admin = cookie(&app, "ada@example.com").await;
    let r = app
        .post_form(
            &format!("{detail}/delete"),
            &[],
            &[SAME, ("cookie", &admin)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let next = format!("/admin/confirm?next=%2Fadmin%2Fincidents%2F{id}");
    assert_eq!(location(&r), next);
    assert!(app.store.get_incident(&id).await.unwrap().is_some());
    let r = app
        .post_form(
            "/admin/confirm",
            &[("secret", PASSWORD), ("next", &detail)],
            &[SAME, ("cookie", &admin)],
        )
        .await;
    assert_eq!(location(&r), detail);
    let r = app
        .post_form(
            &format!("{detail}/delete"),
            &[],
            &[SAME, ("cookie", &admin)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/incidents");
    assert!(app.store.get_incident(&id).await.unwrap().is_none());
    let audit = app.store.list_audit(50, None).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.action == "incident.delete")
        .expect("the delete is audited");
    assert!(row.actor.contains("ada@example.com"), "{}", row.actor);
    let (status, _) = page(&app, &detail, &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The number shown in the overview's count with element id `id`.
fn count(html: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}">"#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("{id}: {html}")) + marker.len();
    html[start..].split('<').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_overview_counts_what_needs_attention_and_refreshes_with_a_script_of_its_own() {
    let app = start().await;
    let viewer = cookie(&app, "vi@example.com").await;
    let (status, html) = page(&app, "/admin", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&html, "n-alerts"), "0");
    assert_eq!(count(&html, "n-deliveries"), "0");
    assert_eq!(count(&html, "n-held"), "0");
    // The backup set never reported: not ok, and never drilled.
    assert_eq!(count(&html, "n-backups"), "1");
    assert!(html.contains(r#"href="/admin/backups/main-db""#), "{html}");
    assert!(
        html.contains(
            r#"<td data-label="State" class="b-unknown">unknown</td><td data-label="Drill"><span class="m-down">overdue</span>"#
        ),
        "{html}"
    );

    seed_alert_and_failed_delivery(&app.store).await;
    let start = Timestamp::now() + (15 * 24).hours();
    let m = app
        .post_json(
            "/api/v1/maintenances",
            &app.editor,
            &json!({"title": "DB <upgrade>", "starts_at": format!("{start:.3}"),
                    "duration": "1h", "components": ["api"]}),
        )
        .await;
    let status = m.status();
    let m: serde_json::Value = m.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let mid = m["id"].as_str().unwrap();
    assert!(
        app.store
            .set_hold_reason(
                mid,
                Some("pre-flight: api is <b>down</b>"),
                "test",
                Timestamp::now()
            )
            .await
            .unwrap()
    );
    let (_, html) = page(&app, "/admin", &viewer).await;
    assert_eq!(count(&html, "n-alerts"), "1");
    assert_eq!(count(&html, "n-deliveries"), "1");
    assert_eq!(count(&html, "n-held"), "1");
    assert!(html.contains(r#"<a href="/admin/alerts">"#));
    assert!(html.contains(r#"<a href="/admin/deliveries">"#));
    assert!(
        html.contains(&format!(
            r#"href="/admin/maintenance/{mid}">DB &#60;upgrade&#62;</a>"#
        )),
        "{html}"
    );
    assert!(
        html.contains("pre-flight: api is &#60;b&#62;down&#60;/b&#62;"),
        "{html}"
    );
    // Acknowledged, the alert no longer counts.
    let editor = cookie(&app, "ed@example.com").await;
    let r = app
        .post_form(
            "/admin/alerts/rule%3A%3Cb%3Ex%3C%2Fb%3E/acknowledge",
            &[],
            &[SAME, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, "/admin", &viewer).await;
    assert_eq!(count(&html, "n-alerts"), "0");

    // The script: one file from the binary, versioned and cached, loaded by the overview only;
    // no inline script anywhere, and the policy allows none.
    let tag_start = html.find("<script").expect("the overview loads its script");
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    assert!(tag.contains(r#"src="/admin/static/console.js?v="#), "{tag}");
    assert_eq!(html.matches("<script").count(), 1);
    assert!(
        html.contains("<main data-refresh>"),
        "the script finds what to swap"
    );
    let src = tag.split('"').nth(1).unwrap();
    let r = app.client.get(app.url(src)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(
        r.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let js = r.text().await.unwrap();
    assert!(js.contains("main[data-refresh]") && js.contains("30000"));
    let r = app.get_with_cookie("/admin", &viewer).await;
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let (_, incidents) = page(&app, "/admin/incidents", &viewer).await;
    assert!(!incidents.contains("<script"), "other pages load no script");
}

#[tokio::test]
async fn console_pages_and_assets_are_compressed_as_the_client_allows() {
    use std::io::Read as _;
    let app = start().await;
    let cookie = cookie(&app, "ada@example.com").await;
    let css = {
        let (_, body) = page(&app, "/admin", &cookie).await;
        body.split(r#"href="/admin/static/console.css"#)
            .nth(1)
            .map(|s| format!("/admin/static/console.css{}", s.split('"').next().unwrap()))
            .unwrap()
    };
    for path in ["/admin/incidents", "/admin/audit", css.as_str()] {
        let get = |coding: &'static str| {
            app.client
                .get(app.url(path))
                .header("cookie", &cookie)
                .header("accept-encoding", coding)
                .send()
        };
        let plain = get("identity").await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        assert_eq!(plain.headers()["vary"], "Accept-Encoding", "{path}");
        let plain = plain.bytes().await.unwrap();

        let br = get("gzip, deflate, br, zstd").await.unwrap();
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
        assert_eq!(br.headers()["vary"], "Accept-Encoding", "{path}");
        let packed = br.bytes().await.unwrap();
        assert!(
            packed.len() * 2 < plain.len(),
            "{path}: {} of {}",
            packed.len(),
            plain.len()
        );
        let mut unpacked = Vec::new();
        brotli::Decompressor::new(&packed[..], 4096)
            .read_to_end(&mut unpacked)
            .unwrap();

        let gz = get("gzip").await.unwrap();
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{path}");
        let packed = gz.bytes().await.unwrap();
        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut gunzipped)
            .unwrap();
        if path == css {
            assert_eq!(unpacked, plain, "{path}");
            assert_eq!(gunzipped, plain, "{path}");
        } else {
            // Pages carry the time they were rendered; the rest is the same page.
            for body in [&unpacked, &gunzipped] {
                let text = String::from_utf8(body.clone()).unwrap();
                assert!(text.starts_with("<!doctype html>"), "{path}");
                assert!(text.trim_end().ends_with("</html>"), "{path}");
                assert!(text.len().abs_diff(plain.len()) < 64, "{path}");
            }
        }
    }
    // A refusal is a problem document and is left as it is.
    let viewer = self::cookie(&app, "vi@example.com").await;
    let r = app
        .client
        .get(app.url("/admin/users"))
        .header("cookie", &viewer)
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/problem+json");
    assert!(r.headers().get("content-encoding").is_none());
}
