//! `imap` probes: connect (`imap://`, or `imaps://` with TLS from the first byte), read the
//! `* OK` greeting (`* PREAUTH` too; `* BYE` is a refusal), ask `CAPABILITY`, upgrade with
//! `STARTTLS` when the check wants it and the server offers it (then `CAPABILITY` again), and
//! `LOGOUT`. The greeting's text (without its response code) is `[BODY]`;
//! `[BODY].capabilities` lists what the server said last; the certificate's expiry is
//! `[CERT_EXPIRY]`. The dialogue machinery is [`super::mail`]'s.

use std::time::Instant;

use upkeep_domain::config::MailCheck;
use upkeep_domain::protocol_lines::{
    ImapLine, ImapStatus, MAX_REPLY_LINES, imap_capabilities, imap_response_code,
};

use super::mail::{GREETED, Greeted, Protocol, Session};
use super::{Failure, Progress, Seen};

pub(super) async fn probe(check: &MailCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let mut session = Session::open(Protocol::Imap, check, progress).await?;
    let line = session.line().await?;
    let banner = match ImapLine::parse(&line) {
        Ok(ImapLine::Untagged { word, text }) if word == "OK" || word == "PREAUTH" => {
            imap_response_code(text).0.to_owned()
        }
        Ok(ImapLine::Untagged { word, text }) if word == "BYE" => {
            return Err(session.fail(&format!("refused the session: {text}")));
        }
        Ok(_) => return Err(session.broke(&format!("the greeting was `{line}`"))),
        Err(why) => return Err(session.broke(&why)),
    };
    progress.reached(GREETED);
    let mut tags = 0u32;
    let mut capabilities = capability(&mut session, &mut tags).await?;
    if session.wants_starttls(capabilities.iter().any(|c| c == "STARTTLS"))? {
        command(&mut session, &mut tags, "STARTTLS").await?;
        session = session.upgrade().await?;
        capabilities = capability(&mut session, &mut tags).await?;
    }
    let greeted = Greeted {
        banner: &banner,
        names_key: "capabilities",
        names: &capabilities,
        goodbye: &format!("a{} LOGOUT", tags + 1),
    };
    Ok(session.finish(started, greeted).await)
}

/// The capabilities the server lists in answer to `CAPABILITY`.
async fn capability(session: &mut Session, tags: &mut u32) -> Result<Vec<String>, Failure> {
    let untagged = command(session, tags, "CAPABILITY").await?;
    Ok(untagged
        .iter()
        .filter(|(word, _)| word == "CAPABILITY")
        .flat_map(|(_, list)| imap_capabilities(list))
        .collect())
}

/// Sends `command` under the next tag and reads until its completion; returns the untagged
/// lines (word, text) that came before it. `NO` and `BAD` fail the check.
async fn command(
    session: &mut Session,
    tags: &mut u32,
    command: &str,
) -> Result<Vec<(String, String)>, Failure> {
    *tags += 1;
    let tag = format!("a{tags}");
    session.send(&format!("{tag} {command}")).await?;
    let mut untagged = Vec::new();
    loop {
        let line = session.line().await?;
        match ImapLine::parse(&line) {
            Ok(ImapLine::Untagged { word, text }) => {
                if word == "BYE" {
                    return Err(session.fail(&format!("ended the session: {text}")));
                }
                if untagged.len() >= MAX_REPLY_LINES {
                    return Err(session.broke(&format!(
                        "more than {MAX_REPLY_LINES} lines in answer to {command}"
                    )));
                }
                untagged.push((word, text.to_owned()));
            }
            Ok(ImapLine::Tagged {
                tag: done,
                status,
                text,
            }) if done == tag => {
                return match status {
                    ImapStatus::Ok => Ok(untagged),
                    ImapStatus::No => Err(session.fail(&format!("refused {command}: NO {text}"))),
                    ImapStatus::Bad => Err(session.fail(&format!("refused {command}: BAD {text}"))),
                };
            }
            Ok(_) => {
                return Err(session.broke(&format!("`{line}` in answer to {command} (tag {tag})")));
            }
            Err(why) => return Err(session.broke(&why)),
        }
    }
}
