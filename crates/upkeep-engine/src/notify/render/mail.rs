//! Mails: what a notice says to one reader, laid out as plain text and as HTML.

use super::*;

pub(super) const ACCENT_INFO: &str = "#0969da";

pub(super) const ACCENT_GOOD: &str = "#1a7f37";

pub(super) const ACCENT_WARN: &str = "#bf8700";

pub(super) const ACCENT_BAD: &str = "#cf222e";

/// What a mail says, before it is laid out as text and as HTML.
#[derive(Debug, Default)]
pub(super) struct Message {
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
pub(super) struct HtmlMail<'a> {
    m: &'a Message,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
pub(super) struct TextMail<'a> {
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

/// A customer notice (incident or maintenance) as a mail to one subscriber. An operator alert
/// is rendered as by [`alert_email`] in the reader's zone.
pub fn notice_email(site: &Site, reader: &Reader, notice: &Notice) -> Email {
    let mut m = match notice {
        Notice::Incident(n) => incident_message(site, reader, n),
        Notice::Maintenance(n) => maintenance_message(site, reader, n),
        Notice::Rollout(n) => rollout_message(site, reader, n),
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

pub(super) fn scope_description(site: &Site, reader: &Reader, scope: &Scope) -> String {
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

pub(super) fn subscriber_footer(site: &Site, reader: &Reader) -> String {
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

pub(super) fn incident_message(site: &Site, reader: &Reader, n: &IncidentNotice) -> Message {
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

pub(super) fn maintenance_message(site: &Site, reader: &Reader, n: &MaintenanceNotice) -> Message {
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

/// The tenant's name as a notice of its update gives it (its id before fan-out fills it in).
pub(super) fn update_tenant_name(n: &RolloutNotice) -> String {
    let name = one_line(&n.tenant_name);
    if name.is_empty() {
        one_line(&n.tenant)
    } else {
        name
    }
}

/// A tenant's own update, to that tenant's subscriber: what happened, when and the slot, in
/// the reader's zone (the tenant's). Nothing of how the update is done.
pub(super) fn rollout_message(site: &Site, reader: &Reader, n: &RolloutNotice) -> Message {
    let title = one_line(&n.title);
    let tenant = update_tenant_name(n);
    let zone = reader.zone;
    let subject = match n.event {
        RolloutEvent::Started => format!("{tenant}: your update of {title} started"),
        RolloutEvent::Completed => format!("{tenant}: your update of {title} completed"),
        RolloutEvent::RolledBack => format!("{tenant}: your update of {title} was rolled back"),
    };
    let mut m = Message::new(site, &subject);
    m.accent = match n.event {
        RolloutEvent::Started => ACCENT_INFO,
        RolloutEvent::Completed => ACCENT_GOOD,
        RolloutEvent::RolledBack => ACCENT_WARN,
    };
    m.heading = title;
    let at = instant_long(n.at, zone, reader.zone_name);
    m.intro.push(match n.event {
        RolloutEvent::Started => {
            format!("The update of your service ({tenant}) started on {at}.")
        }
        RolloutEvent::Completed => {
            format!("The update of your service ({tenant}) completed on {at}.")
        }
        RolloutEvent::RolledBack => format!(
            "The update of your service ({tenant}) did not pass our checks and was rolled \
             back on {at}: your service runs as it did before the update."
        ),
    });
    m.fact(
        "Your slot",
        slot_phrase(n.slot.start, n.slot.end, zone, reader.zone_name),
    );
    m.action = Some((
        "View the maintenance".to_owned(),
        format!("{}/maintenance/{}", site.url, n.id),
    ));
    m
}

pub(super) fn alert_message(
    site: &Site,
    zone: &TimeZone,
    zone_name: &str,
    a: &AlertNotice,
) -> Message {
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

pub(super) fn component_name(reader: &Reader, id: &str) -> String {
    one_line(reader.component_names.get(id).map_or(id, String::as_str))
}

/// `major_outage` → `Major outage`.
pub(super) fn humanize(s: &str) -> String {
    let s = one_line(&s.replace('_', " "));
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

pub(super) fn impact_label(impact: &str) -> String {
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
pub(super) fn lead_phrase(n: &MaintenanceNotice) -> String {
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
