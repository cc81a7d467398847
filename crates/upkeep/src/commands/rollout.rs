//! `upkeep rollout show|pause|resume|abort|retry|skip`: a maintenance's rollout straight in the
//! database, as `cli:$USER`, through the same rollout service as the admin API
//! ([`upkeep_engine::service::rollout`]): the same rules and audit rows. `--config` gives the
//! tenants, their zones and the slot policy (a rollout not started yet shows its plan).
//! `show --format json` prints the document of `GET /api/v1/maintenances/{id}/rollout`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use upkeep_domain::config::Config;
use upkeep_domain::rollout::machine::Command;
use upkeep_engine::service::rollout::{self as service, RolloutError, RolloutShow, TenantShow};
use upkeep_web::api::rollout::RolloutDocument;

use super::{cli_caller, load_config_file, open_migrated};
use crate::cli::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show a maintenance's rollout: its state and every tenant's state, slot (in the tenant's
    /// zone), attempts and last decision.
    Show {
        /// The maintenance's id, as shown by `upkeep maintenance list`.
        id: String,
        /// `table` or `json` (the admin API's document).
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        #[command(flatten)]
        common: RolloutArgs,
    },
    /// Pause a pending or running rollout: no further tenant starts (a step in flight
    /// finishes).
    Pause {
        /// The maintenance's id.
        id: String,
        #[command(flatten)]
        common: RolloutArgs,
    },
    /// Resume a paused or halted rollout.
    Resume {
        /// The maintenance's id.
        id: String,
        #[command(flatten)]
        common: RolloutArgs,
    },
    /// Abort a rollout for good: no further tenant starts.
    Abort {
        /// The maintenance's id.
        id: String,
        #[command(flatten)]
        common: RolloutArgs,
    },
    /// Retry a tenant that failed, was rolled back, paused, halted or skipped.
    Retry {
        /// The maintenance's id.
        id: String,
        /// The tenant's id.
        tenant: String,
        #[command(flatten)]
        common: RolloutArgs,
    },
    /// Skip a tenant: the rollout goes on without it.
    Skip {
        /// The maintenance's id.
        id: String,
        /// The tenant's id.
        tenant: String,
        #[command(flatten)]
        common: RolloutArgs,
    },
}

/// What every rollout command reads.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// Configuration file: its tenants, their regions' zones and the slot policy.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub async fn run(cmd: RolloutCommand) -> anyhow::Result<ExitCode> {
    let (id, common, command, format) = match cmd {
        RolloutCommand::Show { id, format, common } => (id, common, None, format),
        RolloutCommand::Pause { id, common } => (id, common, Some(Command::Pause), String::new()),
        RolloutCommand::Resume { id, common } => (id, common, Some(Command::Resume), String::new()),
        RolloutCommand::Abort { id, common } => (id, common, Some(Command::Abort), String::new()),
        RolloutCommand::Retry { id, tenant, common } => {
            (id, common, Some(Command::Retry(tenant)), String::new())
        }
        RolloutCommand::Skip { id, tenant, common } => {
            (id, common, Some(Command::Skip(tenant)), String::new())
        }
    };
    let config = load_config_file(&common.config)?;
    let store = open_migrated(&common.db.database).await?;
    let result = match &command {
        None => service::show(&store, &config, &id).await,
        Some(command) => {
            let caller = cli_caller();
            service::command(&store, &config, &caller, &id, command, Timestamp::now()).await
        }
    };
    store.close().await;
    let shown = result.map_err(cli_error)?;
    match (command, format.as_str()) {
        (None, "json") => {
            let doc = RolloutDocument::from(shown);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        (None, _) => print_table(&config, &shown),
        (Some(_), _) => {
            let p = shown.progress();
            println!(
                "rollout of maintenance {} is {}: {} ({} of {} tenants updated)",
                shown.maintenance_id, shown.state, shown.reason, p.done, p.total
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A refusal of the rollout service in the command line's words.
fn cli_error(e: RolloutError) -> anyhow::Error {
    match e {
        RolloutError::NoMaintenance(id) => {
            anyhow::anyhow!("there is no maintenance `{id}`; `upkeep maintenance list` shows them")
        }
        RolloutError::Store(e) => e.into(),
        other => anyhow::anyhow!("{other}"),
    }
}

/// The zone of `tenant`'s region, or the page's.
fn zone_of(config: &Config, tenant: &str) -> TimeZone {
    config
        .tenants
        .get(tenant)
        .and_then(|t| config.regions.get(&t.region))
        .map_or_else(|| config.page.timezone.clone(), |r| r.timezone.clone())
}

/// A slot in the tenant's zone: `2026-12-05 22:00–22:15 CET`.
fn slot_text(config: &Config, t: &TenantShow) -> String {
    let zone = zone_of(config, &t.tenant);
    let start = t.slot_start.to_zoned(zone.clone());
    let end = t.slot_end.to_zoned(zone);
    let end_format = if start.date() == end.date() {
        "%H:%M %Z"
    } else {
        "%Y-%m-%d %H:%M %Z"
    };
    format!(
        "{}–{}",
        start.strftime("%Y-%m-%d %H:%M"),
        end.strftime(end_format)
    )
}

/// The attempts in short: `action#1 succeeded, rollback#1 failed`, or `-`.
fn attempts_text(t: &TenantShow) -> String {
    if t.attempts.is_empty() {
        return "-".to_owned();
    }
    t.attempts
        .iter()
        .map(|a| {
            format!(
                "{}#{} {}",
                a.step,
                a.attempt,
                a.outcome.map_or("running", |o| o.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_table(config: &Config, r: &RolloutShow) {
    let p = r.progress();
    println!("rollout of maintenance {}: {}", r.maintenance_id, r.state);
    if !r.reason.is_empty() {
        println!("  {}", r.reason);
    }
    println!("  {} of {} tenants updated", p.done, p.total);
    let rows: Vec<[String; 5]> = r
        .tenants
        .iter()
        .map(|t| {
            [
                t.tenant.clone(),
                t.state.to_string(),
                slot_text(config, t),
                attempts_text(t),
                t.decision.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let header = ["TENANT", "STATE", "SLOT", "ATTEMPTS", "DECISION"];
    let width = |i: usize| {
        rows.iter()
            .map(|row| row[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate().take(4) {
            out.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
            out.push_str(&" ".repeat(pad));
        }
        out.push_str(cells[4]);
        out
    };
    println!();
    println!("{}", line(header));
    for row in &rows {
        println!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
}
