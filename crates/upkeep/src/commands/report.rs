//! `upkeep report availability`: the availability report of a period (default the current
//! calendar year in the page's zone) read from the database, as a table, JSON, CSV or a
//! self-contained HTML document, on standard output or into `--out`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use upkeep_engine::config::{ConfigSource, load};
use upkeep_web::reports::{Ask, Format, query_with_daily, render};

use super::open_migrated;
use crate::cli::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Availability per component (SLA, raw, unplanned and planned downtime), per tenant and
    /// overall, with the SLOs' budgets; exact integer milliseconds and parts per million.
    Availability(AvailabilityArgs),
}

#[derive(Debug, Args)]
pub struct AvailabilityArgs {
    /// A calendar year in the page's zone (default: the current one).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub year: Option<i16>,
    /// Start of the period: YYYY-MM-DD (midnight in the page's zone) or an RFC 3339 instant.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// End of the period (exclusive), like --from.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Only this component.
    #[arg(long)]
    pub component: Option<String>,
    /// Also the figures of this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Weight of partial outages, a ratio (default 0.3).
    #[arg(long)]
    pub partial_weight: Option<String>,
    /// table, json, csv or html.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Include the daily series in JSON (the HTML report always has them).
    #[arg(long)]
    pub daily: bool,
    /// Write the report into this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The configuration (components, tenants, SLOs, the page's zone).
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("`{s}` is not a format: table, json, csv or html"))
}

pub async fn run(cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    let ReportCommand::Availability(args) = cmd;
    let now = jiff::Timestamp::now();
    let source = ConfigSource::File(args.config.clone());
    let loaded = match load(&source, now) {
        Ok(l) => l,
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            eprintln!(
                "{} is not a valid configuration (`upkeep check` explains)",
                source.display_name()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let ask = Ask {
        year: args.year,
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        component: args.component.as_deref(),
        tenant: args.tenant.as_deref(),
        partial_weight: args.partial_weight.as_deref(),
    };
    let daily = args.format == Format::Html || args.daily;
    let q = match query_with_daily(&loaded.config, &ask, daily, now) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let store = open_migrated(&args.db.database).await?;
    let report = upkeep_engine::reports::availability(&store, &loaded.config, &q, now).await;
    store.close().await;
    let report = report.context("reading the figures")?;
    let text = render(&report, args.format).map_err(|e| anyhow::anyhow!(e))?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} ({} bytes)", path.display(), text.len());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
