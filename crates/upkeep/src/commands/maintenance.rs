//! `upkeep maintenance schedule|list|show|start|cancel`: maintenance windows straight in the
//! database, as `cli:$USER`, through the same maintenance service as the admin API
//! ([`upkeep_engine::service::maintenance`]): the same rules and audit rows. With `--config`, the
//! components and tenants must exist in that file and its `maintenance.policy` applies;
//! without one, ids are not checked and the default policy (14 days of notice for planned
//! maintenance, a reason for emergency ones) applies. `--force` accepts a schedule outside the
//! policy (or a window too short for its tenants' slots, `docs/decisions.md#maintenance`), and
//! the audit log records the violation. `start --skip-checks` starts a maintenance
//! that failing pre-flight checks hold; the audit log keeps the skipped checks (the public
//! timeline says only that it was started by hand).
//!
//! `upkeep maintenance plan` needs no database: it prints the configuration's recurring windows
//! between two dates with each occurrence's tenant slots (`docs/decisions.md#maintenance`), as
//! a table, JSON or an iCalendar file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::{ChecksMode, TenantSel};
use upkeep_domain::duration::parse_duration;
use upkeep_domain::maintenance::rules::tenant_label;
use upkeep_domain::maintenance::{
    Kind, MaintenanceRecord, NewMaintenance, checks_str, tenants_json,
};
use upkeep_engine::service::maintenance::{self as service, MaintenanceError};
use upkeep_store::maintenance::MaintenanceFilter;

use super::{cli_caller, load_config_file, open_migrated};
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
    /// Start a scheduled maintenance now, by hand.
    ///
    /// When failing pre-flight checks hold it, `--skip-checks` starts it anyway; the timeline
    /// and the audit log record which checks were skipped.
    Start {
        /// The maintenance's id.
        id: String,
        /// Start although failing pre-flight checks hold the maintenance.
        #[arg(long)]
        skip_checks: bool,
        /// A message for subscribers (Markdown).
        #[arg(long)]
        body: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Print the configured recurring windows' occurrences and their tenant slots, without a
    /// database.
    ///
    /// Occurrences that start in [--from, --to) are listed; a date (YYYY-MM-DD) means local
    /// midnight in the page's zone, or give RFC 3339 instants.
    Plan(PlanArgs),
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
    /// Only ask the notice policy and the tenants' slots; schedule nothing.
    #[arg(long)]
    check: bool,
    /// Configuration file whose components, tenants and `maintenance.policy` apply.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    config: Option<PathBuf>,
    /// Print the created maintenance as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The configuration file whose windows, tenants and policy apply.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: PathBuf,
    /// The first day (YYYY-MM-DD, in the page's zone) or instant (RFC 3339).
    #[arg(long)]
    pub from: String,
    /// The day (YYYY-MM-DD, in the page's zone) or instant (RFC 3339) the plan stops before.
    #[arg(long)]
    pub to: String,
    /// `table`, `json` or `ics` (an iCalendar file, one event per occurrence).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "ics"])]
    pub format: String,
    /// Also list, under each window, the inventory upgrades due in it (what is deployed is
    /// read from this database; without it, no database is touched).
    #[arg(long)]
    pub database: Option<String>,
}

pub async fn run(cmd: MaintenanceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MaintenanceCommand::Plan(args) => return Ok(plan::run(&args).await),
        MaintenanceCommand::Start {
            id,
            skip_checks,
            body,
            db,
        } => start(&id, skip_checks, body.unwrap_or_default(), &db).await?,
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
            let store = open_migrated(&db.database).await?;
            let cancelled =
                service::cancel(&store, &cli_caller(), &id, &body, Timestamp::now()).await;
            store.close().await;
            let record = cancelled.map_err(cli_error)?;
            println!("maintenance {} is {}", record.id, record.status);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn schedule(args: ScheduleArgs) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let config = args.config.as_deref().map(load_config_file).transpose()?;
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
    let mut new = NewMaintenance::new(kind, &args.title, start, end);
    new.description = args.description;
    new.reason = args.reason;
    new.components = args.components;
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
    if args.check {
        let checked = service::check(config.as_ref(), &cli_caller(), &mut new, args.force, now)
            .map_err(cli_error)?;
        let names = |id: &str| {
            config
                .as_ref()
                .map_or_else(|| id.to_owned(), |c| tenant_label(c, id))
        };
        println!(
            "allowed: {} maintenance from {} to {}",
            new.kind.with_article(),
            new.starts_at,
            new.ends_at
        );
        for v in [&checked.forced_notice, &checked.forced_slots]
            .into_iter()
            .flatten()
        {
            println!("forced: {v}");
        }
        for slot in &checked.slots {
            println!("  {}: {} to {}", names(&slot.tenant), slot.start, slot.end);
        }
        return Ok(());
    }
    let store = open_migrated(&args.db.database).await?;
    let scheduled =
        service::schedule(&store, config.as_ref(), &cli_caller(), new, args.force, now).await;
    store.close().await;
    let scheduled = scheduled.map_err(cli_error)?;
    if let Some(violation) = &scheduled.forced_notice {
        eprintln!("forced past the notice policy (recorded in the audit log): {violation}");
    }
    if let Some(violation) = &scheduled.forced_slots {
        eprintln!("forced past the tenant slots (recorded in the audit log): {violation}");
    }
    let created = scheduled.record;
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

async fn start(id: &str, skip_checks: bool, body: String, db: &DatabaseArgs) -> anyhow::Result<()> {
    let store = open_migrated(&db.database).await?;
    let started = service::start(
        &store,
        &cli_caller(),
        id,
        skip_checks,
        &body,
        // No configuration here: the default policy's span limit applies.
        None,
        Timestamp::now(),
    )
    .await;
    store.close().await;
    let started = started.map_err(cli_error)?;
    if let Some(reason) = &started.skipped_checks {
        eprintln!("skipping failing pre-flight checks (recorded in the audit log): {reason}");
    }
    println!(
        "maintenance {} is {}",
        started.record.id, started.record.status
    );
    Ok(())
}

/// A refusal of the maintenance service in the command line's words.
fn cli_error(e: MaintenanceError) -> anyhow::Error {
    const FORCE_HINT: &str =
        "(an operator may accept it anyway with --force; the audit log records it)";
    match e {
        MaintenanceError::NotFound(id) => {
            anyhow::anyhow!("there is no maintenance `{id}`; `upkeep maintenance list` shows them")
        }
        MaintenanceError::Held { id, reason } => anyhow::anyhow!(
            "pre-flight checks hold maintenance {id}: {reason}\n(start it anyway with \
             --skip-checks; the audit log records it)"
        ),
        MaintenanceError::Notice(violation) => anyhow::anyhow!("{violation}\n{FORCE_HINT}"),
        MaintenanceError::Slots(violation) => {
            anyhow::anyhow!("{}\n{FORCE_HINT}", violation.detail)
        }
        MaintenanceError::Store(e) => e.into(),
        other => anyhow::anyhow!("{other}"),
    }
}

fn parse_instant(flag: &str, s: &str) -> anyhow::Result<Timestamp> {
    s.parse::<Timestamp>().with_context(|| {
        format!("{flag} must be an RFC 3339 instant such as 2026-12-06T21:00:00Z, not `{s}`")
    })
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

/// `upkeep maintenance plan`: occurrences and tenant slots from the configuration alone.
mod plan {
    use std::process::ExitCode;

    use jiff::Timestamp;
    use jiff::civil::Date;
    use jiff::tz::TimeZone;
    use serde_json::{Value, json};
    use upkeep_domain::calendar::{self, Event, EventStatus};
    use upkeep_domain::config::{Config, TenantSel, Window};
    use upkeep_domain::inventory::plan::{Upgrade, WindowRef};
    use upkeep_domain::maintenance::rules::{covered_tenants, plan_fitting, tenant_label};
    use upkeep_domain::maintenance::{Occurrence, Slot, TenantInput, materialise};
    use upkeep_engine::config::{ConfigSource, load};
    use upkeep_engine::service::inventory::upgrades_due;

    use super::PlanArgs;

    const PRODUCT: &str = "upkeep//maintenance plan";

    /// One occurrence with its slots: those of the tenants that fit (each as it would be
    /// planned without the others) and the ids of those that do not.
    struct Planned<'c> {
        window: &'c Window,
        occurrence: Occurrence,
        slots: Vec<Slot>,
        not_fitting: Vec<String>,
        error: Option<String>,
        /// The inventory upgrades due in it.
        upgrades: Vec<Upgrade>,
    }

    pub async fn run(args: &PlanArgs) -> ExitCode {
        let source = ConfigSource::File(args.config.clone());
        let config = match load(&source, Timestamp::now()) {
            Ok(loaded) => loaded.config,
            Err(e) => {
                let lines = e.lines();
                for line in &lines {
                    eprintln!("{line}");
                }
                eprintln!("{} problem(s) found", lines.len());
                return ExitCode::FAILURE;
            }
        };
        match plan(&config, args).await {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("upkeep: {e:#}");
                ExitCode::FAILURE
            }
        }
    }

    /// A date (local midnight in `zone`) or an RFC 3339 instant.
    fn parse_bound(flag: &str, s: &str, zone: &TimeZone) -> anyhow::Result<Timestamp> {
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(t);
        }
        match s.parse::<Date>() {
            Ok(d) => Ok(d.to_zoned(zone.clone())?.timestamp()),
            Err(_) => anyhow::bail!(
                "{flag} must be a date such as 2027-03-28 (read in the page's zone) or an \
                 RFC 3339 instant such as 2027-03-28T01:30:00Z, not `{s}`"
            ),
        }
    }

    async fn plan(config: &Config, args: &PlanArgs) -> anyhow::Result<String> {
        let zone = &config.page.timezone;
        let from = parse_bound("--from", &args.from, zone)?;
        let to = parse_bound("--to", &args.to, zone)?;
        if from >= to {
            anyhow::bail!("--from ({from}) must come before --to ({to})");
        }
        let horizon = std::time::Duration::try_from(to.duration_since(from))?;
        let mut planned = Vec::new();
        for window in &config.maintenance.windows {
            let occurrences = materialise(window, from, horizon)
                .map_err(|e| anyhow::anyhow!("window `{}`: {e}", window.id))?;
            let inputs = tenant_inputs(config, &window.tenants);
            for occurrence in occurrences
                .into_iter()
                .filter(|o| o.start >= from && o.start < to)
            {
                let (slots, not_fitting, error) = match plan_fitting(
                    config,
                    occurrence.start,
                    occurrence.end,
                    &inputs,
                    window.rollout.as_ref().map_or(&[][..], |r| &r.canary),
                ) {
                    Ok((placed, not_fitting)) => (placed, not_fitting, None),
                    Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
                };
                planned.push(Planned {
                    window,
                    occurrence,
                    slots,
                    not_fitting,
                    error,
                    upgrades: Vec::new(),
                });
            }
        }
        planned.sort_by(|a, b| {
            (a.occurrence.start, &a.occurrence.key).cmp(&(b.occurrence.start, &b.occurrence.key))
        });
        if let Some(url) = &args.database {
            let store = crate::commands::open_migrated(url).await?;
            let windows: Vec<WindowRef> = planned
                .iter()
                .map(|p| WindowRef {
                    start: p.occurrence.start,
                    tenants: &p.window.tenants,
                })
                .collect();
            let due = upgrades_due(&store, config, &windows, Timestamp::now()).await;
            store.close().await;
            for (p, upgrades) in planned.iter_mut().zip(due?) {
                p.upgrades = upgrades;
            }
        }
        Ok(match args.format.as_str() {
            "json" => format!(
                "{}\n",
                serde_json::to_string_pretty(&as_json(config, &planned))?
            ),
            "ics" => as_ics(config, &planned),
            _ => as_table(config, &planned),
        })
    }

    /// The configured tenants `sel` covers (unknown ids left out), in id order.
    fn tenant_inputs(config: &Config, sel: &TenantSel) -> Vec<TenantInput> {
        covered_tenants(config, sel)
            .into_iter()
            .map(|c| c.input)
            .collect()
    }

    /// A tenant's zone and its IANA name (UTC when the tenant or its region is unknown).
    fn tenant_zone<'c>(config: &'c Config, tenant: &str) -> (&'c str, TimeZone) {
        config
            .tenants
            .get(tenant)
            .and_then(|t| config.regions.get(&t.region))
            .map_or(("UTC", TimeZone::UTC), |r| {
                (r.timezone_name.as_str(), r.timezone.clone())
            })
    }

    fn rfc3339_local(t: Timestamp, zone: &TimeZone) -> String {
        t.to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    /// `2027-03-28 03:30 CEST – 05:30 CEST`, with the end's date when it differs.
    fn local_span(start: Timestamp, end: Timestamp, zone: &TimeZone) -> String {
        let (s, e) = (start.to_zoned(zone.clone()), end.to_zoned(zone.clone()));
        let end_format = if s.date() == e.date() {
            "%H:%M %Z"
        } else {
            "%Y-%m-%d %H:%M %Z"
        };
        format!(
            "{} – {}",
            s.strftime("%Y-%m-%d %H:%M %Z"),
            e.strftime(end_format)
        )
    }

    fn as_table(config: &Config, planned: &[Planned]) -> String {
        let mut out = String::new();
        if planned.is_empty() {
            out.push_str("no maintenance window occurs in this period\n");
        }
        for p in planned {
            let o = &p.occurrence;
            out.push_str(&format!(
                "{}  {}  {}\n",
                p.window.id,
                local_span(o.start, o.end, &p.window.timezone),
                p.window.title
            ));
            for slot in &p.slots {
                let (zone_name, zone) = tenant_zone(config, &slot.tenant);
                out.push_str(&format!(
                    "    {:<16}  {}  ({zone_name})\n",
                    slot.tenant,
                    local_span(slot.start, slot.end, &zone)
                ));
            }
            if !p.not_fitting.is_empty() {
                let names: Vec<String> = p
                    .not_fitting
                    .iter()
                    .map(|id| tenant_label(config, id))
                    .collect();
                out.push_str(&format!("    does not fit: {}\n", names.join(", ")));
            }
            if let Some(error) = &p.error {
                out.push_str(&format!("    cannot plan slots: {error}\n"));
            }
            for u in &p.upgrades {
                out.push_str(&format!(
                    "    upgrade {} at {}: {} → {} ({})\n",
                    u.item,
                    u.place,
                    u.from,
                    u.to,
                    u.state.as_str()
                ));
            }
        }
        out
    }

    fn as_json(config: &Config, planned: &[Planned]) -> Value {
        let items = planned
            .iter()
            .map(|p| {
                let o = &p.occurrence;
                let zone = &p.window.timezone;
                let slots: Vec<Value> = p
                    .slots
                    .iter()
                    .map(|slot| {
                        let (zone_name, tz) = tenant_zone(config, &slot.tenant);
                        json!({
                            "tenant": slot.tenant,
                            "start": format!("{:.3}", slot.start),
                            "end": format!("{:.3}", slot.end),
                            "local_start": rfc3339_local(slot.start, &tz),
                            "local_end": rfc3339_local(slot.end, &tz),
                            "timezone": zone_name,
                        })
                    })
                    .collect();
                let mut item = json!({
                    "window": p.window.id,
                    "title": p.window.title,
                    "key": o.key,
                    "start": format!("{:.3}", o.start),
                    "end": format!("{:.3}", o.end),
                    "local_start": rfc3339_local(o.start, zone),
                    "local_end": rfc3339_local(o.end, zone),
                    "timezone": p.window.timezone_name,
                    "slots": slots,
                });
                if let Value::Object(map) = &mut item {
                    if !p.upgrades.is_empty() {
                        map.insert("upgrades".into(), json!(p.upgrades));
                    }
                    if !p.not_fitting.is_empty() {
                        map.insert(
                            "error".into(),
                            json!({ "tenants_not_fitting": p.not_fitting }),
                        );
                    } else if let Some(error) = &p.error {
                        map.insert("error".into(), json!({ "message": error }));
                    }
                }
                item
            })
            .collect();
        Value::Array(items)
    }

    /// Whether `t` reads, in `zone`, as a local time that occurs twice.
    fn in_fold(t: Timestamp, zone: &TimeZone) -> bool {
        zone.to_ambiguous_zoned(zone.to_datetime(t)).is_ambiguous()
    }

    fn as_ics(config: &Config, planned: &[Planned]) -> String {
        let now = Timestamp::now();
        let events: Vec<Event> = planned
            .iter()
            .map(|p| {
                let o = &p.occurrence;
                let zone = &p.window.timezone;
                let mut description = p.window.description.clone().unwrap_or_default();
                let mut lines: Vec<String> = p
                    .slots
                    .iter()
                    .map(|slot| {
                        let (_, tz) = tenant_zone(config, &slot.tenant);
                        format!(
                            "{}: {}",
                            tenant_label(config, &slot.tenant),
                            local_span(slot.start, slot.end, &tz)
                        )
                    })
                    .collect();
                if !p.not_fitting.is_empty() {
                    let names: Vec<String> = p
                        .not_fitting
                        .iter()
                        .map(|id| tenant_label(config, id))
                        .collect();
                    lines.push(format!("Does not fit: {}", names.join(", ")));
                }
                if !lines.is_empty() {
                    if !description.is_empty() {
                        description.push_str("\n\n");
                    }
                    description.push_str("Tenant slots:\n");
                    description.push_str(&lines.join("\n"));
                }
                Event {
                    uid: o.key.clone(),
                    sequence: 0,
                    summary: p.window.title.clone(),
                    description: (!description.is_empty()).then_some(description),
                    url: None,
                    start: o.start,
                    end: o.end,
                    local_start: None,
                    // Local times that occur twice are written in UTC, so every reader
                    // computes the same instants.
                    utc_times: in_fold(o.start, zone) || in_fold(o.end, zone),
                    exact_duration: false,
                    tz_name: p.window.timezone_name.clone(),
                    tz: zone.clone(),
                    status: EventStatus::Confirmed,
                    rrule: None,
                    recurrence_id: None,
                    exdates: Vec::new(),
                    stamp: now,
                }
            })
            .collect();
        calendar::render(
            PRODUCT,
            &format!("{} maintenance plan", config.page.name),
            &events,
        )
    }
}
