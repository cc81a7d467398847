//! `upkeep inventory`: import what `helm list` says is deployed at a place, read every index
//! and end-of-life file now, and report each item at each place against its chart's latest
//! stable release (table, JSON, CSV or HTML). The same use cases as the API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use upkeep_engine::config::{ConfigSource, LoadedConfig, load};
use upkeep_engine::inventory::{Fetcher, InventorySettings, refresh};
use upkeep_engine::service::inventory::{self as service, InventoryError};
use upkeep_web::api::inventory::InventoryView;
use upkeep_web::reports::Format;

use super::{cli_caller, open_migrated};
use crate::cli::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Store what is deployed at a place from the JSON of
    /// `helm list --all-namespaces --output json` (audited; all or nothing).
    Import(ImportArgs),
    /// Read every index and end-of-life file of the configuration now, and judge the
    /// policies (what the server does every `inventory.refresh`).
    Refresh(CommonArgs),
    /// Each item at each place against the latest stable release of its chart.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The configuration (its `inventory:` section).
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The output of `helm list --all-namespaces --output json` (`-` for standard input).
    #[arg(long = "from")]
    pub from: PathBuf,
    /// Where these releases run: a cluster, a tenant, an environment.
    #[arg(long)]
    pub place: String,
    /// Skip releases whose chart no inventory item is bound to, instead of refusing the file.
    #[arg(long)]
    pub skip_unknown: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// table, json, csv or html.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Write the report into this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("`{s}` is not a format: table, json, csv or html"))
}

fn config(path: &std::path::Path, now: jiff::Timestamp) -> Result<LoadedConfig, ExitCode> {
    let source = ConfigSource::File(path.to_path_buf());
    load(&source, now).map_err(|e| {
        for line in e.lines() {
            eprintln!("{line}");
        }
        eprintln!(
            "{} is not a valid configuration (`upkeep check` explains)",
            source.display_name()
        );
        ExitCode::FAILURE
    })
}

pub async fn run(cmd: InventoryCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    let common = match &cmd {
        InventoryCommand::Import(a) => &a.common,
        InventoryCommand::Refresh(a) => a,
        InventoryCommand::Report(a) => &a.common,
    };
    let loaded = match config(&common.config, now) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let store = open_migrated(&common.db.database).await?;
    let result = match &cmd {
        InventoryCommand::Import(args) => import(&store, &loaded, args, now).await,
        InventoryCommand::Refresh(_) => refresh_now(&store, &loaded, now).await,
        InventoryCommand::Report(args) => report(&store, &loaded, args, now).await,
    };
    store.close().await;
    result
}

async fn import(
    store: &upkeep_store::Store,
    loaded: &LoadedConfig,
    args: &ImportArgs,
    now: jiff::Timestamp,
) -> anyhow::Result<ExitCode> {
    let text = if args.from.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.from)
            .with_context(|| format!("reading {}", args.from.display()))?
    };
    let caller = cli_caller();
    match service::import(
        store,
        &loaded.config,
        &caller,
        &args.place,
        &text,
        args.skip_unknown,
        now,
    )
    .await
    {
        Ok(done) => {
            for (item, version) in &done.imported {
                println!("{item} at {}: {version}", args.place);
            }
            for skipped in &done.skipped {
                eprintln!("skipped {skipped}: no inventory item is bound to its chart");
            }
            eprintln!(
                "{} item(s) imported for {}, {} changed",
                done.imported.len(),
                args.place,
                done.changed
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(InventoryError::Store(e)) => Err(e).context("storing the import"),
        Err(e) => {
            eprintln!("error: {}: {e}", args.from.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn refresh_now(
    store: &upkeep_store::Store,
    loaded: &LoadedConfig,
    now: jiff::Timestamp,
) -> anyhow::Result<ExitCode> {
    let fetcher = Fetcher::new(InventorySettings::default().timeout)?;
    let reads = refresh(store, loaded, &fetcher, now, true)
        .await
        .context("recording the reads")?;
    let mut failed = false;
    for r in &reads {
        let parse = r
            .parse_ms
            .map(|ms| format!(" (parsed in {ms} ms)"))
            .unwrap_or_default();
        match &r.detail {
            Some(why) => {
                failed = true;
                println!("{}: {}: {why}", r.location, r.outcome);
            }
            None => println!("{}: {}{parse}", r.location, r.outcome),
        }
    }
    upkeep_engine::inventory::check_policies(store, &loaded.config, now)
        .await
        .context("judging the policies")?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn report(
    store: &upkeep_store::Store,
    loaded: &LoadedConfig,
    args: &ReportArgs,
    now: jiff::Timestamp,
) -> anyhow::Result<ExitCode> {
    let rows = service::list(store, &loaded.config, now)
        .await
        .context("reading the inventory")?;
    let views: Vec<InventoryView> = rows.into_iter().map(InventoryView::from).collect();
    let generated = upkeep_web::api::instant(now);
    let text = upkeep_web::inventory_report::render(&views, args.format, &generated)
        .map_err(|e| anyhow::anyhow!(e))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} ({} bytes)", path.display(), text.len());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
