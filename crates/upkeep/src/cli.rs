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
    /// Run a command between heartbeat pings: `/start` before, then its exit code and the tail
    /// of its output when it ends.
    Ping(PingArgs),
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
pub enum TokenCommand {
    /// Create a token and print its secret (shown this once; only a hash is stored).
    Create {
        /// What the token may do: `viewer` reads; `editor` also changes incidents, maintenance,
        /// subscribers, backups; `admin` also manages tokens and reloads the configuration.
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
