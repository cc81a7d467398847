//! `smtp` probes: connect (`smtp://`, or `smtps://` with TLS from the first byte), read the
//! `220` greeting, `EHLO` (falling back to `HELO`), upgrade with `STARTTLS` when the check
//! wants it and the server offers it (then `EHLO` again), and `QUIT`. The greeting's text is
//! `[BODY]`; `[BODY].extensions` lists what `EHLO` answered last; the certificate's expiry is
//! `[CERT_EXPIRY]`. The dialogue machinery is [`super::mail`]'s.

use std::time::Instant;

use upkeep_domain::config::MailCheck;
use upkeep_domain::protocol_lines::{SmtpReplies, SmtpReply};

use super::mail::{GREETED, Greeted, Protocol, Session};
use super::{Failure, Progress, Seen};

/// The name the probe gives itself in `EHLO`.
const CLIENT_NAME: &str = "localhost";

pub(super) async fn probe(check: &MailCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let mut session = Session::open(Protocol::Smtp, check, progress).await?;
    let greeting = reply(&mut session).await?;
    if greeting.code != 220 {
        return Err(session.fail(&format!("refused the session: {}", greeting.text())));
    }
    progress.reached(GREETED);
    let mut hello = hello(&mut session).await?;
    if session.wants_starttls(hello.extensions().iter().any(|e| e == "STARTTLS"))? {
        session.send("STARTTLS").await?;
        let go = reply(&mut session).await?;
        if go.code != 220 {
            return Err(session.fail(&format!("refused STARTTLS: {}", go.text())));
        }
        session = session.upgrade().await?;
        hello = self::hello(&mut session).await?;
    }
    let greeted = Greeted {
        banner: &greeting.lines.join(" "),
        names_key: "extensions",
        names: &hello.extensions(),
        goodbye: "QUIT",
    };
    Ok(session.finish(started, greeted).await)
}

/// `EHLO`, or `HELO` where the server does not know `EHLO` (then no extensions).
async fn hello(session: &mut Session) -> Result<SmtpReply, Failure> {
    session.send(&format!("EHLO {CLIENT_NAME}")).await?;
    let ehlo = reply(session).await?;
    if ehlo.code == 250 {
        return Ok(ehlo);
    }
    session.send(&format!("HELO {CLIENT_NAME}")).await?;
    let helo = reply(session).await?;
    if helo.code == 250 {
        return Ok(SmtpReply {
            code: 250,
            lines: helo.lines.into_iter().take(1).collect(),
        });
    }
    Err(session.fail(&format!(
        "refused EHLO ({}) and HELO ({})",
        ehlo.text(),
        helo.text()
    )))
}

/// One complete reply.
async fn reply(session: &mut Session) -> Result<SmtpReply, Failure> {
    let mut replies = SmtpReplies::default();
    loop {
        let line = session.line().await?;
        match replies.push(&line) {
            Ok(Some(reply)) => return Ok(reply),
            Ok(None) => {}
            Err(why) => return Err(session.broke(&why)),
        }
    }
}
