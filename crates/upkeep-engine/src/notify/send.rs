//! Sending rendered deliveries: e-mail over SMTP (lettre, one pooled transport) and HTTP
//! (webhooks, Slack, PagerDuty, and the providers' requests as
//! [`upkeep_domain::notify::providers::request`] made them; one client).
//!
//! Each call of [`Senders::send`] is one attempt. Its [`SendError`] says whether trying again
//! can help (`permanent: false`) or cannot (`permanent: true`): an address that does not parse,
//! an SMTP 5xx answer about the message, an HTTP answer that refuses the request itself (400,
//! 401, 403, 405, 410, 413, 415, 422). Everything else — 4xx SMTP answers, authentication
//! failures (configuration), connection failures, timeouts, 5xx, 404, 408, 429 (a receiver that
//! is down or being deployed for an hour still gets the delivery afterwards), redirects — is
//! retried by the outbox. A refusal that says when to come back (`Retry-After`, or a rate
//! limit's `retry_after` in the body) carries that wait in [`SendError::retry_after`], and the
//! outbox waits exactly that long.
//!
//! What is sent is stable across retries: the content is stored with the delivery, the mail's
//! `Message-ID` is `<DELIVERY_ID@upkeep>` and webhooks carry `Upkeep-Delivery: DELIVERY_ID`,
//! so receivers can drop duplicates.
//!
//! Webhook redirects are never followed: a receiver must not bounce a signed body elsewhere.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use upkeep_domain::config::{Channel, Smtp, SmtpTls};
use upkeep_domain::notify::providers::{self, ProviderKind};
use upkeep_domain::notify::signature;
use upkeep_domain::notify::template;

/// SMTP answers that say the configuration is wrong (authentication required, refused or
/// impossible: 530, 534, 535, 538), not the message: retried, so mail waits until an operator
/// fixes the credentials instead of being given up.
const SMTP_CONFIGURATION_CODES: [u16; 4] = [530, 534, 535, 538];
/// How much of an HTTP error response is read, and how many characters of it are reported.
const BODY_READ_LIMIT: usize = 4096;
const BODY_REPORT_CHARS: usize = 200;
const USER_AGENT: &str = concat!("upkeep/", env!("CARGO_PKG_VERSION"));

/// The kind of channel a delivery goes out on (stored as its [`as_str`](Self::as_str) name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Email,
    Webhook,
    Slack,
    PagerDuty,
    /// A chat, pager or push provider.
    Provider(ProviderKind),
    /// The templated webhook.
    CustomWebhook,
}

impl ChannelKind {
    /// The stored name: `email`, `webhook`, `slack`, `pagerduty`, or the provider's
    /// ([`ProviderKind::as_str`]).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::PagerDuty => "pagerduty",
            ChannelKind::Provider(kind) => kind.as_str(),
            ChannelKind::CustomWebhook => "custom_webhook",
        }
    }

    /// The kind of a configured channel.
    pub fn of(channel: &Channel) -> ChannelKind {
        match channel {
            Channel::Email(_) => ChannelKind::Email,
            Channel::Webhook { .. } => ChannelKind::Webhook,
            Channel::Slack { .. } => ChannelKind::Slack,
            Channel::PagerDuty { .. } => ChannelKind::PagerDuty,
            Channel::Provider(provider) => ChannelKind::Provider(provider.kind()),
            Channel::CustomWebhook(_) => ChannelKind::CustomWebhook,
        }
    }

    /// The kind a stored name names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(ChannelKind::Email),
            "webhook" => Some(ChannelKind::Webhook),
            "slack" => Some(ChannelKind::Slack),
            "pagerduty" => Some(ChannelKind::PagerDuty),
            "custom_webhook" => Some(ChannelKind::CustomWebhook),
            other => ProviderKind::parse(other).map(ChannelKind::Provider),
        }
    }
}

/// What a delivery sends, stored as JSON in the outbox row and sent identically on every retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// A mail: both parts; `unsubscribe` is the one-click URL for `List-Unsubscribe`.
    Email {
        subject: String,
        text: String,
        html: String,
        unsubscribe: Option<String>,
    },
    /// A JSON body POSTed as is (webhook, Slack, PagerDuty).
    Json { body: String },
    /// A whole request (a provider's): sent to the delivery's destination URL with this method,
    /// these headers (which may hold the provider's credential: the content is never shown) and
    /// this body.
    Http {
        method: String,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// An operator alert for a provider or a templated webhook: the request is made from it and
    /// the channel's configuration at each attempt ([`Content::fill`]), so the outbox never
    /// holds the channel's credential.
    Message { message: providers::Message },
    /// A request that could not be made (a templated webhook whose template failed for this
    /// alert): never sent, the delivery fails at once with this error.
    Unsendable { error: String },
}

impl Content {
    /// The content of a provider's request (its URL is the delivery's destination).
    pub fn request(request: providers::HttpRequest) -> Content {
        Content::Http {
            method: request.method.to_owned(),
            headers: request.headers,
            body: request.body,
        }
    }

    /// What an attempt to a configured channel sends, and where: the stored content with the
    /// URL and the credential the channel's configuration holds now. The outbox keeps a URL
    /// channel's destination redacted and no routing key, token or templated secret; the same
    /// configuration makes the same bytes on every retry. Content stored whole (mail, and
    /// requests stored by earlier versions) goes to its stored destination.
    ///
    /// `kind` is the kind the delivery was made for: a channel that has changed kind since
    /// (its id now names another receiver) gets nothing of it.
    pub fn fill(
        self,
        channel: &Channel,
        kind: ChannelKind,
        stored: &str,
    ) -> Result<(String, Content), String> {
        if ChannelKind::of(channel) != kind {
            return Err(format!(
                "the channel is a {} channel now, not the {} channel this notification was made for",
                ChannelKind::of(channel).as_str(),
                kind.as_str()
            ));
        }
        match (channel, self) {
            (
                _,
                c @ (Content::Email { .. } | Content::Http { .. } | Content::Unsendable { .. }),
            ) => Ok((stored.to_owned(), c)),
            (Channel::Webhook { url, .. } | Channel::Slack { url }, c @ Content::Json { .. }) => {
                Ok((url.clone(), c))
            }
            (Channel::PagerDuty { routing_key, url }, Content::Json { body }) => {
                let mut event: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|e| format!("stored PagerDuty event is unreadable: {e}"))?;
                let Some(fields) = event.as_object_mut() else {
                    return Err("stored PagerDuty event is not a JSON object".into());
                };
                fields.insert("routing_key".into(), routing_key.clone().into());
                let body = event.to_string();
                Ok((url.clone(), Content::Json { body }))
            }
            (Channel::Provider(provider), Content::Message { message }) => {
                let request = providers::request(provider, &message);
                Ok((request.url.clone(), Content::request(request)))
            }
            (Channel::CustomWebhook(hook), Content::Message { message }) => {
                template::render(hook, &message)
                    .map(|request| (request.url.clone(), Content::request(request)))
                    .map_err(|e| format!("custom_webhook: {e}"))
            }
            _ => Err("the channel changed kind since this notification was made".into()),
        }
    }
}

/// One attempt's input.
pub struct Outgoing<'a> {
    /// Fixed when the delivery is created, sent on every retry.
    pub delivery_id: &'a str,
    /// The event, e.g. `incident.opened`; sent as `Upkeep-Event` on webhooks.
    pub event: &'a str,
    pub channel: ChannelKind,
    /// An e-mail address or a URL.
    pub destination: &'a str,
    pub content: &'a Content,
    /// The webhook signing secret.
    pub secret: Option<&'a str>,
}

/// Why an attempt failed, and whether another attempt can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// Trying again cannot help (the delivery is given up).
    pub permanent: bool,
    /// How long the receiver asked to be left alone (`Retry-After`, a rate limit's
    /// `retry_after`): the next attempt waits exactly this long instead of the backoff.
    pub retry_after: Option<Duration>,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
            retry_after: None,
        }
    }

    fn retryable(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: false,
            retry_after: None,
        }
    }
}

/// Sends deliveries: one SMTP transport (pooled) when configured, one HTTP client.
///
/// Cloning shares the transport and the client. The SMTP pool is made at the first e-mail
/// sent (so `new` works outside a Tokio runtime); once made, the last clone must be dropped
/// inside one (the pool closes its connections on a task).
#[derive(Clone)]
pub struct Senders {
    smtp: Option<Arc<SmtpSender>>,
    http: reqwest::Client,
    http_timeout: Duration,
    /// Bound of one whole SMTP attempt (twice the per-command time limit), below the outbox's
    /// claim on the delivery (four times the time limit).
    smtp_attempt_timeout: Duration,
}

struct SmtpSender {
    /// `host:port`, for messages.
    server: String,
    from: Mailbox,
    builder: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl SmtpSender {
    fn new(smtp: &Smtp, command_timeout: Duration) -> Result<SmtpSender, String> {
        let from: Mailbox = smtp.from.as_str().parse().map_err(|err| {
            format!(
                "SMTP from address {:?} is invalid: {err}",
                smtp.from.as_str()
            )
        })?;
        let mut roots = Vec::new();
        if let Some(path) = &smtp.ca_file {
            let pem = std::fs::read(path)
                .map_err(|err| format!("cannot read SMTP ca_file {}: {err}", path.display()))?;
            if !pem
                .windows(b"-----BEGIN CERTIFICATE-----".len())
                .any(|w| w == b"-----BEGIN CERTIFICATE-----")
            {
                return Err(format!(
                    "SMTP ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
            let cert = Certificate::from_pem(&pem).map_err(|err| {
                format!("SMTP ca_file {} is not valid PEM: {err}", path.display())
            })?;
            roots.push(cert);
        }
        let tls_parameters = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(smtp.host.clone());
            for cert in &roots {
                builder = builder.add_root_certificate(cert.clone());
            }
            builder.build_rustls().map_err(|err| match &smtp.ca_file {
                Some(path) => format!(
                    "SMTP ca_file {}: unusable certificates: {}",
                    path.display(),
                    error_chain(&err)
                ),
                None => format!("SMTP TLS setup failed: {}", error_chain(&err)),
            })
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                .port(smtp.port)
                .timeout(Some(command_timeout));
        match smtp.tls {
            SmtpTls::None => {
                if smtp.ca_file.is_some() {
                    // Checked all the same, so a bad file is found before TLS is turned on.
                    tls_parameters()?;
                }
            }
            SmtpTls::Starttls => builder = builder.tls(Tls::Required(tls_parameters()?)),
            SmtpTls::Tls => builder = builder.tls(Tls::Wrapper(tls_parameters()?)),
        }
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpSender {
            server: format!("{}:{}", smtp.host, smtp.port),
            from,
            builder,
            transport: OnceLock::new(),
        })
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport
            .get_or_init(|| self.builder.clone().build::<Tokio1Executor>())
    }
}

impl Senders {
    /// `smtp` None: e-mail deliveries fail permanently with a clear message. `http_timeout`
    /// bounds each HTTP attempt (connect and response) and each SMTP command; a whole SMTP
    /// attempt is bounded by twice it. Errors: a bad `ca_file` (unreadable, not PEM) or `from`
    /// address, naming it.
    pub fn new(smtp: Option<&Smtp>, http_timeout: Duration) -> Result<Senders, String> {
        let smtp = match smtp {
            Some(smtp) => Some(Arc::new(SmtpSender::new(smtp, http_timeout)?)),
            None => None,
        };
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(http_timeout)
            .connect_timeout(http_timeout)
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {}", error_chain(&err)))?;
        Ok(Senders {
            smtp,
            http,
            http_timeout,
            smtp_attempt_timeout: http_timeout.saturating_mul(2),
        })
    }

    /// One attempt. `now_unix` is the signature's timestamp.
    pub async fn send(&self, out: &Outgoing<'_>, now_unix: i64) -> Result<(), SendError> {
        match (out.channel, out.content) {
            (
                ChannelKind::Email,
                Content::Email {
                    subject,
                    text,
                    html,
                    unsubscribe,
                },
            ) => {
                self.send_mail(out, subject, text, html, unsubscribe.as_deref())
                    .await
            }
            (_, Content::Unsendable { error }) => Err(SendError::permanent(error.clone())),
            (_, Content::Message { .. }) => Err(SendError::permanent(
                "an alert message was not made into its channel's request",
            )),
            (ChannelKind::Email, Content::Json { .. } | Content::Http { .. }) => Err(
                SendError::permanent("an e-mail delivery holds HTTP content instead of a mail"),
            ),
            (_, Content::Json { body }) => self.post_json(out, body, now_unix).await,
            (
                _,
                Content::Http {
                    method,
                    headers,
                    body,
                },
            ) => {
                self.send_request(out, method, headers, body, now_unix)
                    .await
            }
            (channel, Content::Email { .. }) => Err(SendError::permanent(format!(
                "a {} delivery holds mail content instead of JSON",
                channel.as_str()
            ))),
        }
    }

    async fn send_mail(
        &self,
        out: &Outgoing<'_>,
        subject: &str,
        text: &str,
        html: &str,
        unsubscribe: Option<&str>,
    ) -> Result<(), SendError> {
        let Some(smtp) = &self.smtp else {
            return Err(SendError::permanent(
                "e-mail is not configured (no notifications.smtp in the configuration)",
            ));
        };
        let message = build_message(&smtp.from, out, subject, text, html, unsubscribe)?;
        let result =
            tokio::time::timeout(self.smtp_attempt_timeout, smtp.transport().send(message)).await;
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => {
                let message = format!("SMTP {}: {}", smtp.server, error_chain(&err));
                let configuration = err
                    .status()
                    .is_some_and(|code| SMTP_CONFIGURATION_CODES.contains(&u16::from(code)));
                if err.is_permanent() && !configuration {
                    Err(SendError::permanent(message))
                } else {
                    Err(SendError::retryable(message))
                }
            }
            Err(_) => Err(SendError::retryable(format!(
                "SMTP {}: no answer within {} s",
                smtp.server,
                self.smtp_attempt_timeout.as_secs_f64()
            ))),
        }
    }

    async fn post_json(
        &self,
        out: &Outgoing<'_>,
        body: &str,
        now_unix: i64,
    ) -> Result<(), SendError> {
        let (url, target) =
            http_target(out.channel.as_str(), out.destination).map_err(SendError::permanent)?;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if out.channel == ChannelKind::Webhook {
            request = request
                .header("Upkeep-Delivery", out.delivery_id)
                .header("Upkeep-Event", out.event);
            if let Some(secret) = out.secret {
                request = signed(request, secret, now_unix, body);
            }
        }
        self.exchange(out.channel, &target, request, body, now_unix)
            .await
    }

    /// A provider's request as made for this attempt. Its answer's `Retry-After` header, or a rate
    /// limit's `retry_after` in its body, says when to try again. Messages name the URL's
    /// origin only: a provider's path or query often holds its token.
    async fn send_request(
        &self,
        out: &Outgoing<'_>,
        method: &str,
        headers: &[(String, String)],
        body: &str,
        now_unix: i64,
    ) -> Result<(), SendError> {
        let (url, target) =
            http_target(out.channel.as_str(), out.destination).map_err(SendError::permanent)?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| SendError::permanent(format!("{target}: invalid method {method:?}")))?;
        let mut request = self.http.request(method, url);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        self.exchange(out.channel, &target, request, body, now_unix)
            .await
    }

    /// Sends `request` with `body` and words its answer: any 2xx is success; a refusal of the request
    /// itself is permanent; everything else is retried, after the wait a `429` or `503` asks
    /// for (`Retry-After`, or a rate limit's `retry_after` in the body) when it says one.
    async fn exchange(
        &self,
        channel: ChannelKind,
        target: &str,
        request: reqwest::RequestBuilder,
        body: &str,
        now_unix: i64,
    ) -> Result<(), SendError> {
        let response = match request.body(body.to_owned()).send().await {
            Ok(response) => response,
            Err(err) => return Err(self.request_error(target, err)),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            return Err(SendError::retryable(refusal(target, response).await));
        }
        let header = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (bytes, error) = read_start(response).await;
        let retry_after = if matches!(status.as_u16(), 429 | 503) {
            let now = jiff::Timestamp::from_second(now_unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            providers::retry_after(header.as_deref(), &bytes, now)
        } else {
            None
        };
        let shown = shown_body(&bytes, error);
        let mut message = format!("{target} answered HTTP {}: {shown}", status.as_u16());
        if let Some(wait) = retry_after {
            message.push_str(&format!(" (asked to wait {} s)", wait.as_secs_f64()));
        }
        let mut error = if refused(channel, status.as_u16()) {
            SendError::permanent(message)
        } else {
            SendError::retryable(message)
        };
        error.retry_after = retry_after;
        Err(error)
    }

    /// One signed JSON POST outside the outbox (a rollout step's webhook): the same client,
    /// `Upkeep-Signature` made the same way as every webhook's, plus `headers`; bounded by
    /// `timeout` instead of the notification timeout. Redirects are not followed. Error
    /// messages name the URL's origin only (a path or query may be a secret).
    pub async fn post_signed(
        &self,
        post: &SignedPost<'_>,
        now_unix: i64,
    ) -> Result<(), PostFailure> {
        let (url, target) = http_target("webhook", post.url).map_err(PostFailure::Failed)?;
        let mut request = self
            .http
            .post(url)
            .timeout(post.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in post.headers {
            request = request.header(*name, *value);
        }
        request = signed(request, post.secret, now_unix, post.body);
        let response = match request.body(post.body.to_owned()).send().await {
            Ok(response) => response,
            Err(err) if err.is_timeout() => {
                return Err(PostFailure::TimedOut(format!(
                    "{target}: no answer within {} ms",
                    post.timeout.as_millis()
                )));
            }
            Err(err) => {
                return Err(PostFailure::Failed(
                    self.request_error(&target, err).message,
                ));
            }
        };
        if response.status().is_success() {
            return Ok(());
        }
        Err(PostFailure::Failed(refusal(&target, response).await))
    }

    fn request_error(&self, target: &str, err: reqwest::Error) -> SendError {
        let err = err.without_url();
        if err.is_builder() {
            // A header value that cannot be sent (a delivery id or event with a newline):
            // the same request would fail the same way.
            return SendError::permanent(format!(
                "{target}: cannot build the request: {}",
                error_chain(&err)
            ));
        }
        if err.is_timeout() {
            return SendError::retryable(format!(
                "{target}: no answer within {} ms",
                self.http_timeout.as_millis()
            ));
        }
        if err.is_connect() {
            return SendError::retryable(format!(
                "{target}: cannot connect: {}",
                error_chain(&err)
            ));
        }
        SendError::retryable(format!("{target}: request failed: {}", error_chain(&err)))
    }
}

/// A URL to POST to (http or https only) and how messages name it: the kind and the origin
/// (a Slack URL's path, a webhook's query may be secrets).
fn http_target(kind: &str, destination: &str) -> Result<(reqwest::Url, String), String> {
    let url = reqwest::Url::parse(destination)
        .map_err(|err| format!("invalid URL {destination:?}: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid {kind} URL: scheme {:?} (only http and https are sent to)",
            url.scheme()
        ));
    }
    let target = format!("{kind} {}", url.origin().ascii_serialization());
    Ok((url, target))
}

/// `request` with `Upkeep-Signature` over `body` at `now_unix`.
fn signed(
    request: reqwest::RequestBuilder,
    secret: &str,
    now_unix: i64,
    body: &str,
) -> reqwest::RequestBuilder {
    request.header(
        "Upkeep-Signature",
        signature::sign(secret.as_bytes(), now_unix, body.as_bytes()),
    )
}

/// What a non-2xx answer said: a redirect (never followed) and where to, or the status and the
/// start of its body.
async fn refusal(target: &str, response: reqwest::Response) -> String {
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| reqwest::Url::parse(v).ok())
            .map_or_else(
                || "elsewhere".to_owned(),
                |u| u.origin().ascii_serialization(),
            );
        return format!(
            "{target} answered HTTP {} redirecting to {location}; redirects are not followed",
            status.as_u16()
        );
    }
    let snippet = read_snippet(response).await;
    format!("{target} answered HTTP {}: {snippet}", status.as_u16())
}

/// A signed POST made by [`Senders::post_signed`].
#[derive(Debug, Clone, Copy)]
pub struct SignedPost<'a> {
    pub url: &'a str,
    /// The JSON body, signed as sent.
    pub body: &'a str,
    /// The signing secret.
    pub secret: &'a str,
    /// More headers (e.g. `Idempotency-Key`).
    pub headers: &'a [(&'a str, &'a str)],
    /// How long the whole request may take.
    pub timeout: Duration,
}

/// Why a [`Senders::post_signed`] did not get a 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostFailure {
    /// No answer within the timeout.
    TimedOut(String),
    /// Another answer, or none (connection refused, bad URL, ...).
    Failed(String),
}

/// Whether an HTTP answer refuses this very request, so sending it again cannot help: 400, 401,
/// 403, 405, 410, 413, 415 and 422 (and, for PagerDuty, whose Events API answers 400 for an
/// invalid event, the same). Each destination has one ordered queue, so a request retried for
/// days would hold back everything after it. A receiver that is down or being deployed answers
/// 5xx, 404, 408, 429 or nothing at all: those are retried.
fn refused(_channel: ChannelKind, status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 405 | 410 | 413 | 415 | 422)
}

/// The first [`BODY_REPORT_CHARS`] characters of a response body (read up to a limit).
async fn read_snippet(response: reqwest::Response) -> String {
    let (bytes, error) = read_start(response).await;
    shown_body(&bytes, error)
}

/// How a message shows a body's start: its snippet, or why it could not be read.
fn shown_body(bytes: &[u8], error: Option<String>) -> String {
    match error {
        Some(err) if bytes.is_empty() => format!("(body unreadable: {err})"),
        _ => snippet(bytes),
    }
}

/// The start of a response body, up to [`BODY_READ_LIMIT`] bytes, and why reading stopped
/// early if it failed.
async fn read_start(mut response: reqwest::Response) -> (Vec<u8>, Option<String>) {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() >= BODY_READ_LIMIT {
                    return (bytes, None);
                }
            }
            Ok(None) => return (bytes, None),
            Err(err) => return (bytes, Some(error_chain(&err))),
        }
    }
}

/// The first [`BODY_REPORT_CHARS`] characters of a body's start, trimmed.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut snippet: String = text.chars().take(BODY_REPORT_CHARS).collect();
    if text.chars().count() > BODY_REPORT_CHARS {
        snippet.push('…');
    }
    snippet
}

fn build_message(
    from: &Mailbox,
    out: &Outgoing<'_>,
    subject: &str,
    text: &str,
    html: &str,
    unsubscribe: Option<&str>,
) -> Result<Message, SendError> {
    let to: Mailbox = out.destination.parse().map_err(|err| {
        SendError::permanent(format!(
            "invalid e-mail address {:?}: {err}",
            out.destination
        ))
    })?;
    if out.delivery_id.is_empty()
        || !out
            .delivery_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || out.delivery_id.starts_with('.')
        || out.delivery_id.ends_with('.')
        || out.delivery_id.contains("..")
    {
        return Err(SendError::permanent(format!(
            "delivery id {:?} cannot be used in a Message-ID",
            out.delivery_id
        )));
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}@upkeep>", out.delivery_id)))
        .header(UpkeepDelivery(out.delivery_id.to_owned()));
    if let Some(url) = unsubscribe {
        if url.is_empty()
            || !url
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        {
            return Err(SendError::permanent(format!(
                "unsubscribe URL {url:?} cannot be put in List-Unsubscribe"
            )));
        }
        builder = builder
            .header(ListUnsubscribe(url.to_owned()))
            .header(ListUnsubscribePost);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            text.to_owned(),
            html.to_owned(),
        ))
        .map_err(|err| SendError::permanent(format!("cannot build the mail: {err}")))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `Upkeep-Delivery: ID`.
#[derive(Clone)]
struct UpkeepDelivery(String);

impl Header for UpkeepDelivery {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Upkeep-Delivery")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(UpkeepDelivery(s.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe: <URL>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        let s = s.trim();
        let url = s
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .ok_or("List-Unsubscribe is not <URL>")?;
        Ok(ListUnsubscribe(url.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        if s.trim() == "List-Unsubscribe=One-Click" {
            Ok(ListUnsubscribePost)
        } else {
            Err("List-Unsubscribe-Post is not List-Unsubscribe=One-Click".into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// An error and its sources, each once.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn channel_kind_names_round_trip() {
        for kind in [
            ChannelKind::Email,
            ChannelKind::Webhook,
            ChannelKind::Slack,
            ChannelKind::PagerDuty,
        ] {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ChannelKind::parse("sms"), None);
    }

    #[test]
    fn content_json_shape() {
        let c = Content::Json {
            body: "{}".to_owned(),
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"kind":"json","body":"{}"}"#);
        let m = Content::Email {
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "h".to_owned(),
            unsubscribe: None,
        };
        let back: Content = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn message_has_stable_id_and_list_headers() {
        let from: Mailbox = "Upkeep <status@example.com>".parse().unwrap();
        let content = Content::Json {
            body: String::new(),
        };
        let out = Outgoing {
            delivery_id: "0b6f-42",
            event: "incident.opened",
            channel: ChannelKind::Email,
            destination: "a@example.org",
            content: &content,
            secret: None,
        };
        let m = build_message(
            &from,
            &out,
            "Café",
            "t",
            "<p>h</p>",
            Some("https://x/u?t=1"),
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <0b6f-42@upkeep>\r\n"), "{raw}");
        assert!(raw.contains("Upkeep-Delivery: 0b6f-42\r\n"), "{raw}");
        assert!(
            raw.contains("List-Unsubscribe: <https://x/u?t=1>\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            "{raw}"
        );
        let bad = Outgoing {
            destination: "not an address",
            ..out
        };
        let err = build_message(&from, &bad, "s", "t", "h", None).unwrap_err();
        assert!(err.permanent);
    }

    #[test]
    fn senders_and_their_futures_can_go_to_tasks() {
        fn is_send_sync<T: Send + Sync + 'static>() {}
        fn is_send<T: Send>(_: &T) {}
        is_send_sync::<Senders>();
        // Made outside a runtime: the SMTP pool waits for the first mail.
        let smtp = Smtp {
            host: "localhost".to_owned(),
            port: 25,
            from: "a@example.org".parse().unwrap(),
            username: None,
            password: None,
            tls: SmtpTls::None,
            ca_file: None,
        };
        let s = Senders::new(Some(&smtp), Duration::from_secs(1)).unwrap();
        let content = Content::Json {
            body: String::new(),
        };
        let out = Outgoing {
            delivery_id: "d",
            event: "e",
            channel: ChannelKind::Webhook,
            destination: "http://127.0.0.1:9/",
            content: &content,
            secret: None,
        };
        let fut = s.send(&out, 0);
        is_send(&fut);
        drop(fut);
        drop(s);
    }

    #[test]
    fn missing_ca_file_names_the_file() {
        let smtp = Smtp {
            host: "localhost".to_owned(),
            port: 465,
            from: "a@example.org".parse().unwrap(),
            username: None,
            password: None,
            tls: SmtpTls::Tls,
            ca_file: Some("/nonexistent/upkeep-ca.pem".into()),
        };
        let err = match Senders::new(Some(&smtp), Duration::from_secs(1)) {
            Ok(_) => panic!("a missing ca_file is refused"),
            Err(err) => err,
        };
        assert!(err.contains("/nonexistent/upkeep-ca.pem"), "{err}");
    }
}
