//! The Slack incoming-webhook body.

use super::*;

/// Longest text of one Slack section block (Slack refuses more than 3000).
pub(super) const SLACK_SECTION_MAX: usize = 2900;

/// Escapes Slack's control characters in user text (`&`, `<`, `>`).
pub(super) fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack link `<url|label>`; the label is escaped and may not hold `|`.
pub(super) fn slack_link(url: &str, label: &str) -> String {
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
        Notice::Rollout(n) => {
            let title = one_line(&n.title);
            let tenant = update_tenant_name(n);
            let (icon, head) = match n.event {
                RolloutEvent::Started => (":wrench:", format!("{tenant}: update started")),
                RolloutEvent::Completed => {
                    (":white_check_mark:", format!("{tenant}: update completed"))
                }
                RolloutEvent::RolledBack => (
                    ":leftwards_arrow_with_hook:",
                    format!("{tenant}: update rolled back"),
                ),
            };
            let lines = vec![
                format!("*At:* {}", instant_short(n.at, zone)),
                format!("*Slot:* {}", window_short(n.slot.start, n.slot.end, zone)),
            ];
            (
                format!("[{site_name}] {head}: {title}"),
                format!("{}/maintenance/{}", site.url, n.id),
                format!("{icon} {}: ", slack_escape(&head)),
                lines,
                String::new(),
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
        Notice::Rollout(n) => one_line(&n.title),
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
pub(super) fn url_host(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}
