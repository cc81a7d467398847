//! Status-page subscriptions over real sockets: the public double opt-in (`/subscribe`, JSON and
//! form, the same answer for every address, a confirmation mail queued once per 10 minutes),
//! confirming (GET changes nothing, POST confirms, expired/used/malformed tokens are 404),
//! unsubscribing (HMAC link, one-click POST, idempotent, tampered → 404), the tight rate limit
//! of `POST /subscribe`, and the admin API of subscribers, deliveries, the outbox and alerts.
//!
//! Every client address counts against the subscribe quota, so each request that should not be
//! limited comes from its own loopback address (127.1.x.y).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};

use jiff::{Timestamp, ToSpan};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use upkeep_domain::notify::DeliveryState;
use upkeep_domain::notify::routing::Scope;
use upkeep_engine::notify::links;
use upkeep_store::subscribers::SubscribeOutcome;

use crate::support;

use support::{TestApp, page_config, problem};

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
tenants:
  acme: { name: Acme Corp, region: eu }
  hidden: { name: Hidden Industries, region: eu, public: false }
components:
  api: { name: Public API, group: Core }
  db: { name: Database, group: Core }
  web: { name: Website }
notifications:
  smtp: { host: 127.0.0.1, port: 9, from: "status@test.example" }
"#
);

const PENDING: &str = "If this address can be subscribed, a confirmation mail is on its way.";

/// A client from a loopback address no other request of this process used.
fn fresh_client() -> Client {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let ip = Ipv4Addr::new(127, 1, (n >> 8) as u8, n as u8);
    Client::builder()
        .local_address(IpAddr::V4(ip))
        .build()
        .unwrap()
}

impl TestApp {
    async fn subscribe_json(&self, body: &Value) -> Response {
        fresh_client()
            .post(self.url("/subscribe"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn subscribe_form(&self, body: &str) -> Response {
        fresh_client()
            .post(self.url("/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn public(&self, method: Method, path: &str, body: Option<&str>) -> Response {
        let mut req = fresh_client().request(method, self.url(path));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b.to_owned());
        }
        req.send().await.unwrap()
    }

    /// Pending confirmation mails.
    async fn confirmations(&self) -> Vec<upkeep_store::outbox::DeliveryRecord> {
        self.store
            .list_deliveries(Some(DeliveryState::Pending), 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.event == "subscription.confirm")
            .collect()
    }

    /// The plain token in the pending confirmation mail to `address`.
    async fn token_for(&self, address: &str) -> String {
        let d = self
            .confirmations()
            .await
            .into_iter()
            .find(|d| d.destination == address)
            .unwrap_or_else(|| panic!("no confirmation mail to {address}"));
        let content: Value = serde_json::from_str(&d.content).unwrap();
        let text = content["text"].as_str().unwrap();
        let at = text
            .find("/subscribe/confirm/")
            .expect("a confirm link in the text part");
        let token: String = text[at + "/subscribe/confirm/".len()..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        assert_eq!(token.len(), 48, "{text}");
        token
    }
}

async fn pending_body(r: Response) -> Value {
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json().await.unwrap()
}

#[tokio::test]
async fn every_address_gets_the_same_answer_and_one_mail_per_ten_minutes() {
    let app = TestApp::start(CONFIG).await;
    let expected = json!({ "status": "pending", "message": PENDING });

    // A new address: 202 and a confirmation mail.
    let first = pending_body(
        app.subscribe_json(&json!({ "email": "Ann@Example.com", "components": ["api"] }))
            .await,
    )
    .await;
    assert_eq!(first, expected);
    let mails = app.confirmations().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].destination, "ann@example.com", "lower-cased");
    assert_eq!(mails[0].channel, "email");

    // The same address again (pending, within 10 min): same answer, no second mail.
    let again = pending_body(
        app.subscribe_json(
            &json!({ "email": "ann@example.com", "components": ["db"], "tenant": "acme" }),
        )
        .await,
    )
    .await;
    assert_eq!(again, first);
    assert_eq!(app.confirmations().await.len(), 1, "no mail bombing");

    // Confirmed, then asked again: still the same answer.
    let token = app.token_for("ann@example.com").await;
    let r = app
        .public(
            Method::POST,
            &format!("/subscribe/confirm/{token}"),
            Some(""),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let confirmed = pending_body(
        app.subscribe_json(&json!({ "email": "ann@example.com" }))
            .await,
    )
    .await;
    assert_eq!(confirmed, first);

    // The form: a page saying to check the inbox, with repeated `components` fields.
    let r = app
        .subscribe_form("email=bob%40example.com&components=api&components=web&tenant=acme")
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("Check your inbox"), "{page}");
    assert!(page.contains(PENDING));
    let bob: Vec<_> = app
        .confirmations()
        .await
        .into_iter()
        .filter(|d| d.destination == "bob@example.com")
        .collect();
    assert_eq!(bob.len(), 1);
    let repeat = app
        .subscribe_form("email=BOB%40example.com&components=api")
        .await;
    assert_eq!(repeat.status(), StatusCode::ACCEPTED);
    let repeat_page = repeat.text().await.unwrap();
    assert!(repeat_page.contains("Check your inbox"));
    assert_eq!(
        app.confirmations()
            .await
            .iter()
            .filter(|d| d.destination == "bob@example.com")
            .count(),
        1
    );

    // Bob's scope waits for his confirmation.
    let subscribers = app.store.list_subscribers(false, 100).await.unwrap();
    let bob = subscribers
        .iter()
        .find(|s| s.address == "bob@example.com")
        .unwrap();
    assert!(bob.confirmed_at.is_none());
}

#[tokio::test]
async fn invalid_requests_are_422_and_hostile_input_never_500() {
    let app = TestApp::start(CONFIG).await;

    let r = app
        .subscribe_json(&json!({ "email": "ann@example.com", "components": ["nope"] }))
        .await;
    let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("nope"), "{p}");

    let r = app
        .subscribe_json(&json!({ "email": "ann@example.com", "tenant": "initech" }))
        .await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    for bad in [
        "not-an-address",
        "a@b@c.d",
        "ann smith@example.com",
        "<script>alert(1)</script>@x.y",
        "",
    ] {
        let r = app.subscribe_json(&json!({ "email": bad })).await;
        problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let long = format!("{}@example.com", "a".repeat(250));
    let r = app.subscribe_json(&json!({ "email": long })).await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // JSON of the wrong shape, unreadable JSON, another content type.
    let r = app.subscribe_json(&json!({ "email": 5 })).await;
    problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = fresh_client()
        .post(app.url("/subscribe"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::BAD_REQUEST).await;
    let r = fresh_client()
        .post(app.url("/subscribe"))
        .header("content-type", "text/plain")
        .body("ann@example.com")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    // The form: re-rendered with the message, the input escaped.
    let r = app
        .subscribe_form("email=%3Cscript%3Ealert(1)%3C%2Fscript%3E&components=api")
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"),
        "{page}"
    );
    assert!(page.contains("id=\"error\""), "{page}");
    assert!(
        page.contains("value=\"api\" checked"),
        "the ticked boxes stay: {page}"
    );
    let r = app
        .subscribe_form("email=ann%40example.com&components=nope")
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("unknown component"));

    // A huge body: refused, not a crash.
    let huge = format!("email={}", "a".repeat(3_000_000));
    let r = app.subscribe_form(&huge).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let huge_json = json!({ "email": "a@b.c", "components": vec!["api"; 300_000] });
    let r = app.subscribe_json(&huge_json).await;
    assert!(r.status().is_client_error(), "{}", r.status());

    assert!(app.confirmations().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn the_form_lists_components_by_group_and_tenants() {
    let app = TestApp::start(CONFIG).await;
    let r = app.public(Method::GET, "/subscribe", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"));
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(page.contains("<form method=\"post\" action=\"/subscribe\">"));
    assert!(page.contains("<h3>Core</h3>"), "{page}");
    for id in ["api", "db", "web"] {
        assert!(
            page.contains(&format!("name=\"components\" value=\"{id}\"")),
            "{page}"
        );
    }
    assert!(
        page.contains("<option value=\"acme\">Acme Corp</option>"),
        "{page}"
    );
    assert!(
        !page.contains("Hidden Industries") && !page.contains("\"hidden\""),
        "a tenant that is not public is not listed: {page}"
    );
    assert!(page.contains("href=\"/subscribe\">Subscribe to updates</a>"));
}

#[tokio::test]
async fn confirming_needs_a_post_with_a_live_token() {
    let app = TestApp::start(CONFIG).await;
    pending_body(
        app.subscribe_json(
            &json!({ "email": "cat@example.com", "components": ["api", "db"], "tenant": "acme" }),
        )
        .await,
    )
    .await;
    let token = app.token_for("cat@example.com").await;
    let path = format!("/subscribe/confirm/{token}");

    // GET shows a button and changes nothing.
    let r = app.public(Method::GET, &path, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("<form method=\"post\" action=\"{path}\">")),
        "{page}"
    );
    assert!(page.contains("Confirm subscription"));
    assert!(
        app.store
            .list_subscribers(true, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // POST confirms and says what the subscriber gets.
    let r = app.public(Method::POST, &path, Some("")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("You are subscribed"), "{page}");
    assert!(
        page.contains("Public API") && page.contains("Database"),
        "{page}"
    );
    assert!(page.contains("Acme Corp"), "{page}");
    let confirmed = app.store.list_subscribers(true, 10).await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].components, ["api", "db"]);
    assert_eq!(confirmed[0].tenant.as_deref(), Some("acme"));

    // Used once: the second POST is a 404 page.
    let r = app.public(Method::POST, &path, Some("")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("This link has expired or was already used. Subscribe again."),
        "{page}"
    );

    // Malformed tokens: 404 without a query.
    for bad in ["abc", &"g".repeat(48), &"a".repeat(49), "%3Cscript%3E"] {
        let r = app
            .public(Method::POST, &format!("/subscribe/confirm/{bad}"), Some(""))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        let r = app
            .public(Method::GET, &format!("/subscribe/confirm/{bad}"), None)
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }

    // An expired token (made an hour ago, valid for a second): 404.
    let outcome = app
        .store
        .request_subscription(
            "dan@example.com",
            &Scope::default(),
            1000,
            0,
            Timestamp::now() - 1.hour(),
        )
        .await
        .unwrap();
    let SubscribeOutcome::SendConfirmation { token, .. } = outcome else {
        panic!("a new address gets a token");
    };
    let r = app
        .public(
            Method::POST,
            &format!("/subscribe/confirm/{token}"),
            Some(""),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.store.list_subscribers(true, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unsubscribing_with_the_link_deletes_and_is_idempotent() {
    let app = TestApp::start(CONFIG).await;
    let outcome = app
        .store
        .request_subscription(
            "eve@example.com",
            &Scope::default(),
            3_600_000,
            0,
            Timestamp::now(),
        )
        .await
        .unwrap();
    let SubscribeOutcome::SendConfirmation {
        subscriber, token, ..
    } = outcome
    else {
        panic!("a new address gets a token");
    };
    app.store
        .confirm_subscription(&token, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    let key = links::link_key(&app.store).await.unwrap();
    let url = links::unsubscribe_url("", &key, &subscriber.id);
    let link_token = url.rsplit('/').next().unwrap().to_owned();

    // GET shows a button and changes nothing.
    let r = app.public(Method::GET, &url, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{url}\"")), "{page}");
    assert!(
        app.store
            .get_subscriber(&subscriber.id)
            .await
            .unwrap()
            .is_some()
    );

    // A tampered token: 404, nothing deleted.
    let mut tampered = link_token.clone();
    let last = if tampered.ends_with('0') { "1" } else { "0" };
    tampered.replace_range(31.., last);
    for bad in [
        format!("/unsubscribe/{}/{tampered}", subscriber.id),
        format!("/unsubscribe/{}/{}", subscriber.id, &link_token[..30]),
        format!("/unsubscribe/aaaaaaaaaaaa/{link_token}"),
        format!("/unsubscribe/NOT-AN-ID/{link_token}"),
    ] {
        let r = app
            .public(Method::POST, &bad, Some("List-Unsubscribe=One-Click"))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        let r = app.public(Method::GET, &bad, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    assert!(
        app.store
            .get_subscriber(&subscriber.id)
            .await
            .unwrap()
            .is_some()
    );

    // RFC 8058 one-click: POST with `List-Unsubscribe=One-Click`, no bearer token.
    let r = app
        .public(Method::POST, &url, Some("List-Unsubscribe=One-Click"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("You are unsubscribed"));
    assert!(
        app.store
            .get_subscriber(&subscriber.id)
            .await
            .unwrap()
            .is_none()
    );

    // Again: the same page.
    let r = app.public(Method::POST, &url, Some("")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("You are unsubscribed"));

    // Audited as the subscriber.
    let audit = app
        .json("/api/v1/audit?limit=50", Some(&app.viewer))
        .await
        .to_string();
    assert!(
        audit.contains(&format!("subscriber:{}", subscriber.id)),
        "{audit}"
    );
}

#[tokio::test]
async fn subscribing_is_rate_limited_per_address() {
    let app = TestApp::start(CONFIG).await;
    let client = fresh_client();
    for i in 0..3 {
        let r = client
            .post(app.url("/subscribe"))
            .json(&json!({ "email": format!("f{i}@example.com") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "request {i}");
    }
    let r = client
        .post(app.url("/subscribe"))
        .json(&json!({ "email": "g@example.com" }))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    problem(r, StatusCode::TOO_MANY_REQUESTS).await;

    // Another address and the rest of the page are unaffected.
    let r = app
        .subscribe_json(&json!({ "email": "h@example.com" }))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = client.get(app.url("/subscribe")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn admins_manage_webhook_subscribers() {
    let app = TestApp::start(CONFIG).await;
    let hook = json!({
        "url": "https://hooks.example.com/upkeep",
        "secret": "s3cr3t-value",
        "components": ["api"],
        "tenant": "acme",
    });

    let r = app
        .post_json("/api/v1/subscribers", &app.viewer, &hook)
        .await;
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .post_json("/api/v1/subscribers", &app.editor, &hook)
        .await;
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .client
        .post(app.url("/api/v1/subscribers"))
        .json(&hook)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;

    let r = app
        .post_json("/api/v1/subscribers", &app.admin, &hook)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["kind"], "webhook");
    assert_eq!(made["address"], "https://hooks.example.com/upkeep");
    assert_eq!(made["confirmed"], true);
    assert_eq!(made["components"], json!(["api"]));
    assert_eq!(made["tenant"], "acme");
    assert!(!made.to_string().contains("s3cr3t"));
    let id = made["id"].as_str().unwrap().to_owned();

    let r = app
        .post_json("/api/v1/subscribers", &app.admin, &hook)
        .await;
    problem(r, StatusCode::CONFLICT).await;

    for bad in [
        json!({ "url": "ftp://example.com/x" }),
        json!({ "url": "not a url" }),
        json!({ "url": "https://user:pw@example.com/x" }),
        json!({ "url": "https://example.com/x", "components": ["nope"] }),
        json!({ "url": "https://example.com/x", "tenant": "initech" }),
        json!({ "url": "https://example.com/x", "secret": "" }),
        json!({ "url": "https://example.com/x", "extra": 1 }),
    ] {
        let r = app.post_json("/api/v1/subscribers", &app.admin, &bad).await;
        problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }

    // An e-mail subscriber too; the list shows both and never a secret or token.
    pending_body(
        app.subscribe_json(&json!({ "email": "ann@example.com" }))
            .await,
    )
    .await;
    // Addresses are personal data: only admins list them.
    let r = app.get("/api/v1/subscribers", Some(&app.viewer)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.get("/api/v1/subscribers", Some(&app.admin)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("secret") && !text.contains("s3cr3t"),
        "{text}"
    );
    assert!(!text.contains("token"), "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let confirmed = app
        .json("/api/v1/subscribers?confirmed=true", Some(&app.admin))
        .await;
    assert_eq!(confirmed.as_array().unwrap().len(), 1, "{confirmed}");

    let r = app
        .send(
            Method::DELETE,
            &format!("/api/v1/subscribers/{id}"),
            &app.viewer,
        )
        .await;
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .send(
            Method::DELETE,
            &format!("/api/v1/subscribers/{id}"),
            &app.admin,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .send(
            Method::DELETE,
            &format!("/api/v1/subscribers/{id}"),
            &app.admin,
        )
        .await;
    problem(r, StatusCode::NOT_FOUND).await;
    let r = app
        .send(
            Method::DELETE,
            "/api/v1/subscribers/%3Cscript%3E",
            &app.admin,
        )
        .await;
    problem(r, StatusCode::NOT_FOUND).await;

    // In the OpenAPI document.
    let doc = app.json("/api/v1/openapi.json", None).await;
    for path in [
        "/api/v1/subscribers",
        "/api/v1/subscribers/{id}",
        "/api/v1/deliveries",
        "/api/v1/deliveries/{id}/retry",
        "/api/v1/outbox",
        "/api/v1/alerts",
        "/api/v1/alerts/{key}/acknowledge",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let tags = doc["tags"].to_string();
    assert!(tags.contains("subscribers") && tags.contains("notifications"));
}

#[tokio::test]
async fn deliveries_outbox_and_alerts() {
    let app = TestApp::start(CONFIG).await;
    pending_body(
        app.subscribe_json(&json!({ "email": "ann@example.com" }))
            .await,
    )
    .await;

    let list = app.json("/api/v1/deliveries", Some(&app.viewer)).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let d = &list[0];
    for field in [
        "id",
        "event",
        "recipient",
        "channel",
        "destination",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "sent_at",
    ] {
        assert!(d.get(field).is_some(), "{field} in {d}");
    }
    assert_eq!(d["event"], "subscription.confirm");
    assert_eq!(d["state"], "pending");
    assert!(d.get("content").is_none(), "the live token is never shown");
    assert!(!d.to_string().contains("/subscribe/confirm/"));
    let id = d["id"].as_str().unwrap().to_owned();

    let failed = app
        .json("/api/v1/deliveries?state=failed&limit=5", Some(&app.viewer))
        .await;
    assert_eq!(failed, json!([]));
    let r = app
        .get("/api/v1/deliveries?state=bogus", Some(&app.viewer))
        .await;
    problem(r, StatusCode::BAD_REQUEST).await;
    let r = app.get("/api/v1/deliveries", None).await;
    problem(r, StatusCode::UNAUTHORIZED).await;

    let outbox = app.json("/api/v1/outbox", Some(&app.viewer)).await;
    assert_eq!(outbox["pending"], 1, "{outbox}");
    assert_eq!(outbox["failed"], 0, "{outbox}");
    assert_eq!(outbox["unfanned"], 0, "{outbox}");
    assert!(outbox["oldest_age_seconds"].as_i64().is_some(), "{outbox}");

    // Retry: only a failed delivery; viewers may not.
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/deliveries/{id}/retry"),
            &app.editor,
        )
        .await;
    problem(r, StatusCode::NOT_FOUND).await;
    let r = app
        .send(
            Method::POST,
            "/api/v1/deliveries/no-such-delivery/retry",
            &app.editor,
        )
        .await;
    problem(r, StatusCode::NOT_FOUND).await;
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/deliveries/{id}/retry"),
            &app.viewer,
        )
        .await;
    problem(r, StatusCode::FORBIDDEN).await;

    // Make it fail for good, then retry it.
    let now = Timestamp::now();
    let claimed = app
        .store
        .claim_deliveries("test-worker", now, 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        app.store
            .mark_attempt_failed(&id, "test-worker", "550 mailbox unavailable", None)
            .await
            .unwrap()
    );
    let failed = app
        .json("/api/v1/deliveries?state=failed", Some(&app.viewer))
        .await;
    assert_eq!(failed[0]["last_error"], "550 mailbox unavailable");
    assert_eq!(failed[0]["attempts"], 1);
    let outbox = app.json("/api/v1/outbox", Some(&app.viewer)).await;
    assert_eq!(outbox["failed"], 1, "{outbox}");
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/deliveries/{id}/retry"),
            &app.editor,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let retried: Value = r.json().await.unwrap();
    assert_eq!(retried["id"], id.as_str());
    assert_eq!(retried["state"], "pending");
    let audit = app.store.list_audit(50, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "delivery.retry" && e.target == format!("delivery/{id}")),
        "the retry is audited"
    );

    // Alerts: none fire; acknowledging an unknown key is a 404, keys with `:` route.
    let alerts = app.json("/api/v1/alerts", Some(&app.viewer)).await;
    assert_eq!(alerts, json!([]));
    let r = app
        .send(
            Method::POST,
            "/api/v1/alerts/monitor:api-health/acknowledge",
            &app.editor,
        )
        .await;
    let p = problem(r, StatusCode::NOT_FOUND).await;
    assert!(
        p["detail"].as_str().unwrap().contains("monitor:api-health"),
        "{p}"
    );
    let r = app
        .send(
            Method::POST,
            "/api/v1/alerts/rule:a%2Fb/acknowledge",
            &app.editor,
        )
        .await;
    problem(r, StatusCode::NOT_FOUND).await;
    let r = app
        .send(
            Method::POST,
            "/api/v1/alerts/monitor:api-health/acknowledge",
            &app.viewer,
        )
        .await;
    problem(r, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn without_smtp_the_page_says_it_sends_no_mail() {
    let config = CONFIG.replace(
        "notifications:\n  smtp: { host: 127.0.0.1, port: 9, from: \"status@test.example\" }\n",
        "",
    );
    assert!(!config.contains("smtp"));
    let app = TestApp::start(&config).await;
    let r = fresh_client()
        .get(app.url("/subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(body.contains("does not send e-mail"), "{body}");
    assert!(body.contains("/feed.atom"), "{body}");
    let r = app
        .subscribe_json(&json!({ "email": "a@example.com" }))
        .await;
    let p = problem(r, StatusCode::NOT_FOUND).await;
    assert!(
        p["detail"].as_str().unwrap().contains("notifications.smtp"),
        "{p}"
    );
    let pending = app.store.list_deliveries(None, 10).await.unwrap();
    assert!(pending.is_empty());
}

#[tokio::test]
async fn another_site_cannot_post_the_form_for_its_visitors() {
    let app = TestApp::start(CONFIG).await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
    ] {
        let r = fresh_client()
            .post(app.url("/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(name, value)
            .body("email=victim%40example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    assert!(
        app.store
            .list_deliveries(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The page's own form (same origin) is accepted.
    let origin = app.url("");
    let r = fresh_client()
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", origin.trim_end_matches('/'))
        .header("sec-fetch-site", "same-origin")
        .body("email=friend%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Behind a proxy that rewrites Host, the page's public address (`page.url`) is its origin.
    let r = fresh_client()
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://127.0.0.1:8080")
        .body("email=proxied%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// Viewers (and editors) read the audit log and the deliveries: they never see a subscriber's
/// e-mail address or a webhook URL's path (a Slack URL's path is its credential) — not in the
/// audit rows of a subscriber made and deleted, nor in a delivery, its last error or the audit
/// row of its retry. Admins see the e-mail address in full.
#[tokio::test]
async fn viewers_see_no_subscriber_address_or_webhook_path() {
    let app = TestApp::start(CONFIG).await;
    let secret_path = "/services/T0001/B0002/SeCrEtPaTh";
    let hook = format!("https://hooks.slack.com{secret_path}");
    let r = app
        .post_json("/api/v1/subscribers", &app.admin, &json!({ "url": hook }))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["address"], hook.as_str(), "the admin's list shows it");
    let id = made["id"].as_str().unwrap().to_owned();
    let r = app
        .send(
            Method::DELETE,
            &format!("/api/v1/subscribers/{id}"),
            &app.admin,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    pending_body(
        app.subscribe_json(&json!({ "email": "annabel.lee@example.com" }))
            .await,
    )
    .await;
    let delivery = app.confirmations().await[0].id.clone();
    app.store
        .claim_deliveries("test-worker", Timestamp::now(), 60_000, 10)
        .await
        .unwrap();
    assert!(
        app.store
            .mark_attempt_failed(
                &delivery,
                "test-worker",
                "550 <annabel.lee@example.com>: mailbox unavailable",
                None,
            )
            .await
            .unwrap()
    );
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/deliveries/{delivery}/retry"),
            &app.editor,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let retried = r.text().await.unwrap();
    assert!(!retried.contains("annabel.lee@"), "{retried}");

    for token in [&app.viewer, &app.editor] {
        let audit = app
            .json("/api/v1/audit?limit=50", Some(token))
            .await
            .to_string();
        let deliveries = app
            .json("/api/v1/deliveries", Some(token))
            .await
            .to_string();
        for text in [&audit, &deliveries] {
            assert!(!text.contains(secret_path), "{text}");
            assert!(!text.contains("SeCrEtPaTh"), "{text}");
            assert!(!text.contains("annabel.lee"), "{text}");
        }
        assert!(audit.contains("https://hooks.slack.com/…"), "{audit}");
        assert!(audit.contains("a…@example.com"), "{audit}");
        assert!(deliveries.contains("a…@example.com"), "{deliveries}");
    }
    // The rows themselves never held the secrets.
    let rows = serde_json::to_string(
        &app.store
            .list_audit(50, None)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.before.clone(), r.after.clone()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        !rows.contains("SeCrEtPaTh") && !rows.contains("annabel.lee"),
        "{rows}"
    );
    // An admin sees the address it may need to act on.
    let deliveries = app.json("/api/v1/deliveries", Some(&app.admin)).await;
    assert_eq!(deliveries[0]["destination"], "annabel.lee@example.com");
}

const BUDGET_CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
  confirmation_mail_budget: { per_hour: 3, per_domain_per_hour: 2 }
components:
  api: { name: Public API }
notifications:
  smtp: { host: 127.0.0.1, port: 9, from: "status@test.example" }
"#
);

#[tokio::test]
async fn confirmation_mails_have_an_hourly_budget_overall_and_per_domain() {
    let app = TestApp::start(BUDGET_CONFIG).await;
    let expected = json!({ "status": "pending", "message": PENDING });
    let mut answers = Vec::new();
    // Strangers at one domain: two mails, then that domain's budget is spent.
    for who in ["a@one.test", "b@one.test", "c@one.test", "d@one.test"] {
        answers.push(pending_body(app.subscribe_json(&json!({ "email": who })).await).await);
    }
    let sent = |mails: Vec<upkeep_store::outbox::DeliveryRecord>| {
        let mut to: Vec<String> = mails.into_iter().map(|d| d.destination).collect();
        to.sort();
        to
    };
    assert_eq!(
        sent(app.confirmations().await),
        ["a@one.test", "b@one.test"]
    );
    // Another domain still gets its mail; then the overall budget (3) is spent for everyone.
    for who in ["x@two.test", "y@three.test", "z@four.test"] {
        answers.push(pending_body(app.subscribe_json(&json!({ "email": who })).await).await);
    }
    assert_eq!(
        sent(app.confirmations().await),
        ["a@one.test", "b@one.test", "x@two.test"]
    );
    // The form over budget: the same neutral page.
    let r = app.subscribe_form("email=w%40five.test").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(r.text().await.unwrap().contains(PENDING));
    // Every answer was the same, sent or not.
    assert!(answers.iter().all(|a| *a == expected), "{answers:?}");
    assert_eq!(app.confirmations().await.len(), 3);
}

#[tokio::test]
async fn the_delay_between_confirmation_mails_to_one_address_grows() {
    let app = TestApp::builder(CONFIG)
        .manual_clock("2026-03-02T09:00:00Z")
        .start()
        .await;
    // A new confirmation replaces the one not sent yet: a new mail is a new delivery id.
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            pending_body(app.subscribe_json(&json!({ "email": email })).await).await;
            app.confirmations()
                .await
                .into_iter()
                .find(|d| d.destination == email)
                .map(|d| d.id)
                .unwrap()
        }
    };
    let first = ask("ann@example.com").await;
    // 10 minutes later a second mail may go...
    app.advance(10 * 60 + 1);
    let second = ask("ann@example.com").await;
    assert_ne!(second, first);
    // ...but the third waits 20 minutes after the second, the fourth 40 after the third.
    app.advance(10 * 60 + 1);
    assert_eq!(ask("ann@example.com").await, second, "within 20 minutes");
    app.advance(10 * 60);
    let third = ask("ann@example.com").await;
    assert_ne!(third, second);
    app.advance(20 * 60 + 1);
    assert_eq!(ask("ann@example.com").await, third, "within 40 minutes");
    app.advance(20 * 60);
    assert_ne!(ask("ann@example.com").await, third);
    // Another address is not slowed down by Ann's.
    let bob = ask("bob@example.com").await;
    app.advance(10 * 60 + 1);
    assert_ne!(ask("bob@example.com").await, bob);
}

/// A provider's delivery carries its secret in its URL (a bot token, a webhook's token, a key in
/// the query) or its headers: the deliveries API shows any reader, admin included, the URL's
/// origin only, never the request, and an error is shown as recorded (the sender names the
/// origin only).
#[tokio::test]
async fn provider_secrets_in_deliveries_are_never_shown() {
    let app = TestApp::start(CONFIG).await;
    let now = Timestamp::now();
    let secrets = [
        (
            "telegram",
            "https://api.telegram.org/bot123456:SECRET-BOT/sendMessage",
        ),
        ("discord", "https://discord.com/api/webhooks/1/SECRET-HOOK"),
        (
            "google_chat",
            "https://chat.googleapis.com/v1/spaces/S/messages?key=SECRET-KEY&token=SECRET-TOK",
        ),
        (
            "splunk_oncall",
            "https://alert.victorops.com/integrations/generic/20131114/alert/SECRET-API/ops",
        ),
    ];
    for (channel, url) in secrets {
        let content = json!({
            "kind": "http",
            "method": "POST",
            "headers": [["Authorization", "GenieKey SECRET-HEADER"]],
            "body": "{\"token\":\"SECRET-BODY\"}",
        });
        let d = upkeep_store::outbox::NewDelivery {
            id: upkeep_store::outbox::new_delivery_id(),
            recipient: format!("channel:{channel}"),
            channel: channel.into(),
            destination: url.into(),
            order_key: format!("channel:{channel}"),
            subject: "alert/monitor:api".into(),
            content: content.to_string(),
        };
        app.store
            .enqueue_delivery("alert.firing", &d, now)
            .await
            .unwrap();
    }
    for token in [&app.viewer, &app.admin] {
        let list = app.json("/api/v1/deliveries", Some(token)).await;
        let text = list.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        let shown: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["destination"].as_str().unwrap())
            .collect();
        for origin in [
            "https://api.telegram.org/…",
            "https://discord.com/…",
            "https://chat.googleapis.com/…",
            "https://alert.victorops.com/…",
        ] {
            assert!(shown.contains(&origin), "{shown:?}");
        }
    }
}
