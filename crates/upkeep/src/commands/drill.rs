//! `upkeep drill start|finish|list`: recovery drills straight in the database, as `cli:$USER`,
//! through `service::backups` as the admin API (`/api/v1/backups/{id}/drills`) and the console:
//! the same rules and audit rows. Backup set ids are checked against `--config` (the sets under
//! `backups:`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use upkeep_domain::backup::{DrillOutcome, duration_ms};
use upkeep_domain::config::Config;
use upkeep_engine::config::{ConfigSource, load};
use upkeep_engine::service::backups::{self as service, BackupError, Finish};
use upkeep_store::backups::DrillRecord;

use super::{cli_caller, open_migrated};
use crate::cli::DatabaseArgs;

/// Where `upkeep drill` finds the backup sets.
#[derive(Debug, Args)]
pub struct DrillConfigArgs {
    /// Configuration file whose `backups:` name the sets.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Start a recovery drill of a backup set and print its id.
    Start {
        /// The backup set's id in the configuration.
        set: String,
        /// What is being restored, where.
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        config: DrillConfigArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Finish a drill with its outcome; its recovery time counts against the RTO only when it
    /// succeeded and `--validated` is given.
    Finish {
        /// The backup set's id.
        set: String,
        /// The drill's id, as printed by `upkeep drill start`.
        drill_id: String,
        /// `success` or `failure`.
        #[arg(long, value_parser = parse_outcome)]
        outcome: DrillOutcome,
        /// The restored data was checked and found good.
        #[arg(long)]
        validated: bool,
        /// Appended to the drill's notes.
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        config: DrillConfigArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List drills, newest first, of one backup set or of all.
    List {
        /// Only this backup set's drills.
        set: Option<String>,
        /// How many at most.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn parse_outcome(s: &str) -> Result<DrillOutcome, String> {
    DrillOutcome::parse(s).ok_or_else(|| format!("`{s}` is not an outcome: success or failure"))
}

pub async fn run(cmd: DrillCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match cmd {
        DrillCommand::Start {
            set,
            notes,
            config,
            db,
        } => {
            let cfg = known_set(&config.config, &set)?;
            let store = open_migrated(&db.database).await?;
            let started = service::start_drill(&store, &cfg, &cli_caller(), &set, notes, now).await;
            store.close().await;
            let (_, started) = started?;
            println!("{}", started.id);
            eprintln!("started drill {} of backup set `{set}`", started.id);
        }
        DrillCommand::Finish {
            set,
            drill_id,
            outcome,
            validated,
            notes,
            config,
            db,
        } => {
            let cfg = known_set(&config.config, &set)?;
            let asked = Finish {
                outcome: outcome.as_str().to_owned(),
                validated,
                notes,
            };
            let store = open_migrated(&db.database).await?;
            let done =
                service::finish_drill(&store, &cfg, &cli_caller(), (&set, &drill_id), asked, now)
                    .await;
            store.close().await;
            let (backup, done) = match done {
                Err(BackupError::NoDrill { .. }) => bail!(
                    "backup set `{set}` has no drill `{drill_id}`; `upkeep drill list {set}` shows them"
                ),
                other => other?,
            };
            let rto_ms = duration_ms(backup.rto);
            match done.recovery_ms {
                Some(ms) => println!(
                    "drill {} finished: {outcome}, recovery {} ms, {} the RTO ({} ms)",
                    done.id,
                    ms,
                    if ms <= rto_ms { "meets" } else { "exceeds" },
                    rto_ms
                ),
                None => println!(
                    "drill {} finished: {outcome}{}; its time does not count against the RTO",
                    done.id,
                    if validated { "" } else { ", not validated" }
                ),
            }
        }
        DrillCommand::List { set, limit, db } => {
            let store = open_migrated(&db.database).await?;
            let rows = store.list_drills(set.as_deref(), limit).await;
            store.close().await;
            print_list(&rows?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration, once `set` is known to be one of its backup sets.
fn known_set(path: &Path, set: &str) -> anyhow::Result<Config> {
    let source = ConfigSource::File(path.to_path_buf());
    let loaded = load(&source, jiff::Timestamp::now())
        .map_err(|e| anyhow::anyhow!(e.lines().join("\n")))
        .with_context(|| {
            format!(
                "{} is not a valid configuration (`upkeep check` explains)",
                source.display_name()
            )
        })?;
    if !loaded.config.backups.contains_key(set) {
        let known: Vec<&str> = loaded.config.backups.keys().map(String::as_str).collect();
        bail!(
            "there is no backup set `{set}` in {}; known: {}",
            source.display_name(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    Ok(loaded.config.clone())
}

fn print_list(rows: &[DrillRecord]) {
    if rows.is_empty() {
        println!("no drills");
        return;
    }
    println!(
        "{:<12}  {:<16}  {:<20}  {:<9}  {:<9}  RECOVERY_MS",
        "ID", "SET", "STARTED", "OUTCOME", "VALIDATED"
    );
    for d in rows {
        println!(
            "{:<12}  {:<16}  {:<20}  {:<9}  {:<9}  {}",
            d.id,
            d.backup_set,
            d.started_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            d.outcome.map_or("running", DrillOutcome::as_str),
            match d.validated {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            },
            d.recovery_ms.map_or("-".to_owned(), |ms| ms.to_string())
        );
    }
}
