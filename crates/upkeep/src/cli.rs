//! The command line, declared with clap. Every option that an operator would set in a
//! deployment also reads an `UPKEEP_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "upkeep",
    version,
    about = "Keep your customers' services continuous: monitoring, status page, maintenance \
             windows, incidents, notifications and continuity reports in one binary.",
    propagate_version = true
)]
pub struct Cli {
    /// Log lines for people (`text`) or machines (`json`).
    #[arg(long, global = true, env = "UPKEEP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `upkeep_web=debug,info`.
    #[arg(long, global = true, env = "UPKEEP_LOG", default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP, background engines and delivery, until SIGTERM or Ctrl-C.
    ///
    /// SIGHUP reloads the configuration file; an invalid file is reported and the running
    /// configuration stays in force.
    Serve(ServeArgs),
    /// Validate a configuration file and print every problem as FILE:LINE:COLUMN: message.
    ///
    /// Exits 0 when the file is valid, 1 otherwise. `${VAR}` references are resolved from the
    /// environment, as `serve` would.
    Check(CheckArgs),
    /// Apply database migrations and exit (`serve` also applies them at start).
    Migrate(DatabaseArgs),
    /// Manage API tokens for the admin API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the people who sign in to the console at /admin.
    #[command(subcommand)]
    User(crate::commands::user::UserCommand),
    /// Make secrets for the configuration: `upkeep key new` prints a new ping key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Open, update, resolve and list incidents, working directly on the database.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Schedule, list, show and cancel maintenance windows, working directly on the database.
    #[command(subcommand)]
    Maintenance(crate::commands::maintenance::MaintenanceCommand),
    /// Show a maintenance's rollout; pause, resume or abort it; retry or skip a tenant, working
    /// directly on the database.
    #[command(subcommand)]
    Rollout(crate::commands::rollout::RolloutCommand),
    /// Run a command between heartbeat pings: `/start` before, then its exit code and the tail
    /// of its output when it ends.
    Ping(PingArgs),
    /// Reports on continuity: `upkeep report availability` against the reference year.
    #[command(subcommand)]
    Report(crate::commands::report::ReportCommand),
    /// The update inventory: `upkeep inventory import|refresh|report`.
    #[command(subcommand)]
    Inventory(crate::commands::inventory::InventoryCommand),
    /// Start, finish and list recovery drills of backup sets, working directly on the database.
    #[command(subcommand)]
    Drill(crate::commands::drill::DrillCommand),
    /// Write a backup of upkeep's own database: a consistent online copy of SQLite (safe while
    /// the server runs), or a `pg_dump` custom-format dump of PostgreSQL.
    Backup(crate::commands::backup::BackupArgs),
    /// Restore upkeep's database from a file written by `upkeep backup` (stop upkeep first).
    Restore(crate::commands::backup::RestoreArgs),
    /// Run probes from this host for a location and report them to the server (outbound
    /// connections only); results wait in a durable buffer while the server is unreachable.
    ///
    /// Exits 2 when the server refuses the token (revoked, unknown, or not an agent token).
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Base URL of the upkeep server, e.g. `https://status.example.com`.
    #[arg(long, env = "UPKEEP_SERVER")]
    pub server: String,
    /// An agent token (`upkeep token create --role agent --name NAME`); the agent is known by
    /// its name. Prefer the environment variable: arguments are visible to other users.
    #[arg(long, env = "UPKEEP_AGENT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The location this agent probes from: monitors listing it in `locations` are its own.
    #[arg(long, env = "UPKEEP_LOCATION")]
    pub location: String,
    /// Where results wait until the server has them (default
    /// `$XDG_STATE_HOME/upkeep/agent-LOCATION`, else `~/.local/state/upkeep/agent-LOCATION`).
    #[arg(long, env = "UPKEEP_AGENT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest size of the buffer on disk, in MiB (default 256); beyond it the oldest results
    /// are dropped (logged and counted).
    #[arg(long)]
    pub max_buffer_mb: Option<u64>,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// The push monitor's (or backup set's) ping key.
    pub key: String,
    /// Base URL of the upkeep server.
    #[arg(long, env = "UPKEEP_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The command to run and its arguments (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "UPKEEP_DATABASE_URL", default_value = upkeep_store::DEFAULT_DATABASE_URL)]
    pub database: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file. Without one, upkeep runs the built-in demo configuration.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "UPKEEP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file to validate.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print a new random ping key (160 bits) for a push monitor's `push.key` or a backup's
    /// `push_key`.
    New,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown this once; only a hash is stored).
    Create {
        /// What the token may do: `viewer` reads; `editor` also changes incidents, maintenance,
        /// subscribers, backups; `admin` also manages tokens and reloads the configuration;
        /// `hook` only posts alerts to `/hooks/alertmanager`; `agent` is a probe agent's
        /// (`upkeep agent`), known by the token's name.
        #[arg(long, value_parser = parse_role)]
        role: upkeep_domain::role::Role,
        /// What the token is for, e.g. "deploy pipeline".
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke {
        /// The token's id, as shown by `upkeep token list`.
        id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn parse_role(s: &str) -> Result<upkeep_domain::role::Role, String> {
    s.parse()
        .map_err(|e: upkeep_domain::role::UnknownRole| e.to_string())
}

/// Where `upkeep incident` looks up component ids.
#[derive(Debug, Args)]
pub struct IncidentConfigArgs {
    /// Configuration file whose components `--component` must name. Component ids are checked
    /// only when a configuration is given: without one, nothing is assumed (not even the
    /// built-in demo) and any id is accepted.
    #[arg(long, short, env = "UPKEEP_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident with its first update and print its id.
    Open {
        /// What is happening, 1 to 200 characters.
        #[arg(long)]
        title: String,
        /// `none`, `minor`, `major` or `critical`; default: from the worst affected component.
        #[arg(long, value_parser = parse_impact)]
        impact: Option<upkeep_domain::incident::Impact>,
        /// An affected component and its status, e.g. `api=major_outage` (repeatable).
        #[arg(long = "component", value_name = "ID=STATUS", value_parser = parse_component)]
        components: Vec<upkeep_domain::incident::AffectedComponent>,
        /// The first update's message (Markdown).
        #[arg(long)]
        body: Option<String>,
        /// `investigating` (default), `identified`, `monitoring`, `resolved` or `postmortem`.
        #[arg(long, value_parser = parse_incident_status)]
        status: Option<upkeep_domain::incident::IncidentStatus>,
        #[command(flatten)]
        config: IncidentConfigArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Post an update: a new status, a message, component statuses (at least one).
    Update {
        /// The incident's id, as shown by `upkeep incident list`.
        id: String,
        /// The new status; any status but `resolved` and `postmortem` reopens a resolved incident.
        #[arg(long, value_parser = parse_incident_status)]
        status: Option<upkeep_domain::incident::IncidentStatus>,
        /// The message (Markdown).
        #[arg(long)]
        body: Option<String>,
        /// A component and its new status, e.g. `api=operational` (repeatable).
        #[arg(long = "component", value_name = "ID=STATUS", value_parser = parse_component)]
        components: Vec<upkeep_domain::incident::AffectedComponent>,
        #[command(flatten)]
        config: IncidentConfigArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Resolve an incident: status `resolved`, every affected component back to `operational`.
    Resolve {
        /// The incident's id.
        id: String,
        /// A closing message (Markdown).
        #[arg(long)]
        body: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List incidents, newest first.
    List {
        /// Only those not resolved.
        #[arg(long)]
        unresolved: bool,
        /// How many at most.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn parse_impact(s: &str) -> Result<upkeep_domain::incident::Impact, String> {
    upkeep_domain::incident::Impact::parse(s)
        .ok_or_else(|| format!("unknown impact `{s}`: expected none, minor, major or critical"))
}

fn parse_incident_status(s: &str) -> Result<upkeep_domain::incident::IncidentStatus, String> {
    upkeep_domain::incident::IncidentStatus::parse(s).ok_or_else(|| {
        format!(
            "unknown status `{s}`: expected investigating, identified, monitoring, resolved or \
             postmortem"
        )
    })
}

fn parse_component(s: &str) -> Result<upkeep_domain::incident::AffectedComponent, String> {
    use upkeep_domain::component_status::ComponentStatus;
    let Some((id, status)) = s.split_once('=') else {
        return Err(format!("`{s}` is not ID=STATUS, e.g. api=major_outage"));
    };
    let status = ComponentStatus::parse(status.trim()).ok_or_else(|| {
        format!(
            "unknown component status `{status}`: expected operational, degraded_performance, \
             partial_outage, major_outage or under_maintenance"
        )
    })?;
    let id = id.trim();
    if id.is_empty() {
        return Err(format!("`{s}` names no component"));
    }
    Ok(upkeep_domain::incident::AffectedComponent {
        id: id.to_owned(),
        status,
    })
}
