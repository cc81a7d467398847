//! The PagerDuty Events API v2 body and its dedup key.

use super::*;

/// Longest PagerDuty dedup key, in bytes (PagerDuty's limit is 255 characters).
pub(super) const PD_DEDUP_MAX: usize = 255;

/// Longest PagerDuty summary, in characters.
pub(super) const PD_SUMMARY_MAX: usize = 1024;

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
