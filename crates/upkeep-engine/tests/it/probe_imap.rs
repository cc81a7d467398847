//! `imap` probes against a real IMAP server: Dovecot (Debian's `dovecot-imapd`), started here
//! on loopback ports with a configuration, certificate and state of its own in a temporary
//! directory (plain with STARTTLS, and TLS from the first byte). The greeting and capabilities
//! in conditions, the certificate trusted through `ca_file` and refused without it, its expiry
//! in conditions, and refused ports, silent listeners, refusals and non-IMAP answers explained
//! in words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tokio::process::{Child, Command};
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_smtp::starttls_round;
use crate::probe_support::{
    TestCert, closed_port, daemon, failure, line_server, monitor, silent_listener,
};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!("{{ component: c, imap: {{ {fields} }}, {rest} }}"));
    Prober::new().unwrap().probe(&m).await
}

/// Dovecot serving IMAP (STARTTLS offered) on `port` and IMAPS on `tls_port`; stopped on drop.
struct Dovecot {
    child: Child,
    port: u16,
    tls_port: u16,
    /// The certificate's PEM file (the CA file that trusts it).
    cert_path: String,
    _dir: tempfile::TempDir,
}

impl Dovecot {
    async fn start(cert: &TestCert) -> Option<Dovecot> {
        let program = peer::dovecot()?;
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = cert.write_pem(dir.path());
        let root = dir.path().to_str().unwrap().to_owned();
        let config_path = dir.path().join("dovecot.conf");
        // The IMAPS port is picked with the IMAP port, so a retry picks both anew.
        let tls_port_cell = std::cell::Cell::new(0);
        let (child, port) = daemon(
            "dovecot",
            |port| {
                let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .map(|addr| addr.port())
                    .unwrap();
                tls_port_cell.set(tls_port);
                let config = format!(
                    "base_dir = {root}/run\n\
                     state_dir = {root}/state\n\
                     log_path = /dev/stderr\n\
                     protocols = imap\n\
                     listen = 127.0.0.1\n\
                     ssl = yes\n\
                     ssl_cert = <{cert_path}\n\
                     ssl_key = <{key_path}\n\
                     passdb {{\n  driver = static\n  args = nopassword=y\n}}\n\
                     userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={root}/home\n}}\n\
                     service imap-login {{\n\
                       inet_listener imap {{\n    port = {port}\n  }}\n\
                       inet_listener imaps {{\n    port = {tls_port}\n    ssl = yes\n  }}\n\
                     }}\n"
                );
                std::fs::write(&config_path, config).unwrap();
                let mut command = Command::new(&program);
                command.arg("-F").arg("-c").arg(&config_path);
                command
            },
            // At first Dovecot greets with "Waiting for authentication process to respond".
            |line| line.contains("ready"),
        )
        .await;
        Some(Dovecot {
            child,
            port,
            tls_port: tls_port_cell.get(),
            cert_path,
            _dir: dir,
        })
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; kill_on_drop is the fallback.
        if let Some(id) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(id.to_string())
                .status();
        }
    }
}

#[tokio::test]
async fn imap_greets_upgrades_with_starttls_and_tests_capabilities() {
    let cert = TestCert::expiring_in(30);
    let Some(dovecot) = Dovecot::start(&cert).await else {
        return;
    };
    let url = format!(r#"url: "imap://127.0.0.1:{}""#, dovecot.port);
    starttls_round("imap", &url, &dovecot.cert_path, "capabilities").await;

    let outcome = probe(
        &format!(
            r#"{url}, ca_file: "{}", starttls: required"#,
            dovecot.cert_path
        ),
        r#"timeout: 5s, conditions: ["[BODY] contains Dovecot", "[BODY].capabilities contains IMAP4REV1"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
}

#[tokio::test]
async fn imaps_is_tls_from_the_first_byte() {
    let cert = TestCert::expiring_in(30);
    let Some(dovecot) = Dovecot::start(&cert).await else {
        return;
    };
    let outcome = probe(
        &format!(
            r#"url: "imaps://localhost:{}", ca_file: "{}""#,
            dovecot.tls_port, dovecot.cert_path
        ),
        r#"timeout: 5s, conditions: ["[BODY].tls == tls", "[BODY].capabilities contains AUTH=PLAIN"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.cert_expiry_days, Some(30));

    let outcome = probe(
        &format!(r#"url: "imaps://127.0.0.1:{}""#, dovecot.tls_port),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "TLS handshake with 127.0.0.1 failed: the certificate is not signed by a trusted authority"
    );
}

#[tokio::test]
async fn imap_failures_are_explained() {
    let closed = closed_port().await;
    let outcome = probe(&format!(r#"url: "imap://{closed}""#), "timeout: 5s").await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let outcome = probe(&format!(r#"url: "imaps://{silent}""#), "timeout: 1s").await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 1 s waiting for the greeting of the IMAP server at {silent}")
    );

    let closing = line_server("* BYE too many connections from your address\r\n", |_| {
        String::new()
    })
    .await;
    let outcome = probe(&format!(r#"url: "imap://{closing}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the IMAP server at {closing} refused the session: too many connections from your address"
        )
    );

    let smtp = line_server("220 mx ESMTP\r\n", |_| String::new()).await;
    let outcome = probe(&format!(r#"url: "imap://{smtp}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the IMAP server at {smtp} broke the protocol (is it IMAP?): \
             `220 mx ESMTP` is not an IMAP response"
        )
    );

    let refusing = line_server("* OK ready\r\n", |line| {
        let tag = line.split(' ').next().unwrap_or("*");
        format!("{tag} BAD unknown command\r\n")
    })
    .await;
    let outcome = probe(&format!(r#"url: "imap://{refusing}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("the IMAP server at {refusing} refused CAPABILITY: BAD unknown command")
    );
}
