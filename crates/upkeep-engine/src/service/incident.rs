//! Incident use cases by hand: opening an incident, posting an update, resolving it, editing
//! its title, impact and postmortem, and deleting it (the audit log keeps a copy). The
//! rules are the domain's ([`upkeep_domain::incident`]); each change is written with its audit
//! row by the store. Components are checked against the configuration's when one is given (the
//! command line run without `--config` checks only duplicates).

use std::collections::BTreeSet;

use jiff::Timestamp;
use upkeep_domain::config::Config;
use upkeep_domain::incident::{
    self, IncidentError, IncidentStatus, validate_body, validate_new, validate_title,
    validate_update,
};
use upkeep_store::incidents::{IncidentChange, IncidentEdit, IncidentRecord, NewIncident};
use upkeep_store::{Store, StoreError};

use super::Caller;

/// Why an incident use case refused.
#[derive(Debug, thiserror::Error)]
pub enum IncidentServiceError {
    /// The request breaks a rule of the domain.
    #[error(transparent)]
    Invalid(#[from] IncidentError),
    /// There is no incident with this id.
    #[error("there is no incident `{0}`")]
    NotFound(String),
    /// The store failed (or another change kept winning: [`StoreError::Conflict`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ids of the configuration's components, when there is a configuration.
fn known_components(config: Option<&Config>) -> Option<BTreeSet<String>> {
    config.map(|c| c.components.keys().cloned().collect())
}

/// Opens an incident with its first update; the title is trimmed.
pub async fn open(
    store: &Store,
    config: Option<&Config>,
    caller: &Caller,
    mut new: NewIncident,
    now: Timestamp,
) -> Result<IncidentRecord, IncidentServiceError> {
    let known = known_components(config);
    new.title = validate_new(&new.title, &new.body, &new.components, known.as_ref())?.to_owned();
    Ok(store.create_incident(&new, &caller.actor, now).await?)
}

/// Posts an update: a new status, a message, component statuses (at least one of them).
pub async fn update(
    store: &Store,
    config: Option<&Config>,
    caller: &Caller,
    id: &str,
    change: &IncidentChange,
    now: Timestamp,
) -> Result<IncidentRecord, IncidentServiceError> {
    let known = known_components(config);
    validate_update(
        change.status,
        change.body.as_deref(),
        &change.components,
        known.as_ref(),
    )?;
    found(
        store
            .add_incident_update(id, change, &caller.actor, now)
            .await?,
        id,
    )
}

/// Resolves an incident: an update with status `resolved`, every affected component back to
/// `operational`, and an optional message.
pub async fn resolve(
    store: &Store,
    caller: &Caller,
    id: &str,
    body: Option<String>,
    now: Timestamp,
) -> Result<IncidentRecord, IncidentServiceError> {
    if let Some(text) = &body {
        validate_body(text)?;
    }
    let current = found(store.get_incident(id).await?, id)?;
    let change = IncidentChange {
        status: Some(IncidentStatus::Resolved),
        body,
        components: incident::all_operational(&current.components),
    };
    found(
        store
            .add_incident_update(id, &change, &caller.actor, now)
            .await?,
        id,
    )
}

/// Edits the title (trimmed), the impact or the postmortem (`Some(None)` removes it); the
/// timeline is unchanged.
pub async fn edit(
    store: &Store,
    caller: &Caller,
    id: &str,
    mut edit: IncidentEdit,
    now: Timestamp,
) -> Result<IncidentRecord, IncidentServiceError> {
    if let Some(title) = &edit.title {
        edit.title = Some(validate_title(title)?.to_owned());
    }
    if let Some(Some(text)) = &edit.postmortem {
        validate_body(text)?;
    }
    found(
        store.edit_incident(id, &edit, &caller.actor, now).await?,
        id,
    )
}

/// Deletes an incident and its timeline; the audit row keeps a copy.
pub async fn delete(
    store: &Store,
    caller: &Caller,
    id: &str,
    now: Timestamp,
) -> Result<IncidentRecord, IncidentServiceError> {
    found(store.delete_incident(id, &caller.actor, now).await?, id)
}

fn found(record: Option<IncidentRecord>, id: &str) -> Result<IncidentRecord, IncidentServiceError> {
    record.ok_or_else(|| IncidentServiceError::NotFound(id.to_owned()))
}
