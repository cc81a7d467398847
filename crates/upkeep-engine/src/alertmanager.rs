//! A small client for Alertmanager's silences (API v2), used by maintenance windows.
//!
//! # What the maintenance engine does with it
//!
//! When a maintenance window starts, the engine [creates](SilenceClient::create) one silence
//! whose matcher selects the window's components through the configured component label
//! (`alertmanager.component_label`, `component` by default) and stores the silence id it gets
//! back with the window. When the window ends early or is cancelled, it
//! [expires](SilenceClient::expire) that silence; expiring is idempotent, so a retry after a
//! lost answer (or a silence Alertmanager already forgot) is harmless.
//! [`get`](SilenceClient::get) tells whether a stored silence is still `active`, `pending` or
//! `expired`.
//!
//! The silence's own `endsAt` is the window's end, so a window that runs its course needs no
//! call at all: the silence lapses by itself, even when upkeep is down at that moment.
//!
//! Alertmanager being down never blocks a window. A failed call returns a [`SilenceError`]
//! whose [`is_retryable`](SilenceError::is_retryable) says whether the caller should try again
//! later (Alertmanager unreachable, timed out, or answering 5xx) or not (a 4xx: the request
//! itself is wrong, and sending it again gives the same answer).
//!
//! # The matcher
//!
//! One component gives an exact matcher (`isRegex: false`, `value: "api"`). Several give one
//! regex matcher `^(?:api|web)$` of the component ids, each escaped like Go's
//! `regexp.QuoteMeta`, so an id such as `db.eu` matches only itself. Alertmanager anchors regex
//! matchers on its own as well; the explicit anchors keep the value readable in its UI.
//!
//! The client sends no credentials and ignores proxy environment variables: Alertmanager is
//! expected on the internal network, at the URL in `alertmanager.url` (a route prefix such as
//! `http://am:9093/alertmanager` is kept).

use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, StatusCode, Url, redirect};
use serde_json::{Value, json};

/// How long one call to Alertmanager may take, connection included, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an error answer's body is kept in a [`SilenceError`].
const MAX_ERROR_BODY: usize = 1024;

/// A client for one Alertmanager's silences.
#[derive(Clone, Debug)]
pub struct SilenceClient {
    /// Alertmanager's base URL; `api/v2/...` is appended to its path.
    base: Url,
    http: reqwest::Client,
}

/// A silence to create for a maintenance window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceRequest {
    /// The alert label that names the component (`alertmanager.component_label`).
    pub component_label: String,
    /// The ids of the components under maintenance; at least one.
    pub components: Vec<String>,
    /// When the silence starts (the window's start; Alertmanager moves a past start to now).
    pub starts_at: Timestamp,
    /// When the silence ends by itself (the window's end); must be in the future.
    pub ends_at: Timestamp,
    /// Who asked for it, shown in Alertmanager (e.g. `upkeep`).
    pub created_by: String,
    /// Why, shown in Alertmanager (e.g. the window's title and link).
    pub comment: String,
}

/// The state of a silence, as Alertmanager reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SilenceState {
    /// In force now.
    Active,
    /// Starts later.
    Pending,
    /// Over, either at its `endsAt` or because it was expired.
    Expired,
}

impl SilenceState {
    /// The state's name in Alertmanager's API.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<SilenceState> {
        match s {
            "active" => Some(SilenceState::Active),
            "pending" => Some(SilenceState::Pending),
            "expired" => Some(SilenceState::Expired),
            _ => None,
        }
    }
}

/// Why a call to Alertmanager failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// Alertmanager could not be reached or did not answer in time (connection refused, DNS,
    /// timeout, connection dropped). Retry later.
    #[error("alertmanager unreachable: {0}")]
    Unreachable(String),
    /// Alertmanager refused the request with a 4xx (or answered with a redirect). The request
    /// itself is wrong; sending it again gives the same answer.
    #[error("alertmanager rejected the request with HTTP {status}: {body}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body (Alertmanager's message).
        body: String,
    },
    /// Alertmanager failed with a 5xx. Retry later.
    #[error("alertmanager failed with HTTP {status}: {body}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The request could not be made (bad base URL, no components) or the answer was not what
    /// Alertmanager's API gives (the URL probably points at something else). Not retryable.
    #[error("alertmanager client: {0}")]
    Invalid(String),
}

impl SilenceError {
    /// Whether trying the same call again later may succeed: true for [`Unreachable`] and
    /// [`Server`], false for [`Rejected`] and [`Invalid`].
    ///
    /// [`Unreachable`]: SilenceError::Unreachable
    /// [`Server`]: SilenceError::Server
    /// [`Rejected`]: SilenceError::Rejected
    /// [`Invalid`]: SilenceError::Invalid
    pub fn is_retryable(&self) -> bool {
        match self {
            SilenceError::Unreachable(_) | SilenceError::Server { .. } => true,
            SilenceError::Rejected { .. } | SilenceError::Invalid(_) => false,
        }
    }
}

impl SilenceClient {
    /// A client for the Alertmanager at `base_url` (`http` or `https`), each call bounded by
    /// [`DEFAULT_TIMEOUT`].
    pub fn new(base_url: &str) -> Result<SilenceClient, SilenceError> {
        SilenceClient::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// Like [`new`](SilenceClient::new), each call bounded by `timeout` instead.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Result<SilenceClient, SilenceError> {
        let base = Url::parse(base_url)
            .map_err(|err| SilenceError::Invalid(format!("bad URL {base_url:?}: {err}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(SilenceError::Invalid(format!(
                "bad URL {base_url:?}: expected an http or https URL"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "upkeep/",
                env!("CARGO_PKG_VERSION"),
                " (alertmanager)"
            ))
            .no_proxy()
            .redirect(redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|err| SilenceError::Invalid(format!("cannot build HTTP client: {err}")))?;
        Ok(SilenceClient { base, http })
    }

    /// Creates the silence and returns its id (`POST /api/v2/silences`).
    pub async fn create(&self, req: &SilenceRequest) -> Result<String, SilenceError> {
        let body = silence_body(req)?;
        let url = self.url(&["silences"]);
        let (_, answer) = self.call(Method::POST, url, Some(&body)).await?;
        answer
            .get("silenceID")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                SilenceError::Invalid(format!("no silenceID in Alertmanager's answer: {answer}"))
            })
    }

    /// Expires the silence `id` (`DELETE /api/v2/silence/{id}`). A silence that is unknown
    /// (never existed, or already garbage-collected) or already expired counts as done.
    pub async fn expire(&self, id: &str) -> Result<(), SilenceError> {
        let url = self.url(&["silence", id]);
        match self.call(Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            Err(SilenceError::Rejected { status: 404, .. }) => Ok(()),
            // Alertmanager 0.25 answers 500 "silence not found" (not 404) for an id it does not
            // know; look rather than trust the status or the wording.
            Err(err @ SilenceError::Server { .. }) => match self.get(id).await {
                Ok(None | Some(SilenceState::Expired)) => Ok(()),
                _ => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    /// The state of the silence `id` (`GET /api/v2/silence/{id}`); `None` when Alertmanager
    /// does not know it (never existed, or expired long enough ago to be garbage-collected).
    pub async fn get(&self, id: &str) -> Result<Option<SilenceState>, SilenceError> {
        let url = self.url(&["silence", id]);
        let answer = match self.call(Method::GET, url, None).await {
            Ok((_, answer)) => answer,
            Err(SilenceError::Rejected { status: 404, .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let state = answer
            .pointer("/status/state")
            .and_then(Value::as_str)
            .unwrap_or_default();
        SilenceState::parse(state).map(Some).ok_or_else(|| {
            SilenceError::Invalid(format!(
                "unknown silence state {state:?} in Alertmanager's answer"
            ))
        })
    }

    /// `{base}/api/v2/{segments...}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v2"]).extend(segments);
        }
        url
    }

    /// One request; a 2xx gives its status and JSON body (`null` when empty), anything else
    /// a [`SilenceError`].
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), SilenceError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|err| SilenceError::Unreachable(describe(&err, &method, &url)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|err| SilenceError::Unreachable(describe(&err, &method, &url)))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok((status, Value::Null));
            }
            let value = serde_json::from_str(&text).map_err(|err| {
                SilenceError::Invalid(format!(
                    "{method} {url} answered HTTP {status} with a body that is not JSON ({err}): {}",
                    truncate(&text)
                ))
            })?;
            return Ok((status, value));
        }
        let body = truncate(text.trim());
        if status.is_server_error() {
            Err(SilenceError::Server {
                status: status.as_u16(),
                body,
            })
        } else {
            Err(SilenceError::Rejected {
                status: status.as_u16(),
                body,
            })
        }
    }
}

/// The JSON body of `POST /api/v2/silences` for `req`.
fn silence_body(req: &SilenceRequest) -> Result<Value, SilenceError> {
    let (value, is_regex) = match req.components.as_slice() {
        [] => {
            return Err(SilenceError::Invalid(
                "a silence needs at least one component".to_owned(),
            ));
        }
        [one] => (one.clone(), false),
        many => {
            let alternatives: Vec<String> = many.iter().map(|id| quote_meta(id)).collect();
            (format!("^(?:{})$", alternatives.join("|")), true)
        }
    };
    if req.component_label.is_empty() {
        return Err(SilenceError::Invalid(
            "a silence needs a component label".to_owned(),
        ));
    }
    Ok(json!({
        "matchers": [{
            "name": req.component_label,
            "value": value,
            "isRegex": is_regex,
            "isEqual": true,
        }],
        "startsAt": rfc3339(req.starts_at),
        "endsAt": rfc3339(req.ends_at),
        "createdBy": req.created_by,
        "comment": req.comment,
    }))
}

/// `s` with the characters special in Go's (RE2) regular expressions escaped, like Go's
/// `regexp.QuoteMeta`: Alertmanager compiles matchers with Go's `regexp`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `t` in RFC 3339, UTC, with milliseconds (what Alertmanager itself answers with).
fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// At most [`MAX_ERROR_BODY`] bytes of `s`, cut on a character boundary.
fn truncate(s: &str) -> String {
    if s.len() <= MAX_ERROR_BODY {
        return s.to_owned();
    }
    let mut end = MAX_ERROR_BODY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A transport error in words, with its causes.
fn describe(err: &reqwest::Error, method: &Method, url: &Url) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = format!("{method} {url} {what}");
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn request(components: &[&str]) -> SilenceRequest {
        SilenceRequest {
            component_label: "component".to_owned(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            starts_at: "2030-01-02T03:04:05.678901Z".parse().unwrap(),
            ends_at: "2030-01-02T05:00:00Z".parse().unwrap(),
            created_by: "upkeep".to_owned(),
            comment: "maintenance".to_owned(),
        }
    }

    #[test]
    fn one_component_is_an_exact_matcher() {
        let body = silence_body(&request(&["db.eu"])).unwrap();
        assert_eq!(
            body["matchers"],
            json!([{ "name": "component", "value": "db.eu", "isRegex": false, "isEqual": true }])
        );
        assert_eq!(body["startsAt"], "2030-01-02T03:04:05.678Z");
        assert_eq!(body["endsAt"], "2030-01-02T05:00:00.000Z");
    }

    #[test]
    fn several_components_are_an_escaped_regex() {
        let body = silence_body(&request(&["api", "db.eu", "a+b(c)|d"])).unwrap();
        assert_eq!(
            body["matchers"][0]["value"],
            r"^(?:api|db\.eu|a\+b\(c\)\|d)$"
        );
        assert_eq!(body["matchers"][0]["isRegex"], true);
    }

    #[test]
    fn no_component_is_refused_locally() {
        let err = silence_body(&request(&[])).unwrap_err();
        assert!(matches!(err, SilenceError::Invalid(_)), "{err}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn urls_keep_a_route_prefix_and_encode_ids() {
        let client = SilenceClient::new("http://am:9093/alertmanager/").unwrap();
        assert_eq!(
            client.url(&["silence", "a/b"]).as_str(),
            "http://am:9093/alertmanager/api/v2/silence/a%2Fb"
        );
        let client = SilenceClient::new("http://am:9093").unwrap();
        assert_eq!(
            client.url(&["silences"]).as_str(),
            "http://am:9093/api/v2/silences"
        );
        assert!(SilenceClient::new("am:9093").is_err());
        assert!(SilenceClient::new("ftp://am").is_err());
    }
}
