//! The line-protocol machinery the `smtp` and `imap` probes share: where the URL points, the
//! connection (TLS from the first byte for `smtps://` and `imaps://`), bounded CRLF lines, the
//! STARTTLS decision and upgrade, the certificate's expiry, and the failures in words. Each
//! protocol's own dialogue is in [`super::smtp`] and [`super::imap`]; the lines they read are
//! parsed by `upkeep_domain::protocol_lines`.
//!
//! A certificate is checked against the web's roots, or against the authorities of the check's
//! `ca_file`; its expiry (whole days) is `[CERT_EXPIRY]`, reckoned as the `tls` kind does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;
use upkeep_domain::config::{MailCheck, StartTls};

use super::{Failure, Progress, Seen, connect, io_error_text, stage, tls};

/// The longest line a server may send, in bytes (SMTP allows 512; IMAP capability lists are
/// longer).
pub(super) const MAX_LINE_BYTES: usize = 8 * 1024;

/// Reached once the server's greeting was read.
pub(super) const GREETED: u8 = stage::HEADERS;

/// How long a polite goodbye (`QUIT`, `LOGOUT`) may wait for its answer; its failure never
/// fails a check.
const GOODBYE_WAIT: Duration = Duration::from_millis(500);

/// The protocol a mail check speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    Smtp,
    Imap,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "SMTP",
            Protocol::Imap => "IMAP",
        }
    }

    /// The URL scheme of TLS from the first byte.
    fn secure_scheme(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtps",
            Protocol::Imap => "imaps",
        }
    }

    fn default_port(self, implicit_tls: bool) -> u16 {
        match (self, implicit_tls) {
            (Protocol::Smtp, false) => 25,
            (Protocol::Smtp, true) => 465,
            (Protocol::Imap, false) => 143,
            (Protocol::Imap, true) => 993,
        }
    }
}

/// How the dialogue ended up protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Security {
    /// Clear text throughout.
    Plain,
    /// Upgraded with STARTTLS.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

impl Security {
    /// `none`, `starttls` or `tls`, as `[BODY].tls` shows it.
    pub(super) fn word(self) -> &'static str {
        match self {
            Security::Plain => "none",
            Security::Starttls => "starttls",
            Security::Implicit => "tls",
        }
    }
}

/// Host, port and whether TLS starts at once, from the check's URL.
struct Target {
    host: String,
    address: String,
    implicit_tls: bool,
}

fn target(protocol: Protocol, check: &MailCheck) -> Result<Target, String> {
    let url = url::Url::parse(&check.url).map_err(|err| {
        format!(
            "bad {} URL `{}`: {err}",
            protocol.name(),
            upkeep_domain::config::hide_password(&check.url)
        )
    })?;
    let implicit_tls = url.scheme() == protocol.secure_scheme();
    let host = url
        .host_str()
        .ok_or_else(|| format!("bad {} URL `{}`: it has no host", protocol.name(), url))?
        .to_owned();
    let port = url
        .port()
        .unwrap_or_else(|| protocol.default_port(implicit_tls));
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok(Target {
        address: format!("{host}:{port}"),
        host: bare,
        implicit_tls,
    })
}

/// "connecting to the SMTP server at mx:25", "waiting for the greeting of ...".
pub(super) fn describe(protocol: Protocol, check: &MailCheck, reached: u8) -> String {
    let at = target(protocol, check).map_or_else(|_| check.url.clone(), |t| t.address);
    let name = protocol.name();
    if reached >= GREETED {
        format!(" in the {name} dialogue with {at} after its greeting")
    } else if reached >= stage::CONNECTED {
        format!(" waiting for the greeting of the {name} server at {at}")
    } else {
        format!(" connecting to the {name} server at {at}")
    }
}

/// One connection to a mail server, read a line at a time.
pub(super) struct Session {
    reader: BufReader<Either<TcpStream, TlsStream<TcpStream>>>,
    protocol: Protocol,
    /// `host:port`, for messages.
    address: String,
    host: String,
    tls: Arc<rustls::ClientConfig>,
    starttls: StartTls,
    /// How the connection is protected so far.
    pub(super) security: Security,
    /// Whole days until the server's certificate expires, once TLS is up.
    pub(super) cert_expiry_days: Option<i64>,
}

impl Session {
    /// Connects (and for the TLS schemes, completes the handshake).
    pub(super) async fn open(
        protocol: Protocol,
        check: &MailCheck,
        progress: &Progress,
    ) -> Result<Session, Failure> {
        let target = target(protocol, check).map_err(Failure::new)?;
        let tls = super::verifying_tls(check.ca_file.as_deref()).map_err(Failure::new)?;
        let stream = connect(&target.address, progress).await?;
        let mut session = Session {
            reader: BufReader::new(Either::Left(stream)),
            protocol,
            address: target.address,
            host: target.host,
            tls: Arc::new(tls),
            starttls: check.starttls,
            security: Security::Plain,
            cert_expiry_days: None,
        };
        if target.implicit_tls {
            session = session.handshake(Security::Implicit).await?;
        }
        Ok(session)
    }

    /// "the SMTP server at mx:25 WHAT".
    pub(super) fn fail(&self, what: &str) -> Failure {
        let mut failure = Failure::new(format!(
            "the {} server at {} {what}",
            self.protocol.name(),
            self.address
        ));
        failure.cert_expiry_days = self.cert_expiry_days;
        failure
    }

    /// "the SMTP server at mx:25 broke the protocol (is it SMTP?): WHY".
    pub(super) fn broke(&self, why: &str) -> Failure {
        self.fail(&format!(
            "broke the protocol (is it {}?): {why}",
            self.protocol.name()
        ))
    }

    fn io_failure(&self, err: &std::io::Error) -> Failure {
        let mut failure = Failure::new(io_error_text(err, &self.address));
        failure.cert_expiry_days = self.cert_expiry_days;
        failure
    }

    /// The next line, without its line end (lossy UTF-8); at most [`MAX_LINE_BYTES`].
    pub(super) async fn line(&mut self) -> Result<String, Failure> {
        let mut bytes = Vec::new();
        loop {
            let buffer = match self.reader.fill_buf().await {
                Ok(buffer) => buffer,
                Err(err) => return Err(self.io_failure(&err)),
            };
            if buffer.is_empty() {
                return Err(self.fail("closed the connection"));
            }
            let (taken, done) = match buffer.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    bytes.extend_from_slice(&buffer[..end]);
                    (end + 1, true)
                }
                None => {
                    bytes.extend_from_slice(buffer);
                    (buffer.len(), false)
                }
            };
            self.reader.consume(taken);
            if bytes.len() > MAX_LINE_BYTES {
                return Err(self.broke(&format!(
                    "it sent a line longer than {} KiB",
                    MAX_LINE_BYTES / 1024
                )));
            }
            if done {
                break;
            }
        }
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Sends one command line (CRLF added).
    pub(super) async fn send(&mut self, line: &str) -> Result<(), Failure> {
        let stream = self.reader.get_mut();
        let sent = async {
            stream.write_all(line.as_bytes()).await?;
            stream.write_all(b"\r\n").await?;
            stream.flush().await
        }
        .await;
        sent.map_err(|err| self.io_failure(&err))
    }

    /// Whether to upgrade now that the server did (`offered`) or did not offer STARTTLS;
    /// a required upgrade the server does not offer fails the check.
    pub(super) fn wants_starttls(&self, offered: bool) -> Result<bool, Failure> {
        if self.security != Security::Plain {
            return Ok(false);
        }
        match (self.starttls, offered) {
            (StartTls::Never, _) => Ok(false),
            (_, true) => Ok(true),
            (StartTls::IfOffered, false) => Ok(false),
            (StartTls::Required, false) => Err(self.fail(
                "does not offer STARTTLS (`starttls: required`); the dialogue would be in clear \
                 text",
            )),
        }
    }

    /// Upgrades to TLS once the server agreed to STARTTLS. Anything the server sent after its
    /// agreement, before the handshake, is refused: it would be read as if it came over TLS.
    pub(super) async fn upgrade(self) -> Result<Session, Failure> {
        if !self.reader.buffer().is_empty() {
            return Err(self.broke(
                "it sent more after agreeing to STARTTLS (data injected before the handshake)",
            ));
        }
        self.handshake(Security::Starttls).await
    }

    async fn handshake(self, security: Security) -> Result<Session, Failure> {
        let Session {
            reader,
            protocol,
            address,
            host,
            tls,
            starttls,
            ..
        } = self;
        let Either::Left(stream) = reader.into_inner() else {
            return Err(Failure::new(format!(
                "TLS with {address} was already up before STARTTLS"
            )));
        };
        let server_name = ServerName::try_from(host.clone())
            .map_err(|_| Failure::new(format!("`{host}` is not a valid TLS server name")))?;
        let connector = TlsConnector::from(Arc::clone(&tls));
        let stream = connector
            .connect(server_name, stream)
            .await
            .map_err(|err| Failure::new(tls::handshake_failure_text(&err, &host, &address)))?;
        let (_, connection) = stream.get_ref();
        let cert_expiry_days = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| tls::expiry_days_now(leaf));
        Ok(Session {
            reader: BufReader::new(Either::Right(stream)),
            protocol,
            address,
            host,
            tls,
            starttls,
            security,
            cert_expiry_days,
        })
    }

    /// Says goodbye with `command` and waits briefly for the answer's first line; never fails.
    async fn goodbye(mut self, command: &str) {
        if self.send(command).await.is_ok() {
            let _ = tokio::time::timeout(GOODBYE_WAIT, self.line()).await;
        }
        let _ = self.reader.get_mut().shutdown().await;
    }
}

/// What a dialogue that went well saw.
pub(super) struct Greeted<'a> {
    /// The greeting's text.
    pub(super) banner: &'a str,
    /// `extensions` or `capabilities`.
    pub(super) names_key: &'a str,
    /// The extensions or capabilities the server listed last.
    pub(super) names: &'a [String],
    /// The command that ends the session (`QUIT`, `a5 LOGOUT`).
    pub(super) goodbye: &'a str,
}

impl Session {
    /// Ends a dialogue that went well (after `started`): says goodbye and returns what
    /// conditions see: `[BODY]` is the greeting's text, and `[BODY].banner`, `[BODY].NAMES`
    /// (the extensions or capabilities, space-separated) and `[BODY].tls` (`none`, `starttls`
    /// or `tls`) pick its parts; `[CERT_EXPIRY]` is the certificate's.
    pub(super) async fn finish(self, started: Instant, greeted: Greeted<'_>) -> Seen {
        let elapsed = started.elapsed();
        let json = serde_json::json!({
            "banner": greeted.banner,
            greeted.names_key: greeted.names.join(" "),
            "tls": self.security.word(),
        });
        let cert_expiry_days = self.cert_expiry_days;
        self.goodbye(greeted.goodbye).await;
        Seen {
            elapsed,
            cert_expiry_days,
            body: Some(greeted.banner.to_owned()),
            json: Some(json),
            ..Seen::default()
        }
    }
}
