//! A small decoder from the positioned YAML tree to typed values that collects every problem
//! instead of stopping at the first.
//!
//! [`Decoder`] holds the problems found so far and the typed leaf readers (strings, numbers,
//! durations, zones, URLs, ...). [`Fields`] reads one mapping: each `required`/`optional` call
//! names a key it knows, and [`Fields::finish`] reports every other key as unknown, with a
//! "did you mean" suggestion when a known key is close. A reader returns `None` after recording
//! its problem, so callers simply stop building the value that needed it.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::yaml::{Entry, Node, NodeKind, Pos, Problem};
use crate::duration::parse_duration;

/// Collects problems while reading typed values out of the tree.
#[derive(Default)]
pub struct Decoder {
    /// Problems found so far, in the order found.
    pub problems: Vec<Problem>,
}

/// A zone and the IANA name it was written as.
pub struct Zone {
    pub zone: TimeZone,
    pub name: String,
}

impl Decoder {
    /// Records a problem at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push((pos, message.into()));
    }

    fn expected(&mut self, node: &Node, what: &str) {
        let found = describe(node);
        self.error(node.pos, format!("expected {what}, found {found}"));
    }

    /// Starts reading a mapping; records "expected a mapping" otherwise.
    pub fn fields<'n>(&mut self, node: &'n Node) -> Option<Fields<'n>> {
        match &node.kind {
            NodeKind::Mapping(entries) => Some(Fields {
                pos: node.pos,
                entries,
                known: Vec::new(),
            }),
            _ => {
                self.expected(node, "a mapping");
                None
            }
        }
    }

    /// The items of a sequence.
    pub fn sequence<'n>(&mut self, node: &'n Node) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Sequence(items) => Some(items),
            _ => {
                self.expected(node, "a list");
                None
            }
        }
    }

    /// A list whose items are read by `read`; items that fail are dropped (and reported).
    pub fn list<T>(
        &mut self,
        node: &Node,
        mut read: impl FnMut(&mut Decoder, &Node) -> Option<T>,
    ) -> Option<Vec<T>> {
        let items = self.sequence(node)?;
        let before = self.problems.len();
        let values: Vec<T> = items.iter().filter_map(|item| read(self, item)).collect();
        (self.problems.len() == before).then_some(values)
    }

    /// A mapping from ids to values read by `read(decoder, entry)`, ids checked.
    pub fn id_map<T>(
        &mut self,
        node: &Node,
        mut read: impl FnMut(&mut Decoder, &Entry) -> Option<T>,
    ) -> BTreeMap<String, T> {
        let mut out = BTreeMap::new();
        let NodeKind::Mapping(entries) = &node.kind else {
            if !node.is_null() {
                self.expected(node, "a mapping of ids");
            }
            return out;
        };
        for entry in entries {
            if !self.check_id(&entry.key, entry.key_pos) {
                continue;
            }
            if let Some(value) = read(self, entry) {
                out.insert(entry.key.clone(), value);
            }
        }
        out
    }

    /// A mapping of free-form names to strings (e.g. HTTP headers).
    pub fn string_map(&mut self, node: &Node) -> Option<BTreeMap<String, String>> {
        let NodeKind::Mapping(entries) = &node.kind else {
            self.expected(node, "a mapping");
            return None;
        };
        let before = self.problems.len();
        let map: BTreeMap<String, String> = entries
            .iter()
            .filter_map(|entry| Some((entry.key.clone(), self.text(&entry.value)?.to_owned())))
            .collect();
        (self.problems.len() == before).then_some(map)
    }

    /// Checks that an id is usable in URLs and file names.
    pub fn check_id(&mut self, id: &str, pos: Pos) -> bool {
        let valid = id
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric())
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            self.error(
                pos,
                format!(
                    "invalid id `{id}`: use up to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit"
                ),
            );
        }
        valid
    }

    /// A non-null scalar's text.
    pub fn text<'n>(&mut self, node: &'n Node) -> Option<&'n str> {
        match node.scalar() {
            Some(scalar) if !scalar.is_null() => Some(&scalar.text),
            _ => {
                self.expected(node, "a string");
                None
            }
        }
    }

    /// A non-empty string.
    pub fn string(&mut self, node: &Node) -> Option<String> {
        let text = self.text(node)?;
        if text.trim().is_empty() {
            self.error(node.pos, "expected a non-empty string");
            return None;
        }
        Some(text.to_owned())
    }

    /// A scalar converted by `convert`, whose error message is reported at the scalar.
    pub fn parsed<T>(
        &mut self,
        node: &Node,
        convert: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(node)?;
        match convert(text) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(node.pos, message);
                None
            }
        }
    }

    /// `true` or `false`.
    pub fn bool(&mut self, node: &Node) -> Option<bool> {
        self.parsed(node, |text| match text {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            other => Err(format!("expected true or false, found `{other}`")),
        })
    }

    /// A non-negative integer of type `T`.
    pub fn integer<T: TryFrom<u64>>(&mut self, node: &Node) -> Option<T> {
        self.parsed(node, |text| {
            let number: u64 = text
                .parse()
                .map_err(|_| format!("expected a whole number, found `{text}`"))?;
            T::try_from(number).map_err(|_| format!("{number} is too large here"))
        })
    }

    /// A duration such as `30s`.
    pub fn duration(&mut self, node: &Node) -> Option<Duration> {
        self.parsed(node, parse_duration)
    }

    /// An IANA time zone.
    pub fn zone(&mut self, node: &Node) -> Option<Zone> {
        self.parsed(node, |name| {
            TimeZone::get(name)
                .map(|zone| Zone {
                    zone,
                    name: name.to_owned(),
                })
                .map_err(|_| {
                    format!(
                        "unknown time zone `{name}`: use an IANA name such as Europe/Rome or UTC"
                    )
                })
        })
    }

    /// An `http://` or `https://` URL with a host.
    pub fn url(&mut self, node: &Node) -> Option<String> {
        self.parsed(node, |text| check_http_url(text).map(|()| text.to_owned()))
    }

    /// One of `choices` (by name).
    pub fn choice<T: Copy>(&mut self, node: &Node, what: &str, choices: &[(&str, T)]) -> Option<T> {
        self.parsed(node, |text| {
            choices
                .iter()
                .find(|(name, _)| *name == text)
                .map(|(_, value)| *value)
                .ok_or_else(|| {
                    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
                    format!("unknown {what} `{text}`: use {}", names.join(", "))
                })
        })
    }
}

/// Reads the keys of one mapping; see the module documentation.
pub struct Fields<'n> {
    /// Position of the mapping (where missing keys are reported).
    pub pos: Pos,
    entries: &'n [Entry],
    known: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// The value of `key` if present and not null; the key becomes known.
    pub fn get(&mut self, key: &'static str) -> Option<&'n Node> {
        self.know(key);
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.value)
            .filter(|node| !node.is_null())
    }

    /// Where `key` is written, if present (null or not); the key becomes known.
    pub fn key_pos(&mut self, key: &'static str) -> Option<Pos> {
        self.know(key);
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.key_pos)
    }

    /// Whether `key` is present (null or not); the key becomes known.
    pub fn has(&mut self, key: &'static str) -> bool {
        self.know(key);
        self.entries.iter().any(|entry| entry.key == key)
    }

    /// Reads a required key; a missing one is reported at the mapping.
    pub fn required<T>(
        &mut self,
        decoder: &mut Decoder,
        key: &'static str,
        read: impl FnOnce(&mut Decoder, &'n Node) -> Option<T>,
    ) -> Option<T> {
        match self.get(key) {
            Some(node) => read(decoder, node),
            None => {
                decoder.error(self.pos, format!("missing required key `{key}`"));
                None
            }
        }
    }

    /// Reads an optional key; absent or null gives `None` without a problem.
    pub fn optional<T>(
        &mut self,
        decoder: &mut Decoder,
        key: &'static str,
        read: impl FnOnce(&mut Decoder, &'n Node) -> Option<T>,
    ) -> Option<T> {
        self.get(key).and_then(|node| read(decoder, node))
    }

    /// Marks `key` known, once (it is listed once in "expected one of").
    fn know(&mut self, key: &'static str) {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
    }

    /// Reports every key that no `get` asked for.
    pub fn finish(self, decoder: &mut Decoder) {
        for entry in self.entries {
            if self.known.contains(&entry.key.as_str()) {
                continue;
            }
            let message = match suggest(&entry.key, &self.known) {
                Some(close) => format!("unknown key `{}`; did you mean `{close}`?", entry.key),
                None => format!(
                    "unknown key `{}`; expected one of: {}",
                    entry.key,
                    self.known.join(", ")
                ),
            };
            decoder.error(entry.key_pos, message);
        }
    }
}

/// How a node reads to a person, for "expected X, found Y".
pub fn describe(node: &Node) -> String {
    match &node.kind {
        NodeKind::Mapping(_) => "a mapping".into(),
        NodeKind::Sequence(_) => "a list".into(),
        NodeKind::Scalar(scalar) if scalar.is_null() => "nothing (null)".into(),
        NodeKind::Scalar(scalar) if scalar.plain && scalar.text.parse::<f64>().is_ok() => {
            format!("the number {}", scalar.text)
        }
        NodeKind::Scalar(scalar)
            if scalar.plain && matches!(scalar.text.as_str(), "true" | "false") =>
        {
            format!("the boolean {}", scalar.text)
        }
        NodeKind::Scalar(scalar) => format!("the string `{}`", shorten(&scalar.text)),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        let head: String = text.chars().take(37).collect();
        format!("{head}...")
    } else {
        text.to_owned()
    }
}

/// The closest of `candidates` to `word`, when close enough to be a likely typo.
pub fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let deletion = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insertion = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// Checks an `http(s)://host[:port][/path]` URL without pulling in a URL crate.
pub fn check_http_url(text: &str) -> Result<(), String> {
    check_url(text, &["http", "https"])
}

/// Checks that `text` is `SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/...]` with one of `schemes`.
pub fn check_url(text: &str, schemes: &[&str]) -> Result<(), String> {
    let bad = |why: &str| format!("bad URL `{text}`: {why}");
    let rest = schemes
        .iter()
        .find_map(|scheme| {
            text.strip_prefix(scheme)
                .and_then(|rest| rest.strip_prefix("://"))
        })
        .ok_or_else(|| {
            let starts: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
            bad(&format!("it must start with {}", starts.join(" or ")))
        })?;
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains spaces or control characters"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    check_host_port(host_port, false).map_err(|why| bad(&why))
}

/// Checks `host[:port]` (`[v6]:port` too); with `port_required` a port must be present.
pub fn check_host_port(text: &str, port_required: bool) -> Result<(), String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in the address".to_owned())?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if host
        .chars()
        .any(|c| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
    {
        return Err(format!("`{host}` is not a valid host"));
    }
    match port {
        Some(port) if port.parse::<u16>().map_or(true, |p| p == 0) => {
            Err(format!("`{port}` is not a valid port"))
        }
        None if port_required => Err("a port is required, e.g. 127.0.0.1:5432".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("intervall", &["interval", "timeout"]),
            Some("interval")
        );
        assert_eq!(suggest("tmeout", &["interval", "timeout"]), Some("timeout"));
        assert_eq!(suggest("colour", &["interval", "timeout"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn urls_and_addresses() {
        assert!(check_http_url("http://127.0.0.1:9000/health").is_ok());
        assert!(check_http_url("https://example.com").is_ok());
        assert!(check_http_url("https://user:pw@example.com/x?y#z").is_ok());
        assert!(check_http_url("http://[::1]:8080/").is_ok());
        for bad in [
            "ftp://x",
            "http://",
            "http://:80",
            "http://a b",
            "http://x:99999",
            "x",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad}");
        }
        assert!(check_host_port("127.0.0.1:27017", true).is_ok());
        assert!(check_host_port("db.internal", true).is_err());
        assert!(check_host_port("db.internal", false).is_ok());
    }
}
