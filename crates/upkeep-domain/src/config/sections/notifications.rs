//! `notifications`: the SMTP server, channels, routes and delivery settings.

use super::*;

use crate::notify::AlertState;
use crate::notify::providers::{self, Provider, ProviderKind};
use crate::notify::template::{self, CustomWebhook, Part};

pub(super) const CHANNEL_KINDS: [&str; 17] = [
    "email",
    "webhook",
    "slack",
    "pagerduty",
    "discord",
    "telegram",
    "teams",
    "opsgenie",
    "ntfy",
    "pushover",
    "google_chat",
    "mattermost",
    "rocketchat",
    "splunk_oncall",
    "matrix",
    "gotify",
    "custom_webhook",
];

/// A URL that is itself a credential (a webhook URL with its token): checked like every URL,
/// but a problem never quotes it.
fn secret_url(d: &mut Decoder, node: &Node) -> Option<String> {
    d.parsed(node, |text| {
        super::super::decode::check_http_url(text)
            .map(|()| text.to_owned())
            .map_err(|why| why.replace(&format!("`{text}`"), "(not shown: it is a secret)"))
    })
}

/// Where a template's problem is in the file: a one-line scalar's first character, or the
/// template's line counted from the scalar's first line (a block scalar's content starts on the
/// line after its `|`, where its node is), else the scalar itself.
fn template_pos(node: &Node, line: Option<usize>) -> Pos {
    match (node.scalar(), line) {
        (Some(scalar), _) if scalar.content_column.is_some() => node.pos_in_text(0),
        (Some(_), Some(line)) if line > 0 => Pos {
            line: node.pos.line + line - 1,
            column: node.pos.column,
        },
        _ => node.pos,
    }
}

/// A `custom_webhook` section: its templates compiled, and rendered once for a firing and a
/// resolved sample alert, so a syntax error, an undefined name or a JSON body that does not
/// parse is reported here rather than when an alert fires.
fn read_custom_webhook(d: &mut Decoder, node: &Node) -> Option<CustomWebhook> {
    let mut f = d.fields(node)?;
    let url_node = f.get("url");
    let url = f.required(d, "url", Decoder::string);
    let method = f
        .optional(d, "method", |d, n| {
            let choices: Vec<(&str, &'static str)> =
                template::METHODS.iter().map(|m| (*m, *m)).collect();
            d.choice(n, "method", &choices)
        })
        .unwrap_or("POST");
    let headers_node = f.get("headers");
    let headers = f.optional(d, "headers", |d, n| {
        let NodeKind::Mapping(entries) = &n.kind else {
            d.error(
                n.pos,
                "expected a mapping of header names to value templates",
            );
            return None;
        };
        let mut out = Vec::new();
        for entry in entries {
            let valid = !entry.key.is_empty()
                && entry
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid {
                d.error(
                    entry.key_pos,
                    format!("`{}` is not a header name", entry.key),
                );
                continue;
            }
            if entry.key.eq_ignore_ascii_case("content-type") {
                d.error(entry.key_pos, "set the body's type with `content_type`");
                continue;
            }
            out.push((entry.key.clone(), d.text(&entry.value)?.to_owned()));
        }
        Some(out)
    });
    let content_type = f.optional(d, "content_type", Decoder::string);
    let body_node = f.get("body");
    let body = f.optional(d, "body", Decoder::string);
    f.finish(d);
    let hook = CustomWebhook {
        method,
        url: url?,
        headers: headers.unwrap_or_default(),
        content_type: content_type.unwrap_or_else(|| "application/json".to_owned()),
        body,
    };
    let node_of = |part: &Part| -> Option<&Node> {
        match part {
            Part::Url => url_node,
            Part::Body => body_node,
            Part::Header(name) => match headers_node.map(|n| &n.kind) {
                Some(NodeKind::Mapping(entries)) => {
                    entries.iter().find(|e| &e.key == name).map(|e| &e.value)
                }
                _ => None,
            },
        }
    };
    let mut problems = template::compile(&hook);
    if problems.is_empty() {
        for state in [AlertState::Firing, AlertState::Resolved] {
            if let Err(err) = template::render(&hook, &template::sample(state)) {
                problems.push(err);
                break;
            }
        }
    }
    if problems.is_empty() {
        return Some(hook);
    }
    for problem in problems {
        let pos = node_of(&problem.part).map_or(node.pos, |n| template_pos(n, problem.line));
        d.error(pos, problem.to_string());
    }
    None
}

/// A provider's section (`discord: {...}`, ...).
fn read_provider(d: &mut Decoder, kind: ProviderKind, node: &Node) -> Option<Provider> {
    let mut f = d.fields(node)?;
    let base = |d: &mut Decoder, f: &mut Fields, default: &str| {
        f.optional(d, "url", Decoder::url)
            .unwrap_or_else(|| default.to_owned())
    };
    let provider = match kind {
        ProviderKind::Discord => {
            let url = f.required(d, "url", secret_url);
            url.map(|url| Provider::Discord { url })
        }
        ProviderKind::Telegram => {
            let url = base(d, &mut f, providers::TELEGRAM_URL);
            let bot_token = f.required(d, "bot_token", Decoder::string);
            let chat_id = f.required(d, "chat_id", Decoder::string);
            let message_thread_id = f.optional(d, "message_thread_id", Decoder::integer::<i64>);
            match (bot_token, chat_id) {
                (Some(bot_token), Some(chat_id)) => Some(Provider::Telegram {
                    url,
                    bot_token,
                    chat_id,
                    message_thread_id,
                }),
                _ => None,
            }
        }
        ProviderKind::Teams => {
            let url = f.required(d, "url", secret_url);
            url.map(|url| Provider::Teams { url })
        }
        ProviderKind::Opsgenie => {
            let url = base(d, &mut f, providers::OPSGENIE_URL);
            let api_key = f.required(d, "api_key", Decoder::string);
            api_key.map(|api_key| Provider::Opsgenie { url, api_key })
        }
        ProviderKind::Ntfy => {
            let url = base(d, &mut f, providers::NTFY_URL);
            let topic = f.required(d, "topic", Decoder::string);
            let token = f.optional(d, "token", Decoder::string);
            topic.map(|topic| Provider::Ntfy { url, topic, token })
        }
        ProviderKind::Pushover => {
            let url = base(d, &mut f, providers::PUSHOVER_URL);
            let token = f.required(d, "token", Decoder::string);
            let user = f.required(d, "user", Decoder::string);
            let device = f.optional(d, "device", Decoder::string);
            match (token, user) {
                (Some(token), Some(user)) => Some(Provider::Pushover {
                    url,
                    token,
                    user,
                    device,
                }),
                _ => None,
            }
        }
        ProviderKind::GoogleChat => {
            let url = f.required(d, "url", secret_url);
            url.map(|url| Provider::GoogleChat { url })
        }
        ProviderKind::Mattermost => {
            let url = f.required(d, "url", secret_url);
            let channel = f.optional(d, "channel", Decoder::string);
            let username = f.optional(d, "username", Decoder::string);
            url.map(|url| Provider::Mattermost {
                url,
                channel,
                username,
            })
        }
        ProviderKind::RocketChat => {
            let url = f.required(d, "url", secret_url);
            let channel = f.optional(d, "channel", Decoder::string);
            url.map(|url| Provider::RocketChat { url, channel })
        }
        ProviderKind::SplunkOnCall => {
            let url = base(d, &mut f, providers::SPLUNK_ONCALL_URL);
            let api_key = f.required(d, "api_key", Decoder::string);
            let routing_key = f.required(d, "routing_key", Decoder::string);
            match (api_key, routing_key) {
                (Some(api_key), Some(routing_key)) => Some(Provider::SplunkOnCall {
                    url,
                    api_key,
                    routing_key,
                }),
                _ => None,
            }
        }
        ProviderKind::Matrix => {
            let homeserver = f.required(d, "homeserver", Decoder::url);
            let room_id = f.required(d, "room_id", |d, n| {
                d.parsed(n, |text| {
                    // `!opaque:server`, or from room version 12 on `!opaque` alone.
                    if text.len() > 1
                        && text.starts_with('!')
                        && !text.contains(|c: char| c.is_whitespace() || c.is_control())
                    {
                        Ok(text.to_owned())
                    } else {
                        Err(format!(
                            "`{text}` is not a room id (`!opaque:server` or `!opaque`; an \
                             alias such as #room:server must be resolved to its id first)"
                        ))
                    }
                })
            });
            let access_token = f.required(d, "access_token", Decoder::string);
            match (homeserver, room_id, access_token) {
                (Some(homeserver), Some(room_id), Some(access_token)) => Some(Provider::Matrix {
                    homeserver,
                    room_id,
                    access_token,
                }),
                _ => None,
            }
        }
        ProviderKind::Gotify => {
            let url = f.required(d, "url", Decoder::url);
            let token = f.required(d, "token", Decoder::string);
            match (url, token) {
                (Some(url), Some(token)) => Some(Provider::Gotify { url, token }),
                _ => None,
            }
        }
    };
    f.finish(d);
    provider
}

/// A `ca_file`: the path of a PEM file.
pub(super) fn read_pem_path(d: &mut Decoder, n: &Node) -> Option<std::path::PathBuf> {
    let path = d.string(n)?;
    if path.trim().is_empty() {
        d.error(n.pos, "must name a PEM file");
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

pub(super) fn read_smtp(d: &mut Decoder, node: &Node) -> Option<Smtp> {
    let mut f = d.fields(node)?;
    let host = f.required(d, "host", |d, n| read_address(d, n, false));
    let port = f.optional(d, "port", |d, n| positive(d, n, Decoder::integer::<u16>, 0));
    let from = f.required(d, "from", read_email);
    let auth_pos = f.key_pos("username").or_else(|| f.key_pos("password"));
    let username = f.optional(d, "username", Decoder::string);
    let password = f.optional(d, "password", Decoder::string);
    let allow_plaintext_auth = f.optional(d, "allow_plaintext_auth", Decoder::bool);
    let ca_file = f.optional(d, "ca_file", read_pem_path);
    let tls = f.optional(d, "tls", |d, n| {
        d.choice(
            n,
            "SMTP security",
            &[
                ("none", SmtpTls::None),
                ("starttls", SmtpTls::Starttls),
                ("tls", SmtpTls::Tls),
            ],
        )
    });
    f.finish(d);
    let (port, tls) = match (port, tls) {
        (Some(port), Some(tls)) => (port, tls),
        (Some(465), None) => (465, SmtpTls::Tls),
        (Some(587), None) => (587, SmtpTls::Starttls),
        (Some(port), None) => (port, SmtpTls::None),
        (None, Some(SmtpTls::Tls)) => (465, SmtpTls::Tls),
        (None, Some(SmtpTls::Starttls)) => (587, SmtpTls::Starttls),
        (None, Some(SmtpTls::None) | None) => (25, SmtpTls::None),
    };
    // Credentials over a plain connection are readable by anyone on the path.
    if tls == SmtpTls::None
        && allow_plaintext_auth != Some(true)
        && let Some(pos) = auth_pos
    {
        d.error(
            pos,
            "SMTP credentials would be sent in clear text (`tls` is none): set `tls: starttls` \
             or `tls: tls`, or `allow_plaintext_auth: true` for a relay on a network you trust",
        );
        return None;
    }
    Some(Smtp {
        host: host?,
        port,
        from: from?,
        username,
        password,
        tls,
        ca_file,
    })
}

pub(super) fn read_retry(d: &mut Decoder, node: &Node) -> Option<RetryPolicy> {
    let mut f = d.fields(node)?;
    let initial = f.optional(d, "initial", positive_duration);
    let max_interval = f.optional(d, "max_interval", positive_duration);
    let max_age = f.optional(d, "max_age", positive_duration);
    f.finish(d);
    let defaults = RetryPolicy::default();
    let policy = RetryPolicy {
        initial: initial.unwrap_or(defaults.initial),
        max_interval: max_interval.unwrap_or(defaults.max_interval),
        max_age: max_age.unwrap_or(defaults.max_age),
    };
    if policy.initial > policy.max_interval {
        d.error(node.pos, "`initial` must not be longer than `max_interval`");
        return None;
    }
    Some(policy)
}

pub(super) fn read_email(d: &mut Decoder, node: &Node) -> Option<EmailAddress> {
    d.parsed(node, |text| {
        EmailAddress::parse(text).map_err(|why| format!("bad e-mail address `{text}`: {why}"))
    })
}

impl Sections {
    pub(super) fn notifications(&mut self, d: &mut Decoder, node: &Node) -> Option<Notifications> {
        let mut f = d.fields(node)?;
        let smtp = f.optional(d, "smtp", read_smtp);
        let channels = f
            .optional(d, "channels", |d, n| {
                Some(d.id_map(n, |d, e| self.channel(d, &e.value)))
            })
            .unwrap_or_default();
        let routes = f
            .optional(d, "routes", |d, n| d.list(n, |d, n| self.route(d, n)))
            .unwrap_or_default();
        let retry = f.optional(d, "retry", read_retry);
        let renotify_every = f.optional(d, "renotify_every", Decoder::duration);
        let confirm_within = f.optional(d, "confirm_within", positive_duration);
        let delivery_timeout = f.optional(d, "delivery_timeout", positive_duration);
        let retention = f.optional(d, "retention", positive_duration);
        f.finish(d);
        let defaults = Notifications::default();
        Some(Notifications {
            smtp,
            channels,
            routes,
            retry: retry.unwrap_or(defaults.retry),
            renotify_every: renotify_every.unwrap_or(defaults.renotify_every),
            confirm_within: confirm_within.unwrap_or(defaults.confirm_within),
            delivery_timeout: delivery_timeout.unwrap_or(defaults.delivery_timeout),
            retention: retention.unwrap_or(defaults.retention),
        })
    }

    pub(super) fn channel(&mut self, d: &mut Decoder, node: &Node) -> Option<Channel> {
        let mut f = d.fields(node)?;
        let (kind, value, pos) = one_kind(d, &mut f, "a channel", &CHANNEL_KINDS)?;
        f.finish(d);
        match kind {
            "email" => {
                self.email_channels.push(pos);
                let addresses = match value.kind {
                    NodeKind::Sequence(_) => d.list(value, read_email)?,
                    _ => vec![read_email(d, value)?],
                };
                if addresses.is_empty() {
                    d.error(value.pos, "an e-mail channel needs at least one address");
                    return None;
                }
                Some(Channel::Email(addresses))
            }
            "webhook" => {
                let mut f = d.fields(value)?;
                let url = f.required(d, "url", Decoder::url);
                let secret = f.optional(d, "secret", Decoder::string);
                f.finish(d);
                Some(Channel::Webhook { url: url?, secret })
            }
            "slack" => {
                let mut f = d.fields(value)?;
                let url = f.required(d, "url", Decoder::url);
                f.finish(d);
                Some(Channel::Slack { url: url? })
            }
            "pagerduty" => {
                let mut f = d.fields(value)?;
                let routing_key = f.required(d, "routing_key", Decoder::string);
                let url = f.optional(d, "url", Decoder::url);
                f.finish(d);
                Some(Channel::PagerDuty {
                    routing_key: routing_key?,
                    url: url.unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_owned()),
                })
            }
            "custom_webhook" => read_custom_webhook(d, value).map(Channel::CustomWebhook),
            other => {
                let kind = ProviderKind::parse(other)?;
                read_provider(d, kind, value).map(Channel::Provider)
            }
        }
    }

    pub(super) fn route(&mut self, d: &mut Decoder, node: &Node) -> Option<Route> {
        let mut f = d.fields(node)?;
        let severity = f.required(d, "severity", read_severity);
        let component = f.optional(d, "component", |d, n| self.id_ref(d, n, IdKind::Component));
        let channels = f.required(d, "channels", |d, n| {
            let channels = self.id_refs(d, n, IdKind::Channel)?;
            if channels.is_empty() {
                d.error(n.pos, "a route needs at least one channel");
                return None;
            }
            Some(channels)
        });
        f.finish(d);
        Some(Route {
            severity: severity?,
            component,
            channels: channels?,
        })
    }
}
