//! The webhook body (its stable shape is in the parent module's documentation).

use super::*;

pub(super) fn notice_at(notice: &Notice) -> Timestamp {
    match notice {
        Notice::Incident(n) => n.at,
        Notice::Maintenance(n) => n.at,
        Notice::Rollout(n) => n.at,
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
