//! One module per command.

mod agent;
pub mod backup;
mod check;
pub mod drill;
mod incident;
pub mod inventory;
pub mod maintenance;
mod ping;
pub mod report;
pub mod rollout;
mod serve;
mod token;
pub mod user;

use std::process::ExitCode;

use anyhow::Context;
use upkeep_store::{ConnectOptions, Store};

use crate::cli::{Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Check(args) => Ok(check::run(&args)),
        Command::Migrate(db) => {
            let store = open(&db.database).await?;
            let applied = store.migrate().await.context("migrating the database")?;
            println!(
                "{}: {applied} migration(s) applied; the schema is up to date",
                upkeep_store::redact(&db.database)
            );
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(cmd) => token::run(cmd).await,
        Command::Agent(args) => agent::run(args).await,
        Command::User(cmd) => user::run(cmd).await,
        Command::Key(crate::cli::KeyCommand::New) => {
            println!("{}", upkeep_store::ids::new_ping_key());
            Ok(ExitCode::SUCCESS)
        }
        Command::Incident(cmd) => incident::run(cmd).await,
        Command::Maintenance(cmd) => maintenance::run(cmd).await,
        Command::Rollout(cmd) => rollout::run(cmd).await,
        Command::Ping(args) => ping::run(args).await,
        Command::Drill(cmd) => drill::run(cmd).await,
        Command::Report(cmd) => report::run(cmd).await,
        Command::Inventory(cmd) => inventory::run(cmd).await,
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
    }
}

/// Connects to the database named by `url`.
pub async fn open(url: &str) -> anyhow::Result<Store> {
    Store::connect(url, &ConnectOptions::default())
        .await
        .with_context(|| format!("opening the database {}", upkeep_store::redact(url)))
}

/// Connects and applies pending migrations.
pub async fn open_migrated(url: &str) -> anyhow::Result<Store> {
    let store = open(url).await?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// How the local user appears in the audit log.
/// The configuration in the file at `path`, or an error that lists its problems and points to
/// `upkeep check`.
pub fn load_config_file(path: &std::path::Path) -> anyhow::Result<upkeep_domain::config::Config> {
    let source = upkeep_engine::config::ConfigSource::File(path.to_path_buf());
    match upkeep_engine::config::load(&source, jiff::Timestamp::now()) {
        Ok(loaded) => Ok(loaded.config),
        Err(e) => Err(anyhow::anyhow!(e.lines().join("\n"))).with_context(|| {
            format!(
                "{} is not a valid configuration (`upkeep check` explains)",
                source.display_name()
            )
        }),
    }
}

pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// The operator at the command line, as the services know them: may override a policy
/// (`--force`, `--skip-checks`).
pub fn cli_caller() -> upkeep_engine::service::Caller {
    upkeep_engine::service::Caller {
        actor: cli_actor(),
        may_override: true,
    }
}
