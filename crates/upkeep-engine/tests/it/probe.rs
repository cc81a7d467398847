//! Probes against real local targets: HTTP servers that answer, flap, stall, hang, trickle,
//! redirect and stream 100 MB; TLS servers with certificates made in the test; TCP listeners
//! and closed ports; a DNS responder on a local UDP port. Nothing leaves the machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::probe_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData};
use probe_support::*;
use upkeep_engine::monitoring::probe::{MAX_BODY_BYTES, ProbeOutcome, Prober};

fn prober() -> Prober {
    Prober::new().unwrap()
}

fn failure(outcome: &ProbeOutcome) -> &str {
    assert!(!outcome.ok, "expected a failure, got {outcome:?}");
    outcome.failure.as_deref().expect("a failed probe says why")
}

fn assert_ok(outcome: &ProbeOutcome) {
    assert!(outcome.ok, "expected success, got {outcome:?}");
    assert_eq!(outcome.failure, None);
}

// ---------------------------------------------------------------- http

#[tokio::test]
async fn http_json_body_meets_the_contract_conditions() {
    let server = http_server(|_, _| Reply::json(200, r#"{"status": "ok", "n": 3}"#)).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}", method: GET }}, timeout: 5s,
             conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 2000", "[BODY].status == ok", "[BODY].n >= 3"] }}"#,
        server.url("/health")
    ));
    let outcome = prober().probe(&m).await;
    assert_ok(&outcome);
    assert_eq!(outcome.status_code, Some(200));
    assert_eq!(outcome.cert_expiry_days, None);
    assert!(outcome.latency_ms < 2000, "{outcome:?}");
}

#[tokio::test]
async fn http_wrong_body_says_what_was_seen() {
    let server = http_server(|_, _| Reply::json(200, r#"{"status": "degraded"}"#)).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[BODY].status == ok"] }}"#,
        server.url("/")
    ));
    let outcome = prober().probe(&m).await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[BODY].status == ok` failed: `status` was "degraded""#
    );
    assert_eq!(outcome.status_code, Some(200));

    let html = http_server(|_, _| Reply::text(200, "<html>maintenance</html>")).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[BODY].status == ok", "[BODY] contains maintenance"] }}"#,
        html.url("/")
    ));
    let outcome = prober().probe(&m).await;
    assert_eq!(
        failure(&outcome),
        "condition `[BODY].status == ok` failed: the body is not JSON"
    );
}

#[tokio::test]
async fn http_flapping_target_alternates_between_ok_and_failed() {
    let server = http_server(|_, n| {
        if n % 2 == 0 {
            Reply::status(200)
        } else {
            Reply::status(503)
        }
    })
    .await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[STATUS] == 200"] }}"#,
        server.url("/")
    ));
    let prober = prober();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let outcome = prober.probe(&m).await;
        seen.push((outcome.ok, outcome.status_code));
        if !outcome.ok {
            assert_eq!(
                outcome.failure.as_deref(),
                Some("condition `[STATUS] == 200` failed: the status was 503")
            );
        }
    }
    assert_eq!(
        seen,
        vec![
            (true, Some(200)),
            (false, Some(503)),
            (true, Some(200)),
            (false, Some(503))
        ]
    );
}

#[tokio::test]
async fn http_status_defaults_to_2xx_and_honours_expected_status() {
    let server = http_server(|request, _| match request.path.as_str() {
        "/created" => Reply::status(201),
        "/empty" => Reply::status(204),
        "/broken" => Reply::status(500),
        _ => Reply::status(404),
    })
    .await;
    let prober = prober();
    let probe = |path: &str, extra: &str| {
        monitor(&format!(
            r#"{{ component: c, http: {{ url: "{}" {extra} }} }}"#,
            server.url(path)
        ))
    };
    assert_ok(&prober.probe(&probe("/empty", "")).await);
    let broken = prober.probe(&probe("/broken", "")).await;
    assert_eq!(failure(&broken), "the status was 500 (expected 2xx)");
    assert_eq!(broken.status_code, Some(500));

    assert_ok(
        &prober
            .probe(&probe("/created", ", expected_status: 201"))
            .await,
    );
    let wrong = prober
        .probe(&probe("/empty", ", expected_status: 201"))
        .await;
    assert_eq!(failure(&wrong), "the status was 204 (expected 201)");
    // A 404 is fine when that is what is expected.
    assert_ok(
        &prober
            .probe(&probe("/missing", ", expected_status: 404"))
            .await,
    );

    // A condition on [STATUS] replaces the 2xx default...
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[STATUS] == 500"] }}"#,
        server.url("/broken")
    ));
    assert_ok(&prober.probe(&m).await);
    // ...but an explicit expected_status still applies beside it.
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}", expected_status: 200 }}, conditions: ["[STATUS] >= 500"] }}"#,
        server.url("/broken")
    ));
    assert_eq!(
        failure(&prober.probe(&m).await),
        "the status was 500 (expected 200)"
    );
}

#[tokio::test]
async fn http_sends_method_headers_and_body() {
    let server = http_server(|request, _| {
        let ok = request.method == "POST"
            && request.header("x-token") == Some("s3cret")
            && request.body == b"{\"ping\":1}";
        Reply::text(
            if ok { 200 } else { 400 },
            &format!("{} {}", request.method, request.path),
        )
    })
    .await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}", method: post, headers: {{ X-Token: s3cret }}, body: '{{"ping":1}}' }},
             conditions: ["[BODY] == POST /submit"] }}"#,
        server.url("/submit")
    ));
    let outcome = prober().probe(&m).await;
    assert_ok(&outcome);
    assert_eq!(outcome.status_code, Some(200));
}

#[tokio::test]
async fn http_slow_target_times_out_within_the_timeout() {
    let server =
        http_server(|_, _| Reply::Delayed(Duration::from_secs(5), Box::new(Reply::status(200))))
            .await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, timeout: 500ms }}"#,
        server.url("/")
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    let elapsed = started.elapsed();
    assert_eq!(
        failure(&outcome),
        "timed out after 500 ms waiting for the response headers"
    );
    assert!(elapsed < Duration::from_millis(1200), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!((500..1200).contains(&outcome.latency_ms), "{outcome:?}");
    assert_eq!(outcome.status_code, None);
}

#[tokio::test]
async fn http_hanging_target_times_out() {
    let server = http_server(|_, _| Reply::Hang).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, timeout: 500ms }}"#,
        server.url("/")
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    assert!(failure(&outcome).starts_with("timed out after 500 ms"));
    assert!(started.elapsed() < Duration::from_millis(1200));
}

#[tokio::test]
async fn http_trickling_body_cannot_stretch_the_timeout() {
    let server = http_server(|_, _| Reply::Trickle {
        total: 100,
        every: Duration::from_secs(1),
    })
    .await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, timeout: 1500ms }}"#,
        server.url("/")
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    let elapsed = started.elapsed();
    let text = failure(&outcome);
    assert!(
        text.starts_with("timed out after 1.5 s while reading the body ("),
        "{text}"
    );
    assert!(text.ends_with("bytes received)"), "{text}");
    assert!(elapsed < Duration::from_millis(2200), "{elapsed:?}");
}

#[tokio::test]
async fn http_huge_body_is_capped_and_not_buffered() {
    let sent = Arc::new(AtomicU64::new(0));
    let total: u64 = 100 * 1024 * 1024;
    let counter = Arc::clone(&sent);
    let server = http_server(move |_, _| Reply::Stream {
        len: total,
        sent: Arc::clone(&counter),
    })
    .await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, timeout: 10s, conditions: ["[BODY] matches \"^x+$\""] }}"#,
        server.url("/big")
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    assert_ok(&outcome);
    assert!(started.elapsed() < Duration::from_secs(3), "{outcome:?}");
    // The server could not push the whole body: the probe stopped reading at the cap and
    // dropped the connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = sent.load(Ordering::SeqCst);
    assert!(written >= MAX_BODY_BYTES as u64 / 2, "{written}");
    assert!(written < total / 4, "the server wrote {written} bytes");
}

#[tokio::test]
async fn http_body_beyond_the_cap_is_not_seen_by_conditions() {
    let mut body = vec![b'a'; MAX_BODY_BYTES];
    body.extend_from_slice(b"TAIL");
    let server = http_server(move |_, _| Reply::bytes(200, body.clone())).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[BODY] contains TAIL"] }}"#,
        server.url("/")
    ));
    let text = prober().probe(&m).await.failure.unwrap();
    assert!(
        text.starts_with("condition `[BODY] contains TAIL` failed: the body was \"aaaa"),
        "{text}"
    );
    assert!(text.chars().count() <= 300, "{text}");
}

#[tokio::test]
async fn http_invalid_utf8_body_is_read_lossily() {
    let server = http_server(|_, _| Reply::bytes(200, b"\xff\xfe status: ok \xc3".to_vec())).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[BODY] contains \"status: ok\"", "[BODY] matches \"^\\uFFFD\""] }}"#,
        server.url("/")
    ));
    assert_ok(&prober().probe(&m).await);
}

#[tokio::test]
async fn http_redirects_follow_when_asked_and_stop_when_not() {
    let server = http_server(|request, _| match request.path.as_str() {
        "/old" => Reply::redirect(301, "/new"),
        "/new" => Reply::text(200, "moved here"),
        "/loop" => Reply::redirect(302, "/loop"),
        path => match path
            .strip_prefix("/hop/")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(0) => Reply::text(200, "end"),
            Some(n) => Reply::redirect(302, &format!("/hop/{}", n - 1)),
            None => Reply::status(404),
        },
    })
    .await;
    let prober = prober();
    let m = |path: &str, follow: bool, extra: &str| {
        monitor(&format!(
            r#"{{ component: c, http: {{ url: "{}", follow_redirects: {follow} {extra} }}, conditions: [] }}"#,
            server.url(path)
        ))
    };

    let followed = prober.probe(&m("/old", true, "")).await;
    assert_ok(&followed);
    assert_eq!(followed.status_code, Some(200));

    let not_followed = prober.probe(&m("/old", false, "")).await;
    assert_eq!(not_followed.status_code, Some(301));
    assert_eq!(
        failure(&not_followed),
        "the status was 301 (expected 2xx); redirects are not followed"
    );
    assert_ok(
        &prober
            .probe(&m("/old", false, ", expected_status: 301"))
            .await,
    );

    // Ten hops are followed; eleven are too many; a loop ends at the limit.
    assert_ok(&prober.probe(&m("/hop/10", true, "")).await);
    let too_many = prober.probe(&m("/hop/11", true, "")).await;
    assert_eq!(
        failure(&too_many),
        "redirect limit reached (more than 10 redirects)"
    );
    let looping = prober.probe(&m("/loop", true, "")).await;
    assert_eq!(
        failure(&looping),
        "redirect limit reached (more than 10 redirects)"
    );
}

/// A redirect to another host name is not followed by default: a target cannot send the
/// prober to other hosts (`redirect_hosts: any` allows it).
#[tokio::test]
async fn http_redirects_to_other_hosts_are_not_followed_by_default() {
    let target = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let shared = std::sync::Arc::clone(&target);
    let server = http_server(move |request, _| match request.path.as_str() {
        "/away" => Reply::redirect(302, &shared.lock().unwrap()),
        "/new" => Reply::text(200, "elsewhere"),
        _ => Reply::status(404),
    })
    .await;
    let elsewhere = server.url("/new").replace("127.0.0.1", "localhost");
    let prober = prober();
    let m = |extra: &str| {
        monitor(&format!(
            r#"{{ component: c, http: {{ url: "{}" {extra} }}, conditions: [] }}"#,
            server.url("/away")
        ))
    };
    *target.lock().unwrap() = elsewhere;
    let stopped = prober.probe(&m("")).await;
    assert_eq!(stopped.status_code, Some(302));
    assert_eq!(
        failure(&stopped),
        "the status was 302 (expected 2xx); redirects to other hosts are not followed \
         (`redirect_hosts: any`)"
    );
    let followed = prober.probe(&m(", redirect_hosts: any")).await;
    assert_ok(&followed);
    assert_eq!(followed.status_code, Some(200));
}

#[tokio::test]
async fn http_connection_refused_names_the_address() {
    let addr = closed_port().await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "http://{addr}/health" }} }}"#
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    assert_eq!(failure(&outcome), format!("connection refused by {addr}"));
    assert_eq!(outcome.status_code, None);
    assert!(started.elapsed() < Duration::from_millis(1200));
}

#[tokio::test]
async fn http_server_closing_without_answer_is_reported() {
    // A raw listener that accepts and closes at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "http://{addr}/" }} }}"#
    ));
    let text = prober().probe(&m).await.failure.unwrap();
    assert!(
        text == format!("{addr} closed the connection without answering")
            || text == format!("connection reset by {addr}"),
        "{text}"
    );
}

#[tokio::test]
async fn slow_targets_do_not_delay_a_fast_one() {
    let slow =
        http_server(|_, _| Reply::Delayed(Duration::from_secs(5), Box::new(Reply::status(200))))
            .await;
    let fast = http_server(|_, _| Reply::status(200)).await;
    let prober = prober();
    let slow_monitor = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, timeout: 2s }}"#,
        slow.url("/")
    ));
    let fast_monitor = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, timeout: 2s }}"#,
        fast.url("/")
    ));
    let mut slow_probes = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let prober = prober.clone();
        let m = slow_monitor.clone();
        slow_probes.spawn(async move { prober.probe(&m).await });
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let outcome = prober.probe(&fast_monitor).await;
    let elapsed = started.elapsed();
    assert_ok(&outcome);
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    let mut timed_out = 0;
    while let Some(result) = slow_probes.join_next().await {
        let outcome = result.unwrap();
        assert_eq!(
            outcome.failure.as_deref(),
            Some("timed out after 2 s waiting for the response headers")
        );
        timed_out += 1;
    }
    assert_eq!(timed_out, 20);
}

// ---------------------------------------------------------------- https and tls

#[tokio::test]
async fn https_without_verification_reports_status_and_expiry() {
    let cert = TestCert::expiring_in(30);
    let server = https_server(&cert, |_, _| Reply::json(200, r#"{"status":"ok"}"#)).await;
    let prober = prober();

    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}", verify_tls: false }}, conditions: ["[BODY].status == ok", "[CERT_EXPIRY] > 14"] }}"#,
        server.https_url("/")
    ));
    let outcome = prober.probe(&m).await;
    assert_ok(&outcome);
    assert_eq!(outcome.status_code, Some(200));
    assert_eq!(outcome.cert_expiry_days, Some(30));

    // With verification on, a self-signed certificate fails the handshake, in words.
    let verified = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }} }}"#,
        server.https_url("/")
    ));
    let outcome = prober.probe(&verified).await;
    assert_eq!(
        failure(&outcome),
        "TLS handshake with 127.0.0.1 failed: the certificate is not signed by a trusted authority"
    );
    assert_eq!(outcome.status_code, None);
}

#[tokio::test]
async fn tls_reports_days_until_expiry() {
    let cert = TestCert::expiring_in(30);
    let addr = tls_server(&cert).await;
    let prober = prober();
    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{addr}", server_name: localhost }} }}"#
    ));
    let outcome = prober.probe(&m).await;
    assert_ok(&outcome);
    assert_eq!(outcome.cert_expiry_days, Some(30));
    assert_eq!(outcome.status_code, None);

    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{addr}", server_name: localhost }}, conditions: ["[CERT_EXPIRY] > 40"] }}"#
    ));
    let outcome = prober.probe(&m).await;
    assert_eq!(
        failure(&outcome),
        "certificate expires in 30 days (condition `[CERT_EXPIRY] > 40`)"
    );
    assert_eq!(outcome.cert_expiry_days, Some(30));
}

#[tokio::test]
async fn tls_expired_certificate_still_gives_its_days() {
    let cert = TestCert::expiring_in(-3);
    let addr = tls_server(&cert).await;
    let prober = prober();
    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{addr}" }} }}"#
    ));
    let outcome = prober.probe(&m).await;
    assert_eq!(failure(&outcome), "certificate expired 3 days ago");
    assert_eq!(outcome.cert_expiry_days, Some(-3));

    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{addr}" }}, conditions: ["[CERT_EXPIRY] > 14"] }}"#
    ));
    let outcome = prober.probe(&m).await;
    assert_eq!(
        failure(&outcome),
        "certificate expired 3 days ago (condition `[CERT_EXPIRY] > 14`)"
    );

    // https with verification off still answers, and still sees the expiry.
    let server = https_server(&cert, |_, _| Reply::status(200)).await;
    let m = monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}", verify_tls: false }} }}"#,
        server.https_url("/")
    ));
    let outcome = prober.probe(&m).await;
    assert_ok(&outcome);
    assert_eq!(outcome.cert_expiry_days, Some(-3));
}

#[tokio::test]
async fn tls_against_plain_tcp_and_closed_ports_fails_in_words() {
    // A plain-text server that answers anything with a 400 and closes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let prober = prober();
    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{plain}", server_name: localhost }}, timeout: 2s }}"#
    ));
    assert_eq!(
        failure(&prober.probe(&m).await),
        "TLS handshake with 127.0.0.1 failed: the server does not speak TLS"
    );

    let closed = closed_port().await;
    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{closed}" }} }}"#
    ));
    let outcome = prober.probe(&m).await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));
    assert_eq!(outcome.cert_expiry_days, None);
}

#[tokio::test]
async fn tls_hanging_handshake_times_out() {
    let addr = silent_listener().await;
    let m = monitor(&format!(
        r#"{{ component: c, tls: {{ address: "{addr}" }}, timeout: 500ms }}"#
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 500 ms during the TLS handshake with {addr}")
    );
    assert!(started.elapsed() < Duration::from_millis(1200));
}

// ---------------------------------------------------------------- tcp

#[tokio::test]
async fn tcp_connects_or_says_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    let closed = closed_port().await;
    let prober = prober();

    let outcome = prober
        .probe(&monitor(&format!(
            r#"{{ component: c, tcp: {{ address: "{open}" }}, conditions: ["[RESPONSE_TIME] < 1000"] }}"#
        )))
        .await;
    assert_ok(&outcome);
    assert!(outcome.latency_ms < 1000);

    let outcome = prober
        .probe(&monitor(&format!(
            r#"{{ component: c, tcp: {{ address: "{closed}" }} }}"#
        )))
        .await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    // Conditions apply to the connect time.
    let outcome = prober
        .probe(&monitor(&format!(
            r#"{{ component: c, tcp: {{ address: "{open}" }}, conditions: ["[RESPONSE_TIME] < 0"] }}"#
        )))
        .await;
    let text = failure(&outcome);
    assert!(
        text.starts_with("condition `[RESPONSE_TIME] < 0` failed: the response time was "),
        "{text}"
    );
    drop(listener);
}

// ---------------------------------------------------------------- dns

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

async fn zone() -> DnsServer {
    dns_server(vec![
        ("api.upkeep.test", RData::A(A::new(10, 1, 2, 3))),
        ("api.upkeep.test", RData::A(A::new(10, 1, 2, 4))),
        (
            "api.upkeep.test",
            RData::AAAA(AAAA::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        ),
        (
            "api.upkeep.test",
            RData::TXT(TXT::new(vec!["v=spf1 -all".to_owned()])),
        ),
        (
            "www.upkeep.test",
            RData::CNAME(CNAME(name("API.Upkeep.test."))),
        ),
        (
            "upkeep.test",
            RData::MX(MX::new(10, name("mail.upkeep.test."))),
        ),
    ])
    .await
}

fn dns_monitor(server: &std::net::SocketAddr, fields: &str) -> upkeep_domain::config::Monitor {
    monitor(&format!(
        r#"{{ component: c, dns: {{ resolver: "{server}", {fields} }}, timeout: 2s }}"#
    ))
}

#[tokio::test]
async fn dns_answers_are_checked_against_expected() {
    let server = zone().await;
    let prober = prober();
    let cases = [
        r#"name: api.upkeep.test, expected: "10.1.2.4""#,
        r#"name: api.upkeep.test., record_type: A"#,
        r#"name: api.upkeep.test, record_type: AAAA, expected: "fd00:0:0::1""#,
        r#"name: api.upkeep.test, record_type: txt, expected: "v=spf1 -all""#,
        r#"name: www.upkeep.test, record_type: CNAME, expected: "api.upkeep.TEST""#,
        r#"name: www.upkeep.test, record_type: CNAME, expected: "api.upkeep.test.""#,
        // An A query for an alias follows the CNAME.
        r#"name: WWW.upkeep.test, expected: "10.1.2.3""#,
        r#"name: upkeep.test, record_type: MX, expected: "mail.upkeep.test""#,
        r#"name: upkeep.test, record_type: MX, expected: "10 mail.upkeep.test.""#,
    ];
    for fields in cases {
        let outcome = prober.probe(&dns_monitor(&server.addr, fields)).await;
        assert!(outcome.ok, "{fields}: {outcome:?}");
        assert!(outcome.latency_ms < 2000);
    }

    let before = server.queries.load(Ordering::SeqCst);
    prober
        .probe(&dns_monitor(&server.addr, "name: api.upkeep.test"))
        .await;
    prober
        .probe(&dns_monitor(&server.addr, "name: api.upkeep.test"))
        .await;
    assert_eq!(
        server.queries.load(Ordering::SeqCst) - before,
        2,
        "every probe asks the server (no answer cache)"
    );
}

#[tokio::test]
async fn dns_failures_say_what_was_missing() {
    let server = zone().await;
    let prober = prober();

    let wrong = prober
        .probe(&dns_monitor(
            &server.addr,
            r#"name: api.upkeep.test, expected: "10.9.9.9""#,
        ))
        .await;
    let text = failure(&wrong);
    assert!(
        text.starts_with(
            "DNS: A records of api.upkeep.test do not include `10.9.9.9` (answers: 10.1.2."
        ),
        "{text}"
    );

    let missing = prober
        .probe(&dns_monitor(&server.addr, "name: nowhere.upkeep.test"))
        .await;
    assert_eq!(
        failure(&missing),
        format!(
            "DNS: nowhere.upkeep.test does not exist (NXDOMAIN from {})",
            server.addr
        )
    );

    let no_data = prober
        .probe(&dns_monitor(
            &server.addr,
            "name: upkeep.test, record_type: AAAA",
        ))
        .await;
    assert_eq!(failure(&no_data), "DNS: no AAAA record for upkeep.test");
}

#[tokio::test]
async fn dns_silent_resolver_times_out() {
    let silent = silent_dns_server().await;
    let m = monitor(&format!(
        r#"{{ component: c, dns: {{ name: api.upkeep.test, resolver: "{silent}" }}, timeout: 500ms }}"#
    ));
    let started = Instant::now();
    let outcome = prober().probe(&m).await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 500 ms waiting for an answer from {silent}")
    );
    assert!(started.elapsed() < Duration::from_millis(1200));
}

// ---------------------------------------------------------------- push

#[tokio::test]
async fn push_monitors_are_not_probed() {
    let m = monitor("{ component: c, push: { key: nightly-backup, period: 1d } }");
    let outcome = prober().probe(&m).await;
    assert_eq!(failure(&outcome), "push monitors are not probed");
}

// ---------------------------------------------------------------- the scheduler's view

#[tokio::test]
async fn probes_can_be_spawned_from_a_shared_prober() {
    fn assert_send<T: Send + 'static>(value: T) -> T {
        value
    }
    let server = http_server(|_, _| Reply::status(200)).await;
    let prober = prober();
    let m = Arc::new(monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }} }}"#,
        server.url("/")
    )));
    let task = {
        let prober = prober.clone();
        let m = Arc::clone(&m);
        assert_send(async move { prober.probe(&m).await })
    };
    assert_ok(&tokio::spawn(task).await.unwrap());
    // One pooled connection served both probes.
    assert_ok(&prober.probe(&m).await);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
}

/// Measures the cost of a probe against a local keep-alive target: run with
/// `cargo test -p upkeep-engine --test it -- --ignored --nocapture probe::measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_probe_overhead() {
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        (ticks(11) + ticks(12)) / 100.0
    }
    let server = http_server(|_, _| Reply::json(200, r#"{"status":"ok"}"#)).await;
    let prober = prober();
    let m = Arc::new(monitor(&format!(
        r#"{{ component: c, http: {{ url: "{}" }}, conditions: ["[STATUS] == 200", "[BODY].status == ok"] }}"#,
        server.url("/")
    )));
    for _ in 0..100 {
        prober.probe(&m).await;
    }
    let n = 3000;
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    for _ in 0..n {
        assert!(prober.probe(&m).await.ok);
    }
    let (sequential_wall, sequential_cpu) = (wall.elapsed(), cpu_seconds() - cpu);
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let prober = prober.clone();
        let m = Arc::clone(&m);
        set.spawn(async move { prober.probe(&m).await.ok });
    }
    let mut ok = 0;
    while let Some(result) = set.join_next().await {
        ok += usize::from(result.unwrap());
    }
    let (concurrent_wall, concurrent_cpu) = (wall.elapsed(), cpu_seconds() - cpu);
    println!(
        "sequential: {n} probes in {sequential_wall:?} ({:.0} µs each, {:.0} µs CPU each incl. the test server)",
        sequential_wall.as_micros() as f64 / n as f64,
        sequential_cpu * 1e6 / n as f64
    );
    println!(
        "concurrent: {n} probes in {concurrent_wall:?} ({ok} ok, {:.0} µs CPU each incl. the test server)",
        concurrent_cpu * 1e6 / n as f64
    );
}
