//! Every console list pages by key: incidents, failed deliveries, users and tokens are walked
//! page by page from the first, and each row appears once, in the list's order, whatever ties
//! its timestamps have.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use upkeep_domain::incident::IncidentStatus;
use upkeep_domain::role::Role;
use upkeep_store::Store;
use upkeep_store::incidents::NewIncident;
use upkeep_store::outbox::{NewDelivery, new_delivery_id};
use upkeep_store::users::NewUser;

use crate::console::seed_user;
use crate::console_pages::{inert, page, sign_in};
use crate::support::{TestApp, page_config};

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 0 }
components:
  api: { name: Public API }
"#
);

/// The `href` of every link on `body` whose text is `label`, `&` unescaped.
fn links(body: &str, label: &str) -> Vec<String> {
    body.split(r#"<a href=""#)
        .skip(1)
        .filter(|s| {
            s.split_once('>')
                .is_some_and(|(_, rest)| rest.starts_with(label))
        })
        .map(|s| s.split('"').next().unwrap().replace("&#38;", "&"))
        .collect()
}

/// What `cell` shows in each row of the list on `body`: the text after `marker` up to `<`.
fn cells(body: &str, marker: &str) -> Vec<String> {
    body.split(marker)
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect()
}

/// Every row from `start` on, following `next_label` links; and how many pages there were.
async fn walk(
    app: &TestApp,
    cookie: &str,
    start: &str,
    next_label: &str,
    marker: &str,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut next = Some(start.to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let (status, body) = page(app, cookie, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        inert(&body);
        seen.extend(cells(&body, marker));
        if pages > 0 {
            assert!(
                !links(&body, "First page").is_empty(),
                "{url}: a later page links back to the first"
            );
        }
        next = links(&body, next_label).into_iter().next();
        pages += 1;
        assert!(pages < 20, "{url}: the pages never end");
    }
    (seen, pages)
}

async fn seed(store: &Store) {
    seed_user(store, "root@example.com", Role::Admin).await;
    let base = Timestamp::from_second(1_767_225_600).unwrap();
    // 120 incidents, in threes opened in the same millisecond: the 50th and 51st share one.
    for i in 0..120i64 {
        let new = NewIncident {
            title: format!("incident {i:03}"),
            status: IncidentStatus::Investigating,
            impact: None,
            body: "Looking.".into(),
            components: vec![],
            started_at: None,
            auto: false,
        };
        let at = base + SignedDuration::from_secs(i / 3);
        store.create_incident(&new, "test", at).await.unwrap();
    }
    // 230 failed deliveries.
    for i in 0..230 {
        let d = NewDelivery {
            id: new_delivery_id(),
            recipient: format!("channel:c{i:03}"),
            channel: "webhook".into(),
            destination: format!("https://hooks.example/{i}"),
            order_key: format!("webhook:{i}"),
            subject: format!("incident/{i}"),
            content: "{}".into(),
        };
        store
            .enqueue_delivery("incident.opened", &d, base)
            .await
            .unwrap();
    }
    let claimed = store
        .claim_deliveries("test-worker", base, 60_000, 1000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 230);
    for d in &claimed {
        assert!(
            store
                .mark_attempt_failed(&d.id, "test-worker", "refused", None)
                .await
                .unwrap()
        );
    }
    // 150 more users (the hash is never checked here) and 130 tokens in threes made together:
    // the 100th and 101st share a millisecond.
    for i in 0..150 {
        let new = NewUser {
            email: format!("user{i:03}@example.com"),
            display_name: format!("User {i}"),
            role: Role::Viewer,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        };
        store.create_user(&new, "test", base).await.unwrap();
    }
    for i in 0..130i64 {
        let at = base + SignedDuration::from_secs(i % 44);
        store
            .create_token(&format!("token {i:03}"), Role::Viewer, "test", at)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn incidents_deliveries_users_and_tokens_page_by_key_without_repeats_or_gaps() {
    let app = TestApp::builder(CONFIG)
        .start_seeded(|store| async move { seed(&store).await })
        .await;
    let cookie = sign_in(&app, "root@example.com").await;

    // Incidents: newest first, 50 to a page.
    let (titles, pages) = walk(
        &app,
        &cookie,
        "/admin/incidents",
        "Next page",
        r#"<td data-label="Incident"><a href="/admin/incidents/"#,
    )
    .await;
    let titles: Vec<String> = titles
        .iter()
        .map(|t| t.split_once('>').unwrap().1.to_owned())
        .collect();
    let listed: Vec<String> = app
        .store
        .list_incidents(1000, false)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert_eq!(titles.len(), 120);
    assert_eq!(titles, listed, "the store's order, every incident once");
    assert_eq!(pages, 3);

    // Failed deliveries: newest first, 100 to a page.
    let (recipients, pages) = walk(
        &app,
        &cookie,
        "/admin/deliveries",
        "Next page",
        r#"<td data-label="Recipient">"#,
    )
    .await;
    let listed: Vec<String> = app
        .store
        .list_deliveries(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.recipient)
        .collect();
    assert_eq!(recipients.len(), 230);
    assert_eq!(recipients, listed);
    assert_eq!(pages, 3);

    // Users by address and tokens by creation, each 100 to a page, each paged on its own.
    let (emails, pages) = walk(
        &app,
        &cookie,
        "/admin/users",
        "More users",
        r#"<td data-label="E-mail">"#,
    )
    .await;
    let mut sorted = emails.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(emails, sorted, "by address, each once");
    assert_eq!(emails.len(), 151);
    assert_eq!(pages, 2);
    let (tokens, pages) = walk(
        &app,
        &cookie,
        "/admin/users",
        "More tokens",
        r#"<td data-label="Name">token "#,
    )
    .await;
    let listed: Vec<String> = app
        .store
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|t| t.name.strip_prefix("token ").map(str::to_owned))
        .collect();
    assert_eq!(tokens, listed);
    assert_eq!(tokens.len(), 130);
    assert_eq!(
        pages, 2,
        "the app's own three tokens are on the second page"
    );

    // A key that names nothing is a first page, never an error.
    for url in [
        "/admin/incidents?before=garbage",
        "/admin/deliveries?before=%3Cscript%3E",
        "/admin/users?tokens_after=1%2F&users_after=",
    ] {
        let (status, body) = page(&app, &cookie, url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        inert(&body);
    }
}
