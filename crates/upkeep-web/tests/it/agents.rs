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

const ROUNDS_CONFIG: &str = "page: { name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }\n\
     components: { api: { name: API } }\n\
     monitors:\n  api-eu: { component: api, tcp: { address: \"127.0.0.1:9\" }, interval: 30s, locations: [eu-1, us-1] }\n";

async fn post_batch(app: &TestApp, secret: &str, batch: &serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/agent/results"))
        .bearer_auth(secret)
        .json(batch)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_result_keeps_the_round_it_was_probed_for_when_the_claim_holds() {
    let app = TestApp::builder(ROUNDS_CONFIG)
        .manual_clock("2026-12-06T09:00:10Z")
        .start()
        .await;
    let created = app
        .store
        .create_token("probe-eu", Role::Agent, "cli:ops", app.now())
        .await
        .unwrap();
    // The server says it takes rounds.
    let r = app
        .client
        .get(app.url("/api/v1/agent/assignments?location=eu-1"))
        .bearer_auth(&created.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let assigned: serde_json::Value = r.json().await.unwrap();
    assert_eq!(assigned["accepts_round"], true, "{assigned}");

    // The agent's clock is 3 s fast: it probed for round R at R on its clock (3 s before R
    // on the server's), and says so.
    let interval = std::time::Duration::from_secs(30);
    let now = app.now();
    let round = upkeep_domain::rounds::round_start("api-eu", interval, now);
    let ms = jiff::SignedDuration::from_millis;
    let fast = |t: jiff::Timestamp| (t + ms(3_000)).to_string();
    let batch = json!({"seq": 1, "sent_at": fast(now), "location": "eu-1", "version": "1.0.0",
    "results": [
        {"monitor": "api-eu", "at": (round + ms(20)).to_string(), "ok": false, "latency_ms": 4,
         "failure": "refused", "round": round.to_string()},
        // Off the monitor's grid: judged by its instant.
        {"monitor": "api-eu", "at": (round + ms(20)).to_string(), "ok": true, "latency_ms": 4,
         "round": (round + ms(7_000)).to_string()},
        // An older agent's result: no round.
        {"monitor": "api-eu", "at": (round + ms(20)).to_string(), "ok": true, "latency_ms": 4}
    ]});
    let r = post_batch(&app, &created.secret, &batch).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (receipt["stored"].as_u64(), receipt["corrected"].as_bool()),
        (Some(3), Some(true))
    );
    let mut queued = app.store.pending_agent_results(10).await.unwrap();
    queued.sort_by_key(|q| q.id);
    let rounds: Vec<_> = queued.iter().map(|q| (q.ok, q.round)).collect();
    assert_eq!(rounds, [(false, Some(round)), (true, None), (true, None)]);
    assert!(
        queued.iter().all(|q| q.at == round - ms(2_980)),
        "{queued:?}"
    );
}

#[tokio::test]
async fn a_number_used_before_for_other_results_is_refused_with_the_next_free_one() {
    let app = TestApp::builder(ROUNDS_CONFIG).start().await;
    let created = app
        .store
        .create_token("probe-eu", Role::Agent, "cli:ops", jiff::Timestamp::now())
        .await
        .unwrap();
    let at = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(5)).to_string();
    let batch = |seq: u64, ok: bool| {
        json!({"seq": seq, "sent_at": jiff::Timestamp::now().to_string(), "location": "eu-1",
            "version": "1.0.0", "results": [{"monitor": "api-eu", "at": at, "ok": ok,
            "latency_ms": 4, "failure": (!ok).then_some("refused")}]})
    };
    for seq in [40, 41] {
        let r = post_batch(&app, &created.secret, &batch(seq, true)).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Posted again (sent later, the same results): a duplicate.
    let r = post_batch(&app, &created.secret, &batch(40, true)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(receipt["outcome"], "duplicate", "{receipt}");
    // Another batch under a used number: refused, nothing stored, with the next free number.
    let r = post_batch(&app, &created.secret, &batch(40, false)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["next_seq"], 42, "{problem}");
    assert_eq!(problem["status"], 409, "{problem}");
    assert_eq!(
        problem["type"]
            .as_str()
            .map(|t| t.ends_with("seq-conflict")),
        Some(true),
        "{problem}"
    );
    assert_eq!(app.store.pending_agent_results(10).await.unwrap().len(), 2);
    let r = post_batch(&app, &created.secret, &batch(42, false)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.store.pending_agent_results(10).await.unwrap().len(), 3);
}
