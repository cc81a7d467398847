//! Rendering notices for each channel: a mail (subject, plain text and HTML) for one reader,
//! a webhook body, a Slack incoming-webhook body and a PagerDuty Events API v2 body.
//!
//! Rendering is pure: the same notice, site and reader always give the same bytes, so the
//! engine renders a delivery once and every retry sends the same content.
//!
//! # Mails
//!
//! [`notice_email`] (incidents, maintenance and alerts), [`alert_email`] and
//! [`confirmation_email`] fill the askama templates `templates/mail/message.txt` and
//! `templates/mail/message.html` of this crate.
//!
//! - Every time is shown in the reader's zone, with the zone's abbreviation (or its UTC offset
//!   when the zone has no abbreviation) and the zone's IANA name once; a window that crosses a
//!   daylight-saving change shows each end with its own abbreviation and offset.
//! - A tenant's subscriber with a slot ([`Reader::slot`]) reads their own slot prominently,
//!   beside the whole window.
//! - Subjects never hold CR, LF or other control characters (whitespace runs collapse to one
//!   space) and are at most [`SUBJECT_MAX_CHARS`] characters, cut on a character boundary with
//!   `…`.
//! - The text part is plain text, wrapped at about 72 columns; Markdown (incident updates,
//!   maintenance descriptions) is shown as written. The HTML part uses inline styles only, every
//!   value is escaped by askama, and Markdown goes through
//!   [`upkeep_domain::markdown::to_safe_html`] (pulldown-cmark then ammonia).
//! - Both parts end with why the reader gets the mail and, when [`Reader::unsubscribe_url`] is
//!   set, the link to unsubscribe.
//!
//! # Webhook body (stable)
//!
//! [`webhook_body`] is a JSON object:
//!
//! ```json
//! {
//!   "id": "delivery id (the same on every retry of one delivery)",
//!   "event": "incident.opened | incident.updated | incident.resolved | maintenance.scheduled | maintenance.rescheduled | maintenance.cancelled | maintenance.reminder | maintenance.started | maintenance.completed | alert.firing | alert.repeat | alert.acknowledged | alert.resolved",
//!   "created_at": "RFC 3339 instant of the change (the notice's `at`)",
//!   "page": { "name": "Acme Cloud", "url": "https://status.example.com" },
//!   "data": { "type": "incident | maintenance | alert", "...": "the notice's fields" }
//! }
//! ```
//!
//! `data` is the serde form of [`Notice`] (tagged by `type`, snake_case); timestamps in it are
//! RFC 3339 strings.
//!
//! # Slack and PagerDuty
//!
//! [`slack_body`] is an incoming-webhook body `{"text": one-line fallback, "blocks": [...]}`
//! whose user text has Slack's control characters `&`, `<`, `>` escaped. [`pagerduty_body`] is an
//! Events API v2 body; its `dedup_key` is [`pagerduty_dedup_key`] of the alert's key, so the
//! firing, acknowledging and resolving notices of one alert act on one PagerDuty incident.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use upkeep_domain::config::Severity;
use upkeep_domain::duration::format_duration;
use upkeep_domain::markdown::to_safe_html;
use upkeep_domain::notify::routing::Scope;
use upkeep_domain::notify::{
    AlertNotice, AlertState, IncidentEvent, IncidentNotice, MaintenanceEvent, MaintenanceNotice,
    Notice,
};

/// Longest subject, in characters (the cut one ends with `…`).
pub const SUBJECT_MAX_CHARS: usize = 200;

/// Longest PagerDuty dedup key, in bytes (PagerDuty's limit is 255 characters).
const PD_DEDUP_MAX: usize = 255;

/// Longest PagerDuty summary, in characters.
const PD_SUMMARY_MAX: usize = 1024;

/// Longest text of one Slack section block (Slack refuses more than 3000).
const SLACK_SECTION_MAX: usize = 2900;

/// Column the text part wraps at.
const WRAP: usize = 72;

/// The status page as mails and bodies name it.
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    pub name: &'a str,
    /// Public base URL, without a trailing slash.
    pub url: &'a str,
}

/// Who reads a message: their zone, and for a tenant's subscriber the tenant's own slot.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    pub zone: &'a TimeZone,
    /// IANA name shown to the reader, e.g. `Europe/Rome`.
    pub zone_name: &'a str,
    /// The tenant's display name, for a tenant's subscriber.
    pub tenant_name: Option<&'a str>,
    /// The tenant's id, for the link to its own maintenance calendar.
    pub tenant_id: Option<&'a str>,
    /// This tenant's slot within the maintenance window.
    pub slot: Option<(Timestamp, Timestamp)>,
    /// The reader's one-click unsubscribe link.
    pub unsubscribe_url: Option<&'a str>,
    /// Component id → display name.
    pub component_names: &'a BTreeMap<String, String>,
}

/// A rendered mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

// ---------------------------------------------------------------------------------------------
// Mails
// ---------------------------------------------------------------------------------------------

/// What a mail says, before it is laid out as text and as HTML.
#[derive(Debug, Default)]
struct Message {
    subject: String,
    site_name: String,
    site_url: String,
    /// Colour of the card's top border (a constant, never user text).
    accent: &'static str,
    heading: String,
    intro: Vec<String>,
    /// Said prominently (a tenant's own slot).
    highlight: Option<String>,
    facts: Vec<(String, String)>,
    list_title: String,
    list: Vec<String>,
    /// Markdown as written (shown in the text part) and its sanitised HTML.
    body_title: String,
    body_md: String,
    body_html: String,
    /// Preformatted text (an alert's detail).
    detail_title: String,
    detail: String,
    /// The main link: (label, URL).
    action: Option<(String, String)>,
    footer: Vec<String>,
    unsubscribe_url: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlMail<'a> {
    m: &'a Message,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextMail<'a> {
    m: &'a Message,
    underline: String,
    intro: Vec<String>,
    highlight: Option<String>,
    facts: Vec<String>,
    list: Vec<String>,
    body: String,
    detail: String,
    footer: Vec<String>,
}

impl Message {
    fn new(site: &Site, subject: &str) -> Message {
        Message {
            subject: clean_subject(&format!("[{}] {}", one_line(site.name), subject)),
            site_name: site.name.to_owned(),
            site_url: site.url.to_owned(),
            accent: ACCENT_INFO,
            ..Message::default()
        }
    }

    fn fact(&mut self, label: &str, value: impl Into<String>) {
        self.facts.push((label.to_owned(), value.into()));
    }

    fn markdown(&mut self, title: &str, md: &str) {
        let md = md.replace("\r\n", "\n").replace('\r', "\n");
        if md.trim().is_empty() {
            return;
        }
        self.body_title = title.to_owned();
        self.body_html = to_safe_html(&md);
        self.body_md = md.trim_end().to_owned();
    }

    fn finish(self) -> Email {
        let text_view = TextMail {
            m: &self,
            underline: "=".repeat(self.heading.chars().count().clamp(3, WRAP)),
            intro: self.intro.iter().map(|p| wrap(p, WRAP, "")).collect(),
            highlight: self.highlight.as_deref().map(|h| wrap(h, WRAP, "")),
            facts: self
                .facts
                .iter()
                .map(|(k, v)| wrap(&format!("{k}: {v}"), WRAP, "    "))
                .collect(),
            list: self
                .list
                .iter()
                .map(|l| format!("  - {}", wrap(l, WRAP - 4, "    ")))
                .collect(),
            body: self.body_md.clone(),
            detail: self.detail.replace("\r\n", "\n").trim_end().to_owned(),
            footer: self.footer.iter().map(|p| wrap(p, WRAP, "")).collect(),
        };
        let text = text_view
            .render()
            .unwrap_or_else(|e| format!("{}\n\n(rendering failed: {e})\n", self.heading));
        let html = HtmlMail { m: &self }
            .render()
            .unwrap_or_else(|_| String::from("<p>This message could not be rendered.</p>"));
        Email {
            subject: self.subject.clone(),
            text: tidy_text(&text),
            html,
        }
    }
}

const ACCENT_INFO: &str = "#0969da";
const ACCENT_GOOD: &str = "#1a7f37";
const ACCENT_WARN: &str = "#bf8700";
const ACCENT_BAD: &str = "#cf222e";

/// A customer notice (incident or maintenance) as a mail to one subscriber. An operator alert
/// is rendered as by [`alert_email`] in the reader's zone.
pub fn notice_email(site: &Site, reader: &Reader, notice: &Notice) -> Email {
    let mut m = match notice {
        Notice::Incident(n) => incident_message(site, reader, n),
        Notice::Maintenance(n) => maintenance_message(site, reader, n),
        Notice::Alert(a) => alert_message(site, reader.zone, reader.zone_name, a),
    };
    if !matches!(notice, Notice::Alert(_)) {
        m.footer.push(subscriber_footer(site, reader));
    }
    if let Some(u) = reader.unsubscribe_url {
        m.unsubscribe_url = Some(u.to_owned());
    }
    m.finish()
}

/// An operator alert as a mail (the ops mailing-list channel), in the page's zone
/// (`zone`, named `zone_name`), without an unsubscribe link.
pub fn alert_email(site: &Site, zone: &TimeZone, zone_name: &str, alert: &AlertNotice) -> Email {
    alert_message(site, zone, zone_name, alert).finish()
}

/// The double opt-in confirmation mail: the link to confirm, when it expires (in the reader's
/// zone), what the subscription covers, and a line saying to ignore the mail if the reader did
/// not ask for it.
pub fn confirmation_email(
    site: &Site,
    reader: &Reader,
    confirm_url: &str,
    expires_at: Timestamp,
    scope: &Scope,
) -> Email {
    let mut m = Message::new(site, "Confirm your subscription");
    m.heading = format!("Confirm your subscription to {}", one_line(site.name));
    m.intro.push(format!(
        "Someone, probably you, asked to receive notifications from the {} status page ({}) \
         at this address. Please confirm with the link below.",
        one_line(site.name),
        site.url
    ));
    m.fact("Covers", scope_description(site, reader, scope));
    m.fact(
        "Link expires",
        instant_long(expires_at, reader.zone, reader.zone_name),
    );
    m.action = Some(("Confirm subscription".to_owned(), confirm_url.to_owned()));
    m.footer.push(
        "If you did not ask for this, ignore this mail: you will not be subscribed and will \
         hear nothing more from us."
            .to_owned(),
    );
    m.finish()
}

fn scope_description(site: &Site, reader: &Reader, scope: &Scope) -> String {
    let site_name = one_line(site.name);
    let components = scope
        .components
        .iter()
        .map(|c| component_name(reader, c))
        .collect::<Vec<_>>()
        .join(", ");
    match (&scope.tenant, scope.components.is_empty()) {
        (Some(t), all) => {
            let tenant = one_line(reader.tenant_name.unwrap_or(t.as_str()));
            let on = if all {
                format!("all components of {site_name}")
            } else {
                components
            };
            format!("incidents on {on}, and maintenance that concerns {tenant}")
        }
        (None, true) => format!("every incident and maintenance of {site_name}"),
        (None, false) => format!("incidents and maintenance affecting {components}"),
    }
}

fn subscriber_footer(site: &Site, reader: &Reader) -> String {
    match reader.tenant_name {
        Some(t) => format!(
            "You receive this mail because you subscribed to notifications from the {} status page ({}) for {}.",
            one_line(site.name),
            site.url,
            one_line(t)
        ),
        None => format!(
            "You receive this mail because you subscribed to notifications from the {} status page ({}).",
            one_line(site.name),
            site.url
        ),
    }
}

fn incident_message(site: &Site, reader: &Reader, n: &IncidentNotice) -> Message {
    let title = one_line(&n.title);
    let status = humanize(&n.status);
    let subject = match n.event {
        IncidentEvent::Opened => format!("Incident: {title} — {status}"),
        IncidentEvent::Updated => format!("Incident update: {title} — {status}"),
        IncidentEvent::Resolved => format!("Resolved: {title}"),
    };
    let mut m = Message::new(site, &subject);
    m.accent = match (n.event, n.impact.as_str()) {
        (IncidentEvent::Resolved, _) => ACCENT_GOOD,
        (_, "critical" | "major") => ACCENT_BAD,
        _ => ACCENT_WARN,
    };
    m.heading = title.clone();
    m.intro.push(match n.event {
        IncidentEvent::Opened => format!("We have opened an incident on {}.", one_line(site.name)),
        IncidentEvent::Updated => "There is an update on this incident.".to_owned(),
        IncidentEvent::Resolved => "This incident has been resolved.".to_owned(),
    });
    m.fact("Status", status);
    m.fact("Impact", impact_label(&n.impact));
    m.fact(
        "Started",
        instant_long(n.started_at, reader.zone, reader.zone_name),
    );
    if n.at != n.started_at {
        let label = match n.event {
            IncidentEvent::Resolved => "Resolved",
            _ => "Updated",
        };
        m.fact(label, instant_short(n.at, reader.zone));
    }
    if !n.components.is_empty() {
        m.list_title = "Affected components".to_owned();
        m.list = n
            .components
            .iter()
            .map(|c| {
                let name = if c.name.trim().is_empty() {
                    component_name(reader, &c.id)
                } else {
                    one_line(&c.name)
                };
                format!("{name}: {}", humanize(&c.status))
            })
            .collect();
    }
    m.markdown("Update", &n.body);
    m.action = Some((
        "View the incident".to_owned(),
        format!("{}/incidents/{}", site.url, n.id),
    ));
    m
}

fn maintenance_message(site: &Site, reader: &Reader, n: &MaintenanceNotice) -> Message {
    let title = one_line(&n.title);
    let emergency = n.kind == "emergency";
    let noun = if emergency {
        "Emergency maintenance"
    } else {
        "Maintenance"
    };
    let zone = reader.zone;
    let short = window_short(n.starts_at, n.ends_at, zone);
    let subject = match n.event {
        MaintenanceEvent::Scheduled if emergency => {
            format!("Emergency maintenance: {title} — {short}")
        }
        MaintenanceEvent::Scheduled => format!("Scheduled maintenance: {title} — {short}"),
        MaintenanceEvent::Rescheduled => format!("{noun} rescheduled: {title} — {short}"),
        MaintenanceEvent::Cancelled => format!("{noun} cancelled: {title}"),
        MaintenanceEvent::Reminder => {
            format!("Reminder: {title} starts in {}", lead_phrase(n))
        }
        MaintenanceEvent::Started => format!("{noun} started: {title}"),
        MaintenanceEvent::Completed => format!("{noun} completed: {title}"),
    };
    let mut m = Message::new(site, &subject);
    m.accent = match n.event {
        MaintenanceEvent::Completed => ACCENT_GOOD,
        MaintenanceEvent::Cancelled => ACCENT_WARN,
        _ if emergency => ACCENT_BAD,
        _ => ACCENT_INFO,
    };
    m.heading = title.clone();
    let site_name = one_line(site.name);
    m.intro.push(match n.event {
        MaintenanceEvent::Scheduled if emergency => {
            format!("We need to carry out emergency maintenance on {site_name}.")
        }
        MaintenanceEvent::Scheduled => format!("We have scheduled maintenance on {site_name}."),
        MaintenanceEvent::Rescheduled => "This maintenance has been moved to a new time.".into(),
        MaintenanceEvent::Cancelled => {
            "This maintenance has been cancelled: it will not take place.".into()
        }
        MaintenanceEvent::Reminder => {
            format!("This maintenance starts in {}.", lead_phrase(n))
        }
        MaintenanceEvent::Started => "This maintenance has started.".into(),
        MaintenanceEvent::Completed => "This maintenance has been completed.".into(),
    });
    if let Some((from, to)) = reader.slot
        && matches!(
            n.event,
            MaintenanceEvent::Scheduled
                | MaintenanceEvent::Rescheduled
                | MaintenanceEvent::Reminder
                | MaintenanceEvent::Started
        )
    {
        let who = match reader.tenant_name {
            Some(t) => format!("Your service ({})", one_line(t)),
            None => "Your service".to_owned(),
        };
        m.highlight = Some(format!(
            "{who} will be updated {}.",
            slot_phrase(from, to, zone, reader.zone_name)
        ));
    }
    let window = window_long(n.starts_at, n.ends_at, zone, reader.zone_name);
    match (n.event, n.previous) {
        (MaintenanceEvent::Rescheduled, Some((ps, pe))) => {
            m.fact("Previously", window_long(ps, pe, zone, reader.zone_name));
            m.fact("Now", window);
        }
        (MaintenanceEvent::Cancelled, _) => m.fact("Was planned for", window),
        (MaintenanceEvent::Reminder, _) => m.fact("Starts", window),
        _ => m.fact("When", window),
    }
    if emergency && !n.reason.trim().is_empty() {
        m.fact("Reason", one_line(&n.reason));
    }
    m.fact(
        "Affects",
        if n.components.is_empty() {
            "All components".to_owned()
        } else {
            n.components
                .iter()
                .map(|c| component_name(reader, c))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    m.markdown("Details", &n.description);
    if n.event != MaintenanceEvent::Cancelled && n.event != MaintenanceEvent::Completed {
        let calendar = match reader.tenant_id {
            Some(t) => format!("{}/tenants/{t}/maintenance.ics", site.url),
            None => format!("{}/maintenance.ics", site.url),
        };
        m.fact("Calendar", calendar);
    }
    m.action = Some((
        "View the maintenance".to_owned(),
        format!("{}/maintenance/{}", site.url, n.id),
    ));
    m
}

fn alert_message(site: &Site, zone: &TimeZone, zone_name: &str, a: &AlertNotice) -> Message {
    let summary = one_line(&a.summary);
    let sev = a.severity.as_str();
    let subject = match a.state {
        AlertState::Firing => format!("FIRING {sev}: {summary}"),
        AlertState::Repeat => format!("STILL FIRING {sev}: {summary}"),
        AlertState::Acknowledged => format!("ACKNOWLEDGED: {summary}"),
        AlertState::Resolved => format!("RESOLVED: {summary}"),
    };
    let mut m = Message::new(site, &subject);
    m.accent = match (a.state, a.severity) {
        (AlertState::Resolved, _) => ACCENT_GOOD,
        (AlertState::Acknowledged, _) | (_, Severity::Info) => ACCENT_INFO,
        (_, Severity::Warning) => ACCENT_WARN,
        (_, Severity::Critical) => ACCENT_BAD,
    };
    m.heading = summary;
    m.intro.push(match a.state {
        AlertState::Firing => "This alert started firing.".to_owned(),
        AlertState::Repeat => "This alert is still firing.".to_owned(),
        AlertState::Acknowledged => "This alert was acknowledged by an operator.".to_owned(),
        AlertState::Resolved => "This alert has resolved.".to_owned(),
    });
    m.fact("State", humanize(a.state.as_str()));
    m.fact("Severity", sev);
    m.fact("Alert", one_line(&a.key));
    if let Some(c) = &a.component {
        m.fact("Component", one_line(c));
    }
    m.fact("Since", instant_long(a.since, zone, zone_name));
    if a.at != a.since {
        m.fact("At", instant_short(a.at, zone));
    }
    if !a.detail.trim().is_empty() {
        m.detail_title = "Detail".to_owned();
        m.detail = a.detail.clone();
    }
    m.action = Some(("Open the status page".to_owned(), site.url.to_owned()));
    m.footer.push(format!(
        "You receive this mail because this address is an alert channel of {} ({}).",
        one_line(site.name),
        site.url
    ));
    m
}

fn component_name(reader: &Reader, id: &str) -> String {
    one_line(reader.component_names.get(id).map_or(id, String::as_str))
}

/// `major_outage` → `Major outage`.
fn humanize(s: &str) -> String {
    let s = one_line(&s.replace('_', " "));
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

fn impact_label(impact: &str) -> String {
    match impact {
        "none" => "None".to_owned(),
        "minor" => "Minor".to_owned(),
        "major" => "Major".to_owned(),
        "critical" => "Critical".to_owned(),
        other => humanize(other),
    }
}

/// How long before the start a reminder is sent, for people: `1 hour`, `72 hours`,
/// `30 minutes`, else the compact duration (`1h30m`).
fn lead_phrase(n: &MaintenanceNotice) -> String {
    let secs = n.lead_seconds.unwrap_or_else(|| {
        let diff = n.starts_at.as_second() - n.at.as_second();
        // Round to the minute: a reminder is sent a little after its due time.
        u64::try_from((diff + 30) / 60 * 60).unwrap_or(0)
    });
    let plural = |k: u64, one: &str, many: &str| {
        if k == 1 {
            format!("1 {one}")
        } else {
            format!("{k} {many}")
        }
    };
    if secs > 0 && secs.is_multiple_of(3600) {
        plural(secs / 3600, "hour", "hours")
    } else if secs > 0 && secs.is_multiple_of(60) && secs < 3600 {
        plural(secs / 60, "minute", "minutes")
    } else {
        format_duration(std::time::Duration::from_secs(secs))
    }
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

fn strf(z: &Zoned, f: &str) -> String {
    jiff::fmt::strtime::format(f, z).unwrap_or_default()
}

/// `CET`, or `UTC+04:00` when the zone has no real abbreviation.
fn zone_abbr(z: &Zoned) -> String {
    let abbr = strf(z, "%Z");
    if abbr.is_empty() || abbr.starts_with(['+', '-']) {
        utc_offset(z)
    } else {
        abbr
    }
}

/// `UTC+02:00`.
fn utc_offset(z: &Zoned) -> String {
    format!("UTC{}", strf(z, "%:z"))
}

/// `CEST, UTC+02:00` (or only the offset when the zone has no abbreviation).
fn abbr_and_offset(z: &Zoned) -> String {
    let abbr = zone_abbr(z);
    let off = utc_offset(z);
    if abbr == off {
        off
    } else {
        format!("{abbr}, {off}")
    }
}

/// `Saturday 7 March 2026, 22:00`.
fn long_local(z: &Zoned) -> String {
    strf(z, "%A %-d %B %Y, %H:%M")
}

/// `Saturday 7 March 2026, 22:00 (Europe/Rome, CET)`.
fn instant_long(t: Timestamp, tz: &TimeZone, tz_name: &str) -> String {
    let z = t.to_zoned(tz.clone());
    format!(
        "{} ({})",
        long_local(&z),
        zone_suffix(tz_name, &zone_abbr(&z))
    )
}

/// `7 Mar 2026, 22:00 CET`.
fn instant_short(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    format!("{} {}", strf(&z, "%-d %b %Y, %H:%M"), zone_abbr(&z))
}

fn zone_suffix(tz_name: &str, abbr: &str) -> String {
    let name = one_line(tz_name);
    if name.is_empty() || name == abbr {
        abbr.to_owned()
    } else {
        format!("{name}, {abbr}")
    }
}

/// A window for people, in full:
/// `Saturday 7 March 2026, 22:00 – Sunday 8 March 2026, 02:00 (Europe/Rome, CET)`;
/// across a daylight-saving change each end shows its own abbreviation and offset:
/// `Sunday 25 October 2026, 01:00 CEST (UTC+02:00) – 04:00 CET (UTC+01:00), Europe/Rome`.
fn window_long(start: Timestamp, end: Timestamp, tz: &TimeZone, tz_name: &str) -> String {
    let s = start.to_zoned(tz.clone());
    let e = end.to_zoned(tz.clone());
    let end_part = if s.date() == e.date() {
        strf(&e, "%H:%M")
    } else {
        long_local(&e)
    };
    if s.offset() == e.offset() {
        format!(
            "{} – {} ({})",
            long_local(&s),
            end_part,
            zone_suffix(tz_name, &zone_abbr(&s))
        )
    } else {
        let name = one_line(tz_name);
        let mut out = format!(
            "{} ({}) – {} ({})",
            long_local(&s),
            abbr_and_offset(&s),
            end_part,
            abbr_and_offset(&e)
        );
        if !name.is_empty() {
            let _ = write!(out, ", {name}");
        }
        out
    }
}

/// A window for a subject: `Sat 7 Mar 22:00–02:00 CET`, `Sun 25 Oct 01:00 CEST–04:00 CET`,
/// `Sat 7 Mar 22:00 – Mon 9 Mar 06:00 CET`.
fn window_short(start: Timestamp, end: Timestamp, tz: &TimeZone) -> String {
    let s = start.to_zoned(tz.clone());
    let e = end.to_zoned(tz.clone());
    let within_a_day = s.date() == e.date()
        || (s.date().tomorrow().ok() == Some(e.date())
            && end.as_second() - start.as_second() < 86_400);
    let same_offset = s.offset() == e.offset();
    let start_txt = strf(&s, "%a %-d %b %H:%M");
    let start_txt = if same_offset {
        start_txt
    } else {
        format!("{start_txt} {}", zone_abbr(&s))
    };
    if within_a_day {
        format!("{start_txt}–{} {}", strf(&e, "%H:%M"), zone_abbr(&e))
    } else {
        format!(
            "{start_txt} – {} {}",
            strf(&e, "%a %-d %b %H:%M"),
            zone_abbr(&e)
        )
    }
}

/// A tenant's slot: `on Saturday 7 March 2026 between 23:00 and 23:15 CET (Europe/Rome)`, or
/// with both dates when it crosses midnight or a change of offset.
fn slot_phrase(from: Timestamp, to: Timestamp, tz: &TimeZone, tz_name: &str) -> String {
    let s = from.to_zoned(tz.clone());
    let e = to.to_zoned(tz.clone());
    let name = one_line(tz_name);
    let tail = if name.is_empty() {
        String::new()
    } else {
        format!(" ({name})")
    };
    if s.date() == e.date() && s.offset() == e.offset() {
        format!(
            "on {} between {} and {} {}{tail}",
            strf(&s, "%A %-d %B %Y"),
            strf(&s, "%H:%M"),
            strf(&e, "%H:%M"),
            zone_abbr(&e)
        )
    } else {
        format!(
            "between {} {} and {} {}{tail}",
            long_local(&s),
            zone_abbr(&s),
            long_local(&e),
            zone_abbr(&e)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

/// One line: every run of whitespace (CR, LF, tabs...) becomes one space, other control
/// characters are dropped, the ends are trimmed.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else if c.is_control() {
            continue;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// `s` cut to at most `max` characters; a cut one ends with `…`.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A subject: one line, at most [`SUBJECT_MAX_CHARS`] characters.
fn clean_subject(s: &str) -> String {
    truncate_chars(&one_line(s), SUBJECT_MAX_CHARS)
}

/// Greedy word wrap of one paragraph at `width` columns; continuation lines start with
/// `indent`. Words longer than the width (URLs) stay whole on their own line.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if col > 0 && col + 1 + len > width {
            out.push('\n');
            out.push_str(indent);
            col = indent.chars().count();
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
    }
    out
}

/// The text part tidied: no trailing spaces, at most one blank line in a row, one final newline.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        // The mail signature separator keeps its trailing space.
        let line = if line == "-- " { line } else { line.trim_end() };
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Webhook, Slack, PagerDuty
// ---------------------------------------------------------------------------------------------

fn notice_at(notice: &Notice) -> Timestamp {
    match notice {
        Notice::Incident(n) => n.at,
        Notice::Maintenance(n) => n.at,
        Notice::Alert(n) => n.at,
    }
}

/// The JSON body sent to webhook receivers (see the module documentation for its form).
pub fn webhook_body(site: &Site, delivery_id: &str, notice: &Notice) -> String {
    let body = json!({
        "id": delivery_id,
        "event": notice.event_name(),
        "created_at": notice_at(notice).to_string(),
        "page": { "name": site.name, "url": site.url },
        "data": serde_json::to_value(notice).unwrap_or(Value::Null),
    });
    body.to_string()
}

/// Escapes Slack's control characters in user text (`&`, `<`, `>`).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack link `<url|label>`; the label is escaped and may not hold `|`.
fn slack_link(url: &str, label: &str) -> String {
    format!(
        "<{}|{}>",
        slack_escape(url),
        slack_escape(&one_line(label)).replace('|', "¦")
    )
}

/// A Slack-compatible incoming-webhook body: `{"text": one-line fallback, "blocks": [...]}`,
/// times in `zone`.
pub fn slack_body(site: &Site, zone: &TimeZone, notice: &Notice) -> String {
    let site_name = one_line(site.name);
    let (fallback, link_url, title, lines, body) = match notice {
        Notice::Incident(n) => {
            let title = one_line(&n.title);
            let status = humanize(&n.status);
            let (icon, head) = match n.event {
                IncidentEvent::Opened => (":rotating_light:", "Incident"),
                IncidentEvent::Updated => (":rotating_light:", "Incident update"),
                IncidentEvent::Resolved => (":white_check_mark:", "Resolved"),
            };
            let mut lines = vec![
                format!("*Status:* {}", slack_escape(&status)),
                format!("*Impact:* {}", slack_escape(&impact_label(&n.impact))),
                format!("*Started:* {}", instant_short(n.started_at, zone)),
            ];
            if !n.components.is_empty() {
                let comps = n
                    .components
                    .iter()
                    .map(|c| format!("{} ({})", one_line(&c.name), humanize(&c.status)))
                    .collect::<Vec<_>>()
                    .join(", ");
                lines.push(format!("*Affected:* {}", slack_escape(&comps)));
            }
            (
                format!("[{site_name}] {head}: {title} — {status}"),
                format!("{}/incidents/{}", site.url, n.id),
                format!("{icon} {head}: "),
                lines,
                n.body.clone(),
            )
        }
        Notice::Maintenance(n) => {
            let title = one_line(&n.title);
            let noun = if n.kind == "emergency" {
                "Emergency maintenance"
            } else {
                "Maintenance"
            };
            let head = match n.event {
                MaintenanceEvent::Scheduled => format!("{noun} scheduled"),
                MaintenanceEvent::Rescheduled => format!("{noun} rescheduled"),
                MaintenanceEvent::Cancelled => format!("{noun} cancelled"),
                MaintenanceEvent::Reminder => {
                    format!("{noun} starts in {}", lead_phrase(n))
                }
                MaintenanceEvent::Started => format!("{noun} started"),
                MaintenanceEvent::Completed => format!("{noun} completed"),
            };
            let mut lines = vec![format!(
                "*When:* {}",
                window_short(n.starts_at, n.ends_at, zone)
            )];
            if let (MaintenanceEvent::Rescheduled, Some((ps, pe))) = (n.event, n.previous) {
                lines.push(format!("*Previously:* {}", window_short(ps, pe, zone)));
            }
            if n.kind == "emergency" && !n.reason.trim().is_empty() {
                lines.push(format!("*Reason:* {}", slack_escape(&one_line(&n.reason))));
            }
            if !n.components.is_empty() {
                lines.push(format!(
                    "*Affects:* {}",
                    slack_escape(&one_line(&n.components.join(", ")))
                ));
            }
            (
                format!("[{site_name}] {head}: {title}"),
                format!("{}/maintenance/{}", site.url, n.id),
                format!(":wrench: {head}: "),
                lines,
                n.description.clone(),
            )
        }
        Notice::Alert(a) => {
            let summary = one_line(&a.summary);
            let (icon, head) = match a.state {
                AlertState::Firing => (":red_circle:", format!("FIRING {}", a.severity.as_str())),
                AlertState::Repeat => (
                    ":red_circle:",
                    format!("STILL FIRING {}", a.severity.as_str()),
                ),
                AlertState::Acknowledged => (":eyes:", "ACKNOWLEDGED".to_owned()),
                AlertState::Resolved => (":large_green_circle:", "RESOLVED".to_owned()),
            };
            let mut lines = vec![
                format!(
                    "*Alert:* `{}`",
                    slack_escape(&one_line(&a.key)).replace('`', "'")
                ),
                format!("*Since:* {}", instant_short(a.since, zone)),
            ];
            if let Some(c) = &a.component {
                lines.push(format!("*Component:* {}", slack_escape(&one_line(c))));
            }
            (
                format!("[{site_name}] {head}: {summary}"),
                site.url.to_owned(),
                format!("{icon} {head}: "),
                lines,
                a.detail.clone(),
            )
        }
    };
    let link_label = match notice {
        Notice::Incident(n) => one_line(&n.title),
        Notice::Maintenance(n) => one_line(&n.title),
        Notice::Alert(a) => one_line(&a.summary),
    };
    let headline = format!("*{title}{}*", slack_link(&link_url, &link_label));
    let mut blocks = vec![json!({
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": truncate_chars(&format!("{headline}\n{}", lines.join("\n")), SLACK_SECTION_MAX),
        },
    })];
    let body = body.replace("\r\n", "\n");
    if !body.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate_chars(&slack_escape(body.trim()), SLACK_SECTION_MAX),
            },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": slack_link(site.url, &site_name),
        }],
    }));
    json!({
        "text": slack_escape(&truncate_chars(&fallback, 300)),
        "blocks": blocks,
    })
    .to_string()
}

/// The host of `url`, if it has one.
fn url_host(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

/// A PagerDuty Events API v2 body for `alert`: `trigger` for a firing or repeated alert (with
/// its payload), `acknowledge` and `resolve` (without: PagerDuty ignores it then).
pub fn pagerduty_body(site: &Site, routing_key: &str, alert: &AlertNotice) -> String {
    let action = match alert.state {
        AlertState::Firing | AlertState::Repeat => "trigger",
        AlertState::Acknowledged => "acknowledge",
        AlertState::Resolved => "resolve",
    };
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": pagerduty_dedup_key(&alert.key),
        "client": site.name,
        "client_url": site.url,
    });
    if action == "trigger" {
        let summary = one_line(&alert.summary);
        let summary = if summary.is_empty() {
            one_line(&alert.key)
        } else {
            summary
        };
        let mut payload = json!({
            "summary": truncate_chars(&summary, PD_SUMMARY_MAX),
            "source": url_host(site.url).unwrap_or_else(|| "upkeep".to_owned()),
            "severity": alert.severity.as_str(),
            "timestamp": alert.at.to_string(),
            "custom_details": {
                "detail": alert.detail,
                "since": alert.since.to_string(),
                "state": alert.state.as_str(),
                "key": alert.key,
            },
        });
        if let (Some(c), Some(obj)) = (&alert.component, payload.as_object_mut()) {
            obj.insert("component".to_owned(), Value::String(c.clone()));
        }
        if let Some(obj) = body.as_object_mut() {
            obj.insert("payload".to_owned(), payload);
        }
    }
    body.to_string()
}

/// PagerDuty's dedup key of an alert: `upkeep/` + key, at most 255 bytes. A longer one keeps a
/// prefix and ends with `#` and the hex SHA-256 of the key, so it stays unique and stable.
pub fn pagerduty_dedup_key(key: &str) -> String {
    let full = format!("upkeep/{key}");
    if full.len() <= PD_DEDUP_MAX {
        return full;
    }
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    let room = PD_DEDUP_MAX - hash.len() - 1;
    let mut cut = room;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}#{hash}", &full[..cut])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use upkeep_domain::notify::NoticeComponent;

    const SITE: Site<'static> = Site {
        name: "Acme Cloud",
        url: "https://status.acme.test",
    };

    /// The text part with its wrapping undone.
    fn flat(s: &str) -> String {
        one_line(s)
    }

    /// `s` as askama escapes it in HTML.
    fn escaped(s: &str) -> String {
        s.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    }

    /// Every tag of `html`, `<` to `>`.
    fn tags(html: &str) -> Vec<&str> {
        html.split('<')
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or(t))
            .collect()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn names() -> BTreeMap<String, String> {
        [
            ("api".to_owned(), "Public API".to_owned()),
            ("db".to_owned(), "Database".to_owned()),
        ]
        .into_iter()
        .collect()
    }

    fn reader<'a>(
        zone: &'a TimeZone,
        zone_name: &'a str,
        names: &'a BTreeMap<String, String>,
    ) -> Reader<'a> {
        Reader {
            zone,
            zone_name,
            tenant_name: None,
            tenant_id: None,
            slot: None,
            unsubscribe_url: None,
            component_names: names,
        }
    }

    fn maintenance(event: MaintenanceEvent, starts: &str, ends: &str) -> MaintenanceNotice {
        MaintenanceNotice {
            event,
            id: "m1".into(),
            title: "Monthly infrastructure maintenance".into(),
            kind: "planned".into(),
            description: "We upgrade the **database** cluster.".into(),
            reason: String::new(),
            starts_at: ts(starts),
            ends_at: ts(ends),
            previous: None,
            components: vec!["api".into(), "db".into()],
            tenants: None,
            lead_seconds: None,
            at: ts("2026-10-01T10:00:00Z"),
        }
    }

    fn incident(title: &str, body: &str) -> IncidentNotice {
        IncidentNotice {
            event: IncidentEvent::Opened,
            id: "inc-1".into(),
            title: title.into(),
            status: "investigating".into(),
            impact: "major".into(),
            components: vec![NoticeComponent {
                id: "api".into(),
                name: "Public API".into(),
                status: "major_outage".into(),
            }],
            body: body.into(),
            started_at: ts("2026-03-07T21:00:00Z"),
            at: ts("2026-03-07T21:05:00Z"),
        }
    }

    fn alert(state: AlertState) -> AlertNotice {
        AlertNotice {
            key: "monitor:api-health".into(),
            state,
            severity: Severity::Critical,
            component: Some("api".into()),
            summary: "monitor api-health down".into(),
            detail: "HTTP 503 from https://api.acme.test/health".into(),
            since: ts("2026-03-07T21:00:00Z"),
            at: ts("2026-03-07T21:01:00Z"),
        }
    }

    #[test]
    fn maintenance_across_the_autumn_change_shows_each_offset_and_tenant_slot() {
        // Europe/Rome goes from CEST (+02:00) to CET (+01:00) at 03:00 local on 25 Oct 2026.
        let rome = tz("Europe/Rome");
        let names = names();
        let mut r = reader(&rome, "Europe/Rome", &names);
        r.tenant_name = Some("Acme Corp");
        r.slot = Some((ts("2026-10-25T02:30:00Z"), ts("2026-10-25T02:45:00Z")));
        let n = maintenance(
            MaintenanceEvent::Scheduled,
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-25T03:00:00Z", // 04:00 CET
        );
        let mail = notice_email(&SITE, &r, &Notice::Maintenance(n));
        for part in [&flat(&mail.text), &mail.html] {
            assert!(part.contains("01:00 (CEST, UTC+02:00)"), "{part}");
            assert!(part.contains("04:00 (CET, UTC+01:00)"), "{part}");
            assert!(part.contains("Europe/Rome"), "{part}");
            assert!(part.contains("Public API, Database"), "{part}");
        }
        assert!(mail.subject.starts_with(
            "[Acme Cloud] Scheduled maintenance: Monthly infrastructure maintenance — "
        ));
        assert!(
            mail.subject.contains("Sun 25 Oct 01:00 CEST–04:00 CET"),
            "{}",
            mail.subject
        );
        // The slot: 02:30Z and 02:45Z are 03:30 and 03:45 CET.
        assert!(
            flat(&mail.text).contains(
                "Your service (Acme Corp) will be updated on Sunday 25 October 2026 between 03:30 and 03:45 CET (Europe/Rome)."
            ),
            "{}",
            mail.text
        );
        assert!(mail.html.contains(
            "Your service (Acme Corp) will be updated on Sunday 25 October 2026 between 03:30 and 03:45 CET (Europe/Rome)."
        ));
        assert!(mail.html.contains("<strong>database</strong>"));
        assert!(mail.text.contains("We upgrade the **database** cluster."));
        assert!(
            mail.text
                .contains("https://status.acme.test/maintenance/m1")
        );
    }

    #[test]
    fn same_offset_window_names_the_zone_once_and_new_york_reader_sees_new_york() {
        let names = names();
        let n = Notice::Maintenance(maintenance(
            MaintenanceEvent::Scheduled,
            "2026-03-07T21:00:00Z",
            "2026-03-08T01:00:00Z",
        ));
        let rome = tz("Europe/Rome");
        let mail = notice_email(&SITE, &reader(&rome, "Europe/Rome", &names), &n);
        assert!(
            flat(&mail.text).contains(
                "Saturday 7 March 2026, 22:00 – Sunday 8 March 2026, 02:00 (Europe/Rome, CET)"
            ),
            "{}",
            mail.text
        );
        assert!(mail.html.contains(
            "Saturday 7 March 2026, 22:00 – Sunday 8 March 2026, 02:00 (Europe/Rome, CET)"
        ));
        assert_eq!(
            mail.subject,
            "[Acme Cloud] Scheduled maintenance: Monthly infrastructure maintenance — Sat 7 Mar 22:00–02:00 CET"
        );

        // New York is still on EST on 7 March 2026 (DST starts 8 March at 02:00).
        let ny = tz("America/New_York");
        let mail = notice_email(&SITE, &reader(&ny, "America/New_York", &names), &n);
        assert!(
            mail.html
                .contains("Saturday 7 March 2026, 16:00 – 20:00 (America/New_York, EST)"),
            "{}",
            mail.html
        );
        assert!(mail.subject.ends_with("Sat 7 Mar 16:00–20:00 EST"));
    }

    #[test]
    fn reschedule_reminder_and_emergency() {
        let rome = tz("Europe/Rome");
        let names = names();
        let r = reader(&rome, "Europe/Rome", &names);
        let mut n = maintenance(
            MaintenanceEvent::Rescheduled,
            "2026-03-14T21:00:00Z",
            "2026-03-15T01:00:00Z",
        );
        n.previous = Some((ts("2026-03-07T21:00:00Z"), ts("2026-03-08T01:00:00Z")));
        let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
        assert!(
            mail.subject
                .starts_with("[Acme Cloud] Maintenance rescheduled:")
        );
        assert!(mail.html.contains("Saturday 7 March 2026, 22:00"));
        assert!(mail.html.contains("Saturday 14 March 2026, 22:00"));
        assert!(mail.text.contains("Previously: "));

        n.event = MaintenanceEvent::Reminder;
        n.lead_seconds = Some(3600);
        let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
        assert_eq!(
            mail.subject,
            "[Acme Cloud] Reminder: Monthly infrastructure maintenance starts in 1 hour"
        );
        n.lead_seconds = Some(72 * 3600);
        let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
        assert!(mail.subject.ends_with("starts in 72 hours"));
        assert!(mail.text.contains("This maintenance starts in 72 hours."));

        n.event = MaintenanceEvent::Scheduled;
        n.kind = "emergency".into();
        n.reason = "Critical security patch".into();
        let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
        assert!(
            mail.subject
                .starts_with("[Acme Cloud] Emergency maintenance:")
        );
        assert!(mail.text.contains("Reason: Critical security patch"));

        for (event, word) in [
            (MaintenanceEvent::Cancelled, "cancelled"),
            (MaintenanceEvent::Started, "started"),
            (MaintenanceEvent::Completed, "completed"),
        ] {
            n.event = event;
            n.kind = "planned".into();
            let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
            assert_eq!(
                mail.subject,
                format!("[Acme Cloud] Maintenance {word}: Monthly infrastructure maintenance")
            );
        }
    }

    #[test]
    fn incident_mail_says_status_impact_components_and_links() {
        let rome = tz("Europe/Rome");
        let names = names();
        let r = reader(&rome, "Europe/Rome", &names);
        let mut n = incident("API errors", "We see *elevated* error rates.");
        let mail = notice_email(&SITE, &r, &Notice::Incident(n.clone()));
        assert_eq!(
            mail.subject,
            "[Acme Cloud] Incident: API errors — Investigating"
        );
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("Investigating"));
            assert!(part.contains("Major"));
            assert!(part.contains("Public API: Major outage"));
            assert!(part.contains("https://status.acme.test/incidents/inc-1"));
            assert!(part.contains("Saturday 7 March 2026, 22:00 (Europe/Rome, CET)"));
        }
        assert!(mail.html.contains("<em>elevated</em>"));
        assert!(mail.text.contains("We see *elevated* error rates."));
        n.event = IncidentEvent::Resolved;
        let mail = notice_email(&SITE, &r, &Notice::Incident(n));
        assert_eq!(mail.subject, "[Acme Cloud] Resolved: API errors");
    }

    #[test]
    fn hostile_text_is_escaped_and_subject_is_one_line() {
        let rome = tz("Europe/Rome");
        let mut names = names();
        names.insert("api".into(), "<script>alert(2)</script>".into());
        let r = reader(&rome, "Europe/Rome", &names);
        let title =
            "Boom\r\nBcc: evil@x.test \"><img src=x onerror=alert(1)> <script>alert(1)</script>";
        let body = "<script>alert(3)</script>\n\n\"><img src=x onerror=alert(4)>\n\n[x](javascript:alert(5))";
        let mut inc = incident(title, body);
        inc.components[0].name = "\"><img src=x onerror=alert(6)>".into();
        let mut m = maintenance(
            MaintenanceEvent::Scheduled,
            "2026-03-07T21:00:00Z",
            "2026-03-08T01:00:00Z",
        );
        m.title = title.into();
        m.description = body.into();
        for notice in [Notice::Incident(inc), Notice::Maintenance(m)] {
            let mail = notice_email(&SITE, &r, &notice);
            let lower = mail.html.to_lowercase();
            assert!(!lower.contains("<script"), "{}", mail.html);
            assert!(!lower.contains("<img"), "{}", mail.html);
            assert!(!lower.contains("javascript:"), "{}", mail.html);
            // `onerror` may appear only as escaped text, never inside a tag.
            for tag in tags(&lower) {
                assert!(!tag.contains("onerror"), "{tag}");
                assert!(!tag.contains("script"), "{tag}");
            }
            // The body's hostile HTML is gone altogether (sanitised, not escaped).
            assert!(!lower.contains("alert(3)") && !lower.contains("alert(4)"));
            // The title appears, escaped.
            let shown = escaped(&one_line(title));
            assert!(mail.html.contains(&shown), "{shown}\n{}", mail.html);
            assert!(!mail.subject.contains('\r') && !mail.subject.contains('\n'));
            assert!(mail.subject.contains("Boom Bcc: evil@x.test"));
            assert!(!mail.text.contains("Boom\r"));
        }
    }

    #[test]
    fn long_subject_is_cut_on_a_char_boundary() {
        let rome = tz("Europe/Rome");
        let names = names();
        let r = reader(&rome, "Europe/Rome", &names);
        let n = incident(&"é".repeat(400), "");
        let mail = notice_email(&SITE, &r, &Notice::Incident(n));
        assert_eq!(mail.subject.chars().count(), SUBJECT_MAX_CHARS);
        assert!(mail.subject.ends_with('…'));
    }

    #[test]
    fn unsubscribe_link_in_both_parts_only_when_given() {
        let rome = tz("Europe/Rome");
        let names = names();
        let mut r = reader(&rome, "Europe/Rome", &names);
        let n = Notice::Incident(incident("API errors", ""));
        let mail = notice_email(&SITE, &r, &n);
        assert!(!mail.text.to_lowercase().contains("unsubscribe"));
        assert!(!mail.html.to_lowercase().contains("unsubscribe"));
        assert!(mail.text.contains("you subscribed"));
        let url = "https://status.acme.test/unsubscribe?t=abc&x=1";
        r.unsubscribe_url = Some(url);
        let mail = notice_email(&SITE, &r, &n);
        assert!(mail.text.contains(url));
        assert!(
            mail.html
                .contains("https://status.acme.test/unsubscribe?t=abc&#38;x=1")
                || mail
                    .html
                    .contains("https://status.acme.test/unsubscribe?t=abc&amp;x=1"),
            "{}",
            mail.html
        );
    }

    #[test]
    fn confirmation_mail_links_expiry_scope_and_ignore_line() {
        let rome = tz("Europe/Rome");
        let names = names();
        let r = reader(&rome, "Europe/Rome", &names);
        let scope = Scope {
            components: vec!["api".into(), "db".into()],
            tenant: None,
        };
        let mail = confirmation_email(
            &SITE,
            &r,
            "https://status.acme.test/subscribe/confirm?t=tok",
            ts("2026-03-08T21:00:00Z"),
            &scope,
        );
        assert_eq!(mail.subject, "[Acme Cloud] Confirm your subscription");
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("https://status.acme.test/subscribe/confirm?t=tok"));
            assert!(part.contains("Sunday 8 March 2026, 22:00 (Europe/Rome, CET)"));
            assert!(part.contains("Public API, Database"));
            assert!(part.contains("If you did not ask for this, ignore this mail"));
        }
        let mail = confirmation_email(
            &SITE,
            &r,
            "https://x.test/c",
            ts("2026-03-08T21:00:00Z"),
            &Scope::default(),
        );
        assert!(
            mail.text
                .contains("every incident and maintenance of Acme Cloud")
        );
        let mut tenant_reader = r;
        tenant_reader.tenant_name = Some("Acme Corp");
        let mail = confirmation_email(
            &SITE,
            &tenant_reader,
            "https://x.test/c",
            ts("2026-03-08T21:00:00Z"),
            &Scope {
                components: vec![],
                tenant: Some("acme".into()),
            },
        );
        assert!(flat(&mail.text).contains("maintenance that concerns Acme Corp"));
        assert!(mail.html.contains("maintenance that concerns Acme Corp"));
    }

    #[test]
    fn alert_mail_subjects() {
        let rome = tz("Europe/Rome");
        let mail = alert_email(&SITE, &rome, "Europe/Rome", &alert(AlertState::Firing));
        assert_eq!(
            mail.subject,
            "[Acme Cloud] FIRING critical: monitor api-health down"
        );
        assert!(
            mail.text
                .contains("HTTP 503 from https://api.acme.test/health")
        );
        assert!(!mail.text.to_lowercase().contains("unsubscribe"));
        let mail = alert_email(&SITE, &rome, "Europe/Rome", &alert(AlertState::Resolved));
        assert_eq!(
            mail.subject,
            "[Acme Cloud] RESOLVED: monitor api-health down"
        );
    }

    #[test]
    fn webhook_body_is_stable_json() {
        let n = Notice::Incident(incident("API errors", "body"));
        let v: Value = serde_json::from_str(&webhook_body(&SITE, "d-42", &n)).unwrap();
        assert_eq!(v["id"], "d-42");
        assert_eq!(v["event"], "incident.opened");
        assert_eq!(v["created_at"], "2026-03-07T21:05:00Z");
        assert_eq!(v["page"]["name"], "Acme Cloud");
        assert_eq!(v["page"]["url"], "https://status.acme.test");
        assert_eq!(v["data"]["type"], "incident");
        assert_eq!(v["data"]["title"], "API errors");
        let back: Notice = serde_json::from_value(v["data"].clone()).unwrap();
        assert_eq!(back, n);
    }

    #[test]
    fn slack_body_escapes_control_characters_and_links() {
        let n = Notice::Incident(incident("Errors <b> & <!channel>", "Body <@U123> & more"));
        let raw = slack_body(&SITE, &tz("Europe/Rome"), &n);
        let v: Value = serde_json::from_str(&raw).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains("Errors &lt;b&gt; &amp; &lt;!channel&gt;"),
            "{text}"
        );
        let blocks = v["blocks"].as_array().unwrap();
        let all: String = blocks
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!all.contains("<!channel>"));
        assert!(!all.contains("<@U123>"));
        assert!(all.contains("&lt;@U123&gt; &amp; more"));
        assert!(all.contains("<https://status.acme.test/incidents/inc-1|"));
    }

    #[test]
    fn pagerduty_trigger_and_resolve() {
        let v: Value =
            serde_json::from_str(&pagerduty_body(&SITE, "rk", &alert(AlertState::Firing))).unwrap();
        assert_eq!(v["routing_key"], "rk");
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["dedup_key"], "upkeep/monitor:api-health");
        assert_eq!(v["payload"]["severity"], "critical");
        assert_eq!(v["payload"]["source"], "status.acme.test");
        assert_eq!(v["payload"]["component"], "api");
        assert_eq!(v["payload"]["timestamp"], "2026-03-07T21:01:00Z");
        assert_eq!(v["payload"]["custom_details"]["state"], "firing");
        assert_eq!(v["client"], "Acme Cloud");
        assert_eq!(v["client_url"], "https://status.acme.test");

        let v: Value =
            serde_json::from_str(&pagerduty_body(&SITE, "rk", &alert(AlertState::Repeat))).unwrap();
        assert_eq!(v["event_action"], "trigger");

        let v: Value = serde_json::from_str(&pagerduty_body(
            &SITE,
            "rk",
            &alert(AlertState::Acknowledged),
        ))
        .unwrap();
        assert_eq!(v["event_action"], "acknowledge");
        assert!(v.get("payload").is_none());

        let v: Value =
            serde_json::from_str(&pagerduty_body(&SITE, "rk", &alert(AlertState::Resolved)))
                .unwrap();
        assert_eq!(v["event_action"], "resolve");
        assert_eq!(v["dedup_key"], "upkeep/monitor:api-health");
        assert!(v.get("payload").is_none());

        let mut long = alert(AlertState::Firing);
        long.summary = "ü".repeat(2000);
        let v: Value = serde_json::from_str(&pagerduty_body(&SITE, "rk", &long)).unwrap();
        assert_eq!(
            v["payload"]["summary"].as_str().unwrap().chars().count(),
            1024
        );
    }

    #[test]
    fn long_dedup_keys_are_cut_stable_and_unique() {
        let key = format!("rule:{}", "x".repeat(400));
        let a = pagerduty_dedup_key(&key);
        assert!(a.len() <= 255, "{}", a.len());
        assert!(a.starts_with("upkeep/rule:xxx"));
        assert_eq!(a, pagerduty_dedup_key(&key));
        let other = format!("rule:{}y", "x".repeat(399));
        assert_ne!(a, pagerduty_dedup_key(&other));
        let wide = "ü".repeat(300);
        assert!(pagerduty_dedup_key(&wide).len() <= 255);
        assert_eq!(pagerduty_dedup_key("short"), "upkeep/short");
    }
}
