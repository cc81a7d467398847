//! The console's users and tokens page and its re-authentication over real sockets: a revoke
//! or a disable without a recent confirmation is sent to `/admin/confirm`; the form refuses a
//! wrong password and never sends anyone off-site; with a confirmation the revoke is done and
//! audited; editors can neither read the page nor post to it; hostile display names stay inert.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use upkeep_domain::role::Role;

use crate::console::{CONFIG, PASSWORD, location, seed_user, set_cookie};
use crate::support::TestApp;

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

#[tokio::test]
async fn destructive_actions_need_a_recent_confirmation_and_it_returns_only_under_admin() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T10:00:00Z")
        .start_seeded(|store| async move {
            seed_user(&store, "ada@example.com", Role::Admin).await;
            seed_user(&store, "ed@example.com", Role::Editor).await;
        })
        .await;
    let now = app.now();
    let victim = app
        .store
        .create_token("deploy bot", Role::Editor, "test", now)
        .await
        .unwrap();
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (cookie, _) = set_cookie(r.headers(), "upkeep_admin");
    let revoke = format!("/admin/tokens/{}/revoke", victim.record.id);

    // Signed in, but not confirmed: the revoke is sent to the form and nothing changes.
    let r = app
        .post_form(&revoke, &[], &[SAME, ("cookie", &cookie)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/confirm?next=%2Fadmin%2Fusers");
    let stored = app
        .store
        .get_token(&victim.record.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_none());

    // The form carries `next` back; a wrong password is refused and confirms nothing.
    let form = app
        .get_with_cookie("/admin/confirm?next=%2Fadmin%2Fusers", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        form.contains(r#"name="next" value="/admin/users""#),
        "{form}"
    );
    let r = app
        .post_form(
            "/admin/confirm",
            &[("secret", "not my password"), ("next", "/admin/users")],
            &[SAME, ("cookie", &cookie)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .post_form(&revoke, &[], &[SAME, ("cookie", &cookie)])
        .await;
    assert!(
        location(&r).starts_with("/admin/confirm?"),
        "still unconfirmed"
    );

    // An off-site `next` is never followed: the right password lands on /admin.
    for off_site in [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/admin//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let r = app
            .post_form(
                "/admin/confirm",
                &[("secret", PASSWORD), ("next", off_site)],
                &[SAME, ("cookie", &cookie)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{off_site}");
        assert_eq!(location(&r), "/admin", "{off_site}");
    }
    let r = app
        .post_form(
            "/admin/confirm",
            &[("secret", PASSWORD), ("next", "/admin/users")],
            &[SAME, ("cookie", &cookie)],
        )
        .await;
    assert_eq!(location(&r), "/admin/users");

    // Confirmed: the revoke is done, and audited under the user's name.
    let r = app
        .post_form(&revoke, &[], &[SAME, ("cookie", &cookie)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/admin/users");
    let stored = app
        .store
        .get_token(&victim.record.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_some());
    let audit = app.store.list_audit(50, None).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.action == "token.revoke")
        .expect("the revoke is audited");
    assert_eq!(row.target, format!("token/{}", victim.record.id));
    assert!(row.actor.contains("ada@example.com"), "{}", row.actor);
    assert!(audit.iter().any(|a| a.action == "session.confirm"));
    let r = app.get("/api/v1/whoami", Some(&victim.secret)).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the token stopped working"
    );

    // Five minutes later the confirmation has lapsed: disabling a user asks again.
    app.advance(5 * 60 + 1);
    let ed = app
        .store
        .user_by_email("ed@example.com")
        .await
        .unwrap()
        .unwrap();
    let disable = format!("/admin/users/{}/disable", ed.record.id);
    let r = app
        .post_form(&disable, &[], &[SAME, ("cookie", &cookie)])
        .await;
    assert!(
        location(&r).starts_with("/admin/confirm?"),
        "{}",
        location(&r)
    );
    assert!(
        app.store
            .get_user(&ed.record.id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );
    app.post_form(
        "/admin/confirm",
        &[("secret", PASSWORD), ("next", "/admin/users")],
        &[SAME, ("cookie", &cookie)],
    )
    .await;
    let r = app
        .post_form(&disable, &[], &[SAME, ("cookie", &cookie)])
        .await;
    assert_eq!(location(&r), "/admin/users");
    assert!(
        app.store
            .get_user(&ed.record.id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_some()
    );
}

#[tokio::test]
async fn only_admins_reach_the_users_page_and_what_they_type_stays_inert() {
    let app = TestApp::start_seeded(CONFIG, |store| async move {
        seed_user(&store, "ada@example.com", Role::Admin).await;
        seed_user(&store, "ed@example.com", Role::Editor).await;
    })
    .await;
    let r = app.sign_in("ada@example.com", PASSWORD).await;
    let (admin, _) = set_cookie(r.headers(), "upkeep_admin");
    let r = app.sign_in("ed@example.com", PASSWORD).await;
    let (editor, _) = set_cookie(r.headers(), "upkeep_admin");
    let tokens_before = app.store.list_tokens().await.unwrap();

    // An editor sees no link, cannot read the page, and every post is refused.
    let overview = app
        .get_with_cookie("/admin", &editor)
        .await
        .text()
        .await
        .unwrap();
    assert!(!overview.contains("/admin/users"), "{overview}");
    let r = app.get_with_cookie("/admin/users", &editor).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let some_token = format!("/admin/tokens/{}/revoke", tokens_before[0].id);
    for (path, form) in [
        (
            "/admin/users",
            vec![
                ("email", "mallory@example.com"),
                ("role", "admin"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        ),
        ("/admin/tokens", vec![("name", "mine"), ("role", "admin")]),
        (some_token.as_str(), vec![]),
    ] {
        let r = app
            .post_form(path, &form, &[SAME, ("cookie", &editor)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(
        app.store
            .user_by_email("mallory@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.store.list_tokens().await.unwrap(), tokens_before);

    // The admin: passwords that differ are refused; a hostile display name is stored as typed
    // and shown escaped.
    let hostile = r#"<img src=x onerror=alert(1)>"#;
    let mut fields = vec![
        ("email", "grace@example.com"),
        ("name", hostile),
        ("role", "viewer"),
        ("password", PASSWORD),
        ("password_again", "correct horse batterY"),
    ];
    let r = app
        .post_form("/admin/users", &fields, &[SAME, ("cookie", &admin)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.store
            .user_by_email("grace@example.com")
            .await
            .unwrap()
            .is_none()
    );
    fields[4] = ("password_again", PASSWORD);
    let r = app
        .post_form("/admin/users", &fields, &[SAME, ("cookie", &admin)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let grace = app
        .store
        .user_by_email("grace@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grace.record.display_name, hostile);
    assert_eq!(grace.record.role, Role::Viewer);
    let page = app
        .get_with_cookie("/admin/users", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(page.contains("grace@example.com"), "{page}");
    assert!(
        page.contains("Ada &#60;b&#62;") || page.contains("Ada &lt;b&gt;"),
        "{page}"
    );

    // A token made on the page is shown once and works on the API.
    let r = app
        .post_form(
            "/admin/tokens",
            &[("name", "ci <pipeline>"), ("role", "viewer")],
            &[SAME, ("cookie", &admin)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = r.text().await.unwrap();
    assert!(!page.contains("ci <pipeline>"), "{page}");
    let made = app
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "ci <pipeline>")
        .unwrap();
    assert!(
        made.created_by.contains("ada@example.com"),
        "{}",
        made.created_by
    );
    let start = page.find(r#"<p class="secret"><code>"#).unwrap() + 24;
    let secret = &page[start..start + page[start..].find('<').unwrap()];
    let r = app.get("/api/v1/whoami", Some(secret)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = app
        .get_with_cookie("/admin/users", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(!again.contains(secret), "the secret is not shown again");
}
