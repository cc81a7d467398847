//! `upkeep incident open|update|resolve|list`: incidents straight in the database, as
//! `cli:$USER`, with the same rules and audit rows as the admin API. Component ids are checked
//! against `--config` when one is given, and not at all otherwise.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use upkeep_domain::incident::{
    self, AffectedComponent, IncidentStatus, validate_body, validate_new, validate_update,
};
use upkeep_engine::config::{ConfigSource, load};
use upkeep_store::incidents::{IncidentChange, IncidentRecord, NewIncident};

use super::{cli_actor, open_migrated};
use crate::cli::IncidentCommand;

pub async fn run(cmd: IncidentCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match cmd {
        IncidentCommand::Open {
            title,
            impact,
            components,
            body,
            status,
            config,
            db,
        } => {
            let known = known_components(config.config.as_ref())?;
            let body = body.unwrap_or_default();
            let title = validate_new(&title, &body, &components, known.as_ref())?.to_owned();
            let new = NewIncident {
                title,
                status: status.unwrap_or(IncidentStatus::Investigating),
                impact,
                body,
                components,
                started_at: None,
                auto: false,
            };
            let store = open_migrated(&db.database).await?;
            let created = store.create_incident(&new, &cli_actor(), now).await;
            store.close().await;
            let created = created?;
            println!("{}", created.id);
            eprintln!(
                "opened incident {} `{}` ({}, impact {})",
                created.id, created.title, created.status, created.impact
            );
        }
        IncidentCommand::Update {
            id,
            status,
            body,
            components,
            config,
            db,
        } => {
            let known = known_components(config.config.as_ref())?;
            validate_update(status, body.as_deref(), &components, known.as_ref())?;
            let change = IncidentChange {
                status,
                body,
                components,
            };
            let store = open_migrated(&db.database).await?;
            let updated = store
                .add_incident_update(&id, &change, &cli_actor(), now)
                .await;
            store.close().await;
            let updated = found(updated?, &id)?;
            println!("incident {} is {}", updated.id, updated.status);
        }
        IncidentCommand::Resolve { id, body, db } => {
            if let Some(text) = &body {
                validate_body(text)?;
            }
            let store = open_migrated(&db.database).await?;
            let result = resolve(&store, &id, body, now).await;
            store.close().await;
            let resolved = found(result?, &id)?;
            println!("incident {} is {}", resolved.id, resolved.status);
        }
        IncidentCommand::List {
            unresolved,
            limit,
            db,
        } => {
            let store = open_migrated(&db.database).await?;
            let rows = store.list_incidents(limit, unresolved).await;
            store.close().await;
            print_list(&rows?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn resolve(
    store: &upkeep_store::Store,
    id: &str,
    body: Option<String>,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<IncidentRecord>> {
    let Some(current) = store.get_incident(id).await? else {
        return Ok(None);
    };
    let change = IncidentChange {
        status: Some(IncidentStatus::Resolved),
        body,
        components: incident::all_operational(&current.components),
    };
    Ok(store
        .add_incident_update(id, &change, &cli_actor(), now)
        .await?)
}

fn found(record: Option<IncidentRecord>, id: &str) -> anyhow::Result<IncidentRecord> {
    match record {
        Some(r) => Ok(r),
        None => bail!("there is no incident `{id}`; `upkeep incident list` shows them"),
    }
}

/// The component ids of the configuration file, when one is given.
fn known_components(config: Option<&PathBuf>) -> anyhow::Result<Option<BTreeSet<String>>> {
    let Some(path) = config else {
        return Ok(None);
    };
    let source = ConfigSource::File(path.clone());
    match load(&source, jiff::Timestamp::now()) {
        Ok(loaded) => Ok(Some(loaded.config.components.keys().cloned().collect())),
        Err(e) => Err(anyhow::anyhow!(e.lines().join("\n"))).with_context(|| {
            format!(
                "{} is not a valid configuration (`upkeep check` explains)",
                source.display_name()
            )
        }),
    }
}

fn components_text(components: &[AffectedComponent]) -> String {
    if components.is_empty() {
        return "-".to_owned();
    }
    components
        .iter()
        .map(|c| format!("{}={}", c.id, c.status))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_list(rows: &[IncidentRecord]) {
    println!(
        "{:<12}  {:<13}  {:<8}  {:<20}  {:<30}  TITLE",
        "ID", "STATUS", "IMPACT", "CREATED", "COMPONENTS"
    );
    for r in rows {
        println!(
            "{:<12}  {:<13}  {:<8}  {:<20}  {:<30}  {}",
            r.id,
            r.status.as_str(),
            r.impact.as_str(),
            r.created_at.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
            components_text(&r.components),
            r.title
        );
    }
}
