//! The templated webhook (`custom_webhook`) for receivers without a provider of their own: a
//! method, and a URL, headers and a body written as [minijinja](https://docs.rs/minijinja)
//! templates over the alert's [`Message`].
//!
//! What a template can do is locked down:
//!
//! - every value a template writes is encoded for where it lands, whatever the template says
//!   (`|safe` included): JSON-encoded in a JSON body (a string arrives quoted and escaped, so
//!   `{"title": {{ title }}}` is valid JSON whatever the title holds), form-encoded in a form
//!   body, percent-encoded in the URL (a value can never add a path segment, a query parameter
//!   or a host), and a header holds no control character at all (no header splitting);
//! - no loader, no `include`, `import`, `extends` or macros (those features are not built), no
//!   access to files or the environment: a template sees only its context;
//! - each render has a fuel budget ([`FUEL`]) and a recursion limit, and its output a size limit
//!   ([`MAX_URL`], [`MAX_HEADER`], [`MAX_BODY`]); an undefined name is an error, not an empty
//!   string;
//! - a JSON body must parse as JSON after rendering, or nothing is sent.
//!
//! The context: `alert` (`key`, `state` — `firing | repeat | acknowledged | resolved` —,
//! `severity`, `component` or none, `summary`, `detail`, `since`, `at` — RFC 3339), `title`,
//! `text` (the plain-text message), `fields` (a list of `[label, value]`), `page` (`name`,
//! `url`), `event` (`alert.firing`, ...) and `delivery_id`.

use minijinja::value::Serde;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde_json::json;

use super::providers::{HttpRequest, Message, plain_text};
use super::text::{form_encode, percent_encode};

/// Instructions a render may run (about 64 bytes of memory each).
pub const FUEL: u64 = 50_000;
/// Nesting a render may reach.
pub const RECURSION: usize = 32;
/// Longest template source, in bytes.
pub const MAX_SOURCE: usize = 16 * 1024;
/// Longest rendered URL, header value and body, in bytes.
pub const MAX_URL: usize = 8 * 1024;
pub const MAX_HEADER: usize = 8 * 1024;
pub const MAX_BODY: usize = 256 * 1024;

/// The methods a templated webhook may use.
pub const METHODS: [&str; 5] = ["POST", "PUT", "PATCH", "GET", "DELETE"];

/// A `custom_webhook` channel as configured: its templates' sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomWebhook {
    /// One of [`METHODS`].
    pub method: &'static str,
    pub url: String,
    /// Header names (literal) and value templates, in order.
    pub headers: Vec<(String, String)>,
    /// The body's media type (`application/json` by default when there is a body).
    pub content_type: String,
    pub body: Option<String>,
}

/// Which template of a channel a problem is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Url,
    Header(String),
    Body,
}

/// A template that does not compile or render: where (its part and the line inside it, from
/// 1, when known) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub part: Part,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let part = match &self.part {
            Part::Url => "url".to_owned(),
            Part::Header(name) => format!("header {name}"),
            Part::Body => "body".to_owned(),
        };
        match self.line {
            Some(line) => write!(f, "{part} template, line {line}: {}", self.message),
            None => write!(f, "{part} template: {}", self.message),
        }
    }
}

/// How the values a template writes are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Json,
    Form,
    Url,
    Header,
    Text,
}

impl Encoding {
    fn of_body(content_type: &str) -> Encoding {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence == "application/json" || essence.ends_with("+json") {
            Encoding::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Encoding::Form
        } else {
            Encoding::Text
        }
    }
}

/// A locked-down environment whose formatter encodes every written value as `encoding` says.
fn environment(encoding: Encoding) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION);
    env.set_formatter(move |out, _state, value| {
        let text = match encoding {
            Encoding::Json => serde_json::to_string(value).map_err(|err| {
                Error::new(ErrorKind::BadSerialization, format!("not JSON: {err}"))
            })?,
            Encoding::Form => form_encode(&[("", &plain(value))])
                .trim_start_matches('=')
                .to_owned(),
            Encoding::Url => {
                let text = plain(value);
                // `.` and `..` stay as they are when encoded and would be dot segments (so would
                // their `%2E` forms, to a URL parser): such a value could move the path.
                if text == "." || text == ".." {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "a value of `.` or `..` in the URL could change its path",
                    ));
                }
                percent_encode(&text)
            }
            Encoding::Header => plain(value)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
            Encoding::Text => plain(value),
        };
        out.write_str(&text).map_err(Error::from)
    });
    env
}

/// A value as text: a string as is, none as empty, anything else as minijinja prints it.
fn plain(value: &Value) -> String {
    if value.is_none() {
        String::new()
    } else if let Some(s) = value.as_str() {
        s.to_owned()
    } else {
        value.to_string()
    }
}

/// The context a template sees.
pub fn context(message: &Message) -> Value {
    let state = message.state.as_str();
    Value::from(Serde(json!({
        "alert": {
            "key": message.key,
            "state": state,
            "severity": message.severity.as_str(),
            "component": message.component,
            "summary": message.summary,
            "detail": message.detail,
            "since": message.since.to_string(),
            "at": message.at.to_string(),
        },
        "title": message.title,
        "text": plain_text(message),
        "fields": message.fields,
        "page": { "name": message.site_name, "url": message.site_url },
        "event": format!("alert.{state}"),
        "delivery_id": message.delivery_id,
    })))
}

fn error(part: &Part, err: &Error) -> TemplateError {
    let message = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    TemplateError {
        part: part.clone(),
        line: err.line(),
        message,
    }
}

/// One template rendered with `encoding`, at most `max` bytes.
fn render_one(
    part: &Part,
    source: &str,
    encoding: Encoding,
    ctx: &Value,
    max: usize,
) -> Result<String, TemplateError> {
    let fail = |message: String| TemplateError {
        part: part.clone(),
        line: None,
        message,
    };
    if source.len() > MAX_SOURCE {
        return Err(fail(format!(
            "the template is {} bytes; at most {MAX_SOURCE} are allowed",
            source.len()
        )));
    }
    let env = environment(encoding);
    let template = env
        .template_from_str(source)
        .map_err(|err| error(part, &err))?;
    let out = template.render(ctx).map_err(|err| error(part, &err))?;
    if out.len() > max {
        return Err(fail(format!(
            "renders {} bytes; at most {max} are allowed",
            out.len()
        )));
    }
    Ok(out)
}

/// Compiles every template of `hook` (without rendering it): the syntax errors.
pub fn compile(hook: &CustomWebhook) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    let env = environment(Encoding::Text);
    let mut check = |part: Part, source: &str| {
        if let Err(err) = env.template_from_str(source) {
            errors.push(error(&part, &err));
        }
    };
    check(Part::Url, &hook.url);
    for (name, value) in &hook.headers {
        check(Part::Header(name.clone()), value);
    }
    if let Some(body) = &hook.body {
        check(Part::Body, body);
    }
    errors
}

/// A sample alert in `state`, to try templates on when the configuration is read.
pub fn sample(state: super::AlertState) -> Message {
    let at = jiff::Timestamp::UNIX_EPOCH;
    Message {
        delivery_id: "00000000-0000-0000-0000-000000000000".into(),
        key: "monitor:example".into(),
        state,
        severity: crate::config::Severity::Critical,
        title: format!("[upkeep] {}: example is down", state.as_str()),
        summary: "example is down".into(),
        fields: vec![("Alert".into(), "monitor:example".into())],
        component: Some("example".into()),
        detail: "connection refused".into(),
        site_name: "upkeep".into(),
        site_url: "https://status.example".into(),
        since: at,
        at,
    }
}

/// The request `hook` makes for `message`: each template rendered with its encoding, the URL
/// checked to be http(s), a JSON body checked to parse.
pub fn render(hook: &CustomWebhook, message: &Message) -> Result<HttpRequest, TemplateError> {
    let ctx = context(message);
    let url = render_one(&Part::Url, &hook.url, Encoding::Url, &ctx, MAX_URL)?;
    let url = url.trim().to_owned();
    if let Err(why) = crate::config::decode::check_http_url(&url) {
        let shown = url.split(['/', '?']).take(3).collect::<Vec<_>>().join("/");
        return Err(TemplateError {
            part: Part::Url,
            line: None,
            message: why.replace(&format!("`{url}`"), &format!("`{shown}/…`")),
        });
    }
    let mut headers = Vec::new();
    for (name, source) in &hook.headers {
        let part = Part::Header(name.clone());
        let value = render_one(&part, source, Encoding::Header, &ctx, MAX_HEADER)?;
        // The template's own text too: a header never holds a control character.
        let value: String = value
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        headers.push((name.clone(), value.trim().to_owned()));
    }
    let mut body = String::new();
    if let Some(source) = &hook.body {
        let encoding = Encoding::of_body(&hook.content_type);
        body = render_one(&Part::Body, source, encoding, &ctx, MAX_BODY)?;
        if encoding == Encoding::Json
            && let Err(err) = serde_json::from_str::<serde_json::Value>(&body)
        {
            return Err(TemplateError {
                part: Part::Body,
                line: Some(err.line()),
                message: format!("the rendered body is not JSON: {err}"),
            });
        }
        headers.insert(0, ("Content-Type".to_owned(), hook.content_type.clone()));
    }
    Ok(HttpRequest {
        method: hook.method,
        url,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jiff::Timestamp;
    use proptest::prelude::*;

    use super::*;
    use crate::config::Severity;
    use crate::notify::AlertState;

    fn message(summary: &str) -> Message {
        Message {
            delivery_id: "d-1".into(),
            key: "monitor:api".into(),
            state: AlertState::Firing,
            severity: Severity::Critical,
            title: format!("[Acme] FIRING critical: {summary}"),
            summary: summary.into(),
            fields: vec![("Alert".into(), "monitor:api".into())],
            component: Some("api".into()),
            detail: "line 1\nline 2".into(),
            site_name: "Acme".into(),
            site_url: "https://status.example".into(),
            since: Timestamp::from_second(1_767_225_600).unwrap(),
            at: Timestamp::from_second(1_767_225_660).unwrap(),
        }
    }

    fn hook(url: &str, body: Option<&str>) -> CustomWebhook {
        CustomWebhook {
            method: "POST",
            url: url.into(),
            headers: vec![("X-Alert".into(), "{{ alert.summary }}".into())],
            content_type: "application/json".into(),
            body: body.map(str::to_owned),
        }
    }

    #[test]
    fn values_are_encoded_for_where_they_land() {
        let evil = "\"},\"admin\":true,\"x\":{\"\r\nX-Injected: 1/../?a=b#";
        let h = hook(
            "https://t.example/alerts/{{ alert.summary }}?k={{ alert.key }}",
            Some(
                r#"{"title": {{ alert.summary }}, "safe": {{ alert.summary|safe }}, "n": {{ fields|length }}}"#,
            ),
        );
        let req = render(&h, &message(evil)).unwrap();
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["title"], evil);
        assert_eq!(body["safe"], evil);
        assert_eq!(body["n"], 1);
        assert!(body.get("admin").is_none());
        assert!(req.url.starts_with("https://t.example/alerts/%22%7D%2C"));
        assert!(req.url.ends_with("?k=monitor%3Aapi"));
        assert!(!req.url[8..].contains("/../"));
        let header = &req.headers[1];
        assert_eq!(header.0, "X-Alert");
        assert!(!header.1.contains(['\r', '\n']));
        assert_eq!(
            req.headers[0],
            ("Content-Type".into(), "application/json".into())
        );
    }

    #[test]
    fn a_value_never_moves_the_urls_path() {
        let h = hook("https://t.example/v1/t/{{ alert.summary }}/notify", None);
        for dots in [".", ".."] {
            let err = render(&h, &message(dots)).unwrap_err();
            assert!(err.to_string().contains("could change its path"), "{err}");
        }
        // Other dots are plain text inside one segment.
        let req = render(&h, &message("...")).unwrap();
        assert_eq!(req.url, "https://t.example/v1/t/.../notify");
        let req = render(&h, &message("a..b")).unwrap();
        assert_eq!(req.url, "https://t.example/v1/t/a..b/notify");
    }

    #[test]
    fn a_header_never_holds_a_control_character_even_its_own_text() {
        let mut h = hook("https://t.example/", None);
        h.headers = vec![("X-A".into(), "a\r\nX-Injected: 1\u{1}".into())];
        let req = render(&h, &message("x")).unwrap();
        assert_eq!(req.headers, vec![("X-A".into(), "a  X-Injected: 1".into())]);
    }

    #[test]
    fn form_bodies_are_form_encoded() {
        let mut h = hook("https://t.example/", Some("msg={{ alert.summary }}&k=1"));
        h.content_type = "application/x-www-form-urlencoded".into();
        let req = render(&h, &message("a&b=c d")).unwrap();
        assert_eq!(req.body, "msg=a%26b%3Dc+d&k=1");
    }

    #[test]
    fn locked_down() {
        let m = message("x");
        for (body, needle) in [
            ("{% include 'x' %}", "include"),
            ("{% extends 'x' %}", "extends"),
            ("{% import 'x' as y %}", "import"),
            ("{% macro m() %}{% endmacro %}", "macro"),
            ("{{ nope }}", "undefined"),
            (
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                "fuel",
            ),
            ("{{ 'x' * 100000000 }}", "fuel"),
            ("{{ title }} not json", "not json"),
        ] {
            let err = render(&hook("https://t.example/", Some(body)), &m).unwrap_err();
            let text = err.to_string().to_lowercase();
            assert!(
                text.contains(needle) || text.contains("syntax") || text.contains("unknown"),
                "{body}: {text}"
            );
        }
        let err = render(&hook("{{ page.url }}/x", None), &m).unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
    }

    #[test]
    fn syntax_errors_have_their_line() {
        let h = hook(
            "https://t.example/",
            Some("{\n\"a\": {{ title }},\n\"b\": {{ title \n}"),
        );
        let errors = compile(&h);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].part, Part::Body);
        assert_eq!(errors[0].line, Some(4), "{errors:?}");
    }

    proptest! {
        #[test]
        fn any_value_makes_valid_json_and_a_clean_url(summary in ".{0,200}") {
            let h = hook(
                "https://t.example/{{ alert.summary }}",
                Some(r#"{"s": {{ alert.summary }}, "t": {{ title }}, "d": {{ text }}}"#),
            );
            let rendered = render(&h, &message(&summary));
            // A dot segment is refused (`a_value_never_moves_the_urls_path`), never sent.
            if summary == "." || summary == ".." {
                prop_assert!(rendered.is_err());
                return Ok(());
            }
            let req = rendered.unwrap();
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
            prop_assert_eq!(body["s"].as_str(), Some(summary.as_str()));
            prop_assert!(!req.url["https://t.example/".len()..].contains(['/', '?', '#']));
        }
    }
}
