//! Any text as the lines a mail or SSH server sends: never panics; an SMTP reply is assembled
//! from at most `MAX_REPLY_LINES` lines, each with one code between 200 and 599; an IMAP line's
//! parts come from the line; an SSH identification reads back as the line it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::protocol_lines::{
    ImapLine, MAX_REPLY_LINES, SmtpReplies, SshIdentification, imap_capabilities,
    imap_response_code,
};

fuzz_target!(|text: &str| {
    let mut replies = SmtpReplies::default();
    for line in text.split('\n') {
        match replies.push(line) {
            Ok(Some(reply)) => {
                assert!((200..600).contains(&reply.code));
                assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_REPLY_LINES);
                let _ = reply.extensions();
                let _ = reply.text();
            }
            Ok(None) => {}
            Err(_) => replies = SmtpReplies::default(),
        }
        match ImapLine::parse(line) {
            Ok(ImapLine::Untagged { text, .. }) | Ok(ImapLine::Tagged { text, .. }) => {
                assert!(line.ends_with(text));
                let (rest, code) = imap_response_code(text);
                assert!(text.contains(rest));
                if let Some(code) = code {
                    let _ = imap_capabilities(code);
                }
            }
            Ok(ImapLine::Continuation(rest)) => assert!(line.ends_with(rest)),
            Err(_) => {}
        }
        if let Ok(Some(ident)) = SshIdentification::parse(line) {
            assert_eq!(ident.line(), line);
        }
    }
});
