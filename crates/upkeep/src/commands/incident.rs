//! `upkeep incident open|update|resolve|list`: incidents straight in the database, as
//! `cli:$USER`, through the same incident service as the admin API
//! ([`upkeep_engine::service::incident`]): the same rules and audit rows. Component ids are checked
//! against `--config` when one is given, and not at all otherwise.

use std::process::ExitCode;

use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_engine::service::incident::{self as service, IncidentServiceError};
use upkeep_store::incidents::{IncidentChange, IncidentRecord, NewIncident};

use super::{cli_caller, load_config_file, open_migrated};
use crate::cli::IncidentCommand;

pub async fn run(cmd: IncidentCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    let caller = cli_caller();
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
            let config = config.config.as_deref().map(load_config_file).transpose()?;
            let new = NewIncident {
                title,
                status: status.unwrap_or(IncidentStatus::Investigating),
                impact,
                body: body.unwrap_or_default(),
                components,
                started_at: None,
                auto: false,
            };
            let store = open_migrated(&db.database).await?;
            let created = service::open(&store, config.as_ref(), &caller, new, now).await;
            store.close().await;
            let created = created.map_err(cli_error)?;
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
            let config = config.config.as_deref().map(load_config_file).transpose()?;
            let change = IncidentChange {
                status,
                body,
                components,
            };
            let store = open_migrated(&db.database).await?;
            let updated =
                service::update(&store, config.as_ref(), &caller, &id, &change, now).await;
            store.close().await;
            let updated = updated.map_err(cli_error)?;
            println!("incident {} is {}", updated.id, updated.status);
        }
        IncidentCommand::Resolve { id, body, db } => {
            let store = open_migrated(&db.database).await?;
            let resolved = service::resolve(&store, &caller, &id, body, now).await;
            store.close().await;
            let resolved = resolved.map_err(cli_error)?;
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

/// A refusal of the incident service in the command line's words.
fn cli_error(e: IncidentServiceError) -> anyhow::Error {
    match e {
        IncidentServiceError::NotFound(id) => {
            anyhow::anyhow!("there is no incident `{id}`; `upkeep incident list` shows them")
        }
        IncidentServiceError::Invalid(e) => e.into(),
        IncidentServiceError::Store(e) => e.into(),
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
