//! `/api/v1/agents` and `/admin/agents`: an agent that posted a batch is listed with its
//! location, version, clock offset and state, to viewers and in the console.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::json;
use upkeep_domain::role::Role;

use crate::console_pages;
use crate::support::TestApp;

#[tokio::test]
async fn an_agent_is_listed_to_viewers_and_in_the_console() {
    let config = "page: { name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }\n\
         components: { api: { name: API } }\n\
         monitors:\n  api-eu: { component: api, tcp: { address: \"127.0.0.1:9\" }, locations: [eu-1] }\n";
    let app = TestApp::builder(config).start().await;
    let created = app
        .store
        .create_token("probe-eu", Role::Agent, "cli:ops", jiff::Timestamp::now())
        .await
        .unwrap();
    let batch = json!({"seq": 1, "sent_at": jiff::Timestamp::now().to_string(), "location": "eu-1",
        "version": "9.9.9", "results": []});
    let r = app
        .client
        .post(app.url("/api/v1/agent/results"))
        .bearer_auth(&created.secret)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let list = app.json("/api/v1/agents", Some(&app.viewer)).await;
    assert_eq!(list[0]["name"], "probe-eu", "{list}");
    assert_eq!(list[0]["version"], "9.9.9");
    assert_eq!(list[0]["monitors"], 1);
    assert_eq!(list[0]["state"], "ok");

    console_pages::seed_user(&app.store, "viewer@example.com", Role::Viewer).await;
    let cookie = console_pages::sign_in(&app, "viewer@example.com").await;
    let (status, body) = console_pages::page(&app, &cookie, "/admin/agents").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        r#"<td data-label="Agent">probe-eu</td><td data-label="Location">eu-1</td>"#,
        r#"<td data-label="Version">9.9.9</td>"#,
        "<a href=\"/admin/agents\">Agents</a>",
    ] {
        assert!(body.contains(text), "no {text} in {body}");
    }
}
