//! `domain` probes against an RDAP server the test runs on loopback, answering as registries
//! do (RFC 9083 domain objects with events and statuses): days until expiry computed right,
//! a registration about to expire or expired failing in words, conditions on
//! `[DOMAIN_EXPIRY]` and `[BODY]`, answers kept between checks, 404, 429 with `Retry-After`
//! honoured (and the last good answer kept meanwhile), malformed answers, a missing expiration
//! event, refusals and silences explained; and the server found through a bootstrap file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};

use crate::probe_support::{Reply, Server, closed_port, failure, http_server, monitor};

/// An RDAP domain object as a registry answers it, expiring `days` days and an hour from now.
fn rdap_domain(name: &str, days: i64) -> String {
    let expiration = Timestamp::now() + (days * 24 + 1).hours();
    serde_json::json!({
        "objectClassName": "domain",
        "handle": "2336799_DOMAIN_COM-VRSN",
        "ldhName": name.to_ascii_uppercase(),
        "links": [{"rel": "self", "href": format!("https://rdap.example/domain/{name}"),
                   "type": "application/rdap+json"}],
        "status": ["client delete prohibited", "client transfer prohibited"],
        "entities": [{"objectClassName": "entity", "handle": "292", "roles": ["registrar"],
                      "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                                ["fn", {}, "text", "Example Registrar, Inc."]]]}],
        "events": [
            {"eventAction": "registration", "eventDate": "1997-09-15T04:00:00Z"},
            {"eventAction": "expiration", "eventDate": expiration.to_string()},
            {"eventAction": "last changed", "eventDate": "2026-08-14T07:01:44Z"},
            {"eventAction": "last update of RDAP database", "eventDate": "2026-12-06T05:00:00Z"}
        ],
        "nameservers": [{"objectClassName": "nameserver", "ldhName": "NS1.EXAMPLE.NET"}],
        "secureDNS": {"delegationSigned": false},
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_1"],
        "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]
    })
    .to_string()
}

fn rdap(status: u16, body: &str) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/rdap+json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// A registry whose every `/domain/NAME` answer is `answer(NAME, request number)`.
async fn registry(answer: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Server {
    http_server(
        move |request, n| match request.path.strip_prefix("/rdap/domain/") {
            Some(name) => answer(name, n),
            None => rdap(400, r#"{"errorCode": 400, "title": "Bad Request"}"#),
        },
    )
    .await
}

fn check(server: &Server, rest: &str) -> upkeep_domain::config::Monitor {
    monitor(&format!(
        r#"{{ component: c, domain: {{ name: example.com, rdap_server: "{}" }}, {rest} }}"#,
        server.url("/rdap/")
    ))
}

async fn probe_once(server: &Server, rest: &str) -> ProbeOutcome {
    Prober::new().unwrap().probe(&check(server, rest)).await
}

#[tokio::test]
async fn domain_days_until_expiry_are_counted_and_tested() {
    let server = registry(|name, _| rdap(200, &rdap_domain(name, 100))).await;
    let outcome = probe_once(
        &server,
        r#"timeout: 5s, conditions: ["[DOMAIN_EXPIRY] == 100", "[BODY].status[1] == client transfer prohibited", "[BODY].name == EXAMPLE.COM"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    // Without a condition, 100 days is far enough.
    let outcome = probe_once(&server, "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");

    let outcome = probe_once(
        &server,
        r#"timeout: 5s, conditions: ["[DOMAIN_EXPIRY] > 120"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[DOMAIN_EXPIRY] > 120` failed: the registration expires in 100 days"
    );
}

#[tokio::test]
async fn domain_expiring_soon_or_expired_is_down_in_words() {
    let soon = registry(|name, _| rdap(200, &rdap_domain(name, 12))).await;
    let on = (Timestamp::now() + (12 * 24 + 1).hours()).strftime("%Y-%m-%d");
    let outcome = probe_once(&soon, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the registration of example.com expires in 12 days, on {on} (fewer than 30; a `[DOMAIN_EXPIRY]` condition sets another limit)"
        )
    );
    // A condition of the operator's replaces the default limit.
    let outcome = probe_once(&soon, r#"timeout: 5s, conditions: ["[DOMAIN_EXPIRY] > 7"]"#).await;
    assert!(outcome.ok, "{outcome:?}");

    let expired = registry(|name, _| rdap(200, &rdap_domain(name, -3))).await;
    let outcome = probe_once(&expired, "timeout: 5s").await;
    let words = failure(&outcome);
    assert!(
        words.starts_with("the registration of example.com expired 3 days ago, on "),
        "{words}"
    );
}

#[tokio::test]
async fn domain_answers_are_kept_between_checks() {
    let server = registry(|name, _| rdap(200, &rdap_domain(name, 90))).await;
    let prober = Prober::new().unwrap();
    let m = check(
        &server,
        r#"timeout: 5s, conditions: ["[DOMAIN_EXPIRY] == 90"]"#,
    );
    for _ in 0..3 {
        let outcome = prober.probe(&m).await;
        assert!(outcome.ok, "{outcome:?}");
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // With a short refresh the registry is asked again once it has passed.
    let m = monitor(&format!(
        r#"{{ component: c, domain: {{ name: example.org, rdap_server: "{}", refresh: 200ms }}, timeout: 5s }}"#,
        server.url("/rdap")
    ));
    assert!(prober.probe(&m).await.ok);
    assert!(prober.probe(&m).await.ok);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(prober.probe(&m).await.ok);
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn domain_not_found_and_server_errors_are_explained() {
    let server = registry(|_, _| {
        rdap(
            404,
            r#"{"errorCode": 404, "title": "Not Found", "description": ["The domain is not registered."]}"#,
        )
    })
    .await;
    let outcome = probe_once(&server, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "domain example.com not found at the RDAP server {} (404): not registered, or not with this registry",
            server.addr
        )
    );

    let broken = registry(|_, _| {
        rdap(
            503,
            r#"{"errorCode": 503, "title": "Service Unavailable", "description": ["Maintenance."]}"#,
        )
    })
    .await;
    let outcome = probe_once(&broken, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the RDAP server {} answered HTTP 503 for example.com (503 Service Unavailable: Maintenance.)",
            broken.addr
        )
    );
}

#[tokio::test]
async fn domain_rate_limits_are_honoured() {
    // The first lookup is refused for 2 s; the next one succeeds.
    let server = registry(|name, n| {
        if n == 0 {
            Reply::Full {
                status: 429,
                headers: vec![("Retry-After".into(), "2".into())],
                body: b"{\"errorCode\": 429, \"title\": \"Too Many Requests\"}".to_vec(),
            }
        } else {
            rdap(200, &rdap_domain(name, 60))
        }
    })
    .await;
    let prober = Prober::new().unwrap();
    let m = check(&server, "timeout: 5s");
    let outcome = prober.probe(&m).await;
    assert_eq!(
        failure(&outcome),
        format!(
            "rate-limited by the RDAP server {} (429): no lookup for 2 s (Retry-After)",
            server.addr
        )
    );
    // Meanwhile the registry is left alone.
    let outcome = prober.probe(&m).await;
    let words = failure(&outcome);
    assert!(
        words.starts_with(&format!(
            "rate-limited by the RDAP server {}: no lookup for ",
            server.addr
        )),
        "{words}"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let outcome = prober.probe(&m).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn domain_rate_limit_keeps_the_last_good_answer() {
    let server = registry(|name, n| {
        if n == 0 {
            rdap(200, &rdap_domain(name, 45))
        } else {
            Reply::Full {
                status: 429,
                headers: vec![("Retry-After".into(), "3600".into())],
                body: Vec::new(),
            }
        }
    })
    .await;
    let prober = Prober::new().unwrap();
    let m = monitor(&format!(
        r#"{{ component: c, domain: {{ name: example.com, rdap_server: "{}", refresh: 100ms }}, timeout: 5s, conditions: ["[DOMAIN_EXPIRY] == 45"] }}"#,
        server.url("/rdap/")
    ));
    assert!(prober.probe(&m).await.ok);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Refused now: the answer from before still counts, and the registry is not asked again.
    for _ in 0..2 {
        let outcome = prober.probe(&m).await;
        assert!(outcome.ok, "{outcome:?}");
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn domain_malformed_answers_are_explained() {
    let server = registry(|_, _| rdap(200, "<html>maintenance</html>")).await;
    let outcome = probe_once(&server, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the RDAP answer from {} for example.com is unusable: the answer is not JSON (expected value at line 1 column 1)",
            server.addr
        )
    );

    let entity =
        registry(|_, _| rdap(200, r#"{"objectClassName": "entity", "handle": "X"}"#)).await;
    let outcome = probe_once(&entity, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the RDAP answer from {} for example.com is unusable: the answer is an RDAP `entity` object, not a domain",
            entity.addr
        )
    );

    let undated = registry(|_, _| {
        rdap(
            200,
            r#"{"objectClassName": "domain", "ldhName": "example.com", "events": [{"eventAction": "registration", "eventDate": "1997-09-15T04:00:00Z"}]}"#,
        )
    })
    .await;
    let outcome = probe_once(&undated, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the RDAP answer for example.com from {} has no expiration event",
            undated.addr
        )
    );
}

#[tokio::test]
async fn domain_refused_and_silent_servers_are_explained() {
    let closed = closed_port().await;
    let m = monitor(&format!(
        r#"{{ component: c, domain: {{ name: example.com, rdap_server: "http://{closed}/rdap" }}, timeout: 5s }}"#
    ));
    let outcome = Prober::new().unwrap().probe(&m).await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = registry(|_, _| Reply::Hang).await;
    let outcome = probe_once(&silent, "timeout: 500ms").await;
    assert_eq!(
        failure(&outcome),
        "timed out after 500 ms waiting for the RDAP server's answer about example.com"
    );
}

#[tokio::test]
async fn domain_server_comes_from_the_bootstrap_file() {
    let server = registry(|name, _| rdap(200, &rdap_domain(name, 200))).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dns.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"version": "1.0", "publication": "2026-12-01T00:00:00Z", "services": [[["test"], ["{}"]]]}}"#,
            server.url("/rdap/")
        ),
    )
    .unwrap();
    let with = |name: &str| {
        monitor(&format!(
            r#"{{ component: c, domain: {{ name: {name}, bootstrap_file: "{}" }}, timeout: 5s, conditions: ["[DOMAIN_EXPIRY] == 200"] }}"#,
            path.display()
        ))
    };
    let prober = Prober::new().unwrap();
    let outcome = prober.probe(&with("shop.example.test")).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    let outcome = prober.probe(&with("example.zz")).await;
    assert_eq!(
        failure(&outcome),
        "no RDAP server for .zz in the bootstrap file (published 2026-12-01T00:00:00Z): set `rdap_server` for example.zz"
    );
    // The built-in file: .de has no RDAP service there (nothing is sent anywhere).
    let m = monitor("{ component: c, domain: { name: example.de }, timeout: 5s }");
    let outcome = prober.probe(&m).await;
    assert_eq!(
        failure(&outcome),
        "no RDAP server for .de in the bootstrap file (published 2026-01-30T00:00:01Z): set `rdap_server` for example.de"
    );
    std::fs::write(&path, "{}").unwrap();
    let outcome = prober.probe(&with("example.test")).await;
    assert_eq!(
        failure(&outcome),
        format!(
            "{}: the bootstrap file has no `services` list",
            path.display()
        )
    );
}
