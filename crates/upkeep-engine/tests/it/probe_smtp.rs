//! `smtp` probes against a real SMTP server (aiosmtpd, through `scripts/smtp_sink.py`): the
//! greeting and extensions in conditions, STARTTLS under a certificate trusted through
//! `ca_file` and refused without it, implicit TLS (`smtps://`), the certificate's expiry in
//! conditions, and refused ports, silent listeners, refusals at the greeting and data injected
//! after STARTTLS explained in words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};

use crate::notify_send::Sink;
use crate::probe_support::{TestCert, closed_port, failure, line_server, monitor, silent_listener};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    probe_kind("smtp", fields, rest).await
}

async fn probe_kind(kind: &str, fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        "{{ component: c, {kind}: {{ {fields} }}, {rest} }}"
    ));
    Prober::new().unwrap().probe(&m).await
}

/// What both mail kinds show against a server at `url` that offers STARTTLS under a
/// certificate with 30 days left, which `ca_file` trusts: the upgrade and the expiry in
/// conditions, the certificate refused under the web's roots, and clear text on request.
/// `names` is `extensions` or `capabilities`.
pub(crate) async fn starttls_round(kind: &str, url: &str, ca_file: &str, names: &str) {
    let trusted = format!(r#"{url}, ca_file: "{ca_file}""#);
    let outcome = probe_kind(
        kind,
        &trusted,
        r#"timeout: 5s, conditions: ["[CERT_EXPIRY] > 14", "[BODY].tls == starttls"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.cert_expiry_days, Some(30));

    let outcome = probe_kind(
        kind,
        &trusted,
        r#"timeout: 5s, conditions: ["[CERT_EXPIRY] > 60"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "certificate expires in 30 days (condition `[CERT_EXPIRY] > 60`)"
    );
    assert_eq!(outcome.cert_expiry_days, Some(30));

    // Offered, so used, and the web's roots do not know this certificate.
    let outcome = probe_kind(kind, url, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        "TLS handshake with 127.0.0.1 failed: the certificate is not signed by a trusted authority"
    );

    // Clear text is the operator's choice: the offer is seen, no certificate is.
    let clear = format!("{url}, starttls: never");
    let seen = format!(
        r#"timeout: 5s, conditions: ["[BODY].tls == none", "[BODY].{names} contains STARTTLS"]"#
    );
    let outcome = probe_kind(kind, &clear, &seen).await;
    assert!(outcome.ok, "{outcome:?}");
    let outcome = probe_kind(
        kind,
        &clear,
        r#"timeout: 5s, conditions: ["[CERT_EXPIRY] > 1"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[CERT_EXPIRY] > 1` failed: no certificate was observed"
    );
}

#[tokio::test]
async fn smtp_greets_and_tests_the_banner_and_extensions() {
    let Some(sink) = Sink::start(&[]).await else {
        return;
    };
    let url = format!(r#"url: "smtp://127.0.0.1:{}""#, sink.port);
    let outcome = probe(
        &url,
        r#"timeout: 5s, conditions: ["[BODY] contains upkeep-sink", "[BODY].extensions contains 8BITMIME", "[BODY].tls == none", "[RESPONSE_TIME] < 5000"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.cert_expiry_days, None);

    let outcome = probe(
        &url,
        r#"timeout: 5s, conditions: ["[BODY] contains Postfix"]"#,
    )
    .await;
    let text = failure(&outcome);
    assert!(
        text.starts_with("condition `[BODY] contains Postfix` failed: the body was \"upkeep-sink"),
        "{text}"
    );

    // A server that does not offer STARTTLS fails a check that requires it.
    let outcome = probe(&format!("{url}, starttls: required"), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SMTP server at 127.0.0.1:{} does not offer STARTTLS (`starttls: required`); \
             the dialogue would be in clear text",
            sink.port
        )
    );
}

#[tokio::test]
async fn smtp_starttls_trusts_the_ca_file_only_and_reads_the_expiry() {
    let cert = TestCert::expiring_in(30);
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = cert.write_pem(dir.path());
    let Some(sink) =
        Sink::start(&["--starttls-cert", &cert_path, "--starttls-key", &key_path]).await
    else {
        return;
    };
    let url = format!(r#"url: "smtp://127.0.0.1:{}""#, sink.port);
    starttls_round("smtp", &url, &cert_path, "extensions").await;

    // The same certificate under `localhost` too, with the upgrade required.
    let outcome = probe(
        &format!(
            r#"url: "smtp://localhost:{}", ca_file: "{cert_path}", starttls: required"#,
            sink.port
        ),
        r#"timeout: 5s, conditions: ["[BODY].tls == starttls", "[BODY].extensions contains SIZE"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    // A CA file that is not one.
    let outcome = probe(&format!(r#"{url}, ca_file: "{key_path}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("the CA file {key_path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    );
}

#[tokio::test]
async fn smtps_is_tls_from_the_first_byte() {
    let cert = TestCert::expiring_in(45);
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = cert.write_pem(dir.path());
    let Some(sink) = Sink::start(&["--tls-cert", &cert_path, "--tls-key", &key_path]).await else {
        return;
    };
    let outcome = probe(
        &format!(
            r#"url: "smtps://127.0.0.1:{}", ca_file: "{cert_path}""#,
            sink.port
        ),
        r#"timeout: 5s, conditions: ["[BODY].tls == tls", "[CERT_EXPIRY] >= 45"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.cert_expiry_days, Some(45));

    // A plain client at a TLS port: the server's TLS never answers a greeting.
    let outcome = probe(
        &format!(r#"url: "smtp://127.0.0.1:{}""#, sink.port),
        "timeout: 1s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "timed out after 1 s waiting for the greeting of the SMTP server at 127.0.0.1:{}",
            sink.port
        )
    );
}

#[tokio::test]
async fn smtp_failures_are_explained() {
    let closed = closed_port().await;
    let outcome = probe(&format!(r#"url: "smtp://{closed}""#), "timeout: 5s").await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let outcome = probe(&format!(r#"url: "smtp://{silent}""#), "timeout: 1s").await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 1 s waiting for the greeting of the SMTP server at {silent}")
    );

    let busy = line_server("554 5.3.2 too busy, try later\r\n", |_| String::new()).await;
    let outcome = probe(&format!(r#"url: "smtp://{busy}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("the SMTP server at {busy} refused the session: 554 5.3.2 too busy, try later")
    );

    let http = line_server("HTTP/1.1 400 Bad Request\r\n\r\n", |_| String::new()).await;
    let outcome = probe(&format!(r#"url: "smtp://{http}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SMTP server at {http} broke the protocol (is it SMTP?): \
             `HTTP/1.1 400 Bad Request` is not an SMTP reply"
        )
    );

    // A reply to STARTTLS followed by more, before the handshake: refused, never read as TLS.
    let injecting = line_server("220 mx ESMTP\r\n", |line| {
        if line.starts_with("EHLO") {
            "250-mx\r\n250 STARTTLS\r\n".to_owned()
        } else if line == "STARTTLS" {
            "220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n".to_owned()
        } else {
            String::new()
        }
    })
    .await;
    let outcome = probe(&format!(r#"url: "smtp://{injecting}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SMTP server at {injecting} broke the protocol (is it SMTP?): it sent more after \
             agreeing to STARTTLS (data injected before the handshake)"
        )
    );
}
