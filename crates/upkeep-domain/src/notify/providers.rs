//! The chat, pager and push providers an operator alert can go to, each as one pure function
//! from a [`Message`] to the HTTP request its receiver documents ([`request`]), and what a
//! receiver's refusal says about when to try again ([`retry_after`]).
//!
//! Every request respects its receiver's size limits (texts are cut on a character boundary
//! and end with `…`), carries its secret where the receiver wants it (a header, the body or
//! the URL's path), and acts on one receiver-side object per alert where the receiver has
//! one: Opsgenie's alias (created, acknowledged, closed), Splunk On-Call's `entity_id`
//! (CRITICAL, ACKNOWLEDGEMENT, RECOVERY), a Google Chat thread. Every base URL can be
//! overridden (a proxy, an EU region, a test server).
//!
//! The engine sends what [`request`] returns through the one outbox and sender. The outbox
//! keeps the [`Message`], made once when the delivery is made, and never the credential: the
//! request is made from the message and the channel's configuration at each attempt, so every
//! retry sends the same bytes while the configuration is unchanged, and a rotated token is
//! used from the next attempt on.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::AlertState;
use super::text::{
    escape_within, form_encode, html_escape, html_escape_char, percent_encode, truncate_bytes,
    truncate_chars,
};
use crate::config::Severity;

/// An operator alert as a provider is told it: rendered once, with times in the page's zone.
/// It holds no credential: the outbox stores it, and the request is made from it and the
/// channel's configuration when it is sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// The delivery's id (Matrix's transaction id: a retry is the same event).
    pub delivery_id: String,
    /// The alert's key (`monitor:api-health`).
    pub key: String,
    pub state: AlertState,
    pub severity: Severity,
    /// One line, e.g. `FIRING critical: API down`.
    pub title: String,
    /// One line: what is wrong.
    pub summary: String,
    /// Labelled one-line values (`Alert`, `Since`, `Component`), in order.
    pub fields: Vec<(String, String)>,
    /// The component concerned, if any.
    pub component: Option<String>,
    /// More detail, possibly several lines, possibly empty.
    pub detail: String,
    /// The status page's name and public URL.
    pub site_name: String,
    pub site_url: String,
    /// When the alert started firing, and when this notice was made.
    pub since: Timestamp,
    pub at: Timestamp,
}

/// One HTTP request to a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    /// Headers besides `User-Agent`, `Content-Length` and `Host`, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

const JSON: &str = "application/json";

impl HttpRequest {
    fn json(method: &'static str, url: String, body: &Value) -> HttpRequest {
        HttpRequest {
            method,
            url,
            headers: vec![("Content-Type".to_owned(), JSON.to_owned())],
            body: body.to_string(),
        }
    }

    fn header(mut self, name: &str, value: String) -> HttpRequest {
        self.headers.push((name.to_owned(), value));
        self
    }
}

/// Default base URLs.
pub const TELEGRAM_URL: &str = "https://api.telegram.org";
pub const OPSGENIE_URL: &str = "https://api.opsgenie.com";
pub const NTFY_URL: &str = "https://ntfy.sh";
pub const PUSHOVER_URL: &str = "https://api.pushover.net";
pub const SPLUNK_ONCALL_URL: &str = "https://alert.victorops.com";

/// A provider channel as configured (`notifications.channels.ID.KIND`). Fields named `url` of
/// the webhook-style providers are secrets (the URL is the credential); so are tokens and keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// `discord: { url }` — a Discord webhook URL.
    Discord { url: String },
    /// `telegram: { bot_token, chat_id, message_thread_id?, url? }` — the Bot API's
    /// `sendMessage`.
    Telegram {
        url: String,
        bot_token: String,
        chat_id: String,
        message_thread_id: Option<i64>,
    },
    /// `teams: { url }` — a Microsoft Teams Workflows ("Post to a channel when a webhook request
    /// is received") URL, sent an Adaptive Card.
    Teams { url: String },
    /// `opsgenie: { api_key, url? }` — Opsgenie's Alert API (or Jira Service Management's
    /// Opsgenie-compatible one, through `url`).
    Opsgenie { url: String, api_key: String },
    /// `ntfy: { topic, url?, token? }`.
    Ntfy {
        url: String,
        topic: String,
        token: Option<String>,
    },
    /// `pushover: { token, user, device?, url? }`.
    Pushover {
        url: String,
        token: String,
        user: String,
        device: Option<String>,
    },
    /// `google_chat: { url }` — a Google Chat space's incoming webhook URL.
    GoogleChat { url: String },
    /// `mattermost: { url, channel?, username? }` — an incoming webhook.
    Mattermost {
        url: String,
        channel: Option<String>,
        username: Option<String>,
    },
    /// `rocketchat: { url, channel? }` — an incoming webhook integration.
    RocketChat {
        url: String,
        channel: Option<String>,
    },
    /// `splunk_oncall: { api_key, routing_key, url? }` — Splunk On-Call's (VictorOps) REST
    /// endpoint.
    SplunkOnCall {
        url: String,
        api_key: String,
        routing_key: String,
    },
    /// `matrix: { homeserver, room_id, access_token }` — the client-server API.
    Matrix {
        homeserver: String,
        room_id: String,
        access_token: String,
    },
    /// `gotify: { url, token }` — an application token.
    Gotify { url: String, token: String },
}

/// The kind of a provider, with its configuration (and stored) name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Discord,
    Telegram,
    Teams,
    Opsgenie,
    Ntfy,
    Pushover,
    GoogleChat,
    Mattermost,
    RocketChat,
    SplunkOnCall,
    Matrix,
    Gotify,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 12] = [
        ProviderKind::Discord,
        ProviderKind::Telegram,
        ProviderKind::Teams,
        ProviderKind::Opsgenie,
        ProviderKind::Ntfy,
        ProviderKind::Pushover,
        ProviderKind::GoogleChat,
        ProviderKind::Mattermost,
        ProviderKind::RocketChat,
        ProviderKind::SplunkOnCall,
        ProviderKind::Matrix,
        ProviderKind::Gotify,
    ];

    /// The configuration key and stored channel name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Discord => "discord",
            ProviderKind::Telegram => "telegram",
            ProviderKind::Teams => "teams",
            ProviderKind::Opsgenie => "opsgenie",
            ProviderKind::Ntfy => "ntfy",
            ProviderKind::Pushover => "pushover",
            ProviderKind::GoogleChat => "google_chat",
            ProviderKind::Mattermost => "mattermost",
            ProviderKind::RocketChat => "rocketchat",
            ProviderKind::SplunkOnCall => "splunk_oncall",
            ProviderKind::Matrix => "matrix",
            ProviderKind::Gotify => "gotify",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl Provider {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Provider::Discord { .. } => ProviderKind::Discord,
            Provider::Telegram { .. } => ProviderKind::Telegram,
            Provider::Teams { .. } => ProviderKind::Teams,
            Provider::Opsgenie { .. } => ProviderKind::Opsgenie,
            Provider::Ntfy { .. } => ProviderKind::Ntfy,
            Provider::Pushover { .. } => ProviderKind::Pushover,
            Provider::GoogleChat { .. } => ProviderKind::GoogleChat,
            Provider::Mattermost { .. } => ProviderKind::Mattermost,
            Provider::RocketChat { .. } => ProviderKind::RocketChat,
            Provider::SplunkOnCall { .. } => ProviderKind::SplunkOnCall,
            Provider::Matrix { .. } => ProviderKind::Matrix,
            Provider::Gotify { .. } => ProviderKind::Gotify,
        }
    }
}

/// Receivers' documented limits, as used here.
pub mod limits {
    /// Discord embed title, description, field name and value, and the whole embed.
    pub const DISCORD_TITLE: usize = 256;
    pub const DISCORD_DESCRIPTION: usize = 4096;
    pub const DISCORD_FIELD_NAME: usize = 256;
    pub const DISCORD_FIELD_VALUE: usize = 1024;
    pub const DISCORD_EMBED_TOTAL: usize = 6000;
    /// Telegram message text (characters after entity parsing; counted here with the markup).
    pub const TELEGRAM_TEXT: usize = 4096;
    /// Teams Workflows message size (28 KB), with room for the card around the text.
    pub const TEAMS_TEXT_BYTES: usize = 20_000;
    /// Opsgenie message, alias, description, source, note, entity.
    pub const OPSGENIE_MESSAGE: usize = 130;
    pub const OPSGENIE_ALIAS: usize = 512;
    pub const OPSGENIE_DESCRIPTION: usize = 15_000;
    pub const OPSGENIE_SOURCE: usize = 100;
    pub const OPSGENIE_NOTE: usize = 25_000;
    pub const OPSGENIE_ENTITY: usize = 512;
    /// ntfy message (bytes; a longer one becomes an attachment) and title.
    pub const NTFY_MESSAGE_BYTES: usize = 4096;
    pub const NTFY_TITLE: usize = 250;
    /// Pushover message, title, URL title.
    pub const PUSHOVER_MESSAGE: usize = 1024;
    pub const PUSHOVER_TITLE: usize = 250;
    pub const PUSHOVER_URL_MAX: usize = 512;
    pub const PUSHOVER_URL_TITLE: usize = 100;
    /// Google Chat message text.
    pub const GOOGLE_CHAT_TEXT: usize = 4096;
    /// Mattermost post (characters) and Rocket.Chat's default message size.
    pub const MATTERMOST_TEXT: usize = 16_383;
    pub const ROCKETCHAT_TEXT: usize = 5000;
    /// Splunk On-Call state message and entity id (kept well below the REST endpoint's payload
    /// limit).
    pub const SPLUNK_STATE_MESSAGE: usize = 10_000;
    pub const SPLUNK_ENTITY_ID: usize = 255;
    /// Matrix: an event is at most 65,536 bytes; the plain and the HTML body share it.
    pub const MATRIX_BODY_BYTES: usize = 24_000;
    pub const MATRIX_HTML_BYTES: usize = 32_000;
    /// Gotify message (no documented limit; kept readable).
    pub const GOTIFY_MESSAGE: usize = 16_000;
}

use limits::*;

/// The request that tells `provider` about `message`.
pub fn request(provider: &Provider, message: &Message) -> HttpRequest {
    match provider {
        Provider::Discord { url } => discord(url, message),
        Provider::Telegram {
            url,
            bot_token,
            chat_id,
            message_thread_id,
        } => telegram(url, bot_token, chat_id, *message_thread_id, message),
        Provider::Teams { url } => teams(url, message),
        Provider::Opsgenie { url, api_key } => opsgenie(url, api_key, message),
        Provider::Ntfy { url, topic, token } => ntfy(url, topic, token.as_deref(), message),
        Provider::Pushover {
            url,
            token,
            user,
            device,
        } => pushover(url, token, user, device.as_deref(), message),
        Provider::GoogleChat { url } => google_chat(url, message),
        Provider::Mattermost {
            url,
            channel,
            username,
        } => mattermost(url, channel.as_deref(), username.as_deref(), message),
        Provider::RocketChat { url, channel } => rocketchat(url, channel.as_deref(), message),
        Provider::SplunkOnCall {
            url,
            api_key,
            routing_key,
        } => splunk_oncall(url, api_key, routing_key, message),
        Provider::Matrix {
            homeserver,
            room_id,
            access_token,
        } => matrix(homeserver, room_id, access_token, message),
        Provider::Gotify { url, token } => gotify(url, token, message),
    }
}

/// `base` without a trailing slash, then `path`.
fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The alert's one stable id at a receiver: `upkeep/` + key, at most `max` bytes. A longer one
/// keeps a prefix and ends with `#` and a 64-bit FNV-1a hash of the key in hex, so it stays
/// unique and stable.
pub fn alert_id(key: &str, max: usize) -> String {
    let full = format!("upkeep/{key}");
    if full.len() <= max {
        return full;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let suffix = format!("#{hash:016x}");
    let mut cut = max.saturating_sub(suffix.len());
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &full[..cut])
}

/// The plain-text form: title, fields, detail, link.
pub fn plain_text(m: &Message) -> String {
    let mut out = m.title.clone();
    for (label, value) in &m.fields {
        out.push_str(&format!("\n{label}: {value}"));
    }
    let detail = m.detail.trim();
    if !detail.is_empty() {
        out.push_str("\n\n");
        out.push_str(detail);
    }
    out.push_str(&format!("\n\n{}", m.site_url));
    out
}

/// The fields as `Label: value` lines, then the detail after a blank line.
fn fields_and_detail(m: &Message) -> String {
    let mut text = String::new();
    for (label, value) in &m.fields {
        text.push_str(&format!("{label}: {value}\n"));
    }
    let detail = m.detail.trim();
    if !detail.is_empty() {
        text.push('\n');
        text.push_str(detail);
    }
    text
}

/// The fields and detail as Markdown lines under a bold title (Mattermost, Rocket.Chat,
/// Gotify).
/// `text` that mentions no one: a zero-width space after each `@` and `<` breaks `@channel`,
/// `@all`, `@here` (Mattermost, Rocket.Chat) and `<users/all>` (Google Chat), which a probed
/// service's own words could otherwise hold.
fn no_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        out.push(c);
        if c == '@' || c == '<' {
            out.push('\u{200B}');
        }
    }
    out
}

fn markdown(m: &Message, bold: &str, with_title: bool, max: usize) -> String {
    let mut lines = Vec::new();
    if with_title {
        lines.push(format!("{bold}{}{bold}", no_mentions(&m.title)));
    }
    for (label, value) in &m.fields {
        lines.push(format!(
            "{bold}{}:{bold} {}",
            no_mentions(label),
            no_mentions(value)
        ));
    }
    let head = lines.join("\n");
    let link = format!("\n\n[{}]({})", m.site_name, m.site_url);
    let detail = no_mentions(m.detail.trim());
    let detail = detail.as_str();
    if detail.is_empty() {
        return truncate_chars(&format!("{head}{link}"), max);
    }
    let room = max.saturating_sub(head.chars().count() + link.chars().count() + 2);
    truncate_chars(
        &format!("{head}\n\n{}{link}", truncate_chars(detail, room)),
        max,
    )
}

fn discord(url: &str, m: &Message) -> HttpRequest {
    let color = match (m.state, m.severity) {
        (AlertState::Resolved, _) => 0x2E_B6_7D,
        (AlertState::Acknowledged, _) => 0x43_9F_E0,
        (_, Severity::Critical) => 0xE0_1E_5A,
        (_, Severity::Warning) => 0xEC_B2_2E,
        (_, Severity::Info) => 0x9E_9E_9E,
    };
    let title = truncate_chars(&m.title, DISCORD_TITLE);
    let fields: Vec<Value> = m
        .fields
        .iter()
        .map(|(name, value)| {
            json!({
                "name": truncate_chars(name, DISCORD_FIELD_NAME),
                "value": truncate_chars(value, DISCORD_FIELD_VALUE),
                "inline": true,
            })
        })
        .collect();
    let used: usize = title.chars().count()
        + fields
            .iter()
            .map(|f| {
                f["name"].as_str().map_or(0, |s| s.chars().count())
                    + f["value"].as_str().map_or(0, |s| s.chars().count())
            })
            .sum::<usize>();
    let room = DISCORD_DESCRIPTION.min(DISCORD_EMBED_TOTAL.saturating_sub(used));
    let mut embed = json!({
        "title": title,
        "url": m.site_url,
        "color": color,
        "timestamp": m.at.to_string(),
        "fields": fields,
    });
    let detail = m.detail.trim();
    if !detail.is_empty()
        && let Some(obj) = embed.as_object_mut()
    {
        obj.insert(
            "description".to_owned(),
            Value::String(truncate_chars(detail, room)),
        );
    }
    HttpRequest::json(
        "POST",
        url.to_owned(),
        &json!({
            "embeds": [embed],
            // Nobody is pinged by what a monitor's output happens to say.
            "allowed_mentions": { "parse": [] },
        }),
    )
}

fn telegram(
    base: &str,
    token: &str,
    chat_id: &str,
    thread: Option<i64>,
    m: &Message,
) -> HttpRequest {
    let mut head = format!("<b>{}</b>", html_escape(&m.title));
    for (label, value) in &m.fields {
        head.push_str(&format!(
            "\n<b>{}:</b> {}",
            html_escape(label),
            html_escape(value)
        ));
    }
    let link = format!(
        "\n\n<a href=\"{}\">{}</a>",
        html_escape(&m.site_url),
        html_escape(&m.site_name)
    );
    let detail = m.detail.trim();
    let text = if detail.is_empty() {
        format!("{head}{link}")
    } else {
        let room = TELEGRAM_TEXT.saturating_sub(head.chars().count() + link.chars().count() + 2);
        format!(
            "{head}\n\n{}{link}",
            escape_within(detail, room, html_escape_char)
        )
    };
    let mut body = json!({
        "chat_id": chat_id,
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": { "is_disabled": true },
    });
    if let (Some(thread), Some(obj)) = (thread, body.as_object_mut()) {
        obj.insert("message_thread_id".to_owned(), json!(thread));
    }
    HttpRequest::json(
        "POST",
        join(base, &format!("/bot{token}/sendMessage")),
        &body,
    )
}

fn teams(url: &str, m: &Message) -> HttpRequest {
    let color = match (m.state, m.severity) {
        (AlertState::Resolved, _) => "Good",
        (AlertState::Acknowledged, _) => "Accent",
        (_, Severity::Critical) => "Attention",
        (_, Severity::Warning) => "Warning",
        (_, Severity::Info) => "Default",
    };
    let facts: Vec<Value> = m
        .fields
        .iter()
        .map(|(title, value)| json!({ "title": title, "value": value }))
        .collect();
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": m.title,
            "weight": "Bolder",
            "size": "Medium",
            "color": color,
            "wrap": true,
        }),
        json!({ "type": "FactSet", "facts": facts }),
    ];
    let detail = m.detail.trim();
    if !detail.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": truncate_bytes(detail, TEAMS_TEXT_BYTES),
            "wrap": true,
        }));
    }
    HttpRequest::json(
        "POST",
        url.to_owned(),
        &json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": [{
                        "type": "Action.OpenUrl",
                        "title": m.site_name,
                        "url": m.site_url,
                    }],
                },
            }],
        }),
    )
}

fn opsgenie(base: &str, api_key: &str, m: &Message) -> HttpRequest {
    let alias = alert_id(&m.key, OPSGENIE_ALIAS);
    let source = truncate_chars(&m.site_name, OPSGENIE_SOURCE);
    let (url, body) = match m.state {
        AlertState::Firing | AlertState::Repeat => {
            let priority = match m.severity {
                Severity::Critical => "P1",
                Severity::Warning => "P3",
                Severity::Info => "P5",
            };
            let mut body = json!({
                "message": truncate_chars(&m.summary, OPSGENIE_MESSAGE),
                "alias": alias,
                "description": truncate_chars(&plain_text(m), OPSGENIE_DESCRIPTION),
                "source": source,
                "priority": priority,
                "tags": ["upkeep", m.severity.as_str()],
                "details": {
                    "key": m.key,
                    "since": m.since.to_string(),
                    "state": m.state.as_str(),
                },
            });
            if let (Some(c), Some(obj)) = (&m.component, body.as_object_mut()) {
                obj.insert(
                    "entity".to_owned(),
                    Value::String(truncate_chars(c, OPSGENIE_ENTITY)),
                );
            }
            (join(base, "/v2/alerts"), body)
        }
        AlertState::Acknowledged | AlertState::Resolved => {
            let action = if m.state == AlertState::Resolved {
                "close"
            } else {
                "acknowledge"
            };
            (
                join(
                    base,
                    &format!(
                        "/v2/alerts/{}/{action}?identifierType=alias",
                        percent_encode(&alias)
                    ),
                ),
                json!({
                    "source": source,
                    "note": truncate_chars(&m.title, OPSGENIE_NOTE),
                }),
            )
        }
    };
    HttpRequest::json("POST", url, &body).header("Authorization", format!("GenieKey {api_key}"))
}

fn ntfy(base: &str, topic: &str, token: Option<&str>, m: &Message) -> HttpRequest {
    let (priority, tag) = match (m.state, m.severity) {
        (AlertState::Resolved, _) => (3, "white_check_mark"),
        (AlertState::Acknowledged, _) => (3, "eyes"),
        (_, Severity::Critical) => (5, "rotating_light"),
        (_, Severity::Warning) => (4, "warning"),
        (_, Severity::Info) => (2, "information_source"),
    };
    let text = fields_and_detail(m);
    let body = json!({
        "topic": topic,
        "title": truncate_chars(&m.title, NTFY_TITLE),
        "message": truncate_bytes(text.trim_end(), NTFY_MESSAGE_BYTES),
        "priority": priority,
        "tags": [tag],
        "click": m.site_url,
    });
    let request = HttpRequest::json("POST", join(base, "/"), &body);
    match token {
        Some(token) => request.header("Authorization", format!("Bearer {token}")),
        None => request,
    }
}

fn pushover(base: &str, token: &str, user: &str, device: Option<&str>, m: &Message) -> HttpRequest {
    let priority = match (m.state, m.severity) {
        (AlertState::Resolved | AlertState::Acknowledged, _) => "-1",
        (_, Severity::Critical) => "1",
        (_, Severity::Warning) => "0",
        (_, Severity::Info) => "-1",
    };
    let text = fields_and_detail(m);
    let title = truncate_chars(&m.title, PUSHOVER_TITLE);
    let message = truncate_chars(text.trim_end(), PUSHOVER_MESSAGE);
    let url_title = truncate_chars(&m.site_name, PUSHOVER_URL_TITLE);
    let timestamp = m.at.as_second().to_string();
    let mut pairs = vec![
        ("token", token),
        ("user", user),
        ("title", title.as_str()),
        ("message", message.as_str()),
        ("priority", priority),
        ("timestamp", timestamp.as_str()),
    ];
    if m.site_url.len() <= PUSHOVER_URL_MAX {
        pairs.push(("url", m.site_url.as_str()));
        pairs.push(("url_title", url_title.as_str()));
    }
    if let Some(device) = device {
        pairs.push(("device", device));
    }
    HttpRequest {
        method: "POST",
        url: join(base, "/1/messages.json"),
        headers: vec![(
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )],
        body: form_encode(&pairs),
    }
}

fn google_chat(url: &str, m: &Message) -> HttpRequest {
    let mut head = format!("*{}*", no_mentions(&m.title));
    for (label, value) in &m.fields {
        head.push_str(&format!(
            "\n*{}:* {}",
            no_mentions(label),
            no_mentions(value)
        ));
    }
    let link = format!(
        "\n<{}|{}>",
        m.site_url,
        m.site_name.replace(['|', '>'], " ")
    );
    let detail = no_mentions(m.detail.trim());
    let detail = detail.as_str();
    let text = if detail.is_empty() {
        format!("{head}{link}")
    } else {
        let room = GOOGLE_CHAT_TEXT.saturating_sub(head.chars().count() + link.chars().count() + 2);
        format!("{head}\n\n{}{link}", truncate_chars(detail, room))
    };
    // One thread per alert: its repeat, acknowledgement and resolution follow the first.
    let separator = if url.contains('?') { '&' } else { '?' };
    HttpRequest::json(
        "POST",
        format!("{url}{separator}messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"),
        &json!({
            "text": text,
            "thread": { "threadKey": alert_id(&m.key, 255) },
        }),
    )
    .with_content_type("application/json; charset=UTF-8")
}

impl HttpRequest {
    fn with_content_type(mut self, value: &str) -> HttpRequest {
        for (name, v) in &mut self.headers {
            if name == "Content-Type" {
                *v = value.to_owned();
            }
        }
        self
    }
}

fn mattermost(
    url: &str,
    channel: Option<&str>,
    username: Option<&str>,
    m: &Message,
) -> HttpRequest {
    let mut body = json!({ "text": markdown(m, "**", true, MATTERMOST_TEXT) });
    if let Some(obj) = body.as_object_mut() {
        if let Some(channel) = channel {
            obj.insert("channel".to_owned(), json!(channel));
        }
        if let Some(username) = username {
            obj.insert("username".to_owned(), json!(username));
        }
    }
    HttpRequest::json("POST", url.to_owned(), &body)
}

fn rocketchat(url: &str, channel: Option<&str>, m: &Message) -> HttpRequest {
    let mut body = json!({ "text": markdown(m, "*", true, ROCKETCHAT_TEXT) });
    if let (Some(channel), Some(obj)) = (channel, body.as_object_mut()) {
        obj.insert("channel".to_owned(), json!(channel));
    }
    HttpRequest::json("POST", url.to_owned(), &body)
}

fn splunk_oncall(base: &str, api_key: &str, routing_key: &str, m: &Message) -> HttpRequest {
    let message_type = match (m.state, m.severity) {
        (AlertState::Resolved, _) => "RECOVERY",
        (AlertState::Acknowledged, _) => "ACKNOWLEDGEMENT",
        (_, Severity::Critical) => "CRITICAL",
        (_, Severity::Warning) => "WARNING",
        (_, Severity::Info) => "INFO",
    };
    HttpRequest::json(
        "POST",
        join(
            base,
            &format!(
                "/integrations/generic/20131114/alert/{}/{}",
                percent_encode(api_key),
                percent_encode(routing_key)
            ),
        ),
        &json!({
            "message_type": message_type,
            "entity_id": alert_id(&m.key, SPLUNK_ENTITY_ID),
            "entity_display_name": m.summary,
            "state_message": truncate_chars(&plain_text(m), SPLUNK_STATE_MESSAGE),
            "state_start_time": m.since.as_second(),
            "timestamp": m.at.as_second(),
            "monitoring_tool": "upkeep",
        }),
    )
}

fn matrix(homeserver: &str, room_id: &str, token: &str, m: &Message) -> HttpRequest {
    let mut html = format!("<strong>{}</strong>", html_escape(&m.title));
    if !m.fields.is_empty() {
        html.push_str("<br>");
        let lines: Vec<String> = m
            .fields
            .iter()
            .map(|(l, v)| format!("<b>{}:</b> {}", html_escape(l), html_escape(v)))
            .collect();
        html.push_str(&lines.join("<br>"));
    }
    let link = format!(
        "<p><a href=\"{}\">{}</a></p>",
        html_escape(&m.site_url),
        html_escape(&m.site_name)
    );
    let detail = m.detail.trim();
    if !detail.is_empty() {
        let room = MATRIX_HTML_BYTES.saturating_sub(html.len() + link.len() + 11) / 5;
        html.push_str(&format!(
            "<pre>{}</pre>",
            escape_within(detail, room, html_escape_char)
        ));
    }
    html.push_str(&link);
    HttpRequest::json(
        "PUT",
        join(
            homeserver,
            &format!(
                "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                percent_encode(room_id),
                percent_encode(&m.delivery_id)
            ),
        ),
        &json!({
            "msgtype": "m.notice",
            "body": truncate_bytes(&plain_text(m), MATRIX_BODY_BYTES),
            "format": "org.matrix.custom.html",
            "formatted_body": html,
        }),
    )
    .header("Authorization", format!("Bearer {token}"))
}

fn gotify(base: &str, token: &str, m: &Message) -> HttpRequest {
    let priority = match (m.state, m.severity) {
        (AlertState::Resolved | AlertState::Acknowledged, _) => 2,
        (_, Severity::Critical) => 8,
        (_, Severity::Warning) => 5,
        (_, Severity::Info) => 2,
    };
    HttpRequest::json(
        "POST",
        join(base, "/message"),
        &json!({
            "title": m.title,
            "message": markdown(m, "**", false, GOTIFY_MESSAGE),
            "priority": priority,
            "extras": {
                "client::display": { "contentType": "text/markdown" },
                "client::notification": { "click": { "url": m.site_url } },
            },
        }),
    )
    .header("X-Gotify-Key", token.to_owned())
}

/// How long a receiver asked to be left alone after refusing a request: the `Retry-After`
/// header (seconds, or an HTTP date measured from `now`), or the JSON body's `retry_after`
/// (Discord: seconds, fractional), `parameters.retry_after` (Telegram: seconds) or
/// `retry_after_ms` (Matrix). `None` when the answer says nothing of it.
pub fn retry_after(header: Option<&str>, body: &[u8], now: Timestamp) -> Option<Duration> {
    if let Some(h) = header.map(str::trim) {
        if let Ok(secs) = h.parse::<u64>() {
            // As the body's values: at most 10^9 s, so a hostile number cannot overflow the
            // instant it is added to.
            return Some(Duration::from_secs(secs.min(1_000_000_000)));
        }
        if let Some(at) = parse_http_date(h) {
            let wait = at.as_second().saturating_sub(now.as_second());
            return Some(Duration::from_secs(u64::try_from(wait).unwrap_or(0)));
        }
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let seconds = |v: &Value| {
        v.as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map(Duration::from_secs_f64)
    };
    seconds(&value["retry_after"])
        .or_else(|| seconds(&value["parameters"]["retry_after"]))
        .or_else(|| seconds(&value["retry_after_ms"]).map(|d| d / 1000))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `Retry-After` dates take.
fn parse_http_date(s: &str) -> Option<Timestamp> {
    // The weekday is left unread, as before: only the date and time count.
    let (_, rest) = s.split_once(", ")?;
    jiff::civil::DateTime::strptime("%d %b %Y %H:%M:%S GMT", rest)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn message(state: AlertState, detail: &str) -> Message {
        Message {
            delivery_id: "0f3c".to_owned(),
            key: "monitor:api-health".to_owned(),
            state,
            severity: Severity::Critical,
            title: "FIRING critical: API down".to_owned(),
            summary: "API down".to_owned(),
            fields: vec![
                ("Alert".to_owned(), "monitor:api-health".to_owned()),
                ("Component".to_owned(), "Public API".to_owned()),
            ],
            component: Some("Public API".to_owned()),
            detail: detail.to_owned(),
            site_name: "Acme".to_owned(),
            site_url: "https://status.acme.example".to_owned(),
            since: Timestamp::from_second(1_767_225_600).unwrap(),
            at: Timestamp::from_second(1_767_225_660).unwrap(),
        }
    }

    fn all(detail: &str, state: AlertState) -> Vec<(ProviderKind, HttpRequest)> {
        all_of(&message(state, detail))
    }

    #[test]
    fn a_probed_services_words_mention_no_one_in_chat_rooms() {
        let detail = "upstream said: @channel @all @here <users/all> <!everyone>";
        for (kind, req) in all(detail, AlertState::Firing) {
            if matches!(
                kind,
                ProviderKind::Mattermost | ProviderKind::RocketChat | ProviderKind::GoogleChat
            ) {
                let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
                let text = body["text"].as_str().unwrap();
                assert!(text.contains("upstream said"), "{kind:?}: {text}");
                for mention in ["@channel", "@all", "@here", "<users/all>", "<!everyone>"] {
                    assert!(
                        !text.contains(mention),
                        "{kind:?} mentions {mention}: {text}"
                    );
                }
            }
        }
    }

    fn all_of(m: &Message) -> Vec<(ProviderKind, HttpRequest)> {
        let providers = [
            Provider::Discord {
                url: "https://discord.com/api/webhooks/1/t".into(),
            },
            Provider::Telegram {
                url: TELEGRAM_URL.into(),
                bot_token: "1:abc".into(),
                chat_id: "-100".into(),
                message_thread_id: None,
            },
            Provider::Teams {
                url: "https://x.example/wf".into(),
            },
            Provider::Opsgenie {
                url: OPSGENIE_URL.into(),
                api_key: "k".into(),
            },
            Provider::Ntfy {
                url: NTFY_URL.into(),
                topic: "t".into(),
                token: None,
            },
            Provider::Pushover {
                url: PUSHOVER_URL.into(),
                token: "a".into(),
                user: "u".into(),
                device: None,
            },
            Provider::GoogleChat {
                url: "https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t".into(),
            },
            Provider::Mattermost {
                url: "https://mm.example/hooks/x".into(),
                channel: None,
                username: None,
            },
            Provider::RocketChat {
                url: "https://rc.example/hooks/x/y".into(),
                channel: None,
            },
            Provider::SplunkOnCall {
                url: SPLUNK_ONCALL_URL.into(),
                api_key: "k".into(),
                routing_key: "ops".into(),
            },
            Provider::Matrix {
                homeserver: "https://matrix.example".into(),
                room_id: "!r:example".into(),
                access_token: "tok".into(),
            },
            Provider::Gotify {
                url: "https://gotify.example".into(),
                token: "g".into(),
            },
        ];
        providers
            .iter()
            .map(|p| (p.kind(), request(p, m)))
            .collect()
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn opsgenie_creates_acknowledges_and_closes_by_alias() {
        let p = Provider::Opsgenie {
            url: "https://api.eu.opsgenie.com/".into(),
            api_key: "key".into(),
        };
        let fire = request(&p, &message(AlertState::Firing, ""));
        assert_eq!(fire.url, "https://api.eu.opsgenie.com/v2/alerts");
        let body: Value = serde_json::from_str(&fire.body).unwrap();
        assert_eq!(body["alias"], "upkeep/monitor:api-health");
        assert_eq!(body["priority"], "P1");
        assert_eq!(body["entity"], "Public API");
        let close = request(&p, &message(AlertState::Resolved, ""));
        assert_eq!(
            close.url,
            "https://api.eu.opsgenie.com/v2/alerts/upkeep%2Fmonitor%3Aapi-health/close?identifierType=alias"
        );
        let ack = request(&p, &message(AlertState::Acknowledged, ""));
        assert!(ack.url.contains("/acknowledge?identifierType=alias"));
        assert!(
            close
                .headers
                .contains(&("Authorization".into(), "GenieKey key".into()))
        );
    }

    #[test]
    fn splunk_recovers_the_same_entity() {
        let p = Provider::SplunkOnCall {
            url: SPLUNK_ONCALL_URL.into(),
            api_key: "api key".into(),
            routing_key: "ops".into(),
        };
        let fire: Value =
            serde_json::from_str(&request(&p, &message(AlertState::Firing, "")).body).unwrap();
        let done = request(&p, &message(AlertState::Resolved, ""));
        assert_eq!(
            done.url,
            "https://alert.victorops.com/integrations/generic/20131114/alert/api%20key/ops"
        );
        let done: Value = serde_json::from_str(&done.body).unwrap();
        assert_eq!(fire["message_type"], "CRITICAL");
        assert_eq!(done["message_type"], "RECOVERY");
        assert_eq!(fire["entity_id"], done["entity_id"]);
    }

    #[test]
    fn long_details_are_cut_within_every_limit() {
        let detail = "é<&>\"x".repeat(20_000);
        for (kind, req) in all(&detail, AlertState::Firing) {
            let text = match kind {
                ProviderKind::Pushover => {
                    assert!(req.body.len() < 1024 * 9 + 2000, "{kind:?}");
                    continue;
                }
                _ => serde_json::from_str::<Value>(&req.body).unwrap(),
            };
            let check = |path: &[&str], max_chars: usize| {
                let mut v = &text;
                for p in path {
                    v = if let Ok(i) = p.parse::<usize>() {
                        &v[i]
                    } else {
                        &v[*p]
                    };
                }
                let s = v.as_str().unwrap_or_else(|| panic!("{kind:?} {path:?}"));
                assert!(
                    s.chars().count() <= max_chars,
                    "{kind:?} {path:?}: {}",
                    s.chars().count()
                );
                assert!(s.ends_with('…') || s.ends_with("</a>") || s.contains('…'));
            };
            match kind {
                ProviderKind::Discord => check(&["embeds", "0", "description"], 4096),
                ProviderKind::Telegram => check(&["text"], TELEGRAM_TEXT),
                ProviderKind::Opsgenie => check(&["description"], OPSGENIE_DESCRIPTION),
                ProviderKind::Ntfy => {
                    assert!(text["message"].as_str().unwrap().len() <= NTFY_MESSAGE_BYTES);
                }
                ProviderKind::GoogleChat => check(&["text"], GOOGLE_CHAT_TEXT),
                ProviderKind::Mattermost => check(&["text"], MATTERMOST_TEXT),
                ProviderKind::RocketChat => check(&["text"], ROCKETCHAT_TEXT),
                ProviderKind::SplunkOnCall => check(&["state_message"], SPLUNK_STATE_MESSAGE),
                ProviderKind::Matrix => {
                    assert!(req.body.len() < 65_536, "{}", req.body.len());
                }
                ProviderKind::Gotify => check(&["message"], GOTIFY_MESSAGE),
                ProviderKind::Teams => assert!(req.body.len() < 28_000, "{}", req.body.len()),
                ProviderKind::Pushover => {}
            }
        }
    }

    #[test]
    fn a_hostile_retry_after_is_bounded() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let huge = retry_after(Some("18446744073709551615"), b"", now).unwrap();
        assert_eq!(huge, Duration::from_secs(1_000_000_000));
        assert!(std::time::Instant::now().checked_add(huge).is_some());
    }

    #[test]
    fn retry_after_in_its_three_shapes() {
        let now = Timestamp::from_second(784_111_777).unwrap();
        assert_eq!(
            retry_after(Some("120"), b"", now),
            Some(Duration::from_secs(120))
        );
        // 1994-11-06T08:49:37Z is 784111777.
        assert_eq!(
            retry_after(Some("Sun, 06 Nov 1994 08:50:07 GMT"), b"", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(
                None,
                br#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#,
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(
                None,
                br#"{"ok":false,"error_code":429,"parameters":{"retry_after":7}}"#,
                now
            ),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                None,
                br#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2500}"#,
                now
            ),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(retry_after(Some("soon"), b"<html>", now), None);
        assert_eq!(retry_after(None, br#"{"retry_after":-1}"#, now), None);
    }

    #[test]
    fn long_keys_keep_a_stable_unique_id() {
        let a = alert_id(&"k".repeat(600), 255);
        let b = alert_id(&format!("{}x", "k".repeat(599)), 255);
        assert!(a.len() <= 255 && b.len() <= 255);
        assert_ne!(a, b);
        assert_eq!(a, alert_id(&"k".repeat(600), 255));
    }

    proptest! {
        #[test]
        fn every_body_is_valid_for_any_text(title in ".{0,300}", detail in ".{0,3000}", key in ".{0,600}") {
            let mut m = message(AlertState::Firing, &detail);
            m.title = title;
            m.key = key;
            for state in [AlertState::Firing, AlertState::Resolved] {
                m.state = state;
                for (kind, req) in all_of(&m) {
                    if kind != ProviderKind::Pushover {
                        prop_assert!(serde_json::from_str::<Value>(&req.body).is_ok());
                    }
                    prop_assert!(!req.url.contains(' '));
                }
            }
        }
    }
}
