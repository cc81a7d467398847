//! Status-page subscribers as operators see them: registering a webhook receiver
//! ([`create_webhook`], the API's `POST /api/v1/subscribers`), removing a subscriber
//! ([`delete`], `DELETE /api/v1/subscribers/{id}`), and a search by address paged by key
//! ([`search`], the console's subscribers page). The store audits each change
//! (`subscriber.create`, `subscriber.delete`) in the transaction that makes it, with the
//! address redacted.
//!
//! An e-mail address is personal data and a webhook URL's path may be its credential: only an
//! admin reads them whole; anyone else reads them as [`shown_address`] writes them (the form
//! the audit log keeps), and searches only in that form, so a search never tells more than
//! the list shows.

use std::collections::BTreeSet;

use jiff::Timestamp;
use upkeep_domain::config::Config;
use upkeep_domain::notify::routing::Scope;
use upkeep_domain::role::Role;
use upkeep_store::outbox::redact_destination;
use upkeep_store::subscribers::SubscriberRecord;
use upkeep_store::{Store, StoreError, ids};

use super::Caller;

/// Longest webhook URL accepted.
pub const URL_MAX_LEN: usize = 2048;
/// Longest webhook signing secret accepted.
pub const SECRET_MAX_LEN: usize = 512;
/// Longest search text kept.
pub const QUERY_MAX_CHARS: usize = 200;
/// Rows read at once when a search must look at what a non-admin is shown.
const SCAN_BATCH: u32 = 500;

/// Why a subscriber was not made or removed.
#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    /// The request is not acceptable; the text says why, naming the field.
    #[error("{0}")]
    Invalid(String),
    /// No such subscriber.
    #[error("there is no subscriber `{0}`")]
    NotFound(String),
    /// The store failed, or refused (a webhook for this URL exists: [`StoreError::Conflict`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A webhook receiver to register.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    /// Where updates are POSTed: an `http` or `https` URL with a host and no credentials.
    pub url: String,
    /// The signing secret of the `Upkeep-Signature` header; `None` for unsigned deliveries.
    pub secret: Option<String>,
    /// Component ids; empty = every component.
    pub components: Vec<String>,
    /// A tenant id: maintenance notices only when a maintenance covers it.
    pub tenant: Option<String>,
}

/// One page of a search: the subscribers, and the key after which the next page starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub subscribers: Vec<SubscriberRecord>,
    pub next: Option<(Timestamp, String)>,
}

/// The scope asked for, checked against the configuration: every component and the tenant must
/// exist (a tenant's own component only for a subscription limited to that tenant). Duplicates
/// are dropped.
pub fn checked_scope(
    config: &Config,
    components: &[String],
    tenant: Option<&str>,
) -> Result<Scope, String> {
    let tenant_asked = tenant.map(str::trim).filter(|t| !t.is_empty());
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for c in components {
        // A tenant's own component exists only for a subscription limited to that tenant.
        let known = config
            .components
            .get(c)
            .is_some_and(|x| x.tenant.is_none() || x.tenant.as_deref() == tenant_asked);
        if !known {
            unknown.push(c.chars().take(100).collect::<String>());
        } else if seen.insert(c.as_str()) {
            out.push(c.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown component{}: {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", ")
        ));
    }
    let tenant = match tenant_asked {
        None => None,
        Some(t) if config.tenants.contains_key(t) => Some(t.to_owned()),
        Some(t) => {
            return Err(format!(
                "unknown tenant: {}",
                t.chars().take(100).collect::<String>()
            ));
        }
    };
    Ok(Scope {
        components: out,
        tenant,
    })
}

fn checked_url(raw: &str) -> Result<String, SubscriberError> {
    let invalid = SubscriberError::Invalid;
    let raw = raw.trim();
    if raw.len() > URL_MAX_LEN {
        return Err(invalid(format!(
            "`url` is longer than {URL_MAX_LEN} characters"
        )));
    }
    let url = url::Url::parse(raw).map_err(|e| invalid(format!("`url` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            "`url` must be an http or https URL with a host, e.g. https://hooks.example.com/upkeep"
                .into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "`url` must not carry credentials; use `secret` to sign deliveries instead".into(),
        ));
    }
    Ok(url.to_string())
}

/// Registers a webhook receiver, confirmed at once. A webhook for the same URL is refused
/// with [`StoreError::Conflict`].
pub async fn create_webhook(
    store: &Store,
    config: &Config,
    caller: &Caller,
    new: NewWebhook,
    now: Timestamp,
) -> Result<SubscriberRecord, SubscriberError> {
    let url = checked_url(&new.url)?;
    let secret = match new.secret.as_deref() {
        None => None,
        Some("") => {
            return Err(SubscriberError::Invalid(
                "`secret` is empty; omit it for unsigned deliveries".into(),
            ));
        }
        Some(s) if s.len() > SECRET_MAX_LEN => {
            return Err(SubscriberError::Invalid(format!(
                "`secret` is longer than {SECRET_MAX_LEN} bytes"
            )));
        }
        Some(s) => Some(s),
    };
    let scope = checked_scope(config, &new.components, new.tenant.as_deref())
        .map_err(|why| SubscriberError::Invalid(format!("the subscriber cannot be made: {why}")))?;
    Ok(store
        .create_webhook_subscriber(&url, secret, &scope, &caller.actor, now)
        .await?)
}

/// Removes subscriber `id` and its deliveries not sent yet; returns it as it was.
pub async fn delete(
    store: &Store,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> Result<SubscriberRecord, SubscriberError> {
    let missing = || SubscriberError::NotFound(id.chars().take(100).collect());
    if !ids::is_id(id) {
        return Err(missing());
    }
    store
        .delete_subscriber(id, &caller.actor, now)
        .await?
        .ok_or_else(missing)
}

/// `address` as a reader of role `reader` may see it: whole for an admin, otherwise redacted
/// as the audit log keeps it (`g…@example.com`, `https://hooks.example.com/…`).
pub fn shown_address(address: &str, reader: Role) -> String {
    if reader == Role::Admin {
        address.to_owned()
    } else {
        redact_destination(address)
    }
}

/// `record` as `reader` may see it: the address per [`shown_address`], never the secret.
fn shown(mut record: SubscriberRecord, reader: Role) -> SubscriberRecord {
    record.address = shown_address(&record.address, reader);
    record.secret = None;
    record
}

/// At most `limit` subscribers whose address, as `reader` sees it, contains `query` (ASCII
/// letters in any case, as the store folds them; empty: every one), oldest first, after the key `after` of the previous page's last row.
pub async fn search(
    store: &Store,
    reader: Role,
    query: &str,
    after: Option<(Timestamp, String)>,
    limit: u32,
) -> Result<Page, StoreError> {
    let needle: String = query.trim().chars().take(QUERY_MAX_CHARS).collect();
    let limit = limit.max(1);
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    if reader == Role::Admin || needle.is_empty() {
        let key = after.as_ref().map(|(t, id)| (*t, id.as_str()));
        found = store
            .search_subscribers(&needle, key, limit.saturating_add(1))
            .await?;
    } else {
        // The needle is matched against what the reader sees, never the whole address,
        // folded as the store folds it (ASCII letters only).
        let needle = needle.to_ascii_lowercase();
        let mut cursor = after.clone();
        'scan: loop {
            let key = cursor.as_ref().map(|(t, id)| (*t, id.as_str()));
            let batch = store.search_subscribers("", key, SCAN_BATCH).await?;
            let exhausted = batch.len() < SCAN_BATCH as usize;
            for r in batch {
                cursor = Some((r.created_at, r.id.clone()));
                if shown_address(&r.address, reader)
                    .to_ascii_lowercase()
                    .contains(&needle)
                {
                    found.push(r);
                    if found.len() > wanted {
                        break 'scan;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
    }
    let next = if found.len() > wanted {
        found.truncate(wanted);
        found.last().map(|r| (r.created_at, r.id.clone()))
    } else {
        None
    };
    Ok(Page {
        subscribers: found.into_iter().map(|r| shown(r, reader)).collect(),
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_and_no_credentials_are_accepted() {
        assert_eq!(
            checked_url(" https://hooks.example.com/x ").ok().as_deref(),
            Some("https://hooks.example.com/x")
        );
        for bad in [
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "not a url",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(checked_url(bad), Err(SubscriberError::Invalid(_))),
                "{bad}"
            );
        }
        let long = format!("https://h.example/{}", "a".repeat(URL_MAX_LEN));
        assert!(checked_url(&long).is_err());
    }

    #[test]
    fn addresses_are_whole_for_admins_only() {
        let a = "grace@example.com";
        assert_eq!(shown_address(a, Role::Admin), a);
        assert_eq!(shown_address(a, Role::Editor), "g…@example.com");
        assert_eq!(
            shown_address("https://hooks.example.com/t0ken", Role::Viewer),
            "https://hooks.example.com/…"
        );
    }
}
