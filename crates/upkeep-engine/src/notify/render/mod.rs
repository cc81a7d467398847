//! Rendering notices for each channel: a mail (subject, plain text and HTML) for one reader,
//! a webhook body, a Slack incoming-webhook body, a PagerDuty Events API v2 body, and the
//! message the other providers' requests are made of ([`alert_message`]; each provider's
//! request shape is [`upkeep_domain::notify::providers::request`]).
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
//!   "event": "incident.opened | incident.updated | incident.resolved | maintenance.scheduled | maintenance.rescheduled | maintenance.cancelled | maintenance.reminder | maintenance.started | maintenance.completed | rollout.started | rollout.completed | rollout.rolled_back | alert.firing | alert.repeat | alert.acknowledged | alert.resolved",
//!   "created_at": "RFC 3339 instant of the change (the notice's `at`)",
//!   "page": { "name": "Acme Cloud", "url": "https://status.example.com" },
//!   "data": { "type": "incident | maintenance | rollout | alert", "...": "the notice's fields" }
//! }
//! ```
//!
//! `data` is the serde form of [`Notice`] (tagged by `type`, snake_case); timestamps in it are
//! RFC 3339 strings. A tenant's update (`rollout.*`) also carries `local`: its zone's IANA name
//! and its instants in that zone ([`local_times`]).
//!
//! # A tenant's update
//!
//! A tenant's own update (`rollout.started | completed | rolled_back`) says which maintenance,
//! which tenant, what happened, when and the tenant's slot, in the tenant's zone; never how
//! (no command, URL, gate evidence or host).
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
    AlertNotice, AlertState, IncidentEvent, IncidentNotice, LocalTimes, MaintenanceEvent,
    MaintenanceNotice, Notice, RolloutEvent, RolloutNotice,
};

mod mail;
mod message;
mod pagerduty;
mod slack;
#[cfg(test)]
mod tests;
mod text;
mod times;
mod webhook;

pub use mail::{alert_email, confirmation_email, notice_email};
pub use message::alert_message;
pub use pagerduty::{pagerduty_body, pagerduty_dedup_key};
pub use slack::slack_body;
pub use times::local_times;
pub use webhook::webhook_body;

use mail::*;
use slack::*;
use text::*;
use times::*;

/// Longest subject, in characters (the cut one ends with `…`).
pub const SUBJECT_MAX_CHARS: usize = 200;

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
