//! `upkeep maintenance schedule|list|show|cancel`: maintenance windows straight in the database,
//! as `cli:$USER`, with the same rules and audit rows as the admin API. With `--config`, the
//! components and tenants must exist in that file and its `maintenance.policy` applies;
//! without one, ids are not checked and the default policy (14 days of notice for planned
//! maintenance, a reason for emergency ones) applies. `--force` accepts a schedule outside the
//! policy, and the audit log records the violation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::{ChecksMode, Config, MaintenancePolicy, TenantSel};
use upkeep_domain::duration::parse_duration;
use upkeep_domain::maintenance::{Kind, NoticeOutcome, check_notice};
use upkeep_engine::config::{ConfigSource, load};
use upkeep_store::maintenance::{
    MaintenanceFilter, MaintenanceRecord, NewMaintenance, checks_str, tenants_json, validate_new,
    validate_text,
};

use super::{cli_actor, open_migrated};
use crate::cli::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Schedule a maintenance and print its id.
    ///
    /// A planned maintenance needs the policy's notice (default 14 days) before its start; an
    /// emergency one needs a `--reason`. `--force` accepts a schedule outside the policy and
    /// the audit log records what was overridden.
    Schedule(Box<ScheduleArgs>),
    /// List maintenances.
    List {
        /// `upcoming` (scheduled, soonest first), `active` (in progress or verifying) or `all`
        /// (latest start first).
        #[arg(long, default_value = "all", value_parser = ["upcoming", "active", "all"])]
        state: String,
        /// How many at most.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Show one maintenance with its timeline.
    Show {
        /// The maintenance's id, as shown by `upkeep maintenance list`.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Cancel a scheduled or in-progress maintenance (one in progress ends now).
    Cancel {
        /// The maintenance's id.
        id: String,
        /// A message for subscribers (Markdown).
        #[arg(long)]
        body: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What will happen, 1 to 200 characters.
    #[arg(long)]
    title: String,
    /// `planned` or `emergency`.
    #[arg(long, default_value = "planned", value_parser = ["planned", "emergency"])]
    kind: String,
    /// The start, RFC 3339 (e.g. 2026-12-06T21:00:00Z or 2026-12-06T22:00:00+01:00).
    #[arg(long)]
    start: String,
    /// The end, RFC 3339; or give `--duration`.
    #[arg(
        long,
        conflicts_with = "duration",
        required_unless_present = "duration"
    )]
    end: Option<String>,
    /// The length, e.g. `2h` or `1h30m`; or give `--end`.
    #[arg(long)]
    duration: Option<String>,
    /// An affected component id (repeatable; at least one).
    #[arg(long = "component", value_name = "ID", required = true)]
    components: Vec<String>,
    /// An affected tenant id (repeatable); default: every tenant.
    #[arg(long = "tenant", value_name = "ID")]
    tenants: Vec<String>,
    /// Why, e.g. the CVE an emergency maintenance fixes (required for emergency ones).
    #[arg(long)]
    reason: Option<String>,
    /// What will be done (Markdown).
    #[arg(long)]
    description: Option<String>,
    /// The first update of the timeline (Markdown).
    #[arg(long)]
    message: Option<String>,
    /// Whether monitors keep probing during the window.
    #[arg(long, default_value = "run", value_parser = ["run", "skip"])]
    checks: String,
    /// Count the window as downtime in SLA figures (default: only emergency ones).
    #[arg(long)]
    counts_as_downtime: Option<bool>,
    /// Do not notify subscribers.
    #[arg(long)]
    no_notify: bool,
    /// Accept a schedule outside the notice policy; the audit log records the violation.
    #[arg(long)]
    force: bool,
    /// Configuration file whose components, tenants and `maintenance.policy` apply.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    config: Option<PathBuf>,
    /// Print the created maintenance as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DatabaseArgs,
}

pub async fn run(cmd: MaintenanceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MaintenanceCommand::Schedule(args) => schedule(*args).await?,
        MaintenanceCommand::List {
            state,
            limit,
            json,
            db,
        } => {
            let filter = match state.as_str() {
                "upcoming" => MaintenanceFilter::Upcoming,
                "active" => MaintenanceFilter::Active,
                _ => MaintenanceFilter::All,
            };
            let store = open_migrated(&db.database).await?;
            let rows = store.list_maintenances(filter, limit).await;
            store.close().await;
            let rows = rows?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_list(&rows);
            }
        }
        MaintenanceCommand::Show { id, json, db } => {
            let store = open_migrated(&db.database).await?;
            let found = store.get_maintenance(&id).await;
            store.close().await;
            let record = found_or_bail(found?, &id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&record)?);
            } else {
                print_one(&record);
            }
        }
        MaintenanceCommand::Cancel { id, body, db } => {
            let body = body.unwrap_or_default();
            validate_text("body", &body).map_err(anyhow::Error::msg)?;
            let store = open_migrated(&db.database).await?;
            let cancelled = store
                .cancel_maintenance(&id, &body, &cli_actor(), Timestamp::now())
                .await;
            store.close().await;
            let record = found_or_bail(cancelled?, &id)?;
            println!("maintenance {} is {}", record.id, record.status);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn schedule(args: ScheduleArgs) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let config = load_config(args.config.as_ref())?;
    let kind = Kind::parse(&args.kind).unwrap_or(Kind::Planned);
    let start = parse_instant("--start", &args.start)?;
    let end = match (&args.end, &args.duration) {
        (Some(end), _) => parse_instant("--end", end)?,
        (None, Some(d)) => {
            let d: Duration = parse_duration(d).map_err(anyhow::Error::msg)?;
            SignedDuration::try_from(d)
                .ok()
                .and_then(|d| start.checked_add(d).ok())
                .context("--duration is too long")?
        }
        (None, None) => bail!("give the end with --end or --duration"),
    };
    let mut new = NewMaintenance::new(kind, args.title.trim(), start, end);
    new.description = args.description;
    new.reason = args.reason.filter(|r| !r.trim().is_empty());
    for id in args.components {
        if !new.components.contains(&id) {
            new.components.push(id);
        }
    }
    if !args.tenants.is_empty() {
        new.tenants = TenantSel::List(args.tenants);
    }
    if args.checks == "skip" {
        new.checks = ChecksMode::Skip;
    }
    if let Some(v) = args.counts_as_downtime {
        new.counts_as_downtime = v;
    }
    new.notify_subscribers = !args.no_notify;
    new.message = args.message.unwrap_or_default();
    validate_new(&new, config.as_ref()).map_err(anyhow::Error::msg)?;
    let policy = config
        .as_ref()
        .map(|c| c.maintenance.policy.clone())
        .unwrap_or_else(MaintenancePolicy::default);
    let forced = match check_notice(&policy, kind, new.reason.as_deref(), now, start, args.force) {
        Ok(NoticeOutcome::Accepted) => None,
        Ok(NoticeOutcome::Forced { violation }) => {
            eprintln!("forced past the notice policy (recorded in the audit log): {violation}");
            Some(violation.to_string())
        }
        Err(violation) => bail!(
            "{violation}\n(an operator may accept it anyway with --force; the audit log records it)"
        ),
    };
    let store = open_migrated(&args.db.database).await?;
    let created = store
        .create_maintenance(&new, &cli_actor(), now, forced.as_deref())
        .await;
    store.close().await;
    let created = created?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&created)?);
    } else {
        println!("{}", created.id);
    }
    eprintln!(
        "scheduled {} maintenance {} `{}` from {} to {}",
        created.kind, created.id, created.title, created.starts_at, created.ends_at
    );
    Ok(())
}

fn parse_instant(flag: &str, s: &str) -> anyhow::Result<Timestamp> {
    s.parse::<Timestamp>().with_context(|| {
        format!("{flag} must be an RFC 3339 instant such as 2026-12-06T21:00:00Z, not `{s}`")
    })
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Option<Config>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let source = ConfigSource::File(path.clone());
    match load(&source, Timestamp::now()) {
        Ok(loaded) => Ok(Some(loaded.config)),
        Err(e) => Err(anyhow::anyhow!(e.lines().join("\n"))).with_context(|| {
            format!(
                "{} is not a valid configuration (`upkeep check` explains)",
                source.display_name()
            )
        }),
    }
}

fn found_or_bail(record: Option<MaintenanceRecord>, id: &str) -> anyhow::Result<MaintenanceRecord> {
    match record {
        Some(r) => Ok(r),
        None => bail!("there is no maintenance `{id}`; `upkeep maintenance list` shows them"),
    }
}

fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%MZ").to_string()
}

fn tenants_text(record: &MaintenanceRecord) -> String {
    match tenants_json(&record.tenants) {
        serde_json::Value::String(s) => s,
        other => other
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    }
}

fn print_list(rows: &[MaintenanceRecord]) {
    println!(
        "{:<12}  {:<9}  {:<11}  {:<17}  {:<17}  {:<20}  TITLE",
        "ID", "KIND", "STATUS", "STARTS", "ENDS", "COMPONENTS"
    );
    for r in rows {
        println!(
            "{:<12}  {:<9}  {:<11}  {:<17}  {:<17}  {:<20}  {}",
            r.id,
            r.kind.as_str(),
            r.status.as_str(),
            when(r.starts_at),
            when(r.ends_at),
            r.components.join(","),
            r.title
        );
    }
}

fn print_one(r: &MaintenanceRecord) {
    println!("{} `{}`", r.id, r.title);
    println!("  kind:        {}", r.kind);
    println!("  status:      {}", r.status);
    println!("  starts:      {}", r.starts_at);
    println!("  ends:        {}", r.ends_at);
    println!("  components:  {}", r.components.join(", "));
    println!("  tenants:     {}", tenants_text(r));
    println!("  checks:      {}", checks_str(r.checks));
    println!("  downtime:    {}", r.counts_as_downtime);
    println!("  notify:      {}", r.notify_subscribers);
    println!("  sequence:    {}", r.sequence);
    if let Some(reason) = &r.reason {
        println!("  reason:      {reason}");
    }
    if let Some(hold) = &r.hold_reason {
        println!("  held:        {hold}");
    }
    if let Some(window) = &r.window_id {
        println!("  window:      {window}");
    }
    if let Some(d) = &r.description {
        println!("\n{d}");
    }
    println!("\nTimeline (newest first):");
    for u in &r.updates {
        let body = if u.body.is_empty() { "-" } else { &u.body };
        println!(
            "  {}  {:<11}  {}  ({})",
            when(u.created_at),
            u.status.as_str(),
            body,
            u.created_by
        );
    }
}
