//! TLS failures of the kinds that speak TLS through a URL scheme (`rediss://`, `mqtts://`,
//! `wss://`) or a URL option (`sslmode=verify-full`, `ssl-mode=VERIFY_IDENTITY`): a server whose
//! certificate the web's roots do not vouch for, and a server that speaks no TLS at all, are
//! each explained as a TLS failure naming where, never as a bare I/O error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_support::{TestCert, failure, monitor, tls_server};

async fn probe(kind: &str, url: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        r#"{{ component: c, {kind}: {{ url: "{url}" }}, timeout: 3s }}"#
    ));
    Prober::new().unwrap().probe(&m).await
}

fn assert_tls_failure(outcome: &ProbeOutcome, kind: &str) {
    let text = failure(outcome);
    assert!(!outcome.ok, "{kind}: {outcome:?}");
    assert!(
        text.to_lowercase().contains("tls") || text.contains("certificate"),
        "{kind}: not said to be a TLS failure: {text}"
    );
}

/// A TLS server with a self-signed certificate (for 127.0.0.1 and localhost).
async fn untrusted() -> SocketAddr {
    tls_server(&TestCert::expiring_in(30)).await
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_failure_for_every_url_kind() {
    for (kind, scheme) in [("redis", "rediss"), ("mqtt", "mqtts"), ("websocket", "wss")] {
        let server = untrusted().await;
        let outcome = probe(kind, &format!("{scheme}://127.0.0.1:{}/", server.port())).await;
        assert_tls_failure(&outcome, kind);
        let text = failure(&outcome);
        assert!(
            text.contains("certificate") || text.contains("UnknownIssuer"),
            "{kind}: the certificate is not named: {text}"
        );
    }
}

#[tokio::test]
async fn a_server_without_tls_is_a_tls_failure() {
    // Mosquitto on this machine speaks plain TCP only. (Redis reads a TLS greeting as an
    // unfinished command and stays silent: `rediss://` to a plain Redis times out, in words.)
    if let Some(url) = peer::redis_url() {
        let url = url.replacen("redis://", "rediss://", 1);
        let text = failure(&probe("redis", &url).await);
        assert!(text.starts_with("timed out after 3 s"), "{text}");
    }
    if let Some(url) = peer::mqtt_url() {
        let url = url.replacen("mqtt://", "mqtts://", 1);
        assert_tls_failure(&probe("mqtt", &url).await, "mqtt");
    }
    // PostgreSQL and MariaDB with verification required: refused (no TLS offered, or a
    // certificate the web's roots do not vouch for).
    if let Some(url) = peer::postgres_url("a_server_without_tls_is_a_tls_failure") {
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}sslmode=verify-full");
        assert_tls_failure(&probe("postgres", &url).await, "postgres");
    }
    if let Some(url) = peer::mariadb_url() {
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}ssl-mode=VERIFY_IDENTITY");
        assert_tls_failure(&probe("mysql", &url).await, "mysql");
    }
}
