//! Monitor conditions such as `[STATUS] == 200`, `[BODY].items[0].state == ok` or
//! `[BODY] matches "^ok$"`: a hand-written parser whose errors carry the byte offset of the
//! problem inside the condition text, and an evaluator the monitoring engine applies to each
//! probe result.
//!
//! Grammar: `SUBJECT OP VALUE` where SUBJECT is `[STATUS]`, `[RESPONSE_TIME]` (ms),
//! `[CERT_EXPIRY]` (days), `[PACKET_LOSS]` (percent), `[RTT_MIN]`, `[RTT_AVG]`, `[RTT_MAX]`
//! (ms), `[DOMAIN_EXPIRY]` (days), `[VALUE]` (the value an `snmp` probe read) or `[BODY]`
//! optionally followed by a JSON path (`.key`, `[index]`); OP is one of `== != < <= > >=
//! contains matches`; VALUE is the rest of the text, or a double-quoted string with `\"` and
//! `\\` escapes. Ordering operators and every operator on a numeric subject need a number;
//! `contains` and `matches` apply to `[BODY]` and `[VALUE]` only; a `matches` pattern is
//! compiled when the condition is parsed. Like `[BODY]`, `[VALUE]` is text that ordering
//! operators read as a number.

use std::fmt;

use regex::Regex;

use crate::syntax::{Cursor, SyntaxError};

/// A parsed condition.
#[derive(Clone, Debug)]
pub struct Condition {
    /// What the condition looks at.
    pub subject: Subject,
    /// How it compares.
    pub op: Operator,
    /// What it compares with.
    pub expected: Expected,
    /// The condition as written, for messages and display.
    pub source: String,
}

/// The left-hand side of a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// `[STATUS]`: the HTTP status code.
    Status,
    /// `[RESPONSE_TIME]`: milliseconds from request to complete response.
    ResponseTime,
    /// `[CERT_EXPIRY]`: whole days until the certificate expires.
    CertExpiry,
    /// `[PACKET_LOSS]`: the share of echo requests left unanswered, in percent (0 to 100).
    PacketLoss,
    /// `[RTT_MIN]`: the shortest round trip of the answered echo requests, in milliseconds.
    RttMin,
    /// `[RTT_AVG]`: the mean round trip of the answered echo requests, in milliseconds.
    RttAvg,
    /// `[RTT_MAX]`: the longest round trip of the answered echo requests, in milliseconds.
    RttMax,
    /// `[DOMAIN_EXPIRY]`: whole days until the domain's registration expires.
    DomainExpiry,
    /// `[BODY]` with an optional JSON path; an empty path means the body text.
    Body(Vec<PathSegment>),
    /// `[VALUE]`: the value an `snmp` probe read (its first OID's), as text.
    Value,
}

/// One step of a `[BODY]` JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// `.name`
    Key(String),
    /// `[3]`
    Index(usize),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `matches`
    Matches,
}

/// The right-hand side of a condition.
#[derive(Clone, Debug)]
pub enum Expected {
    /// A number (for numeric subjects, ordering operators, or a numeric-looking body value).
    Number(f64),
    /// Text compared as written.
    Text(String),
    /// A regular expression compiled at parse time (`matches`).
    Pattern(Regex),
}

/// What a probe observed, as far as conditions can see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observation<'a> {
    /// HTTP status code.
    pub status: Option<u16>,
    /// Response time in milliseconds.
    pub response_time_ms: Option<u64>,
    /// Response body as text.
    pub body: Option<&'a str>,
    /// Response body parsed as JSON, when it is JSON.
    pub json: Option<&'a serde_json::Value>,
    /// Days until the certificate expires (negative once expired).
    pub cert_expiry_days: Option<i64>,
    /// The value an `snmp` probe read, as text.
    pub value: Option<&'a str>,
    /// Echo requests and their answers (icmp).
    pub pings: Option<PingStats>,
    /// Days until the domain's registration expires (negative once expired).
    pub domain_expiry_days: Option<i64>,
}

/// What a series of echo requests saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PingStats {
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received in time.
    pub received: u32,
    /// Shortest, mean and longest round trip in milliseconds; `None` when nothing answered.
    pub rtt_ms: Option<(f64, f64, f64)>,
}

impl PingStats {
    /// The share of requests left unanswered, in percent; `None` when nothing was sent.
    pub fn loss_percent(&self) -> Option<f64> {
        (self.sent > 0).then(|| {
            f64::from(self.sent.saturating_sub(self.received)) * 100.0 / f64::from(self.sent)
        })
    }
}

const SUBJECTS: [(&str, Subject); 10] = [
    ("[STATUS]", Subject::Status),
    ("[RESPONSE_TIME]", Subject::ResponseTime),
    ("[CERT_EXPIRY]", Subject::CertExpiry),
    ("[PACKET_LOSS]", Subject::PacketLoss),
    ("[RTT_MIN]", Subject::RttMin),
    ("[RTT_AVG]", Subject::RttAvg),
    ("[RTT_MAX]", Subject::RttMax),
    ("[DOMAIN_EXPIRY]", Subject::DomainExpiry),
    ("[BODY]", Subject::Body(Vec::new())),
    ("[VALUE]", Subject::Value),
];

/// Operators, longest spelling first so that `<=` wins over `<`.
const OPERATORS: [(&str, Operator); 8] = [
    ("==", Operator::Eq),
    ("!=", Operator::Ne),
    ("<=", Operator::Le),
    (">=", Operator::Ge),
    ("<", Operator::Lt),
    (">", Operator::Gt),
    ("contains", Operator::Contains),
    ("matches", Operator::Matches),
];

impl Condition {
    /// Parses a condition; the error's offset points at the offending byte.
    pub fn parse(text: &str) -> Result<Condition, SyntaxError> {
        let mut cursor = Cursor::new(text);
        cursor.skip_spaces();
        let subject = parse_subject(&mut cursor)?;
        cursor.skip_spaces();
        let op_offset = cursor.pos();
        let op = parse_operator(&mut cursor)?;
        let numeric_subject = !matches!(subject, Subject::Body(_) | Subject::Value);
        if numeric_subject && matches!(op, Operator::Contains | Operator::Matches) {
            return Err(SyntaxError {
                offset: op_offset,
                message: format!(
                    "`{}` applies to [BODY] and [VALUE] only; compare numbers with == != < <= > >=",
                    operator_text(op)
                ),
            });
        }
        cursor.skip_spaces();
        let value_offset = cursor.pos();
        let value = parse_value(&mut cursor)?;
        let value_error = |message: String| SyntaxError {
            offset: value_offset,
            message,
        };
        let ordering = matches!(
            op,
            Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge
        );
        let expected = match op {
            Operator::Matches => Regex::new(&value)
                .map(Expected::Pattern)
                .map_err(|err| value_error(format!("bad regular expression: {err}")))?,
            Operator::Contains => Expected::Text(value),
            _ => match value.parse::<f64>() {
                Ok(number) if number.is_finite() => Expected::Number(number),
                _ if numeric_subject || ordering => {
                    return Err(value_error(format!(
                        "expected a number after `{}`, found `{value}`",
                        operator_text(op)
                    )));
                }
                _ => Expected::Text(value),
            },
        };
        Ok(Condition {
            subject,
            op,
            expected,
            source: text.trim().to_owned(),
        })
    }

    /// Whether the observation satisfies the condition. A subject the probe did not observe
    /// (no status on a TCP check, a JSON path that is absent) never satisfies it.
    pub fn evaluate(&self, observation: &Observation<'_>) -> bool {
        let actual = match &self.subject {
            Subject::Status => observation.status.map(|s| Actual::Number(f64::from(s))),
            Subject::ResponseTime => observation
                .response_time_ms
                .map(|ms| Actual::Number(ms as f64)),
            Subject::CertExpiry => observation
                .cert_expiry_days
                .map(|days| Actual::Number(days as f64)),
            Subject::PacketLoss => observation
                .pings
                .and_then(|p| p.loss_percent())
                .map(Actual::Number),
            Subject::RttMin => rtt(observation, |(min, _, _)| min).map(Actual::Number),
            Subject::RttAvg => rtt(observation, |(_, avg, _)| avg).map(Actual::Number),
            Subject::RttMax => rtt(observation, |(_, _, max)| max).map(Actual::Number),
            Subject::DomainExpiry => observation
                .domain_expiry_days
                .map(|days| Actual::Number(days as f64)),
            Subject::Body(path) if path.is_empty() => observation.body.map(Actual::from_text),
            Subject::Body(path) => observation
                .json
                .and_then(|json| select(json, path))
                .map(Actual::from_json),
            Subject::Value => observation.value.map(Actual::from_text),
        };
        actual.is_some_and(|actual| self.compare(&actual))
    }

    /// Says what the condition asked for and what the observation held, for failure messages:
    /// "`[STATUS] == 200`: the status was 503", "`[BODY].status == ok`: `status` was
    /// \"degraded\"", "`[BODY].status == ok`: the body is not JSON".
    pub fn explain(&self, observation: &Observation<'_>) -> String {
        format!("`{}`: {}", self.source, self.observed(observation))
    }

    /// What the observation held for this condition's subject, in words: "the status was 503",
    /// "the response time was 734 ms", "the certificate expires in 3 days", "`a.b` is absent".
    /// Long values are cut to about 80 characters.
    pub fn observed(&self, observation: &Observation<'_>) -> String {
        match &self.subject {
            Subject::Status => observation.status.map_or_else(
                || "no HTTP status was observed".to_owned(),
                |status| format!("the status was {status}"),
            ),
            Subject::ResponseTime => observation.response_time_ms.map_or_else(
                || "no response time was observed".to_owned(),
                |ms| format!("the response time was {ms} ms"),
            ),
            Subject::CertExpiry => observation.cert_expiry_days.map_or_else(
                || "no certificate was observed".to_owned(),
                |days| expiry_text("the certificate", days),
            ),
            Subject::PacketLoss => match observation.pings {
                Some(p) if p.sent > 0 => format!(
                    "the packet loss was {}% ({} of {} echo requests unanswered)",
                    number_text(p.loss_percent().unwrap_or(0.0)),
                    p.sent.saturating_sub(p.received),
                    p.sent
                ),
                _ => "no echo request was sent".to_owned(),
            },
            Subject::RttMin | Subject::RttAvg | Subject::RttMax => {
                let (which, pick): (&str, RttPick) = match self.subject {
                    Subject::RttMin => ("shortest", |(min, _, _)| min),
                    Subject::RttMax => ("longest", |(_, _, max)| max),
                    _ => ("average", |(_, avg, _)| avg),
                };
                rtt(observation, pick).map_or_else(
                    || "no echo reply was received".to_owned(),
                    |ms| format!("the {which} round trip was {} ms", number_text(ms)),
                )
            }
            Subject::DomainExpiry => observation.domain_expiry_days.map_or_else(
                || "no registration expiry was observed".to_owned(),
                |days| expiry_text("the registration", days),
            ),
            Subject::Body(path) if path.is_empty() => observation.body.map_or_else(
                || "no body was observed".to_owned(),
                |body| format!("the body was {}", excerpt(body)),
            ),
            Subject::Body(path) => match (observation.json, observation.body) {
                (Some(json), _) => match select(json, path) {
                    Some(value) => format!("`{}` was {}", path_text(path), json_excerpt(value)),
                    None => format!("`{}` is absent from the body", path_text(path)),
                },
                (None, Some(_)) => "the body is not JSON".to_owned(),
                (None, None) => "no body was observed".to_owned(),
            },
            Subject::Value => match observation.value {
                None => "no value was observed".to_owned(),
                Some(value) if value.trim().parse::<f64>().is_ok() => {
                    format!("the value was {}", value.trim())
                }
                Some(value) => format!("the value was {}", excerpt(value)),
            },
        }
    }

    fn compare(&self, actual: &Actual) -> bool {
        match (&self.expected, actual) {
            (Expected::Pattern(regex), actual) => regex.is_match(&actual.text()),
            (Expected::Text(text), actual) => match self.op {
                Operator::Contains => actual.text().contains(text.as_str()),
                Operator::Eq => actual.text() == *text,
                Operator::Ne => actual.text() != *text,
                _ => false,
            },
            (Expected::Number(expected), actual) => match actual.number() {
                Some(number) => compare_numbers(self.op, number, *expected),
                None => self.op == Operator::Ne,
            },
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// An observed value.
enum Actual {
    Number(f64),
    Text(String),
}

impl Actual {
    fn from_text(text: &str) -> Actual {
        Actual::Text(text.to_owned())
    }

    fn from_json(value: &serde_json::Value) -> Actual {
        match value {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map_or_else(|| Actual::Text(n.to_string()), Actual::Number),
            serde_json::Value::String(s) => Actual::Text(s.clone()),
            other => Actual::Text(other.to_string()),
        }
    }

    fn text(&self) -> String {
        match self {
            Actual::Number(n) => n.to_string(),
            Actual::Text(t) => t.clone(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Actual::Number(n) => Some(*n),
            Actual::Text(t) => t.trim().parse().ok(),
        }
    }
}

pub(crate) fn compare_numbers(op: Operator, actual: f64, expected: f64) -> bool {
    match op {
        Operator::Eq => actual == expected,
        Operator::Ne => actual != expected,
        Operator::Lt => actual < expected,
        Operator::Le => actual <= expected,
        Operator::Gt => actual > expected,
        Operator::Ge => actual >= expected,
        Operator::Contains | Operator::Matches => false,
    }
}

/// "the certificate expires in 3 days", "the registration expired 1 day ago".
fn expiry_text(what: &str, days: i64) -> String {
    if days >= 0 {
        format!("{what} expires in {}", days_text(days))
    } else {
        format!("{what} expired {} ago", days_text(days.saturating_neg()))
    }
}

/// Picks one of (shortest, mean, longest).
type RttPick = fn((f64, f64, f64)) -> f64;

/// One round-trip figure of the observation's pings, when any echo was answered.
fn rtt(observation: &Observation<'_>, pick: RttPick) -> Option<f64> {
    observation.pings.and_then(|p| p.rtt_ms).map(pick)
}

/// A measured number for messages: whole numbers bare, others with up to three decimals
/// ("50", "33.333", "0.042").
pub fn number_text(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// How many characters of an observed value a message quotes.
const EXCERPT_CHARS: usize = 80;

fn days_text(days: i64) -> String {
    if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    }
}

/// The text quoted (with escapes), cut to [`EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// A JSON value as compact JSON (strings keep their quotes), cut like [`excerpt`].
fn json_excerpt(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// A `[BODY]` path as written after `[BODY].`: `a.b[0]`.
fn path_text(path: &[PathSegment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            PathSegment::Index(index) => {
                text.push('[');
                text.push_str(&index.to_string());
                text.push(']');
            }
        }
    }
    text
}

fn select<'v>(json: &'v serde_json::Value, path: &[PathSegment]) -> Option<&'v serde_json::Value> {
    path.iter().try_fold(json, |value, segment| match segment {
        PathSegment::Key(key) => value.get(key.as_str()),
        PathSegment::Index(index) => value.get(*index),
    })
}

fn operator_text(op: Operator) -> &'static str {
    OPERATORS
        .iter()
        .find(|(_, candidate)| *candidate == op)
        .map_or("?", |(text, _)| text)
}

fn parse_subject(cursor: &mut Cursor<'_>) -> Result<Subject, SyntaxError> {
    let Some(subject) = SUBJECTS
        .iter()
        .find(|(token, _)| cursor.eat(token))
        .map(|(_, subject)| subject.clone())
    else {
        return Err(cursor.error(
            "expected [STATUS], [RESPONSE_TIME], [BODY], [CERT_EXPIRY], [VALUE], [PACKET_LOSS], [RTT_MIN], [RTT_AVG], [RTT_MAX] or [DOMAIN_EXPIRY] at the start",
        ));
    };
    if subject != Subject::Body(Vec::new()) {
        return Ok(subject);
    }
    let mut path = Vec::new();
    loop {
        if cursor.eat(".") {
            let key = cursor.take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-'));
            if key.is_empty() {
                return Err(cursor.error("expected a key name after `.` in the [BODY] path"));
            }
            path.push(PathSegment::Key(key.to_owned()));
        } else if cursor.eat("[") {
            let index = cursor
                .take_while(|c| c.is_ascii_digit())
                .parse::<usize>()
                .map_err(|_| {
                    cursor.error("expected an array index such as [0] in the [BODY] path")
                })?;
            if !cursor.eat("]") {
                return Err(cursor.error("expected `]` to close the array index"));
            }
            path.push(PathSegment::Index(index));
        } else {
            return Ok(Subject::Body(path));
        }
    }
}

fn parse_operator(cursor: &mut Cursor<'_>) -> Result<Operator, SyntaxError> {
    let start = cursor.pos();
    for (token, op) in OPERATORS {
        if cursor.eat(token) {
            let is_word = token.starts_with(|c: char| c.is_ascii_alphabetic());
            let rest = cursor.rest();
            if is_word && !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                cursor.reset(start);
                break;
            }
            return Ok(op);
        }
    }
    Err(cursor.error("expected an operator: == != < <= > >= contains matches"))
}

fn parse_value(cursor: &mut Cursor<'_>) -> Result<String, SyntaxError> {
    if cursor.rest().starts_with('"') {
        let value = cursor.quoted()?;
        cursor.skip_spaces();
        if !cursor.at_end() {
            return Err(cursor.error("unexpected text after the closing quote"));
        }
        return Ok(value);
    }
    let value = cursor.rest().trim_end();
    if value.is_empty() {
        return Err(cursor.error("expected a value after the operator"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(text: &str) -> Condition {
        Condition::parse(text).unwrap()
    }

    fn error_at(text: &str) -> (usize, String) {
        let err = Condition::parse(text).unwrap_err();
        (err.offset, err.message)
    }

    #[test]
    fn parses_the_contract_conditions() {
        let status = parse("[STATUS] == 200");
        assert_eq!(status.subject, Subject::Status);
        assert_eq!(status.op, Operator::Eq);
        assert!(matches!(status.expected, Expected::Number(n) if n == 200.0));

        let time = parse("[RESPONSE_TIME] < 500");
        assert_eq!(time.op, Operator::Lt);

        let body = parse("[BODY].status == ok");
        assert_eq!(
            body.subject,
            Subject::Body(vec![PathSegment::Key("status".into())])
        );
        assert!(matches!(&body.expected, Expected::Text(t) if t == "ok"));
    }

    #[test]
    fn parses_paths_strings_and_patterns() {
        let nested = parse("[BODY].a.b[0] == x");
        assert_eq!(
            nested.subject,
            Subject::Body(vec![
                PathSegment::Key("a".into()),
                PathSegment::Key("b".into()),
                PathSegment::Index(0)
            ])
        );
        let contains = parse(r#"[BODY] contains "all \"good\"""#);
        assert!(matches!(&contains.expected, Expected::Text(t) if t == "all \"good\""));
        let pattern = parse(r#"[BODY] matches "^ok$""#);
        assert!(matches!(&pattern.expected, Expected::Pattern(r) if r.as_str() == "^ok$"));
        assert_eq!(parse("[CERT_EXPIRY] > 14").op, Operator::Gt);
        assert_eq!(parse("[STATUS] >= 200").op, Operator::Ge);
        assert_eq!(parse("[STATUS] != 500").op, Operator::Ne);
    }

    #[test]
    fn errors_point_inside_the_text() {
        assert_eq!(error_at("[STATUSS] == 200").0, 0);
        let (offset, message) = error_at("[STATUS] = 200");
        assert_eq!(offset, 9);
        assert!(message.contains("expected an operator"), "{message}");
        let (offset, message) = error_at("[RESPONSE_TIME] < fast");
        assert_eq!(offset, 18);
        assert!(message.contains("expected a number"), "{message}");
        let (offset, message) = error_at(r#"[BODY] matches "(""#);
        assert_eq!(offset, 15);
        assert!(message.contains("bad regular expression"), "{message}");
        assert_eq!(error_at("[STATUS] contains 2").0, 9);
        assert_eq!(error_at("[BODY].a[x] == 1").0, 9);
        assert_eq!(error_at("[BODY]. == 1").0, 7);
        assert_eq!(error_at("[STATUS] ==").0, 11);
        assert_eq!(error_at(r#"[BODY] contains "abc"#).0, 16);
        assert_eq!(error_at("[BODY] containsx").0, 7);
    }

    #[test]
    fn evaluates_observations() {
        let json = json!({"status": "ok", "a": {"b": [3, 4]}});
        let observation = Observation {
            status: Some(200),
            response_time_ms: Some(120),
            body: Some(r#"{"status": "ok"}"#),
            json: Some(&json),
            cert_expiry_days: Some(30),
            value: None,
            pings: Some(PingStats {
                sent: 4,
                received: 3,
                rtt_ms: Some((0.5, 1.25, 2.0)),
            }),
            domain_expiry_days: Some(45),
        };
        for (text, expected) in [
            ("[STATUS] == 200", true),
            ("[STATUS] != 200", false),
            ("[RESPONSE_TIME] < 500", true),
            ("[RESPONSE_TIME] > 500", false),
            ("[BODY].status == ok", true),
            ("[BODY].a.b[0] == 3", true),
            ("[BODY].a.b[1] > 3", true),
            ("[BODY].a.b[2] == 3", false),
            ("[BODY].missing == ok", false),
            (r#"[BODY] contains "ok""#, true),
            (r#"[BODY] matches "^\{""#, true),
            ("[CERT_EXPIRY] > 14", true),
            ("[PACKET_LOSS] == 25", true),
            ("[PACKET_LOSS] < 20", false),
            ("[RTT_MIN] < 1", true),
            ("[RTT_AVG] < 1", false),
            ("[RTT_MAX] <= 2", true),
            ("[DOMAIN_EXPIRY] > 30", true),
            ("[DOMAIN_EXPIRY] > 60", false),
        ] {
            assert_eq!(parse(text).evaluate(&observation), expected, "{text}");
        }
        assert!(!parse("[STATUS] == 200").evaluate(&Observation::default()));
    }

    #[test]
    fn explains_what_was_observed() {
        let degraded = json!({"status": "degraded", "items": [{"n": 1}]});
        let observation = Observation {
            status: Some(503),
            response_time_ms: Some(734),
            body: Some(r#"{"status": "degraded"}"#),
            json: Some(&degraded),
            cert_expiry_days: Some(3),
            value: None,
            pings: Some(PingStats {
                sent: 3,
                received: 2,
                rtt_ms: Some((0.042, 10.5, 20.958)),
            }),
            domain_expiry_days: Some(12),
        };
        for (text, expected) in [
            ("[STATUS] == 200", "`[STATUS] == 200`: the status was 503"),
            (
                "[RESPONSE_TIME] < 500",
                "`[RESPONSE_TIME] < 500`: the response time was 734 ms",
            ),
            (
                "[BODY].status == ok",
                r#"`[BODY].status == ok`: `status` was "degraded""#,
            ),
            (
                "[BODY].items[0].n == 2",
                "`[BODY].items[0].n == 2`: `items[0].n` was 1",
            ),
            (
                "[BODY].missing == ok",
                "`[BODY].missing == ok`: `missing` is absent from the body",
            ),
            (
                r#"[BODY] contains "ok""#,
                r#"`[BODY] contains "ok"`: the body was "{\"status\": \"degraded\"}""#,
            ),
            (
                "[CERT_EXPIRY] > 14",
                "`[CERT_EXPIRY] > 14`: the certificate expires in 3 days",
            ),
            (
                "[PACKET_LOSS] < 10",
                "`[PACKET_LOSS] < 10`: the packet loss was 33.333% (1 of 3 echo requests unanswered)",
            ),
            (
                "[RTT_MIN] > 1",
                "`[RTT_MIN] > 1`: the shortest round trip was 0.042 ms",
            ),
            (
                "[RTT_AVG] < 5",
                "`[RTT_AVG] < 5`: the average round trip was 10.5 ms",
            ),
            (
                "[RTT_MAX] < 20",
                "`[RTT_MAX] < 20`: the longest round trip was 20.958 ms",
            ),
            (
                "[DOMAIN_EXPIRY] > 30",
                "`[DOMAIN_EXPIRY] > 30`: the registration expires in 12 days",
            ),
        ] {
            assert_eq!(parse(text).explain(&observation), expected, "{text}");
        }

        let not_json = Observation {
            body: Some("<html>"),
            ..Observation::default()
        };
        assert_eq!(
            parse("[BODY].status == ok").explain(&not_json),
            "`[BODY].status == ok`: the body is not JSON"
        );
        let expired = Observation {
            cert_expiry_days: Some(-1),
            ..Observation::default()
        };
        assert_eq!(
            parse("[CERT_EXPIRY] > 0").observed(&expired),
            "the certificate expired 1 day ago"
        );
        assert_eq!(
            parse("[STATUS] == 200").observed(&Observation::default()),
            "no HTTP status was observed"
        );
        let silent = Observation {
            pings: Some(PingStats {
                sent: 3,
                received: 0,
                rtt_ms: None,
            }),
            domain_expiry_days: Some(-2),
            ..Observation::default()
        };
        assert!(parse("[PACKET_LOSS] == 100").evaluate(&silent));
        assert!(!parse("[RTT_AVG] < 1000").evaluate(&silent));
        assert_eq!(
            parse("[RTT_AVG] < 1000").observed(&silent),
            "no echo reply was received"
        );
        assert_eq!(
            parse("[DOMAIN_EXPIRY] > 0").observed(&silent),
            "the registration expired 2 days ago"
        );
        assert_eq!(
            parse("[PACKET_LOSS] < 5").observed(&Observation::default()),
            "no echo request was sent"
        );
        let long = "x".repeat(500);
        let long_body = Observation {
            body: Some(&long),
            ..Observation::default()
        };
        let message = parse("[BODY] == y").observed(&long_body);
        assert!(message.len() < 120 && message.ends_with('…'), "{message}");
    }

    #[test]
    fn values_compare_as_numbers_or_text() {
        let number = Observation {
            value: Some("87"),
            ..Observation::default()
        };
        let text = Observation {
            value: Some("up"),
            ..Observation::default()
        };
        for (condition, observation, expected) in [
            ("[VALUE] < 90", &number, true),
            ("[VALUE] >= 90", &number, false),
            ("[VALUE] == 87", &number, true),
            ("[VALUE] != 87", &number, false),
            (r#"[VALUE] == "up""#, &text, true),
            ("[VALUE] == up", &text, true),
            ("[VALUE] != up", &text, false),
            ("[VALUE] < 90", &text, false),
            (r#"[VALUE] matches "^u""#, &text, true),
            ("[VALUE] contains p", &text, true),
        ] {
            assert_eq!(
                parse(condition).evaluate(observation),
                expected,
                "{condition}"
            );
        }
        assert!(!parse("[VALUE] == up").evaluate(&Observation::default()));
        assert_eq!(
            parse("[VALUE] >= 90").explain(&number),
            "`[VALUE] >= 90`: the value was 87"
        );
        assert_eq!(
            parse(r#"[VALUE] == "down""#).observed(&text),
            r#"the value was "up""#
        );
        assert_eq!(
            parse("[VALUE] == up").observed(&Observation::default()),
            "no value was observed"
        );
        assert_eq!(error_at("[VALUE] < fast").0, 10);
    }

    proptest! {
        #[test]
        fn never_panics_and_offsets_are_in_bounds(text in "\\PC{0,40}") {
            if let Err(err) = Condition::parse(&text) {
                prop_assert!(err.offset <= text.len());
                prop_assert!(text.is_char_boundary(err.offset));
            }
        }

        #[test]
        fn numeric_comparisons_parse(value in 0u32..100_000, op in proptest::sample::select(vec!["==", "!=", "<", "<=", ">", ">="])) {
            let condition = Condition::parse(&format!("[RESPONSE_TIME] {op} {value}")).unwrap();
            prop_assert!(matches!(condition.expected, Expected::Number(n) if n == f64::from(value)));
        }
    }
}
