//! The chat, pager and push providers end to end: an operator alert goes through the one outbox
//! (follower, fan-out, delivery worker, sender) to a real HTTP recorder on a loopback port,
//! which checks each request byte for byte against the provider's documented request (method,
//! target, header lines, body); the resolution is sent where the provider has one (Opsgenie
//! closes by alias, Splunk On-Call sends RECOVERY for the same entity); and a rate limit's
//! answer (`Retry-After`, Discord's and Telegram's `retry_after`, Matrix's `retry_after_ms`)
//! sets the next attempt exactly that far ahead. Matrix is also checked against a real Synapse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use upkeep_domain::config::{Config, parse};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::notify::DeliveryState;
use upkeep_engine::clock::{ManualClock, SharedClock};
use upkeep_engine::config::{ConfigSource, LoadedConfig};
use upkeep_engine::notify::send::{ChannelKind, Content, Senders};
use upkeep_engine::notify::{
    ALERT_CURSOR, DeliverySettings, deliver_once, fan_out_once, follow_alerts_once,
};
use upkeep_store::Store;
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::testing::{databases, peer};

use crate::receiver::{Answer, Received, Receiver};

/// A configuration with one component, the monitors `api-health` and `db-port`, and
/// `notifications` as given, with quick retries.
fn config_with(notifications: &str) -> Config {
    let text = format!(
        r#"
page: {{ name: Acme Cloud, url: "https://status.example", timezone: Europe/Rome }}
components:
  api: {{ name: Public API }}
monitors:
  api-health: {{ component: api, tcp: {{ address: "127.0.0.1:9" }} }}
  db-port: {{ component: api, tcp: {{ address: "127.0.0.1:9" }} }}
notifications:
{notifications}"#
    );
    let mut cfg = parse("t.yaml", &text, &|_| None, t("2026-03-20T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}", e.0));
    cfg.notifications.retry.initial = Duration::from_millis(20);
    cfg.notifications.retry.max_interval = Duration::from_millis(100);
    cfg.notifications.delivery_timeout = Duration::from_millis(500);
    cfg
}

fn config(rx: &str) -> Config {
    config_with(&format!(
        r#"
  channels:
    discord: {{ discord: {{ url: "{rx}/api/webhooks/123/t0ken" }} }}
    telegram: {{ telegram: {{ url: "{rx}", bot_token: "123:ABC", chat_id: "-1001" }} }}
    teams: {{ teams: {{ url: "{rx}/workflows/abc/triggers/manual/paths/invoke?sig=s3cret" }} }}
    opsgenie: {{ opsgenie: {{ url: "{rx}", api_key: "g3nie" }} }}
    ntfy: {{ ntfy: {{ url: "{rx}", topic: ops-alerts, token: tk_s3cret }} }}
    pushover: {{ pushover: {{ url: "{rx}", token: app-token, user: user-key }} }}
    gchat: {{ google_chat: {{ url: "{rx}/v1/spaces/AAA/messages?key=k3y&token=t0k" }} }}
    mattermost: {{ mattermost: {{ url: "{rx}/hooks/mm", channel: ops }} }}
    rocketchat: {{ rocketchat: {{ url: "{rx}/hooks/rc/t0k" }} }}
    splunk: {{ splunk_oncall: {{ url: "{rx}", api_key: vo-key, routing_key: ops }} }}
    matrix: {{ matrix: {{ homeserver: "{rx}", room_id: "!room:example.org", access_token: syt_s3cret }} }}
    gotify: {{ gotify: {{ url: "{rx}", token: gtk }} }}
  routes:
    - {{ severity: critical, channels: [discord, telegram, teams, opsgenie, ntfy, pushover, gchat, mattermost, rocketchat, splunk, matrix, gotify] }}
"#
    ))
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn loaded(config: Config) -> Arc<LoadedConfig> {
    Arc::new(LoadedConfig {
        config,
        source: ConfigSource::EmbeddedDemo,
        digest: String::new(),
        loaded_at: Timestamp::UNIX_EPOCH,
    })
}

/// Follows the event log until the alert cursor has read every event.
async fn follow(store: &Store, config: &Config, now: Timestamp) {
    for _ in 0..500 {
        follow_alerts_once(store, config, now).await.unwrap();
        let events = store.list_monitor_events(None, 10_000).await.unwrap();
        let last = events.iter().map(|e| e.id).max().unwrap_or(0);
        if store
            .cursor(ALERT_CURSOR)
            .await
            .unwrap()
            .map_or(0, |c| c.id)
            >= last
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the alert follower did not catch up with the event log");
}

async fn monitor_event(store: &Store, id: &str, from: &str, to: &str, at: Timestamp) {
    monitor_event_because(store, id, from, to, at, "connection refused").await;
}

async fn monitor_event_because(
    store: &Store,
    id: &str,
    from: &str,
    to: &str,
    at: Timestamp,
    reason: &str,
) {
    let event = MonitorEvent {
        source: EventSource::parse(id).unwrap(),
        at,
        from: EventState::parse(from).unwrap(),
        to: EventState::parse(to).unwrap(),
        reason: reason.into(),
    };
    store.record_monitor_events(&[event]).await.unwrap();
}

/// One round: fan out, then deliver what is due at the clock's instant.
async fn round(store: &Store, cfg: &Arc<LoadedConfig>, clock: &ManualClock) {
    let senders = Senders::new(None, Duration::from_millis(500)).unwrap();
    let shared: SharedClock = Arc::new(clock.clone());
    fan_out_once(store, &cfg.config, shared.now())
        .await
        .unwrap();
    let settings = DeliverySettings {
        worker: "w1".into(),
        batch: 32,
    };
    deliver_once(store, cfg, &senders, &settings, &shared)
        .await
        .unwrap();
}

/// `api-health` goes down at 10:00 UTC (the follower having started a minute before) and
/// one round fans out and delivers its alert to every provider.
async fn fire(store: &Store, rx: &Receiver) -> (Arc<LoadedConfig>, ManualClock, Timestamp) {
    fire_with(store, loaded(config(&rx.url))).await
}

/// [`fire`] with the configuration `cfg`.
async fn fire_with(
    store: &Store,
    cfg: Arc<LoadedConfig>,
) -> (Arc<LoadedConfig>, ManualClock, Timestamp) {
    let start = t("2026-05-01T09:59:00Z");
    let clock = ManualClock::new(start);
    follow(store, &cfg.config, start).await;
    let at = t("2026-05-01T10:00:00Z");
    clock.set(at);
    monitor_event(store, "api-health", "up", "down", at).await;
    follow(store, &cfg.config, at).await;
    round(store, &cfg, &clock).await;
    (cfg, clock, at)
}

/// A request as the recorder saw it, with the recorder's port written `PORT`.
fn shown(r: &Received, port: &str) -> String {
    let mut out = format!("{} {}\n", r.method, r.path);
    for line in &r.lines {
        out.push_str(&line.replace(port, "PORT"));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&r.body));
    out
}

/// Every request in `got` shown, sorted, the version and the Matrix transaction id written as
/// placeholders.
fn normalised(got: &[Received], port: &str) -> Vec<String> {
    let mut shown: Vec<String> = got
        .iter()
        .map(|r| {
            let mut text = shown(r, port).replace(
                concat!("user-agent: upkeep/", env!("CARGO_PKG_VERSION")),
                "user-agent: upkeep/VERSION",
            );
            if let Some(i) = text.find("m.room.message/") {
                let start = i + "m.room.message/".len();
                let end = start + text[start..].find('\n').unwrap();
                text.replace_range(start..end, "TXN");
            }
            text
        })
        .collect();
    shown.sort();
    shown
}

/// The Matrix transaction id of the request in `got` (the delivery's id).
fn matrix_txn(got: &[Received]) -> String {
    let r = got.iter().find(|r| r.path.starts_with("/_matrix")).unwrap();
    r.path.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn each_provider_gets_its_documented_request_and_its_resolution() {
    // The documented request of each provider for an alert firing, byte for byte (the header
    // lines the HTTP client adds — accept, user-agent, host, content-length — included).
    let firing: Vec<String> = include_str!("providers/firing.txt")
        .trim_end()
        .split("\n====\n")
        .map(str::to_owned)
        .collect();
    for db in databases("notify_providers").await {
        let store = db.store().await;
        let rx = Receiver::start(|_, _| Answer::Status(200)).await;
        let port = rx.url.rsplit(':').next().unwrap().to_owned();
        let (cfg, clock, at) = fire(&store, &rx).await;
        let got = rx.accepted();
        assert_eq!(normalised(&got, &port), firing);
        // Matrix's transaction id is the delivery's: a retry is the same event.
        let txn = matrix_txn(&got);
        let delivery = store.get_delivery(&txn).await.unwrap().unwrap();
        assert_eq!(delivery.channel, "matrix");
        assert_eq!(delivery.state, DeliveryState::Sent);

        // Recovery: Opsgenie closes the alert by its alias, Splunk On-Call sends RECOVERY for
        // the same entity, the others say it in words.
        let later = at + SignedDuration::from_secs(600);
        clock.set(later);
        monitor_event(&store, "api-health", "down", "up", later).await;
        follow(&store, &cfg.config, later).await;
        round(&store, &cfg, &clock).await;
        let resolved: Vec<Received> = rx.accepted().into_iter().skip(12).collect();
        assert_eq!(resolved.len(), 12);
        let shown_resolved = normalised(&resolved, &port);
        let close = "POST /v2/alerts/upkeep%2Fmonitor%3Aapi-health/close?identifierType=alias\n\
            content-type: application/json\nauthorization: GenieKey g3nie\naccept: */*\n\
            user-agent: upkeep/VERSION\nhost: 127.0.0.1:PORT\ncontent-length: 90\n\n\
            {\"note\":\"[Acme Cloud] RESOLVED: monitor `api-health` is down (api)\",\
            \"source\":\"Acme Cloud\"}";
        assert!(
            shown_resolved.iter().any(|r| r == close),
            "{shown_resolved:#?}"
        );
        let splunk = resolved
            .iter()
            .find(|r| r.path == "/integrations/generic/20131114/alert/vo-key/ops")
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&splunk.body).unwrap();
        assert_eq!(body["message_type"], "RECOVERY");
        assert_eq!(body["entity_id"], "upkeep/monitor:api-health");
        assert_eq!(body["state_start_time"], 1_777_629_600);
        assert_ne!(matrix_txn(&resolved), txn, "a new event, a new transaction");
        for r in &resolved {
            let body = String::from_utf8_lossy(&r.body);
            assert!(
                body.contains("RESOLVED") || body.contains("RECOVERY"),
                "{body}"
            );
        }
        db.cleanup().await;
    }
}

/// Every provider of [`config`] with a PagerDuty, a Slack and a signed webhook channel, the
/// credentials of Telegram, ntfy and PagerDuty as given.
fn config_rotating(rx: &str, bot_token: &str, ntfy_token: &str, routing_key: &str) -> Config {
    config_with(&format!(
        r#"
  channels:
    discord: {{ discord: {{ url: "{rx}/api/webhooks/123/t0ken" }} }}
    telegram: {{ telegram: {{ url: "{rx}", bot_token: "{bot_token}", chat_id: "-1001" }} }}
    ntfy: {{ ntfy: {{ url: "{rx}", topic: ops-alerts, token: {ntfy_token} }} }}
    pushover: {{ pushover: {{ url: "{rx}", token: app-t0ken, user: user-k3y }} }}
    matrix: {{ matrix: {{ homeserver: "{rx}", room_id: "!room:example.org", access_token: syt_s3cret }} }}
    pd: {{ pagerduty: {{ url: "{rx}/v2/enqueue", routing_key: {routing_key} }} }}
    slack: {{ slack: {{ url: "{rx}/services/T0/B0/sl4ck" }} }}
    hook: {{ webhook: {{ url: "{rx}/hook/h00k", secret: whs3cret }} }}
    custom: {{ custom_webhook: {{ url: "{rx}/custom", headers: {{ Authorization: "Bearer cust0m" }}, body: '{{"title": {{{{ alert.summary }}}}}}' }} }}
  routes:
    - {{ severity: critical, channels: [discord, telegram, ntfy, pushover, matrix, pd, slack, hook, custom] }}
"#
    ))
}

#[tokio::test]
async fn the_outbox_keeps_no_credential_and_a_rotated_one_is_used_at_the_next_attempt() {
    for db in databases("notify_providers_secrets").await {
        let store = db.store().await;
        // The three credentials about to be rotated are refused (retryably); the rest is taken.
        let rx = Receiver::start(|_, r| {
            let mut text = format!("{} {}", r.path, String::from_utf8_lossy(&r.body));
            for value in r.headers.values() {
                text.push_str(value);
            }
            if r.path == "/bot123:ABC/sendMessage" {
                // A receiver whose error page quotes the request's path.
                Answer::Reply(503, "", "no bot at /bot123:ABC/sendMessage, try later")
            } else if ["123:ABC", "tk_0ld", "R0UTING"]
                .iter()
                .any(|s| text.contains(s))
            {
                Answer::Status(503)
            } else {
                Answer::Status(200)
            }
        })
        .await;
        let old = loaded(config_rotating(&rx.url, "123:ABC", "tk_0ld", "R0UTING"));
        let (_, clock, at) = fire_with(&store, old).await;

        // Stored: where each delivery goes as an origin, and what it says; no credential.
        let stored = store.list_deliveries(None, 100).await.unwrap();
        assert_eq!(stored.len(), 9, "{stored:#?}");
        let secrets = [
            "t0ken",
            "123:ABC",
            "tk_0ld",
            "app-t0ken",
            "user-k3y",
            "syt_s3cret",
            "R0UTING",
            "sl4ck",
            "h00k",
            "whs3cret",
            "cust0m",
        ];
        for d in &stored {
            for secret in secrets {
                assert!(
                    !d.destination.contains(secret) && !d.content.contains(secret),
                    "{secret} stored in the {} delivery: {} {}",
                    d.channel,
                    d.destination,
                    d.content
                );
            }
            let origin = rx.url.clone();
            assert!(
                d.destination == origin || d.destination == format!("{origin}/…"),
                "{}: {}",
                d.channel,
                d.destination
            );
        }
        // Sent with the credentials all the same: the six not refused went through.
        let sent = store
            .list_deliveries(Some(DeliveryState::Sent), 100)
            .await
            .unwrap();
        assert_eq!(sent.len(), 6, "{sent:#?}");
        let webhook = rx
            .accepted()
            .into_iter()
            .find(|r| r.path == "/hook/h00k")
            .unwrap();
        assert!(
            webhook.headers.contains_key("upkeep-signature"),
            "{:?}",
            webhook.headers
        );
        let custom = rx
            .accepted()
            .into_iter()
            .find(|r| r.path == "/custom")
            .unwrap();
        assert_eq!(custom.headers["authorization"], "Bearer cust0m");

        // The error is kept with the URL it quoted written as its origin.
        let telegram = stored.iter().find(|d| d.channel == "telegram").unwrap();
        let telegram = store.get_delivery(&telegram.id).await.unwrap().unwrap();
        let error = telegram.last_error.unwrap();
        assert!(
            error.contains("503") && error.contains("no bot at /…"),
            "{error}"
        );
        assert!(!error.contains("123:ABC"), "{error}");

        // Rotated: the next attempt carries the new credentials, the message unchanged.
        let new = loaded(config_rotating(&rx.url, "456:NEW", "tk_n3w", "R0TATED"));
        clock.set(at + SignedDuration::from_secs(60));
        round(&store, &new, &clock).await;
        let accepted = rx.accepted();
        let telegram = accepted
            .iter()
            .find(|r| r.path == "/bot456:NEW/sendMessage")
            .unwrap();
        let refused = rx
            .all()
            .into_iter()
            .find(|r| r.path == "/bot123:ABC/sendMessage")
            .unwrap();
        assert_eq!(telegram.body, refused.body, "the same message");
        let pd = accepted.iter().find(|r| r.path == "/v2/enqueue").unwrap();
        let event: Value = serde_json::from_slice(&pd.body).unwrap();
        assert_eq!(event["routing_key"], "R0TATED");
        assert_eq!(event["event_action"], "trigger");
        let ntfy = accepted.iter().find(|r| r.path == "/").unwrap();
        assert_eq!(ntfy.headers["authorization"], "Bearer tk_n3w");
        assert_eq!(
            store
                .list_deliveries(Some(DeliveryState::Sent), 100)
                .await
                .unwrap()
                .len(),
            9
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_channel_id_that_names_another_kind_now_gets_nothing_of_the_old_deliveries() {
    for db in databases("notify_providers_kind").await {
        let store = db.store().await;
        let rx = Receiver::start(|_, r| {
            if r.path.starts_with("/bot") {
                Answer::Status(503)
            } else {
                Answer::Status(200)
            }
        })
        .await;
        let old = loaded(config_rotating(&rx.url, "123:ABC", "tk_0ld", "R0UTING"));
        let (_, clock, at) = fire_with(&store, old).await;
        let before = rx.all().len();

        // `telegram` now names a Slack webhook: the Telegram message is not posted to it.
        let text = format!(
            r#"
  channels:
    telegram: {{ slack: {{ url: "{}/services/T0/B0/other" }} }}
  routes:
    - {{ severity: critical, channels: [telegram] }}
"#,
            rx.url
        );
        let new = loaded(config_with(&text));
        clock.set(at + SignedDuration::from_secs(60));
        round(&store, &new, &clock).await;
        assert_eq!(rx.all().len(), before, "nothing sent to the new channel");
        let failed = store
            .list_deliveries(Some(DeliveryState::Failed), 10)
            .await
            .unwrap();
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0].channel, "telegram");
        let error = failed[0].last_error.clone().unwrap();
        assert!(
            error.contains("a slack channel now, not the telegram channel"),
            "{error}"
        );
        db.cleanup().await;
    }
}

/// One request's path prefix → how the recorder refuses its first attempt.
fn rate_limited(path: &str) -> Answer {
    if path.starts_with("/api/webhooks/") {
        Answer::Reply(
            429,
            "content-type: application/json",
            r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#,
        )
    } else if path.starts_with("/bot") {
        Answer::Reply(
            429,
            "content-type: application/json",
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
        )
    } else if path.starts_with("/_matrix") {
        Answer::Reply(
            429,
            "content-type: application/json",
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2500}"#,
        )
    } else if path == "/" {
        Answer::Reply(429, "Retry-After: 30", "")
    } else {
        Answer::Status(200)
    }
}

#[tokio::test]
async fn a_rate_limit_sets_the_next_attempt_exactly_as_far_as_asked() {
    for db in databases("notify_providers_rate").await {
        let store = db.store().await;
        let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let rx = Receiver::start(move |_, r| {
            // Each path is refused once, then taken.
            let key = r.path.split('?').next().unwrap_or("").to_owned();
            if seen.lock().unwrap().insert(key) {
                rate_limited(&r.path)
            } else {
                Answer::Status(200)
            }
        })
        .await;
        let (cfg, clock, at) = fire(&store, &rx).await;
        let pending = store
            .list_deliveries(Some(DeliveryState::Pending), 100)
            .await
            .unwrap();
        let waits: std::collections::BTreeMap<String, i64> = pending
            .iter()
            .map(|d| {
                (
                    d.channel.clone(),
                    d.next_attempt_at.duration_since(at).as_millis() as i64,
                )
            })
            .collect();
        let want: std::collections::BTreeMap<String, i64> = [
            ("discord", 1_500),
            ("matrix", 2_500),
            ("ntfy", 30_000),
            ("telegram", 7_000),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(waits, want);
        let error = pending[0].last_error.clone().unwrap();
        assert!(
            error.contains("HTTP 429") && error.contains("asked to wait"),
            "{error}"
        );
        assert!(
            !error.contains("t0ken") && !error.contains("123:ABC"),
            "{error}"
        );

        // Not a moment before: nothing is sent again at 1.4 s; Discord goes at 1.5 s, the
        // others each at their own instant.
        let before = rx.all().len();
        clock.set(at + SignedDuration::from_millis(1_400));
        round(&store, &cfg, &clock).await;
        assert_eq!(rx.all().len(), before);
        for (ms, channel) in [
            (1_500, "discord"),
            (2_500, "matrix"),
            (7_000, "telegram"),
            (30_000, "ntfy"),
        ] {
            clock.set(at + SignedDuration::from_millis(ms));
            round(&store, &cfg, &clock).await;
            let sent: Vec<String> = store
                .list_deliveries(Some(DeliveryState::Sent), 100)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.channel)
                .collect();
            assert!(sent.contains(&channel.to_owned()), "{channel} at {ms} ms");
        }
        assert_eq!(
            store
                .list_deliveries(Some(DeliveryState::Pending), 100)
                .await
                .unwrap()
                .len(),
            0
        );
        db.cleanup().await;
    }
}

fn custom_config(rx: &str) -> Config {
    config_with(&format!(
        r#"
  channels:
    tickets:
      custom_webhook:
        method: PUT
        url: "{rx}/tickets/{{{{ alert.key }}}}?state={{{{ alert.state }}}}"
        headers:
          Authorization: "Bearer s3cret"
          X-Detail: "{{{{ alert.detail }}}}"
        body: |
          {{"summary": {{{{ alert.summary }}}}, "detail": {{{{ alert.detail|safe }}}},
           "open": {{{{ alert.state != "resolved" }}}}, "page": {{{{ page.url }}}}}}
    broken:
      custom_webhook:
        url: "{rx}/broken"
        body: '{{% if alert.key == "monitor:db-port" %}}{{{{ nope }}}}{{% endif %}}{{}}'
  routes:
    - {{ severity: critical, channels: [tickets, broken] }}
"#
    ))
}

#[tokio::test]
async fn the_templated_webhook_encodes_every_value_for_where_it_lands() {
    for db in databases("notify_custom_webhook").await {
        let store = db.store().await;
        let rx = Receiver::start(|_, _| Answer::Status(204)).await;
        let port = rx.url.rsplit(':').next().unwrap().to_owned();
        let cfg = loaded(custom_config(&rx.url));
        let start = t("2026-05-01T09:59:00Z");
        let clock = ManualClock::new(start);
        follow(&store, &cfg.config, start).await;
        let at = t("2026-05-01T10:00:00Z");
        clock.set(at);
        // What a monitor reports is the attacker's: quotes, a new line and a header of its own.
        let reason = "refused \"}, \"admin\": true, \"x\": {\"\nX-Injected: yes";
        monitor_event_because(&store, "api-health", "up", "down", at, reason).await;
        follow(&store, &cfg.config, at).await;
        round(&store, &cfg, &clock).await;
        let got = rx.accepted();
        assert_eq!(got.len(), 2, "{got:#?}");
        let put = got.iter().find(|r| r.method == "PUT").unwrap();
        assert_eq!(put.path, "/tickets/monitor%3Aapi-health?state=firing");
        let body: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "summary": "monitor `api-health` is down (api)",
                "detail": reason,
                "open": true,
                "page": "https://status.example",
            })
        );
        let lines: Vec<String> = put.lines.iter().map(|l| l.replace(&port, "PORT")).collect();
        assert_eq!(
            lines,
            vec![
                "content-type: application/json".to_owned(),
                "authorization: Bearer s3cret".to_owned(),
                format!("x-detail: {}", reason.replace('\n', " ")),
                "accept: */*".to_owned(),
                concat!("user-agent: upkeep/", env!("CARGO_PKG_VERSION")).to_owned(),
                "host: 127.0.0.1:PORT".to_owned(),
                format!("content-length: {}", put.body.len()),
            ]
        );
        assert!(put.header("x-injected").is_none());
        // The second channel's template renders for this alert too (an empty JSON object).
        let post = got.iter().find(|r| r.path == "/broken").unwrap();
        assert_eq!(post.body, b"{}");

        // For another alert its template fails: the delivery fails at once, saying why, and
        // nothing is sent.
        monitor_event_because(&store, "db-port", "up", "down", at, "down").await;
        follow(&store, &cfg.config, at).await;
        round(&store, &cfg, &clock).await;
        let failed = store
            .list_deliveries(Some(DeliveryState::Failed), 10)
            .await
            .unwrap();
        assert_eq!(failed.len(), 1, "{failed:#?}");
        let error = failed[0].last_error.clone().unwrap();
        assert!(
            error.contains("body template, line 1: undefined value"),
            "{error}"
        );
        assert_eq!(rx.accepted().len(), 3, "only the first channel's PUT");

        // Resolved: the URL and body say so.
        monitor_event_because(&store, "api-health", "down", "up", at, "ok").await;
        follow(&store, &cfg.config, at).await;
        round(&store, &cfg, &clock).await;
        let last = rx
            .accepted()
            .into_iter()
            .rfind(|r| r.method == "PUT")
            .unwrap();
        assert_eq!(last.path, "/tickets/monitor%3Aapi-health?state=resolved");
        let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
        assert_eq!(body["open"], false);
        db.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Matrix against a real homeserver: Synapse (from PyPI, in the test `.venv`) on a loopback port
// with an SQLite database in a temporary directory. An alert goes through the outbox to a room;
// the room's timeline then holds the notice, formatted as sent; sending the same delivery again
// (a retry after a lost answer) adds no second event, because the transaction id is the
// delivery's; the resolution follows. Without Python's `synapse` module the test skips loudly
// (`upkeep_store::testing::peer`).

/// A Synapse homeserver; killed on drop.
struct Synapse {
    _child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

impl Synapse {
    async fn start() -> Option<Synapse> {
        let python = peer::python(&["synapse"])?;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("homeserver.yaml");
        let generated = Command::new(&python)
            .args([
                "-m",
                "synapse.app.homeserver",
                "--server-name",
                "upkeep.test",
            ])
            .arg("--config-path")
            .arg(&config)
            .arg("--data-directory")
            .arg(dir.path())
            .args(["--generate-config", "--report-stats=no"])
            .current_dir(dir.path())
            .output()
            .await
            .unwrap();
        assert!(
            generated.status.success(),
            "{}",
            String::from_utf8_lossy(&generated.stderr)
        );
        let port = free_port().await;
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text
            .replace("port: 8008", &format!("port: {port}"))
            .replace(
                "bind_addresses: ['::1', '127.0.0.1']",
                "bind_addresses: ['127.0.0.1']",
            );
        let text = format!(
            "{text}\nenable_registration: true\nenable_registration_without_verification: true\n\
             rc_message: {{ per_second: 1000, burst_count: 1000 }}\n\
             rc_registration: {{ per_second: 1000, burst_count: 1000 }}\n\
             rc_login: {{ address: {{ per_second: 1000, burst_count: 1000 }}, account: {{ per_second: 1000, burst_count: 1000 }} }}\n"
        );
        std::fs::write(&config, text).unwrap();
        let log = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let child = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..240 {
            let ready = client
                .get(format!("{url}/_matrix/client/versions"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Some(Synapse {
                    _child: child,
                    url,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let log = std::fs::read_to_string(dir.path().join("homeserver.log"))
            .or_else(|_| std::fs::read_to_string(dir.path().join("stdout.log")))
            .unwrap_or_default();
        panic!("Synapse did not start within 60 s:\n{log}");
    }

    /// Registers a user and returns its access token.
    async fn register(&self, user: &str) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/_matrix/client/v3/register", self.url))
            .json(&json!({
                "username": user,
                "password": "correct horse battery staple",
                "auth": { "type": "m.login.dummy" },
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// The `m.notice` events of a room, oldest first.
    async fn notices(&self, room: &str, token: &str) -> Vec<Value> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100",
            upkeep_domain::notify::text::percent_encode(room)
        );
        let body = self.call(reqwest::Method::GET, &path, token, None).await;
        let mut events: Vec<Value> = body["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.message" && e["content"]["msgtype"] == "m.notice")
            .cloned()
            .collect();
        events.reverse();
        events
    }
}

/// `api-health` changes at `at`; its alert is fanned out and delivered, rounds repeated (the
/// clock a second further each time) until nothing is pending.
async fn alert(
    store: &Store,
    cfg: &Arc<LoadedConfig>,
    clock: &ManualClock,
    (from, to): (&str, &str),
    at: Timestamp,
    why: &str,
) {
    clock.set(at);
    monitor_event_because(store, "api-health", from, to, at, why).await;
    follow(store, &cfg.config, at).await;
    for _ in 0..30 {
        round(store, cfg, clock).await;
        let pending = store
            .list_deliveries(Some(DeliveryState::Pending), 10)
            .await
            .unwrap();
        if pending.is_empty() {
            return;
        }
        clock.advance(SignedDuration::from_secs(1));
    }
    panic!("deliveries still pending");
}

#[tokio::test]
async fn matrix_notices_reach_a_real_synapse_room_once_each() {
    let Some(synapse) = Synapse::start().await else {
        return;
    };
    let token = synapse.register("upkeep").await;
    let room = synapse
        .call(
            reqwest::Method::POST,
            "/_matrix/client/v3/createRoom",
            &token,
            Some(json!({})),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let Some(db) = databases("notify_matrix").await.into_iter().next() else {
        return;
    };
    let store = db.store().await;
    let cfg = loaded(config_with(&format!(
        r#"
  channels:
    room: {{ matrix: {{ homeserver: "{}", room_id: "{room}", access_token: "{token}" }} }}
  routes:
    - {{ severity: critical, channels: [room] }}
"#,
        synapse.url
    )));
    let start = t("2026-05-01T09:59:00Z");
    let clock = ManualClock::new(start);
    follow(&store, &cfg.config, start).await;
    let at = start + SignedDuration::from_secs(60);
    let why = "connection refused <tls & \"quotes\">";
    alert(&store, &cfg, &clock, ("up", "down"), at, why).await;

    let notices = synapse.notices(&room, &token).await;
    assert_eq!(notices.len(), 1, "{notices:#?}");
    let content = &notices[0]["content"];
    assert_eq!(content["format"], "org.matrix.custom.html");
    let body = content["body"].as_str().unwrap();
    assert!(
        body.starts_with("[Acme Cloud] FIRING critical: ")
            && body.contains("connection refused <tls & \"quotes\">"),
        "{body}"
    );
    let html = content["formatted_body"].as_str().unwrap();
    assert!(
        html.contains("<pre>connection refused &lt;tls &amp; &quot;quotes&quot;&gt;</pre>"),
        "{html}"
    );

    // The same delivery sent again (its answer lost): the same transaction, no second event.
    let sent = store
        .list_deliveries(None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.channel == "matrix")
        .unwrap();
    // Made again from the stored message and the channel, as every attempt is.
    let stored: Content = serde_json::from_str(&sent.content).unwrap();
    let channel = &cfg.config.notifications.channels["room"];
    let (url, request) = stored
        .fill(channel, ChannelKind::of(channel), &sent.destination)
        .unwrap();
    let Content::Http {
        method,
        headers,
        body,
    } = request
    else {
        panic!("a Matrix delivery is a whole request");
    };
    let mut again = reqwest::Client::new().request(method.parse().unwrap(), &url);
    for (name, value) in &headers {
        again = again.header(name, value);
    }
    let answer: Value = again.body(body).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["event_id"], notices[0]["event_id"]);
    assert_eq!(synapse.notices(&room, &token).await.len(), 1);

    // Recovered: a second notice.
    let later = at + SignedDuration::from_secs(60);
    alert(&store, &cfg, &clock, ("down", "up"), later, why).await;
    let notices = synapse.notices(&room, &token).await;
    assert_eq!(notices.len(), 2, "{notices:#?}");
    assert!(
        notices[1]["content"]["body"]
            .as_str()
            .unwrap()
            .starts_with("[Acme Cloud] RESOLVED: "),
        "{notices:#?}"
    );
    db.cleanup().await;
}
