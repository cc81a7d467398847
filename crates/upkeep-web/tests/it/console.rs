//! The console under `/admin` over real sockets: signing in through the form (303 and the
//! cookie's attributes), wrong passwords without telling which part was wrong, the throttle,
//! session expiry on the app's clock, sign-out, cross-site form posts refused, the second
//! factor, and what a person typed shown escaped.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode, redirect};
use upkeep_domain::console::totp;
use upkeep_domain::role::Role;
use upkeep_engine::service::Caller;
use upkeep_engine::service::user::{self, CreateUser};
use upkeep_store::Store;

use crate::support::{TestApp, page_config};

pub(crate) const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
components:
  api: { name: Public API }
"#
);

pub(crate) const PASSWORD: &str = "correct horse battery";

pub(crate) async fn seed_user(store: &Store, email: &str, role: Role) {
    let caller = Caller {
        actor: "test".into(),
        may_override: true,
    };
    let new = CreateUser {
        email: email.into(),
        display_name: Some("Ada <b>Lovelace</b>".into()),
        role,
        password: PASSWORD.into(),
    };
    user::create(store, &caller, new, jiff::Timestamp::now())
        .await
        .unwrap();
}

/// A client that does not follow redirects and sends what a browser sends on a same-origin
/// form post.
fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub(crate) async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = browser().post(self.url(path)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// Signs in through the form as a same-origin browser would.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.post_form(
            "/admin/login",
            &[("email", email), ("password", password)],
            &[("sec-fetch-site", "same-origin")],
        )
        .await
    }

    pub(crate) async fn get_with_cookie(&self, path: &str, cookie: &str) -> Response {
        browser()
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }
}

/// The `name=value` part of the `Set-Cookie` header for `name`, and the whole header.
pub(crate) fn set_cookie(headers: &HeaderMap, name: &str) -> (String, String) {
    let full = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {headers:?}"));
    let pair = full.split(';').next().unwrap().to_owned();
    (pair, full)
}

pub(crate) fn location(r: &Response) -> &str {
    r.headers().get(LOCATION).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn signing_in_answers_303_with_a_strict_session_cookie_and_opens_the_overview() {
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "ada@example.com", Role::Editor).await;
    })
    .await;

    let form = app.get_with_cookie("/admin/login", "").await;
    assert_eq!(form.status(), StatusCode::OK);
    let csp = form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let body = form.text().await.unwrap();
    assert!(
        body.contains(r#"<form method="post" action="/admin/login">"#),
        "{body}"
    );
    assert!(body.contains(r#"name="email""#) && body.contains(r#"name="password""#));
    assert!(
        !body.contains("<script") && !body.contains("style="),
        "no inline script or style"
    );

    // Without a session, the console sends people to the form.
    let r = app.get_with_cookie("/admin", "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/login");

    let r = app.sign_in("ADA@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin");
    let (cookie, full) = set_cookie(r.headers(), "upkeep_admin");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=43200",
    ] {
        assert!(full.contains(attribute), "{attribute} missing: {full}");
    }
    assert!(!full.contains("Secure"), "the page is plain http: {full}");
    let token = cookie.trim_start_matches("upkeep_admin=");
    assert_eq!(token.len(), 43, "a 256-bit token: {cookie}");

    let overview = app.get_with_cookie("/admin", &cookie).await;
    assert_eq!(overview.status(), StatusCode::OK);
    assert_eq!(overview.headers()["cache-control"], "no-store");
    let body = overview.text().await.unwrap();
    assert!(body.contains("Needs attention now"), "{body}");
    assert!(body.contains("No open incidents."), "{body}");
    assert!(
        body.contains(r#"action="/admin/logout""#),
        "a sign-out form: {body}"
    );
    // The display name is text, never markup.
    assert!(
        body.contains("Ada &#60;b&#62;Lovelace&#60;/b&#62;")
            || body.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt;"),
        "{body}"
    );
    assert!(!body.contains("<b>Lovelace"), "{body}");

    // A fresh id at each sign-in; the store keeps only its hash.
    let again = app.sign_in("ada@example.com", PASSWORD).await;
    let (second, _) = set_cookie(again.headers(), "upkeep_admin");
    assert_ne!(second, cookie);
    let audit = app.store.list_audit(50, None).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "session.sign_in"));
    assert!(!serde_json::to_string(&audit).unwrap().contains(token));

    // Signing out ends this session only; signing out everywhere ends the other too.
    let out = app
        .post_form(
            "/admin/logout",
            &[],
            &[("sec-fetch-site", "same-origin"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/admin/login");
    let (cleared, full) = set_cookie(out.headers(), "upkeep_admin");
    assert_eq!(cleared, "upkeep_admin=");
    assert!(full.contains("Max-Age=0"), "{full}");
    assert_eq!(
        app.get_with_cookie("/admin", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.get_with_cookie("/admin", &second).await.status(),
        StatusCode::OK
    );
    let third = app.sign_in("ada@example.com", PASSWORD).await;
    let (third, _) = set_cookie(third.headers(), "upkeep_admin");
    let out = app
        .post_form(
            "/admin/logout-everywhere",
            &[],
            &[("sec-fetch-site", "same-origin"), ("cookie", &third)],
        )
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    for c in [&second, &third] {
        assert_eq!(
            app.get_with_cookie("/admin", c).await.status(),
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn an_https_page_gets_secure_cookies() {
    let config = CONFIG.replace(
        "url: http://127.0.0.1:8080",
        "url: https://status.example.com",
    );
    let app = TestApp::start_seeded(&config, |store| async move {
        seed_user(&store, "ada@example.com", Role::Viewer).await;
    })
    .await;
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, full) = set_cookie(r.headers(), "upkeep_admin");
    assert!(full.ends_with("; Secure"), "{full}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_get_the_same_answer_and_are_throttled() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ada@example.com", Role::Viewer).await;
        })
        .await;
    let wrong = app.sign_in("ada@example.com", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    let wrong = wrong.text().await.unwrap();
    let unknown = app.sign_in("nobody@example.com", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown = unknown.text().await.unwrap();
    let message = "That e-mail address and password do not match an active account.";
    assert!(
        wrong.contains(message) && unknown.contains(message),
        "{wrong}"
    );
    assert_eq!(
        wrong.replace("ada@example.com", "X"),
        unknown.replace("nobody@example.com", "X"),
        "the two pages differ only by the address typed"
    );

    // Hostile text typed into the form comes back escaped.
    let hostile = r#""><script>alert(1)</script>@x.org"#;
    let page = app
        .sign_in(hostile, "whatever password")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert(1)</script>"), "{page}");
    assert!(
        page.contains("&#34;&#62;&#60;script&#62;") || page.contains("&quot;&gt;&lt;script&gt;"),
        "{page}"
    );

    // Three failures in a row are free; the fourth locks the account for a second, the next
    // for two, ... (the app's clock stands still here). Even the right password is then
    // refused, and a known address locks exactly as an unknown one.
    for _ in 0..3 {
        let r = app.sign_in("ada@example.com", "not the password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().get("retry-after").is_some());
    let text = locked.text().await.unwrap();
    assert!(
        text.contains("Too many failed sign-ins for this account or from this address"),
        "{text}"
    );
    for _ in 0..3 {
        app.sign_in("nobody@example.com", "not the password").await;
    }
    let nobody = app.sign_in("nobody@example.com", "not the password").await;
    assert_eq!(
        nobody.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "an unknown address locks alike"
    );
    let nobody = nobody.text().await.unwrap();
    assert_eq!(
        nobody.replace("nobody@example.com", "X"),
        text.replace("ada@example.com", "X"),
        "a locked account and a locked unknown address read the same"
    );
    // Operators see the refusals in the metrics.
    let metrics = app
        .get_with_cookie("/metrics", "")
        .await
        .text()
        .await
        .unwrap();
    for outcome in ["refused", "locked"] {
        assert!(
            metrics.contains(&format!(
                "upkeep_console_sign_ins_total{{outcome=\"{outcome}\"}}"
            )),
            "{metrics}"
        );
    }
    // A second later the account may try again, and the right password signs in.
    app.advance(1);
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_end_after_their_idle_and_absolute_limits() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ada@example.com", Role::Viewer).await;
        })
        .await;
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (cookie, _) = set_cookie(r.headers(), "upkeep_admin");
    // Used every 25 minutes, the session outlives its 30-minute idle limit...
    for _ in 0..4 {
        app.advance(25 * 60);
        assert_eq!(
            app.get_with_cookie("/admin", &cookie).await.status(),
            StatusCode::OK
        );
    }
    // ...and dies 31 minutes after its last use.
    app.advance(31 * 60);
    let r = app.get_with_cookie("/admin", &cookie).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (cleared, _) = set_cookie(r.headers(), "upkeep_admin");
    assert_eq!(cleared, "upkeep_admin=", "a stale cookie is removed");

    // However busy, a session ends 12 hours after sign-in.
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (cookie, _) = set_cookie(r.headers(), "upkeep_admin");
    for _ in 0..(12 * 60 / 20 - 1) {
        app.advance(20 * 60);
        assert_eq!(
            app.get_with_cookie("/admin", &cookie).await.status(),
            StatusCode::OK
        );
    }
    app.advance(20 * 60);
    assert_eq!(
        app.get_with_cookie("/admin", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_overview_refreshing_itself_does_not_keep_the_session_alive() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ada@example.com", Role::Viewer).await;
        })
        .await;
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (cookie, _) = set_cookie(r.headers(), "upkeep_admin");
    let token = cookie.trim_start_matches("upkeep_admin=").to_owned();
    let signed_in = app.now();
    let refresh = |cookie: String| {
        let url = app.url("/admin");
        async move {
            browser()
                .get(url)
                .header("cookie", cookie)
                .header("x-upkeep-refresh", "1")
                .send()
                .await
                .unwrap()
        }
    };
    // 29 idle minutes on: the refresh is served, and the session's last use stays where it was.
    app.advance(29 * 60);
    let r = refresh(cookie.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("data-refresh"));
    let row = app
        .store
        .session_seen(&token, app.now(), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.last_seen_at, signed_in, "a refresh is not a use");
    // Past the idle limit, the refresh is sent to the sign-in form like any request.
    app.advance(60);
    let r = refresh(cookie.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/login");
    assert_eq!(
        app.get_with_cookie("/admin", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "ada@example.com", Role::Admin).await;
    })
    .await;
    let creds = [("email", "ada@example.com"), ("password", PASSWORD)];
    // A form on another site posting to the console: refused before anything is checked.
    let r = app
        .post_form(
            "/admin/login",
            &creds,
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(SET_COOKIE).is_none());
    let r = app
        .post_form("/admin/login", &creds, &[("sec-fetch-site", "same-site")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Without Fetch Metadata, Origin decides.
    let r = app
        .post_form(
            "/admin/login",
            &creds,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.post_form("/admin/login", &creds, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "neither header: refused");
    let own = app.base.clone();
    let r = app
        .post_form("/admin/login", &creds, &[("origin", &own)])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the server's own origin passes"
    );
    let (cookie, _) = set_cookie(r.headers(), "upkeep_admin");
    let r = app
        .post_form(
            "/admin/login",
            &creds,
            &[("origin", "http://127.0.0.1:8080")],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the configured page's origin passes"
    );

    // A signed-in user's cookie does not make a cross-site sign-out pass.
    let r = app
        .post_form(
            "/admin/logout-everywhere",
            &[],
            &[("sec-fetch-site", "cross-site"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_with_cookie("/admin", &cookie).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_second_factor_is_enrolled_then_asked_for_and_recovery_codes_work_once() {
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "ada@example.com", Role::Viewer).await;
    })
    .await;
    let same = ("sec-fetch-site", "same-origin");
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (cookie, _) = set_cookie(r.headers(), "upkeep_admin");
    let page = app
        .post_form("/admin/account/totp", &[], &[same, ("cookie", &cookie)])
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let secret = page
        .split("<p class=\"secret\"><code>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("{page}"))
        .to_owned();
    let key = totp::base32_decode(&secret).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let wrong = app
        .post_form(
            "/admin/account/totp/confirm",
            &[("code", "000000")],
            &[same, ("cookie", &cookie)],
        )
        .await;
    // (A one-in-a-million chance that 000000 is the current code is not worth a retry loop.)
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let code = totp::code_at_step(&key, totp::step_at(now));
    let done = app
        .post_form(
            "/admin/account/totp/confirm",
            &[("code", &code)],
            &[same, ("cookie", &cookie)],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let done = done.text().await.unwrap();
    let codes: Vec<String> = done
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{done}");

    // Signing in now takes two steps; the password alone opens nothing.
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/login/code");
    assert!(
        r.headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|v| !v.to_str().unwrap().starts_with("upkeep_admin="))
    );
    let (pending, full) = set_cookie(r.headers(), "upkeep_admin_2fa");
    assert!(
        full.contains("Path=/admin/login") && full.contains("Max-Age=300"),
        "{full}"
    );
    assert_eq!(
        app.get_with_cookie("/admin", &pending).await.status(),
        StatusCode::SEE_OTHER
    );
    // The code used to enrol is spent; a recovery code works once.
    let reused = app
        .post_form(
            "/admin/login/code",
            &[("code", &code)],
            &[same, ("cookie", &pending)],
        )
        .await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    let ok = app
        .post_form(
            "/admin/login/code",
            &[("code", &codes[0].to_uppercase())],
            &[same, ("cookie", &pending)],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ok), "/admin");
    let (session, _) = set_cookie(ok.headers(), "upkeep_admin");
    assert_eq!(
        app.get_with_cookie("/admin", &session).await.status(),
        StatusCode::OK
    );
    // The waiting session is gone, and the recovery code is spent.
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (pending, _) = set_cookie(r.headers(), "upkeep_admin_2fa");
    let spent = app
        .post_form(
            "/admin/login/code",
            &[("code", &codes[0])],
            &[same, ("cookie", &pending)],
        )
        .await;
    assert_eq!(spent.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn editors_run_incidents_from_the_console_and_viewers_only_read() {
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "ed@example.com", Role::Editor).await;
        seed_user(&store, "vi@example.com", Role::Viewer).await;
    })
    .await;
    let same = ("sec-fetch-site", "same-origin");
    let r = app.sign_in("ed@example.com", PASSWORD).await;
    let (editor, _) = set_cookie(r.headers(), "upkeep_admin");
    let r = app.sign_in("vi@example.com", PASSWORD).await;
    let (viewer, _) = set_cookie(r.headers(), "upkeep_admin");

    let page = app
        .get_with_cookie("/admin/incidents", &editor)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<form method="post" action="/admin/incidents">"#),
        "{page}"
    );
    assert!(page.contains(r#"name="component.api""#), "{page}");

    // The editor opens an incident whose title and message are hostile.
    let title = r#"API down <img src=x onerror=alert(1)>"#;
    let r = app
        .post_form(
            "/admin/incidents",
            &[
                ("title", title),
                ("impact", ""),
                ("component.api", "major_outage"),
                ("body", "We are **on it**. <script>alert(2)</script>"),
            ],
            &[same, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = location(&r).to_owned();
    let id = at.trim_start_matches("/admin/incidents/").to_owned();
    let stored = app.store.get_incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.title, title);
    assert_eq!(
        stored.impact.as_str(),
        "critical",
        "from the worst component"
    );
    assert!(
        stored.created_by.contains("ed@example.com"),
        "{}",
        stored.created_by
    );
    let page = app
        .get_with_cookie(&at, &editor)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<img src=x"), "the title is escaped: {page}");
    assert!(
        !page.contains("<script>alert(2)"),
        "the message is sanitised: {page}"
    );
    assert!(page.contains("<strong>on it</strong>"), "{page}");
    assert!(
        page.contains("/updates\"") && page.contains("/resolve\""),
        "{page}"
    );

    // The viewer reads it, sees no form, and is refused when posting anyway.
    let page = app
        .get_with_cookie(&at, &viewer)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("API down &#60;img") || page.contains("API down &lt;img"),
        "{page}"
    );
    assert!(
        !page.contains("<form method=\"post\" action=\"/admin/incidents"),
        "{page}"
    );
    let list = app
        .get_with_cookie("/admin/incidents", &viewer)
        .await
        .text()
        .await
        .unwrap();
    assert!(!list.contains(r#"action="/admin/incidents""#), "{list}");
    for (path, form) in [
        (
            "/admin/incidents".to_owned(),
            vec![
                ("title", "Viewer's incident"),
                ("component.api", "major_outage"),
            ],
        ),
        (
            format!("{at}/updates"),
            vec![("status", "identified"), ("body", "viewer was here")],
        ),
        (format!("{at}/resolve"), vec![("body", "viewer resolves")]),
    ] {
        let r = app
            .post_form(&path, &form, &[same, ("cookie", &viewer)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.store.list_incidents(10, false).await.unwrap().len(), 1);
    assert_eq!(
        app.store
            .get_incident(&id)
            .await
            .unwrap()
            .unwrap()
            .updates
            .len(),
        1
    );

    // The editor posts an update, then resolves.
    let r = app
        .post_form(
            &format!("{at}/updates"),
            &[
                ("status", "identified"),
                ("component.api", "partial_outage"),
                ("body", "Found it."),
            ],
            &[same, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = app
        .post_form(
            &format!("{at}/updates"),
            &[("status", "bogus")],
            &[same, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("`bogus` is not an incident status")
    );
    let r = app
        .post_form(
            &format!("{at}/resolve"),
            &[("body", "Fixed.")],
            &[same, ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let done = app.store.get_incident(&id).await.unwrap().unwrap();
    assert_eq!(done.status.as_str(), "resolved");
    assert_eq!(done.updates.len(), 3);
    let page = app
        .get_with_cookie(&at, &editor)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("/resolve\""),
        "a resolved incident has no resolve form"
    );
    let audit = app.store.list_audit(50, None).await.unwrap();
    assert!(audit.iter().filter(|a| a.target.contains(&id)).count() >= 3);

    // A cross-site post by a signed-in editor is refused before it reaches the handler.
    let r = app
        .post_form(
            &format!("{at}/updates"),
            &[("body", "forged")],
            &[("sec-fetch-site", "cross-site"), ("cookie", &editor)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store
            .get_incident(&id)
            .await
            .unwrap()
            .unwrap()
            .updates
            .len(),
        3
    );
}
