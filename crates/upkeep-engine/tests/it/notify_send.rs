//! Sending deliveries to real receivers over real sockets: a real SMTP server (aiosmtpd, through
//! `scripts/smtp_sink.py`) in plain text, with AUTH, with STARTTLS and with implicit TLS under a
//! certificate made here; tiny HTTP/1.1 receivers that answer 2xx, 4xx, 5xx, redirect, hang up
//! or never answer; and SMTP servers that refuse at the greeting. Nothing leaves the machine.
//!
//! The SMTP tests need Python with aiosmtpd (`scripts/test.sh` sets it up); without it they
//! skip loudly (see `upkeep_store::testing::peer`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use upkeep_domain::config::{Smtp, SmtpTls};
use upkeep_domain::notify::signature;
use upkeep_engine::notify::send::{ChannelKind, Content, Outgoing, SendError, Senders};

const NOW: i64 = 1_750_000_000;
const FROM: &str = "status@upkeep.test";

// ---------------------------------------------------------------------------------------------
// The SMTP sink

/// `scripts/smtp_sink.py` running on a free port; killed on drop (the `smtp` probe tests
/// greet it too).
pub(crate) struct Sink {
    _child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

fn sink_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp_sink.py")
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

impl Sink {
    /// The sink, or `None` when the test is skipped for want of aiosmtpd.
    pub(crate) async fn start(extra: &[&str]) -> Option<Sink> {
        let python = upkeep_store::testing::peer::python(&["aiosmtpd"])?;
        let dir = tempfile::tempdir().unwrap();
        // A port taken between our probe and the sink's bind is retried.
        for _ in 0..5 {
            let port = free_port().await;
            let mut child = Command::new(&python)
                .arg(sink_script())
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--dir"])
                .arg(dir.path())
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("python runs");
            let stdout = child.stdout.take().unwrap();
            let mut lines = BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
            match first {
                Ok(Ok(Some(line))) if line.trim() == "ready" => {
                    return Some(Sink {
                        _child: child,
                        port,
                        dir,
                    });
                }
                _ => {
                    let _ = child.start_kill();
                    let out = child.wait_with_output().await.unwrap();
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    if stderr.contains("Address already in use") {
                        continue;
                    }
                    panic!("smtp_sink.py did not start ({:?}): {stderr}", out.status);
                }
            }
        }
        panic!("smtp_sink.py found no free port");
    }

    /// The messages stored so far, parsed from `envelopes.jsonl`, with their raw bytes.
    fn messages(&self) -> Vec<(serde_json::Value, Vec<u8>)> {
        let Ok(lines) = std::fs::read_to_string(self.dir.path().join("envelopes.jsonl")) else {
            return Vec::new();
        };
        lines
            .lines()
            .map(|line| {
                let env: serde_json::Value = serde_json::from_str(line).unwrap();
                let file = env["file"].as_str().unwrap();
                let raw = std::fs::read(self.dir.path().join(file)).unwrap();
                (env, raw)
            })
            .collect()
    }
}

fn smtp(port: u16, tls: SmtpTls) -> Smtp {
    Smtp {
        host: "127.0.0.1".to_owned(),
        port,
        from: FROM.parse().unwrap(),
        username: None,
        password: None,
        tls,
        ca_file: None,
    }
}

fn senders(smtp: Option<&Smtp>) -> Senders {
    Senders::new(smtp, Duration::from_secs(5)).unwrap()
}

fn mail(subject: &str, unsubscribe: Option<&str>) -> Content {
    Content::Email {
        subject: subject.to_owned(),
        text: format!("{subject}\n\nWe are investigating. — the team\n"),
        html: format!("<h1>{subject}</h1><p>We are investigating. — the team</p>"),
        unsubscribe: unsubscribe.map(str::to_owned),
    }
}

fn email_to<'a>(id: &'a str, to: &'a str, content: &'a Content) -> Outgoing<'a> {
    Outgoing {
        delivery_id: id,
        event: "incident.opened",
        channel: ChannelKind::Email,
        destination: to,
        content,
        secret: None,
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail

#[tokio::test]
async fn plain_smtp_mail_has_headers_parts_and_stable_id() {
    let Some(sink) = Sink::start(&[]).await else {
        return;
    };
    let s = senders(Some(&smtp(sink.port, SmtpTls::None)));
    let title = "Café ☕ outage";
    let unsub = "https://status.upkeep.test/unsubscribe?token=abc123";
    let content = mail(title, Some(unsub));
    let id = "3f1c2b9e-7a41-4c55-9a0e-1d2f3a4b5c6d";
    s.send(&email_to(id, "Ana Souza <ana@example.org>", &content), NOW)
        .await
        .unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let (env, raw) = &messages[0];
    assert_eq!(env["mail_from"], "status@upkeep.test");
    assert_eq!(env["rcpt_tos"], serde_json::json!(["ana@example.org"]));
    assert_eq!(env["auth_login"], serde_json::Value::Null);

    let msg = MessageParser::default()
        .parse(raw)
        .expect("a parsable mail");
    let from = msg.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("status@upkeep.test"));
    let to = msg.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("ana@example.org"));
    assert_eq!(msg.subject(), Some(title));
    assert_eq!(msg.message_id(), Some(format!("{id}@upkeep").as_str()));
    assert_eq!(
        msg.header_raw("Upkeep-Delivery").map(str::trim),
        Some(id),
        "Upkeep-Delivery"
    );
    assert_eq!(
        msg.header_raw("List-Unsubscribe").map(str::trim),
        Some(format!("<{unsub}>").as_str())
    );
    assert_eq!(
        msg.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );

    let ct = msg.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    let text_part = msg.text_part(0).unwrap();
    let html_part = msg.html_part(0).unwrap();
    let tct = text_part.content_type().unwrap();
    assert_eq!((tct.ctype(), tct.subtype()), ("text", Some("plain")));
    assert_eq!(
        tct.attribute("charset").map(str::to_ascii_lowercase),
        Some("utf-8".into())
    );
    let hct = html_part.content_type().unwrap();
    assert_eq!((hct.ctype(), hct.subtype()), ("text", Some("html")));
    assert_eq!(
        hct.attribute("charset").map(str::to_ascii_lowercase),
        Some("utf-8".into())
    );
    let text = msg.body_text(0).unwrap();
    assert!(text.contains("Café ☕ outage"), "{text}");
    assert!(text.contains("We are investigating. — the team"), "{text}");
    let html = msg.body_html(0).unwrap();
    assert!(html.contains("<h1>Café ☕ outage</h1>"), "{html}");

    // A retry sends the same Message-ID (receivers dedupe on it); without unsubscribe there
    // are no List-* headers. The pooled connection is reused.
    let plain = mail("Second", None);
    s.send(&email_to(id, "ana@example.org", &plain), NOW)
        .await
        .unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    let msg = MessageParser::default().parse(&messages[1].1).unwrap();
    assert_eq!(msg.message_id(), Some(format!("{id}@upkeep").as_str()));
    assert_eq!(msg.header_raw("List-Unsubscribe"), None);
    assert_eq!(msg.header_raw("List-Unsubscribe-Post"), None);
}

#[tokio::test]
async fn smtp_auth_success_wrong_password_and_missing_credentials() {
    let Some(sink) = Sink::start(&["--auth", "upkeep:s3cret"]).await else {
        return;
    };
    let content = mail("Auth test", None);

    let mut cfg = smtp(sink.port, SmtpTls::None);
    cfg.username = Some("upkeep".into());
    cfg.password = Some("s3cret".into());
    senders(Some(&cfg))
        .send(&email_to("auth-ok", "ops@example.org", &content), NOW)
        .await
        .unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0["auth_login"], "upkeep");
    assert_eq!(
        messages[0].0["rcpt_tos"],
        serde_json::json!(["ops@example.org"])
    );

    // A wrong password: the server answers 535 5.7.8. The configuration is wrong, not the
    // message: the delivery is retried (until an operator fixes the password), not given up.
    cfg.password = Some("wrong".into());
    let err = senders(Some(&cfg))
        .send(&email_to("auth-bad", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err:?}");
    assert!(err.message.contains("535"), "{err:?}");
    assert!(
        err.message.contains(&format!("127.0.0.1:{}", sink.port)),
        "{err:?}"
    );

    // No credentials against a server that requires AUTH: 530 at MAIL FROM, retried too.
    let err = senders(Some(&smtp(sink.port, SmtpTls::None)))
        .send(&email_to("auth-none", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err:?}");
    assert!(err.message.contains("530"), "{err:?}");
    assert_eq!(sink.messages().len(), 1, "nothing more was accepted");
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files.
struct TestCert {
    dir: tempfile::TempDir,
}

impl TestCert {
    fn new() -> TestCert {
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        TestCert { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

async fn tls_round(tls: SmtpTls, cert_flag: &str, key_flag: &str) {
    let cert = TestCert::new();
    let cert_path = cert.cert().to_str().unwrap().to_owned();
    let key_path = cert.key().to_str().unwrap().to_owned();
    let Some(sink) = Sink::start(&[
        cert_flag,
        &cert_path,
        key_flag,
        &key_path,
        "--auth",
        "tls-user:tls-pass",
    ])
    .await
    else {
        return;
    };
    let content = mail("TLS test", None);

    let mut cfg = smtp(sink.port, tls);
    cfg.username = Some("tls-user".into());
    cfg.password = Some("tls-pass".into());

    // Not trusted without the CA file: the handshake fails, and that is retried (the
    // operator can fix the configuration).
    let err = senders(Some(&cfg))
        .send(&email_to("tls-untrusted", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err:?}");
    let lower = err.message.to_lowercase();
    assert!(
        lower.contains("certificate") || lower.contains("unknownissuer"),
        "{err:?}"
    );
    assert!(sink.messages().is_empty());

    // Trusted through ca_file, for 127.0.0.1 and for localhost.
    cfg.ca_file = Some(cert.cert());
    senders(Some(&cfg))
        .send(&email_to("tls-ok", "ops@example.org", &content), NOW)
        .await
        .unwrap();
    cfg.host = "localhost".into();
    senders(Some(&cfg))
        .send(&email_to("tls-ok-2", "ops@example.org", &content), NOW)
        .await
        .unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    for (env, raw) in &messages {
        assert_eq!(env["tls"], true, "{env}");
        assert_eq!(env["auth_login"], "tls-user", "{env}");
        let msg = MessageParser::default().parse(raw).unwrap();
        assert_eq!(msg.subject(), Some("TLS test"));
    }
}

#[tokio::test]
async fn starttls_trusts_the_ca_file_only() {
    tls_round(SmtpTls::Starttls, "--starttls-cert", "--starttls-key").await;
}

#[tokio::test]
async fn implicit_tls_trusts_the_ca_file_only() {
    tls_round(SmtpTls::Tls, "--tls-cert", "--tls-key").await;
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_retryable() {
    let Some(sink) = Sink::start(&[]).await else {
        return;
    };
    let cert = TestCert::new();
    let mut cfg = smtp(sink.port, SmtpTls::Starttls);
    cfg.ca_file = Some(cert.cert());
    let content = mail("No STARTTLS", None);
    let err = senders(Some(&cfg))
        .send(&email_to("no-starttls", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err:?}");
    assert!(sink.messages().is_empty(), "nothing goes out in plain text");
}

#[tokio::test]
async fn bad_ca_file_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let mut cfg = smtp(465, SmtpTls::Tls);
    cfg.ca_file = Some(missing.clone());
    let err = Senders::new(Some(&cfg), Duration::from_secs(1))
        .err()
        .expect("refused");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    let not_pem = dir.path().join("not-pem.pem");
    std::fs::write(&not_pem, "hello, this is not a certificate\n").unwrap();
    cfg.ca_file = Some(not_pem.clone());
    let err = Senders::new(Some(&cfg), Duration::from_secs(1))
        .err()
        .expect("refused");
    assert!(err.contains(not_pem.to_str().unwrap()), "{err}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    cfg.ca_file = Some(garbage.clone());
    let err = Senders::new(Some(&cfg), Duration::from_secs(1))
        .err()
        .expect("refused");
    assert!(err.contains(garbage.to_str().unwrap()), "{err}");
}

#[tokio::test]
async fn invalid_address_missing_config_and_wrong_content_are_permanent() {
    let content = mail("x", None);
    // No SMTP configured.
    let err = senders(None)
        .send(&email_to("no-smtp", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(err.permanent, "{err:?}");
    assert!(err.message.contains("not configured"), "{err:?}");

    // An address that does not parse never reaches the server (port 9 is never contacted).
    let s = senders(Some(&smtp(9, SmtpTls::None)));
    let err = s
        .send(&email_to("bad-addr", "not an address", &content), NOW)
        .await
        .unwrap_err();
    assert!(err.permanent, "{err:?}");
    assert!(err.message.contains("not an address"), "{err:?}");

    // JSON on an e-mail channel and a mail on a webhook channel.
    let json = Content::Json {
        body: "{}".to_owned(),
    };
    let err = s
        .send(&email_to("wrong", "ops@example.org", &json), NOW)
        .await
        .unwrap_err();
    assert!(err.permanent, "{err:?}");
    let out = Outgoing {
        channel: ChannelKind::Webhook,
        destination: "http://127.0.0.1:9/",
        ..email_to("wrong-2", "x", &content)
    };
    let err = s.send(&out, NOW).await.unwrap_err();
    assert!(err.permanent, "{err:?}");
}

/// A one-shot SMTP server that answers the greeting with `line` and closes.
async fn smtp_greeting_server(line: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = sock.write_all(line.as_bytes()).await;
                let mut buf = [0u8; 512];
                // Answer QUIT (or anything) with 221 and close.
                let _ = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
                let _ = sock.write_all(b"221 bye\r\n").await;
            });
        }
    });
    port
}

#[tokio::test]
async fn smtp_4xx_and_connection_errors_are_retryable_5xx_permanent() {
    let content = mail("x", None);
    let port = smtp_greeting_server("421 4.3.2 Service not available, try later\r\n").await;
    let err = senders(Some(&smtp(port, SmtpTls::None)))
        .send(&email_to("t4", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err:?}");
    assert!(err.message.contains("421"), "{err:?}");

    let port = smtp_greeting_server("554 5.7.1 No service for you\r\n").await;
    let err = senders(Some(&smtp(port, SmtpTls::None)))
        .send(&email_to("t5", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(err.permanent, "{err:?}");
    assert!(err.message.contains("554"), "{err:?}");

    // Nothing listening.
    let port = free_port().await;
    let err = senders(Some(&smtp(port, SmtpTls::None)))
        .send(&email_to("t0", "ops@example.org", &content), NOW)
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err:?}");
    assert!(
        err.message.contains(&format!("127.0.0.1:{port}")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Clone)]
enum Reply {
    Status {
        code: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Read the request, then close without answering.
    Close,
    /// Read the request, then never answer.
    Hang,
}

impl Reply {
    fn status(code: u16, body: &str) -> Reply {
        Reply::Status {
            code,
            body: body.to_owned(),
            headers: Vec::new(),
        }
    }
}

struct Receiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    async fn start(reply: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let reply = reply.clone();
                let seen = Arc::clone(&seen);
                tokio::spawn(async move { serve(sock, reply, seen).await });
            }
        });
        Receiver { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(sock: TcpStream, reply: Reply, seen: Arc<Mutex<Vec<Request>>>) {
    let mut reader = BufReader::new(sock);
    let mut line = String::new();
    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await.unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    seen.lock().unwrap().push(Request {
        method,
        path,
        headers,
        body,
    });
    let mut sock = reader.into_inner();
    match reply {
        Reply::Status {
            code,
            body,
            headers,
        } => {
            let mut head = format!(
                "HTTP/1.1 {code} Whatever\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
        Reply::Close => drop(sock),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(sock);
        }
    }
}

const SECRET: &str = "whsec_test_secret";
const BODY: &str = r#"{"event":"incident.opened","incident":{"id":"inc-1","title":"Café ☕"}}"#;

fn webhook<'a>(id: &'a str, url: &'a str, content: &'a Content) -> Outgoing<'a> {
    Outgoing {
        delivery_id: id,
        event: "incident.opened",
        channel: ChannelKind::Webhook,
        destination: url,
        content,
        secret: Some(SECRET),
    }
}

fn json() -> Content {
    Content::Json {
        body: BODY.to_owned(),
    }
}

#[tokio::test]
async fn webhook_200_is_signed_and_carries_delivery_and_event() {
    let rx = Receiver::start(Reply::status(200, "ok")).await;
    let s = senders(None);
    let content = json();
    let url = rx.url("/hooks/upkeep?x=1");
    s.send(&webhook("dlv-1", &url, &content), NOW)
        .await
        .unwrap();

    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/upkeep?x=1");
    assert_eq!(r.body, BODY.as_bytes());
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.headers["user-agent"],
        format!("upkeep/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(r.headers["upkeep-delivery"], "dlv-1");
    assert_eq!(r.headers["upkeep-event"], "incident.opened");
    let sig = &r.headers["upkeep-signature"];
    assert_eq!(
        signature::verify(SECRET.as_bytes(), sig, &r.body, NOW, 300),
        Ok(())
    );
    assert!(sig.starts_with(&format!("t={NOW},v1=")), "{sig}");
    assert!(
        signature::verify(b"other", sig, &r.body, NOW, 300).is_err(),
        "signed with the secret"
    );

    // A retry sends the same body under the same delivery id; without a secret, no signature.
    let out = Outgoing {
        secret: None,
        ..webhook("dlv-1", &url, &content)
    };
    s.send(&out, NOW + 60).await.unwrap();
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].body, reqs[0].body);
    assert_eq!(reqs[1].headers["upkeep-delivery"], "dlv-1");
    assert!(!reqs[1].headers.contains_key("upkeep-signature"));
}

fn assert_retryable(err: &SendError, needles: &[&str]) {
    assert!(!err.permanent, "expected retryable: {err:?}");
    for n in needles {
        assert!(err.message.contains(n), "{n:?} not in {err:?}");
    }
}

#[tokio::test]
async fn webhook_failures_are_retryable_and_say_why() {
    let s = senders(None);
    let content = json();

    // 500 with a long body: the code and the first 200 characters are in the message.
    let long = format!("{}{}", "e".repeat(200), "TAIL-NOT-SHOWN");
    let rx = Receiver::start(Reply::status(500, &long)).await;
    let err = s
        .send(&webhook("f1", &rx.url("/"), &content), NOW)
        .await
        .unwrap_err();
    assert_retryable(&err, &["500", &"e".repeat(200)]);
    assert!(!err.message.contains("TAIL"), "{err:?}");

    // A receiver that is down or being deployed (404, 408, 429) is retried; one that refuses
    // the request itself (400, 401, 403, 410, 422) is not: it would hold its queue for days.
    for code in [404, 408, 429] {
        let rx = Receiver::start(Reply::status(code, "nope")).await;
        let err = s
            .send(&webhook("f2", &rx.url("/"), &content), NOW)
            .await
            .unwrap_err();
        assert_retryable(&err, &[&code.to_string(), "nope"]);
    }
    for code in [400, 401, 403, 410, 422] {
        let rx = Receiver::start(Reply::status(code, "nope")).await;
        let err = s
            .send(&webhook("f2", &rx.url("/"), &content), NOW)
            .await
            .unwrap_err();
        assert!(err.permanent, "{code}: {err:?}");
        assert!(err.message.contains(&code.to_string()), "{err:?}");
    }

    // Closed without an answer.
    let rx = Receiver::start(Reply::Close).await;
    let err = s
        .send(&webhook("f3", &rx.url("/"), &content), NOW)
        .await
        .unwrap_err();
    assert_retryable(&err, &[]);
    assert_eq!(
        rx.requests().len(),
        1,
        "the request was read before the close"
    );

    // Nothing listening.
    let port = free_port().await;
    let url = format!("http://127.0.0.1:{port}/hook?token=SECRETTOKEN");
    let err = s
        .send(&webhook("f4", &url, &content), NOW)
        .await
        .unwrap_err();
    assert_retryable(&err, &["cannot connect", &format!("127.0.0.1:{port}")]);
    assert!(!err.message.contains("SECRETTOKEN"), "{err:?}");
}

#[tokio::test]
async fn webhook_that_never_answers_fails_within_the_timeout() {
    let rx = Receiver::start(Reply::Hang).await;
    let s = Senders::new(None, Duration::from_millis(800)).unwrap();
    let content = json();
    let started = Instant::now();
    let err = s
        .send(&webhook("hang", &rx.url("/"), &content), NOW)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_retryable(&err, &["no answer"]);
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn webhook_redirects_are_not_followed() {
    let target = Receiver::start(Reply::status(200, "ok")).await;
    let rx = Receiver::start(Reply::Status {
        code: 302,
        body: String::new(),
        headers: vec![("Location".into(), target.url("/elsewhere"))],
    })
    .await;
    let s = senders(None);
    let content = json();
    let err = s
        .send(&webhook("redir", &rx.url("/"), &content), NOW)
        .await
        .unwrap_err();
    assert_retryable(&err, &["302", "not followed"]);
    assert_eq!(rx.requests().len(), 1);
    assert!(
        target.requests().is_empty(),
        "the signed body went nowhere else"
    );

    // 307/308 keep the method and body, so they would re-send the signed body: not followed.
    let rx = Receiver::start(Reply::Status {
        code: 308,
        body: String::new(),
        headers: vec![("Location".into(), target.url("/elsewhere"))],
    })
    .await;
    let err = s
        .send(&webhook("redir2", &rx.url("/"), &content), NOW)
        .await
        .unwrap_err();
    assert_retryable(&err, &["308"]);
    assert!(target.requests().is_empty());
}

#[tokio::test]
async fn slack_is_posted_unsigned() {
    let rx = Receiver::start(Reply::status(200, "ok")).await;
    let s = senders(None);
    let content = Content::Json {
        body: r#"{"text":"Café ☕ outage"}"#.to_owned(),
    };
    let url = rx.url("/services/T000/B000/XXXX");
    let out = Outgoing {
        channel: ChannelKind::Slack,
        ..webhook("slack-1", &url, &content)
    };
    s.send(&out, NOW).await.unwrap();
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, r#"{"text":"Café ☕ outage"}"#.as_bytes());
    assert_eq!(reqs[0].headers["content-type"], "application/json");
    assert!(!reqs[0].headers.contains_key("upkeep-signature"));

    let rx = Receiver::start(Reply::status(500, "rollup_error")).await;
    let url = rx.url("/services/T000/B000/SECRETTOKEN");
    let out = Outgoing {
        channel: ChannelKind::Slack,
        ..webhook("slack-2", &url, &content)
    };
    let err = s.send(&out, NOW).await.unwrap_err();
    assert_retryable(&err, &["500", "rollup_error", &rx.addr.to_string()]);
    assert!(
        !err.message.contains("SECRETTOKEN"),
        "the URL's path is a secret: {err:?}"
    );
}

#[tokio::test]
async fn pagerduty_400_is_permanent_202_ok_5xx_retryable() {
    let s = senders(None);
    let content = Content::Json {
        body: r#"{"routing_key":"R","event_action":"trigger","dedup_key":"k"}"#.to_owned(),
    };
    let pd = |url: &str| -> String { url.to_owned() };

    let rx = Receiver::start(Reply::status(
        202,
        r#"{"status":"success","message":"Event processed","dedup_key":"k"}"#,
    ))
    .await;
    let url = pd(&rx.url("/v2/enqueue"));
    let out = Outgoing {
        channel: ChannelKind::PagerDuty,
        secret: None,
        ..webhook("pd-1", &url, &content)
    };
    s.send(&out, NOW).await.unwrap();
    assert_eq!(rx.requests()[0].body, content_body(&content));

    let rx = Receiver::start(Reply::status(
        400,
        r#"{"status":"invalid event","message":"Event object is invalid"}"#,
    ))
    .await;
    let url = pd(&rx.url("/v2/enqueue"));
    let out = Outgoing {
        channel: ChannelKind::PagerDuty,
        secret: None,
        ..webhook("pd-2", &url, &content)
    };
    let err = s.send(&out, NOW).await.unwrap_err();
    assert!(err.permanent, "{err:?}");
    assert!(err.message.contains("400"), "{err:?}");
    assert!(err.message.contains("Event object is invalid"), "{err:?}");

    for code in [429, 500, 503] {
        let rx = Receiver::start(Reply::status(code, "busy")).await;
        let url = pd(&rx.url("/v2/enqueue"));
        let out = Outgoing {
            channel: ChannelKind::PagerDuty,
            secret: None,
            ..webhook("pd-3", &url, &content)
        };
        let err = s.send(&out, NOW).await.unwrap_err();
        assert_retryable(&err, &[&code.to_string()]);
    }
}

fn content_body(c: &Content) -> Vec<u8> {
    match c {
        Content::Json { body } => body.as_bytes().to_vec(),
        Content::Email { .. }
        | Content::Http { .. }
        | Content::Message { .. }
        | Content::Unsendable { .. } => unreachable!(),
    }
}

#[tokio::test]
async fn invalid_urls_are_permanent() {
    let s = senders(None);
    let content = json();
    for url in ["not a url", "ftp://127.0.0.1/x", "file:///etc/passwd"] {
        let err = s.send(&webhook("u", url, &content), NOW).await.unwrap_err();
        assert!(err.permanent, "{url}: {err:?}");
    }
}
