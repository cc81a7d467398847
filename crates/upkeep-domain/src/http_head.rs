//! Reading the head of an HTTP/1.1 request off a connection's buffer, for the public side's
//! prepared answers: a plain `GET` of a path (the status page, its feeds and JSON) is answered
//! from prepared bytes without the HTTP stack; anything else — another method or version, a
//! body, an upgrade, credentials, a head that is malformed or too large for this reader — is
//! [`Head::Other`], and the connection is handed, with its buffered bytes, to the full HTTP
//! server, which answers (or refuses) it as it answers every request.
//!
//! This reader only decides what is plain; it never refuses anything itself.

use std::mem::MaybeUninit;

/// The most header fields a plain request may carry here (more: [`Head::Other`]).
pub const MAX_FIELDS: usize = 48;

/// What a buffer of request bytes starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head<'b> {
    /// Not a whole head yet: read more.
    Partial,
    /// A plain `GET`, which a prepared answer may serve.
    Plain(PlainGet<'b>),
    /// Anything else; the full HTTP server reads it.
    Other,
}

/// A plain `GET`: HTTP/1.1, an origin-form target, no body, no credentials, no upgrade, and
/// at most one of each field below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainGet<'b> {
    /// How many bytes of the buffer the head takes (the next request starts there).
    pub len: usize,
    /// The target's path, without its query.
    pub path: &'b str,
    /// `Accept-Encoding`, when it is visible ASCII.
    pub accept_encoding: Option<&'b str>,
    /// `If-None-Match`, when it is visible ASCII.
    pub if_none_match: Option<&'b str>,
    /// `X-Forwarded-For`, when it is visible ASCII.
    pub forwarded_for: Option<&'b str>,
}

/// Reads the request head `buf` starts with.
pub fn read_head(buf: &[u8]) -> Head<'_> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(_) => return Head::Other,
    };
    if request.method != Some("GET") || request.version != Some(1) {
        return Head::Other;
    }
    let Some(target) = request.path else {
        return Head::Other;
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    if !path.starts_with('/') || !path.bytes().all(is_path_byte) {
        return Head::Other;
    }
    if query.is_some_and(|q| !q.bytes().all(is_query_byte)) {
        return Head::Other;
    }
    let mut plain = PlainGet {
        len,
        path,
        accept_encoding: None,
        if_none_match: None,
        forwarded_for: None,
    };
    let (mut encodings, mut tags, mut forwarded) = (0, 0, 0);
    for field in request.headers.iter() {
        let name = field.name;
        let value = field.value;
        if name.eq_ignore_ascii_case("accept-encoding") {
            encodings += 1;
            plain.accept_encoding = visible(value);
        } else if name.eq_ignore_ascii_case("if-none-match") {
            tags += 1;
            plain.if_none_match = visible(value);
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded += 1;
            plain.forwarded_for = visible(value);
        } else if name.eq_ignore_ascii_case("content-length") {
            if value != b"0" {
                return Head::Other;
            }
        } else if name.eq_ignore_ascii_case("connection") {
            if !value.eq_ignore_ascii_case(b"keep-alive") {
                return Head::Other;
            }
        } else if ["transfer-encoding", "authorization", "upgrade", "expect"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            return Head::Other;
        }
    }
    if encodings > 1 || tags > 1 || forwarded > 1 {
        return Head::Other;
    }
    Head::Plain(plain)
}

/// The value as text, when every byte of it is visible ASCII or a tab (what an HTTP header
/// value reads as text).
fn visible(value: &[u8]) -> Option<&str> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// RFC 3986 `pchar` and `/`: unreserved, percent, sub-delims, `:` and `@`.
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@/".contains(&b)
}

/// RFC 3986 query: `pchar`, `/` and `?`.
fn is_query_byte(b: u8) -> bool {
    is_path_byte(b) || b == b'?'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plain(head: &str) -> PlainGet<'_> {
        match read_head(head.as_bytes()) {
            Head::Plain(get) => get,
            other => panic!("{head:?}: {other:?}"),
        }
    }

    #[test]
    fn a_plain_get_names_its_path_and_the_fields_an_answer_depends_on() {
        let head = "GET /api/v2/summary.json?x=1 HTTP/1.1\r\nHost: status.example\r\n\
                    Accept-Encoding: gzip, br\r\nIf-None-Match: \"abc-br\"\r\n\
                    X-Forwarded-For: 192.0.2.7\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1";
        let get = plain(head);
        assert_eq!(get.path, "/api/v2/summary.json");
        assert_eq!(get.accept_encoding, Some("gzip, br"));
        assert_eq!(get.if_none_match, Some("\"abc-br\""));
        assert_eq!(get.forwarded_for, Some("192.0.2.7"));
        assert_eq!(&head[get.len..], "GET / HTTP/1.1");

        let bare = plain("GET / HTTP/1.1\r\n\r\n");
        assert_eq!(
            bare,
            PlainGet {
                len: 18,
                path: "/",
                accept_encoding: None,
                if_none_match: None,
                forwarded_for: None,
            }
        );
        assert_eq!(
            plain("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").path,
            "/"
        );
    }

    #[test]
    fn anything_but_a_plain_get_goes_to_the_http_server() {
        for head in [
            "HEAD / HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "get / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
            "GET http://status.example/ HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "GET /\"x HTTP/1.1\r\n\r\n",
            "GET /?a{b} HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET / HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "GET / HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nAccept-Encoding: br\r\nAccept-Encoding: gzip\r\n\r\n",
            "GET / HTTP/1.1\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\n",
            "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        ] {
            assert_eq!(read_head(head.as_bytes()), Head::Other, "{head:?}");
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-A: b\r\n".repeat(MAX_FIELDS + 1)
        );
        assert_eq!(read_head(many.as_bytes()), Head::Other);
    }

    #[test]
    fn a_field_that_is_not_text_counts_as_absent() {
        let get = match read_head(b"GET / HTTP/1.1\r\nAccept-Encoding: br\xff\r\n\r\n") {
            Head::Plain(get) => get,
            other => panic!("{other:?}"),
        };
        assert_eq!(get.accept_encoding, None);
    }

    proptest! {
        /// Every proper prefix of a plain head is partial, and the whole reads the same
        /// wherever the bytes were cut.
        #[test]
        fn a_head_cut_anywhere_is_partial_until_it_is_whole(
            path in "/[a-z0-9/._-]{0,30}",
            encoding in proptest::option::of("[a-z, ;=0-9.]{1,20}"),
            cut in 0usize..200,
        ) {
            let mut head = format!("GET {path} HTTP/1.1\r\nHost: h\r\n");
            if let Some(e) = &encoding {
                head.push_str(&format!("Accept-Encoding: {e}\r\n"));
            }
            head.push_str("\r\n");
            let cut = cut.min(head.len() - 1);
            prop_assert_eq!(read_head(&head.as_bytes()[..cut]), Head::Partial);
            let get = plain(&head);
            prop_assert_eq!(get.len, head.len());
            prop_assert_eq!(get.path, path.as_str());
            prop_assert_eq!(get.accept_encoding, encoding.as_deref().map(str::trim));
        }
    }
}
