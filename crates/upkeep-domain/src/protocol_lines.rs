//! The lines servers send to the line-protocol probes, read without trusting them: SMTP replies
//! (`250-SIZE 10240000` … `250 HELP`, RFC 5321 §4.2), IMAP response lines (`* OK [..] ready`,
//! `a1 OK done`, RFC 9051 §7) and the SSH identification line (`SSH-2.0-OpenSSH_9.2 Debian`,
//! RFC 4253 §4.2). Pure: the probe reads bounded lines off the socket and hands them here.

/// The most lines one SMTP reply may have (an `EHLO` answer lists a few dozen at most).
pub const MAX_REPLY_LINES: usize = 128;

/// A complete SMTP reply: its code and the text of each line (without code and separator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpReply {
    /// The three-digit reply code (200 to 599).
    pub code: u16,
    /// The text of each line, in order; at least one (maybe empty).
    pub lines: Vec<String>,
}

impl SmtpReply {
    /// The reply in one line: `"250 first line"`, later lines joined with ` / `.
    pub fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }

    /// The `EHLO` keywords a 250 reply lists (every line but the first), upper case, each
    /// without its parameters: `["SIZE", "STARTTLS", "8BITMIME"]`.
    pub fn extensions(&self) -> Vec<String> {
        self.lines
            .iter()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_ascii_uppercase)
            .collect()
    }
}

/// Assembles an SMTP reply from its lines: [`SmtpReplies::push`] each line as it arrives until
/// it returns the reply.
#[derive(Debug, Default)]
pub struct SmtpReplies {
    code: Option<u16>,
    lines: Vec<String>,
}

impl SmtpReplies {
    /// Takes one line (without its CRLF). `Ok(Some(reply))` once the last line (`CODE SP`)
    /// arrived; `Ok(None)` after a continuation line (`CODE-`); an error, in words, for a line
    /// that is not an SMTP reply line, a code that changes within a reply, or more than
    /// [`MAX_REPLY_LINES`] lines.
    pub fn push(&mut self, line: &str) -> Result<Option<SmtpReply>, String> {
        let digits = line
            .get(..3)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let code = digits
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|code| (200..600).contains(code))
            .ok_or_else(|| format!("`{}` is not an SMTP reply", shown(line)))?;
        let (last, text) = match line.as_bytes().get(3) {
            None => (true, ""),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(format!("`{}` is not an SMTP reply", shown(line))),
        };
        if self.code.is_some_and(|first| first != code) {
            return Err(format!(
                "the reply's code changed from {} to {code} between its lines",
                self.code.unwrap_or_default()
            ));
        }
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(format!("a reply of more than {MAX_REPLY_LINES} lines"));
        }
        self.code = Some(code);
        self.lines.push(text.to_owned());
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(SmtpReply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }
}

/// One IMAP response line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImapLine<'a> {
    /// `* WORD rest`: `word` upper case (`OK`, `PREAUTH`, `BYE`, `CAPABILITY`, a number…).
    Untagged {
        /// The first word after `*`, upper case.
        word: String,
        /// The rest of the line after the word and its space.
        text: &'a str,
    },
    /// `TAG OK|NO|BAD rest`: the completion of the command with that tag.
    Tagged {
        /// The command's tag.
        tag: &'a str,
        /// Whether the command succeeded.
        status: ImapStatus,
        /// The rest of the line.
        text: &'a str,
    },
    /// `+ rest`: the server waits for more of the command.
    Continuation(&'a str),
}

/// The status of a tagged IMAP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapStatus {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD`
    Bad,
}

impl ImapLine<'_> {
    /// Parses one line (without its CRLF); an error, in words, for anything else.
    pub fn parse(line: &str) -> Result<ImapLine<'_>, String> {
        let bad = || format!("`{}` is not an IMAP response", shown(line));
        if let Some(rest) = line.strip_prefix('+') {
            return Ok(ImapLine::Continuation(rest.trim_start()));
        }
        let (tag, rest) = line.split_once(' ').ok_or_else(bad)?;
        let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
        if tag == "*" {
            if word.is_empty() {
                return Err(bad());
            }
            return Ok(ImapLine::Untagged {
                word: word.to_ascii_uppercase(),
                text,
            });
        }
        let tag_ok = !tag.is_empty()
            && tag
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
        let status = match word.to_ascii_uppercase().as_str() {
            "OK" => ImapStatus::Ok,
            "NO" => ImapStatus::No,
            "BAD" => ImapStatus::Bad,
            _ => return Err(bad()),
        };
        if !tag_ok {
            return Err(bad());
        }
        Ok(ImapLine::Tagged { tag, status, text })
    }
}

/// The text of a status response without its leading response code:
/// `"[CAPABILITY IMAP4rev1] Dovecot ready."` → `("Dovecot ready.", Some("CAPABILITY IMAP4rev1"))`.
pub fn imap_response_code(text: &str) -> (&str, Option<&str>) {
    match text.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((code, rest)) => (rest.trim_start(), Some(code)),
        None => (text, None),
    }
}

/// The capabilities listed after `CAPABILITY` (in a `* CAPABILITY` line's text, or a
/// `[CAPABILITY …]` response code without its word), upper case: `["IMAP4REV1", "STARTTLS"]`.
pub fn imap_capabilities(list: &str) -> Vec<String> {
    list.split_whitespace()
        .map(str::to_ascii_uppercase)
        .filter(|word| word != "CAPABILITY")
        .collect()
}

/// An SSH server's identification: `SSH-2.0-OpenSSH_9.2p1 Debian-2` is protocol `2.0`,
/// software `OpenSSH_9.2p1`, comments `Debian-2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshIdentification {
    /// `2.0` (or `1.99`: a server speaking both).
    pub protocol: String,
    /// The software and its version.
    pub software: String,
    /// Whatever follows the software after a space.
    pub comments: Option<String>,
}

/// The most lines a server may send before its identification (RFC 4253 lets it send some).
pub const MAX_LINES_BEFORE_IDENTIFICATION: usize = 32;

impl SshIdentification {
    /// Reads one line (without its CRLF) of what an SSH server sends first. `Ok(None)` for a
    /// line before the identification (it does not start with `SSH-`); an error, in words, for
    /// an `SSH-` line that is malformed or of another protocol version than 2.
    pub fn parse(line: &str) -> Result<Option<SshIdentification>, String> {
        let Some(rest) = line.strip_prefix("SSH-") else {
            return Ok(None);
        };
        let bad = || format!("`{}` is not an SSH identification", shown(line));
        let (protocol, rest) = rest.split_once('-').ok_or_else(bad)?;
        let (software, comments) = match rest.split_once(' ') {
            Some((software, comments)) => (software, Some(comments.to_owned())),
            None => (rest, None),
        };
        let printable = |text: &str| text.bytes().all(|b| b.is_ascii_graphic());
        if software.is_empty() || !printable(software) || !printable(protocol) {
            return Err(bad());
        }
        if protocol != "2.0" && protocol != "1.99" {
            return Err(format!(
                "the server speaks SSH protocol {protocol}, not 2.0"
            ));
        }
        Ok(Some(SshIdentification {
            protocol: protocol.to_owned(),
            software: software.to_owned(),
            comments,
        }))
    }

    /// The identification as the server sent it.
    pub fn line(&self) -> String {
        match &self.comments {
            Some(comments) => format!("SSH-{}-{} {comments}", self.protocol, self.software),
            None => format!("SSH-{}-{}", self.protocol, self.software),
        }
    }
}

/// A line fit for a message: at most 80 characters, control characters as `?`.
fn shown(line: &str) -> String {
    let mut text: String = line
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if line.chars().count() > 80 {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn smtp_replies_assemble_over_lines() {
        let mut replies = SmtpReplies::default();
        assert_eq!(replies.push("250-mail.example Hello"), Ok(None));
        assert_eq!(replies.push("250-SIZE 10240000"), Ok(None));
        assert_eq!(replies.push("250-starttls"), Ok(None));
        let reply = replies.push("250 HELP").unwrap().unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.extensions(), ["SIZE", "STARTTLS", "HELP"]);
        assert_eq!(
            reply.text(),
            "250 mail.example Hello / SIZE 10240000 / starttls / HELP"
        );
        let bare = replies.push("221").unwrap().unwrap();
        assert_eq!(bare.lines, [""]);
    }

    #[test]
    fn smtp_replies_refuse_what_is_not_smtp() {
        let mut replies = SmtpReplies::default();
        assert!(replies.push("HTTP/1.1 400").is_err());
        assert!(replies.push("99 x").is_err());
        assert!(replies.push("250x").is_err());
        assert!(replies.push("é50 x").is_err());
        assert_eq!(replies.push("250-a"), Ok(None));
        assert_eq!(
            replies.push("354 b"),
            Err("the reply's code changed from 250 to 354 between its lines".to_owned())
        );
        let mut long = SmtpReplies::default();
        for _ in 0..MAX_REPLY_LINES {
            assert_eq!(long.push("250-x"), Ok(None));
        }
        assert!(long.push("250 x").is_err());
    }

    #[test]
    fn imap_lines_parse() {
        assert_eq!(
            ImapLine::parse("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready."),
            Ok(ImapLine::Untagged {
                word: "OK".to_owned(),
                text: "[CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready."
            })
        );
        assert_eq!(
            ImapLine::parse("a1 ok CAPABILITY completed"),
            Ok(ImapLine::Tagged {
                tag: "a1",
                status: ImapStatus::Ok,
                text: "CAPABILITY completed"
            })
        );
        assert_eq!(ImapLine::parse("+ go"), Ok(ImapLine::Continuation("go")));
        assert!(ImapLine::parse("hello").is_err());
        assert!(ImapLine::parse("a1 MAYBE x").is_err());
        assert!(ImapLine::parse("* ").is_err());
        assert_eq!(
            imap_response_code("[CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready."),
            ("Dovecot ready.", Some("CAPABILITY IMAP4rev1 STARTTLS"))
        );
        assert_eq!(
            imap_capabilities("CAPABILITY IMAP4rev1 starttls"),
            ["IMAP4REV1", "STARTTLS"]
        );
    }

    #[test]
    fn ssh_identifications_parse() {
        let ident = SshIdentification::parse("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
            .unwrap()
            .unwrap();
        assert_eq!(ident.software, "OpenSSH_9.2p1");
        assert_eq!(ident.comments.as_deref(), Some("Debian-2+deb12u3"));
        assert_eq!(ident.line(), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
        assert_eq!(SshIdentification::parse("welcome"), Ok(None));
        assert_eq!(
            SshIdentification::parse("SSH-1.5-old"),
            Err("the server speaks SSH protocol 1.5, not 2.0".to_owned())
        );
        assert!(SshIdentification::parse("SSH-2.0-").is_err());
        assert!(SshIdentification::parse("SSH-2.0").is_err());
    }
}
