//! The operator alert as the chat, pager and push providers are told it
//! ([`upkeep_domain::notify::providers::Message`]): the same headline and facts as the Slack
//! body, with times in the page's zone.

use upkeep_domain::notify::providers::Message;

use super::*;

/// The provider message of `alert`, for the delivery `delivery_id`.
pub fn alert_message(
    site: &Site,
    zone: &TimeZone,
    delivery_id: &str,
    alert: &AlertNotice,
) -> Message {
    let summary = one_line(&alert.summary);
    let summary = if summary.is_empty() {
        one_line(&alert.key)
    } else {
        summary
    };
    let head = match alert.state {
        AlertState::Firing => format!("FIRING {}", alert.severity.as_str()),
        AlertState::Repeat => format!("STILL FIRING {}", alert.severity.as_str()),
        AlertState::Acknowledged => "ACKNOWLEDGED".to_owned(),
        AlertState::Resolved => "RESOLVED".to_owned(),
    };
    let mut fields = vec![
        ("Alert".to_owned(), one_line(&alert.key)),
        ("Since".to_owned(), instant_short(alert.since, zone)),
    ];
    if let Some(c) = &alert.component {
        fields.push(("Component".to_owned(), one_line(c)));
    }
    Message {
        delivery_id: delivery_id.to_owned(),
        key: alert.key.clone(),
        state: alert.state,
        severity: alert.severity,
        title: format!("[{}] {head}: {summary}", one_line(site.name)),
        summary,
        fields,
        component: alert.component.clone(),
        detail: alert.detail.replace("\r\n", "\n"),
        site_name: one_line(site.name),
        site_url: site.url.to_owned(),
        since: alert.since,
        at: alert.at,
    }
}
