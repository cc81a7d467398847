//! Text cut to a receiver's limit and encoded for its URLs and forms: the one truncation (on a
//! character boundary, with a marker) and the one percent-encoding of notification requests.

/// The marker that ends a cut text.
pub const CUT_MARKER: char = '…';

/// `s` cut to at most `max` characters; a cut one ends with `…` (counted in `max`).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push(CUT_MARKER);
    }
    out
}

/// `s` cut to at most `max` bytes of UTF-8, on a character boundary; a cut one ends with `…`
/// (its three bytes counted in `max`).
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let marker = CUT_MARKER.len_utf8();
    if max < marker {
        return String::new();
    }
    let mut cut = max - marker;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{CUT_MARKER}", &s[..cut])
}

/// `s` escaped by `escape` (one character at a time) and cut so the escaped text is at most
/// `max` characters with its marker: an escape (`&amp;`) is never split.
pub fn escape_within(s: &str, max: usize, escape: impl Fn(char, &mut String)) -> String {
    let mut full = String::with_capacity(s.len());
    // Characters of `full` after each source character, to cut back to a whole one.
    let mut ends = Vec::new();
    let mut count = 0;
    for c in s.chars() {
        let before = full.len();
        escape(c, &mut full);
        count += full[before..].chars().count();
        ends.push((full.len(), count));
    }
    if count <= max {
        return full;
    }
    let room = max.saturating_sub(1);
    let cut = ends
        .iter()
        .take_while(|(_, chars)| *chars <= room)
        .last()
        .map_or(0, |(bytes, _)| *bytes);
    full.truncate(cut);
    if max > 0 {
        full.push(CUT_MARKER);
    }
    full
}

/// HTML escaping of one character (`&`, `<`, `>`, `"`).
pub fn html_escape_char(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        c => out.push(c),
    }
}

/// `s` HTML-escaped.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        html_escape_char(c, &mut out);
    }
    out
}

/// `s` percent-encoded for one URL path segment or query value: everything but RFC 3986's
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded, so a value can never add a path
/// segment, a query parameter or a fragment.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body of `pairs`, in order.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let one = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b' ' => out.push('+'),
                b if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') => {
                    out.push(char::from(b));
                }
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", one(k), one(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn cuts_on_characters_with_a_marker() {
        assert_eq!(truncate_chars("abcdef", 6), "abcdef");
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_bytes("héllo", 6), "héllo");
        // "h" + "é" is 3 bytes, the marker 3: 5 bytes leave room for "h" only.
        assert_eq!(truncate_bytes("héllo", 5), "h…");
        assert_eq!(truncate_bytes("héllo", 2), "");
    }

    #[test]
    fn escapes_are_never_split() {
        let escaped = escape_within("a&b<c", 7, html_escape_char);
        assert_eq!(escaped, "a&amp;…");
        assert_eq!(escape_within("a&b", 10, html_escape_char), "a&amp;b");
        assert_eq!(escape_within("a&b", 5, html_escape_char), "a…");
    }

    #[test]
    fn encodings() {
        assert_eq!(percent_encode("!room:example.org"), "%21room%3Aexample.org");
        assert_eq!(percent_encode("a/b?c#d é"), "a%2Fb%3Fc%23d%20%C3%A9");
        assert_eq!(
            form_encode(&[("message", "a b&c=d"), ("title", "é")]),
            "message=a+b%26c%3Dd&title=%C3%A9"
        );
    }

    proptest! {
        #[test]
        fn truncation_respects_the_limit(s in ".{0,40}", max in 0_usize..50) {
            let c = truncate_chars(&s, max);
            prop_assert!(c.chars().count() <= max);
            let b = truncate_bytes(&s, max);
            prop_assert!(b.len() <= max);
            let e = escape_within(&s, max, html_escape_char);
            prop_assert!(e.chars().count() <= max);
        }

        #[test]
        fn percent_encoding_leaves_no_delimiter(s in ".{0,40}") {
            let e = percent_encode(&s);
            prop_assert!(!e.contains(['/', '?', '#', '&', '=', ' ']));
        }
    }
}
