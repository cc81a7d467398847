//! Reading the audit log ([`list`]): the API's `GET /api/v1/audit` and the console's audit
//! page. Newest first, in keyset pages by id, narrowed by an [`AuditFilter`].
//!
//! Subscribers' addresses and delivery destinations are written into audit rows redacted
//! (`upkeep_store::outbox::redact_destination`); for readers below `admin` they are redacted
//! again when read ([`redact`]), so rows written before that redaction show nothing more.

use upkeep_domain::role::Role;
use upkeep_store::audit::{AuditFilter, AuditRecord};
use upkeep_store::outbox::{redact_destination, redact_error};
use upkeep_store::{Store, StoreError};

/// Most rows read at once.
pub const LIMIT_MAX: u32 = 500;

/// Why the log was not read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The page size is outside 1 to [`LIMIT_MAX`].
    #[error("`limit` must be between 1 and {LIMIT_MAX}")]
    Limit,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// At most `limit` rows (1 to [`LIMIT_MAX`]) matching `filter`, newest first, older than the
/// row `before` when given, as a reader of role `reader` may see them.
pub async fn list(
    store: &Store,
    reader: Role,
    filter: &AuditFilter,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<AuditRecord>, AuditError> {
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(AuditError::Limit);
    }
    let mut rows = store.list_audit_filtered(filter, limit, before).await?;
    if reader != Role::Admin {
        rows.iter_mut().for_each(redact);
    }
    Ok(rows)
}

/// Redacts the addresses a subscriber's or a delivery's row may hold (and a delivery's error
/// quoting its destination).
pub fn redact(row: &mut AuditRecord) {
    let key = if row.target.starts_with("subscriber/") {
        "address"
    } else if row.target.starts_with("delivery/") {
        "destination"
    } else {
        return;
    };
    for value in [&mut row.before, &mut row.after].into_iter().flatten() {
        let Some(serde_json::Value::String(text)) = value.get_mut(key) else {
            continue;
        };
        let full = text.clone();
        let shown = redact_destination(&full);
        text.clone_from(&shown);
        if let Some(serde_json::Value::String(error)) = value.get_mut("last_error") {
            *error = redact_error(error, &full, &shown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &str, after: serde_json::Value) -> AuditRecord {
        AuditRecord {
            id: 1,
            at: jiff::Timestamp::UNIX_EPOCH,
            actor: "system".into(),
            action: "x.y".into(),
            target: target.into(),
            before: None,
            after: Some(after),
        }
    }

    #[test]
    fn addresses_of_subscribers_and_deliveries_are_redacted_and_nothing_else() {
        let mut s = row(
            "subscriber/1",
            serde_json::json!({ "address": "grace@example.com" }),
        );
        redact(&mut s);
        assert_eq!(
            s.after,
            Some(serde_json::json!({ "address": "g…@example.com" }))
        );
        let mut d = row(
            "delivery/1",
            serde_json::json!({
                "destination": "https://hooks.example/s3cret",
                "last_error": "POST https://hooks.example/s3cret: 500"
            }),
        );
        redact(&mut d);
        assert_eq!(
            d.after,
            Some(serde_json::json!({
                "destination": "https://hooks.example/…",
                "last_error": "POST https://hooks.example/…: 500"
            }))
        );
        let untouched = serde_json::json!({ "address": "grace@example.com" });
        let mut t = row("token/1", untouched.clone());
        redact(&mut t);
        assert_eq!(t.after, Some(untouched));
    }
}
